"""Checks of a predict run's inputs and run folder, made before the model is loaded or anything is written.

Every check raises a one-line :class:`flocshape.errors.InputError`:

* frame file names must be valid UTF-8 (the journal and the outputs are UTF-8 JSON) and unique (the journal and
  ``--images-json`` identify a frame by its file name);
* ``--images-json`` (a COCO file naming the frames): ``images`` entries with an integer ``id`` and a string
  ``file_name``, ids and base names unique; ``height`` / ``width``, when given, must equal the frame's size as it
  is decoded (EXIF orientation applied), read from the file header;
* ``--model``, when given, must be an existing file (nothing is downloaded); ``--device`` must exist;
* the post-processing settings must be finite and in range (:func:`flocshape.score.postprocess.expand_grid`);
* the run folder (``--out``) must not be a file, equal or hold an input, or be an existing non-empty folder
  unless ``--resume``; its parent must be writable (:mod:`flocshape.outputs`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flocshape.errors import input_error
from flocshape.outputs import check_not_input, check_writable
from flocshape.records import int_field, is_number, load_json

_SWAPPED_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that turn the frame by 90 degrees


def check_frame_names(sources: Sequence[Path]) -> None:
    """File names valid UTF-8 and unique among the frames."""
    seen: dict[str, Path] = {}
    for src in sources:
        try:
            src.name.encode("utf-8")
        except UnicodeEncodeError:
            raise input_error(src, "file name is not valid UTF-8; rename the frame") from None
        if src.name in seen:
            raise input_error(src, f"same file name as {seen[src.name]}: frames are identified by name")
        seen[src.name] = src


def frame_size(path: Path) -> tuple[int, int] | None:
    """``(height, width)`` of an image as OpenCV decodes it (EXIF orientation applied), from the file header;
    ``None`` when the header cannot be read (the run then reports the frame as unreadable)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            width, height = im.size
            orientation = im.getexif().get(0x0112)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return None
    return (width, height) if orientation in _SWAPPED_ORIENTATIONS else (height, width)


def check_images_json(path: Path, sources: Sequence[Path]) -> None:
    """``--images-json`` entries well formed, unique, and of the frames' sizes (see the module docstring)."""
    coco = load_json(path)
    images = coco.get("images") if isinstance(coco, dict) else None
    if not isinstance(images, list):
        raise input_error(path, "no 'images' list")
    by_name: dict[str, dict[str, Any]] = {}
    ids: set[int] = set()
    for k, im in enumerate(images):
        where = f"images[{k}]"
        if not isinstance(im, dict):
            raise input_error(path, "image entry is not an object", where)
        image_id = int_field(im, "id", path, where)
        name = im.get("file_name")
        if not isinstance(name, str) or not name:
            raise input_error(path, f"'file_name' must be a non-empty string, got {name!r}", where)
        if image_id in ids:
            raise input_error(path, f"duplicate image id {image_id}", where)
        base = Path(name).name
        if base in by_name:
            raise input_error(path, f"file name {base!r} listed twice", where)
        for key in ("height", "width"):
            value = im.get(key, 1)
            if not (is_number(value) and math.isfinite(value) and value == int(value) and value > 0):
                raise input_error(path, f"{key!r} must be a positive integer, got {im[key]!r}", where)
        ids.add(image_id)
        by_name[base] = {**im, "_where": where}
    for src in sources:
        im = by_name.get(src.name)
        if im is None or "height" not in im or "width" not in im:
            continue  # a frame without an entry is reported by the id assignment
        size = frame_size(src)
        listed = (int(im["height"]), int(im["width"]))
        if size is not None and size != listed:
            raise input_error(
                path,
                f"size {listed[0]}x{listed[1]} px differs from the frame {src} ({size[0]}x{size[1]} px)",
                f"{im['_where']} ({src.name})",
            )


def check_run_folder(out: Path, inputs: Sequence[Path | None], resume: bool) -> None:
    """The run folder may be created or continued (see the module docstring)."""
    if out.exists() and not out.is_dir():
        raise input_error(out, "exists and is not a folder; choose another --out", "--out")
    check_not_input(out, inputs)
    if out.is_dir() and any(out.iterdir()) and not resume:
        raise input_error(out, "output folder exists and is not empty (pass --resume to continue it)")
    check_writable(out / "journal.jsonl" if out.is_dir() else out)  # a resumed run writes inside the folder


def check_model_file(model: Path | None) -> None:
    """An explicit ``--model`` must be an existing local file."""
    if model is not None and not model.is_file():
        raise input_error(model, "weights file not found (only local files are used; nothing is downloaded)")


def check_device(device: str) -> None:
    """``cpu``, ``mps``, or CUDA device indices (``0``, ``0,1``, ``cuda:0``) that exist on this machine."""
    text = str(device).strip().lower()
    if text in ("cpu", "mps"):
        return
    parts = [q.strip().removeprefix("cuda:") for q in text.removeprefix("cuda").lstrip(":").split(",")]
    if text == "cuda":
        parts = ["0"]
    if not parts or not all(q.isdigit() for q in parts):
        raise input_error("command line", f"not a device: {device!r} (cpu, mps, 0, 0,1, cuda:0)", "--device")
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    absent = [q for q in parts if int(q) >= count]
    if absent:
        raise input_error(
            "command line", f"no CUDA device {', '.join(absent)} on this machine ({count} found)", "--device"
        )


def check_postproc_values(postproc: dict[str, Any] | None, where: object) -> None:
    """Post-processing numbers finite and in range (the checks of the tuning grid)."""
    from flocshape.score.postprocess import GRID_KEYS, expand_grid

    if not postproc:
        return
    try:
        expand_grid({k: [v] for k, v in postproc.items() if k in GRID_KEYS})
    except (ValueError, TypeError) as exc:
        raise input_error(where, str(exc)) from None


def check_predict_inputs(
    sources: Sequence[Path],
    out: Path,
    images_json: Path | None,
    model: Path | None,
    postproc_path: Path | None,
    resume: bool,
    source_dir: Path | None = None,
    config: Path | None = None,
) -> None:
    """Every check of the module docstring except the post-processing values, in the order a user fixes them.
    ``config`` (a ``--cfg`` file) is an input too: the run folder must not be or hold it."""
    check_model_file(model)
    check_frame_names(sources)
    if images_json is not None:
        check_images_json(images_json, sources)
    check_run_folder(out, [*sources, source_dir, images_json, model, postproc_path, config], resume)
