"""Write one self-contained report.html for one or more run folders.

``python infer/report.py RUN_DIR [RUN_DIR2 ...] [--out report.html]`` (= ``flocshape report``); logic in
:mod:`flocshape.report.cli`, see docs/report.md.
"""

from flocshape.errors import run_cli
from flocshape.report.cli import main

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
