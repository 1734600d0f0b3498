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
