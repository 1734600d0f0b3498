"""Where a batch shift of the aspect ratio is lost: per-particle attenuation vs which particles are counted.

Reads the batch pair's particle tables (the ``--shift-only`` layout of ``benchmarks/metrology_e2e.py``:
``BATCHES/{A,B}/{pred,gt}/particles.parquet``) and prints, for the Feret and the moment-ellipse aspect ratio:

1. the shift of the medians B vs A (in %) over the labelled masks, the matched labelled masks, their matched
   predictions, all counted predictions and the predictions without a labelled partner;
2. a least-squares fit over the matched pairs of both batches, ``predicted - labelled = a + b * labelled + c * [B]``:
   ``1 + b`` is the per-particle attenuation (1 = none), ``c`` what batch B adds once the labelled value is known;
3. the shift over matched pairs whose predicted Feret max is at least 0.85 / 0.90 / 0.95 of the label's (are
   broken tips the cause?).

Particles are counted and matched as in ``metrology_e2e.py`` (``counted``: not at the border, not too small, not
``low_score``; ``matched_pairs``: nearest centroid within 0.25 ECD, area ratio 0.7-1.4).

    python benchmarks/shift_attenuation.py runs/shift_smooth [--keep-low-score]
    python benchmarks/shift_attenuation.py --single VAL_PRED/particles.parquet VAL_GT/particles.parquet

``--single`` fits ``predicted = a + s * labelled`` on one labelled set (e.g. validation frames) and prints ``s``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from flocshape.errors import input_error, run_cli

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metrology_e2e import counted, markdown, matched_pairs, rel  # noqa: E402

DESCRIPTORS = ("aspect_ratio_feret", "aspect_ratio_ellipse")


def read_table(path: Path) -> pd.DataFrame:
    """A particle table; a missing file is a one-line error naming it (exit 2 through ``run_cli``)."""
    if not path.is_file():
        raise input_error(path, "not found")
    return pd.read_parquet(path)


def batch_tables(batches: Path, keep_low_score: bool) -> dict[str, dict[str, pd.DataFrame]]:
    """Per batch: counted predictions and labels, the matched pairs and the unmatched predictions."""
    out = {}
    for k in "AB":
        pred = counted(read_table(batches / k / "pred" / "particles.parquet"), keep_low_score)
        gt = counted(read_table(batches / k / "gt" / "particles.parquet"))
        m_gt, m_pred = matched_pairs(pred, gt)
        out[k] = {
            "labels": gt,
            "matched labels": m_gt,
            "matched predictions": m_pred,
            "all predictions": pred,
            "unmatched predictions": pred.drop(index=m_pred.index.unique()),
        }
    return out


def shift_table(tables: dict[str, dict[str, pd.DataFrame]]) -> list[dict[str, object]]:
    """Shift of the medians B vs A (%) per population (rows) and descriptor (columns)."""
    return [
        {
            "population": part,
            **{d: rel(tables["A"][part][d].median(), tables["B"][part][d].median()) for d in DESCRIPTORS},
        }
        for part in tables["A"]
    ]


def attenuation_fit(tables: dict[str, dict[str, pd.DataFrame]], descriptor: str) -> dict[str, float]:
    """Least squares ``pred - label = a + b * label + c * [batch B]`` over the matched pairs of both batches."""
    label = np.concatenate([tables[k]["matched labels"][descriptor].to_numpy(float) for k in "AB"])
    pred = np.concatenate([tables[k]["matched predictions"][descriptor].to_numpy(float) for k in "AB"])
    in_b = np.concatenate([np.full(len(tables[k]["matched labels"]), k == "B", float) for k in "AB"])
    ok = np.isfinite(label) & np.isfinite(pred)
    design = np.column_stack([np.ones(ok.sum()), label[ok], in_b[ok]])
    (a, b, c), *_ = np.linalg.lstsq(design, pred[ok] - label[ok], rcond=None)
    return {"intercept": float(a), "per_particle_slope": float(1.0 + b), "batch_B_term": float(c)}


def tip_cut_shifts(
    tables: dict[str, dict[str, pd.DataFrame]], cuts: Sequence[float]
) -> list[dict[str, object]]:
    """Feret aspect-ratio shift over matched pairs whose predicted Feret max is >= ``cut`` x the label's."""
    rows = []
    for cut in cuts:
        kept = {}
        for k in "AB":
            g, p = tables[k]["matched labels"], tables[k]["matched predictions"]
            ok = p["feret_max_px"].to_numpy() >= cut * g["feret_max_px"].to_numpy()
            kept[k] = (g[ok], p[ok])
        rows.append(
            {
                "feret_max_ratio_at_least": cut,
                "pairs_A/B": f"{len(kept['A'][0])}/{len(kept['B'][0])}",
                "labels_shift_pct": rel(*(kept[k][0]["aspect_ratio_feret"].median() for k in "AB")),
                "predictions_shift_pct": rel(*(kept[k][1]["aspect_ratio_feret"].median() for k in "AB")),
            }
        )
    return rows


def single_slope(pred_path: Path, gt_path: Path) -> None:
    """Print the per-particle slope ``predicted = a + s * labelled`` of each descriptor on one labelled set."""
    gt, pred = matched_pairs(counted(read_table(pred_path), True), counted(read_table(gt_path)))
    for d in DESCRIPTORS:
        x, y = gt[d].to_numpy(float), pred[d].to_numpy(float)
        ok = np.isfinite(x) & np.isfinite(y)
        slope, intercept = np.polyfit(x[ok], y[ok], 1)
        print(f"{d}: predicted = {intercept:.3f} + {slope:.3f} x labelled ({ok.sum()} matched pairs)")


def main(argv: Sequence[str] | None = None) -> int:
    """Print the three tables (or the single-set slopes)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "batches", type=Path, nargs="?", help="folder with A/ and B/ (metrology_e2e --shift-only layout)"
    )
    ap.add_argument("--keep-low-score", action="store_true", help="count predictions flagged low_score too")
    ap.add_argument("--single", type=Path, nargs=2, metavar=("PRED_TABLE", "GT_TABLE"))
    args = ap.parse_args(argv)
    if args.single is not None:
        single_slope(*args.single)
        return 0
    if args.batches is None:
        ap.error("give BATCHES or --single PRED_TABLE GT_TABLE")
    tables = batch_tables(args.batches, args.keep_low_score)
    print("Shift of the medians, B vs A (%):\n")
    print(markdown(shift_table(tables)))
    print("\nPer-particle fit over matched pairs, predicted - labelled = a + b * labelled + c * [B]:\n")
    print(markdown([{"descriptor": d, **attenuation_fit(tables, d)} for d in DESCRIPTORS]))
    print("\nFeret aspect-ratio shift over matched pairs without short Feret max:\n")
    print(markdown(tip_cut_shifts(tables, (0.0, 0.85, 0.90, 0.95))))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
