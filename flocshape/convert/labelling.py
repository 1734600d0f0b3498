"""Predicted masks -> COCO instances shaped for a labelling tool's import (CVAT "COCO 1.0", Label Studio).

Conventions
-----------
* Coordinates are pixels in the COCO / pycocotools convention (pixel (row i, column j) covers
  ``[j, j+1) x [i, i+1)``; see :mod:`flocshape.convert.rings`). Polygons are the mask's **pixel-edge
  outline**: integer vertices on pixel corners, only where the outline turns. pycocotools rasterises such an
  outline back to exactly the mask's pixels; every written segmentation is checked against the source mask
  (IoU 1.0 or it is reported) before it is written.
* ``cvat`` (CVAT's own "COCO 1.0" export, written by Datumaro): an instance whose outline is one ring (one
  4-connected piece without holes) is a polygon with ``iscrowd: 0``; any other instance (a hole, or pieces
  touching only at a corner or apart) is a mask: uncompressed RLE (``counts`` a list of run lengths,
  column-major, background first) with ``iscrowd: 1``, as CVAT writes its mask shapes; CVAT polygons cannot
  hold holes. Every annotation has ``bbox`` ``[x, y, w, h]`` (px), ``area`` (px), ``attributes``
  ``{"occluded": false}`` and the prediction's ``score``; category ids as given (predictions: class + 1,
  from 1). Image records carry CVAT's ``license``, ``flickr_url``, ``coco_url`` and ``date_captured``.
* ``labelstudio`` (label-studio-converter's ``import coco``): it reads only the first polygon of an
  annotation, cannot read RLE, and turns any ``bbox`` into an extra rectangle. So every instance is **one**
  polygon ring: holes and separate pieces are joined into the outline by zero-width bridges (a segment
  walked there and back, :func:`flocshape.convert.rings.bridge_all`), which rasterises to the same pixels;
  annotations have no ``bbox``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from flocshape.convert.rings import bridge_all, trace_cycles
from flocshape.masks import decode_rle_crop, rle_counts

FORMATS = ("cvat", "labelstudio")
CVAT_LICENSES = [{"name": "", "id": 0, "url": ""}]


@dataclass(frozen=True)
class Encoded:
    """One instance as written: ``segmentation``, ``iscrowd``, ``kind`` (``polygon``, ``bridged-polygon``,
    ``mask``), pixel ``area``, ``bbox`` ``[x, y, w, h]`` in px and the IoU of the written form vs the source."""

    segmentation: Any
    iscrowd: int
    kind: str
    area: int
    bbox: list[float]
    iou: float


def _written_rle(segmentation: Any, height: int, width: int) -> Any:
    """pycocotools RLE of a written segmentation (polygon rings merged, or uncompressed RLE)."""
    if isinstance(segmentation, list):
        return mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    return mask_utils.frPyObjects(segmentation, height, width)


def segmentation_iou(segmentation: Any, source_rle: dict[str, Any], height: int, width: int) -> float:
    """IoU between pycocotools' rasterisation of ``segmentation`` and the compressed ``source_rle``."""
    written = _written_rle(segmentation, height, width)
    return float(mask_utils.iou([written], [source_rle], [0])[0][0])


def _flat(ring: np.ndarray) -> list[int]:
    """A ring of integer-valued vertices as a flat ``[x0, y0, x1, y1, ...]`` list of ints."""
    return [int(v) for v in np.rint(ring).astype(np.int64).reshape(-1)]


def encode_instance(rle: dict[str, Any], fmt: str) -> Encoded | None:
    """Encode one compressed RLE (pycocotools form, ``str`` or ``bytes`` counts) for ``fmt``.

    Returns ``None`` for an empty mask. A ``cvat`` polygon that would not rasterise to the mask exactly falls
    back to the mask form; ``labelstudio`` has no such fallback and reports the IoU it reaches.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    height, width = int(rle["size"][0]), int(rle["size"][1])
    crop, x0, y0, _, _ = decode_rle_crop(rle)
    area = int(crop.sum()) if crop.size else 0
    if area == 0:
        return None
    bbox = [float(x0), float(y0), float(crop.shape[1]), float(crop.shape[0])]
    cycles = trace_cycles(crop, (x0, y0))
    if fmt == "labelstudio" or len(cycles) == 1:
        ring = cycles[0] if len(cycles) == 1 else bridge_all(cycles)
        seg: Any = [_flat(ring)]
        iou = segmentation_iou(seg, rle, height, width)
        if fmt == "labelstudio" or iou == 1.0:
            kind = "polygon" if len(cycles) == 1 else "bridged-polygon"
            return Encoded(seg, 0, kind, area, bbox, iou)
    seg = {"counts": [int(c) for c in rle_counts(rle)], "size": [height, width]}
    return Encoded(seg, 1, "mask", area, bbox, segmentation_iou(seg, rle, height, width))


def image_record(image_id: int, file_name: str, height: int, width: int, fmt: str) -> dict[str, Any]:
    """One ``images`` record as the tool writes it (CVAT adds license and URL fields)."""
    rec: dict[str, Any] = {"id": image_id, "width": width, "height": height, "file_name": file_name}
    if fmt == "cvat":
        rec.update({"license": 0, "flickr_url": "", "coco_url": "", "date_captured": 0})
    return rec


def annotation_record(
    ann_id: int, image_id: int, category_id: int, enc: Encoded, score: float | None, fmt: str
) -> dict[str, Any]:
    """One ``annotations`` record for ``fmt`` (fields in the module docstring)."""
    rec: dict[str, Any] = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category_id,
        "segmentation": enc.segmentation,
        "area": float(enc.area),
    }
    if fmt == "cvat":
        rec["bbox"] = enc.bbox
    rec["iscrowd"] = enc.iscrowd
    if fmt == "cvat":
        rec["attributes"] = {"occluded": False}
    if score is not None:
        rec["score"] = score
    return rec


def coco_document(
    images: list[dict[str, Any]],
    annotations: list[dict[str, Any]],
    categories: dict[int, str],
    fmt: str,
    description: str = "",
) -> dict[str, Any]:
    """The whole instances file: CVAT's key order with ``licenses`` and ``info``, or the plain COCO keys."""
    cats = [{"id": cid, "name": name, "supercategory": ""} for cid, name in sorted(categories.items())]
    if fmt == "cvat":
        info = {
            "contributor": "",
            "date_created": "",
            "description": description,
            "url": "",
            "version": "",
            "year": "",
        }
        return {
            "licenses": CVAT_LICENSES,
            "info": info,
            "categories": cats,
            "images": images,
            "annotations": annotations,
        }
    return {
        "info": {"description": description},
        "categories": cats,
        "images": images,
        "annotations": annotations,
    }
