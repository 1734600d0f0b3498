"""COCO mask AP with pycocotools' ``COCOeval(iouType="segm")``, fixed for dense frames.

Two pycocotools pitfalls are avoided here:

* ``summarize()`` always reports AP at ``maxDets=100`` whatever ``params.maxDets`` says, so the figures are
  computed from ``eval["precision"]`` at the index of the raised ``max_dets`` (default 1000);
* ``COCO.loadRes`` takes a result's ``area`` from its ``bbox`` when one is given (which moves predictions
  between the small/medium/large ranges); the results set is therefore built here with ``area`` = mask
  pixel count and ``bbox`` from the mask.

A figure is ``None`` when it is undefined (no ground truth in that area range); with ground truth but no
predictions it is 0.0. pycocotools' prints are silenced. Predictions on images not in the ground truth are
ignored; categories follow the COCO rules (a prediction counts only for its own ``category_id``).
"""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from flocshape.masks import rle_areas
from flocshape.score.inputs import Prepared, as_prepared

AREA_RANGES = ("all", "small", "medium", "large")


def _text_rle(rle: dict[str, Any]) -> dict[str, Any]:
    counts = rle["counts"]
    return {
        "size": list(rle["size"]),
        "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
    }


def _coco_from(dataset: dict[str, Any]) -> COCO:
    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _categories(prepared: Prepared) -> list[dict[str, Any]]:
    cats = prepared.gt.get("categories")
    if isinstance(cats, list) and cats:
        return [{"id": int(c["id"]), "name": str(c.get("name", c["id"]))} for c in cats]
    ids = sorted({int(a.get("category_id", 1)) for a in prepared.gt["annotations"]} or {1})
    return [{"id": i, "name": str(i)} for i in ids]


def _gt_dataset(prepared: Prepared, categories: list[dict[str, Any]]) -> dict[str, Any]:
    images, anns = [], []
    default_cat = categories[0]["id"]
    for im in prepared.images:
        images.append({"id": im.image_id, "height": im.height, "width": im.width})
        areas = rle_areas(im.gt_rles)
        for rle, ann_index, area in zip(im.gt_rles, im.gt_ann_indices, areas, strict=True):
            src = prepared.gt["annotations"][ann_index]
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": im.image_id,
                    "category_id": int(src.get("category_id", default_cat)),
                    "segmentation": rle,
                    "area": float(src["area"]) if "area" in src else float(area),
                    "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                    "iscrowd": int(src.get("iscrowd", 0)),
                }
            )
    return {"images": images, "categories": copy.deepcopy(categories), "annotations": anns}


def _results_dataset(prepared: Prepared, gt_dataset: dict[str, Any]) -> dict[str, Any]:
    anns = []
    for im in prepared.images:
        areas = rle_areas(im.pred_rles)
        for rle, score, pred_index, area in zip(
            im.pred_rles, im.pred_scores, im.pred_indices, areas, strict=True
        ):
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": im.image_id,
                    "category_id": prepared.pred_category_ids[pred_index],
                    "segmentation": rle,
                    "score": score,
                    "area": float(area),
                    "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                    "iscrowd": 0,
                }
            )
    return {"images": gt_dataset["images"], "categories": gt_dataset["categories"], "annotations": anns}


def _mean_valid(values: np.ndarray) -> float | None:
    valid = values[values > -1]
    return float(valid.mean()) if valid.size else None


def coco_mask_ap(
    gt_coco: dict[str, Any] | Prepared, preds: list[dict[str, Any]] | None = None, max_dets: int = 1000
) -> dict[str, Any]:
    """COCO mask AP (IoU 0.50:0.95), AP50, AP75 and APs/APm/APl at ``max_dets`` detections per image.

    Returns those six keys (``float`` in [0, 1], or ``None`` when undefined) plus ``max_dets``.
    """
    prepared = as_prepared(gt_coco, preds)
    categories = _categories(prepared)
    gt_dataset = _gt_dataset(prepared, categories)
    coco_gt = _coco_from(gt_dataset)
    coco_dt = _coco_from(_results_dataset(prepared, gt_dataset))
    evaluator = COCOeval(coco_gt, coco_dt, iouType="segm")
    evaluator.params.maxDets = sorted({1, 100, int(max_dets)})
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
        evaluator.accumulate()
    precision = evaluator.eval["precision"]  # [T, R, K, A, M]
    m = evaluator.params.maxDets.index(int(max_dets))
    thresholds = evaluator.params.iouThrs
    t50 = int(np.argmin(np.abs(thresholds - 0.5)))
    t75 = int(np.argmin(np.abs(thresholds - 0.75)))
    out: dict[str, Any] = {
        "AP": _mean_valid(precision[:, :, :, 0, m]),
        "AP50": _mean_valid(precision[t50, :, :, 0, m]),
        "AP75": _mean_valid(precision[t75, :, :, 0, m]),
        "APs": _mean_valid(precision[:, :, :, 1, m]),
        "APm": _mean_valid(precision[:, :, :, 2, m]),
        "APl": _mean_valid(precision[:, :, :, 3, m]),
        "max_dets": int(max_dets),
    }
    return out
