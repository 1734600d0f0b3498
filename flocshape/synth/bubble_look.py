"""Realism v2 air bubbles: lens-like discs with a dark lower crescent, a lighter cap, a bright rim crescent,
a specular point and their own defocus.

Used when ``bubble_rim > 0`` or ``bubble_blur_px > 0`` (the classic dark disc is
:func:`flocshape.synth.render.render_bubble`). Seen from the side in a backlit fluid, a bubble is a small lens:
it shows the fluid behind it darkened, darkest in a crescent on one side (usually below) where light is
refracted away, with a lighter cap on the other side; light focused along the edge on the dark side makes a thin
bright crescent at the rim; a point reflection of the lamp sits inside. Bubbles are never particles: they change
pixels only, never a label or a truth row.

Per-bubble parameters come from a generator of their own (:func:`bubble_params`), so the bubbles' positions and
sizes are those of the classic look.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flocshape.synth.optics import gaussian_blur


@dataclass(frozen=True)
class BubbleParams:
    """Per-bubble look (arrays of one value per bubble): blur sigma (px), crescent direction (rad, 0 = down,
    positive = towards +x), rim gain (x ``bubble_rim``), specular offset (x, y in radii) and specular gain."""

    blur_px: np.ndarray
    angle_rad: np.ndarray
    rim_gain: np.ndarray
    spec_xy: np.ndarray
    spec_gain: np.ndarray


def bubble_params(rng: np.random.Generator, n: int, blur_max_px: float) -> BubbleParams:
    """Draw the look of ``n`` bubbles: blur ``blur_max_px * u^2`` (most bubbles near focus), crescent within about
    +-35 deg of straight down, rim gain 0.5-1.2, specular point in the upper half, off-centre, its gain u^2
    (few bubbles catch the lamp brightly)."""
    return BubbleParams(
        blur_px=blur_max_px * rng.random(n) ** 2,
        angle_rad=rng.normal(0.0, 0.6, n),
        rim_gain=rng.uniform(0.5, 1.2, n),
        spec_xy=np.column_stack([rng.uniform(-0.45, 0.45, n), rng.uniform(-0.55, -0.05, n)]),
        spec_gain=rng.random(n) ** 2,
    )


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def render_bubble_v2(
    canvas: np.ndarray,
    x_px: float,
    y_px: float,
    radius_px: float,
    rim: float,
    params: BubbleParams,
    k: int,
) -> None:
    """Composite bubble ``k`` (centre, radius in px; ``rim`` = rim crescent brightness, grey levels) in place."""
    h, w = canvas.shape
    r = radius_px
    blur = float(params.blur_px[k])
    pad = int(r + 3.0 * blur + 3.0)
    x0, y0 = max(int(x_px) - pad, 0), max(int(y_px) - pad, 0)
    x1, y1 = min(int(x_px) + pad + 1, w), min(int(y_px) + pad + 1, h)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = xx + 0.5 - x_px, yy + 0.5 - y_px
    dist = np.sqrt(dx * dx + dy * dy)
    rho = np.clip(dist / r, 0.0, 1.0)
    a = float(params.angle_rad[k])
    towards = (dx * np.sin(a) + dy * np.cos(a)) / r  # -1 (cap side) ... +1 (crescent side)
    inside = np.clip(r - dist + 0.5, 0.0, 1.0)
    side = np.clip(towards, 0.0, 1.0)
    edge_start = 0.62 - 0.32 * side  # the dark ring widens into a crescent on the crescent side
    unresolved = 0.35 * max(0.0, 1.0 - r / 5.0)  # bubbles of a few px are just dark dots
    darkness = 0.5 + unresolved + (0.45 - unresolved) * _smoothstep((rho - edge_start) / (1.0 - edge_start))
    cap = 14.0 * np.clip(-towards, 0.0, 1.0) * (1.0 - rho * rho)
    region = canvas[y0:y1, x0:x1]
    inner = region * (1.0 - darkness) + 5.0 * darkness + cap
    ring = np.exp(-(((dist - (r + 0.1)) / 0.8) ** 2))
    crescent = ring * (0.15 + 0.85 * side**1.5) * (rim * float(params.rim_gain[k]))
    sx, sy = params.spec_xy[k] * r
    spot_r = 0.06 * r + 0.45
    spot = np.exp(-((dx - sx) ** 2 + (dy - sy) ** 2) / (2.0 * spot_r * spot_r))
    spec = (170.0 * float(params.spec_gain[k]) * min(1.0, r / 6.0)) * spot * inside
    delta = inside * (inner - region) + crescent + spec
    if blur >= 0.3:
        delta = gaussian_blur(delta.astype(np.float32), blur)
    region += delta
