"""Command-line parsing shared by every stage: one-line errors and numeric options checked at the edge.

Conventions
-----------
* :class:`Parser` is an :class:`argparse.ArgumentParser` whose errors (unknown flag, missing option, a value
  that does not parse or is out of range) raise :class:`flocshape.errors.InputError` instead of printing the
  usage and exiting, so :func:`flocshape.errors.run_cli` prints one line ``error: command line: --flag: what``
  and returns exit code 2. ``--help`` still prints the help and exits 0.
* The number types (:func:`real`, :func:`integer` and the named shortcuts) accept only finite values inside
  their range: ``nan``, ``inf`` and out-of-range values are refused while the command line is parsed, before
  any input is read or any output written. Interval notation in messages: ``[`` closed, ``(`` open.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from typing import NoReturn

from flocshape.errors import input_error

COMMAND_LINE = "command line"


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one-line :class:`~flocshape.errors.InputError` messages."""

    def error(self, message: str) -> NoReturn:
        """Raise ``InputError("command line: --flag: what")`` (the flag when argparse names one)."""
        match = re.match(r"argument (\S+?)(?:/\S+)?: (.*)", message)
        if match:
            raise input_error(COMMAND_LINE, match.group(2), match.group(1))
        raise input_error(COMMAND_LINE, message)


def _interval(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    left = "(" if lo_open or lo is None else "["
    right = ")" if hi_open or hi is None else "]"
    return f"{left}{'-inf' if lo is None else f'{lo:g}'}, {'inf' if hi is None else f'{hi:g}'}{right}"


def real(
    lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open: bool = False
) -> Callable[[str], float]:
    """An argparse ``type``: a finite float in the interval from ``lo`` to ``hi`` (``None`` = unbounded)."""
    span = _interval(lo, hi, lo_open, hi_open)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        below = lo is not None and (value <= lo if lo_open else value < lo)
        above = hi is not None and (value >= hi if hi_open else value > hi)
        if not math.isfinite(value) or below or above:
            where = "" if lo is None and hi is None else f" in {span}"
            raise argparse.ArgumentTypeError(f"must be a finite number{where}, got {text!r}")
        return value

    parse.__name__ = f"number in {span}"
    return parse


def integer(lo: int | None = None, hi: int | None = None, multiple_of: int = 1) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``[lo, hi]`` (``None`` = unbounded), a multiple of ``multiple_of``."""
    span = _interval(lo, hi, False, False)
    extra = f", a multiple of {multiple_of}" if multiple_of > 1 else ""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi) or value % multiple_of:
            raise argparse.ArgumentTypeError(f"must be an integer in {span}{extra}, got {text!r}")
        return value

    parse.__name__ = f"integer in {span}"
    return parse


def positive() -> Callable[[str], float]:
    """A finite number > 0 (a scale such as ``--um-per-px``, a size in px)."""
    return real(0.0, lo_open=True)


def non_negative() -> Callable[[str], float]:
    """A finite number >= 0."""
    return real(0.0)


def fraction() -> Callable[[str], float]:
    """A finite number in [0, 1] (a score or IoU threshold)."""
    return real(0.0, 1.0)


def open_fraction() -> Callable[[str], float]:
    """A finite number in (0, 1) (a confidence level)."""
    return real(0.0, 1.0, lo_open=True, hi_open=True)
