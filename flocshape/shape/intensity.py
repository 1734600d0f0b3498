"""Grey-level descriptors of one particle: mean intensity, contrast against a ring, boundary sharpness.

Conventions
-----------
* ``grey`` is the frame as 2-D ``uint8`` (0-255); RGB frames are converted with OpenCV's BT.601 weights.
* The *ring* is the set of pixels within ``RING_WIDTH_PX`` (Euclidean disc structuring element) of the
  particle, outside it and outside every other instance of the same frame (``occupied``), clipped to
  the frame. ``contrast = mean(inside) - mean(ring)`` in grey levels (positive = brighter particle);
  NaN when the ring is empty.
* ``sharpness``: mean Sobel gradient magnitude (grey levels per px; the 3x3 Sobel response divided by
  8) over the *boundary band*, the pixels within one pixel of the particle outline on either side
  (dilation minus erosion with a 3x3 square). A focused edge is steep, a blurred one is shallow.
* ``sharpness_norm = sharpness / |contrast|`` (1/px): independent of the particle's brightness; for a
  step edge blurred by a Gaussian of sigma ``s`` px it falls roughly like ``1/(s sqrt(2 pi))``. NaN when
  ``|contrast| < 1`` grey level.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np

RING_WIDTH_PX = 3
MIN_CONTRAST_FOR_NORM = 1.0
_RING_KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * RING_WIDTH_PX + 1, 2 * RING_WIDTH_PX + 1))
_BAND_KERNEL = np.ones((3, 3), np.uint8)


class IntensityDescriptors(NamedTuple):
    """Grey-level descriptors of one particle (see module docstring)."""

    mean_intensity: float
    contrast: float
    sharpness: float
    sharpness_norm: float


NO_INTENSITY = IntensityDescriptors(math.nan, math.nan, math.nan, math.nan)


def to_grey(image: np.ndarray) -> np.ndarray:
    """A frame as 2-D uint8 grey: grey passes through, (H, W, 3) RGB and (H, W, 4) RGBA are converted."""
    img = np.asarray(image)
    if img.dtype != np.uint8:
        raise ValueError(f"image dtype {img.dtype} is not uint8")
    if img.ndim == 2:
        return img
    if img.ndim == 3 and img.shape[2] == 1:
        return img[:, :, 0]
    if img.ndim == 3 and img.shape[2] == 3:
        return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    if img.ndim == 3 and img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_RGBA2GRAY)
    raise ValueError(f"image of shape {img.shape} is neither grey nor RGB")


def gradient_magnitude(grey: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude (float32, grey levels per px: the 3x3 response / 8), replicated borders."""
    f = grey.astype(np.float32)
    gx = cv2.Sobel(f, cv2.CV_32F, 1, 0, ksize=3, scale=0.125, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.Sobel(f, cv2.CV_32F, 0, 1, ksize=3, scale=0.125, borderType=cv2.BORDER_REPLICATE)
    return cv2.magnitude(gx, gy)


def intensity_descriptors(
    grey: np.ndarray,
    crop: np.ndarray,
    x0: int,
    y0: int,
    occupied: np.ndarray | None = None,
    gradient: np.ndarray | None = None,
) -> IntensityDescriptors:
    """Descriptors of the particle ``crop`` (bool, its bounding box) whose top-left pixel is (x0, y0).

    ``gradient``: :func:`gradient_magnitude` of the whole frame (computed once per frame by the caller),
    or None to compute it on the crop's neighbourhood (same values away from the frame edge).
    """
    frame_h, frame_w = grey.shape
    h, w = crop.shape
    margin = RING_WIDTH_PX + 1
    rx0, ry0 = max(x0 - margin, 0), max(y0 - margin, 0)
    rx1, ry1 = min(x0 + w + margin, frame_w), min(y0 + h + margin, frame_h)
    region = grey[ry0:ry1, rx0:rx1]
    inside = np.zeros(region.shape, np.uint8)
    inside[y0 - ry0 : y0 - ry0 + h, x0 - rx0 : x0 - rx0 + w] = crop
    inside_b = inside.astype(bool)
    if not inside_b.any():
        return NO_INTENSITY
    ring = cv2.dilate(inside, _RING_KERNEL).astype(bool) & ~inside_b
    if occupied is not None:
        ring &= ~occupied[ry0:ry1, rx0:rx1]
    n_inside = int(np.count_nonzero(inside_b))
    mean_inside = float(region[inside_b].sum(dtype=np.int64)) / n_inside
    n_ring = int(np.count_nonzero(ring))
    contrast = mean_inside - float(region[ring].sum(dtype=np.int64)) / n_ring if n_ring else math.nan
    # dilation minus erosion (3x3) in one call; outside the region counts as background
    band = cv2.morphologyEx(
        inside, cv2.MORPH_GRADIENT, _BAND_KERNEL, borderType=cv2.BORDER_CONSTANT, borderValue=0
    ).astype(bool)
    grad = gradient[ry0:ry1, rx0:rx1] if gradient is not None else gradient_magnitude(region)
    sharpness = float(grad[band].sum(dtype=np.float64)) / int(np.count_nonzero(band))
    norm = sharpness / abs(contrast) if abs(contrast) >= MIN_CONTRAST_FOR_NORM else math.nan
    return IntensityDescriptors(mean_inside, contrast, sharpness, norm)
