"""Scoring of instance-segmentation predictions against COCO ground truth, and post-processing for it.

* :func:`flocshape.score.hackathon.hackathon_f1`: the 2022 hackathon's "F1 with IoU" (quirks included);
* :func:`flocshape.score.strict.strict_metrics`: one-to-one (Hungarian) matching at IoU >= 0.5 and 0.5:0.95;
* :func:`flocshape.score.cocoeval.coco_mask_ap`: COCO mask AP with pycocotools at raised ``maxDets``;
* :func:`score_all`: all three on one decoded-once input (the JSON of ``infer/score.py``);
* :mod:`flocshape.score.postprocess`: ``filter_predictions`` and the threshold ``sweep``.
"""

from __future__ import annotations

from typing import Any

from flocshape.score.cocoeval import coco_mask_ap
from flocshape.score.hackathon import hackathon_f1
from flocshape.score.inputs import Prepared, as_prepared, prepare
from flocshape.score.strict import strict_metrics

__all__ = ["coco_mask_ap", "hackathon_f1", "prepare", "score_all", "strict_metrics"]


def score_all(
    gt_coco: dict[str, Any] | Prepared,
    preds: list[dict[str, Any]] | None = None,
    th: float = 0.1,
    max_dets: int = 1000,
) -> dict[str, Any]:
    """All metrics: ``{"hackathon_f1": {...}, "strict": {...}, "coco": {...}, "counts": {...}}``.

    ``hackathon_f1`` holds ``f1``, ``precision``, ``recall``, ``sum_iou``, ``tp``, ``fp``, ``fn``;
    ``strict`` and ``coco`` are the dicts of :func:`strict_metrics` and :func:`coco_mask_ap`.
    """
    prepared = as_prepared(gt_coco, preds)
    return {
        "hackathon_f1": hackathon_f1(prepared, th=th),
        "strict": strict_metrics(prepared),
        "coco": coco_mask_ap(prepared, max_dets=max_dets),
        "counts": {
            "images": len(prepared.images),
            "gt_instances": prepared.n_gt,
            "predictions": prepared.n_pred,
            "predictions_ignored": prepared.n_pred_ignored,
        },
    }
