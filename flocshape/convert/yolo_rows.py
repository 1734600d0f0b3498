"""One COCO instance -> one YOLO-seg label row, and the fidelity of the rows as written.

Each instance becomes one label row ``class x1 y1 ... xn yn`` (coordinates divided by the image width and
height, :data:`COORD_DECIMALS` decimals). The row's single ring is chosen for fidelity (see
:mod:`flocshape.convert.rings`):

1. a polygon annotation is kept as given (parts bridged, coordinates clipped to the image) when its
   rasterisation equals the source mask exactly (``method = "polygon"``);
2. otherwise the pixel-edge outline of the source mask, holes and parts bridged (``"pixel-edge"``),
   exact by construction, simplified only above the vertex budget (``"pixel-edge-simplified"``).

Fidelity is measured per written row: IoU between the source mask and pycocotools' rasterisation of the
coordinates *as written* (after rounding), summarised by :func:`fidelity_summary`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from flocshape.convert.coco import check_segmentation
from flocshape.convert.rings import ULTRALYTICS_MAX_VERTICES, bridge_all, crop_to_ring, ring_to_rle
from flocshape.masks import decode_rle_crop, to_compressed_rle

COORD_DECIMALS = 6


@dataclass
class InstanceRing:
    """One converted instance: ``ring`` (N, 2) pixel coordinates as written (rounded), and its fidelity."""

    ring: np.ndarray
    iou: float
    method: str
    tolerance_px: float
    area_px: int


def polygon_outside_image(seg: Any, height: int, width: int) -> bool:
    """True when any polygon vertex lies outside ``[0, width] x [0, height]``."""
    if not isinstance(seg, list):
        return False
    xy = np.concatenate([np.asarray(p, dtype=np.float64) for p in seg]).reshape(-1, 2)
    return bool((xy < 0).any() or (xy[:, 0] > width).any() or (xy[:, 1] > height).any())


def round_ring(ring: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``(normalised, pixel)``: the ring normalised and rounded as written, and that rounding back in pixels."""
    scale = np.array([width, height], dtype=np.float64)
    normalised = np.round(np.asarray(ring, dtype=np.float64) / scale, COORD_DECIMALS)
    return normalised, normalised * scale


def ring_iou(ring_px: np.ndarray, source_rle: dict[str, Any], height: int, width: int) -> float:
    """IoU between pycocotools' rasterisation of a ring and a source RLE of the same size."""
    return float(mask_utils.iou([ring_to_rle(ring_px, height, width)], [source_rle], [0])[0][0])


def convert_instance(
    seg: Any,
    height: int,
    width: int,
    max_vertices: int | None = ULTRALYTICS_MAX_VERTICES,
    keep_source_polygons: bool = True,
) -> InstanceRing | None:
    """Convert one COCO segmentation to the most faithful single ring; ``None`` for a zero-area instance.

    Raises ``ValueError`` for a malformed segmentation (the caller adds file and record).
    """
    kind = check_segmentation(seg, height, width)
    rle = to_compressed_rle(seg, height, width)
    crop, x0, y0, _, _ = decode_rle_crop(rle)
    area = int(crop.sum())
    if area == 0:
        return None
    if kind == "polygon" and keep_source_polygons:
        parts = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in seg]
        parts = [np.clip(p, 0, [width, height]) for p in parts]
        candidate = bridge_all(parts)
        if not max_vertices or len(candidate) <= max_vertices:
            _, written = round_ring(candidate, height, width)
            iou = ring_iou(written, rle, height, width)
            if iou == 1.0:
                return InstanceRing(written, iou, "polygon", 0.0, area)
    ring, tol = crop_to_ring(crop, x0, y0, max_vertices)
    _, written = round_ring(ring, height, width)
    method = "pixel-edge" if tol == 0.0 else "pixel-edge-simplified"
    return InstanceRing(written, ring_iou(written, rle, height, width), method, tol, area)


def format_row(class_index: int, ring_px: np.ndarray, height: int, width: int) -> str:
    """One YOLO-seg label row: class then normalised x y pairs, ``COORD_DECIMALS`` decimals."""
    normalised, _ = round_ring(ring_px, height, width)
    values = normalised.reshape(-1).tolist()
    return f"{class_index} " + (f"%.{COORD_DECIMALS}f " * len(values) % tuple(values)).rstrip()


def fidelity_summary(rows: Sequence[dict[str, Any]], worst: int = 10) -> dict[str, Any]:
    """Mean, 1st percentile and minimum IoU over written rows, method counts and the worst rows."""
    if not rows:
        return {"instances": 0}
    ious = np.array([r["iou"] for r in rows], dtype=np.float64)
    order = np.argsort(ious, kind="stable")[:worst]
    return {
        "rasteriser": "pycocotools polygon fill of the written (rounded) coordinates vs the source mask",
        "instances": int(ious.size),
        "iou_mean": float(ious.mean()),
        "iou_p1": float(np.percentile(ious, 1)),
        "iou_min": float(ious.min()),
        "exact": int((ious == 1.0).sum()),
        "below_0_99": int((ious < 0.99).sum()),
        "methods": dict(Counter(r["method"] for r in rows)),
        "max_vertices_written": int(max(r["vertices"] for r in rows)),
        "worst": [rows[int(i)] for i in order if ious[int(i)] < 1.0],
    }
