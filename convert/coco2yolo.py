"""COCO instances (polygons / RLE) -> Ultralytics YOLO-seg dataset. Logic: flocshape.convert.to_yolo."""

from flocshape.convert.to_yolo import main
from flocshape.errors import run_cli

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
