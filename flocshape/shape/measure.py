"""The particle-table builder: one row of descriptors per instance mask (contract (1)).

Per instance everything runs on the bounding-box crop: OpenCV moments and contours, the convex hull
of the pixel centres (then of the pixel corners), the Crofton perimeter as one vectorised pass, and the
grey-level descriptors on the box plus a small margin. Instances are measured independently, so
overlapping predictions are fine. Column conventions: :mod:`flocshape.shape.schema`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
from scipy import ndimage

from flocshape.shape import schema
from flocshape.shape.ellipse import moment_ellipse
from flocshape.shape.feret import feret_diameters
from flocshape.shape.hull import centre_hull, corner_hull, fill_centre_hull, pick_lattice_count
from flocshape.shape.intensity import NO_INTENSITY, gradient_magnitude, intensity_descriptors, to_grey
from flocshape.shape.perimeter import crofton_perimeter_padded
from flocshape.shape.rle import MaskCrop, decode_crop

_DESCRIPTOR_COLUMNS = tuple(c for c in schema.COLUMN_NAMES if c not in schema.IDENTITY_COLUMNS)
_NAN = math.nan


def _empty_descriptors(frame_h: int, frame_w: int) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(_DESCRIPTOR_COLUMNS, _NAN)
    row.update(area_px=0, convex_area_px=0, n_parts=0, n_holes=0, touches_border=False, too_small=True)
    row.update(image_height=frame_h, image_width=frame_w)
    return row


def _pad1(mask: np.ndarray) -> np.ndarray:
    """``mask`` as uint8 with a one-pixel zero border (np.pad is slow for small arrays)."""
    out = np.zeros((mask.shape[0] + 2, mask.shape[1] + 2), np.uint8)
    out[1:-1, 1:-1] = mask
    return out


def _topology(padded: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Outer-contour points (N, 2) in padded coordinates, the part count and the hole count."""
    contours, hierarchy = cv2.findContours(padded, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    parents = hierarchy[0, :, 3]
    outer = [c for c, parent in zip(contours, parents, strict=True) if parent < 0]
    points = np.concatenate(outer).reshape(-1, 2)
    return points, len(outer), int(np.count_nonzero(parents >= 0))


def measure_crop(
    crop: np.ndarray,
    x0: int,
    y0: int,
    frame_hw: tuple[int, int],
    grey: np.ndarray | None = None,
    occupied: np.ndarray | None = None,
    gradient: np.ndarray | None = None,
) -> dict[str, Any]:
    """Descriptors of one instance given as a crop (bool) of the frame whose top-left pixel is (x0, y0).

    The crop is trimmed to the instance's bounding box first (a tight crop costs nothing more).

    ``frame_hw`` is the frame (height, width); ``grey`` the frame as 2-D uint8 (or None: intensity
    columns NaN); ``occupied`` a frame-sized bool mask of all instances (kept out of the contrast ring);
    ``gradient`` the frame's gradient magnitude (:func:`~flocshape.shape.intensity.gradient_magnitude`),
    computed on the crop's neighbourhood when None.
    Returns the descriptor columns of :data:`flocshape.shape.schema.COLUMNS` (no identity columns).
    """
    frame_h, frame_w = frame_hw
    mask = np.asarray(crop, dtype=bool)
    area = int(np.count_nonzero(mask))
    if area == 0:
        return _empty_descriptors(frame_h, frame_w)
    rows_any, cols_any = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if (
        rows_any[0] > 0
        or cols_any[0] > 0
        or rows_any[-1] < mask.shape[0] - 1
        or cols_any[-1] < mask.shape[1] - 1
    ):
        mask = mask[rows_any[0] : rows_any[-1] + 1, cols_any[0] : cols_any[-1] + 1]
        x0, y0 = x0 + int(cols_any[0]), y0 + int(rows_any[0])
    h, w = mask.shape
    padded = _pad1(mask)
    m = cv2.moments(padded, binaryImage=True)
    points, n_parts, n_holes = _topology(padded)
    hull_c = centre_hull(points) - 1  # crop coordinates
    feret = feret_diameters(corner_hull(hull_c))
    perimeter = crofton_perimeter_padded(padded)
    convex_area = pick_lattice_count(hull_c)  # = pixel count of the digital convex hull
    if convex_area == area:  # the particle is its own digital convex hull
        convex_perimeter = perimeter
    else:
        convex_perimeter = crofton_perimeter_padded(_pad1(fill_centre_hull(hull_c, h, w)))
    ell = moment_ellipse(m["mu20"] / area, m["mu02"] / area, m["mu11"] / area)
    form_factor = 4.0 * math.pi * area / perimeter**2 if perimeter > 0 else _NAN
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
        "convexity": convex_perimeter / perimeter if perimeter > 0 else _NAN,
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
        "centroid_x_px": x0 + m["m10"] / area - 0.5,  # padded index -> crop index (-1) -> centre (+0.5)
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


def add_scaled_columns(table: pd.DataFrame, um_per_px: float | None) -> pd.DataFrame:
    """Append ``um_per_px`` and the ``_um``/``_um2`` columns (lengths x scale, areas x scale^2) in place."""
    if um_per_px is None:
        return table
    if not (math.isfinite(um_per_px) and um_per_px > 0):
        raise ValueError(f"um_per_px must be a positive number, got {um_per_px}")
    table["um_per_px"] = float(um_per_px)
    for col in schema.AREA_COLUMNS_PX:
        table[col.replace("_px", "_um2")] = table[col].astype(np.float64) * um_per_px**2
    for col in schema.LENGTH_COLUMNS_PX:
        table[col.replace("_px", "_um")] = table[col] * um_per_px
    return table


def rows_to_table(rows: list[dict[str, Any]], um_per_px: float | None = None) -> pd.DataFrame:
    """A typed particle table (schema column order and dtypes) from row dicts."""
    table = pd.DataFrame.from_records(rows, columns=list(schema.COLUMN_NAMES))
    dtypes = {c.name: ("object" if c.dtype == "str" else c.dtype) for c in schema.COLUMNS}
    table = table.astype(dtypes)
    return add_scaled_columns(table, um_per_px)


def measure_crops(
    crops: Sequence[MaskCrop],
    image: np.ndarray | None,
    identity: dict[str, Any],
    instance_ids: Sequence[int],
    scores: Sequence[float],
    category_ids: Sequence[int],
) -> list[dict[str, Any]]:
    """Row dicts for the decoded instances of one frame; ``identity`` holds source/image_id/file_name."""
    if not crops:
        return []
    frame_hw = (crops[0].height, crops[0].width)
    grey = occupied = gradient = None
    if image is not None:
        grey = to_grey(image)
        if grey.shape != frame_hw:
            raise ValueError(f"image size {list(grey.shape)} differs from the mask size {list(frame_hw)}")
        occupied = np.zeros(frame_hw, dtype=bool)
        for c in crops:
            occupied[c.y0 : c.y0 + c.crop.shape[0], c.x0 : c.x0 + c.crop.shape[1]] |= c.crop
        gradient = gradient_magnitude(grey)
    rows = []
    for c, iid, score, cat in zip(crops, instance_ids, scores, category_ids, strict=True):
        if (c.height, c.width) != frame_hw:
            raise ValueError(f"mask size {[c.height, c.width]} differs from the frame size {list(frame_hw)}")
        row = {**identity, "instance_id": int(iid), "category_id": int(cat), "score": float(score)}
        row.update(measure_crop(c.crop, c.x0, c.y0, frame_hw, grey, occupied, gradient))
        rows.append(row)
    return rows


def measure_instances(
    masks_rle: list[dict],
    image: np.ndarray | None,
    image_id: int,
    file_name: str,
    instance_ids: list[int] | None = None,
    scores: list[float] | None = None,
    um_per_px: float | None = None,
    *,
    source: str = "",
    category_ids: list[int] | None = None,
) -> pd.DataFrame:
    """Particle table of the instance masks of one frame (contract (1)).

    ``masks_rle``: COCO RLE dicts ``{"size": [H, W], "counts": str | bytes | list}`` of one frame, all of
    the same size. ``image``: that frame as grey or RGB uint8 (same H, W), or None (intensity columns
    NaN). ``instance_ids`` default to 0..n-1; ``scores`` to NaN. Raises ``ValueError`` on malformed
    masks or a size mismatch.
    """
    n = len(masks_rle)
    crops = [decode_crop(r) for r in masks_rle]
    identity = {"source": source, "image_id": int(image_id), "file_name": file_name}
    rows = measure_crops(
        crops,
        image,
        identity,
        instance_ids if instance_ids is not None else list(range(n)),
        scores if scores is not None else [_NAN] * n,
        category_ids if category_ids is not None else [-1] * n,
    )
    return rows_to_table(rows, um_per_px)


def labelmap_crops(labels: np.ndarray) -> tuple[list[MaskCrop], list[int]]:
    """Bounding-box crops of every label > 0 of a 2-D instance label map, and the label values."""
    lab = np.asarray(labels)
    if lab.ndim != 2 or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"label map must be a 2-D integer array, got {lab.dtype} {lab.shape}")
    height, width = lab.shape
    crops, ids = [], []
    for index, box in enumerate(ndimage.find_objects(lab)):
        if box is None:
            continue
        label = index + 1
        crops.append(MaskCrop(lab[box] == label, box[1].start, box[0].start, height, width))
        ids.append(label)
    return crops, ids


def measure_labelmap(
    labels: np.ndarray,
    image: np.ndarray | None = None,
    image_id: int = 0,
    file_name: str = "",
    um_per_px: float | None = None,
    *,
    source: str = "",
) -> pd.DataFrame:
    """Particle table of a 2-D instance label map (0 = background, each label > 0 one instance).

    ``instance_id`` is the label value; ``score`` NaN; ``category_id`` -1.
    """
    crops, ids = labelmap_crops(labels)
    identity = {"source": source, "image_id": int(image_id), "file_name": file_name}
    rows = measure_crops(crops, image, identity, ids, [_NAN] * len(ids), [-1] * len(ids))
    return rows_to_table(rows, um_per_px)


def measure_coco(
    coco_path: str | Path,
    images_dir: str | Path | None = None,
    um_per_px: float | None = None,
    images_json: str | Path | None = None,
) -> pd.DataFrame:
    """Particle table of a COCO instances file or results list (contract (1)).

    Same as :func:`flocshape.shape.sources.measure_coco` (see there); bad input raises
    :class:`flocshape.errors.InputError` naming the file and record.
    """
    from flocshape.shape.sources import measure_coco as _measure_coco

    return _measure_coco(coco_path, images_dir, um_per_px, images_json)
