"""Train a YOLO-seg particle model: ``python train/train.py --data OUT/data.yaml --recipe cpu-small [key=value ...]``.

The same command as ``flocshape train``; logic in :mod:`flocshape.train.cli`, see docs/train.md.
"""

from flocshape.errors import run_cli
from flocshape.train.cli import main

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
