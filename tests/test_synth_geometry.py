"""Exact truth geometry: metrics of known shapes, Feret diameters, keyhole polygons, outlines."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils
from shapely.geometry import Point, Polygon, box

from flocshape.synth.geometry import (
    feret_diameters,
    geometry_metrics,
    rasterise_coco_polygons,
    to_coco_polygons,
)
from flocshape.synth.shapes import floc_outline, split_outline


def _decode(rle: dict) -> np.ndarray:
    return mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")}).astype(bool)


def test_rectangle_metrics_are_exact() -> None:
    m = geometry_metrics(box(2, 3, 12, 7))  # 10 x 4
    assert m["area_px"] == pytest.approx(40.0)
    assert m["perimeter_px"] == pytest.approx(28.0)
    assert m["feret_max_px"] == pytest.approx(math.hypot(10, 4))
    assert m["feret_min_px"] == pytest.approx(4.0)
    assert m["convexity"] == pytest.approx(1.0)
    assert m["solidity"] == pytest.approx(1.0)
    assert m["ecd_px"] == pytest.approx(math.sqrt(160 / math.pi))


def test_concave_l_shape_solidity_and_convexity() -> None:
    shape = Polygon([(0, 0), (10, 0), (10, 2), (2, 2), (2, 10), (0, 10)])
    m = geometry_metrics(shape)
    hull = shape.convex_hull
    assert m["area_px"] == pytest.approx(36.0)
    assert m["solidity"] == pytest.approx(36.0 / hull.area)
    assert m["convexity"] == pytest.approx(hull.length / 40.0)
    assert m["feret_min_px"] == pytest.approx(12 / math.sqrt(2))  # across the diagonal hull edge
    assert m["feret_max_px"] == pytest.approx(math.hypot(10, 10))


def test_min_feret_of_equilateral_triangle_is_its_height() -> None:
    tri = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3) / 2]])
    fmax, fmin = feret_diameters(tri)
    assert fmax == pytest.approx(1.0)
    assert fmin == pytest.approx(math.sqrt(3) / 2)


@settings(max_examples=30, deadline=None)
@given(st.floats(0, 180), st.floats(2, 50), st.floats(1, 50))
def test_feret_of_rotated_rectangle(angle: float, w: float, h: float) -> None:
    from shapely import affinity

    rect = affinity.rotate(box(0, 0, w, h), angle)
    fmax, fmin = feret_diameters(shapely.get_coordinates(rect))
    assert fmax == pytest.approx(math.hypot(w, h), rel=1e-9)
    assert fmin == pytest.approx(min(w, h), rel=1e-9)


def test_keyhole_polygon_rasterises_to_polygon_minus_holes() -> None:
    """A hole survives the COCO polygon form: pixels off by at most the boundary band."""
    outer = Point(50, 50).buffer(30, 16)
    holes = [Point(45, 45).buffer(8, 8), Point(62, 60).buffer(5, 8)]
    geom = outer.difference(shapely.union_all(holes))
    polys = to_coco_polygons(geom)
    assert len(polys) == 1  # one ring, holes entered by vertical slits
    mask = _decode(rasterise_coco_polygons(polys, 100, 100))
    yy, xx = np.mgrid[0:100, 0:100] + 0.5
    centres = shapely.points(xx.ravel(), yy.ravel())
    inside = shapely.contains(geom, centres).reshape(100, 100)
    near = (shapely.distance(geom.boundary, centres) < 0.75).reshape(100, 100)
    assert not mask[45, 45] and not mask[60, 62]  # hole centres are empty
    assert np.all(mask[~near] == inside[~near])
    assert abs(int(mask.sum()) - geom.area) < 0.1 * geom.area


def test_multi_part_geometry_gives_one_polygon_per_part() -> None:
    geom = shapely.union_all([box(1, 1, 6, 6), box(10, 10, 20, 14)])
    polys = to_coco_polygons(geom)
    assert len(polys) == 2
    mask = _decode(rasterise_coco_polygons(polys, 30, 30))
    assert int(mask.sum()) == 25 + 40


@pytest.mark.parametrize("ecd", [4.0, 20.0, 150.0])
@pytest.mark.parametrize("roughness", [0.0, 1.0])
def test_floc_outline_has_requested_ecd_and_is_valid(ecd: float, roughness: float) -> None:
    rng = np.random.default_rng(3)
    outline = floc_outline(rng, ecd, roughness, stretch=1.4)
    assert outline.is_valid and isinstance(outline, Polygon)
    # simplification after exact scaling moves the area by a fraction of a pixel per vertex
    assert geometry_metrics(outline)["ecd_px"] == pytest.approx(ecd, rel=0.03)
    assert abs(outline.centroid.x) < 0.05 * ecd + 0.5 and abs(outline.centroid.y) < 0.05 * ecd + 0.5


def test_rougher_outlines_are_less_convex() -> None:
    rng = np.random.default_rng(5)
    smooth = [geometry_metrics(floc_outline(rng, 80, 0.0, 1.0))["convexity"] for _ in range(8)]
    rough = [geometry_metrics(floc_outline(rng, 80, 1.0, 1.0))["convexity"] for _ in range(8)]
    assert np.mean(rough) < np.mean(smooth) - 0.05


def test_split_outline_conserves_area() -> None:
    rng = np.random.default_rng(11)
    outline = floc_outline(rng, 60, 0.5, 1.2)
    pieces = split_outline(outline, rng, min_area_px=0.0)
    assert len(pieces) >= 2
    assert sum(p.area for p in pieces) == pytest.approx(outline.area, rel=1e-9)


@pytest.mark.parametrize("angle", [0.0, 17.0, 45.0, 101.0])
def test_ellipse_aspect_ratio_is_exact_for_rectangles_and_ellipses(angle: float) -> None:
    from shapely import affinity

    rect = affinity.rotate(box(0, 0, 40, 10), angle)  # var ~ side^2 / 12 per axis: ratio of sides
    assert geometry_metrics(rect)["aspect_ratio_ellipse"] == pytest.approx(0.25, abs=1e-9)
    ellipse = affinity.rotate(affinity.scale(Point(0, 0).buffer(1, 512), 30, 12), angle)
    assert geometry_metrics(ellipse)["aspect_ratio_ellipse"] == pytest.approx(0.4, abs=1e-4)


def test_area_moments_subtract_holes_and_add_parts() -> None:
    from flocshape.synth.geometry import area_moments

    holed = Polygon(box(0, 0, 40, 40).exterior.coords, [box(10, 10, 30, 30).exterior.coords])
    area, vxx, vyy, vxy = area_moments(holed)
    assert area == pytest.approx(1200.0)
    assert vxx == pytest.approx((40**4 - 20**4) / 12 / 1200) and vxy == pytest.approx(0.0, abs=1e-9)
    assert vyy == pytest.approx(vxx)
    two = shapely.union(box(0, 0, 10, 10), box(30, 0, 40, 10))  # two squares side by side: elongated along x
    area, vxx, vyy, _ = area_moments(two)
    assert (
        area == pytest.approx(200.0)
        and vxx == pytest.approx(100 / 12 + 15**2)
        and vyy == pytest.approx(100 / 12)
    )


def test_ellipse_aspect_ratio_agrees_with_the_raster_measurement_of_the_same_outline() -> None:
    from flocshape.shape.measure import measure_labelmap

    rng = np.random.default_rng(3)
    outline = shapely.affinity.translate(floc_outline(rng, 60.0, 0.5, 2.2), 100, 100)
    exact = geometry_metrics(outline)["aspect_ratio_ellipse"]
    mask = _decode(rasterise_coco_polygons(to_coco_polygons(outline), 200, 200))
    raster = measure_labelmap(mask.astype(np.uint16))["aspect_ratio_ellipse"].iloc[0]
    assert exact < 0.6 and raster == pytest.approx(exact, rel=0.01)  # pixel squares vs the polygon
