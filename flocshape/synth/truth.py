"""Per-frame truth: visible parts by exact geometry, the labelling policy, and hard-case flags.

Visible part of a particle = its posed outline, clipped to the frame box ``[0, W] x [0, H]``, minus the vessel
rim (which is in front of the fluid) and minus the outlines of every particle in front of it (smaller depth),
whatever their blur. Parts below ``MIN_PART_AREA_PX`` (slivers) are dropped before anything is measured.

Labelling policy (all limits are knobs; the first failing rule is the ``label_reason``):
``too_blurred``  blur sigma > max_label_blur_px;
``too_occluded`` visible area / in-frame area < min_visible_frac (the frame border does not count as
                 occlusion: a particle cut by the border is labelled if enough of its in-frame part shows);
``too_small``    visible area < min_visible_area_px;
``empty_raster`` the rasterised label would have no pixel (thin slivers);
``labelled``     otherwise.

The v2 look (:mod:`flocshape.synth.fluff`) draws every particle so that its pixels of at least half its opacity
(before defocus blur) are exactly the raster of its in-frame outline, the raster made here from the same
polygons: the label of a particle that nothing hides is the rendered particle, pixel for pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pycocotools import mask as mask_utils
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry

from flocshape.synth.config import SynthConfig
from flocshape.synth.geometry import (
    clean_area,
    geometry_metrics,
    in_frame_part,
    rasterise_coco_polygons,
    to_coco_polygons,
)
from flocshape.synth.motion import Track
from flocshape.synth.optics import blur_sigma_px

MIN_PART_AREA_PX = 0.5
"""Visible parts at or below this area (px^2) are slivers and are dropped."""
TOUCH_DISTANCE_PX = 1.0
"""Two non-overlapping particles closer than this (px) count as touching."""


def label_reason(cfg: SynthConfig, blur_px: float, visible_fraction: float, visible_area_px: float) -> str:
    """The labelling decision for one particle (see the module doc); ``"labelled"`` when it is labelled."""
    if blur_px > cfg.max_label_blur_px:
        return "too_blurred"
    if not visible_fraction >= cfg.min_visible_frac:
        return "too_occluded"
    if visible_area_px < cfg.min_visible_area_px:
        return "too_small"
    return "labelled"


@dataclass
class Label:
    """A labelled instance before it gets its COCO annotation id."""

    track_id: int
    polygons: list[list[float]]
    rle: dict[str, Any]
    area_px: int
    bbox: list[float]


def _scaled_full_metrics(track: Track) -> dict[str, float]:
    """Exact metrics of the full outline at the track's pose (rotation/translation invariant, cached)."""
    if track.eroded_px > 0:
        return geometry_metrics(track.local_shape())
    if "unit_metrics" not in track.cache:
        track.cache["unit_metrics"] = geometry_metrics(track.outline)
    m = dict(track.cache["unit_metrics"])
    s = track.scale
    m["area_px"] *= s * s
    for k in ("perimeter_px", "ecd_px", "feret_max_px", "feret_min_px"):
        m[k] *= s
    return m


def frame_truth(
    cfg: SynthConfig,
    tracks: list[Track],
    rim_polygon: Polygon | None,
    bubbles_on: dict[int, int],
) -> tuple[list[dict[str, Any]], list[Label]]:
    """Truth rows (one per particle that reaches into the frame) and labels, front-most particle first.

    ``bubbles_on`` maps track id -> number of bubbles drawn on top of it in this frame.
    Row keys without the frame/split columns (the caller adds those); ``ann_index`` indexes ``labels``.
    """
    order = sorted(range(len(tracks)), key=lambda i: (tracks[i].depth, tracks[i].track_id))
    geoms = [tracks[i].posed() for i in order]
    tree = shapely.STRtree(geoms)
    rows: list[dict[str, Any]] = []
    labels: list[Label] = []
    for rank, (i, geom) in enumerate(zip(order, geoms, strict=True)):
        minx, miny, maxx, maxy = geom.bounds
        inside = in_frame_part(geom, cfg.height, cfg.width)
        cut_by_frame = inside is not geom
        if inside.is_empty or inside.area <= MIN_PART_AREA_PX:
            continue
        t = tracks[i]
        d = TOUCH_DISTANCE_PX
        near = tree.query(box(minx - d, miny - d, maxx + d, maxy + d))
        others = [int(k) for k in near if int(k) != rank]
        hits = [k for k in others if geoms[k].intersects(geom)]
        front = [geoms[k] for k in hits if k < rank]
        overlaps = any(not geoms[k].touches(geom) for k in hits)
        touches = not overlaps and any(geoms[k].distance(geom) <= d for k in others)
        visible = inside
        hidden_by_rim = (
            rim_polygon is not None and maxy > rim_top_px(rim_polygon) and inside.intersects(rim_polygon)
        )
        if hidden_by_rim:
            visible = visible.difference(rim_polygon)
        if front:
            visible = visible.difference(shapely.union_all(front))
        changed = cut_by_frame or hidden_by_rim or bool(front)
        if changed:
            visible = clean_area(visible, MIN_PART_AREA_PX)
        vis_area = float(visible.area)
        blur = blur_sigma_px(t.depth, cfg.blur_per_depth_px)
        vis_frac = vis_area / float(inside.area)
        reason = label_reason(cfg, blur, vis_frac, vis_area)
        ann_index = -1
        mask_area = 0
        if reason == "labelled":
            label = _rasterise(t.track_id, visible, cfg.height, cfg.width)
            if label is None:
                reason = "empty_raster"
            else:
                ann_index, mask_area = len(labels), label.area_px
                labels.append(label)
        full = _scaled_full_metrics(t)
        vis = geometry_metrics(visible) if changed else full
        minx, miny, maxx, maxy = visible.bounds if not visible.is_empty else (math.nan,) * 4
        row: dict[str, Any] = {
            "track_id": t.track_id,
            "parent_track_id": t.parent_track_id,
            "ann_index": ann_index,
            "labelled": reason == "labelled",
            "label_reason": reason,
            "depth": t.depth,
            "depth_rank": rank,
            "blur_sigma_px": blur,
            "visible_fraction": vis_frac,
            "in_frame_fraction": float(inside.area) / full["area_px"],
            "touches_border": bool(
                not visible.is_empty
                and (minx < 1.0 or miny < 1.0 or maxx > cfg.width - 1.0 or maxy > cfg.height - 1.0)
            ),
            "overlaps_other": overlaps,
            "touches_other": touches,
            "bubbles_on_top": int(bubbles_on.get(t.track_id, 0)),
            "mask_area_px": mask_area,
            "centroid_x_px": t.x_px,
            "centroid_y_px": t.y_px,
            "angle_deg": t.angle_deg,
            "scale": t.scale,
            "eroded_px": t.eroded_px,
        }
        row.update({f"vis_{k}": v for k, v in vis.items()})
        row.update({f"full_{k}": v for k, v in full.items()})
        rows.append(row)
    return rows, labels


def rim_top_px(rim_polygon: Polygon) -> float:
    """Smallest y of the rim outline (px)."""
    return float(rim_polygon.bounds[1])


def _rasterise(track_id: int, visible: BaseGeometry, height: int, width: int) -> Label | None:
    """The COCO label of a visible geometry, or ``None`` when it rasterises to no pixel."""
    polygons = to_coco_polygons(visible)
    if not polygons:
        return None
    rle = rasterise_coco_polygons(polygons, height, width)
    coded = {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
    area = int(mask_utils.area(coded))
    if area == 0:
        return None
    bbox = [float(v) for v in mask_utils.toBbox(coded)]
    return Label(track_id=track_id, polygons=polygons, rle=rle, area_px=area, bbox=bbox)


def bubbles_per_track(attached: np.ndarray) -> dict[int, int]:
    """Count of bubbles per track id from an array of attached track ids (-1 = free bubble)."""
    ids, counts = np.unique(attached[attached >= 0], return_counts=True)
    return {int(i): int(c) for i, c in zip(ids, counts, strict=True)}
