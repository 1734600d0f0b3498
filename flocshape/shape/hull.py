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
