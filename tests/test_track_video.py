"""infer/track.py on video frames: the time axis in seconds (``time_s`` of predict's ``images.json``).

The hand-made sequence of tests/test_track_growth.py (area A_t = A_0 (1 + g)^t per frame) is labelled as frames
0, 5, 10, ... of a 10 fps video, i.e. one predicted frame every 0.5 s: the relative growth per second must be
(1 + g)^2 - 1, and every per-frame output must equal that of the same frames without times.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_track_growth import make_sequence

from flocshape.errors import run_cli
from flocshape.track.cli import main
from flocshape.track.trends import PER_SECOND


def _as_video(images_json: Path, out: Path) -> Path:
    coco = json.loads(images_json.read_text())
    for im in coco["images"]:
        frame = int(Path(im["file_name"]).stem)  # 1..10
        im.update(video="clip.mp4", frame_index=5 * (frame - 1), time_s=0.5 * (frame - 1))
    out.write_text(json.dumps(coco))
    return out


@pytest.mark.parametrize("growth", [0.05, -0.03])
def test_growth_per_second_when_the_time_is_known(tmp_path: Path, growth: float) -> None:
    pred, images, _ = make_sequence(tmp_path, growth, n_blocks=1)
    video_images = _as_video(images, tmp_path / "video_images.json")
    common = ["--pred", str(pred), "--bootstrap", "200"]
    assert run_cli(main, [*common, "--images-json", str(images), "--out", str(tmp_path / "frames")]) == 0
    assert run_cli(main, [*common, "--images-json", str(video_images), "--out", str(tmp_path / "video")]) == 0

    plain = pd.read_csv(tmp_path / "frames" / "trends.csv")
    timed = pd.read_csv(tmp_path / "video" / "trends.csv")
    assert not set(PER_SECOND.values()) & set(plain.columns), "image folders: per-frame outputs only"
    pd.testing.assert_frame_equal(timed[list(plain.columns)], plain)
    head = timed[(timed.scope == "all") & (timed.descriptor == "area_px") & (timed.value_scale == "log")
                 & (timed.method == "track_median")].iloc[0]  # fmt: skip
    assert head["rate_per_frame"] == pytest.approx(growth, rel=0.1)
    assert head["rate_per_s"] == pytest.approx((1 + growth) ** 2 - 1, rel=0.1)
    assert np.log1p(head["rate_per_s"]) == pytest.approx(2 * np.log1p(head["rate_per_frame"]), rel=1e-9)
    assert head["ci_low_per_s"] <= head["slope_per_s"] <= head["ci_high_per_s"]

    tracks = pd.read_parquet(tmp_path / "video" / "tracks.parquet")
    assert sorted(tracks["time_s"].unique()) == [0.5 * k for k in range(10)]
    assert sorted(tracks["frame"].unique()) == list(range(1, 11)), "sampled frames are consecutive"
    assert set(tracks["block"]) == {0}
    frame_tracks = pd.read_parquet(tmp_path / "frames" / "tracks.parquet")
    assert "time_s" not in frame_tracks.columns
    assert tracks["track_id"].tolist() == frame_tracks["track_id"].tolist()
    summary = json.loads((tmp_path / "video" / "summary.json").read_text())
    assert summary["area_growth_all_blocks"]["rate_per_s"] == pytest.approx(head["rate_per_s"])
    assert summary["time_axis"].startswith("time_s")
    series = pd.read_parquet(tmp_path / "video" / "track_series.parquet")
    assert "time_s" in series.columns
