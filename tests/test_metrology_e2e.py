"""benchmarks/metrology_e2e.py: which particles its tables count (the compare defaults)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from scriptload import load_script

REPO = Path(__file__).resolve().parents[1]


me = load_script("benchmarks/metrology_e2e.py", "metrology_e2e")


def test_counted_leaves_out_border_small_and_low_score_rows_like_compare() -> None:
    table = pd.DataFrame(
        {
            "instance_id": [0, 1, 2, 3, 4],
            "touches_border": [False, True, False, False, False],
            "too_small": [False, False, True, False, False],
            "low_score": [False, False, False, True, None],
        }
    )
    assert me.counted(table)["instance_id"].tolist() == [0, 4]  # a missing flag counts as not flagged
    assert me.counted(table, keep_low_score=True)["instance_id"].tolist() == [0, 3, 4]
    gt = table.drop(columns=["too_small", "low_score"])  # ground truth has no score flags
    assert me.counted(gt)["instance_id"].tolist() == [0, 2, 3, 4]


def test_shift_only_names_the_missing_table(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit, match=r"A/pred/particles.parquet: not found"):
        me.shift_only(tmp_path)


def _batch_tables(rng, n: int, ar_mean: float) -> tuple[pd.DataFrame, pd.DataFrame]:  # noqa: ANN001
    """Labels and predictions of one batch: every prediction is its label, attenuated to 0.8 x AR + 0.1."""
    import numpy as np

    ar = np.clip(rng.normal(ar_mean, 0.1, n), 0.2, 1.0)
    base = {
        "file_name": "f.jpg",
        "centroid_x_px": np.arange(n) * 100.0,
        "centroid_y_px": 50.0,
        "area_px": 400.0,
        "ecd_px": 22.6,
        "feret_max_px": 30.0,
    }
    gt = pd.DataFrame({**base, "aspect_ratio_feret": ar, "aspect_ratio_ellipse": ar})
    pred = gt.assign(aspect_ratio_feret=0.8 * ar + 0.1, aspect_ratio_ellipse=ar)
    return gt, pred


def test_shift_attenuation_recovers_a_known_per_particle_slope(tmp_path: Path) -> None:
    import numpy as np

    sa = load_script("benchmarks/shift_attenuation.py", "shift_attenuation")
    rng = np.random.default_rng(0)
    for name, mean in (("A", 0.65), ("B", 0.5)):
        gt, pred = _batch_tables(rng, 300, mean)
        for part, table in (("gt", gt), ("pred", pred)):
            (tmp_path / name / part).mkdir(parents=True)
            table.to_parquet(tmp_path / name / part / "particles.parquet")
    tables = sa.batch_tables(tmp_path, keep_low_score=False)
    assert len(tables["B"]["matched predictions"]) == 300 and tables["B"]["unmatched predictions"].empty
    feret = sa.attenuation_fit(tables, "aspect_ratio_feret")
    assert feret["per_particle_slope"] == pytest.approx(0.8) and feret["batch_B_term"] == pytest.approx(
        0.0, abs=1e-9
    )
    assert sa.attenuation_fit(tables, "aspect_ratio_ellipse")["per_particle_slope"] == pytest.approx(1.0)
    shifts = {r["population"]: r for r in sa.shift_table(tables)}
    assert shifts["matched predictions"]["aspect_ratio_ellipse"] == pytest.approx(
        shifts["matched labels"]["aspect_ratio_ellipse"]
    )
    assert abs(shifts["matched predictions"]["aspect_ratio_feret"]) < abs(
        shifts["labels"]["aspect_ratio_feret"]
    )
    cut = sa.tip_cut_shifts(tables, (0.0,))[0]
    assert cut["pairs_A/B"] == "300/300"
