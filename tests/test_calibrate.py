"""Descriptor calibration against labelled masks (flocshape.shape.calibrate, infer/calibrate.py)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from scriptload import load_script

from flocshape.errors import InputError, run_cli
from flocshape.masks import encode_rle
from flocshape.shape.calibrate import (
    CALIBRATION_KIND,
    Curve,
    apply_calibration,
    fit_calibration,
    fit_curve,
    load_calibration,
    running_index,
)

REPO = Path(__file__).resolve().parents[1]


CALIBRATE = load_script("infer/calibrate.py", "calibrate_cli")
SHAPE = load_script("infer/shape.py", "shape_cli_for_calibrate")


def _run(module, *args: object) -> int:  # noqa: ANN001
    return run_cli(module.main, [str(a) for a in args])


def _shrunk(true: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A biased, noisy 'measurement': pulled 30 % towards 0.7 and 5 % too large, with 3 % noise."""
    return (true + 0.3 * (0.7 - true)) * 1.05 * (1.0 + 0.03 * rng.standard_normal(true.size))


def test_curve_inverts_a_known_bias() -> None:
    rng = np.random.default_rng(1)
    true = rng.uniform(0.3, 1.0, 4000)
    curve = fit_curve(true, _shrunk(true, rng))
    fresh = rng.uniform(0.35, 0.95, 4000)
    corrected = curve.correct(_shrunk(fresh, rng))
    assert abs(np.median(corrected / fresh - 1.0)) < 0.01
    assert np.all(np.diff(curve.pred) > 0) and np.all(np.diff(curve.true) > 0)


def test_calibration_restores_a_shift_between_batches_that_the_bias_attenuates() -> None:
    """Fit on a reference set spanning the range; batch B is shifted (rounder -> more elongated)."""
    rng = np.random.default_rng(2)
    reference = rng.beta(4, 2, 6000) * 0.8 + 0.2  # mostly round, like training data
    curve = fit_curve(reference, _shrunk(reference, rng))
    a = rng.beta(5, 2, 3000) * 0.7 + 0.3
    b = rng.beta(2, 3, 3000) * 0.7 + 0.3
    true_shift = np.median(b) / np.median(a) - 1.0
    raw_a, raw_b = _shrunk(a, rng), _shrunk(b, rng)
    raw_shift = np.median(raw_b) / np.median(raw_a) - 1.0
    cal_shift = np.median(curve.correct(raw_b)) / np.median(curve.correct(raw_a)) - 1.0
    assert abs(raw_shift - true_shift) > 0.2 * abs(true_shift)  # the bias hides a fifth or more
    assert abs(cal_shift - true_shift) < 0.05 * abs(true_shift)


def test_outside_the_fitted_range_the_end_ratio_applies() -> None:
    curve = Curve((1.0, 2.0), (1.5, 2.5), 100)
    out = curve.correct(np.array([0.75, 2.0, 5.0]))
    assert out[0] == pytest.approx(0.5) and out[1] == pytest.approx(1.5) and out[2] == pytest.approx(4.0)


def test_non_monotone_bins_become_increasing_and_too_few_pairs_fail() -> None:
    true = np.repeat(np.arange(1.0, 5.0), 40)
    pred = np.repeat([2.0, 1.0, 3.0, 4.0], 40)
    curve = fit_curve(true, pred, n_bins=4, min_per_bin=30)
    assert np.all(np.diff(curve.pred) > 0)
    with pytest.raises(ValueError, match="too few pairs"):
        fit_curve(true[:50], pred[:50], n_bins=4, min_per_bin=30)


def _table(values: dict[str, np.ndarray]) -> pd.DataFrame:
    n = len(next(iter(values.values())))
    return pd.DataFrame({"touches_border": np.zeros(n, bool), "too_small": np.zeros(n, bool), **values})


def test_apply_keeps_raw_values_rescales_um_columns_and_leaves_the_rest() -> None:
    rng = np.random.default_rng(3)
    area = rng.uniform(200, 2000, 500)
    cal = fit_calibration(_table({"area_px": area}), _table({"area_px": area * 1.2}), min_per_bin=20)
    assert cal["curves"]["area_px"]["median_bias_pct_before"] == pytest.approx(20.0, abs=0.1)
    assert abs(cal["curves"]["area_px"]["median_bias_pct_after"]) < 0.5
    curves = {k: Curve(tuple(v["true"]), tuple(v["pred"]), v["n_pairs"]) for k, v in cal["curves"].items()}
    measured = _table(
        {"area_px": [600.0, 1200.0], "area_um2": [150.0, 300.0], "feret_angle_deg": [10.0, 20.0]}
    )
    out = apply_calibration(measured, curves)
    assert out["area_px"].to_list() == pytest.approx([500.0, 1000.0], rel=0.01)
    assert out["area_px_raw"].to_list() == [600.0, 1200.0]
    assert out["area_um2"].to_list() == pytest.approx([125.0, 250.0], rel=0.01)
    assert out["feret_angle_deg"].to_list() == [10.0, 20.0]
    assert measured["area_px"].to_list() == [600.0, 1200.0]  # input untouched


def test_running_index_counts_per_image() -> None:
    preds = [{"image_id": 1}, {"image_id": 2}, {"image_id": 1}, {"image_id": 1}, {"image_id": 2}]
    assert running_index(preds).tolist() == [0, 0, 1, 2, 1]


def test_load_calibration_rejects_bad_files(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"kind": "other"}))
    with pytest.raises(InputError, match="not a calibration file"):
        load_calibration(wrong)
    bad = tmp_path / "bad.json"
    curve = {"true": [1, 2], "pred": [2, 1], "n_pairs": 10}
    bad.write_text(json.dumps({"kind": CALIBRATION_KIND, "curves": {"area_px": curve}}))
    with pytest.raises(InputError, match="curve 'area_px'"):
        load_calibration(bad)


def _coco_pair(tmp_path: Path) -> tuple[Path, Path]:
    """Labelled ellipses and 'predicted' masks of the same ellipses dilated by 1 px, 3 frames of 200 x 300 px."""
    rng = np.random.default_rng(4)
    images, anns, preds = [], [], []
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    for image_id in (1, 2, 3):
        images.append({"id": image_id, "file_name": f"{image_id}.jpg", "height": 200, "width": 300})
        for row in range(4):
            for col in range(6):
                m = np.zeros((200, 300), np.uint8)
                axes = (int(rng.integers(6, 20)), int(rng.integers(5, 12)))
                cv2.ellipse(
                    m, (25 + 50 * col, 25 + 50 * row), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1
                )
                ann_id = len(anns) + 1
                anns.append({"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                             "segmentation": encode_rle(m.astype(bool)), "area": int(m.sum())})  # fmt: skip
                grown = cv2.dilate(m, kernel).astype(bool)
                preds.append(
                    {"image_id": image_id, "category_id": 1, "score": 0.9, "segmentation": encode_rle(grown)}
                )
    gt = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "Normal"}]}
    rng.shuffle(preds)  # pairing must not depend on order
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(preds))
    return tmp_path / "gt.json", tmp_path / "pred.json"


def test_cli_fit_then_apply_removes_the_bulge(tmp_path: Path) -> None:
    gt, pred = _coco_pair(tmp_path)
    cal = tmp_path / "cal.json"
    assert (
        _run(CALIBRATE, "fit", "--gt", gt, "--pred", pred, "--out", cal, "--bins", 4, "--min-per-bin", 10)
        == 0
    )
    data = json.loads(cal.read_text())
    assert data["n_matched"] == 72 and data["n_pairs"] == 72
    assert data["curves"]["area_px"]["median_bias_pct_before"] > 10.0
    assert abs(data["curves"]["area_px"]["median_bias_pct_after"]) < 3.0
    assert data["manifest"]["tool"] == "infer/calibrate.py fit"

    table = tmp_path / "particles.parquet"
    assert _run(SHAPE, "--coco", pred, "--out", table) == 0
    out = tmp_path / "cal" / "particles.parquet"
    assert _run(CALIBRATE, "apply", "--table", table, "--calibration", cal, "--out", out) == 0
    raw, calibrated = pd.read_parquet(table), pd.read_parquet(out)
    assert (calibrated["area_px"] < calibrated["area_px_raw"]).mean() > 0.9
    assert np.array_equal(calibrated["area_px_raw"].to_numpy(), raw["area_px"].to_numpy())
    assert json.loads((out.parent / "particles.parquet.manifest.json").read_text())["calibrated"]


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, pred = _coco_pair(tmp_path)
    capsys.readouterr()
    assert (
        _run(CALIBRATE, "fit", "--gt", gt, "--pred", pred, "--out", tmp_path / "c.json", "--min-per-bin", 40)
        == 2
    )
    err = capsys.readouterr().err
    assert "too few pairs" in err and str(pred) in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "c.json").exists()
    table = tmp_path / "t.parquet"
    assert _run(SHAPE, "--coco", pred, "--out", table) == 0
    capsys.readouterr()
    assert _run(CALIBRATE, "apply", "--table", table, "--calibration", gt, "--out", table) == 2
    assert "is also an input" in capsys.readouterr().err
    assert _run(CALIBRATE, "apply", "--table", table, "--calibration", gt, "--out", tmp_path / "o.csv") == 2
    err = capsys.readouterr().err
    assert "not a calibration file" in err and str(gt) in err
    assert (
        _run(
            CALIBRATE,
            "apply",
            "--table",
            tmp_path / "nope.parquet",
            "--calibration",
            gt,
            "--out",
            tmp_path / "o.csv",
        )
        == 2
    )
    assert "not a calibration file" in capsys.readouterr().err
