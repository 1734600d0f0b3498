"""Compare particle tables of batches (B, C, ... against A). See ``python infer/compare.py --help``."""

from flocshape.errors import run_cli
from flocshape.stats.cli import main

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
