"""The reader of COCO instances files and results lists: read and validate once, index, decode masks lazily.

Modelled on pycocotools' ``COCO`` (``dataset``, ``imgs``, ``imgToAnns``, ``loadRes``, ``annToRLE``):

* :class:`CocoFile` - a COCO instances file (or a file that only names images) validated by the rules of
  :mod:`flocshape.records` and indexed: images by id (:class:`~flocshape.records.ImageInfo`), category ids,
  annotations by image id;
* :class:`ResultsFile` - a results (submission) list validated by the same rules, with the images it refers
  to (from a COCO file that names them, else from the sizes of its RLEs);
* :class:`Instance` - one annotation or prediction of either; its mask is decoded only when asked for
  (:meth:`Instance.rle`, :meth:`Instance.crop`, through :mod:`flocshape.masks`).

:func:`read_instances` reads a file of either kind. Every stage that measures, tracks or scores masks reads
them here, so a record is accepted, named and decoded the same way everywhere.

Conventions
-----------
* Records are named as in :mod:`flocshape.records`: ``annotations[i] (id=N)``, ``prediction i (image_id N)``;
  bad input raises :class:`flocshape.errors.InputError` with one line ``<file>: <record>: <what>``.
* ``instance_id``: the annotation ``id`` in an instances file; in a results list the running index (0, 1, ...)
  of the prediction within its image, in file order (particle tables of both join on ``image_id,
  instance_id``).
* ``category_id`` is -1 for a record without one; ``score`` is NaN for a record without one (ground truth).
* Masks are compressed RLEs at the image's ``[height, width]`` (px); pixel (row i, column j) covers
  ``[j, j+1) x [i, i+1)``.
* Inputs are only read: the parsed JSON is never modified.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from flocshape.errors import input_error
from flocshape.masks import MaskCrop, decode_rle_crop
from flocshape.records import (
    ImageInfo,
    check_coco,
    check_results,
    load_json,
    prediction_where,
    rle_size,
    segmentation_rle,
    warn_repeated_predictions,
)

__all__ = [
    "CocoFile",
    "ImageInfo",
    "Instance",
    "ResultsFile",
    "group_by_image",
    "read_instances",
    "subset_coco",
]

T = TypeVar("T")


def group_by_image(
    image_ids: Iterable[Hashable], items: Iterable[T], image_id_of: Callable[[T], Hashable]
) -> dict[Any, list[T]]:
    """``{image_id: [item, ...]}`` with every id of ``image_ids`` present (maybe empty), in that order; items
    keep their order. Every item's image id must be one of ``image_ids``."""
    out: dict[Any, list[T]] = {image_id: [] for image_id in image_ids}
    for item in items:
        out[image_id_of(item)].append(item)
    return out


def _score(value: Any) -> float:
    return math.nan if value is None else float(value)


@dataclass(frozen=True, slots=True)
class Instance:
    """One annotation or prediction: where it is in its file, its image and identity; the mask on demand.

    ``index``: position in the file's list; ``where``: the record's name in messages; ``instance_id``,
    ``category_id`` and ``score`` follow the module conventions; ``segmentation`` as given in the file.
    """

    index: int
    where: str
    image: ImageInfo
    instance_id: int
    category_id: int
    score: float
    segmentation: Any = field(repr=False)
    source: object = field(repr=False)

    @property
    def image_id(self) -> int:
        """The id of the instance's image."""
        return self.image.id

    def rle(self) -> dict[str, Any]:
        """The mask as a compressed RLE ``{"size": [H, W], "counts": bytes}`` at the image's size; a malformed
        segmentation is a one-line ``InputError`` (``bad segmentation: ...``)."""
        return segmentation_rle(
            self.segmentation, self.image.height, self.image.width, self.source, self.where
        )

    def crop(self) -> MaskCrop:
        """The mask as its bounding-box :class:`~flocshape.masks.MaskCrop`, decoded from the run lengths without
        painting the whole frame."""
        rle = self.rle()
        try:
            return decode_rle_crop(rle)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise input_error(self.source, f"bad segmentation ({exc})", self.where) from None


@dataclass(frozen=True)
class CocoFile:
    """A validated COCO instances file (or, built with ``need_annotations=False``, a file that only names images).

    ``source`` names the file in messages; ``dataset`` is the parsed JSON object; ``images`` the images by id
    in file order; ``categories`` the listed category ids (``None`` when the file lists none);
    ``annotations`` the annotation records in file order (empty for a file that only names images).
    """

    source: object
    dataset: dict[str, Any] = field(repr=False)
    images: dict[int, ImageInfo] = field(repr=False)
    categories: frozenset[int] | None
    annotations: list[dict[str, Any]] = field(repr=False)

    @classmethod
    def from_object(
        cls, obj: Any, source: object, need_annotations: bool = True, role: str = "the file"
    ) -> CocoFile:
        """Validate a parsed COCO object (:func:`flocshape.records.check_coco`; ``role`` names a file that is not
        a COCO object in the message) and index it."""
        index = check_coco(obj, source, need_annotations, role)
        annotations = obj["annotations"] if need_annotations else []
        return cls(source, obj, index.images, index.categories, annotations)

    @classmethod
    def read(cls, path: str | os.PathLike[str], need_annotations: bool = True) -> CocoFile:
        """Read, validate and index a COCO file; ``path`` names it in messages as given."""
        return cls.from_object(load_json(path), path, need_annotations)

    @property
    def image_records(self) -> list[dict[str, Any]]:
        """The ``images`` records as given in the file (with any extra keys, e.g. a video's ``time_s``)."""
        return self.dataset["images"]

    @cached_property
    def annotations_by_image(self) -> dict[int, list[int]]:
        """Indices into :attr:`annotations` by image id (every image present, maybe with none), in file order."""
        anns = self.annotations
        return group_by_image(self.images, range(len(anns)), lambda i: int(anns[i]["image_id"]))

    def used_categories(self) -> frozenset[int] | None:
        """The listed category ids, else the ids the annotations use; ``None`` when neither names any."""
        if self.categories:
            return self.categories
        used = frozenset(int(a["category_id"]) for a in self.annotations if "category_id" in a)
        return used or None

    def instances(self) -> Iterator[Instance]:
        """Every annotation as an :class:`Instance`, in file order (``instance_id`` = the annotation id)."""
        for i, ann in enumerate(self.annotations):
            ann_id = int(ann["id"])
            yield Instance(
                i,
                f"annotations[{i}] (id={ann_id})",
                self.images[int(ann["image_id"])],
                ann_id,
                int(ann.get("category_id", -1)),
                _score(ann.get("score")),
                ann["segmentation"],
                self.source,
            )


@dataclass
class ResultsFile:
    """A validated results (submission) list and the images its predictions are on.

    ``names``: the COCO file that names the images (then every prediction must be on one of them), or ``None``:
    then :attr:`images` is learnt from the predictions while :meth:`instances` reads them (size from the RLE,
    ``file_name`` from a ``file_name`` key of the first prediction on the image, else ``""``).
    """

    source: object
    records: list[dict[str, Any]] = field(repr=False)
    names: CocoFile | None = None
    images: dict[int, ImageInfo] = field(default_factory=dict, repr=False)

    @classmethod
    def from_list(
        cls, records: Any, source: object, names: CocoFile | None = None, warn_repeats: bool = True
    ) -> ResultsFile:
        """Validate a parsed results list (:func:`flocshape.records.check_results`, categories of ``names``) and,
        with ``warn_repeats``, print the one-line warning about predictions that repeat earlier ones."""
        check_results(records, source, None if names is None else names.categories)
        if warn_repeats:
            warn_repeated_predictions(records, source)
        return cls(source, records, names, {} if names is None else dict(names.images))

    @property
    def image_records(self) -> list[dict[str, Any]] | None:
        """The ``images`` records of :attr:`names` as given, or ``None`` without it."""
        return None if self.names is None else self.names.image_records

    def instances(self) -> Iterator[Instance]:
        """Every prediction as an :class:`Instance`, in file order (``instance_id`` = running index in its image).

        A prediction on an image that :attr:`names` does not list is a one-line ``InputError``.
        """
        running: dict[int, int] = {}
        for i, rec in enumerate(self.records):
            where = prediction_where(i, rec)
            image = self._image(int(rec["image_id"]), rec, where)
            instance_id = running.get(image.id, 0)
            running[image.id] = instance_id + 1
            yield Instance(
                i,
                where,
                image,
                instance_id,
                int(rec.get("category_id", -1)),
                _score(rec.get("score")),
                rec["segmentation"],
                self.source,
            )

    def _image(self, image_id: int, rec: dict[str, Any], where: str) -> ImageInfo:
        image = self.images.get(image_id)
        if image is not None:
            return image
        if self.names is not None:
            named_by = Path(self.names.source)
            raise input_error(self.source, f"image_id {image_id} is not in the images of {named_by}", where)
        height, width = rle_size(rec["segmentation"], self.source, where)
        image = self.images[image_id] = ImageInfo(image_id, str(rec.get("file_name", "")), height, width)
        return image


def read_instances(
    path: str | os.PathLike[str],
    images_json: str | os.PathLike[str] | None = None,
    images_required: bool = False,
) -> CocoFile | ResultsFile:
    """Read a COCO instances file or a results list (told apart by the JSON: an object or a list).

    For a results list, ``images_json`` is the COCO file that names its images (named in its own messages as
    given); ``images_required`` refuses a results list without one. A results list that repeats predictions
    gets the one-line warning of :func:`flocshape.records.warn_repeated_predictions`.
    """
    path = Path(path)
    data = load_json(path)
    if isinstance(data, dict):
        return CocoFile.from_object(data, path)
    if isinstance(data, list):
        if images_json is None and images_required:
            raise input_error(path, "a results list needs --images-json (COCO file with the images)")
        names = None if images_json is None else CocoFile.read(images_json, need_annotations=False)
        return ResultsFile.from_list(data, path, names)
    raise input_error(path, "neither a COCO instances object nor a results list")


def subset_coco(coco: dict[str, Any], file_names: Iterable[str]) -> dict[str, Any]:
    """The COCO instances dict restricted to the images whose base file name is in ``file_names`` (a new dict;
    ``coco`` is not modified)."""
    names = set(file_names)
    images = [im for im in coco["images"] if Path(str(im["file_name"])).name in names]
    ids = {im["id"] for im in images}
    return {**coco, "images": images, "annotations": [a for a in coco["annotations"] if a["image_id"] in ids]}
