"""Errors raised for bad input, and the CLI wrapper that turns them into one-line messages."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence


class InputError(Exception):
    """Bad user input. The message is one line that names the file and, where known, the record.

    Build it with :func:`input_error` so every message has the same shape:
    ``<file>: <record>: <what is wrong>``.
    """


def input_error(path: object, what: str, record: object | None = None) -> InputError:
    """Return an :class:`InputError` whose message reads ``path: record: what``."""
    where = f"{path}" if record is None else f"{path}: {record}"
    return InputError(f"{where}: {what}".replace("\n", " "))


def run_cli(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Run a CLI ``main``; an :class:`InputError` becomes ``error: <message>`` on stderr and exit code 2.

    Any other exception propagates (a traceback means a bug, not bad input).
    """
    try:
        rc = main(argv)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)
