"""benchmarks/track_eval.py: link precision / recall and fragments on a hand-made tracked table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flocshape.masks import encode_rle

REPO = Path(__file__).resolve().parents[1]


def _load_module():
    spec = importlib.util.spec_from_file_location("track_eval", REPO / "benchmarks" / "track_eval.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


te = _load_module()


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
