"""Generate a synthetic floc video data set: ``python datasets/synthesize.py --out DIR [--preset small]``.

See ``docs/synth.md``; the logic lives in :mod:`flocshape.synth`.
"""

from flocshape.errors import run_cli
from flocshape.synth.cli import main

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
