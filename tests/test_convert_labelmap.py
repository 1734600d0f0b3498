"""convert/labelmap2coco.py: tiny label maps made here, and the EMPS training split when present."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from flocshape.convert.labelmap import main as labelmap_main
from flocshape.convert.to_yolo import YoloOptions, convert_coco_to_yolo
from flocshape.errors import run_cli
from flocshape.masks import decode_segmentation

EMPS = Path("/work/shared/data/emps-train")


def _write_pair(folder: Path, stem: str, label_map: np.ndarray) -> None:
    (folder / "images").mkdir(exist_ok=True)
    (folder / "segmaps").mkdir(exist_ok=True)
    cv2.imwrite(str(folder / "images" / f"{stem}.png"), np.zeros((*label_map.shape, 3), np.uint8))
    cv2.imwrite(str(folder / "segmaps" / f"{stem}.png"), label_map.astype(np.uint16))


def test_label_maps_to_coco_with_metadata(tmp_path: Path) -> None:
    lm = np.zeros((20, 24), np.uint16)
    lm[2:6, 2:8] = 300  # 16-bit value
    lm[10:15, 10:20] = 7
    lm[12, 12] = 0  # hole
    _write_pair(tmp_path, "a1", lm)
    _write_pair(tmp_path, "b2", np.zeros((20, 24), np.uint16))
    (tmp_path / "ids.csv").write_text("a1.png\nb2\n")
    (tmp_path / "meta.csv").write_text("filename,doi,locator\na1.png,10.1/x,gr1\nb2.png,10.1/y,gr2\n")
    out = tmp_path / "c.json"
    argv = [
        "--images",
        str(tmp_path / "images"),
        "--labels",
        str(tmp_path / "segmaps"),
        "--out",
        str(out),
        "--ids",
        str(tmp_path / "ids.csv"),
        "--metadata",
        str(tmp_path / "meta.csv"),
    ]
    assert run_cli(labelmap_main, argv) == 0
    coco = json.loads(out.read_text())
    assert [im["doi"] for im in coco["images"]] == ["10.1/x", "10.1/y"]
    assert sorted(a["label_value"] for a in coco["annotations"]) == [7, 300]
    for a in coco["annotations"]:
        assert isinstance(a["segmentation"]["counts"], str)
        assert np.array_equal(decode_segmentation(a["segmentation"], 20, 24), lm == a["label_value"])
        assert a["area"] == int((lm == a["label_value"]).sum())


def test_size_mismatch_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_pair(tmp_path, "a1", np.ones((20, 24), np.uint16))
    cv2.imwrite(str(tmp_path / "images/a1.png"), np.zeros((21, 24, 3), np.uint8))
    out = tmp_path / "c.json"
    rc = run_cli(
        labelmap_main,
        ["--images", str(tmp_path / "images"), "--labels", str(tmp_path / "segmaps"), "--out", str(out)],
    )
    assert rc == 2 and "a1.png" in capsys.readouterr().err and not out.exists()


@pytest.mark.skipif(not EMPS.is_dir(), reason="EMPS training split not present")
def test_emps_subset_split_by_doi(tmp_path: Path) -> None:
    ids = (EMPS / "train.csv").read_text().split()[:30]
    out = tmp_path / "emps.json"
    argv = [
        "--images",
        str(EMPS / "images"),
        "--labels",
        str(EMPS / "segmaps"),
        "--out",
        str(out),
        "--ids",
        ",".join(ids),
        "--metadata",
        str(EMPS / "metadata.csv"),
    ]
    assert run_cli(labelmap_main, argv) == 0
    coco = json.loads(out.read_text())
    assert len(coco["images"]) == 30 and all(im["doi"] for im in coco["images"])
    man = convert_coco_to_yolo(
        out, EMPS / "images", tmp_path / "ds", YoloOptions(val_frac=0.3, group_key="doi")
    )
    doi = {im["id"]: im["doi"] for im in coco["images"]}
    val = set(man["split"]["val_image_ids"])
    assert val and not ({doi[i] for i in val} & {doi[i] for i in doi if i not in val})
    assert man["fidelity"]["iou_min"] == 1.0
