"""One video block: simulate 10 frames, render the requested ones to JPEG, and return their truth.

A block is self-contained (its own seed, background, rim, particles and bubbles), so blocks can run in
parallel processes and the output does not depend on the number of workers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import shapely

from flocshape.fsio import atomic_write_bytes
from flocshape.synth.background import (
    Rim,
    fluid_background,
    fractal_noise,
    make_rim,
    noise_bank,
    noise_window,
    row_banding,
)
from flocshape.synth.bubble_look import BubbleParams, bubble_params, render_bubble_v2
from flocshape.synth.camera import chroma_bank, shot_noise_gain, tilt_map
from flocshape.synth.config import BLOCK_FRAMES, SynthConfig
from flocshape.synth.fluff import Banks, FluffLook, make_banks, render_particle_v2
from flocshape.synth.motion import Track, TrackIds, spawn_tracks, step_tracks
from flocshape.synth.optics import blur_sigma_px
from flocshape.synth.render import render_bubble, render_particle
from flocshape.synth.truth import Label, bubbles_per_track, frame_truth

TINT_BGR = (1.04, 1.0, 0.995)
"""Gain per channel (B, G, R) of the grey fluid: a faint cool tint."""
TEXTURE_BANK_PX = 512
V2_STREAM_KEY = 1000
"""Spawn-key offset of the v2 look's own random streams (the classic streams are children 0-3 of a block seed)."""


@dataclass
class BlockTask:
    """What one worker renders: block ``block`` of ``split``, output frames with their image ids."""

    cfg: SynthConfig
    block: int
    split: str
    seed: np.random.SeedSequence
    frames: list[tuple[int, int]]  # (video frame number, COCO image id)
    first_track_id: int
    images_dir: Path


@dataclass
class FrameResult:
    """One rendered frame: its COCO image record, labels and truth rows."""

    image: dict[str, Any]
    labels: list[Label]
    rows: list[dict[str, Any]]
    bubbles: list[dict[str, Any]]


@dataclass
class BlockResult:
    """All frames of a block, in frame order, and block-level facts for the card."""

    block: int
    split: str
    has_rim: bool
    frames: list[FrameResult] = field(default_factory=list)


@dataclass
class Bubbles:
    """Bubble state: position (px), radius (px), rise speed (px/frame), host track (-1 = free) and offset."""

    xy: np.ndarray
    radius: np.ndarray
    velocity: np.ndarray
    host: np.ndarray
    offset: np.ndarray


def _bubble_radii(rng: np.random.Generator, n: int) -> np.ndarray:
    """Radii 2.5-20 px, mostly small."""
    return 2.5 * 8.0 ** (rng.random(n) ** 3.0)


def spawn_bubbles(
    rng: np.random.Generator, cfg: SynthConfig, tracks: list[Track], fluid_bottom: float
) -> Bubbles:
    """Free bubbles spread over the fluid, plus clusters sitting on in-focus flocs."""
    n_free = int(rng.poisson(cfg.bubbles_per_frame * (1.0 - cfg.bubble_cluster_frac)))
    n_cluster = int(rng.poisson(cfg.bubbles_per_frame * cfg.bubble_cluster_frac))
    hosts = [
        t
        for t in tracks
        if blur_sigma_px(t.depth, cfg.blur_per_depth_px) <= cfg.max_label_blur_px
        and 0 <= t.x_px < cfg.width
        and 0 <= t.y_px < fluid_bottom
        and t.outline.area >= 150.0
    ]
    if not hosts:
        n_cluster = 0
    xy = np.column_stack([rng.uniform(0, cfg.width, n_free), rng.uniform(0, fluid_bottom, n_free)])
    host = np.full(n_free, -1, np.int64)
    offset = np.zeros((n_free, 2))
    if n_cluster:
        n_hosts = max(1, int(n_cluster // cfg.bubble_cluster_size))
        chosen = rng.choice(len(hosts), size=n_hosts, replace=len(hosts) < n_hosts)
        which = [hosts[int(k)] for k in chosen[rng.integers(0, n_hosts, n_cluster)]]
        offset = np.vstack([offset, [_point_inside(rng, t) for t in which]])
        host = np.concatenate([host, [t.track_id for t in which]])
        xy = np.vstack([xy, np.zeros((n_cluster, 2))])
    n = len(host)
    velocity = np.column_stack([rng.normal(0.0, 0.4, n), -rng.uniform(0.3, 2.5, n)])
    return Bubbles(xy=xy, radius=_bubble_radii(rng, n), velocity=velocity, host=host, offset=offset)


def _point_inside(rng: np.random.Generator, track: Track, tries: int = 20) -> tuple[float, float]:
    """A random point inside the track's outline (own frame, unscaled); its centroid if none is found."""
    minx, miny, maxx, maxy = track.outline.bounds
    xs, ys = rng.uniform(minx, maxx, tries), rng.uniform(miny, maxy, tries)
    inside = shapely.contains_xy(track.outline, xs, ys)
    k = int(np.argmax(inside))
    return (float(xs[k]), float(ys[k])) if inside[k] else (0.0, 0.0)


def place_bubbles(bubbles: Bubbles, tracks: dict[int, Track], first: bool) -> None:
    """Move bubbles one frame: attached ones follow their host's pose; orphans and free ones rise."""
    for k in range(len(bubbles.host)):
        host = tracks.get(int(bubbles.host[k]))
        if bubbles.host[k] >= 0 and host is not None:
            a = math.radians(host.angle_deg)
            ox, oy = bubbles.offset[k] * host.scale
            bubbles.xy[k] = (
                host.x_px + ox * math.cos(a) - oy * math.sin(a),
                host.y_px + ox * math.sin(a) + oy * math.cos(a),
            )
        else:
            bubbles.host[k] = -1
            if not first:
                bubbles.xy[k] += bubbles.velocity[k]


def compose_bgr(grey: np.ndarray, rim: Rim | None, noise: np.ndarray, banding: np.ndarray) -> np.ndarray:
    """Grey canvas -> tinted BGR, rim composited, banding and sensor ``noise`` (BGR) added; uint8."""
    grey += banding
    bgr = grey[..., None] * np.array(TINT_BGR, np.float32)
    if rim is not None:
        top = max(int(rim.top_px) - 1, 0)
        a = rim.alpha[top:, :, None]
        part = bgr[top:]
        part -= a * (part - rim.bgr[top:])
    bgr += noise
    return cv2.convertScaleAbs(np.maximum(bgr, 0.0, out=bgr))


def encode_jpeg(bgr: np.ndarray, quality: int) -> bytes:
    """Baseline JPEG with fixed encoder parameters (deterministic bytes)."""
    params = [
        cv2.IMWRITE_JPEG_QUALITY,
        int(quality),
        cv2.IMWRITE_JPEG_OPTIMIZE,
        0,
        cv2.IMWRITE_JPEG_PROGRESSIVE,
        0,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
    ]
    ok, buf = cv2.imencode(".jpg", bgr, params)
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


@dataclass
class Look:
    """The v2 extras of a block; every field is ``None`` when its knobs are off (the classic look)."""

    banks: Banks | None = None
    fluff: FluffLook | None = None
    bubbles: BubbleParams | None = None
    chroma: np.ndarray | None = None
    rng_frame: np.random.Generator | None = None


def v2_streams(seed: np.random.SeedSequence) -> list[np.random.Generator]:
    """Four generators of the v2 look (banks, bubble look, colour noise bank, per-frame windows), independent
    of the block's classic streams and drawn without changing ``seed``."""
    key = tuple(seed.spawn_key)
    return [
        np.random.default_rng(np.random.SeedSequence(seed.entropy, spawn_key=(*key, V2_STREAM_KEY + i)))
        for i in range(4)
    ]


def uses_v2_bubbles(cfg: SynthConfig) -> bool:
    """Bubbles get the v2 look when their rim or blur knob is on."""
    return cfg.bubble_rim > 0 or cfg.bubble_blur_px > 0


def block_look(cfg: SynthConfig, seed: np.random.SeedSequence, n_bubbles: int) -> Look:
    """The v2 extras a block's knobs ask for (none for the classic look)."""
    rng_banks, rng_bubbles, rng_chroma, rng_frame = v2_streams(seed)
    look = Look()
    if cfg.fluff_px > 0:
        look.banks = make_banks(rng_banks)
        look.fluff = FluffLook(
            cfg.fluff_px, cfg.fringe_opacity, cfg.edge_softness_px, cfg.floc_texture, cfg.glow
        )
    if uses_v2_bubbles(cfg):
        look.bubbles = bubble_params(rng_bubbles, n_bubbles, cfg.bubble_blur_px)
    if cfg.chroma_noise_sigma > 0:
        look.chroma = chroma_bank(rng_chroma, cfg)
        look.rng_frame = rng_frame
    return look


def render_block(task: BlockTask) -> BlockResult:
    """Simulate the block and write its requested frames as ``images_dir/NNNN.jpg``; return their truth."""
    cfg = task.cfg
    cv2.setNumThreads(1)
    rng_scene, rng_motion, rng_bubbles, rng_frame = (np.random.default_rng(s) for s in task.seed.spawn(4))
    has_rim = bool(rng_scene.random() < cfg.rim_frac)
    rim = make_rim(rng_scene, cfg) if has_rim else None
    fluid_bottom = rim.top_px if rim is not None else float(cfg.height)
    background = fluid_background(rng_scene, cfg, fluid_bottom)
    if cfg.brightness_tilt != 0:
        background += tilt_map(cfg)
    texture = fractal_noise(rng_scene, TEXTURE_BANK_PX, TEXTURE_BANK_PX, (10.0, 4.0, 1.6))
    bank = noise_bank(rng_scene, cfg)
    ids = TrackIds(task.first_track_id)
    tracks = spawn_tracks(rng_motion, cfg, ids, fluid_bottom)
    bubbles = spawn_bubbles(rng_bubbles, cfg, tracks, fluid_bottom)
    look = block_look(cfg, task.seed, len(bubbles.host))
    wanted = dict(task.frames)
    first_frame = task.block * BLOCK_FRAMES + 1
    result = BlockResult(block=task.block, split=task.split, has_rim=has_rim)
    for k in range(BLOCK_FRAMES):
        frame = first_frame + k
        if k:
            tracks = step_tracks(rng_motion, cfg, tracks, ids)
        by_id = {t.track_id: t for t in tracks}
        place_bubbles(bubbles, by_id, first=k == 0)
        if frame not in wanted:
            continue
        result.frames.append(
            _render_frame(
                cfg,
                task,
                frame,
                wanted[frame],
                tracks,
                bubbles,
                rim,
                background,
                texture,
                bank,
                rng_frame,
                look,
            )
        )
    return result


def _render_frame(
    cfg: SynthConfig,
    task: BlockTask,
    frame: int,
    image_id: int,
    tracks: list[Track],
    bubbles: Bubbles,
    rim: Rim | None,
    background: np.ndarray,
    texture: np.ndarray,
    bank: np.ndarray,
    rng: np.random.Generator,
    look: Look,
) -> FrameResult:
    """Render one frame to JPEG and compute its truth."""
    canvas = background.copy()
    for t in sorted(tracks, key=lambda t: (-t.depth, -t.track_id)):
        sigma = blur_sigma_px(t.depth, cfg.blur_per_depth_px)
        if look.fluff is not None and look.banks is not None:
            render_particle_v2(
                canvas, t.posed(), sigma, t.brightness, t.opacity, look.banks, t.texture_offset, look.fluff
            )
        else:
            render_particle(canvas, t.posed(), sigma, t.brightness, t.opacity, texture, t.texture_offset)
    for k, ((x, y), r) in enumerate(zip(bubbles.xy, bubbles.radius, strict=True)):
        if look.bubbles is not None:
            render_bubble_v2(canvas, float(x), float(y), float(r), cfg.bubble_rim, look.bubbles, k)
        else:
            render_bubble(canvas, float(x), float(y), float(r))
    if cfg.exposure != 1.0:
        canvas *= cfg.exposure
    noise = noise_window(bank, rng, cfg.height, cfg.width)
    banding = row_banding(rng, cfg.height, cfg.banding_sigma)
    if cfg.shot_noise > 0:
        noise = noise * shot_noise_gain(canvas, cfg)
    if look.chroma is not None and look.rng_frame is not None:
        noise = noise + noise_window(look.chroma, look.rng_frame, cfg.height, cfg.width)
    bgr = compose_bgr(canvas, rim, noise, banding)
    file_name = f"{frame:04d}.jpg"
    atomic_write_bytes(task.images_dir / file_name, encode_jpeg(bgr, cfg.jpeg_quality))
    visible = (
        (bubbles.xy[:, 0] + bubbles.radius > 0)
        & (bubbles.xy[:, 0] - bubbles.radius < cfg.width)
        & (bubbles.xy[:, 1] + bubbles.radius > 0)
        & (bubbles.xy[:, 1] - bubbles.radius < cfg.height)
    )
    rows, labels = frame_truth(
        cfg, tracks, rim.polygon if rim else None, bubbles_per_track(bubbles.host[visible])
    )
    image = {"id": image_id, "file_name": file_name, "height": cfg.height, "width": cfg.width}
    bubble_rows = [
        {
            "bubble_index": int(b),
            "x_px": float(bubbles.xy[b, 0]),
            "y_px": float(bubbles.xy[b, 1]),
            "radius_px": float(bubbles.radius[b]),
            "on_track_id": int(bubbles.host[b]),
        }
        for b in np.flatnonzero(visible)
    ]
    return FrameResult(image=image, labels=labels, rows=rows, bubbles=bubble_rows)
