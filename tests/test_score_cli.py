"""infer/score.py and infer/tune.py: outputs, and one-line errors (exit 2) for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flocshape.errors import run_cli
from flocshape.masks import encode_rle
from flocshape.score.cli import score_main, tune_main
from flocshape.score.synth import synthetic_scoring_set


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    gt, preds = synthetic_scoring_set(seed=11, n_images=2, duplicates=2)
    gt_path, pred_path = tmp_path / "gt.json", tmp_path / "pred.json"
    gt_path.write_text(json.dumps(gt))
    pred_path.write_text(json.dumps(preds))
    return gt_path, pred_path


def _run(main, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = run_cli(main, argv)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_score_cli_table_and_json(files: tuple[Path, Path], tmp_path: Path, repo_root: Path) -> None:
    gt_path, pred_path = files
    out = tmp_path / "scores" / "score.json"
    proc = subprocess.run(
        [
            sys.executable,
            "infer/score.py",
            "--gt",
            str(gt_path),
            "--pred",
            str(pred_path),
            "--json",
            str(out),
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "hackathon F1 with IoU" in proc.stdout and "COCO mask AP (maxDets=1000)" in proc.stdout
    result = json.loads(out.read_text())
    assert set(result["hackathon_f1"]) >= {"f1", "precision", "recall", "sum_iou", "tp", "fp", "fn"}
    assert set(result["strict"]) >= {"precision", "recall", "f1", "mean_iou", "tp", "fp", "fn", "f1_50_95"}
    assert set(result["coco"]) >= {"AP", "AP50", "AP75", "APs", "APm", "APl"}
    assert result["hackathon_f1"]["fp"] >= 4 and result["manifest"]["tool"] == "infer/score.py"


def _write(tmp_path: Path, name: str, obj: object) -> Path:
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def test_score_cli_errors_are_one_line(files: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    gt_path, pred_path = files
    preds = json.loads(pred_path.read_text())
    gt = json.loads(gt_path.read_text())
    wrong_size = [preds[0], {**preds[1], "segmentation": encode_rle(np.zeros((5, 5), bool))}]
    cases = {
        "bad.json": ("{not json", "invalid JSON"),
        "list_gt.json": ([], "ground truth must be a COCO object"),
        "nokey.json": ([{k: v for k, v in preds[0].items() if k != "score"}], "prediction 0"),
        "size.json": (wrong_size, "prediction 1 (image_id"),
        "corrupt.json": (
            [{**preds[0], "segmentation": {"size": [96, 128], "counts": "3"}}],
            "RLE counts cover",
        ),
        "dict.json": ({"annotations": preds}, "must be a JSON list"),
    }
    for name, (content, needle) in cases.items():
        path = _write(tmp_path, name, content)
        argv = ["--gt", str(path), "--pred", str(pred_path)] if name == "list_gt.json" else None
        argv = argv or ["--gt", str(gt_path), "--pred", str(path)]
        rc, out, err = _run(score_main, argv, capsys)
        assert rc == 2, name
        assert err.count("\n") == 1 and err.startswith(f"error: {path}") and needle in err, (name, err)
    bad_ann = {**gt, "annotations": [{**gt["annotations"][0], "image_id": 424242}]}
    rc, _, err = _run(
        score_main, ["--gt", str(_write(tmp_path, "g2.json", bad_ann)), "--pred", str(pred_path)], capsys
    )
    assert rc == 2 and "annotations[0]" in err and "424242" in err
    rc, _, err = _run(score_main, ["--gt", str(tmp_path / "missing.json"), "--pred", str(pred_path)], capsys)
    assert rc == 2 and "file not found" in err


def test_polygon_predictions_are_accepted(tmp_path: Path, capsys) -> None:
    gt = {
        "images": [{"id": 3, "height": 20, "width": 20}],
        "categories": [{"id": 1, "name": "Normal"}],
        "annotations": [
            {"id": 1, "image_id": 3, "category_id": 1, "segmentation": [[2, 2, 12, 2, 12, 12, 2, 12]]}
        ],
    }
    preds = [{"image_id": 3, "category_id": 1, "score": 0.9, "segmentation": [[2, 2, 12, 2, 12, 12, 2, 12]]}]
    out = tmp_path / "s.json"
    argv = [
        "--gt",
        str(_write(tmp_path, "g.json", gt)),
        "--pred",
        str(_write(tmp_path, "p.json", preds)),
        "--json",
        str(out),
    ]
    rc, _, _ = _run(score_main, argv, capsys)
    result = json.loads(out.read_text())
    assert rc == 0 and result["hackathon_f1"]["f1"] == 1.0 and result["coco"]["AP"] == pytest.approx(1.0)


def test_tune_cli_writes_choice_table_and_manifest(files: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    gt_path, pred_path = files
    out = tmp_path / "tune" / "postproc.json"
    grid = '{"min_score": [0.0, 0.2], "mask_nms_iou": [null, 0.5]}'
    rc, stdout, err = _run(
        tune_main, ["--gt", str(gt_path), "--pred", str(pred_path), "--out", str(out), "--grid", grid], capsys
    )
    assert rc == 0, err
    chosen = json.loads(out.read_text())
    assert chosen["mask_nms_iou"] == 0.5 and chosen["hackathon_f1"] > chosen["baseline_hackathon_f1"]
    table = pd.read_csv(out.with_suffix(".csv"))
    assert len(table) == 4 and table["best"].sum() == 1
    assert json.loads((out.parent / "manifest.json").read_text())["tool"] == "infer/tune.py"
    rc, _, err = _run(
        tune_main,
        [
            "--gt",
            str(gt_path),
            "--pred",
            str(pred_path),
            "--out",
            str(tmp_path / "x.json"),
            "--grid",
            '{"conf": [0.1]}',
        ],
        capsys,
    )
    assert rc == 2 and "unknown grid keys" in err and not (tmp_path / "x.json").exists()
