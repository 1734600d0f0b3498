"""Box-local masks from prototypes: alignment with the frame grid, agreement with Ultralytics, RLE encoding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from flocshape.infer.protomask import CropMask, LetterboxGeometry, instance_crop_mask, rle_from_crop
from flocshape.infer.tiling import merge_tile_instances, tile_starts


@given(
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    data=st.data(),
)
@settings(max_examples=60, deadline=None)
def test_rle_from_crop_matches_full_frame_encoding(height: int, width: int, data: st.DataObject) -> None:
    y0 = data.draw(st.integers(0, height - 1))
    x0 = data.draw(st.integers(0, width - 1))
    h = data.draw(st.integers(1, height - y0))
    w = data.draw(st.integers(1, width - x0))
    bits = data.draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w))
    crop = CropMask(np.array(bits, bool).reshape(h, w), x0, y0, (height, width))
    rle = rle_from_crop(crop)
    assert isinstance(rle["counts"], str)
    assert rle["size"] == [height, width]
    decoded = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()}).astype(bool)
    np.testing.assert_array_equal(decoded, crop.full())


def test_letterbox_geometry_matches_ultralytics_letterbox() -> None:
    from flocshape import offline

    offline.setup()
    from ultralytics.data.augment import LetterBox

    frame = np.zeros((600, 500, 3), np.uint8)
    for imgsz, auto in ((320, True), (320, False), (1280, True)):
        letterboxed = LetterBox(imgsz, auto=auto, stride=32)(image=frame)
        geom = LetterboxGeometry.from_shapes(letterboxed.shape[:2], (600, 500))
        # the content occupies [left, left + unpad_w) columns: the padding value is 114 outside it
        cols = np.flatnonzero(letterboxed[letterboxed.shape[0] // 2, :, 0] != 114)
        rows = np.flatnonzero(letterboxed[:, letterboxed.shape[1] // 2, 0] != 114)
        assert cols[0] == geom.left_px and cols[-1] + 1 == geom.left_px + round(500 * geom.scale_x)
        assert rows[0] == geom.top_px and rows[-1] + 1 == geom.top_px + round(600 * geom.scale_y)


def _ramp_proto(proto_h: int, proto_w: int) -> np.ndarray:
    """Channel 0: 1, channel 1: proto column index u, channel 2: proto row index v."""
    v, u = np.mgrid[0:proto_h, 0:proto_w].astype(np.float32)
    return np.stack([np.ones_like(u), u, v])


def test_mask_edge_lands_on_the_exact_frame_pixel() -> None:
    # frame 100 x 200 letterboxed into 128 x 256 input (scale 1.28, pad 0 top/left? compute), proto stride 4
    geom = LetterboxGeometry.from_shapes((128, 256), (100, 200))
    proto = _ramp_proto(32, 64)
    # logit = u - u_edge: positive right of the proto coordinate u_edge
    x_edge_px = 73.0  # frame x (continuous) where we want the mask to start
    u_edge = (geom.left_px + x_edge_px * geom.scale_x) / 4 - 0.5
    coeff = np.array([-u_edge, 1.0, 0.0], np.float32)
    crop = instance_crop_mask(proto, coeff, np.array([0, 0, 200, 100.0]), geom)
    full = crop.full()
    # pixel centres x + 0.5 > 73 -> columns 73.. are inside
    assert not full[:, :73].any()
    assert full[:, 73:].all()


def test_crop_masks_agree_with_ultralytics_retina_masks() -> None:
    import torch

    from flocshape import offline

    offline.setup()
    from ultralytics.utils import ops

    rng = np.random.default_rng(0)
    proto = rng.normal(0, 1, (32, 40, 48)).astype(np.float32)
    proto = np.asarray(
        torch.nn.functional.avg_pool2d(torch.from_numpy(proto)[None], 5, 1, 2, count_include_pad=False)[0]
    )
    input_hw, orig_hw = (160, 192), (300, 360)
    geom = LetterboxGeometry.from_shapes(input_hw, orig_hw)
    coeffs = rng.normal(0, 1, (12, 32)).astype(np.float32)
    boxes = np.array([[rng.uniform(0, 250), rng.uniform(0, 200), 0, 0] for _ in range(12)])
    boxes[:, 2] = boxes[:, 0] + rng.uniform(20, 110, 12)
    boxes[:, 3] = boxes[:, 1] + rng.uniform(20, 100, 12)
    boxes[:, 2] = np.minimum(boxes[:, 2], 360)
    boxes[:, 3] = np.minimum(boxes[:, 3], 300)
    reference = (
        ops.process_mask_native(
            torch.from_numpy(proto), torch.from_numpy(coeffs), torch.from_numpy(boxes).float(), orig_hw
        )
        .numpy()
        .astype(bool)
    )
    ious = []
    for k in range(len(coeffs)):
        ours = instance_crop_mask(proto, coeffs[k], boxes[k], geom).full()
        union = np.count_nonzero(ours | reference[k])
        if union:
            ious.append(np.count_nonzero(ours & reference[k]) / union)
    assert len(ious) >= 6
    assert min(ious) > 0.9
    assert np.mean(ious) > 0.97


def test_mask_is_cut_to_its_box_like_ultralytics() -> None:
    geom = LetterboxGeometry.from_shapes((64, 64), (64, 64))
    proto = np.ones((1, 16, 16), np.float32)
    crop = instance_crop_mask(proto, np.array([1.0], np.float32), np.array([10.2, 5.0, 20.0, 9.5]), geom)
    full = crop.full()
    cols = np.flatnonzero(full.any(axis=0))
    rows = np.flatnonzero(full.any(axis=1))
    assert (cols[0], cols[-1]) == (11, 19)  # 10.2 <= j < 20
    assert (rows[0], rows[-1]) == (5, 9)  # 5 <= i < 9.5
    padded = instance_crop_mask(proto, np.array([1.0], np.float32), np.array([10.2, 5.0, 20.0, 9.5]), geom, 2)
    assert padded.area_px == (9 + 4) * (5 + 4)


@pytest.mark.parametrize(("length", "tile", "overlap"), [(100, 100, 0.2), (1280, 512, 0.2), (1000, 256, 0.5)])
def test_tiles_cover_the_frame_with_the_requested_overlap(length: int, tile: int, overlap: float) -> None:
    starts = tile_starts(length, tile, overlap)
    assert starts[0] == 0 and starts[-1] + tile >= length
    covered = np.zeros(length, bool)
    for s in starts:
        covered[s : s + tile] = True
    assert covered.all()
    for a, b in zip(starts, starts[1:], strict=False):
        assert a + tile - b >= int(tile * overlap) - 1


def test_tile_merge_unites_cut_pieces_and_drops_duplicates() -> None:
    from flocshape.infer.engine import Instance

    frame = (50, 100)
    whole = np.zeros((10, 30), bool)
    whole[2:8, 3:27] = True
    left_piece = CropMask(whole[:, :20], 30, 10, frame)  # seen by the left tile, cut at its right edge
    right_piece = CropMask(whole[:, 8:], 38, 10, frame)  # seen by the right tile, cut at its left edge
    other = np.ones((5, 5), bool)
    dup_a = CropMask(other, 70, 30, frame)
    dup_b = CropMask(other, 70, 30, frame)
    merged = merge_tile_instances(
        [
            Instance(left_piece, 0.9, 0, (30, 10, 50, 20), True),
            Instance(right_piece, 0.8, 0, (38, 10, 60, 20), True),
            Instance(dup_a, 0.7, 0, (70, 30, 75, 35), False),
            Instance(dup_b, 0.6, 0, (70, 30, 75, 35), False),
        ]
    )
    assert len(merged) == 2
    big = max(merged, key=lambda m: m.crop.area_px)
    expected = np.zeros(frame, bool)
    expected[12:18, 33:57] = True
    np.testing.assert_array_equal(big.crop.full(), expected)
    assert big.score == pytest.approx(0.9)


def test_tile_merge_unites_a_particle_longer_than_the_overlap_band() -> None:
    """Two tiles share 20 columns; a 90-px particle leaves a 55-px piece in each (whole-mask IoS 20/55 < 0.5).

    Inside the band both tiles saw, the pieces agree, so they are one particle; a second, different particle cut
    by the same seam (its own rows, no shared pixels) stays separate.
    """
    from flocshape.infer.engine import Instance

    frame = (40, 100)
    left_tile, right_tile = (0, 0, 60, 40), (40, 0, 100, 40)
    truth = np.zeros(frame, bool)
    truth[5:15, 5:95] = True
    other = np.zeros(frame, bool)
    other[25:35, 30:70] = True

    def piece(mask: np.ndarray, tile: tuple[int, int, int, int], score: float) -> Instance:
        x0, y0, x1, y1 = tile
        sub = np.zeros(frame, bool)
        sub[y0:y1, x0:x1] = mask[y0:y1, x0:x1]
        crop = CropMask(sub, 0, 0, frame).tight()
        box = (crop.x0, crop.y0, crop.x0 + crop.mask.shape[1], crop.y0 + crop.mask.shape[0])
        return Instance(crop, score, 0, box, True, tile)

    pieces = [
        piece(truth, left_tile, 0.9),
        piece(truth, right_tile, 0.8),
        piece(other, left_tile, 0.7),
        piece(other, right_tile, 0.6),
    ]
    merged = merge_tile_instances(pieces)
    assert len(merged) == 2
    np.testing.assert_array_equal(merged[0].crop.full(), truth)
    np.testing.assert_array_equal(merged[1].crop.full(), other)
    assert merged[0].tile_xyxy == (0, 0, 100, 40)

    # the whole-mask rule alone (no tile windows known) leaves the long particle in two pieces
    untiled = [Instance(p.crop, p.score, 0, p.box_xyxy, True) for p in pieces[:2]]
    assert len(merge_tile_instances(untiled)) == 2


def test_conversion_and_prediction_share_one_tile_grid() -> None:
    from flocshape.convert import to_yolo
    from flocshape.infer import tiling
    from flocshape.tiles import tile_starts as grid

    assert to_yolo.tile_starts is grid and tiling.tile_starts is grid
    assert grid(1280, 640, 0.2) == [0, 512, 640] and grid(1024, 640, 0.2) == [0, 384]
    # sizes where rounding and flooring the stride differ: floor keeps at least the requested overlap
    assert grid(1000, 300, 0.335) == [0, 199, 398, 597, 700]  # round() would step 200: 100 px < 100.5 overlap
    assert grid(50, 64, 0.2) == [0]
