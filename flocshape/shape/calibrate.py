"""Calibration of predicted-mask descriptors against labelled masks (classical calibration, one curve per descriptor).

Why: a segmentation model measures with a systematic, shape-dependent bias (measured in BENCHMARKS.md: masks of
elongated particles come out rounder, masks bulge by about a pixel). As with any instrument, the bias can be
measured on reference particles whose true outline is known (labelled validation frames, never the frames being
analysed) and removed. The particle stays the network's; only its numbers are corrected.

Conventions
-----------
* **Pairs**: a predicted instance and a labelled one are the same particle when their mask IoU is ``>= iou_min``
  (default 0.5) in the one-to-one assignment of ``infer/score.py``'s strict metric
  (:func:`flocshape.score.strict.match_one_to_one`, most pairs then most IoU). Only pairs where neither side touches
  the frame border or is ``too_small`` are used (the rows that enter size and shape statistics).
* **Curve** (per descriptor): the labelled values are cut into ``n_bins`` quantile bins (at least ``min_per_bin``
  pairs each; fewer bins when there are fewer pairs); each bin gives the point (median labelled value, median
  predicted value). The predicted medians are made increasing (``scipy.optimize.isotonic_regression``) and then
  strictly increasing by a ``1e-9`` relative ramp.
* **Correction** = the inverse of that curve: a predicted value ``p`` maps to the labelled value ``x`` whose median
  prediction is ``p`` (linear interpolation between the points). This is *classical* calibration: it models
  ``prediction | truth`` and inverts it, so it does not pull values towards the reference set's distribution (an
  ``E[truth | prediction]`` regression would, and would hide real shifts of a new batch). Outside the fitted range
  the ratio ``x / p`` of the nearest end point is applied.
* Descriptors calibrated (when present in both tables): :data:`CALIBRATED_DESCRIPTORS`. Scaled columns
  (``_um``, ``_um2``) of a calibrated table are recomputed from the calibrated ``_px`` ones; the raw values are kept
  as ``<name>_raw``. Descriptors not listed (angles, positions, intensities, ...) are never changed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import isotonic_regression

from flocshape.score.inputs import Prepared
from flocshape.score.strict import match_one_to_one
from flocshape.stats.compare import CompareOptions, counted_rows

CALIBRATION_KIND = "flocshape-descriptor-calibration"
CALIBRATION_VERSION = 1

CALIBRATED_DESCRIPTORS: tuple[str, ...] = (
    "area_px",
    "ecd_px",
    "perimeter_px",
    "feret_max_px",
    "feret_min_px",
    "aspect_ratio_feret",
    "aspect_ratio_ellipse",
    "ellipse_major_px",
    "ellipse_minor_px",
    "solidity",
    "convexity",
    "form_factor",
    "circularity",
    "roundness",
)


@dataclass(frozen=True)
class Curve:
    """Median predicted value (``pred``) at each labelled value (``true``); both increasing, same length >= 2."""

    true: tuple[float, ...]
    pred: tuple[float, ...]
    n_pairs: int

    def correct(self, values: np.ndarray) -> np.ndarray:
        """Calibrated values of predicted ``values`` (the inverse of the curve; see the module conventions)."""
        x, y = np.asarray(self.true, float), np.asarray(self.pred, float)
        v = np.asarray(values, float)
        out = np.interp(v, y, x)
        low, high = v < y[0], v > y[-1]
        out[low] = v[low] * (x[0] / y[0]) if y[0] else v[low]
        out[high] = v[high] * (x[-1] / y[-1]) if y[-1] else v[high]
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"true": list(self.true), "pred": list(self.pred), "n_pairs": self.n_pairs}


def fit_curve(
    true_values: np.ndarray, pred_values: np.ndarray, n_bins: int = 20, min_per_bin: int = 30
) -> Curve:
    """Calibration curve of one descriptor from paired labelled / predicted values (NaN pairs are dropped)."""
    t = np.asarray(true_values, float)
    p = np.asarray(pred_values, float)
    ok = np.isfinite(t) & np.isfinite(p)
    t, p = t[ok], p[ok]
    bins = min(n_bins, t.size // max(min_per_bin, 1))
    if bins < 2:
        raise ValueError(f"too few pairs to fit a calibration curve: {t.size} (need {2 * min_per_bin})")
    order = np.argsort(t, kind="stable")
    groups = np.array_split(order, bins)
    xs = np.array([np.median(t[g]) for g in groups])
    ys = np.array([np.median(p[g]) for g in groups])
    ys = isotonic_regression(ys).x
    ramp = 1e-9 * np.arange(bins) * max(abs(float(ys[-1])), 1.0)
    xs = np.maximum.accumulate(xs) + ramp
    return Curve(tuple(map(float, xs)), tuple(map(float, ys + ramp)), int(t.size))


def match_pairs(prepared: Prepared, iou_min: float = 0.5) -> pd.DataFrame:
    """Matched (GT annotation id, prediction index) pairs of all images, with their mask IoU.

    Columns: ``image_id``, ``gt_ann_id`` (the annotation's ``id``), ``pred_index`` (index into the predictions list),
    ``iou``.
    """
    anns = prepared.gt["annotations"]
    rows: list[tuple[int, int, int, float]] = []
    for im in prepared.images:
        if not im.gt_rles or not im.pred_rles:
            continue
        iou = im.iou()
        r, c = match_one_to_one(iou, iou_min)
        for gi, pi in zip(r, c, strict=True):
            ann = anns[im.gt_ann_indices[gi]]
            rows.append((im.image_id, int(ann["id"]), im.pred_indices[pi], float(iou[gi, pi])))
    return pd.DataFrame(rows, columns=["image_id", "gt_ann_id", "pred_index", "iou"])


def running_index(preds: Sequence[dict[str, Any]]) -> np.ndarray:
    """For each prediction, its running index among the predictions of the same image (the ``instance_id`` of a
    results list in :func:`flocshape.shape.sources.measure_coco`)."""
    seen: dict[int, int] = {}
    out = np.empty(len(preds), np.int64)
    for k, rec in enumerate(preds):
        image_id = int(rec["image_id"])
        out[k] = seen.get(image_id, 0)
        seen[image_id] = out[k] + 1
    return out


def paired_tables(
    pairs: pd.DataFrame, preds: Sequence[dict[str, Any]], gt_table: pd.DataFrame, pred_table: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of the GT and prediction particle tables for each pair (same order), usable pairs only."""
    run = running_index(preds)
    key_gt = pd.MultiIndex.from_arrays([pairs["image_id"], pairs["gt_ann_id"]])
    key_pr = pd.MultiIndex.from_arrays([pairs["image_id"], run[pairs["pred_index"].to_numpy()]])
    g = gt_table.set_index(["image_id", "instance_id"]).reindex(key_gt)
    p = pred_table.set_index(["image_id", "instance_id"]).reindex(key_pr)
    found = g["area_px"].notna().to_numpy() & p["area_px"].notna().to_numpy()
    g, p = g[found], p[found]
    options = CompareOptions()  # the rows that enter shape statistics: not on the border, not too small
    ok = counted_rows(g, False, options) & counted_rows(p, False, options)
    return g[ok].reset_index(), p[ok].reset_index()


def fit_calibration(
    gt_pairs: pd.DataFrame,
    pred_pairs: pd.DataFrame,
    descriptors: Iterable[str] = CALIBRATED_DESCRIPTORS,
    n_bins: int = 20,
    min_per_bin: int = 30,
) -> dict[str, Any]:
    """The calibration dict (curves plus the median bias before/after on the fitting pairs, in %)."""
    curves: dict[str, Any] = {}
    for name in descriptors:
        if name not in gt_pairs or name not in pred_pairs:
            continue
        curve = fit_curve(gt_pairs[name].to_numpy(), pred_pairs[name].to_numpy(), n_bins, min_per_bin)
        t, p = gt_pairs[name].to_numpy(float), pred_pairs[name].to_numpy(float)
        ok = np.isfinite(t) & np.isfinite(p) & (t != 0)
        before = float(np.median(p[ok] / t[ok] - 1.0) * 100.0)
        after = float(np.median(curve.correct(p[ok]) / t[ok] - 1.0) * 100.0)
        curves[name] = {**curve.to_dict(), "median_bias_pct_before": before, "median_bias_pct_after": after}
    return {
        "kind": CALIBRATION_KIND,
        "version": CALIBRATION_VERSION,
        "n_pairs": len(gt_pairs),
        "n_bins": n_bins,
        "min_per_bin": min_per_bin,
        "curves": curves,
    }


def load_calibration(path: str | Path) -> dict[str, Curve]:
    """Curves of a calibration JSON written by ``infer/calibrate.py fit`` (errors name the file and record)."""
    from flocshape.errors import input_error

    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise input_error(p, f"cannot read calibration JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("kind") != CALIBRATION_KIND:
        raise input_error(p, f"not a calibration file (expected kind {CALIBRATION_KIND!r})")
    curves: dict[str, Curve] = {}
    for name, rec in (data.get("curves") or {}).items():
        try:
            true, pred = [float(v) for v in rec["true"]], [float(v) for v in rec["pred"]]
            n_pairs = int(rec["n_pairs"])
        except (KeyError, TypeError, ValueError):
            raise input_error(
                p, "needs numeric 'true', 'pred' lists and 'n_pairs'", f"curve {name!r}"
            ) from None
        if (
            len(true) != len(pred)
            or len(true) < 2
            or not all(math.isfinite(v) for v in true + pred)
            or np.any(np.diff(pred) <= 0)
        ):
            raise input_error(
                p, "'true'/'pred' must be finite, of equal length >= 2, 'pred' increasing", f"curve {name!r}"
            )
        curves[name] = Curve(tuple(true), tuple(pred), n_pairs)
    if not curves:
        raise input_error(p, "no curves")
    return curves


def apply_calibration(table: pd.DataFrame, curves: dict[str, Curve]) -> pd.DataFrame:
    """A copy of ``table`` with the calibrated descriptors replaced (raw ones kept as ``<name>_raw``).

    Scaled columns (``<stem>_um`` / ``<stem>_um2``) are recomputed from the calibrated ``_px`` ones using the
    table's own ratio of scaled to px values (so the scale need not be passed again).
    """
    out = table.copy()
    for name, curve in curves.items():
        if name not in out:
            continue
        raw = out[name].to_numpy(float)
        out[f"{name}_raw"] = raw
        out[name] = curve.correct(raw)
        if name.endswith("_px"):
            stem = name[: -len("_px")]
            for scaled in (f"{stem}_um", f"{stem}_um2"):
                if scaled in out:
                    with np.errstate(invalid="ignore", divide="ignore"):
                        factor = np.nanmedian(out[scaled].to_numpy(float) / raw)
                    out[scaled] = out[name] * factor
    return out
