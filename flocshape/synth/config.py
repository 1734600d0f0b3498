"""Every knob of the synthetic generator, the presets, and their validation.

Units: lengths in px, angles in degrees, rates per video frame, grey levels 0-255. A "fraction" is in [0, 1].
The whole resolved configuration is written to ``card.json`` so a data set can be regenerated exactly.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from typing import Any

from flocshape.errors import InputError, input_error

BLOCK_FRAMES = 10
"""Frames per video block (a block is one short clip)."""
TRAIN_FRAMES_IN_BLOCK = tuple(range(2, 10))
"""1-based positions inside a block that the train split keeps (frames 2-9); test keeps the whole block."""
MAX_FRINGE_OPACITY = 0.45
"""Largest fringe opacity (relative to the body): the fringe must stay below the particle level 0.5."""


@dataclass(frozen=True)
class SynthConfig:
    """All generator knobs. Field docs state units; ``help`` metadata is the CLI help text."""

    seed: int = dataclasses.field(default=0, metadata={"help": "random seed (same seed -> identical files)"})
    frames: int = dataclasses.field(default=1000, metadata={"help": "video frames in all, a multiple of 10"})
    test_frac: float = dataclasses.field(
        default=0.35, metadata={"help": "fraction of blocks in the test split"}
    )
    height: int = dataclasses.field(default=1024, metadata={"help": "frame height, px"})
    width: int = dataclasses.field(default=1280, metadata={"help": "frame width, px"})
    particles_per_frame: float = dataclasses.field(
        default=125.0, metadata={"help": "mean particles per frame (labelled or not)"}
    )
    size_median_px: float = dataclasses.field(default=24.0, metadata={"help": "median ECD of particles, px"})
    size_sigma: float = dataclasses.field(default=0.95, metadata={"help": "log-normal sigma of ECD"})
    size_max_px: float = dataclasses.field(default=260.0, metadata={"help": "largest ECD, px"})
    size_min_px: float = dataclasses.field(default=3.0, metadata={"help": "smallest ECD, px"})
    elongation: float = dataclasses.field(
        default=0.35,
        metadata={"help": "mean extra stretch of outlines (0 = none; stretch = 1 + |N(e, e/2)|)"},
    )
    elongation_max: float = dataclasses.field(
        default=0.0,
        metadata={
            "help": "if above --elongation: each block draws its elongation uniformly from "
            "[elongation, elongation_max] (shape-diverse training data; 0 = off)"
        },
    )
    roughness: float = dataclasses.field(default=0.5, metadata={"help": "outline raggedness, 0-1"})
    growth_rate: float = dataclasses.field(
        default=0.01, metadata={"help": "relative area growth per frame (negative shrinks)"}
    )
    erosion_px: float = dataclasses.field(default=0.0, metadata={"help": "outline erosion per frame, px"})
    breakup_prob: float = dataclasses.field(
        default=0.004, metadata={"help": "break-up probability per frame"}
    )
    drift_px: float = dataclasses.field(default=3.0, metadata={"help": "sd of drift speed, px per frame"})
    settle_px: float = dataclasses.field(default=1.0, metadata={"help": "mean downward drift, px per frame"})
    rotation_deg: float = dataclasses.field(default=2.0, metadata={"help": "sd of rotation speed, deg/frame"})
    depth_drift: float = dataclasses.field(default=0.01, metadata={"help": "sd of depth speed, per frame"})
    defocus_frac: float = dataclasses.field(
        default=0.35, metadata={"help": "fraction of particles placed far from focus"}
    )
    blur_per_depth_px: float = dataclasses.field(
        default=12.0, metadata={"help": "defocus blur sigma per unit depth, px"}
    )
    max_label_blur_px: float = dataclasses.field(
        default=2.5, metadata={"help": "label policy: largest blur sigma labelled, px"}
    )
    min_visible_frac: float = dataclasses.field(
        default=0.3, metadata={"help": "label policy: least visible fraction of the in-frame part"}
    )
    min_visible_area_px: float = dataclasses.field(
        default=12.0, metadata={"help": "label policy: least visible area, px^2"}
    )
    bubbles_per_frame: float = dataclasses.field(
        default=130.0, metadata={"help": "mean air bubbles per frame"}
    )
    bubble_cluster_frac: float = dataclasses.field(
        default=0.35, metadata={"help": "fraction of bubbles clustered on top of flocs"}
    )
    rim_frac: float = dataclasses.field(
        default=0.6, metadata={"help": "fraction of blocks showing the vessel rim at the bottom"}
    )
    brightness_top: float = dataclasses.field(default=68.0, metadata={"help": "fluid grey level at the top"})
    brightness_bottom: float = dataclasses.field(
        default=17.0, metadata={"help": "fluid grey level at the bottom"}
    )
    noise_sigma: float = dataclasses.field(default=6.0, metadata={"help": "sensor noise sd, grey levels"})
    banding_sigma: float = dataclasses.field(default=1.2, metadata={"help": "row banding sd, grey levels"})
    jpeg_quality: int = dataclasses.field(default=90, metadata={"help": "JPEG quality 1-100"})
    # realism v2 (docs/synth.md, "Realism v2"): every default below keeps the classic look byte-identical
    fluff_px: float = dataclasses.field(
        default=0.0,
        metadata={
            "help": "length of the semi-transparent fibrous fringe outside a floc's outline, px "
            "(0 = the classic crisp-edged flocs; > 0 = the v2 look with its opacity truth convention)"
        },
    )
    fringe_opacity: float = dataclasses.field(
        default=0.3,
        metadata={"help": "v2 flocs: peak opacity of the fringe fibres, relative to the body, 0-0.45"},
    )
    edge_softness_px: float = dataclasses.field(
        default=2.0,
        metadata={
            "help": "v2 flocs: depth over which the body's opacity rises from 0.55 at the outline to 1, px"
        },
    )
    floc_texture: float = dataclasses.field(
        default=0.5, metadata={"help": "v2 flocs: contrast of the cotton-like inner texture, 0-1"}
    )
    glow: float = dataclasses.field(
        default=0.0,
        metadata={
            "help": "v2 flocs: share of a floc's light spread into a wide soft glow (more when defocused), 0-1"
        },
    )
    bubble_rim: float = dataclasses.field(
        default=0.0,
        metadata={
            "help": "brightness of a bubble's bright rim crescent, grey levels (0 and --bubble-blur-px 0 = "
            "the classic dark discs; otherwise v2 lens-like bubbles)"
        },
    )
    bubble_blur_px: float = dataclasses.field(
        default=0.0,
        metadata={"help": "largest defocus blur sigma of v2 bubbles, px (most bubbles draw much less)"},
    )
    bubble_cluster_size: float = dataclasses.field(
        default=8.0, metadata={"help": "mean bubbles on each floc that carries a cluster"}
    )
    chroma_noise_sigma: float = dataclasses.field(
        default=0.0, metadata={"help": "extra colour noise in ~2 px blotches, sd in grey levels (0 = off)"}
    )
    shot_noise: float = dataclasses.field(
        default=0.0,
        metadata={
            "help": "signal-dependent sensor noise: variance added per grey level of the scene, grey levels "
            "(noise sd = sqrt(noise_sigma^2 + shot_noise x grey); 0 = constant noise)"
        },
    )
    exposure: float = dataclasses.field(
        default=1.0,
        metadata={
            "help": "camera gain on the whole scene before noise (1 = as drawn; bright flocs may saturate)"
        },
    )
    brightness_tilt: float = dataclasses.field(
        default=0.0,
        metadata={"help": "fluid brightness at the left edge minus the right edge, grey levels (0 = none)"},
    )
    randomise: float = dataclasses.field(
        default=0.0,
        metadata={
            "help": "domain randomisation strength 0-1: each block draws sensor, density, brightness, blur, "
            "floc edge and bubble knobs from the documented ranges (0 = off; flocshape/synth/randomise.py)"
        },
    )


HACKATHON_V2: dict[str, Any] = {
    "fluff_px": 4.0,
    "fringe_opacity": 0.4,
    "edge_softness_px": 2.5,
    "floc_texture": 0.7,
    "glow": 0.25,
    "bubbles_per_frame": 140.0,
    "bubble_cluster_frac": 0.4,
    "bubble_cluster_size": 18.0,
    "bubble_rim": 60.0,
    "bubble_blur_px": 2.0,
    "banding_sigma": 0.5,
    "chroma_noise_sigma": 3.0,
    "shot_noise": 0.3,
    "jpeg_quality": 80,
    "brightness_tilt": 14.0,
}
"""Knobs of the realism v2 look, set by hand (docs/synth.md, "Realism v2"): the floc and bubble look by eye
against the real frame; the camera knobs (noise, colour noise, shot noise, JPEG quality, banding) by eye with the
real frame's noise statistics in view. Scene and shape knobs are the ``hackathon`` values."""

PRESETS: dict[str, dict[str, Any]] = {
    "hackathon": {},
    "small": {
        "frames": 30,
        "test_frac": 0.34,
        "height": 256,
        "width": 320,
        "particles_per_frame": 32.0,
        "size_median_px": 14.0,
        "size_sigma": 0.7,
        "size_max_px": 90.0,
        "bubbles_per_frame": 25.0,
    },
    "hackathon-v2": HACKATHON_V2,
    "randomised": {**HACKATHON_V2, "randomise": 1.0},
}
"""Preset name -> overrides of the defaults (``hackathon`` emulates the 2022 data: 65 train / 35 test blocks;
``hackathon-v2`` the same scene with the realism v2 look; ``randomised`` v2 with per-block domain randomisation)."""

_FRACTIONS = (
    "test_frac",
    "roughness",
    "breakup_prob",
    "defocus_frac",
    "min_visible_frac",
    "bubble_cluster_frac",
    "rim_frac",
    "floc_texture",
    "glow",
    "randomise",
)
_NON_NEGATIVE = (
    "particles_per_frame",
    "size_sigma",
    "elongation",
    "elongation_max",
    "erosion_px",
    "drift_px",
    "rotation_deg",
    "depth_drift",
    "blur_per_depth_px",
    "max_label_blur_px",
    "min_visible_area_px",
    "bubbles_per_frame",
    "noise_sigma",
    "banding_sigma",
    "seed",
    "fluff_px",
    "edge_softness_px",
    "bubble_blur_px",
    "chroma_noise_sigma",
    "shot_noise",
)
_POSITIVE = ("size_median_px", "size_max_px", "size_min_px")
_GREY = ("brightness_top", "brightness_bottom")


def knob_names() -> list[str]:
    """Names of every knob, in declaration order."""
    return [f.name for f in fields(SynthConfig)]


def resolve(preset: str, overrides: dict[str, Any], where: str = "command line") -> SynthConfig:
    """The validated configuration: the preset's values, then every non-``None`` override.

    Raises :class:`~flocshape.errors.InputError` (``where: --flag: what``) for an unknown preset or knob,
    or any value outside its range.
    """
    if preset not in PRESETS:
        raise input_error(where, f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})", "--preset")
    values = dict(PRESETS[preset])
    for name, value in overrides.items():
        if name not in knob_names():
            raise input_error(where, "unknown knob", f"--{name.replace('_', '-')}")
        if value is not None:
            values[name] = value
    cfg = SynthConfig(**values)
    validate(cfg, where)
    return cfg


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def validate(cfg: SynthConfig, where: str = "command line") -> None:
    """Raise :class:`InputError` naming the flag for the first out-of-range knob."""

    def bad(name: str, what: str) -> InputError:
        return input_error(where, f"{what} (got {getattr(cfg, name)!r})", _flag(name))

    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise bad(f.name, "must be a finite number")

    for name in _FRACTIONS:
        if not 0.0 <= getattr(cfg, name) <= 1.0:
            raise bad(name, "must be a fraction in [0, 1]")
    for name in _NON_NEGATIVE:
        if getattr(cfg, name) < 0:
            raise bad(name, "must not be negative")
    for name in _POSITIVE:
        if not getattr(cfg, name) > 0:
            raise bad(name, "must be positive")
    for name in _GREY:
        if not 0.0 <= getattr(cfg, name) <= 255.0:
            raise bad(name, "must be a grey level in [0, 255]")
    if cfg.frames <= 0 or cfg.frames % BLOCK_FRAMES:
        raise bad(
            "frames", f"must be a positive multiple of {BLOCK_FRAMES} (blocks of {BLOCK_FRAMES} frames)"
        )
    if cfg.frames > 99990:
        raise bad("frames", "must be below 99991 (4-digit file names)")
    n_blocks = cfg.frames // BLOCK_FRAMES
    n_test = test_block_count(cfg)
    if not 1 <= n_test <= n_blocks - 1:
        raise bad("test_frac", f"must leave at least one train and one test block of the {n_blocks} blocks")
    if cfg.height < 64 or cfg.width < 64:
        raise bad("height" if cfg.height < 64 else "width", "frame sides must be at least 64 px")
    if 0 < cfg.elongation_max < cfg.elongation:
        raise bad("elongation_max", "must be 0 (off) or at least --elongation")
    if cfg.size_min_px > cfg.size_max_px:
        raise bad("size_min_px", "must not exceed --size-max-px")
    if not -0.5 < cfg.growth_rate < 1.0:
        raise bad("growth_rate", "must be in (-0.5, 1)")
    if not 1 <= cfg.jpeg_quality <= 100:
        raise bad("jpeg_quality", "must be in 1..100")
    if not 0.0 <= cfg.fringe_opacity <= MAX_FRINGE_OPACITY:
        raise bad("fringe_opacity", f"must be in [0, {MAX_FRINGE_OPACITY}] (below the particle level 0.5)")
    if not 0.0 <= cfg.bubble_rim <= 255.0:
        raise bad("bubble_rim", "must be a grey level in [0, 255]")
    if not cfg.bubble_cluster_size >= 1.0:
        raise bad("bubble_cluster_size", "must be at least 1")
    if not 0.1 <= cfg.exposure <= 4.0:
        raise bad("exposure", "must be in [0.1, 4]")
    if not -128.0 <= cfg.brightness_tilt <= 128.0:
        raise bad("brightness_tilt", "must be in [-128, 128] grey levels")


def test_block_count(cfg: SynthConfig) -> int:
    """Number of test blocks: ``round(test_frac * blocks)``."""
    return int(round(cfg.test_frac * (cfg.frames // BLOCK_FRAMES)))


def as_dict(cfg: SynthConfig) -> dict[str, Any]:
    """The knobs as a plain dict (declaration order)."""
    return dataclasses.asdict(cfg)
