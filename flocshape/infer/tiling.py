"""Tiled prediction for dense or very large frames, with instances cut by tile borders merged back.

Own implementation rather than sahi: sahi resizes each instance's ``masks.data`` (letterbox-misaligned, input
resolution) to full slices and exports polygons (holes lost), while here every tile goes through the same
box-local, frame-aligned mask path as a whole frame (:mod:`flocshape.infer.protomask`).

Merge rule (greedy, highest priority first; priority = complete before cut, then score):

* an instance is *cut* when its mask touches a tile edge that is not a frame edge;
* a candidate whose mask overlaps an already kept one by intersection-over-smaller ``>= merge_ios`` is the same
  particle: if the kept one is complete, the candidate is dropped (duplicate from an overlapping tile); if the kept
  one is cut too, the two pieces are united (a particle larger than the overlap, split across tiles).
"""

from __future__ import annotations

import numpy as np

from flocshape.infer.engine import FrameTimings, Instance, Segmenter
from flocshape.infer.protomask import CropMask


def tile_starts(length: int, tile_px: int, overlap: float) -> list[int]:
    """Start offsets of tiles of ``tile_px`` covering ``[0, length)`` with at least ``overlap`` (fraction) overlap."""
    if length <= tile_px:
        return [0]
    step = max(int(tile_px * (1.0 - overlap)), 1)
    starts = list(range(0, length - tile_px, step))
    starts.append(length - tile_px)
    return sorted(set(starts))


def _touches_inner_edge(crop: CropMask, tile_x: int, tile_y: int, tile_w: int, tile_h: int) -> bool:
    """Does the mask reach a tile edge that is not also a frame edge?"""
    frame_h, frame_w = crop.frame_hw
    h, w = crop.mask.shape
    left = crop.x0 <= tile_x and tile_x > 0 and crop.mask[:, 0].any()
    top = crop.y0 <= tile_y and tile_y > 0 and crop.mask[0, :].any()
    right = crop.x0 + w >= tile_x + tile_w and tile_x + tile_w < frame_w and crop.mask[:, -1].any()
    bottom = crop.y0 + h >= tile_y + tile_h and tile_y + tile_h < frame_h and crop.mask[-1, :].any()
    return bool(left or top or right or bottom)


def _shift(instance: Instance, dx: int, dy: int, frame_hw: tuple[int, int], cut: bool) -> Instance:
    c = instance.crop
    x1, y1, x2, y2 = instance.box_xyxy
    crop = CropMask(c.mask, c.x0 + dx, c.y0 + dy, frame_hw)
    return Instance(crop, instance.score, instance.class_index, (x1 + dx, y1 + dy, x2 + dx, y2 + dy), cut)


def _overlap(a: CropMask, b: CropMask) -> int:
    """Pixels shared by two crop masks of the same frame."""
    x0, y0 = max(a.x0, b.x0), max(a.y0, b.y0)
    x1 = min(a.x0 + a.mask.shape[1], b.x0 + b.mask.shape[1])
    y1 = min(a.y0 + a.mask.shape[0], b.y0 + b.mask.shape[0])
    if x1 <= x0 or y1 <= y0:
        return 0
    sa = a.mask[y0 - a.y0 : y1 - a.y0, x0 - a.x0 : x1 - a.x0]
    sb = b.mask[y0 - b.y0 : y1 - b.y0, x0 - b.x0 : x1 - b.x0]
    return int(np.count_nonzero(sa & sb))


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
    areas: list[int] = []
    for cand in order:
        cand_area = cand.crop.area_px
        merged = False
        for k, other in enumerate(kept):
            shared = _overlap(cand.crop, other.crop)
            if shared == 0 or shared / max(min(cand_area, areas[k]), 1) < merge_ios:
                continue
            if other.cut_by_tile:
                crop = _union(other.crop, cand.crop)
                x1, y1 = crop.x0, crop.y0
                box = (float(x1), float(y1), float(x1 + crop.mask.shape[1]), float(y1 + crop.mask.shape[0]))
                kept[k] = Instance(crop, max(other.score, cand.score), other.class_index, box, True)
                areas[k] = crop.area_px
            merged = True
            break
        if not merged:
            kept.append(cand)
            areas.append(cand_area)
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
                candidates.append(_shift(inst, tx, ty, (frame_h, frame_w), cut=cut))
    return merge_tile_instances(candidates, merge_ios)
