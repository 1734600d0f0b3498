"""Tracking predicted masks against the generator's true tracks: link precision and recall, and growth rate.

Each prediction is paired with the labelled particle it overlaps most (mask IoU >= ``--match-iou``, one-to-one per
frame, Hungarian); the label carries the generator's ``track_id`` (``truth/particles.parquet``: image_id, ann_id).
Then ``infer/track.py``'s linker runs once per ``--max-missed`` value and the table says, per value:

* link precision: of the links between two paired predictions, the share joining the same true particle;
* link recall (gap 1): of the pairs of paired predictions of one true particle in consecutive frames, the share
  the linker put into one track; (gap 2): the same for a particle found in frames t and t+2 but not t+1 — the
  case ``--max-missed`` is for;
* fragments per true particle: predicted tracks a true particle's paired predictions are spread over (1 = ideal);
* the growth rate per frame recovered from the tracks (``track_median`` of ln area, all blocks), next to the
  generator's ``--growth-rate``;
* diagnostics (JSON and printed): the linker's tracks by what their members are paired with
  (:func:`tracks_by_kind`) and, per true particle, mask vs label growth by its change of blur
  (:func:`growth_by_blur_change`).

Usage (a growth sequence of the hackathon preset, predicted by the shipped model)::

    python datasets/synthesize.py --out runs/track_eval/data --preset hackathon --seed 11 --frames 40 \\
        --test-frac 0.9 --growth-rate 0.03
    python infer/predict.py --source runs/track_eval/data/test --images-json runs/track_eval/data/label_test.json \\
        --out runs/track_eval/pred
    python benchmarks/track_eval.py --pred runs/track_eval/pred/submission.json \\
        --data runs/track_eval/data --out runs/track_eval/eval --max-missed 0 1 2

Prints a markdown table and writes ``OUT/track_eval.json``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from flocshape.errors import run_cli
from flocshape.fsio import atomic_write_json
from flocshape.score.strict import match_one_to_one
from flocshape.track.associate import LinkParams, iou_matrix
from flocshape.track.cli import area_growth_all_blocks, drop_low_score, read_particles, run_track
from flocshape.track.instances import load_instances


def true_track_of_predictions(
    pred: pd.DataFrame, gt: pd.DataFrame, truth: pd.DataFrame, min_iou: float
) -> pd.DataFrame:
    """Per ``pred`` row: the generator's ``track_id`` of the label it is paired with (``true_track``, -1: unpaired)
    and that label's ``label_area_px`` (NaN when unpaired). Pairing per frame as the strict score pairs
    (:func:`flocshape.score.strict.match_one_to_one`: mask IoU >= ``min_iou``, one-to-one)."""
    track_of_ann = {
        (int(r.image_id), int(r.ann_id)): int(r.track_id) for r in truth.itertuples() if r.ann_id >= 0
    }
    out = pd.DataFrame({"true_track": -1, "label_area_px": np.nan}, index=pred.index)
    gt_by_image = dict(tuple(gt.groupby("image_id")))
    for image_id, p in pred.groupby("image_id"):
        g = gt_by_image.get(image_id)
        if g is None:
            continue
        g_idx, p_idx = match_one_to_one(iou_matrix(list(g["rle"]), list(p["rle"])), min_iou)
        for c, r in zip(g_idx, p_idx, strict=True):
            ann_id = int(g["ann_id"].iloc[c])
            out.loc[p.index[r], "true_track"] = track_of_ann.get((int(image_id), ann_id), -1)
            out.loc[p.index[r], "label_area_px"] = float(g["area_px"].iloc[c])
    return out


def growth_on_true_tracks(paired: pd.DataFrame, min_len: int = 3) -> dict[str, float]:
    """Median growth rate per frame over true particles with ``min_len`` paired frames, from the predicted masks'
    ``area_px`` and from their labels' ``label_area_px`` on the same frames (rate = exp(median slope of ln area) - 1):
    separates a bias of the masks from one of the track building."""
    slopes: dict[str, list[float]] = {"area_px": [], "label_area_px": []}
    for _, t in paired[paired["true_track"] >= 0].groupby("true_track"):
        if t["frame"].nunique() < min_len:
            continue
        for col, acc in slopes.items():
            acc.append(float(np.polyfit(t["frame"], np.log(t[col]), 1)[0]))
    return {
        "true_particles": len(slopes["area_px"]),
        "rate_pred_masks_on_true_tracks": float(np.expm1(np.median(slopes["area_px"]))),
        "rate_label_masks_same_frames": float(np.expm1(np.median(slopes["label_area_px"]))),
    }


def _rate(slopes: pd.Series) -> float:
    return float(np.expm1(np.median(slopes))) if len(slopes) else float("nan")


def tracks_by_kind(tracked: pd.DataFrame, min_len: int = 3) -> list[dict[str, object]]:
    """Growth of the linker's tracks (border-touching instances left out, ``min_len`` frames) by what their members
    are paired with: ``pure`` (all one true particle), ``partly`` (paired ones all one particle, some unpaired),
    ``mixed`` (several particles), ``unpaired`` (none); rate = exp(median slope of ln area) - 1."""
    rows = []
    for _, t in tracked[~tracked["touches_border"].astype(bool)].groupby("track_id"):
        if t["frame"].nunique() < min_len:
            continue
        paired = t["true_track"][t["true_track"] >= 0]
        kind = ("unpaired" if paired.empty else "mixed" if paired.nunique() > 1
                else "pure" if len(paired) == len(t) else "partly")  # fmt: skip
        slope = float(np.polyfit(t["frame"], np.log(t["area_px"]), 1)[0])
        rows.append(
            {"kind": kind, "slope": slope, "score": t["score"].median(), "area_px": t["area_px"].median()}
        )
    table = pd.DataFrame(rows)
    out = [{"kind": k, "tracks": len(g), "median_score": float(g["score"].median()),
            "median_area_px": float(g["area_px"].median()), "growth_rate": _rate(g["slope"])}
           for k, g in table.groupby("kind")]  # fmt: skip
    return out + [{"kind": "all", "tracks": len(table), "growth_rate": _rate(table["slope"])}]


def growth_by_blur_change(
    paired: pd.DataFrame, truth: pd.DataFrame, min_len: int = 3
) -> list[dict[str, object]]:
    """Per true particle with ``min_len`` paired frames: growth of the predicted masks and of their labels, by
    quartile of the particle's change of defocus blur per frame (truth ``blur_sigma_px``, px per frame)."""
    blur = truth[["image_id", "track_id", "blur_sigma_px"]].rename(columns={"track_id": "true_track"})
    p = paired[paired["true_track"] >= 0].merge(blur, on=["image_id", "true_track"], how="left")
    rows = []
    for _, t in p.groupby("true_track"):
        if t["frame"].nunique() < min_len:
            continue
        f = t["frame"].to_numpy(float)
        rows.append({"blur_change": np.polyfit(f, t["blur_sigma_px"], 1)[0],
                     "pred": np.polyfit(f, np.log(t["area_px"]), 1)[0],
                     "label": np.polyfit(f, np.log(t["label_area_px"]), 1)[0]})  # fmt: skip
    table = pd.DataFrame(rows)
    table["quartile"] = pd.qcut(table["blur_change"], 4)
    return [{"blur_change_px_per_frame": str(q), "true_particles": len(g), "rate_pred_masks": _rate(g["pred"]),
             "rate_labels": _rate(g["label"])} for q, g in table.groupby("quartile", observed=True)]  # fmt: skip


def link_scores(tracked: pd.DataFrame) -> dict[str, float]:
    """Precision and recall of the links, from a tracked table with a ``true_track`` column (-1 = unpaired)."""
    paired = tracked[tracked["true_track"] >= 0].sort_values(["track_id", "frame"])
    links = paired.groupby("track_id").agg(list)
    same = total = 0
    for frames, truths in zip(links["frame"], links["true_track"], strict=True):
        for i in range(1, len(frames)):
            total += 1
            same += truths[i] == truths[i - 1]
    result: dict[str, float] = {
        "link_precision": same / total if total else float("nan"),
        "links_paired": total,
    }
    by_truth = paired.sort_values(["true_track", "frame"]).groupby("true_track")
    for gap in (1, 2):
        hit = n = 0
        for _, t in by_truth:
            frames, tracks = t["frame"].to_numpy(), t["track_id"].to_numpy()
            for i in range(1, len(frames)):
                if frames[i] - frames[i - 1] == gap:
                    n += 1
                    hit += tracks[i] == tracks[i - 1]
        result[f"link_recall_gap{gap}"] = hit / n if n else float("nan")
        result[f"pairs_gap{gap}"] = n
    result["fragments_per_true_particle"] = float(by_truth["track_id"].nunique().mean())
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Pair, link, print the table and write ``OUT/track_eval.json``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pred", required=True, type=Path, help="submission/results list of the test frames")
    ap.add_argument(
        "--data", required=True, type=Path, help="datasets/synthesize.py output the frames came from"
    )
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument(
        "--max-missed", type=int, nargs="*", default=[0, 1], help="linker settings (none: pairing only)"
    )
    ap.add_argument("--match-iou", type=float, default=0.5)
    ap.add_argument("--min-score", type=float, default=None)
    ap.add_argument(
        "--particles",
        type=Path,
        help="the run's particles.parquet: predictions it flags low_score are left out",
    )
    args = ap.parse_args(argv)
    images_json = args.data / "label_test.json"
    pred = load_instances(args.pred, images_json, min_score=args.min_score)
    if args.particles is not None:
        pred = drop_low_score(pred, read_particles(args.particles))
    gt = load_instances(args.data / "truth" / "label_test_gt.json")
    gt["ann_id"] = gt["instance_id"]  # a COCO instances file's instance_id is the annotation id
    truth = pd.read_parquet(args.data / "truth" / "particles.parquet")
    truth = truth[truth["split"] == "test"]
    card = json.loads((args.data / "card.json").read_text())
    true_rate = float(card["knobs"]["growth_rate"])
    pred = pd.concat([pred, true_track_of_predictions(pred, gt, truth, args.match_iou)], axis=1)
    on_true = growth_on_true_tracks(pred)
    by_blur = growth_by_blur_change(pred, truth)
    key = ["image_id", "instance_id"]
    rows, kinds = [], {}
    for k in args.max_missed:
        tracked, trends = run_track(args.pred, args.out / f"max_missed_{k}", images_json=images_json,
                                    particles=args.particles, descriptors=["area_px", "ecd_px"],
                                    params=LinkParams(max_missed=k), min_score=args.min_score, n_boot=500)  # fmt: skip
        tracked = tracked.merge(pred[[*key, "true_track"]], on=key, how="left")
        kinds[k] = tracks_by_kind(tracked)
        area = area_growth_all_blocks(trends) or {}
        rows.append({"max_missed": k, "tracks": int(tracked["track_id"].nunique()), **link_scores(tracked),
                     "growth_rate": area.get("rate_per_frame", float("nan")), "true_growth_rate": true_rate})  # fmt: skip
    paired = int((pred["true_track"] >= 0).sum())
    print(
        f"predictions {len(pred)}, paired with a label {paired}; labels {len(gt)}; true growth rate {true_rate}"
    )
    print(f"on the true particles' paired frames: {on_true}\n")
    if rows:
        cols = list(rows[0])
        print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
        for r in rows:
            print(
                "| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in r.values()) + " |"
            )
    print(f"\nby blur change per frame (true tracks): {json.dumps(by_blur)}")
    for k, table in kinds.items():
        print(f"linker tracks by kind, --max-missed {k}: {json.dumps(table)}")
    result = {"predictions": len(pred), "paired": paired, "true_growth_rate": true_rate, "on_true_tracks": on_true,
              "growth_by_blur_change": by_blur, "tracks_by_kind": kinds, "rows": rows}  # fmt: skip
    atomic_write_json(args.out / "track_eval.json", result)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(run_cli(main))
