"""A model study: train several settings, score each on the same block-split validation and test frames.

A *study file* (YAML, see ``train/studies/``) names the data once and a list of runs::

    description: free text
    data:                       # paths relative to the working folder (or absolute)
      yolo: runs/hack/yolo      # coco2yolo output (data.yaml; images/val = whole validation frames)
      train_coco: runs/hack/data/label_train.json       # ground truth of the validation frames
      test_images: runs/hack/data/test                   # optional: no test split -> validation only
      test_images_json: runs/hack/data/label_test.json
      test_gt: runs/hack/data/truth/label_test_gt.json
    defaults: {recipe: cpu-reference, train: {}, predict: {imgsz: 640}}
    runs:
      - name: v8n-640
        setting: whole frames at 640
        train: {model: yolov8n-seg.yaml, time: 0.25}     # train/train.py key=value overrides
      - name: vanilla-v8n
        kind: vanilla           # Ultralytics defaults end to end (flocshape.baselines.vanilla)
        data: {vanilla: runs/vanilla/data/data.yaml}
        train: {model: yolov8n-seg.yaml, time: 0.25}

Per run (``kind: pipeline``, the default) the stages' Python functions are called in-process
(:mod:`flocshape.train.pipeline`, :mod:`flocshape.train.stages`; the equivalent command lines and the stages'
output go to ``<run>/log.txt``): train (``train/train.py``) -> predict the validation frames (conf 0.05) ->
choose the post-processing on them (``infer/tune.py``; skipped, so none, when the model predicts nothing there)
-> choose the mask refinement on them (``infer/tune_refine.py``, among every level of ``refine_levels`` (default
0.4-0.7) x inset of ``refine_insets`` (px, default ``[0]``) x smoothing of ``refine_smooths`` (px, default
``[1]``) and the unrefined masks; ``refine_levels: []`` skips it) -> predict the test frames with both
(``infer/predict.py --postproc [--refine L --refine-inset I --refine-smooth S]``) -> score (``infer/score.py``).
A ``vanilla`` run uses :mod:`flocshape.baselines.vanilla` (train, predict with defaults; no tuning). A failing
stage (bad input, non-zero exit, exception) makes the run a row with an ``error``. Finished steps are skipped
(outputs exist), so a study resumes. Runs can train concurrently (``parallel``, each in its own process): useful
on a GPU with many CPU cores, never on a 2-core CPU (training speed collapses when cores are shared).

Output folder: ``<run>/{train,val_pred,tune,test_pred}`` (``test_pred_refined`` / ``*_refined.json`` scores when a
refinement level was chosen), ``<run>/val_score.json``, ``<run>/test_score.json``,
``<run>/row.json`` (validation scores of pipeline runs are measured after the post-processing tuned on those same
frames, so they are optimistic; the test columns are not), ``<run>/log.txt``, and ``leaderboard.csv`` /
``leaderboard.md`` (sorted by validation hackathon F1, the selection metric; test columns are reported, never
used to choose) plus ``manifest.json``.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flocshape.errors import input_error
from flocshape.fsio import atomic_write_json, atomic_write_text
from flocshape.infer.refine import DEFAULT_SMOOTH_PX
from flocshape.manifest import build_manifest, describe_input, write_manifest
from flocshape.train import stages
from flocshape.train.pipeline import DEFAULT_REFINE_LEVELS, Pipeline, PipelineSpec, Refinement
from flocshape.train.stages import StageLog

KINDS = ("pipeline", "vanilla")
DATA_KEYS = ("yolo", "train_coco", "test_images", "test_images_json", "test_gt", "vanilla", "val_images")
LEADERBOARD_COLUMNS = (
    "run", "kind", "model", "setting", "imgsz", "epochs", "train_min", "refine", "refine_inset_px", "refine_smooth_px",
    "val_f1", "val_strict_f1", "val_AP", "val_AP50", "test_f1", "test_strict_f1", "test_mean_iou", "test_AP",
    "test_AP50", "test_APs", "test_APm", "test_APl",
)  # fmt: skip


@dataclass
class RunSpec:
    """One row of the study: how to train and how to predict."""

    name: str
    kind: str = "pipeline"
    setting: str = ""
    recipe: str = "cpu-reference"
    train: dict[str, Any] = field(default_factory=dict)
    predict: dict[str, Any] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)
    refine_levels: list[float] = field(default_factory=lambda: list(DEFAULT_REFINE_LEVELS))
    refine_insets: list[float] = field(default_factory=lambda: [0.0])
    refine_smooths: list[float] = field(default_factory=lambda: [DEFAULT_SMOOTH_PX])


def _merge(base: dict[str, Any], over: dict[str, Any] | None) -> dict[str, Any]:
    return {**base, **(over or {})}


def load_study(path: Path) -> tuple[dict[str, Any], list[RunSpec]]:
    """Read and check a study file; return (the raw mapping, the runs with defaults applied)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise input_error(path, f"cannot read the study file: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("runs"), list) or not raw["runs"]:
        raise input_error(path, "a study file needs a non-empty list 'runs'")
    data = raw.get("data") or {}
    defaults = raw.get("defaults") or {}
    unknown = set(data) - set(DATA_KEYS)
    if unknown:
        raise input_error(path, f"unknown data keys {sorted(unknown)}; known: {list(DATA_KEYS)}", "data")
    runs: list[RunSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(raw["runs"]):
        where = f"runs[{i}]"
        if not isinstance(item, dict) or not str(item.get("name", "")).strip():
            raise input_error(path, "each run needs a name", where)
        name = str(item["name"])
        if name in seen or "/" in name:
            raise input_error(path, f"run name {name!r} is repeated or contains '/'", where)
        seen.add(name)
        kind = str(item.get("kind", "pipeline"))
        if kind not in KINDS:
            raise input_error(path, f"kind must be one of {KINDS}, not {kind!r}", where)
        run = RunSpec(
            name=name,
            kind=kind,
            setting=" ".join(str(item.get("setting", "")).split()),  # one line (YAML block scalars)
            recipe=str(item.get("recipe", defaults.get("recipe", "cpu-reference"))),
            # a vanilla run keeps Ultralytics' defaults: the study's train defaults (recipe overrides) don't apply
            train=dict(item.get("train") or {})
            if kind == "vanilla"
            else _merge(defaults.get("train") or {}, item.get("train")),
            predict=_merge(defaults.get("predict") or {}, item.get("predict")),
            data={k: str(v) for k, v in _merge(data, item.get("data")).items()},
            refine_levels=_refine_levels(
                item.get("refine_levels", defaults.get("refine_levels", list(DEFAULT_REFINE_LEVELS))),
                path,
                where,
            ),
            refine_insets=_px_list(
                "refine_insets", item.get("refine_insets", defaults.get("refine_insets", [0.0])), path, where
            ),
            refine_smooths=_px_list(
                "refine_smooths",
                item.get("refine_smooths", defaults.get("refine_smooths", [DEFAULT_SMOOTH_PX])),
                path,
                where,
            ),
        )
        needed = ("vanilla", "train_coco") if kind == "vanilla" else ("yolo", "train_coco")
        missing = [k for k in needed if k not in run.data]
        if missing:
            raise input_error(path, f"data keys {missing} are needed for a {kind} run", where)
        runs.append(run)
    return raw, runs


def _refine_levels(value: Any, path: Path, where: str) -> list[float]:
    """The ``refine_levels`` list of a study run: numbers in (0, 1); ``[]`` = no refinement."""
    ok = isinstance(value, list) and all(isinstance(v, int | float) and 0.0 < float(v) < 1.0 for v in value)
    if not ok:
        raise input_error(path, f"refine_levels must be a list of numbers in (0, 1), got {value!r}", where)
    return [float(v) for v in value]


def _px_list(key: str, value: Any, path: Path, where: str) -> list[float]:
    """A ``refine_insets`` / ``refine_smooths`` list of a study run (px): a non-empty list of numbers in [0, 5]."""
    ok = isinstance(value, list) and bool(value)
    ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) and 0.0 <= v <= 5.0 for v in value)
    if not ok:
        raise input_error(path, f"{key} must be a non-empty list of px in [0, 5], got {value!r}", where)
    return [float(v) for v in value]


def _path(value: str) -> Path:
    """A study file's data path: absolute, or relative to the working folder (the repository root for the
    shipped study files)."""
    return Path(value).absolute()


class Runner:
    """One study run in ``<out>/<name>``: training, the validation choice of settings (pipeline runs) and the test
    scores; every stage is logged to ``<run>/log.txt``."""

    def __init__(self, run: RunSpec, out: Path) -> None:
        self.run = run
        self.dir = out / run.name
        self.log = StageLog(self.dir / "log.txt", run.name)
        self.pipeline = Pipeline(self._spec(), self.log)

    def _spec(self) -> PipelineSpec:
        """The run as a :class:`PipelineSpec` (a vanilla run uses only its folder, scoring and ground truth)."""
        run = self.run
        data_yaml = (
            _path(run.data["vanilla"]) if run.kind == "vanilla" else _path(run.data["yolo"]) / "data.yaml"
        )
        return PipelineSpec(
            folder=self.dir,
            data_yaml=data_yaml,
            recipe=run.recipe,
            val_images=self.val_images(),
            val_coco=_path(run.data["train_coco"]),
            train=run.train,
            predict=run.predict,
            refine_levels=run.refine_levels,
            refine_insets=run.refine_insets,
            refine_smooths=run.refine_smooths,
        )

    def val_images(self) -> Path:
        """The whole validation frames: ``data.val_images``, else ``images/val`` of the run's dataset."""
        if "val_images" in self.run.data:
            return _path(self.run.data["val_images"])
        key = "vanilla" if self.run.kind == "vanilla" else "yolo"
        base = _path(self.run.data[key])
        base = base.parent if base.suffix in (".yaml", ".yml") else base
        return base / "images" / "val"

    def weights(self) -> Path:
        return self.pipeline.weights()

    def train(self) -> None:
        """Train unless best.pt exists; record the wall time in ``train_time.json``."""
        if self.run.kind == "pipeline":
            self.pipeline.train()
            return
        if self.weights().is_file():
            return
        model = str(self.run.train.get("model", "yolov8n-seg.yaml"))
        budget = {k: v for k, v in self.run.train.items() if k != "model"}
        wall = stages.vanilla_train(self.log, self.pipeline.spec.data_yaml, model, self.dir, budget)
        atomic_write_json(self.dir / "train_time.json", {"train_wall_s": round(wall, 1)})

    def vanilla_predict(self, source: Path, images_json: Path, out_json: Path) -> Path:
        """The vanilla baseline's results list for ``source`` (Ultralytics defaults), unless done."""
        if not out_json.is_file():
            device = str(self.run.predict.get("device", "cpu"))
            stages.vanilla_predict(self.log, self.weights(), source, images_json, out_json, device)
        return out_json

    def evaluate(self) -> dict[str, Any]:
        """Validation (settings chosen on it for pipeline runs) and test scores; returns the leaderboard row."""
        postproc: Path | None = None
        refine: Refinement | None = None
        if self.run.kind == "pipeline":
            chosen = self.pipeline.validate()
            postproc, refine, val = chosen.postproc, chosen.refine, chosen.score
        else:
            val_gt = self.pipeline.val_gt()
            raw = self.vanilla_predict(
                self.val_images(), self.pipeline.spec.val_coco, self.dir / "val_pred.json"
            )
            val = self.pipeline.score(val_gt, raw, self.dir / "val_score.json")
        row = self.base_row() | {
            "refine": None if refine is None else refine[0],
            "refine_inset_px": None if refine is None else refine[1],
            "refine_smooth_px": None if refine is None else refine[2],
            "val_f1": float(val["hackathon_f1"]["f1"]),
            "val_strict_f1": val["strict"]["f1"],
            "val_AP": val["coco"]["AP"],
            "val_AP50": val["coco"]["AP50"],
        }
        if "test_gt" in self.run.data:
            row |= self.test_columns(postproc, refine)
        atomic_write_json(self.dir / "row.json", row)
        return row

    def test_columns(self, postproc: Path | None, refine: Refinement | None) -> dict[str, Any]:
        """Predict the test frames with the settings chosen on validation, score them: the ``test_*`` columns."""
        data = self.run.data
        suffix = "_refined" if refine is not None else ""
        images, images_json = _path(data["test_images"]), _path(data["test_images_json"])
        if self.run.kind == "vanilla":
            pred = self.vanilla_predict(images, images_json, self.dir / "test_pred.json")
        else:
            pred = self.pipeline.predict(
                images, images_json, self.dir / f"test_pred{suffix}", postproc, refine
            )
        s = self.pipeline.score(_path(data["test_gt"]), pred, self.dir / f"test_score{suffix}.json")
        return {
            "test_f1": s["hackathon_f1"]["f1"],
            "test_strict_f1": s["strict"]["f1"],
            "test_mean_iou": s["strict"]["mean_iou"],
            **{f"test_{k}": s["coco"][k] for k in ("AP", "AP50", "APs", "APm", "APl")},
        }

    def base_row(self) -> dict[str, Any]:
        """Run identity and training cost: epochs done (results.csv rows) and training wall time."""
        results = self.dir / "train" / "results.csv"
        epochs = max(0, len(results.read_text().strip().splitlines()) - 1) if results.is_file() else None
        wall = self.dir / "train_time.json"
        minutes = json.loads(wall.read_text())["train_wall_s"] / 60 if wall.is_file() else None
        args_yaml = self.dir / "train" / "args.yaml"
        targs = yaml.safe_load(args_yaml.read_text()) if args_yaml.is_file() else {}
        return {
            "run": self.run.name,
            "kind": self.run.kind,
            "model": Path(str(targs.get("model", self.run.train.get("model", "")))).name,
            "setting": self.run.setting,
            "imgsz": targs.get("imgsz"),
            "epochs": epochs,
            "train_min": minutes,
        }


def run_one(run: RunSpec, out: Path, evaluate: bool = True) -> dict[str, Any]:
    """Train then (optionally) evaluate one run; a failure becomes a row with an ``error``."""
    runner = Runner(run, out)
    try:
        runner.train()
        return runner.evaluate() if evaluate else runner.base_row()
    except Exception as exc:  # noqa: BLE001 - one failed run must not stop the study
        return runner.base_row() | {"error": str(exc)}


def leaderboard(rows: list[dict[str, Any]]) -> tuple[str, str]:
    """(CSV, markdown) of the rows, best validation F1 first; floats to 3 decimals, minutes to 1."""
    rows = sorted(rows, key=lambda r: -(r.get("val_f1") or -1.0))
    cols = [c for c in LEADERBOARD_COLUMNS if any(r.get(c) is not None for r in rows)]
    if any("error" in r for r in rows):
        cols.append("error")

    def fmt(v: Any, col: str) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return f"{v:.1f}" if col == "train_min" else f"{v:.3f}"
        return str(v)

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(cols)
    md = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        writer.writerow([r.get(c) for c in cols])
        md.append("| " + " | ".join(fmt(r.get(c), c) for c in cols) + " |")
    return buf.getvalue(), "\n".join(md) + "\n"


def run_study(
    study: Path,
    out: Path,
    only: list[str] | None = None,
    parallel: int = 1,
    cli_args: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Run (or resume) every run of the study; write the leaderboard and a manifest; return the rows."""
    raw, runs = load_study(study)
    if only:
        unknown = set(only) - {r.name for r in runs}
        if unknown:
            raise input_error(study, f"no runs named {sorted(unknown)}", "--only")
        runs = [r for r in runs if r.name in only]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if parallel > 1:  # one process per run: each captures its stages' output in its own log
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=parallel, mp_context=spawn) as pool:
            rows = list(pool.map(run_one, runs, [out] * len(runs)))
    else:
        rows = [run_one(r, out) for r in runs]
    # rows of earlier invocations (other --only subsets) stay on the board
    done = {r["run"] for r in rows}
    for row_file in sorted(out.glob("*/row.json")):
        row = json.loads(row_file.read_text())
        if row.get("run") not in done:
            rows.append(row)
    table_csv, table_md = leaderboard(rows)
    atomic_write_text(out / "leaderboard.csv", table_csv)
    atomic_write_text(out / "leaderboard.md", table_md)
    manifest = build_manifest(
        "train/sweep.py",
        cli_args or {"study": str(study), "out": str(out)},
        inputs={"study": describe_input(study)},
        study=raw,
        wall_s=round(time.perf_counter() - started, 1),
        rows=rows,
    )
    write_manifest(out, manifest)
    return rows
