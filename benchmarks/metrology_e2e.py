"""End-to-end proof that the shape numbers are right: predictions vs the generator's exact truth.

Runs the real stage scripts (so the commands are the ones a user runs) and prints markdown tables:

1. post-processing tuned on the validation split (``infer/tune.py``), never on test;
2. the test split predicted with those settings and scored (``infer/score.py``);
3. descriptor distributions of predicted masks vs ground-truth masks vs the continuous truth table:
   KS statistic and relative difference of the medians (for ECD that is the number-weighted D50);
4. a generated pair of batches with a known shape shift (more elongated particles): the shift measured
   from predictions vs the true shift from the truth table. Pass: within 10 % of the true shift.

Usage (after training a model on ``datasets/synthesize.py --preset hackathon`` data converted with
``convert/coco2yolo.py --group-size 10``)::

    python benchmarks/metrology_e2e.py --model runs/hack/train/ref/weights/best.pt \\
        --data runs/hack/data --yolo runs/hack/yolo --work runs/metrology --imgsz 640

Only the batch table again, from saved particle tables, optionally with the predicted descriptors calibrated
(``infer/calibrate.py fit`` on labelled reference frames, never on the batches)::

    python benchmarks/metrology_e2e.py --shift-only runs/metrology/batches [--calibration calibration.json] [--keep-low-score]

The ``--work`` folder layout (val_pred/, tune/postproc.json, test_pred/) is the one of a ``train/sweep.py`` run
folder, so pointing ``--work`` at a study run reuses its predictions.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from flocshape.score.inputs import subset_coco as subset_coco_dict
from flocshape.shape.calibrate import apply_calibration, load_calibration
from flocshape.stats.compare import CompareOptions, counted_rows

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
# descriptor in the particle table -> column of the continuous truth table (visible part)
TRUTH_COLUMNS = {
    "area_px": "vis_area_px",
    "ecd_px": "vis_ecd_px",
    "perimeter_px": "vis_perimeter_px",
    "feret_max_px": "vis_feret_max_px",
    "feret_min_px": "vis_feret_min_px",
    "aspect_ratio_feret": "vis_aspect_ratio_feret",
    "aspect_ratio_ellipse": "vis_aspect_ratio_ellipse",
    "solidity": "vis_solidity",
    "convexity": "vis_convexity",
}


def split_passthrough(argv: list[str] | None) -> tuple[list[str], list[str]]:
    """A benchmark's own options and the ones after ``--`` (passed on to every ``infer/predict.py`` call)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        return argv, []
    cut = argv.index("--")
    return argv[:cut], argv[cut + 1 :]


def run(*args: object) -> float:
    """Run one stage script from the repo root; return its wall time (s). Exit 3 (some frames failed) is an error."""
    cmd = [PY, *map(str, args)]
    print("$", " ".join(str(a) for a in args), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(
            f"failed ({proc.returncode}): {' '.join(map(str, args))}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
    return time.perf_counter() - t0


def subset_coco(src: Path, file_names: set[str], out: Path) -> Path:
    """Write the COCO file ``src`` restricted to images whose file name is in ``file_names``."""
    coco = subset_coco_dict(json.loads(src.read_text()), file_names)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(coco))
    return out


def counted(table: pd.DataFrame, keep_low_score: bool = False) -> pd.DataFrame:
    """Rows that enter shape statistics, as ``infer/compare.py`` counts them by default
    (:func:`flocshape.stats.compare.counted_rows`): not touching the border, not too small, not flagged
    ``low_score`` (below the model's measurement threshold; kept with ``keep_low_score``). Tables without a flag
    column keep every row for that flag."""
    return table[counted_rows(table, for_size=False, options=CompareOptions(keep_low_score=keep_low_score))]


def truth_rows(truth: pd.DataFrame, split: str) -> pd.DataFrame:
    """Labelled truth rows of a split that are not cut by the border and large enough (>= 100 px mask)."""
    t = truth[(truth["split"] == split) & truth["labelled"]]
    return t[~t["touches_border"].astype(bool) & (t["mask_area_px"] >= 100)]


def rel(a: float, b: float) -> float:
    """Relative change from a to b, in %."""
    return 100.0 * (b - a) / a if a else float("nan")


def distribution_table(pred: pd.DataFrame, gt: pd.DataFrame, truth: pd.DataFrame) -> list[dict[str, object]]:
    """Per descriptor: medians of predictions / GT masks / continuous truth, KS(pred, GT), KS(GT, truth)."""
    rows = []
    for desc, tcol in TRUTH_COLUMNS.items():
        if tcol not in truth.columns:  # a truth table written before the column existed
            continue
        p, g, t = (
            pred[desc].dropna().to_numpy(),
            gt[desc].dropna().to_numpy(),
            truth[tcol].dropna().to_numpy(),
        )
        rows.append(
            {
                "descriptor": desc,
                "median_pred": float(np.median(p)),
                "median_gt_masks": float(np.median(g)),
                "median_truth": float(np.median(t)),
                "d_median_pred_vs_gt_pct": rel(float(np.median(g)), float(np.median(p))),
                "ks_pred_vs_gt": float(stats.ks_2samp(p, g).statistic),
                "d_median_gt_vs_truth_pct": rel(float(np.median(t)), float(np.median(g))),
                "ks_gt_vs_truth": float(stats.ks_2samp(g, t).statistic),
            }
        )
    return rows


def markdown(rows: list[dict[str, object]]) -> str:
    """A list of flat dicts as a markdown table (floats with 4 significant digits)."""
    cols = list(rows[0])
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


DEVICE = "cpu"  # set from --device in main()


def predict(
    model: Path, source: Path, images_json: Path, out: Path, imgsz: int, postproc: Path | None
) -> float:
    """Run infer/predict.py; return wall seconds."""
    extra = ["--postproc", postproc] if postproc else []
    return run("infer/predict.py", "--model", model, "--source", source, "--images-json", images_json,
               "--out", out, "--imgsz", imgsz, "--conf", "0.05", "--device", DEVICE, *extra)  # fmt: skip


def batch_pair(args: argparse.Namespace, postproc: Path) -> list[dict[str, object]]:
    """Two generated batches differing only in elongation; true vs measured shift of shape medians."""
    work = args.work / "batches"
    tables: dict[str, dict[str, pd.DataFrame]] = {}
    for name, seed, elongation in (("A", 101, 0.35), ("B", 102, args.elongation_b)):
        data = work / name / "data"
        if not (data / "card.json").is_file():
            run("datasets/synthesize.py", "--out", data, "--seed", seed, "--frames", args.batch_frames,
                "--test-frac", "0.9", "--elongation", elongation)  # fmt: skip
        pred = work / name / "pred"
        if not (pred / "particles.parquet").is_file():
            predict(args.model, data / "test", data / "label_test.json", pred, args.imgsz, postproc)
        gt_dir = work / name / "gt"
        if not (gt_dir / "particles.parquet").is_file():
            run("infer/shape.py", "--coco", data / "truth" / "label_test_gt.json", "--images", data / "test",
                "--out", gt_dir / "particles.parquet")  # fmt: skip
        tables[name] = {
            "pred": counted(pd.read_parquet(pred / "particles.parquet")),
            "gt": counted(pd.read_parquet(gt_dir / "particles.parquet")),
            "truth": truth_rows(pd.read_parquet(data / "truth" / "particles.parquet"), "test"),
        }
    return shift_rows(tables)


def matched_pairs(pred: pd.DataFrame, gt: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of ``gt`` and ``pred`` (particle tables of the same frames) that are the same particle.

    Proxy for mask matching from the tables alone: per frame, each GT particle takes its nearest predicted centroid
    if that is within 0.25 GT ECD and the areas agree within a factor 0.7-1.4 (one-to-many possible, rare).
    """
    from scipy.spatial import cKDTree

    g_idx, p_idx = [], []
    for name, g in gt.groupby("file_name"):
        p = pred[pred["file_name"] == name]
        if p.empty:
            continue
        dist, nearest = cKDTree(p[["centroid_x_px", "centroid_y_px"]].to_numpy()).query(
            g[["centroid_x_px", "centroid_y_px"]].to_numpy()
        )
        ratio = p["area_px"].to_numpy()[nearest] / g["area_px"].to_numpy()
        ok = (dist < 0.25 * g["ecd_px"].to_numpy()) & (ratio > 0.7) & (ratio < 1.4)
        g_idx += list(g.index[ok])
        p_idx += list(p.index[nearest[ok]])
    return gt.loc[g_idx], pred.loc[p_idx]


def shift_rows(tables: dict[str, dict[str, pd.DataFrame]]) -> list[dict[str, object]]:
    """True / GT-mask / predicted / matched-only shift of the medians from batch A to B, per shape descriptor."""
    matched = {k: matched_pairs(tables[k]["pred"], tables[k]["gt"]) for k in "AB"}
    rows = []
    for desc in ("aspect_ratio_feret", "aspect_ratio_ellipse", "feret_min_px", "ecd_px", "solidity"):
        tcol = TRUTH_COLUMNS[desc]
        # a truth table written before the column existed has no true shift for it
        if any(tcol not in tables[k]["truth"].columns for k in "AB"):
            continue
        m_gt_a, m_gt_b = (float(matched[k][0][desc].median()) for k in "AB")
        m_pr_a, m_pr_b = (float(matched[k][1][desc].median()) for k in "AB")
        true_a, true_b = (float(tables[k]["truth"][tcol].median()) for k in "AB")
        gt_a, gt_b = (float(tables[k]["gt"][desc].median()) for k in "AB")
        pr_a, pr_b = (float(tables[k]["pred"][desc].median()) for k in "AB")
        true_shift, gt_shift, pred_shift = rel(true_a, true_b), rel(gt_a, gt_b), rel(pr_a, pr_b)
        rows.append(
            {
                "descriptor": desc,
                "true_shift_pct": true_shift,
                "gt_mask_shift_pct": gt_shift,
                "predicted_shift_pct": pred_shift,
                "pred_error_of_true_shift_pct": 100 * abs(pred_shift - true_shift) / abs(true_shift)
                if abs(true_shift) > 1
                else float("nan"),
                "matched_gt_shift_pct": rel(m_gt_a, m_gt_b),
                "matched_pred_shift_pct": rel(m_pr_a, m_pr_b),
                "n_pred_A/B": f"{len(tables['A']['pred'])}/{len(tables['B']['pred'])}",
                "n_matched_A/B": f"{len(matched['A'][0])}/{len(matched['B'][0])}",
                "n_truth_A/B": f"{len(tables['A']['truth'])}/{len(tables['B']['truth'])}",
            }
        )
    return rows


def shift_only(batches: Path, calibration: Path | None = None, keep_low_score: bool = False) -> None:
    """Print the batch-pair table from saved particle tables (BATCHES/{A,B}/{pred,gt,data/truth}/particles.parquet).

    With ``calibration`` (``infer/calibrate.py fit`` on validation frames) the predicted tables are calibrated first.
    """
    curves = load_calibration(calibration) if calibration is not None else {}
    for k in "AB":
        for part in ("pred/particles.parquet", "gt/particles.parquet", "data/truth/particles.parquet"):
            if not (batches / k / part).is_file():
                sys.exit(
                    f"error: {batches / k / part}: not found (--shift-only reads BATCHES/{{A,B}}/{part})"
                )
    tables = {
        k: {
            "pred": counted(
                apply_calibration(pd.read_parquet(batches / k / "pred" / "particles.parquet"), curves),
                keep_low_score,
            ),
            "gt": counted(pd.read_parquet(batches / k / "gt" / "particles.parquet")),
            "truth": truth_rows(
                pd.read_parquet(batches / k / "data" / "truth" / "particles.parquet"), "test"
            ),
        }
        for k in "AB"
    }
    print(markdown(shift_rows(tables)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--shift-only", type=Path, default=None, help="WORK/batches: only recompute the batch table"
    )
    ap.add_argument(
        "--calibration",
        type=Path,
        default=None,
        help="with --shift-only: calibrate the predicted tables first",
    )
    ap.add_argument(
        "--keep-low-score",
        action="store_true",
        help="with --shift-only: also count predictions flagged low_score (all predictions)",
    )
    ap.add_argument("--model", type=Path)
    ap.add_argument("--data", type=Path, help="synthesize.py output (hackathon preset)")
    ap.add_argument("--yolo", type=Path, help="coco2yolo.py output of DATA/label_train.json")
    ap.add_argument("--work", type=Path, default=REPO / "runs" / "metrology")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--batch-frames", type=int, default=100)
    ap.add_argument("--elongation-b", type=float, default=0.8, help="batch B's --elongation (A: 0.35)")
    ap.add_argument("--device", default="cpu", help="torch device for infer/predict.py (e.g. 0)")
    args = ap.parse_args()
    if args.shift_only is not None:
        shift_only(args.shift_only, args.calibration, args.keep_low_score)
        return
    if not (args.model and args.data and args.yolo):
        ap.error("--model, --data and --yolo are required (unless --shift-only)")
    global DEVICE
    DEVICE = str(args.device)
    args.work.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {"args": {k: str(v) for k, v in vars(args).items()}}

    # 1. tune post-processing on the validation split
    val_names = {p.name for p in (args.yolo / "images" / "val").iterdir()}
    val_gt = subset_coco(args.data / "label_train.json", val_names, args.work / "val_gt.json")
    if not (args.work / "val_pred" / "submission.json").is_file():
        predict(args.model, args.yolo / "images" / "val", args.data / "label_train.json", args.work / "val_pred",
                args.imgsz, None)  # fmt: skip
    postproc = args.work / "tune" / "postproc.json"
    if not postproc.is_file():
        run(
            "infer/tune.py",
            "--gt",
            val_gt,
            "--pred",
            args.work / "val_pred" / "submission.json",
            "--out",
            postproc,
        )
    chosen = json.loads(postproc.read_text())
    results["postproc"] = {
        k: chosen.get(k) for k in ("min_score", "min_area_px", "mask_nms_iou", "nms_metric")
    }
    results["val_f1"] = {
        k: chosen.get(k) for k in chosen if "f1" in k and not isinstance(chosen.get(k), list)
    }

    # 2. test split with the tuned settings, scored
    test_pred = args.work / "test_pred"
    if not (test_pred / "submission.json").is_file():
        results["predict_test_wall_s"] = predict(args.model, args.data / "test", args.data / "label_test.json",
                                                 test_pred, args.imgsz, postproc)  # fmt: skip
    run("infer/score.py", "--gt", args.data / "truth" / "label_test_gt.json", "--pred", test_pred / "submission.json",
        "--json", args.work / "test_score.json")  # fmt: skip
    score = json.loads((args.work / "test_score.json").read_text())
    results["test_score"] = {
        "hackathon_f1": score["hackathon_f1"],
        "strict": score["strict"],
        "coco": score["coco"],
    }

    # 3. distributions: predicted masks vs GT masks vs the continuous truth
    gt_dir = args.work / "test_gt"
    if not (gt_dir / "particles.parquet").is_file():
        run("infer/shape.py", "--coco", args.data / "truth" / "label_test_gt.json", "--images", args.data / "test",
            "--out", gt_dir / "particles.parquet")  # fmt: skip
    run(
        "infer/compare.py",
        gt_dir,
        test_pred,
        "--labels",
        "gt_masks",
        "predicted",
        "--out",
        args.work / "compare",
    )
    dist = distribution_table(
        counted(pd.read_parquet(test_pred / "particles.parquet")),
        counted(pd.read_parquet(gt_dir / "particles.parquet")),
        truth_rows(pd.read_parquet(args.data / "truth" / "particles.parquet"), "test"),
    )
    results["distributions"] = dist

    # 4. a pair of batches with a known shift
    results["batch_pair"] = batch_pair(args, postproc)
    (args.work / "results.json").write_text(json.dumps(results, indent=1, default=float))

    h, s, c = score["hackathon_f1"], score["strict"], score["coco"]
    print(f"\npost-processing chosen on val: {results['postproc']}")
    print(f"test: hackathon F1 {h['f1']:.4f} (P {h['precision']:.4f} R {h['recall']:.4f}); strict F1@0.5 "
          f"{s['f1']:.4f}, mean matched IoU {s['mean_iou']:.4f}; COCO mask AP {c['AP']:.4f} AP50 {c['AP50']:.4f}")  # fmt: skip
    print("\nDistributions on the test split (border-touching and < 100 px excluded):\n")
    print(markdown(dist))
    print(f"\nBatch pair (B: --elongation {args.elongation_b} vs A: 0.35), relative shift of the medians:\n")
    print(markdown(results["batch_pair"]))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
