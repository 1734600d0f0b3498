"""Image statistics that are hard to fool, computed the same way on real and synthetic frames.

Every function takes a BGR ``uint8`` frame (OpenCV order) and looks only at the *fluid* (:func:`fluid_mask`:
the tan vessel rim is left out, since both kinds of frame show it and it says nothing about flocs or bubbles).
Grey levels are 0-255 (OpenCV BGR -> grey); lengths in px; frequencies in cycles per px. Each function is
deterministic: where it samples, it samples with a fixed seed.

* :func:`edge_widths` - 10-90 % rise distance of the intensity profile across bright-object (floc) edges;
* :func:`band_shares` - radially averaged power spectrum of 64 px patches, as shares of power per band;
* :func:`blockiness` - JPEG 8x8 block-boundary contrast;
* :func:`chroma_noise` and :func:`noise_by_level` - colour noise, and sensor noise in dark and bright areas;
* :func:`dark_blobs` - dark round blobs (bubbles) and the shares with a bright rim and with a specular point.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

RIM_RED_MINUS_BLUE = 15.0
"""A pixel whose 15 px box mean of (R - B) exceeds this (grey levels) is vessel rim, not fluid."""
PATCH_PX = 64
SPECTRUM_BANDS = (0.0, 0.03125, 0.0625, 0.125, 0.25, 0.5)
"""Band edges (cycles per px) of :func:`band_shares`; the top band runs to the corner frequency."""
EDGE_MIN_STEP = 40.0
EDGE_MIN_BRIGHT = 100.0
EDGE_REACH_PX = 8.0
BLOB_RADII_PX = (2.0, 3.0, 4.5, 6.5, 9.0, 13.0)
BLOB_MIN_CONTRAST = 12.0
RIM_MIN_EXCESS = 6.0
SPECULAR_MIN_EXCESS = 25.0
RESOLVED_RADIUS_PX = 4.5
"""Rim and specular flags are judged only on blobs at least this large (smaller rings hold a few pixels)."""


def grey(bgr: np.ndarray) -> np.ndarray:
    """Grey levels, float32."""
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)


def fluid_mask(bgr: np.ndarray) -> np.ndarray:
    """Bool mask of the fluid: everything but the tan rim (box mean of R - B above ``RIM_RED_MINUS_BLUE``)."""
    f = bgr.astype(np.float32)
    return cv2.blur(f[..., 2] - f[..., 0], (15, 15)) < RIM_RED_MINUS_BLUE


def _crossing(t: np.ndarray, p: np.ndarray, level: float, rising: bool) -> float:
    """First position along ``t`` where ``p`` passes ``level`` (linear interpolation); NaN if it never does."""
    hit = p >= level if rising else p <= level
    k = int(np.argmax(hit))
    if not hit[k]:
        return float("nan")
    if k == 0:
        return float(t[0])
    p0, p1 = p[k - 1], p[k]
    return float(t[k - 1] + (level - p0) / (p1 - p0) * (t[k] - t[k - 1]))


def edge_widths(bgr: np.ndarray, max_edges: int = 3000, seed: int = 0) -> np.ndarray:
    """10-90 % rise distances (px) across bright-object edges in the fluid, one per sampled edge point.

    Detector: Canny (thresholds 20 / 50) on the grey frame blurred with sigma 1 px; at up to ``max_edges`` edge
    pixels (drawn with ``seed``) the unblurred grey profile is sampled along the gradient, +-8 px in 0.25 px steps
    (bilinear). The dark level is the mean over the outer 3 px of the dark side, the bright level the same on the
    bright side; a profile counts when the step is at least 40 grey levels and the bright level at least 100 (a
    floc, not haze or a bubble). The width is the distance between the 10 % crossing (searched from the edge
    pixel towards the dark side) and the 90 % crossing (towards the bright side).
    """
    g = grey(bgr)
    smooth = cv2.GaussianBlur(g, (0, 0), 1.0)
    edges = cv2.Canny(np.clip(smooth, 0, 255).astype(np.uint8), 20, 50) > 0
    edges &= cv2.erode(fluid_mask(bgr).astype(np.uint8), np.ones((17, 17), np.uint8)) > 0
    ys, xs = np.nonzero(edges)
    if not len(ys):
        return np.zeros(0)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(ys), size=min(max_edges, len(ys)), replace=False)
    ys, xs = ys[np.sort(pick)], xs[np.sort(pick)]
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)[ys, xs]
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)[ys, xs]
    norm = np.hypot(gx, gy) + 1e-9
    t = np.arange(-EDGE_REACH_PX, EDGE_REACH_PX + 1e-6, 0.25, dtype=np.float32)
    map_x = (xs[:, None] + (gx / norm)[:, None] * t[None, :]).astype(np.float32)
    map_y = (ys[:, None] + (gy / norm)[:, None] * t[None, :]).astype(np.float32)
    prof = cv2.remap(g, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    outer = t.size // 2 - int(round(3.0 / 0.25))
    low, high = prof[:, :outer].mean(axis=1), prof[:, -outer:].mean(axis=1)
    step = high - low
    keep = (step >= EDGE_MIN_STEP) & (high >= EDGE_MIN_BRIGHT)
    centre = t.size // 2
    widths = []
    for p, lo, st in zip(prof[keep], low[keep], step[keep], strict=True):
        t10 = _crossing(t[centre::-1], p[centre::-1], lo + 0.1 * st, rising=False)
        t90 = _crossing(t[centre:], p[centre:], lo + 0.9 * st, rising=True)
        if np.isfinite(t10) and np.isfinite(t90):
            widths.append(t90 - t10)
    return np.asarray(widths, float)


def patch_origins(mask: np.ndarray, size: int = PATCH_PX, min_fluid: float = 0.9) -> list[tuple[int, int]]:
    """Top-left corners (y, x) of the non-overlapping ``size`` px grid patches that are at least ``min_fluid``
    fluid."""
    h, w = mask.shape
    return [
        (y, x)
        for y in range(0, h - size + 1, size)
        for x in range(0, w - size + 1, size)
        if mask[y : y + size, x : x + size].mean() >= min_fluid
    ]


def _radius_grid(size: int) -> np.ndarray:
    f = np.fft.fftfreq(size)
    return np.hypot(f[:, None], f[None, :])


def radial_band_power(patch: np.ndarray) -> np.ndarray:
    """Power of a grey patch (Hann window, mean removed) in each band of ``SPECTRUM_BANDS`` (last band open)."""
    n = patch.shape[0]
    win = np.hanning(n)[:, None] * np.hanning(n)[None, :]
    power = np.abs(np.fft.fft2((patch - patch.mean()) * win)) ** 2
    r = _radius_grid(n)
    edges = list(SPECTRUM_BANDS[:-1]) + [np.inf]
    return np.array([power[(r > lo) & (r <= hi)].sum() for lo, hi in zip(edges[:-1], edges[1:], strict=True)])


def band_shares(bgr: np.ndarray) -> np.ndarray:
    """Median over the frame's fluid patches of each band's share of the patch's spectral power."""
    g = grey(bgr)
    shares = []
    for y, x in patch_origins(fluid_mask(bgr)):
        p = radial_band_power(g[y : y + PATCH_PX, x : x + PATCH_PX])
        shares.append(p / max(p.sum(), 1e-9))
    return np.median(np.asarray(shares), axis=0) if shares else np.full(len(SPECTRUM_BANDS) - 1, np.nan)


def blockiness(g: np.ndarray) -> float:
    """JPEG block signature: mean |difference| between neighbours across 8 px block boundaries over the mean
    elsewhere, rows and columns together (1 = no blocks)."""
    dx = np.abs(np.diff(g, axis=1)).mean(axis=0)
    dy = np.abs(np.diff(g, axis=0)).mean(axis=1)
    on = np.concatenate([dx[7::8], dy[7::8]])
    off = np.concatenate([np.delete(dx, np.s_[7::8]), np.delete(dy, np.s_[7::8])])
    return float(on.mean() / max(off.mean(), 1e-9))


def _robust_sd(values: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(values - np.median(values)))) if values.size else float("nan")


def chroma_noise(bgr: np.ndarray) -> tuple[float, float]:
    """Robust sd (1.4826 x MAD) of the Cr and Cb channels minus their 7 px box mean, in the fluid."""
    ycc = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb).astype(np.float32)
    m = fluid_mask(bgr)
    out = []
    for c in (1, 2):
        ch = ycc[..., c]
        out.append(_robust_sd((ch - cv2.blur(ch, (7, 7)))[m]))
    return out[0], out[1]


def noise_by_level(bgr: np.ndarray, levels: tuple[tuple[float, float], ...]) -> list[float]:
    """Noise sd (as :func:`flocshape.synth.stats.noise_sigma`) where the 15 px box mean is in each level range."""
    g = grey(bgr)
    residual = (g - cv2.blur(g, (7, 7))) / float(np.sqrt(1.0 - 1.0 / 49.0))
    local = cv2.blur(g, (15, 15))
    m = fluid_mask(bgr)
    return [_robust_sd(residual[m & (local >= lo) & (local < hi)]) for lo, hi in levels]


@dataclass
class Blobs:
    """Dark round blobs: centre (x, y) px, radius px, depth (ring mean minus disc mean, grey levels), and per
    blob: bright rim, specular point (bool; both False below ``RESOLVED_RADIUS_PX``)."""

    xy: np.ndarray
    radius: np.ndarray
    depth: np.ndarray
    bright_rim: np.ndarray
    specular: np.ndarray


def _disc(r: float) -> np.ndarray:
    n = int(np.ceil(r))
    yy, xx = np.mgrid[-n : n + 1, -n : n + 1]
    k = (xx * xx + yy * yy <= r * r).astype(np.float32)
    return k / k.sum()


def _annulus(r0: float, r1: float) -> np.ndarray:
    n = int(np.ceil(r1))
    yy, xx = np.mgrid[-n : n + 1, -n : n + 1]
    d2 = xx * xx + yy * yy
    k = ((d2 > r0 * r0) & (d2 <= r1 * r1)).astype(np.float32)
    return k / k.sum()


def _blob_candidates(g: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres, radii and depths of disc-vs-ring local maxima over ``BLOB_RADII_PX``, deepest first (ties by
    position and radius, so the order is fixed)."""
    found: list[tuple[float, int, int, float]] = []
    for r in BLOB_RADII_PX:
        contrast = cv2.filter2D(g, -1, _annulus(1.5 * r, 2.2 * r)) - cv2.filter2D(g, -1, _disc(r))
        peak = contrast >= cv2.dilate(contrast, np.ones((2 * int(r) + 1,) * 2, np.uint8))
        ys, xs = np.nonzero(peak & (contrast >= BLOB_MIN_CONTRAST) & mask)
        found += [(float(contrast[y, x]), int(x), int(y), r) for y, x in zip(ys, xs, strict=True)]
    if not found:
        return np.zeros((0, 2)), np.zeros(0), np.zeros(0)
    arr = np.asarray(sorted(found, key=lambda f: (-f[0], f[1], f[2], f[3])))
    return arr[:, 1:3], arr[:, 3], arr[:, 0]


def _polar_grid(n: int, r: float) -> tuple[np.ndarray, np.ndarray]:
    """Distance in radii ``r`` from the centre, and the 8-sector index, of a ``2n + 1`` square."""
    yy, xx = np.mgrid[-n : n + 1, -n : n + 1].astype(np.float32)
    d = np.hypot(xx, yy) / r
    sector = ((np.arctan2(yy, xx) + np.pi) / (2 * np.pi) * 8).astype(int) % 8
    return d, sector


def _ring_by_sector(patch: np.ndarray, d: np.ndarray, sector: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Mean of ``patch`` over the ring ``lo < d <= hi`` in each of the 8 sectors (NaN where a sector is empty)."""
    ring = (d > lo) & (d <= hi)
    out = np.full(8, np.nan)
    for s in range(8):
        v = patch[ring & (sector == s)]
        if v.size:
            out[s] = v.mean()
    return out


def _has_bright_rim(soft: np.ndarray, d: np.ndarray, sector: np.ndarray) -> bool:
    """A thin bright ridge around the blob: in two neighbouring sectors at least, some 0.125 r wide ring between
    0.85 and 2.0 r is ``RIM_MIN_EXCESS`` brighter than the inside (< 0.6 r), the 0.375 r just inside it (a
    specular spot's tail has its peak there) and the ring 0.375-0.75 r beyond it (a floc around a dark gap stays
    bright beyond, a rim does not)."""
    inner = _ring_by_sector(soft, d, sector, 0.0, 0.6)
    best = np.full(8, -np.inf)
    for a in np.arange(0.85, 2.0, 0.125):
        ridge = _ring_by_sector(soft, d, sector, a, a + 0.125)
        before = _ring_by_sector(soft, d, sector, a - 0.375, a)
        beyond = _ring_by_sector(soft, d, sector, a + 0.375, a + 0.75)
        best = np.fmax(best, ridge - np.maximum(np.maximum(inner, before), beyond))
    bright = best >= RIM_MIN_EXCESS
    return bool(np.any(bright & np.roll(bright, 1)))


def dark_blobs(bgr: np.ndarray) -> Blobs:
    """Dark round blobs (bubbles) in the fluid, each with its bright-rim and specular flags.

    Detector: at radii 2-13 px, the mean of a ring (1.5-2.2 r) minus the mean of the disc (r) of the grey frame;
    local maxima at least 12 grey levels deep that are *round*: in each of 8 angular sectors the ring 1.3-2.0 r
    is brighter than the disc by at least 0.4 of the depth (a dark gap between flocs fails this); strongest
    first, a blob dropped when its centre lies in a kept one. Flags, for blobs of radius >= 4.5 px (smaller
    ones are too few pixels to judge): bright rim: on the grey frame blurred with sigma 1 px (noise down, a
    thin rim kept), in at least two neighbouring sectors (a crescent of 90 degrees or more, not a specular
    spot) some 0.125 r wide ring between 0.85 and 2.0 r is at least 6 grey levels brighter than the inside
    (< 0.6 r), than the 0.375 r just inside it and than the ring 0.375-0.75 r beyond it (a thin ridge along the
    edge, wherever the coarse radius puts it; a floc around a dark gap stays bright beyond it). Specular point: a pixel inside 0.8 r at least 25 grey levels above the median of the
    ring 1.5-2.5 r (unblurred).
    """
    g = grey(bgr)
    smooth = cv2.GaussianBlur(g, (0, 0), 1.0)
    h, w = g.shape
    xy, radius, depth = _blob_candidates(g, cv2.erode(fluid_mask(bgr).astype(np.uint8), np.ones((9, 9))) > 0)
    kept: list[int] = []
    rim: list[bool] = []
    spec: list[bool] = []
    for k, ((x, y), r) in enumerate(zip(xy, radius, strict=True)):
        n = int(np.ceil(2.8 * r)) + 1
        x0, y0, x1, y1 = int(x) - n, int(y) - n, int(x) + n + 1, int(y) + n + 1
        if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
            continue
        if kept:  # deepest first: a candidate whose centre lies in a kept blob is the same blob
            kxy, kr = xy[kept], radius[kept]
            if np.any(((kxy - (x, y)) ** 2).sum(axis=1) <= np.maximum(kr, r) ** 2):
                continue
        patch = g[y0:y1, x0:x1]
        d, sector = _polar_grid(n, r)
        disc = float(patch[d <= 1.0].mean())
        if np.nanmin(_ring_by_sector(patch, d, sector, 1.3, 2.0)) - disc < 0.4 * depth[k]:
            continue
        kept.append(k)
        rim.append(False)
        spec.append(False)
        if r < RESOLVED_RADIUS_PX:
            continue
        rim[-1] = _has_bright_rim(smooth[y0:y1, x0:x1], d, sector)
        background = float(np.median(patch[(d > 1.5) & (d <= 2.5)]))
        spec[-1] = float(patch[d <= 0.8].max()) - background >= SPECULAR_MIN_EXCESS
    return Blobs(
        xy=xy[kept],
        radius=radius[kept],
        depth=depth[kept],
        bright_rim=np.array(rim, bool),
        specular=np.array(spec, bool),
    )
