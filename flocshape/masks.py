"""Instance masks and COCO segmentations: decoding and encoding with pycocotools.

Conventions
-----------
* A mask is a 2-D ``bool`` (or 0/1 ``uint8``) array of shape ``(H, W)``, row = y, column = x.
* COCO polygons are flat ``[x0, y0, x1, y1, ...]`` lists in pixel coordinates where the pixel (i, j)
  covers ``[j, j+1) x [i, i+1)``; pycocotools rasterises them with that convention.
* Compressed RLE is ``{"size": [H, W], "counts": str}`` (column-major, pycocotools' encoding); an
  uncompressed RLE has ``counts`` as a list of run lengths. ``bytes`` counts are accepted and decoded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pycocotools import mask as mask_utils


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """Encode a 2-D mask as compressed RLE with ``counts`` as a ``str`` (JSON-ready)."""
    m = np.asfortranarray(np.asarray(mask, dtype=np.uint8))
    rle = mask_utils.encode(m)
    counts = rle["counts"]
    return {
        "size": [int(rle["size"][0]), int(rle["size"][1])],
        "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
    }


def to_compressed_rle(segmentation: Any, height: int, width: int) -> dict[str, Any]:
    """Any COCO segmentation (polygons, uncompressed or compressed RLE) as one compressed RLE (pycocotools form).

    Multi-part polygons are merged into one RLE (union). ``counts`` may be ``bytes`` in the result.
    Raises ``ValueError`` for a malformed segmentation; the caller names the file and record.
    """
    if isinstance(segmentation, list):
        polys = [list(map(float, p)) for p in segmentation]
        if not polys:
            raise ValueError("empty polygon list")
        for p in polys:
            if len(p) % 2:
                raise ValueError(f"polygon with an odd coordinate count ({len(p)})")
            if len(p) < 6:
                raise ValueError(f"polygon with fewer than 3 points ({len(p) // 2})")
            if not np.all(np.isfinite(p)):
                raise ValueError("polygon with non-finite coordinates")
        return mask_utils.merge(mask_utils.frPyObjects(polys, height, width))
    if isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation:
        size = segmentation["size"]
        if not (isinstance(size, list | tuple) and len(size) == 2):
            raise ValueError(f"RLE size {size!r} is not [H, W]")
        if [int(size[0]), int(size[1])] != [int(height), int(width)]:
            raise ValueError(f"RLE size {list(size)} differs from the image size [{height}, {width}]")
        counts = segmentation["counts"]
        if isinstance(counts, list):
            if sum(int(c) for c in counts) != int(height) * int(width):
                raise ValueError("uncompressed RLE counts do not add up to H*W")
            return mask_utils.frPyObjects(segmentation, int(height), int(width))
        if isinstance(counts, bytes | str):
            c = counts.encode("ascii") if isinstance(counts, str) else counts
            return {"size": [int(height), int(width)], "counts": c}
        raise ValueError(f"RLE counts of type {type(counts).__name__}")
    raise ValueError("segmentation is neither a polygon list nor an RLE dict")


def decode_segmentation(segmentation: Any, height: int, width: int) -> np.ndarray:
    """Decode any COCO segmentation to a ``bool`` mask of shape ``(height, width)``."""
    rle = to_compressed_rle(segmentation, height, width)
    try:
        return mask_utils.decode(rle).astype(bool)
    except Exception as exc:  # pycocotools raises bare Exceptions for corrupt counts
        raise ValueError(f"corrupt RLE counts ({exc})") from exc


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two masks of the same shape; 0.0 when both are empty."""
    a = np.asarray(a, bool)
    b = np.asarray(b, bool)
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else 0.0
