"""One validation of COCO files and results lists for every stage that reads them (score, tune, shape, track,
calibrate, report), so that a record is accepted or rejected the same way everywhere.

Bad input raises :class:`flocshape.errors.InputError` with one line ``<file>: <record>: <what>``; records are
named ``images[i] (id=N)``, ``annotations[i] (id=N)``, ``categories[i]`` and ``prediction i (image_id N)``.
Inputs are only read. Files are read and indexed by these rules in :mod:`flocshape.coco`.

Rules
-----
* **Numbers**: ids are 64-bit integers (a JSON ``3.0`` counts as 3; booleans do not); image ``height`` / ``width`` are
  integers in ``[1, 65535]`` px; every number given (``score``, ``area``, ``bbox``) must be finite.
* **COCO instances file**: an object with lists ``images`` and ``annotations`` (``categories`` optional). Image
  ids are unique; ``file_name``, when present, is a string. Annotation ``id``\\ s are integers and unique (the
  same id twice is the same particle counted twice); ``image_id`` is a listed image; ``segmentation`` is
  present; ``category_id``, when present, is a listed category (when categories are listed); ``bbox`` is
  ``[x, y, w, h]`` with ``w, h >= 0``; ``area`` is >= 0; ``iscrowd`` is 0 or 1; a ``score`` is finite or
  ``null``.
* **Results list** (a submission): a list of objects, each with an integer ``image_id``, a finite ``score`` and
  a ``segmentation``; ``category_id``, when present, is an integer and, when the categories are known (the
  ground truth, or the COCO file that names the images), one of them; ``bbox`` as above. A record that repeats
  an earlier one exactly (same image, category, score and segmentation) is kept (a model can emit one mask
  twice) and every stage reading a results file prints the same one-line warning about it
  (:func:`warn_repeated_predictions`).
* **Segmentation**: a polygon list or an RLE (compressed or not) whose ``size`` equals the image's
  ``[height, width]`` and whose runs cover it exactly (:func:`flocshape.masks.to_compressed_rle`);
  :func:`segmentation_rle` turns it into the compressed RLE every reader uses.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flocshape.errors import input_error
from flocshape.masks import to_compressed_rle

MAX_SIDE_PX = 65535
INT64 = (-(2**63), 2**63)  # ids are stored as int64 in the particle tables


@dataclass(frozen=True)
class ImageInfo:
    """One image record: ``id``, ``file_name`` (``""`` when absent) and size in px."""

    id: int
    file_name: str
    height: int
    width: int


@dataclass(frozen=True)
class CocoIndex:
    """What a validated COCO instances file (or images file) holds: images by id, category ids (``None`` when
    the file lists none)."""

    images: dict[int, ImageInfo]
    categories: frozenset[int] | None


def load_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file; a missing file, invalid JSON or non-UTF-8 text is a one-line :class:`InputError`."""
    p = Path(path)
    if not p.is_file():
        raise input_error(p, "file not found" if not p.exists() else "not a file")
    try:
        with open(p, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise input_error(p, f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except UnicodeDecodeError as exc:
        raise input_error(p, f"not UTF-8 text ({exc.reason})") from None
    except RecursionError:
        raise input_error(p, "invalid JSON (nested too deeply)") from None


def read_json_file(path: str | os.PathLike[str], what: str = "JSON") -> Any:
    """Read a JSON file a tool reads whole (run manifests, scores, model cards, parameter files); any problem
    reading or parsing it is one line ``cannot read <what> (<error type>: <error>)``. COCO files and results
    lists are read by :func:`load_json`, whose messages point at the line and column."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise input_error(path, f"cannot read {what} ({type(exc).__name__}: {exc})") from exc


def is_number(value: Any) -> bool:
    """An int or float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_int(value: Any) -> bool:
    """An int, not a bool; a JSON ``3.0`` is not one (the converters' rule, :mod:`flocshape.convert.coco`)."""
    return isinstance(value, int) and not isinstance(value, bool)


def int_field(rec: dict[str, Any], key: str, src: object, where: str, lo: int | None = None) -> int:
    """``rec[key]`` as an int (integral numbers only), at least ``lo`` when given."""
    if key not in rec:
        raise input_error(src, f"missing key {key!r}", where)
    value = rec[key]
    if (
        not is_number(value)
        or not math.isfinite(value)
        or value != int(value)
        or not INT64[0] <= value < INT64[1]
    ):
        raise input_error(src, f"{key!r} must be an integer, got {value!r}", where)
    if lo is not None and value < lo:
        raise input_error(src, f"{key!r} must be at least {lo}, got {value!r}", where)
    return int(value)


def _finite(rec: dict[str, Any], key: str, src: object, where: str, lo: float | None = None) -> None:
    value = rec[key]
    if not is_number(value) or not math.isfinite(value) or (lo is not None and value < lo):
        need = "a finite number" + ("" if lo is None else f" >= {lo:g}")
        raise input_error(src, f"{key!r} must be {need}, got {value!r}", where)


def _check_common(rec: dict[str, Any], src: object, where: str, categories: frozenset[int] | None) -> None:
    """``category_id``, ``bbox``, ``area``, ``iscrowd`` (when present) of an annotation or a prediction."""
    if "category_id" in rec:
        cat = int_field(rec, "category_id", src, where)
        if categories and cat not in categories:
            known = ", ".join(map(str, sorted(categories)))
            raise input_error(src, f"category_id {cat} is not a listed category ({known})", where)
    if "bbox" in rec:
        box = rec["bbox"]
        ok = isinstance(box, list) and len(box) == 4 and all(is_number(v) and math.isfinite(v) for v in box)
        if not ok or box[2] < 0 or box[3] < 0:
            raise input_error(
                src, f"'bbox' must be [x, y, w, h] of finite numbers, w, h >= 0, got {box!r}", where
            )
    if "area" in rec:
        _finite(rec, "area", src, where, lo=0.0)
    if "iscrowd" in rec and rec["iscrowd"] not in (0, 1):
        raise input_error(src, f"'iscrowd' must be 0 or 1, got {rec['iscrowd']!r}", where)


def check_images(images: Any, src: object) -> dict[int, ImageInfo]:
    """Validate a COCO ``images`` list; returns the images by id (module rules)."""
    if not isinstance(images, list):
        raise input_error(src, "missing or non-list 'images'")
    out: dict[int, ImageInfo] = {}
    for i, rec in enumerate(images):
        where = f"images[{i}]"
        if not isinstance(rec, dict):
            raise input_error(src, "image record is not an object", where)
        image_id = int_field(rec, "id", src, where)
        where = f"images[{i}] (id={image_id})"
        if image_id in out:
            raise input_error(src, f"duplicate image id {image_id}", where)
        height = int_field(rec, "height", src, where, lo=1)
        width = int_field(rec, "width", src, where, lo=1)
        if max(height, width) > MAX_SIDE_PX:
            raise input_error(src, f"image size {height}x{width} exceeds {MAX_SIDE_PX} px", where)
        name = rec.get("file_name", "")
        if not isinstance(name, str):
            raise input_error(src, f"'file_name' must be a string, got {name!r}", where)
        out[image_id] = ImageInfo(image_id, name, height, width)
    return out


def check_categories(coco: dict[str, Any], src: object) -> frozenset[int] | None:
    """The category ids of a COCO file (``None`` when it has no ``categories`` key); ids must be unique."""
    cats = coco.get("categories")
    if cats is None:
        return None
    if not isinstance(cats, list):
        raise input_error(src, "'categories' is not a list")
    ids: set[int] = set()
    for i, rec in enumerate(cats):
        if not isinstance(rec, dict):
            raise input_error(src, "category is not an object", f"categories[{i}]")
        cat = int_field(rec, "id", src, f"categories[{i}]")
        if cat in ids:
            raise input_error(src, f"duplicate category id {cat}", f"categories[{i}]")
        ids.add(cat)
    return frozenset(ids)


def check_coco(coco: Any, src: object, need_annotations: bool = True, role: str = "the file") -> CocoIndex:
    """Validate a COCO instances file (or, with ``need_annotations=False``, a file that only names images);
    returns its :class:`CocoIndex`. Annotations are checked by :func:`check_annotations`. ``role`` names the
    file in the message for a file that is not a COCO object."""
    if not isinstance(coco, dict):
        need = "'images' and 'annotations'" if need_annotations else "an 'images' list"
        raise input_error(src, f"{role} must be a COCO object with {need}")
    images = check_images(coco.get("images"), src)
    categories = check_categories(coco, src)
    if need_annotations:
        check_annotations(coco.get("annotations"), images, categories, src)
    return CocoIndex(images, categories)


def check_annotations(
    anns: Any, images: dict[int, ImageInfo], categories: frozenset[int] | None, src: object
) -> None:
    """Validate a COCO ``annotations`` list against its images and categories (module rules; segmentations
    are checked where they are decoded, by :func:`segmentation_rle`)."""
    if not isinstance(anns, list):
        raise input_error(src, "missing or non-list 'annotations'")
    seen: set[int] = set()
    for i, ann in enumerate(anns):
        where = f"annotations[{i}]"
        if not isinstance(ann, dict):
            raise input_error(src, "annotation is not an object", where)
        ann_id = int_field(ann, "id", src, where)
        where = f"annotations[{i}] (id={ann_id})"
        if ann_id in seen:
            raise input_error(src, f"duplicate annotation id {ann_id}", where)
        seen.add(ann_id)
        image_id = int_field(ann, "image_id", src, where)
        if image_id not in images:
            raise input_error(src, f"image_id {image_id} is not in 'images'", where)
        if "segmentation" not in ann:
            raise input_error(src, "missing key 'segmentation'", where)
        _check_common(ann, src, where, categories)
        if ann.get("score") is not None:
            _finite(ann, "score", src, where)


def prediction_where(i: int, rec: dict[str, Any]) -> str:
    """The record name of prediction ``i``: ``prediction i (image_id N)``."""
    image_id = rec.get("image_id")
    return f"prediction {i}" if not is_number(image_id) else f"prediction {i} (image_id {image_id})"


def check_results(preds: Any, src: object, categories: frozenset[int] | None = None) -> None:
    """Validate a results list (module rules); images are matched by each reader (scoring ignores predictions
    on images outside the ground truth, other readers refuse them)."""
    if not isinstance(preds, list):
        raise input_error(src, "predictions must be a JSON list of result records")
    for i, rec in enumerate(preds):
        if not isinstance(rec, dict):
            raise input_error(src, "prediction is not an object", f"prediction {i}")
        int_field(rec, "image_id", src, f"prediction {i}")
        where = prediction_where(i, rec)
        score = rec.get("score")
        if not is_number(score) or not math.isfinite(score):
            raise input_error(src, f"'score' must be a finite number, got {score!r}", where)
        if "segmentation" not in rec:
            raise input_error(src, "missing key 'segmentation'", where)
        _check_common(rec, src, where, categories)


def repeated_predictions(preds: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """``(i, j)`` for every prediction ``i`` that repeats an earlier prediction ``j`` exactly (same image,
    category, score and segmentation)."""
    seen: dict[str, int] = {}
    repeats = []
    for i, rec in enumerate(preds):
        key = json.dumps(
            [rec.get("image_id"), rec.get("category_id"), rec.get("score"), rec.get("segmentation")],
            sort_keys=True,
            default=str,
        )
        if key in seen:
            repeats.append((i, seen[key]))
        else:
            seen[key] = i
    return repeats


def warn_repeated_predictions(preds: list[dict[str, Any]], src: object) -> int:
    """Print one warning line when predictions repeat earlier ones exactly; returns how many do. They are kept
    (a model can emit the same mask twice, e.g. from two boxes) and counted as they are by every stage."""
    repeats = repeated_predictions(preds)
    if repeats:
        i, j = repeats[0]
        print(f"warning: {src}: {len(repeats)} prediction(s) repeat an earlier one exactly (first: prediction {i} "
              f"= prediction {j}); kept and counted as they are", file=sys.stderr)  # fmt: skip
    return len(repeats)


def segmentation_rle(seg: Any, height: int, width: int, src: object, where: str) -> dict[str, Any]:
    """A segmentation as a compressed RLE ``{"size": [H, W], "counts": bytes}``; one-line error when malformed."""
    try:
        rle = to_compressed_rle(seg, height, width)
        counts = rle["counts"]
        return {
            "size": [height, width],
            "counts": counts.encode("ascii") if isinstance(counts, str) else counts,
        }
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, UnicodeEncodeError) as exc:
        raise input_error(src, f"bad segmentation: {exc}", where) from None


def rle_size(seg: Any, src: object, where: str) -> tuple[int, int]:
    """``(height, width)`` of an RLE segmentation (for a results list whose images are not listed anywhere)."""
    if not isinstance(seg, dict):
        raise input_error(src, "a polygon needs the image size: pass --images-json", where)
    size = seg.get("size")
    ok = isinstance(size, list) and len(size) == 2
    ok = ok and all(is_number(v) and math.isfinite(v) and v == int(v) and 1 <= v <= MAX_SIDE_PX for v in size)
    if not ok:
        raise input_error(src, f"bad segmentation: RLE size {size!r} is not [H, W] in px", where)
    return int(size[0]), int(size[1])
