"""Choose the mask refinement (``infer/predict.py --refine L --refine-inset I --refine-smooth S``) on labelled
validation frames.

    python infer/tune_refine.py --pred VAL_RUN/submission.json --gt VAL_GT.json --images VAL_FRAMES \\
        [--images-json FILE] [--level 0.4 0.5 0.6 0.7] [--inset-px 0 0.5] [--smooth-px 0.5 1] [--grow-px 2] \\
        --out refine.json [--refined-out FILE]

Refines the validation predictions at each level x inset x smoothing (``flocshape/infer/refine.py``), scores them
against the labels and prints a table: hackathon F1, pairs at mask IoU >= 0.5 (one-to-one), their mean IoU and
median area ratio predicted / labelled. ``--out`` (JSON) holds the table, ``best_level`` / ``best_inset_px`` /
``best_smooth_px`` (largest hackathon F1, ties by the sum of matched IoU: ``flocshape/infer/refine_tune.py``; all
``null`` when the unrefined masks win) and a manifest. ``--refined-out`` writes the results list refined with the
best choice (or, with one ``--level``, one ``--inset-px`` and one ``--smooth-px``, with that) — e.g. to measure
shapes of already-saved predictions with ``infer/shape.py``. Frames are found by the ``file_name`` of ``--images-json`` (default: ``--gt``) in ``--images``.
Run by path through the thin script ``infer/tune_refine.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from flocshape.cfg import predict_defaults
from flocshape.cliargs import Parser, fraction, integer, non_negative
from flocshape.errors import input_error, run_cli

TOOL = "infer/tune_refine.py"


def build_parser() -> argparse.ArgumentParser:
    """The command-line options. The defaults of ``--grow-px`` and ``--smooth-px`` are those of a refinement
    ``infer/predict.py --refine LEVEL`` runs without them (``flocshape/cfg/predict.yaml``)."""
    d = predict_defaults()
    p = Parser(prog=TOOL, description=__doc__.splitlines()[0])
    p.add_argument(
        "--pred", type=Path, required=True, help="results list (submission.json) on labelled frames"
    )
    p.add_argument("--gt", type=Path, required=True, help="COCO labels of the same frames")
    p.add_argument("--images", type=Path, required=True, help="folder of the frames")
    p.add_argument("--images-json", type=Path, help="COCO file naming the frames (default: --gt)")
    p.add_argument(
        "--level", type=fraction(), nargs="+", default=[0.4, 0.5, 0.6, 0.7], help="candidate levels (0-1)"
    )
    p.add_argument(
        "--grow-px",
        type=integer(0),
        default=d["refine_grow_px"],
        help=f"how far an outline may move outwards (default {d['refine_grow_px']})",
    )
    p.add_argument(
        "--inset-px",
        type=non_negative(),
        nargs="+",
        default=[0.0],
        help="candidate insets: outlines this far inside each level's contour (px, first order; default 0: at it)",
    )
    p.add_argument(
        "--smooth-px",
        type=non_negative(),
        nargs="+",
        default=None,
        help="candidate sigmas of the Gaussian smoothing of the frame before thresholding "
        f"(px; default {d['refine_smooth']:g})",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="JSON with the table, best_level, best_inset_px and best_smooth_px",
    )
    p.add_argument("--refined-out", type=Path, help="write the refined results list here")
    p.add_argument("--overwrite", action="store_true", help="replace output files another tool wrote")
    return p


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line arguments."""
    return build_parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the table, print it, write the JSON (and the refined list); exit code 0 (bad input raises
    ``InputError``: one line, exit code 2 under :func:`flocshape.errors.run_cli`)."""
    args = parse_args(argv)
    from flocshape.fsio import atomic_write_bytes, atomic_write_json
    from flocshape.infer.refine import RefineSettings
    from flocshape.infer.refine_tune import CRITERION, best_row, level_table, refine_results
    from flocshape.manifest import build_manifest, describe_input
    from flocshape.outputs import claim_file, mentions_tool
    from flocshape.records import check_coco
    from flocshape.score.inputs import load_json, prepare, require_overlap

    smooths = args.smooth_px if args.smooth_px is not None else [predict_defaults()["refine_smooth"]]
    for level in args.level:
        for inset in args.inset_px:
            for smooth in smooths:
                try:
                    RefineSettings(level=level, grow_px=args.grow_px, inset_px=inset, smooth_sigma_px=smooth)
                except ValueError as exc:
                    raise input_error("--level/--inset-px/--smooth-px", str(exc)) from None
    if not args.images.is_dir():
        raise input_error(args.images, "images folder not found")
    inputs = [args.pred, args.gt, args.images, args.images_json]
    claim_file(args.out, TOOL, inputs, args.overwrite)
    if args.refined_out is not None:
        if args.refined_out.absolute() == args.out.absolute():
            raise input_error(args.refined_out, "is also --out; choose another file", "--refined-out")
        earlier = args.out.is_file() and mentions_tool(
            args.out, TOOL, args.refined_out.name
        )  # named by --out
        claim_file(args.refined_out, TOOL, inputs, args.overwrite or earlier, "--refined-out")
    gt, preds = load_json(args.gt), load_json(args.pred)
    require_overlap(prepare(gt, preds, args.gt, args.pred), args.pred)
    names_src = args.images_json or args.gt
    index = check_coco(load_json(names_src), names_src, need_annotations=False)
    frames = {k: args.images / Path(im.file_name).name for k, im in index.images.items()}
    rows = level_table(gt, preds, frames, args.level, args.grow_px, args.inset_px, smooths)
    best = best_row(rows)
    print(
        "| masks | level | inset px | smooth px | hackathon F1 | pairs (IoU >= 0.5) | mean IoU "
        "| median area ratio pred/label |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        what = "predicted" if r["level"] is None else "refined"
        mark = " (best)" if r is best else ""
        level, inset, smooth = (
            ("–",) * 3 if r["level"] is None else (r["level"], r["inset_px"], r["smooth_px"])
        )
        print(f"| {what} | {level}{mark} | {inset} | {smooth} | {r['hackathon_f1']:.4f} | {r['pairs']} | {r['mean_iou']:.3f} | "
              f"{r['area_ratio']:.3f} |")  # fmt: skip
    result = {
        "criterion": CRITERION,
        "best_level": best["level"],
        "best_inset_px": best["inset_px"],
        "best_smooth_px": best["smooth_px"],
        "grow_px": args.grow_px,
        "table": rows,
        "manifest": build_manifest(
            TOOL,
            vars(args),
            {"pred": describe_input(args.pred), "gt": describe_input(args.gt)},
        ),
    }
    if args.refined_out is not None:
        single = len(args.level) == 1 and len(args.inset_px) == 1 and len(smooths) == 1
        chosen = (args.level[0], args.inset_px[0], smooths[0]) if single else (
            best["level"], best["inset_px"], best["smooth_px"])  # fmt: skip
        level, inset, smooth = chosen
        refined = (
            preds
            if level is None
            else refine_results(
                preds, frames, RefineSettings(level, args.grow_px, inset_px=inset, smooth_sigma_px=smooth)
            )
        )
        atomic_write_bytes(args.refined_out, json.dumps(refined).encode())
        result["refined_out"] = {
            "path": str(args.refined_out),
            "level": level,
            "inset_px": inset,
            "smooth_px": smooth,
        }
    atomic_write_json(args.out, result)
    print(
        f"best level: {best['level']}, inset {best['inset_px']} px, smooth {best['smooth_px']} px -> {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
