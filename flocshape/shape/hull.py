"""Convex hulls of a pixel set: of the pixel centres (lattice polygon) and of the pixel corners.

Coordinates are ``(x, y)`` = (column, row) in the crop's index space, so pixel centres are integer
points here; add ``0.5`` (and the crop origin) to get COCO pixel coordinates where pixel (i, j) covers
``[j, j+1) x [i, i+1)``.

* The *centre hull* is the convex hull of the pixel centres (vertices are lattice points).
* The *corner hull* is the convex hull of the four corners of every pixel, i.e. the centre hull
  Minkowski-summed with the unit pixel square. ImageJ measures Feret diameters on it.
* The *digital convex hull* is the set of pixels whose centres lie in or on the centre hull. It
  contains the particle, and equals it for a digitally convex particle (so solidity is exactly 1 for
  any digitised convex shape). Its pixel count equals Pick's count ``A + B/2 + 1`` of the centre hull.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import cv2
import numpy as np

_CORNER_OFFSETS = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
_EPS = 1e-9


def centre_hull(points_xy: np.ndarray) -> np.ndarray:
    """Convex hull vertices (K, 2) int32 of integer pixel-centre points (N, 2); K is 1 or 2 when degenerate."""
    pts = np.ascontiguousarray(points_xy, dtype=np.int32).reshape(-1, 2)
    if len(pts) == 0:
        return pts
    hull = cv2.convexHull(pts)
    return hull.reshape(-1, 2)


def corner_hull(centre_hull_xy: np.ndarray) -> np.ndarray:
    """Convex hull (M, 2) float64 of the pixel corners of the pixels whose centres are ``centre_hull_xy``."""
    corners = (centre_hull_xy[:, None, :].astype(np.float64) + _CORNER_OFFSETS[None]).reshape(-1, 2)
    hull = cv2.convexHull(corners.astype(np.float32))
    return hull.reshape(-1, 2).astype(np.float64)


def polygon_area(vertices: np.ndarray) -> float:
    """Shoelace area of a simple polygon given by its (K, 2) vertices in order; 0.0 when K < 3."""
    if len(vertices) < 3:
        return 0.0
    x = vertices[:, 0].astype(np.float64)
    y = vertices[:, 1].astype(np.float64)
    return 0.5 * abs(float(x[:-1] @ y[1:] - y[:-1] @ x[1:] + x[-1] * y[0] - y[-1] * x[0]))


def pick_lattice_count(hull_xy: np.ndarray) -> int:
    """Number of lattice points in or on a lattice polygon (Pick: ``A + B/2 + 1``); 0 for no vertices."""
    pts = hull_xy.tolist()
    n = len(pts)
    if n == 0:
        return 0
    twice_area = 0
    boundary = 0
    for k in range(n):
        x0, y0 = pts[k]
        x1, y1 = pts[(k + 1) % n]
        twice_area += x0 * y1 - x1 * y0
        boundary += math.gcd(x1 - x0, y1 - y0)
    if n == 2:  # a segment counted there and back
        return boundary // 2 + 1
    return (abs(twice_area) + boundary) // 2 + 1


def fill_centre_hull(hull_xy: np.ndarray, height: int, width: int) -> np.ndarray:
    """Digital convex hull as a ``bool`` (height, width) image: pixels whose centres are in or on the hull.

    Exact row-interval fill: the hull splits at its top and bottom vertices into two y-monotone chains,
    interpolated per row (OpenCV's ``fillConvexPoly`` also paints pixels just outside slanted edges).
    """
    out = np.zeros((height, width), dtype=bool)
    if len(hull_xy) == 0:
        return out
    x = hull_xy[:, 0].astype(np.float64)
    y = hull_xy[:, 1]
    top, bottom = int(y.min()), int(y.max())
    rows = np.arange(top, bottom + 1, dtype=np.float64)
    if top == bottom:
        x_left, x_right = np.array([x.min()]), np.array([x.max()])
    else:
        i0 = int(np.flatnonzero(y == top)[0])
        xs, ys = np.roll(x, -i0), np.roll(y, -i0)
        ib = int(np.flatnonzero(ys == bottom)[0])
        xa = np.interp(rows, ys[: ib + 1], xs[: ib + 1])
        ys2, xs2 = np.append(ys[ib:], ys[0])[::-1], np.append(xs[ib:], xs[0])[::-1]
        xb = np.interp(rows, ys2, xs2)
        x_left, x_right = np.minimum(xa, xb), np.maximum(xa, xb)
        on_top, on_bottom = y == top, y == bottom
        x_left[0], x_right[0] = x[on_top].min(), x[on_top].max()
        x_left[-1], x_right[-1] = x[on_bottom].min(), x[on_bottom].max()
    lo = np.ceil(x_left - _EPS)
    hi = np.floor(x_right + _EPS)
    cols = np.arange(width, dtype=np.float64)
    out[top : bottom + 1] = (cols >= lo[:, None]) & (cols <= hi[:, None])
    return out


class PolygonStack(NamedTuple):
    """Several lattice polygons stacked: vertices (V, 2) int64, owner polygon (V,), next vertex (V,)."""

    vertices: np.ndarray
    owner: np.ndarray
    next_vertex: np.ndarray
    starts: np.ndarray
    counts: np.ndarray


def stack_polygons(polygons: Sequence[np.ndarray]) -> PolygonStack:
    """Stack polygons given as (K_i, 2) integer vertex arrays in order (every K_i >= 1)."""
    counts = np.fromiter((len(p) for p in polygons), np.int64, len(polygons))
    if len(polygons) == 0:
        empty = np.zeros(0, np.int64)
        return PolygonStack(np.zeros((0, 2), np.int64), empty, empty, empty, counts)
    vertices = np.concatenate(polygons).reshape(-1, 2).astype(np.int64)
    starts = np.cumsum(counts) - counts
    owner = np.repeat(np.arange(len(polygons)), counts)
    next_vertex = np.arange(1, len(vertices) + 1)
    next_vertex[starts + counts - 1] = starts
    return PolygonStack(vertices, owner, next_vertex, starts, counts)


def pick_lattice_counts(polygons: Sequence[np.ndarray]) -> np.ndarray:
    """:func:`pick_lattice_count` of many lattice polygons at once (int64, one per polygon, each K >= 1)."""
    st = stack_polygons(polygons)
    if len(polygons) == 0:
        return np.zeros(0, np.int64)
    x, y = st.vertices[:, 0], st.vertices[:, 1]
    xn, yn = x[st.next_vertex], y[st.next_vertex]
    twice_area = np.abs(np.add.reduceat(x * yn - xn * y, st.starts))
    boundary = np.add.reduceat(np.gcd(xn - x, yn - y), st.starts)
    return np.where(st.counts == 2, boundary // 2 + 1, (twice_area + boundary) // 2 + 1)


def centre_hull_row_spans(polygons: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact row spans of the digital convex hulls of many centre hulls (integer arithmetic).

    For every polygon (K_i >= 1 lattice vertices in convex order) and every row ``y`` from its top to
    its bottom vertex: the first and last column whose pixel centre is in or on the polygon (``lo > hi``
    for a row without one, possible for degenerate hulls). Returns (owner, lo, hi), rows of a polygon
    consecutive and top to bottom; the same pixels as :func:`fill_centre_hull`.
    """
    st = stack_polygons(polygons)
    x, y = st.vertices[:, 0], st.vertices[:, 1]
    top = np.minimum.reduceat(y, st.starts)
    heights = np.maximum.reduceat(y, st.starts) - top + 1
    row_base = np.cumsum(heights) - heights - top  # global row index = row_base[owner] + y
    n_rows = int(heights.sum())
    lo = np.full(n_rows, np.iinfo(np.int64).max // 4, np.int64)
    hi = np.full(n_rows, np.iinfo(np.int64).min // 4, np.int64)
    # the vertices themselves, then every row strictly inside an edge: x = xa + t (xb - xa) / |dy|
    vertex_rows = row_base[st.owner] + y
    np.minimum.at(lo, vertex_rows, x)
    np.maximum.at(hi, vertex_rows, x)
    dy = y[st.next_vertex] - y
    inner = np.abs(dy) - 1
    edge = np.repeat(np.arange(len(x)), np.maximum(inner, 0))
    if len(edge):
        first = np.cumsum(np.maximum(inner, 0)) - np.maximum(inner, 0)
        t = np.arange(len(edge)) - first[edge] + 1
        den = np.abs(dy[edge])
        num = x[edge] * den + t * (x[st.next_vertex][edge] - x[edge])
        rows = row_base[st.owner[edge]] + y[edge] + np.sign(dy[edge]) * t
        np.minimum.at(lo, rows, -((-num) // den))  # ceil
        np.maximum.at(hi, rows, num // den)  # floor
    return np.repeat(np.arange(len(polygons)), heights), lo, hi


def _span_symdiff(lo1: np.ndarray, hi1: np.ndarray, lo2: np.ndarray, hi2: np.ndarray) -> np.ndarray:
    """Size of the symmetric difference of integer intervals [lo1, hi1] and [lo2, hi2] (empty if lo > hi)."""
    len1 = np.maximum(hi1 - lo1 + 1, 0)
    len2 = np.maximum(hi2 - lo2 + 1, 0)
    overlap = np.maximum(np.minimum(hi1, hi2) - np.maximum(lo1, lo2) + 1, 0)
    return len1 + len2 - 2 * overlap


def digital_hull_transitions(polygons: Sequence[np.ndarray]) -> np.ndarray:
    """Lattice transitions (0, 90, 45, 135 degrees) of the digital convex hulls, (n, 4) int64.

    Equal to :func:`flocshape.shape.perimeter.lattice_transitions` of the zero-padded
    :func:`fill_centre_hull` image, computed from the row spans without drawing it: along rows each
    non-empty span gives 2 transitions; between rows ``r`` and ``r + 1`` the 90, 45 and 135 degree
    transitions are the symmetric differences of span ``r`` with span ``r + 1`` shifted by 0, -1, +1.
    """
    n = len(polygons)
    if n == 0:
        return np.zeros((0, 4), np.int64)
    owner, lo, hi = centre_hull_row_spans(polygons)
    nonempty = np.bincount(owner, weights=(hi >= lo), minlength=n).astype(np.int64)
    length = np.maximum(hi - lo + 1, 0)
    is_last = np.append(owner[1:] != owner[:-1], True)
    is_first = np.append(True, is_last[:-1])
    # the rows above the top and below the bottom are empty: the end spans count fully, three times
    ends = np.bincount(owner, weights=length * (is_first.astype(np.int64) + is_last), minlength=n)
    upper = np.flatnonzero(~is_last)  # rows with a next row in the same polygon
    lo1, hi1, lo2, hi2 = lo[upper], hi[upper], lo[upper + 1], hi[upper + 1]
    out = np.empty((n, 4), np.int64)
    out[:, 0] = 2 * nonempty
    for column, shift in ((1, 0), (2, -1), (3, 1)):
        between = np.bincount(
            owner[upper], weights=_span_symdiff(lo1, hi1, lo2 + shift, hi2 + shift), minlength=n
        )
        out[:, column] = (between + ends).astype(np.int64)
    return out


def corner_hulls(centre_hulls: Sequence[np.ndarray]) -> list[np.ndarray]:
    """:func:`corner_hull` of many centre hulls, as the (M, 1, 2) float32 arrays of ``cv2.convexHull``.

    The corners of all hulls are built in one pass; the values are those of :func:`corner_hull`
    (half-integers, exact in float32).
    """
    if len(centre_hulls) == 0:
        return []
    counts = np.fromiter((4 * len(h) for h in centre_hulls), np.int64, len(centre_hulls))
    centres = np.concatenate(centre_hulls).reshape(-1, 2).astype(np.float64)
    corners = (centres[:, None, :] + _CORNER_OFFSETS[None]).reshape(-1, 2).astype(np.float32)
    ends = np.cumsum(counts).tolist()
    return [
        cv2.convexHull(corners[end - count : end]) for end, count in zip(ends, counts.tolist(), strict=True)
    ]
