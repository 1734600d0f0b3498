"""Sample frames: pick frames, match submission masks to particle-table rows, and build coloured outlines.

Matching convention: ``instance_id`` of a prediction is its running index within its image (docs/shape.md).
The submission records of one image, in file order, are matched to rows by ``instance_id`` (0-based, then
1-based) when every matched row has the record's pixel area; otherwise each record is matched to the row with
the nearest centroid (mask centroid vs ``centroid_x_px``/``centroid_y_px``). Unmatched records get NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
from pycocotools import mask as mask_utils

from flocshape.masks import decode_segmentation
from flocshape.report.descriptors import Descriptor
from flocshape.report.load import RunData
from flocshape.report.plots import Outline


def records_by_image(submission: Sequence[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Submission records grouped by ``image_id``, file order kept."""
    out: dict[int, list[dict[str, Any]]] = {}
    for rec in submission:
        out.setdefault(int(rec["image_id"]), []).append(rec)
    return out


def pick_frames(run: RunData, n_frames: int) -> list[int]:
    """Up to ``n_frames`` image ids with predictions, evenly spaced over the sorted ids; frames whose image is
    on disk are preferred."""
    with_masks = sorted(records_by_image(run.submission or []))
    on_disk = [i for i in with_masks if run.frame_files.get(i) is not None]
    pool = on_disk or with_masks
    if len(pool) <= n_frames:
        return pool
    picks = np.linspace(0, len(pool) - 1, n_frames).round().astype(int)
    return [pool[i] for i in picks]


def _rle(rec: dict[str, Any]) -> dict[str, Any]:
    seg = rec["segmentation"]
    counts = seg["counts"]
    return {
        "size": list(seg["size"]),
        "counts": counts.encode("ascii") if isinstance(counts, str) else counts,
    }


def match_rows(records: Sequence[dict[str, Any]], rows: pd.DataFrame) -> list[int | None]:
    """For each record, the index label of its row in ``rows`` (one image's particles) or ``None``."""
    if rows.empty or not records:
        return [None] * len(records)
    areas = [int(mask_utils.area(_rle(r))) for r in records]
    if "instance_id" in rows.columns:
        by_id = {int(i): idx for idx, i in zip(rows.index, rows["instance_id"], strict=True)}
        for offset in (0, 1):
            idxs = [by_id.get(k + offset) for k in range(len(records))]
            if all(i is not None for i in idxs) and all(
                int(rows.at[i, "area_px"]) == a for i, a in zip(idxs, areas, strict=True)
            ):
                return idxs
    if not {"centroid_x_px", "centroid_y_px"} <= set(rows.columns):
        return [None] * len(records)
    cx = rows["centroid_x_px"].to_numpy(float)
    cy = rows["centroid_y_px"].to_numpy(float)
    out: list[int | None] = []
    for rec, area in zip(records, areas, strict=True):
        if area == 0:
            out.append(None)
            continue
        ys, xs = np.nonzero(mask_utils.decode(_rle(rec)))
        dist = np.hypot(cx - xs.mean(), cy - ys.mean())
        best = int(np.argmin(dist))
        out.append(rows.index[best] if dist[best] <= max(2.0, 0.5 * np.sqrt(area)) else None)
    return out


def mask_outlines(mask: np.ndarray) -> list[np.ndarray]:
    """Closed outer outlines of a bool mask as (K, 2) float arrays of (x, y) pixel-centre coordinates."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [np.vstack([c[:, 0, :], c[:1, 0, :]]).astype(float) for c in contours if len(c) >= 1]


def read_grey(path: Path | None, height: int, width: int) -> tuple[np.ndarray, bool]:
    """The frame as a 2-D uint8 grey array, and whether it was found; a black canvas of the mask size if not."""
    if path is not None:
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if img is not None and img.shape == (height, width):
            return img, True
    return np.zeros((height, width), np.uint8), False


def frame_outlines(
    run: RunData, image_id: int, descriptor: Descriptor, um_per_px: float | None
) -> tuple[list[Outline], tuple[int, int]]:
    """Outlines of every prediction in frame ``image_id`` with its descriptor value; and the frame size (H, W)."""
    records = records_by_image(run.submission or []).get(image_id, [])
    rows = run.particles[run.particles["image_id"] == image_id]
    matched = match_rows(records, rows)
    values = (
        descriptor.values(rows, um_per_px)
        if descriptor.column in rows.columns
        else pd.Series(np.nan, index=rows.index)
    )
    outlines: list[Outline] = []
    height, width = (int(v) for v in records[0]["segmentation"]["size"]) if records else (1, 1)
    for rec, idx in zip(records, matched, strict=True):
        mask = decode_segmentation(rec["segmentation"], height, width)
        value = float(values.at[idx]) if idx is not None else float("nan")
        excluded = None
        if idx is not None and descriptor.group in ("size", "shape") and bool(rows.at[idx, "touches_border"]):
            excluded = "touches border"
        elif idx is not None and descriptor.group == "shape" and bool(rows.at[idx, "too_small"]):
            excluded = "too small"
        outlines.extend(Outline(xy, value, excluded) for xy in mask_outlines(mask))
    return outlines, (height, width)
