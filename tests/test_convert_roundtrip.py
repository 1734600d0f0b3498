"""COCO -> YOLO -> COCO keeps the masks (property test), and fuzzed JSON fails with InputError, never a crash."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from fixtures_coco import random_instance
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from flocshape.convert.coco import parse_coco
from flocshape.convert.from_yolo import main as yolo2coco_main
from flocshape.convert.from_yolo import read_names
from flocshape.convert.to_yolo import YoloOptions, convert_coco_to_yolo, convert_instance
from flocshape.errors import InputError, run_cli
from flocshape.masks import decode_segmentation, encode_rle, mask_iou


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from(["rle", "polygon"]))
def test_instance_round_trip_keeps_iou(seed: int, kind: str) -> None:
    rng = np.random.default_rng(seed)
    parts, mask = random_instance(rng, 60, 70, radius_px=(5.0, 25.0), p_hole=0.5, p_two_parts=0.3)
    seg = encode_rle(mask) if kind == "rle" else [p.reshape(-1).tolist() for p in parts]
    source = decode_segmentation(seg, 60, 70)
    inst = convert_instance(seg, 60, 70)
    if source.sum() == 0:
        assert inst is None
        return
    back = mask_utils.decode(mask_utils.frPyObjects([inst.ring.reshape(-1).tolist()], 60, 70)[0]).astype(bool)
    assert mask_iou(back, source) == pytest.approx(inst.iou)
    if source.sum() >= 100:
        assert inst.iou >= 0.98


def test_dataset_round_trip_through_yolo2coco(tmp_path: Path) -> None:
    from fixtures_coco import make_coco

    src = make_coco(tmp_path / "in", n_frames=3, height=48, width=64, instances_per_frame=5, seed=4)
    out = tmp_path / "ds"
    convert_coco_to_yolo(src["rle"], src["images"], out, YoloOptions(val_frac=0))
    back = tmp_path / "back.json"
    argv = [
        "--images",
        str(out / "images/train"),
        "--labels",
        str(out / "labels/train"),
        "--names",
        str(out / "data.yaml"),
        "--ids-from",
        str(src["rle"]),
        "--out",
        str(back),
    ]
    assert run_cli(yolo2coco_main, argv) == 0
    orig = json.loads(src["rle"].read_text())
    new = json.loads(back.read_text())
    assert {im["id"] for im in new["images"]} == {im["id"] for im in orig["images"]}
    assert new["categories"] == [{"id": 1, "name": "Normal"}] and read_names(out / "data.yaml")[1] == {0: 1}
    by_image = {}
    for a in orig["annotations"]:
        by_image.setdefault(a["image_id"], []).append(decode_segmentation(a["segmentation"], 48, 64))
    got = {}
    for a in new["annotations"]:
        got.setdefault(a["image_id"], []).append(decode_segmentation(a["segmentation"], 48, 64))
    for image_id, masks in by_image.items():
        assert len(got[image_id]) == len(masks)
        for m, g in zip(masks, got[image_id], strict=True):
            assert mask_iou(m, g) == 1.0


def test_yolo2coco_rejects_bad_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "lab").mkdir()
    cv2.imwrite(str(tmp_path / "img/a.png"), np.zeros((10, 10), np.uint8))
    (tmp_path / "lab/a.txt").write_text("0 0.1 0.1 0.5 0.1 0.5 0.5\n0 0.5 0.5 0.2 0.2\n")
    rc = run_cli(
        yolo2coco_main,
        [
            "--images",
            str(tmp_path / "img"),
            "--labels",
            str(tmp_path / "lab"),
            "--out",
            str(tmp_path / "o.json"),
        ],
    )
    err = capsys.readouterr().err
    assert rc == 2 and "a.txt: line 2: a box row" in err and not (tmp_path / "o.json").exists()


def test_yolo2coco_reads_ultralytics_confidences_into_a_scorable_results_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from flocshape.score.inputs import prepare

    (tmp_path / "img").mkdir()
    (tmp_path / "lab").mkdir()
    cv2.imwrite(str(tmp_path / "img/a.png"), np.zeros((10, 20), np.uint8))
    square = "0.1 0.1 0.5 0.1 0.5 0.9 0.1 0.9"
    (tmp_path / "lab/a.txt").write_text(f"0 {square} 0.875\n0 0.6 0.2 0.9 0.2 0.9 0.6 0.25\n")
    base = ["--images", str(tmp_path / "img"), "--labels", str(tmp_path / "lab")]
    out = tmp_path / "pred.json"
    assert run_cli(yolo2coco_main, [*base, "--out", str(out), "--conf-column"]) == 0
    results = json.loads(out.read_text())
    assert [r["score"] for r in results] == [0.875, 0.25]
    assert results[0]["area"] == 8 * 8  # x 2..10, y 1..9 px on a 20 x 10 frame (pixel-corner convention)
    assert json.loads((tmp_path / "pred.json.manifest.json").read_text())["args"]["conf_column"] is True
    gt = {"images": [{"id": 1, "file_name": "a.png", "height": 10, "width": 20}], "annotations": [],
          "categories": [{"id": 1, "name": "class_0"}]}  # fmt: skip
    assert prepare(gt, results).n_pred == 2

    # without the flag the odd count is an error naming the row; a confidence outside [0, 1] is one too
    assert run_cli(yolo2coco_main, [*base, "--out", str(tmp_path / "x.json")]) == 2
    assert "a.txt: line 1: polygon needs an even count" in capsys.readouterr().err
    (tmp_path / "lab/a.txt").write_text(f"0 {square} 1.5\n")
    assert run_cli(yolo2coco_main, [*base, "--out", str(tmp_path / "y.json"), "--conf-column"]) == 2
    assert "a.txt: line 1: last value is not a confidence" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists() and not (tmp_path / "y.json").exists()


def _json_values() -> st.SearchStrategy:
    leaf = st.none() | st.booleans() | st.integers(-5, 30) | st.floats(allow_nan=True) | st.text(max_size=3)
    return st.recursive(
        leaf,
        lambda ch: (
            st.lists(ch, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "id",
                        "image_id",
                        "category_id",
                        "segmentation",
                        "size",
                        "counts",
                        "height",
                        "width",
                        "file_name",
                        "iscrowd",
                        "name",
                    ]
                ),
                ch,
                max_size=5,
            )
        ),
        max_leaves=20,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.fixed_dictionaries(
        {
            "images": st.lists(_json_values(), max_size=3),
            "annotations": st.lists(_json_values(), max_size=3),
            "categories": st.one_of(st.just([{"id": 1, "name": "N"}]), _json_values()),
        }
    )
)
def test_fuzzed_coco_fails_only_with_input_error(obj: dict) -> None:
    try:
        data = parse_coco(obj, "fuzz.json")
    except InputError as exc:
        assert str(exc).startswith("fuzz.json") and "\n" not in str(exc)
        return
    for ann in data.annotations:  # what passes validation must convert (or raise ValueError for corrupt RLE)
        im = next(i for i in data.images if i.id == ann.image_id)
        if im.height and im.width:
            with contextlib.suppress(ValueError):
                convert_instance(ann.segmentation, im.height, im.width)
