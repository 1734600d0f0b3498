"""Calibrate predicted-mask shape descriptors against labelled frames, and apply a calibration to particle tables.

    python infer/calibrate.py fit --gt LABELS.json --pred SUBMISSION.json --out calibration.json \\
        [--iou-min 0.5] [--bins 20] [--min-per-bin 30]
    python infer/calibrate.py apply --table RUN/particles.parquet --calibration calibration.json \\
        --out OUT/particles.parquet

``fit`` pairs predictions with labelled instances of the same frames (mask IoU, one-to-one), measures both
(``infer/shape.py``'s descriptors) and writes one curve per descriptor (median prediction at each labelled value;
conventions in ``flocshape/shape/calibrate.py`` and docs/shape.md). Fit on labelled *validation* frames of the same
model and imaging, never on the frames you then analyse. ``apply`` writes a copy of a particle table with the
calibrated descriptors (raw values kept as ``<name>_raw``) and a manifest beside it; compare and report read it
like any particle table. The command line of ``infer/calibrate.py`` and ``flocshape calibrate``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from flocshape.cliargs import Parser, integer, real
from flocshape.errors import input_error

FIT_TOOL, APPLY_TOOL = "infer/calibrate.py fit", "infer/calibrate.py apply"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line arguments."""
    p = Parser(prog="infer/calibrate.py", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="fit curves on labelled frames")
    fit.add_argument("--gt", type=Path, required=True, help="COCO instances file of the labelled frames")
    fit.add_argument(
        "--pred", type=Path, required=True, help="results list (submission.json) on the same frames"
    )
    fit.add_argument("--out", type=Path, required=True, help="calibration JSON to write")
    fit.add_argument(
        "--iou-min", type=real(0.0, 1.0, lo_open=True), default=0.5, help="mask IoU for a pair (default 0.5)"
    )
    fit.add_argument("--bins", type=integer(2), default=20, help="quantile bins per curve (default 20)")
    fit.add_argument("--min-per-bin", type=integer(1), default=30, help="fewest pairs per bin (default 30)")
    app = sub.add_parser("apply", help="calibrate a particle table")
    app.add_argument("--table", type=Path, required=True, help="particle table (.parquet or .csv)")
    app.add_argument("--calibration", type=Path, required=True, help="JSON written by 'fit'")
    app.add_argument("--out", type=Path, required=True, help="calibrated table (.parquet or .csv)")
    for sub_parser in (fit, app):
        sub_parser.add_argument(
            "--overwrite", action="store_true", help="replace an --out file another tool wrote"
        )
    return p.parse_args(argv)


def _fit(args: argparse.Namespace) -> int:
    from flocshape.fsio import atomic_write_json
    from flocshape.manifest import build_manifest, describe_input
    from flocshape.outputs import claim_file
    from flocshape.score.inputs import load_json, prepare, require_overlap
    from flocshape.shape.calibrate import fit_calibration, match_pairs, paired_tables
    from flocshape.shape.sources import measure_coco

    claim_file(args.out, FIT_TOOL, [args.gt, args.pred], args.overwrite)
    gt, preds = load_json(args.gt), load_json(args.pred)
    prepared = prepare(gt, preds, args.gt, args.pred)
    require_overlap(prepared, args.pred)
    pairs = match_pairs(prepared, args.iou_min)
    gt_pairs, pred_pairs = paired_tables(pairs, preds, measure_coco(args.gt), measure_coco(args.pred))
    try:
        calibration = fit_calibration(gt_pairs, pred_pairs, n_bins=args.bins, min_per_bin=args.min_per_bin)
    except ValueError as exc:
        raise input_error(args.pred, str(exc)) from None
    calibration["n_matched"] = len(pairs)
    calibration["mean_pair_iou"] = float(pairs["iou"].mean()) if len(pairs) else None
    calibration["manifest"] = build_manifest(
        FIT_TOOL,
        vars(args),
        {"gt": describe_input(args.gt), "pred": describe_input(args.pred)},
    )
    atomic_write_json(args.out, calibration)
    print(f"{len(gt_pairs)} usable pairs ({len(pairs)} matched), {len(calibration['curves'])} curves -> {args.out}",
          file=sys.stderr)  # fmt: skip
    for name, rec in calibration["curves"].items():
        print(f"  {name:22s} median bias {rec['median_bias_pct_before']:+6.1f} % -> {rec['median_bias_pct_after']:+6.1f} %",
              file=sys.stderr)  # fmt: skip
    return 0


def _apply(args: argparse.Namespace) -> int:
    from flocshape.fsio import atomic_write_json, atomic_write_table
    from flocshape.manifest import build_manifest, describe_input
    from flocshape.outputs import claim_file
    from flocshape.shape.calibrate import apply_calibration, load_calibration
    from flocshape.stats.compare import load_particle_table

    if args.out.suffix.lower() not in (".parquet", ".csv"):
        raise input_error(args.out, "output name must end in .parquet or .csv")
    sidecar = args.out.with_name(args.out.name + ".manifest.json")
    claim_file(args.out, APPLY_TOOL, [args.table, args.calibration], args.overwrite, companions=[sidecar])
    curves = load_calibration(args.calibration)
    table = apply_calibration(load_particle_table(args.table), curves)
    atomic_write_table(args.out, table)
    manifest = build_manifest(
        APPLY_TOOL,
        vars(args),
        {"table": describe_input(args.table), "calibration": describe_input(args.calibration)},
        outputs={"table": str(args.out.absolute()), "rows": len(table)},
        calibrated=sorted(c for c in curves if c in table),
    )
    atomic_write_json(sidecar, manifest)
    print(
        f"{len(table)} particles, calibrated {len(manifest['calibrated'])} descriptors -> {args.out}",
        file=sys.stderr,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to ``fit`` or ``apply``."""
    args = parse_args(argv)
    return _fit(args) if args.command == "fit" else _apply(args)
