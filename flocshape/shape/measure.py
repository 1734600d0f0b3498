"""The particle-table builder: one row of descriptors per instance mask.

Instances are measured independently, so overlapping predictions are fine. Per instance, on its
bounding-box crop: OpenCV moments, contours and the convex hull of the pixel centres, and the four
lattice-transition counts of the Crofton perimeter. Then, for all instances of a frame at once
(vectorised): Pick's count of the hull, the Crofton perimeter of the digital hull from its row spans,
the Feret diameters of the pixel-corner hulls, and the grey-level descriptors on an atlas of the
crops (:func:`flocshape.shape.intensity.intensity_columns`). The table is built column-wise.
Column conventions: :mod:`flocshape.shape.schema`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import cv2
import numpy as np
import pandas as pd
from scipy import ndimage

from flocshape.masks import MaskCrop, decode_rle_crop
from flocshape.shape import schema
from flocshape.shape.ellipse import moment_ellipse
from flocshape.shape.feret import FeretDiameters, feret_diameters_batch
from flocshape.shape.hull import corner_hulls, digital_hull_transitions, pick_lattice_counts
from flocshape.shape.intensity import (
    NO_INTENSITY,
    RING_WIDTH_PX,
    IntensityDescriptors,
    intensity_columns,
    to_grey,
)
from flocshape.shape.perimeter import crofton_from_transitions, padded_transitions

_DESCRIPTOR_COLUMNS = tuple(c for c in schema.COLUMN_NAMES if c not in schema.IDENTITY_COLUMNS)
_DTYPES = {c.name: (object if c.dtype == "str" else c.dtype) for c in schema.COLUMNS}
_NAN = math.nan


def _empty_descriptors(frame_h: int, frame_w: int) -> tuple[Any, ...]:
    """The descriptor values (column order) of an empty mask."""
    row: dict[str, Any] = dict.fromkeys(_DESCRIPTOR_COLUMNS, _NAN)
    row.update(area_px=0, convex_area_px=0, n_parts=0, n_holes=0, touches_border=False, too_small=True)
    row.update(image_height=frame_h, image_width=frame_w)
    return tuple(row.values())


def _pad1(mask: np.ndarray) -> np.ndarray:
    """``mask`` as uint8 with a one-pixel zero border (np.pad is slow for small arrays)."""
    out = np.zeros((mask.shape[0] + 2, mask.shape[1] + 2), np.uint8)
    out[1:-1, 1:-1] = mask
    return out


class _Geometry(NamedTuple):
    """Per-instance results of the per-crop pass of :func:`frame_descriptors`."""

    padded: np.ndarray  # tight crop as uint8 0/1 with a one-pixel zero border
    x0: int  # frame column and row of the tight crop's top-left pixel
    y0: int
    area: int
    moments: dict[str, float]  # cv2.moments of ``padded`` (padded coordinates)
    n_parts: int
    n_holes: int
    centre_hull: np.ndarray  # (K, 2) int32 in crop coordinates
    perimeter: float


def _crop_geometry(crop: np.ndarray, x0: int, y0: int) -> _Geometry | None:
    """Trim to the box, moments, topology, centre hull and Crofton perimeter of one crop; None if empty."""
    mask = np.asarray(crop, dtype=bool)
    if mask.size == 0:
        return None
    h, w = mask.shape
    padded = _pad1(mask)
    bx, by, bw, bh = cv2.boundingRect(padded)  # box of the non-zero pixels
    if bw == 0:
        return None
    if (bx, by, bw, bh) != (1, 1, w, h):  # trim (a tight crop costs nothing more)
        padded = _pad1(mask[by - 1 : by - 1 + bh, bx - 1 : bx - 1 + bw])
        x0, y0 = x0 + bx - 1, y0 + by - 1
    m = cv2.moments(padded, binaryImage=True)
    contours, hierarchy = cv2.findContours(padded, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if len(contours) == 1:
        points, n_parts, n_holes = contours[0], 1, 0
    else:
        parents = hierarchy[0, :, 3]
        outer = [c for c, parent in zip(contours, parents, strict=True) if parent < 0]
        points, n_parts, n_holes = np.concatenate(outer), len(outer), int(np.count_nonzero(parents >= 0))
    hull = cv2.convexHull(points).reshape(-1, 2) - 1
    perimeter = crofton_from_transitions(*padded_transitions(padded))
    return _Geometry(padded, int(x0), int(y0), int(m["m00"]), m, n_parts, n_holes, hull, perimeter)


def _row(
    g: _Geometry,
    convex_area: int,
    convex_perimeter: float,
    feret: FeretDiameters,
    inten: IntensityDescriptors,
    frame_h: int,
    frame_w: int,
) -> tuple[Any, ...]:
    """The descriptor values of one instance, in :data:`_DESCRIPTOR_COLUMNS` order."""
    area, perimeter, m = g.area, g.perimeter, g.moments
    h, w = g.padded.shape[0] - 2, g.padded.shape[1] - 2
    x0, y0 = g.x0, g.y0
    ell = moment_ellipse(m["mu20"] / area, m["mu02"] / area, m["mu11"] / area)
    form_factor = 4.0 * math.pi * area / perimeter**2 if perimeter > 0 else _NAN
    aspect_feret = feret.min_px / feret.max_px
    return (
        area,
        perimeter,
        math.sqrt(4.0 * area / math.pi),
        form_factor,
        math.sqrt(form_factor),
        convex_area,
        area / convex_area,
        convex_perimeter,
        convex_perimeter / perimeter if perimeter > 0 else _NAN,
        feret.max_px,
        feret.min_px,
        feret.max_angle_deg,
        feret.min_angle_deg,
        aspect_feret,
        ell.minor_px / ell.major_px,
        1.0 - aspect_feret,
        4.0 * area / (math.pi * feret.max_px**2),
        ell.major_px,
        ell.minor_px,
        ell.orientation_deg,
        x0 + m["m10"] / area - 0.5,  # padded index -> crop index (-1) -> pixel centre (+0.5)
        y0 + m["m01"] / area - 0.5,
        float(x0),
        float(y0),
        float(w),
        float(h),
        g.n_parts,
        g.n_holes,
        bool(x0 == 0 or y0 == 0 or x0 + w == frame_w or y0 + h == frame_h),
        inten.mean_intensity,
        inten.contrast,
        inten.sharpness,
        inten.sharpness_norm,
        area < schema.MIN_AREA_PX_FOR_SHAPE,
        frame_h,
        frame_w,
    )


def frame_descriptors(
    crops: Sequence[MaskCrop],
    grey: np.ndarray | None = None,
    occupied: np.ndarray | None = None,
    gradient: np.ndarray | None = None,
    grey_origin: tuple[int, int] = (0, 0),
) -> list[tuple[Any, ...]]:
    """Descriptor values of the instances of one frame, one tuple per crop in ``_DESCRIPTOR_COLUMNS`` order.

    ``crops``: the instances (any crops of the frame; each is trimmed to its box first). ``grey``: the
    frame as 2-D uint8, or a window of it whose top-left pixel is frame column/row ``grey_origin`` and
    that contains every crop's box plus ``RING_WIDTH_PX + 1`` px (clipped to the frame); None gives NaN
    intensity columns. ``gradient``: :func:`~flocshape.shape.intensity.gradient_magnitude` of ``grey``,
    or None to evaluate it at the boundary-band pixels only (same values, no full-frame pass);
    ``occupied``: the union of all instances on the same window (kept out of the contrast ring; None:
    nothing excluded).

    Exactly the values of the per-instance definitions (:func:`~flocshape.shape.feret.feret_diameters`,
    :func:`~flocshape.shape.hull.pick_lattice_count`, the Crofton perimeter of
    :func:`~flocshape.shape.hull.fill_centre_hull`, :func:`~flocshape.shape.intensity.intensity_descriptors`;
    tests/test_shape_fastpath.py keeps the previous per-instance code and compares bit for bit). Per
    crop only OpenCV moments, contours and hull and the four lattice-transition counts run; Pick's
    count, the digital-hull perimeter (from exact integer row spans), the corner hulls' Feret diameters
    and the grey-level descriptors (one atlas of all crops) are vectorised over the frame.
    """
    geometry = [_crop_geometry(c.crop, c.x0, c.y0) for c in crops]
    present = [g for g in geometry if g is not None]
    hulls = [g.centre_hull for g in present]
    convex_area = pick_lattice_counts(hulls).tolist()
    convex_perimeter = [g.perimeter for g in present]
    not_convex = [i for i, (g, ca) in enumerate(zip(present, convex_area, strict=True)) if ca != g.area]
    if not_convex:  # a particle that is not its own digital convex hull
        transitions = digital_hull_transitions([hulls[i] for i in not_convex]).tolist()
        for i, t in zip(not_convex, transitions, strict=True):
            convex_perimeter[i] = crofton_from_transitions(*t)
    ferets = feret_diameters_batch(corner_hulls(hulls))
    inten: list[IntensityDescriptors] = [NO_INTENSITY] * len(present)
    if grey is not None and present:
        cols = intensity_columns(
            [g.padded for g in present],
            [g.x0 - 1 - grey_origin[0] for g in present],
            [g.y0 - 1 - grey_origin[1] for g in present],
            grey,
            occupied,
            gradient,
        )
        inten = [IntensityDescriptors(*v) for v in zip(*(c.tolist() for c in cols), strict=True)]
    frame_h, frame_w = (crops[0].height, crops[0].width) if crops else (0, 0)
    values = iter(zip(present, convex_area, convex_perimeter, ferets, inten, strict=True))
    return [
        _empty_descriptors(frame_h, frame_w) if g is None else _row(*next(values), frame_h, frame_w)
        for g in geometry
    ]


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
    evaluated on the crop's neighbourhood when None (same values).
    Returns the descriptor columns of :data:`flocshape.shape.schema.COLUMNS` (no identity columns).
    Same values as a row of :func:`measure_instances`; for many instances of a frame use that (or
    :func:`frame_descriptors`): the frame-wide vectorised steps make it several times faster per
    instance.
    """
    mask_crop = MaskCrop(np.asarray(crop, dtype=bool), int(x0), int(y0), int(frame_hw[0]), int(frame_hw[1]))
    origin = (0, 0)
    if grey is not None and gradient is None:  # work on the crop's neighbourhood only (same values)
        margin = RING_WIDTH_PX + 1
        h, w = mask_crop.crop.shape
        rx0, ry0 = max(mask_crop.x0 - margin, 0), max(mask_crop.y0 - margin, 0)
        window = (
            slice(ry0, min(mask_crop.y0 + h + margin, grey.shape[0])),
            slice(rx0, min(mask_crop.x0 + w + margin, grey.shape[1])),
        )
        grey = grey[window]
        occupied = None if occupied is None else occupied[window]
        origin = (rx0, ry0)
    (values,) = frame_descriptors([mask_crop], grey, occupied, gradient, origin)
    return dict(zip(_DESCRIPTOR_COLUMNS, values, strict=True))


def descriptors_table(values: Sequence[tuple[Any, ...]], identity: dict[str, Sequence[Any]]) -> pd.DataFrame:
    """A typed particle table (schema column order and dtypes, no scaled columns).

    ``values``: descriptor tuples from :func:`frame_descriptors`; ``identity``: the identity columns
    (``source``, ``image_id``, ``file_name``, ``instance_id``, ``category_id``, ``score``), one value
    per row each.
    """
    columns = dict(identity)
    transposed = list(zip(*values, strict=True)) if values else [()] * len(_DESCRIPTOR_COLUMNS)
    columns.update(zip(_DESCRIPTOR_COLUMNS, transposed, strict=True))
    arrays: dict[str, Any] = {}
    for name in schema.COLUMN_NAMES:
        dtype = _DTYPES[name]
        array = np.asarray(columns[name], dtype=dtype)
        arrays[name] = pd.Series(array, dtype=object, copy=False) if dtype is object else array
    return pd.DataFrame(arrays, copy=False)


def concat_tables(tables: Sequence[pd.DataFrame], um_per_px: float | None = None) -> pd.DataFrame:
    """Tables of :func:`measure_crops` one after the other (new running index), plus the scaled columns."""
    table = (
        pd.concat(tables, ignore_index=True)
        if tables
        else descriptors_table([], dict.fromkeys(schema.IDENTITY_COLUMNS, ()))
    )
    return add_scaled_columns(table, um_per_px)


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


def measure_crops(
    crops: Sequence[MaskCrop],
    image: np.ndarray | None,
    identity: dict[str, Any],
    instance_ids: Sequence[int],
    scores: Sequence[float],
    category_ids: Sequence[int],
    occupied: np.ndarray | None = None,
) -> pd.DataFrame:
    """Typed table (no scaled columns) of the decoded instances of one frame.

    ``identity`` holds the frame's source, image_id and file_name; ``occupied``: the union of the
    crops as a frame-sized bool image when the caller has it (else it is built here). Raises
    ``ValueError`` when a mask or the image differs in size from the first mask.
    """
    frame_hw = (crops[0].height, crops[0].width) if crops else (0, 0)
    for c in crops:
        if (c.height, c.width) != frame_hw:
            raise ValueError(f"mask size {[c.height, c.width]} differs from the frame size {list(frame_hw)}")
    grey = None
    if image is not None and crops:
        grey = to_grey(image)
        if grey.shape != frame_hw:
            raise ValueError(f"image size {list(grey.shape)} differs from the mask size {list(frame_hw)}")
        if occupied is None:
            occupied = np.zeros(frame_hw, dtype=bool)
            for c in crops:
                occupied[c.y0 : c.y0 + c.crop.shape[0], c.x0 : c.x0 + c.crop.shape[1]] |= c.crop
    n = len(crops)
    ids = {
        "source": [identity["source"]] * n,
        "image_id": [int(identity["image_id"])] * n,
        "file_name": [identity["file_name"]] * n,
        "instance_id": [int(i) for i in instance_ids],
        "category_id": [int(c) for c in category_ids],
        "score": [float(s) for s in scores],
    }
    if not len(ids["instance_id"]) == len(ids["category_id"]) == len(ids["score"]) == n:
        raise ValueError("instance_ids, scores and category_ids must have one entry per mask")
    return descriptors_table(frame_descriptors(crops, grey, occupied), ids)


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
    """Particle table of the instance masks of one frame.

    ``masks_rle``: COCO RLE dicts ``{"size": [H, W], "counts": str | bytes | list}`` of one frame, all of
    the same size. ``image``: that frame as grey or RGB uint8 (same H, W), or None (intensity columns
    NaN). ``instance_ids`` default to 0..n-1; ``scores`` to NaN. Raises ``ValueError`` on malformed
    masks or a size mismatch.
    """
    n = len(masks_rle)
    crops = [decode_rle_crop(r) for r in masks_rle]
    identity = {"source": source, "image_id": int(image_id), "file_name": file_name}
    table = measure_crops(
        crops,
        image,
        identity,
        instance_ids if instance_ids is not None else list(range(n)),
        scores if scores is not None else [_NAN] * n,
        category_ids if category_ids is not None else [-1] * n,
    )
    return add_scaled_columns(table, um_per_px)


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
    occupied = None if image is None else np.asarray(labels) > 0
    table = measure_crops(crops, image, identity, ids, [_NAN] * len(ids), [-1] * len(ids), occupied)
    return add_scaled_columns(table, um_per_px)
