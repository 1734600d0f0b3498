"""Calibrate predicted-mask shape descriptors against labelled frames, and apply a calibration to particle tables.

``python infer/calibrate.py fit|apply ...`` (= ``flocshape calibrate``); logic in :mod:`flocshape.shape.calibrate_cli`,
see docs/shape.md.
"""

from flocshape.errors import run_cli
from flocshape.shape.calibrate_cli import main

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
