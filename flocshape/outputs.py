"""The output policy of every stage, checked before any work starts: a user's files are never replaced.

Rules (:func:`claim_dir` for a folder output, :func:`claim_file` for a single file):

* an output equal to an input, containing an input (a folder output that holds an input file or folder), or
  replacing anything inside an input *folder* is refused, ``--overwrite`` or not (a *new* file or folder
  inside an input folder is allowed: nothing of the input changes); paths are compared after resolving
  symbolic links, and an existing output that is the same file as an input (a hard link) counts as equal;
* an output that exists is refused unless it is an earlier output of the same stage, recognised by its
  manifest (``manifest.json`` in a folder output; for a file: the manifest embedded in it, a sidecar
  ``NAME.manifest.json``, or a ``manifest.json`` / ``STEM.manifest.json`` beside it that names it), or
  ``--overwrite`` is given; an empty folder is free to use. A folder output that exists as a file, or a file
  output that exists as a folder, is refused in any case;
* an output whose folder cannot be created or written (read-only, or a parent that is a file) is refused.

Refusals are one-line :class:`flocshape.errors.InputError` messages ``OUT: --flag: what``. Nothing is written
by the checks (the write test uses an unnamed temporary file). Outputs are then written by the atomic helpers
of :mod:`flocshape.fsio`: a file is replaced only by a rename, a folder only after the new one is complete.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from flocshape.errors import input_error

PathLike = str | os.PathLike[str]
_PEEK_BYTES = 1 << 18  # a tool tag is looked for in the first and last 256 KiB of a file


def _resolved(path: PathLike) -> Path:
    return Path(path).expanduser().resolve(strict=False)


def _tool_tag(tool: str) -> bytes:
    return f'"tool": "{tool}"'.encode()


def mentions_tool(path: Path, tool: str, name: str | None = None) -> bool:
    """Does the file ``path`` record ``"tool": "<tool>"`` (and ``name``, when given) in its first or last
    256 KiB? Unreadable files do not."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_PEEK_BYTES)
            size = os.fstat(fh.fileno()).st_size
            if size > 2 * _PEEK_BYTES:
                fh.seek(size - _PEEK_BYTES)
            tail = fh.read(_PEEK_BYTES) if size > _PEEK_BYTES else b""
    except OSError:
        return False
    text = head + tail
    return _tool_tag(tool) in text and (name is None or name.encode() in text)


def is_own_dir(folder: Path, tool: str) -> bool:
    """Is ``folder`` an earlier output of ``tool`` (its ``manifest.json`` names the tool)?"""
    return (folder / "manifest.json").is_file() and mentions_tool(folder / "manifest.json", tool)


def is_own_file(path: Path, tool: str) -> bool:
    """Is the file ``path`` an earlier output of ``tool``? See the module docstring for the manifests read."""
    if path.suffix.lower() == ".json" and mentions_tool(path, tool):
        return True
    sidecar = path.with_name(path.name + ".manifest.json")
    if sidecar.is_file() and mentions_tool(sidecar, tool):
        return True
    beside = (path.with_name("manifest.json"), path.with_name(f"{path.stem}.manifest.json"))
    return any(m.is_file() and mentions_tool(m, tool, path.name) for m in beside)


def _inputs(inputs: Iterable[PathLike | None]) -> list[tuple[Path, Path]]:
    """(as given, resolved) for every input that is given and exists (a missing one is reported by its
    reader)."""
    given = [Path(p) for p in inputs if p is not None and str(p) != ""]
    return [(p, _resolved(p)) for p in given if p.exists() or p.is_symlink()]


def check_not_input(out: PathLike, inputs: Iterable[PathLike | None], flag: str = "--out") -> None:
    """Refuse an output equal to, inside or containing an input (see the module docstring)."""
    target = _resolved(out)
    for given, src in _inputs(inputs):
        same = target == src
        if not same and target.exists() and src.exists():
            try:
                same = os.path.samefile(target, src)
            except OSError:
                same = False
        if same:
            raise input_error(out, f"is also an input ({given}); choose another output", flag)
        if target in src.parents:
            raise input_error(out, f"contains the input {given}; choose another output", flag)
        if src.is_dir() and src in target.parents and (target.exists() or target.is_symlink()):
            raise input_error(
                out, f"exists inside the input folder {given}: never replaced; choose another output", flag
            )


def check_writable(out: PathLike, flag: str = "--out") -> None:
    """Refuse an output whose nearest existing folder is a file or cannot be written in (tested by creating an
    unnamed temporary file there, which leaves nothing behind)."""
    target = Path(out).expanduser().absolute()
    ancestor = target.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        if ancestor.is_symlink():
            raise input_error(out, f"cannot create the folder {ancestor}: it is a broken link", flag)
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise input_error(out, f"cannot create a folder inside {ancestor}: it is a file", flag)
    try:
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as exc:
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
        raise input_error(out, f"cannot write in {ancestor} ({reason})", flag) from None


def claim_dir(
    out: PathLike,
    tool: str,
    inputs: Iterable[PathLike | None] = (),
    overwrite: bool = False,
    flag: str = "--out",
) -> Path:
    """Check that the folder ``out`` may be written by ``tool`` (module docstring); returns it absolute."""
    path = Path(out).expanduser().absolute()
    check_not_input(path, inputs, flag)
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise input_error(out, "exists and is not a folder; choose another output", flag)
        if not (overwrite or not any(path.iterdir()) or is_own_dir(path, tool)):
            raise input_error(
                out,
                f"exists and is not an earlier output of {tool} (no manifest.json of it); "
                "pass --overwrite to replace it, or choose another output",
                flag,
            )
    check_writable(path, flag)
    return path


def claim_file(
    out: PathLike,
    tool: str,
    inputs: Iterable[PathLike | None] = (),
    overwrite: bool = False,
    flag: str = "--out",
    companions: Sequence[PathLike] = (),
) -> Path:
    """Check that the file ``out`` (and its ``companions``: a sidecar manifest, a table written beside it) may be
    written by ``tool`` (module docstring); returns ``out`` absolute. A companion that exists is replaced only
    when ``out`` or the companion itself is recognised as the tool's, or with ``overwrite``."""
    path = Path(out).expanduser().absolute()
    inputs = list(inputs)
    own = False
    for k, target in enumerate([path, *(Path(c).expanduser().absolute() for c in companions)]):
        check_not_input(target, inputs, flag)
        if target.is_dir():
            what = "is a folder; give a file name" if k == 0 else f"would write {target}, which is a folder"
            raise input_error(out, what, flag)
        if target.exists():
            # ``out`` by its manifest; a companion manifest by its tool; any other companion only through ``out``
            mine = (
                is_own_file(target, tool)
                if k == 0
                else target.suffix == ".json" and mentions_tool(target, tool)
            )
            own = own or mine
            if not (own or overwrite):
                where = "exists and" if k == 0 else f"would replace {target}, which"
                raise input_error(
                    out,
                    f"{where} is not an earlier output of {tool}; pass --overwrite to replace it, "
                    "or choose another output",
                    flag,
                )
    check_writable(path, flag)
    return path


def run_files(run: PathLike) -> list[Path]:
    """The files a stage reads from a run folder (or the table itself when ``run`` is a file): the particle
    table, submission, manifest and journal. Declared as inputs, so an output may go into the run folder but
    never replace them."""
    p = Path(run)
    if not p.is_dir():
        return [p]
    return [p / name for name in ("particles.parquet", "submission.json", "manifest.json", "journal.jsonl")]


def manifest_beside(out: PathLike, tool: str) -> Path:
    """Where the manifest of the single-file output ``out`` goes: ``manifest.json`` in its folder when that is
    free or already the tool's manifest of ``out``, else ``STEM.manifest.json`` (a run folder's own manifest is
    never replaced)."""
    path = Path(out).expanduser().absolute()
    folder_manifest = path.with_name("manifest.json")
    if not folder_manifest.exists() or mentions_tool(folder_manifest, tool, path.name):
        return folder_manifest
    return path.with_name(f"{path.stem}.manifest.json")
