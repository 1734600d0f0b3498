"""Tiled prediction for dense or very large frames, with instances cut by tile borders merged back.

Own implementation rather than sahi: sahi resizes each instance's ``masks.data`` (letterbox-misaligned, input
resolution) to full slices and exports polygons (holes lost), while here every tile goes through the same
box-local, frame-aligned mask path as a whole frame (:mod:`flocshape.infer.protomask`).

Merge rule (greedy, highest priority first; priority = complete before cut, then score):

* an instance is *cut* when its mask touches a tile edge that is not a frame edge;
* a candidate whose mask overlaps an already kept one by intersection-over-smaller ``>= merge_ios`` is the same
  particle: if the kept one is complete, the candidate is dropped (duplicate from an overlapping tile); if the kept
  one is cut too, the two pieces are united (a particle larger than the overlap, split across tiles).
* for two *cut* pieces the intersection-over-smaller is taken **inside the region both tiles saw** (the
  intersection of their tile windows; for an already united piece, the bounding window of its tiles): a particle
  larger than the overlap band leaves in each tile a piece much larger than the part the tiles share, so the
  whole-mask ratio (shared / smaller piece) stays under ``merge_ios`` and the particle would be counted twice, as
  two pieces with straight cuts (docs/history.md, "New in the tiled merge").
"""

from __future__ import annotations

import numpy as np

from flocshape.infer.engine import FrameTimings, Instance, Segmenter
from flocshape.infer.protomask import CropMask
from flocshape.tiles import tile_starts

__all__ = ["merge_tile_instances", "same_particle", "tile_starts", "tiled_instances"]


def _touches_inner_edge(crop: CropMask, tile_x: int, tile_y: int, tile_w: int, tile_h: int) -> bool:
    """Does the mask reach a tile edge that is not also a frame edge?"""
    frame_h, frame_w = crop.frame_hw
    h, w = crop.mask.shape
    left = crop.x0 <= tile_x and tile_x > 0 and crop.mask[:, 0].any()
    top = crop.y0 <= tile_y and tile_y > 0 and crop.mask[0, :].any()
    right = crop.x0 + w >= tile_x + tile_w and tile_x + tile_w < frame_w and crop.mask[:, -1].any()
    bottom = crop.y0 + h >= tile_y + tile_h and tile_y + tile_h < frame_h and crop.mask[-1, :].any()
    return bool(left or top or right or bottom)


def _shift(
    instance: Instance,
    dx: int,
    dy: int,
    frame_hw: tuple[int, int],
    cut: bool,
    tile_xyxy: tuple[int, int, int, int] | None = None,
) -> Instance:
    c = instance.crop
    x1, y1, x2, y2 = instance.box_xyxy
    crop = CropMask(c.mask, c.x0 + dx, c.y0 + dy, frame_hw)
    box = (x1 + dx, y1 + dy, x2 + dx, y2 + dy)
    return Instance(crop, instance.score, instance.class_index, box, cut, tile_xyxy)


Window = tuple[int, int, int, int]  # (x0, y0, x1, y1) frame px, end exclusive


def _window_of(crop: CropMask) -> Window:
    return crop.x0, crop.y0, crop.x0 + crop.mask.shape[1], crop.y0 + crop.mask.shape[0]


def _intersect(a: Window, b: Window) -> Window | None:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _bounding(a: Window, b: Window) -> Window:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _pixels_in(crop: CropMask, window: Window) -> np.ndarray:
    """The part of ``crop``'s mask inside ``window`` (which must lie inside the crop's own window)."""
    x0, y0, x1, y1 = window
    return crop.mask[y0 - crop.y0 : y1 - crop.y0, x0 - crop.x0 : x1 - crop.x0]


def _overlap_counts(a: CropMask, b: CropMask, region: Window | None = None) -> tuple[int, int, int]:
    """``(shared, a_pixels, b_pixels)`` counted inside ``region`` (the whole frame, i.e. whole masks, when ``None``)."""
    frame_h, frame_w = a.frame_hw
    region = region or (0, 0, frame_w, frame_h)
    wa, wb = _intersect(_window_of(a), region), _intersect(_window_of(b), region)
    if wa is None or wb is None:
        return 0, 0, 0
    a_in, b_in = int(np.count_nonzero(_pixels_in(a, wa))), int(np.count_nonzero(_pixels_in(b, wb)))
    common = _intersect(wa, wb)
    shared = 0 if common is None else int(np.count_nonzero(_pixels_in(a, common) & _pixels_in(b, common)))
    return shared, a_in, b_in


def same_particle(cand: Instance, kept: Instance, merge_ios: float) -> bool:
    """Are two tile instances the same particle? (intersection-over-smaller rule of the module docstring)"""
    region = None
    if cand.cut_by_tile and kept.cut_by_tile and cand.tile_xyxy and kept.tile_xyxy:
        region = _intersect(cand.tile_xyxy, kept.tile_xyxy)
        if region is None:
            return False
    shared, a_px, b_px = _overlap_counts(cand.crop, kept.crop, region)
    return shared > 0 and shared / max(min(a_px, b_px), 1) >= merge_ios


def _union(a: CropMask, b: CropMask) -> CropMask:
    x0, y0 = min(a.x0, b.x0), min(a.y0, b.y0)
    x1 = max(a.x0 + a.mask.shape[1], b.x0 + b.mask.shape[1])
    y1 = max(a.y0 + a.mask.shape[0], b.y0 + b.mask.shape[0])
    out = np.zeros((y1 - y0, x1 - x0), bool)
    for c in (a, b):
        out[c.y0 - y0 : c.y0 - y0 + c.mask.shape[0], c.x0 - x0 : c.x0 - x0 + c.mask.shape[1]] |= c.mask
    return CropMask(out, x0, y0, a.frame_hw)


def merge_tile_instances(candidates: list[Instance], merge_ios: float = 0.5) -> list[Instance]:
    """Merge instances found in overlapping tiles (see the module rule); result sorted by descending score."""
    order = sorted(candidates, key=lambda inst: (inst.cut_by_tile, -inst.score))
    kept: list[Instance] = []
    for cand in order:
        merged = False
        for k, other in enumerate(kept):
            if not same_particle(cand, other, merge_ios):
                continue
            if other.cut_by_tile:
                crop = _union(other.crop, cand.crop)
                x1, y1 = crop.x0, crop.y0
                box = (float(x1), float(y1), float(x1 + crop.mask.shape[1]), float(y1 + crop.mask.shape[0]))
                tiles = (
                    _bounding(other.tile_xyxy, cand.tile_xyxy) if other.tile_xyxy and cand.tile_xyxy else None
                )
                score = max(other.score, cand.score)
                kept[k] = Instance(crop, score, other.class_index, box, True, tiles)
            merged = True
            break
        if not merged:
            kept.append(cand)
    return sorted(kept, key=lambda inst: -inst.score)


def tiled_instances(
    segmenter: Segmenter,
    image_bgr: np.ndarray,
    tile_px: int,
    overlap: float = 0.2,
    merge_ios: float = 0.5,
    timings: FrameTimings | None = None,
) -> list[Instance]:
    """Predict tile by tile (``tile_px`` square, ``overlap`` fraction) and merge; masks in frame pixels."""
    frame_h, frame_w = image_bgr.shape[:2]
    candidates: list[Instance] = []
    for ty in tile_starts(frame_h, tile_px, overlap):
        for tx in tile_starts(frame_w, tile_px, overlap):
            tile = np.ascontiguousarray(image_bgr[ty : ty + tile_px, tx : tx + tile_px])
            th, tw = tile.shape[:2]
            for inst in segmenter.instances(tile, timings):
                shifted = _shift(inst, tx, ty, (frame_h, frame_w), cut=False)
                cut = _touches_inner_edge(shifted.crop, tx, ty, tw, th)
                window = (tx, ty, tx + tw, ty + th)
                candidates.append(_shift(inst, tx, ty, (frame_h, frame_w), cut=cut, tile_xyxy=window))
    return merge_tile_instances(candidates, merge_ios)
