"""Measure particle shape descriptors of every instance in a COCO file or in label maps.

``python infer/shape.py --coco FILE [--images DIR] [--um-per-px X] --out particles.parquet`` (= ``flocshape shape``);
logic in :mod:`flocshape.shape.cli`, columns and conventions in docs/shape.md.
"""

from flocshape.errors import run_cli
from flocshape.shape.cli import main

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
