"""The particle table: column names, units, dtypes and conventions, one place.

Coordinate convention (COCO's): pixel (row i, column j) covers ``[j, j+1) x [i, i+1)`` in px, x to the
right, y down. Lengths are px, areas px^2 (a pixel count), angles degrees in ``[0, 180)``
counter-clockwise from +x *as displayed*. Columns ending in ``_um`` / ``_um2`` exist only when a scale is
given: ``*_um = *_px * um_per_px`` and ``*_um2 = *_px * um_per_px**2``.

Every descriptor is computed on the *union* of the instance's pixels; ``n_parts`` and ``n_holes`` say
when that union is not one simply connected region. An empty mask gives a row with ``area_px = 0`` and
NaN for every geometric descriptor. Ratios are raw (never clamped), so a digitised small disc can have
``form_factor > 1``; ``too_small`` flags the particles whose shape numbers are not trustworthy.
"""

from __future__ import annotations

from typing import NamedTuple

# Below this pixel count shape ratios are dominated by digitisation (see BENCHMARKS.md: at
# ECD ~ 11 px the form factor of a disc still scatters by several % and the Feret diameters of the
# pixel-corner hull are biased by ~ +1 px / ECD).
MIN_AREA_PX_FOR_SHAPE = 100

PERIMETER_ESTIMATOR = "crofton4"


class Column(NamedTuple):
    """One column of the particle table."""

    name: str
    dtype: str
    unit: str
    description: str


COLUMNS: tuple[Column, ...] = (
    Column("source", "str", "", "file the instance was measured from"),
    Column(
        "image_id", "int64", "", "COCO image id (label maps: the file stem when numeric, else running index)"
    ),
    Column("file_name", "str", "", "image file name from the COCO images list ('' when unknown)"),
    Column(
        "instance_id", "int64", "", "annotation id; for a results list the running index within its image"
    ),
    Column("category_id", "int64", "", "COCO category id (-1 when absent)"),
    Column("score", "float64", "", "prediction confidence; NaN for ground truth"),
    Column("area_px", "int64", "px^2", "pixel count of the instance (union of its parts)"),
    Column(
        "perimeter_px", "float64", "px", "Cauchy-Crofton perimeter, 4 directions on the pixel-centre lattice"
    ),
    Column("ecd_px", "float64", "px", "equivalent circle diameter sqrt(4 area / pi)"),
    Column("form_factor", "float64", "", "4 pi area / perimeter^2, raw (can exceed 1 for tiny particles)"),
    Column("circularity", "float64", "", "sqrt(form_factor) = ecd / (perimeter / pi) (ISO 9276-6, Malvern)"),
    Column(
        "convex_area_px",
        "int64",
        "px^2",
        "pixel count of the digital convex hull (pixel centres in the hull)",
    ),
    Column("solidity", "float64", "", "area / convex_area (1 for any digitised convex shape)"),
    Column("convex_perimeter_px", "float64", "px", "Crofton perimeter of the digital convex hull"),
    Column("convexity", "float64", "", "convex_perimeter / perimeter (ISO/Malvern definition, <= ~1)"),
    Column("feret_max_px", "float64", "px", "max caliper diameter of the convex hull of the pixel corners"),
    Column("feret_min_px", "float64", "px", "min caliper width of the same hull (exact rotating calipers)"),
    Column("feret_angle_deg", "float64", "deg", "direction of the max-Feret chord, ccw from +x as displayed"),
    Column("feret_min_angle_deg", "float64", "deg", "direction across the min-Feret width, ccw from +x"),
    Column("aspect_ratio_feret", "float64", "", "feret_min / feret_max (<= 1)"),
    Column("aspect_ratio_ellipse", "float64", "", "ellipse_minor / ellipse_major (<= 1)"),
    Column("elongation", "float64", "", "1 - aspect_ratio_feret"),
    Column(
        "roundness", "float64", "", "4 area / (pi feret_max^2) (ISO-style, not ImageJ's ellipse-based Round)"
    ),
    Column(
        "ellipse_major_px", "float64", "px", "full major axis of the moment ellipse (pixel-square moments)"
    ),
    Column("ellipse_minor_px", "float64", "px", "full minor axis of the moment ellipse"),
    Column("ellipse_orientation_deg", "float64", "deg", "major-axis direction, ccw from +x as displayed"),
    Column("centroid_x_px", "float64", "px", "mean x of the pixel centres (pixel j has centre j + 0.5)"),
    Column("centroid_y_px", "float64", "px", "mean y of the pixel centres (pixel i has centre i + 0.5)"),
    Column(
        "bbox_x_px", "float64", "px", "left edge of the bounding box (= first column index), COCO bbox[0]"
    ),
    Column("bbox_y_px", "float64", "px", "top edge of the bounding box (= first row index), COCO bbox[1]"),
    Column("bbox_w_px", "float64", "px", "bounding-box width in pixels, COCO bbox[2]"),
    Column("bbox_h_px", "float64", "px", "bounding-box height in pixels, COCO bbox[3]"),
    Column("n_parts", "int64", "", "8-connected foreground components of the mask"),
    Column("n_holes", "int64", "", "4-connected background components enclosed by the mask"),
    Column(
        "touches_border", "bool", "", "bounding box touches the frame edge (ImageJ 'exclude on edges' test)"
    ),
    Column("mean_intensity", "float64", "grey", "mean grey level inside (0-255); NaN without image"),
    Column(
        "contrast",
        "float64",
        "grey",
        "mean inside - mean of a 3 px ring outside all instances; NaN w/o image",
    ),
    Column("sharpness", "float64", "grey/px", "mean Sobel gradient magnitude on the 1 px boundary band"),
    Column("sharpness_norm", "float64", "1/px", "sharpness / |contrast|; NaN when |contrast| < 1 grey level"),
    Column("too_small", "bool", "", f"area_px < {MIN_AREA_PX_FOR_SHAPE}: shape ratios not meaningful"),
    Column("image_height", "int64", "px", "frame height"),
    Column("image_width", "int64", "px", "frame width"),
)

# Columns converted when a scale is given: name_px -> name_um (lengths) or name_um2 (areas).
LENGTH_COLUMNS_PX: tuple[str, ...] = (
    "perimeter_px",
    "ecd_px",
    "convex_perimeter_px",
    "feret_max_px",
    "feret_min_px",
    "ellipse_major_px",
    "ellipse_minor_px",
)
AREA_COLUMNS_PX: tuple[str, ...] = ("area_px", "convex_area_px")

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
# Per-instance descriptors computed by flocshape.shape.measure.measure_crop (no identity columns).
IDENTITY_COLUMNS: tuple[str, ...] = ("source", "image_id", "file_name", "instance_id", "category_id", "score")


def scaled_column_names() -> tuple[str, ...]:
    """Names of the columns added when ``um_per_px`` is given, in table order."""
    names = ["um_per_px"]
    names += [c.replace("_px", "_um2") for c in AREA_COLUMNS_PX]
    names += [c.replace("_px", "_um") for c in LENGTH_COLUMNS_PX]
    return tuple(names)


def describe_markdown() -> str:
    """The column table as markdown (used for docs/shape.md)."""
    lines = ["| column | dtype | unit | meaning |", "|---|---|---|---|"]
    lines += [f"| `{c.name}` | {c.dtype} | {c.unit or '-'} | {c.description} |" for c in COLUMNS]
    return "\n".join(lines)
