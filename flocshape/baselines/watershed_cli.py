"""Classical baseline: ``python infer/watershed.py --source DIR|GLOB --out RUN [--images-json F] [--params JSON]``.

Grey threshold + distance-transform watershed (scikit-image), as ImageJ users segment particles. Writes
``submission.json`` (the same format as ``infer/predict.py``, so ``infer/score.py`` scores it),
``particles.parquet`` and ``manifest.json``. The command line of ``infer/watershed.py`` and ``flocshape
watershed``, over :mod:`flocshape.baselines.watershed`; see docs/baselines.md. Exit code 3: some frames could
not be read.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from flocshape.cliargs import Parser, integer, positive


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    p = Parser(prog="infer/watershed.py", description=__doc__.splitlines()[0])
    p.add_argument("--source", required=True, help="folder of frames or a quoted glob pattern")
    p.add_argument(
        "--images-json", type=Path, default=None, help="COCO file with 'images' (image ids by file name)"
    )
    p.add_argument("--out", required=True, type=Path, help="run folder, e.g. runs/baselines/RUN")
    p.add_argument(
        "--params", type=Path, default=None, help="JSON object of WatershedParams (defaults otherwise)"
    )
    p.add_argument("--workers", type=integer(1), default=1, help="processes (default 1)")
    p.add_argument(
        "--overwrite", action="store_true", help="replace a non-empty --out folder another tool wrote"
    )
    p.add_argument(
        "--um-per-px", type=positive(), default=None, help="scale; adds micrometre columns to the table"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Segment every frame; exit code 0, or 3 when some frames could not be read."""
    from flocshape.baselines.watershed import WatershedParams, load_params, run_watershed
    from flocshape.infer.run import find_sources

    args = build_parser().parse_args(argv)
    params = load_params(args.params) if args.params else WatershedParams()
    summary = run_watershed(
        find_sources(args.source),
        args.out,
        params,
        images_json=args.images_json,
        params_path=args.params,
        workers=args.workers,
        overwrite=args.overwrite,
        um_per_px=args.um_per_px,
        cli_args=vars(args),
    )
    print(f"frames: {summary.frames_ok}/{summary.frames_total} ok, {len(summary.failed)} failed")
    print(f"instances: {summary.instances}")
    print(f"per frame (ms): {summary.per_frame_ms()}")
    print(f"out: {Path(args.out).absolute()}")
    return summary.exit_code
