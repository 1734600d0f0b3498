"""The main job end to end with the shipped model, run by path exactly as ``make demo`` runs it.

synthesize (10 hackathon-preset test frames, 1024x1280, seed 1 = not the training seed) -> predict with the
default (shipped) model and its card's settings -> score -> shape -> compare -> report. Training is not repeated
here: tests/test_synth_train.py (synthesize -> coco2yolo -> plain Ultralytics training), tests/test_train_run.py
(train/train.py) and tests/test_predict_run.py (predict with a freshly trained model) cover that part of the chain.

What this test guards: the stages fit together (formats, ids, mask alignment, outputs and manifests), the
default model really is the shipped one with its tuned settings, and the scores stay near the model card's
(hackathon F1 0.565 on the 350 test frames of seed 0; 0.56-0.58 measured on these 10 frames).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from flocshape.models import load_model_card

pytestmark = pytest.mark.slow


def _run(repo: Path, *args: str | Path) -> None:
    """Run one stage script from the repo root; fail with its output if it exits non-zero."""
    proc = subprocess.run(
        [sys.executable, *map(str, args)], cwd=repo, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, (
        f"{args[0]} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )


def test_demo_chain_with_the_shipped_model(repo_root: Path, tmp_path: Path) -> None:
    d = tmp_path
    data = d / "data"
    _run(repo_root, "datasets/synthesize.py", "--out", data, "--preset", "hackathon", "--frames", "20",
         "--test-frac", "0.5", "--seed", "1")  # fmt: skip
    _run(repo_root, "infer/predict.py", "--source", data / "test", "--images-json", data / "label_test.json",
         "--out", d / "predict", "--save-overlays")  # fmt: skip
    _run(repo_root, "infer/score.py", "--gt", data / "truth" / "label_test_gt.json",
         "--pred", d / "predict" / "submission.json", "--json", d / "score.json")  # fmt: skip
    _run(repo_root, "infer/shape.py", "--coco", data / "truth" / "label_test_gt.json", "--images", data / "test",
         "--out", d / "truth" / "particles.parquet")  # fmt: skip
    _run(repo_root, "infer/compare.py", d / "truth", d / "predict", "--labels", "truth", "predicted",
         "--out", d / "compare", "--bootstrap", "200", "--no-plots")  # fmt: skip
    _run(repo_root, "infer/report.py", d / "truth", d / "predict", "--labels", "truth", "predicted",
         "--images", data / "test", "--out", d / "report.html", "--frames", "2")  # fmt: skip

    # The default model is the shipped one, run with its card's settings.
    card = load_model_card()
    manifest = json.loads((d / "predict" / "manifest.json").read_text())
    assert manifest["model"]["sha256"] == card["sha256"] and manifest["model"]["shipped"] is True
    assert manifest["settings"]["imgsz"] == card["predict_defaults"]["imgsz"]
    assert manifest["settings"]["conf"] == card["predict_defaults"]["conf"]
    assert manifest["settings"]["postproc"]["min_score"] == card["predict_defaults"]["postproc"]["min_score"]
    assert manifest["settings"]["tile_px"] == card["predict_defaults"].get("tile_px")
    assert manifest["model"]["settings_from"]["tile"] == "model card"

    # Submission: hackathon format, ids from label_test.json, masks at the original frame size.
    test_images = {im["id"]: im for im in json.loads((data / "label_test.json").read_text())["images"]}
    submission = json.loads((d / "predict" / "submission.json").read_text())
    assert submission, "the shipped model predicted nothing"
    for rec in submission:
        assert set(rec) >= {"image_id", "category_id", "bbox", "score", "segmentation"}
        im = test_images[rec["image_id"]]
        assert rec["segmentation"]["size"] == [im["height"], im["width"]] == [1024, 1280]
        assert isinstance(rec["segmentation"]["counts"], str)
        assert rec["category_id"] == 1
        assert card["predict_defaults"]["postproc"]["min_score"] <= rec["score"] <= 1.0
    assert len(list((d / "predict" / "overlays").glob("*.jpg"))) == len(test_images) == 10

    # Scores near the model card's test scores (floors leave room for 10 frames of another seed).
    score = json.loads((d / "score.json").read_text())
    assert score["hackathon_f1"]["f1"] > 0.45, score["hackathon_f1"]
    assert score["strict"]["f1"] > 0.5 and score["strict"]["mean_iou"] > 0.65, score["strict"]
    assert score["coco"]["AP50"] > 0.45, score["coco"]

    # Particle tables: one row per prediction / per GT instance, canonical columns present.
    pred_table = pd.read_parquet(d / "predict" / "particles.parquet")
    assert len(pred_table) == len(submission)
    gt = json.loads((data / "truth" / "label_test_gt.json").read_text())
    gt_table = pd.read_parquet(d / "truth" / "particles.parquet")
    assert len(gt_table) == len(gt["annotations"])
    for col in (
        "area_px",
        "perimeter_px",
        "ecd_px",
        "feret_max_px",
        "solidity",
        "touches_border",
        "sharpness",
    ):
        assert col in pred_table.columns and col in gt_table.columns
    # the area filter acts on the network's masks; refinement then keeps at least 30 % of each (docs/predict.md)
    min_area = card["predict_defaults"]["postproc"]["min_area_px"]
    assert card["predict_defaults"]["refine_level"] is not None
    assert (pred_table["area_px"] >= 0.3 * min_area).all() and (
        pred_table["area_px"] < min_area
    ).mean() < 0.05

    # Comparison and report exist and say something.
    assert (d / "compare" / "comparison.csv").is_file()
    assert (d / "compare" / "verdicts.txt").read_text().strip()
    html = (d / "report.html").read_text()
    assert "data:image/png;base64," in html and "predicted" in html
    for stage in ("data", "predict", "compare"):
        assert (d / stage / "manifest.json").is_file(), stage
