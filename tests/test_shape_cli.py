"""infer/shape.py end to end on tiny COCO files, results lists and label maps; one-line input errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from scriptload import load_script

from flocshape.errors import run_cli
from flocshape.masks import encode_rle
from flocshape.shape import analytic
from flocshape.shape.schema import COLUMN_NAMES

REPO = Path(__file__).resolve().parents[1]
H, W = 48, 64


def _load_cli():
    return load_script("infer/shape.py", "shape_cli")


CLI = _load_cli()


def _masks() -> list[np.ndarray]:
    a = np.zeros((H, W), bool)
    disc = analytic.disc(8.0).mask
    a[5 : 5 + disc.shape[0], 6 : 6 + disc.shape[1]] = disc
    b = np.zeros((H, W), bool)
    b[30:40, 40:60] = True
    return [a, b]


@pytest.fixture()
def coco_dir(tmp_path: Path) -> Path:
    masks = _masks()
    image = np.full((H, W), 25, np.uint8)
    for m in masks:
        image[m] = 210
    cv2.imwrite(str(tmp_path / "0007.png"), image)
    polygon = [40.0, 30.0, 60.0, 30.0, 60.0, 40.0, 40.0, 40.0]
    coco = {
        "images": [{"id": 12, "file_name": "0007.png", "height": H, "width": W}],
        "annotations": [
            {"id": 101, "image_id": 12, "category_id": 1, "segmentation": encode_rle(masks[0])},
            {"id": 102, "image_id": 12, "category_id": 1, "segmentation": [polygon]},
        ],
        "categories": [{"id": 1, "name": "Normal"}],
    }
    (tmp_path / "gt.json").write_text(json.dumps(coco))
    results = [
        {"image_id": 12, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.9, "segmentation": encode_rle(m)}
        for m in masks
    ]
    (tmp_path / "pred.json").write_text(json.dumps(results))
    return tmp_path


def test_cli_end_to_end_subprocess(coco_dir: Path) -> None:
    out = coco_dir / "out" / "particles.parquet"
    cmd = [
        sys.executable,
        "infer/shape.py",
        "--coco",
        str(coco_dir / "gt.json"),
        "--images",
        str(coco_dir),
        "--um-per-px",
        "2.0",
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_parquet(out)
    assert list(table.columns[: len(COLUMN_NAMES)]) == list(COLUMN_NAMES)
    assert table["instance_id"].tolist() == [101, 102]
    assert table["image_id"].tolist() == [12, 12] and table["file_name"].tolist() == ["0007.png"] * 2
    assert table["score"].isna().all()
    assert table["area_px"].tolist()[1] == 200  # COCO polygon [40,60]x[30,40] covers 20 x 10 pixels
    assert table["mean_intensity"].tolist() == pytest.approx([210.0, 210.0])
    assert table["area_um2"].tolist() == pytest.approx((table["area_px"] * 4.0).tolist())
    manifest = json.loads((out.parent / "particles.parquet.manifest.json").read_text())
    assert manifest["outputs"]["rows"] == 2 and manifest["perimeter_estimator"] == "crofton4"


def test_results_list_with_images_json_and_csv(coco_dir: Path) -> None:
    out = coco_dir / "pred.csv"
    argv = [
        "--coco",
        str(coco_dir / "pred.json"),
        "--images",
        str(coco_dir),
        "--images-json",
        str(coco_dir / "gt.json"),
        "--out",
        str(out),
    ]
    assert run_cli(CLI.main, argv) == 0
    table = pd.read_csv(out)
    assert table["instance_id"].tolist() == [0, 1]
    assert table["score"].tolist() == pytest.approx([0.9, 0.9])
    assert table["file_name"].tolist() == ["0007.png"] * 2
    assert table["contrast"].tolist() == pytest.approx([185.0, 185.0])


def test_labelmap_dir(tmp_path: Path) -> None:
    labels = np.zeros((H, W), np.uint16)
    for value, m in zip((300, 7), _masks(), strict=True):
        labels[m] = value
    (tmp_path / "maps").mkdir()
    cv2.imwrite(str(tmp_path / "maps" / "0005.png"), labels)
    out = tmp_path / "lm.parquet"
    assert run_cli(CLI.main, ["--labelmap-dir", str(tmp_path / "maps"), "--out", str(out)]) == 0
    table = pd.read_parquet(out)
    assert sorted(table["instance_id"].tolist()) == [7, 300]
    assert set(table["image_id"]) == {5}


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (
            lambda c: c["annotations"][1].pop("segmentation"),
            "annotations[1] (id=102): missing key 'segmentation'",
        ),
        (lambda c: c["annotations"][0].update(image_id=99), "annotations[0] (id=101): image_id 99 is not"),
        (
            lambda c: c["annotations"][0]["segmentation"].update(counts="!!"),
            "annotations[0] (id=101): bad segm",
        ),
        (lambda c: c["annotations"][1].update(segmentation=[[1, 2, 3]]), "annotations[1] (id=102): bad segm"),
        (lambda c: c["images"][0].update(height="x"), "images[0] (id=12): 'height'"),
    ],
)
def test_bad_coco_gives_one_line_error(coco_dir: Path, capsys, mutate, needle: str) -> None:
    coco = json.loads((coco_dir / "gt.json").read_text())
    mutate(coco)
    bad = coco_dir / "bad.json"
    bad.write_text(json.dumps(coco))
    before = bad.read_bytes()
    out = coco_dir / "never.parquet"
    assert run_cli(CLI.main, ["--coco", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {bad}: ") and needle in err
    assert not out.exists() and bad.read_bytes() == before


def test_invalid_json_and_missing_image(coco_dir: Path, capsys) -> None:
    bad = coco_dir / "broken.json"
    bad.write_text("{not json")
    assert run_cli(CLI.main, ["--coco", str(bad), "--out", str(coco_dir / "x.parquet")]) == 2
    assert "invalid JSON" in capsys.readouterr().err
    (coco_dir / "0007.png").unlink()
    argv = [
        "--coco",
        str(coco_dir / "gt.json"),
        "--images",
        str(coco_dir),
        "--out",
        str(coco_dir / "x.parquet"),
    ]
    assert run_cli(CLI.main, argv) == 2
    err = capsys.readouterr().err
    assert "0007.png: image id=12: image file not found" in err


def test_measure_coco_python_api(coco_dir: Path) -> None:
    from flocshape.shape.sources import measure_coco

    table = measure_coco(coco_dir / "pred.json", coco_dir, 0.5, coco_dir / "gt.json")
    assert len(table) == 2 and table["ecd_um"].tolist() == pytest.approx((table["ecd_px"] * 0.5).tolist())
    assert not table["touches_border"].any()
