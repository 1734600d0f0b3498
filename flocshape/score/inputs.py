"""Load and validate ground truth (COCO instances) and predictions (COCO results list) for scoring.

Everything is converted once per image to compressed RLE (``counts`` as ``bytes``) so that every metric works
on the same decoded-once data. The ground truth is read and indexed by :class:`flocshape.coco.CocoFile`; every
record is validated by :mod:`flocshape.records` (the rules every stage shares); bad input raises
:class:`flocshape.errors.InputError` with a one-line message ``<file>: <record>: <what>``; inputs are never
modified (records are copied where they are changed).

Conventions
-----------
* Ground-truth images come from ``gt["images"]`` (``id``, ``height``, ``width`` in px). Every annotation of an
  image is a ground-truth instance (``iscrowd`` is passed on to COCOeval only).
* Predictions whose ``image_id`` is not a ground-truth image are ignored (the hackathon rule); they are
  counted in :attr:`Prepared.n_pred_ignored`. When *every* prediction is ignored the files do not belong
  together: the command-line stages refuse them (:func:`require_overlap`). A prediction's ``category_id`` must be a category of the ground truth.
* A prediction's ``segmentation`` is a compressed or uncompressed RLE whose ``size`` must equal the image's
  ``[height, width]``, or a polygon list (rasterised by pycocotools at the image size).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flocshape.coco import CocoFile, subset_coco
from flocshape.errors import input_error
from flocshape.masks import rle_areas
from flocshape.records import check_results, load_json, prediction_where, segmentation_rle
from flocshape.score.rle import check_rle, iou_matrix

__all__ = ["ImageData", "Prepared", "as_prepared", "load_json", "prepare", "require_overlap", "subset_coco"]


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


def _checked(rle: dict[str, Any], src: object, where: str) -> dict[str, Any]:
    """``rle`` after the scorer's own check of its run lengths (:func:`flocshape.score.rle.check_rle`)."""
    try:
        check_rle(rle)
    except (ValueError, TypeError) as exc:
        raise input_error(src, f"bad segmentation: {exc}", where) from None
    return rle


def _gt_images(coco: CocoFile) -> dict[int, ImageData]:
    images = {
        image_id: ImageData(image_id, info.height, info.width) for image_id, info in coco.images.items()
    }
    for inst in coco.instances():
        im = images[inst.image_id]
        im.gt_rles.append(_checked(inst.rle(), coco.source, inst.where))
        im.gt_ann_indices.append(inst.index)
    return images


def _default_category(coco: CocoFile, categories: frozenset[int] | None) -> int | None:
    if categories is not None and len(categories) == 1:
        return next(iter(categories))
    ann_cats = {a.get("category_id") for a in coco.annotations}
    return int(next(iter(ann_cats))) if len(ann_cats) == 1 and None not in ann_cats else None


def _add_predictions(
    preds: list[dict[str, Any]], images: dict[int, ImageData], default_cat: int | None, src: object
) -> tuple[list[int], int]:
    cat_ids: list[int] = []
    ignored = 0
    for i, rec in enumerate(preds):
        where = prediction_where(i, rec)
        if "category_id" in rec:
            cat_ids.append(int(rec["category_id"]))
        elif default_cat is not None:
            cat_ids.append(default_cat)
        else:
            raise input_error(src, "missing 'category_id' and the ground truth has several categories", where)
        im = images.get(int(rec["image_id"]))
        if im is None:
            ignored += 1
            continue
        rle = segmentation_rle(rec["segmentation"], im.height, im.width, src, where)
        im.pred_rles.append(_checked(rle, src, where))
        im.pred_scores.append(float(rec["score"]))
        im.pred_indices.append(i)
    return cat_ids, ignored


def require_overlap(prepared: Prepared, src: object) -> None:
    """Refuse predictions none of which is on an image of the ground truth (the two files do not belong
    together; the hackathon rule would silently ignore them all and score 0)."""
    preds = prepared.preds
    if preds and prepared.n_pred_ignored == len(preds):
        pred_ids = sorted({int(r["image_id"]) for r in preds})
        gt_ids = sorted(im.image_id for im in prepared.images)
        raise input_error(
            src,
            f"none of the {len(preds)} predictions is on an image of the ground truth (their image ids: "
            f"{_ids(pred_ids)}; ground truth: {_ids(gt_ids)}): wrong --images-json or files?",
        )


def _ids(ids: list[int], shown: int = 5) -> str:
    return ", ".join(map(str, ids[:shown])) + (f", ... ({len(ids)} in all)" if len(ids) > shown else "")


def prepare(
    gt: Any, preds: Any, gt_source: object = "<ground truth>", pred_source: object = "<predictions>"
) -> Prepared:
    """Validate ``gt`` (COCO instances dict) and ``preds`` (COCO results list) by the rules of
    :mod:`flocshape.records` and convert them once to RLE.

    Predictions on images outside the ground truth are ignored (counted; :func:`require_overlap` refuses files
    where every prediction is). ``gt_source`` / ``pred_source`` name the inputs in error
    messages (file paths for files).
    """
    coco = CocoFile.from_object(gt, gt_source, role="ground truth")
    categories = coco.used_categories()
    check_results(preds, pred_source, categories)
    images = _gt_images(coco)
    cat_ids, ignored = _add_predictions(preds, images, _default_category(coco, categories), pred_source)
    return Prepared(list(images.values()), gt, preds, cat_ids, ignored)


def as_prepared(gt: Any, preds: Any = None) -> Prepared:
    """``gt`` itself when it is already :class:`Prepared`, else ``prepare(gt, preds)``."""
    return gt if isinstance(gt, Prepared) else prepare(gt, preds)
