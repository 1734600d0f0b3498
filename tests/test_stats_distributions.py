"""Distributions: weighted quantiles, bootstrap CIs, border/too_small policies, tidy tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from flocshape.stats.distributions import (
    DistributionOptions,
    bootstrap_statistics,
    dataset_distribution,
    fov_weights,
    median_and_mean,
    particle_weights,
    per_image_distribution,
    size_quantiles,
    weighted_quantile,
    write_tables,
)
from flocshape.stats.synthetic import ellipse_table

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(arrays(float, st.integers(1, 40), elements=finite), st.lists(st.floats(0, 1), min_size=1, max_size=5))
def test_equal_weights_match_numpy_hazen(values: np.ndarray, qs: list[float]) -> None:
    expected = np.quantile(values, qs, method="hazen")
    got = weighted_quantile(values, np.full(values.size, 2.5), qs)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-6)


def test_volume_weighting_is_dominated_by_large_particles() -> None:
    ecd = np.r_[np.ones(1000), 20.0]
    volume = np.pi / 6 * ecd**3  # the big one holds 8000 / 9000 of the volume
    assert weighted_quantile(ecd, None, 0.5) == 1.0
    assert weighted_quantile(ecd, volume, 0.9) == pytest.approx(20.0)
    assert weighted_quantile(ecd, volume, 0.01) == pytest.approx(1.0)


def test_weighted_quantile_rejects_bad_weights() -> None:
    with pytest.raises(ValueError, match="weights"):
        weighted_quantile(np.array([1.0, 2.0]), np.array([1.0, 0.0]), 0.5)
    assert np.isnan(weighted_quantile(np.array([]), None, 0.5))


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    x = np.random.default_rng(3).lognormal(size=400)
    r1 = bootstrap_statistics(x, None, size_quantiles, n_boot=300, seed=7)
    r2 = bootstrap_statistics(x, None, size_quantiles, n_boot=300, seed=7)
    assert r1 == r2
    for name in ("D10", "D50", "D90", "span", "mean"):
        est, lo, hi = r1[name]
        assert lo <= est <= hi, name
    assert r1["D50"][0] == pytest.approx(np.median(x))


def test_bootstrap_median_ci_coverage_is_near_nominal() -> None:
    """Percentile-bootstrap 95 % CI of the median of N(0, 1) samples (n = 60) covers 0 about 95 % of the time."""
    rng = np.random.default_rng(11)
    hits = 0
    trials = 150
    for t in range(trials):
        x = rng.standard_normal(60)
        _, lo, hi = bootstrap_statistics(x, None, median_and_mean, n_boot=400, seed=t)["median"]
        hits += lo <= 0.0 <= hi
    assert 0.88 <= hits / trials <= 0.995


def test_bootstrap_chunking_gives_same_distribution_shape() -> None:
    x = np.random.default_rng(5).standard_normal(50_000)  # more cells than one chunk holds
    est, lo, hi = bootstrap_statistics(x, None, median_and_mean, n_boot=60, seed=1)["mean"]
    se = 1 / np.sqrt(x.size)
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.35)


def _squares(n_each: int, sides: tuple[float, float], seed: int) -> pd.DataFrame:
    """Squares with uniformly placed centres on a 1000 x 1000 image; box clipped to the image."""
    rng = np.random.default_rng(seed)
    side = np.repeat(np.asarray(sides, float), n_each)
    cx, cy = rng.uniform(0, 1000, (2, side.size))
    x0, y0 = np.clip(cx - side / 2, 0, 1000), np.clip(cy - side / 2, 0, 1000)
    x1, y1 = np.clip(cx + side / 2, 0, 1000), np.clip(cy + side / 2, 0, 1000)
    touches = (cx - side / 2 <= 0) | (cy - side / 2 <= 0) | (cx + side / 2 >= 1000) | (cy + side / 2 >= 1000)
    return pd.DataFrame({"image_id": 1, "file_name": "0001.jpg", "ecd_px": side, "bbox_w_px": x1 - x0,
                         "bbox_h_px": y1 - y0, "touches_border": touches, "too_small": False,
                         "image_width": 1000, "image_height": 1000})  # fmt: skip


def test_fov_weight_formula() -> None:
    t = pd.DataFrame({"image_width": [100, 100], "image_height": [50, 50], "bbox_w_px": [10, 100],
                      "bbox_h_px": [5, 10]})  # fmt: skip
    w = fov_weights(t)
    assert w[0] == pytest.approx(100 * 50 / (90 * 45))
    assert np.isnan(w[1])


def test_fov_weighting_removes_the_border_exclusion_bias() -> None:
    t = _squares(20_000, (20.0, 300.0), seed=2)
    big = t["ecd_px"].to_numpy() > 100
    for policy, lo, hi in (("exclude", 0.25, 0.40), ("fov", 0.47, 0.53), ("include", 0.49, 0.51)):
        w = particle_weights(t, policy, for_shape=False)
        share_big = w[big].sum() / w.sum()
        assert lo < share_big < hi, (policy, share_big)


def test_policies_and_counts_in_describe() -> None:
    t = ellipse_table(400, seed=4, n_images=3, ecd_median_px=60)
    t.loc[:19, "too_small"] = True
    t.loc[:19, "touches_border"] = False
    opt = DistributionOptions(n_boot=50, seed=1)
    d = dataset_distribution(t, opt)
    counts = d[d.variable == "particles"].set_index("statistic")["value"]
    assert counts["n_total"] == 400
    assert counts["n_excluded_border"] == t.touches_border.sum()
    assert counts["n_excluded_too_small"] == 20
    used = d.groupby("variable")["n_used"].first()
    assert used["ecd_px"] == 400 - t.touches_border.sum()  # size statistics keep too_small particles
    assert used["circularity"] == 400 - t.touches_border.sum() - 20
    d50 = d[(d.variable == "ecd_px") & (d.statistic == "D50") & (d.weighting == "number")].iloc[0]
    assert d50.value == pytest.approx(np.quantile(t.ecd_px[~t.touches_border], 0.5, method="hazen"))
    dv50 = d[(d.variable == "ecd_px") & (d.statistic == "D50") & (d.weighting == "volume")].iloc[0]
    assert dv50.value > d50.value
    inc = dataset_distribution(t, DistributionOptions(border="include", keep_too_small=True, n_boot=0))
    assert inc[(inc.variable == "circularity")].n_used.iloc[0] == 400
    assert inc.ci_low.isna().all()


def test_low_score_predictions_are_excluded_from_size_and_shape_and_counted() -> None:
    t = ellipse_table(300, seed=5, ecd_median_px=60).assign(low_score=False, touches_border=False)
    t.loc[:49, "low_score"] = True
    d = dataset_distribution(t, DistributionOptions(n_boot=0))
    counts = d[d.variable == "particles"].set_index("statistic")["value"]
    assert counts["n_total"] == 300 and counts["n_excluded_low_score"] == 50
    used = d.groupby("variable")["n_used"].first()
    assert used["ecd_px"] == 250 and used["circularity"] == 250 - int(t.too_small[50:].sum())
    d50 = d[(d.variable == "ecd_px") & (d.statistic == "D50") & (d.weighting == "number")].iloc[0]
    assert d50.value == pytest.approx(np.quantile(t.ecd_px[50:], 0.5, method="hazen"))
    kept = dataset_distribution(t, DistributionOptions(n_boot=0, keep_low_score=True))
    assert kept[kept.variable == "ecd_px"].n_used.iloc[0] == 300
    assert kept[kept.statistic == "n_excluded_low_score"].value.iloc[0] == 0


def test_per_image_tables_and_writing(tmp_path) -> None:
    t = ellipse_table(300, seed=6, n_images=4)
    per_image = per_image_distribution(t, DistributionOptions(n_boot=20))
    assert sorted(per_image.image_id.unique()) == sorted(t.image_id.unique())
    n_total = per_image[(per_image.variable == "particles") & (per_image.statistic == "n_total")]
    assert n_total.value.sum() == 300
    paths = write_tables({"per_image": per_image}, tmp_path)
    assert {p.name for p in paths} == {"per_image.csv", "per_image.parquet"}
    back = pd.read_parquet(tmp_path / "per_image.parquet")
    pd.testing.assert_frame_equal(back, per_image)


def test_bad_policy_is_rejected() -> None:
    with pytest.raises(ValueError, match="border policy"):
        DistributionOptions(border="sometimes")
