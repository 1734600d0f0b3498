"""Domain randomisation: each block of a data set draws its own camera, scene and look knobs.

With ``--randomise S`` (0 < S <= 1) every block draws each knob of :data:`RANGES` uniformly from its range by a
generator of its own (seed, block), and moves the configured value that far towards the draw:
``value = configured + S * (draw - configured)`` (S = 1: the draw itself). Integer knobs are rounded. Splits,
image ids and the blocks' own random streams are as without randomisation; what a block shows follows its drawn
knobs (particle density and size included). ``card.json`` lists every block's knobs (``block_knobs``).

Ranges (units as the knobs'; the particle and bubble counts per frame scale with the frame area, so the density
is that of a 1024 x 1280 frame): wide on purpose, so that a model trained on them meets cameras it has not seen;
a drawn ``fluff_px`` below 1 px renders the block with the classic crisp-edged flocs, a drawn ``bubble_rim``
and ``bubble_blur_px`` near 0 with near-classic dark bubbles.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from flocshape.synth.config import SynthConfig

RANDOMISE_STREAM = 0xD0  # entropy tag of the per-block randomisation draws
RANGES: dict[str, tuple[float, float]] = {
    "noise_sigma": (2.0, 12.0),
    "chroma_noise_sigma": (0.0, 6.0),
    "banding_sigma": (0.0, 3.0),
    "jpeg_quality": (50.0, 97.0),
    "particles_per_frame": (70.0, 220.0),
    "size_median_px": (16.0, 34.0),
    "bubbles_per_frame": (20.0, 260.0),
    "brightness_top": (30.0, 120.0),
    "brightness_bottom": (4.0, 45.0),
    "brightness_tilt": (-30.0, 30.0),
    "exposure": (0.75, 1.3),
    "blur_per_depth_px": (6.0, 20.0),
    "defocus_frac": (0.15, 0.6),
    "fluff_px": (0.0, 9.0),
    "fringe_opacity": (0.1, 0.45),
    "edge_softness_px": (0.5, 5.0),
    "floc_texture": (0.1, 0.9),
    "glow": (0.0, 0.5),
    "bubble_rim": (0.0, 90.0),
    "bubble_blur_px": (0.0, 4.0),
    "bubble_cluster_size": (3.0, 30.0),
}
"""Knob -> (low, high) of the per-block uniform draw (counts per frame for a 1024 x 1280 frame)."""
PER_FRAME_COUNTS = ("particles_per_frame", "bubbles_per_frame")
"""Knobs whose range scales with the frame area (the same density on smaller or larger frames)."""
REFERENCE_AREA_PX = 1024 * 1280
CLASSIC_FLUFF_BELOW_PX = 1.0
"""A drawn ``fluff_px`` below this renders the block with the classic flocs (``fluff_px`` set to 0)."""


def randomised_knobs(cfg: SynthConfig, block: int) -> dict[str, Any]:
    """The knobs block ``block`` draws (empty when ``cfg.randomise`` is 0); see the module doc."""
    if cfg.randomise <= 0:
        return {}
    rng = np.random.default_rng([cfg.seed, RANDOMISE_STREAM, block])
    area = cfg.height * cfg.width / REFERENCE_AREA_PX
    out: dict[str, Any] = {}
    for name, (lo, hi) in RANGES.items():
        if name in PER_FRAME_COUNTS:
            lo, hi = lo * area, hi * area
        base = float(getattr(cfg, name))
        value = base + cfg.randomise * (float(rng.uniform(lo, hi)) - base)
        out[name] = int(round(value)) if isinstance(getattr(cfg, name), int) else value
    if out["fluff_px"] < CLASSIC_FLUFF_BELOW_PX:
        out["fluff_px"] = 0.0
    return out


def randomised_config(cfg: SynthConfig, block: int) -> SynthConfig:
    """``cfg`` with block ``block``'s randomised knobs (``cfg`` itself when randomisation is off)."""
    knobs = randomised_knobs(cfg, block)
    return dataclasses.replace(cfg, **knobs) if knobs else cfg
