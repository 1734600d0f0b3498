"""Command line of ``datasets/synthesize.py``: every knob of :class:`SynthConfig` is a flag."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

from flocshape.cliargs import Parser, integer, real
from flocshape.errors import input_error
from flocshape.outputs import claim_dir
from flocshape.synth.config import PRESETS, SynthConfig, resolve
from flocshape.synth.writer import generate

TOOL = "datasets/synthesize.py"


def build_parser() -> argparse.ArgumentParser:
    """The parser: ``--out``, ``--preset``, ``--workers``, ``--overwrite`` and one flag per knob (finite numbers
    only; ranges are checked by :func:`flocshape.synth.config.validate`)."""
    p = Parser(
        prog="datasets/synthesize.py",
        description="Generate a synthetic floc video data set in the 2022 hackathon layout with exact truth.",
    )
    p.add_argument(
        "--out",
        required=True,
        type=Path,
        help="output folder (written atomically; an earlier one is replaced)",
    )
    p.add_argument("--preset", default="hackathon", help=f"one of: {', '.join(PRESETS)} (default hackathon)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: CPU count, at most 2)")
    p.add_argument("--overwrite", action="store_true", help="replace an --out folder another tool wrote")
    for f in fields(SynthConfig):
        kind = integer() if f.type in (int, "int") else real()
        p.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=kind,
            default=None,
            help=f"{f.metadata.get('help', '')} (preset default if not given)",
        )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, validate everything, then generate; bad input raises before anything is written."""
    args = build_parser().parse_args(argv)
    knobs = {f.name: getattr(args, f.name) for f in fields(SynthConfig)}
    cfg = resolve(args.preset, knobs)
    workers = args.workers if args.workers is not None else min(2, os.cpu_count() or 1)
    if workers < 1:
        raise input_error("command line", f"must be at least 1 (got {workers})", "--workers")
    out: Path = args.out
    claim_dir(out, TOOL, [], args.overwrite)
    card = generate(cfg, out, args.preset, workers=workers, overwrite=True)
    stats = card["statistics"]
    print(
        f"wrote {out}: {stats['images']} images, {stats['labelled_instances']} labelled instances, "
        f"{stats['labelled_per_frame_mean']:.1f} labelled per frame",
        file=sys.stdout,
    )
    return 0
