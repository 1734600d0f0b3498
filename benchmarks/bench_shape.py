"""Speed: flocshape.shape vs a scikit-image ``regionprops`` loop computing the same descriptor set.

    python benchmarks/bench_shape.py [--frames 20] [--per-frame 520] [--seed 0] [--out runs/bench-shape/speed.md]
    python benchmarks/bench_shape.py --blur-truth SYNTH_DIR [--out runs/bench-shape/blur.md]

Synthetic 1024 x 1280 label maps of random rotated ellipses (ECD about 6-60 px) and a grey frame.
Both sides get the same label map and grey image. The scikit-image side uses regionprops for what it
has (area, perimeter_crofton, area_convex, solidity, axis lengths, orientation, feret_diameter_max,
centroid, bbox, intensity_mean, euler_number) and computes the rest the straightforward way: min Feret
by a 1-degree projection sweep of the convex-image coordinates, convex perimeter as perimeter_crofton of
``image_convex``, contrast ring by binary dilation, boundary sharpness by a Sobel filter on the box.
The two sides run interleaved, frame by frame, so that both see the same machine load; the table gives
wall-clock and process CPU time. Prints a table (and writes it, with manifest.json, next to ``--out``).

``--blur-truth SYNTH_DIR`` instead checks the grey-level descriptors against the truth of a data set
written by ``datasets/synthesize.py``: every labelled particle (``label_train.json`` on ``train/`` and
``truth/label_test_gt.json`` on ``test/``) is measured with :func:`flocshape.shape.sources.measure_coco`,
joined to ``truth/particles.parquet`` on ``ann_id = instance_id``, and the Spearman rank correlation of
``sharpness`` / ``sharpness_norm`` with the true defocus ``blur_sigma_px`` is printed (all particles and
subsets).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage
from skimage.measure import perimeter_crofton, regionprops

from flocshape.errors import run_cli
from flocshape.fsio import atomic_write_text
from flocshape.manifest import build_manifest, write_manifest
from flocshape.shape.measure import measure_labelmap

FRAME_HW = (1024, 1280)
_ANGLES = np.deg2rad(np.arange(180.0))
_DIRECTIONS = np.stack([np.cos(_ANGLES), np.sin(_ANGLES)], axis=1)


def synth_frame(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A uint16 label map of ``n`` random ellipses (later ones cover earlier ones) and a grey frame."""
    labels = np.zeros(FRAME_HW, np.uint16)
    for label in range(1, n + 1):
        a = float(rng.uniform(3, 30))
        b = a * float(rng.uniform(0.4, 1.0))
        cx, cy = float(rng.uniform(0, FRAME_HW[1])), float(rng.uniform(0, FRAME_HW[0]))
        cv2.ellipse(labels, ((cx, cy), (2 * a, 2 * b), float(rng.uniform(0, 180))), int(label), -1)
    grey = np.where(labels > 0, 200, 30).astype(np.uint8)
    grey = cv2.GaussianBlur(grey, (0, 0), 1.5)
    return labels, grey


def skimage_loop(labels: np.ndarray, grey: np.ndarray) -> int:
    """The reference: regionprops plus the missing descriptors done the straightforward way."""
    occupied = labels > 0
    n = 0
    for p in regionprops(labels, intensity_image=grey):
        area = p.area
        perim = p.perimeter_crofton
        convex_perim = perimeter_crofton(p.image_convex, 4)
        coords = np.argwhere(p.image_convex)[:, ::-1].astype(float)
        proj = coords @ _DIRECTIONS.T
        widths = proj.max(axis=0) - proj.min(axis=0) + 1
        _ = (p.area_convex, p.solidity, p.axis_major_length, p.axis_minor_length, p.orientation)
        _ = (p.feret_diameter_max, p.centroid, p.bbox, p.intensity_mean, p.euler_number, widths.min())
        _ = 4 * math.pi * area / perim**2 if perim > 0 else math.nan, convex_perim / perim if perim else 0
        r0, c0, r1, c1 = p.bbox
        sl = (slice(max(r0 - 4, 0), r1 + 4), slice(max(c0 - 4, 0), c1 + 4))
        inside = labels[sl] == p.label
        ring = ndimage.binary_dilation(inside, iterations=3) & ~inside & ~occupied[sl]
        contrast = grey[sl][inside].mean() - (grey[sl][ring].mean() if ring.any() else math.nan)
        band = ndimage.binary_dilation(inside) & ~ndimage.binary_erosion(inside)
        g = np.hypot(ndimage.sobel(grey[sl].astype(float), 1), ndimage.sobel(grey[sl].astype(float), 0)) / 8
        _ = contrast, g[band].mean()
        n += 1
    return n


def blur_correlation_table(synth_dir: Path) -> str:
    """Spearman rho of sharpness and sharpness_norm vs the true blur sigma, as a markdown table."""
    import pandas as pd
    from scipy.stats import spearmanr

    from flocshape.errors import input_error
    from flocshape.shape.sources import measure_coco

    truth_path = synth_dir / "truth" / "particles.parquet"
    if not truth_path.is_file():
        raise input_error(truth_path, "not found (is --blur-truth a datasets/synthesize.py output?)")
    truth = pd.read_parquet(truth_path)
    truth = truth.loc[
        truth["ann_id"] >= 0, ["ann_id", "blur_sigma_px", "overlaps_other", "touches_other", "touches_border"]
    ].rename(columns={"touches_border": "truth_touches_border"})
    measured = pd.concat(
        [
            measure_coco(synth_dir / "label_train.json", synth_dir / "train"),
            measure_coco(synth_dir / "truth" / "label_test_gt.json", synth_dir / "test"),
        ],
        ignore_index=True,
    )
    joined = measured.merge(truth, left_on="instance_id", right_on="ann_id", validate="one_to_one")
    isolated = ~joined["overlaps_other"] & ~joined["touches_other"] & ~joined["truth_touches_border"]
    subsets = {
        "all labelled": np.ones(len(joined), bool),
        "area_px >= 100 (not too_small)": ~joined["too_small"].to_numpy(),
        "isolated (no overlap/touch, off the border)": isolated.to_numpy(),
        "isolated and area_px >= 100": (isolated & ~joined["too_small"]).to_numpy(),
    }
    lines = [
        f"{synth_dir}: {len(joined)} labelled particles joined to the truth "
        f"(blur_sigma_px {joined['blur_sigma_px'].min():.2f}-{joined['blur_sigma_px'].max():.2f})",
        "",
        "| particles | n | Spearman rho `sharpness` vs `blur_sigma_px` | rho `sharpness_norm` vs `blur_sigma_px` |",
        "|---|---|---|---|",
    ]
    for name, keep in subsets.items():
        part = joined[keep]
        rhos = []
        for column in ("sharpness", "sharpness_norm"):
            ok = part[column].notna()
            rho = spearmanr(part.loc[ok, column], part.loc[ok, "blur_sigma_px"]).statistic
            rhos.append(f"{rho:+.3f} (n={int(ok.sum())})")
        lines.append(f"| {name} | {len(part)} | {rhos[0]} | {rhos[1]} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Time both implementations on the same frames and print the table."""
    ap = argparse.ArgumentParser(description="shape descriptor speed vs regionprops")
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--per-frame", type=int, default=520)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="default runs/bench-shape/{speed,blur}.md")
    ap.add_argument("--blur-truth", type=Path, default=None, help="datasets/synthesize.py output folder")
    args = ap.parse_args(argv)
    if args.blur_truth is not None:
        args.out = args.out or Path("runs/bench-shape/blur.md")
        text = blur_correlation_table(args.blur_truth)
        atomic_write_text(args.out, text)
        write_manifest(args.out.parent, build_manifest("benchmarks/bench_shape.py", vars(args)))
        sys.stdout.write(text)
        return 0
    args.out = args.out or Path("runs/bench-shape/speed.md")
    rng = np.random.default_rng(args.seed)
    frames = [synth_frame(args.per_frame, rng) for _ in range(args.frames)]
    # interleaved frame by frame, so that both sides see the same machine load; wall and CPU time
    wall = {"ours": 0.0, "ref": 0.0}
    cpu = {"ours": 0.0, "ref": 0.0}
    n_ours = n_ref = 0
    for lab, grey in frames:
        w0, c0 = time.perf_counter(), time.process_time()
        n_ours += len(measure_labelmap(lab, grey))
        w1, c1 = time.perf_counter(), time.process_time()
        n_ref += skimage_loop(lab, grey)
        w2, c2 = time.perf_counter(), time.process_time()
        wall["ours"] += w1 - w0
        wall["ref"] += w2 - w1
        cpu["ours"] += c1 - c0
        cpu["ref"] += c2 - c1
    t_ours, t_ref = wall["ours"], wall["ref"]
    lines = [
        f"{args.frames} frames {FRAME_HW[0]}x{FRAME_HW[1]}, {n_ours} particles (regionprops saw {n_ref}); "
        f"interleaved per frame",
        "",
        "| implementation | total s (wall) | ms / particle | particles / s | speed-up (wall) | CPU s | "
        "speed-up (CPU) |",
        "|---|---|---|---|---|---|---|",
        f"| scikit-image regionprops loop | {t_ref:.2f} | {1e3 * t_ref / n_ref:.3f} | {n_ref / t_ref:.0f} | "
        f"1.0x | {cpu['ref']:.2f} | 1.0x |",
        f"| flocshape.shape.measure_labelmap | {t_ours:.2f} | {1e3 * t_ours / n_ours:.3f} | "
        f"{n_ours / t_ours:.0f} | {t_ref / t_ours:.1f}x | {cpu['ours']:.2f} | {cpu['ref'] / cpu['ours']:.1f}x |",
    ]
    text = "\n".join(lines) + "\n"
    atomic_write_text(args.out, text)
    write_manifest(args.out.parent, build_manifest("benchmarks/bench_shape.py", vars(args)))
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
