"""A model study: train several settings, score each on the same block-split validation and test frames.

A *study file* (YAML, see ``train/studies/``) names the data once and a list of runs::

    description: free text
    data:                       # paths relative to the repo root (or absolute)
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

Per run (``kind: pipeline``, the default) the stage scripts run as a user runs them: ``train/train.py`` ->
``infer/predict.py`` on the validation frames (conf 0.05) -> ``infer/tune.py`` (post-processing chosen on
validation only; skipped, so no post-processing, when the model predicts nothing there) -> ``infer/tune_refine.py`` (mask refinement chosen on validation only, among every level of
``refine_levels`` (default 0.4-0.7) x inset of ``refine_insets`` (px, default ``[0]``) x smoothing of
``refine_smooths`` (px, default ``[1]``) and the unrefined masks; ``refine_levels: []`` skips it) ->
``infer/predict.py --postproc [--refine L --refine-inset I --refine-smooth S]`` on the test
frames -> ``infer/score.py``. A ``vanilla`` run uses ``benchmarks/vanilla_baseline.py`` (train, predict with
defaults; no tuning). Finished steps are skipped (outputs exist), so a study resumes. Runs can train
concurrently (``parallel``): useful on a GPU with many CPU cores, never on a 2-core CPU (training speed collapses
when cores are shared).

Output folder: ``<run>/{train,val_pred,tune,test_pred}`` (``test_pred_refined`` / ``*_refined.json`` scores when a
refinement level was chosen), ``<run>/val_score.json``, ``<run>/test_score.json``,
``<run>/row.json`` (validation scores of pipeline runs are measured after the post-processing tuned on those same
frames, so they are optimistic; the test columns are not), and ``leaderboard.csv`` / ``leaderboard.md`` (sorted by validation hackathon F1, the
selection metric; test columns are reported, never used to choose) plus ``manifest.json``.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flocshape.errors import input_error
from flocshape.fsio import atomic_write_json, atomic_write_text
from flocshape.infer.refine import DEFAULT_SMOOTH_PX
from flocshape.infer.refine_tune import chosen_refinement
from flocshape.manifest import build_manifest, describe_input, write_manifest
from flocshape.score.inputs import subset_coco
from flocshape.score.postprocess import filter_predictions

REPO = Path(__file__).resolve().parents[2]
DEFAULT_REFINE_LEVELS = (0.4, 0.5, 0.6, 0.7)
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
    p = Path(value)
    return p if p.is_absolute() else REPO / p


class Runner:
    """Runs the steps of one study run; logs every command to ``<run>/log.txt``."""

    def __init__(self, run: RunSpec, out: Path) -> None:
        self.run = run
        self.dir = out / run.name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = self.dir / "log.txt"

    def sh(self, *args: object) -> float:
        """Run a repo script with this Python; return wall seconds; raise on failure (the log has the output)."""
        cmd = [sys.executable, *map(str, args)]
        t0 = time.perf_counter()
        with self.log.open("a") as log:
            log.write("$ " + " ".join(map(str, args)) + "\n")
            log.flush()
            proc = subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise RuntimeError(
                f"{self.run.name}: exit {proc.returncode}: {' '.join(map(str, args))} (see {self.log})"
            )
        return time.perf_counter() - t0

    # -- training -------------------------------------------------------------------------------------------
    def weights(self) -> Path:
        return self.dir / "train" / "weights" / "best.pt"

    def train(self) -> None:
        """Train unless best.pt exists; record the wall time in ``train_time.json``."""
        if self.weights().is_file():
            return
        if self.run.kind == "vanilla":
            model = self.run.train.get("model", "yolov8n-seg.yaml")
            budget = [f"{k}={v}" for k, v in self.run.train.items() if k != "model"]
            wall = self.sh("benchmarks/vanilla_baseline.py", "train", "--data", _path(self.run.data["vanilla"]),
                           "--model", model, "--project", self.dir, "--name", "train", *budget)  # fmt: skip
        else:
            wall = self.sh("train/train.py", "--data", _path(self.run.data["yolo"]) / "data.yaml", "--recipe",
                           self.run.recipe, "--project", self.dir, "--name", "train", "exist_ok=True",
                           *[f"{k}={v}" for k, v in self.run.train.items()])  # fmt: skip
        atomic_write_json(self.dir / "train_time.json", {"train_wall_s": round(wall, 1)})

    # -- prediction and scoring ---------------------------------------------------------------------------
    def val_images(self) -> Path:
        if "val_images" in self.run.data:
            return _path(self.run.data["val_images"])
        key = "vanilla" if self.run.kind == "vanilla" else "yolo"
        base = _path(self.run.data[key])
        base = base.parent if base.suffix in (".yaml", ".yml") else base
        return base / "images" / "val"

    def val_gt(self) -> Path:
        """The ground truth of the validation frames: the training COCO file restricted to them."""
        out = self.dir / "val_gt.json"
        if not out.is_file():
            names = {p.name for p in self.val_images().iterdir()}
            coco = json.loads(_path(self.run.data["train_coco"]).read_text())
            atomic_write_json(out, subset_coco(coco, names), indent=None)
        return out

    def predict(
        self,
        source: Path,
        images_json: Path,
        out: Path,
        postproc: Path | None,
        refine: tuple[float, float, float] | None = None,
    ) -> None:
        """Predict with the pipeline (``refine``: level, inset px, smoothing px) or the vanilla baseline, unless done."""
        if self.run.kind == "vanilla":
            if not out.with_suffix(".json").is_file():
                device = str(self.run.predict.get("device", "cpu"))
                self.sh("benchmarks/vanilla_baseline.py", "predict", "--model", self.weights(), "--source", source,
                        "--images-json", images_json, "--out", out.with_suffix(".json"), "--device", device)  # fmt: skip
            return
        if (out / "submission.json").is_file():
            return
        opts: list[object] = []
        for key, value in {"conf": 0.05, **self.run.predict}.items():
            opts += [f"--{key.replace('_', '-')}", value]
        if postproc is not None:
            opts += ["--postproc", postproc]
        if refine is not None:
            opts += ["--refine", refine[0], "--refine-inset", refine[1], "--refine-smooth", refine[2]]
        self.sh("infer/predict.py", "--model", self.weights(), "--source", source, "--images-json", images_json,
                "--out", out, *opts)  # fmt: skip

    def submission(self, out: Path) -> Path:
        return out.with_suffix(".json") if self.run.kind == "vanilla" else out / "submission.json"

    def score(self, gt: Path, pred: Path, out: Path) -> dict[str, Any]:
        if not out.is_file():
            self.sh("infer/score.py", "--gt", gt, "--pred", pred, "--json", out)
        return json.loads(out.read_text())

    def evaluate(self) -> dict[str, Any]:
        """Validation (tuned for pipeline runs) and test scores; returns the leaderboard row."""
        val_gt = self.val_gt()
        train_json = _path(self.run.data["train_coco"])
        self.predict(self.val_images(), train_json, self.dir / "val_pred", None)
        postproc: Path | None = None
        raw_val = self.submission(self.dir / "val_pred")
        predicted = bool(json.loads(raw_val.read_text()))  # no validation predictions: nothing to tune
        if self.run.kind == "pipeline" and predicted:
            postproc = self.dir / "tune" / "postproc.json"
            if not postproc.is_file():
                self.sh("infer/tune.py", "--gt", val_gt, "--pred", raw_val, "--out", postproc)
            val_pred = self.tuned_val_submission(postproc)
        else:
            val_pred = raw_val
        refine = self.tune_refine(val_pred, val_gt, train_json) if self.run.kind == "pipeline" else None
        suffix = "_refined" if refine is not None else ""
        if refine is not None:
            val_pred = self.dir / "val_pred" / "submission_refined.json"
        val = self.score(val_gt, val_pred, self.dir / f"val_score{suffix}.json")
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
            test_pred = self.dir / f"test_pred{suffix}"
            self.predict(_path(self.run.data["test_images"]), _path(self.run.data["test_images_json"]),
                         test_pred, postproc, refine)  # fmt: skip
            s = self.score(_path(self.run.data["test_gt"]), self.submission(test_pred),
                           self.dir / f"test_score{suffix}.json")  # fmt: skip
            row |= {
                "test_f1": s["hackathon_f1"]["f1"],
                "test_strict_f1": s["strict"]["f1"],
                "test_mean_iou": s["strict"]["mean_iou"],
                **{f"test_{k}": s["coco"][k] for k in ("AP", "AP50", "APs", "APm", "APl")},
            }
        atomic_write_json(self.dir / "row.json", row)
        return row

    def tune_refine(
        self, val_pred: Path, val_gt: Path, images_json: Path
    ) -> tuple[float, float, float] | None:
        """The refinement (level, inset px, smoothing px) chosen on the validation frames (``None``: none, or the
        unrefined masks won). Writes ``tune/refine.json`` and ``val_pred/submission_refined.json`` (refined with it)."""
        if not self.run.refine_levels:
            return None
        out = self.dir / "tune" / "refine.json"
        if not out.is_file():
            self.sh("infer/tune_refine.py", "--pred", val_pred, "--gt", val_gt, "--images", self.val_images(),
                    "--images-json", images_json, "--level", *self.run.refine_levels,
                    "--inset-px", *self.run.refine_insets, "--smooth-px", *self.run.refine_smooths, "--out", out,
                    "--refined-out", self.dir / "val_pred" / "submission_refined.json")  # fmt: skip
        chosen = chosen_refinement(json.loads(out.read_text()))
        if chosen["refine_level"] is None:
            return None
        return float(chosen["refine_level"]), chosen["refine_inset_px"], chosen["refine_smooth_px"]

    def tuned_val_submission(self, postproc: Path) -> Path:
        """The validation predictions after the post-processing tuned on them (scores on it are optimistic)."""
        out = self.dir / "val_pred" / "submission_tuned.json"
        if not out.is_file():
            params = json.loads(postproc.read_text())
            keys = ("min_score", "min_area_px", "mask_nms_iou", "nms_metric")
            raw = json.loads(self.submission(self.dir / "val_pred").read_text())
            atomic_write_json(out, filter_predictions(raw, **{k: params[k] for k in keys}), indent=None)
        return out

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
    if parallel > 1:
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            rows = list(pool.map(lambda r: run_one(r, out), runs))
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
