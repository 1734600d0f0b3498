"""Measure whole files: a COCO instances file, a COCO results (submission) list, or label-map PNGs.

Records are validated by :mod:`flocshape.records` (the rules every stage shares); bad input raises
:func:`flocshape.errors.input_error` naming the file and the record (one line). Inputs are only read.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from flocshape.errors import input_error
from flocshape.fsio import IMAGE_SUFFIXES
from flocshape.masks import MaskCrop, decode_rle_crop
from flocshape.records import (
    CocoIndex,
    check_coco,
    check_results,
    load_json,
    prediction_where,
    rle_size,
    segmentation_rle,
    warn_repeated_predictions,
)
from flocshape.shape.measure import concat_tables, labelmap_crops, measure_crops


def read_grey(path: Path, record: str) -> np.ndarray:
    """An image file as 2-D uint8 grey."""
    if not path.is_file():
        raise input_error(path, "image file not found", record)
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise input_error(path, "cannot read image", record)
    return img


class _Instance(dict):
    """image_id, instance_id, category_id, score, crop (MaskCrop) of one annotation."""


def _decode(seg: Any, height: int, width: int, path: Path, record: str) -> MaskCrop:
    rle = segmentation_rle(seg, height, width, path, record)
    try:
        return decode_rle_crop(rle)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise input_error(path, f"bad segmentation ({exc})", record) from None


def _score(value: Any) -> float:
    return math.nan if value is None else float(value)


def _images(index: CocoIndex) -> dict[int, dict[str, Any]]:
    return {
        k: {"file_name": v.file_name, "height": v.height, "width": v.width} for k, v in index.images.items()
    }


def _read_instances_file(path: Path, data: dict) -> tuple[dict[int, dict[str, Any]], list[_Instance]]:
    index = check_coco(data, path)
    images = _images(index)
    out = []
    for i, ann in enumerate(data["annotations"]):
        ann_id, image_id = int(ann["id"]), int(ann["image_id"])
        record = f"annotations[{i}] (id={ann_id})"
        info = images[image_id]
        crop = _decode(ann["segmentation"], info["height"], info["width"], path, record)
        out.append(
            _Instance(
                image_id=image_id,
                instance_id=ann_id,
                category_id=int(ann.get("category_id", -1)),
                score=_score(ann.get("score")),
                crop=crop,
            )
        )
    return images, out


def _read_results_list(path: Path, data: list, images_json: Path | None) -> tuple[dict, list[_Instance]]:
    images: dict[int, dict[str, Any]] = {}
    categories = None
    if images_json is not None:
        index = check_coco(load_json(images_json), images_json, need_annotations=False)
        images, categories = _images(index), index.categories
    check_results(data, path, categories)
    warn_repeated_predictions(data, path)
    out = []
    running: dict[int, int] = {}
    for i, det in enumerate(data):
        image_id = int(det["image_id"])
        record = prediction_where(i, det)
        info = images.get(image_id)
        if info is None and images_json is not None:
            raise input_error(path, f"image_id {image_id} is not in the images of {images_json}", record)
        if info is None:
            height, width = rle_size(det["segmentation"], path, record)
            info = images[image_id] = {
                "file_name": str(det.get("file_name", "")),
                "height": height,
                "width": width,
            }
        crop = _decode(det["segmentation"], info["height"], info["width"], path, record)
        index = running.get(image_id, 0)
        running[image_id] = index + 1
        out.append(
            _Instance(
                image_id=image_id,
                instance_id=index,
                category_id=int(det.get("category_id", -1)),
                score=_score(det.get("score")),
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
