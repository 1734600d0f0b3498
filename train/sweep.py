"""Run a model study: ``python train/sweep.py train/studies/NAME.yaml --out runs/study/NAME [--only A,B]``.

The same command as ``flocshape sweep``; logic in :mod:`flocshape.train.sweep_cli`, see docs/study.md.
"""

from flocshape.errors import run_cli
from flocshape.train.sweep_cli import main

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
