"""Classical baseline: threshold + distance-transform watershed on frames with known discs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flocshape.baselines.search import coordinate_search, load_frames, subset_coco
from flocshape.baselines.watershed import WatershedParams, frame_result, params_from_dict, segment_frame
from flocshape.errors import InputError, run_cli
from flocshape.masks import decode_segmentation, encode_rle, mask_iou
from flocshape.score.cli import score_main

REPO = Path(__file__).resolve().parents[1]
FLUID_GREY = 30
FLOC_GREY = 190
BUBBLE_GREY = 4


def disc(shape: tuple[int, int], centre_xy: tuple[float, float], radius_px: float) -> np.ndarray:
    """Pixels whose centres lie within ``radius_px`` of ``centre_xy`` (x, y in px)."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    return (cols + 0.5 - centre_xy[0]) ** 2 + (rows + 0.5 - centre_xy[1]) ** 2 <= radius_px**2


def render(
    shape: tuple[int, int],
    flocs: list[tuple[float, float, float]],
    bubbles: list[tuple[float, float, float]] = (),
    fluid: np.ndarray | int = FLUID_GREY,
    seed: int = 0,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """A uint8 grey frame of bright discs (``flocs`` = (x, y, r)) and dark ``bubbles`` drawn on top, with noise.

    Returns the frame and the true floc masks (bubbles on top do not change a floc's label).
    """
    image = np.broadcast_to(np.asarray(fluid, dtype=np.float64), shape).copy()
    truth = [disc(shape, (x, y), r) for x, y, r in flocs]
    for mask in truth:
        image[mask] = image[mask] + (FLOC_GREY - FLUID_GREY)
    for x, y, r in bubbles:
        image[disc(shape, (x, y), r)] = BUBBLE_GREY
    image += np.random.default_rng(seed).normal(0.0, 4.0, shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), truth


def best_ious(labels: np.ndarray, truth: list[np.ndarray]) -> list[float]:
    """For each true mask, the best IoU with any labelled instance."""
    return [max((mask_iou(labels == k, t) for k in range(1, labels.max() + 1)), default=0.0) for t in truth]


def test_separated_discs_are_found_with_their_outlines():
    flocs = [(30, 30, 12), (100, 40, 18), (40, 100, 8), (120, 105, 15)]
    grey, truth = render((140, 160), flocs)
    labels = segment_frame(grey, WatershedParams())
    assert labels.dtype == np.int32 and labels.shape == grey.shape
    assert labels.max() == len(flocs)
    assert min(best_ious(labels, truth)) > 0.9


def test_watershed_splits_two_touching_discs_at_the_neck():
    flocs = [(50, 50, 20), (86, 50, 20)]  # centres 36 px apart: overlapping discs with a neck
    grey, truth = render((100, 140), flocs)
    labels = segment_frame(grey, WatershedParams(min_distance_px=5))
    assert labels.max() == 2
    assert min(best_ious(labels, truth)) > 0.8
    left, right = labels[50, 40], labels[50, 96]
    assert left != right and left > 0 and right > 0
    # the split runs near the neck (x = 68)
    split_cols = [c for c in range(30, 110) if labels[50, c] != labels[50, c - 1]]
    assert any(abs(c - 68) <= 2 for c in split_cols)
    # markers further apart than the two centres: no split, one instance covering both discs
    merged = segment_frame(grey, WatershedParams(min_distance_px=40))
    assert merged.max() == 1
    assert mask_iou(merged == 1, truth[0] | truth[1]) > 0.9


def test_h_maxima_markers_split_touching_discs_too():
    grey, truth = render((100, 140), [(50, 50, 20), (86, 50, 20)], seed=1)
    labels = segment_frame(grey, WatershedParams(markers="h_maxima", h_px=1.0))
    assert labels.max() == 2
    assert min(best_ious(labels, truth)) > 0.8


def test_dark_bubbles_are_ignored_and_a_bubble_on_a_floc_is_filled():
    flocs = [(40, 40, 18), (110, 60, 14)]
    bubbles = [(40, 40, 5), (80, 20, 6), (20, 100, 8), (130, 110, 4)]  # first one lies on a floc
    grey, truth = render((140, 160), flocs, bubbles)
    labels = segment_frame(grey, WatershedParams())
    assert labels.max() == 2
    assert min(best_ious(labels, truth)) > 0.9
    for x, y, _ in bubbles[1:]:
        assert labels[int(y), int(x)] == 0
    assert labels[40, 40] > 0  # the hole left by the bubble on the floc is filled
    without_fill = segment_frame(grey, WatershedParams(fill_holes=False))
    assert without_fill[40, 40] == 0


def test_background_subtraction_follows_uneven_lighting():
    shape = (200, 160)
    fluid = np.linspace(150, 20, shape[0])[:, None] * np.ones(shape)  # bright fluid at the top
    flocs = [(40, 30, 12), (120, 40, 10), (50, 170, 12), (120, 160, 9)]
    grey, truth = render(shape, flocs, fluid=fluid)
    plain = segment_frame(grey, WatershedParams())
    corrected = segment_frame(grey, WatershedParams(background_sigma_px=30.0))
    assert corrected.max() == len(flocs)
    assert min(best_ious(corrected, truth)) > 0.85
    assert min(best_ious(plain, truth)) < 0.5  # a global Otsu level cannot follow the gradient


def test_small_objects_are_removed_and_every_component_keeps_a_marker():
    grey, _ = render((60, 60), [])
    grey[10:13, 10:13] = FLOC_GREY  # 9 px
    grey[30:35, 30:35] = FLOC_GREY  # 25 px
    labels = segment_frame(grey, WatershedParams(smooth_sigma_px=0.0, threshold="fixed", fixed_level=100.0))
    assert labels.max() == 1
    assert np.count_nonzero(labels == 1) == 25
    assert labels[11, 11] == 0


def test_empty_frame_gives_no_instances():
    grey = np.full((50, 70), FLUID_GREY, dtype=np.uint8)
    labels = segment_frame(grey, WatershedParams(threshold="fixed", fixed_level=100.0))
    assert labels.max() == 0
    assert (
        frame_result(grey, WatershedParams(threshold="fixed", fixed_level=100.0), 3, "x.png").predictions
        == []
    )


@settings(max_examples=15, deadline=None)
@given(
    radii=st.lists(st.integers(5, 14), min_size=1, max_size=4),
    jitter=st.lists(st.integers(-6, 6), min_size=8, max_size=8),
    seed=st.integers(0, 1000),
)
def test_well_separated_discs_are_counted_exactly(radii, jitter, seed):
    cells = [(40, 40), (120, 40), (40, 120), (120, 120)]
    flocs = [
        (cx + jitter[2 * i], cy + jitter[2 * i + 1], r)
        for i, ((cx, cy), r) in enumerate(zip(cells, radii, strict=False))
    ]
    grey, truth = render((160, 160), flocs, seed=seed)
    labels = segment_frame(grey, WatershedParams())
    assert labels.max() == len(flocs)
    assert min(best_ious(labels, truth)) > 0.8


def test_frame_result_records_match_the_labels_and_are_sorted_by_score():
    flocs = [(30, 30, 12), (100, 40, 18), (40, 100, 8)]
    grey, truth = render((140, 160), flocs)
    grey[disc(grey.shape, (100, 40), 18)] -= 60  # a dimmer floc scores lower with "mean_grey"
    result = frame_result(grey, WatershedParams(), image_id=7, file_name="f.png", source="s")
    preds = result.predictions
    assert [p["score"] for p in preds] == sorted((p["score"] for p in preds), reverse=True)
    assert preds[-1]["bbox"][2] > 30  # the dim large floc is last
    for p in preds:
        assert p["image_id"] == 7 and p["category_id"] == 1 and 0 < p["score"] <= 1
        mask = decode_segmentation(p["segmentation"], *grey.shape)
        x, y, w, h = p["bbox"]
        rows, cols = np.nonzero(mask)
        assert (cols.min(), rows.min(), cols.max() - cols.min() + 1, rows.max() - rows.min() + 1) == (
            x,
            y,
            w,
            h,
        )
    table = result.particles
    assert list(table["instance_id"]) == [0, 1, 2]
    assert table["area_px"].tolist() == [
        int(decode_segmentation(p["segmentation"], *grey.shape).sum()) for p in preds
    ]
    assert table["score"].tolist() == [p["score"] for p in preds]


def test_params_are_validated_with_the_key_named():
    assert params_from_dict({"threshold": "local", "local_block_px": 51}).local_block_px == 51
    for bad, key in [
        ({"thresh": "otsu"}, "thresh"),
        ({"min_area_px": 12.5}, "min_area_px"),
        ({"fill_holes": 1}, "fill_holes"),
        ({"min_distance_px": True}, "min_distance_px"),
        ({"threshold": "triangle"}, "threshold"),
        ({"local_block_px": 50}, "local_block_px"),
    ]:
        with pytest.raises(InputError, match=f"p.json: {key}: "):
            params_from_dict(bad, "p.json")


def test_coordinate_search_keeps_the_best_setting(tmp_path):
    grey, truth = render((100, 140), [(50, 50, 20), (86, 50, 20)])
    name = "0001.png"
    cv2.imwrite(str(tmp_path / name), grey)
    gt = coco_with_truth([(name, 1, grey.shape, truth)])
    frames = load_frames([tmp_path / name], subset_coco(gt, {name}))
    stages = [{"min_distance_px": [40, 5]}]
    best, rows = coordinate_search(frames, gt, WatershedParams(), stages, log=lambda _: None)
    assert best.min_distance_px == 5  # splitting the touching pair scores higher
    assert [r["setting"]["min_distance_px"] for r in rows] == [40, 5]
    assert rows[1]["hackathon_f1"] > rows[0]["hackathon_f1"]


# --- the CLI ------------------------------------------------------------------------------------------------


def coco_with_truth(frames: list[tuple[str, int, tuple[int, int], list[np.ndarray]]]) -> dict:
    """COCO instances dict with the true masks as compressed RLE annotations."""
    images, annotations = [], []
    for name, image_id, (h, w), masks in frames:
        images.append({"id": image_id, "file_name": name, "height": h, "width": w})
        for m in masks:
            ys, xs = np.nonzero(m)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": 1,
                    "segmentation": encode_rle(m),
                    "area": int(m.sum()),
                    "bbox": [int(xs.min()), int(ys.min()), int(np.ptp(xs) + 1), int(np.ptp(ys) + 1)],
                    "iscrowd": 0,
                }
            )
    return {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "Normal"}]}


@pytest.fixture
def two_frames(tmp_path: Path) -> tuple[Path, Path]:
    """A folder of two frames with known discs and the COCO GT (ids 11 and 12, by file name)."""
    src = tmp_path / "frames"
    src.mkdir()
    specs = [
        ("a.png", 11, [(30, 30, 12), (70, 30, 12), (100, 90, 15)]),
        ("b.png", 12, [(50, 60, 20), (86, 60, 20)]),
    ]
    entries = []
    for k, (name, image_id, flocs) in enumerate(specs):
        grey, truth = render((120, 140), flocs, bubbles=[(120, 20, 6)], seed=k)
        cv2.imwrite(str(src / name), cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
        entries.append((name, image_id, grey.shape, truth))
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps(coco_with_truth(entries)))
    return src, gt


def test_cli_writes_a_submission_that_score_accepts(two_frames, tmp_path, capsys):
    src, gt = two_frames
    out = tmp_path / "run"
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"min_distance_px": 5, "score": "solidity"}))
    sys.path.insert(0, str(REPO / "infer"))
    try:
        import watershed as cli  # infer/watershed.py
    finally:
        sys.path.remove(str(REPO / "infer"))
    argv = ["--source", str(src), "--images-json", str(gt), "--out", str(out), "--params", str(params)]
    assert run_cli(cli.main, argv) == 0
    submission = json.loads((out / "submission.json").read_text())
    assert {p["image_id"] for p in submission} == {11, 12}
    assert len(submission) == 5
    assert all(set(p) == {"image_id", "category_id", "bbox", "score", "segmentation"} for p in submission)
    table = pd.read_parquet(out / "particles.parquet")
    assert len(table) == 5 and set(table["file_name"]) == {"a.png", "b.png"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["params"]["score"] == "solidity" and manifest["instances"] == 5
    capsys.readouterr()
    assert (
        score_main(
            ["--gt", str(gt), "--pred", str(out / "submission.json"), "--json", str(tmp_path / "s.json")]
        )
        == 0
    )
    scores = json.loads((tmp_path / "s.json").read_text())
    assert scores["hackathon_f1"]["f1"] > 0.85
    assert scores["strict"]["tp"] == 5 and scores["strict"]["fp"] == 0
    # same input, same output (deterministic)
    assert run_cli(cli.main, [*argv, "--out", str(tmp_path / "run2")]) == 0
    assert (tmp_path / "run2" / "submission.json").read_bytes() == (out / "submission.json").read_bytes()


def run_script(*args: str) -> subprocess.CompletedProcess:
    """``python infer/watershed.py ARGS`` from the repository root."""
    cmd = [sys.executable, str(REPO / "infer" / "watershed.py"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)


def test_bad_input_is_one_line_and_writes_nothing(two_frames, tmp_path):
    src, gt = two_frames
    coco = json.loads(gt.read_text())
    coco["images"] = coco["images"][:1]
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(coco))
    bad_params = tmp_path / "bad.json"
    bad_params.write_text(json.dumps({"min_area_px": -3}))
    out = tmp_path / "run"
    res = run_script("--source", str(src), "--images-json", str(partial), "--out", str(out))
    assert res.returncode == 2
    assert res.stderr.strip() == f"error: {partial}: b.png: no image entry for this frame"
    res = run_script(
        "--source", str(src), "--images-json", str(gt), "--out", str(out), "--params", str(bad_params)
    )
    assert res.returncode == 2
    assert res.stderr.strip() == f"error: {bad_params}: min_area_px: must be >= 1"
    assert not out.exists()


def test_unreadable_frame_is_reported_and_the_rest_is_written(two_frames, tmp_path):
    src, gt = two_frames
    (src / "b.png").write_bytes(b"not an image")
    out = tmp_path / "run"
    sys.path.insert(0, str(REPO / "infer"))
    try:
        import watershed as cli
    finally:
        sys.path.remove(str(REPO / "infer"))
    assert run_cli(cli.main, ["--source", str(src), "--images-json", str(gt), "--out", str(out)]) == 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert [Path(f["file"]).name for f in manifest["failed_frames"]] == ["b.png"]
    assert {p["image_id"] for p in json.loads((out / "submission.json").read_text())} == {11}
    # an earlier watershed run is replaced; another non-empty folder is refused without --overwrite
    assert run_cli(cli.main, ["--source", str(src), "--images-json", str(gt), "--out", str(out)]) == 3
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("keep")
    assert run_cli(cli.main, ["--source", str(src), "--images-json", str(gt), "--out", str(other)]) == 2
    assert [q.name for q in other.iterdir()] == ["mine.txt"]
