"""Measure whole files: a COCO instances file, a COCO results (submission) list, or label-map PNGs.

Bad input raises :func:`flocshape.errors.input_error` naming the file and the record (one line).
Inputs are only read.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from flocshape.errors import input_error
from flocshape.fsio import IMAGE_SUFFIXES
from flocshape.masks import MaskCrop, decode_rle_crop, to_compressed_rle
from flocshape.shape.measure import concat_tables, labelmap_crops, measure_crops


def load_json(path: Path) -> Any:
    """Parse a JSON file; a missing or malformed file is an input error."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise input_error(path, "file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise input_error(path, f"not valid JSON ({exc})") from None


def read_grey(path: Path, record: str) -> np.ndarray:
    """An image file as 2-D uint8 grey."""
    if not path.is_file():
        raise input_error(path, "image file not found", record)
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise input_error(path, "cannot read image", record)
    return img


def _int_field(obj: Any, key: str, path: Path, record: str) -> int:
    if not isinstance(obj, dict):
        raise input_error(path, "record is not a JSON object", record)
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise input_error(path, f"'{key}' is missing or not an integer ({value!r})", record)
    return int(value)


def _images_index(images: Any, path: Path) -> dict[int, dict[str, Any]]:
    if not isinstance(images, list):
        raise input_error(path, "'images' is not a list")
    index: dict[int, dict[str, Any]] = {}
    for i, img in enumerate(images):
        record = f"images[{i}]"
        image_id = _int_field(img, "id", path, record)
        record = f"images[{i}] (id={image_id})"
        height = _int_field(img, "height", path, record)
        width = _int_field(img, "width", path, record)
        if height <= 0 or width <= 0:
            raise input_error(path, f"image size {height}x{width} is not positive", record)
        if image_id in index:
            raise input_error(path, "duplicate image id", record)
        index[image_id] = {"file_name": str(img.get("file_name", "")), "height": height, "width": width}
    return index


class _Instance(dict):
    """image_id, instance_id, category_id, score, crop (MaskCrop) of one annotation."""


def _decode(seg: Any, height: int | None, width: int | None, path: Path, record: str) -> MaskCrop:
    try:
        if isinstance(seg, dict) and "size" in seg and height is None:
            height, width = int(seg["size"][0]), int(seg["size"][1])
        if height is None or width is None:
            raise ValueError("segmentation has no size and the image size is unknown")
        rle = to_compressed_rle(seg, height, width)
        return decode_rle_crop(rle)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise input_error(path, f"bad segmentation ({exc})", record) from None


def _score(value: Any, path: Path, record: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise input_error(path, f"'score' is not a number ({value!r})", record)
    return float(value)


def _read_instances_file(path: Path, data: dict) -> tuple[dict[int, dict[str, Any]], list[_Instance]]:
    images = _images_index(data.get("images"), path)
    anns = data.get("annotations")
    if not isinstance(anns, list):
        raise input_error(path, "'annotations' is missing or not a list")
    out = []
    for i, ann in enumerate(anns):
        record = f"annotations[{i}]"
        ann_id = _int_field(ann, "id", path, record)
        record = f"annotations[{i}] (id={ann_id})"
        image_id = _int_field(ann, "image_id", path, record)
        if image_id not in images:
            raise input_error(path, f"image_id {image_id} is not in 'images'", record)
        if "segmentation" not in ann:
            raise input_error(path, "no 'segmentation'", record)
        info = images[image_id]
        crop = _decode(ann["segmentation"], info["height"], info["width"], path, record)
        category = ann.get("category_id", -1)
        out.append(
            _Instance(
                image_id=image_id,
                instance_id=ann_id,
                category_id=int(category),
                score=_score(ann.get("score"), path, record),
                crop=crop,
            )
        )
    return images, out


def _read_results_list(path: Path, data: list, images_json: Path | None) -> tuple[dict, list[_Instance]]:
    images: dict[int, dict[str, Any]] = {}
    if images_json is not None:
        meta = load_json(images_json)
        if not isinstance(meta, dict):
            raise input_error(images_json, "not a COCO file with an 'images' list")
        images = _images_index(meta.get("images"), images_json)
    out = []
    running: dict[int, int] = {}
    for i, det in enumerate(data):
        record = f"[{i}]"
        image_id = _int_field(det, "image_id", path, record)
        record = f"[{i}] (image_id={image_id})"
        if "segmentation" not in det:
            raise input_error(path, "no 'segmentation'", record)
        info = images.get(image_id)
        if info is None and not isinstance(det["segmentation"], dict):
            raise input_error(path, "a polygon needs the image size: pass --images-json", record)
        crop = _decode(det["segmentation"], info and info["height"], info and info["width"], path, record)
        if image_id not in images:
            images[image_id] = {
                "file_name": str(det.get("file_name", "")),
                "height": crop.height,
                "width": crop.width,
            }
        index = running.get(image_id, 0)
        running[image_id] = index + 1
        out.append(
            _Instance(
                image_id=image_id,
                instance_id=index,
                category_id=int(det.get("category_id", -1)),
                score=_score(det.get("score"), path, record),
                crop=crop,
            )
        )
    return images, out


def _find_image(images_dir: Path, image_id: int, file_name: str) -> Path:
    if file_name:
        return images_dir / file_name
    for suffix in IMAGE_SUFFIXES:
        candidate = images_dir / f"{image_id}{suffix}"
        if candidate.is_file():
            return candidate
    return images_dir / f"{image_id}.jpg"


def measure_coco(
    coco_path: str | Path,
    images_dir: str | Path | None = None,
    um_per_px: float | None = None,
    images_json: str | Path | None = None,
) -> pd.DataFrame:
    """Particle table of every instance in a COCO instances file or a results (submission) list.

    With ``images_dir`` the frames are read for the intensity columns: for an instances file by the
    images' ``file_name``; for a results list by ``images_json``'s file names (a COCO file whose
    ``images`` map ids to names and sizes), else a ``file_name`` key of the detections, else a file
    whose stem is the image id. Rows follow the file's order of images, then of instances.
    ``instance_id`` is the annotation id, or for a results list the running index within its image.
    """
    path = Path(coco_path)
    data = load_json(path)
    if isinstance(data, dict):
        images, instances = _read_instances_file(path, data)
    elif isinstance(data, list):
        images, instances = _read_results_list(path, data, Path(images_json) if images_json else None)
    else:
        raise input_error(path, "neither a COCO instances object nor a results list")
    by_image: dict[int, list[_Instance]] = {image_id: [] for image_id in images}
    for inst in instances:
        by_image[inst["image_id"]].append(inst)
    tables: list[pd.DataFrame] = []
    for image_id, insts in by_image.items():
        if not insts:
            continue
        info = images[image_id]
        record = f"image id={image_id}"
        grey = None
        if images_dir is not None:
            grey = read_grey(_find_image(Path(images_dir), image_id, info["file_name"]), record)
        identity = {"source": str(path), "image_id": image_id, "file_name": info["file_name"]}
        try:
            tables.append(
                measure_crops(
                    [x["crop"] for x in insts],
                    grey,
                    identity,
                    [x["instance_id"] for x in insts],
                    [x["score"] for x in insts],
                    [x["category_id"] for x in insts],
                )
            )
        except ValueError as exc:
            raise input_error(path, str(exc), record) from None
    return concat_tables(tables, um_per_px)


def read_labelmap(path: Path) -> np.ndarray:
    """A 16-bit (or 8-bit) single-channel PNG instance label map as a 2-D integer array."""
    labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if labels is None:
        raise input_error(path, "cannot read label map")
    if labels.ndim != 2 or labels.dtype not in (np.uint8, np.uint16):
        raise input_error(
            path, f"label map must be single-channel 8/16-bit, got {labels.dtype} {labels.shape}"
        )
    return labels


def measure_labelmap_dir(
    labelmap_dir: str | Path, images_dir: str | Path | None = None, um_per_px: float | None = None
) -> pd.DataFrame:
    """Particle table of every ``*.png`` label map in a folder (sorted by name).

    ``image_id`` is the file stem when it is an integer, else the running file index; ``instance_id``
    the label value. With ``images_dir`` the frame with the same stem (any image suffix) is read.
    """
    folder = Path(labelmap_dir)
    if not folder.is_dir():
        raise input_error(folder, "label-map folder not found")
    tables: list[pd.DataFrame] = []
    for index, png in enumerate(sorted(folder.glob("*.png"))):
        labels = read_labelmap(png)
        image_id = int(png.stem) if png.stem.isdigit() else index
        grey = None
        file_name = png.name
        if images_dir is not None:
            matches = [p for s in IMAGE_SUFFIXES if (p := Path(images_dir) / f"{png.stem}{s}").is_file()]
            if not matches:
                raise input_error(
                    Path(images_dir) / f"{png.stem}.*", "image for label map not found", png.name
                )
            grey = read_grey(matches[0], png.name)
            file_name = matches[0].name
        crops, ids = labelmap_crops(labels)
        identity = {"source": str(png), "image_id": image_id, "file_name": file_name}
        try:
            occupied = None if grey is None else labels > 0
            nan_scores, no_category = [math.nan] * len(ids), [-1] * len(ids)
            tables.append(measure_crops(crops, grey, identity, ids, nan_scores, no_category, occupied))
        except ValueError as exc:
            raise input_error(png, str(exc)) from None
    return concat_tables(tables, um_per_px)
