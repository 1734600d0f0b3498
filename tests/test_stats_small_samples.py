"""No verdict without enough particles: empty samples, samples below the minimum, no bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flocshape.stats.compare import MIN_PARTICLES, CompareOptions, compare_tables
from flocshape.stats.distributions import DistributionOptions, dataset_distribution


def _table(ecd: np.ndarray) -> pd.DataFrame:
    n = len(ecd)
    return pd.DataFrame({"ecd_px": ecd, "touches_border": np.zeros(n, bool), "too_small": np.zeros(n, bool)})


def _one(a: pd.DataFrame, b: pd.DataFrame, **opt: object) -> pd.Series:
    return compare_tables({"A": a, "B": b}, ["ecd_px"], CompareOptions(n_boot=200, **opt)).iloc[0]  # type: ignore[arg-type]


def test_one_particle_is_not_a_sample() -> None:
    rng = np.random.default_rng(0)
    row = _one(_table(rng.normal(20, 2, 300)), _table(np.array([41.3])))
    assert not row["significant_ci"] and not row["enough_particles"]
    assert row["delta_rel_pct"] == pytest.approx(100 * (41.3 - row["median_a"]) / row["median_a"])
    assert (
        "too few particles to judge (1 vs 300" in row["verdict"]
        and f"at least {MIN_PARTICLES}" in row["verdict"]
    )
    assert "larger" not in row["verdict"]


def test_the_minimum_is_a_stated_option() -> None:
    rng = np.random.default_rng(1)
    a, b = _table(rng.normal(20, 1, 300)), _table(rng.normal(30, 1, 12))
    assert "too few particles" in _one(a, b)["verdict"]
    row = _one(a, b, min_particles=10)
    assert row["significant_ci"] and row["verdict"].startswith("B is") and "larger than A" in row["verdict"]


def test_no_particles_and_no_bootstrap_say_why() -> None:
    rng = np.random.default_rng(2)
    a = _table(rng.normal(20, 2, 100))
    empty = _one(a, _table(np.array([])))
    assert (
        empty["verdict"] == "B vs A: size: no particles in B; nothing to compare"
        and not empty["significant_ci"]
    )
    off = compare_tables({"A": a, "B": _table(rng.normal(25, 2, 100))}, ["ecd_px"], CompareOptions(n_boot=0))
    assert (
        "not judged (no bootstrap" in off["verdict"].iloc[0]
        and "not enough particles" not in off["verdict"].iloc[0]
    )


def test_an_empty_table_has_a_distribution_of_nans() -> None:
    empty = _table(np.array([]))
    out = dataset_distribution(empty, DistributionOptions(n_boot=50))
    counts = out[out["variable"] == "particles"].set_index("statistic")["value"]
    assert counts["n_total"] == 0
    sizes = out[out["variable"] == "ecd_px"]
    assert len(sizes) > 0 and sizes["value"].isna().all() and (sizes["n_used"] == 0).all()
