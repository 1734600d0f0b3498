"""Defocus: blur sigma from depth, and a fast Gaussian blur for large sigmas."""

from __future__ import annotations

import cv2
import numpy as np

MIN_SIGMA_PX = 0.6
"""Blur every particle at least this much (px): the optics never image a perfectly sharp edge."""


def blur_sigma_px(depth: float, blur_per_depth_px: float) -> float:
    """Defocus blur sigma (px) of a particle at ``depth`` (0 = focal plane; sign does not matter)."""
    return abs(depth) * blur_per_depth_px


def downscale_factor(sigma_px: float) -> int:
    """Integer factor to render a blurred layer at; the blur there is still >= 2.5 px."""
    return max(1, int(sigma_px // 2.5))


def gaussian_blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur with sigma ``sigma_px`` (no-op below 0.05 px); borders replicate."""
    if sigma_px < 0.05:
        return image
    return cv2.GaussianBlur(image, (0, 0), sigma_px, borderType=cv2.BORDER_REPLICATE)
