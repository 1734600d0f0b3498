"""Instance label maps (PNG, 0 = background, one integer id per instance) -> COCO with compressed RLE.

Made for the EMPS layout (``images/<id>.png`` + ``segmaps/<id>.png``, ids in ``train.csv`` without the
suffix, ``metadata.csv`` with ``filename,doi,locator``), but any pair of folders with label maps named like
the images works. Metadata columns other than ``filename`` are copied into each COCO image record
(e.g. ``"doi"``), so ``coco2yolo.py --group-key doi`` can split by paper. Image ids are 1..n in the order of
the id list; annotation ids run 1..m; ``label_value`` keeps the instance's value in the label map.
"""

from __future__ import annotations

import argparse
import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pycocotools import mask as mask_utils
from scipy import ndimage

from flocshape.convert.coco import CocoImage, check_image_file
from flocshape.errors import input_error
from flocshape.fsio import IMAGE_SUFFIXES, atomic_write_json, is_image_file
from flocshape.manifest import build_manifest, describe_input
from flocshape.masks import encode_rle

TOOL = "labelmap2coco"


def read_ids(spec: str | None, labels_dir: Path) -> list[str]:
    """Image ids: from a file (first column, one per line), a comma list, or all label map stems.

    A ``.png`` (or other image) suffix on an id is dropped.
    """
    if spec is None:
        ids = sorted(p.stem for p in labels_dir.iterdir() if is_image_file(p))
    elif "," not in spec and Path(spec).is_file():
        with open(spec, encoding="utf-8", newline="") as fh:
            ids = [row[0].strip() for row in csv.reader(fh) if row and row[0].strip()]
    else:
        ids = [s.strip() for s in spec.split(",") if s.strip()]
    ids = [Path(i).stem if is_image_file(Path(i)) else i for i in ids]
    if not ids:
        raise input_error(spec or labels_dir, "no image ids")
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise input_error(spec or labels_dir, f"duplicate id {dup[0]!r}")
    return ids


def read_metadata(path: Path) -> dict[str, dict[str, str]]:
    """``metadata.csv`` rows keyed by the stem of ``filename`` (other columns kept as strings)."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "filename" not in reader.fieldnames:
                raise input_error(path, "no 'filename' column")
            return {Path(r["filename"]).stem: {k: v for k, v in r.items() if k != "filename"} for r in reader}
    except OSError as exc:
        raise input_error(path, f"cannot read ({exc.strerror or exc})") from exc


def _find(folder: Path, stem: str) -> Path | None:
    for suffix in IMAGE_SUFFIXES:
        p = folder / f"{stem}{suffix}"
        if p.is_file():
            return p
    return None


def read_label_map(path: Path) -> np.ndarray:
    """A single-channel integer label map; ``InputError`` if unreadable or multi-channel."""
    lm = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if lm is None:
        raise input_error(path, "unreadable label map")
    if lm.ndim != 2 or not np.issubdtype(lm.dtype, np.integer):
        raise input_error(
            path, f"label map must be one integer channel, got shape {lm.shape} dtype {lm.dtype}"
        )
    return lm


def label_map_annotations(
    label_map: np.ndarray, image_id: int, first_ann_id: int, category_id: int = 1
) -> list[dict[str, Any]]:
    """COCO annotations (compressed RLE, str counts) for every non-zero value of a label map."""
    anns = []
    values = np.unique(label_map)
    values = values[values != 0]
    slices = ndimage.find_objects(label_map.astype(np.int64)) if values.size else []
    h, w = label_map.shape
    for k, value in enumerate(values.tolist()):
        sl = slices[value - 1]
        mask = np.zeros((h, w), dtype=bool)
        mask[sl] = label_map[sl] == value
        rle = encode_rle(mask)
        rle_bytes = {**rle, "counts": rle["counts"].encode("ascii")}
        anns.append(
            {
                "id": first_ann_id + k,
                "image_id": image_id,
                "category_id": category_id,
                "iscrowd": 0,
                "area": int(mask_utils.area(rle_bytes)),
                "bbox": [float(v) for v in mask_utils.toBbox(rle_bytes)],
                "segmentation": rle,
                "label_value": int(value),
            }
        )
    return anns


def labelmaps_to_coco(
    images_dir: Path,
    labels_dir: Path,
    ids: Sequence[str],
    metadata: dict[str, dict[str, str]] | None = None,
    category_name: str = "particle",
) -> dict[str, Any]:
    """Build the COCO dict (images with metadata fields, annotations, one category id 1)."""
    images, annotations = [], []
    for image_id, stem in enumerate(ids, start=1):
        img_path, lm_path = _find(images_dir, stem), _find(labels_dir, stem)
        if img_path is None:
            raise input_error(images_dir, "image file not found", f"id {stem}")
        if lm_path is None:
            raise input_error(labels_dir, "label map not found", f"id {stem}")
        lm = read_label_map(lm_path)
        h, w = check_image_file(img_path, CocoImage(image_id, img_path.name, None, None, {}), str(images_dir))
        if lm.shape != (h, w):
            raise input_error(
                lm_path, f"label map is {lm.shape[0]}x{lm.shape[1]}, image is {h}x{w}", f"id {stem}"
            )
        record: dict[str, Any] = {"id": image_id, "file_name": img_path.name, "height": h, "width": w}
        if metadata is not None:
            if stem not in metadata:
                raise input_error("metadata", "no metadata row", f"id {stem}")
            record.update(metadata[stem])
        images.append(record)
        annotations.extend(label_map_annotations(lm, image_id, len(annotations) + 1))
    return {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": category_name}]}


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``convert/labelmap2coco.py``."""
    ap = argparse.ArgumentParser(
        prog="labelmap2coco.py", description="Instance label maps -> COCO (compressed RLE)."
    )
    ap.add_argument("--images", required=True, type=Path, help="folder of images <id>.<ext>")
    ap.add_argument(
        "--labels", required=True, type=Path, help="folder of label maps <id>.png (0 = background)"
    )
    ap.add_argument("--out", required=True, type=Path, help="COCO JSON file to write")
    ap.add_argument("--ids", help="id list file (first column) or comma list; default: every label map")
    ap.add_argument(
        "--metadata", type=Path, help="CSV with a filename column; other columns go into image records"
    )
    ap.add_argument(
        "--category-name", default="particle", help="name of the single category (default particle)"
    )
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point of ``convert/labelmap2coco.py``. Provenance goes into the COCO ``info`` field."""
    args = build_parser().parse_args(argv)
    for folder in (args.images, args.labels):
        if not folder.is_dir():
            raise input_error(folder, "folder not found")
    ids = read_ids(args.ids, args.labels)
    metadata = read_metadata(args.metadata) if args.metadata else None
    coco = labelmaps_to_coco(args.images, args.labels, ids, metadata, args.category_name)
    inputs = {"images": describe_input(args.images), "labels": describe_input(args.labels)}
    if args.metadata:
        inputs["metadata"] = describe_input(args.metadata)
    info = build_manifest(
        TOOL,
        {k: str(v) if isinstance(v, os.PathLike) else v for k, v in vars(args).items()},
        inputs,
        counts={"images": len(coco["images"]), "annotations": len(coco["annotations"])},
    )
    atomic_write_json(args.out, {"info": info, **coco}, indent=None)
    print(f"wrote {args.out}: {len(coco['images'])} images, {len(coco['annotations'])} annotations")
    return 0
