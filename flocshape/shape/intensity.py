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
    """Particle masks packed side by side in tiles with a background margin; see :func:`intensity_columns`."""

    labels: np.ndarray  # uint16, particle index + 1 on its pixels, 0 elsewhere; width = padded window width
    shift: np.ndarray  # per particle: padded-window flat index = atlas flat index + shift


_MAX_LABELS = np.iinfo(np.uint16).max


def _pack_atlas(
    masks: Sequence[np.ndarray], xs: np.ndarray, ys: np.ndarray, margin: int, width: int
) -> _Atlas:
    """Shelf-pack the masks (tallest first), each in a tile with ``margin`` background pixels around it.

    ``xs, ys``: top-left of each mask in padded-window coordinates (its tile starts ``margin`` earlier);
    ``width``: the padded window's width, also the atlas width (no tile is wider).
    """
    heights = np.fromiter((m.shape[0] + 2 * margin for m in masks), np.int64, len(masks))
    widths = np.fromiter((m.shape[1] + 2 * margin for m in masks), np.int64, len(masks))
    tile_x = np.zeros(len(masks), np.int64)
    tile_y = np.zeros(len(masks), np.int64)
    cursor_x = shelf_y = shelf_h = 0
    for k in np.argsort(-heights, kind="stable").tolist():
        if cursor_x + widths[k] > width:
            cursor_x, shelf_y, shelf_h = 0, shelf_y + shelf_h, 0
        tile_x[k], tile_y[k] = cursor_x, shelf_y
        cursor_x += int(widths[k])
        shelf_h = max(shelf_h, int(heights[k]))
    labels = np.zeros((shelf_y + shelf_h, width), np.uint16)
    for k, (m, tx, ty) in enumerate(zip(masks, tile_x.tolist(), tile_y.tolist(), strict=True)):
        tile = labels[ty + margin : ty + margin + m.shape[0], tx + margin : tx + margin + m.shape[1]]
        np.multiply(m, np.uint16(k + 1), out=tile, casting="unsafe")  # m is 0/1
    shift = (ys - margin - tile_y) * width + (xs - margin - tile_x)
    return _Atlas(labels, shift)


def _sums(owner: np.ndarray, where: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per particle (``owner``, 0-based): the float64 sum of ``values`` and the count over ``where``."""
    k = owner[where]
    return np.bincount(k, weights=values, minlength=n), np.bincount(k, minlength=n)


def _sobel_magnitude_at(grey_flat: np.ndarray, index: np.ndarray, width: int) -> np.ndarray:
    """:func:`gradient_magnitude` at the flat ``index`` of a uint8 image of row length ``width``.

    Every index must have its 8 neighbours in the image; the values are identical (exact integer
    Sobel responses, one float32 rounding).
    """
    up, down = index - width, index + width

    def at(where: np.ndarray) -> np.ndarray:
        return grey_flat[where].astype(np.int32)

    up_left, up_right, down_left, down_right = at(up - 1), at(up + 1), at(down - 1), at(down + 1)
    kx = up_right + down_right - up_left - down_left + 2 * (at(index + 1) - at(index - 1))
    ky = down_left + down_right - up_left - up_right + 2 * (at(down) - at(up))
    magnitude = np.sqrt((kx * kx + ky * ky).astype(np.float32))
    magnitude *= np.float32(0.125)
    return magnitude


def intensity_columns(
    masks: Sequence[np.ndarray],
    xs: Sequence[int],
    ys: Sequence[int],
    grey: np.ndarray,
    occupied: np.ndarray | None = None,
    gradient: np.ndarray | None = None,
) -> IntensityColumns:
    """:func:`intensity_descriptors` of many particles at once, with identical results.

    ``masks[k]``: bool or 0/1 image of particle k (at least one pixel set), its top-left pixel at
    column ``xs[k]``, row ``ys[k]`` of the window that ``grey`` (2-D uint8; normally the frame) covers;
    its non-zero pixels must lie in the window. ``occupied`` (same size, bool): pixels kept out of the
    contrast ring. ``gradient``: :func:`gradient_magnitude` of the window, or None to evaluate it only
    at the boundary-band pixels (same values). Ring and band pixels outside the window do not count,
    as for the frame-clipped region of the single version.

    All particles are packed into one atlas of labels, every tile with a background margin wider than
    the ring, so the ring dilation and the boundary band (morphological gradient) run once, and the
    sums are three ``bincount`` calls. The sums run in float64; for grey levels and gradient magnitudes
    (multiples of 2^-26 below 2^27 in total) every partial sum is exact, independent of the order.
    """
    n = len(masks)
    if n > _MAX_LABELS:  # uint16 atlas labels: split
        parts = [
            intensity_columns(
                masks[i : i + _MAX_LABELS],
                xs[i : i + _MAX_LABELS],
                ys[i : i + _MAX_LABELS],
                grey,
                occupied,
                gradient,
            )
            for i in range(0, n, _MAX_LABELS)
        ]
        return IntensityColumns(*(np.concatenate(c) for c in zip(*parts, strict=True)))
    margin = RING_WIDTH_PX + 1
    height, width = grey.shape
    x_arr, y_arr = np.asarray(xs, np.int64), np.asarray(ys, np.int64)
    right = max(int((x_arr + [m.shape[1] for m in masks]).max()) - width, 0)
    bottom = max(int((y_arr + [m.shape[0] for m in masks]).max()) - height, 0)
    border = margin + max(0, -int(x_arr.min()), -int(y_arr.min()), right, bottom)
    padded_w = width + 2 * border

    def pad(image: np.ndarray, how: int, value: int = 0) -> np.ndarray:
        return cv2.copyMakeBorder(image, border, border, border, border, how, value=value).reshape(-1)

    atlas = _pack_atlas(masks, x_arr + border, y_arr + border, margin, padded_w)
    labels = atlas.labels
    outside = pad(np.zeros((height, width), np.uint8), cv2.BORDER_CONSTANT, 1).view(bool)
    grey_p = pad(grey, cv2.BORDER_REPLICATE)
    # inside: every particle pixel (all in the window)
    where = np.flatnonzero(labels.reshape(-1) != 0)
    owner = labels.reshape(-1)[where].astype(np.int64) - 1
    sum_in, n_in = _sums(owner, slice(None), grey_p[where + atlas.shift[owner]], n)
    # ring: within RING_WIDTH_PX of the particle, outside it, in the window and not occupied
    dilated = cv2.dilate(labels, _RING_KERNEL).reshape(-1)
    where = np.flatnonzero((dilated != 0) & (labels.reshape(-1) == 0))
    owner = dilated[where].astype(np.int64) - 1
    index = where + atlas.shift[owner]
    if occupied is None:
        excluded = outside
    else:
        excluded = pad(np.asarray(occupied, bool).view(np.uint8), cv2.BORDER_CONSTANT, 1).view(bool)
    keep = ~excluded[index]
    sum_ring, n_ring = _sums(owner, keep, grey_p[index[keep]], n)
    # boundary band: dilation minus erosion (3x3), in the window
    band = cv2.morphologyEx(
        labels, cv2.MORPH_GRADIENT, _BAND_KERNEL, borderType=cv2.BORDER_CONSTANT, borderValue=0
    ).reshape(-1)
    where = np.flatnonzero(band != 0)
    owner = band[where].astype(np.int64) - 1
    index = where + atlas.shift[owner]
    keep = ~outside[index]
    index = index[keep]
    if gradient is None:
        band_values = _sobel_magnitude_at(grey_p, index, padded_w)
    else:
        band_values = pad(gradient, cv2.BORDER_CONSTANT)[index]
    sum_band, n_band = _sums(owner, keep, band_values, n)
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
