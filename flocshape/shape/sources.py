"""Measure whole files: a COCO instances file, a COCO results (submission) list, or label-map PNGs.

COCO files and results lists are read by :mod:`flocshape.coco` (records validated by the rules every stage
shares, :mod:`flocshape.records`); bad input raises :func:`flocshape.errors.input_error` naming the file and the
record (one line). Inputs are only read.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from flocshape.coco import group_by_image, read_instances
from flocshape.errors import input_error
from flocshape.fsio import IMAGE_SUFFIXES
from flocshape.shape.measure import concat_tables, labelmap_crops, measure_crops


def read_grey(path: Path, record: str) -> np.ndarray:
    """An image file as 2-D uint8 grey."""
    if not path.is_file():
        raise input_error(path, "image file not found", record)
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise input_error(path, "cannot read image", record)
    return img


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
    source = read_instances(path, Path(images_json) if images_json else None)
    decoded = [(inst, inst.crop()) for inst in source.instances()]
    by_image = group_by_image(source.images, decoded, lambda pair: pair[0].image_id)
    tables: list[pd.DataFrame] = []
    for image_id, pairs in by_image.items():
        if not pairs:
            continue
        info = source.images[image_id]
        record = f"image id={image_id}"
        grey = None
        if images_dir is not None:
            grey = read_grey(_find_image(Path(images_dir), image_id, info.file_name), record)
        identity = {"source": str(path), "image_id": image_id, "file_name": info.file_name}
        instances = [inst for inst, _ in pairs]
        try:
            tables.append(
                measure_crops(
                    [crop for _, crop in pairs],
                    grey,
                    identity,
                    [inst.instance_id for inst in instances],
                    [inst.score for inst in instances],
                    [inst.category_id for inst in instances],
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
