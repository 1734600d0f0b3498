"""Straight-run share of outlines (flocshape.shape.straight)."""

from __future__ import annotations

import numpy as np
import pytest

from flocshape.masks import MaskCrop, decode_rle_crop, encode_rle
from flocshape.shape.straight import crop_straight_runs, straight_runs, total_straight_runs


def _brute_force(full: np.ndarray, min_run: int) -> tuple[int, int]:
    """Cracks walked one by one on the full frame (frame border left out)."""
    h, w = full.shape
    straight = total = 0
    for axis_mask in (full, full.T):
        rows, cols = axis_mask.shape
        for i in range(rows - 1):
            for side in (True, False):
                run = 0
                for j in range(cols + 1):
                    crack = (
                        j < cols and axis_mask[i, j] != axis_mask[i + 1, j] and axis_mask[i + 1, j] == side
                    )
                    if crack:
                        run += 1
                        total += 1
                    else:
                        straight += run if run >= min_run else 0
                        run = 0
    return straight, total


def _crop(full: np.ndarray) -> MaskCrop:
    return decode_rle_crop(encode_rle(full))


def test_square_is_all_straight_and_disc_is_not() -> None:
    frame = np.zeros((100, 120), bool)
    frame[30:50, 40:60] = True
    runs = crop_straight_runs(_crop(frame))
    assert (runs.straight_px, runs.outline_px) == (80, 80)
    assert runs.share == 1.0
    yy, xx = np.mgrid[:100, :120]
    disc = (yy - 50) ** 2 + (xx - 60) ** 2 <= 30**2
    disc_runs = crop_straight_runs(_crop(disc))
    assert disc_runs.outline_px > 200
    assert disc_runs.straight_px == 0  # a digital disc of radius 30 has no flat run of 12 px


def test_frame_border_is_not_outline() -> None:
    frame = np.zeros((60, 80), bool)
    frame[0:20, 0:30] = True  # touches the top and left frame edges
    runs = crop_straight_runs(_crop(frame))
    assert runs.outline_px == 20 + 30  # only the right and bottom sides
    assert runs.straight_px == 50


def test_short_runs_do_not_count() -> None:
    frame = np.zeros((50, 50), bool)
    frame[10:21, 10:21] = True  # 11 px sides: under the 12-px default
    assert crop_straight_runs(_crop(frame)).straight_px == 0
    assert crop_straight_runs(_crop(frame), min_run_px=11).straight_px == 44


@pytest.mark.parametrize("seed", range(6))
def test_matches_brute_force_on_random_blobs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    full = np.zeros((40, 48), bool)
    for _ in range(5):
        y, x = rng.integers(0, 40), rng.integers(0, 48)
        full[
            max(y - rng.integers(2, 14), 0) : y + rng.integers(2, 14), max(x - 9, 0) : x + rng.integers(2, 16)
        ] = True
    full &= rng.random(full.shape) > 0.05
    for min_run in (3, 6, 12):
        expected = _brute_force(full, min_run)
        got = straight_runs(full, (True, True, True, True), min_run_px=min_run)
        assert (got.straight_px, got.outline_px) == expected
        crop = crop_straight_runs(_crop(full), min_run_px=min_run)
        assert (crop.straight_px, crop.outline_px) == expected


def test_total_is_length_weighted() -> None:
    frame = np.zeros((200, 200), bool)
    square = frame.copy()
    square[10:40, 10:40] = True
    yy, xx = np.mgrid[:200, :200]
    disc = (yy - 120) ** 2 + (xx - 120) ** 2 <= 40**2
    a, b = crop_straight_runs(_crop(square)), crop_straight_runs(_crop(disc))
    total = total_straight_runs([_crop(square), _crop(disc), _crop(frame)])
    assert total.straight_px == a.straight_px + b.straight_px
    assert total.outline_px == a.outline_px + b.outline_px
    assert np.isnan(straight_runs(np.zeros((3, 3), bool)).share)
