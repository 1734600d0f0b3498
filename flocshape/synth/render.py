"""Drawing particles and bubbles onto a float32 grey canvas (0-255), each in its own bounding-box crop.

A particle is drawn as a premultiplied layer: alpha = anti-aliased outline x opacity x fluffy texture,
colour = alpha x brightness x texture, both blurred by the particle's defocus sigma (at reduced resolution
when the blur is large, see :func:`flocshape.synth.optics.downscale_factor`), then composited "over":
``canvas = canvas * (1 - alpha) + colour``. Particles are drawn back to front (largest depth first).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from shapely.geometry.base import BaseGeometry

from flocshape.synth.geometry import polygon_parts
from flocshape.synth.optics import MIN_SIGMA_PX, downscale_factor, gaussian_blur

_SUB = 16  # sub-pixel precision of cv2.fillPoly (shift=4)


def fill_coverage(
    shape: tuple[int, int], geom: BaseGeometry, origin: tuple[float, float], factor: int
) -> np.ndarray:
    """Anti-aliased coverage (float32 0-1) of ``geom`` on a grid of ``shape`` at ``origin``, 1/``factor`` res.

    Pixel (i, j) of the grid covers frame pixels starting at ``origin + factor * (j, i)``.
    """
    canvas = np.zeros(shape, np.uint8)
    ox, oy = origin
    for part in polygon_parts(geom):
        rings = [part.exterior, *part.interiors]
        for k, ring in enumerate(rings):
            xy = (np.asarray(ring.coords)[:-1] - (ox, oy)) / factor
            # cv2 samples pixel centres at integer coordinates; ours are at +0.5
            pts = np.round((xy - 0.5) * _SUB).astype(np.int32)
            cv2.fillPoly(canvas, [pts], 255 if k == 0 else 0, lineType=cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) * (1.0 / 255.0)


def texture_crop(texture: np.ndarray, offset: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """A ``shape`` window of the square ``texture`` bank at ``offset`` (resized when larger than the bank)."""
    h, w = shape
    size = texture.shape[0]
    if h > size or w > size:
        return cv2.resize(texture, (w, h), interpolation=cv2.INTER_LINEAR)
    oy, ox = offset[0] % (size - h + 1), offset[1] % (size - w + 1)
    return texture[oy : oy + h, ox : ox + w]


def padded_window(
    geom: BaseGeometry, pad: int, shape: tuple[int, ...]
) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    """The outline's integer bounds grown by ``pad`` px, ``(x0, y0, x1, y1)``, and that window clipped to a frame
    of ``shape`` (rows, columns), ``(cx0, cy0, cx1, cy1)``; empty when ``cx0 >= cx1`` or ``cy0 >= cy1``."""
    minx, miny, maxx, maxy = geom.bounds
    x0, y0 = int(math.floor(minx)) - pad, int(math.floor(miny)) - pad
    x1, y1 = int(math.ceil(maxx)) + pad, int(math.ceil(maxy)) + pad
    h, w = shape[:2]
    return (x0, y0, x1, y1), (max(x0, 0), max(y0, 0), min(x1, w), min(y1, h))


def render_particle(
    canvas: np.ndarray,
    geom: BaseGeometry,
    sigma_px: float,
    brightness: float,
    opacity: float,
    texture: np.ndarray,
    texture_offset: tuple[int, int],
) -> None:
    """Composite one particle (outline ``geom`` in frame px) onto ``canvas`` in place."""
    if geom.is_empty:
        return
    sigma = max(sigma_px, MIN_SIGMA_PX)
    factor = downscale_factor(sigma)
    (x0, y0, x1, y1), (cx0, cy0, cx1, cy1) = padded_window(
        geom, int(math.ceil(3.0 * sigma)) + 2, canvas.shape
    )
    if cx0 >= cx1 or cy0 >= cy1:
        return
    small = (int(math.ceil((y1 - y0) / factor)), int(math.ceil((x1 - x0) / factor)))
    cover = fill_coverage(small, geom, (x0, y0), factor)
    tex = texture_crop(texture, texture_offset, small)
    # fluffy edge: alpha fades over the outer ~1.5 px, broken up by the fine texture
    inner = np.clip((gaussian_blur(cover, 1.2 / factor) - 0.35) * 2.0, 0.0, 1.0)
    alpha = cover * (opacity * (0.75 + 0.25 * tex)) * (0.45 + 0.55 * inner * (0.7 + 0.3 * tex))
    colour = alpha * (brightness * (0.84 + 0.16 * tex))
    alpha = gaussian_blur(alpha, sigma / factor)
    colour = gaussian_blur(colour, sigma / factor)
    if factor > 1:
        size = (small[1] * factor, small[0] * factor)
        alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_LINEAR)
        colour = cv2.resize(colour, size, interpolation=cv2.INTER_LINEAR)
    a = alpha[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    c = colour[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    region = canvas[cy0:cy1, cx0:cx1]
    region *= 1.0 - a
    region += c


def render_bubble(canvas: np.ndarray, x_px: float, y_px: float, radius_px: float) -> None:
    """Composite a dark air bubble with a darker rim and a bright off-centre specular spot, in place."""
    h, w = canvas.shape
    r = radius_px
    x0, y0 = max(int(x_px - r - 2), 0), max(int(y_px - r - 2), 0)
    x1, y1 = min(int(x_px + r + 3), w), min(int(y_px + r + 3), h)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = xx + 0.5 - x_px, yy + 0.5 - y_px
    dist = np.sqrt(dx * dx + dy * dy)
    inside = np.clip(r - dist + 0.5, 0.0, 1.0)
    rel = np.clip(dist / r, 0.0, 1.0)
    dark = inside * (0.3 + 0.62 * rel**2.5)
    spot_r = 0.16 * r + 0.6
    sx, sy = dx + 0.35 * r, dy + 0.35 * r
    spot = np.exp(-(sx * sx + sy * sy) / (2.0 * spot_r * spot_r)) * inside
    region = canvas[y0:y1, x0:x1]
    region *= 1.0 - dark
    region += 10.0 * dark + (190.0 * min(1.0, r / 7.0)) * spot  # tiny bubbles: faint spot
