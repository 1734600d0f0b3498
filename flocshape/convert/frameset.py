"""The frames an export can choose from, their order, and the choice (``--frames``, ``--every``, ``--count``).

A frame is known from the images JSON the prediction used (``images``: ``id``, ``file_name``, optional
``height``/``width``; the file is found in the images folder by
:func:`flocshape.convert.interop.resolve_frame`) or, without one, from a folder whose file stems are the integer
image ids (``infer/predict.py``'s rule). Frames are ordered by file name with digit runs compared as numbers
(``frame_9`` before ``frame_10``): the order of a video's frames.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flocshape.convert.interop import frame_basename, resolve_frame
from flocshape.errors import input_error
from flocshape.fsio import is_image_file
from flocshape.records import load_json


@dataclass(frozen=True)
class Frame:
    """One frame: image id, file name written (no folders), source path, size in px (``None`` = read it)."""

    image_id: int
    file_name: str
    path: Path
    height: int | None
    width: int | None


def frame_order(frame: Frame) -> tuple[Any, ...]:
    """Sort key: the file name with digit runs as numbers (natural order), then the image id."""
    parts = re.split(r"(\d+)", frame.file_name)
    return (*((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts), frame.image_id)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def frames_from_images_json(path: Path, images_dir: Path) -> tuple[list[Frame], dict[int, str]]:
    """Frames of an images JSON (``images``: ``id``, ``file_name``, optional ``height``/``width``) and the
    category names of its ``categories``, if any. The frame file is found in ``images_dir`` by
    :func:`flocshape.convert.interop.resolve_frame` (exact name, basename, basename without upload prefix)."""
    doc = load_json(path)
    images = doc.get("images") if isinstance(doc, dict) else None
    if not isinstance(images, list):
        raise input_error(path, "no 'images' list")
    frames: list[Frame] = []
    for k, im in enumerate(images):
        if not isinstance(im, dict) or not _is_int(im.get("id")) or not isinstance(im.get("file_name"), str):
            raise input_error(path, "image entry without an integer 'id' and a 'file_name'", f"images[{k}]")
        sizes = [im.get("height"), im.get("width")]
        if not all(s is None or (_is_int(s) and s > 0) for s in sizes):
            raise input_error(
                path, f"'height'/'width' must be positive integers, got {sizes}", f"image id={im['id']}"
            )
        src = resolve_frame(images_dir, im["file_name"])[0]
        frames.append(Frame(im["id"], frame_basename(im["file_name"]), src, sizes[0], sizes[1]))
    seen: dict[int, Frame] = {}
    for f in frames:
        if f.image_id in seen:
            raise input_error(path, "duplicate image id", f"image id={f.image_id}")
        seen[f.image_id] = f
    cats = doc.get("categories")
    names = {}
    if isinstance(cats, list):
        names = {
            c["id"]: str(c["name"])
            for c in cats
            if isinstance(c, dict) and _is_int(c.get("id")) and c.get("name")
        }
    return sorted(frames, key=frame_order), names


def frames_from_folder(images_dir: Path) -> list[Frame]:
    """Frames of a folder whose file stems are integer image ids (``infer/predict.py`` without ``--images-json``)."""
    frames: dict[int, Frame] = {}
    for p in sorted(images_dir.iterdir()):
        if not (p.is_file() and is_image_file(p) and p.stem.isdigit()):
            continue
        image_id = int(p.stem)
        if image_id in frames:
            raise input_error(images_dir, f"{p.name} and {frames[image_id].file_name} have the same image id")
        frames[image_id] = Frame(image_id, p.name, p, None, None)
    if not frames:
        raise input_error(images_dir, "no frame named by an integer image id (pass --images-json)")
    return sorted(frames.values(), key=frame_order)


def select_frames(
    frames: list[Frame], names: str | None = None, every: int | None = None, count: int | None = None
) -> list[Frame]:
    """The chosen frames in the order of ``frames``: ``names`` (comma list of file names or stems), every ``every``-th
    from the first, or ``count`` frames spread evenly from the first to the last."""
    if names is not None:
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        if not wanted:
            raise input_error("--frames", "no frame names given")
        chosen: dict[int, Frame] = {}
        for name in wanted:
            hits = [f for f in frames if name in (f.file_name, Path(f.file_name).stem)]
            if len(hits) != 1:
                what = "no frame" if not hits else f"{len(hits)} frames"
                raise input_error("--frames", f"{what} named {name!r}")
            chosen[hits[0].image_id] = hits[0]
        return [f for f in frames if f.image_id in chosen]
    if every is not None:
        if every < 1:
            raise input_error("--every", f"must be >= 1, got {every}")
        return frames[::every]
    if count is None or not 1 <= count <= len(frames):
        raise input_error("--count", f"must be in [1, {len(frames)}] (the frames available), got {count}")
    idx = np.floor(np.linspace(0, len(frames) - 1, count) + 0.5).astype(int)
    return [frames[i] for i in idx]
