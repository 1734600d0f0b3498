"""The numbers behind each report section, computed from particle tables (no HTML here).

Exclusions (stated in the report): size descriptors leave out particles that touch the image border (their
size is unknown) and predictions flagged ``low_score`` (below the run's measurement threshold); shape
descriptors also leave out particles flagged ``too_small`` (too few pixels for a meaningful outline). Counts
use every detection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from flocshape.report.descriptors import TABULATED, Descriptor, finite, get_descriptor, with_units
from flocshape.report.load import RunData
from flocshape.report.stats_bridge import (
    Comparison,
    Estimate,
    compare_runs,
    comparison_from_row,
    kept,
    lookup,
    quantile,
    summarize,
)


def kept_rows(table: pd.DataFrame, group: str) -> np.ndarray:
    """Boolean row mask of the particles that count for a descriptor of ``group`` (see module docstring)."""
    if group in ("size", "shape"):
        return kept(table, for_shape=group == "shape")
    return np.ones(len(table), dtype=bool)


def descriptor_values(table: pd.DataFrame, descriptor: Descriptor, um_per_px: float | None) -> np.ndarray:
    """Finite values of ``descriptor`` over the kept particles of ``table``, in the report's unit.

    A table without the descriptor's column gives an empty array.
    """
    if descriptor.column not in table.columns:
        return np.array([], dtype=float)
    rows = table[kept_rows(table, descriptor.group)]
    return finite(descriptor.values(rows, um_per_px))


def per_frame_counts(run: RunData) -> np.ndarray:
    """Particles (all detections) in each frame of the run, zeros included for frames listed without any."""
    counts = run.particles.groupby("image_id").size()
    return np.array([int(counts.get(i, 0)) for i in run.frame_ids], dtype=int)


@dataclass(frozen=True)
class Counts:
    """Counts for one run. ``n_size``/``n_shape``: particles left for size/shape statistics."""

    frames: int
    particles: int
    per_frame_mean: float
    per_frame_median: float
    per_frame_min: int
    per_frame_max: int
    touches_border: int
    low_score: int
    too_small: int
    n_size: int
    n_shape: int
    score_median: float


def count_summary(run: RunData) -> Counts:
    """The counts table row of one run."""
    table = run.particles
    per_frame = per_frame_counts(run)
    scores = finite(table["score"]) if "score" in table.columns else np.array([])
    return Counts(
        frames=len(run.frame_ids),
        particles=len(table),
        per_frame_mean=float(per_frame.mean()) if per_frame.size else float("nan"),
        per_frame_median=float(np.median(per_frame)) if per_frame.size else float("nan"),
        per_frame_min=int(per_frame.min()) if per_frame.size else 0,
        per_frame_max=int(per_frame.max()) if per_frame.size else 0,
        touches_border=int(table["touches_border"].astype(bool).sum()),
        low_score=int(table["low_score"].astype(bool).sum()),
        too_small=int(table["too_small"].astype(bool).sum()) if "too_small" in table.columns else 0,
        n_size=int(kept_rows(table, "size").sum()),
        n_shape=int(kept_rows(table, "shape").sum()),
        score_median=float(np.median(scores)) if scores.size else float("nan"),
    )


def run_summary(run: RunData, um_per_px: float | None, names: Sequence[str] = TABULATED) -> pd.DataFrame:
    """Tidy distribution summary of one run (:func:`flocshape.stats.distributions.describe`) for ``names``.

    Size descriptors are summarised in the report's unit (``ecd_um`` with a scale); ECD is always included so
    the volume weighting and the size table have their basis.
    """
    table = with_units(run.particles, um_per_px)
    descs = [get_descriptor(n) for n in ("ecd", *names)]
    size_cols = list(
        dict.fromkeys(
            d.column_for(um_per_px) for d in descs if d.group == "size" and d.column in table.columns
        )
    )
    shape_cols = list(
        dict.fromkeys(d.column for d in descs if d.group == "shape" and d.column in table.columns)
    )
    return summarize(table, size_cols, shape_cols)


@dataclass(frozen=True)
class SummaryRow:
    """One descriptor of one run in the summary table. For size descriptors median = Dn50 and P10/P90 = Dn10/Dn90."""

    run: str
    descriptor: Descriptor
    n: int
    median: Estimate
    mean: Estimate
    p10: float
    p90: float


def summary_rows(
    runs: Sequence[RunData], um_per_px: float | None, names: Sequence[str] = TABULATED
) -> list[SummaryRow]:
    """Summary statistics of each tabulated descriptor for each run (descriptors absent from a table skipped)."""
    rows: list[SummaryRow] = []
    for run in runs:
        summary = run_summary(run, um_per_px, names)
        for name in names:
            d = get_descriptor(name)
            if d.column not in run.particles.columns:
                continue
            if d.group == "size":
                var = d.column_for(um_per_px)
                median, n = lookup(summary, var, "D50")
                mean, _ = lookup(summary, var, "mean")
                p10, p90 = lookup(summary, var, "D10")[0].value, lookup(summary, var, "D90")[0].value
            else:
                median, n = lookup(summary, d.column, "median")
                mean, _ = lookup(summary, d.column, "mean")
                values = descriptor_values(run.particles, d, um_per_px)
                p10, p90 = quantile(values, 0.1), quantile(values, 0.9)
            rows.append(SummaryRow(run.label, d, n, median, mean, p10, p90))
    return rows


@dataclass(frozen=True)
class SizeRow:
    """ECD percentiles of one run in one weighting (``number`` or ``volume``), each with its CI."""

    run: str
    weighting: str
    n: int
    d10: Estimate
    d50: Estimate
    d90: Estimate
    span: Estimate


def size_rows(runs: Sequence[RunData], um_per_px: float | None) -> list[SizeRow]:
    """Number- and volume-weighted D10/D50/D90 and span of the ECD of each run (border-touching excluded)."""
    var = get_descriptor("ecd").column_for(um_per_px)
    rows = []
    for run in runs:
        summary = run_summary(run, um_per_px, ())
        for weighting in ("number", "volume"):
            d10, n = lookup(summary, var, "D10", weighting)
            rows.append(
                SizeRow(
                    run.label,
                    weighting,
                    n,
                    d10,
                    lookup(summary, var, "D50", weighting)[0],
                    lookup(summary, var, "D90", weighting)[0],
                    lookup(summary, var, "span", weighting)[0],
                )
            )
    return rows


@dataclass(frozen=True)
class ComparisonRow:
    """Run ``other`` against ``baseline`` for one descriptor."""

    baseline: str
    other: str
    descriptor: Descriptor
    result: Comparison


def comparison_rows(
    runs: Sequence[RunData], um_per_px: float | None, names: Sequence[str] = TABULATED
) -> list[ComparisonRow]:
    """Each run after the first against the first, descriptor by descriptor (those present in every table).

    Holm adjustment of the KS p-values runs over all rows returned.
    """
    tables = {r.label: with_units(r.particles, um_per_px) for r in runs}
    descs = [get_descriptor(n) for n in names]
    descs = [d for d in descs if all(d.column in r.particles.columns for r in runs)]
    by_column = {d.column_for(um_per_px): d for d in descs}
    result = compare_runs(tables, list(by_column))
    return [
        ComparisonRow(
            str(row["label_a"]),
            str(row["label_b"]),
            by_column[str(row["descriptor"])],
            comparison_from_row(row),
        )
        for row in result.to_dict("records")
    ]


def color_range(
    runs: Sequence[RunData], descriptor: Descriptor, um_per_px: float | None
) -> tuple[float, float]:
    """Colour-scale limits for ``descriptor``: 2nd and 98th percentile of the kept values of all runs pooled."""
    pooled = np.concatenate([descriptor_values(r.particles, descriptor, um_per_px) for r in runs] or [[]])
    if pooled.size == 0:
        return (0.0, 1.0)
    lo, hi = (float(v) for v in np.percentile(pooled, [2, 98]))
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)
