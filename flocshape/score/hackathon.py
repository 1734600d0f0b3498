"""The 2022 hackathon's "F1 with IoU", exactly as the organisers computed it (quirks included).

Per image, with ``M`` the mask-IoU matrix (rows = ground truth, columns = predictions):

1. each prediction is assigned to the GT row(s) where its column is maximal; all other entries of the column
   become 0 (ties keep every tied row);
2. each GT row's best remaining IoU ``b``; a GT with ``b > 0`` is matched (there is NO IoU threshold) and adds
   ``b`` to ``SumIoU``;
3. ``FP = sum over GT rows of max(0, k - 1)`` where ``k`` = number of predictions assigned to that row with
   IoU ``> th`` (duplicates cost a full unit each; predictions touching no GT cost nothing);
4. ``FN`` = unmatched GT; an image without predictions contributes all its GT to ``FN``.

Over all images: ``precision = SumIoU / (TP + FP)``, ``recall = SumIoU / (TP + FN)``,
``F1 = 2PR / (P + R) = 2 SumIoU / (N_gt + TP + FP)``; a zero denominator gives 0.
Predictions for images that are not in the ground truth are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from flocshape.score.inputs import Prepared, as_prepared


@dataclass(frozen=True)
class HackathonCounts:
    """Summed IoU of matched GT (dimensionless) and the TP / FP / FN instance counts."""

    sum_iou: float
    tp: int
    fp: int
    fn: int

    def __add__(self, other: HackathonCounts) -> HackathonCounts:
        return HackathonCounts(
            self.sum_iou + other.sum_iou, self.tp + other.tp, self.fp + other.fp, self.fn + other.fn
        )


ZERO = HackathonCounts(0.0, 0, 0, 0)


def image_counts(iou: np.ndarray, th: float = 0.1) -> HackathonCounts:
    """Hackathon counts of one image from its GT x prediction IoU matrix (see the module docstring)."""
    n_gt, n_pred = iou.shape
    if n_gt == 0:
        return ZERO
    if n_pred == 0:
        return HackathonCounts(0.0, 0, 0, n_gt)
    assigned = np.where(iou == iou.max(axis=0, keepdims=True), iou, 0.0)
    best = assigned.max(axis=1)
    matched = best > 0
    tp = int(np.count_nonzero(matched))
    dup = np.count_nonzero(assigned > th, axis=1)
    fp = int(np.maximum(dup - 1, 0).sum())
    return HackathonCounts(float(best[matched].sum()), tp, fp, n_gt - tp)


def summarize(counts: HackathonCounts, th: float) -> dict[str, Any]:
    """Precision, recall and F1 (all in [0, 1]) from summed counts; a zero denominator gives 0.0."""
    n_gt = counts.tp + counts.fn
    denom_p = counts.tp + counts.fp
    precision = counts.sum_iou / denom_p if denom_p else 0.0
    recall = counts.sum_iou / n_gt if n_gt else 0.0
    denom_f = n_gt + counts.tp + counts.fp
    f1 = 2.0 * counts.sum_iou / denom_f if denom_f else 0.0
    return {
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "sum_iou": counts.sum_iou,
        "tp": counts.tp,
        "fp": counts.fp,
        "fn": counts.fn,
        "n_gt": n_gt,
        "th": th,
    }


def hackathon_counts(prepared: Prepared, th: float = 0.1) -> HackathonCounts:
    """Counts summed over all ground-truth images (in ground-truth order)."""
    total = ZERO
    for im in prepared.images:
        total = total + image_counts(im.iou(), th)
    return total


def hackathon_f1(
    gt_coco: dict[str, Any] | Prepared, preds: list[dict[str, Any]] | None = None, th: float = 0.1
) -> dict[str, Any]:
    """The hackathon "F1 with IoU" of ``preds`` (COCO results list) against ``gt_coco`` (COCO instances).

    Returns ``f1``, ``precision``, ``recall``, ``sum_iou``, ``tp``, ``fp``, ``fn``, ``n_gt`` and ``th``.
    ``gt_coco`` may also be a :class:`~flocshape.score.inputs.Prepared` (then ``preds`` is not used).
    """
    prepared = as_prepared(gt_coco, preds)
    out = summarize(hackathon_counts(prepared, th), th)
    out["n_pred"] = prepared.n_pred
    return out
