"""Choose the mask refinement (``infer/predict.py --refine L --refine-inset I --refine-smooth S``) on labelled
validation frames: ``python infer/tune_refine.py --pred VAL_RUN/submission.json --gt VAL_GT.json --images VAL_FRAMES
--out refine.json``.

Logic and options: :mod:`flocshape.infer.tune_refine_cli` (docs/predict.md).
"""

from flocshape.errors import run_cli
from flocshape.infer.tune_refine_cli import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
