"""Realism check: statistics of generated frames next to the published numbers, as a table and a figure.

The committed figure shows synthetic frames and charts only; the real frame's pixels appear only in a
figure made with ``include_real_image=True`` (for local viewing, never committed). Numbers measured on the
real frame with the same estimators may be shown in the table (they are statistics, not pixels).

With ``--compare PRESET ...`` the command makes the realism v2 report instead
(:mod:`flocshape.synth.realism_v2`): hard-to-fool statistics and the patch classifier, real frame vs presets.
Each report rewrites only its own part of ``docs/realism.md``: this one everything above the line
:data:`V2_MARKER`, the v2 report the table between its own markers.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from flocshape.synth.stats import (
    GREY_PERCENTILES,
    PUBLISHED,
    coco_size_shares,
    grey_percentiles,
    noise_sigma,
    rg_correlation,
)

AREA_PERCENTILES = (10, 50, 90, 99)
V2_MARKER = "<!-- realism-v2 -->"
"""Everything of ``docs/realism.md`` from this line on belongs to the realism v2 report and is kept."""


@dataclass
class FrameStats:
    """Image statistics of one frame."""

    grey: dict[int, float]
    noise_sigma: float
    rg_correlation: float


def frame_stats(bgr: np.ndarray) -> FrameStats:
    """Grey percentiles, noise sd and R-G correlation of a BGR frame."""
    return FrameStats(grey_percentiles(bgr), noise_sigma(bgr), rg_correlation(bgr))


def measure_dataset(root: Path, max_frames: int = 40) -> dict[str, Any]:
    """Statistics of a generated data set (train split: frames and labels; truth for the hard cases)."""
    coco = json.loads((root / "label_train.json").read_text())
    images = sorted(coco["images"], key=lambda i: i["file_name"])[:max_frames]
    stats = [frame_stats(cv2.imread(str(root / "train" / i["file_name"]), cv2.IMREAD_COLOR)) for i in images]
    areas = np.array([a["area"] for a in coco["annotations"]], float)
    per_image = pd.Series([a["image_id"] for a in coco["annotations"]]).value_counts()
    per_image = per_image.reindex([i["id"] for i in coco["images"]], fill_value=0)
    truth = pd.read_parquet(root / "truth" / "particles.parquet")
    lab = truth[truth["labelled"] & (truth["split"] == "train")]
    boxes = np.array([a["bbox"] for a in coco["annotations"]], float)
    return {
        "frames_measured": len(stats),
        "grey": {p: float(np.mean([s.grey[p] for s in stats])) for p in GREY_PERCENTILES},
        "noise_sigma": float(np.median([s.noise_sigma for s in stats])),
        "rg_correlation": float(np.median([s.rg_correlation for s in stats])),
        "particles_per_frame": float(per_image.mean()),
        "particles_per_frame_sd": float(per_image.std()),
        "area_percentiles": {p: float(np.percentile(areas, p)) for p in AREA_PERCENTILES},
        "largest_bbox_wh": [float(boxes[:, 2].max()), float(boxes[:, 3].max())] if len(boxes) else [0.0, 0.0],
        "coco_shares": coco_size_shares(areas),
        "overlapping": float(lab["overlaps_other"].mean()),
        "touching": float(lab["touches_other"].mean()),
        "occluded": float((lab["visible_fraction"] < 1 - 1e-9).mean()),
        "border": float(lab["touches_border"].mean()),
        "areas": areas,
        "per_frame": per_image.to_numpy(),
        "per_frame_grey": [s.grey for s in stats],
    }


def v2_part(text: str) -> str:
    """The realism v2 report's part of a ``docs/realism.md`` text (from :data:`V2_MARKER` on, after a blank
    line), or ``""`` when it has none; this report keeps it when it rewrites the file."""
    return "\n" + V2_MARKER + text.split(V2_MARKER, 1)[1] if V2_MARKER in text else ""


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 10 else f"{v:.0f}"
    if isinstance(v, tuple | list):
        return " - ".join(_fmt(x) for x in v)
    return str(v)


def table_markdown(synth: dict[str, Any], real: FrameStats | None, command: str) -> str:
    """The realism table: statistic | synthetic | published | real frame (same estimator, if given)."""
    rows: list[tuple[str, Any, Any, Any]] = []
    for p in GREY_PERCENTILES:
        rows.append(
            (
                f"grey level, {p} % percentile",
                synth["grey"][p],
                PUBLISHED["grey_percentiles"][p],
                real.grey[p] if real else None,
            )
        )
    rows += [
        (
            "noise sigma (grey levels)",
            synth["noise_sigma"],
            f"{PUBLISHED['noise_sigma']} (flat dark areas)",
            real.noise_sigma if real else None,
        ),
        (
            "R-G correlation",
            synth["rg_correlation"],
            PUBLISHED["rg_correlation"],
            real.rg_correlation if real else None,
        ),
        (
            "labelled particles per frame (mean)",
            synth["particles_per_frame"],
            PUBLISHED["particles_per_frame"],
            None,
        ),
        ("labelled particles per frame (sd)", synth["particles_per_frame_sd"], "n/a", None),
    ]
    for p in AREA_PERCENTILES:
        pub = {50: PUBLISHED["area_median_px"], 90: PUBLISHED["area_p90_px"]}.get(p, "n/a")
        rows.append((f"instance area, {p} % percentile (px^2)", synth["area_percentiles"][p], pub, None))
    rows += [
        (
            "largest instance bbox w x h (px)",
            " x ".join(_fmt(v) for v in synth["largest_bbox_wh"]),
            " x ".join(str(v) for v in PUBLISHED["largest_px"]),
            None,
        ),
        (
            "share COCO small (< 32^2 px^2)",
            synth["coco_shares"]["small"],
            PUBLISHED["coco_small_share"],
            None,
        ),
        ("share COCO medium", synth["coco_shares"]["medium"], "n/a", None),
        ("share COCO large (>= 96^2 px^2)", synth["coco_shares"]["large"], "n/a", None),
        ("share of labelled overlapping another particle", synth["overlapping"], "n/a", None),
        ("share of labelled partly hidden (occluded)", synth["occluded"], "n/a", None),
        ("share of labelled touching another (<= 1 px, no overlap)", synth["touching"], "n/a", None),
        ("share of labelled touching the frame border", synth["border"], "n/a", None),
    ]
    has_real = real is not None
    head = (
        "| statistic | synthetic | published | real frame 0002 (same estimator) |"
        if has_real
        else "| statistic | synthetic | published |"
    )
    sep = "|---|---|---|---|" if has_real else "|---|---|---|"
    lines = [head, sep]
    for name, s, p, r in rows:
        cells = [name, _fmt(s), _fmt(p)] + ([_fmt(r) if r is not None else ""] if has_real else [])
        lines.append("| " + " | ".join(cells) + " |")
    note = (
        f"\nMeasured on {synth['frames_measured']} generated train frames (labels: all train annotations).\n"
        f"Command: `{command}`\n"
    )
    return "\n".join(lines) + "\n" + note


def _thumb(bgr: np.ndarray, width: int = 420) -> np.ndarray:
    h, w = bgr.shape[:2]
    small = cv2.resize(bgr, (width, int(round(h * width / w))), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2RGB)


def _with_outlines(root: Path, image: dict[str, Any], annotations: list[dict[str, Any]]) -> np.ndarray:
    """The frame with its label outlines drawn in green."""
    bgr = cv2.imread(str(root / "train" / image["file_name"]), cv2.IMREAD_COLOR)
    for a in annotations:
        for poly in a["segmentation"]:
            pts = np.round(np.asarray(poly).reshape(-1, 2) * 4).astype(np.int32)
            cv2.polylines(bgr, [pts], True, (60, 220, 60), 2, lineType=cv2.LINE_AA, shift=2)
    return bgr


def figure_png(root: Path, synth: dict[str, Any], real_bgr: np.ndarray | None = None) -> bytes:
    """PNG bytes of the side-by-side figure (synthetic frames + charts vs the published numbers)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    poly = json.loads((root / "label(polygon)_train.json").read_text())
    images = sorted(poly["images"], key=lambda i: i["file_name"])
    by_image: dict[int, list[dict[str, Any]]] = {}
    for a in poly["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.4))
    first = images[0]
    other = images[min(len(images) - 1, 8)]  # a frame of another block when there is one
    panels = [
        (_thumb(cv2.imread(str(root / "train" / first["file_name"]))), f"synthetic {first['file_name']}"),
        (
            _thumb(_with_outlines(root, other, by_image.get(other["id"], []))),
            f"synthetic {other['file_name']} + label outlines",
        ),
    ]
    if real_bgr is not None:
        panels[1] = (_thumb(real_bgr), "REAL frame 0002 (local figure only)")
    for ax, (img, title) in zip(axes[0, :2], panels, strict=True):
        ax.imshow(img)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    ax = axes[0, 2]
    pcts = list(GREY_PERCENTILES)
    for g in synth["per_frame_grey"]:
        ax.plot(pcts, [g[p] for p in pcts], color="tab:blue", alpha=0.15, lw=1)
    ax.plot(pcts, [synth["grey"][p] for p in pcts], "o-", color="tab:blue", label="synthetic (mean)")
    ax.plot(pcts, [PUBLISHED["grey_percentiles"][p] for p in pcts], "s--", color="k", label="published")
    ax.set_xlabel("percentile (%)")
    ax.set_ylabel("grey level")
    ax.set_title("whole-frame grey-level percentiles", fontsize=10)
    ax.legend(fontsize=8)
    ax = axes[1, 0]
    areas = synth["areas"]
    ax.hist(np.log10(np.maximum(areas, 1)), bins=40, color="tab:blue", alpha=0.8)
    lo, hi = PUBLISHED["area_p90_px"]
    ax.axvspan(np.log10(lo), np.log10(hi), color="k", alpha=0.12, label="published p90 range")
    ax.axvline(np.log10(synth["area_percentiles"][90]), color="tab:blue", ls="--", label="synthetic p90")
    ax.axvline(np.log10(synth["area_percentiles"][50]), color="tab:orange", ls="--", label="synthetic median")
    ax.axvline(np.log10(32**2), color="grey", ls=":", label="COCO small/medium")
    ax.set_xlabel("log10 instance area (px^2)")
    ax.set_ylabel("instances")
    ax.set_title("labelled instance areas", fontsize=10)
    ax.legend(fontsize=8)
    ax = axes[1, 1]
    ax.hist(synth["per_frame"], bins=15, color="tab:blue", alpha=0.8)
    ax.axvline(PUBLISHED["particles_per_frame"], color="k", ls="--", label="published mean 62")
    ax.axvline(synth["particles_per_frame"], color="tab:blue", ls="-", label="synthetic mean")
    ax.set_xlabel("labelled particles per frame")
    ax.set_title("particles per frame", fontsize=10)
    ax.legend(fontsize=8)
    ax = axes[1, 2]
    names = ["small", "medium", "large", "overlap", "touch", "border"]
    values = [
        synth["coco_shares"]["small"],
        synth["coco_shares"]["medium"],
        synth["coco_shares"]["large"],
        synth["overlapping"],
        synth["touching"],
        synth["border"],
    ]
    ax.bar(names, values, color="tab:blue")
    ax.axhline(0.5, color="k", ls="--", lw=1, label="published: 'most are small' (> 0.5)")
    ax.set_ylim(0, 1)
    ax.set_title("shares of labelled instances", fontsize=10)
    ax.legend(fontsize=8)
    fig.suptitle("Synthetic floc frames vs the published 2022 hackathon statistics", fontsize=12)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    """CLI of ``datasets/realism.py`` (see ``docs/synth.md``)."""
    import argparse
    import shlex
    import sys

    from flocshape.errors import input_error
    from flocshape.fsio import atomic_write_bytes, atomic_write_text
    from flocshape.synth.config import resolve
    from flocshape.synth.writer import generate

    ap = argparse.ArgumentParser(prog="datasets/realism.py", description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="an existing synthesize.py output (default: generate one)")
    ap.add_argument(
        "--work", type=Path, default=Path("runs/realism"), help="where to generate (default runs/realism)"
    )
    ap.add_argument("--frames", type=int, default=40, help="video frames to generate (default 40)")
    ap.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    ap.add_argument(
        "--figure", type=Path, default=Path("docs/realism.png"), help="figure PNG (no real pixels)"
    )
    ap.add_argument("--table", type=Path, default=Path("docs/realism.md"), help="markdown table")
    ap.add_argument("--real", type=Path, help="a real frame: adds its statistics (numbers) to the table")
    ap.add_argument("--real-figure", type=Path, help="also write a LOCAL figure that shows the real frame")
    ap.add_argument(
        "--compare",
        nargs="+",
        metavar="PRESET",
        help="realism v2 report instead: these presets vs --real (statistics, patch classifier)",
    )
    ap.add_argument(
        "--compare-frames",
        type=int,
        default=8,
        help="--compare: frames per preset, one per block (default 8)",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=Path("runs/realism2"),
        help="--compare: local outputs (default runs/realism2)",
    )
    ap.add_argument(
        "--compare-figure",
        type=Path,
        default=Path("docs/realism-v2.png"),
        help="--compare: committed figure, synthetic crops and charts only (default docs/realism-v2.png)",
    )
    args = ap.parse_args(argv)
    if args.compare:
        from flocshape.synth.realism_report import run_compare

        return run_compare(args, argv)
    real_bgr = None
    if args.real is not None:
        real_bgr = cv2.imread(str(args.real), cv2.IMREAD_COLOR)
        if real_bgr is None:
            raise input_error(args.real, "cannot be read as an image", "--real")
    if args.real_figure is not None and real_bgr is None:
        raise input_error("command line", "needs --real", "--real-figure")
    root = args.data
    if root is None:
        root = args.work / "data"
        generate(
            resolve("hackathon", {"frames": args.frames, "seed": args.seed}),
            root,
            "hackathon",
            workers=2,
            overwrite=True,
        )
    elif not (root / "label_train.json").is_file():
        raise input_error(root / "label_train.json", "missing (not a synthesize.py output)", "--data")
    synth = measure_dataset(root)
    command = "python datasets/realism.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    card = json.loads((root / "card.json").read_text())
    hard = "\n".join(
        f"| {k.replace('_', ' ')} | {v:.3f} |" for k, v in card["statistics"]["hard_cases"].items()
    )
    hard_section = (
        "\n## Hard cases in known proportions (whole data set, from card.json)\n\n| case | share |\n|---|---|\n"
        + hard
        + f"\n| bubbles sitting on flocs (of all bubbles) | {card['statistics']['bubbles_on_flocs_share']:.3f} |\n"
        + "\nLabel reasons (particle rows): "
        + ", ".join(f"{k} {v}" for k, v in card["statistics"]["label_reasons"].items())
        + "\n"
    )
    kept = v2_part(args.table.read_text()) if args.table.is_file() else ""
    atomic_write_text(
        args.table,
        "# Realism of the synthetic frames\n\n"
        + table_markdown(synth, frame_stats(real_bgr) if real_bgr is not None else None, command)
        + hard_section
        + kept,
    )
    atomic_write_bytes(args.figure, figure_png(root, synth))
    if args.real_figure is not None:
        atomic_write_bytes(args.real_figure, figure_png(root, synth, real_bgr))
    print(f"wrote {args.table} and {args.figure}" + (f" and {args.real_figure}" if args.real_figure else ""))
    return 0
