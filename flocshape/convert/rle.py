"""Fast access to COCO RLE masks without decoding the whole frame.

``pycocotools.mask.decode`` always writes a full ``H x W`` array (about 4 ms for a 1024 x 1280 frame),
which dominates a conversion of tens of thousands of small instances. These helpers read the run lengths
and build only the instance's bounding-box crop.

Conventions: RLE runs are column-major (pycocotools), alternating background / foreground and starting
with background. A crop is returned with its top-left pixel ``(x0, y0)`` (column, row) in the frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def rle_string_to_counts(counts: str | bytes) -> np.ndarray:
    """Run lengths of a compressed COCO RLE string (port of pycocotools' ``rleFrString``).

    Raises ``ValueError`` on a malformed string (negative run or truncated value).
    """
    s = counts.encode("ascii") if isinstance(counts, str) else bytes(counts)
    out: list[int] = []
    p, n = 0, len(s)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            if p >= n:
                raise ValueError("truncated RLE string")
            c = s[p] - 48
            if c < 0 or c > 63:
                raise ValueError(f"invalid character {chr(s[p])!r} in RLE string")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(out) > 2:
            x += out[-2]
        if x < 0:
            raise ValueError("negative run length in RLE string")
        out.append(x)
    return np.asarray(out, dtype=np.int64)


def rle_counts(rle: dict[str, Any]) -> np.ndarray:
    """Run lengths of a compressed (str/bytes counts) or uncompressed (list counts) RLE dict."""
    counts = rle["counts"]
    if isinstance(counts, list):
        return np.asarray(counts, dtype=np.int64)
    return rle_string_to_counts(counts)


def counts_to_crop(counts: np.ndarray, height: int, width: int) -> tuple[np.ndarray, int, int]:
    """Foreground of a run-length mask as a tight bool crop and its top-left ``(x0, y0)``.

    An empty mask gives a ``(0, 0)`` crop at ``(0, 0)``. Raises ``ValueError`` when the runs do not
    add up to ``height * width``.
    """
    counts = np.asarray(counts, dtype=np.int64)
    if int(counts.sum()) != height * width:
        raise ValueError(f"RLE runs add up to {int(counts.sum())}, not H*W = {height * width}")
    ends = np.cumsum(counts)
    starts = ends - counts
    fg_starts, fg_lens = starts[1::2], counts[1::2]
    keep = fg_lens > 0
    fg_starts, fg_lens = fg_starts[keep], fg_lens[keep]
    if fg_lens.size == 0:
        return np.zeros((0, 0), dtype=bool), 0, 0
    total = int(fg_lens.sum())
    # flat column-major index of every foreground pixel: run start + offset within the run
    offsets = np.arange(total) - np.repeat(np.cumsum(fg_lens) - fg_lens, fg_lens)
    flat = np.repeat(fg_starts, fg_lens) + offsets
    cols, rows = np.divmod(flat, height)
    x0, y0 = int(cols.min()), int(rows.min())
    crop = np.zeros((int(rows.max()) - y0 + 1, int(cols.max()) - x0 + 1), dtype=bool)
    crop[rows - y0, cols - x0] = True
    return crop, x0, y0


def rle_to_crop(rle: dict[str, Any]) -> tuple[np.ndarray, int, int]:
    """Bounding-box crop ``(mask, x0, y0)`` of an RLE dict (compressed or uncompressed)."""
    height, width = int(rle["size"][0]), int(rle["size"][1])
    return counts_to_crop(rle_counts(rle), height, width)
