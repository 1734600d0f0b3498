"""Realism v2 report: hard-to-fool statistics and the patch classifier, real frame vs generator presets.

``python datasets/realism.py --compare hackathon hackathon-v2 randomised --real FRAME.png`` renders
``--compare-frames`` frames per preset (one per block: blocks differ in background, particles and, when
randomised, look), measures them and the real frame with the same functions
(:mod:`flocshape.synth.realism_stats`), runs the spatially cross-validated patch classifier
(:mod:`flocshape.synth.patchclf`), and writes a markdown table (statistic | real frame | each preset). Nothing here
feeds back into the generator: the numbers are for reporting, the generator's knobs are set by hand.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from flocshape.synth.block import render_block
from flocshape.synth.config import BLOCK_FRAMES, resolve
from flocshape.synth.patchclf import FEATURE_GROUPS, Patches, concat, cross_validated_auc, frame_patches
from flocshape.synth.realism_stats import (
    RESOLVED_RADIUS_PX,
    SPECTRUM_BANDS,
    band_shares,
    blockiness,
    chroma_noise,
    dark_blobs,
    edge_widths,
    fluid_mask,
    grey,
    noise_by_level,
)
from flocshape.synth.stats import grey_percentiles
from flocshape.synth.writer import plan_tasks

NOISE_LEVELS = ((0.0, 40.0), (40.0, 100.0), (120.0, 256.0))
"""Grey-level ranges (15 px box mean) of the noise-by-level rows: dark fluid, haze, flocs."""
TABLE_START = "<!-- realism-v2-table:start -->"
TABLE_END = "<!-- realism-v2-table:end -->"


@dataclass
class Sample:
    """One frame to measure: its pixels (BGR) and its block (-1 for the real frame)."""

    bgr: np.ndarray
    block: int


def sample_frames(preset: str, n_frames: int, seed: int) -> list[Sample]:
    """``n_frames`` frames of ``preset``: the first kept frame of each of ``n_frames`` blocks (seed ``seed``)."""
    n_blocks = max(n_frames, 2)
    cfg = resolve(preset, {"seed": seed, "frames": n_blocks * BLOCK_FRAMES, "test_frac": 0.5})
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for task in plan_tasks(cfg, Path(tmp))[:n_frames]:
            task = dataclasses.replace(task, frames=task.frames[:1])
            task.images_dir.mkdir(parents=True, exist_ok=True)
            result = render_block(task)
            path = task.images_dir / result.frames[0].image["file_name"]
            out.append(Sample(bgr=cv2.imread(str(path), cv2.IMREAD_COLOR), block=task.block))
            path.unlink()
    return out


@dataclass
class Measures:
    """Statistics of a set of frames (one frame for the real column) and its classifier AUCs."""

    frames: int
    grey: dict[int, float]
    noise: list[float]
    chroma: tuple[float, float]
    blockiness: float
    bands: np.ndarray
    edge_widths: np.ndarray
    blobs_per_mpx: float
    blob_rim_share: float
    blob_specular_share: float
    blob_radius_median: float
    blob_count: int
    resolved_count: int
    auc: list[float] = field(default_factory=list)
    group_auc: dict[str, list[float]] = field(default_factory=dict)


def measure(samples: list[Sample]) -> Measures:
    """Every statistic of the table over ``samples`` (medians over frames; edges and blobs pooled)."""
    greys = [grey_percentiles(s.bgr) for s in samples]
    blobs = [dark_blobs(s.bgr) for s in samples]
    fluid_mpx = [float(fluid_mask(s.bgr).sum()) / 1e6 for s in samples]
    radii = np.concatenate([b.radius for b in blobs])
    resolved = radii >= RESOLVED_RADIUS_PX
    rims = np.concatenate([b.bright_rim for b in blobs])[resolved]
    specs = np.concatenate([b.specular for b in blobs])[resolved]
    return Measures(
        frames=len(samples),
        grey={p: float(np.mean([g[p] for g in greys])) for p in (1, 50, 99)},
        noise=list(np.median([noise_by_level(s.bgr, NOISE_LEVELS) for s in samples], axis=0)),
        chroma=tuple(np.median([chroma_noise(s.bgr) for s in samples], axis=0)),
        blockiness=float(np.median([blockiness(grey(s.bgr)) for s in samples])),
        bands=np.median([band_shares(s.bgr) for s in samples], axis=0),
        edge_widths=np.concatenate([edge_widths(s.bgr) for s in samples]),
        blobs_per_mpx=float(np.mean([len(b.radius) / m for b, m in zip(blobs, fluid_mpx, strict=True)])),
        blob_rim_share=float(rims.mean()) if rims.size else float("nan"),
        blob_specular_share=float(specs.mean()) if specs.size else float("nan"),
        blob_radius_median=float(np.median(radii)) if radii.size else float("nan"),
        blob_count=int(radii.size),
        resolved_count=int(resolved.sum()),
    )


def patches(samples: list[Sample]) -> list[Patches]:
    """Classifier features of every frame."""
    return [frame_patches(s.bgr, s.block) for s in samples]


def compare(
    real_bgr: np.ndarray, presets: list[str], n_frames: int, seed: int
) -> tuple[Measures, dict[str, Measures], dict[str, list[Sample]]]:
    """Measures of the real frame and of each preset (with its fold AUCs against the real frame)."""
    real = Sample(bgr=real_bgr, block=-1)
    real_measures = measure([real])
    real_patches = frame_patches(real_bgr, -1)
    out: dict[str, Measures] = {}
    samples: dict[str, list[Sample]] = {}
    for preset in presets:
        samples[preset] = sample_frames(preset, n_frames, seed)
        m = measure(samples[preset])
        synth = concat(patches(samples[preset]))
        m.auc = cross_validated_auc(real_patches, synth)
        m.group_auc = {
            g: cross_validated_auc(real_patches, synth, columns=c) for g, c in FEATURE_GROUPS.items()
        }
        out[preset] = m
    return real_measures, out, samples


def _f(v: float, digits: int = 2) -> str:
    return "n/a" if not np.isfinite(v) else f"{v:.{digits}f}"


def _iqr(w: np.ndarray) -> str:
    if not w.size:
        return "n/a"
    p25, p50, p75 = np.percentile(w, (25, 50, 75))
    return f"{p50:.2f} ({p25:.2f}-{p75:.2f}, n={w.size})"


def _auc(a: list[float]) -> str:
    v = np.asarray(a, float)
    v = v[np.isfinite(v)]
    if not v.size:
        return ""
    return f"**{v.mean():.3f} +- {v.std(ddof=1) if v.size > 1 else 0.0:.3f}** ({v.min():.2f}-{v.max():.2f})"


def _rows(m: Measures) -> list[str]:
    """The table cells of one column, in :data:`ROW_NAMES` order."""
    band_labels = range(len(SPECTRUM_BANDS) - 1)
    return [
        _auc(m.auc),
        *(_auc(m.group_auc.get(g, [])) for g in FEATURE_GROUPS),
        _iqr(m.edge_widths),
        *(_f(m.bands[k], 3) for k in band_labels),
        _f(m.blockiness, 3),
        _f(m.chroma[0]),
        _f(m.chroma[1]),
        *(_f(v) for v in m.noise),
        _f(m.blobs_per_mpx, 0),
        f"{_f(m.blob_rim_share)} (of {m.resolved_count})",
        f"{_f(m.blob_specular_share)} (of {m.resolved_count})",
        _f(m.blob_radius_median, 1),
        *(_f(m.grey[p], 0) for p in (1, 50, 99)),
    ]


def _band_name(k: int) -> str:
    lo, hi = SPECTRUM_BANDS[k], SPECTRUM_BANDS[k + 1]
    top = "corner" if k == len(SPECTRUM_BANDS) - 2 else f"{hi:g}"
    return f"spectrum: share of 64 px patch power at {lo:g}-{top} cycles/px (median)"


ROW_NAMES = [
    "patch classifier ROC AUC, all features: mean +- sd over 4 spatial folds (min-max); 0.5 = indistinguishable",
    *(f"patch classifier ROC AUC, {g} features only" for g in FEATURE_GROUPS),
    "floc edge 10-90 % rise distance, px: median (IQR, edge profiles)",
    *(_band_name(k) for k in range(len(SPECTRUM_BANDS) - 1)),
    "JPEG blockiness (8 px boundary / other neighbour differences)",
    "colour noise sd, Cr (grey levels)",
    "colour noise sd, Cb (grey levels)",
    "noise sd in dark fluid (box mean < 40)",
    "noise sd in haze (40-100)",
    "noise sd on flocs (>= 120)",
    "dark round blobs (bubbles) per Mpx of fluid",
    "share of blobs (radius >= 4.5 px) with a bright rim",
    "share of blobs (radius >= 4.5 px) with a specular point",
    "blob radius, median (px)",
    "grey level, 1 % percentile",
    "grey level, 50 % percentile",
    "grey level, 99 % percentile",
]


def table_markdown(real: Measures, presets: dict[str, Measures], command: str, real_name: str) -> str:
    """Statistic | real frame | one column per preset; then how it was measured and the command."""
    names = list(presets)
    cols = [_rows(real)] + [_rows(presets[p]) for p in names]
    for i in range(1 + len(FEATURE_GROUPS)):
        cols[0][i] = "(positive class)"
    head = f"| statistic | real frame {real_name} | " + " | ".join(f"`{p}`" for p in names) + " |"
    lines = [head, "|---" * (2 + len(names)) + "|"]
    for i, name in enumerate(ROW_NAMES):
        lines.append("| " + " | ".join([name] + [c[i] for c in cols]) + " |")
    n = presets[names[0]].frames if names else 0
    return (
        "\n".join(lines)
        + f"\n\nEach preset: {n} frames, one per block (seed as in the command). Edge profiles and blobs are pooled over"
        " frames, the other statistics are medians over frames; the real column is the one real frame.\n"
        f"Command: `{command}`\n"
    )


def replace_between(text: str, start: str, end: str, body: str) -> str:
    """``text`` with everything between the ``start`` and ``end`` marker lines replaced by ``body``; the markers
    and the body are appended when the markers are missing."""
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        return head + block + rest.split(end, 1)[1]
    return text.rstrip() + "\n\n" + block + "\n"


def summary(real: Measures, presets: dict[str, Measures]) -> dict[str, Any]:
    """A JSON-able digest (for ``runs/``): the AUCs per fold and the headline numbers."""

    def one(m: Measures) -> dict[str, Any]:
        w = m.edge_widths
        return {
            "frames": m.frames,
            "auc_folds": [float(a) for a in m.auc],
            "group_auc_folds": {g: [float(a) for a in v] for g, v in m.group_auc.items()},
            "edge_width_median_px": float(np.median(w)) if w.size else None,
            "edge_profiles": int(w.size),
            "blockiness": m.blockiness,
            "chroma_noise": list(map(float, m.chroma)),
            "blobs_per_mpx": m.blobs_per_mpx,
            "blob_rim_share": m.blob_rim_share,
            "blob_specular_share": m.blob_specular_share,
        }

    return {"real": one(real), **{p: one(m) for p, m in presets.items()}}
