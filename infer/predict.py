"""Predict particles: ``python infer/predict.py [--model PT | --cfg FILE] --source DIR|GLOB --out runs/predict/RUN``.

Logic and options: :mod:`flocshape.infer.predict_cli` (docs/predict.md).
"""

from flocshape.errors import run_cli
from flocshape.infer.predict_cli import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
