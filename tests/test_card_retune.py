"""Updating the shipped card's mask settings (flocshape.models.retune)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from flocshape import models
from flocshape.errors import InputError
from flocshape.models.retune import retune_card

REPO = Path(__file__).resolve().parents[1]


def _score() -> dict:
    return {
        "hackathon_f1": {
            "f1": 0.76,
            "precision": 0.8,
            "recall": 0.72,
            "th": 0.1,
            "tp": 1,
            "fp": 0,
            "fn": 0,
            "n_gt": 1,
            "n_pred": 1,
        },  # fmt: skip
        "strict": {"f1": 0.8, "precision": 0.8, "recall": 0.8, "mean_iou": 0.87, "f1_50_95": 0.6},
        "coco": {
            "AP": 0.56,
            "AP50": 0.77,
            "AP75": 0.64,
            "APs": 0.5,
            "APm": 0.6,
            "APl": 0.5,
            "max_dets": 1000,
        },
        "manifest": {"command": ["infer/score.py", "--gt", "g.json", "--pred", "p.json"]},
    }


def _inputs(tmp_path: Path, box_pad: int = 2, tuned_pad: int = 2, **change: object) -> dict[str, Path]:
    card = models.load_model_card()
    card_path = tmp_path / "card.json"
    card_path.write_text(json.dumps(card))
    d = card["predict_defaults"]
    settings = {"model_sha256": card["sha256"], "imgsz": d["imgsz"], "conf": d["conf"], "postproc": d["postproc"],
                "tile_px": d["tile_px"], "overlap": d["overlap"], "refine_level": 0.5, "refine_inset_px": 0.5,
                "refine_smooth_px": 0.0, "refine_grow_px": 2, "box_pad_px": box_pad, **change}  # fmt: skip
    test_pred = tmp_path / "test_pred"
    test_pred.mkdir()
    (test_pred / "manifest.json").write_text(
        json.dumps({"settings": settings, "command": ["infer/predict.py"]})
    )
    score = tmp_path / "score.json"
    score.write_text(json.dumps(_score()))
    tune_pred = tmp_path / "val_pred"
    tune_pred.mkdir()
    (tune_pred / "manifest.json").write_text(json.dumps({"settings": {"box_pad_px": tuned_pad}}))
    tuning = tmp_path / "refine.json"
    tuning.write_text(json.dumps({
        "best_level": 0.5, "best_inset_px": 0.5, "best_smooth_px": 0.0, "grow_px": 2, "criterion": "largest F1",
        "table": [{"level": 0.5}], "manifest": {"args": {"pred": str(tune_pred / "submission.json")},
                                                "command": ["infer/tune_refine.py", "--level", "0.5"]},
    }))  # fmt: skip
    return {"card_path": card_path, "refine_tuning": tuning, "test_pred": test_pred, "test_score": score}


def test_retune_replaces_mask_settings_and_scores_and_keeps_the_rest(tmp_path: Path) -> None:
    old = models.load_model_card()
    new = retune_card(**_inputs(tmp_path))
    d = new["predict_defaults"]
    assert (d["refine_level"], d["refine_inset_px"], d["refine_smooth_px"], d["box_pad_px"]) == (
        0.5,
        0.5,
        0.0,
        2,
    )
    assert {k: v for k, v in d.items() if k not in ("refine_inset_px", "refine_smooth_px", "box_pad_px")} == {
        k: v for k, v in old["predict_defaults"].items() if k not in ("refine_inset_px", "refine_smooth_px")
    }
    assert new["test"]["scores"]["hackathon_f1"]["f1"] == 0.76
    assert new["superseded"] == [
        {"predict_defaults": old["predict_defaults"], "test_scores": old["test"]["scores"]}
    ]
    assert new["training"] == old["training"] and new["sha256"] == old["sha256"]
    assert "infer/tune_refine.py --level 0.5" in new["refine_tuning"]["command"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model_sha256": "0" * 64}, "other weights"),
        ({"imgsz": 1280}, "imgsz is 1280"),
        ({"postproc": None}, "other post-processing"),
        ({"refine_inset_px": 0.3}, "chosen refinement differs"),
        ({"tuned_pad": 0}, "box pad 0 px"),
    ],
)
def test_retune_refuses_runs_that_do_not_match(tmp_path: Path, change: dict, message: str) -> None:
    tuned_pad = change.pop("tuned_pad", 2)
    with pytest.raises(InputError, match=message):
        retune_card(**_inputs(tmp_path, tuned_pad=tuned_pad, **change))


def test_retune_cli_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    paths = _inputs(tmp_path)
    before = paths["card_path"].read_bytes()
    args = ["--card", paths["card_path"], "--refine-tuning", paths["refine_tuning"], "--test-pred",
            paths["test_pred"], "--test-score", paths["test_score"], "--out", paths["card_path"]]  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "flocshape.models.retune", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "is the --card input" in proc.stderr
    assert paths["card_path"].read_bytes() == before
    out = tmp_path / "new.json"
    args[-1] = out
    proc = subprocess.run([sys.executable, "-m", "flocshape.models.retune", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["predict_defaults"]["box_pad_px"] == 2
