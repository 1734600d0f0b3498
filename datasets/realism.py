"""Realism figure and table: synthetic frame statistics next to the published hackathon numbers.

``python datasets/realism.py [--data DIR] [--real FRAME.png --real-figure LOCAL.png]``; logic in
:mod:`flocshape.synth.realism`. The committed ``docs/realism.png`` never contains real pixels.
"""

from flocshape.errors import run_cli
from flocshape.synth.realism import main

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
