"""Predictions of chosen frames -> COCO pre-annotations for CVAT or Label Studio. Logic: flocshape.convert.export."""

from flocshape.convert.export import main
from flocshape.errors import run_cli

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
