"""YOLO-seg labels -> COCO instances (RLE or polygons). Logic: flocshape.convert.from_yolo.

Run through :mod:`flocshape.convert_guard` (one-line errors, the output policy of :mod:`flocshape.outputs`).
"""

from flocshape.convert_guard import yolo2coco_main as main
from flocshape.errors import run_cli

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
