"""Benchmark: fast hackathon F1 (one pycocotools IoU matrix per image) vs the loop-by-loop transcription.

Run from the repo root: ``nice python benchmarks/bench_score.py [--frames 350] [--ref-frames 2]``.
Data: synthetic 1024x1280 frames, 60 GT ellipses and about 80 predictions per frame (10 distinct frames
reused cyclically, so generation stays cheap; the scoring code sees ``--frames`` separate images). The
transcription (:func:`flocshape.testing.reference_hackathon_f1`) runs on the first
``--ref-frames`` frames and is extrapolated linearly to all frames. Prints a table; writes nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from flocshape.score import coco_mask_ap, strict_metrics  # noqa: E402
from flocshape.score.hackathon import hackathon_f1  # noqa: E402
from flocshape.score.inputs import prepare  # noqa: E402
from flocshape.score.postprocess import DEFAULT_GRID, expand_grid, sweep  # noqa: E402
from flocshape.score.synth import synthetic_scoring_set  # noqa: E402
from flocshape.testing import reference_hackathon_f1  # noqa: E402


def _subset(gt: dict, preds: list[dict], n_frames: int) -> tuple[dict, list[dict]]:
    ids = {im["id"] for im in gt["images"][:n_frames]}
    sub_gt = {
        **gt,
        "images": gt["images"][:n_frames],
        "annotations": [a for a in gt["annotations"] if a["image_id"] in ids],
    }
    return sub_gt, [p for p in preds if p["image_id"] in ids]


def _timed(fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=350)
    ap.add_argument("--ref-frames", type=int, default=2)
    ap.add_argument(
        "--skip-extras", action="store_true", help="only the F1 comparison (no strict/COCO/sweep)"
    )
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message="__array__ implementation")
    (gt, preds), t_gen = _timed(
        synthetic_scoring_set,
        seed=2022,
        n_images=args.frames,
        height=1024,
        width=1280,
        n_gt=60,
        miss_fraction=0.1,
        duplicates=12,
        fragments=8,
        background=6,
        n_distinct=10,
    )
    n_gt, n_pred = len(gt["annotations"]), len(preds)
    print(
        f"data: {args.frames} frames 1024x1280, {n_gt / args.frames:.1f} GT and {n_pred / args.frames:.1f} "
        f"predictions per frame (generated in {t_gen:.1f} s)\n"
    )

    prepared, t_prep = _timed(prepare, gt, preds)
    fast, t_f1 = _timed(hackathon_f1, prepared)
    sub_gt, sub_preds = _subset(gt, preds, args.ref_frames)
    ref_sub, t_ref = _timed(reference_hackathon_f1, sub_gt, sub_preds)
    fast_sub = hackathon_f1(sub_gt, sub_preds)
    assert abs(ref_sub["f1"] - fast_sub["f1"]) < 1e-12, (ref_sub, fast_sub)
    t_ref_all = t_ref / args.ref_frames * args.frames
    t_fast_all = t_prep + t_f1
    rows = [
        ("fast: validate + convert to RLE (prepare)", args.frames, t_prep),
        ("fast: IoU matrices + hackathon F1", args.frames, t_f1),
        ("fast: total", args.frames, t_fast_all),
        (f"transcription (measured on {args.ref_frames} frames)", args.ref_frames, t_ref),
        ("transcription (extrapolated linearly)", args.frames, t_ref_all),
    ]
    if not args.skip_extras:
        rows.append(
            (
                "strict metrics (IoU 0.5 + 0.5:0.95, Hungarian)",
                args.frames,
                _timed(strict_metrics, prepared)[1],
            )
        )
        rows.append(
            (
                "COCO mask AP (pycocotools COCOeval, maxDets 1000)",
                args.frames,
                _timed(coco_mask_ap, prepared)[1],
            )
        )
        n_points = len(expand_grid(DEFAULT_GRID))
        rows.append((f"sweep, default grid ({n_points} points)", args.frames, _timed(sweep, prepared)[1]))
    print(f"| {'step':<52} | {'frames':>6} | {'seconds':>9} | {'ms/frame':>9} |")
    print(f"|{'-' * 54}|{'-' * 8}|{'-' * 11}|{'-' * 11}|")
    for name, frames, seconds in rows:
        print(f"| {name:<52} | {frames:>6} | {seconds:>9.2f} | {1000 * seconds / frames:>9.2f} |")
    print(
        f"\nspeed-up fast vs transcription: {t_ref_all / t_fast_all:.0f}x (total, incl. validation); "
        f"hackathon F1 = {fast['f1']:.6f} (transcription on the subset agrees: {ref_sub['f1']:.12f} vs {fast_sub['f1']:.12f})"
    )


if __name__ == "__main__":
    main()
