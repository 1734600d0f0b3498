"""Few-shot fine-tune of the shipped model on your labelled frames, and the prediction settings chosen for it.

    python train/finetune.py --data DATA.yaml --val-coco COCO.json --out runs/ft [--imgsz N] [--model PT]
        [--tile PX [--overlap F]] [--val-images DIR] [--overwrite] [key=value ...]

Trains with the recipe ``train/recipes/finetune.yaml`` from the shipped model (or ``--model``) for a budget of
18 s of training per image on 2 idle CPU cores, at least 4 and at most 12 minutes, set as a number of epochs
(:func:`flocshape.train.finetune_budget.budget_epochs`; an ``epochs=`` or ``time=`` given here wins). Then, on the
validation frames (the data YAML's ``val`` folder, or ``--val-images``), labelled by ``--val-coco``: predicts them
raw (conf 0.05, the same ``imgsz``, whole frames unless ``--tile``), chooses the post-processing and the mask
refinement on them, and scores them with the choice (:class:`flocshape.train.pipeline.Pipeline`, the sequence a
model study runs). ``key=value`` are Ultralytics train arguments over the recipe (``epochs=``, ``time=`` in
hours, ``device=0``, ...).

Writes into ``--out``: ``train/`` (the training run, ``weights/best.pt``), ``tune/postproc.json``,
``tune/refine.json``, ``val_score.json``, ``predict.yaml`` (the ``infer/predict.py --cfg`` file with the chosen
settings; paths relative to it), ``log.txt`` (every stage's command line and output) and ``manifest.json``. A
rerun with the same arguments resumes (finished steps are skipped); other arguments need another ``--out`` or
``--overwrite``. Bad input: one line ``error: FILE: record: what``, exit 2; a failed stage: exit 1.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from flocshape.cliargs import Parser, integer, real
from flocshape.errors import input_error
from flocshape.fsio import atomic_write_text
from flocshape.manifest import build_manifest, describe_input, write_manifest
from flocshape.models import default_model_path
from flocshape.outputs import claim_dir, is_own_dir
from flocshape.train.finetune_budget import budget_epochs, budget_minutes
from flocshape.train.finetune_data import FinetuneData, check_finetune_data
from flocshape.train.pipeline import POSTPROC_KEYS, VAL_CONF, Pipeline, PipelineSpec, Validation
from flocshape.train.stages import StageError

TOOL = "train/finetune.py"
RECIPE = "finetune"
REFINE_LEVELS = [0.4, 0.5, 0.6, 0.7]
REFINE_INSETS = [0.0, 0.4]  # px; 0.4: the shipped model's choice
REFINE_SMOOTHS = [0.5, 1.0]  # px; 0.5: the shipped model's choice
OUTPUTS = ("train", "val_pred", "tune", "val_gt.json", "val_score.json", "train_time.json", "predict.yaml",
           "log.txt", "manifest.json")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    p = Parser(prog=TOOL, description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, type=Path, help="dataset YAML (convert/coco2yolo.py output)")
    p.add_argument(
        "--val-coco", required=True, type=Path, help="COCO labels whose images include the val frames"
    )
    p.add_argument("--out", required=True, type=Path, help="output folder, e.g. runs/ft")
    p.add_argument(
        "--imgsz", type=integer(32, multiple_of=32), default=None, help="input size, px (recipe: 640)"
    )
    p.add_argument(
        "--model", type=Path, default=None, help="weights to start from (default: the shipped model)"
    )
    p.add_argument("--tile", type=integer(32), default=None, help="predict on tiles of this size, px")
    p.add_argument(
        "--overlap", type=real(0.0, 1.0, hi_open=True), default=None, help="tile overlap (with --tile)"
    )
    p.add_argument(
        "--val-images", type=Path, default=None, help="validation frames (default: the YAML's val)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an --out this command did not write")
    p.add_argument("overrides", nargs="*", help="Ultralytics train arguments as key=value")
    return p


def train_overrides(args: argparse.Namespace, n_train: int) -> dict[str, Any]:
    """The ``key=value`` overrides of the recipe: the user's, plus ``model`` (absolute), ``imgsz`` and the epochs
    of the budget for ``n_train`` images unless ``epochs`` or ``time`` is given. Checked like ``train/train.py``
    checks them."""
    from flocshape.train.wrapper import check_args, check_model_spec, parse_overrides

    overrides = parse_overrides(args.overrides)
    for key, flag in (("model", args.model), ("imgsz", args.imgsz)):
        if key in overrides and flag is not None:
            raise input_error("command line", f"given twice (--{key} and {key}=); give it once", key)
    if args.model is not None:
        overrides["model"] = str(args.model)
    overrides["model"] = check_model_spec(str(overrides.get("model", default_model_path())), "command line")
    if args.imgsz is not None:
        overrides["imgsz"] = args.imgsz
    check_args(overrides, "command line")
    if "epochs" not in overrides and "time" not in overrides:
        overrides["epochs"] = budget_epochs(n_train, recipe_imgsz(overrides))
    return overrides


def recipe_imgsz(overrides: dict[str, Any]) -> int:
    """The training input size (px): the override, else the recipe's."""
    from flocshape.train.wrapper import load_recipe, resolve_recipe

    return int(overrides.get("imgsz") or load_recipe(resolve_recipe(RECIPE))["imgsz"])


def predict_settings(args: argparse.Namespace, overrides: dict[str, Any]) -> dict[str, Any]:
    """``infer/predict.py`` options for the validation frames and ``predict.yaml``: imgsz, tiling, device."""
    if args.overlap is not None and args.tile is None:
        raise input_error("command line", "only with --tile", "--overlap")
    options: dict[str, Any] = {"imgsz": recipe_imgsz(overrides)}
    if args.tile is not None:
        options["tile"] = args.tile
        if args.overlap is not None:
            options["overlap"] = args.overlap
    device = str(overrides.get("device", "cpu"))
    if device != "cpu":
        options["device"] = device.split(",")[0]  # prediction runs on one device
    return options


def claim_out(args: argparse.Namespace, data: FinetuneData, settings: dict[str, Any]) -> Path:
    """Check the output policy for ``--out`` and prepare it: an earlier fine-tune with the same ``settings``
    resumes; with ``--overwrite`` this command's earlier outputs are removed first."""
    inputs = [data.data_yaml, data.val_coco, data.val_images, settings["model"]]
    out = claim_dir(args.out, TOOL, inputs, args.overwrite)
    if not args.overwrite and is_own_dir(out, TOOL):
        earlier = json.loads((out / "manifest.json").read_text()).get("settings")
        if earlier != settings:
            raise input_error(
                args.out,
                "holds a fine-tune with other arguments; choose another output or pass --overwrite",
                "--out",
            )
    elif args.overwrite:
        for name in OUTPUTS:
            target = out / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
    return out


def write_predict_cfg(out: Path, options: dict[str, Any], chosen: Validation, weights: Path) -> Path:
    """``predict.yaml``: the ``infer/predict.py --cfg`` file (model, imgsz, conf, tiling, post-processing,
    refinement; ``null`` = off; paths relative to the file's folder)."""
    cfg: dict[str, Any] = {
        "model": weights.relative_to(out).as_posix(),
        "imgsz": options["imgsz"],
        "conf": VAL_CONF,
    }
    cfg["tile"] = options.get("tile")
    if "overlap" in options:
        cfg["overlap"] = options["overlap"]
    cfg["postproc"] = None if chosen.postproc is None else chosen.postproc.relative_to(out).as_posix()
    cfg["refine"] = None if chosen.refine is None else chosen.refine[0]
    if chosen.refine is not None:
        cfg["refine_inset"], cfg["refine_smooth"] = chosen.refine[1], chosen.refine[2]
    header = (
        f"# Prediction settings of a fine-tuned model, chosen on its validation frames by {TOOL}.\n"
        "# Paths are relative to this file; null = off. Use: python infer/predict.py --cfg THIS_FILE "
        "--source FRAMES --out RUN\n"
    )
    return atomic_write_text(out / "predict.yaml", header + yaml.safe_dump(cfg, sort_keys=False))


def postproc_params(path: Path) -> dict[str, Any]:
    """The chosen post-processing of an ``infer/tune.py`` output (and its measurement threshold)."""
    tuned = json.loads(path.read_text())
    return {k: tuned.get(k) for k in (*POSTPROC_KEYS, "measure_min_score")}


def score_summary(score: dict[str, Any]) -> dict[str, float]:
    """The headline validation numbers of an ``infer/score.py`` JSON."""
    return {
        "hackathon_f1": float(score["hackathon_f1"]["f1"]),
        "strict_f1": float(score["strict"]["f1"]),
        "AP": float(score["coco"]["AP"]),
        "AP50": float(score["coco"]["AP50"]),
    }


def finetune_manifest(
    args: argparse.Namespace,
    data: FinetuneData,
    settings: dict[str, Any],
    status: str,
    chosen: Validation | None = None,
) -> dict[str, Any]:
    """The manifest of ``--out``: inputs, the settings a rerun must match, and (when done) the choice."""
    inputs = {"data_yaml": describe_input(data.data_yaml), "val_coco": describe_input(data.val_coco),
              "model": describe_input(settings["model"])}  # fmt: skip
    extra: dict[str, Any] = {"status": status, "settings": settings, "train_images": data.train_images,
                             "val_frames": len(data.val_names), "recipe": RECIPE}  # fmt: skip
    if chosen is not None:
        extra |= {
            "postproc": None if chosen.postproc is None else postproc_params(chosen.postproc),
            "refine": None
            if chosen.refine is None
            else dict(zip(("level", "inset_px", "smooth_px"), chosen.refine, strict=True)),
            "val_score": score_summary(chosen.score),
            "outputs": [n for n in OUTPUTS if (Path(settings["out"]) / n).exists()],
        }
    return build_manifest(TOOL, vars(args), inputs, **extra)


def budget_text(overrides: dict[str, Any], n_train: int) -> str:
    """How long the training runs, in words."""
    if "time" in overrides:
        return f"at most {float(overrides['time']) * 60:.1f} min (time={overrides['time']})"
    if "epochs" in overrides and overrides["epochs"] == budget_epochs(n_train, recipe_imgsz(overrides)):
        return f"{overrides['epochs']} epochs (about {budget_minutes(n_train):.1f} min on 2 idle CPU cores)"
    epochs = overrides["epochs"]
    return f"{epochs} epoch{'' if epochs == 1 else 's'}"


def describe_choice(chosen: Validation) -> str:
    """One line: the post-processing and refinement chosen on the validation frames."""
    post = "none (no validation predictions)" if chosen.postproc is None else str(chosen.postproc)
    if chosen.refine is None:
        refine = "none (the unrefined masks scored best)"
    else:
        refine = f"level {chosen.refine[0]}, inset {chosen.refine[1]} px, smoothing {chosen.refine[2]} px"
    return f"post-processing: {post}; refinement: {refine}"


def main(argv: Sequence[str] | None = None) -> int:
    """Check the inputs, train, choose the prediction settings on validation, write them; 0, or 1 if a stage
    failed (see ``OUT/log.txt``)."""
    args = build_parser().parse_args(argv)
    data = check_finetune_data(args.data, args.val_coco, args.val_images)
    overrides = train_overrides(args, data.train_images)
    options = predict_settings(args, overrides)
    settings = {"out": str(args.out.absolute()), "data": str(data.data_yaml), "val_coco": str(data.val_coco),
                "val_images": str(data.val_images), "model": overrides["model"], "train": overrides,
                "predict": options}  # fmt: skip
    out = claim_out(args, data, settings)
    write_manifest(out, finetune_manifest(args, data, settings, "running"))
    spec = PipelineSpec(out, data.data_yaml, RECIPE, data.val_images, data.val_coco, train=overrides,
                        predict=options, refine_levels=REFINE_LEVELS, refine_insets=REFINE_INSETS,
                        refine_smooths=REFINE_SMOOTHS)  # fmt: skip
    pipeline = Pipeline(spec)
    print(f"training on {data.train_images} images: {budget_text(overrides, data.train_images)}; "
          f"log: {pipeline.log.path}")  # fmt: skip
    try:
        pipeline.train()
        print(f"choosing the prediction settings on {len(data.val_names)} validation frames")
        chosen = pipeline.validate(score_name="val_score.json")
    except StageError as exc:
        write_manifest(out, finetune_manifest(args, data, settings, "failed") | {"error": str(exc)})
        print(f"error: {exc}", file=sys.stderr)
        return 1
    cfg = write_predict_cfg(out, options, chosen, pipeline.weights())
    write_manifest(out, finetune_manifest(args, data, settings, "done", chosen))
    s = score_summary(chosen.score)
    print(describe_choice(chosen))
    print(f"validation (optimistic: the settings were chosen on it): hackathon F1 {s['hackathon_f1']:.3f}, "
          f"strict F1 {s['strict_f1']:.3f}, AP50 {s['AP50']:.3f}")  # fmt: skip
    print(f"wrote {cfg}, {out / 'val_score.json'}, {out / 'manifest.json'}")
    print(f"predict with: python infer/predict.py --cfg {cfg} --source FRAMES --out RUN")
    return 0
