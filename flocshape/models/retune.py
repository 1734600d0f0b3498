"""Update a model card's mask settings (refinement, box padding) after they were re-chosen, weights unchanged.

The training, data and post-processing blocks of the card stay as the builder (:mod:`flocshape.models.card`)
wrote them; the card's ``predict_defaults``, ``refine_tuning`` and ``test`` blocks are replaced by those of a new
test run and its refinement choice, and the replaced defaults and scores are kept under ``superseded``. Every
number comes from a result file, as with the builder. Usage::

    python -m flocshape.models.retune --card flocshape/models/floc-yolov8n-seg-cpuref.json \\
        --refine-tuning runs/tune/refine.json --test-pred runs/test_pred --test-score runs/test_pred/score.json \\
        --out runs/card/floc-yolov8n-seg-cpuref.json

Refused (one-line error): test predictions made with other weights, other post-processing, or another image size,
confidence or tiling than the card's; a refinement choice that is not the refinement the test run used; a choice
made on predictions with another box padding than the test run's.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flocshape.errors import input_error, run_cli
from flocshape.fsio import atomic_write_json
from flocshape.infer.refine_tune import chosen_refinement
from flocshape.manifest import describe_input
from flocshape.models.card import (
    command_line,
    headline_scores,
    predict_defaults,
    read_json_object,
    refinement_used,
)

# the predict_defaults a retune may change; everything else must stay as the card has it
MASK_SETTINGS = ("refine_level", "refine_inset_px", "refine_smooth_px", "box_pad_px")


def _tuned_box_pad(tuning: dict[str, Any]) -> int | None:
    """Box padding of the predictions the refinement was chosen on (their run's manifest), None if unknown."""
    pred = tuning.get("manifest", {}).get("args", {}).get("pred")
    run_manifest = Path(pred).parent / "manifest.json" if pred else None
    if run_manifest is None or not run_manifest.is_file():
        return None
    return int(read_json_object(run_manifest).get("settings", {}).get("box_pad_px", 0))


def retune_card(card_path: Path, refine_tuning: Path, test_pred: Path, test_score: Path) -> dict[str, Any]:
    """The updated card dict (see the module docstring)."""
    card = read_json_object(card_path)
    pred_manifest = Path(test_pred) / "manifest.json"
    pred_m = read_json_object(pred_manifest)
    settings = pred_m.get("settings", {})
    if settings.get("model_sha256") != card["sha256"]:
        raise input_error(pred_manifest, "predictions were made with other weights than the card's")
    old = card["predict_defaults"]
    new = predict_defaults(settings, old["postproc"])
    if settings.get("postproc") != old["postproc"]:
        raise input_error(pred_manifest, "test predictions used other post-processing than the card's")
    for key in sorted((set(old) | set(new)) - set(MASK_SETTINGS)):
        if old.get(key) != new.get(key):
            raise input_error(pred_manifest, f"{key} is {new.get(key)!r}, the card's is {old.get(key)!r}")
    chosen = read_json_object(refine_tuning)
    if chosen_refinement(chosen) != refinement_used(settings):
        raise input_error(
            refine_tuning, "the chosen refinement differs from the test predictions' refinement"
        )
    tuned_pad = _tuned_box_pad(chosen)
    if tuned_pad is not None and tuned_pad != int(settings.get("box_pad_px", 0)):
        raise input_error(
            refine_tuning, f"chosen on predictions with box pad {tuned_pad} px, the test run used another"
        )
    score = read_json_object(test_score)
    superseded = [
        *card.get("superseded", []),
        {"predict_defaults": old, "test_scores": card["test"]["scores"]},
    ]
    inputs = dict(card["inputs"])
    inputs.update(
        test_pred_manifest=describe_input(pred_manifest),
        test_score=describe_input(test_score),
        refine_tuning=describe_input(refine_tuning),
    )
    return card | {
        "predict_defaults": new,
        "refine_tuning": {
            "command": command_line(chosen.get("manifest", {}), "infer/tune_refine.py"),
            "criterion": chosen.get("criterion"),
            "table": chosen.get("table"),
        },
        "test": card["test"]
        | {
            "predict_command": command_line(pred_m, "infer/predict.py"),
            "score_command": command_line(score.get("manifest", {}), "infer/score.py"),
            "scores": headline_scores(score),
        },
        "inputs": inputs,
        "superseded": superseded,
    }


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (all paths)."""
    p = argparse.ArgumentParser(description="Update a model card's mask settings (weights unchanged).")
    for name, what in (
        ("--card", "the card to update (JSON)"),
        ("--refine-tuning", "infer/tune_refine.py --out on validation frames"),
        ("--test-pred", "infer/predict.py run on the test split with the new settings"),
        ("--test-score", "infer/score.py --json output for that run"),
        ("--out", "updated card JSON to write (not the --card file itself)"),
    ):
        p.add_argument(name, required=True, type=Path, help=what)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Write the updated card atomically."""
    a = build_parser().parse_args(argv)
    if a.out.resolve() == a.card.resolve():
        raise input_error(a.out, "is the --card input; write the update elsewhere and replace it by hand")
    card = retune_card(a.card, a.refine_tuning, a.test_pred, a.test_score)
    atomic_write_json(a.out, card)
    print(f"wrote {a.out}: predict_defaults {json.dumps(card['predict_defaults'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
