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
from collections.abc import Sequence
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
    """Sobel gradient magnitude (float32, grey levels per px: the 3x3 response / 8), replicated borders.

    Deterministic and correctly rounded: for uint8 input the two Sobel responses are exact integers
    ``kx, ky`` and the result is ``sqrt(kx^2 + ky^2) / 8`` rounded once to float32 (``cv2.magnitude``
    is neither: it is off by up to ~3e-6 and its result for a pixel depends on the thread split).
    """
    if grey.dtype == np.uint8:
        kx = cv2.Sobel(grey, cv2.CV_16S, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE).astype(np.int32)
        ky = cv2.Sobel(grey, cv2.CV_16S, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE).astype(np.int32)
        squared = kx * kx
        squared += ky * ky  # <= 2 * 1020^2 < 2^24: exact in float32
        magnitude = np.sqrt(squared.astype(np.float32))
        magnitude *= np.float32(0.125)
        return magnitude
    f = grey.astype(np.float32)
    gx = cv2.Sobel(f, cv2.CV_32F, 1, 0, ksize=3, scale=0.125, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.Sobel(f, cv2.CV_32F, 0, 1, ksize=3, scale=0.125, borderType=cv2.BORDER_REPLICATE)
    return np.sqrt(gx * gx + gy * gy)


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


class IntensityColumns(NamedTuple):
    """:class:`IntensityDescriptors` of many particles, one float64 array per descriptor."""

    mean_intensity: np.ndarray
    contrast: np.ndarray
    sharpness: np.ndarray
    sharpness_norm: np.ndarray


class _Atlas(NamedTuple):
    """Particle masks packed side by side, each with a margin; see :func:`intensity_columns`."""

    mask: np.ndarray  # uint8 0/1
    owner: np.ndarray  # int32 index of the particle whose tile covers the pixel, -1 for none
    frame_dx: np.ndarray  # per particle: frame x = atlas x + frame_dx
    frame_dy: np.ndarray


_ATLAS_MIN_WIDTH = 2048


def _pack_atlas(masks: Sequence[np.ndarray], xs: Sequence[int], ys: Sequence[int], margin: int) -> _Atlas:
    """Shelf-pack the masks (tallest first), each in a tile with ``margin`` background pixels around it."""
    heights = np.fromiter((m.shape[0] + 2 * margin for m in masks), np.int64, len(masks))
    widths = np.fromiter((m.shape[1] + 2 * margin for m in masks), np.int64, len(masks))
    atlas_w = max(_ATLAS_MIN_WIDTH, int(widths.max()))
    tile_x = np.zeros(len(masks), np.int64)
    tile_y = np.zeros(len(masks), np.int64)
    cursor_x = shelf_y = shelf_h = 0
    for k in np.argsort(-heights, kind="stable").tolist():
        if cursor_x + widths[k] > atlas_w:
            cursor_x, shelf_y, shelf_h = 0, shelf_y + shelf_h, 0
        tile_x[k], tile_y[k] = cursor_x, shelf_y
        cursor_x += int(widths[k])
        shelf_h = max(shelf_h, int(heights[k]))
    atlas = np.zeros((shelf_y + shelf_h, atlas_w), np.uint8)
    owner = np.full(atlas.shape, -1, np.int32)
    for k, (m, tx, ty) in enumerate(zip(masks, tile_x.tolist(), tile_y.tolist(), strict=True)):
        atlas[ty + margin : ty + margin + m.shape[0], tx + margin : tx + margin + m.shape[1]] = m
        owner[ty : ty + heights[k], tx : tx + widths[k]] = k
    frame_dx = np.asarray(xs, np.int64) - margin - tile_x
    frame_dy = np.asarray(ys, np.int64) - margin - tile_y
    return _Atlas(atlas, owner, frame_dx, frame_dy)


def _sums_over(
    atlas: _Atlas,
    selected: np.ndarray,
    values: np.ndarray,
    window_hw: tuple[int, int],
    exclude: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per particle: sum of ``values`` and pixel count over the ``selected`` atlas pixels in the window.

    ``values`` / ``exclude`` are window-sized images; atlas pixels outside the window, or where
    ``exclude`` is set, are skipped. The sums run in float64; for the uint8 grey levels and the
    gradient magnitudes (multiples of 2^-26 below 2^27 in total) every partial sum is exact, so they do
    not depend on the summation order.
    """
    n = len(atlas.frame_dx)
    ay, ax = np.nonzero(selected)
    k = atlas.owner[ay, ax]
    fy, fx = ay + atlas.frame_dy[k], ax + atlas.frame_dx[k]
    inside = (fy >= 0) & (fy < window_hw[0]) & (fx >= 0) & (fx < window_hw[1])
    if not inside.all():
        k, fy, fx = k[inside], fy[inside], fx[inside]
    if exclude is not None:
        keep = ~exclude[fy, fx]
        k, fy, fx = k[keep], fy[keep], fx[keep]
    sums = np.bincount(k, weights=values[fy, fx], minlength=n)
    return sums, np.bincount(k, minlength=n)


def intensity_columns(
    masks: Sequence[np.ndarray],
    xs: Sequence[int],
    ys: Sequence[int],
    grey: np.ndarray,
    occupied: np.ndarray | None,
    gradient: np.ndarray,
) -> IntensityColumns:
    """:func:`intensity_descriptors` of many particles at once, with identical results.

    ``masks[k]``: uint8 0/1 image of particle k (non-empty), its top-left pixel at window column
    ``xs[k]``, row ``ys[k]``. ``grey``, ``gradient`` (and ``occupied``) cover the window, normally the
    whole frame; ring and band pixels outside it do not count, as for the frame-clipped region of the
    single version. All particles are packed into one atlas (each tile keeps a background margin wider
    than the ring), so the ring dilation, the boundary band and the three masked sums run once per
    frame instead of once per particle.
    """
    margin = RING_WIDTH_PX + 1
    atlas = _pack_atlas(masks, xs, ys, margin)
    window_hw = grey.shape
    ring = cv2.compare(cv2.dilate(atlas.mask, _RING_KERNEL), atlas.mask, cv2.CMP_GT)
    band = cv2.morphologyEx(
        atlas.mask, cv2.MORPH_GRADIENT, _BAND_KERNEL, borderType=cv2.BORDER_CONSTANT, borderValue=0
    )
    sum_in, n_in = _sums_over(atlas, atlas.mask, grey, window_hw)
    sum_ring, n_ring = _sums_over(atlas, ring, grey, window_hw, occupied)
    sum_band, n_band = _sums_over(atlas, band, gradient, window_hw)
    mean_in, contrast, sharpness, norm = [], [], [], []
    for s_in, c_in, s_ring, c_ring, s_band, c_band in zip(
        sum_in.tolist(),
        n_in.tolist(),
        sum_ring.tolist(),
        n_ring.tolist(),
        sum_band.tolist(),
        n_band.tolist(),
        strict=True,
    ):
        mean_inside = s_in / c_in
        con = mean_inside - s_ring / c_ring if c_ring else math.nan
        sharp = s_band / c_band if c_band else math.nan
        mean_in.append(mean_inside)
        contrast.append(con)
        sharpness.append(sharp)
        norm.append(sharp / abs(con) if abs(con) >= MIN_CONTRAST_FOR_NORM else math.nan)
    return IntensityColumns(*(np.asarray(c, np.float64) for c in (mean_in, contrast, sharpness, norm)))
