"""Shape descriptors: analytic truth, invariances, exact small cases, agreement with scikit-image."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils
from skimage.measure import perimeter_crofton, regionprops

from flocshape.masks import decode_rle_crop, encode_rle
from flocshape.shape import analytic
from flocshape.shape.hull import centre_hull, fill_centre_hull, pick_lattice_count
from flocshape.shape.measure import measure_crop, measure_instances, measure_labelmap
from flocshape.shape.perimeter import crofton_perimeter
from flocshape.shape.schema import COLUMN_NAMES, scaled_column_names


def blobs(seed: int, size: int = 64, n: int = 4) -> np.ndarray:
    """A random union of discs (may be non-convex, multi-part, with holes)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    mask = np.zeros((size, size), bool)
    for _ in range(n):
        cx, cy = rng.uniform(10, size - 10, 2)
        mask |= (xx - cx) ** 2 + (yy - cy) ** 2 < rng.uniform(3, 10) ** 2
    return mask


def measure(mask: np.ndarray) -> dict:
    return measure_crop(mask, 0, 0, mask.shape)


@pytest.mark.parametrize("seed", range(4))
def test_crofton_equals_skimage_perimeter_crofton(seed: int) -> None:
    mask = blobs(seed)
    assert crofton_perimeter(mask) == pytest.approx(perimeter_crofton(mask, 4), abs=1e-9)


@pytest.mark.parametrize("offset", [(0.0, 0.0), (0.31, -0.17), (-0.45, 0.42)])
def test_disc_matches_analytic_truth(offset: tuple[float, float]) -> None:
    r = 30.0
    row = measure(analytic.disc(r, *offset).mask)
    assert row["area_px"] == pytest.approx(math.pi * r * r, rel=0.01)
    assert row["perimeter_px"] == pytest.approx(2 * math.pi * r, rel=0.01)
    assert row["ecd_px"] == pytest.approx(2 * r, rel=0.005)
    assert row["form_factor"] == pytest.approx(1.0, abs=0.02)
    # Feret on the pixel-corner hull: between the true diameter and true diameter + sqrt(2)
    assert 2 * r <= row["feret_max_px"] <= 2 * r + math.sqrt(2)
    assert 2 * r - 1 <= row["feret_min_px"] <= 2 * r + math.sqrt(2)
    assert row["ellipse_major_px"] == pytest.approx(2 * r, rel=0.01)
    assert row["ellipse_minor_px"] == pytest.approx(2 * r, rel=0.01)
    assert row["solidity"] == 1.0 and row["convexity"] == 1.0
    assert (row["n_parts"], row["n_holes"]) == (1, 0)


@pytest.mark.parametrize("angle", [0.0, 20.0, 45.0, 70.0, 110.0, 160.0])
def test_rotated_ellipse_axes_and_angles(angle: float) -> None:
    shape = analytic.ellipse(40.0, 16.0, angle, 0.2, -0.3)
    row = measure(shape.mask)
    assert row["ellipse_major_px"] == pytest.approx(80.0, rel=0.01)
    assert row["ellipse_minor_px"] == pytest.approx(32.0, rel=0.02)
    diff = (row["ellipse_orientation_deg"] - angle + 90) % 180 - 90
    assert abs(diff) < 1.0
    feret_diff = (row["feret_angle_deg"] - angle + 90) % 180 - 90
    assert abs(feret_diff) < 5.0  # the digitised tip is flat over a few pixels
    assert row["perimeter_px"] == pytest.approx(shape.perimeter_px, rel=0.02)
    assert row["aspect_ratio_ellipse"] == pytest.approx(0.4, abs=0.01)


@pytest.mark.parametrize("angle", [0.0, 17.0, 30.0, 45.0, 80.0])
def test_rotated_rectangle_feret(angle: float) -> None:
    shape = analytic.rectangle(60.0, 20.0, angle, 0.13, 0.27)
    row = measure(shape.mask)
    assert shape.feret_max_px - 1 <= row["feret_max_px"] <= shape.feret_max_px + math.sqrt(2)
    assert 19.0 <= row["feret_min_px"] <= 20.0 + math.sqrt(2)
    assert row["area_px"] == pytest.approx(1200, rel=0.02)
    assert row["perimeter_px"] == pytest.approx(160.0, rel=0.06)  # 4-direction Crofton anisotropy
    assert row["solidity"] == 1.0


def test_rotation_invariance() -> None:
    rows = [measure(analytic.ellipse(35.0, 20.0, a, 0.1, 0.2).mask) for a in (0, 30, 60, 90, 135)]
    for key, rel in [
        ("area_px", 0.01),
        ("perimeter_px", 0.02),
        ("feret_max_px", 0.02),
        ("feret_min_px", 0.03),
        ("ellipse_major_px", 0.01),
        ("ellipse_minor_px", 0.01),
        ("form_factor", 0.04),
    ]:
        values = np.array([r[key] for r in rows])
        assert np.ptp(values) / values.mean() < rel, key


def test_single_pixel_exact_values() -> None:
    row = measure(np.ones((1, 1), bool))
    assert row["area_px"] == 1
    assert row["perimeter_px"] == pytest.approx(math.pi / 8 * (4 + 4 / math.sqrt(2)))
    assert row["feret_max_px"] == pytest.approx(math.sqrt(2))
    assert row["feret_min_px"] == pytest.approx(1.0)
    assert row["ellipse_major_px"] == pytest.approx(4 / math.sqrt(12))
    assert row["ellipse_minor_px"] == pytest.approx(4 / math.sqrt(12))
    assert row["too_small"] and row["touches_border"]
    assert all(
        math.isfinite(v)
        for k, v in row.items()
        if isinstance(v, float) and k not in ("mean_intensity", "contrast", "sharpness", "sharpness_norm")
    )


def test_line_is_finite_and_exact() -> None:
    mask = np.zeros((5, 14), bool)
    mask[2, 2:12] = True
    row = measure(mask)
    assert row["feret_max_px"] == pytest.approx(math.hypot(10, 1))
    assert row["feret_min_px"] == pytest.approx(1.0)
    # the two diagonals of the 10 x 1 corner rectangle tie: either direction is the max chord
    tilt = min(row["feret_angle_deg"], 180 - row["feret_angle_deg"])
    assert tilt == pytest.approx(math.degrees(math.atan2(1, 10)))
    assert row["solidity"] == 1.0 and row["convex_area_px"] == 10
    assert row["ellipse_minor_px"] == pytest.approx(4 / math.sqrt(12))
    assert math.isfinite(row["form_factor"]) and row["touches_border"] is False


def test_empty_mask_gives_nan_row() -> None:
    table = measure_instances([encode_rle(np.zeros((8, 9), bool))], None, 1, "x.jpg")
    row = table.iloc[0]
    assert row["area_px"] == 0 and row["n_parts"] == 0 and bool(row["too_small"])
    assert math.isnan(row["perimeter_px"]) and math.isnan(row["feret_max_px"])


def test_parts_and_holes() -> None:
    yy, xx = np.mgrid[0:40, 0:60]
    ring = ((xx - 20) ** 2 + (yy - 20) ** 2 < 15**2) & ((xx - 20) ** 2 + (yy - 20) ** 2 >= 6**2)
    two = ring | ((xx - 50) ** 2 + (yy - 20) ** 2 < 4**2)
    row = measure(two)
    assert (row["n_parts"], row["n_holes"]) == (2, 1)
    assert row["solidity"] < 0.8


@pytest.mark.parametrize("seed", range(6))
def test_agreement_with_skimage_regionprops(seed: int) -> None:
    """Same definitions: area, ellipse axes (skimage lacks the 1/12 pixel term). Close: Feret max, convex area."""
    mask = blobs(seed, n=2)
    (props,) = regionprops(mask.astype(np.uint8))
    row = measure(mask)
    assert row["area_px"] == props.area
    assert row["ellipse_major_px"] ** 2 - 4 / 3 == pytest.approx(props.axis_major_length**2, rel=1e-9)
    assert row["ellipse_minor_px"] ** 2 - 4 / 3 == pytest.approx(props.axis_minor_length**2, rel=1e-9)
    assert row["centroid_x_px"] == pytest.approx(props.centroid[1] + 0.5)
    # skimage: 0.5-level contour of its convex image (the pixel-centre hull plus a fringe of pixels);
    # ours: the pixel-corner hull, up to sqrt(2) px longer; the fringe can make skimage's up to 0.5 px longer
    assert -0.5 <= row["feret_max_px"] - props.feret_diameter_max <= math.sqrt(2) + 1e-9
    # skimage rasterises the pixel-corner hull (a fringe of extra pixels); ours the pixel-centre hull
    assert row["convex_area_px"] <= props.area_convex
    assert props.area_convex - row["convex_area_px"] <= 0.5 * row["convex_perimeter_px"]
    assert row["solidity"] >= props.solidity


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 25), st.integers(0, 25)), min_size=1, max_size=12))
def test_digital_hull_fill_matches_pick(points: list[tuple[int, int]]) -> None:
    hull = centre_hull(np.array(points))
    filled = fill_centre_hull(hull, 26, 26)
    assert int(filled.sum()) == pick_lattice_count(hull)
    assert filled[tuple(np.array(points)[:, ::-1].T)].all()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 30), st.integers(1, 30))
def test_rle_crop_decoder_matches_pycocotools(seed: int, h: int, w: int) -> None:
    mask = np.random.default_rng(seed).random((h, w)) < 0.3
    rle = encode_rle(mask)
    crop = decode_rle_crop(rle)
    full = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()}).astype(bool)
    rebuilt = np.zeros((h, w), bool)
    rebuilt[crop.y0 : crop.y0 + crop.crop.shape[0], crop.x0 : crop.x0 + crop.crop.shape[1]] = crop.crop
    assert np.array_equal(rebuilt, full)


def test_scale_columns() -> None:
    mask = analytic.disc(12.0).mask
    plain = measure_instances([encode_rle(mask)], None, 1, "a.jpg")
    scaled = measure_instances([encode_rle(mask)], None, 1, "a.jpg", um_per_px=2.5)
    assert list(plain.columns) == list(COLUMN_NAMES)
    assert list(scaled.columns) == list(COLUMN_NAMES) + list(scaled_column_names())
    assert scaled["area_um2"].iloc[0] == pytest.approx(plain["area_px"].iloc[0] * 6.25)
    for name in ("perimeter", "ecd", "feret_max", "feret_min", "ellipse_major", "convex_perimeter"):
        assert scaled[f"{name}_um"].iloc[0] == pytest.approx(plain[f"{name}_px"].iloc[0] * 2.5)


def test_intensity_contrast_and_sharpness() -> None:
    import cv2

    disc_mask = analytic.disc(15.0).mask
    image = np.where(disc_mask, 220, 20).astype(np.uint8)
    sharp = measure_instances([encode_rle(disc_mask)], image, 1, "a.jpg").iloc[0]
    assert sharp["mean_intensity"] == pytest.approx(220.0)
    assert sharp["contrast"] == pytest.approx(200.0)
    blurred = cv2.GaussianBlur(image, (0, 0), 3.0)
    soft = measure_instances([encode_rle(disc_mask)], blurred, 1, "a.jpg").iloc[0]
    assert soft["sharpness_norm"] < 0.6 * sharp["sharpness_norm"]


def test_ring_excludes_other_instances() -> None:
    a = np.zeros((40, 40), bool)
    a[10:20, 10:20] = True
    b = np.zeros((40, 40), bool)
    b[10:20, 21:31] = True  # 1 px gap to a
    image = np.full((40, 40), 10, np.uint8)
    image[a | b] = 200
    table = measure_instances([encode_rle(a), encode_rle(b)], image, 1, "a.jpg")
    assert table["contrast"].tolist() == pytest.approx([190.0, 190.0])


def test_labelmap_and_rle_give_the_same_rows() -> None:
    labels = np.zeros((50, 60), np.uint16)
    labels[analytic.disc(8.0).mask.nonzero()] = 3
    labels[30:45, 5:20] = 7
    from_map = measure_labelmap(labels, image_id=4)
    masks = [encode_rle(labels == 3), encode_rle(labels == 7)]
    from_rle = measure_instances(masks, None, 4, "", instance_ids=[3, 7])
    cols = [c for c in COLUMN_NAMES if c not in ("source", "file_name")]
    assert from_map[cols].equals(from_rle[cols])
