"""Change between batches: statistics, verdict wording, and the infer/compare.py command."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from flocshape.errors import run_cli
from flocshape.stats.cli import main
from flocshape.stats.compare import CompareOptions, cliffs_delta, compare_tables, holm_adjust
from flocshape.stats.synthetic import ellipse_table
from flocshape.stats.verdict import verdict_line, wording

FAST = CompareOptions(n_boot=300, seed=0)


def test_holm_adjust_hand_example() -> None:
    got = holm_adjust([0.01, 0.04, 0.03, 0.005, np.nan])
    np.testing.assert_allclose(got[:4], [0.03, 0.06, 0.06, 0.02])
    assert np.isnan(got[4])


def test_cliffs_delta_matches_pairwise_definition() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 40).astype(float)
    b = rng.integers(1, 6, 30).astype(float)
    diff = b[None, :] - a[:, None]
    expected = (np.count_nonzero(diff > 0) - np.count_nonzero(diff < 0)) / diff.size
    assert cliffs_delta(a, b) == pytest.approx(expected)


def test_known_elongation_shift_is_recovered() -> None:
    a = ellipse_table(3000, seed=1, aspect_mean=0.7)
    b = ellipse_table(3000, seed=2, aspect_mean=0.6)
    true_rel = 100 * (np.median(b.elongation) / np.median(a.elongation) - 1)
    out = compare_tables({"A": a, "B": b}, ["elongation", "ecd_px"], FAST).set_index("descriptor")
    row = out.loc["elongation"]
    assert row.delta_rel_ci_low_pct < true_rel < row.delta_rel_ci_high_pct
    assert row.significant_ci and row.ks_pvalue_holm < 1e-6 and row.cliffs_delta > 0.3
    assert row.verdict.startswith("B is ") and "more elongated than A" in row.verdict
    size = out.loc["ecd_px"]  # same size distribution in both
    assert not size.significant_ci
    assert size.verdict.startswith("B vs A: no significant change in size")
    assert size.wasserstein < row.wasserstein * 100  # unit sanity: both finite and non-negative
    assert size.wasserstein >= 0


def test_same_population_mostly_no_change_and_deterministic() -> None:
    a = ellipse_table(800, seed=3)
    b = ellipse_table(800, seed=4)
    r1 = compare_tables({"A": a, "B": b, "C": ellipse_table(800, seed=5)}, ["circularity", "ecd_px"], FAST)
    r2 = compare_tables({"A": a, "B": b, "C": ellipse_table(800, seed=5)}, ["circularity", "ecd_px"], FAST)
    pd.testing.assert_frame_equal(r1, r2)
    assert len(r1) == 4 and set(r1.label_b) == {"B", "C"}
    assert (r1.ks_pvalue_holm >= r1.ks_pvalue).all()


def test_border_and_too_small_rules() -> None:
    a = ellipse_table(500, seed=1)
    b = a.copy()
    b.loc[:99, "too_small"] = True
    r = compare_tables({"A": a, "B": b}, ["ecd_px", "circularity"], FAST).set_index("descriptor")
    n_in = int((~a.touches_border).sum())
    assert r.loc["ecd_px", "n_b"] == n_in
    assert r.loc["circularity", "n_b"] == n_in - int((~a.touches_border[:100]).sum())
    inc = compare_tables({"A": a, "B": b}, ["ecd_px"], CompareOptions(border="include", n_boot=0))
    assert inc.n_a.iloc[0] == 500 and np.isnan(inc.delta_ci_low.iloc[0])


def test_low_score_predictions_are_left_out_unless_kept() -> None:
    a = ellipse_table(500, seed=1)
    b = ellipse_table(500, seed=2).assign(low_score=False)
    b.loc[:199, "low_score"] = True  # weak detections: flagged, not dropped, by infer/predict.py
    b.loc[:199, "ecd_px"] *= 0.3  # ... and much smaller, so counting them would move the median
    r = compare_tables({"A": a, "B": b}, ["ecd_px"], FAST).set_index("descriptor")
    assert r.loc["ecd_px", "n_b"] == int((~b.touches_border[200:]).sum())
    assert r.loc["ecd_px", "median_b"] == pytest.approx(np.median(b.ecd_px[200:][~b.touches_border[200:]]))
    kept = compare_tables({"A": a, "B": b}, ["ecd_px"], CompareOptions(keep_low_score=True, n_boot=0))
    assert kept.n_b.iloc[0] == int((~b.touches_border).sum())


@pytest.mark.parametrize(
    ("descriptor", "delta", "word"),
    [("ecd_um", -1.0, "smaller"), ("convexity", 0.1, "smoother"), ("solidity", -0.1, "less compact"),
     ("form_factor", 0.1, "rounder"), ("roundness", -0.1, "less round")],
)  # fmt: skip
def test_verdict_words(descriptor: str, delta: float, word: str) -> None:
    sign = 1.0 if delta > 0 else -1.0
    rel, rel_ci = 20.0 * sign, tuple(sorted((16.0 * sign, 24.0 * sign)))
    line = verdict_line("B", "A", descriptor, delta, tuple(sorted((0.8 * delta, 1.2 * delta))), rel, rel_ci)
    assert line == f"B is 20 % {word} than A (median {descriptor}, 95 % CI 16 to 24 %)"


def test_verdict_without_relative_change_and_unknown_descriptor() -> None:
    line = verdict_line("B", "A", "mystery", 0.5, (0.2, 0.8), float("nan"), (float("nan"), float("nan")))
    assert line == "B is higher mystery than A by 0.5 (median mystery, 95 % CI 0.2 to 0.8)"
    assert wording("area_um2") == ("larger", "smaller", "size")


def _tables(tmp_path):
    a = ellipse_table(600, seed=1)
    b = ellipse_table(600, seed=2, aspect_mean=0.55)
    (tmp_path / "runA").mkdir()
    a.to_parquet(tmp_path / "runA" / "particles.parquet")
    b.to_csv(tmp_path / "b.csv", index=False)
    return tmp_path / "runA", tmp_path / "b.csv"


def test_cli_writes_the_comparison_folder(tmp_path, capsys) -> None:
    run_a, b = _tables(tmp_path)
    out = tmp_path / "cmp"
    rc = run_cli(main, [str(run_a), str(b), "--out", str(out), "--bootstrap", "200", "--um-per-px", "0.5",
                        "--descriptors", "ecd_um", "elongation", "circularity"])  # fmt: skip
    assert rc == 0
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {"comparison.csv", "verdicts.txt", "summary.json", "manifest.json", "distributions.csv",
            "plots/ecd_um.png", "plots/elongation.png", "plots/shape_vs_size.png"} <= names  # fmt: skip
    comparison = pd.read_csv(out / "comparison.csv")
    assert list(comparison.descriptor) == ["ecd_um", "elongation", "circularity"]
    assert set(comparison.label_a) == {"runA"} and set(comparison.label_b) == {"b"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reference"] == "runA" and summary["um_per_px"] == 0.5
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tool"] == "infer/compare.py" and "comparison.csv" in manifest["outputs"]
    verdicts = (out / "verdicts.txt").read_text().splitlines()
    assert any("b is" in v and "more elongated than runA" in v for v in verdicts)
    assert verdicts[0] in capsys.readouterr().out


def test_cli_bad_input_is_one_line_and_writes_nothing(tmp_path, repo_root, capsys) -> None:
    run_a, b = _tables(tmp_path)
    out = tmp_path / "cmp"
    missing = tmp_path / "missing.parquet"
    proc = subprocess.run([sys.executable, "infer/compare.py", str(run_a), str(missing), "--out", str(out)],
                          cwd=repo_root, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {missing}: no such particle table "
        "(give a run folder with particles.parquet, or .parquet/.csv)"
    ]
    bad_parquet = tmp_path / "bad.parquet"
    bad_parquet.write_bytes(b"not a parquet file")
    no_columns = tmp_path / "no_columns.csv"
    no_columns.write_text("a,b\n1,2\n")
    cases = [
        ([str(run_a), str(b), "--descriptors", "no_such_column"], "no column(s) no_such_column"),
        ([str(run_a), str(b), "--labels", "X"], "1 labels for 2 inputs"),
        ([str(run_a), str(bad_parquet)], f"{bad_parquet}: cannot read table"),
        ([str(run_a), str(no_columns)], f"{no_columns}: none of the default descriptors"),
    ]
    for args, what in cases:
        capsys.readouterr()
        assert run_cli(main, [*args, "--out", str(out), "--no-plots"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and what in err[0]
    assert not out.exists()
