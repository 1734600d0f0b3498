"""Figures of the realism v2 report: crops of real and synthetic frames side by side, chosen by one rule.

Every frame gets three crops, chosen the same way on real and synthetic frames (no hand-picked places):

* **floc edge** (128 px): centred on the centroid of the largest bright component (grey > 120, 15-200 px wide)
  in the fluid;
* **bubbles** (128 px): centred on the clearest dark round blob (at least 20 grey levels deep,
  :func:`flocshape.synth.realism_stats.dark_blobs`) with the most other such blobs within 64 px;
* **fluid noise** (48 px, shown 4x contrast around its mean): the flattest fluid grid patch with a mean grey of
  25-90.

The local figure (``runs/``) puts the real frame's crops in the first row; the committed figure never shows real
pixels: synthetic crops and the measured numbers only.
"""

from __future__ import annotations

import io

import cv2
import numpy as np

from flocshape.synth.realism_stats import dark_blobs, fluid_mask, grey, patch_origins
from flocshape.synth.realism_v2 import Measures

CROP_PX = 128
NOISE_PX = 48


def _clamp_box(cx: float, cy: float, size: int, shape: tuple[int, ...]) -> tuple[int, int]:
    h, w = shape[:2]
    x0 = int(np.clip(round(cx - size / 2), 0, w - size))
    y0 = int(np.clip(round(cy - size / 2), 0, h - size))
    return x0, y0


def floc_box(bgr: np.ndarray) -> tuple[int, int]:
    """Top-left (x, y) of the floc-edge crop (module doc); the frame centre when nothing qualifies."""
    g = grey(bgr)
    bright = ((g > 120) & fluid_mask(bgr)).astype(np.uint8)
    n, _, stats, centroids = cv2.connectedComponentsWithStats(bright, connectivity=8)
    best, best_area = None, 0
    for k in range(1, n):
        w, h, area = stats[k, cv2.CC_STAT_WIDTH], stats[k, cv2.CC_STAT_HEIGHT], stats[k, cv2.CC_STAT_AREA]
        if 15 <= max(w, h) <= 200 and area > best_area:
            best, best_area = centroids[k], area
    cx, cy = best if best is not None else (bgr.shape[1] / 2, bgr.shape[0] / 2)
    return _clamp_box(cx, cy, CROP_PX, bgr.shape)


def bubble_box(bgr: np.ndarray) -> tuple[int, int]:
    """Top-left (x, y) of the bubble crop (module doc); the frame centre when no blob is found."""
    blobs = dark_blobs(bgr)
    xy = blobs.xy[blobs.depth >= 20.0]
    if not len(xy):
        return _clamp_box(bgr.shape[1] / 2, bgr.shape[0] / 2, CROP_PX, bgr.shape)
    d2 = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1)
    k = int(np.argmax((d2 <= 64.0**2).sum(axis=1)))
    return _clamp_box(xy[k, 0], xy[k, 1], CROP_PX, bgr.shape)


def noise_box(bgr: np.ndarray) -> tuple[int, int]:
    """Top-left (x, y) of the flattest fluid patch with a mean grey of 25-90 (module doc)."""
    g = grey(bgr)
    best, best_sd = (0, 0), np.inf
    for y, x in patch_origins(fluid_mask(bgr), size=NOISE_PX):
        p = g[y : y + NOISE_PX, x : x + NOISE_PX]
        smooth_sd = float(cv2.blur(p, (9, 9)).std())
        if 25 <= p.mean() <= 90 and smooth_sd < best_sd:
            best, best_sd = (x, y), smooth_sd
    return best


def crops(bgr: np.ndarray) -> list[np.ndarray]:
    """The three crops of a frame as RGB ``uint8``, each 256 x 256 px (nearest-neighbour enlarged)."""
    out = []
    for (x, y), size, stretch in (
        (floc_box(bgr), CROP_PX, False),
        (bubble_box(bgr), CROP_PX, False),
        (noise_box(bgr), NOISE_PX, True),
    ):
        c = bgr[y : y + size, x : x + size].astype(np.float32)
        if stretch:
            c = (c - c.mean()) * 4.0 + 128.0
        c = np.clip(c, 0, 255).astype(np.uint8)
        c = cv2.resize(c, (256, 256), interpolation=cv2.INTER_NEAREST)
        out.append(cv2.cvtColor(c, cv2.COLOR_BGR2RGB))
    return out


COLUMN_TITLES = ("floc edge (128 px)", "bubbles (128 px)", "fluid noise (48 px, contrast x4)")


def crops_png(rows: list[tuple[str, np.ndarray]], charts: dict[str, Measures] | None = None,
              real: Measures | None = None, dpi: int = 72) -> bytes:  # fmt: skip
    """PNG bytes: one row of crops per ``(label, bgr)``; with ``charts``, a last column of edge-width
    distributions (the real frame's median as a dashed line when ``real`` is given) and classifier AUCs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_cols = 3 + (1 if charts else 0)
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(2.6 * n_cols, 2.6 * len(rows)), squeeze=False)
    for r, (label, bgr) in enumerate(rows):
        for c, img in enumerate(crops(bgr)):
            ax = axes[r, c]
            ax.imshow(img)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(COLUMN_TITLES[c], fontsize=9)
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
    if charts:
        _charts(axes[:, 3], charts, real)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def _charts(axes: np.ndarray, charts: dict[str, Measures], real: Measures | None) -> None:
    """Edge-width histograms and AUC bars in the chart column (other cells left empty)."""
    ax = axes[0]
    bins = np.linspace(0, 12, 25)
    for name, m in charts.items():
        ax.hist(m.edge_widths, bins=bins, histtype="step", density=True, label=name)
    if real is not None and real.edge_widths.size:
        ax.axvline(float(np.median(real.edge_widths)), color="k", ls="--", label="real frame median")
    ax.set_xlabel("edge 10-90 % rise (px)", fontsize=8)
    ax.set_title("floc edge widths", fontsize=9)
    ax.legend(fontsize=6)
    if len(axes) > 1:
        ax = axes[1]
        names = list(charts)
        means = [float(np.nanmean(charts[n].auc)) for n in names]
        sds = [float(np.nanstd(charts[n].auc, ddof=1)) for n in names]
        ax.bar(range(len(names)), means, yerr=sds, color="tab:blue", capsize=3)
        ax.axhline(0.5, color="k", ls=":", lw=1)
        ax.set_xticks(range(len(names)), names, fontsize=7, rotation=15)
        ax.set_ylim(0.4, 1.02)
        ax.set_title("real-vs-synthetic patch AUC", fontsize=9)
    for ax in axes[2:]:
        ax.axis("off")
