"""Post-processing tuned for the hackathon metric: score / area thresholds and mask NMS, plus a grid sweep.

Why it matters (see ``docs/score.md``): under the hackathon "F1 with IoU" a prediction that touches no GT
costs nothing, while a second prediction on the same GT (IoU > th) costs a full false positive, and any
overlap, however small, makes a GT "matched". So duplicates must go (mask NMS), while weak but unique
predictions are cheap to keep.

Conventions (the signature and semantics of :func:`filter_predictions` are a contract with
``infer/predict.py --postproc``):

* ``min_score``: keep a prediction when ``score >= min_score``;
* ``min_area_px``: keep it when its mask pixel count ``>= min_area_px``;
* ``mask_nms_iou``: after the two filters, greedy NMS per image in descending score (ties: input order);
  a prediction is dropped when its overlap with an already kept one is ``> mask_nms_iou``; ``None`` = off;
* ``nms_metric``: ``"iou"`` (intersection / union) or ``"ios"`` (intersection / smaller mask area).

A second threshold, ``measure_min_score`` (:func:`measure_row`), is chosen from the same sweep for the
*measurements*: the hackathon metric barely charges a prediction that touches no labelled particle, so its best
setting keeps weak detections (fragments, out-of-focus blobs) that would enter size, shape and growth statistics.
The measurement threshold is the ``min_score`` with the highest strict F1 at IoU >= 0.5 (every unmatched
prediction counts), at the area and NMS settings chosen for the hackathon F1. ``infer/predict.py`` keeps all
detections in ``submission.json`` and flags those below it ``low_score`` in ``particles.parquet``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from flocshape.errors import input_error
from flocshape.masks import rle_areas
from flocshape.score.hackathon import ZERO, image_counts, summarize
from flocshape.score.inputs import Prepared, as_prepared
from flocshape.score.rle import iou_matrix
from flocshape.score.strict import match_one_to_one

NMS_METRICS = ("iou", "ios")
NMS_OFF = 1.0  # mask_nms_iou that suppresses nothing (overlap > 1 never happens)
GRID_KEYS = ("min_score", "min_area_px", "mask_nms_iou", "nms_metric")  # = filter_predictions' keywords
MEASURE_KEY = "measure_min_score"  # postproc.json: the measurement threshold (flags, never filters)
DEFAULT_GRID: dict[str, list[Any]] = {
    "min_score": [0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
    "min_area_px": [0, 10, 25, 50, 100],
    "mask_nms_iou": [None, 0.3, 0.5, 0.7],
    "nms_metric": ["iou"],
}
CRITERION = (
    "highest hackathon F1; ties: highest strict F1 (IoU>=0.5), then the earliest grid row "
    "(grid order: min_score, min_area_px, mask_nms_iou, nms_metric as given)"
)
MEASURE_CRITERION = (
    "measure_min_score: the min_score with the highest strict F1 (IoU>=0.5) at the chosen min_area_px, "
    "mask_nms_iou and nms_metric; ties: the lower score"
)


def overlap_matrix(rles: list[dict[str, Any]], metric: str = "iou") -> np.ndarray:
    """Pairwise overlap of masks of one image: IoU, or intersection over the smaller area (``"ios"``)."""
    if metric not in NMS_METRICS:
        raise ValueError(f"nms_metric must be one of {NMS_METRICS}, got {metric!r}")
    iou = iou_matrix(rles, rles)
    if metric == "iou" or not rles:
        return iou
    areas = rle_areas(rles).astype(np.float64)
    inter = np.rint(iou * (areas[:, None] + areas[None, :]) / (1.0 + iou))  # I = IoU (a + b) / (1 + IoU)
    smaller = np.minimum(areas[:, None], areas[None, :])
    return np.divide(inter, smaller, out=np.zeros_like(inter), where=smaller > 0)


def greedy_nms(
    scores: np.ndarray, overlap: np.ndarray | None, candidates: np.ndarray, threshold: float | None
) -> np.ndarray:
    """Boolean keep-mask: among ``candidates`` (bool), greedy by descending score (stable), drop overlap > threshold.

    A candidate is dropped iff its overlap with an already kept, higher-ranked candidate is ``> threshold``.
    """
    if threshold is None or overlap is None:
        return candidates.copy()
    order = np.argsort(-scores, kind="stable")
    order = order[candidates[order]]
    conflict = overlap[np.ix_(order, order)] > threshold  # in rank order
    removed = np.zeros(order.size, dtype=bool)
    kept_positions = []
    for pos in range(order.size):
        if removed[pos]:
            continue
        kept_positions.append(pos)
        removed[pos + 1 :] |= conflict[pos, pos + 1 :]
    keep = np.zeros_like(candidates, dtype=bool)
    keep[order[kept_positions]] = True
    return keep


def _check_params(min_score: float, min_area_px: float, mask_nms_iou: float | None, nms_metric: str) -> None:
    for name, value in (("min_score", min_score), ("min_area_px", min_area_px)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if mask_nms_iou is not None and (isinstance(mask_nms_iou, bool) or not 0.0 <= float(mask_nms_iou) <= 1.0):
        raise ValueError(f"mask_nms_iou must be None or in [0, 1], got {mask_nms_iou!r}")
    if nms_metric not in NMS_METRICS:
        raise ValueError(f"nms_metric must be one of {NMS_METRICS}, got {nms_metric!r}")


def _record_frame(rec: Any, where: str) -> tuple[int, tuple[int, int] | None, tuple[int, int] | None]:
    """``(image_id, RLE size or None, polygon extent (h, w) or None)`` of one prediction record."""
    if not isinstance(rec, dict) or "image_id" not in rec or "segmentation" not in rec:
        raise input_error("<predictions>", "needs 'image_id' and 'segmentation'", where)
    image_id, seg = rec["image_id"], rec["segmentation"]
    if isinstance(image_id, bool) or not isinstance(image_id, int):
        raise input_error("<predictions>", f"'image_id' must be an integer, got {image_id!r}", where)
    try:
        if isinstance(seg, dict) and "size" in seg:
            return image_id, (int(seg["size"][0]), int(seg["size"][1])), None
        if isinstance(seg, list) and seg:
            xy = np.concatenate([np.asarray(p, dtype=float).reshape(-1, 2) for p in seg])
            return image_id, None, (int(np.ceil(xy[:, 1].max())) + 1, int(np.ceil(xy[:, 0].max())) + 1)
    except (TypeError, ValueError, IndexError, OverflowError) as exc:
        raise input_error("<predictions>", f"bad segmentation: {exc}", where) from None
    raise input_error("<predictions>", "segmentation is neither a polygon list nor an RLE dict", where)


def _frames_for(preds: Any, image_sizes: Mapping[int, tuple[int, int]] | None) -> dict[str, Any]:
    """A minimal ground-truth-shaped dict holding the images of ``preds``.

    Image sizes come from ``image_sizes``, else from the first RLE of the image, else (polygon-only images)
    from a frame just large enough to hold all its polygons (IoUs do not depend on the frame size).
    """
    if not isinstance(preds, list):
        raise input_error("<predictions>", "predictions must be a list of result records")
    sizes: dict[int, tuple[int, int]] = {
        int(k): (int(v[0]), int(v[1])) for k, v in (image_sizes or {}).items()
    }
    extent: dict[int, tuple[int, int]] = {}
    for i, rec in enumerate(preds):
        image_id, rle_size, poly_extent = _record_frame(rec, f"prediction {i}")
        if image_id in sizes:
            continue
        if rle_size is not None:
            sizes[image_id] = rle_size
        elif poly_extent is not None:
            h0, w0 = extent.get(image_id, (1, 1))
            extent[image_id] = (max(h0, poly_extent[0]), max(w0, poly_extent[1]))
    sizes.update({k: v for k, v in extent.items() if k not in sizes})
    images = [{"id": k, "height": h, "width": w} for k, (h, w) in sizes.items()]
    return {"images": images, "annotations": [], "categories": [{"id": 1, "name": "any"}]}


def filter_predictions(
    preds: list[dict[str, Any]],
    min_score: float = 0.0,
    min_area_px: float = 0.0,
    mask_nms_iou: float | None = None,
    nms_metric: str = "iou",
    image_sizes: Mapping[int, tuple[int, int]] | None = None,
) -> list[dict[str, Any]]:
    """The predictions that survive the score and area thresholds and per-image mask NMS, in input order.

    Pure: the input list and its records are not modified; the kept records are returned as they are.
    ``image_sizes`` (``image_id -> (height, width)``) is needed only for polygon segmentations whose
    image size is not otherwise known. See the module docstring for the exact conventions.
    """
    _check_params(min_score, min_area_px, mask_nms_iou, nms_metric)
    prepared = as_prepared(_frames_for(preds, image_sizes), preds)
    keep_index: set[int] = set()
    for im in prepared.images:
        if not im.pred_rles:
            continue
        scores = np.asarray(im.pred_scores)
        candidates = (scores >= min_score) & (im.pred_areas_px() >= min_area_px)
        overlap = overlap_matrix(im.pred_rles, nms_metric) if mask_nms_iou is not None else None
        keep = greedy_nms(scores, overlap, candidates, mask_nms_iou)
        keep_index.update(im.pred_indices[j] for j in np.flatnonzero(keep))
    return [rec for i, rec in enumerate(preds) if i in keep_index]


def expand_grid(grid: Mapping[str, Sequence[Any]] | None = None) -> list[dict[str, Any]]:
    """All combinations of a grid (missing keys take the no-op value), in the order of :data:`GRID_KEYS`."""
    grid = dict(grid or DEFAULT_GRID)
    unknown = set(grid) - set(GRID_KEYS)
    if unknown:
        raise ValueError(f"unknown grid keys {sorted(unknown)}; allowed: {list(GRID_KEYS)}")
    noop = {"min_score": [0.0], "min_area_px": [0], "mask_nms_iou": [None], "nms_metric": ["iou"]}
    axes = [list(grid.get(k, noop[k])) for k in GRID_KEYS]
    if any(not axis for axis in axes):
        raise ValueError("every grid axis needs at least one value")
    points = [dict(zip(GRID_KEYS, values, strict=True)) for values in itertools.product(*axes)]
    for p in points:
        _check_params(p["min_score"], p["min_area_px"], p["mask_nms_iou"], p["nms_metric"])
    return points


class _ImageCache:
    """Per-image data computed once for a sweep: IoU with GT, scores, areas, overlap matrices by metric."""

    def __init__(self, im: Any, metrics: Iterable[str]) -> None:
        self.iou = im.iou()
        self.scores = np.asarray(im.pred_scores, dtype=np.float64)
        self.areas = im.pred_areas_px()
        self.overlap = {m: overlap_matrix(im.pred_rles, m) for m in metrics} if im.pred_rles else {}

    def keep(self, point: Mapping[str, Any]) -> np.ndarray:
        candidates = (self.scores >= point["min_score"]) & (self.areas >= point["min_area_px"])
        if point["mask_nms_iou"] is None or not self.scores.size:
            return candidates
        return greedy_nms(self.scores, self.overlap[point["nms_metric"]], candidates, point["mask_nms_iou"])


def _score_point(caches: list[_ImageCache], point: Mapping[str, Any], th: float) -> dict[str, Any]:
    hack = ZERO
    tp = fp = fn = kept = 0
    for cache in caches:
        keep = cache.keep(point)
        sub = cache.iou[:, keep]
        kept += int(keep.sum())
        hack = hack + image_counts(sub, th)
        rows, _ = match_one_to_one(sub, 0.5)
        tp += rows.size
        fp += sub.shape[1] - rows.size
        fn += sub.shape[0] - rows.size
    h = summarize(hack, th)
    strict_f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return {
        **point,
        "hackathon_f1": h["f1"],
        "hackathon_precision": h["precision"],
        "hackathon_recall": h["recall"],
        "hackathon_tp": h["tp"],
        "hackathon_fp": h["fp"],
        "hackathon_fn": h["fn"],
        "strict_f1": strict_f1,
        "strict_tp": tp,
        "strict_fp": fp,
        "strict_fn": fn,
        "n_kept": kept,
    }


def sweep(
    gt_coco: dict[str, Any] | Prepared,
    preds: list[dict[str, Any]] | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    th: float = 0.1,
) -> pd.DataFrame:
    """Score every grid point of :func:`filter_predictions` settings; one row per point, in grid order.

    Columns: the grid keys, ``hackathon_f1`` (+ precision/recall/tp/fp/fn), ``strict_f1`` (IoU >= 0.5,
    + tp/fp/fn), ``n_kept`` and ``best`` (True on exactly one row, chosen by :data:`CRITERION`).
    IoUs and overlaps are computed once; each point only selects columns.
    """
    prepared = as_prepared(gt_coco, preds)
    points = expand_grid(grid)
    metrics = sorted({p["nms_metric"] for p in points if p["mask_nms_iou"] is not None})
    caches = [_ImageCache(im, metrics) for im in prepared.images]
    table = pd.DataFrame([_score_point(caches, p, th) for p in points])
    table["best"] = False
    table.loc[best_row(table), "best"] = True
    return table


def best_row(table: pd.DataFrame) -> int:
    """Index of the best row: highest ``hackathon_f1``, then ``strict_f1``, then the earliest row."""
    order = sorted(
        range(len(table)), key=lambda i: (-table["hackathon_f1"].iat[i], -table["strict_f1"].iat[i], i)
    )
    return int(table.index[order[0]])


def best_params(table: pd.DataFrame) -> dict[str, Any]:
    """The :func:`filter_predictions` keyword arguments of the row marked ``best`` (JSON-ready, all numbers).

    "No NMS" (``None`` in the grid) is written as ``mask_nms_iou = 1.0`` (:data:`NMS_OFF`), which suppresses
    nothing because an overlap never exceeds 1, so consumers can require a number.
    """
    row = table.loc[table["best"]].iloc[0]
    nms = row["mask_nms_iou"]
    return {
        "min_score": float(row["min_score"]),
        "min_area_px": float(row["min_area_px"]),
        "mask_nms_iou": NMS_OFF
        if nms is None or (isinstance(nms, float) and math.isnan(nms))
        else float(nms),
        "nms_metric": str(row["nms_metric"]),
    }


def measure_row(table: pd.DataFrame) -> int:
    """Index of the row that sets ``measure_min_score`` in a :func:`sweep` table (:data:`MEASURE_CRITERION`)."""
    best = table.loc[table["best"]].iloc[0]
    same = np.ones(len(table), dtype=bool)
    for key in ("min_area_px", "mask_nms_iou", "nms_metric"):
        col, value = table[key], best[key]
        same &= col.isna().to_numpy() if pd.isna(value) else (col == value).to_numpy()
    rows = table[same]
    order = sorted(range(len(rows)), key=lambda i: (-rows["strict_f1"].iat[i], rows["min_score"].iat[i]))
    return int(rows.index[order[0]])
