"""The converters' command lines under the common rules: one-line errors, the output policy, orphan labels.

``convert/coco2yolo.py``, ``convert/yolo2coco.py`` and ``convert/labelmap2coco.py`` run these ``main``\\ s, which
parse the command line with :class:`flocshape.cliargs.Parser` (one-line errors), apply
:mod:`flocshape.outputs` (an output may not be an input; an existing file is replaced only when it is an earlier
output of the same converter or with ``--overwrite``; its folder must be writable), then run the converter of
:mod:`flocshape.convert`. ``yolo2coco`` also warns, one line per file, about label files without an image (their
rows would be dropped without a word).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from flocshape.cliargs import Parser
from flocshape.fsio import is_image_file
from flocshape.outputs import check_writable, claim_file

OVERWRITE = "--overwrite"


def _parse(build_parser: Callable[[], argparse.ArgumentParser], argv: Sequence[str] | None, prog: str,
           overwrite: bool) -> tuple[argparse.Namespace, list[str]]:  # fmt: skip
    """The converter's options parsed with one-line errors (plus ``--overwrite`` when asked), and the argv
    without ``--overwrite`` for the converter's own ``main``."""
    inner = build_parser()
    parser = Parser(prog=prog, description=inner.description, parents=[inner], add_help=False)
    if overwrite:
        parser.add_argument(OVERWRITE, action="store_true", help="replace an --out file another tool wrote")
    args_list = list(sys.argv[1:] if argv is None else argv)
    return parser.parse_args(args_list), [a for a in args_list if a != OVERWRITE]


def orphan_labels(images: Path, labels: Path) -> list[Path]:
    """Label files ``<stem>.txt`` of ``labels`` with no image ``<stem>.<ext>`` in ``images``."""
    if not (images.is_dir() and labels.is_dir()):
        return []
    stems = {p.stem for p in images.iterdir() if is_image_file(p)}
    return sorted(p for p in labels.glob("*.txt") if p.stem not in stems)


def coco2yolo_main(argv: Sequence[str] | None = None) -> int:
    """``convert/coco2yolo.py`` (the converter refuses a folder that is not its own earlier output itself)."""
    from flocshape.convert.to_yolo import build_parser, main

    args, rest = _parse(build_parser, argv, "convert/coco2yolo.py", overwrite=False)
    check_writable(args.out)
    return main(rest)


def yolo2coco_main(argv: Sequence[str] | None = None) -> int:
    """``convert/yolo2coco.py``."""
    from flocshape.convert.from_yolo import TOOL, build_parser, main

    args, rest = _parse(build_parser, argv, "convert/yolo2coco.py", overwrite=True)
    sidecar = args.out.with_name(args.out.name + ".manifest.json")
    inputs = [args.images, args.labels, args.names, args.ids_from]
    claim_file(args.out, TOOL, inputs, args.overwrite, companions=[sidecar] if args.conf_column else [])
    for label in orphan_labels(args.images, args.labels):
        print(f"warning: {label}: no image {label.stem}.* in {args.images}; its rows are not converted",
              file=sys.stderr)  # fmt: skip
    return main(rest)


def labelmap2coco_main(argv: Sequence[str] | None = None) -> int:
    """``convert/labelmap2coco.py``."""
    from flocshape.convert.labelmap import TOOL, build_parser, main

    args, rest = _parse(build_parser, argv, "convert/labelmap2coco.py", overwrite=True)
    ids_file = Path(args.ids) if args.ids and Path(args.ids).is_file() else None
    claim_file(args.out, TOOL, [args.images, args.labels, args.metadata, ids_file], args.overwrite)
    return main(rest)
