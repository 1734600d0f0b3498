"""Link particles across the frames of each block and fit trends. See ``python infer/track.py --help``."""

from flocshape.errors import run_cli
from flocshape.track.cli import main

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
