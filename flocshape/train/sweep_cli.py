"""Run a model study: ``python train/sweep.py train/studies/NAME.yaml --out runs/study/NAME [--only A,B] [--parallel N]``.

Trains every run of the study file, tunes post-processing on the block-split validation frames, scores the test
split, and writes ``OUT/leaderboard.md`` / ``.csv``. The command line of
``train/sweep.py`` and ``flocshape sweep``, over :mod:`flocshape.train.sweep`; see docs/study.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flocshape.cliargs import Parser, integer
from flocshape.outputs import check_writable
from flocshape.train.sweep import run_study


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the study, print the leaderboard; exit 1 if a run failed."""
    parser = Parser(prog="train/sweep.py", description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path, help="study YAML (see train/studies/)")
    parser.add_argument("--out", required=True, type=Path, help="study folder (resumes what is done)")
    parser.add_argument("--only", default=None, help="comma-separated run names (default: all)")
    parser.add_argument(
        "--parallel", type=integer(1), default=1, help="runs at once (GPU machines only; default 1)"
    )
    args = parser.parse_args(argv)
    check_writable(args.out / "leaderboard.md")
    only = [s for s in args.only.split(",") if s] if args.only else None
    rows = run_study(args.study, args.out, only=only, parallel=args.parallel, cli_args=vars(args))
    print((args.out / "leaderboard.md").read_text())
    failed = [r["run"] for r in rows if "error" in r]
    for r in rows:
        if "error" in r:
            print(f"run {r['run']} failed: {r['error']}")
    return 1 if failed else 0
