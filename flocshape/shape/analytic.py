"""Analytic test shapes and their exact descriptors, for accuracy tests and the accuracy benchmark.

Digitisation is the pixel-centre test: pixel (row i, column j) belongs to the shape when its centre
``(j + 0.5, i + 0.5)`` lies inside the continuous shape. With a random sub-pixel position the pixel
count is then an unbiased estimate of the area. Angles: ``angle_deg`` rotates the shape
counter-clockwise *as displayed* (image y down).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.special import ellipe


class AnalyticShape(NamedTuple):
    """A digitised shape (bool mask) and its exact continuous descriptors (px, px^2)."""

    kind: str
    mask: np.ndarray
    area_px: float
    perimeter_px: float
    feret_max_px: float
    feret_min_px: float
    ellipse_major_px: float
    ellipse_minor_px: float


def _frame(
    extent: float, cx: float, cy: float, margin: int = 3
) -> tuple[np.ndarray, np.ndarray, float, float]:
    size = int(math.ceil(extent)) + 2 * margin
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    ox, oy = size / 2 + cx, size / 2 + cy
    return xs + 0.5 - ox, ys + 0.5 - oy, ox, oy


def _rotate(dx: np.ndarray, dy: np.ndarray, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates in the shape's own frame (u along its first axis), y down, ccw as displayed."""
    t = math.radians(angle_deg)
    c, s = math.cos(t), math.sin(t)
    return dx * c - dy * s, dx * s + dy * c


def ellipse(a: float, b: float, angle_deg: float = 0.0, cx: float = 0.0, cy: float = 0.0) -> AnalyticShape:
    """Ellipse with semi-axes ``a >= b`` (px), rotated, centred at a sub-pixel offset (cx, cy)."""
    dx, dy, _, _ = _frame(2 * a, cx, cy)
    u, v = _rotate(dx, dy, angle_deg)
    mask = (u / a) ** 2 + (v / b) ** 2 <= 1.0
    m = 1.0 - (b / a) ** 2
    perimeter = 4.0 * a * float(ellipe(m))
    return AnalyticShape(
        "ellipse" if a != b else "disc", mask, math.pi * a * b, perimeter, 2 * a, 2 * b, 2 * a, 2 * b
    )


def disc(r: float, cx: float = 0.0, cy: float = 0.0) -> AnalyticShape:
    """Disc of radius ``r`` px."""
    return ellipse(r, r, 0.0, cx, cy)


def rectangle(w: float, h: float, angle_deg: float = 0.0, cx: float = 0.0, cy: float = 0.0) -> AnalyticShape:
    """Rectangle ``w >= h`` (px), rotated; a square when ``w == h``."""
    dx, dy, _, _ = _frame(math.hypot(w, h), cx, cy)
    u, v = _rotate(dx, dy, angle_deg)
    mask = (np.abs(u) <= w / 2) & (np.abs(v) <= h / 2)
    # moment ellipse of a rectangle: variance w^2/12 -> full axis 4*sqrt(w^2/12)
    return AnalyticShape(
        "square" if w == h else "rectangle",
        mask,
        w * h,
        2 * (w + h),
        math.hypot(w, h),
        min(w, h),
        4 * math.sqrt(w * w / 12),
        4 * math.sqrt(h * h / 12),
    )
