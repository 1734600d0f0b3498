"""The boundary-shape and real-frame benchmarks' statistics (benchmarks/boundary_shape.py, real_frames.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scriptload import load_script

from flocshape.errors import InputError
from flocshape.masks import encode_rle

bs = load_script("benchmarks/boundary_shape.py", "boundary_shape")
rf = load_script("benchmarks/real_frames.py", "real_frames")


def _table(values: dict[str, float], frames: int = 30, per_frame: int = 5) -> pd.DataFrame:
    names = [f"{i:04d}.jpg" for i in range(1, frames + 1)]
    rows = [{"file_name": n, "area_px": 500.0, **values} for n in names for _ in range(per_frame)]
    return pd.DataFrame(rows)


def test_blocks_are_ten_frames_in_name_order() -> None:
    names = pd.Series(["0021.jpg", "0001.jpg", "0011.jpg", "0002.jpg", "0020.jpg"])
    assert bs.block_of(names).tolist() == [2, 0, 1, 0, 1]
    named = pd.Series(["c.png", "a.png", "b.png"])
    assert bs.block_of(named).tolist() == [0, 0, 0]


def test_shift_and_its_block_bootstrap_ci() -> None:
    rng = np.random.default_rng(0)
    a, b = _table({"form_factor": 0.5}), _table({"form_factor": 0.4})
    shift, lo, hi = bs.shift_ci(a, b, "form_factor", rng, 50)
    assert shift == pytest.approx(-20.0) and lo == pytest.approx(-20.0) and hi == pytest.approx(-20.0)
    noisy = b.assign(form_factor=0.4 + rng.normal(0, 0.05, len(b)))
    shift, lo, hi = bs.shift_ci(a, noisy, "form_factor", rng, 200)
    assert lo < shift < hi and lo < -15 and hi > -25


def test_pair_passes_only_with_the_sign_and_within_a_quarter() -> None:
    rng = np.random.default_rng(1)
    base = {"form_factor": 0.5, "circularity": 0.7, "solidity": 0.9, "convexity": 0.8, "ecd_px": 20.0,
            "feret_max_px": 30.0}  # fmt: skip
    a = {k: _table(base) for k in ("gt", "pred", "image")}
    b = {
        "gt": _table(base | {"form_factor": 0.4}),  # -20 %
        "pred": _table(base | {"form_factor": 0.42}),  # -16 %: within a quarter of -20
        "image": _table(base | {"form_factor": 0.45}),
    }
    rows = {r["descriptor"]: r for r in bs.pair_rows(a, b, "A → B", rng, 20)}
    assert rows["form_factor"]["pass"] == "yes"
    assert rows["form_factor"]["gt shift %"].startswith("-20.0")
    b["pred"] = _table(base | {"form_factor": 0.44})  # -12 %: attenuated by 40 %
    assert {r["descriptor"]: r for r in bs.pair_rows(a, b, "A → B", rng, 20)}["form_factor"]["pass"] == "no"
    b["pred"] = _table(base | {"form_factor": 0.6})  # wrong sign
    assert {r["descriptor"]: r for r in bs.pair_rows(a, b, "A → B", rng, 20)}["form_factor"]["pass"] == "no"


def test_pair_specs() -> None:
    assert bs.parse_spec("0.2:") == (0.2, None) and bs.parse_spec("0.9:0.7") == (0.9, 0.7)
    assert bs.batch_name(0.9, 0.7) == "r0.9_e0.7" and bs.batch_name(0.2, None) == "r0.2"
    with pytest.raises(InputError, match="--pair"):
        bs.parse_spec("rough:")


def test_label_free_table_of_a_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    square = np.zeros((100, 120), bool)
    square[20:50, 20:50] = True
    yy, xx = np.mgrid[:100, :120]
    disc = (yy - 60) ** 2 + (xx - 90) ** 2 <= 15**2
    sub = [
        {"image_id": 1, "category_id": 1, "score": 0.9, "segmentation": encode_rle(disc)},
        {"image_id": 1, "category_id": 1, "score": 0.1, "segmentation": encode_rle(square)},
    ]
    (run / "submission.json").write_text(json.dumps(sub))
    pd.DataFrame(
        {"file_name": ["a.png", "a.png"], "score": [0.9, 0.1], "low_score": [False, True]}
    ).to_parquet(run / "particles.parquet")
    manifest = {"frames": {"ok": 1}, "settings": {"postproc": {"measure_min_score": 0.2}}}
    (run / "manifest.json").write_text(json.dumps(manifest))
    (row,) = rf.label_free_table(run)
    assert row["detections per frame"] == 2 and row["median score"] == pytest.approx(0.5)
    assert row["share score >= 0.5"] == 0.5 and row["share low_score"] == 0.5
    assert row["straight-run share % (counted)"] == 0.0  # the disc only: no 12-px flat run
    # all: the square (120 straight px) and the disc (no straight px, 124 px of outline)
    assert row["straight-run share % (all)"] == pytest.approx(100 * 120 / (120 + 124))


def test_command_line_splits_predict_options_and_checks_frames() -> None:
    args, extra = bs.parse_args(["--work", "w", "--name", "x", "--", "--box-pad", "2"])
    assert extra == ["--box-pad", "2"] and args.name == "x" and args.frames == 60
    assert args.split_pred is None and args.calibration is None and args.real is None
    with pytest.raises(InputError, match="--frames"):
        bs.parse_args(["--work", "w", "--frames", "15"])
