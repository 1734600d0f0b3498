"""Per-frame work of the COCO -> YOLO-seg conversion: label rows, image copies and native-resolution tiles.

A frame is one :class:`ImageJob` (its annotations with their class index, the split it goes to, the options);
:func:`convert_image` writes its label file and image (or, with ``tile_px``, one label file and one PNG per
tile of the grid of :func:`flocshape.tiles.tile_starts`) and returns per-instance records for the manifest.
:func:`run_jobs` runs the frames in one process or a process pool; the output is identical either way.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from flocshape.convert.coco import CocoAnnotation, CocoImage
from flocshape.convert.interop import frame_basename, keep_crowd
from flocshape.convert.rings import ULTRALYTICS_MAX_VERTICES, crop_to_ring
from flocshape.convert.yolo_rows import (
    InstanceRing,
    convert_instance,
    format_row,
    polygon_outside_image,
    ring_iou,
    round_ring,
)
from flocshape.errors import input_error
from flocshape.masks import decode_rle_crop, to_compressed_rle
from flocshape.tiles import tile_starts


@dataclass(frozen=True)
class YoloOptions:
    """Conversion options (see ``convert/coco2yolo.py --help``). Lengths in pixels."""

    val_frac: float = 0.2
    group_size: int | None = None
    group_by: str | None = None
    group_key: str | None = None
    seed: int = 0
    tile_px: int | None = None
    overlap: float = 0.2
    min_tile_area_px: int = 20
    strict: bool = False
    max_vertices: int = ULTRALYTICS_MAX_VERTICES
    keep_source_polygons: bool = True
    hardlink: bool = False
    workers: int = 1
    iscrowd: str = "auto"


@dataclass
class ImageJob:
    """One frame to convert: its COCO record and size, file, split, ``(annotation, class index)`` pairs."""

    image: CocoImage
    height: int
    width: int
    src_path: Path
    split: str
    annotations: list[tuple[CocoAnnotation, int]]
    options: YoloOptions
    out_root: Path
    source: str


@dataclass
class ImageOutcome:
    """What converting one frame wrote or left out, as records for the manifest."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    clipped: list[int] = field(default_factory=list)
    tiles: list[dict[str, Any]] = field(default_factory=list)
    crowd_kept: list[int] = field(default_factory=list)


def _place(src: Path, dst: Path, hardlink: bool) -> None:
    """Copy ``src`` to ``dst``, or hard-link it when asked and possible."""
    if hardlink:
        try:
            os.link(src, dst)
            return
        except OSError:
            pass
    shutil.copyfile(src, dst)


def _skip(out: ImageOutcome, job: ImageJob, ann: CocoAnnotation, reason: str) -> None:
    """Record a skipped instance, or raise under ``--strict``."""
    if job.options.strict:
        raise input_error(job.source, f"{reason} (--strict)", f"annotation id={ann.id}")
    out.skipped.append({"annotation_id": ann.id, "image_id": job.image.id, "reason": reason})


def convert_image(job: ImageJob) -> ImageOutcome:
    """Write the label file(s) and image(s) of one frame; return per-instance records."""
    out = ImageOutcome()
    opts = job.options
    converted: list[tuple[CocoAnnotation, int, InstanceRing | None, Any]] = []
    for ann, cls in job.annotations:
        if ann.iscrowd:
            if not keep_crowd(ann.has_attributes, opts.iscrowd):
                _skip(out, job, ann, "iscrowd")
                continue
            out.crowd_kept.append(ann.id)
        if polygon_outside_image(ann.segmentation, job.height, job.width):
            if opts.strict:
                raise input_error(
                    job.source, "polygon coordinates outside the image (--strict)", f"annotation id={ann.id}"
                )
            out.clipped.append(ann.id)
        try:
            if opts.tile_px:
                rle = to_compressed_rle(ann.segmentation, job.height, job.width)
                crop = decode_rle_crop(rle)[:3]
                inst = None if crop[0].size == 0 or not crop[0].any() else crop
            else:
                inst = convert_instance(
                    ann.segmentation, job.height, job.width, opts.max_vertices, opts.keep_source_polygons
                )
        except ValueError as exc:
            raise input_error(job.source, str(exc), f"annotation id={ann.id}") from exc
        if inst is None:
            _skip(out, job, ann, "zero area")
            continue
        converted.append((ann, cls, inst, None))
    if opts.tile_px:
        _write_tiles(job, converted, out)
    else:
        _write_frame(job, converted, out)
    return out


def _write_frame(job: ImageJob, converted: list, out: ImageOutcome) -> None:
    """Write the frame's label file (one row per instance) and place its image."""
    stem = Path(frame_basename(job.image.file_name)).stem
    lines = []
    for ann, cls, inst, _ in converted:
        lines.append(format_row(cls, inst.ring, job.height, job.width))
        out.rows.append(
            {
                "annotation_id": ann.id,
                "image_id": job.image.id,
                "iou": inst.iou,
                "method": inst.method,
                "tolerance_px": inst.tolerance_px,
                "vertices": len(inst.ring),
            }
        )
    label_dir = job.out_root / "labels" / job.split
    (label_dir / f"{stem}.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    _place(
        job.src_path,
        job.out_root / "images" / job.split / frame_basename(job.image.file_name),
        job.options.hardlink,
    )


def _tile_rows(
    job: ImageJob, converted: list, out: ImageOutcome, name: str, tx: int, ty: int, tile_w: int, tile_h: int
) -> list[str]:
    """Label rows of the tile ``name`` at ``(tx, ty)``: each instance clipped to it, slivers skipped."""
    opts = job.options
    lines = []
    for ann, cls, (crop, x0, y0), _ in converted:
        sx0, sy0 = max(x0, tx), max(y0, ty)
        sx1, sy1 = min(x0 + crop.shape[1], tx + tile_w), min(y0 + crop.shape[0], ty + tile_h)
        if sx1 <= sx0 or sy1 <= sy0:
            continue
        sub = crop[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0]
        area = int(sub.sum())
        if area == 0:
            continue
        record = {"annotation_id": ann.id, "image_id": job.image.id, "tile": name}
        if area < opts.min_tile_area_px:
            out.skipped.append({**record, "reason": f"tile sliver ({area} px < {opts.min_tile_area_px})"})
            continue
        ring, tol = crop_to_ring(sub, sx0 - tx, sy0 - ty, opts.max_vertices)
        _, written = round_ring(ring, tile_h, tile_w)
        tile_mask = np.zeros((tile_h, tile_w), dtype=bool)
        tile_mask[sy0 - ty : sy1 - ty, sx0 - tx : sx1 - tx] = sub
        iou = ring_iou(
            written, mask_utils.encode(np.asfortranarray(tile_mask, dtype=np.uint8)), tile_h, tile_w
        )
        lines.append(format_row(cls, written, tile_h, tile_w))
        method = "pixel-edge" if tol == 0.0 else "pixel-edge-simplified"
        out.rows.append(
            {**record, "iou": iou, "method": method, "tolerance_px": tol, "vertices": len(written)}
        )
    return lines


def _write_tiles(job: ImageJob, converted: list, out: ImageOutcome) -> None:
    """Write one label file and one PNG per tile of the frame's tile grid (native resolution)."""
    opts = job.options
    frame = cv2.imread(str(job.src_path), cv2.IMREAD_UNCHANGED)
    if frame is None:
        raise input_error(
            job.source, f"image file {job.src_path} cannot be decoded", f"image id={job.image.id}"
        )
    stem = Path(frame_basename(job.image.file_name)).stem
    tile_w, tile_h = min(opts.tile_px, job.width), min(opts.tile_px, job.height)
    for ty in tile_starts(job.height, opts.tile_px, opts.overlap):
        for tx in tile_starts(job.width, opts.tile_px, opts.overlap):
            name = f"{stem}__x{tx}_y{ty}"
            lines = _tile_rows(job, converted, out, name, tx, ty, tile_w, tile_h)
            (job.out_root / "labels" / job.split / f"{name}.txt").write_text(
                "".join(line + "\n" for line in lines), encoding="utf-8"
            )
            tile = frame[ty : ty + tile_h, tx : tx + tile_w]
            if not cv2.imwrite(str(job.out_root / "images" / job.split / f"{name}.png"), tile):
                raise OSError(f"cannot write tile {name}.png")
            out.tiles.append(
                {
                    "tile": f"{name}.png",
                    "image_id": job.image.id,
                    "file_name": job.image.file_name,
                    "x0": tx,
                    "y0": ty,
                    "width": tile_w,
                    "height": tile_h,
                    "split": job.split,
                }
            )


def run_jobs(jobs: list[ImageJob], workers: int) -> list[ImageOutcome]:
    """Convert every frame, in this process or in ``workers`` processes (same output, same order)."""
    if workers <= 1 or len(jobs) < 2:
        return [convert_image(j) for j in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(convert_image, jobs, chunksize=max(1, len(jobs) // (8 * workers))))
