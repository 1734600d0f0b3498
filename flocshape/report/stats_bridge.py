"""The statistics the report prints, in one place: thin adapters over :mod:`flocshape.stats`.

* Distributions come from :func:`flocshape.stats.distributions.describe` (tidy table; border-touching
  particles excluded from size and shape statistics, ``too_small`` ones from shape statistics; percentile
  bootstrap CIs with a fixed seed; Hazen-type weighted quantiles; volume weight = ECD-sphere volume).
* Comparisons come from :func:`flocshape.stats.compare.compare_tables` (Δmedian with bootstrap CI, KS with
  Holm-adjusted p, Wasserstein-1, Cliff's delta, verdict line), with that module's default options.

Conventions: value arrays are 1-D floats already restricted to the particles that count; NaN is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from flocshape.stats.compare import CompareOptions, compare_tables
from flocshape.stats.distributions import DistributionOptions, particle_weights, weighted_quantile
from flocshape.stats.distributions import describe as describe_table

CONFIDENCE = 0.95
N_RESAMPLES = 1000  # distributions; comparisons use CompareOptions' default (2000)
SEED = 0
BORDER_POLICY = "exclude"


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a confidence interval (NaN bounds when there is no CI)."""

    value: float
    low: float
    high: float


def distribution_options(size_columns: Sequence[str], shape_columns: Sequence[str]) -> DistributionOptions:
    """The report's options for :func:`flocshape.stats.distributions.describe`."""
    return DistributionOptions(
        border=BORDER_POLICY,
        n_boot=N_RESAMPLES,
        seed=SEED,
        confidence=CONFIDENCE,
        size_columns=tuple(size_columns),
        shape_columns=tuple(shape_columns),
    )


def summarize(table: pd.DataFrame, size_columns: Sequence[str], shape_columns: Sequence[str]) -> pd.DataFrame:
    """Tidy summary (``variable, statistic, weighting, value, ci_low, ci_high, n_used``) of one run's table."""
    return describe_table(table, distribution_options(size_columns, shape_columns))


def lookup(
    summary: pd.DataFrame, variable: str, statistic: str, weighting: str = "number"
) -> tuple[Estimate, int]:
    """One statistic of a tidy summary as an :class:`Estimate` and its N; NaN and 0 when absent."""
    hit = summary[
        (summary["variable"] == variable)
        & (summary["statistic"] == statistic)
        & (summary["weighting"] == weighting)
    ]
    if hit.empty:
        nan = float("nan")
        return Estimate(nan, nan, nan), 0
    row = hit.iloc[0]
    return Estimate(float(row["value"]), float(row["ci_low"]), float(row["ci_high"])), int(row["n_used"])


def kept(table: pd.DataFrame, for_shape: bool) -> np.ndarray:
    """Boolean mask of the particles that count for size (``for_shape=False``) or shape statistics."""
    return particle_weights(table, BORDER_POLICY, for_shape=for_shape) > 0


def quantile(values: np.ndarray, q: float) -> float:
    """Number-weighted quantile ``q`` (same convention as the distribution summaries); NaN if empty."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    return float(weighted_quantile(arr, None, q)) if arr.size else float("nan")


@dataclass(frozen=True)
class Comparison:
    """Run B against baseline A for one descriptor (B minus A), from :func:`compare_runs`."""

    n_a: int
    n_b: int
    median_a: float
    median_b: float
    delta_median: Estimate
    delta_rel_pct: Estimate
    ks_statistic: float
    ks_pvalue: float
    ks_pvalue_holm: float
    wasserstein: float
    cliffs_delta: float
    cliffs_magnitude: str
    significant: bool
    verdict: str


def compare_options() -> CompareOptions:
    """The report's options for :func:`flocshape.stats.compare.compare_tables` (the module's defaults)."""
    return CompareOptions(border=BORDER_POLICY, seed=SEED, confidence=CONFIDENCE)


def compare_runs(tables: dict[str, pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    """Every table after the first against the first, per column (:func:`flocshape.stats.compare.compare_tables`)."""
    return compare_tables(tables, list(columns), compare_options())


def comparison_from_row(row: dict[str, object]) -> Comparison:
    """A :class:`Comparison` from one row of :func:`compare_runs`."""
    f = {k: float(v) for k, v in row.items() if isinstance(v, int | float | np.floating | np.integer)}
    return Comparison(
        n_a=int(row["n_a"]),
        n_b=int(row["n_b"]),
        median_a=f["median_a"],
        median_b=f["median_b"],
        delta_median=Estimate(f["delta_median"], f["delta_ci_low"], f["delta_ci_high"]),
        delta_rel_pct=Estimate(f["delta_rel_pct"], f["delta_rel_ci_low_pct"], f["delta_rel_ci_high_pct"]),
        ks_statistic=f["ks_statistic"],
        ks_pvalue=f["ks_pvalue"],
        ks_pvalue_holm=f["ks_pvalue_holm"],
        wasserstein=f["wasserstein"],
        cliffs_delta=f["cliffs_delta"],
        cliffs_magnitude=str(row["cliffs_magnitude"]),
        significant=bool(row["significant_ci"]),
        verdict=str(row["verdict"]),
    )
