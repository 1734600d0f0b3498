"""Conventions of labelling tools' COCO files that the readers (``coco2yolo``) follow.

Frame names
-----------
Tools name a frame in ``file_name`` as they stored it: CVAT as uploaded (``0002.jpg``, or ``sub/0002.jpg``
for an archive with folders); Label Studio with a folder (``images/d3a1b2c4-0002.jpg``), a path relative
to its export (``../../label-studio/data/upload/1/d3a1b2c4-0002.jpg``) or a storage URL
(``/data/local-files/?d=frames/0002.jpg``), where files uploaded to Label Studio carry an 8-hex-digit
prefix and a dash. :func:`resolve_frame` finds the frame in an images folder by the first rule that
names an existing file:

1. ``exact``: ``DIR/file_name``;
2. ``basename``: ``DIR/<last path component of file_name>``;
3. ``upload-prefix``: that basename without a leading ``[0-9a-f]{8}-`` (Label Studio's upload prefix).

Two image records that resolve to the same file are an error (:func:`check_unambiguous`).

Crowd annotations
-----------------
In the COCO convention ``iscrowd=1`` marks a region of many objects (skipped for training). CVAT's
"COCO 1.0" export (through Datumaro) instead writes every *mask* shape, brush-drawn or imported, as
uncompressed RLE with ``iscrowd=1``, and gives every annotation an ``attributes`` object (at least
``{"occluded": false}``). Policy ``auto`` (:func:`keep_crowd`) therefore keeps an ``iscrowd=1``
annotation as an instance when it carries an ``attributes`` object and skips it otherwise; ``keep``
keeps every one, ``skip`` none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote

from flocshape.errors import input_error

UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-(?=.)")
CROWD_POLICIES = ("auto", "skip", "keep")
MATCH_RULES = ("exact", "basename", "upload-prefix")


def frame_basename(file_name: str) -> str:
    """Last component of a ``file_name`` written with ``/`` or ``\\`` separators.

    A Label Studio storage URL (``/data/local-files/?d=PATH``) gives the last component of its URL-decoded PATH.
    """
    if "?d=" in file_name:
        file_name = unquote(file_name.split("?d=", 1)[1])
    return file_name.replace("\\", "/").rsplit("/", 1)[-1]


def strip_upload_prefix(name: str) -> str | None:
    """``name`` without Label Studio's ``xxxxxxxx-`` upload prefix, or ``None`` when it has none."""
    return UPLOAD_PREFIX.sub("", name, count=1) if UPLOAD_PREFIX.match(name) else None


def resolve_frame(images_dir: Path, file_name: str) -> tuple[Path, str | None]:
    """``(path, rule)`` of the frame a ``file_name`` names in ``images_dir`` (rules in the module docstring).

    When no rule finds a file, returns ``(images_dir / file_name, None)`` so the caller reports that path.
    """
    exact = images_dir / file_name
    base = frame_basename(file_name)
    candidates: list[tuple[Path, str]] = [(exact, "exact")]
    if base and base != file_name:
        candidates.append((images_dir / base, "basename"))
    stripped = strip_upload_prefix(base) if base else None
    if stripped:
        candidates.append((images_dir / stripped, "upload-prefix"))
    for path, rule in candidates:
        if _is_file(path):
            return path, rule
    return exact, None


def _is_file(path: Path) -> bool:
    """``path.is_file()``, and ``False`` for a name the OS cannot take (a NUL byte, too long)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def check_unambiguous(
    resolved: Sequence[tuple[int, str, Path]], source: object, record: str = "image id={}"
) -> None:
    """Raise a one-line ``InputError`` when two ``(image id, file_name, path)`` entries share a frame file."""
    seen: dict[Path, tuple[int, str]] = {}
    for image_id, name, path in resolved:
        key = Path(path).absolute()
        if key in seen:
            other_id, other_name = seen[key]
            raise input_error(
                source,
                f"file_name {name!r} and {other_name!r} (image id={other_id}) both match the frame "
                f"{key.name}; rename one or pass a folder where each names its own file",
                record.format(image_id),
            )
        seen[key] = (image_id, name)


def keep_crowd(has_attributes: bool, policy: str) -> bool:
    """Is an ``iscrowd=1`` annotation an instance to keep under ``policy`` (``auto``, ``skip``, ``keep``)?"""
    if policy not in CROWD_POLICIES:
        raise ValueError(f"unknown iscrowd policy {policy!r}")
    return policy == "keep" or (policy == "auto" and has_attributes)
