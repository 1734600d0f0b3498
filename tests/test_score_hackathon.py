"""The hackathon "F1 with IoU": a loop-by-loop transcription of the organisers' algorithm, and checks that
the fast version (one pycocotools IoU matrix per image) agrees with it to 1e-12 on thousands of random cases.

The transcription, :func:`flocshape.testing.reference_hackathon_f1`, is also timed by ``benchmarks/bench_score.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from flocshape.masks import encode_rle
from flocshape.score.hackathon import hackathon_f1
from flocshape.testing import reference_hackathon_f1

# pycocotools 2.0.11 decode() under numpy 2 warns once per call; irrelevant here.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _random_mask(rng: np.random.Generator, h: int, w: int, pool: list[np.ndarray]) -> np.ndarray:
    kind = rng.integers(6)
    if kind == 0 and pool:  # exact copy: ties in IoU
        return pool[rng.integers(len(pool))].copy()
    if kind == 1:
        return np.zeros((h, w), bool)
    if kind == 2:  # rectangle
        y0, x0 = rng.integers(h), rng.integers(w)
        m = np.zeros((h, w), bool)
        m[y0 : y0 + rng.integers(1, h + 1), x0 : x0 + rng.integers(1, w + 1)] = True
        return m
    if kind == 3 and pool:  # a perturbed copy
        m = pool[rng.integers(len(pool))].copy()
        flips = rng.random((h, w)) < 0.15
        return m ^ flips
    return rng.random((h, w)) < rng.uniform(0.05, 0.6)


def random_case(rng: np.random.Generator) -> tuple[dict[str, Any], list[dict[str, Any]], float]:
    """A small random ground truth + predictions set with ties, empty masks and images without predictions."""
    n_images = int(rng.integers(0, 4))
    images, anns, preds = [], [], []
    for k in range(n_images):
        image_id = int(rng.integers(1000)) * 10 + k
        h, w = int(rng.integers(1, 7)), int(rng.integers(1, 7))
        images.append({"id": image_id, "height": h, "width": w})
        pool: list[np.ndarray] = []
        for _ in range(int(rng.integers(0, 5))):
            m = _random_mask(rng, h, w, pool)
            pool.append(m)
            anns.append(
                {"id": len(anns) + 1, "image_id": image_id, "category_id": 1, "segmentation": encode_rle(m)}
            )
        n_pred = 0 if rng.random() < 0.2 else int(rng.integers(0, 7))
        for _ in range(n_pred):
            m = _random_mask(rng, h, w, pool)
            pool.append(m)
            preds.append(
                {
                    "image_id": image_id,
                    "category_id": 1,
                    "score": float(rng.random()),
                    "segmentation": encode_rle(m),
                }
            )
    if rng.random() < 0.2:  # a prediction for an image that is not in the ground truth
        preds.append(
            {
                "image_id": -5,
                "category_id": 1,
                "score": 0.5,
                "segmentation": encode_rle(np.ones((3, 3), bool)),
            }
        )
    rng.shuffle(preds)
    th = float(rng.choice([0.1, 0.0, 0.5, rng.random()]))
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "Normal"}]}, preds, th


def test_fast_version_equals_transcription_on_random_cases() -> None:
    rng = np.random.default_rng(20220520)
    n_nonzero = 0
    for _ in range(2500):
        gt, preds, th = random_case(rng)
        ref = reference_hackathon_f1(gt, preds, th)
        fast = hackathon_f1(gt, preds, th)
        for key in ("tp", "fp", "fn"):
            assert fast[key] == ref[key], (key, gt, preds, th)
        for key in ("f1", "precision", "recall", "sum_iou"):
            assert fast[key] == pytest.approx(ref[key], abs=1e-12, rel=0), (key, gt, preds, th)
        n_nonzero += ref["fp"] > 0 and ref["tp"] > 0
    assert n_nonzero > 100  # the random cases really exercise duplicates


def _line(pixels: list[int], width: int = 6) -> dict[str, Any]:
    m = np.zeros((1, width), bool)
    m[0, pixels] = True
    return encode_rle(m)


def _case(
    gt_pixels: list[list[int]], pred_pixels: list[list[int]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    gt = {
        "images": [{"id": 7, "height": 1, "width": 6}],
        "annotations": [
            {"id": i + 1, "image_id": 7, "segmentation": _line(p)} for i, p in enumerate(gt_pixels)
        ],
        "categories": [{"id": 1, "name": "Normal"}],
    }
    preds = [{"image_id": 7, "category_id": 1, "score": 0.5, "segmentation": _line(p)} for p in pred_pixels]
    return gt, preds


def test_tied_prediction_matches_both_gt() -> None:
    gt, preds = _case([[0, 1], [2, 3]], [[1, 2]])  # IoU 1/3 with each GT: kept on both rows
    out = hackathon_f1(gt, preds)
    assert (out["tp"], out["fp"], out["fn"]) == (2, 0, 0)
    assert out["sum_iou"] == pytest.approx(2 / 3)
    assert out["f1"] == pytest.approx(2 * (2 / 3) / (2 + 2 + 0))


def test_duplicate_costs_a_full_false_positive_and_background_costs_nothing() -> None:
    gt, preds = _case([[0, 1]], [[0, 1], [0, 1, 2]])  # IoU 1 and 2/3, both assigned to the one GT
    out = hackathon_f1(gt, preds)
    assert (out["tp"], out["fp"], out["fn"], out["sum_iou"]) == (1, 1, 0, 1.0)
    assert out["f1"] == pytest.approx(2 / 3)
    gt, preds = _case([[0, 1]], [[0, 1], [4, 5]])  # the second prediction touches no GT
    assert hackathon_f1(gt, preds)["f1"] == 1.0


def test_low_iou_still_matches_and_th_only_limits_duplicates() -> None:
    gt, preds = _case([[0, 1, 2, 3, 4]], [[0], [1]])  # two predictions with IoU 0.2 each
    assert hackathon_f1(gt, preds, th=0.1)["fp"] == 1
    out = hackathon_f1(gt, preds, th=0.2)  # IoU must be > th to count as a duplicate
    assert (out["tp"], out["fp"], out["sum_iou"]) == (1, 0, 0.2)


def test_empty_inputs_give_zero() -> None:
    gt, _ = _case([[0, 1]], [])
    assert hackathon_f1(gt, [])["f1"] == 0.0
    assert hackathon_f1({"images": [], "annotations": []}, [])["f1"] == 0.0
    gt, preds = _case([], [[0, 1]])  # predictions on an image without GT
    out = hackathon_f1(gt, preds)
    assert (out["f1"], out["tp"], out["fp"], out["fn"]) == (0.0, 0, 0, 0)
