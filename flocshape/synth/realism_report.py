"""``datasets/realism.py --compare PRESET ... --real FRAME``: the realism v2 report's files.

Writes (``--out``, default ``runs/realism2/``): ``table.md`` (the table with its command), ``summary.json``
(AUC per fold and headline numbers), ``real_vs_synth.png`` (LOCAL: the real frame's crops next to each preset's;
never committed); and the committed ``--compare-figure`` (default ``docs/realism-v2.png``: synthetic crops and
charts only, no real pixels), and the table between the v2 markers of ``--table`` (default ``docs/realism.md``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2

from flocshape.errors import input_error
from flocshape.fsio import atomic_write_bytes, atomic_write_text
from flocshape.synth.config import PRESETS
from flocshape.synth.realism_figure import crops_png
from flocshape.synth.realism_v2 import (
    TABLE_END,
    TABLE_START,
    compare,
    replace_between,
    summary,
    table_markdown,
)


def run_compare(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Measure, classify, and write the report files (module doc)."""
    if args.real is None:
        raise input_error("command line", "needs --real (the real frame to compare with)", "--compare")
    real_bgr = cv2.imread(str(args.real), cv2.IMREAD_COLOR)
    if real_bgr is None:
        raise input_error(args.real, "cannot be read as an image", "--real")
    for preset in args.compare:
        if preset not in PRESETS:
            raise input_error("command line", f"unknown preset {preset!r}", "--compare")
    if not 1 <= args.compare_frames <= 200:
        raise input_error("command line", "must be in 1..200", "--compare-frames")
    real, measured, samples = compare(real_bgr, list(args.compare), args.compare_frames, args.seed)
    command = "python datasets/realism.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    table = table_markdown(real, measured, command, args.real.stem)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "table.md", table)
    atomic_write_text(out / "summary.json", json.dumps(summary(real, measured), indent=1) + "\n")
    local_rows = [(f"REAL {args.real.stem}", real_bgr)] + [(p, samples[p][0].bgr) for p in args.compare]
    atomic_write_bytes(out / "real_vs_synth.png", crops_png(local_rows, measured, real))
    doc_rows = [(p, samples[p][0].bgr) for p in args.compare]
    doc_rows += [
        (f"{p} (block {s.block})", s.bgr) for p in args.compare if p == "randomised" for s in samples[p][1:2]
    ]
    figure = crops_png(doc_rows, measured, real, dpi=60)
    atomic_write_bytes(args.compare_figure, figure)
    text = args.table.read_text() if args.table.is_file() else "# Realism of the synthetic frames\n"
    atomic_write_text(args.table, replace_between(text, TABLE_START, TABLE_END, table))
    print(
        f"wrote {out / 'table.md'}, {out / 'summary.json'}, {out / 'real_vs_synth.png'} (local), "
        f"{args.compare_figure} ({len(figure) // 1024} KB) and the table in {args.table}"
    )
    return 0
