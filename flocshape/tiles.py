"""The one tile grid: where square tiles start along a frame side, for training data and for prediction alike.

``coco2yolo --tile`` cuts training frames on this grid and ``predict --tile`` predicts on it, so a model trained on
tiles sees at prediction time the same placements (and the same overlap) it was trained on.
"""

from __future__ import annotations


def tile_starts(length: int, tile_px: int, overlap: float) -> list[int]:
    """Start offsets (px) of tiles of ``tile_px`` covering ``[0, length)`` with at least ``overlap`` (fraction).

    The stride is ``floor(tile_px * (1 - overlap))`` (at least 1), so neighbouring tiles overlap by at least the
    requested fraction; the last tile is aligned to the far edge so the whole side is covered. ``length <=
    tile_px`` gives a single tile at 0. Offsets are increasing and distinct.
    """
    if length <= tile_px:
        return [0]
    stride = max(int(tile_px * (1.0 - overlap)), 1)
    return [*range(0, length - tile_px, stride), length - tile_px]
