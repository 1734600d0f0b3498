"""The vectorised per-frame measurement equals the previous per-instance implementation, bit for bit.

``reference_measure_crop`` is the per-instance code as it was before the speed-up (kept here, frozen,
built from the single-instance helpers that remain in the package); the product now measures a frame
at once (Pick counts, digital-hull perimeter from row spans, batched Feret, intensity atlas). Every
column must be identical, NaNs included, on a few hundred random instances: overlapping ellipses of a
label map, multi-part blobs with holes, instances cut by the frame edge, and overlapping RLE masks.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from flocshape.masks import decode_rle_crop, encode_rle
from flocshape.shape import schema
from flocshape.shape.ellipse import moment_ellipse
from flocshape.shape.feret import feret_diameters, feret_diameters_batch
from flocshape.shape.hull import (
    centre_hull,
    corner_hull,
    corner_hulls,
    digital_hull_transitions,
    fill_centre_hull,
    pick_lattice_count,
    pick_lattice_counts,
)
from flocshape.shape.intensity import NO_INTENSITY, gradient_magnitude, intensity_descriptors, to_grey
from flocshape.shape.measure import labelmap_crops, measure_crop, measure_instances, measure_labelmap
from flocshape.shape.perimeter import crofton_perimeter_padded, lattice_transitions, padded_transitions

_DESCRIPTORS = tuple(c for c in schema.COLUMN_NAMES if c not in schema.IDENTITY_COLUMNS)


def _pad1(mask: np.ndarray) -> np.ndarray:
    out = np.zeros((mask.shape[0] + 2, mask.shape[1] + 2), np.uint8)
    out[1:-1, 1:-1] = mask
    return out


def reference_measure_crop(
    crop: np.ndarray,
    x0: int,
    y0: int,
    frame_hw: tuple[int, int],
    grey: np.ndarray | None = None,
    occupied: np.ndarray | None = None,
    gradient: np.ndarray | None = None,
) -> dict[str, Any]:
    """The previous per-instance measure_crop (frozen reference)."""
    frame_h, frame_w = frame_hw
    mask = np.asarray(crop, dtype=bool)
    area = int(np.count_nonzero(mask))
    if area == 0:
        row: dict[str, Any] = dict.fromkeys(_DESCRIPTORS, math.nan)
        row.update(area_px=0, convex_area_px=0, n_parts=0, n_holes=0, touches_border=False, too_small=True)
        row.update(image_height=frame_h, image_width=frame_w)
        return row
    rows_any, cols_any = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    mask = mask[rows_any[0] : rows_any[-1] + 1, cols_any[0] : cols_any[-1] + 1]
    x0, y0 = x0 + int(cols_any[0]), y0 + int(rows_any[0])
    h, w = mask.shape
    padded = _pad1(mask)
    m = cv2.moments(padded, binaryImage=True)
    contours, hierarchy = cv2.findContours(padded, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    parents = hierarchy[0, :, 3]
    outer = [c for c, parent in zip(contours, parents, strict=True) if parent < 0]
    points = np.concatenate(outer).reshape(-1, 2)
    n_parts, n_holes = len(outer), int(np.count_nonzero(parents >= 0))
    hull_c = centre_hull(points) - 1
    feret = feret_diameters(corner_hull(hull_c))
    perimeter = crofton_perimeter_padded(padded)
    convex_area = pick_lattice_count(hull_c)
    if convex_area == area:
        convex_perimeter = perimeter
    else:
        convex_perimeter = crofton_perimeter_padded(_pad1(fill_centre_hull(hull_c, h, w)))
    ell = moment_ellipse(m["mu20"] / area, m["mu02"] / area, m["mu11"] / area)
    form_factor = 4.0 * math.pi * area / perimeter**2 if perimeter > 0 else math.nan
    inten = NO_INTENSITY if grey is None else intensity_descriptors(grey, mask, x0, y0, occupied, gradient)
    aspect_feret = feret.min_px / feret.max_px
    return {
        "area_px": area,
        "perimeter_px": perimeter,
        "ecd_px": math.sqrt(4.0 * area / math.pi),
        "form_factor": form_factor,
        "circularity": math.sqrt(form_factor),
        "convex_area_px": convex_area,
        "solidity": area / convex_area,
        "convex_perimeter_px": convex_perimeter,
        "convexity": convex_perimeter / perimeter if perimeter > 0 else math.nan,
        "feret_max_px": feret.max_px,
        "feret_min_px": feret.min_px,
        "feret_angle_deg": feret.max_angle_deg,
        "feret_min_angle_deg": feret.min_angle_deg,
        "aspect_ratio_feret": aspect_feret,
        "aspect_ratio_ellipse": ell.minor_px / ell.major_px,
        "elongation": 1.0 - aspect_feret,
        "roundness": 4.0 * area / (math.pi * feret.max_px**2),
        "ellipse_major_px": ell.major_px,
        "ellipse_minor_px": ell.minor_px,
        "ellipse_orientation_deg": ell.orientation_deg,
        "centroid_x_px": x0 + m["m10"] / area - 0.5,
        "centroid_y_px": y0 + m["m01"] / area - 0.5,
        "bbox_x_px": float(x0),
        "bbox_y_px": float(y0),
        "bbox_w_px": float(w),
        "bbox_h_px": float(h),
        "n_parts": n_parts,
        "n_holes": n_holes,
        "touches_border": bool(x0 == 0 or y0 == 0 or x0 + w == frame_w or y0 + h == frame_h),
        "mean_intensity": inten.mean_intensity,
        "contrast": inten.contrast,
        "sharpness": inten.sharpness,
        "sharpness_norm": inten.sharpness_norm,
        "too_small": area < schema.MIN_AREA_PX_FOR_SHAPE,
        "image_height": frame_h,
        "image_width": frame_w,
    }


def reference_table(crops: list, image: np.ndarray | None, ids: list[int]) -> pd.DataFrame:
    """The previous measure_crops + rows_to_table (labels/scores/categories as measure_labelmap)."""
    frame_hw = (crops[0].height, crops[0].width)
    grey = occupied = gradient = None
    if image is not None:
        grey = to_grey(image)
        occupied = np.zeros(frame_hw, dtype=bool)
        for c in crops:
            occupied[c.y0 : c.y0 + c.crop.shape[0], c.x0 : c.x0 + c.crop.shape[1]] |= c.crop
        gradient = gradient_magnitude(grey)
    rows = []
    for c, iid in zip(crops, ids, strict=True):
        row = {"source": "", "image_id": 0, "file_name": "", "instance_id": iid, "category_id": -1}
        row["score"] = math.nan
        row.update(reference_measure_crop(c.crop, c.x0, c.y0, frame_hw, grey, occupied, gradient))
        rows.append(row)
    table = pd.DataFrame.from_records(rows, columns=list(schema.COLUMN_NAMES))
    return table.astype({c.name: ("object" if c.dtype == "str" else c.dtype) for c in schema.COLUMNS})


def random_frame(seed: int, n: int, hw: tuple[int, int] = (300, 360)) -> tuple[np.ndarray, np.ndarray]:
    """A label map of overlapping ellipses and disc unions (later ones cover earlier ones) and its grey image."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(hw, np.uint16)
    for label in range(1, n + 1):
        cx, cy = float(rng.uniform(-5, hw[1] + 5)), float(rng.uniform(-5, hw[0] + 5))
        if rng.random() < 0.7:
            a = float(rng.uniform(0.5, 25))
            axes = (2 * a, 2 * a * float(rng.uniform(0.2, 1.0)))
            cv2.ellipse(labels, ((cx, cy), axes, float(rng.uniform(0, 180))), label, -1)
        else:  # a few discs around a centre: concave, sometimes several parts or holes
            for _ in range(int(rng.integers(2, 5))):
                centre = (int(cx + rng.uniform(-15, 15)), int(cy + rng.uniform(-15, 15)))
                cv2.circle(labels, centre, int(rng.integers(1, 9)), label, -1)
    grey = np.where(labels > 0, rng.integers(120, 250, hw), rng.integers(0, 60, hw)).astype(np.uint8)
    return labels, cv2.GaussianBlur(grey, (0, 0), float(rng.uniform(0.5, 2.5)))


@pytest.mark.parametrize("seed", range(3))
def test_labelmap_frame_equals_reference(seed: int) -> None:
    labels, grey = random_frame(seed, 120)
    crops, ids = labelmap_crops(labels)
    assert len(crops) > 80
    for image in (grey, None):
        expected = reference_table(crops, image, ids)
        pd.testing.assert_frame_equal(measure_labelmap(labels, image), expected, check_exact=True)
    assert (expected["convex_area_px"] > expected["area_px"]).sum() > 10  # non-convex ones exercised
    assert expected["touches_border"].sum() > 3


def test_overlapping_rle_instances_equal_reference() -> None:
    labels, grey = random_frame(7, 60)
    rng = np.random.default_rng(7)
    masks = []
    for label in range(1, 61):  # each instance grown a little, so neighbours overlap
        mask = labels == label
        if mask.any():
            masks.append(cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool))
    masks.append(np.zeros(labels.shape, bool))  # and one empty mask
    rgb = np.dstack([grey, grey, rng.integers(0, 255, grey.shape, dtype=np.uint8)])
    table = measure_instances(
        [encode_rle(m) for m in masks], rgb, 0, "", instance_ids=list(range(len(masks)))
    )
    expected = reference_table([decode_rle_crop(encode_rle(m)) for m in masks], rgb, list(range(len(masks))))
    pd.testing.assert_frame_equal(table, expected, check_exact=True)


def test_single_crop_with_local_gradient_equals_reference() -> None:
    labels, grey = random_frame(3, 40, hw=(120, 150))
    occupied = labels > 0
    frame_gradient = gradient_magnitude(grey)
    for c in labelmap_crops(labels)[0]:
        pad = np.zeros((c.crop.shape[0] + 3, c.crop.shape[1] + 2), bool)  # an untrimmed crop
        pad[1:-2, 1:-1] = c.crop
        for gradient in (None, frame_gradient):
            args = (pad, c.x0 - 1, c.y0 - 1, labels.shape, grey, occupied, gradient)
            got, expected = measure_crop(*args), reference_measure_crop(*args)
            assert got.keys() == expected.keys()
            for key, value in expected.items():
                assert got[key] == value or (math.isnan(value) and math.isnan(got[key])), key
                assert type(got[key]) is type(value), key


def test_gradient_magnitude_is_exact_and_deterministic() -> None:
    grey = random_frame(5, 30, hw=(64, 80))[1]
    grey[0, :5] = 255  # strong edges at the frame border
    kx = ndimage.sobel(grey.astype(np.int64), axis=1, mode="nearest")
    ky = ndimage.sobel(grey.astype(np.int64), axis=0, mode="nearest")
    exact = (np.sqrt((kx * kx + ky * ky).astype(np.float64)) / 8).astype(np.float32)
    assert np.array_equal(gradient_magnitude(grey), exact)
    assert np.array_equal(gradient_magnitude(grey), gradient_magnitude(grey.copy()))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=1, max_size=10),
        min_size=1,
        max_size=6,
    )
)
def test_batched_hull_helpers_equal_single(point_sets: list[list[tuple[int, int]]]) -> None:
    hulls = [centre_hull(np.array(p)) for p in point_sets]
    filled = [_pad1(fill_centre_hull(h, 31, 31)) for h in hulls]
    assert digital_hull_transitions(hulls).tolist() == [list(lattice_transitions(f)) for f in filled]
    assert [padded_transitions(f) for f in filled] == [lattice_transitions(f) for f in filled]
    assert pick_lattice_counts(hulls).tolist() == [pick_lattice_count(h) for h in hulls]
    corners = corner_hulls(hulls)
    assert all(np.array_equal(a.reshape(-1, 2), corner_hull(h)) for a, h in zip(corners, hulls, strict=True))
    assert feret_diameters_batch(corners) == [feret_diameters(corner_hull(h)) for h in hulls]
