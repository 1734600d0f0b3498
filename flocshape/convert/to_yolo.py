"""COCO instances -> Ultralytics YOLO-seg dataset (``images/``, ``labels/``, ``data.yaml``, ``manifest.json``).

The command line of ``convert/coco2yolo.py`` (``flocshape coco2yolo``), and the public names of the conversion:

* :mod:`flocshape.convert.yolo_rows`: one instance -> one label row (the most faithful single ring) and the
  fidelity of the rows as written (IoU of the rounded coordinates against the source mask);
* :mod:`flocshape.convert.yolo_frames`: :class:`YoloOptions` and the per-frame work (label files, image copies,
  native-resolution tiles);
* :mod:`flocshape.convert.yolo_dataset`: :func:`convert_coco_to_yolo`, the whole dataset built atomically with
  its split, ``data.yaml`` and manifest.

Labelling tools' exports are read as they come (:mod:`flocshape.convert.interop`): frames are found by exact
name, basename, or basename without Label Studio's upload prefix; ``iscrowd=1`` masks of CVAT exports are
kept as instances (``--iscrowd auto``).
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from flocshape.convert.interop import CROWD_POLICIES
from flocshape.convert.rings import ULTRALYTICS_MAX_VERTICES
from flocshape.convert.yolo_dataset import TOOL, convert_coco_to_yolo
from flocshape.convert.yolo_frames import YoloOptions
from flocshape.convert.yolo_rows import (
    COORD_DECIMALS,
    InstanceRing,
    convert_instance,
    fidelity_summary,
    format_row,
    polygon_outside_image,
    ring_iou,
    round_ring,
)
from flocshape.errors import input_error
from flocshape.tiles import tile_starts

__all__ = [
    "COORD_DECIMALS",
    "TOOL",
    "InstanceRing",
    "YoloOptions",
    "build_parser",
    "convert_coco_to_yolo",
    "convert_instance",
    "fidelity_summary",
    "format_row",
    "main",
    "options_from_args",
    "polygon_outside_image",
    "ring_iou",
    "round_ring",
    "tile_starts",
]


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``convert/coco2yolo.py``."""
    ap = argparse.ArgumentParser(
        prog="coco2yolo.py", description="COCO instances -> Ultralytics YOLO-seg dataset."
    )
    ap.add_argument("--json", required=True, type=Path, help="COCO instances file (polygons and/or RLE)")
    ap.add_argument("--images", required=True, type=Path, help="folder with the images named by file_name")
    ap.add_argument("--out", required=True, type=Path, help="output dataset folder (replaced atomically)")
    ap.add_argument(
        "--val-frac",
        type=float,
        default=0.2,
        help="fraction of images for val; 0 = val is train (default 0.2)",
    )
    grp = ap.add_mutually_exclusive_group()
    grp.add_argument(
        "--group-size",
        type=int,
        help="blocks of N consecutive frames: (frame-1)//N from the file name digits",
    )
    grp.add_argument(
        "--group-by", help="regex on file_name; first capture group (or whole match) = group key"
    )
    grp.add_argument("--group-key", help="image record field used as group key (e.g. doi)")
    ap.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    ap.add_argument("--tile", type=int, help="cut frames into TILE x TILE px tiles (native resolution, PNG)")
    ap.add_argument("--overlap", type=float, default=0.2, help="tile overlap fraction (default 0.2)")
    ap.add_argument(
        "--min-tile-area", type=int, default=20, help="drop clipped instances below this many px (default 20)"
    )
    ap.add_argument(
        "--max-vertices",
        type=int,
        default=ULTRALYTICS_MAX_VERTICES,
        help="vertex budget per row (Ultralytics resamples to 1000 points); 0 = unlimited",
    )
    ap.add_argument("--no-source-polygons", action="store_true", help="always write pixel-edge outlines")
    ap.add_argument("--hardlink", action="store_true", help="hard-link images instead of copying them")
    ap.add_argument(
        "--workers",
        type=int,
        default=min(os.cpu_count() or 1, 8),
        help="processes (default: the CPU count, at most 8; output is identical for any value)",
    )
    ap.add_argument(
        "--strict", action="store_true", help="iscrowd, zero-area and out-of-image instances are errors"
    )
    ap.add_argument(
        "--iscrowd",
        choices=CROWD_POLICIES,
        default="auto",
        help="iscrowd=1 annotations: auto = keep those with an 'attributes' object (CVAT's masks), skip the "
        "others (COCO crowd regions); keep; skip (default auto)",
    )
    return ap


def options_from_args(args: argparse.Namespace) -> YoloOptions:
    """``YoloOptions`` from parsed arguments (range checks raise ``InputError``)."""
    if not 0.0 <= args.val_frac < 1.0:
        raise input_error("--val-frac", f"must be in [0, 1), got {args.val_frac}")
    if args.group_size is not None and args.group_size < 1:
        raise input_error("--group-size", f"must be >= 1, got {args.group_size}")
    if args.group_by is not None:
        try:
            re.compile(args.group_by)
        except re.error as exc:
            raise input_error("--group-by", f"invalid regular expression ({exc})") from exc
    if args.tile is not None and args.tile < 32:
        raise input_error("--tile", f"must be >= 32 px, got {args.tile}")
    if not 0.0 <= args.overlap < 1.0:
        raise input_error("--overlap", f"must be in [0, 1), got {args.overlap}")
    return replace(
        YoloOptions(),
        val_frac=args.val_frac,
        group_size=args.group_size,
        group_by=args.group_by,
        group_key=args.group_key,
        seed=args.seed,
        tile_px=args.tile,
        overlap=args.overlap,
        min_tile_area_px=args.min_tile_area,
        strict=args.strict,
        max_vertices=args.max_vertices,
        keep_source_polygons=not args.no_source_polygons,
        hardlink=args.hardlink,
        workers=max(1, args.workers),
        iscrowd=args.iscrowd,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point of ``convert/coco2yolo.py``."""
    args = build_parser().parse_args(argv)
    manifest = convert_coco_to_yolo(args.json, args.images, args.out, options_from_args(args))
    c, f = manifest["counts"], manifest["fidelity"]
    msg = (
        f"wrote {args.out}: {c['images_train']} train / {c['images_val']} val images, {c['rows_written']} rows, "
        f"{c['skipped_iscrowd']} iscrowd + {c['skipped_zero_area']} zero-area skipped, {c['clipped_to_image']} clipped"
    )
    if c["iscrowd_kept"]:
        msg += f", {c['iscrowd_kept']} iscrowd masks kept"
    if f.get("instances"):
        msg += f"; IoU mean {f['iou_mean']:.5f} p1 {f['iou_p1']:.5f} min {f['iou_min']:.5f}"
    print(msg)
    return 0
