"""Realism figure and table: synthetic frame statistics next to the published hackathon numbers.

``python datasets/realism.py [--data DIR] [--real FRAME.png --real-figure LOCAL.png]``; with
``--compare PRESET ... --real FRAME.png`` the realism v2 report (hard-to-fool statistics and the
real-vs-synthetic patch classifier, docs/realism.md). Logic in :mod:`flocshape.synth.realism`. The committed
figures never contain real pixels.
"""

from flocshape.errors import run_cli
from flocshape.synth.realism import main

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
