"""Accuracy of the shape descriptors against analytic truth: discs, ellipses, squares, rectangles.

    python benchmarks/shape_accuracy.py [--out runs/bench-shape/accuracy.md] [--seed 0] [--per-cell 12]

Each (shape, size) cell digitises ``--per-cell`` copies at evenly spaced rotations (0-90 deg) and random
sub-pixel positions (pixel-centre test) and reports the relative error ``100 (measured - true) / true``
as ``bias ± sd`` in %. ``size`` is the long dimension in px (disc diameter, ellipse major axis, side).
Ellipses have b/a = 0.5, rectangles h/w = 0.4. The perimeter table compares the product's estimator
(Crofton, 4 directions) with scikit-image's ``perimeter`` (4-connectivity) and ``perimeter_crofton``,
OpenCV's ``arcLength`` of the traced contour and the Vossepoel-Smeulders chain code.
Writes a markdown file (plus manifest.json in its folder) and prints it.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from skimage.measure import perimeter as sk_perimeter
from skimage.measure import perimeter_crofton as sk_perimeter_crofton

from flocshape.errors import run_cli
from flocshape.fsio import atomic_write_text
from flocshape.manifest import build_manifest, write_manifest
from flocshape.shape import analytic
from flocshape.shape.measure import measure_crop
from flocshape.shape.perimeter import vossepoel_smeulders_perimeter

SIZES_PX = (5, 10, 20, 50, 100, 200)
SHAPES: dict[str, Callable[[float, float, float, float], analytic.AnalyticShape]] = {
    "disc": lambda s, ang, cx, cy: analytic.disc(s / 2, cx, cy),
    "ellipse 2:1": lambda s, ang, cx, cy: analytic.ellipse(s / 2, s / 4, ang, cx, cy),
    "square": lambda s, ang, cx, cy: analytic.rectangle(s, s, ang, cx, cy),
    "rectangle 5:2": lambda s, ang, cx, cy: analytic.rectangle(s, 0.4 * s, ang, cx, cy),
}
DESCRIPTORS = (
    ("area_px", "area_px"),
    ("perimeter_px", "perimeter_px"),
    ("ecd_px", None),
    ("form_factor", None),
    ("feret_max_px", "feret_max_px"),
    ("feret_min_px", "feret_min_px"),
    ("ellipse_major_px", "ellipse_major_px"),
    ("ellipse_minor_px", "ellipse_minor_px"),
    ("solidity", None),
    ("convexity", None),
)


def cv2_arclength(mask: np.ndarray) -> float:
    """OpenCV arcLength of the traced outer contours (path through boundary pixel centres)."""
    contours, _ = cv2.findContours(np.pad(mask.astype(np.uint8), 1), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    return float(sum(cv2.arcLength(c, True) for c in contours))


PERIMETER_ESTIMATORS: dict[str, Callable[[np.ndarray], float]] = {
    "skimage perimeter": lambda m: float(sk_perimeter(m, 4)),
    "skimage perimeter_crofton": lambda m: float(sk_perimeter_crofton(m, 4)),
    "cv2 arcLength": cv2_arclength,
    "Vossepoel-Smeulders": vossepoel_smeulders_perimeter,
}


def truth_of(shape: analytic.AnalyticShape, name: str) -> float:
    """Exact value of a descriptor for the continuous shape."""
    if name == "ecd_px":
        return math.sqrt(4 * shape.area_px / math.pi)
    if name == "form_factor":
        return 4 * math.pi * shape.area_px / shape.perimeter_px**2
    if name in ("solidity", "convexity"):
        return 1.0
    return float(getattr(shape, name))


def cell_errors(kind: str, size: float, per_cell: int, rng: np.random.Generator) -> dict[str, list[float]]:
    """Relative errors (%) of every descriptor and perimeter estimator for one (shape, size) cell."""
    errors: dict[str, list[float]] = {}
    for k in range(per_cell):
        angle = 90.0 * k / per_cell
        cx, cy = rng.uniform(-0.5, 0.5, 2)
        shape = SHAPES[kind](size, angle, cx, cy)
        row = measure_crop(shape.mask, 0, 0, shape.mask.shape)
        for name, _ in DESCRIPTORS:
            true = truth_of(shape, name)
            errors.setdefault(name, []).append(100.0 * (row[name] - true) / true)
        for label, fn in PERIMETER_ESTIMATORS.items():
            errors.setdefault(label, []).append(
                100.0 * (fn(shape.mask) - shape.perimeter_px) / shape.perimeter_px
            )
    return errors


def fmt(values: Sequence[float]) -> str:
    """``bias ± sd`` of a list of % errors."""
    arr = np.asarray(values, dtype=np.float64)
    return f"{arr.mean():+.1f} ± {arr.std(ddof=1):.1f}"


def build_tables(per_cell: int, seed: int) -> str:
    """The markdown report: descriptor table and perimeter-estimator table."""
    rng = np.random.default_rng(seed)
    cells = {(kind, size): cell_errors(kind, size, per_cell, rng) for kind in SHAPES for size in SIZES_PX}
    names = [n for n, _ in DESCRIPTORS]
    out = ["### Descriptor error vs analytic truth (bias ± sd, % of true value)", ""]
    out.append("| shape | size px | " + " | ".join(f"`{n}`" for n in names) + " |")
    out.append("|---|---|" + "---|" * len(names))
    for (kind, size), errs in cells.items():
        out.append(f"| {kind} | {size} | " + " | ".join(fmt(errs[n]) for n in names) + " |")
    labels = ["flocshape crofton4 (product)", *PERIMETER_ESTIMATORS]
    keys = ["perimeter_px", *PERIMETER_ESTIMATORS]
    out += ["", "### Perimeter estimators (bias ± sd, % of true perimeter)", ""]
    out.append("| shape | size px | " + " | ".join(labels) + " |")
    out.append("|---|---|" + "---|" * len(labels))
    for (kind, size), errs in cells.items():
        out.append(f"| {kind} | {size} | " + " | ".join(fmt(errs[k]) for k in keys) + " |")
    out += ["", "### Perimeter estimators over all shapes, by size (mean |bias| and mean sd, %)", ""]
    out.append("| size px | " + " | ".join(labels) + " |")
    out.append("|---|" + "---|" * len(labels))
    for size in SIZES_PX:
        parts = []
        for k in keys:
            biases = [np.mean(cells[(kind, size)][k]) for kind in SHAPES]
            sds = [np.std(cells[(kind, size)][k], ddof=1) for kind in SHAPES]
            parts.append(f"{np.mean(np.abs(biases)):.1f} / {np.mean(sds):.1f}")
        out.append(f"| {size} | " + " | ".join(parts) + " |")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the accuracy study, write and print the markdown."""
    p = argparse.ArgumentParser(description="shape descriptor accuracy vs analytic truth")
    p.add_argument("--out", type=Path, default=Path("runs/bench-shape/accuracy.md"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--per-cell", type=int, default=12)
    args = p.parse_args(argv)
    text = build_tables(args.per_cell, args.seed)
    atomic_write_text(args.out, text)
    write_manifest(args.out.parent, build_manifest("benchmarks/shape_accuracy.py", vars(args)))
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
