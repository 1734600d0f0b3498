"""The whole chain on the synthetic ``small`` preset, run by path exactly as the README shows it.

synthesize -> coco2yolo -> train (cpu-small) -> predict -> score -> shape -> compare -> report.
The model is tiny and trained for a couple of minutes, so the score floor is low; what this test guards is
that the stages fit together: formats, ids, mask alignment (matched masks must overlap their particle
well) and that every stage writes its outputs and manifest.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def _run(repo: Path, *args: str | Path) -> None:
    """Run one stage script from the repo root; fail with its output if it exits non-zero."""
    proc = subprocess.run(
        [sys.executable, *map(str, args)], cwd=repo, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, (
        f"{args[0]} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )


def test_small_chain_end_to_end(repo_root: Path, tmp_path: Path) -> None:
    d = tmp_path
    data = d / "data"
    _run(
        repo_root,
        "datasets/synthesize.py",
        "--out",
        data,
        "--preset",
        "small",
        "--frames",
        "60",
        "--seed",
        "0",
    )
    _run(
        repo_root,
        "convert/coco2yolo.py",
        "--json",
        data / "label_train.json",
        "--images",
        data / "train",
        "--out",
        d / "yolo",
        "--group-size",
        "10",
        "--val-frac",
        "0.25",
        "--seed",
        "0",
    )
    _run(
        repo_root,
        "train/train.py",
        "--data",
        d / "yolo" / "data.yaml",
        "--recipe",
        "cpu-small",
        "--project",
        d / "train",
        "--name",
        "tiny",
    )
    weights = d / "train" / "tiny" / "weights" / "best.pt"
    assert weights.is_file()
    _run(
        repo_root,
        "infer/predict.py",
        "--model",
        weights,
        "--source",
        data / "test",
        "--images-json",
        data / "label_test.json",
        "--out",
        d / "predict",
        "--imgsz",
        "320",
        "--conf",
        "0.1",
    )
    _run(
        repo_root,
        "infer/score.py",
        "--gt",
        data / "truth" / "label_test_gt.json",
        "--pred",
        d / "predict" / "submission.json",
        "--json",
        d / "score.json",
    )
    _run(
        repo_root,
        "infer/shape.py",
        "--coco",
        data / "truth" / "label_test_gt.json",
        "--images",
        data / "test",
        "--out",
        d / "truth" / "particles.parquet",
    )
    _run(
        repo_root,
        "infer/compare.py",
        d / "truth",
        d / "predict",
        "--labels",
        "truth",
        "predicted",
        "--out",
        d / "compare",
        "--bootstrap",
        "200",
        "--no-plots",
    )
    _run(
        repo_root,
        "infer/report.py",
        d / "truth",
        d / "predict",
        "--labels",
        "truth",
        "predicted",
        "--images",
        data / "test",
        "--out",
        d / "report.html",
        "--frames",
        "2",
    )

    # Submission: hackathon format, ids from label_test.json, masks at the original frame size.
    test_images = {im["id"]: im for im in json.loads((data / "label_test.json").read_text())["images"]}
    submission = json.loads((d / "predict" / "submission.json").read_text())
    assert submission, "the trained model predicted nothing"
    for rec in submission:
        assert set(rec) >= {"image_id", "category_id", "bbox", "score", "segmentation"}
        im = test_images[rec["image_id"]]
        assert rec["segmentation"]["size"] == [im["height"], im["width"]]
        assert isinstance(rec["segmentation"]["counts"], str)
        assert rec["category_id"] == 1 and 0.0 <= rec["score"] <= 1.0

    # Score: a sane floor for a two-minute model, and aligned masks.
    score = json.loads((d / "score.json").read_text())
    assert score["hackathon_f1"]["f1"] > 0.05, score["hackathon_f1"]
    assert score["strict"]["tp"] > 0 and score["strict"]["mean_iou"] > 0.6, score["strict"]
    assert score["coco"]["AP50"] > 0.02, score["coco"]

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

    # Comparison and report exist and say something.
    assert (d / "compare" / "comparison.csv").is_file()
    assert (d / "compare" / "verdicts.txt").read_text().strip()
    html = (d / "report.html").read_text()
    assert "data:image/png;base64," in html and "predicted" in html
    for stage in ("yolo", "predict", "compare"):
        assert (d / stage / "manifest.json").is_file(), stage
