"""Compressed-RLE helpers for scoring: validation without decoding, and IoU matrices.

Conventions: a compressed RLE is pycocotools' ``{"size": [H, W], "counts": bytes}`` (column-major runs,
starting with a run of zeros). IoU is intersection / union of pixel counts; 0.0 when the union is empty.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from flocshape.masks import rle_string_to_counts


def check_rle(rle: dict[str, Any]) -> None:
    """Raise ``ValueError`` unless a compressed RLE's runs are non-negative and add up to ``H * W``."""
    height, width = (int(v) for v in rle["size"])
    runs = rle_string_to_counts(rle["counts"])
    if int(runs.sum()) != height * width:
        raise ValueError(f"RLE counts cover {int(runs.sum())} pixels, not H*W = {height * width}")


def iou_matrix(gt_rles: list[dict[str, Any]], pred_rles: list[dict[str, Any]]) -> np.ndarray:
    """Mask IoU matrix of shape ``(len(gt_rles), len(pred_rles))`` (rows = ground truth, columns = predictions).

    Computed by pycocotools on the RLEs (no pixel decoding); all masks must have the same size.
    """
    if not gt_rles or not pred_rles:
        return np.zeros((len(gt_rles), len(pred_rles)), dtype=np.float64)
    ious = mask_utils.iou(gt_rles, pred_rles, [0] * len(pred_rles))
    return np.asarray(ious, dtype=np.float64).reshape(len(gt_rles), len(pred_rles))
