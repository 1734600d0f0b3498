"""Instance masks <-> single YOLO-seg outlines ("rings").

A YOLO-seg label row holds exactly one polygon without holes. This module turns any instance (a mask,
or a shapely geometry with holes and several parts) into one ring whose rasterisation reproduces the
instance, and rasterises rings back.

Conventions
-----------
* Coordinates are pixels, x = column, y = row, in the COCO / pycocotools convention: pixel (row i,
  column j) covers the square ``[j, j+1) x [i, i+1)``, so pixel *corners* have integer coordinates.
* :func:`mask_to_geometry` traces the **pixel-edge outline** of a mask (vertices on pixel corners).
  Rasterised with pycocotools' polygon fill, that outline reproduces the mask exactly.
* Holes and separate parts are joined into one ring by **zero-width bridges**: a segment from a vertex
  of the ring to the nearest vertex of the hole/part, walked there and back. A segment walked in both
  directions adds nothing to an even-odd (or winding) fill, so the ring still rasterises to the exact
  mask (checked in the tests).
* Ultralytics resamples every polygon to 1000 points on load, keeping all original vertices only when
  the ring has at most 1000 of them (``ultralytics.utils.ops.resample_segments``). Rings above the
  vertex budget (``max_vertices``, default :data:`ULTRALYTICS_MAX_VERTICES`) are simplified
  (Douglas-Peucker, topology preserved) with a growing tolerance until they fit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from pycocotools import mask as mask_utils
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

ULTRALYTICS_MAX_VERTICES = 1000
_SIMPLIFY_TOLERANCES_PX = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 32.0)


def mask_to_geometry(mask: np.ndarray, offset_xy: tuple[int, int] = (0, 0)) -> BaseGeometry:
    """Pixel-edge outline of a 2-D mask as a shapely (Multi)Polygon, holes included.

    ``offset_xy`` is added to all coordinates (use it when ``mask`` is a crop at column x0, row y0).
    An empty mask gives an empty Polygon. Built as the union of the mask's horizontal pixel runs.
    """
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {m.shape}")
    padded = np.zeros((m.shape[0], m.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = m
    rows, cols = np.nonzero(np.diff(padded, axis=1))
    if rows.size == 0:
        return Polygon()
    # np.nonzero is row-major, so within each row starts and ends alternate: start, end, start, end...
    x0, y0 = offset_xy
    starts, ends, run_rows = cols[0::2] + x0, cols[1::2] + x0, rows[0::2] + y0
    boxes = shapely.box(starts, run_rows, ends, run_rows + 1)
    geom = shapely.union_all(boxes)
    return shapely.simplify(geom, 0.0)  # drop collinear vertices left at run boundaries


def geometry_parts(geom: BaseGeometry) -> list[Polygon]:
    """The non-empty polygons of a geometry (Polygon, MultiPolygon or collection), largest first."""
    if geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        parts = [geom]
    elif isinstance(geom, MultiPolygon):
        parts = list(geom.geoms)
    else:
        parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon | MultiPolygon)]
        parts = [p for g in parts for p in geometry_parts(g)]
    parts = [p for p in parts if not p.is_empty and p.area > 0]
    return sorted(parts, key=lambda p: -p.area)


def _open_coords(ring: shapely.LinearRing) -> np.ndarray:
    """Ring coordinates as (N, 2) float64 without the repeated closing vertex."""
    xy = np.asarray(ring.coords, dtype=np.float64)
    return xy[:-1] if len(xy) > 1 and np.array_equal(xy[0], xy[-1]) else xy


def _nearest_vertex_pair(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """Indices (i, j) minimising |a[i] - b[j]|."""
    d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
    i, j = np.unravel_index(int(np.argmin(d2)), d2.shape)
    return int(i), int(j)


def bridge(ring: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Join ``other`` into ``ring`` with a zero-width bridge between their nearest vertices.

    The result walks ``ring`` up to vertex i, jumps to ``other[j]``, walks all of ``other`` back to
    ``other[j]``, jumps back to ``ring[i]`` and continues. Both inputs are open (N, 2) arrays.
    """
    i, j = _nearest_vertex_pair(ring, other)
    other_loop = np.concatenate([other[j:], other[: j + 1]])
    return np.concatenate([ring[: i + 1], other_loop, ring[i:]])


def polygon_to_ring(poly: Polygon) -> np.ndarray:
    """One polygon with holes as one open ring: exterior counter-clockwise, holes clockwise, bridged."""
    poly = shapely.geometry.polygon.orient(poly, sign=1.0)
    ring = _open_coords(poly.exterior)
    for hole in sorted(poly.interiors, key=lambda h: -Polygon(h).area):
        ring = bridge(ring, _open_coords(hole))
    return ring


def parts_to_ring(parts: Sequence[Polygon]) -> np.ndarray:
    """Several polygons (largest first) as one open ring; each part is bridged to the growing ring."""
    if not parts:
        return np.zeros((0, 2), dtype=np.float64)
    ring = polygon_to_ring(parts[0])
    for part in parts[1:]:
        ring = bridge(ring, polygon_to_ring(part))
    return ring


def ring_vertex_count(parts: Sequence[Polygon]) -> int:
    """Vertices of the bridged ring that :func:`parts_to_ring` would build (2 extra per bridge)."""
    n = 0
    for p in parts:
        n += len(p.exterior.coords) - 1
        n += sum(len(h.coords) - 1 + 2 for h in p.interiors)
    return n + 2 * max(0, len(parts) - 1)


def geometry_to_ring(
    geom: BaseGeometry, max_vertices: int | None = ULTRALYTICS_MAX_VERTICES
) -> tuple[np.ndarray, float]:
    """One open ring (N, 2) for a geometry, within ``max_vertices`` (None or 0 = no limit).

    Returns ``(ring, tolerance_px)``: the Douglas-Peucker tolerance that was needed (0.0 = exact).
    If even the largest tolerance does not fit, the smallest parts and holes are dropped.
    """
    parts = geometry_parts(geom)
    if not max_vertices or ring_vertex_count(parts) <= max_vertices:
        return parts_to_ring(parts), 0.0
    for tol in _SIMPLIFY_TOLERANCES_PX:
        simple = geometry_parts(shapely.simplify(geom, tol, preserve_topology=True))
        if simple and ring_vertex_count(simple) <= max_vertices:
            return parts_to_ring(simple), tol
    simple = geometry_parts(shapely.simplify(geom, _SIMPLIFY_TOLERANCES_PX[-1], preserve_topology=True))
    simple = [Polygon(p.exterior) for p in simple]
    while len(simple) > 1 and ring_vertex_count(simple) > max_vertices:
        simple.pop()
    return parts_to_ring(simple), _SIMPLIFY_TOLERANCES_PX[-1]


def trace_cycles(mask: np.ndarray, offset_xy: tuple[int, int] = (0, 0)) -> list[np.ndarray]:
    """Pixel-edge boundary cycles of a mask, each an open (N, 2) float64 array of corner vertices.

    Vertices sit only where the boundary turns. Outer boundaries have positive signed area (shapely's
    counter-clockwise), holes negative. Pixels touching only at a corner get separate cycles (the
    boundary turns towards the current pixel at such saddle corners). Vectorised edge linking: each
    boundary edge points to the next edge starting at its end corner.
    """
    m = np.asarray(mask, dtype=bool)
    h, w = m.shape
    p = np.zeros((h + 2, w + 2), dtype=np.int8)
    p[1:-1, 1:-1] = m
    # In padded coordinates pixel (r, c) covers [c, c+1) x [r, r+1); the inside is to the right of each edge.
    dv = p[1:, :] - p[:-1, :]  # dv[r-1, c]: boundary at y = r between rows r-1 and r
    r_top, c_top = np.nonzero(dv == 1)  # top edge of pixel (r, c): (c, r) -> (c+1, r), direction +x
    r_bot, c_bot = np.nonzero(dv == -1)  # bottom edge of pixel (r-1, c): (c+1, r) -> (c, r), direction -x
    dh = p[:, 1:] - p[:, :-1]  # dh[r, c-1]: boundary at x = c between columns c-1 and c
    r_lft, c_lft = np.nonzero(dh == 1)  # left edge of pixel (r, c): (c, r+1) -> (c, r), direction -y
    r_rgt, c_rgt = np.nonzero(dh == -1)  # right edge of pixel (r, c-1): (c, r) -> (c, r+1), direction +y
    sx = np.concatenate([c_top, c_bot + 1, c_rgt + 1, c_lft + 1])
    sy = np.concatenate([r_top + 1, r_bot + 1, r_rgt, r_lft + 1])
    ex = np.concatenate([c_top + 1, c_bot, c_rgt + 1, c_lft + 1])
    ey = np.concatenate([r_top + 1, r_bot + 1, r_rgt + 1, r_lft])
    direction = np.concatenate(
        [np.full(c_top.size, 0), np.full(c_bot.size, 2), np.full(c_rgt.size, 1), np.full(c_lft.size, 3)]
    ).astype(np.int8)  # 0 = +x, 1 = +y, 2 = -x, 3 = -y; +1 (mod 4) is a right turn on screen
    if sx.size == 0:
        return []
    stride = w + 3
    start_key = sy * stride + sx
    end_key = ey * stride + ex
    order = np.argsort(start_key, kind="stable")
    sorted_keys = start_key[order]
    first = np.searchsorted(sorted_keys, end_key, side="left")
    n_out = np.searchsorted(sorted_keys, end_key, side="right") - first
    nxt = order[first]
    saddle = np.nonzero(n_out == 2)[0]
    if saddle.size:
        second = order[first[saddle] + 1]
        use_second = direction[second] == (direction[saddle] + 1) % 4
        nxt[saddle[use_second]] = second[use_second]
    x0, y0 = offset_xy
    nxt_list = nxt.tolist()
    seen = np.zeros(nxt.size, dtype=bool)
    cycles: list[np.ndarray] = []
    for s in np.flatnonzero(~seen).tolist():
        if seen[s]:
            continue
        cycle = [s]
        j = nxt_list[s]
        while j != s:
            cycle.append(j)
            j = nxt_list[j]
        idx = np.asarray(cycle)
        seen[idx] = True
        turns = idx[direction[idx] != np.roll(direction[idx], 1)]
        cycles.append(np.stack([sx[turns] + (x0 - 1), sy[turns] + (y0 - 1)], axis=1).astype(np.float64))
    return cycles


def signed_area(ring: np.ndarray) -> float:
    """Shoelace signed area of an open ring (positive = counter-clockwise in shapely's sense)."""
    x, y = ring[:, 0], ring[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)))


def bridge_all(rings: Sequence[np.ndarray]) -> np.ndarray:
    """Join rings (any order of outers and holes) into one ring, largest |area| first, by bridges.

    Under even-odd filling the result covers exactly the symmetric difference of the rings, which for
    the boundary cycles of a mask is the mask itself.
    """
    if not rings:
        return np.zeros((0, 2), dtype=np.float64)
    ordered = sorted(rings, key=lambda r: -abs(signed_area(r)))
    ring = ordered[0]
    for other in ordered[1:]:
        ring = bridge(ring, other)
    return ring


def crop_to_ring(
    crop: np.ndarray, x0: int, y0: int, max_vertices: int | None = ULTRALYTICS_MAX_VERTICES
) -> tuple[np.ndarray, float]:
    """Exact single ring of a mask crop at ``(x0, y0)``; simplified only above ``max_vertices``.

    Returns ``(ring, tolerance_px)`` as :func:`geometry_to_ring` does.
    """
    cycles = trace_cycles(crop, (x0, y0))
    n_vertices = sum(len(c) for c in cycles) + 2 * max(0, len(cycles) - 1)
    if not max_vertices or n_vertices <= max_vertices:
        return bridge_all(cycles), 0.0
    return geometry_to_ring(mask_to_geometry(crop, (x0, y0)), max_vertices)


def mask_to_yolo_ring(mask: np.ndarray, max_vertices: int | None = ULTRALYTICS_MAX_VERTICES) -> np.ndarray:
    """The single-ring outline of a mask: (N, 2) float64 pixel coordinates (x, y), open (no repeat).

    Exact (rasterises back to ``mask``) whenever the ring fits in ``max_vertices``. Empty mask: (0, 2).
    """
    m = np.asarray(mask, dtype=bool)
    ys, xs = np.nonzero(m)
    if ys.size == 0:
        return np.zeros((0, 2), dtype=np.float64)
    y0, x0 = int(ys.min()), int(xs.min())
    crop = m[y0 : int(ys.max()) + 1, x0 : int(xs.max()) + 1]
    ring, _ = crop_to_ring(crop, x0, y0, max_vertices)
    return ring


def ring_to_rle(ring: np.ndarray, height: int, width: int) -> dict:
    """Rasterise one ring with pycocotools' polygon fill; compressed RLE (bytes counts)."""
    flat = np.asarray(ring, dtype=np.float64).reshape(-1).tolist()
    if len(flat) < 6:
        return mask_utils.encode(np.zeros((height, width), dtype=np.uint8, order="F"))
    return mask_utils.frPyObjects([flat], height, width)[0]


def ring_to_mask(ring: np.ndarray, height: int, width: int) -> np.ndarray:
    """Rasterise one ring (pixel coordinates) to a bool mask of shape (height, width)."""
    return mask_utils.decode(ring_to_rle(ring, height, width)).astype(bool)
