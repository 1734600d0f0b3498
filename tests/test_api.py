"""The notebook API of ``flocshape/__init__.py``: ``measure``, ``predict``, ``score``, ``compare``.

Its docstring examples run here as doctests (only that file's: the other modules' docstrings are not written
to run), and each function is checked against the package function it wraps.
"""

from __future__ import annotations

import doctest
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import flocshape
from flocshape.errors import InputError
from flocshape.masks import encode_rle
from flocshape.shape.measure import measure_labelmap
from flocshape.shape.sources import measure_coco
from flocshape.stats.compare import COMPARISON_COLUMNS, CompareOptions, compare_tables
from flocshape.testing import make_toy_frames

REPO = Path(__file__).resolve().parents[1]
API_DOCTESTS = [t for t in doctest.DocTestFinder().find(flocshape) if t.examples]


@pytest.mark.parametrize("test", API_DOCTESTS, ids=[t.name for t in API_DOCTESTS])
def test_docstring_examples_run(test: doctest.DocTest) -> None:
    out: list[str] = []
    runner = doctest.DocTestRunner(verbose=False)
    result = runner.run(test, out=out.append)
    assert result.failed == 0, "".join(out)


def test_every_api_function_has_an_example() -> None:
    names = {t.name.rsplit(".", 1)[-1] for t in API_DOCTESTS}
    assert {"measure", "predict", "score", "compare"} <= names


def test_import_is_lazy_and_the_functions_are_there() -> None:
    code = (
        "import sys, flocshape; flocshape.measure, flocshape.predict, flocshape.score, flocshape.compare; "
        "print(sorted(m for m in ('numpy', 'pandas', 'torch', 'ultralytics', 'cv2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def disc_labels(size: int = 96, radius: float = 30.0) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    c = (size - 1) / 2
    return ((yy - c) ** 2 + (xx - c) ** 2 <= radius**2).astype(np.int32)


def test_measure_of_a_disc_gives_its_area_ecd_and_a_round_shape() -> None:
    labels = disc_labels()
    table = flocshape.measure(labels, um_per_px=0.5)
    pd.testing.assert_frame_equal(table, measure_labelmap(labels, um_per_px=0.5))
    assert len(table) == 1
    row = table.iloc[0]
    area = int((labels == 1).sum())
    assert row["area_px"] == area and row["instance_id"] == 1
    assert row["ecd_px"] == pytest.approx(math.sqrt(4 * area / math.pi))
    assert row["ecd_px"] == pytest.approx(60.0, rel=0.01)  # diameter of the disc
    assert row["form_factor"] == pytest.approx(1.0, abs=0.03)
    assert row["solidity"] == 1.0 and row["convexity"] == pytest.approx(1.0)
    assert row["aspect_ratio_ellipse"] == pytest.approx(1.0, abs=0.01)
    assert row["area_um2"] == pytest.approx(area * 0.25) and row["ecd_um"] == pytest.approx(row["ecd_px"] / 2)
    assert math.isnan(row["score"]) and math.isnan(row["contrast"])  # ground truth, no image given


def test_measure_of_a_list_of_masks_equals_the_label_image_path() -> None:
    labels = disc_labels(size=120, radius=20.0)
    labels[5:25, 70:110] = 2  # a 20 x 40 rectangle
    image = np.where(labels > 0, 200, 30).astype(np.uint8)
    by_labels = flocshape.measure(labels, image)
    masks = [labels == 1, labels == 2]
    by_masks = flocshape.measure(masks, image, scores=[0.8, 0.4])
    by_rles = flocshape.measure([encode_rle(m) for m in masks], image)
    by_stack = flocshape.measure(np.stack(masks), image)
    assert list(by_masks["instance_id"]) == [0, 1] and list(by_masks["score"]) == [0.8, 0.4]
    geometry = [c for c in by_labels.columns if c not in ("instance_id", "score")]
    pd.testing.assert_frame_equal(by_masks[geometry], by_labels[geometry])
    pd.testing.assert_frame_equal(by_rles[geometry], by_labels[geometry])
    pd.testing.assert_frame_equal(by_stack, by_rles)
    assert by_labels.loc[1, "area_px"] == 800 and by_labels.loc[1, "feret_min_px"] == pytest.approx(20.0)
    assert (by_labels["contrast"] > 100).all()  # the frame was given: intensity columns filled


def test_measure_refuses_ambiguous_or_bad_arrays() -> None:
    with pytest.raises(ValueError, match="ambiguous"):
        flocshape.measure(disc_labels() > 0)
    with pytest.raises(ValueError, match="scores"):
        flocshape.measure([disc_labels() > 0], scores=[0.5, 0.5])
    with pytest.raises(ValueError, match="shape"):
        flocshape.measure(np.zeros((2, 3, 4, 5), bool))


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path]:
    """Three toy frames (white ellipses on dark), their COCO truth as a dict and as a file."""
    folder = tmp_path_factory.mktemp("toy")
    _, coco = make_toy_frames(folder / "frames", n_frames=3, height=96, width=128)
    gt_file = folder / "gt.json"
    gt_file.write_text(json.dumps(coco))
    return folder / "frames", coco, gt_file


def test_measure_of_a_coco_dict_equals_measure_coco_of_the_file(toy: tuple[Path, dict, Path]) -> None:
    frames, coco, gt_file = toy
    from_dict = flocshape.measure(coco, images_dir=frames, um_per_px=2.0)
    from_file = measure_coco(gt_file, frames, um_per_px=2.0)
    assert len(from_dict) == len(coco["annotations"]) > 0
    assert (from_dict["source"] == "").all() and (from_file["source"] == str(gt_file)).all()
    pd.testing.assert_frame_equal(from_dict.drop(columns="source"), from_file.drop(columns="source"))
    pd.testing.assert_frame_equal(flocshape.measure(gt_file, images_dir=frames, um_per_px=2.0), from_file)
    assert from_dict["mean_intensity"].notna().all()


def test_measure_of_a_results_list_uses_images_json(toy: tuple[Path, dict, Path]) -> None:
    frames, coco, gt_file = toy
    results = [
        {"image_id": a["image_id"], "category_id": 1, "segmentation": a["segmentation"], "score": 0.5}
        for a in coco["annotations"]
    ]
    table = flocshape.measure(results, images_dir=frames, images_json=gt_file)
    truth = flocshape.measure(coco)
    assert len(table) == len(results) and (table["score"] == 0.5).all()
    np.testing.assert_array_equal(table["area_px"], truth["area_px"])
    assert table["file_name"].tolist() == truth["file_name"].tolist()


def test_a_bad_coco_dict_is_named_not_its_temporary_file() -> None:
    bad = {"images": [{"id": 1, "file_name": "a.jpg", "height": 4, "width": 4}], "annotations": [{"id": 1}]}
    with pytest.raises(InputError) as info:
        flocshape.measure(bad)
    assert str(info.value).startswith("<COCO dict>") and "flocshape-measure-" not in str(info.value)


def test_score_of_the_truth_itself_is_perfect(toy: tuple[Path, dict, Path], tmp_path: Path) -> None:
    _, coco, gt_file = toy
    preds = [
        {"image_id": a["image_id"], "category_id": 1, "segmentation": a["segmentation"], "score": 0.9}
        for a in coco["annotations"]
    ]
    result = flocshape.score(coco, preds)
    assert result["hackathon_f1"]["f1"] == 1.0 and result["hackathon_f1"]["fp"] == 0
    assert result["strict"]["f1"] == 1.0 and result["strict"]["mean_iou"] == 1.0
    assert result["coco"]["AP"] == pytest.approx(1.0)
    assert result["counts"]["gt_instances"] == result["counts"]["predictions"] == len(preds)
    pred_file = tmp_path / "preds.json"
    pred_file.write_text(json.dumps(preds))
    assert flocshape.score(gt_file, pred_file) == result
    half = flocshape.score(coco, preds[::2])
    assert half["strict"]["recall"] == pytest.approx(len(preds[::2]) / len(preds))
    assert half["strict"]["precision"] == 1.0


def test_score_refuses_predictions_of_other_images(toy: tuple[Path, dict, Path]) -> None:
    _, coco, _ = toy
    a = coco["annotations"][0]
    with pytest.raises(InputError, match="none of the 1 predictions"):
        flocshape.score(
            coco, [{"image_id": 999, "category_id": 1, "segmentation": a["segmentation"], "score": 1}]
        )


def test_score_keeps_the_subpackage_reachable() -> None:
    import flocshape.score.cli  # importing the subpackage must not replace the function
    from flocshape.score import score_all

    assert callable(flocshape.score) and flocshape.score.__name__ == "score"
    assert flocshape.score.score_all is score_all and flocshape.score.cli.score_main is not None
    assert "F1" in (flocshape.score.__doc__ or "")


def batch(rng: np.random.Generator, n: int, ecd: float, aspect: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ecd_px": rng.normal(ecd, 3.0, n),
            "feret_max_px": rng.normal(ecd * 1.3, 3.0, n),
            "aspect_ratio_ellipse": np.clip(rng.normal(aspect, 0.05, n), 0.05, 1.0),
            "touches_border": np.arange(n) % 10 == 0,
            "too_small": np.zeros(n, bool),
        }
    )


def test_compare_gives_the_documented_fields(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    a, b, c = batch(rng, 80, 30.0, 0.7), batch(rng, 80, 36.0, 0.7), batch(rng, 80, 30.0, 0.5)
    result = flocshape.compare(a, b, c)
    assert list(result.columns) == list(COMPARISON_COLUMNS)
    assert list(result["label_b"].unique()) == ["B", "C"] and set(result["label_a"]) == {"A"}
    assert set(result["descriptor"]) == {"ecd_px", "feret_max_px", "aspect_ratio_ellipse"}
    expected = compare_tables({"A": a, "B": b, "C": c}, ["ecd_px", "feret_max_px", "aspect_ratio_ellipse"],
                              CompareOptions())  # fmt: skip
    pd.testing.assert_frame_equal(result, expected)
    rows = result.set_index(["label_b", "descriptor"])
    assert rows.loc[("B", "ecd_px"), "n_a"] == 72  # every 10th particle touches the border
    assert (
        rows.loc[("B", "ecd_px"), "significant_ci"]
        and not rows.loc[("B", "aspect_ratio_ellipse"), "significant_ci"]
    )
    assert rows.loc[("C", "aspect_ratio_ellipse"), "delta_rel_pct"] == pytest.approx(-28.6, abs=5)
    # paths (a run folder, a parquet file), labels and a scale
    (tmp_path / "run").mkdir()
    a.to_parquet(tmp_path / "run" / "particles.parquet")
    b.to_parquet(tmp_path / "b.parquet")
    scaled = flocshape.compare(tmp_path / "run", tmp_path / "b.parquet", labels=["x", "y"], um_per_px=2.0)
    assert set(scaled["descriptor"]) == {"ecd_um", "feret_max_um", "aspect_ratio_ellipse"}
    assert scaled.set_index("descriptor").loc["ecd_um", "delta_median"] == pytest.approx(
        2 * rows.loc[("B", "ecd_px"), "delta_median"]
    )
    kept = flocshape.compare(a, b, border="include", descriptors=["ecd_px"])
    assert len(kept) == 1 and kept.loc[0, "n_a"] == 80
    with pytest.raises(ValueError, match="distinct labels"):
        flocshape.compare(a, b, labels=["same", "same"])


def test_predict_one_small_frame_with_the_shipped_model(tmp_path: Path) -> None:
    paths, coco = make_toy_frames(tmp_path / "frames", n_frames=1, height=256, width=320, particles=(5, 5),
                                  radius_px=(10.0, 20.0), seed=3)  # fmt: skip
    import cv2

    frame = cv2.imread(str(paths[0]))
    result = flocshape.predict(frame, tmp_path / "run", um_per_px=1.5)
    assert result.out == (tmp_path / "run").absolute()
    assert len(result.particles) == len(result.submission) > 0
    assert {"area_px", "ecd_um", "low_score", "score"} <= set(result.particles.columns)
    assert {p["image_id"] for p in result.submission} == {0}  # in-memory frames: image ids 0, 1, ...
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert (
        manifest["model"]["shipped"] is True and manifest["model"]["settings_from"]["refine"] == "model card"
    )
    for image in coco["images"]:
        image["id"] = 0
    for ann in coco["annotations"]:
        ann["image_id"] = 0
    scores = flocshape.score(coco, result.submission)
    assert scores["strict"]["f1"] > 0.5  # five bright ellipses on a dark frame
