"""Compressed-RLE helpers for scoring: validation without decoding, and IoU matrices.

Conventions: a compressed RLE is pycocotools' ``{"size": [H, W], "counts": bytes}`` (column-major runs,
starting with a run of zeros). IoU is intersection / union of pixel counts; 0.0 when the union is empty.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

_MAX_CHARS_PER_VALUE = 7  # 35 bits: far more than any H*W this project sees, and exact in float64


def rle_run_lengths(counts: bytes) -> np.ndarray:
    """Run lengths (int64) encoded in a pycocotools compressed-RLE ``counts`` string, without decoding pixels.

    Vectorised transcription of pycocotools' ``rleFrString`` (LEB128-like 5-bit groups, sign bit 0x10,
    continuation bit 0x20, and runs from the fourth on stored as a difference to the run two before).
    Raises ``ValueError`` for characters outside ``'0'..'o'``, a truncated last value, or over-long values.
    """
    chars = np.frombuffer(counts, dtype=np.uint8).astype(np.int64) - 48
    if chars.size == 0:
        return np.zeros(0, dtype=np.int64)
    if chars.min() < 0 or chars.max() > 63:
        raise ValueError("RLE counts contain characters outside '0'..'o'")
    more = (chars & 0x20) != 0
    if more[-1]:
        raise ValueError("RLE counts end in the middle of a value")
    ends = ~more
    starts = np.flatnonzero(np.concatenate(([True], ends[:-1])))
    group = np.cumsum(np.concatenate(([0], ends[:-1].astype(np.int64))))
    shift = np.arange(chars.size) - starts[group]
    if shift.max() >= _MAX_CHARS_PER_VALUE:
        raise ValueError("RLE counts contain an over-long value")
    values = np.bincount(group, weights=(chars & 0x1F) * np.exp2(5 * shift)).astype(np.int64)
    last = np.flatnonzero(ends)
    negative = (chars[last] & 0x10) != 0
    values[negative] -= np.left_shift(1, 5 * (shift[last][negative] + 1))
    runs = values.copy()
    runs[1::2] = np.cumsum(values[1::2])
    runs[2::2] = np.cumsum(values[2::2])
    return runs


def check_rle(rle: dict[str, Any]) -> None:
    """Raise ``ValueError`` unless a compressed RLE's runs are non-negative and add up to ``H * W``."""
    height, width = (int(v) for v in rle["size"])
    runs = rle_run_lengths(rle["counts"])
    if runs.size and runs.min() < 0:
        raise ValueError("RLE counts decode to a negative run length")
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


def rle_areas(rles: list[dict[str, Any]]) -> np.ndarray:
    """Pixel count of each RLE mask (int64)."""
    if not rles:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(mask_utils.area(rles), dtype=np.int64).reshape(len(rles))
