"""coco2yolo takes labelling tools' COCO exports as they come (CVAT "COCO 1.0", Label Studio), and the Label
Studio round trip through its own converter (label-studio-converter) loses no instance and no pixel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml
from labelling_data import HEIGHT, WIDTH, iou, make_predictions, yolo_masks

from flocshape.convert.export import main as export_main
from flocshape.convert.interop import strip_upload_prefix
from flocshape.convert.to_yolo import main as coco2yolo_main
from flocshape.errors import run_cli
from flocshape.masks import decode_segmentation, encode_rle, rle_counts


def _frames(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / name), np.full((HEIGHT, WIDTH), 30, np.uint8))
    return folder


def _coco2yolo(json_path: Path, images: Path, out: Path, *extra: str) -> dict[str, Any]:
    argv = ["--json", str(json_path), "--images", str(images), "--out", str(out), "--val-frac", "0"]
    assert run_cli(coco2yolo_main, [*argv, "--workers", "1", *extra]) == 0
    return json.loads((out / "manifest.json").read_text())


def _assert_exact(doc: dict[str, Any], ds: Path, stem_of: dict[int, str]) -> int:
    """Every kept annotation of ``doc`` comes back from the YOLO labels with IoU 1.0, in file order."""
    n = 0
    for im in doc["images"]:
        want = [
            decode_segmentation(a["segmentation"], HEIGHT, WIDTH)
            for a in doc["annotations"]
            if a["image_id"] == im["id"]
        ]
        got = yolo_masks(ds / "labels/train" / f"{stem_of[im['id']]}.txt", HEIGHT, WIDTH)
        assert [iou(g, w) for g, w in zip(got, want, strict=True)] == [1.0] * len(want) and len(got) == len(
            want
        )
        n += len(want)
    return n


# --- CVAT "COCO 1.0" (Datumaro's coco_instances writer) ------------------------------------------------


def _ring_mask() -> np.ndarray:
    m = np.zeros((HEIGHT, WIDTH), bool)
    m[30:50, 40:70] = True
    m[36:44, 50:60] = False
    return m


def cvat_export() -> dict[str, Any]:
    """A CVAT "COCO 1.0" export as CVAT writes it: a drawn polygon (float vertices), a brush mask with a hole
    (uncompressed RLE, iscrowd 1), and a polygon of a track (track_id, keyframe attributes)."""
    ring = _ring_mask()
    ys, xs = np.nonzero(ring)
    return {
        "licenses": [{"name": "", "id": 0, "url": ""}],
        "info": {
            "contributor": "",
            "date_created": "",
            "description": "",
            "url": "",
            "version": "",
            "year": "",
        },
        "categories": [{"id": 1, "name": "floc", "supercategory": ""}],
        "images": [
            {"id": 1, "width": WIDTH, "height": HEIGHT, "file_name": "0002.jpg", "license": 0}
            | {"flickr_url": "", "coco_url": "", "date_captured": 0},
            {"id": 2, "width": WIDTH, "height": HEIGHT, "file_name": "batch7/0003.jpg", "license": 0}
            | {"flickr_url": "", "coco_url": "", "date_captured": 0},
        ],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "segmentation": [[10.5, 10.25, 30.0, 10.0, 30.75, 25.5, 12.12, 25.0]],
                "area": 311.0,
                "bbox": [10.5, 10.0, 20.25, 15.5],
                "iscrowd": 0,
                "attributes": {"occluded": False},
            },
            {
                "id": 2,
                "image_id": 1,
                "category_id": 1,
                "segmentation": {
                    "counts": [int(c) for c in rle_counts(encode_rle(ring))],
                    "size": [HEIGHT, WIDTH],
                },
                "area": float(ring.sum()),
                "bbox": [float(xs.min()), float(ys.min()), 30.0, 20.0],
                "iscrowd": 1,
                "attributes": {"occluded": False},
            },
            {
                "id": 3,
                "image_id": 2,
                "category_id": 1,
                "segmentation": [[5.0, 5.0, 20.0, 5.0, 20.0, 15.0, 5.0, 15.0]],
                "area": 150.0,
                "bbox": [5.0, 5.0, 15.0, 10.0],
                "iscrowd": 0,
                "attributes": {"occluded": False, "track_id": 0, "keyframe": True},
            },
        ],
    }


@pytest.mark.parametrize("layout", ["as-exported", "flat"])
def test_cvat_export_keeps_masks_and_finds_frames(tmp_path: Path, layout: str) -> None:
    doc = cvat_export()
    (tmp_path / "annotations").mkdir()
    src = tmp_path / "annotations/instances_default.json"
    src.write_text(json.dumps(doc))
    names = ["0002.jpg", "batch7/0003.jpg"] if layout == "as-exported" else ["0002.jpg", "0003.jpg"]
    images = _frames(tmp_path / "images", names)
    man = _coco2yolo(src, images, tmp_path / "ds")
    assert man["counts"]["rows_written"] == 3 and man["counts"]["iscrowd_kept"] == 1
    assert man["frame_names"] == (
        {"exact": 2, "basename": 0, "upload-prefix": 0}
        if layout == "as-exported"
        else {"exact": 1, "basename": 1, "upload-prefix": 0}
    )
    assert _assert_exact(doc, tmp_path / "ds", {1: "0002", 2: "0003"}) == 3
    assert iou(yolo_masks(tmp_path / "ds/labels/train/0002.txt", HEIGHT, WIDTH)[1], _ring_mask()) == 1.0
    data = yaml.safe_load((tmp_path / "ds/data.yaml").read_text())
    assert data["names"] == {0: "floc"} and data["coco_category_ids"] == {0: 1}
    skip = _coco2yolo(src, images, tmp_path / "skip", "--iscrowd", "skip")
    assert skip["counts"]["rows_written"] == 2 and skip["counts"]["skipped_iscrowd"] == 1


def test_a_plain_coco_crowd_region_is_still_skipped(tmp_path: Path) -> None:
    doc = cvat_export()
    for a in doc["annotations"]:
        del a["attributes"]  # a COCO file not written by CVAT: iscrowd 1 means a crowd region
    src = tmp_path / "plain.json"
    src.write_text(json.dumps(doc))
    man = _coco2yolo(src, _frames(tmp_path / "images", ["0002.jpg", "0003.jpg"]), tmp_path / "ds")
    assert man["counts"]["rows_written"] == 2 and man["counts"]["skipped_iscrowd"] == 1
    keep = _coco2yolo(src, tmp_path / "images", tmp_path / "keep", "--iscrowd", "keep")
    assert keep["counts"]["rows_written"] == 3 and keep["counts"]["iscrowd_kept"] == 1


# --- Label Studio COCO export (label-studio-converter's convert_to_coco) -------------------------------


def _ls_xy(points_px: list[tuple[float, float]]) -> list[float]:
    """Vertices as Label Studio stores them (percent of the size) and its COCO export computes them back."""
    out: list[float] = []
    for x, y in points_px:
        out += [(x / WIDTH * 100.0) / 100 * WIDTH, (y / HEIGHT * 100.0) / 100 * HEIGHT]
    return out


def ls_export(extra_names: tuple[str, ...] = ()) -> dict[str, Any]:
    """A Label Studio COCO export as it writes one: ids from 0, categories from 0, ``width``/``height`` (null
    for a frame it could not open), file names with folders, upload prefixes or a storage URL, bbox and
    ``ignore`` on polygon annotations, no RLE."""
    names = [
        "images/d3a1b2c4-0002.jpg",
        "../../label-studio/data/upload/1/9f8e7d6c-0003.jpg",
        "/data/local-files/?d=frames/0004.jpg",
        "images/0a1b2c3d-0005.jpg",
        *extra_names,
    ]
    images = [{"width": WIDTH, "height": HEIGHT, "id": i, "file_name": n} for i, n in enumerate(names)]
    images[3].update(width=None, height=None)
    polys = [
        (0, [(7, 3), (23, 3), (23, 17), (7, 17)]),
        (0, [(40.3, 20.7), (60, 22), (52, 40)]),
        (2, [(1, 1), (9, 1), (5, 8)]),
    ]
    anns = []
    for k, (image_id, pts) in enumerate(polys):
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        bbox = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
        seg = [_ls_xy(pts)]
        anns.append(
            {"id": k, "image_id": image_id, "category_id": 0, "segmentation": seg, "bbox": bbox}
            | {"ignore": 0, "iscrowd": 0, "area": 100.0}
        )
    info = {"year": 2024, "version": "1.0", "description": "", "contributor": "Label Studio", "url": ""}
    return {
        "images": images,
        "categories": [{"id": 0, "name": "floc"}],
        "annotations": anns,
        "info": info | {"date_created": "2024-05-02 10:11:12.123456"},
    }


def test_label_studio_export_names_ids_and_categories(tmp_path: Path) -> None:
    doc = ls_export()
    src = tmp_path / "result.json"
    src.write_text(json.dumps(doc))
    images = _frames(tmp_path / "frames", ["0002.jpg", "0003.jpg", "0004.jpg", "0005.jpg"])
    man = _coco2yolo(src, images, tmp_path / "ds")
    assert man["frame_names"] == {"exact": 0, "basename": 1, "upload-prefix": 3}
    assert man["counts"]["rows_written"] == 3 and man["counts"]["images"] == 4
    stems = {0: "d3a1b2c4-0002", 1: "9f8e7d6c-0003", 2: "0004", 3: "0a1b2c3d-0005"}
    assert _assert_exact(doc, tmp_path / "ds", stems) == 3
    assert (tmp_path / "ds/labels/train/0a1b2c3d-0005.txt").read_text() == ""
    data = yaml.safe_load((tmp_path / "ds/data.yaml").read_text())
    assert data["names"] == {0: "floc"} and data["coco_category_ids"] == {0: 0}


def test_two_names_for_one_frame_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "result.json"
    src.write_text(json.dumps(ls_export(("images/77aa88bb-0002.jpg",))))
    images = _frames(tmp_path / "frames", ["0002.jpg", "0003.jpg", "0004.jpg", "0005.jpg"])
    argv = ["--json", str(src), "--images", str(images), "--out", str(tmp_path / "ds")]
    assert run_cli(coco2yolo_main, argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "image id=4" in err
    assert "77aa88bb-0002.jpg" in err and "d3a1b2c4-0002.jpg" in err and not (tmp_path / "ds").exists()


# --- Round trip through label-studio-converter ------------------------------------------------------


def test_label_studio_round_trip_through_its_converter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from label_studio_converter.converter import Converter
    from label_studio_converter.imports import coco as ls_coco

    p = make_predictions(tmp_path / "pred")
    out = tmp_path / "export"
    argv = ["--pred", str(p["pred"]), "--images", str(p["images"]), "--images-json", str(p["images_json"])]
    assert run_cli(export_main, [*argv, "--every", "1", "--format", "labelstudio", "--out", str(out)]) == 0
    # 1. Label Studio's COCO import: pre-annotations (predictions) for tasks served from local storage
    monkeypatch.chdir(tmp_path)
    tasks_json = tmp_path / "tasks.json"
    ls_coco.convert_coco_to_ls(
        str(out / "annotations/instances_default.json"),
        str(tasks_json),
        out_type="predictions",
        image_root_url="/data/local-files/?d=frames/",
    )
    tasks = json.loads(tasks_json.read_text())
    config = tmp_path / "tasks.label_config.xml"
    assert (
        len(tasks) == 6 and "<PolygonLabels" in config.read_text() and "Rectangle" not in config.read_text()
    )
    # 2. The labeller accepts the pre-annotations, deletes one region and draws one; frames were uploaded
    expected: dict[str, list[np.ndarray]] = {}
    export = []
    for i, task in enumerate(tasks):
        name = task["data"]["image"].split("?d=frames/")[1]
        result = task["predictions"][0]["result"]
        want = list(p["masks"][next(k for k, v in p["names"].items() if v == name)])
        assert len(result) == len(want) and all(r["type"] == "polygonlabels" for r in result)
        if name == "0003.jpg":
            result, want = result[1:], want[1:]
            drawn = {
                "points": [[10.0, 10.0], [30.0, 10.0], [30.0, 25.0]],
                "closed": True,
                "polygonlabels": ["Normal"],
            }
            result = [*result, {**result[0], "id": "manual01", "origin": "manual", "value": drawn}]
            want.append(decode_segmentation([[8.0, 6.4, 24.0, 6.4, 24.0, 16.0]], HEIGHT, WIDTH))
        expected[name] = want
        export.append(
            {
                "id": i + 1,
                "data": {"image": f"/data/upload/1/{i + 10:08x}-{name}"},
                "annotations": [
                    {"id": i + 1, "result": result, "was_cancelled": False, "ground_truth": False}
                ],
                "predictions": [],
                "file_upload": f"{i + 10:08x}-{name}",
            }
        )
    (tmp_path / "ls_export.json").write_text(json.dumps(export))
    # 3. Label Studio's COCO export, by its own converter (no file is fetched: resources stay where they are)
    conv = Converter(
        str(config), project_dir=str(tmp_path), upload_dir=str(tmp_path / "upload"), download_resources=False
    )
    conv.convert_to_coco(str(tmp_path / "ls_export.json"), str(tmp_path / "ls_coco"), is_dir=False)
    result_json = tmp_path / "ls_coco/result.json"
    doc = json.loads(result_json.read_text())
    assert doc["categories"] == [{"id": 0, "name": "Normal"}] and doc["images"][0]["id"] == 0
    assert all(im["file_name"].startswith("images/0000") for im in doc["images"])
    # 4. back through coco2yolo, against the original frames: every instance, every pixel
    man = _coco2yolo(result_json, p["images"], tmp_path / "ds")
    assert man["frame_names"]["upload-prefix"] == 6
    total = 0
    for im in doc["images"]:
        stem = Path(im["file_name"]).stem
        got = yolo_masks(tmp_path / "ds/labels/train" / f"{stem}.txt", HEIGHT, WIDTH)
        want = expected[strip_upload_prefix(Path(im["file_name"]).name)]
        assert len(got) == len(want) and [iou(g, w) for g, w in zip(got, want, strict=True)] == [1.0] * len(
            want
        )
        total += len(want)
    assert total == man["counts"]["rows_written"] == sum(len(v) for v in p["masks"].values())


def test_a_label_studio_rectangle_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = ls_export()
    box = {"id": 3, "image_id": 1, "category_id": 0, "segmentation": [], "bbox": [2.0, 2.0, 5.0, 5.0]}
    doc["annotations"].append(box | {"ignore": 0, "iscrowd": 0, "area": 25.0})  # convert_to_coco's rectangle
    src = tmp_path / "result.json"
    src.write_text(json.dumps(doc))
    images = _frames(tmp_path / "frames", ["0002.jpg", "0003.jpg", "0004.jpg", "0005.jpg"])
    argv = ["--json", str(src), "--images", str(images), "--out", str(tmp_path / "ds")]
    assert run_cli(coco2yolo_main, argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {src}: annotation id=3: missing or empty 'segmentation'"
