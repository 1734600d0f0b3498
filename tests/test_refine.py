"""Mask refinement against the frame's grey levels (flocshape.infer.refine)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scriptload import load_script

from flocshape.infer.protomask import CropMask
from flocshape.infer.refine import RefineSettings, coverage_count, refine_crops


def _ellipse(
    shape: tuple[int, int], centre: tuple[int, int], axes: tuple[int, int], angle: float
) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    cv2.ellipse(out, centre, axes, angle, 0, 360, 1, -1)
    return out.astype(bool)


def _frame(
    particles: list[np.ndarray], bright: float = 200.0, dark: float = 20.0, blur: float = 1.0
) -> np.ndarray:
    grey = np.full(particles[0].shape, dark, np.float32)
    for p in particles:
        grey[p] = bright
    grey = cv2.GaussianBlur(grey, (0, 0), blur)
    noise = np.random.default_rng(0).normal(0.0, 3.0, grey.shape)
    return np.clip(grey + noise, 0, 255).astype(np.uint8)


def _crop(mask: np.ndarray) -> CropMask:
    return CropMask(mask, 0, 0, mask.shape).tight()


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_rounded_prediction_of_an_elongated_particle_comes_back_elongated() -> None:
    truth = _ellipse((120, 160), (80, 60), (40, 10), 20.0)
    grey = _frame([truth])
    # a "network" mask: the truth smoothed into a fatter, rounder blob with the tips cut off
    predicted = _ellipse((120, 160), (80, 60), (34, 13), 20.0)
    (refined,) = refine_crops(grey, [_crop(predicted)], RefineSettings(level=0.5, grow_px=4))
    full = refined.full()
    assert _iou(full, truth) > _iou(predicted, truth) + 0.1
    assert _iou(full, truth) > 0.9


def test_less_smoothing_keeps_a_thin_arm_that_more_smoothing_erases() -> None:
    body = _ellipse((80, 120), (40, 40), (14, 14), 0.0)
    arm = np.zeros_like(body)
    arm[39:41, 40:90] = True  # a 2-px wide arm: its crest is barely above the half-contrast level
    truth = body | arm
    grey = _frame([truth], blur=0.7)
    predicted = _crop(truth)
    areas = {}
    for sigma in (0.5, 2.5):
        (refined,) = refine_crops(grey, [predicted], RefineSettings(level=0.5, smooth_sigma_px=sigma))
        areas[sigma] = int(refined.full()[:, 60:90].sum())  # what is left of the arm beyond the body
    assert areas[0.5] >= 40 and areas[2.5] < areas[0.5] / 2


def _radius_px(mask: np.ndarray) -> float:
    return float(np.sqrt(mask.sum() / np.pi))


def test_half_level_with_an_inset_is_blur_neutral_and_a_higher_level_is_not() -> None:
    truth = _ellipse((120, 120), (60, 60), (25, 25), 0.0)  # radius 25.5 px as a pixel disc
    predicted = _ellipse((120, 120), (60, 60), (27, 27), 0.0)
    radii: dict[str, list[float]] = {"0.6": [], "0.5+0.5px": [], "0.5": []}
    for blur in (0.7, 2.5):
        grey = _frame([truth], blur=blur)
        for name, settings in (
            ("0.6", RefineSettings(level=0.6)),
            ("0.5+0.5px", RefineSettings(level=0.5, inset_px=0.5)),
            ("0.5", RefineSettings(level=0.5)),
        ):
            (refined,) = refine_crops(grey, [_crop(predicted)], settings)
            radii[name].append(_radius_px(refined.full()))
    drift = {name: r[0] - r[1] for name, r in radii.items()}  # radius lost from blur 0.7 px to 2.5 px
    assert drift["0.6"] > 0.45  # level 0.6: ~0.25 sigma inwards, plus the curvature term
    # half contrast: only the curvature term (a blurred disc's profile sinks by ~sigma^2 / 2R), ~0.1-0.2 px
    assert abs(drift["0.5+0.5px"]) < 0.4 * drift["0.6"] and abs(drift["0.5"]) < 0.4 * drift["0.6"]
    for i in range(2):  # the inset sits ~0.5 px inside the half-contrast contour at either blur
        assert 0.35 < radii["0.5"][i] - radii["0.5+0.5px"][i] < 0.65


def test_outline_moves_out_by_at_most_grow_px() -> None:
    truth = _ellipse((100, 100), (50, 50), (30, 30), 0.0)
    grey = _frame([truth])
    predicted = _ellipse((100, 100), (50, 50), (28, 28), 0.0)  # the ring 3-7 px outside it is background
    (refined,) = refine_crops(grey, [_crop(predicted)], RefineSettings(level=0.5, grow_px=3))
    full = refined.full()
    grown = cv2.dilate(predicted.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))) > 0
    assert full.sum() > predicted.sum()
    assert _iou(full, truth) > _iou(predicted, truth)
    assert not (full & ~grown).any()


def test_never_takes_pixels_of_another_instance_and_is_order_independent() -> None:
    a = _ellipse((100, 140), (50, 50), (25, 18), 0.0)
    b = _ellipse((100, 140), (90, 50), (25, 18), 0.0)  # touching / overlapping a
    grey = _frame([a, b])
    pred_a = _ellipse((100, 140), (48, 50), (20, 15), 0.0)
    pred_b = _ellipse((100, 140), (92, 50), (20, 15), 0.0)
    settings = RefineSettings(level=0.4, grow_px=5)
    ra, rb = (c.full() for c in refine_crops(grey, [_crop(pred_a), _crop(pred_b)], settings))
    rb2, ra2 = (c.full() for c in refine_crops(grey, [_crop(pred_b), _crop(pred_a)], settings))
    assert np.array_equal(ra, ra2) and np.array_equal(rb, rb2)
    assert not (ra & pred_b & ~pred_a).any()
    assert not (rb & pred_a & ~pred_b).any()


def test_low_contrast_and_empty_masks_are_kept_unchanged() -> None:
    truth = _ellipse((80, 80), (40, 40), (15, 15), 0.0)
    grey = _frame([truth], bright=24.0, dark=20.0)
    predicted = _crop(_ellipse((80, 80), (40, 40), (12, 12), 0.0))
    empty = CropMask(np.zeros((0, 0), bool), 0, 0, (80, 80))
    out = refine_crops(grey, [predicted, empty])
    assert np.array_equal(out[0].full(), predicted.full())
    assert out[1].area_px == 0


def test_refined_mask_is_tight_and_hole_free() -> None:
    truth = _ellipse((100, 100), (50, 50), (25, 25), 0.0)
    grey = _frame([truth]).copy()
    grey[48:53, 48:53] = 20  # a dark spot inside the particle
    (refined,) = refine_crops(grey, [_crop(truth)], RefineSettings(level=0.5, smooth_sigma_px=0.0))
    assert refined.mask[0].any() and refined.mask[-1].any()
    assert refined.mask[:, 0].any() and refined.mask[:, -1].any()
    assert refined.full()[50, 50]


def test_coverage_counts_overlaps() -> None:
    a = CropMask(np.ones((3, 3), bool), 1, 1, (6, 6))
    b = CropMask(np.ones((2, 2), bool), 2, 2, (6, 6))
    cov = coverage_count([a, b], (6, 6))
    assert cov[2, 2] == 2 and cov[1, 1] == 1 and cov[0, 0] == 0 and cov.sum() == 13


@pytest.mark.parametrize(
    "bad",
    [
        {"level": 0.0},
        {"level": 1.0},
        {"grow_px": -1},
        {"ring_px": 0},
        {"smooth_sigma_px": -1.0},
        {"smooth_sigma_px": 6.0},
        {"inset_px": -0.5},
    ],
)
def test_settings_are_validated(bad: dict) -> None:
    with pytest.raises(ValueError, match="refine"):
        RefineSettings(**bad)


def test_settings_round_trip_and_reject_unknown_keys() -> None:
    s = RefineSettings(level=0.25, grow_px=3)
    assert RefineSettings.from_dict(s.to_dict()) == s
    with pytest.raises(ValueError, match="unknown refine setting"):
        RefineSettings.from_dict({"levle": 0.2})


# --- choosing the level on labelled frames (flocshape.infer.refine_tune, infer/tune_refine.py) -------------------


def _load_tune_cli():  # noqa: ANN202
    return load_script("infer/tune_refine.py", "tune_refine_cli")


def _labelled_frames(root):  # noqa: ANN001, ANN202
    """Two frames of bright ellipses, their COCO labels, and 'predictions' = labels bulged by 2 px."""
    import json

    from flocshape.masks import encode_rle

    rng = np.random.default_rng(5)
    (root / "frames").mkdir()
    images, anns, preds = [], [], []
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    for image_id in (1, 2):
        masks = []
        for row in range(3):
            for col in range(4):
                axes = (int(rng.integers(8, 18)), int(rng.integers(4, 9)))
                masks.append(
                    _ellipse((150, 200), (25 + 50 * col, 25 + 50 * row), axes, float(rng.uniform(0, 180)))
                )
        cv2.imwrite(str(root / "frames" / f"{image_id:04d}.png"), _frame(masks))
        images.append({"id": image_id, "file_name": f"{image_id:04d}.png", "height": 150, "width": 200})
        for m in masks:
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                         "segmentation": encode_rle(m)})  # fmt: skip
            bulged = cv2.dilate(m.astype(np.uint8), kernel).astype(bool)
            preds.append(
                {"image_id": image_id, "category_id": 1, "score": 0.9, "segmentation": encode_rle(bulged)}
            )
    gt = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "Normal"}]}
    (root / "gt.json").write_text(json.dumps(gt))
    (root / "pred.json").write_text(json.dumps(preds))
    return root / "gt.json", root / "pred.json"


def test_level_table_prefers_refinement_of_bulged_masks_and_ties_keep_the_masks(tmp_path) -> None:  # noqa: ANN001
    import json

    from flocshape.infer.refine_tune import best_row, level_table

    gt_path, pred_path = _labelled_frames(tmp_path)
    gt, preds = json.loads(gt_path.read_text()), json.loads(pred_path.read_text())
    frames = {im["id"]: tmp_path / "frames" / im["file_name"] for im in gt["images"]}
    rows = level_table(gt, preds, frames, [0.3, 0.5], grow_px=2, insets_px=[0.0, 0.5])
    assert {r["smooth_px"] for r in rows[1:]} == {1.0} and rows[0][
        "smooth_px"
    ] is None  # the default smoothing
    assert [(r["level"], r["inset_px"]) for r in rows] == [
        (None, None),
        (0.3, 0.0),
        (0.3, 0.5),
        (0.5, 0.0),
        (0.5, 0.5),
    ]
    assert rows[0]["area_ratio"] > 1.2 and rows[0]["pairs"] == 24
    assert rows[3]["mean_iou"] > rows[0]["mean_iou"] + 0.1
    assert rows[4]["area_ratio"] < rows[3]["area_ratio"]  # the inset moves outlines inwards
    # every mask is matched either way, so the hackathon F1 follows the matched IoU here
    assert rows[3]["hackathon_f1"] > rows[0]["hackathon_f1"]
    assert best_row(rows)["level"] in (0.3, 0.5)
    same = [
        {"level": None, "hackathon_f1": 0.7, "sum_iou": 1.0},
        {"level": 0.5, "hackathon_f1": 0.7, "sum_iou": 1.0},
    ]
    assert best_row(same)["level"] is None  # a tie keeps the masks as predicted
    f1_first = [
        {"level": 0.4, "hackathon_f1": 0.71, "sum_iou": 1.0},
        {"level": 0.5, "hackathon_f1": 0.70, "sum_iou": 9.0},
    ]
    assert best_row(f1_first)["level"] == 0.4
    by_iou = [
        {"level": 0.4, "hackathon_f1": 0.7, "sum_iou": 1.0},
        {"level": 0.5, "hackathon_f1": 0.7, "sum_iou": 2.0},
    ]
    assert best_row(by_iou)["level"] == 0.5
    old_table = [
        {"level": None, "sum_iou": 1.0},
        {"level": 0.6, "sum_iou": 2.0},
    ]  # written before F1 was recorded
    assert best_row(old_table)["level"] == 0.6


def test_tune_refine_cli_writes_the_choice_and_the_refined_list(tmp_path, capsys) -> None:  # noqa: ANN001
    import json

    from flocshape.errors import run_cli

    cli = _load_tune_cli()
    gt, pred = _labelled_frames(tmp_path)
    out, refined = tmp_path / "refine.json", tmp_path / "refined.json"
    argv = ["--pred", str(pred), "--gt", str(gt), "--images", str(tmp_path / "frames"), "--level", "0.3", "0.5",
            "--out", str(out), "--refined-out", str(refined)]  # fmt: skip
    assert run_cli(cli.main, argv) == 0
    result = json.loads(out.read_text())
    assert result["best_level"] == 0.5 and result["manifest"]["tool"] == "infer/tune_refine.py"
    assert result["refined_out"]["level"] == 0.5
    before, after = json.loads(pred.read_text()), json.loads(refined.read_text())
    assert len(after) == len(before) and all(
        a["score"] == b["score"] for a, b in zip(after, before, strict=True)
    )
    assert (
        sum(
            a["segmentation"]["counts"] != b["segmentation"]["counts"]
            for a, b in zip(after, before, strict=True)
        )
        > 20
    )
    capsys.readouterr()
    bad = [*argv[:6], "--level", "1.5", "--out", str(tmp_path / "x.json")]
    assert run_cli(cli.main, bad) == 2
    assert "--level" in capsys.readouterr().err and not (tmp_path / "x.json").exists()
    missing = [
        "--pred",
        str(pred),
        "--gt",
        str(gt),
        "--images",
        str(tmp_path / "nope"),
        "--out",
        str(tmp_path / "y.json"),
    ]
    assert run_cli(cli.main, missing) == 2
    assert "nope" in capsys.readouterr().err


def test_tune_refine_cli_inset_moves_outlines_inwards_and_is_recorded(tmp_path, capsys) -> None:  # noqa: ANN001
    import json

    from flocshape.errors import run_cli

    cli = _load_tune_cli()
    gt, pred = _labelled_frames(tmp_path)
    base = ["--pred", str(pred), "--gt", str(gt), "--images", str(tmp_path / "frames"), "--level", "0.5"]
    ratios = {}
    for inset in ("0", "0.8"):
        out = tmp_path / f"refine_{inset}.json"
        assert run_cli(cli.main, [*base, "--inset-px", inset, "--out", str(out)]) == 0
        result = json.loads(out.read_text())
        assert result["table"][1]["inset_px"] == float(inset)
        ratios[inset] = result["table"][1]["area_ratio"]
    assert ratios["0.8"] < ratios["0"]  # the same level, outlines 0.8 px further in
    grid, refined = tmp_path / "grid.json", tmp_path / "grid_refined.json"
    argv = [*base, "--inset-px", "0", "0.8", "--out", str(grid), "--refined-out", str(refined)]
    assert run_cli(cli.main, argv) == 0
    result = json.loads(grid.read_text())
    rows = result["table"]
    assert [(r["level"], r["inset_px"]) for r in rows] == [(None, None), (0.5, 0.0), (0.5, 0.8)]
    best = max(rows, key=lambda r: (r["hackathon_f1"], r["sum_iou"]))
    assert (result["best_level"], result["best_inset_px"]) == (best["level"], best["inset_px"])
    assert result["refined_out"]["inset_px"] == result["best_inset_px"]
    assert "hackathon F1" in result["criterion"] and "| inset px |" in capsys.readouterr().out
    capsys.readouterr()
    assert run_cli(cli.main, [*base, "--inset-px", "-1", "--out", str(tmp_path / "bad.json")]) == 2
    assert "--inset-px" in capsys.readouterr().err and not (tmp_path / "bad.json").exists()


def test_tune_refine_cli_grids_the_smoothing_and_records_the_choice(tmp_path, capsys) -> None:  # noqa: ANN001
    import json

    from flocshape.errors import run_cli

    cli = _load_tune_cli()
    gt, pred = _labelled_frames(tmp_path)
    base = ["--pred", str(pred), "--gt", str(gt), "--images", str(tmp_path / "frames"), "--level", "0.5"]
    out, refined = tmp_path / "smooth.json", tmp_path / "smooth_refined.json"
    argv = [
        *base,
        "--inset-px",
        "0",
        "0.4",
        "--smooth-px",
        "0.5",
        "1",
        "--out",
        str(out),
        "--refined-out",
        str(refined),
    ]
    assert run_cli(cli.main, argv) == 0
    result = json.loads(out.read_text())
    rows = result["table"]
    assert [(r["inset_px"], r["smooth_px"]) for r in rows[1:]] == [
        (0.0, 0.5),
        (0.0, 1.0),
        (0.4, 0.5),
        (0.4, 1.0),
    ]
    assert len({r["sum_iou"] for r in rows[1:]}) > 1  # the smoothing changes the outlines
    best = max(rows, key=lambda r: (r["hackathon_f1"], r["sum_iou"]))
    assert (result["best_inset_px"], result["best_smooth_px"]) == (best["inset_px"], best["smooth_px"])
    assert result["refined_out"]["smooth_px"] == result["best_smooth_px"]
    assert "| smooth px |" in capsys.readouterr().out
    for bad in ("-1", "6"):
        assert run_cli(cli.main, [*base, "--smooth-px", bad, "--out", str(tmp_path / "bad.json")]) == 2
        assert "--smooth-px" in capsys.readouterr().err and not (tmp_path / "bad.json").exists()
