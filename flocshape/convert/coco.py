"""Load and validate a COCO instances file; every problem becomes a one-line ``InputError``.

Error messages read ``FILE: RECORD: what`` where RECORD is e.g. ``annotation id=17`` or ``image id=3``.
Checks: readable JSON object; ``images`` and ``annotations`` lists; integer ids, no duplicate image,
annotation or category ids, no duplicate ``file_name``; every annotation's ``image_id`` and
``category_id`` exist; segmentation structure (polygon parts with an even count of at least 6 finite
numbers; RLE ``size`` equal to the image size, counts as str/bytes/list). Image sizes missing in the
JSON are filled in from the image files by the converters (see :func:`check_image_file`).

These are the converters' rules: looser than the shared rules of :mod:`flocshape.records` where the image files
can answer (an image may leave out its size), stricter where a dataset needs it (``file_name`` and
``category_id`` required, ids written as integers, not ``3.0``). The file is read by
:func:`flocshape.records.load_json` and annotations are grouped by image by :func:`flocshape.coco.group_by_image`,
as for every other COCO reader.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from flocshape.coco import group_by_image
from flocshape.errors import input_error
from flocshape.records import is_int, load_json


@dataclass(frozen=True)
class CocoImage:
    """One ``images`` record. ``height``/``width`` in pixels (``None`` if absent in the JSON)."""

    id: int
    file_name: str
    height: int | None
    width: int | None
    record: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class CocoAnnotation:
    """One ``annotations`` record (segmentation kept as given: polygon list or RLE dict).

    ``has_attributes``: the record carries an ``attributes`` object (CVAT's exports do; see
    :mod:`flocshape.convert.interop` for what that means for ``iscrowd``).
    """

    id: int
    image_id: int
    category_id: int
    segmentation: Any = field(repr=False)
    iscrowd: bool = False
    has_attributes: bool = False


@dataclass
class CocoDataset:
    """A validated COCO instances file. ``categories`` are ``{"id": int, "name": str}``, sorted by id."""

    source: str
    images: list[CocoImage]
    annotations: list[CocoAnnotation]
    categories: list[dict[str, Any]]

    def annotations_by_image(self) -> dict[int, list[CocoAnnotation]]:
        """Annotations grouped by image id, in file order; every image id present (maybe empty)."""
        return group_by_image((im.id for im in self.images), self.annotations, lambda ann: ann.image_id)


def load_coco(path: str | os.PathLike[str]) -> CocoDataset:
    """Read and validate a COCO instances JSON file (see the module docstring for the checks)."""
    return parse_coco(load_json(path), str(path))


def _require_list(obj: dict[str, Any], key: str, source: str) -> list[Any]:
    if key not in obj:
        raise input_error(source, f"missing '{key}'")
    value = obj[key]
    if not isinstance(value, list):
        raise input_error(source, f"'{key}' is a {type(value).__name__}, not a list")
    return value


def _parse_image(rec: Any, index: int, source: str) -> CocoImage:
    if not isinstance(rec, dict):
        raise input_error(source, "not an object", f"images[{index}]")
    if not is_int(rec.get("id")):
        raise input_error(source, f"missing or non-integer 'id' ({rec.get('id')!r})", f"images[{index}]")
    where = f"image id={rec['id']}"
    name = rec.get("file_name")
    if not isinstance(name, str) or not name.strip():
        raise input_error(source, "missing or empty 'file_name'", where)
    sizes = []
    for key in ("height", "width"):
        v = rec.get(key)
        if v is not None and (not is_int(v) or v <= 0):
            raise input_error(source, f"'{key}' must be a positive integer, got {v!r}", where)
        sizes.append(v)
    return CocoImage(rec["id"], name, sizes[0], sizes[1], rec)


def _parse_annotation(rec: Any, index: int, source: str) -> CocoAnnotation:
    if not isinstance(rec, dict):
        raise input_error(source, "not an object", f"annotations[{index}]")
    if not is_int(rec.get("id")):
        raise input_error(source, f"missing or non-integer 'id' ({rec.get('id')!r})", f"annotations[{index}]")
    where = f"annotation id={rec['id']}"
    for key in ("image_id", "category_id"):
        if not is_int(rec.get(key)):
            raise input_error(source, f"missing or non-integer '{key}' ({rec.get(key)!r})", where)
    if "segmentation" not in rec or rec["segmentation"] in (None, [], {}):
        raise input_error(source, "missing or empty 'segmentation'", where)
    crowd = rec.get("iscrowd", 0)
    if crowd not in (0, 1, True, False):
        raise input_error(source, f"'iscrowd' must be 0 or 1, got {crowd!r}", where)
    return CocoAnnotation(
        rec["id"],
        rec["image_id"],
        rec["category_id"],
        rec["segmentation"],
        bool(crowd),
        isinstance(rec.get("attributes"), dict),
    )


def _parse_categories(obj: dict[str, Any], source: str) -> list[dict[str, Any]]:
    cats = obj.get("categories", [])
    if not isinstance(cats, list):
        raise input_error(source, f"'categories' is a {type(cats).__name__}, not a list")
    out: dict[int, dict[str, Any]] = {}
    for i, c in enumerate(cats):
        if not isinstance(c, dict) or not is_int(c.get("id")):
            raise input_error(source, "category without an integer 'id'", f"categories[{i}]")
        if c["id"] in out:
            raise input_error(source, "duplicate category id", f"category id={c['id']}")
        name = c.get("name")
        out[c["id"]] = {"id": c["id"], "name": str(name) if name not in (None, "") else f"class_{c['id']}"}
    return [out[k] for k in sorted(out)]


def _check_unique(ids: Iterable[Any], source: str, what: str) -> None:
    seen: set[Any] = set()
    for v in ids:
        if v in seen:
            raise input_error(source, f"duplicate {what}", f"{what.split()[0]} {what.split()[-1]}={v}")
        seen.add(v)


def parse_coco(obj: Any, source: str) -> CocoDataset:
    """Validate a parsed COCO object (``source`` names it in errors). Segmentations are checked by shape."""
    if not isinstance(obj, dict):
        raise input_error(source, f"top level is a {type(obj).__name__}, not a COCO object")
    raw_images = _require_list(obj, "images", source)
    raw_anns = _require_list(obj, "annotations", source)
    images = [_parse_image(r, i, source) for i, r in enumerate(raw_images)]
    _check_unique((im.id for im in images), source, "image id")
    seen_names: dict[str, int] = {}
    for im in images:
        if im.file_name in seen_names:
            raise input_error(
                source,
                f"file_name {im.file_name!r} also used by image id={seen_names[im.file_name]}",
                f"image id={im.id}",
            )
        seen_names[im.file_name] = im.id
    categories = _parse_categories(obj, source)
    cat_ids = {c["id"] for c in categories}
    by_id = {im.id: im for im in images}
    anns = [_parse_annotation(r, i, source) for i, r in enumerate(raw_anns)]
    _check_unique((a.id for a in anns), source, "annotation id")
    for a in anns:
        where = f"annotation id={a.id}"
        if a.image_id not in by_id:
            raise input_error(source, f"image_id {a.image_id} does not exist", where)
        if a.category_id not in cat_ids:
            raise input_error(source, f"unknown category_id {a.category_id}", where)
        im = by_id[a.image_id]
        try:
            check_segmentation(a.segmentation, im.height, im.width)
        except ValueError as exc:
            raise input_error(source, str(exc), where) from exc
    return CocoDataset(source, images, anns, categories)


def check_segmentation(seg: Any, height: int | None, width: int | None) -> str:
    """Structural check of a COCO segmentation; returns its kind: ``polygon``, ``rle`` or ``rle-list``.

    Raises ``ValueError`` (message without file/record) on malformed input. With unknown image size
    (``None``) the RLE size is only checked for shape.
    """
    if isinstance(seg, list):
        if not seg:
            raise ValueError("empty polygon list")
        for k, part in enumerate(seg):
            if not isinstance(part, list) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in part
            ):
                raise ValueError(f"polygon part {k} is not a list of numbers")
            if len(part) % 2:
                raise ValueError(f"polygon part {k} has an odd coordinate count ({len(part)})")
            if len(part) < 6:
                raise ValueError(f"polygon part {k} has fewer than 3 points ({len(part) // 2})")
            if not all(math.isfinite(v) for v in part):
                raise ValueError(f"polygon part {k} has non-finite coordinates")
        return "polygon"
    if isinstance(seg, dict):
        size, counts = seg.get("size"), seg.get("counts")
        if not (isinstance(size, list | tuple) and len(size) == 2 and all(is_int(v) and v > 0 for v in size)):
            raise ValueError(f"RLE 'size' {size!r} is not [H, W]")
        if height is not None and width is not None and [size[0], size[1]] != [height, width]:
            raise ValueError(f"RLE size {list(size)} differs from the image size [{height}, {width}]")
        if isinstance(counts, list):
            if not all(is_int(v) and v >= 0 for v in counts):
                raise ValueError("uncompressed RLE counts must be non-negative integers")
            if sum(counts) != size[0] * size[1]:
                raise ValueError(
                    f"uncompressed RLE counts add up to {sum(counts)}, not H*W = {size[0] * size[1]}"
                )
            return "rle-list"
        if isinstance(counts, str | bytes):
            return "rle"
        raise ValueError(f"RLE 'counts' of type {type(counts).__name__}")
    raise ValueError(f"segmentation is a {type(seg).__name__}, neither a polygon list nor an RLE dict")


def check_image_file(path: Path, image: CocoImage, source: str) -> tuple[int, int]:
    """``(height, width)`` of an image file (header only); InputError if missing, unreadable or of another size."""
    where = f"image id={image.id}"
    if not path.is_file():
        raise input_error(source, f"image file {path} not found", where)
    try:
        with Image.open(path) as im:
            width, height = im.size
    except (OSError, UnidentifiedImageError) as exc:
        raise input_error(source, f"image file {path} is unreadable ({exc})", where) from exc
    if image.height is not None and (image.height, image.width) != (height, width):
        raise input_error(
            source,
            f"image file {path} is {height}x{width} (HxW), JSON says {image.height}x{image.width}",
            where,
        )
    return height, width
