"""Strict instance metrics: one-to-one matching (Hungarian) at an IoU threshold.

At threshold ``t`` a GT and a prediction may be paired only when their mask IoU is ``>= t`` (COCO's rule).
Among such pairings the one with the most pairs is chosen, ties broken by the largest total IoU
(``scipy.optimize.linear_sum_assignment`` on weights ``C + IoU`` with ``C > min(G, P)``). Counts are summed
over images (micro average): ``TP`` = pairs, ``FP`` = predictions left over (also predictions on images that
have no GT), ``FN`` = GT left over. Matching is class-agnostic (the data has one class).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from flocshape.score.inputs import Prepared, as_prepared

COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)


def match_one_to_one(iou: np.ndarray, iou_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Row (GT) and column (prediction) indices of the matched pairs with IoU ``>= iou_threshold``."""
    valid = iou >= iou_threshold
    rows = np.flatnonzero(valid.any(axis=1))
    cols = np.flatnonzero(valid.any(axis=0))
    if rows.size == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    sub = iou[np.ix_(rows, cols)]
    sub_valid = valid[np.ix_(rows, cols)]
    weights = np.where(sub_valid, min(sub.shape) + 1.0 + sub, 0.0)
    r, c = linear_sum_assignment(weights, maximize=True)
    keep = sub_valid[r, c]
    return rows[r[keep]], cols[c[keep]]


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return precision, recall, f1


def counts_at(ious: list[np.ndarray], iou_threshold: float) -> tuple[int, int, int, float]:
    """``(tp, fp, fn, summed IoU of the matched pairs)`` over a list of per-image IoU matrices."""
    tp = fp = fn = 0
    iou_sum = 0.0
    for iou in ious:
        r, c = match_one_to_one(iou, iou_threshold)
        tp += r.size
        fp += iou.shape[1] - r.size
        fn += iou.shape[0] - r.size
        iou_sum += float(iou[r, c].sum())
    return tp, fp, fn, iou_sum


def strict_from_ious(ious: list[np.ndarray], iou_threshold: float = 0.5) -> dict[str, Any]:
    """Strict metrics at ``iou_threshold`` plus their averages over IoU 0.50:0.95 (step 0.05)."""
    tp, fp, fn, iou_sum = counts_at(ious, iou_threshold)
    precision, recall, f1 = _prf(tp, fp, fn)
    per_threshold = []
    for t in COCO_IOU_THRESHOLDS:
        t_tp, t_fp, t_fn, _ = counts_at(ious, float(t))
        p, r, f = _prf(t_tp, t_fp, t_fn)
        per_threshold.append(
            {
                "iou_threshold": round(float(t), 2),
                "tp": t_tp,
                "fp": t_fp,
                "fn": t_fn,
                "precision": p,
                "recall": r,
                "f1": f,
            }
        )
    return {
        "iou_threshold": iou_threshold,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "mean_iou": iou_sum / tp if tp else 0.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision_50_95": float(np.mean([row["precision"] for row in per_threshold])),
        "recall_50_95": float(np.mean([row["recall"] for row in per_threshold])),
        "f1_50_95": float(np.mean([row["f1"] for row in per_threshold])),
        "by_threshold": per_threshold,
    }


def strict_metrics(
    gt_coco: dict[str, Any] | Prepared, preds: list[dict[str, Any]] | None = None, iou_threshold: float = 0.5
) -> dict[str, Any]:
    """Strict one-to-one instance metrics of ``preds`` against ``gt_coco`` (see the module docstring).

    Keys: ``precision``, ``recall``, ``f1``, ``mean_iou`` (mean IoU of matched pairs), ``tp``, ``fp``, ``fn``,
    ``precision_50_95``, ``recall_50_95``, ``f1_50_95`` (means over the 10 COCO thresholds) and
    ``by_threshold`` (one dict per threshold).
    """
    prepared = as_prepared(gt_coco, preds)
    return strict_from_ious([im.iou() for im in prepared.images], iou_threshold)
