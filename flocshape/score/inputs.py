"""Load and validate ground truth (COCO instances) and predictions (COCO results list) for scoring.

Everything is converted once per image to compressed RLE (``counts`` as ``bytes``) so that every metric works
on the same decoded-once data. Bad input raises :class:`flocshape.errors.InputError` with a one-line message
``<file>: <record>: <what>``; inputs are never modified (records are copied where they are changed).

Conventions
-----------
* Ground-truth images come from ``gt["images"]`` (``id``, ``height``, ``width`` in px). Every annotation of an
  image is a ground-truth instance (``iscrowd`` is passed on to COCOeval only).
* Predictions whose ``image_id`` is not a ground-truth image are ignored (the hackathon rule); they are
  counted in :attr:`Prepared.n_pred_ignored`.
* A prediction's ``segmentation`` is a compressed or uncompressed RLE whose ``size`` must equal the image's
  ``[height, width]``, or a polygon list (rasterised by pycocotools at the image size).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flocshape.errors import input_error
from flocshape.masks import rle_areas, to_compressed_rle
from flocshape.score.rle import check_rle, iou_matrix


@dataclass
class ImageData:
    """Ground truth and predictions of one image, as compressed RLEs (pixel counts in px)."""

    image_id: int
    height: int
    width: int
    gt_rles: list[dict[str, Any]] = field(default_factory=list)
    gt_ann_indices: list[int] = field(default_factory=list)  # index into gt["annotations"]
    pred_rles: list[dict[str, Any]] = field(default_factory=list)
    pred_scores: list[float] = field(default_factory=list)
    pred_indices: list[int] = field(default_factory=list)  # index into the predictions list
    _iou: np.ndarray | None = None

    def iou(self) -> np.ndarray:
        """GT x prediction mask IoU matrix (computed once, cached)."""
        if self._iou is None:
            self._iou = iou_matrix(self.gt_rles, self.pred_rles)
        return self._iou

    def pred_areas_px(self) -> np.ndarray:
        """Pixel count of each prediction mask."""
        return rle_areas(self.pred_rles)


@dataclass
class Prepared:
    """All images of a ground-truth file with their predictions; built by :func:`prepare`."""

    images: list[ImageData]
    gt: dict[str, Any]
    preds: list[dict[str, Any]]
    pred_category_ids: list[int]
    n_pred_ignored: int = 0

    @property
    def n_gt(self) -> int:
        """Number of ground-truth instances."""
        return sum(len(im.gt_rles) for im in self.images)

    @property
    def n_pred(self) -> int:
        """Number of predictions on ground-truth images."""
        return sum(len(im.pred_rles) for im in self.images)


def load_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file; a missing file or invalid JSON is a one-line :class:`InputError`."""
    p = Path(path)
    if not p.is_file():
        raise input_error(p, "file not found")
    try:
        with open(p, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise input_error(p, f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except UnicodeDecodeError as exc:
        raise input_error(p, f"not UTF-8 text ({exc.reason})") from None


def _int_field(rec: dict[str, Any], key: str, src: object, where: str, positive: bool = False) -> int:
    if key not in rec:
        raise input_error(src, f"missing key {key!r}", where)
    value = rec[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise input_error(src, f"{key!r} must be an integer, got {value!r}", where)
    if positive and value <= 0:
        raise input_error(src, f"{key!r} must be positive, got {value!r}", where)
    return int(value)


def _rle(seg: Any, height: int, width: int, src: object, where: str) -> dict[str, Any]:
    try:
        rle = to_compressed_rle(seg, height, width)
        counts = rle["counts"]
        rle = {
            "size": [height, width],
            "counts": counts.encode("ascii") if isinstance(counts, str) else counts,
        }
        check_rle(rle)
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise input_error(src, f"bad segmentation: {exc}", where) from None
    return rle


def _check_gt(gt: Any, src: object) -> None:
    if not isinstance(gt, dict):
        raise input_error(src, "ground truth must be a COCO object with 'images' and 'annotations'")
    for key in ("images", "annotations"):
        if not isinstance(gt.get(key), list):
            raise input_error(src, f"missing or non-list {key!r}")


def _gt_images(gt: dict[str, Any], src: object) -> dict[int, ImageData]:
    images: dict[int, ImageData] = {}
    for i, rec in enumerate(gt["images"]):
        where = f"images[{i}]"
        if not isinstance(rec, dict):
            raise input_error(src, "image record is not an object", where)
        image_id = _int_field(rec, "id", src, where)
        if image_id in images:
            raise input_error(src, f"duplicate image id {image_id}", where)
        height = _int_field(rec, "height", src, where, positive=True)
        width = _int_field(rec, "width", src, where, positive=True)
        images[image_id] = ImageData(image_id, height, width)
    return images


def _add_gt_annotations(gt: dict[str, Any], images: dict[int, ImageData], src: object) -> None:
    for i, ann in enumerate(gt["annotations"]):
        where = f"annotations[{i}]"
        if not isinstance(ann, dict):
            raise input_error(src, "annotation is not an object", where)
        image_id = _int_field(ann, "image_id", src, where)
        if image_id not in images:
            raise input_error(src, f"image_id {image_id} is not in 'images'", where)
        if "segmentation" not in ann:
            raise input_error(src, "missing key 'segmentation'", where)
        im = images[image_id]
        im.gt_rles.append(_rle(ann["segmentation"], im.height, im.width, src, where))
        im.gt_ann_indices.append(i)


def _default_category(gt: dict[str, Any]) -> int | None:
    cats = gt.get("categories")
    if isinstance(cats, list) and len(cats) == 1 and isinstance(cats[0], dict) and "id" in cats[0]:
        return int(cats[0]["id"])
    ann_cats = {a.get("category_id") for a in gt["annotations"] if isinstance(a, dict)}
    return int(next(iter(ann_cats))) if len(ann_cats) == 1 and None not in ann_cats else None


def _add_predictions(
    preds: Any, images: dict[int, ImageData], default_cat: int | None, src: object
) -> tuple[list[int], int]:
    if not isinstance(preds, list):
        raise input_error(src, "predictions must be a JSON list of result records")
    cat_ids: list[int] = []
    ignored = 0
    for i, rec in enumerate(preds):
        where = f"prediction {i}"
        if not isinstance(rec, dict):
            raise input_error(src, "prediction is not an object", where)
        image_id = _int_field(rec, "image_id", src, where)
        where = f"prediction {i} (image_id {image_id})"
        score = rec.get("score")
        if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
            raise input_error(src, f"'score' must be a finite number, got {score!r}", where)
        if "segmentation" not in rec:
            raise input_error(src, "missing key 'segmentation'", where)
        if "category_id" in rec:
            cat_ids.append(_int_field(rec, "category_id", src, where))
        elif default_cat is not None:
            cat_ids.append(default_cat)
        else:
            raise input_error(src, "missing 'category_id' and the ground truth has several categories", where)
        im = images.get(image_id)
        if im is None:
            ignored += 1
            continue
        im.pred_rles.append(_rle(rec["segmentation"], im.height, im.width, src, where))
        im.pred_scores.append(float(score))
        im.pred_indices.append(i)
    return cat_ids, ignored


def prepare(
    gt: Any, preds: Any, gt_source: object = "<ground truth>", pred_source: object = "<predictions>"
) -> Prepared:
    """Validate ``gt`` (COCO instances dict) and ``preds`` (COCO results list) and convert them once to RLE.

    ``gt_source`` / ``pred_source`` name the inputs in error messages (file paths for files).
    """
    _check_gt(gt, gt_source)
    images = _gt_images(gt, gt_source)
    _add_gt_annotations(gt, images, gt_source)
    cat_ids, ignored = _add_predictions(preds, images, _default_category(gt), pred_source)
    return Prepared(list(images.values()), gt, preds, cat_ids, ignored)


def as_prepared(gt: Any, preds: Any = None) -> Prepared:
    """``gt`` itself when it is already :class:`Prepared`, else ``prepare(gt, preds)``."""
    return gt if isinstance(gt, Prepared) else prepare(gt, preds)


def subset_coco(coco: dict[str, Any], file_names: Iterable[str]) -> dict[str, Any]:
    """The COCO instances dict restricted to the images whose base file name is in ``file_names``."""
    names = set(file_names)
    images = [im for im in coco["images"] if Path(str(im["file_name"])).name in names]
    ids = {im["id"] for im in images}
    return {**coco, "images": images, "annotations": [a for a in coco["annotations"] if a["image_id"] in ids]}
