"""Measure particle shape descriptors of every instance in a COCO file or in label maps.

    python infer/shape.py --coco FILE [--images DIR] [--images-json FILE] [--um-per-px X] --out particles.parquet
    python infer/shape.py --labelmap-dir DIR [--images DIR] [--um-per-px X] --out particles.csv

Writes the particle table (parquet, or CSV when the name ends in .csv) atomically, and
``<out>.manifest.json`` beside it. Columns and conventions: docs/shape.md. The command line of
``infer/shape.py`` and ``flocshape shape``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from flocshape.cliargs import Parser, positive
from flocshape.errors import input_error

TOOL = "infer/shape.py"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line arguments."""
    p = Parser(prog="infer/shape.py", description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--coco", type=Path, help="COCO instances file or results/submission list (JSON)")
    src.add_argument("--labelmap-dir", type=Path, help="folder of 16-bit PNG instance label maps")
    p.add_argument("--images", type=Path, help="folder of the frames (enables intensity columns)")
    p.add_argument(
        "--images-json", type=Path, help="COCO file mapping image ids to file names (results lists)"
    )
    p.add_argument("--um-per-px", type=positive(), help="scale; adds _um / _um2 columns")
    p.add_argument("--out", type=Path, required=True, help="output table: .parquet or .csv")
    p.add_argument("--overwrite", action="store_true", help="replace an --out file another tool wrote")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, then write the table and its manifest."""
    args = parse_args(argv)
    from flocshape.fsio import atomic_write_json, atomic_write_table
    from flocshape.manifest import build_manifest, describe_input
    from flocshape.outputs import claim_file
    from flocshape.shape import schema
    from flocshape.shape.sources import measure_coco, measure_labelmap_dir

    if args.out.suffix.lower() not in (".parquet", ".csv"):
        raise input_error(args.out, "output name must end in .parquet or .csv")
    if args.images is not None and not args.images.is_dir():
        raise input_error(args.images, "images folder not found")
    sidecar = args.out.with_name(args.out.name + ".manifest.json")
    sources = [args.coco, args.labelmap_dir, args.images, args.images_json]
    claim_file(args.out, TOOL, sources, args.overwrite, companions=[sidecar])
    if args.coco is not None:
        table = measure_coco(args.coco, args.images, args.um_per_px, args.images_json)
        inputs = {"coco": describe_input(args.coco)}
    else:
        table = measure_labelmap_dir(args.labelmap_dir, args.images, args.um_per_px)
        inputs = {"labelmap_dir": describe_input(args.labelmap_dir)}
    if args.images is not None:
        inputs["images"] = describe_input(args.images)
    if args.images_json is not None:
        inputs["images_json"] = describe_input(args.images_json)
    atomic_write_table(args.out, table)
    manifest = build_manifest(
        TOOL,
        vars(args),
        inputs,
        outputs={"table": str(args.out.absolute()), "rows": len(table)},
        perimeter_estimator=schema.PERIMETER_ESTIMATOR,
        min_area_px_for_shape=schema.MIN_AREA_PX_FOR_SHAPE,
    )
    atomic_write_json(sidecar, manifest)
    print(f"{len(table)} particles -> {args.out}", file=sys.stderr)
    return 0
