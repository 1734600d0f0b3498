"""Atomic file and folder writes: nothing is ever left half-written.

Every writer builds its output next to the destination under a temporary name and renames it into place
only when complete. ``os.replace`` is atomic on one file system.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Frame file types every stage reads (lower-case suffixes, in the order a stem is looked up: JPEG first, the
# hackathon format); one list so that a folder means the same frames to every stage.
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def is_image_file(path: Path) -> bool:
    """Is ``path`` named like a frame (suffix in :data:`IMAGE_SUFFIXES`, any case)?"""
    return path.suffix.lower() in IMAGE_SUFFIXES


def _umask() -> int:
    """The process umask (read without changing it for long)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual umask-based mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = 1) -> Path:
    """Write ``obj`` as JSON atomically. Keys keep their insertion order (deterministic output)."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def table_bytes(table: Any, fmt: str) -> bytes:
    """Serialise a pandas DataFrame as ``csv`` (UTF-8, no index) or ``parquet`` (pyarrow, no index)."""
    if fmt == "csv":
        return table.to_csv(index=False).encode("utf-8")
    if fmt == "parquet":
        import io

        buf = io.BytesIO()
        table.to_parquet(buf, index=False)
        return buf.getvalue()
    raise ValueError(f"unknown table format {fmt!r}")


def atomic_write_table(path: str | os.PathLike[str], table: Any) -> Path:
    """Write a pandas DataFrame atomically: CSV when the name ends in ``.csv``, else Parquet (no index)."""
    return atomic_write_bytes(
        path, table_bytes(table, "csv" if str(path).lower().endswith(".csv") else "parquet")
    )


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str], overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it replaces ``path``, on error it is removed.

    With ``overwrite=False`` an existing ``path`` is an error. The old folder (if any) is moved aside (by a
    rename) and deleted only after the new one is in place; an old file or link is unlinked the same way. Which
    paths may be replaced at all is decided beforehand by :mod:`flocshape.outputs`.
    """
    path = Path(path).absolute()
    if path.exists() and not overwrite:
        raise FileExistsError(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists() or path.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent)) / path.name
        os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            os.replace(old, path)  # put the old one back
            old.parent.rmdir()
        raise
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old.parent, ignore_errors=True)
        else:
            old.unlink()
            old.parent.rmdir()
