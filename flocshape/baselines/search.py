"""A small parameter search for the watershed baseline on a validation split (never on test).

Coordinate descent: the search walks through *stages*, each a dict of parameter lists; every combination of a
stage is tried with all other parameters at the best values found so far, and the stage's best (by the
hackathon F1) is kept. Frames are decoded once and held in memory as grey images; scoring is in-process with
:mod:`flocshape.score` (the same code as ``infer/score.py``).
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from flocshape.baselines.watershed_params import WatershedParams
from flocshape.baselines.watershed_segment import frame_result
from flocshape.coco import subset_coco  # noqa: F401 - importable from here, for the search script and tests
from flocshape.errors import input_error
from flocshape.score import hackathon_f1, prepare, score_all, strict_metrics


@dataclass(frozen=True)
class GreyFrame:
    """One decoded frame: ``grey`` (H, W) uint8, its COCO ``image_id`` and ``file_name`` (base name)."""

    grey: np.ndarray
    image_id: int
    file_name: str


def load_frames(paths: Sequence[Path], coco: dict[str, Any]) -> list[GreyFrame]:
    """Grey frames of ``paths`` with their image ids from ``coco['images']`` (by base file name)."""
    ids = {Path(str(im["file_name"])).name: int(im["id"]) for im in coco["images"]}
    frames = []
    for path in paths:
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if grey is None:
            raise input_error(path, "cannot decode image")
        if path.name not in ids:
            raise input_error(path, "no image entry for this frame in the ground truth", record=path.name)
        frames.append(GreyFrame(grey, ids[path.name], path.name))
    return frames


def predict_frames(
    frames: Sequence[GreyFrame], params: WatershedParams
) -> tuple[list[dict[str, Any]], float]:
    """Submission records of all ``frames`` (no particle table) and the mean seconds per frame."""
    t0 = time.perf_counter()
    preds: list[dict[str, Any]] = []
    for f in frames:
        preds.extend(frame_result(f.grey, params, f.image_id, f.file_name, measure_shapes=False).predictions)
    return preds, (time.perf_counter() - t0) / max(len(frames), 1)


def evaluate(
    frames: Sequence[GreyFrame], gt: dict[str, Any], params: WatershedParams, with_ap: bool = False
) -> dict[str, Any]:
    """Headline scores of ``params`` on ``frames`` against ``gt`` (already restricted to those frames).

    Keys: ``hackathon_f1``, ``strict_f1``, ``mean_matched_iou``, ``predictions``, ``s_per_frame`` and, with
    ``with_ap``, ``AP`` and ``AP50`` (COCO mask AP, maxDets 1000).
    """
    preds, s_per_frame = predict_frames(frames, params)
    prepared = prepare(gt, preds)
    if with_ap:
        full = score_all(prepared)
        hack, strict, coco = full["hackathon_f1"], full["strict"], full["coco"]
    else:
        hack, strict, coco = hackathon_f1(prepared), strict_metrics(prepared), None
    row = {
        "hackathon_f1": round(hack["f1"], 4),
        "strict_f1": round(strict["f1"], 4),
        "mean_matched_iou": round(strict["mean_iou"], 4) if strict["mean_iou"] is not None else None,
        "predictions": len(preds),
        "s_per_frame": round(s_per_frame, 3),
    }
    if coco is not None:
        row["AP"], row["AP50"] = coco["AP"], coco["AP50"]
    return row


Stage = dict[str, list[Any]] | list[dict[str, Any]]


def stage_settings(stage: Stage) -> list[dict[str, Any]]:
    """The overrides of one stage: every combination of a dict of lists, or a list of explicit dicts."""
    if isinstance(stage, list):
        return [dict(s) for s in stage]
    keys = list(stage)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(stage[k] for k in keys))]


def stage_candidates(base: WatershedParams, stage: Stage) -> list[tuple[dict[str, Any], WatershedParams]]:
    """``(overrides, params)`` of each setting of ``stage`` applied to ``base`` (invalid ones are skipped)."""
    out = []
    for overrides in stage_settings(stage):
        candidate = dataclasses.replace(base, **overrides)
        if not candidate.problems():
            out.append((overrides, candidate))
    return out


def coordinate_search(
    frames: Sequence[GreyFrame],
    gt: dict[str, Any],
    start: WatershedParams,
    stages: Sequence[Stage],
    log: Any = print,
) -> tuple[WatershedParams, list[dict[str, Any]]]:
    """Best parameters by hackathon F1 and one result row per setting tried (``stage``, changed keys, scores).

    Ties keep the earlier setting, so the outcome is deterministic.
    """
    best, best_f1 = start, -1.0
    rows: list[dict[str, Any]] = []
    seen: dict[WatershedParams, dict[str, Any]] = {}
    for index, stage in enumerate(stages):
        for overrides, candidate in stage_candidates(best, stage):
            result = seen.get(candidate) or evaluate(frames, gt, candidate)
            seen[candidate] = result
            row = {"stage": index, "setting": overrides, **result}
            rows.append(row)
            log(row)
            if result["hackathon_f1"] > best_f1:
                best, best_f1 = candidate, result["hackathon_f1"]
    return best, rows


def params_json(params: WatershedParams) -> dict[str, Any]:
    """``params`` as a JSON-ready dict that :func:`flocshape.baselines.watershed.params_from_dict` reads back."""
    return dataclasses.asdict(params)
