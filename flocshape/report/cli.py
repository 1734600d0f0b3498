"""Write one self-contained report.html (embedded PNGs, no external files) for one or more run folders.

Usage: python infer/report.py RUN_DIR [RUN_DIR2 ...] [--out report.html] [--color-by DESCRIPTOR]
                              [--um-per-px X] [--images DIR] [--frames N] [--labels A B ...]

The first run is the baseline of the comparison section. A folder with only particles.parquet (e.g. ground
truth measured with measure_coco) is accepted; it has no sample frames. The command line of ``infer/report.py``
and ``flocshape report``; the report itself is built by :mod:`flocshape.report.build`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from flocshape.cliargs import Parser, integer, positive
from flocshape.errors import input_error
from flocshape.report.build import ReportOptions, build_report
from flocshape.report.descriptors import descriptor_names


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line arguments."""
    p = Parser(prog="infer/report.py", description=__doc__.splitlines()[0])
    p.add_argument(
        "runs", nargs="+", type=Path, help="run folders (particles.parquet, submission.json, manifest.json)"
    )
    p.add_argument("--out", type=Path, default=None, help="report file (default: FIRST_RUN/report.html)")
    p.add_argument("--overwrite", action="store_true", help="replace an --out file another tool wrote")
    p.add_argument(
        "--color-by", default="circularity", help=f"outline colour: one of {', '.join(descriptor_names())}"
    )
    p.add_argument(
        "--um-per-px", type=positive(), default=None, help="scale in µm per pixel (default: pixel units)"
    )
    p.add_argument(
        "--images", type=Path, default=None, help="frame images folder (default: manifest args.source)"
    )
    p.add_argument("--frames", type=integer(0), default=4, help="sample frames per run (default 4)")
    p.add_argument("--labels", nargs="+", default=None, help="run names shown in the report (one per run)")
    p.add_argument("--title", default="Particle shape report", help="report title")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the report and print its path."""
    args = parse_args(argv)
    if args.labels is not None and len(args.labels) != len(args.runs):
        raise input_error("--labels", f"{len(args.labels)} labels for {len(args.runs)} runs")
    opts = ReportOptions(
        color_by=args.color_by, um_per_px=args.um_per_px, n_frames=args.frames, title=args.title
    )
    out = build_report(
        args.runs, args.out, opts, images_dir=args.images, labels=args.labels, overwrite=args.overwrite
    )
    print(out)
    return 0
