"""Feret (caliper) diameters of a convex polygon, exactly (no angular sweep).

The product measures them on the convex hull of the pixel corners, as ImageJ does: a single pixel has
``feret_max = sqrt(2)`` and ``feret_min = 1``.

* ``feret_max``: the largest distance between two hull vertices (the diameter of a convex polygon is
  attained at vertices).
* ``feret_min``: the minimal caliper width; for a convex polygon it is attained with one caliper flush
  with a hull edge, so it is ``min over edges of max over vertices of the distance to that edge's line``
  (rotating calipers; same as ImageJ's ``MinFeret``).
* Angles are in degrees in ``[0, 180)``, counter-clockwise from the +x (column) axis *as displayed*
  (image y points down, so a chord going up-right has a positive angle), like ImageJ's ``FeretAngle``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class FeretDiameters(NamedTuple):
    """Feret diameters (px) and angles (degrees, see module docstring)."""

    max_px: float
    min_px: float
    max_angle_deg: float
    min_angle_deg: float


def display_angle_deg(dx: float, dy: float) -> float:
    """Angle of the direction (dx, dy) in image coordinates (y down), degrees in [0, 180), ccw as displayed."""
    angle = math.degrees(math.atan2(-dy, dx)) % 180.0
    return 0.0 if angle >= 180.0 - 1e-9 else angle


def feret_diameters(hull: np.ndarray) -> FeretDiameters:
    """Exact max/min Feret of a convex polygon given by its (K, 2) vertices in order (K >= 3)."""
    v = np.asarray(hull, dtype=np.float64)
    x, y = v[:, 0], v[:, 1]
    dx_all = x[:, None] - x[None, :]
    dy_all = y[:, None] - y[None, :]
    dist2 = dx_all * dx_all + dy_all * dy_all
    flat = int(dist2.argmax())
    i, j = divmod(flat, len(v))
    max_px = math.sqrt(float(dist2[i, j]))
    ex = np.append(x[1:], x[0]) - x
    ey = np.append(y[1:], y[0]) - y
    lengths = np.hypot(ex, ey)
    keep = lengths > 0
    nx, ny = -ey[keep] / lengths[keep], ex[keep] / lengths[keep]
    # distance of every vertex to every edge line, (edges, vertices)
    dist = np.abs(nx[:, None] * (x[None, :] - x[keep, None]) + ny[:, None] * (y[None, :] - y[keep, None]))
    widths = dist.max(axis=1)
    k = int(widths.argmin())
    return FeretDiameters(
        max_px=max_px,
        min_px=float(widths[k]),
        max_angle_deg=display_angle_deg(float(x[i] - x[j]), float(y[i] - y[j])),
        min_angle_deg=display_angle_deg(float(nx[k]), float(ny[k])),
    )


# Elements of the (particles, vertices, vertices) arrays of one batch of feret_diameters_batch.
_BATCH_ELEMENTS = 200_000
# A group's largest vertex count is at most this multiple of its smallest (limits the padding work).
_GROUP_SIZE_RATIO = 1.25


def _feret_group(hulls: Sequence[np.ndarray]) -> list[FeretDiameters]:
    """:func:`feret_diameters` of hulls stacked into one (G, K, 2) array, padded with their last vertex.

    The padding repeats a vertex, so it changes neither the maxima nor which pair or edge comes first
    in row-major order (the zero-length edges it adds are skipped as in the single version): the
    results are identical to :func:`feret_diameters`, element by element.
    """
    k_max = max(len(h) for h in hulls)
    v = np.empty((len(hulls), k_max, 2), np.float64)
    for g, hull in enumerate(hulls):
        h = hull.reshape(-1, 2)
        v[g, : len(h)] = h
        v[g, len(h) :] = h[-1]
    x, y = v[:, :, 0], v[:, :, 1]
    dx_all = x[:, :, None] - x[:, None, :]
    dy_all = y[:, :, None] - y[:, None, :]
    dist2 = (dx_all * dx_all + dy_all * dy_all).reshape(len(hulls), -1)
    flat = dist2.argmax(axis=1)
    ex = np.roll(x, -1, axis=1) - x
    ey = np.roll(y, -1, axis=1) - y
    lengths = np.hypot(ex, ey)
    with np.errstate(divide="ignore", invalid="ignore"):
        nx, ny = -ey / lengths, ex / lengths
        dist = np.abs(
            nx[:, :, None] * (x[:, None, :] - x[:, :, None])
            + ny[:, :, None] * (y[:, None, :] - y[:, :, None])
        )
    widths = dist.max(axis=2)
    widths[~(lengths > 0)] = np.inf
    rows = np.arange(len(hulls))
    edge = widths.argmin(axis=1)
    i, j = np.divmod(flat, k_max)
    columns = zip(
        dist2[rows, flat].tolist(),
        widths[rows, edge].tolist(),
        (x[rows, i] - x[rows, j]).tolist(),
        (y[rows, i] - y[rows, j]).tolist(),
        nx[rows, edge].tolist(),
        ny[rows, edge].tolist(),
        strict=True,
    )
    return [
        FeretDiameters(math.sqrt(d2), width, display_angle_deg(cx, cy), display_angle_deg(nxk, nyk))
        for d2, width, cx, cy, nxk, nyk in columns
    ]


def feret_diameters_batch(hulls: Sequence[np.ndarray]) -> list[FeretDiameters]:
    """:func:`feret_diameters` of many convex polygons ((K_i, 2) or (K_i, 1, 2) vertices, K_i >= 3).

    Vectorised over polygons of similar vertex count; identical results to the single version.
    """
    sizes = np.fromiter((len(h) for h in hulls), np.int64, len(hulls))
    order = np.argsort(sizes, kind="stable").tolist()
    out: list[FeretDiameters | None] = [None] * len(hulls)
    start = 0
    while start < len(order):
        stop = start + 1
        first = int(sizes[order[start]])
        while stop < len(order):
            k = int(sizes[order[stop]])
            if (stop - start + 1) * k * k > _BATCH_ELEMENTS or k > _GROUP_SIZE_RATIO * first:
                break
            stop += 1
        group = order[start:stop]
        for index, result in zip(group, _feret_group([hulls[i] for i in group]), strict=True):
            out[index] = result
        start = stop
    return out  # type: ignore[return-value]
