"""infer/predict.py on videos written by OpenCV from synthetic frames (bright blobs on a dark background).

The shipped model predicts whole 256 x 320 frames at ``--imgsz 320`` (about 0.2 s a frame on 2 busy cores). A 30 s
video at 10 fps sampled with ``--fps 2`` gives 60 frames at 0.0, 0.5, ... 29.5 s; a run killed with SIGKILL and
resumed equals an uninterrupted one. Bad videos are refused by the probe before the model is loaded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from killrun import kill_after_journal_lines
from scriptload import load_script

from flocshape.errors import InputError, run_cli
from flocshape.infer.video import sample_indices

REPO = Path(__file__).resolve().parents[1]
PREDICT = REPO / "infer" / "predict.py"
FAST = ["--no-tile", "--imgsz", "320"]


def _predict_main():  # noqa: ANN202 - the CLI module's main
    return load_script("infer/predict.py", "predict_cli").main


def write_video(path: Path, n_frames: int, fps: float = 10.0, fourcc: str = "mp4v", seed: int = 0) -> Path:
    """A video of ``n_frames`` 256 x 320 frames: four bright blobs that drift and grow on a dark background."""
    rng = np.random.default_rng(seed)
    blobs = [
        (int(rng.integers(40, 280)), int(rng.integers(40, 216)), int(rng.integers(7, 14))) for _ in range(4)
    ]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (320, 256))
    assert writer.isOpened(), f"this OpenCV cannot write {fourcc} to {path.suffix}"
    for i in range(n_frames):
        frame = np.full((256, 320, 3), 20, np.uint8)
        for x, y, r in blobs:
            cv2.circle(frame, (x + i // 30, y), int(r * (1 + i / 600)), (230, 230, 230), -1)
        writer.write(cv2.GaussianBlur(frame, (5, 5), 1.2))
    writer.release()
    return path


@pytest.mark.parametrize(("suffix", "fourcc"), [(".mp4", "mp4v"), (".avi", "MJPG"), (".mov", "mp4v")])
def test_opencv_writes_and_reads_back_the_test_codecs(tmp_path: Path, suffix: str, fourcc: str) -> None:
    path = write_video(tmp_path / f"v{suffix}", 12, fourcc=fourcc)
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened() and cap.get(cv2.CAP_PROP_FPS) == pytest.approx(10.0)
    shapes = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        shapes.append(image.shape)
    cap.release()
    assert shapes == [(256, 320, 3)] * 12


def test_sampling_conventions() -> None:
    assert sample_indices(300, 10.0, target_fps=2.0) == list(range(0, 300, 5))
    assert sample_indices(10, 10.0, every=3) == [0, 3, 6, 9]
    assert sample_indices(4, 10.0) == [0, 1, 2, 3]
    assert sample_indices(10, 10.0, target_fps=10.0) == list(range(10))
    # 30 fps sampled at 7 fps: the frame nearest to k/7 s, strictly increasing
    idx = sample_indices(60, 30.0, target_fps=7.0)
    assert (
        idx[:4] == [0, 4, 9, 13] and len(idx) == 14 and all(b > a for a, b in zip(idx, idx[1:], strict=False))
    )


def test_video_fps_2_kill_and_resume_is_exact(tmp_path: Path) -> None:
    """300 frames at 10 fps, --fps 2: 60 frames with their timestamps; SIGKILL half-way, --resume = a clean run."""
    video = write_video(tmp_path / "clip.mp4", 300)
    argv = ["--source", str(video), "--fps", "2", *FAST]
    reference = tmp_path / "reference"
    assert run_cli(_predict_main(), [*argv, "--out", str(reference)]) == 0

    times = [k * 0.5 for k in range(60)]
    images = json.loads((reference / "images.json").read_text())["images"]
    assert [im["time_s"] for im in images] == times
    assert [im["frame_index"] for im in images] == list(range(0, 300, 5))
    assert [im["id"] for im in images] == list(range(1, 61))
    assert images[3]["file_name"] == "clip_000015.jpg" and images[3]["video"] == "clip.mp4"
    assert {(im["height"], im["width"]) for im in images} == {(256, 320)}
    preds = json.loads((reference / "submission.json").read_text())
    assert {p["image_id"] for p in preds} == set(range(1, 61)), "every sampled frame has particles"
    table = pd.read_parquet(reference / "particles.parquet")
    per_image = table.groupby("image_id")[["frame_index", "time_s", "file_name"]].first()
    assert per_image["time_s"].tolist() == times
    assert per_image["frame_index"].tolist() == list(range(0, 300, 5))
    assert per_image["file_name"].iloc[1] == "clip_000005.jpg"
    manifest = json.loads((reference / "manifest.json").read_text())
    assert manifest["frames"] == {"total": 60, "ok": 60, "done_before_resume": 0}
    (described,) = manifest["inputs"]["videos"]
    assert described["fps"] == 10.0 and described["frames"] == 300 and len(described["sha256"]) == 64
    assert manifest["inputs"]["sampling"] == {"fps": 2.0, "frames": 60}
    assert manifest["settings"]["sampling"] == {"fps": 2.0}
    journal_lines = (reference / "journal.jsonl").read_text().splitlines()
    first = json.loads(journal_lines[0])
    assert (first["sha256"], first["frame_index"], first["time_s"]) == (described["sha256"], 0, 0.0)

    out = tmp_path / "interrupted"
    journal = out / "journal.jsonl"
    done_at_kill = kill_after_journal_lines(
        [sys.executable, str(PREDICT), *argv, "--out", str(out)], journal, 30
    )
    assert 30 <= done_at_kill < 60
    assert not (out / "submission.json").exists()

    assert run_cli(_predict_main(), [*argv, "--out", str(out), "--resume"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["frames"]["done_before_resume"] >= done_at_kill
    names = [json.loads(line)["file_name"] for line in journal.read_text().splitlines()]
    assert len(names) == len(set(names)) == 60
    assert json.loads((out / "submission.json").read_text()) == preds
    assert json.loads((out / "images.json").read_text())["images"] == images
    ours = pd.read_parquet(out / "particles.parquet").drop(columns=["source"])
    pd.testing.assert_frame_equal(ours, table.drop(columns=["source"]))


def test_resume_on_a_changed_video_predicts_it_again(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "videos").mkdir()
    video = write_video(tmp_path / "videos" / "clip.avi", 6, fourcc="MJPG", seed=1)
    argv = ["--source", str(tmp_path / "videos"), "--every", "2", *FAST, "--out", str(tmp_path / "run")]
    assert run_cli(_predict_main(), argv) == 0
    before = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert before["frames"]["total"] == 3 and before["inputs"]["sampling"] == {"every": 2, "frames": 3}
    assert run_cli(_predict_main(), [*argv, "--resume"]) == 0
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["frames"]["done_before_resume"] == 3
    write_video(video, 6, fourcc="MJPG", seed=2)  # the same name, other content
    capsys.readouterr()
    assert run_cli(_predict_main(), [*argv, "--resume"]) == 0
    assert "3 frame(s) changed since they were predicted" in capsys.readouterr().err
    after = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert after["frames"]["done_before_resume"] == 0
    assert after["inputs"]["videos"][0]["sha256"] != before["inputs"]["videos"][0]["sha256"]
    with pytest.raises(InputError, match="cannot resume with different settings: sampling"):
        _predict_main()([*argv[:3], "3", *argv[4:], "--resume"])


def test_a_frame_that_no_longer_decodes_is_a_failed_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A frame the probe could decode but the run cannot (the file changed in between): warning, exit 3."""
    from flocshape.infer import frames as frames_module

    write_video(tmp_path / "clip.mp4", 4)
    real = frames_module.read_video_frame
    monkeypatch.setattr(frames_module, "read_video_frame", lambda f: None if f.index == 2 else real(f))
    out = tmp_path / "run"
    assert run_cli(_predict_main(), ["--source", str(tmp_path / "clip.mp4"), *FAST, "--out", str(out)]) == 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["failed_frames"] == [
        {"file": f"{tmp_path / 'clip.mp4'}#2", "error": "cannot decode image"}
    ]
    assert manifest["frames"]["ok"] == 3
    assert 3 not in {p["image_id"] for p in json.loads((out / "submission.json").read_text())}
