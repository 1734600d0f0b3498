"""``convert/export_labelling.py``: predictions of chosen frames -> a COCO folder a labelling tool imports.

Inputs: a COCO results list (``infer/predict.py``'s ``submission.json``: ``image_id``, ``category_id``,
``segmentation`` as RLE, ``score``), the frames folder, and optionally the images JSON the prediction used
(``--images-json``: ids, file names, sizes; without it a frame's id is its integer file stem, as in
``infer/predict.py``). Frames are ordered by file name, digit runs compared as numbers (``frame_9`` before
``frame_10``), which is the order of a video's frames; ``--frames``, ``--every`` or ``--count`` chooses them.

Output folder (CVAT's "COCO 1.0" dataset layout)::

    OUT/annotations/instances_default.json   images, annotations, categories (flocshape.convert.labelling)
    OUT/images/<frame file name>             the chosen frames, copied byte for byte
    OUT/manifest.json                        inputs (sha256), arguments, counts, per-frame instances, fidelity

``file_name`` is the frame's file name without folders, as CVAT names an uploaded frame. Every frame chosen is
written, with or without predictions. Image ids and category ids are the predictions' own.
"""

from __future__ import annotations

import argparse
import math
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flocshape.convert.coco import CocoImage, check_image_file, check_segmentation
from flocshape.convert.frameset import Frame, frames_from_folder, frames_from_images_json, select_frames
from flocshape.convert.labelling import (
    FORMATS,
    annotation_record,
    coco_document,
    encode_instance,
    image_record,
)
from flocshape.errors import input_error
from flocshape.fsio import atomic_dir, atomic_write_json
from flocshape.manifest import build_manifest, describe_input, write_manifest
from flocshape.masks import to_compressed_rle
from flocshape.records import load_json

TOOL = "export_labelling"
ANNOTATIONS = Path("annotations") / "instances_default.json"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def load_predictions(path: Path) -> list[dict[str, Any]]:
    """The results list, each record checked for ``image_id``, ``category_id`` (>= 1), ``segmentation``, ``score``."""
    preds = load_json(path)
    if not isinstance(preds, list):
        raise input_error(path, f"top level is a {type(preds).__name__}, not a COCO results list")
    for k, rec in enumerate(preds):
        where = f"prediction[{k}]"
        if not isinstance(rec, dict):
            raise input_error(path, "not an object", where)
        if not _is_int(rec.get("image_id")):
            raise input_error(path, f"missing or non-integer 'image_id' ({rec.get('image_id')!r})", where)
        cat = rec.get("category_id")
        if not _is_int(cat) or cat < 1:
            raise input_error(path, f"'category_id' must be an integer >= 1, got {cat!r}", where)
        if rec.get("segmentation") in (None, [], {}):
            raise input_error(path, "missing or empty 'segmentation'", where)
        score = rec.get("score")
        if score is not None and (
            not isinstance(score, int | float) or isinstance(score, bool) or not math.isfinite(score)
        ):
            raise input_error(path, f"'score' must be a finite number, got {score!r}", where)
    return preds


def category_names(ids: set[int], known: dict[int, str], label: str | None) -> dict[int, str]:
    """Names of the category ids: ``--label`` (one category only), else the images JSON's, else ``floc`` for a
    single category and ``class_<id>`` for several."""
    ids = ids or {1}
    if label is not None:
        if not label.strip():
            raise input_error("--label", "empty category name")
        if len(ids) > 1:
            raise input_error("--label", f"names one category, but the predictions hold {sorted(ids)}")
        return {next(iter(ids)): label}
    fallback = (lambda c: "floc") if len(ids) == 1 else (lambda c: f"class_{c}")
    return {c: known.get(c, fallback(c)) for c in sorted(ids)}


def _check_out(out: Path, inputs: Sequence[Path]) -> None:
    """Refuse an output that is, holds or sits in an input, or an existing folder not made by this tool."""
    target = out.resolve()
    for p in inputs:
        src = p.resolve()
        if target == src or target in src.parents or (src.is_dir() and src in target.parents):
            raise input_error(out, f"overlaps the input {p}; choose another --out")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        manifest = out / "manifest.json"
        if not manifest.is_file() or f'"tool": "{TOOL}"' not in manifest.read_text(errors="replace"):
            raise input_error(
                out, f"exists and is not an earlier {TOOL} output; remove it or choose another --out"
            )


@dataclass
class _Written:
    """What :func:`_encode_frames` builds: the COCO records, one row per instance and the counts."""

    images: list[dict[str, Any]] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    per_frame: dict[int, int] = field(default_factory=dict)
    below_min_score: int = 0
    empty: int = 0


def _encode_frames(
    preds: list[dict[str, Any]],
    chosen: list[Frame],
    sizes: dict[int, tuple[int, int]],
    fmt: str,
    min_score: float,
    pred_path: Path,
) -> _Written:
    """Image and annotation records of the chosen frames; annotation ids 1..n in frame, then submission order."""
    by_frame: dict[int, list[tuple[int, dict[str, Any]]]] = {f.image_id: [] for f in chosen}
    for k, rec in enumerate(preds):
        if rec["image_id"] in by_frame:
            by_frame[rec["image_id"]].append((k, rec))
    out = _Written()
    for f in chosen:
        h, w = sizes[f.image_id]
        out.images.append(image_record(f.image_id, f.file_name, h, w, fmt))
        out.per_frame[f.image_id] = 0
        for k, rec in by_frame[f.image_id]:
            score = rec.get("score")
            if score is not None and score < min_score:
                out.below_min_score += 1
                continue
            try:
                check_segmentation(rec["segmentation"], h, w)
                enc = encode_instance(to_compressed_rle(rec["segmentation"], h, w), fmt)
            except ValueError as exc:
                raise input_error(pred_path, str(exc), f"prediction[{k}]") from exc
            if enc is None:
                out.empty += 1
                continue
            ann_id = len(out.annotations) + 1
            out.annotations.append(annotation_record(ann_id, f.image_id, rec["category_id"], enc, score, fmt))
            out.per_frame[f.image_id] += 1
            out.rows.append({"prediction": k, "image_id": f.image_id, "kind": enc.kind, "iou": enc.iou})
    return out


def _known_frames(
    pred_path: Path, preds: list[dict[str, Any]], images_dir: Path, images_json: Path | None
) -> tuple[list[Frame], dict[int, str]]:
    """All frames (ordered) and known category names; every prediction must name one of the frames."""
    if images_json is not None:
        available, names = frames_from_images_json(images_json, images_dir)
    else:
        available, names = frames_from_folder(images_dir), {}
    ids = {f.image_id for f in available}
    for k, rec in enumerate(preds):
        if rec["image_id"] not in ids:
            hint = "" if images_json else " (ids are file stems; pass the --images-json the prediction used)"
            what = f"image_id {rec['image_id']} is not a known frame{hint}"
            raise input_error(pred_path, what, f"prediction[{k}]")
    return available, names


def export_labelling(
    pred_path: Path,
    images_dir: Path,
    out: Path,
    images_json: Path | None = None,
    frames: str | None = None,
    every: int | None = None,
    count: int | None = None,
    fmt: str = "cvat",
    min_score: float = 0.0,
    label: str | None = None,
) -> dict[str, Any]:
    """Write the export folder (module docstring) atomically; return its manifest.

    Category names: see :func:`category_names` (over the category ids of all predictions).
    """
    if fmt not in FORMATS:
        raise input_error("--format", f"must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if not images_dir.is_dir():
        raise input_error(images_dir, "images folder not found")
    _check_out(out, [p for p in (pred_path, images_json, images_dir) if p is not None])
    preds = load_predictions(pred_path)
    available, known_names = _known_frames(pred_path, preds, images_dir, images_json)
    chosen = select_frames(available, frames, every, count)
    source = images_json or images_dir
    names_seen: dict[str, int] = {}
    for f in chosen:
        if f.file_name in names_seen:
            what = f"file name {f.file_name} also used by image id={names_seen[f.file_name]}"
            raise input_error(source, what, f"image id={f.image_id}")
        names_seen[f.file_name] = f.image_id
    sizes = {
        f.image_id: check_image_file(
            f.path, CocoImage(f.image_id, f.file_name, f.height, f.width, {}), str(source)
        )
        for f in chosen
    }
    written = _encode_frames(preds, chosen, sizes, fmt, min_score, pred_path)
    categories = category_names({r["category_id"] for r in preds}, known_names, label)
    doc = coco_document(written.images, written.annotations, categories, fmt, f"{TOOL} of {pred_path.name}")
    ious = [r["iou"] for r in written.rows]
    manifest = build_manifest(
        TOOL,
        {
            "pred": str(pred_path),
            "images": str(images_dir),
            "images_json": str(images_json) if images_json else None,
            "out": str(out),
            "frames": frames,
            "every": every,
            "count": count,
            "format": fmt,
            "min_score": min_score,
            "label": label,
        },
        inputs={
            "pred": describe_input(pred_path),
            "images": {"path": str(images_dir.absolute()), "kind": "dir"},
            **({"images_json": describe_input(images_json)} if images_json else {}),
        },
        format=fmt,
        annotations_file=str(ANNOTATIONS),
        counts={
            "frames_available": len(available),
            "frames": len(chosen),
            "instances": len(written.annotations),
            "kinds": dict(Counter(r["kind"] for r in written.rows)),
            "below_min_score": written.below_min_score,
            "empty_masks": written.empty,
        },
        categories=[{"id": c, "name": n} for c, n in categories.items()],
        frames=[
            {
                "image_id": f.image_id,
                "file_name": f.file_name,
                "source": str(f.path.absolute()),
                "instances": written.per_frame[f.image_id],
            }
            for f in chosen
        ],
        fidelity={
            "rasteriser": "pycocotools fill of the written segmentation vs the predicted mask",
            "instances": len(ious),
            "iou_min": min(ious) if ious else None,
            "exact": sum(1 for v in ious if v == 1.0),
            "not_exact": [r for r in written.rows if r["iou"] != 1.0][:10],
        },
    )
    with atomic_dir(out) as tmp:
        (tmp / "images").mkdir()
        for f in chosen:
            shutil.copyfile(f.path, tmp / "images" / f.file_name)
        atomic_write_json(tmp / ANNOTATIONS, doc, indent=None)
        write_manifest(tmp, manifest)
    return manifest


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``convert/export_labelling.py``."""
    ap = argparse.ArgumentParser(
        prog="export_labelling.py",
        description="Predictions of chosen frames -> COCO pre-annotations for CVAT (COCO 1.0) or Label Studio.",
    )
    ap.add_argument(
        "--pred", required=True, type=Path, help="COCO results list (infer/predict.py submission.json)"
    )
    ap.add_argument("--images", required=True, type=Path, help="folder with the predicted frames")
    ap.add_argument("--images-json", type=Path, help="COCO file with the frames' ids, file names and sizes")
    pick = ap.add_mutually_exclusive_group(required=True)
    pick.add_argument("--frames", help="comma list of frame file names or stems")
    pick.add_argument("--every", type=int, help="every N-th frame from the first (file-name order)")
    pick.add_argument("--count", type=int, help="K frames spread evenly from the first to the last")
    ap.add_argument(
        "--out", required=True, type=Path, help="output folder (must not exist, or an earlier export)"
    )
    ap.add_argument(
        "--format", choices=FORMATS, default="cvat", help="cvat (COCO 1.0, default) or labelstudio"
    )
    ap.add_argument(
        "--min-score", type=float, default=0.0, help="leave out predictions scored below (default 0)"
    )
    ap.add_argument("--label", help="category name (one category; default: the images JSON's, else floc)")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point of ``convert/export_labelling.py``."""
    args = build_parser().parse_args(argv)
    if not math.isfinite(args.min_score):
        raise input_error("--min-score", f"must be a finite number, got {args.min_score}")
    man = export_labelling(
        args.pred,
        args.images,
        args.out,
        args.images_json,
        args.frames,
        args.every,
        args.count,
        args.format,
        args.min_score,
        args.label,
    )
    c = man["counts"]
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(c["kinds"].items())) or "none"
    fid = man["fidelity"]
    exact = f"{fid['exact']} of {fid['instances']} pixel-exact"
    print(
        f"wrote {args.out}: {c['frames']} frames, {c['instances']} instances ({kinds}; {exact}) for "
        f"{args.format}; annotations in {args.out / ANNOTATIONS}"
    )
    return 0
