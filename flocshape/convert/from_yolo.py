"""Ultralytics YOLO-seg labels -> COCO instances (for round trips and for scoring models trained elsewhere).

Each row ``class x1 y1 ... xn yn`` (normalised) becomes one annotation on the image ``<stem>.<ext>`` of the
images folder; coordinates are scaled by the image width/height (pixel-corner convention of
:mod:`flocshape.convert.rings`). Segmentations are compressed RLE (str counts) or the polygon itself.
A missing label file means an image without instances (Ultralytics' convention).

Predictions saved by Ultralytics (``yolo segment predict save_txt=True save_conf=True``) end each row with the
confidence: ``class x1 y1 ... xn yn conf``. With ``conf_column=True`` (``--conf-column``) that last value is read
as the score (must lie in [0, 1]) and the CLI writes a COCO *results list* (``image_id``, ``category_id``,
``segmentation``, ``score``, ``bbox``, ``area``), the form ``infer/score.py --pred`` takes.

Category ids: from ``coco_category_ids`` in the ``--names`` data.yaml (written by coco2yolo), else
``class + 1``. Image ids: from ``--ids-from`` (a COCO file, matched by file name, so a converted dataset
can be scored against its original ground truth), else 1..n in sorted file-name order.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pycocotools import mask as mask_utils

from flocshape.convert.coco import CocoImage, check_image_file, load_coco
from flocshape.errors import input_error
from flocshape.fsio import atomic_write_json, is_image_file
from flocshape.manifest import build_manifest, describe_input

TOOL = "yolo2coco"


def read_names(path: Path) -> tuple[dict[int, str], dict[int, int]]:
    """``(class -> name, class -> COCO category id)`` from an Ultralytics data.yaml."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise input_error(path, f"cannot read YAML ({exc})".splitlines()[0]) from exc
    names = doc.get("names") if isinstance(doc, dict) else None
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise input_error(path, "no 'names' mapping")
    ids = doc.get("coco_category_ids") or {int(k): int(k) + 1 for k in names}
    return {int(k): str(v) for k, v in names.items()}, {int(k): int(v) for k, v in ids.items()}


def parse_label_file(
    path: Path, n_classes: int | None, conf_column: bool = False
) -> list[tuple[int, np.ndarray, float | None]]:
    """Rows of a YOLO-seg label file as ``(class, (N, 2) normalised xy, score)``; ``InputError`` on a bad row.

    ``score`` is the row's last value when ``conf_column`` (Ultralytics ``save_conf``), else ``None``.
    """
    rows = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {line_no}"
        parts = line.split()
        try:
            values = [float(v) for v in parts]
        except ValueError as exc:
            raise input_error(path, "non-numeric value", where) from exc
        cls = values[0]
        if not cls.is_integer() or cls < 0 or (n_classes is not None and cls >= n_classes):
            raise input_error(path, f"invalid class {parts[0]!r}", where)
        coords = values[1:]
        score = None
        if conf_column:
            if not coords or not (math.isfinite(coords[-1]) and 0.0 <= coords[-1] <= 1.0):
                raise input_error(path, "last value is not a confidence in [0, 1] (--conf-column)", where)
            score, coords = coords[-1], coords[:-1]
        if len(coords) == 4:
            raise input_error(path, "a box row (4 values); expected a polygon", where)
        if len(coords) % 2 or len(coords) < 6:
            raise input_error(
                path, f"polygon needs an even count of at least 6 coordinates, got {len(coords)}", where
            )
        if not all(math.isfinite(v) and -0.01 <= v <= 1.01 for v in coords):
            raise input_error(path, "coordinates outside [0, 1]", where)
        rows.append((int(cls), np.asarray(coords, dtype=np.float64).reshape(-1, 2), score))
    return rows


def yolo_to_coco(
    images_dir: Path,
    labels_dir: Path,
    names: dict[int, str] | None = None,
    category_ids: dict[int, int] | None = None,
    ids_from: Path | None = None,
    segmentation: str = "rle",
    conf_column: bool = False,
) -> dict[str, Any]:
    """Build a COCO dict from an images folder and its YOLO-seg labels folder (see module docstring).

    With ``conf_column`` every annotation also carries the row's ``score``.
    """
    files = sorted(p for p in images_dir.iterdir() if is_image_file(p))
    if not files:
        raise input_error(images_dir, "no images")
    known: dict[str, CocoImage] = {}
    if ids_from is not None:
        known = {Path(im.file_name).name: im for im in load_coco(ids_from).images}
    n_classes = len(names) if names else None
    cat_of = category_ids or {}
    images, annotations, used_classes = [], [], set()
    for k, path in enumerate(files, start=1):
        ref = known.get(path.name)
        if ids_from is not None and ref is None:
            raise input_error(ids_from, f"no image record for {path.name}")
        image_id = ref.id if ref else k
        h, w = check_image_file(path, ref or CocoImage(image_id, path.name, None, None, {}), str(images_dir))
        images.append({"id": image_id, "file_name": path.name, "height": h, "width": w})
        label = labels_dir / f"{path.stem}.txt"
        if not label.is_file():
            continue
        for cls, xy, score in parse_label_file(label, n_classes, conf_column):
            used_classes.add(cls)
            pixels = xy * np.array([w, h], dtype=np.float64)
            flat = pixels.reshape(-1).tolist()
            rle = mask_utils.frPyObjects([flat], h, w)[0]
            ann = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": cat_of.get(cls, cls + 1),
                "iscrowd": 0,
                "area": int(mask_utils.area(rle)),
                "bbox": [float(v) for v in mask_utils.toBbox(rle)],
            }
            if segmentation == "rle":
                ann["segmentation"] = {"size": [h, w], "counts": rle["counts"].decode("ascii")}
            else:
                ann["segmentation"] = [[round(v, 4) for v in flat]]
            if score is not None:
                ann["score"] = score
            annotations.append(ann)
    classes = sorted(set(names or {}) | used_classes)
    categories = [{"id": cat_of.get(c, c + 1), "name": (names or {}).get(c, f"class_{c}")} for c in classes]
    return {"images": images, "annotations": annotations, "categories": categories}


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``convert/yolo2coco.py``."""
    ap = argparse.ArgumentParser(prog="yolo2coco.py", description="YOLO-seg labels -> COCO instances.")
    ap.add_argument("--images", required=True, type=Path, help="folder of images")
    ap.add_argument("--labels", required=True, type=Path, help="folder of <stem>.txt YOLO-seg labels")
    ap.add_argument("--out", required=True, type=Path, help="COCO JSON file to write")
    ap.add_argument("--names", type=Path, help="data.yaml with names (and coco_category_ids from coco2yolo)")
    ap.add_argument("--ids-from", type=Path, help="COCO file whose image ids to reuse (matched by file name)")
    ap.add_argument(
        "--segmentation", choices=("rle", "polygon"), default="rle", help="mask encoding (default rle)"
    )
    ap.add_argument(
        "--conf-column",
        action="store_true",
        help="rows end with a confidence (Ultralytics save_conf): write a COCO results list with scores",
    )
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point of ``convert/yolo2coco.py``. Provenance goes into the COCO ``info`` field."""
    args = build_parser().parse_args(argv)
    for folder in (args.images, args.labels):
        if not folder.is_dir():
            raise input_error(folder, "folder not found")
    names, cat_ids = read_names(args.names) if args.names else (None, None)
    coco = yolo_to_coco(
        args.images, args.labels, names, cat_ids, args.ids_from, args.segmentation, args.conf_column
    )
    inputs = {"images": describe_input(args.images), "labels": describe_input(args.labels)}
    info = build_manifest(
        TOOL,
        {k: str(v) if isinstance(v, os.PathLike) else v for k, v in vars(args).items()},
        inputs,
        counts={"images": len(coco["images"]), "annotations": len(coco["annotations"])},
    )
    if args.conf_column:  # a results list has no place for provenance: it goes next to it
        results = [
            {k: v for k, v in ann.items() if k not in ("id", "iscrowd")} for ann in coco["annotations"]
        ]
        atomic_write_json(args.out, results, indent=None)
        atomic_write_json(args.out.with_name(args.out.name + ".manifest.json"), info)
        print(f"wrote {args.out}: {len(results)} scored results on {len(coco['images'])} images")
        return 0
    atomic_write_json(args.out, {"info": info, **coco}, indent=None)
    print(f"wrote {args.out}: {len(coco['images'])} images, {len(coco['annotations'])} annotations")
    return 0
