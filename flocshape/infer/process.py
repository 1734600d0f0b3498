"""One frame of a predict run: network (whole frame or tiles), encoding, post-processing, mask refinement,
measurement and overlay, in that order (:func:`process_frame`).

A frame's predictions are submission records (``image_id``, ``category_id`` = class index + 1, ``bbox`` = the
mask's bounding box ``[x, y, w, h]`` in px, ``score`` rounded to 5 decimals, ``segmentation`` as compressed RLE at
the frame's resolution), highest score first; its particle rows come from
:func:`flocshape.shape.measure.measure_instances` on the grey frame. Timings are in seconds.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from flocshape.infer.engine import FrameTimings, Instance, Segmenter
from flocshape.infer.frames import read_frame_and_digest
from flocshape.infer.overlays import write_overlay
from flocshape.infer.protomask import rle_from_crop
from flocshape.infer.refine import RefineSettings, refine_crops
from flocshape.infer.settings import PredictOptions
from flocshape.infer.video import add_video_fields
from flocshape.score.postprocess import GRID_KEYS, MEASURE_KEY, filter_predictions
from flocshape.shape.measure import measure_instances


def predict_frame(
    segmenter: Segmenter, image_bgr: np.ndarray, options: PredictOptions, timings: FrameTimings
) -> list[Instance]:
    """Instances of one frame, whole-frame or tiled."""
    if options.tile_px:
        from flocshape.infer.tiling import tiled_instances

        return tiled_instances(segmenter, image_bgr, options.tile_px, options.overlap, timings=timings)
    return segmenter.instances(image_bgr, timings)


def process_frame(
    src: Path,
    image_id: int,
    segmenter: Segmenter,
    options: PredictOptions,
    postproc: dict[str, Any] | None,
    overlays_dir: Path | None,
    source_label: str,
    refine: RefineSettings | None = None,
) -> tuple[dict[str, Any], dict[str, float]]:
    """Predict, encode, post-process, (optionally) refine, measure and draw one frame; returns its journal record."""
    t0 = time.perf_counter()
    image, digest = read_frame_and_digest(
        src
    )  # the hash of the bytes decoded: a later change is seen on --resume
    t_read = time.perf_counter() - t0
    if image is None:
        failed = {"file_name": src.name, "image_id": image_id, "status": "failed", "error": "cannot decode image",
                  "sha256": digest}  # fmt: skip
        return add_video_fields(failed, [], src), {}
    timings = FrameTimings()
    instances = predict_frame(segmenter, image, options, timings)
    t1 = time.perf_counter()
    predictions = [instance_to_prediction(inst, image_id) for inst in instances]
    for k, pred in enumerate(predictions):
        pred["_k"] = k
    predictions = _apply_postproc(predictions, postproc)
    kept = [instances[p["_k"]] for p in predictions if "_k" in p]
    for pred in predictions:
        pred.pop("_k", None)
    t_refine = time.perf_counter()
    if refine is not None:
        kept = _refine(image, kept, refine)
        predictions = [instance_to_prediction(inst, image_id) for inst in kept]
    t2 = time.perf_counter()
    particles = _measure(predictions, image, image_id, src.name, options.um_per_px, source_label)
    flag_low_score(particles, (postproc or {}).get(MEASURE_KEY))
    t3 = time.perf_counter()
    if overlays_dir is not None:
        write_overlay(overlays_dir, src.stem, image, kept)
    t4 = time.perf_counter()
    frame_timings = {
        "read_s": t_read,
        "network_s": timings.network_s,
        "masks_s": timings.masks_s,
        "encode_s": t_refine - t1,
        "refine_s": t2 - t_refine,
        "measure_s": t3 - t2,
        "overlay_s": t4 - t3,
    }
    record = {"file_name": src.name, "image_id": image_id, "status": "ok", "sha256": digest}
    record["predictions"] = predictions
    record["particles"] = particles
    return add_video_fields(record, particles, src), frame_timings


def instance_to_prediction(inst: Instance, image_id: int) -> dict[str, Any]:
    """One submission record (contract 2); ``bbox`` is the mask's bounding box ``[x, y, w, h]`` in px."""
    rle = rle_from_crop(inst.crop)
    h, w = inst.crop.mask.shape
    return {
        "image_id": int(image_id),
        "category_id": inst.class_index + 1,
        "bbox": [float(inst.crop.x0), float(inst.crop.y0), float(w), float(h)],
        "score": round(float(inst.score), 5),
        "segmentation": rle,
    }


def _measure(
    predictions: list[dict[str, Any]],
    image_bgr: np.ndarray,
    image_id: int,
    file_name: str,
    um_per_px: float | None,
    source: str,
) -> list[dict[str, Any]]:
    """Particle rows of one frame via :func:`flocshape.shape.measure.measure_instances` (JSON-ready dicts)."""
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    table = measure_instances(
        [p["segmentation"] for p in predictions],
        grey,
        image_id=image_id,
        file_name=file_name,
        instance_ids=list(range(len(predictions))),
        scores=[p["score"] for p in predictions],
        um_per_px=um_per_px,
        source=source,
    )
    return json.loads(table.to_json(orient="records", double_precision=15)) if len(table) else []


def flag_low_score(rows: list[dict[str, Any]], measure_min_score: float | None) -> None:
    """Set ``low_score`` on particle rows in place: ``score < measure_min_score`` (all False without one)."""
    for row in rows:
        row["low_score"] = measure_min_score is not None and float(row["score"]) < measure_min_score


def _refine(image_bgr: np.ndarray, instances: list[Instance], settings: RefineSettings) -> list[Instance]:
    """The instances with their masks refined against the frame (:mod:`flocshape.infer.refine`)."""
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    crops = refine_crops(grey, [inst.crop for inst in instances], settings)
    return [replace(inst, crop=crop) for inst, crop in zip(instances, crops, strict=True)]


def _apply_postproc(
    predictions: list[dict[str, Any]], postproc: dict[str, Any] | None
) -> list[dict[str, Any]]:
    if not postproc:
        return predictions
    return list(filter_predictions(predictions, **{k: v for k, v in postproc.items() if k in GRID_KEYS}))
