"""How training polygons become target masks: Ultralytics' fill, or an exact one (recipe key ``label_fill``).

Ultralytics rasterises every training polygon with ``cv2.fillPoly`` on int32-truncated coordinates
(``ultralytics.data.utils.polygon2mask``), treating integer coordinates as pixel centres. Our labels are exact
pixel-edge outlines (COCO / pycocotools convention: pixel ``(i, j)`` covers ``[j, j+1) x [i, i+1)``), so that fill
adds one column on the right and one row at the bottom of every target mask (+9 % area in the median for ellipses
of 6-80 px; ``tests/test_convert_rings.py``), and the network learns masks that are too wide.

``label_fill: exact`` replaces the fill by pycocotools' polygon rasterisation (the convention the labels were
made in; measured +1 % stray boundary pixels at non-integer scales, none at scale 1) for the whole training run.
The downsampling to the mask-loss resolution that follows is Ultralytics' own, unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import cv2
import numpy as np
from pycocotools import mask as mask_utils

LABEL_FILLS = ("ultralytics", "exact")


def polygon2mask_exact(
    imgsz: tuple[int, int], polygons: list[np.ndarray], color: int = 1, downsample_ratio: int = 1
) -> np.ndarray:
    """Drop-in for ``ultralytics.data.utils.polygon2mask`` with pycocotools' (pixel-centre) polygon fill.

    ``polygons``: flat ``[x0, y0, x1, y1, ...]`` arrays in pixel coordinates of an ``imgsz = (H, W)`` image.
    Returns the ``(H // downsample_ratio, W // downsample_ratio)`` uint8 mask, as Ultralytics does.
    """
    h, w = int(imgsz[0]), int(imgsz[1])
    mask = np.zeros((h, w), dtype=np.uint8)
    rings = [np.asarray(p, dtype=np.float64).reshape(-1) for p in polygons]
    rings = [r for r in rings if r.size >= 6]
    if rings:
        rle = mask_utils.merge(mask_utils.frPyObjects([r.tolist() for r in rings], h, w))
        mask[mask_utils.decode(rle).astype(bool)] = color
    nh, nw = h // downsample_ratio, w // downsample_ratio
    return cv2.resize(mask, (nw, nh))


@contextlib.contextmanager
def label_fill(kind: str) -> Iterator[None]:
    """Within the block, Ultralytics fills training polygons the ``kind`` way (``ultralytics`` = unchanged)."""
    if kind not in LABEL_FILLS:
        raise ValueError(f"label_fill must be one of {LABEL_FILLS}, got {kind!r}")
    if kind == "ultralytics":
        yield
        return
    import ultralytics.data.utils as data_utils

    original = data_utils.polygon2mask
    data_utils.polygon2mask = polygon2mask_exact
    try:
        yield
    finally:
        data_utils.polygon2mask = original
