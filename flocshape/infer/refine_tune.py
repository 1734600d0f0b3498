"""Refine a saved results list against its frames, and choose the refinement level on labelled frames.

Used by ``infer/tune_refine.py`` (and the study driver): the level, inset and smoothing of ``infer/predict.py
--refine [--refine-inset] [--refine-smooth]`` are chosen on *validation* frames, like the post-processing (``infer/tune.py``).

Conventions: each candidate (the unrefined masks, level ``None``, and every level x inset x smoothing) gets the hackathon
"F1 with IoU" (:func:`flocshape.score.hackathon.hackathon_f1`, the metric the post-processing is tuned for) and
the one-to-one pairs at mask IoU >= 0.5 of ``infer/score.py``'s strict assignment
(:func:`flocshape.score.strict.match_one_to_one`): their count, mean and summed IoU, and the median area ratio.
The selection criterion is the **largest hackathon F1**, ties broken by the **sum of IoU over the pairs**, then
by the earlier row (the unrefined masks come first, so a model whose masks refinement would not improve keeps
them). Until 2026-12 the criterion was the sum of IoU alone (study rows before then were chosen that way).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from flocshape.errors import input_error
from flocshape.infer.protomask import CropMask, rle_from_crop
from flocshape.infer.refine import DEFAULT_SMOOTH_PX, RefineSettings, refine_crops
from flocshape.masks import decode_rle_crop, rle_areas
from flocshape.score.hackathon import hackathon_f1
from flocshape.score.inputs import prepare
from flocshape.score.strict import match_one_to_one

CRITERION = (
    "largest hackathon F1; ties: largest sum of IoU over one-to-one pairs with IoU >= 0.5, then the earlier row; "
    "level None = unrefined"
)


# per frame: the indices of its predictions in the results list, the grey frame, and their decoded masks
FrameInstances = tuple[list[int], np.ndarray, list[CropMask]]


def load_frame_instances(preds: Sequence[dict[str, Any]], frames: dict[int, Path]) -> list[FrameInstances]:
    """Read every frame that has predictions (grey, 8-bit) and decode its masks once, for one or many refinements;
    one-line error naming the frame when it cannot be read."""
    by_image: dict[int, list[int]] = {}
    for k, rec in enumerate(preds):
        by_image.setdefault(int(rec["image_id"]), []).append(k)
    loaded = []
    for image_id, idx in by_image.items():
        path = frames.get(image_id)
        # a missing file is checked first: cv2.imread would print its own warning line before ours
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) if path is not None and path.is_file() else None
        if grey is None:
            raise input_error(path or "--images", "cannot read the frame", f"image id {image_id}")
        crops = []
        for k in idx:
            mc = decode_rle_crop(preds[k]["segmentation"])
            crops.append(CropMask(mc.crop, mc.x0, mc.y0, (mc.height, mc.width)))
        loaded.append((idx, grey, crops))
    return loaded


def refine_loaded(
    preds: Sequence[dict[str, Any]], loaded: Sequence[FrameInstances], settings: RefineSettings
) -> list[dict[str, Any]]:
    """:func:`refine_results` on frames and masks already read by :func:`load_frame_instances`."""
    out = [dict(rec) for rec in preds]
    for idx, grey, crops in loaded:
        for k, crop in zip(idx, refine_crops(grey, crops, settings), strict=True):
            out[k]["segmentation"] = rle_from_crop(crop)
            h, w = crop.mask.shape
            out[k]["bbox"] = [float(crop.x0), float(crop.y0), float(w), float(h)]
    return out


def refine_results(
    preds: Sequence[dict[str, Any]], frames: dict[int, Path], settings: RefineSettings
) -> list[dict[str, Any]]:
    """The results list with every mask refined against its frame (``frames``: image id -> file), same order;
    ``segmentation`` (compressed RLE) and ``bbox`` (the mask's box, ``[x, y, w, h]`` px) change, nothing else."""
    return refine_loaded(preds, load_frame_instances(preds, frames), settings)


def pair_stats(gt: dict[str, Any], preds: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The hackathon F1; pairs at IoU >= 0.5, their mean and summed IoU, and the median predicted / labelled area
    ratio over them."""
    prepared = prepare(gt, list(preds))
    f1 = float(hackathon_f1(prepared)["f1"])
    ious: list[float] = []
    ratios: list[float] = []
    for im in prepared.images:
        if not im.gt_rles or not im.pred_rles:
            continue
        iou = im.iou()
        r, c = match_one_to_one(iou, 0.5)
        ious += list(iou[r, c])
        ratios += list(rle_areas([im.pred_rles[j] for j in c]) / rle_areas([im.gt_rles[i] for i in r]))
    return {
        "hackathon_f1": f1,
        "pairs": len(ious),
        "mean_iou": float(np.mean(ious)) if ious else float("nan"),
        "sum_iou": float(np.sum(ious)),
        "area_ratio": float(np.median(ratios)) if ratios else float("nan"),
    }


def level_table(
    gt: dict[str, Any],
    preds: Sequence[dict[str, Any]],
    frames: dict[int, Path],
    levels: Sequence[float],
    grow_px: int = 2,
    insets_px: Sequence[float] = (0.0,),
    smooths_px: Sequence[float] = (DEFAULT_SMOOTH_PX,),
) -> list[dict[str, Any]]:
    """One row per candidate: the unrefined masks (``level``, ``inset_px`` and ``smooth_px`` None), then every
    level (0-1) x inset (px) x smoothing sigma (px) (:class:`~flocshape.infer.refine.RefineSettings` ``level``,
    ``inset_px``, ``smooth_sigma_px``), in that nesting order, each with :func:`pair_stats`."""
    rows = [{"level": None, "inset_px": None, "smooth_px": None, "grow_px": None, **pair_stats(gt, preds)}]
    loaded = load_frame_instances(preds, frames)  # read and decode once for every candidate
    for level in levels:
        for inset in insets_px:
            for smooth in smooths_px:
                settings = RefineSettings(
                    level=float(level), grow_px=grow_px, inset_px=float(inset), smooth_sigma_px=float(smooth)
                )
                refined = refine_loaded(preds, loaded, settings)
                rows.append(
                    {
                        "level": float(level),
                        "inset_px": float(inset),
                        "smooth_px": float(smooth),
                        "grow_px": grow_px,
                        **pair_stats(gt, refined),
                    }
                )
    return rows


def chosen_refinement(tuning: dict[str, Any]) -> dict[str, Any]:
    """The refinement an ``infer/tune_refine.py --out`` file chose, as ``refine_level`` (None: the unrefined masks
    won), ``refine_inset_px``, ``refine_smooth_px`` and ``refine_grow_px``; a parameter a table was written before
    is its default then (inset 0 px, smoothing ``DEFAULT_SMOOTH_PX``)."""
    inset, smooth = tuning.get("best_inset_px"), tuning.get("best_smooth_px")
    return {
        "refine_level": tuning.get("best_level"),
        "refine_inset_px": 0.0 if inset is None else float(inset),
        "refine_smooth_px": DEFAULT_SMOOTH_PX if smooth is None else float(smooth),
        "refine_grow_px": tuning.get("grow_px"),
    }


def best_row(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The chosen row: largest ``hackathon_f1``, ties by larger ``sum_iou``, then the earlier row (module docstring).

    ``level`` None = keep the masks as predicted; rows without ``hackathon_f1`` (tables written before it was
    recorded) compare by ``sum_iou`` alone."""
    best = max(range(len(rows)), key=lambda i: (rows[i].get("hackathon_f1", 0.0), rows[i]["sum_iou"], -i))
    return rows[best]
