"""Instance label maps (16-bit PNG, 0 = background) -> COCO with compressed RLE. Logic: flocshape.convert.labelmap.

Run through :mod:`flocshape.convert_guard` (one-line errors, the output policy of :mod:`flocshape.outputs`).
"""

from flocshape.convert_guard import labelmap2coco_main as main
from flocshape.errors import run_cli

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
