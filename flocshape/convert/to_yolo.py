"""COCO instances -> Ultralytics YOLO-seg dataset (``images/``, ``labels/``, ``data.yaml``, ``manifest.json``).

Each instance becomes one label row ``class x1 y1 ... xn yn`` (coordinates divided by the image width and
height, 6 decimals). The row's single ring is chosen for fidelity (see :mod:`flocshape.convert.rings`):

1. a polygon annotation is kept as given (parts bridged, coordinates clipped to the image) when its
   rasterisation equals the source mask exactly (``method = "polygon"``);
2. otherwise the pixel-edge outline of the source mask, holes and parts bridged (``"pixel-edge"``),
   exact by construction, simplified only above the vertex budget (``"pixel-edge-simplified"``).

Fidelity is measured per written row: IoU between the source mask and pycocotools' rasterisation of the
coordinates *as written* (after rounding), summarised in the manifest (mean, p1, min, worst instances).

Labelling tools' exports are read as they come (:mod:`flocshape.convert.interop`): frames are found by exact
name, basename, or basename without Label Studio's upload prefix; ``iscrowd=1`` masks of CVAT exports are
kept as instances (``--iscrowd auto``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml
from pycocotools import mask as mask_utils

from flocshape.convert import split as split_mod
from flocshape.convert.coco import (
    CocoAnnotation,
    CocoDataset,
    CocoImage,
    check_image_file,
    check_segmentation,
    load_coco,
)
from flocshape.convert.interop import (
    CROWD_POLICIES,
    MATCH_RULES,
    check_unambiguous,
    frame_basename,
    keep_crowd,
    resolve_frame,
)
from flocshape.convert.rings import ULTRALYTICS_MAX_VERTICES, bridge_all, crop_to_ring, ring_to_rle
from flocshape.errors import input_error
from flocshape.fsio import atomic_dir, atomic_write_text
from flocshape.manifest import build_manifest, describe_input, write_manifest
from flocshape.masks import decode_rle_crop, to_compressed_rle
from flocshape.tiles import tile_starts

TOOL = "coco2yolo"
COORD_DECIMALS = 6


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
class InstanceRing:
    """One converted instance: ``ring`` (N, 2) pixel coordinates as written (rounded), and its fidelity."""

    ring: np.ndarray
    iou: float
    method: str
    tolerance_px: float
    area_px: int


@dataclass
class _ImageJob:
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
class _ImageOutcome:
    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    clipped: list[int] = field(default_factory=list)
    tiles: list[dict[str, Any]] = field(default_factory=list)
    crowd_kept: list[int] = field(default_factory=list)


def polygon_outside_image(seg: Any, height: int, width: int) -> bool:
    """True when any polygon vertex lies outside ``[0, width] x [0, height]``."""
    if not isinstance(seg, list):
        return False
    xy = np.concatenate([np.asarray(p, dtype=np.float64) for p in seg]).reshape(-1, 2)
    return bool((xy < 0).any() or (xy[:, 0] > width).any() or (xy[:, 1] > height).any())


def round_ring(ring: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``(normalised, pixel)``: the ring normalised and rounded as written, and that rounding back in pixels."""
    scale = np.array([width, height], dtype=np.float64)
    normalised = np.round(np.asarray(ring, dtype=np.float64) / scale, COORD_DECIMALS)
    return normalised, normalised * scale


def ring_iou(ring_px: np.ndarray, source_rle: dict[str, Any], height: int, width: int) -> float:
    """IoU between pycocotools' rasterisation of a ring and a source RLE of the same size."""
    return float(mask_utils.iou([ring_to_rle(ring_px, height, width)], [source_rle], [0])[0][0])


def convert_instance(
    seg: Any,
    height: int,
    width: int,
    max_vertices: int | None = ULTRALYTICS_MAX_VERTICES,
    keep_source_polygons: bool = True,
) -> InstanceRing | None:
    """Convert one COCO segmentation to the most faithful single ring; ``None`` for a zero-area instance.

    Raises ``ValueError`` for a malformed segmentation (the caller adds file and record).
    """
    kind = check_segmentation(seg, height, width)
    rle = to_compressed_rle(seg, height, width)
    crop, x0, y0, _, _ = decode_rle_crop(rle)
    area = int(crop.sum())
    if area == 0:
        return None
    if kind == "polygon" and keep_source_polygons:
        parts = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in seg]
        parts = [np.clip(p, 0, [width, height]) for p in parts]
        candidate = bridge_all(parts)
        if not max_vertices or len(candidate) <= max_vertices:
            _, written = round_ring(candidate, height, width)
            iou = ring_iou(written, rle, height, width)
            if iou == 1.0:
                return InstanceRing(written, iou, "polygon", 0.0, area)
    ring, tol = crop_to_ring(crop, x0, y0, max_vertices)
    _, written = round_ring(ring, height, width)
    method = "pixel-edge" if tol == 0.0 else "pixel-edge-simplified"
    return InstanceRing(written, ring_iou(written, rle, height, width), method, tol, area)


def format_row(class_index: int, ring_px: np.ndarray, height: int, width: int) -> str:
    """One YOLO-seg label row: class then normalised x y pairs, ``COORD_DECIMALS`` decimals."""
    normalised, _ = round_ring(ring_px, height, width)
    values = normalised.reshape(-1).tolist()
    return f"{class_index} " + (f"%.{COORD_DECIMALS}f " * len(values) % tuple(values)).rstrip()


def _place(src: Path, dst: Path, hardlink: bool) -> None:
    if hardlink:
        try:
            os.link(src, dst)
            return
        except OSError:
            pass
    shutil.copyfile(src, dst)


def _skip(out: _ImageOutcome, job: _ImageJob, ann: CocoAnnotation, reason: str) -> None:
    if job.options.strict:
        raise input_error(job.source, f"{reason} (--strict)", f"annotation id={ann.id}")
    out.skipped.append({"annotation_id": ann.id, "image_id": job.image.id, "reason": reason})


def _convert_image(job: _ImageJob) -> _ImageOutcome:
    """Write the label file(s) and image(s) of one frame; return per-instance records."""
    out = _ImageOutcome()
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


def _write_frame(job: _ImageJob, converted: list, out: _ImageOutcome) -> None:
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


def _write_tiles(job: _ImageJob, converted: list, out: _ImageOutcome) -> None:
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
                    out.skipped.append(
                        {**record, "reason": f"tile sliver ({area} px < {opts.min_tile_area_px})"}
                    )
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


def _image_path(images_dir: Path, image: CocoImage) -> Path:
    """The frame of ``image`` in ``images_dir`` by the rules of :func:`flocshape.convert.interop.resolve_frame`."""
    return resolve_frame(images_dir, image.file_name)[0]


def _group_keys(data: CocoDataset, opts: YoloOptions) -> list[str]:
    pattern = re.compile(opts.group_by) if opts.group_by else None
    keys = []
    for im in data.images:
        try:
            if opts.group_size:
                keys.append(split_mod.block_key(im.file_name, opts.group_size))
            elif pattern is not None:
                keys.append(split_mod.regex_key(im.file_name, pattern))
            elif opts.group_key:
                keys.append(split_mod.field_key(im.record, opts.group_key))
            else:
                keys.append(f"image{im.id}")
        except ValueError as exc:
            raise input_error(data.source, str(exc), f"image id={im.id}") from exc
    return keys


def _check_out_dir(out_dir: Path, inputs: Sequence[Path]) -> None:
    """Refuse to replace a folder that is not an earlier coco2yolo output, or one holding an input."""
    out_dir = out_dir.absolute()
    for p in inputs:
        p = p.absolute()
        if p == out_dir or out_dir in p.parents:
            raise input_error(out_dir, f"output folder contains the input {p}")
    if out_dir.exists():
        manifest = out_dir / "manifest.json"
        if not manifest.is_file() or f'"tool": "{TOOL}"' not in manifest.read_text(
            encoding="utf-8", errors="replace"
        ):
            raise input_error(
                out_dir, "exists and is not a coco2yolo output; remove it or choose another --out"
            )


def fidelity_summary(rows: Sequence[dict[str, Any]], worst: int = 10) -> dict[str, Any]:
    """Mean, 1st percentile and minimum IoU over written rows, method counts and the worst rows."""
    if not rows:
        return {"instances": 0}
    ious = np.array([r["iou"] for r in rows], dtype=np.float64)
    order = np.argsort(ious, kind="stable")[:worst]
    return {
        "rasteriser": "pycocotools polygon fill of the written (rounded) coordinates vs the source mask",
        "instances": int(ious.size),
        "iou_mean": float(ious.mean()),
        "iou_p1": float(np.percentile(ious, 1)),
        "iou_min": float(ious.min()),
        "exact": int((ious == 1.0).sum()),
        "below_0_99": int((ious < 0.99).sum()),
        "methods": dict(Counter(r["method"] for r in rows)),
        "max_vertices_written": int(max(r["vertices"] for r in rows)),
        "worst": [rows[int(i)] for i in order if ious[int(i)] < 1.0],
    }


def convert_coco_to_yolo(
    json_path: str | os.PathLike[str],
    images_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    options: YoloOptions | None = None,
) -> dict[str, Any]:
    """Convert a COCO instances file plus its images folder to an Ultralytics dataset at ``out_dir``.

    Everything is built in a temporary sibling folder and renamed into place at the end, so an error
    leaves no output. Returns the manifest (also written to ``out_dir/manifest.json``).
    """
    opts = options or YoloOptions()
    json_path, images_dir, out_dir = Path(json_path), Path(images_dir), Path(out_dir).absolute()
    if not images_dir.is_dir():
        raise input_error(images_dir, "images folder not found")
    _check_out_dir(out_dir, [json_path, images_dir])
    data = load_coco(json_path)
    resolved = [resolve_frame(images_dir, im.file_name) for im in data.images]
    sizes = [
        check_image_file(path, im, data.source) for im, (path, _) in zip(data.images, resolved, strict=True)
    ]
    check_unambiguous(
        [(im.id, im.file_name, p) for im, (p, _) in zip(data.images, resolved, strict=True)], data.source
    )
    stems: dict[str, int] = {}
    for im in data.images:
        stem = Path(frame_basename(im.file_name)).stem
        if stem in stems:
            raise input_error(
                data.source,
                f"file name stem {stem!r} also used by image id={stems[stem]}",
                f"image id={im.id}",
            )
        stems[stem] = im.id
    size_of = {im.id: hw for im, hw in zip(data.images, sizes, strict=True)}
    for ann in data.annotations:  # RLE sizes again, now that every image size is known
        try:
            check_segmentation(ann.segmentation, *size_of[ann.image_id])
        except ValueError as exc:
            raise input_error(data.source, str(exc), f"annotation id={ann.id}") from exc
    keys = _group_keys(data, opts)
    try:
        is_val = split_mod.group_split(keys, opts.val_frac, opts.seed)
    except ValueError as exc:
        raise input_error(data.source, str(exc)) from exc
    class_of = {c["id"]: i for i, c in enumerate(data.categories)}
    by_image = data.annotations_by_image()
    with atomic_dir(out_dir) as tmp:
        for sub in ("images/train", "labels/train") + (
            ("images/val", "labels/val") if opts.val_frac > 0 else ()
        ):
            (tmp / sub).mkdir(parents=True, exist_ok=True)
        jobs = [
            _ImageJob(
                im,
                h,
                w,
                _image_path(images_dir, im),
                "val" if v else "train",
                [(a, class_of[a.category_id]) for a in by_image[im.id]],
                opts,
                tmp,
                data.source,
            )
            for im, (h, w), v in zip(data.images, sizes, is_val, strict=True)
        ]
        outcomes = _run_jobs(jobs, opts.workers)
        manifest = _build_manifest(data, json_path, images_dir, opts, jobs, outcomes, keys, is_val)
        manifest["frame_names"] = {r: sum(1 for _, rule in resolved if rule == r) for r in MATCH_RULES}
        _write_data_yaml(tmp, out_dir, data, opts)
        write_manifest(tmp, manifest)
    return manifest


def _run_jobs(jobs: list[_ImageJob], workers: int) -> list[_ImageOutcome]:
    if workers <= 1 or len(jobs) < 2:
        return [_convert_image(j) for j in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_convert_image, jobs, chunksize=max(1, len(jobs) // (8 * workers))))


def _write_data_yaml(tmp: Path, out_dir: Path, data: CocoDataset, opts: YoloOptions) -> None:
    doc = {
        "path": str(out_dir),
        "train": "images/train",
        "val": "images/val" if opts.val_frac > 0 else "images/train",
        "names": {i: c["name"] for i, c in enumerate(data.categories)},
        "coco_category_ids": {i: c["id"] for i, c in enumerate(data.categories)},
    }
    header = "# Ultralytics YOLO-seg dataset written by convert/coco2yolo.py; class index -> COCO category id in coco_category_ids\n"
    atomic_write_text(tmp / "data.yaml", header + yaml.safe_dump(doc, sort_keys=False))


def _build_manifest(
    data: CocoDataset,
    json_path: Path,
    images_dir: Path,
    opts: YoloOptions,
    jobs: list[_ImageJob],
    outcomes: list[_ImageOutcome],
    keys: list[str],
    is_val: list[bool],
) -> dict[str, Any]:
    rows = [r for o in outcomes for r in o.rows]
    skipped = [s for o in outcomes for s in o.skipped]
    clipped = [c for o in outcomes for c in o.clipped]
    val_groups = sorted({k for k, v in zip(keys, is_val, strict=True) if v})
    train_groups = sorted({k for k, v in zip(keys, is_val, strict=True) if not v})
    counts = {
        "images": len(data.images),
        "images_train": sum(1 for v in is_val if not v),
        "images_val": sum(1 for v in is_val if v),
        "annotations": len(data.annotations),
        "rows_written": len(rows),
        "skipped_iscrowd": sum(1 for s in skipped if s["reason"] == "iscrowd"),
        "iscrowd_kept": sum(len(o.crowd_kept) for o in outcomes),
        "skipped_zero_area": sum(1 for s in skipped if s["reason"] == "zero area"),
        "dropped_tile_slivers": sum(1 for s in skipped if s["reason"].startswith("tile sliver")),
        "clipped_to_image": len(clipped),
    }
    if opts.tile_px:
        counts["tiles"] = sum(len(o.tiles) for o in outcomes)
    return build_manifest(
        TOOL,
        {k: v for k, v in asdict(opts).items()},
        inputs={
            "json": describe_input(json_path),
            "images": {"path": str(images_dir.absolute()), "kind": "dir"},
        },
        counts=counts,
        split={
            "method": "group-size"
            if opts.group_size
            else "group-by"
            if opts.group_by
            else "group-key"
            if opts.group_key
            else "per-image",
            "val_is_train": opts.val_frac == 0,
            "groups_train": len(train_groups),
            "groups_val": len(val_groups),
            "val_groups": val_groups,
            "val_image_ids": [j.image.id for j, v in zip(jobs, is_val, strict=True) if v],
        },
        class_map=[
            {"class_index": i, "category_id": c["id"], "name": c["name"]}
            for i, c in enumerate(data.categories)
        ],
        fidelity=fidelity_summary(rows),
        skipped=skipped,
        clipped_annotation_ids=clipped,
        tiles=[t for o in outcomes for t in o.tiles],
    )


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``convert/coco2yolo.py``."""
    ap = argparse.ArgumentParser(
        prog="coco2yolo.py", description="COCO instances -> Ultralytics YOLO-seg dataset."
    )
    ap.add_argument("--json", required=True, type=Path, help="COCO instances file (polygons and/or RLE)")
    ap.add_argument("--images", required=True, type=Path, help="folder with the images named by file_name")
    ap.add_argument("--out", required=True, type=Path, help="output dataset folder (replaced atomically)")
    ap.add_argument(
        "--val-frac",
        type=float,
        default=0.2,
        help="fraction of images for val; 0 = val is train (default 0.2)",
    )
    grp = ap.add_mutually_exclusive_group()
    grp.add_argument(
        "--group-size",
        type=int,
        help="blocks of N consecutive frames: (frame-1)//N from the file name digits",
    )
    grp.add_argument(
        "--group-by", help="regex on file_name; first capture group (or whole match) = group key"
    )
    grp.add_argument("--group-key", help="image record field used as group key (e.g. doi)")
    ap.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    ap.add_argument("--tile", type=int, help="cut frames into TILE x TILE px tiles (native resolution, PNG)")
    ap.add_argument("--overlap", type=float, default=0.2, help="tile overlap fraction (default 0.2)")
    ap.add_argument(
        "--min-tile-area", type=int, default=20, help="drop clipped instances below this many px (default 20)"
    )
    ap.add_argument(
        "--max-vertices",
        type=int,
        default=ULTRALYTICS_MAX_VERTICES,
        help="vertex budget per row (Ultralytics resamples to 1000 points); 0 = unlimited",
    )
    ap.add_argument("--no-source-polygons", action="store_true", help="always write pixel-edge outlines")
    ap.add_argument("--hardlink", action="store_true", help="hard-link images instead of copying them")
    ap.add_argument(
        "--workers",
        type=int,
        default=min(os.cpu_count() or 1, 8),
        help="processes (default: the CPU count, at most 8; output is identical for any value)",
    )
    ap.add_argument(
        "--strict", action="store_true", help="iscrowd, zero-area and out-of-image instances are errors"
    )
    ap.add_argument(
        "--iscrowd",
        choices=CROWD_POLICIES,
        default="auto",
        help="iscrowd=1 annotations: auto = keep those with an 'attributes' object (CVAT's masks), skip the "
        "others (COCO crowd regions); keep; skip (default auto)",
    )
    return ap


def options_from_args(args: argparse.Namespace) -> YoloOptions:
    """``YoloOptions`` from parsed arguments (range checks raise ``InputError``)."""
    if not 0.0 <= args.val_frac < 1.0:
        raise input_error("--val-frac", f"must be in [0, 1), got {args.val_frac}")
    if args.group_size is not None and args.group_size < 1:
        raise input_error("--group-size", f"must be >= 1, got {args.group_size}")
    if args.group_by is not None:
        try:
            re.compile(args.group_by)
        except re.error as exc:
            raise input_error("--group-by", f"invalid regular expression ({exc})") from exc
    if args.tile is not None and args.tile < 32:
        raise input_error("--tile", f"must be >= 32 px, got {args.tile}")
    if not 0.0 <= args.overlap < 1.0:
        raise input_error("--overlap", f"must be in [0, 1), got {args.overlap}")
    return replace(
        YoloOptions(),
        val_frac=args.val_frac,
        group_size=args.group_size,
        group_by=args.group_by,
        group_key=args.group_key,
        seed=args.seed,
        tile_px=args.tile,
        overlap=args.overlap,
        min_tile_area_px=args.min_tile_area,
        strict=args.strict,
        max_vertices=args.max_vertices,
        keep_source_polygons=not args.no_source_polygons,
        hardlink=args.hardlink,
        workers=max(1, args.workers),
        iscrowd=args.iscrowd,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point of ``convert/coco2yolo.py``."""
    args = build_parser().parse_args(argv)
    manifest = convert_coco_to_yolo(args.json, args.images, args.out, options_from_args(args))
    c, f = manifest["counts"], manifest["fidelity"]
    msg = (
        f"wrote {args.out}: {c['images_train']} train / {c['images_val']} val images, {c['rows_written']} rows, "
        f"{c['skipped_iscrowd']} iscrowd + {c['skipped_zero_area']} zero-area skipped, {c['clipped_to_image']} clipped"
    )
    if c["iscrowd_kept"]:
        msg += f", {c['iscrowd_kept']} iscrowd masks kept"
    if f.get("instances"):
        msg += f"; IoU mean {f['iou_mean']:.5f} p1 {f['iou_p1']:.5f} min {f['iou_min']:.5f}"
    print(msg)
    return 0
