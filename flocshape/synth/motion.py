"""Particle tracks inside one video block: spawning, drift, rotation, growth, erosion, break-up.

Each :class:`Track` keeps its outline in its own frame (centroid at the origin, area = the spawn area) and
a pose: position (px), rotation (deg), linear scale, accumulated erosion (px). The posed outline is
``rotate(scale(outline) eroded by erosion_px) + position``. Growth multiplies the *area* by
``1 + growth_rate`` per frame (linear scale by its square root), so the truth table's ``full_area_px`` of a
track that neither erodes nor breaks follows ``A_t = A_0 (1 + growth_rate)^t`` exactly.

Depth: 0 is the focal plane; positive is behind it (further from the camera). Smaller depth is in front.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from flocshape.synth.config import SynthConfig
from flocshape.synth.shapes import floc_outline, split_outline


@dataclass
class Track:
    """One particle within a block; see the module doc for the pose convention."""

    track_id: int
    parent_track_id: int
    outline: Polygon
    x_px: float
    y_px: float
    angle_deg: float
    vx_px: float
    vy_px: float
    omega_deg: float
    depth: float
    vdepth: float
    scale: float = 1.0
    eroded_px: float = 0.0
    brightness: float = 215.0
    opacity: float = 0.9
    texture_offset: tuple[int, int] = (0, 0)
    alive: bool = True
    cache: dict = field(default_factory=dict, repr=False)

    def posed(self) -> BaseGeometry:
        """The outline in frame coordinates (px) at the current pose."""
        key = ("posed", self.x_px, self.y_px, self.angle_deg, self.scale, self.eroded_px)
        if self.cache.get("posed_key") != key:
            shape = self.local_shape()
            a = math.radians(self.angle_deg)
            rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
            off = np.array([self.x_px, self.y_px])
            self.cache["posed"] = shapely.transform(shape, lambda c: c @ rot.T + off)
            self.cache["posed_key"] = key
        return self.cache["posed"]

    def local_shape(self) -> BaseGeometry:
        """The scaled (and eroded) outline in the track's own frame, before rotation and translation."""
        key = (self.scale, self.eroded_px)
        if self.cache.get("local_key") != key:
            shape = shapely.transform(self.outline, lambda c: c * self.scale)
            if self.eroded_px > 0:
                shape = shape.buffer(-self.eroded_px, quad_segs=4)
            self.cache["local"] = shape
            self.cache["local_key"] = key
        return self.cache["local"]


@dataclass
class TrackIds:
    """Hands out track ids ``first, first + 1, ...`` (unique within the data set)."""

    next_id: int

    def take(self) -> int:
        """The next unused id."""
        self.next_id += 1
        return self.next_id - 1


def draw_ecd_px(rng: np.random.Generator, cfg: SynthConfig, size: int) -> np.ndarray:
    """Log-normal ECDs (px) around ``size_median_px``, clipped to [size_min_px, size_max_px]."""
    ecd = cfg.size_median_px * np.exp(rng.normal(0.0, cfg.size_sigma, size))
    return np.clip(ecd, cfg.size_min_px, cfg.size_max_px)


def draw_depth(rng: np.random.Generator, cfg: SynthConfig) -> float:
    """Depth of a new particle: near focus (|blur| mostly below the label limit) or far behind it."""
    if rng.random() < cfg.defocus_frac:
        return float(rng.uniform(0.3, 2.0))
    limit_depth = cfg.max_label_blur_px / max(cfg.blur_per_depth_px, 1e-9)
    return float(rng.normal(0.0, 0.55 * limit_depth))


def spawn_margin_px(cfg: SynthConfig) -> float:
    """How far outside the frame particles are spawned, so drift keeps the density even."""
    return 10.0 * (cfg.drift_px + abs(cfg.settle_px)) + 0.5 * cfg.size_max_px


def new_track(
    rng: np.random.Generator, cfg: SynthConfig, ids: TrackIds, x_px: float, y_px: float, ecd_px: float
) -> Track:
    """A freshly spawned particle at ``(x_px, y_px)`` with ECD ``ecd_px``."""
    depth = draw_depth(rng, cfg)
    if depth > 0.3 and rng.random() < 0.5:  # far flocs: larger hazy blobs behind the focal plane
        ecd_px = min(ecd_px * 1.6, cfg.size_max_px)
    far_dimming = 0.7 if depth > 0.3 else 1.0  # far flocs are dimmer (less light reaches them)
    stretch = 1.0 + abs(rng.normal(cfg.elongation, 0.5 * cfg.elongation)) if cfg.elongation > 0 else 1.0
    outline = floc_outline(rng, ecd_px, cfg.roughness, stretch)
    return Track(
        track_id=ids.take(),
        parent_track_id=-1,
        outline=outline,
        x_px=x_px,
        y_px=y_px,
        angle_deg=float(rng.uniform(0.0, 360.0)),
        vx_px=float(rng.normal(0.0, cfg.drift_px)),
        vy_px=float(rng.normal(cfg.settle_px, cfg.drift_px)),
        omega_deg=float(rng.normal(0.0, cfg.rotation_deg)),
        depth=depth,
        vdepth=float(rng.normal(0.0, cfg.depth_drift)),
        brightness=far_dimming * float(rng.uniform(165.0, 225.0)),
        opacity=float(rng.uniform(0.8, 0.97)),
        texture_offset=(int(rng.integers(0, 1 << 16)), int(rng.integers(0, 1 << 16))),
    )


def spawn_tracks(rng: np.random.Generator, cfg: SynthConfig, ids: TrackIds, y_max_px: float) -> list[Track]:
    """The particles of a block at its first frame, spread evenly over the frame plus a margin.

    ``y_max_px`` is the lowest y where fluid is visible (the vessel rim top, or the frame height).
    """
    m = spawn_margin_px(cfg)
    area_ratio = (cfg.width + 2 * m) * (y_max_px + 2 * m) / (cfg.width * cfg.height)
    count = int(rng.poisson(cfg.particles_per_frame * area_ratio))
    xs = rng.uniform(-m, cfg.width + m, count)
    ys = rng.uniform(-m, y_max_px + m, count)
    ecds = draw_ecd_px(rng, cfg, count)
    return [
        new_track(rng, cfg, ids, float(x), float(y), float(e)) for x, y, e in zip(xs, ys, ecds, strict=True)
    ]


def break_up(rng: np.random.Generator, track: Track, ids: TrackIds) -> list[Track]:
    """Children of ``track`` after it breaks along a random line (empty if it does not split)."""
    pieces = split_outline(track.outline, rng, min_area_px=4.0 / max(track.scale, 1e-6) ** 2)
    children: list[Track] = []
    a = math.radians(track.angle_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    for piece in pieces:
        c = np.array([piece.centroid.x, piece.centroid.y])
        local = shapely.transform(piece, lambda p, c=c: p - c)
        pos = rot @ (c * track.scale) + np.array([track.x_px, track.y_px])
        kick = rot @ c
        kick = 0.6 * kick / (np.linalg.norm(kick) + 1e-9)
        children.append(
            replace(
                track,
                track_id=ids.take(),
                parent_track_id=track.track_id,
                outline=local,
                x_px=float(pos[0]),
                y_px=float(pos[1]),
                vx_px=track.vx_px + float(kick[0]),
                vy_px=track.vy_px + float(kick[1]),
                cache={},
            )
        )
    return children


def step_tracks(
    rng: np.random.Generator, cfg: SynthConfig, tracks: list[Track], ids: TrackIds
) -> list[Track]:
    """Advance every track by one frame; returns the new list (broken particles replaced by children)."""
    out: list[Track] = []
    area_growth = math.sqrt(1.0 + cfg.growth_rate)
    for t in tracks:
        t.x_px += t.vx_px
        t.y_px += t.vy_px
        t.angle_deg = (t.angle_deg + t.omega_deg) % 360.0
        t.depth += t.vdepth
        t.scale *= area_growth
        t.eroded_px += cfg.erosion_px
        if t.eroded_px > 0 and t.local_shape().is_empty:
            continue  # eroded away
        if cfg.breakup_prob > 0 and rng.random() < cfg.breakup_prob:
            children = break_up(rng, t, ids)
            if children:
                out.extend(children)
                continue
        out.append(t)
    return out
