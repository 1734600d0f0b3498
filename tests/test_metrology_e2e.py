"""benchmarks/metrology_e2e.py: which particles its tables count (the compare defaults)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def _load_module():
    spec = importlib.util.spec_from_file_location("metrology_e2e", REPO / "benchmarks" / "metrology_e2e.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


me = _load_module()


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
