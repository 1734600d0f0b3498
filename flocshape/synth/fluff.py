"""Realism v2 flocs: cotton-like body, semi-transparent edge, fibrous fringe and a soft glow.

Used when ``fluff_px > 0`` (the classic look is :func:`flocshape.synth.render.render_particle`).

Truth convention (the label stays the exact particle)
-----------------------------------------------------
A particle is first drawn as a *sharp layer*: its opacity ``alpha`` and premultiplied light ``colour`` at the
focal plane, before the optics blur it. With ``opacity`` the particle's own opacity (0.8-0.97):

* **core** = the pycocotools raster of the particle's in-frame outline (:func:`core_mask`; COCO polygons with 2
  decimals, exactly the raster the label of an unoccluded particle is made from); outside the frame, where no
  label exists, the core is the anti-aliased coverage >= 0.5;
* inside the core: ``alpha = opacity * b`` with the body level ``b`` in ``[BODY_MIN, 1]`` = [0.55, 1]: it is
  0.55 at the outline (semi-transparent edge) and rises to 1 over ``edge_softness_px`` inwards, thinned by the
  cotton texture but never below 0.55;
* outside the core: ``alpha = opacity * f`` with the fringe level ``f`` in ``[0, fringe_opacity]``, and
  ``fringe_opacity <= 0.45``: thin fibres and a fuzz that fade over ``fluff_px`` outwards.

So a pixel is the particle **iff its sharp opacity is at least ``PARTICLE_LEVEL`` = 0.5 of the particle's
opacity**: the semi-transparent fibres and fuzz outside (level <= 0.45) are never particle, the semi-transparent
edge inside (level >= 0.55) always is. The label of a particle is that set minus what particles in front of it,
the vessel rim and the frame border hide (computed from the exact polygons, :mod:`flocshape.synth.truth`).
Blur, glow, bubbles and noise change the picture, not the particle.

Then the layer is blurred by the defocus sigma (at reduced resolution for large blurs) and composited "over";
a share ``glow_share`` of the light is spread by a wider Gaussian as extra light (bloom), which hides nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from pycocotools import mask as mask_utils
from shapely.geometry.base import BaseGeometry

from flocshape.synth.background import fractal_noise
from flocshape.synth.geometry import in_frame_part, rasterise_coco_polygons, to_coco_polygons
from flocshape.synth.optics import MIN_SIGMA_PX, downscale_factor, gaussian_blur
from flocshape.synth.render import fill_coverage, padded_window, texture_crop

PARTICLE_LEVEL = 0.5
"""A pixel is particle iff its sharp opacity >= this share of the particle's opacity."""
BODY_MIN = 0.55
"""Lowest body level (semi-transparent edge, just inside the outline)."""
BANK_PX = 512
SHADE_MEAN = 0.92
"""Mean light factor of the body (as the classic texture's mean), lobes above it, creases below."""
"""Side of the square cotton and fibre texture banks, px."""


@dataclass(frozen=True)
class FluffLook:
    """The v2 floc look of a block (knobs of :class:`~flocshape.synth.config.SynthConfig`, same units)."""

    fluff_px: float
    fringe_opacity: float
    edge_softness_px: float
    texture: float
    glow: float


@dataclass(frozen=True)
class Banks:
    """Per-block textures in [0, 1]: ``cotton`` (soft lobes and creases) and ``fibres`` (thin strands)."""

    cotton: np.ndarray
    fibres: np.ndarray


def make_banks(rng: np.random.Generator, size: int = BANK_PX) -> Banks:
    """The cotton and fibre banks of a block."""
    cotton = fractal_noise(rng, size, size, (22.0, 9.0, 4.0))
    return Banks(cotton=cotton, fibres=fibre_bank(rng, size, count=size * size // 12))


def fibre_bank(rng: np.random.Generator, size: int, count: int, levels: int = 6) -> np.ndarray:
    """``count`` thin, slightly bent strands (2-12 px, 1 px wide) on a square, float32 [0, 1].

    Strand intensities take ``levels`` values from 0.35 to 1 (each level drawn in one call: fast).
    """
    canvas = np.zeros((size, size), np.float32)
    centres = rng.uniform(0, size, (count, 2))
    angles = rng.uniform(0.0, math.pi, count)
    lengths = np.exp(rng.uniform(math.log(2.0), math.log(12.0), count))
    bends = rng.normal(0.0, 0.35, count)
    level = rng.integers(0, levels, count)
    t = np.linspace(-0.5, 0.5, 4)[None, :] * lengths[:, None]
    a_t = angles[:, None] + bends[:, None] * t / lengths[:, None]
    pts = np.stack([centres[:, :1] + t * np.cos(a_t), centres[:, 1:] + t * np.sin(a_t)], axis=-1)
    pts = np.round(pts * 16).astype(np.int32)
    for k in range(levels):
        value = 0.35 + 0.65 * k / max(levels - 1, 1)
        cv2.polylines(canvas, list(pts[level == k]), False, value, 1, cv2.LINE_AA, 4)
    return np.clip(gaussian_blur(canvas, 0.4) * 1.3, 0.0, 1.0)


def core_mask(geom: BaseGeometry, height: int, width: int) -> np.ndarray:
    """Full-frame bool raster of the particle's in-frame outline (pycocotools, as the labels are made)."""
    polygons = to_coco_polygons(in_frame_part(geom, height, width))
    rle = rasterise_coco_polygons(polygons, height, width)
    coded = {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
    return mask_utils.decode(coded).astype(bool)


@dataclass
class SharpLayer:
    """A particle's sharp layer on a crop whose top-left frame pixel is ``origin`` (x, y)."""

    origin: tuple[int, int]
    core: np.ndarray  # bool
    alpha: np.ndarray  # float32, opacity at the focal plane
    colour: np.ndarray  # float32, premultiplied light (grey levels)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _hash01(offset: tuple[int, int]) -> float:
    """A fixed number in [0, 1) per particle, from its texture offset (no random draw)."""
    return ((offset[0] * 7919 + offset[1] * 104729) % 10007) / 10007.0


def fringe_length_px(geom: BaseGeometry, look: FluffLook, offset: tuple[int, int]) -> float:
    """Fringe fade length of one particle: ``fluff_px`` x size factor (small flocs less) x 0.6-1.4 per particle."""
    ecd = math.sqrt(4.0 * max(geom.area, 0.0) / math.pi)
    return look.fluff_px * min(max(ecd / 40.0, 0.25), 1.0) * (0.6 + 0.8 * _hash01(offset))


def sharp_layer(
    geom: BaseGeometry,
    frame_hw: tuple[int, int],
    box_xyxy: tuple[int, int, int, int],
    brightness: float,
    opacity: float,
    banks: Banks,
    offset: tuple[int, int],
    look: FluffLook,
) -> SharpLayer:
    """The sharp layer of one particle on the crop ``box_xyxy`` (frame px, may reach outside the frame)."""
    x0, y0, x1, y1 = box_xyxy
    h, w = frame_hw
    shape = (y1 - y0, x1 - x0)
    core = fill_coverage(shape, geom, (x0, y0), 1) >= 0.5
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if cx0 < cx1 and cy0 < cy1:
        exact = core_mask(geom, h, w)
        core[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0] = exact[cy0:cy1, cx0:cx1]
    core_u8 = core.astype(np.uint8)
    d_in = cv2.distanceTransform(core_u8, cv2.DIST_L2, 5)
    d_out = cv2.distanceTransform(1 - core_u8, cv2.DIST_L2, 5)
    cotton = texture_crop(banks.cotton, offset, shape)
    fibres = texture_crop(banks.fibres, (offset[1], offset[0]), shape)
    ramp = _smoothstep((d_in - 1.0) / max(look.edge_softness_px, 1e-3))
    body = BODY_MIN + (1.0 - BODY_MIN) * ramp * (1.0 - 0.5 * look.texture * (1.0 - cotton))
    length = max(fringe_length_px(geom, look, offset), 0.5)
    strands = fibres * np.exp(-(d_out - 1.0) / length)
    fuzz = np.exp(-(d_out - 1.0) / (0.4 * length + 0.5)) * (0.5 + 0.5 * fibres)
    fringe = look.fringe_opacity * np.maximum(strands, fuzz)
    level = np.where(core, body, fringe).astype(np.float32)
    shade = SHADE_MEAN + look.texture * (0.3 * (cotton - 0.5) + 0.08 * (fibres - 0.2))
    alpha = (opacity * level).astype(np.float32)
    colour = (alpha * (brightness * np.where(core, shade, 0.92))).astype(np.float32)
    return SharpLayer(origin=(x0, y0), core=core, alpha=alpha, colour=colour)


def glow_share(sigma_px: float, glow: float) -> float:
    """Share of a particle's light in the glow: ``glow`` x (0.3 in focus ... 1 from a blur of 8 px)."""
    return glow * (0.3 + 0.7 * min(sigma_px / 8.0, 1.0))


def _blur_layer(image: np.ndarray, sigma: float, factor: int) -> np.ndarray:
    """Gaussian blur at 1/``factor`` resolution, back to full size (``factor`` 1: plain blur)."""
    if factor == 1:
        return gaussian_blur(image, sigma)
    h, w = image.shape
    small = cv2.resize(image, (-(-w // factor), -(-h // factor)), interpolation=cv2.INTER_AREA)
    small = gaussian_blur(small, sigma / factor)
    return cv2.resize(
        small, (small.shape[1] * factor, small.shape[0] * factor), interpolation=cv2.INTER_LINEAR
    )[:h, :w]


def render_particle_v2(
    canvas: np.ndarray,
    geom: BaseGeometry,
    sigma_px: float,
    brightness: float,
    opacity: float,
    banks: Banks,
    offset: tuple[int, int],
    look: FluffLook,
) -> None:
    """Composite one v2 particle (outline ``geom`` in frame px) onto ``canvas`` in place (module doc)."""
    if geom.is_empty:
        return
    sigma = max(sigma_px, MIN_SIGMA_PX)
    share = glow_share(sigma, look.glow)
    sigma_glow = 2.0 * sigma + 4.0
    reach = 3.0 * (sigma_glow if share > 0 else sigma) + 4.0 * max(look.fluff_px, 0.5)
    (x0, y0, x1, y1), (cx0, cy0, cx1, cy1) = padded_window(geom, int(math.ceil(reach)) + 2, canvas.shape)
    h, w = canvas.shape
    if cx0 >= cx1 or cy0 >= cy1:
        return
    layer = sharp_layer(geom, (h, w), (x0, y0, x1, y1), brightness, opacity, banks, offset, look)
    factor = downscale_factor(sigma)
    alpha = _blur_layer(layer.alpha, sigma, factor)
    colour = _blur_layer(layer.colour, sigma, factor)
    if share > 0:
        glow_light = _blur_layer(layer.colour, sigma_glow, downscale_factor(sigma_glow))
        alpha *= 1.0 - share
        colour = (1.0 - share) * colour + share * glow_light
    a = alpha[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    c = colour[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    region = canvas[cy0:cy1, cx0:cx1]
    region *= 1.0 - a
    region += c
