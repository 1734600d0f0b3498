"""Strict one-to-one metrics and COCO mask AP (pycocotools) on cases with known answers."""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from flocshape.score import score_all
from flocshape.score.cocoeval import coco_mask_ap
from flocshape.score.strict import match_one_to_one, strict_metrics
from flocshape.score.synth import synthetic_scoring_set


def test_hungarian_prefers_more_pairs_then_more_iou() -> None:
    iou = np.array([[0.9, 0.6], [0.7, 0.0]])  # greedy on 0.9 would leave GT 1 unmatched
    rows, cols = match_one_to_one(iou, 0.5)
    assert sorted(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 1), (1, 0)]
    rows, _ = match_one_to_one(iou, 0.95)
    assert rows.size == 0
    rows, cols = match_one_to_one(np.array([[0.5, 0.49]]), 0.5)  # IoU >= t counts
    assert (rows.tolist(), cols.tolist()) == ([0], [0])


def test_strict_metrics_counts_and_averages() -> None:
    gt, preds = synthetic_scoring_set(seed=5, n_images=2, background=2)
    out = strict_metrics(gt, preds)
    assert out["tp"] + out["fn"] == len(gt["annotations"])
    assert out["tp"] + out["fp"] == len(preds)
    assert out["fp"] >= 4  # the background blobs
    assert out["f1"] == pytest.approx(2 * out["tp"] / (2 * out["tp"] + out["fp"] + out["fn"]))
    assert 0.5 <= out["mean_iou"] <= 1.0
    f1s = [row["f1"] for row in out["by_threshold"]]
    assert f1s == sorted(f1s, reverse=True) and out["f1_50_95"] == pytest.approx(np.mean(f1s))
    perfect = [{**a, "score": 1.0} for a in gt["annotations"]]
    assert strict_metrics(gt, perfect)["f1_50_95"] == 1.0


def _pycocotools_stats(gt: dict, preds: list[dict]) -> np.ndarray:
    """The textbook pycocotools path (loadRes without bbox, default maxDets, summarize)."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes([{k: v for k, v in p.items() if k != "bbox"} for p in copy.deepcopy(preds)])
        ev = COCOeval(coco_gt, coco_dt, iouType="segm")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def test_coco_ap_equals_pycocotools_summarize_when_under_100_detections() -> None:
    gt, preds = synthetic_scoring_set(seed=6, n_images=3, n_gt=12, duplicates=2, background=2)
    for a in gt["annotations"]:  # COCO ground truth carries areas
        a["area"] = float(mask_utils.area(a["segmentation"]))
    stats = _pycocotools_stats(gt, preds)
    ours = coco_mask_ap(gt, preds, max_dets=100)
    for key, i in (("AP", 0), ("AP50", 1), ("AP75", 2), ("APs", 3), ("APm", 4), ("APl", 5)):
        expected = None if stats[i] == -1 else stats[i]
        assert ours[key] == (None if expected is None else pytest.approx(expected, abs=1e-12)), key


def test_coco_ap_counts_beyond_100_detections_and_ignores_the_bbox() -> None:
    gt, preds = synthetic_scoring_set(seed=7, n_images=1, height=400, width=400, n_gt=150, miss_fraction=0.0)
    # 150 near-perfect predictions: with only the top 100 per image, recall cannot pass 100/150
    raised = coco_mask_ap(gt, preds, max_dets=1000)
    capped = coco_mask_ap(gt, preds, max_dets=100)
    assert raised["AP50"] > 0.95 and capped["AP50"] < 0.75
    with_bad_boxes = [
        {**p, "bbox": [0.0, 0.0, 400.0, 400.0]} for p in preds
    ]  # loadRes would call them "large"
    assert coco_mask_ap(gt, with_bad_boxes) == raised


def test_perfect_and_empty_predictions() -> None:
    gt, _ = synthetic_scoring_set(seed=8, n_images=2)
    perfect = [{**a, "score": 1.0} for a in gt["annotations"]]
    res = score_all(gt, perfect)
    assert res["hackathon_f1"]["f1"] == 1.0 and res["strict"]["f1"] == 1.0 and res["coco"]["AP"] == 1.0
    empty = score_all(gt, [])
    assert empty["hackathon_f1"]["f1"] == 0.0 and empty["strict"]["f1"] == 0.0 and empty["coco"]["AP"] == 0.0
    no_gt = {"images": gt["images"], "annotations": [], "categories": gt["categories"]}
    res = score_all(no_gt, perfect)  # predictions, but no GT anywhere
    assert (
        res["hackathon_f1"]["f1"] == 0.0 and res["strict"]["fp"] == len(perfect) and res["coco"]["AP"] is None
    )
