"""Static per-block layers: the fluid background, the vessel rim, texture and noise banks.

Images here are ``float32`` grey levels (0-255) unless stated; colour images are BGR (OpenCV order).
A block is one fixed camera shot, so the background and rim are drawn once per block and reused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from shapely.geometry import Polygon

from flocshape.synth.config import SynthConfig

RIM_RGB = (86.0, 65.0, 54.0)
"""Mean colour of the tan vessel rim in the real frames (R, G, B)."""


def value_noise(rng: np.random.Generator, height: int, width: int, cell_px: float) -> np.ndarray:
    """Smooth random field in [0, 1] (bicubic-upsampled random grid with ``cell_px`` spacing), float32."""
    gh, gw = int(math.ceil(height / cell_px)) + 3, int(math.ceil(width / cell_px)) + 3
    grid = rng.random((gh, gw), dtype=np.float32)
    big = cv2.resize(grid, (int(gw * cell_px), int(gh * cell_px)), interpolation=cv2.INTER_CUBIC)
    o = int(cell_px)
    return np.clip(big[o : o + height, o : o + width], 0.0, 1.0)


def fractal_noise(rng: np.random.Generator, height: int, width: int, cells: tuple[float, ...]) -> np.ndarray:
    """Sum of :func:`value_noise` octaves (amplitude halves per octave), rescaled to [0, 1]."""
    total = np.zeros((height, width), np.float32)
    amp, norm = 1.0, 0.0
    for cell in cells:
        total += amp * value_noise(rng, height, width, cell)
        norm += amp
        amp *= 0.5
    total /= norm
    lo, hi = float(total.min()), float(total.max())
    return (total - lo) / max(hi - lo, 1e-6)


def fluid_background(rng: np.random.Generator, cfg: SynthConfig, fluid_bottom_px: float) -> np.ndarray:
    """Dark fluid: bright haze at the top falling to ``brightness_bottom`` by ~75 % of the fluid height.

    Low-frequency blotches (+-12 grey levels) imitate out-of-focus material far behind the focal plane.
    """
    h, w = cfg.height, cfg.width
    y = np.arange(h, dtype=np.float32)[:, None] / max(fluid_bottom_px, 1.0)
    fall = np.clip((y - 0.15) / 0.6, 0.0, 1.0)
    fall = fall * fall * (3.0 - 2.0 * fall)  # smoothstep
    profile = cfg.brightness_top + (cfg.brightness_bottom - cfg.brightness_top) * fall
    blotch = fractal_noise(rng, h, w, (max(h, w) / 4.0, max(h, w) / 10.0)) - 0.5
    weight = 1.0 - 0.6 * fall
    return (profile + 24.0 * blotch * weight).astype(np.float32)


@dataclass
class Rim:
    """The vessel rim: its outline (px, occludes particles), a BGR float32 image and an alpha mask."""

    polygon: Polygon
    top_px: float
    bgr: np.ndarray
    alpha: np.ndarray


def make_rim(rng: np.random.Generator, cfg: SynthConfig) -> Rim:
    """A curved tan rim over the bottom ~12-18 % of the frame, with dark specks and a lighter lip."""
    h, w = cfg.height, cfg.width
    top = h * rng.uniform(0.82, 0.88)
    radius = w * rng.uniform(2.5, 5.0)
    cx = w * rng.uniform(0.2, 0.8)
    xs = np.linspace(-1.0, w + 1.0, max(16, w // 8))
    ys = top + radius - np.sqrt(radius**2 - (xs - cx) ** 2)
    ring = np.vstack([np.column_stack([xs, ys]), [[w + 1.0, h + 1.0], [-1.0, h + 1.0]]])
    polygon = Polygon(ring)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(ring * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    alpha = mask.astype(np.float32) / 255.0
    yy = np.arange(h, dtype=np.float32)[:, None]
    edge_y = np.interp(np.arange(w), xs, ys).astype(np.float32)[None, :]
    below = np.clip(yy - edge_y, 0.0, None)
    lip = np.exp(-below / 6.0) * 0.25  # lighter lip just under the edge
    shade = 1.0 - 0.35 * np.clip(below / (h - top + 1.0), 0.0, 1.0)
    xv = (np.arange(w, dtype=np.float32)[None, :] - w / 2) / (w / 2)
    vignette = 1.0 - 0.35 * xv**2 * np.clip(below / (h - top + 1.0), 0.0, 1.0)
    tex = 0.85 + 0.3 * fractal_noise(rng, h, w, (40.0, 12.0, 4.0))
    light = (shade * vignette * tex + lip).astype(np.float32)
    specks = _specks(rng, h, w)
    rgb = np.array(RIM_RGB, np.float32) * 1.12
    bgr = np.stack([rgb[2] * light, rgb[1] * light, rgb[0] * light], axis=-1) * specks[..., None]
    return Rim(polygon=polygon, top_px=float(top), bgr=bgr.astype(np.float32), alpha=alpha)


def _specks(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Multiplicative map (1 = none) of small dark specks and short vertical scratches."""
    out = np.ones((h, w), np.float32)
    n = int(h * w / 4000)
    xs, ys = rng.integers(0, w, n), rng.integers(0, h, n)
    lengths = rng.integers(1, 9, n)
    darkness = rng.uniform(0.35, 0.8, n).astype(np.float32)
    for x, y, ln, d in zip(xs, ys, lengths, darkness, strict=True):
        out[y : y + ln, x : x + 1 + (ln < 3)] = d
    return cv2.GaussianBlur(out, (0, 0), 0.6)


def noise_bank(rng: np.random.Generator, cfg: SynthConfig, pad: int = 64) -> np.ndarray:
    """Sensor noise ``(H + pad, W + pad, 3)`` float32 in BGR, total sd ``noise_sigma`` per channel.

    Each channel is a shared luminance part (95 % of the sd) plus its own colour part (31 %), so the channels
    stay strongly correlated as in the real camera. Frames take shifted windows (:func:`noise_window`):
    cheap, deterministic, and different from frame to frame.
    """
    shape = (cfg.height + pad, cfg.width + pad)
    bank = rng.standard_normal((*shape, 3), dtype=np.float32)
    bank *= 0.31 * cfg.noise_sigma
    bank += (0.95 * cfg.noise_sigma) * rng.standard_normal((*shape, 1), dtype=np.float32)
    return bank


def noise_window(bank: np.ndarray, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A random ``(height, width, 3)`` window of ``bank`` (a view)."""
    dy = int(rng.integers(0, bank.shape[0] - height + 1))
    dx = int(rng.integers(0, bank.shape[1] - width + 1))
    return bank[dy : dy + height, dx : dx + width]


def row_banding(rng: np.random.Generator, height: int, sigma: float) -> np.ndarray:
    """Per-row grey offsets ``(H, 1)``: faint horizontal banding (white noise plus a slow wave)."""
    rows = rng.normal(0.0, sigma, height).astype(np.float32)
    wave = 0.5 * sigma * np.sin(np.arange(height) / rng.uniform(3.0, 9.0) + rng.uniform(0, 6.3))
    return (rows + wave.astype(np.float32))[:, None]
