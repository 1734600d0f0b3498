"""The generated data set: layout, determinism, split rules, label/truth consistency, bubbles, rates."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pycocotools import mask as mask_utils

from flocshape.errors import run_cli
from flocshape.synth.cli import main
from flocshape.synth.config import resolve
from flocshape.synth.writer import generate

RLE_FILE = "label_train.json"
POLY_FILE = "label(polygon)_train.json"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``small`` preset, generated once in this process."""
    out = tmp_path_factory.mktemp("synth") / "small"
    assert run_cli(main, ["--out", str(out), "--preset", "small", "--seed", "7", "--workers", "1"]) == 0
    return out


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout(small: Path) -> None:
    for name in (
        RLE_FILE,
        POLY_FILE,
        "label_test.json",
        "truth/label_test_gt.json",
        "truth/particles.parquet",
        "truth/bubbles.parquet",
        "card.json",
        "manifest.json",
    ):
        assert (small / name).is_file(), name
    card = _load(small / "card.json")
    assert card["preset"] == "small" and card["knobs"]["seed"] == 7
    assert set(card["knobs"]) >= {"growth_rate", "erosion_px", "breakup_prob", "elongation", "roughness"}
    assert set(card["statistics"]["hard_cases"]) >= {"labelled_overlapping", "labelled_border_cut"}
    test = _load(small / "label_test.json")
    assert "annotations" not in test and test["categories"] == [
        {"id": 1, "name": "Normal", "supercategory": "floc"}
    ]


def test_same_seed_gives_identical_files_whatever_the_worker_count(small: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert run_cli(main, ["--out", str(again), "--preset", "small", "--seed", "7", "--workers", "2"]) == 0
    first, second = _files(small), _files(again)
    volatile = {"manifest.json", "card.json"}  # time stamps, command line, worker count
    assert set(first) == set(second)
    differing = [k for k in first if k not in volatile and first[k] != second[k]]
    assert differing == []
    c1, c2 = _load(small / "card.json"), _load(again / "card.json")
    assert c1["knobs"] == c2["knobs"] and c1["statistics"] == c2["statistics"]


def test_other_seed_gives_other_frames(small: Path, tmp_path: Path) -> None:
    cfg = resolve("small", {"seed": 8})
    generate(cfg, tmp_path / "s8", "small")
    assert (tmp_path / "s8" / "train").iterdir()
    a = sorted((small / "train").iterdir())[0].read_bytes()
    b = sorted((tmp_path / "s8" / "train").iterdir())[0].read_bytes()
    assert a != b


def test_split_rules_and_image_ids(small: Path) -> None:
    train, test = _load(small / RLE_FILE), _load(small / "label_test.json")
    train_frames = [int(i["file_name"][:4]) for i in train["images"]]
    test_frames = [int(i["file_name"][:4]) for i in test["images"]]
    assert all(2 <= (f - 1) % 10 + 1 <= 9 for f in train_frames)
    train_blocks = {(f - 1) // 10 for f in train_frames}
    test_blocks = {(f - 1) // 10 for f in test_frames}
    assert not train_blocks & test_blocks
    assert sorted(train_frames) == sorted(10 * b + k for b in train_blocks for k in range(2, 10))
    assert sorted(test_frames) == sorted(10 * b + k for b in test_blocks for k in range(1, 11))
    images = train["images"] + test["images"]
    ids = [i["id"] for i in images]
    assert sorted(ids) == list(range(1, len(ids) + 1))
    assert all(i["id"] != int(i["file_name"][:4]) for i in images)
    assert all(i["file_name"] == f"{int(i['file_name'][:4]):04d}.jpg" for i in images)
    on_disk = {p.name for p in (small / "train").iterdir()} | {p.name for p in (small / "test").iterdir()}
    assert on_disk == {i["file_name"] for i in images}


def test_every_label_matches_its_truth_row(small: Path) -> None:
    truth = pd.read_parquet(small / "truth" / "particles.parquet").set_index("ann_id", drop=False)
    rle_file, poly_file = _load(small / RLE_FILE), _load(small / POLY_FILE)
    gt = _load(small / "truth" / "label_test_gt.json")
    polys = {a["id"]: a for a in poly_file["annotations"]}
    anns = rle_file["annotations"] + gt["annotations"]
    assert len(anns) > 100
    labelled = truth[truth["labelled"]]
    assert sorted(a["id"] for a in anns) == sorted(labelled["ann_id"]) and (
        truth["ann_id"] >= 0
    ).sum() == len(anns)
    split_of = {a["id"]: "train" for a in rle_file["annotations"]} | {
        a["id"]: "test" for a in gt["annotations"]
    }
    h, w = rle_file["images"][0]["height"], rle_file["images"][0]["width"]
    for a in anns:
        row = truth.loc[a["id"]]
        assert row["image_id"] == a["image_id"] and row["split"] == split_of[a["id"]]
        rle = {"size": a["segmentation"]["size"], "counts": a["segmentation"]["counts"].encode("ascii")}
        assert int(mask_utils.area(rle)) == a["area"] == row["mask_area_px"]
        # raster area vs exact area: within half a pixel per unit of visible perimeter
        assert abs(a["area"] - row["vis_area_px"]) <= 0.5 * row["vis_perimeter_px"] + 2
        assert row["vis_area_px"] <= row["full_area_px"] + 1e-6
        if a["id"] in polys:  # the polygon file rasterises to exactly the same mask
            p = polys[a["id"]]
            assert (p["image_id"], p["area"], p["bbox"]) == (a["image_id"], a["area"], a["bbox"])
            merged = mask_utils.merge(mask_utils.frPyObjects(p["segmentation"], h, w))
            assert merged["counts"].decode("ascii") == a["segmentation"]["counts"]
    assert set(polys) == {a["id"] for a in rle_file["annotations"]}


def test_label_policy_is_explicit(small: Path) -> None:
    truth = pd.read_parquet(small / "truth" / "particles.parquet")
    knobs = _load(small / "card.json")["knobs"]
    lab = truth[truth["labelled"]]
    assert (lab["blur_sigma_px"] <= knobs["max_label_blur_px"]).all()
    assert (lab["visible_fraction"] >= knobs["min_visible_frac"]).all()
    assert (lab["vis_area_px"] >= knobs["min_visible_area_px"]).all()
    assert ((truth["label_reason"] == "labelled") == truth["labelled"]).all()
    blurred = truth[truth["label_reason"] == "too_blurred"]
    assert len(blurred) and (blurred["blur_sigma_px"] > knobs["max_label_blur_px"]).all()
    assert set(truth["label_reason"]) <= {
        "labelled",
        "too_blurred",
        "too_occluded",
        "too_small",
        "empty_raster",
    }
    for col in (
        "split",
        "image_id",
        "file_name",
        "frame",
        "block",
        "track_id",
        "depth",
        "touches_border",
        "vis_feret_max_px",
        "full_aspect_ratio_feret",
        "vis_aspect_ratio_ellipse",
        "full_aspect_ratio_ellipse",
        "vis_convexity",
        "full_solidity",
    ):
        assert col in truth.columns
    assert ((truth["frame"] - 1) // 10 == truth["block"]).all()


def test_growth_rate_is_recoverable_from_truth(small: Path) -> None:
    truth = pd.read_parquet(small / "truth" / "particles.parquet")
    g = _load(small / "card.json")["knobs"]["growth_rate"]
    t = truth.sort_values(["track_id", "frame"])
    prev = t.groupby("track_id")[["frame", "full_area_px"]].shift()
    ok = prev["frame"].notna()
    ratio = t.loc[ok, "full_area_px"] / prev.loc[ok, "full_area_px"]
    expected = (1 + g) ** (t.loc[ok, "frame"] - prev.loc[ok, "frame"])
    assert ok.sum() > 50
    np.testing.assert_allclose(ratio, expected, rtol=1e-9)
    fitted = math.exp(np.median(np.log(ratio) / (t.loc[ok, "frame"] - prev.loc[ok, "frame"]))) - 1
    assert fitted == pytest.approx(g, rel=1e-6)


def test_bubbles_never_change_labels(tmp_path: Path) -> None:
    """Same seed with and without bubbles: images differ, every label is byte-identical."""
    knobs = {"frames": 20, "test_frac": 0.5, "height": 128, "width": 160, "particles_per_frame": 20.0}
    with_b = generate(resolve("small", {**knobs, "bubbles_per_frame": 40.0}), tmp_path / "b", "small")
    generate(resolve("small", {**knobs, "bubbles_per_frame": 0.0}), tmp_path / "n", "small")
    assert with_b["statistics"]["bubbles_per_frame_mean"] > 10
    for name in (RLE_FILE, POLY_FILE, "truth/label_test_gt.json"):
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "n" / name).read_bytes()
    assert (tmp_path / "b" / "train" / "0002.jpg").read_bytes() != (
        tmp_path / "n" / "train" / "0002.jpg"
    ).read_bytes()
    bubbles = pd.read_parquet(tmp_path / "b" / "truth" / "bubbles.parquet")
    assert (bubbles["on_track_id"] >= 0).any() and (bubbles["on_track_id"] < 0).any()


def test_jpegs_have_the_configured_size(small: Path) -> None:
    import cv2

    for p in sorted((small / "test").iterdir())[:2]:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        assert img.shape == (256, 320, 3)


TINY = {"frames": 20, "test_frac": 0.5, "height": 128, "width": 160, "particles_per_frame": 25.0}


def test_erosion_and_break_up_are_in_the_truth(tmp_path: Path) -> None:
    cfg = resolve("small", {**TINY, "growth_rate": 0.0, "erosion_px": 0.3, "breakup_prob": 0.15})
    card = generate(cfg, tmp_path / "e", "small")
    truth = pd.read_parquet(tmp_path / "e" / "truth" / "particles.parquet").sort_values(["track_id", "frame"])
    assert card["statistics"]["broken_up_children"] > 0
    children = truth[truth["parent_track_id"] >= 0]
    assert set(children["parent_track_id"]) <= set(truth["track_id"]) | set(children["parent_track_id"])
    step = truth.groupby("track_id")["full_area_px"].diff().dropna()
    assert len(step) > 20 and (step < 0).all()  # erosion only ever removes area
    steps_into_block = (truth["frame"] - 1) % 10  # erosion accumulates from the block's first frame
    np.testing.assert_allclose(truth["eroded_px"], 0.3 * steps_into_block, atol=1e-9)


def test_batch_shape_shift_is_measurable(tmp_path: Path) -> None:
    """Two batches that differ only in elongation: the truth aspect ratios differ the known way."""
    ar = {}
    for name, elongation in (("round", 0.0), ("long", 1.5)):
        generate(resolve("small", {**TINY, "elongation": elongation, "seed": 4}), tmp_path / name, "small")
        truth = pd.read_parquet(tmp_path / name / "truth" / "particles.parquet")
        ar[name] = truth.drop_duplicates("track_id")["full_aspect_ratio_feret"].median()
    assert ar["long"] < ar["round"] - 0.15


def test_elongation_range_varies_by_block_and_keeps_the_rest(tmp_path: Path) -> None:
    """--elongation-max: each block its own elongation in the range; images of a range-free run are unchanged."""
    knobs = {**TINY, "frames": 40, "test_frac": 0.25, "seed": 5, "elongation": 0.1}
    generate(resolve("small", knobs), tmp_path / "fixed", "small")
    generate(resolve("small", {**knobs, "elongation_max": 1.5}), tmp_path / "range", "small")
    generate(
        resolve("small", {**knobs, "elongation_max": 0.1}), tmp_path / "same", "small"
    )  # max == min: off
    card = _load(tmp_path / "range" / "card.json")
    per_block = {int(b): e for b, e in card["block_elongation"].items()}
    assert sorted(per_block) == [0, 1, 2, 3]
    assert (
        all(0.1 <= e <= 1.5 for e in per_block.values())
        and max(per_block.values()) - min(per_block.values()) > 0.2
    )
    assert "block_elongation" not in _load(tmp_path / "fixed" / "card.json")
    data = {k: {f: b for f, b in _files(tmp_path / k).items() if f not in ("card.json", "manifest.json")}
            for k in ("same", "fixed")}  # fmt: skip
    assert data["same"] == data["fixed"]  # an empty range changes no frame, label or truth row
    truth = pd.read_parquet(tmp_path / "range" / "truth" / "particles.parquet")
    ar = truth.drop_duplicates("track_id").groupby("block")["full_aspect_ratio_feret"].median()
    most, least = max(per_block, key=per_block.get), min(per_block, key=per_block.get)
    assert ar[most] < ar[least]  # the more elongated block has the lower median aspect ratio


def test_elongation_max_below_elongation_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x"
    code = run_cli(
        main, ["--out", str(out), "--preset", "small", "--elongation", "0.5", "--elongation-max", "0.2"]
    )
    assert code == 2 and "--elongation-max" in capsys.readouterr().err and not out.exists()
