"""Classical baseline: grey threshold + distance-transform watershed, scored like infer/predict.py.

``python infer/watershed.py --source DIR|GLOB --out RUN [--params JSON]`` (= ``flocshape watershed``); logic in
:mod:`flocshape.baselines.watershed_cli`, see docs/baselines.md. Exit code 3: some frames could not be read.
"""

from flocshape.baselines.watershed_cli import main
from flocshape.errors import run_cli

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
