"""Floc outlines: fractal-ish unions of jittered ellipses and thin fibres around a random skeleton.

A floc is built in its own frame (centroid at the origin, px units) from three generations of ellipses:
core lobes along a short random-walk skeleton, medium lobes centred on the core's outline, and small lobes
plus thin fibres on the medium outline. ``roughness`` (0-1) sets how many small lobes and fibres there are
(0: smooth cauliflower, 1: ragged, fibrous); ``stretch`` >= 1 stretches the whole outline along x
(elongation); the result is scaled to the requested equivalent circle diameter (ECD, px) exactly.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from flocshape.synth.geometry import polygon_parts


def ellipse_polygons(lobes: np.ndarray, n_vertices: int) -> np.ndarray:
    """Shapely polygons (array) of ellipses ``lobes[:, (cx, cy, a, b, theta_rad)]`` with ``n_vertices`` each."""
    t = np.linspace(0.0, 2.0 * math.pi, n_vertices, endpoint=False)
    cx, cy, a, b, th = (lobes[:, i : i + 1] for i in range(5))
    ex, ey = a * np.cos(t), b * np.sin(t)
    x = cx + ex * np.cos(th) - ey * np.sin(th)
    y = cy + ex * np.sin(th) + ey * np.cos(th)
    return shapely.polygons(np.stack([x, y], axis=-1))


def _points_on_outline(geom: BaseGeometry, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random points on the exterior of ``geom`` (its largest part), ``(count, 2)``."""
    part = max(polygon_parts(geom), key=lambda p: p.area)
    ring = part.exterior
    dist = rng.uniform(0.0, ring.length, size=count)
    return shapely.get_coordinates(shapely.line_interpolate_point(ring, dist))


def _largest_part(geom: BaseGeometry) -> Polygon:
    """The largest polygon of ``geom``."""
    return max(polygon_parts(geom), key=lambda p: p.area)


def _lobes_around(
    points: np.ndarray, radius: float, rng: np.random.Generator, aspect_max: float
) -> np.ndarray:
    """Ellipse parameters centred on ``points`` with semi-axes near ``radius`` (jittered)."""
    n = len(points)
    a = radius * rng.uniform(0.6, 1.3, n)
    b = a / rng.uniform(1.0, aspect_max, n)
    jitter = rng.normal(0.0, 0.25 * radius, (n, 2))
    th = rng.uniform(0.0, math.pi, n)
    return np.column_stack([points + jitter, a, b, th])


def _fibres(points: np.ndarray, length: float, rng: np.random.Generator) -> np.ndarray:
    """Thin ellipses (fibres) starting at ``points`` and pointing outward from the origin."""
    n = len(points)
    outward = np.arctan2(points[:, 1], points[:, 0]) + rng.normal(0.0, 0.6, n)
    half = 0.5 * length * rng.uniform(0.5, 1.5, n)
    width = np.maximum(0.06 * length, 0.02) * rng.uniform(0.5, 1.2, n)
    cx = points[:, 0] + half * 0.8 * np.cos(outward)
    cy = points[:, 1] + half * 0.8 * np.sin(outward)
    return np.column_stack([cx, cy, half, width, outward])


def floc_outline(
    rng: np.random.Generator, ecd_px: float, roughness: float, stretch: float, simplify_px: float = 0.15
) -> Polygon:
    """A random floc outline centred at its centroid, scaled to equivalent circle diameter ``ecd_px``.

    Built at unit scale (core radius 1), stretched by ``stretch`` along x, rescaled so the area is
    ``pi * ecd_px**2 / 4`` exactly, then simplified by ``simplify_px`` (Douglas-Peucker, px). Small flocs
    get fewer vertices (the lobe detail is below a pixel anyway).
    """
    n_core = int(rng.integers(2, 6))
    steps = rng.normal(0.0, 0.7, (n_core, 2))
    skeleton = np.cumsum(steps, axis=0)
    skeleton -= skeleton.mean(axis=0)
    core = _lobes_around(skeleton, 1.0, rng, aspect_max=1.6)
    verts = 16 if ecd_px > 60 else 10
    body = shapely.union_all(ellipse_polygons(core, verts))
    n_mid = int(6 + 10 * roughness + rng.integers(0, 5))
    mid = _lobes_around(_points_on_outline(body, n_mid, rng), 0.45, rng, aspect_max=2.0)
    body = shapely.union_all(np.append(ellipse_polygons(mid, verts), body))
    pieces = [body]
    n_small = int(round((4 + 30 * roughness) * (1.0 if ecd_px > 25 else 0.4)))
    if n_small:
        small = _lobes_around(_points_on_outline(body, n_small, rng), 0.15 + 0.1 * (1 - roughness), rng, 2.5)
        pieces.extend(ellipse_polygons(small, 8))
    n_fibre = int(rng.poisson(8 * roughness**2 * (1.0 if ecd_px > 30 else 0.3)))
    if n_fibre:
        pieces.extend(ellipse_polygons(_fibres(_points_on_outline(body, n_fibre, rng), 0.45, rng), 8))
    outline = _largest_part(shapely.union_all(pieces))
    outline = Polygon(outline.exterior, [h for h in outline.interiors if Polygon(h).area > 0.02])
    outline = affinity.scale(outline, xfact=stretch, yfact=1.0, origin=(0, 0))
    return normalise_outline(outline, ecd_px, simplify_px)


def normalise_outline(outline: BaseGeometry, ecd_px: float, simplify_px: float) -> Polygon:
    """Centre ``outline`` on its centroid, scale it to ECD ``ecd_px``, simplify by ``simplify_px``."""
    c = outline.centroid
    outline = affinity.translate(outline, -c.x, -c.y)
    scale = math.sqrt(math.pi * ecd_px**2 / 4.0 / outline.area)
    outline = affinity.scale(outline, scale, scale, origin=(0, 0))
    simple = outline.simplify(simplify_px, preserve_topology=True)
    simple = _largest_part(simple.buffer(0)) if not simple.is_valid else simple
    return _largest_part(simple)


def split_outline(outline: Polygon, rng: np.random.Generator, min_area_px: float = 4.0) -> list[Polygon]:
    """Break ``outline`` along a random line through its centroid; each piece above ``min_area_px`` is kept.

    Returns the pieces in the outline's own coordinates (not re-centred); an empty list if the cut
    leaves fewer than two pieces.
    """
    c = outline.centroid
    angle = rng.uniform(0.0, math.pi)
    r = 4.0 * math.sqrt(outline.area) + 10.0
    d = np.array([math.cos(angle), math.sin(angle)])
    nrm = np.array([-d[1], d[0]])
    p0 = np.array([c.x, c.y]) + rng.normal(0.0, 0.1 * math.sqrt(outline.area)) * nrm
    half = Polygon([p0 - r * d, p0 + r * d, p0 + r * d + r * nrm, p0 - r * d + r * nrm])
    pieces = polygon_parts(outline.intersection(half), min_area_px)
    pieces += polygon_parts(outline.difference(half), min_area_px)
    return pieces if len(pieces) >= 2 else []
