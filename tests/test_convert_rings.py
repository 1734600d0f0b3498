"""Mask <-> single-ring outlines: exactness under pycocotools rasterisation, bridges, vertex budget, RLE crops."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pycocotools import mask as mask_utils

from flocshape.convert.rings import (
    crop_to_ring,
    mask_to_geometry,
    mask_to_yolo_ring,
    ring_to_mask,
    signed_area,
    trace_cycles,
)
from flocshape.masks import decode_rle_crop, mask_iou, rle_string_to_counts

masks = arrays(np.bool_, st.tuples(st.integers(1, 14), st.integers(1, 14)))


@settings(max_examples=150, deadline=None)
@given(masks)
def test_ring_rasterises_to_the_exact_mask(mask: np.ndarray) -> None:
    ring = mask_to_yolo_ring(mask, max_vertices=None)
    back = ring_to_mask(ring, *mask.shape) if len(ring) else np.zeros(mask.shape, bool)
    assert np.array_equal(back, mask)


@settings(max_examples=100, deadline=None)
@given(masks)
def test_traced_cycles_match_shapely_union_of_pixels(mask: np.ndarray) -> None:
    cycles = trace_cycles(mask)
    assert sum(signed_area(c) for c in cycles) == mask.sum()
    assert mask_to_geometry(mask).area == mask.sum()


@settings(max_examples=100, deadline=None)
@given(masks)
def test_rle_crop_equals_full_decode(mask: np.ndarray) -> None:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    crop, x0, y0, _, _ = decode_rle_crop(rle)
    full = np.zeros(mask.shape, bool)
    full[y0 : y0 + crop.shape[0], x0 : x0 + crop.shape[1]] = crop
    assert np.array_equal(full, mask)


def test_holes_parts_and_diagonal_touch_are_kept() -> None:
    mask = np.zeros((30, 30), bool)
    mask[2:20, 2:20] = True
    mask[6:10, 6:10] = False  # hole
    mask[12:15, 12:15] = False  # second hole
    mask[24:28, 24:28] = True  # separate part
    mask[20, 20] = True  # touches the square only at a corner
    ring = mask_to_yolo_ring(mask)
    assert mask_iou(ring_to_mask(ring, 30, 30), mask) == 1.0
    assert len(trace_cycles(mask)) == 5  # outer, 2 holes, part, diagonal pixel


def test_vertex_budget_simplifies_and_stays_close() -> None:
    yy, xx = np.mgrid[:400, :400]
    disc = (yy - 200) ** 2 + (xx - 200) ** 2 < 190**2
    exact, tol0 = crop_to_ring(disc, 0, 0, max_vertices=None)
    budget, tol = crop_to_ring(disc, 0, 0, max_vertices=100)
    assert tol0 == 0.0 and len(exact) > 100
    assert len(budget) <= 100 and tol > 0
    assert mask_iou(ring_to_mask(budget, 400, 400), disc) > 0.99


def test_crop_of_mask_equals_shapely_clip_of_outline() -> None:
    rng = np.random.default_rng(3)
    mask = rng.random((40, 40)) < 0.6
    clipped = shapely.clip_by_rect(mask_to_geometry(mask), 10, 5, 30, 25)
    assert clipped.area == mask[5:25, 10:30].sum()


def test_rle_string_decoder_matches_pycocotools() -> None:
    mask = np.zeros((50, 60), np.uint8)
    mask[10:40, 5:55] = 1
    mask[20:30, 20:30] = 0
    rle = mask_utils.encode(np.asfortranarray(mask))
    counts = rle_string_to_counts(rle["counts"])
    assert counts.sum() == 50 * 60
    assert counts[1::2].sum() == mask.sum()


def test_ultralytics_fill_of_pixel_edge_outlines_adds_a_row_and_a_column() -> None:
    """Characterises Ultralytics' training rasterisation (``polygon2mask``: ``cv2.fillPoly`` on int32-truncated
    coordinates) of our exact pixel-edge outlines: every mask pixel is kept and one extra column on the right and one
    extra row at the bottom are filled, so training targets are inflated (docs/predict.md, "Mask refinement")."""
    import cv2
    from ultralytics.data.utils import polygon2mask

    rng = np.random.default_rng(0)
    ratios = []
    for _ in range(50):
        m = np.zeros((120, 120), np.uint8)
        axes = (int(rng.integers(5, 40)), int(rng.integers(3, 20)))
        cv2.ellipse(m, (60, 60), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        ring = np.asarray(mask_to_geometry(m.astype(bool)).exterior.coords)[:-1]
        filled = polygon2mask((120, 120), [ring.reshape(-1)], color=1, downsample_ratio=1).astype(bool)
        exact = m.astype(bool)
        assert not (exact & ~filled).any()
        grown = (
            exact
            | np.roll(exact, 1, axis=1)
            | np.roll(exact, 1, axis=0)
            | np.roll(np.roll(exact, 1, 0), 1, 1)
        )
        assert not (filled & ~grown).any()
        ratios.append(filled.sum() / exact.sum())
    assert 1.05 < float(np.median(ratios)) < 1.15
