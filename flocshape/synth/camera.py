"""Realism v2 camera and fluid extras: colour noise in small blotches, signal-dependent (shot) noise and a
left-right brightness tilt.

All are off (and draw nothing) at their default 0, so the classic presets stay byte-identical.

* Colour noise imitates a demosaiced colour sensor after 4:2:0 JPEG: two opponent-colour fields drawn at half
  resolution (blotches of about 2 px), added to B and R with G taking the opposite; the blue-yellow field has sd
  ``chroma_noise_sigma`` grey levels, the red-green one 0.6 of it.
* Shot noise scales the frame's sensor noise per pixel so that its variance is ``noise_sigma^2 + shot_noise *
  grey`` (grey = the noise-free scene, 0-255), as photon noise grows with light.
* The tilt is a linear ramp over the frame width, strongest at the top (the lit haze), a third of it at the
  bottom.
"""

from __future__ import annotations

import cv2
import numpy as np

from flocshape.synth.config import SynthConfig

RED_GREEN_SHARE = 0.6
"""The red-green colour noise is this share of the blue-yellow one (a blue-purple / yellow-green cast)."""


def chroma_bank(rng: np.random.Generator, cfg: SynthConfig, pad: int = 64) -> np.ndarray:
    """Colour noise ``(H + pad, W + pad, 3)`` float32 BGR with zero mean luminance; windows are taken per frame."""
    h, w = cfg.height + pad, cfg.width + pad
    half = rng.standard_normal((h // 2 + 2, w // 2 + 2, 2), dtype=np.float32)
    full = cv2.resize(half, (2 * (w // 2 + 2), 2 * (h // 2 + 2)), interpolation=cv2.INTER_LINEAR)[:h, :w]
    full *= cfg.chroma_noise_sigma / max(float(full.std()), 1e-6)
    blue_yellow, red_green = full[..., 0], RED_GREEN_SHARE * full[..., 1]
    return np.stack([blue_yellow, -0.5 * (blue_yellow + red_green), red_green], axis=-1)


def tilt_map(cfg: SynthConfig) -> np.ndarray:
    """Additive grey ramp ``(H, W)``: ``+tilt/2`` at the left edge, ``-tilt/2`` at the right, scaled by
    1 at the top falling to 1/3 at the bottom."""
    x = (np.arange(cfg.width, dtype=np.float32) + 0.5) / cfg.width
    y = (np.arange(cfg.height, dtype=np.float32) + 0.5) / cfg.height
    return (cfg.brightness_tilt * (0.5 - x))[None, :] * (1.0 - 2.0 / 3.0 * y)[:, None]


def shot_noise_gain(grey: np.ndarray, cfg: SynthConfig) -> np.ndarray:
    """Per-pixel factor ``(H, W, 1)`` on the sensor noise: ``sqrt(1 + shot_noise * grey / noise_sigma^2)``."""
    var = max(cfg.noise_sigma, 0.5) ** 2
    return np.sqrt(1.0 + (cfg.shot_noise / var) * np.maximum(grey, 0.0))[..., None]
