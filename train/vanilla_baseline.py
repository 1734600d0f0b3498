"""Baseline: vanilla Ultralytics (convert_coco, train and predict with defaults). Logic: flocshape.baselines.vanilla.

``python train/vanilla_baseline.py {convert,train,predict} ...`` (= ``flocshape vanilla-baseline``); the command
line is :mod:`flocshape.baselines.vanilla_cli`, see docs/baselines.md and docs/study.md.
"""

from flocshape.baselines.vanilla_cli import main
from flocshape.errors import run_cli

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
