"""Errors raised for bad input, and the CLI wrapper that turns them into one-line messages."""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable, Sequence

# File-system errors about a named path that are the user's environment, not a bug: reported in one line
FILE_SYSTEM_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT", "ENOTDIR", "EISDIR", "ENAMETOOLONG", "ENOENT",
                 "EEXIST", "ENOTEMPTY", "EXDEV", "ELOOP")
    if hasattr(errno, name)
)  # fmt: skip


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

    So does an :class:`OSError` about a named path whose errno is in :data:`FILE_SYSTEM_ERRNOS` (a folder that
    cannot be written, a full disk): ``error: <path>: <reason>``. Any other exception propagates (a traceback
    means a bug, not bad input).
    """
    try:
        rc = main(argv)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in FILE_SYSTEM_ERRNOS or exc.filename is None:
            raise
        print(f"error: {input_error(exc.filename, exc.strerror or str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)
