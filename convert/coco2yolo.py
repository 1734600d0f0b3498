"""COCO instances (polygons / RLE) -> Ultralytics YOLO-seg dataset. Logic: flocshape.convert.to_yolo.

Run through :mod:`flocshape.convert_guard` (one-line errors, the output policy of :mod:`flocshape.outputs`).
"""

from flocshape.convert_guard import coco2yolo_main as main
from flocshape.errors import run_cli

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
