"""Provenance: every run folder gets a ``manifest.json`` of inputs, arguments and versions."""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata as _md
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from flocshape.fsio import atomic_write_json

_PACKAGES = ("flocshape", "numpy", "pandas", "pycocotools", "shapely", "scipy", "torch", "ultralytics")


def package_versions(names: tuple[str, ...] = _PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution, ``None`` where it is not installed."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = _md.version(name)
        except _md.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(repo: Path | None = None) -> str | None:
    """The current git commit of the project checkout (with ``-dirty`` when modified), or ``None``."""
    repo = repo or Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("-dirty" if dirty else "")


def file_digest(path: str | os.PathLike[str], algo: str = "sha256", limit_bytes: int | None = None) -> str:
    """Hex digest of a file (of its first ``limit_bytes`` bytes when given)."""
    h = hashlib.new(algo)
    remaining = limit_bytes
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(1 << 20 if remaining is None else min(1 << 20, remaining))
            if not chunk:
                break
            h.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
                if remaining <= 0:
                    break
    return h.hexdigest()


def describe_input(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Absolute path, size and sha256 of a file; for a folder, its path and file count."""
    p = Path(path).absolute()
    if p.is_dir():
        return {"path": str(p), "kind": "dir", "files": sum(1 for q in p.rglob("*") if q.is_file())}
    if p.is_file():
        return {"path": str(p), "kind": "file", "bytes": p.stat().st_size, "sha256": file_digest(p)}
    return {"path": str(p), "kind": "missing"}


def build_manifest(
    tool: str, args: dict[str, Any], inputs: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """A manifest dict: tool, UTC time, command line, arguments, inputs, versions, plus ``extra`` keys."""
    return {
        "tool": tool,
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "args": {k: (str(v) if isinstance(v, os.PathLike) else v) for k, v in args.items()},
        "inputs": inputs or {},
        "versions": {"python": platform.python_version(), **package_versions()},
        "git_commit": git_commit(),
        "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
        **extra,
    }


def write_manifest(
    folder: str | os.PathLike[str], manifest: dict[str, Any], name: str = "manifest.json"
) -> Path:
    """Write ``manifest`` to ``folder/name`` (default ``manifest.json``) atomically and return the path."""
    return atomic_write_json(Path(folder) / name, manifest)
