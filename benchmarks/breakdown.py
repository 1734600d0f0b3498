"""Where a model's predictions land: recall / precision per particle size class and per blur level.

    python benchmarks/breakdown.py --gt GT.json --pred PRED.json --truth particles.parquet \\
        [--bubbles bubbles.parquet] [--split test] [--min-score S] [--iou 0.5] [--json OUT.json] [--md OUT.md]

Conventions (units: px for lengths and areas, IoU is dimensionless)
-------------------------------------------------------------------
* Inputs are read with :func:`flocshape.score.inputs.prepare`, the loader of ``infer/score.py``: every GT
  annotation is a GT instance, predictions on images not in the GT are ignored, masks are compressed RLEs.
* Per image, the GT x prediction mask IoU matrix comes from ``pycocotools.mask.iou`` (iscrowd = 0).
  Matching is one-to-one and **greedy**: all pairs with IoU ``>= --iou`` are taken in order of descending
  IoU (ties: lower GT index, then lower prediction index), a pair is kept when neither side is matched yet.
  ``infer/score.py``'s strict metric uses a Hungarian assignment (most pairs, then most IoU) instead; the
  JSON reports its TP count on the same IoU matrices so any difference is visible (``hungarian_check``).
* Size classes follow COCO: small ``area < 32^2``, medium ``32^2 <= area < 96^2``, large ``area >= 96^2``,
  with area = mask pixel count at native resolution (the frames are 1024 x 1280 px, H x W). GT bins use the
  GT mask area, prediction bins the predicted mask area (so precision per size is about predicted sizes).
* Blur levels come from the generator's truth table (``blur_sigma_px``: Gaussian sigma of the particle's
  defocus blur in px), joined on ``ann_id == GT annotation id`` (the image ids are checked to agree).
  Blur is a property of a GT particle, so only recall is reported per blur level (an unmatched prediction
  has no blur).
* Each unmatched prediction (FP) gets one kind: ``duplicate`` (its best GT has IoU >= --iou but was taken
  by another prediction), ``loose`` (best IoU in [0.1, --iou)), ``unlabelled:<reason>`` (IoU < 0.1 with
  every GT, and its mask covers the centroid pixel of a truth particle that is not labelled: too blurred,
  too occluded, too small), ``bubble`` (with ``--bubbles``: IoU < 0.1, no such centroid, but its mask covers
  a bubble centre pixel) or ``background`` (none of these).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flocshape.errors import input_error, run_cli
from flocshape.masks import rle_areas, rle_string_to_counts
from flocshape.score.inputs import ImageData, load_json, prepare
from flocshape.score.strict import match_one_to_one

# (label, lower bound inclusive, upper bound exclusive); areas in px at native resolution
SIZE_BINS_PX: tuple[tuple[str, float, float], ...] = (
    ("small (<32^2)", 0.0, 32.0**2),
    ("medium (32^2..96^2)", 32.0**2, 96.0**2),
    ("large (>=96^2)", 96.0**2, math.inf),
)
# blur_sigma_px bins (inclusive lower, exclusive upper); labelled test particles have sigma in [0, 2.5] px
BLUR_BINS_PX: tuple[tuple[str, float, float], ...] = (
    ("[0, 0.5)", 0.0, 0.5),
    ("[0.5, 1)", 0.5, 1.0),
    ("[1, 1.5)", 1.0, 1.5),
    ("[1.5, 2)", 1.5, 2.0),
    ("[2, inf)", 2.0, math.inf),
)
LOOSE_IOU = 0.1  # an FP whose best GT IoU is in [LOOSE_IOU, --iou) is a "loose" mask of a labelled particle


@dataclass
class Collected:
    """Per-instance results over all images (flat arrays, one entry per GT or per prediction)."""

    gt_area_px: list[np.ndarray] = field(default_factory=list)
    gt_ann_id: list[np.ndarray] = field(default_factory=list)
    gt_image_id: list[np.ndarray] = field(default_factory=list)
    gt_matched_iou: list[np.ndarray] = field(default_factory=list)  # NaN when unmatched
    pred_area_px: list[np.ndarray] = field(default_factory=list)
    pred_matched: list[np.ndarray] = field(default_factory=list)
    fp_kinds: list[str] = field(default_factory=list)
    hungarian_tp: int = 0


def greedy_match(iou: np.ndarray, iou_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one greedy matching of a GT x prediction IoU matrix.

    Pairs with ``iou >= iou_threshold`` are visited by descending IoU (stable: row-major order on ties) and
    kept when neither the GT (row) nor the prediction (column) is matched yet.
    Returns the matched ``(rows, cols)`` as intp arrays, in the order they were matched.
    """
    rows, cols = np.nonzero(iou >= iou_threshold)
    if rows.size == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    order = np.argsort(-iou[rows, cols], kind="stable")
    used_r: set[int] = set()
    used_c: set[int] = set()
    out_r: list[int] = []
    out_c: list[int] = []
    for r, c in zip(rows[order].tolist(), cols[order].tolist(), strict=True):
        if r in used_r or c in used_c:
            continue
        used_r.add(r)
        used_c.add(c)
        out_r.append(r)
        out_c.append(c)
    return np.asarray(out_r, dtype=np.intp), np.asarray(out_c, dtype=np.intp)


def covers_points(rle: dict[str, Any], xs_px: np.ndarray, ys_px: np.ndarray) -> bool:
    """True when the RLE mask contains any of the pixels ``(floor(x), floor(y))`` (x = column, y = row, px).

    Points outside the frame are ignored. Works on the run lengths (column-major), without decoding pixels.
    """
    height, width = (int(v) for v in rle["size"])
    col = np.floor(xs_px).astype(np.int64)
    row = np.floor(ys_px).astype(np.int64)
    inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
    if not inside.any():
        return False
    flat = col[inside] * height + row[inside]
    ends = np.cumsum(rle_string_to_counts(rle["counts"]))
    run = np.searchsorted(ends, flat, side="right")  # index of the run holding each pixel
    return bool(np.any(run % 2 == 1))  # runs alternate 0, 1, 0, ... starting with background


def fp_kind(best_iou: float, best_gt_taken: bool, covers: str | None, iou_threshold: float) -> str:
    """Kind of one unmatched prediction (see the module docstring); ``covers`` = landmark kind or None."""
    if best_iou >= iou_threshold and best_gt_taken:
        return "duplicate"
    if best_iou >= LOOSE_IOU:
        return "loose"
    if covers is not None:
        return covers
    return "background"


def collect_image(
    im: ImageData,
    ann_ids: np.ndarray,
    landmarks: Sequence[tuple[str, np.ndarray, np.ndarray]],
    iou_threshold: float,
    acc: Collected,
) -> None:
    """Match one image and append its per-GT / per-prediction results to ``acc``.

    ``ann_ids`` are the GT annotation ids of ``im.gt_rles`` (same order). ``landmarks`` are the image's
    ``(kind, xs_px, ys_px)`` point sets (unlabelled particle centroids per reason, then bubble centres), tried
    in order for an FP with IoU < 0.1 to every GT: the first set with a point inside the mask names its kind.
    """
    iou = im.iou()
    n_gt, n_pred = iou.shape
    rows, cols = greedy_match(iou, iou_threshold)
    acc.hungarian_tp += int(match_one_to_one(iou, iou_threshold)[0].size)
    matched_iou = np.full(n_gt, np.nan)
    matched_iou[rows] = iou[rows, cols]
    pred_matched = np.zeros(n_pred, dtype=bool)
    pred_matched[cols] = True
    acc.gt_area_px.append(rle_areas(im.gt_rles))
    acc.gt_ann_id.append(ann_ids)
    acc.gt_image_id.append(np.full(n_gt, im.image_id, dtype=np.int64))
    acc.gt_matched_iou.append(matched_iou)
    acc.pred_area_px.append(rle_areas(im.pred_rles))
    acc.pred_matched.append(pred_matched)
    gt_taken = np.zeros(n_gt, dtype=bool)
    gt_taken[rows] = True
    for j in np.flatnonzero(~pred_matched).tolist():
        best_iou, best_gt = (float(iou[:, j].max()), int(iou[:, j].argmax())) if n_gt else (0.0, -1)
        covers = None
        if best_iou < LOOSE_IOU:
            covers = next((k for k, xs, ys in landmarks if covers_points(im.pred_rles[j], xs, ys)), None)
        acc.fp_kinds.append(
            fp_kind(best_iou, best_gt >= 0 and bool(gt_taken[best_gt]), covers, iou_threshold)
        )


def bin_index(values: np.ndarray, bins: Sequence[tuple[str, float, float]]) -> np.ndarray:
    """Index into ``bins`` of each value (bins are ``[lo, hi)``); -1 for values in no bin (or NaN)."""
    out = np.full(values.shape, -1, dtype=np.int64)
    for k, (_, lo, hi) in enumerate(bins):
        out[(values >= lo) & (values < hi)] = k
    return out


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall, F1 (0.0 where undefined)."""
    return {
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
    }


def gt_rows(labels: Sequence[str], idx: np.ndarray, matched_iou: np.ndarray) -> list[dict[str, Any]]:
    """Per GT bin: ``n_gt``, ``share`` of all GT, ``tp``, ``recall``, ``mean_iou`` of its matched pairs."""
    out = []
    for k, label in enumerate(labels):
        sel = idx == k
        ious = matched_iou[sel]
        hit = ~np.isnan(ious)
        n, tp = int(sel.sum()), int(hit.sum())
        out.append(
            {
                "bin": label,
                "n_gt": n,
                "share": n / max(idx.size, 1),
                "tp": tp,
                "fn": n - tp,
                "recall": tp / n if n else None,
                "mean_iou": float(ious[hit].mean()) if tp else None,
            }
        )
    return out


def pred_rows(labels: Sequence[str], idx: np.ndarray, matched: np.ndarray) -> list[dict[str, Any]]:
    """Per prediction bin: ``n_pred``, ``share`` of all predictions, ``tp``, ``fp``, ``precision``."""
    out = []
    for k, label in enumerate(labels):
        sel = idx == k
        n, tp = int(sel.sum()), int(matched[sel].sum())
        out.append(
            {
                "bin": label,
                "n_pred": n,
                "share": n / max(idx.size, 1),
                "tp": tp,
                "fp": n - tp,
                "precision": tp / n if n else None,
            }
        )
    return out


def truth_for_gt(
    truth: pd.DataFrame, ann_ids: np.ndarray, image_ids: np.ndarray, src: object
) -> pd.DataFrame:
    """Truth rows aligned with the GT instances (``ann_id`` = GT annotation id); checks ids and image ids."""
    labelled = truth[truth["labelled"].astype(bool)].set_index("ann_id")
    if not labelled.index.is_unique:
        raise input_error(src, "labelled truth rows with duplicate ann_id")
    missing = np.setdiff1d(ann_ids, labelled.index.to_numpy())
    if missing.size:
        raise input_error(
            src, f"{missing.size} GT annotation ids have no labelled truth row (e.g. {missing[0]})"
        )
    rows = labelled.loc[ann_ids]
    bad = rows["image_id"].to_numpy() != image_ids
    if bad.any():
        raise input_error(
            src, f"{int(bad.sum())} GT annotations sit on another image_id than in the truth table"
        )
    return rows


def breakdown(
    gt_path: Path,
    pred_path: Path,
    truth_path: Path,
    split: str = "test",
    min_score: float | None = None,
    iou_threshold: float = 0.5,
    bubbles_path: Path | None = None,
) -> dict[str, Any]:
    """All numbers of the report as a JSON-ready dict (see the module docstring for the conventions)."""
    gt = load_json(gt_path)
    preds = load_json(pred_path)
    if not isinstance(preds, list):
        raise input_error(pred_path, "predictions must be a JSON list of result records")
    n_pred_file = len(preds)
    if min_score is not None:
        preds = [p for p in preds if isinstance(p, dict) and p.get("score", 0.0) >= min_score]
    prepared = prepare(gt, preds, gt_path, pred_path)
    truth = pd.read_parquet(truth_path)
    need = {"split", "image_id", "ann_id", "labelled", "label_reason", "blur_sigma_px", "mask_area_px"}
    if not need <= set(truth.columns):
        raise input_error(truth_path, f"missing columns {sorted(need - set(truth.columns))}")
    truth = truth[truth["split"] == split]
    unl = truth[~truth["labelled"].astype(bool)][
        ["image_id", "centroid_x_px", "centroid_y_px", "label_reason"]
    ]
    landmarks: dict[int, list[tuple[str, np.ndarray, np.ndarray]]] = {}
    for (image_id, reason), grp in unl.groupby(["image_id", "label_reason"], sort=True):
        xy = (grp["centroid_x_px"].to_numpy(), grp["centroid_y_px"].to_numpy())
        landmarks.setdefault(int(image_id), []).append((f"unlabelled:{reason}", *xy))
    if bubbles_path is not None:
        bub = pd.read_parquet(bubbles_path)
        if not {"split", "image_id", "x_px", "y_px"} <= set(bub.columns):
            raise input_error(bubbles_path, "needs columns split, image_id, x_px, y_px")
        for image_id, grp in bub[bub["split"] == split].groupby("image_id"):
            xy = (grp["x_px"].to_numpy(), grp["y_px"].to_numpy())
            landmarks.setdefault(int(image_id), []).append(("bubble", *xy))
    anns = gt["annotations"]
    acc = Collected()
    for im in prepared.images:
        ann_ids = np.asarray([int(anns[i]["id"]) for i in im.gt_ann_indices], dtype=np.int64)
        collect_image(im, ann_ids, landmarks.get(im.image_id, []), iou_threshold, acc)

    def cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    gt_area = cat(acc.gt_area_px, np.int64)
    gt_iou = cat(acc.gt_matched_iou, np.float64)
    pred_area = cat(acc.pred_area_px, np.int64)
    pred_matched = cat(acc.pred_matched, bool)
    rows = truth_for_gt(truth, cat(acc.gt_ann_id, np.int64), cat(acc.gt_image_id, np.int64), truth_path)
    blur = rows["blur_sigma_px"].to_numpy(dtype=np.float64)
    area_mismatch = int((rows["mask_area_px"].to_numpy() != gt_area).sum())

    tp = int((~np.isnan(gt_iou)).sum())
    fp, fn = int(pred_area.size - tp), int(gt_area.size - tp)
    size_labels = [b[0] for b in SIZE_BINS_PX]
    blur_labels = [b[0] for b in BLUR_BINS_PX]
    size_idx, blur_idx = bin_index(gt_area.astype(float), SIZE_BINS_PX), bin_index(blur, BLUR_BINS_PX)
    size_blur = []
    for s, s_label in enumerate(size_labels):
        for r in gt_rows(blur_labels, np.where(size_idx == s, blur_idx, -1), gt_iou):
            size_blur.append({"size": s_label, "blur": r.pop("bin"), **r})
    kinds, counts = np.unique(np.asarray(acc.fp_kinds, dtype=str), return_counts=True)
    fp_table = [
        {
            "kind": str(k),
            "n": int(n),
            "share_of_fp": int(n) / max(fp, 1),
            "share_of_pred": int(n) / max(pred_area.size, 1),
        }
        for k, n in sorted(zip(kinds, counts, strict=True), key=lambda kn: -kn[1])
    ]
    hung = prf(acc.hungarian_tp, pred_area.size - acc.hungarian_tp, gt_area.size - acc.hungarian_tp)
    return {
        "inputs": {
            "gt": str(gt_path),
            "pred": str(pred_path),
            "truth": str(truth_path),
            "bubbles": None if bubbles_path is None else str(bubbles_path),
            "split": split,
            "min_score": min_score,
            "n_pred_in_file": n_pred_file,
            "n_pred_ignored_not_in_gt": prepared.n_pred_ignored,
        },
        "conventions": {
            "iou_threshold": iou_threshold,
            "matching": "greedy one-to-one by descending mask IoU, pairs with IoU >= threshold",
            "size_bins_px": [[lab, lo, None if math.isinf(hi) else hi] for lab, lo, hi in SIZE_BINS_PX],
            "blur_bins_px": [[lab, lo, None if math.isinf(hi) else hi] for lab, lo, hi in BLUR_BINS_PX],
            "frame_size_px": sorted({(im.height, im.width) for im in prepared.images}),
        },
        "overall": {
            "n_images": len(prepared.images),
            "n_gt": int(gt_area.size),
            "n_pred": int(pred_area.size),
            "tp": tp,
            "fp": fp,
            "fn": fn,
            **prf(tp, fp, fn),
            "mean_iou": float(np.nanmean(gt_iou)) if tp else None,
        },
        "hungarian_check": {"tp": acc.hungarian_tp, **hung},
        "truth_check": {"gt_rows_joined": len(rows), "mask_area_px_mismatches": area_mismatch},
        "gt_by_size": gt_rows(size_labels, size_idx, gt_iou),
        "gt_by_blur": gt_rows(blur_labels, blur_idx, gt_iou),
        "gt_by_size_blur": size_blur,
        "pred_by_size": pred_rows(
            size_labels, bin_index(pred_area.astype(float), SIZE_BINS_PX), pred_matched
        ),
        "fp_kinds": fp_table,
    }


def _f(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def recall_table(first_column: str, rows: list[dict[str, Any]]) -> str:
    """Markdown table of per-GT-bin recall rows (bin, n_gt, share, TP, FN, recall, mean matched IoU)."""
    header = [first_column, "n_gt", "share", "TP", "FN", "recall", "mean IoU"]
    body = [
        [
            r["bin"],
            str(r["n_gt"]),
            _f(r["share"]),
            str(r["tp"]),
            str(r["fn"]),
            _f(r["recall"]),
            _f(r["mean_iou"]),
        ]
        for r in rows
    ]
    return md_table(header, body)


def to_markdown(res: dict[str, Any]) -> str:
    """The report's markdown: overall numbers, then one table per breakdown."""
    o, h, c = res["overall"], res["hungarian_check"], res["conventions"]
    t = c["iou_threshold"]
    parts = [
        f"**{res['inputs']['pred']}** vs {res['inputs']['gt']} (IoU >= {t}, greedy one-to-one"
        + (f", score >= {res['inputs']['min_score']}" if res["inputs"]["min_score"] is not None else "")
        + ")",
        "",
        md_table(
            ["images", "n_gt", "n_pred", "TP", "FP", "FN", "precision", "recall", "F1", "mean matched IoU"],
            [
                [str(o[k]) for k in ("n_images", "n_gt", "n_pred", "tp", "fp", "fn")]
                + [_f(o["precision"]), _f(o["recall"]), _f(o["f1"], 4), _f(o["mean_iou"])]
            ],
        ),
        "",
        f"Hungarian matching on the same IoU matrices (infer/score.py strict): TP {h['tp']}, F1 {_f(h['f1'], 4)}.",
        "",
        "Recall by GT size class (GT mask area):",
        "",
        recall_table("size", res["gt_by_size"]),
        "",
        "Precision by predicted size class (predicted mask area):",
        "",
        md_table(
            ["size", "n_pred", "share", "TP", "FP", "precision"],
            [
                [r["bin"], str(r["n_pred"]), _f(r["share"]), str(r["tp"]), str(r["fp"]), _f(r["precision"])]
                for r in res["pred_by_size"]
            ],
        ),
        "",
        "Recall by blur level (truth blur_sigma_px of the GT particle):",
        "",
        recall_table("blur sigma px", res["gt_by_blur"]),
        "",
        "Recall by size class x blur level (recall, n_gt in brackets):",
        "",
    ]
    blur_labels = [r["bin"] for r in res["gt_by_blur"]]
    grid = []
    for s in [r["bin"] for r in res["gt_by_size"]]:
        cells = {r["blur"]: r for r in res["gt_by_size_blur"] if r["size"] == s}
        grid.append([s] + [f"{_f(cells[b]['recall'])} ({cells[b]['n_gt']})" for b in blur_labels])
    parts += [md_table(["size \\ blur", *blur_labels], grid), "", "Unmatched predictions (FP) by kind:", ""]
    parts.append(
        md_table(
            ["kind", "n", "share of FP", "share of all predictions"],
            [[r["kind"], str(r["n"]), _f(r["share_of_fp"]), _f(r["share_of_pred"])] for r in res["fp_kinds"]],
        )
    )
    return "\n".join(parts) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; prints the markdown and writes --json / --md when given."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--gt", type=Path, required=True, help="COCO ground truth JSON")
    ap.add_argument("--pred", type=Path, required=True, help="COCO results list JSON")
    ap.add_argument("--truth", type=Path, required=True, help="generator truth table (particles.parquet)")
    ap.add_argument(
        "--bubbles", type=Path, default=None, help="optional bubble truth table (bubbles.parquet)"
    )
    ap.add_argument("--split", default="test", help="split of the truth table to use (default: test)")
    ap.add_argument(
        "--min-score", type=float, default=None, help="drop predictions scored below (default: keep all)"
    )
    ap.add_argument("--iou", type=float, default=0.5, help="IoU threshold for a match (default 0.5)")
    ap.add_argument("--json", type=Path, default=None, help="write all numbers here")
    ap.add_argument("--md", type=Path, default=None, help="write the markdown here")
    args = ap.parse_args(argv)
    if not 0.0 < args.iou <= 1.0:
        ap.error("--iou must be in (0, 1]")
    res = breakdown(args.gt, args.pred, args.truth, args.split, args.min_score, args.iou, args.bubbles)
    md = to_markdown(res)
    sys.stdout.write(md)
    for path, text in ((args.json, json.dumps(res, indent=1)), (args.md, md)):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
