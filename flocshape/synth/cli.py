"""Command line of ``datasets/synthesize.py``: every knob of :class:`SynthConfig` is a flag."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import NoReturn

from flocshape.errors import input_error
from flocshape.synth.config import PRESETS, SynthConfig, resolve
from flocshape.synth.writer import generate


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one-line :class:`~flocshape.errors.InputError` messages."""

    def error(self, message: str) -> NoReturn:
        raise input_error("command line", message)


def build_parser() -> argparse.ArgumentParser:
    """The parser: ``--out``, ``--preset``, ``--workers``, ``--overwrite`` and one flag per knob."""
    p = _Parser(
        prog="datasets/synthesize.py",
        description="Generate a synthetic floc video data set in the 2022 hackathon layout with exact truth.",
    )
    p.add_argument("--out", required=True, type=Path, help="output folder (written atomically)")
    p.add_argument("--preset", default="hackathon", help=f"one of: {', '.join(PRESETS)} (default hackathon)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: CPU count, at most 2)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    for f in fields(SynthConfig):
        kind = int if f.type in (int, "int") else float
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
    if out.exists() and not args.overwrite:
        raise input_error(out, "output folder exists (pass --overwrite to replace it)", "--out")
    if out.exists() and not out.is_dir():
        raise input_error(out, "is a file, not a folder", "--out")
    card = generate(cfg, out, args.preset, workers=workers, overwrite=args.overwrite)
    stats = card["statistics"]
    print(
        f"wrote {out}: {stats['images']} images, {stats['labelled_instances']} labelled instances, "
        f"{stats['labelled_per_frame_mean']:.1f} labelled per frame",
        file=sys.stdout,
    )
    return 0
