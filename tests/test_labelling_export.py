"""convert/export_labelling.py: predictions -> CVAT / Label Studio COCO -> coco2yolo loses no instance and no pixel."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from labelling_data import HEIGHT, WIDTH, iou, make_predictions, yolo_masks

from flocshape.convert.export import main as export_main
from flocshape.convert.to_yolo import main as coco2yolo_main
from flocshape.errors import run_cli
from flocshape.masks import decode_segmentation

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def preds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return make_predictions(tmp_path_factory.mktemp("labelling"))


def _export(p: dict[str, Any], out: Path, *extra: str, images_json: bool = True) -> int:
    argv = ["--pred", str(p["pred"]), "--images", str(p["images"]), "--out", str(out), *extra]
    return run_cli(export_main, [*argv, "--images-json", str(p["images_json"])] if images_json else argv)


def _doc(out: Path) -> dict[str, Any]:
    return json.loads((out / "annotations" / "instances_default.json").read_text())


def _round_trip(p: dict[str, Any], out: Path, tmp_path: Path) -> None:
    """coco2yolo reads the export; every row rasterises to exactly the predicted mask, in order, none lost."""
    ds = tmp_path / "yolo"
    argv = ["--json", str(out / "annotations/instances_default.json"), "--images", str(out / "images")]
    assert run_cli(coco2yolo_main, [*argv, "--out", str(ds), "--val-frac", "0", "--workers", "1"]) == 0
    doc = _doc(out)
    assert len(doc["images"]) == 6
    n = 0
    for im in doc["images"]:
        want = p["masks"][im["id"]]
        got = yolo_masks(ds / "labels/train" / f"{Path(im['file_name']).stem}.txt", HEIGHT, WIDTH)
        assert len(got) == len(want)
        assert [iou(g, w) for g, w in zip(got, want, strict=True)] == [1.0] * len(want)
        n += len(want)
    assert n == sum(len(m) for m in p["masks"].values())
    man = json.loads((ds / "manifest.json").read_text())
    assert man["counts"]["rows_written"] == n and man["counts"]["skipped_iscrowd"] == 0


def test_cvat_export_is_shaped_like_cvat_and_round_trips_exactly(preds: dict, tmp_path: Path) -> None:
    out = tmp_path / "cvat"
    assert _export(preds, out, "--every", "1") == 0
    doc = _doc(out)
    assert list(doc) == ["licenses", "info", "categories", "images", "annotations"]
    assert doc["categories"] == [{"id": 1, "name": "Normal", "supercategory": ""}]
    assert doc["images"][0] == {
        "id": doc["images"][0]["id"],
        "width": WIDTH,
        "height": HEIGHT,
        "file_name": "0001.jpg",
        "license": 0,
        "flickr_url": "",
        "coco_url": "",
        "date_captured": 0,
    }
    assert [im["file_name"] for im in doc["images"]] == [f"{k:04d}.jpg" for k in range(1, 7)]
    kinds = {"polygon": 0, "mask": 0}
    for a in doc["annotations"]:
        assert a["attributes"] == {"occluded": False} and isinstance(a["score"], float)
        mask = decode_segmentation(a["segmentation"], HEIGHT, WIDTH)
        assert a["area"] == float(mask.sum()) and len(a["bbox"]) == 4
        if a["iscrowd"] == 0:
            assert len(a["segmentation"]) == 1 and all(isinstance(v, int) for v in a["segmentation"][0])
            kinds["polygon"] += 1
        else:
            assert a["iscrowd"] == 1 and isinstance(a["segmentation"]["counts"], list)
            assert a["segmentation"]["size"] == [HEIGHT, WIDTH]
            kinds["mask"] += 1
    assert kinds["polygon"] >= 20 and kinds["mask"] >= 2
    assert [a["id"] for a in doc["annotations"]] == list(range(1, len(doc["annotations"]) + 1))
    for im in doc["images"]:
        assert (out / "images" / im["file_name"]).read_bytes() == (
            preds["images"] / im["file_name"]
        ).read_bytes()
    man = json.loads((out / "manifest.json").read_text())
    assert man["tool"] == "export_labelling" and man["fidelity"]["iou_min"] == 1.0
    assert man["counts"]["kinds"] == kinds and man["inputs"]["pred"]["sha256"]
    _round_trip(preds, out, tmp_path)


def test_labelstudio_export_has_one_ring_per_instance_and_round_trips_exactly(
    preds: dict, tmp_path: Path
) -> None:
    out = tmp_path / "ls"
    assert _export(preds, out, "--every", "1", "--format", "labelstudio") == 0
    doc = _doc(out)
    assert list(doc) == ["info", "categories", "images", "annotations"]
    assert set(doc["images"][0]) == {"id", "width", "height", "file_name"}
    for a in doc["annotations"]:
        assert "bbox" not in a and a["iscrowd"] == 0 and len(a["segmentation"]) == 1
    man = json.loads((out / "manifest.json").read_text())
    assert man["counts"]["kinds"]["bridged-polygon"] >= 2 and man["fidelity"]["exact"] == len(
        doc["annotations"]
    )
    _round_trip(preds, out, tmp_path)


def test_frame_choice_and_min_score(preds: dict, tmp_path: Path) -> None:
    names = lambda out: [im["file_name"] for im in _doc(out)["images"]]  # noqa: E731
    assert _export(preds, tmp_path / "a", "--frames", "0005.jpg,0002") == 0
    assert names(tmp_path / "a") == ["0002.jpg", "0005.jpg"]
    assert sorted(p.name for p in (tmp_path / "a/images").iterdir()) == ["0002.jpg", "0005.jpg"]
    assert _export(preds, tmp_path / "b", "--every", "2") == 0
    assert names(tmp_path / "b") == ["0001.jpg", "0003.jpg", "0005.jpg"]
    assert _export(preds, tmp_path / "c", "--count", "3") == 0
    assert names(tmp_path / "c") == ["0001.jpg", "0004.jpg", "0006.jpg"]
    assert _export(preds, tmp_path / "d", "--count", "1", "--min-score", "0.5") == 0
    doc, man = _doc(tmp_path / "d"), json.loads((tmp_path / "d/manifest.json").read_text())
    records = json.loads(preds["pred"].read_text())
    first = [r for r in records if preds["names"][r["image_id"]] == "0001.jpg"]
    assert len(doc["annotations"]) == sum(r["score"] >= 0.5 for r in first) > 0
    assert man["counts"]["below_min_score"] == sum(r["score"] < 0.5 for r in first) > 0


def test_without_images_json_ids_are_file_stems(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    import cv2

    cv2.imwrite(str(frames / "7.png"), np.zeros((HEIGHT, WIDTH), np.uint8))
    cv2.imwrite(str(frames / "9.png"), np.zeros((HEIGHT, WIDTH), np.uint8))
    mask = np.zeros((HEIGHT, WIDTH), bool)
    mask[3:9, 4:12] = True
    from flocshape.masks import encode_rle

    pred = tmp_path / "sub.json"
    pred.write_text(
        json.dumps([{"image_id": 9, "category_id": 1, "score": 0.5, "segmentation": encode_rle(mask)}])
    )
    out = tmp_path / "o"
    assert (
        run_cli(
            export_main, ["--pred", str(pred), "--images", str(frames), "--every", "1", "--out", str(out)]
        )
        == 0
    )
    doc = _doc(out)
    assert [(im["id"], im["file_name"]) for im in doc["images"]] == [(7, "7.png"), (9, "9.png")]
    assert doc["categories"] == [{"id": 1, "name": "floc", "supercategory": ""}]
    a = doc["annotations"][0]
    assert a["segmentation"] == [[4, 3, 12, 3, 12, 9, 4, 9]]  # pixel corners of rows 3-8, columns 4-11
    assert (a["image_id"], a["area"], a["bbox"], a["iscrowd"]) == (9, 48.0, [4.0, 3.0, 8.0, 6.0], 0)


def _bad(p: dict[str, Any], tmp: Path, case: str) -> tuple[list[str], str]:
    """(extra argv, text the error names) for one bad-input case; may write a broken predictions file."""
    records = json.loads(p["pred"].read_text())
    bad = tmp / "bad.json"
    if case == "not-a-list":
        bad.write_text(json.dumps({"annotations": records}))
        return ["--pred", str(bad)], "bad.json"
    if case == "no-image-id":
        del records[3]["image_id"]
    elif case == "unknown-image":
        records[3]["image_id"] = 999
    elif case == "category-zero":
        records[3]["category_id"] = 0
    elif case == "rle-size":
        records[0]["segmentation"] = {**records[0]["segmentation"], "size": [HEIGHT + 1, WIDTH]}
    elif case == "nan-score":
        records[3]["score"] = float("nan")  # json writes NaN, which Python's reader accepts
    elif case == "unknown-frame":
        return ["--frames", "0042.jpg"], "--frames"
    elif case == "count-too-big":
        return ["--count", "7"], "--count"
    elif case == "two-labels":
        records[3]["category_id"] = 2
        bad.write_text(json.dumps(records))
        return ["--pred", str(bad), "--label", "floc"], "--label"
    else:
        raise AssertionError(case)
    bad.write_text(json.dumps(records))
    return ["--pred", str(bad)], "prediction[0]" if case == "rle-size" else "prediction[3]"


CASES = [
    "not-a-list",
    "no-image-id",
    "unknown-image",
    "category-zero",
    "rle-size",
    "nan-score",
    "unknown-frame",
]
CASES += ["count-too-big", "two-labels"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_and_writes_nothing(
    preds: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    extra, named = _bad(preds, tmp_path, case)
    argv = [
        "--pred",
        str(preds["pred"]),
        "--images",
        str(preds["images"]),
        "--images-json",
        str(preds["images_json"]),
    ]
    if "--frames" not in extra and "--count" not in extra:
        argv += ["--every", "1"]
    out = tmp_path / "out"
    assert run_cli(export_main, [*argv, *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and named in err
    assert not out.exists() and not list(tmp_path.glob(".out.*"))


def test_refuses_foreign_or_input_folders_and_replaces_its_own(preds: dict, tmp_path: Path) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    assert _export(preds, foreign, "--every", "1") == 2
    assert (foreign / "keep.txt").read_text() == "x"
    inside = tmp_path / "frames"
    shutil.copytree(preds["images"], inside)
    args = ["--pred", str(preds["pred"]), "--images", str(inside), "--images-json", str(preds["images_json"])]
    assert run_cli(export_main, [*args, "--every", "1", "--out", str(inside / "export")]) == 2
    assert not (inside / "export").exists()
    own = tmp_path / "own"
    assert _export(preds, own, "--every", "1") == 0
    assert _export(preds, own, "--every", "3") == 0
    assert len(_doc(own)["images"]) == 2


def test_cli_script_by_path(preds: dict, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "convert/export_labelling.py", "--pred", str(tmp_path / "none.json")]
        + ["--images", str(preds["images"]), "--every", "1", "--out", str(tmp_path / "o")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "none.json" in proc.stderr


def test_every_mask_shape_is_written_pixel_exact() -> None:
    """Random masks (holes, pieces, corner contacts, frame edges): the written form rasterises to the mask."""
    from flocshape.convert.labelling import encode_instance
    from flocshape.masks import encode_rle

    rng = np.random.default_rng(7)
    seen = set()
    for _ in range(300):
        h, w = (int(v) for v in rng.integers(3, 24, 2))
        mask = rng.random((h, w)) < rng.uniform(0.1, 0.9)
        if not mask.any():
            continue
        for fmt in ("cvat", "labelstudio"):
            enc = encode_instance(encode_rle(mask), fmt)
            assert enc is not None and enc.iou == 1.0 and enc.area == int(mask.sum())
            assert np.array_equal(decode_segmentation(enc.segmentation, h, w), mask)
            seen.add((fmt, enc.kind))
    assert seen == {
        ("cvat", "polygon"),
        ("cvat", "mask"),
        ("labelstudio", "polygon"),
        ("labelstudio", "bridged-polygon"),
    }
