"""benchmarks/breakdown.py: recall per size class / blur level and precision on a hand-made case."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scriptload import load_script

from flocshape.masks import encode_rle

REPO = Path(__file__).resolve().parents[1]
H, W = 200, 240  # small frames keep the test fast; the size bins are absolute areas in px


bd = load_script("benchmarks/breakdown.py", "breakdown")


def rect(y0: int, x0: int, h: int, w: int) -> np.ndarray:
    """Boolean (H, W) mask of the rectangle rows y0..y0+h-1, columns x0..x0+w-1."""
    m = np.zeros((H, W), dtype=bool)
    m[y0 : y0 + h, x0 : x0 + w] = True
    return m


@pytest.fixture()
def case(tmp_path: Path) -> dict[str, Path]:
    """2 images, 5 GT masks, 6 predictions with known IoUs.

    image 10: GT 101 small 10x10 (blur 0.2) - pred exact (IoU 1)
              GT 102 medium 40x40 (blur 1.2) - pred 40x30 inside it (IoU 0.75)
              GT 103 large 100x100 (blur 2.3) - pred 100x40 inside it (IoU 0.4 < 0.5: missed, FP "loose")
              background pred 5x5 far away (FP), covering the centroid of an unlabelled too_blurred particle
    image 20: GT 201 small 20x20 (blur 0.7) - two preds: exact (IoU 1) and 20x16 inside it (IoU 0.8, duplicate)
              GT 202 medium 35x35 (blur 0.4) - no prediction
    """
    gt_masks = {
        10: [(101, rect(0, 0, 10, 10)), (102, rect(50, 50, 40, 40)), (103, rect(95, 130, 100, 100))],
        20: [(201, rect(0, 0, 20, 20)), (202, rect(100, 100, 35, 35))],
    }
    preds = {
        10: [(rect(0, 0, 10, 10), 0.9), (rect(50, 50, 40, 30), 0.8), (rect(95, 130, 100, 40), 0.7)],
        20: [(rect(0, 0, 20, 20), 0.9), (rect(0, 0, 20, 16), 0.6), (rect(150, 10, 5, 5), 0.5)],
    }
    gt = {
        "images": [{"id": i, "file_name": f"{i}.jpg", "height": H, "width": W} for i in gt_masks],
        "annotations": [
            {"id": a, "image_id": i, "category_id": 1, "segmentation": encode_rle(m), "iscrowd": 0}
            for i, lst in gt_masks.items()
            for a, m in lst
        ],
        "categories": [{"id": 1, "name": "floc"}],
    }
    res = [
        {"image_id": i, "category_id": 1, "segmentation": encode_rle(m), "score": s}
        for i, lst in preds.items()
        for m, s in lst
    ]
    blur = {101: 0.2, 102: 1.2, 103: 2.3, 201: 0.7, 202: 0.4}
    truth_rows = [
        {
            "split": "test",
            "image_id": i,
            "ann_id": a,
            "labelled": True,
            "label_reason": "labelled",
            "blur_sigma_px": blur[a],
            "mask_area_px": int(m.sum()),
            "centroid_x_px": 0.0,
            "centroid_y_px": 0.0,
        }
        for i, lst in gt_masks.items()
        for a, m in lst
    ]
    truth_rows.append(  # unlabelled particle under the background prediction of image 20
        {
            "split": "test",
            "image_id": 20,
            "ann_id": -1,
            "labelled": False,
            "label_reason": "too_blurred",
            "blur_sigma_px": 3.0,
            "mask_area_px": 0,
            "centroid_x_px": 12.5,
            "centroid_y_px": 152.5,
        }
    )
    paths = {"gt": tmp_path / "gt.json", "pred": tmp_path / "pred.json", "truth": tmp_path / "truth.parquet"}
    paths["gt"].write_text(json.dumps(gt))
    paths["pred"].write_text(json.dumps(res))
    pd.DataFrame(truth_rows).to_parquet(paths["truth"])
    return paths


def test_greedy_match_prefers_highest_iou() -> None:
    iou = np.array([[0.9, 0.6], [0.7, 0.4]])
    r, c = bd.greedy_match(iou, 0.5)
    assert list(zip(r.tolist(), c.tolist(), strict=True)) == [
        (0, 0)
    ]  # (1, 0) blocked, (1, 1) below threshold
    r, c = bd.greedy_match(np.zeros((2, 0)), 0.5)
    assert r.size == 0 and c.size == 0


def test_covers_points() -> None:
    rle = encode_rle(rect(10, 20, 5, 5))
    assert bd.covers_points(rle, np.array([22.7]), np.array([12.1]))
    assert not bd.covers_points(rle, np.array([25.0, -3.0]), np.array([12.0, 500.0]))


def test_breakdown_numbers(case: dict[str, Path], tmp_path: Path) -> None:
    res = bd.breakdown(case["gt"], case["pred"], case["truth"])
    o = res["overall"]
    assert (o["n_gt"], o["n_pred"], o["tp"], o["fp"], o["fn"]) == (5, 6, 3, 3, 2)
    assert o["precision"] == pytest.approx(0.5)
    assert o["recall"] == pytest.approx(0.6)
    assert o["f1"] == pytest.approx(6 / 11)
    assert o["mean_iou"] == pytest.approx((1.0 + 0.75 + 1.0) / 3)
    assert res["hungarian_check"]["tp"] == 3
    assert res["truth_check"] == {"gt_rows_joined": 5, "mask_area_px_mismatches": 0}

    size = {r["bin"]: r for r in res["gt_by_size"]}
    assert [size[b]["n_gt"] for b in size] == [2, 2, 1]
    assert [size[b]["recall"] for b in size] == [1.0, 0.5, 0.0]
    assert size["medium (32^2..96^2)"]["mean_iou"] == pytest.approx(0.75)
    assert size["large (>=96^2)"]["mean_iou"] is None

    blur = {r["bin"]: r for r in res["gt_by_blur"]}
    assert [blur[b]["n_gt"] for b in blur] == [2, 1, 1, 0, 1]  # 0.2 & 0.4 | 0.7 | 1.2 | - | 2.3
    assert blur["[0, 0.5)"]["recall"] == pytest.approx(0.5)
    assert [blur[b]["recall"] for b in list(blur)[1:]] == [1.0, 1.0, None, 0.0]

    pred = {r["bin"]: r for r in res["pred_by_size"]}
    # predicted areas: 100, 1200 (40x30), 4000 (100x40), 400, 320, 25 px
    assert [(pred[b]["n_pred"], pred[b]["tp"]) for b in pred] == [(4, 2), (2, 1), (0, 0)]
    assert pred["small (<32^2)"]["precision"] == pytest.approx(0.5)

    kinds = {r["kind"]: r["n"] for r in res["fp_kinds"]}
    assert kinds == {"loose": 1, "duplicate": 1, "unlabelled:too_blurred": 1}

    cell = {(r["size"], r["blur"]): r for r in res["gt_by_size_blur"]}
    assert cell[("medium (32^2..96^2)", "[0, 0.5)")]["recall"] == 0.0
    assert cell[("small (<32^2)", "[0.5, 1)")]["recall"] == 1.0


def test_min_score_and_iou_threshold(case: dict[str, Path]) -> None:
    o = bd.breakdown(case["gt"], case["pred"], case["truth"], min_score=0.65)["overall"]
    assert (o["n_pred"], o["tp"], o["fp"]) == (4, 3, 1)  # the duplicate and the background pred are dropped
    o = bd.breakdown(case["gt"], case["pred"], case["truth"], iou_threshold=0.3)["overall"]
    assert (o["tp"], o["fn"]) == (4, 1)  # the IoU-0.4 pred now matches the large GT


def test_cli_writes_json_and_markdown(case: dict[str, Path], tmp_path: Path, capsys) -> None:
    out_json, out_md = tmp_path / "o.json", tmp_path / "o.md"
    argv = ["--gt", str(case["gt"]), "--pred", str(case["pred"]), "--truth", str(case["truth"])]
    assert bd.main([*argv, "--json", str(out_json), "--md", str(out_md)]) == 0
    assert json.loads(out_json.read_text())["overall"]["tp"] == 3
    md = out_md.read_text()
    assert "| 2 | 5 | 6 | 3 | 3 | 2 | 0.500 | 0.600 | 0.5455 |" in md
    assert md == capsys.readouterr().out


def test_truth_mismatch_is_an_input_error(case: dict[str, Path], tmp_path: Path) -> None:
    truth = pd.read_parquet(case["truth"])
    truth.loc[truth["ann_id"] == 101, "image_id"] = 20
    bad = tmp_path / "bad.parquet"
    truth.to_parquet(bad)
    assert (
        bd.run_cli(bd.main, ["--gt", str(case["gt"]), "--pred", str(case["pred"]), "--truth", str(bad)]) == 2
    )
