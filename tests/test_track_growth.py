"""Tracking and trends on a hand-made sequence of growing, drifting ellipses with a known growth rate.

Rate definition (same as the generator, flocshape.synth.motion): area follows A_t = A_0 (1 + g)^t per
frame; the tracker reports rate_per_frame = exp(mean track slope of ln area) - 1.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from flocshape.errors import run_cli
from flocshape.masks import encode_rle
from flocshape.track.associate import LinkParams, build_tracks
from flocshape.track.cli import main
from flocshape.track.instances import block_of, frame_number, load_instances

HEIGHT, WIDTH = 160, 200


def _ellipse_mask(cx: float, cy: float, a: float, b: float, angle: float) -> np.ndarray:
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH] + 0.5
    c, s = np.cos(angle), np.sin(angle)
    u = (xx - cx) * c + (yy - cy) * s
    v = -(xx - cx) * s + (yy - cy) * c
    return (u / a) ** 2 + (v / b) ** 2 <= 1.0


def make_sequence(tmp_path, growth: float, n_blocks: int = 2, seed: int = 0):
    """Results list + images json for ``n_blocks`` blocks of 10 frames; returns (pred, images, truth)."""
    rng = np.random.default_rng(seed)
    frames = np.arange(1, 10 * n_blocks + 1)
    ids = rng.permutation(len(frames)) + 100  # COCO ids are not the frame numbers
    images, preds, truth = [], [], []
    for block in range(n_blocks):
        centres = np.stack([np.linspace(35, 165, 4).repeat(2), np.tile([50.0, 110.0], 4)], axis=1)
        centres += rng.uniform(-4, 4, centres.shape)
        area0 = rng.uniform(150, 500, len(centres))
        aspect = rng.uniform(0.5, 1.0, len(centres))
        angle = rng.uniform(0, np.pi, len(centres))
        velocity = rng.uniform(-1.0, 1.0, centres.shape)
        for t in range(10):
            frame = block * 10 + t + 1
            image_id = int(ids[frame - 1])
            images.append({"id": image_id, "file_name": f"{frame:04d}.jpg", "height": HEIGHT, "width": WIDTH})
            for k in rng.permutation(len(centres)):  # detection order is arbitrary
                area = area0[k] * (1 + growth) ** t
                a = np.sqrt(area / (np.pi * aspect[k]))
                cx, cy = centres[k] + velocity[k] * t
                mask = _ellipse_mask(cx, cy, a, a * aspect[k], angle[k] + 0.02 * t)
                preds.append({"image_id": image_id, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.9,
                              "segmentation": encode_rle(mask)})  # fmt: skip
                truth.append({"frame": frame, "particle": block * 100 + k, "area": area})
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(preds))
    images_json = tmp_path / "images.json"
    images_json.write_text(json.dumps({"images": images, "categories": [{"id": 1, "name": "Normal"}]}))
    return pred, images_json, pd.DataFrame(truth)


def test_frame_and_block_conventions() -> None:
    assert frame_number("0012.jpg") == 12
    assert frame_number("cam1/frame_0003.png") == 3
    assert [block_of(f) for f in (1, 10, 11, 20, 21)] == [0, 0, 1, 1, 2]
    with pytest.raises(ValueError, match="no digits"):
        frame_number("image.jpg")


def test_every_particle_becomes_one_full_track(tmp_path) -> None:
    pred, images_json, _ = make_sequence(tmp_path, growth=0.04)
    instances = load_instances(pred, images_json)
    tracked = build_tracks(instances)
    assert len(tracked) == 2 * 10 * 8
    lengths = tracked.groupby("track_id").size()
    assert len(lengths) == 16 and (lengths == 10).all()
    assert (tracked.groupby("track_id")["block"].nunique() == 1).all()
    # a track follows one particle: its area grows monotonically
    assert (
        tracked.sort_values("frame").groupby("track_id")["area_px"].apply(lambda s: s.is_monotonic_increasing)
    ).all()


def test_centroid_fallback_links_small_fast_particles(tmp_path) -> None:
    pred, images_json, _ = make_sequence(tmp_path, growth=0.0)
    instances = load_instances(pred, images_json)
    strict = build_tracks(instances, LinkParams(iou_gate=0.999, small_area_px=1e9, max_centroid_px=4.0))
    assert (strict.groupby("track_id").size() == 10).all()
    assert set(strict["link"]) == {"start", "centroid"}
    none = build_tracks(instances, LinkParams(iou_gate=0.999, small_area_px=0.0))
    assert none["track_id"].nunique() == len(none)  # no IoU link, no fallback: every instance alone


def test_a_missed_detection_does_not_cut_the_track(tmp_path) -> None:
    pred, images_json, _ = make_sequence(tmp_path, growth=0.03)
    instances = load_instances(pred, images_json)
    # the detector misses one particle in frame 5 and another in frames 3 and 4 (block 0)
    first = instances[instances["frame"] == 1].sort_values("centroid_x_px")
    targets = first.iloc[[0, 5]][["centroid_x_px", "centroid_y_px"]].to_numpy()

    def nearest(frame: int, xy: np.ndarray) -> int:
        rows = instances[instances["frame"] == frame]
        d = np.hypot(rows["centroid_x_px"] - xy[0], rows["centroid_y_px"] - xy[1])
        return int(d.idxmin())

    dropped = [nearest(5, targets[0]), nearest(3, targets[1]), nearest(4, targets[1])]
    missing = instances.drop(index=dropped)
    bridged = build_tracks(missing)  # default: one missed frame is bridged
    block0 = bridged[bridged["block"] == 0].groupby("track_id").size().sort_values()
    # the 2-frame miss splits its track (frames 1-2 and 5-10), the 1-frame miss does not
    assert sorted(block0.tolist()) == [2, 6, 9] + [10] * 6
    assert (bridged["link"] == "iou_gap").sum() == 1
    two = build_tracks(missing, LinkParams(max_missed=2))
    assert sorted(two[two["block"] == 0].groupby("track_id").size().tolist()) == [8, 9] + [10] * 6
    strict = build_tracks(missing, LinkParams(max_missed=0))
    assert strict[strict["block"] == 0]["track_id"].nunique() == 8 + 2  # each miss starts a new track
    # no instance is linked twice and tracks stay in one block
    for tracked in (bridged, two, strict):
        assert not tracked.duplicated(["track_id", "frame"]).any()
        assert (tracked.groupby("track_id")["block"].nunique() == 1).all()


@pytest.mark.parametrize("growth", [0.05, -0.03])
def test_recovered_area_rate_within_10_percent(tmp_path, growth: float) -> None:
    pred, images_json, _ = make_sequence(tmp_path, growth=growth)
    out = tmp_path / "track"
    rc = run_cli(main, ["--pred", str(pred), "--images-json", str(images_json), "--out", str(out),
                        "--bootstrap", "300"])  # fmt: skip
    assert rc == 0
    trends = pd.read_csv(out / "trends.csv")
    log_area = trends[(trends.descriptor == "area_px") & (trends["value_scale"] == "log")]
    overall = log_area[log_area.scope == "all"].set_index("method")
    assert set(overall.index) == {"track_median", "track_mean"}
    for method in ("track_median", "track_mean"):
        assert overall.loc[method, "rate_per_frame"] == pytest.approx(growth, rel=0.10)
        assert overall.loc[method, "n_tracks"] == 16
        assert overall.loc[method, "rate_ci_low"] < overall.loc[method, "rate_ci_high"]
    per_block = trends[
        (trends.scope == "block") & (trends.descriptor == "area_px") & (trends["value_scale"] == "log")
    ]
    assert set(per_block.method) == {"track_median", "track_mean", "median_ols"}
    for _, row in per_block.iterrows():
        assert row.rate_per_frame == pytest.approx(growth, rel=0.10)
    tracks = pd.read_parquet(out / "tracks.parquet")
    assert list(tracks.columns[:5]) == ["image_id", "instance_id", "track_id", "frame", "block"]
    series = pd.read_parquet(out / "track_series.parquet")
    assert {"track_id", "frame", "area_px", "ecd_px"} <= set(series.columns)
    assert json.loads((out / "manifest.json").read_text())["tool"] == "infer/track.py"
    assert json.loads((out / "summary.json").read_text())["n_tracks"] == 16


def test_particle_table_descriptors_are_joined(tmp_path) -> None:
    pred, images_json, _ = make_sequence(tmp_path, growth=0.05, n_blocks=1)
    instances = load_instances(pred, images_json)
    # a stand-in particle table keyed like flocshape.shape's: (image_id, running instance index)
    particles = instances[["image_id", "instance_id", "area_px"]].assign(
        form_factor=lambda t: 1.0 + 0.0 * t.area_px, touches_border=False
    )
    particles.to_parquet(tmp_path / "particles.parquet")
    out = tmp_path / "track"
    rc = run_cli(main, ["--pred", str(pred), "--images-json", str(images_json), "--particles",
                        str(tmp_path / "particles.parquet"), "--out", str(out), "--bootstrap", "100"])  # fmt: skip
    assert rc == 0
    trends = pd.read_csv(out / "trends.csv")
    ff = trends[
        (trends.descriptor == "form_factor") & (trends.scope == "all") & (trends["value_scale"] == "linear")
    ]
    assert ff.slope_per_frame.iloc[0] == pytest.approx(0.0, abs=1e-12)


def test_low_score_detections_flagged_in_the_particle_table_are_not_linked(tmp_path, capsys) -> None:
    pred, images_json, _ = make_sequence(tmp_path, growth=0.05, n_blocks=1)
    preds = json.loads(pred.read_text())
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    for image in json.loads(images_json.read_text())["images"]:  # weak, constant-size blobs in every frame
        for cx in np.arange(10.0, 200.0, 20.0):
            disc = ((xx + 0.5 - cx) ** 2 + (yy + 0.5 - 10.0) ** 2 <= 16).astype(np.uint8)
            preds.append({"image_id": image["id"], "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.1,
                          "segmentation": encode_rle(disc)})  # fmt: skip
    pred.write_text(json.dumps(preds))
    instances = load_instances(pred, images_json)
    particles = instances[["image_id", "instance_id", "area_px", "touches_border"]].assign(
        low_score=instances["score"] < 0.3
    )
    particles.to_parquet(tmp_path / "particles.parquet")
    capsys.readouterr()
    assert run_cli(main, ["--pred", str(pred), "--images-json", str(images_json), "--out", str(tmp_path / "none"),
                          "--bootstrap", "20"]) == 0  # fmt: skip
    beside = tmp_path / "particles.parquet"  # the table next to --pred is named, not used silently
    assert f"pass --particles {beside}" in capsys.readouterr().out
    rates = {}
    for name, extra in (("flagged", []), ("kept", ["--keep-low-score"])):
        args = ["--pred", str(pred), "--images-json", str(images_json), "--particles",
                str(tmp_path / "particles.parquet"), "--out", str(tmp_path / name), "--bootstrap", "50", *extra]  # fmt: skip
        assert run_cli(main, args) == 0
        summary = json.loads((tmp_path / name / "summary.json").read_text())
        rates[name] = summary["area_growth_all_blocks"]["rate_per_frame"]
        tracked = pd.read_parquet(tmp_path / name / "tracks.parquet")
        assert len(tracked) == (80 if name == "flagged" else 180)
    assert rates["flagged"] == pytest.approx(0.05, rel=0.1)
    assert (
        rates["kept"] < 0.02
    )  # ten still blobs against eight growing particles: the median track does not grow


def test_bad_inputs_give_one_line_errors(tmp_path, capsys) -> None:
    pred, images_json, _ = make_sequence(tmp_path, growth=0.0, n_blocks=1)
    out = tmp_path / "track"
    broken = tmp_path / "broken.json"
    broken.write_text(
        json.dumps(
            [{"image_id": 999, "score": 0.9, "segmentation": {"size": [HEIGHT, WIDTH], "counts": "x"}}]
        )
    )
    cases = [
        (["--pred", str(pred)], "needs --images-json"),
        (["--pred", str(broken), "--images-json", str(images_json)], "image_id 999 is not in"),
        (["--pred", str(tmp_path / "nope.json"), "--images-json", str(images_json)], "file not found"),
        (
            ["--pred", str(pred), "--images-json", str(images_json), "--descriptors", "solidity"],
            "not available",
        ),
    ]
    for args, what in cases:
        capsys.readouterr()
        assert run_cli(main, [*args, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and what in err[0], err
    assert not out.exists()


def test_generator_growth_rate_is_recovered(tmp_path) -> None:
    """Generator sequence (flocshape.synth, small preset): card growth_rate vs tracked ground-truth masks.

    Occlusion changes the *visible* area of some tracks; the median of track slopes is robust to that.
    """
    from flocshape.synth.cli import main as synth_main

    syn = tmp_path / "syn"
    growth = 0.05
    args = [
        "--out",
        str(syn),
        "--preset",
        "small",
        "--seed",
        "3",
        "--growth-rate",
        str(growth),
        "--workers",
        "1",
    ]
    assert run_cli(synth_main, args) == 0
    card = json.loads((syn / "card.json").read_text())
    assert card["knobs"]["growth_rate"] == growth
    out = tmp_path / "track"
    assert (
        run_cli(main, ["--pred", str(syn / "label_train.json"), "--out", str(out), "--bootstrap", "300"]) == 0
    )
    trends = pd.read_csv(out / "trends.csv")
    row = trends[(trends.scope == "all") & (trends.descriptor == "area_px") & (trends["value_scale"] == "log")
                 & (trends.method == "track_median")].iloc[0]  # fmt: skip
    assert row.rate_per_frame == pytest.approx(growth, rel=0.10)
    assert row.rate_ci_low <= growth <= row.rate_ci_high
    # every link joins instances of one true track (truth table: ann_id -> track_id)
    truth = pd.read_parquet(syn / "truth" / "particles.parquet")
    truth = truth[(truth.split == "train") & truth.labelled][["image_id", "ann_id", "track_id"]]
    tracks = (
        pd.read_parquet(out / "tracks.parquet")
        .merge(
            truth.rename(columns={"ann_id": "instance_id", "track_id": "true_track"}),
            on=["image_id", "instance_id"],
        )
        .sort_values(["track_id", "frame"])
    )
    previous = tracks.groupby("track_id")["true_track"].shift(1)
    linked = previous.notna()
    assert linked.sum() > 100
    assert (previous[linked] == tracks.true_track[linked]).mean() > 0.98
