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

from typing import Any, NamedTuple

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

    Multi-part polygons are merged into one RLE (union); polygon vertices must lie within one image size of the
    image (beyond that pycocotools' rasteriser takes minutes). ``counts`` may be ``bytes`` in the result.
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
            xs, ys = np.asarray(p[0::2]), np.asarray(p[1::2])
            if xs.min() < -width or xs.max() > 2 * width or ys.min() < -height or ys.max() > 2 * height:
                # pycocotools rasterises every edge point by point: far-off vertices take minutes and gigabytes
                raise ValueError(
                    f"polygon reaches more than an image size outside the {width}x{height} px image"
                )
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
            covered = int(rle_string_to_counts(c).sum())
            if covered != int(height) * int(width):
                raise ValueError(f"RLE counts cover {covered} pixels, not H*W = {int(height) * int(width)}")
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


# --- Bounding-box crops straight from RLE -------------------------------------------------------------
# pycocotools can only decode to a full (H, W) frame (about 1-4 ms for 1024 x 1280), which dominates work on
# tens of thousands of small instances. These helpers read the run lengths and paint only the instance's
# bounding-box crop; the result equals ``pycocotools.mask.decode`` cropped to the box (tested).


class MaskCrop(NamedTuple):
    """A mask as its tight bounding-box crop at ``(x0, y0)`` (column, row) in a ``height x width`` frame.

    ``crop`` is a ``(0, 0)`` array at ``(0, 0)`` for an empty mask.
    """

    crop: np.ndarray
    x0: int
    y0: int
    height: int
    width: int


_MAX_CHARS_PER_VALUE = 7  # 35 bits: far more than any H*W seen here, and exact in float64


def rle_string_to_counts(counts: str | bytes) -> np.ndarray:
    """Run lengths (int64) of a compressed COCO RLE ``counts`` string, without decoding pixels.

    Vectorised transcription of pycocotools' ``rleFrString`` (LEB128-like 5-bit groups, sign bit 0x10,
    continuation bit 0x20; runs from the fourth on are stored as a difference to the run two before).
    Raises ``ValueError`` for characters outside ``'0'..'o'``, a truncated last value, an over-long value or
    a negative run.
    """
    data = counts.encode("ascii") if isinstance(counts, str) else bytes(counts)
    chars = np.frombuffer(data, dtype=np.uint8).astype(np.int64) - 48
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
    if runs.min() < 0:
        raise ValueError("RLE counts decode to a negative run length")
    return runs


def rle_counts(rle: dict[str, Any]) -> np.ndarray:
    """Run lengths of a compressed (``str``/``bytes`` counts) or uncompressed (list counts) RLE dict."""
    raw = rle["counts"]
    return np.asarray(raw, dtype=np.int64) if isinstance(raw, list) else rle_string_to_counts(raw)


def counts_to_crop(counts: np.ndarray, height: int, width: int) -> MaskCrop:
    """Foreground of column-major run lengths (background first) as a :class:`MaskCrop`.

    Raises ``ValueError`` when a run is negative or the runs do not add up to ``height * width``.
    """
    runs = np.asarray(counts, dtype=np.int64)
    if runs.size and (runs.min() < 0 or int(runs.sum()) != height * width):
        raise ValueError(f"RLE runs add up to {int(runs.sum())}, not H*W = {height * width}")
    starts = np.cumsum(runs) - runs
    fg_starts, fg_lengths = starts[1::2], runs[1::2]
    keep = fg_lengths > 0
    fg_starts, fg_lengths = fg_starts[keep], fg_lengths[keep]
    total = int(fg_lengths.sum())
    if total == 0:
        return MaskCrop(np.zeros((0, 0), bool), 0, 0, height, width)
    offsets = np.repeat(fg_starts - (np.cumsum(fg_lengths) - fg_lengths), fg_lengths)
    flat = np.arange(total, dtype=np.int64) + offsets  # column-major pixel index
    cols, rows = np.divmod(flat, height)
    x0, y0 = int(cols.min()), int(rows.min())
    crop = np.zeros((int(rows.max()) - y0 + 1, int(cols[-1]) - x0 + 1), dtype=bool)
    crop[rows - y0, cols - x0] = True
    return MaskCrop(crop, x0, y0, height, width)


def decode_rle_crop(rle: dict[str, Any]) -> MaskCrop:
    """Decode a COCO RLE (compressed or uncompressed counts) to its bounding-box :class:`MaskCrop`."""
    return counts_to_crop(rle_counts(rle), int(rle["size"][0]), int(rle["size"][1]))


_PYCOCOTOOLS_AREA_CHUNK = 255  # pycocotools 2.0.x `area` fails on lists of > 255 RLEs under numpy 2


def rle_areas(rles: list[dict[str, Any]]) -> np.ndarray:
    """Pixel counts (int64) of a list of pycocotools RLEs of any length.

    pycocotools' ``mask.area`` raises ``OverflowError`` for more than 255 RLEs at once (it sizes its output with
    a ``uint8``), which dense frames reach; this calls it in chunks.
    """
    if not rles:
        return np.zeros(0, dtype=np.int64)
    parts = [
        np.asarray(mask_utils.area(rles[i : i + _PYCOCOTOOLS_AREA_CHUNK]), dtype=np.int64).reshape(-1)
        for i in range(0, len(rles), _PYCOCOTOOLS_AREA_CHUNK)
    ]
    return np.concatenate(parts)
