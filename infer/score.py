"""Score predictions (COCO results / hackathon submission) against COCO ground truth.

Usage: ``python infer/score.py --gt GT.json --pred SUBMISSION.json [--th 0.1] [--json OUT]``
(logic in :mod:`flocshape.score.cli`; metrics documented in ``docs/score.md``).
"""

from flocshape.errors import run_cli
from flocshape.score.cli import score_main as main

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
