"""Tune post-processing (min score, min mask area, mask NMS) for the hackathon F1 on a VALIDATION split.

Usage: ``python infer/tune.py --gt VAL_GT.json --pred VAL_SUBMISSION.json --out postproc.json [--grid JSON]``
(logic in :mod:`flocshape.score.cli`; see ``docs/score.md``).
"""

from flocshape.errors import run_cli
from flocshape.score.cli import tune_main as main

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
