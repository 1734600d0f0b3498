"""``python -m flocshape <stage> ...``: the same as the ``flocshape`` command (:mod:`flocshape.cli`)."""

from flocshape.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
