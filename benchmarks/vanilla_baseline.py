"""The vanilla Ultralytics baseline, also runnable from here: the same command as ``train/vanilla_baseline.py``.

Logic: :mod:`flocshape.baselines.vanilla_cli` (``flocshape vanilla-baseline``).
"""

from flocshape.baselines.vanilla_cli import main
from flocshape.errors import run_cli

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
