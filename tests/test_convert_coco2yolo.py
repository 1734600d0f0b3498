"""convert/coco2yolo.py: outputs, fidelity, split without leakage, tiling, and one-line errors for bad input."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from fixtures_coco import make_coco

from flocshape.convert.to_yolo import main as coco2yolo_main
from flocshape.errors import run_cli

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_coco(
        tmp_path_factory.mktemp("coco"), n_frames=12, height=64, width=80, instances_per_frame=4, seed=1
    )


def _run(argv: list[str]) -> int:
    return run_cli(coco2yolo_main, argv)


def _convert(src: dict[str, Path], out: Path, kind: str = "rle", *extra: str) -> dict[str, Any]:
    rc = _run(["--json", str(src[kind]), "--images", str(src["images"]), "--out", str(out), *extra])
    assert rc == 0
    return json.loads((out / "manifest.json").read_text())


@pytest.mark.parametrize("kind", ["rle", "polygon"])
def test_dataset_layout_and_exact_fidelity(src: dict[str, Path], tmp_path: Path, kind: str) -> None:
    out = tmp_path / "ds"
    man = _convert(src, out, kind, "--group-size", "3")
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["path"] == str(out.absolute()) and data["names"] == {0: "Normal"}
    assert data["coco_category_ids"] == {0: 1}
    n_ann = len(json.loads(src[kind].read_text())["annotations"])
    assert man["counts"]["rows_written"] == n_ann
    assert man["fidelity"]["iou_min"] == 1.0 and man["fidelity"]["instances"] == n_ann
    images = sorted(p.name for p in (out / "images").rglob("*.jpg"))
    labels = sorted(p.stem for p in (out / "labels").rglob("*.txt"))
    assert len(images) == 12 and [Path(i).stem for i in images] == labels
    for txt in (out / "labels").rglob("*.txt"):
        for row in txt.read_text().splitlines():
            vals = [float(v) for v in row.split()]
            assert vals[0] == 0 and len(vals) % 2 == 1 and len(vals) >= 7
            assert min(vals[1:]) >= 0.0 and max(vals[1:]) <= 1.0
    assert (src["images"] / "0001.jpg").read_bytes() == next((out / "images").rglob("0001.jpg")).read_bytes()


def test_split_by_blocks_has_no_leakage_and_is_deterministic(src: dict[str, Path], tmp_path: Path) -> None:
    a = _convert(src, tmp_path / "a", "rle", "--group-size", "3", "--val-frac", "0.3", "--seed", "5")
    b = _convert(src, tmp_path / "b", "rle", "--group-size", "3", "--val-frac", "0.3", "--seed", "5")
    assert a["split"]["val_image_ids"] == b["split"]["val_image_ids"]
    block = lambda p: (int(p.stem) - 1) // 3  # noqa: E731
    train = {block(p) for p in (tmp_path / "a/images/train").iterdir()}
    val = {block(p) for p in (tmp_path / "a/images/val").iterdir()}
    assert val and train and not (train & val)


def test_group_by_regex_and_val_frac_zero(src: dict[str, Path], tmp_path: Path) -> None:
    man = _convert(src, tmp_path / "r", "rle", "--group-by", r"^(\d{3})", "--val-frac", "0.5")
    assert man["split"]["groups_val"] == 1 and man["split"]["val_groups"][0] in {"000", "001"}
    man0 = _convert(src, tmp_path / "z", "rle", "--val-frac", "0")
    data = yaml.safe_load((tmp_path / "z/data.yaml").read_text())
    assert man0["split"]["val_is_train"] and data["val"] == "images/train"
    assert not (tmp_path / "z/images/val").exists()


def test_tiles_cover_frame_and_keep_split_side(src: dict[str, Path], tmp_path: Path) -> None:
    man = _convert(
        src,
        tmp_path / "t",
        "rle",
        "--tile",
        "48",
        "--overlap",
        "0.25",
        "--group-size",
        "3",
        "--min-tile-area",
        "5",
    )
    tiles = man["tiles"]
    assert man["counts"]["tiles"] == len(tiles) == 12 * 4  # 64x80 frame, 48 px tiles -> 2 x 2
    assert {(t["x0"], t["y0"]) for t in tiles} == {(0, 0), (32, 0), (0, 16), (32, 16)}
    side = {}
    for t in tiles:
        assert side.setdefault(t["image_id"], t["split"]) == t["split"]
        assert (tmp_path / "t/images" / t["split"] / t["tile"]).is_file()
    assert man["fidelity"]["iou_min"] == 1.0
    assert all(s["reason"].startswith("tile sliver") for s in man["skipped"])


def _mini(tmp_path: Path) -> tuple[dict[str, Any], Path]:
    images = tmp_path / "img"
    images.mkdir()
    import cv2

    cv2.imwrite(str(images / "0001.png"), np.zeros((20, 30), np.uint8))
    cv2.imwrite(str(images / "0002.png"), np.zeros((20, 30), np.uint8))
    coco = {
        "images": [
            {"id": 7, "file_name": "0001.png", "height": 20, "width": 30},
            {"id": 8, "file_name": "0002.png", "height": 20, "width": 30},
        ],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "segmentation": [[2, 2, 10, 2, 10, 8, 2, 8]]},
            {
                "id": 2,
                "image_id": 7,
                "category_id": 1,
                "segmentation": [[12, 2, 16, 2, 16, 6], [20, 10, 25, 10, 25, 15, 20, 15]],
            },
            {
                "id": 3,
                "image_id": 8,
                "category_id": 1,
                "segmentation": {"size": [20, 30], "counts": [45, 5, 550]},
            },
            {
                "id": 4,
                "image_id": 8,
                "category_id": 1,
                "iscrowd": 1,
                "segmentation": {"size": [20, 30], "counts": [0, 600]},
            },
        ],
        "categories": [{"id": 1, "name": "Normal"}],
    }
    return coco, images


def test_all_segmentation_forms_and_iscrowd(tmp_path: Path) -> None:
    coco, images = _mini(tmp_path)
    (tmp_path / "c.json").write_text(json.dumps(coco))
    rc = _run(
        [
            "--json",
            str(tmp_path / "c.json"),
            "--images",
            str(images),
            "--out",
            str(tmp_path / "o"),
            "--val-frac",
            "0",
        ]
    )
    assert rc == 0
    man = json.loads((tmp_path / "o/manifest.json").read_text())
    assert man["counts"]["rows_written"] == 3 and man["counts"]["skipped_iscrowd"] == 1
    assert man["fidelity"]["iou_min"] == 1.0
    rc = _run(
        [
            "--json",
            str(tmp_path / "c.json"),
            "--images",
            str(images),
            "--out",
            str(tmp_path / "s"),
            "--strict",
        ]
    )
    assert rc == 2 and not (tmp_path / "s").exists()


def _break(coco: dict[str, Any], case: str) -> tuple[Any, str]:
    """Mutate a valid COCO dict into one bad case; return (object or raw text, expected record text)."""
    c = copy.deepcopy(coco)
    a0 = c["annotations"][0]
    if case == "invalid-json":
        return "{not json", ""
    if case == "no-images":
        del c["images"]
        return c, "images"
    if case == "no-annotations":
        del c["annotations"]
        return c, "annotations"
    if case == "unknown-image":
        a0["image_id"] = 99
        return c, "annotation id=1"
    if case == "duplicate-image":
        c["images"][1]["id"] = 7
        return c, "image id=7"
    if case == "duplicate-annotation":
        c["annotations"][1]["id"] = 1
        return c, "annotation id=1"
    if case == "two-points":
        a0["segmentation"] = [[1, 1, 5, 5]]
        return c, "annotation id=1"
    if case == "odd-coords":
        a0["segmentation"] = [[1, 1, 5, 5, 7]]
        return c, "annotation id=1"
    if case == "rle-size":
        c["annotations"][2]["segmentation"]["size"] = [21, 30]
        return c, "annotation id=3"
    if case == "unknown-category":
        a0["category_id"] = 5
        return c, "annotation id=1"
    if case == "missing-file":
        c["images"][1]["file_name"] = "nope.png"
        return c, "image id=8"
    if case == "wrong-size":
        c["images"][0]["height"] = 21
        return c, "image id=7"
    if case == "zero-area-strict":
        a0["segmentation"] = [[2, 2, 2.1, 2, 2.1, 2.1]]
        return c, "annotation id=1"
    if case == "outside-strict":
        a0["segmentation"] = [[-5, 2, 10, 2, 10, 8]]
        return c, "annotation id=1"
    raise AssertionError(case)


CASES = [
    "invalid-json",
    "no-images",
    "no-annotations",
    "unknown-image",
    "duplicate-image",
    "duplicate-annotation",
    "two-points",
    "odd-coords",
    "rle-size",
    "unknown-category",
    "missing-file",
    "wrong-size",
    "zero-area-strict",
    "outside-strict",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gives_one_line_error_and_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    coco, images = _mini(tmp_path)
    bad, record = _break(coco, case)
    path = tmp_path / "bad.json"
    path.write_text(bad if isinstance(bad, str) else json.dumps(bad))
    out = tmp_path / "out"
    argv = ["--json", str(path), "--images", str(images), "--out", str(out), "--val-frac", "0"]
    rc = _run([*argv, "--strict"] if case.endswith("strict") else argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.startswith("error: ") and "\n" not in err and str(path) in err and record in err
    assert not out.exists() and not list(tmp_path.glob(".out.*"))


def test_zero_area_and_outside_are_counted_without_strict(tmp_path: Path) -> None:
    coco, images = _mini(tmp_path)
    coco["annotations"][0]["segmentation"] = [[2, 2, 2.1, 2, 2.1, 2.1]]
    coco["annotations"][1]["segmentation"] = [[-5, 2, 10, 2, 10, 8]]
    (tmp_path / "c.json").write_text(json.dumps(coco))
    assert (
        _run(
            [
                "--json",
                str(tmp_path / "c.json"),
                "--images",
                str(images),
                "--out",
                str(tmp_path / "o"),
                "--val-frac",
                "0",
            ]
        )
        == 0
    )
    man = json.loads((tmp_path / "o/manifest.json").read_text())
    assert man["counts"]["skipped_zero_area"] == 1 and man["counts"]["clipped_to_image"] == 1
    assert {"annotation_id": 1, "image_id": 7, "reason": "zero area"} in man["skipped"]


def test_refuses_to_replace_a_foreign_folder(tmp_path: Path, src: dict[str, Path]) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    assert _run(["--json", str(src["rle"]), "--images", str(src["images"]), "--out", str(foreign)]) == 2
    assert (foreign / "keep.txt").read_text() == "x"


def test_cli_script_by_path(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "convert/coco2yolo.py",
            "--json",
            str(tmp_path / "none.json"),
            "--images",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "none.json" in proc.stderr
