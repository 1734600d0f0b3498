"""infer/predict.py end to end on a tiny model (1 epoch, imgsz 64) and toy frames of 96 x 128 px.

The model is barely trained, so predictions use ``--conf 0.001``: the point here is the mechanics (format, ids,
alignment with Ultralytics' own masks, resume after a real kill, corrupt frames), not accuracy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from killrun import kill_after_journal_lines
from pycocotools import mask as mask_utils
from scriptload import load_script

from flocshape.errors import InputError, run_cli
from flocshape.testing import make_toy_dataset, make_toy_frames

pytestmark = pytest.mark.slow  # trains a (tiny) model in a module fixture

REPO = Path(__file__).resolve().parents[1]
PREDICT = REPO / "infer" / "predict.py"
COMMON = ["--conf", "0.001", "--imgsz", "128"]


def _predict_main():  # noqa: ANN202 - the CLI module's main
    return load_script("infer/predict.py", "predict_cli").main


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from flocshape.train.wrapper import train

    root = tmp_path_factory.mktemp("predict")
    data = make_toy_dataset(root / "ds", n_train=4, n_val=1)
    overrides = {"epochs": 1, "imgsz": 64, "batch": 4, "workers": 0, "val": False}
    result = train(data, "cpu-small", overrides, name="tiny", project=root / "runs")
    frames, coco = make_toy_frames(root / "frames", n_frames=3)
    images_json = root / "label_test.json"
    images_json.write_text(json.dumps({"images": coco["images"]}))
    return {"root": root, "model": result.save_dir / "weights" / "best.pt", "frames": root / "frames",
            "images_json": images_json}  # fmt: skip


def test_submission_format_ids_and_manifest(tiny: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["--model", str(tiny["model"]), "--source", str(tiny["frames"]), "--images-json", str(tiny["images_json"]),
            "--out", str(out), "--save-overlays", *COMMON]  # fmt: skip
    assert run_cli(_predict_main(), argv) == 0
    preds = json.loads((out / "submission.json").read_text())
    images = {im["id"]: im for im in json.loads(tiny["images_json"].read_text())["images"]}
    assert preds, "the tiny model at conf 0.001 should produce some detections"
    for p in preds:
        assert set(p) == {"image_id", "category_id", "bbox", "score", "segmentation"}
        assert p["image_id"] in images and p["category_id"] == 1
        im = images[p["image_id"]]
        assert p["segmentation"]["size"] == [im["height"], im["width"]]
        assert isinstance(p["segmentation"]["counts"], str)
        rle = {"size": p["segmentation"]["size"], "counts": p["segmentation"]["counts"].encode()}
        assert mask_utils.area(rle) > 0
        assert np.allclose(mask_utils.toBbox(rle), p["bbox"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["frames"] == {"total": 3, "ok": 3, "done_before_resume": 0}
    assert manifest["instances"] == len(preds) and manifest["failed_frames"] == []
    assert manifest["settings"]["max_det"] == 1000
    assert sorted(q.name for q in (out / "overlays").iterdir()) == ["0001.jpg", "0002.jpg", "0003.jpg"]


def test_particle_table_is_written_per_instance(tiny: dict[str, Path], tmp_path: Path) -> None:
    import pandas as pd

    out = tmp_path / "run"
    argv = ["--model", str(tiny["model"]), "--source", str(tiny["frames"]), "--out", str(out), "--um-per-px", "2.5",
            *COMMON]  # fmt: skip
    assert run_cli(_predict_main(), argv) == 0
    preds = json.loads((out / "submission.json").read_text())
    table = pd.read_parquet(out / "particles.parquet")
    assert len(table) == len(preds)
    assert sorted(table["image_id"].unique()) == [1, 2, 3]  # file stems, no --images-json
    assert "area_um2" in table.columns
    for image_id, group in table.groupby("image_id"):
        areas = [mask_utils.area({"size": p["segmentation"]["size"], "counts": p["segmentation"]["counts"].encode()})
                 for p in preds if p["image_id"] == image_id]  # fmt: skip
        assert sorted(group["area_px"].astype(int)) == sorted(int(a) for a in areas)


def test_masks_match_ultralytics_retina_masks(tiny: dict[str, Path]) -> None:
    import cv2
    from ultralytics import YOLO

    from flocshape.infer.engine import Segmenter

    frame = cv2.imread(str(tiny["frames"] / "0001.jpg"))
    ours = Segmenter(tiny["model"], imgsz=128, conf=0.001, max_det=50).instances(frame)
    ref = YOLO(str(tiny["model"])).predict(
        frame, imgsz=128, conf=0.001, max_det=50, retina_masks=True, verbose=False
    )
    ref_masks = (
        ref[0].masks.data.numpy().astype(bool) if ref[0].masks is not None else np.zeros((0, 96, 128), bool)
    )
    ref_scores = ref[0].boxes.conf.numpy()
    assert len(ours) == len(ref_masks) > 0
    ious = []
    for inst in ours:
        k = int(np.argmin(np.abs(ref_scores - inst.score)))
        mine = inst.crop.full()
        union = np.count_nonzero(mine | ref_masks[k])
        ious.append(np.count_nonzero(mine & ref_masks[k]) / union)
    assert np.median(ious) > 0.9, ious


def test_max_det_reaches_nms(tiny: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["--model", str(tiny["model"]), "--source", str(tiny["frames"]), "--out", str(out), "--max-det", "1",
            *COMMON]  # fmt: skip
    assert run_cli(_predict_main(), argv) == 0
    preds = json.loads((out / "submission.json").read_text())
    per_image = {p["image_id"] for p in preds}
    assert len(preds) == len(per_image)  # at most one per frame


def test_corrupt_frame_is_reported_and_the_run_goes_on(
    tiny: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    for q in sorted(tiny["frames"].iterdir()):
        (frames / q.name).write_bytes(q.read_bytes())
    (frames / "0004.jpg").write_bytes(b"\xff\xd8 this is not a JPEG")
    out = tmp_path / "run"
    rc = run_cli(
        _predict_main(), ["--model", str(tiny["model"]), "--source", str(frames), "--out", str(out), *COMMON]
    )
    assert rc == 3
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {frames / '0004.jpg'}: cannot decode image; skipped"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [f["file"] for f in manifest["failed_frames"]] == [str(frames / "0004.jpg")]
    assert manifest["frames"]["ok"] == 3
    assert {p["image_id"] for p in json.loads((out / "submission.json").read_text())} <= {1, 2, 3}


def _cli(*args: str) -> list[str]:
    return [sys.executable, str(PREDICT), *args]


def test_bad_input_is_one_line_and_nothing_is_written(tiny: dict[str, Path], tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "frame_a.jpg").write_bytes((tiny["frames"] / "0001.jpg").read_bytes())
    out = tmp_path / "run"
    proc = subprocess.run(_cli("--model", str(tiny["model"]), "--source", str(frames), "--out", str(out)),
                          capture_output=True, text=True, timeout=120, cwd=REPO)  # fmt: skip
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == f"error: {frames / 'frame_a.jpg'}: file stem is not an integer image id (pass --images-json)"
    )
    assert not out.exists()


def test_kill_and_resume_loses_nothing_and_duplicates_nothing(tiny: dict[str, Path], tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    make_toy_frames(frames, n_frames=24, seed=7)
    reference = tmp_path / "reference"
    argv = ["--model", str(tiny["model"]), "--source", str(frames), *COMMON]
    assert run_cli(_predict_main(), [*argv, "--out", str(reference)]) == 0

    out = tmp_path / "interrupted"
    journal = out / "journal.jsonl"
    done_at_kill = kill_after_journal_lines(_cli(*argv, "--out", str(out)), journal, 3)
    assert 3 <= done_at_kill < 24
    assert not (out / "submission.json").exists()

    assert run_cli(_predict_main(), [*argv, "--out", str(out), "--resume"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["frames"]["done_before_resume"] >= done_at_kill
    names = [json.loads(line)["file_name"] for line in journal.read_text().splitlines()]
    assert len(names) == len(set(names)) == 24
    assert json.loads((out / "submission.json").read_text()) == json.loads(
        (reference / "submission.json").read_text()
    )


def test_kill_then_a_changed_frame_then_resume_is_exact(tiny: dict[str, Path], tmp_path: Path) -> None:
    """A frame replaced on disk between the killed run and --resume is predicted again (journal sha256)."""
    import shutil

    frames = tmp_path / "frames"
    make_toy_frames(frames, n_frames=24, seed=7)
    other = tmp_path / "other"
    make_toy_frames(other, n_frames=1, seed=8)
    final = tmp_path / "final"  # the frames as they are when the run is resumed
    shutil.copytree(frames, final)
    shutil.copyfile(other / "0001.jpg", final / "0001.jpg")
    argv = ["--model", str(tiny["model"]), *COMMON]
    reference = tmp_path / "reference"
    assert run_cli(_predict_main(), [*argv, "--source", str(final), "--out", str(reference)]) == 0

    out = tmp_path / "interrupted"
    journal = out / "journal.jsonl"
    kill_after_journal_lines(_cli(*argv, "--source", str(frames), "--out", str(out)), journal, 3)
    done = [json.loads(line)["file_name"] for line in journal.read_text().splitlines()]
    assert "0001.jpg" in done
    shutil.copyfile(other / "0001.jpg", frames / "0001.jpg")  # changed after it was predicted

    assert run_cli(_predict_main(), [*argv, "--source", str(frames), "--out", str(out), "--resume"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["frames"]["done_before_resume"] == len(set(done)) - 1
    assert json.loads((out / "submission.json").read_text()) == json.loads(
        (reference / "submission.json").read_text()
    )
    import pandas as pd

    ours = pd.read_parquet(out / "particles.parquet").drop(columns=["source"])
    theirs = pd.read_parquet(reference / "particles.parquet").drop(columns=["source"])
    pd.testing.assert_frame_equal(ours, theirs)


def test_existing_output_without_resume_is_refused(tiny: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "something.txt").write_text("x")
    with pytest.raises(Exception, match="pass --resume"):
        _predict_main()(
            ["--model", str(tiny["model"]), "--source", str(tiny["frames"]), "--out", str(out), *COMMON]
        )


def test_postproc_filters_before_writing(tiny: dict[str, Path], tmp_path: Path) -> None:
    base = ["--model", str(tiny["model"]), "--source", str(tiny["frames"]), *COMMON]
    assert run_cli(_predict_main(), [*base, "--out", str(tmp_path / "plain")]) == 0
    plain = json.loads((tmp_path / "plain" / "submission.json").read_text())
    threshold = float(np.median([p["score"] for p in plain]))
    cfg = tmp_path / "postproc.json"
    cfg.write_text(json.dumps({"min_score": threshold, "min_area_px": 0, "mask_nms_iou": 1.0}))
    assert run_cli(_predict_main(), [*base, "--out", str(tmp_path / "filtered"), "--postproc", str(cfg)]) == 0
    filtered = json.loads((tmp_path / "filtered" / "submission.json").read_text())
    assert filtered == [p for p in plain if p["score"] >= threshold]
    manifest = json.loads((tmp_path / "filtered" / "manifest.json").read_text())
    assert manifest["settings"]["postproc"]["min_score"] == threshold


def test_measurement_threshold_flags_particles_and_keeps_the_submission(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    import pandas as pd

    base = ["--model", str(tiny["model"]), "--source", str(tiny["frames"]), *COMMON]
    assert run_cli(_predict_main(), [*base, "--out", str(tmp_path / "plain")]) == 0
    plain = json.loads((tmp_path / "plain" / "submission.json").read_text())
    assert not pd.read_parquet(tmp_path / "plain" / "particles.parquet")["low_score"].any()
    threshold = float(np.max([p["score"] for p in plain]))  # the barely trained model's scores tie a lot
    cfg = tmp_path / "postproc.json"
    cfg.write_text(
        json.dumps({"min_score": 0, "min_area_px": 0, "mask_nms_iou": 1.0, "measure_min_score": threshold})
    )
    assert run_cli(_predict_main(), [*base, "--out", str(tmp_path / "flagged"), "--postproc", str(cfg)]) == 0
    assert json.loads((tmp_path / "flagged" / "submission.json").read_text()) == plain  # flags, never drops
    table = pd.read_parquet(tmp_path / "flagged" / "particles.parquet")
    assert len(table) == len(plain) and table["low_score"].any() and not table["low_score"].all()
    assert (table["low_score"] == (table["score"] < threshold)).all()
    manifest = json.loads((tmp_path / "flagged" / "manifest.json").read_text())
    assert manifest["settings"]["postproc"]["measure_min_score"] == threshold
    # the option wins over the file; 0 flags nothing; out of range is a one-line error, nothing written
    args = [*base, "--out", str(tmp_path / "zero"), "--postproc", str(cfg), "--measure-min-score", "0"]
    assert run_cli(_predict_main(), args) == 0
    assert not pd.read_parquet(tmp_path / "zero" / "particles.parquet")["low_score"].any()
    assert (
        run_cli(_predict_main(), [*base, "--out", str(tmp_path / "bad"), "--measure-min-score", "1.5"]) == 2
    )
    assert not (tmp_path / "bad").exists()
    cfg.write_text(
        json.dumps({"min_score": 0, "min_area_px": 0, "mask_nms_iou": 1.0, "measure_min_score": "x"})
    )
    assert run_cli(_predict_main(), [*base, "--out", str(tmp_path / "bad"), "--postproc", str(cfg)]) == 2
    assert not (tmp_path / "bad").exists()


def test_tiled_mode_writes_frame_aligned_masks(tiny: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["--model", str(tiny["model"]), "--source", str(tiny["frames"]), "--out", str(out), "--tile", "64",
            "--overlap", "0.5", *COMMON]  # fmt: skip
    assert run_cli(_predict_main(), argv) == 0
    preds = json.loads((out / "submission.json").read_text())
    assert preds
    for p in preds:
        assert p["segmentation"]["size"] == [96, 128]
        rle = {"size": p["segmentation"]["size"], "counts": p["segmentation"]["counts"].encode()}
        assert mask_utils.area(rle) > 0
    assert json.loads((out / "manifest.json").read_text())["settings"]["tile_px"] == 64


def test_refine_moves_outlines_to_the_frame_and_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fake network returns every toy particle's true mask bulged by 2 px; refinement must bring them back."""
    import cv2

    from flocshape.infer import run as run_module
    from flocshape.infer.engine import Instance
    from flocshape.infer.protomask import CropMask
    from flocshape.masks import decode_segmentation

    frames, coco = make_toy_frames(tmp_path / "frames", n_frames=2)
    truth: list[list[np.ndarray]] = []
    for im in sorted(coco["images"], key=lambda im: im["file_name"]):
        anns = [a for a in coco["annotations"] if a["image_id"] == im["id"]]
        truth.append([decode_segmentation(a["segmentation"], 96, 128).astype(bool) for a in anns])
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    class BulgingSegmenter:
        def __init__(self, *args: object) -> None:
            self.frames = iter(truth)

        def instances(self, image: np.ndarray, timings: object) -> list[Instance]:
            out = []
            for k, m in enumerate(next(self.frames)):
                bulged = cv2.dilate(m.astype(np.uint8), kernel).astype(bool)
                crop = CropMask(bulged, 0, 0, bulged.shape).tight()
                out.append(Instance(crop, 0.9 - 0.01 * k, 0, (0.0, 0.0, 1.0, 1.0)))
            return out

    monkeypatch.setattr(run_module, "Segmenter", BulgingSegmenter)
    model = tmp_path / "fake.pt"
    model.write_bytes(b"not used")
    base = ["--model", str(model), "--source", str(tmp_path / "frames"), "--no-postproc", *COMMON]

    def mean_iou(run: Path) -> float:
        preds = json.loads((run / "submission.json").read_text())
        ious = []
        for p in preds:
            m = decode_segmentation(p["segmentation"], 96, 128).astype(bool)
            ious.append(max((m & t).sum() / (m | t).sum() for t in truth[p["image_id"] - 1]))
            rle = {"size": p["segmentation"]["size"], "counts": p["segmentation"]["counts"].encode()}
            assert np.allclose(mask_utils.toBbox(rle), p["bbox"])
        return float(np.mean(ious))

    assert run_cli(_predict_main(), [*base, "--out", str(tmp_path / "plain")]) == 0
    assert run_cli(_predict_main(), [*base, "--out", str(tmp_path / "refined"), "--refine", "0.5"]) == 0
    assert mean_iou(tmp_path / "refined") > mean_iou(tmp_path / "plain") + 0.1
    assert mean_iou(tmp_path / "refined") > 0.85
    manifest = json.loads((tmp_path / "refined" / "manifest.json").read_text())
    assert manifest["settings"]["refine_level"] == 0.5 and manifest["settings"]["refine_grow_px"] == 2
    assert manifest["model"]["settings_from"]["refine"] == "option"
    assert "refine_s" in manifest["timings_s"] and manifest["settings"]["refine_inset_px"] == 0.0
    with pytest.raises(InputError, match="--refine"):
        _predict_main()([*base, "--out", str(tmp_path / "bad"), "--refine", "1.5"])
    assert not (tmp_path / "bad").exists()

    inset = [*base, "--out", str(tmp_path / "inset"), "--refine", "0.5", "--refine-inset", "1.0"]
    assert run_cli(_predict_main(), inset) == 0
    assert (
        json.loads((tmp_path / "inset" / "manifest.json").read_text())["settings"]["refine_inset_px"] == 1.0
    )

    def total_area(run: Path) -> int:
        preds = json.loads((run / "submission.json").read_text())
        return sum(int(decode_segmentation(p["segmentation"], 96, 128).sum()) for p in preds)

    assert total_area(tmp_path / "inset") < total_area(tmp_path / "refined")
    assert mean_iou(tmp_path / "inset") > 0.6
    with pytest.raises(InputError, match="--refine/--refine-inset.*inset_px"):
        _predict_main()([*base, "--out", str(tmp_path / "bad"), "--refine", "0.5", "--refine-inset", "9"])
    assert not (tmp_path / "bad").exists()

    assert manifest["settings"]["refine_smooth_px"] == 1.0  # the default smoothing with an explicit level
    smooth = [*base, "--out", str(tmp_path / "smooth"), "--refine", "0.5", "--refine-smooth", "0.5"]
    assert run_cli(_predict_main(), smooth) == 0
    assert (
        json.loads((tmp_path / "smooth" / "manifest.json").read_text())["settings"]["refine_smooth_px"] == 0.5
    )
    assert mean_iou(tmp_path / "smooth") > 0.85
    with pytest.raises(InputError, match="--refine-smooth: must be a finite number"):
        _predict_main()([*base, "--out", str(tmp_path / "bad"), "--refine", "0.5", "--refine-smooth", "-1"])
    assert not (tmp_path / "bad").exists()


def test_resume_compares_a_setting_added_later_as_its_default(tmp_path: Path) -> None:
    from dataclasses import asdict

    from flocshape.infer.journal import RUN_CONFIG, prepare_out_dir
    from flocshape.infer.settings import PredictOptions

    settings = {"model_sha256": "x", **asdict(PredictOptions(refine_level=0.6)), "postproc": None}
    later = ("refine_inset_px", "refine_smooth_px")
    old = {
        k: v for k, v in settings.items() if k not in later
    }  # a run made before the inset and smoothing existed
    out = tmp_path / "run"
    out.mkdir()
    (out / RUN_CONFIG).write_text(json.dumps(old))
    (out / "journal.jsonl").write_text("")
    prepare_out_dir(out, settings, resume=True)
    with pytest.raises(InputError, match="refine_inset_px"):
        prepare_out_dir(out, {**settings, "refine_inset_px": 0.5}, resume=True)
    with pytest.raises(InputError, match="refine_smooth_px"):
        prepare_out_dir(out, {**settings, "refine_smooth_px": 0.5}, resume=True)
