"""Build the model card of a shipped checkpoint from the run folders that made and scored it.

Nothing is typed in by hand: every number comes from a manifest or result file, and every input file is
recorded with its sha256. Usage (from the repository root; the run folders are the ones in docs/models.md)::

    python -m flocshape.models.card --weights flocshape/models/floc-yolov8n-seg-cpuref.pt \\
        --train-run runs/hack/train/ref --data runs/hack/data --yolo runs/hack/yolo \\
        --tune runs/metrology/tune/postproc.json --refine-tuning runs/refine/cpu_val_levels.json \\
        --test-pred runs/refine/cpu_test_r06 --test-score runs/refine/cpu_test_r06/score.json \\
        --out flocshape/models/floc-yolov8n-seg-cpuref.json

The weights must be the training run's ``best.pt`` byte for byte (same sha256), and the test predictions must
have been made with exactly those weights; otherwise this is an error (the card would describe another model).
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flocshape.errors import input_error, run_cli
from flocshape.fsio import atomic_write_json
from flocshape.infer.refine import DEFAULT_SMOOTH_PX
from flocshape.infer.refine_tune import chosen_refinement
from flocshape.manifest import describe_input, file_digest
from flocshape.records import read_json_file
from flocshape.score.postprocess import GRID_KEYS, MEASURE_KEY


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object from ``path`` (:func:`flocshape.records.read_json_file`); one-line ``InputError`` when
    missing or malformed."""
    obj = read_json_file(path)
    if not isinstance(obj, dict):
        raise input_error(path, "must be a JSON object")
    return obj


def command_line(manifest: dict[str, Any], script: str) -> str:
    """The manifest's recorded command as a shell line run from the repo root, e.g. ``python train/train.py ...``."""
    argv = list(manifest.get("command") or [])
    return "python " + " ".join(shlex.quote(a) for a in [script, *argv[1:]])


def _model_summary(weights: Path) -> dict[str, Any]:
    """Architecture facts read from the checkpoint: class names, parameter count and dtype, optimizer state."""
    from flocshape import offline

    offline.setup()
    import torch

    ckpt = torch.load(weights, map_location="cpu", weights_only=False)
    model = ckpt["model"]
    params = list(model.parameters())
    return {
        "names": {int(k): str(v) for k, v in dict(model.names).items()},
        "parameters": int(sum(p.numel() for p in params)),
        "dtype": str(params[0].dtype).replace("torch.", ""),
        "optimizer_stripped": ckpt.get("optimizer") is None and ckpt.get("ema") is None,
        "ultralytics_version": ckpt.get("version"),
        "trained_at_commit": (ckpt.get("git") or {}).get("commit"),
    }


def headline_scores(score: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of an ``infer/score.py`` result (hackathon F1, strict F1 at IoU 0.5, COCO AP)."""
    hk, st, coco = score["hackathon_f1"], score["strict"], score["coco"]
    return {
        "hackathon_f1": {
            k: hk[k] for k in ("f1", "precision", "recall", "th", "tp", "fp", "fn", "n_gt", "n_pred")
        },
        "strict_iou50": {k: st[k] for k in ("f1", "precision", "recall", "mean_iou", "f1_50_95")},
        "coco_mask": {k: coco[k] for k in ("AP", "AP50", "AP75", "APs", "APm", "APl", "max_dets")},
    }


def refinement_used(settings: dict[str, Any]) -> dict[str, Any]:
    """The mask refinement a predict run's recorded ``settings`` used: ``refine_level``, ``refine_inset_px`` (px),
    ``refine_smooth_px`` (px) and ``refine_grow_px`` (px); a parameter a run predates is its default then."""
    return {
        "refine_level": settings.get("refine_level"),
        "refine_inset_px": float(settings.get("refine_inset_px", 0.0)),
        "refine_smooth_px": float(settings.get("refine_smooth_px", DEFAULT_SMOOTH_PX)),
        "refine_grow_px": settings.get("refine_grow_px"),
    }


def predict_defaults(settings: dict[str, Any], postproc: dict[str, Any]) -> dict[str, Any]:
    """The card's ``predict_defaults`` from the test run's recorded ``settings`` (its manifest).

    ``imgsz`` (px), ``conf`` and ``postproc`` always; ``refine_level``, ``refine_inset_px`` and ``refine_smooth_px``
    (px) when the run refined masks; ``box_pad_px`` (px) when it widened the mask windows; ``tile_px`` (px) and ``overlap`` (fraction) when it predicted on tiles, so that
    the default prediction is the scored one.
    """
    defaults: dict[str, Any] = {"imgsz": settings["imgsz"], "conf": settings["conf"], "postproc": postproc}
    if settings.get("refine_level") is not None:
        used = refinement_used(settings)
        defaults.update({k: used[k] for k in ("refine_level", "refine_inset_px", "refine_smooth_px")})
    if settings.get("box_pad_px"):
        defaults["box_pad_px"] = int(settings["box_pad_px"])
    if settings.get("tile_px") is not None:
        defaults["tile_px"] = int(settings["tile_px"])
        defaults["overlap"] = float(settings["overlap"])
    return defaults


def build_card(
    weights: Path,
    train_run: Path,
    data: Path,
    yolo: Path,
    tune: Path,
    test_pred: Path,
    test_score: Path,
    refine_tuning: Path | None = None,
) -> dict[str, Any]:
    """The model card dict (see the module docstring for the meaning of each input).

    ``refine_tuning`` (``infer/tune_refine.py --out`` on validation frames) is required when the test
    predictions used mask refinement, and its ``best_level`` / ``best_inset_px`` (absent: 0 px) / ``grow_px`` must
    be the refinement they used.
    """
    weights, train_run = Path(weights), Path(train_run)
    sha = file_digest(weights)
    best = train_run / "weights" / "best.pt"
    if not best.is_file() or file_digest(best) != sha:
        raise input_error(weights, f"is not byte-identical to the training run's {best}")
    train_m = read_json_object(train_run / "manifest.json")
    data_m, yolo_m = (
        read_json_object(Path(data) / "manifest.json"),
        read_json_object(Path(yolo) / "manifest.json"),
    )
    tuned, pred_m = read_json_object(tune), read_json_object(Path(test_pred) / "manifest.json")
    if pred_m.get("settings", {}).get("model_sha256") != sha:
        raise input_error(Path(test_pred) / "manifest.json", "predictions were made with other weights")
    settings = pred_m["settings"]
    postproc = {k: tuned[k] for k in (*GRID_KEYS, MEASURE_KEY) if k in tuned}
    if settings.get("postproc") != postproc:
        raise input_error(Path(test_pred) / "manifest.json", "test predictions used other post-processing")
    score = read_json_object(test_score)
    refine_level = settings.get("refine_level")
    refine_block = None
    if refine_level is not None:
        if refine_tuning is None:
            raise input_error(
                Path(test_pred) / "manifest.json", "used mask refinement: pass its --refine-tuning"
            )
        chosen = read_json_object(refine_tuning)
        if chosen_refinement(chosen) != refinement_used(settings):
            raise input_error(
                refine_tuning,
                "best_level / best_inset_px / best_smooth_px / grow_px differ from the test predictions' refinement",
            )
        refine_block = {
            "command": command_line(chosen.get("manifest", {}), "infer/tune_refine.py"),
            "criterion": chosen.get("criterion"),
            "table": chosen.get("table"),
        }
    defaults = predict_defaults(settings, postproc)
    inputs = {
        "train_manifest": describe_input(train_run / "manifest.json"),
        "tune": describe_input(tune),
        "test_pred_manifest": describe_input(Path(test_pred) / "manifest.json"),
        "test_score": describe_input(test_score),
    }
    if refine_tuning is not None:
        inputs["refine_tuning"] = describe_input(refine_tuning)
    return {
        "name": weights.stem,
        "file": weights.name,
        "sha256": sha,
        "bytes": weights.stat().st_size,
        "task": "instance segmentation (Ultralytics YOLO-seg), one class",
        "architecture": train_m["recipe"]["model"] + " (built from the YAML, no pretrained weights)",
        "checkpoint": _model_summary(weights),
        "license": "AGPL-3.0 (Ultralytics; the project's licence)",
        "training": {
            "recipe": Path(train_m["args"]["recipe"]).stem,
            "recipe_settings": train_m["recipe"],
            "overrides": train_m.get("overrides") or {},
            "imgsz": (train_m.get("overrides") or {}).get("imgsz", train_m["recipe"]["imgsz"]),
            "elapsed_s": train_m.get("elapsed_s"),
            "final_val_metrics": train_m.get("metrics"),
            "versions": train_m.get("versions"),
            "git_commit": train_m.get("git_commit"),
            "data": {
                "generator": "datasets/synthesize.py",
                "preset": data_m["args"]["preset"],
                "seed": data_m["args"]["seed"],
                "frames": data_m["args"]["frames"],
                "height": data_m["args"]["height"],
                "width": data_m["args"]["width"],
                "git_commit": data_m.get("git_commit"),
                "yolo_split": yolo_m.get("counts"),
            },
            "commands": [
                command_line(data_m, "datasets/synthesize.py"),
                command_line(yolo_m, "convert/coco2yolo.py"),
                command_line(train_m, "train/train.py"),
            ],
        },
        "predict_defaults": defaults,
        "postproc_tuning": {
            "command": command_line(tuned.get("manifest", {}), "infer/tune.py"),
            "criterion": tuned.get("criterion"),
            "val_hackathon_f1": tuned.get("hackathon_f1"),
            "val_strict_f1": tuned.get("strict_f1"),
            "val_hackathon_f1_without_postproc": tuned.get("baseline_hackathon_f1"),
            "measure_criterion": tuned.get("measure_criterion"),
            "val_strict_f1_at_measure_min_score": tuned.get("measure_strict_f1"),
        },
        "refine_tuning": refine_block,
        "test": {
            "data": f"test split of the same data set ({pred_m['frames']['total']} frames, never seen in training)",
            "predict_command": command_line(pred_m, "infer/predict.py"),
            "score_command": command_line(score.get("manifest", {}), "infer/score.py"),
            "scores": headline_scores(score),
        },
        "inputs": inputs,
    }


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (all paths)."""
    p = argparse.ArgumentParser(description="Build the model card of a shipped checkpoint.")
    for name, what in (
        ("--weights", "the checkpoint to ship (.pt)"),
        ("--train-run", "its training run folder (manifest.json, weights/best.pt)"),
        ("--data", "datasets/synthesize.py output it was trained on"),
        ("--yolo", "convert/coco2yolo.py output it was trained on"),
        ("--tune", "infer/tune.py output (postproc.json, tuned on validation)"),
        ("--test-pred", "infer/predict.py run on the test split with the tuned post-processing"),
        ("--test-score", "infer/score.py --json output for that run"),
        ("--out", "card JSON to write"),
    ):
        p.add_argument(name, required=True, type=Path, help=what)
    p.add_argument(
        "--refine-tuning",
        type=Path,
        default=None,
        help="infer/tune_refine.py --out on validation frames (when the test run used --refine)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Write the card atomically."""
    a = build_parser().parse_args(argv)
    card = build_card(
        a.weights, a.train_run, a.data, a.yolo, a.tune, a.test_pred, a.test_score, a.refine_tuning
    )
    atomic_write_json(a.out, card)
    print(f"wrote {a.out} (sha256 {card['sha256'][:12]}..., {card['bytes']} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
