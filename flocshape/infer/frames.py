"""The frames of a predict run: finding them, their image ids, and reading each one with the hash of its bytes.

A source is an image file (``.jpg``, ``.png``, ``.bmp``, ``.tif``) or a video frame
(:class:`flocshape.infer.video.VideoFrame`, decoded from the video's open capture). Frames are ``H x W x 3``
uint8 BGR as OpenCV decodes them; a frame's sha256 is that of its file's bytes (of the whole video for a video
frame, hashed once when the video was probed).
"""

from __future__ import annotations

import glob
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np

from flocshape.errors import input_error
from flocshape.fsio import is_image_file
from flocshape.infer.video import VideoFrame, read_video_frame
from flocshape.manifest import file_digest


def find_sources(source: str) -> list[Path]:
    """Image files of a folder (non-recursive) or a glob pattern, sorted by name."""
    p = Path(source)
    if p.is_dir():
        files = [q for q in p.iterdir() if q.is_file() and is_image_file(q)]
    else:
        files = [Path(q) for q in glob.glob(source) if is_image_file(Path(q))]
    if not files:
        raise input_error(source, "no image files found (folder or glob of .jpg/.png/.bmp/.tif)")
    return sorted(files, key=lambda q: (q.name, str(q)))


def image_ids_from_json(path: Path) -> dict[str, int]:
    """``file name -> image id`` from a COCO file's ``images`` (e.g. the hackathon's ``label_test.json``)."""
    try:
        coco = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise input_error(path, f"cannot read COCO images JSON ({type(exc).__name__}: {exc})") from exc
    images = coco.get("images") if isinstance(coco, dict) else None
    if not isinstance(images, list):
        raise input_error(path, "no 'images' list")
    out: dict[str, int] = {}
    for k, im in enumerate(images):
        if not isinstance(im, dict) or "id" not in im or "file_name" not in im:
            raise input_error(path, "image entry without 'id' and 'file_name'", record=f"images[{k}]")
        out[Path(str(im["file_name"])).name] = int(im["id"])
    return out


def assign_image_ids(sources: list[Path], images_json: Path | None) -> dict[Path, int]:
    """Image id of every source: from ``images_json`` by file name, else the integer file stem; video frames
    (:class:`~flocshape.infer.video.VideoFrame`) are numbered 1, 2, ... in source order."""
    if sources and isinstance(sources[0], VideoFrame):
        return {src: k + 1 for k, src in enumerate(sources)}
    by_name = image_ids_from_json(images_json) if images_json else None
    ids: dict[Path, int] = {}
    for src in sources:
        if by_name is not None:
            if src.name not in by_name:
                raise input_error(images_json, "no image entry for this frame", record=src.name)
            ids[src] = by_name[src.name]
        else:
            try:
                ids[src] = int(src.stem)
            except ValueError:
                raise input_error(src, "file stem is not an integer image id (pass --images-json)") from None
    seen: dict[int, Path] = {}
    for src, image_id in ids.items():
        if image_id in seen:
            raise input_error(src, f"image id {image_id} also used by {seen[image_id].name}")
        seen[image_id] = src
    return ids


def read_frame(path: Path) -> np.ndarray | None:
    """The frame as ``H x W x 3`` uint8 BGR, or ``None`` when it cannot be decoded (a video frame: decoded from
    the video's open capture)."""
    return read_frame_and_digest(path)[0]


def read_frame_and_digest(path: Path) -> tuple[np.ndarray | None, str | None]:
    """:func:`read_frame` and :func:`frame_digest` of the same bytes, read once (``None`` where they fail)."""
    if isinstance(path, VideoFrame):
        return read_video_frame(path), path.video.sha256
    try:
        data = np.fromfile(path, dtype=np.uint8) if path.is_file() else None
    except OSError:
        data = None
    if data is None:
        return None, None
    digest = hashlib.sha256(data.tobytes()).hexdigest()
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return (image if image is not None and image.size else None), digest


def frame_digest(path: Path) -> str | None:
    """sha256 of a frame file's bytes (``None`` when it cannot be read), recorded in the journal; for a video
    frame the sha256 of the video file, hashed once when the video was probed."""
    if isinstance(path, VideoFrame):
        return path.video.sha256
    try:
        return file_digest(path)
    except OSError:
        return None
