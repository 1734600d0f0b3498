"""COCO instances file + images folder -> Ultralytics YOLO-seg dataset folder, built atomically.

:func:`convert_coco_to_yolo` validates the whole input first (frames found, sizes, RLE sizes, unique file-name
stems, group keys), splits by group (:mod:`flocshape.convert.split`), converts every frame
(:mod:`flocshape.convert.yolo_frames`) into a temporary sibling folder and renames it into place with its
``data.yaml`` and ``manifest.json`` (counts, split, class map, fidelity, skipped and clipped instances, tiles).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from flocshape.convert import split as split_mod
from flocshape.convert.coco import CocoDataset, check_image_file, check_segmentation, load_coco
from flocshape.convert.interop import MATCH_RULES, check_unambiguous, frame_basename, resolve_frame
from flocshape.convert.yolo_frames import ImageJob, ImageOutcome, YoloOptions, run_jobs
from flocshape.convert.yolo_rows import fidelity_summary
from flocshape.errors import input_error
from flocshape.fsio import atomic_dir, atomic_write_text
from flocshape.manifest import build_manifest, describe_input, write_manifest

TOOL = "coco2yolo"


def _check_frames(
    data: CocoDataset, images_dir: Path
) -> tuple[list[tuple[Path, str]], list[tuple[int, int]]]:
    """Every frame found (``(path, matching rule)``, :func:`flocshape.convert.interop.resolve_frame`) and its
    ``(height, width)``, checked: readable, unambiguous, unique file-name stems, RLE sizes that fit."""
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
    return resolved, sizes


def _group_keys(data: CocoDataset, opts: YoloOptions) -> list[str]:
    """The split group of every image (block, regex capture, record field, or the image itself)."""
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
    resolved, sizes = _check_frames(data, images_dir)
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
            ImageJob(
                im,
                h,
                w,
                path,
                "val" if v else "train",
                [(a, class_of[a.category_id]) for a in by_image[im.id]],
                opts,
                tmp,
                data.source,
            )
            for im, (path, _), (h, w), v in zip(data.images, resolved, sizes, is_val, strict=True)
        ]
        outcomes = run_jobs(jobs, opts.workers)
        manifest = _build_manifest(data, json_path, images_dir, opts, jobs, outcomes, keys, is_val)
        manifest["frame_names"] = {r: sum(1 for _, rule in resolved if rule == r) for r in MATCH_RULES}
        _write_data_yaml(tmp, out_dir, data, opts)
        write_manifest(tmp, manifest)
    return manifest


def _write_data_yaml(tmp: Path, out_dir: Path, data: CocoDataset, opts: YoloOptions) -> None:
    """The dataset's ``data.yaml`` (absolute ``path``: the final folder, not the temporary one)."""
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
    jobs: list[ImageJob],
    outcomes: list[ImageOutcome],
    keys: list[str],
    is_val: list[bool],
) -> dict[str, Any]:
    """The dataset's manifest: counts, split, class map, fidelity, skipped / clipped instances, tiles."""
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
