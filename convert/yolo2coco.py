"""YOLO-seg labels -> COCO instances (RLE or polygons). Logic: flocshape.convert.from_yolo."""

from flocshape.convert.from_yolo import main
from flocshape.errors import run_cli

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
