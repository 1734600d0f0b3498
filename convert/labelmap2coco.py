"""Instance label maps (16-bit PNG, 0 = background) -> COCO with compressed RLE. Logic: flocshape.convert.labelmap."""

from flocshape.convert.labelmap import main
from flocshape.errors import run_cli

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
