"""Moment ellipse of a pixel set.

Convention: the ellipse with the same second central moments as the *pixel squares* (not the pixel
centres), i.e. the covariance of the pixel centres plus ``1/12`` on the diagonal (the variance of a
uniform unit pixel). For a continuous ellipse with full axes ``2a >= 2b`` the covariance eigenvalues are
``a^2/4, b^2/4``, so ``major = 4 sqrt(lambda_1)`` and ``minor = 4 sqrt(lambda_2)`` are full axis
lengths in px. scikit-image's ``axis_major_length`` is the same without the ``1/12`` term
(``major_skimage^2 = major^2 - 4/3``); the 1/12 term makes a single pixel a disc of diameter
``4/sqrt(12) = 1.15`` px instead of a point. Orientation is the major-axis angle in degrees in
``[0, 180)``, counter-clockwise from +x as displayed (image y down), the same convention as the Feret
angle.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from flocshape.shape.feret import display_angle_deg

PIXEL_VARIANCE = 1.0 / 12.0


class MomentEllipse(NamedTuple):
    """Full axis lengths (px) and orientation (degrees)."""

    major_px: float
    minor_px: float
    orientation_deg: float


def covariance_axes(var_x: float, var_y: float, cov_xy: float) -> tuple[float, float, float]:
    """Eigenvalues ``lambda_1 >= lambda_2 >= 0`` of a 2-D covariance (px^2) and the major-axis direction (radians,
    in the coordinates of the covariance)."""
    mean = 0.5 * (var_x + var_y)
    half_diff = math.hypot(0.5 * (var_x - var_y), cov_xy)
    return mean + half_diff, max(mean - half_diff, 0.0), 0.5 * math.atan2(2.0 * cov_xy, var_x - var_y)


def moment_ellipse(var_x: float, var_y: float, cov_xy: float) -> MomentEllipse:
    """Ellipse from the (population) covariance of the pixel centres, in image coordinates (y down)."""
    lam1, lam2, theta = covariance_axes(var_x + PIXEL_VARIANCE, var_y + PIXEL_VARIANCE, cov_xy)
    return MomentEllipse(
        major_px=4.0 * math.sqrt(lam1),
        minor_px=4.0 * math.sqrt(lam2),
        orientation_deg=display_angle_deg(math.cos(theta), math.sin(theta)),
    )
