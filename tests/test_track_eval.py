"""benchmarks/track_eval.py: link precision / recall and fragments on a hand-made tracked table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scriptload import load_script

from flocshape.masks import encode_rle

REPO = Path(__file__).resolve().parents[1]


te = load_script("benchmarks/track_eval.py", "track_eval")


def test_link_scores_count_wrong_links_broken_tracks_and_missed_frame_bridges() -> None:
    # true particle 7 is found in frames 1, 2, 4 (missed in 3); true particle 8 in frames 1-3; one unpaired detection.
    # predicted tracks: 0 = 7@1, 7@2, 7@4 (bridges the miss); 1 = 8@1, 8@2; 2 = 8@3 (broken off); 3 = (none)@5, 7@6
    tracked = pd.DataFrame(
        {
            "track_id": [0, 0, 0, 1, 1, 2, 3, 3],
            "frame": [1, 2, 4, 1, 2, 3, 5, 6],
            "true_track": [7, 7, 7, 8, 8, 8, -1, 7],
        }
    )
    s = te.link_scores(tracked)
    # paired links: track 0: 7-7, 7-7; track 1: 8-8; track 3 has one paired row only -> 3 links, all correct
    assert s["links_paired"] == 3 and s["link_precision"] == 1.0
    # gap 1 pairs: 7@1-7@2 (same track), 8@1-8@2 (same), 8@2-8@3 (broken), 7@... frames 4 and 6 differ by 2
    assert s["pairs_gap1"] == 3 and s["link_recall_gap1"] == pytest.approx(2 / 3)
    # gap 2 pairs: 7@2-7@4 (bridged), 7@4-7@6 (not: track 3)
    assert s["pairs_gap2"] == 2 and s["link_recall_gap2"] == pytest.approx(0.5)
    # particle 7 spreads over tracks 0 and 3, particle 8 over 1 and 2
    assert s["fragments_per_true_particle"] == 2.0

    wrong = tracked.assign(true_track=[7, 8, 7, 8, 8, 8, -1, 7])
    assert te.link_scores(wrong)["link_precision"] == pytest.approx(1 / 3)


def test_predictions_take_the_track_of_the_label_they_overlap() -> None:
    h, w = 40, 60

    def rect(y0: int, x0: int, hh: int, ww: int) -> dict:
        m = np.zeros((h, w), dtype=bool)
        m[y0 : y0 + hh, x0 : x0 + ww] = True
        return encode_rle(m)

    gt = pd.DataFrame(
        {
            "image_id": [1, 1],
            "ann_id": [11, 12],
            "area_px": [100, 200],
            "rle": [rect(0, 0, 10, 10), rect(20, 30, 10, 20)],
        }
    )
    pred = pd.DataFrame(
        {"image_id": [1, 1, 1], "rle": [rect(21, 31, 10, 20), rect(0, 0, 10, 4), rect(0, 1, 10, 10)]}
    )
    truth = pd.DataFrame({"image_id": [1, 1, 1], "ann_id": [11, 12, -1], "track_id": [5, 6, 9]})
    got = te.true_track_of_predictions(pred, gt, truth, min_iou=0.5)
    # the shifted copy of ann 12 pairs with it, the exact-ish copy of ann 11 wins over the thin sliver
    assert got["true_track"].tolist() == [6, -1, 5]
    assert got["label_area_px"].iloc[0] == 200 and np.isnan(got["label_area_px"].iloc[1])


def test_growth_on_true_tracks_compares_mask_and_label_rates() -> None:
    frames = np.arange(1, 6)
    paired = pd.DataFrame(
        {
            "true_track": np.repeat([3, 4, -1], 5),
            "frame": np.tile(frames, 3),
            "area_px": np.concatenate([100 * 1.02**frames, 50 * 1.02**frames, np.full(5, 10.0)]),
            "label_area_px": np.concatenate([110 * 1.03**frames, 60 * 1.03**frames, np.full(5, np.nan)]),
        }
    )
    got = te.growth_on_true_tracks(paired)
    assert got["true_particles"] == 2
    assert got["rate_pred_masks_on_true_tracks"] == pytest.approx(0.02)
    assert got["rate_label_masks_same_frames"] == pytest.approx(0.03)


def test_tracks_by_kind_separates_still_unpaired_tracks_from_growing_paired_ones() -> None:
    frames = np.arange(1, 6)
    tracked = pd.DataFrame(
        {
            "track_id": np.repeat([1, 2, 3, 4], 5),
            "frame": np.tile(frames, 4),
            "true_track": np.concatenate([np.full(5, 7), [7, 7, -1, 7, 7], np.full(5, -1), [8, 8, 9, 9, 9]]),
            "area_px": np.concatenate(
                [100 * 1.05**frames, 80 * 1.05**frames, np.full(5, 30.0), 60 * 1.05**frames]
            ),
            "score": np.repeat([0.9, 0.6, 0.1, 0.8], 5),
            "touches_border": False,
        }
    )
    kinds = {row["kind"]: row for row in te.tracks_by_kind(tracked)}
    assert {k: kinds[k]["tracks"] for k in ("pure", "partly", "unpaired", "mixed", "all")} == {
        "pure": 1, "partly": 1, "unpaired": 1, "mixed": 1, "all": 4}  # fmt: skip
    assert kinds["pure"]["growth_rate"] == pytest.approx(0.05)
    assert kinds["unpaired"]["growth_rate"] == pytest.approx(0.0, abs=1e-12)
    assert kinds["unpaired"]["median_score"] == pytest.approx(0.1)


def test_growth_by_blur_change_puts_blurring_particles_in_the_top_quartile() -> None:
    frames = np.arange(1, 6)
    rows, truth = [], []
    for track, blur_step in enumerate([-0.2, -0.1, 0.0, 0.0, 0.1, 0.1, 0.3, 0.4]):
        shrink = 1.0 - 0.02 * max(blur_step, 0.0)  # masks of blurring particles grow less
        for f in frames:
            rows.append({"image_id": f, "true_track": track, "frame": f, "area_px": 100 * (1.01 * shrink) ** f,
                         "label_area_px": 100 * 1.01**f})  # fmt: skip
            truth.append({"image_id": f, "track_id": track, "blur_sigma_px": 1.0 + blur_step * f})
    got = te.growth_by_blur_change(pd.DataFrame(rows), pd.DataFrame(truth))
    assert [g["true_particles"] for g in got] == [2, 2, 2, 2]
    assert all(g["rate_labels"] == pytest.approx(0.01) for g in got)
    assert got[0]["rate_pred_masks"] == pytest.approx(0.01) and got[-1]["rate_pred_masks"] < 0.01
