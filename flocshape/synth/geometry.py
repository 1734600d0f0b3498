"""Exact truth geometry of particle outlines (shapely), and their COCO polygon / RLE form.

Conventions
-----------
* Coordinates are pixels, x to the right, y down; the pixel (row i, column j) covers ``[j, j+1) x [i, i+1)``
  (the pycocotools convention), so a frame is the box ``[0, W] x [0, H]``.
* Every measure here is computed from the continuous outline (polygon vertices), never from a raster:
  area in px^2, lengths in px. It is the "truth" the project's raster shape code is checked against.
* A COCO polygon cannot carry holes. A polygon with holes is written as one ring that enters each hole
  along a vertical slit (a "keyhole"); pycocotools fills polygons by even-odd crossings of pixel columns, and
  a vertical slit crosses no column, so the rasterised keyhole equals the polygon minus its holes exactly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from pycocotools import mask as mask_utils
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

from flocshape.shape.ellipse import covariance_axes

METRIC_NAMES = (
    "area_px",
    "perimeter_px",
    "ecd_px",
    "feret_max_px",
    "feret_min_px",
    "convexity",
    "solidity",
    "aspect_ratio_feret",
    "aspect_ratio_ellipse",
)


def polygon_parts(geom: BaseGeometry, min_part_area_px: float = 0.0) -> list[Polygon]:
    """The polygons of ``geom`` (Polygon, MultiPolygon or collection) with area above ``min_part_area_px``."""
    if geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        parts = [geom]
    elif isinstance(geom, MultiPolygon):
        parts = list(geom.geoms)
    else:
        parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]
        parts += [p for g in getattr(geom, "geoms", []) if isinstance(g, MultiPolygon) for p in g.geoms]
    return [p for p in parts if p.area > min_part_area_px]


def clean_area(geom: BaseGeometry, min_part_area_px: float) -> BaseGeometry:
    """``geom`` without polygon parts of area ``<= min_part_area_px`` (slivers of a difference)."""
    parts = polygon_parts(geom, min_part_area_px)
    if not parts:
        return Polygon()
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def in_frame_part(geom: BaseGeometry, height: int, width: int) -> BaseGeometry:
    """The part of ``geom`` inside the frame box ``[0, W] x [0, H]`` (``geom`` itself when it lies inside).

    The truth's visible part and the v2 renderer's particle core both start from this one geometry, so an
    unoccluded particle's label and its rendered core are rasterised from identical polygons.
    """
    minx, miny, maxx, maxy = geom.bounds
    if minx < 0 or miny < 0 or maxx > width or maxy > height:
        return geom.intersection(box(0.0, 0.0, float(width), float(height)))
    return geom


def feret_diameters(points: np.ndarray) -> tuple[float, float]:
    """Maximum and minimum Feret (caliper) diameters, px, of a point set ``(N, 2)``.

    Max = largest distance between two convex-hull vertices; min = smallest width over the hull's edge
    directions (rotating calipers: the minimum caliper width is always attained flush with a hull edge).
    """
    hull = shapely.convex_hull(shapely.multipoints(points))
    if not isinstance(hull, Polygon):  # degenerate: a point or a segment
        coords = np.asarray(hull.coords) if hasattr(hull, "coords") else points
        span = float(np.max(np.linalg.norm(coords[:, None] - coords[None], axis=-1))) if len(coords) else 0.0
        return span, 0.0
    v = np.asarray(hull.exterior.coords)[:-1]
    diff = v[:, None, :] - v[None, :, :]
    feret_max = float(np.sqrt((diff**2).sum(-1)).max())
    edges = np.roll(v, -1, axis=0) - v
    lengths = np.linalg.norm(edges, axis=1)
    keep = lengths > 0
    normals = np.stack([-edges[keep, 1], edges[keep, 0]], axis=1) / lengths[keep, None]
    dist = np.abs(np.einsum("eij,ej->ei", v[None, :, :] - v[keep][:, None, :], normals))
    feret_min = float(dist.max(axis=1).min())
    return feret_max, feret_min


def area_moments(geom: BaseGeometry) -> tuple[float, float, float, float]:
    """Area (px^2) and central second moments per unit area (``var_x``, ``var_y``, ``cov_xy``, px^2) of the region.

    Exact for polygons (Green's theorem over every ring, holes subtracted: exteriors counter-clockwise, holes
    clockwise); the continuous counterpart of the raster moment ellipse of ``flocshape.shape`` (covariance of the
    pixel *squares*).
    """
    if geom.is_empty:
        return 0.0, math.nan, math.nan, math.nan
    ox, oy = geom.bounds[:2]  # moments about a nearby origin: no cancellation for frame-sized coordinates
    a = sx = sy = sxx = syy = sxy = 0.0
    for poly in polygon_parts(geom):
        poly = orient(poly, sign=1.0)
        for ring in (poly.exterior, *poly.interiors):
            v = np.asarray(ring.coords) - (ox, oy)
            x0, y0, x1, y1 = v[:-1, 0], v[:-1, 1], v[1:, 0], v[1:, 1]
            c = x0 * y1 - x1 * y0
            a += c.sum() / 2.0
            sx += (c * (x0 + x1)).sum() / 6.0
            sy += (c * (y0 + y1)).sum() / 6.0
            sxx += (c * (x0 * x0 + x0 * x1 + x1 * x1)).sum() / 12.0
            syy += (c * (y0 * y0 + y0 * y1 + y1 * y1)).sum() / 12.0
            sxy += (c * (x0 * y1 + 2 * x0 * y0 + 2 * x1 * y1 + x1 * y0)).sum() / 24.0
    if a <= 0:
        return 0.0, math.nan, math.nan, math.nan
    cx, cy = sx / a, sy / a
    return float(a), float(sxx / a - cx * cx), float(syy / a - cy * cy), float(sxy / a - cx * cy)


def ellipse_aspect_ratio(geom: BaseGeometry) -> float:
    """Minor / major axis of the region's moment ellipse (``sqrt(lambda_min / lambda_max)`` of the covariance)."""
    area, vxx, vyy, vxy = area_moments(geom)
    if area <= 0:
        return math.nan
    lam_max, lam_min, _ = covariance_axes(vxx, vyy, vxy)
    return math.sqrt(lam_min / lam_max) if lam_max > 0 else math.nan


def geometry_metrics(geom: BaseGeometry) -> dict[str, float]:
    """Exact shape numbers of an area geometry (all parts together); NaN for an empty one.

    ``area_px`` (px^2), ``perimeter_px`` (all rings, holes included), ``ecd_px`` = sqrt(4A/pi),
    Feret diameters of the whole point set, ``convexity`` = convex-hull perimeter / perimeter,
    ``solidity`` = area / convex-hull area, ``aspect_ratio_feret`` = feret_min / feret_max (<= 1),
    ``aspect_ratio_ellipse`` = minor / major axis of the moment ellipse (:func:`ellipse_aspect_ratio`).
    """
    if geom.is_empty or geom.area <= 0:
        return dict.fromkeys(METRIC_NAMES, math.nan)
    area = float(geom.area)
    perimeter = float(geom.length)
    hull = geom.convex_hull
    coords = shapely.get_coordinates(geom)
    feret_max, feret_min = feret_diameters(coords)
    return {
        "area_px": area,
        "perimeter_px": perimeter,
        "ecd_px": math.sqrt(4.0 * area / math.pi),
        "feret_max_px": feret_max,
        "feret_min_px": feret_min,
        "convexity": float(hull.length / perimeter) if perimeter > 0 else math.nan,
        "solidity": float(area / hull.area) if hull.area > 0 else math.nan,
        "aspect_ratio_feret": feret_min / feret_max if feret_max > 0 else math.nan,
        "aspect_ratio_ellipse": ellipse_aspect_ratio(geom),
    }


def _ring_xy(ring: Any, decimals: int) -> np.ndarray:
    """Ring vertices (closing vertex dropped), rounded to ``decimals``."""
    return np.round(np.asarray(ring.coords)[:-1], decimals)


def _keyhole_ring(poly: Polygon, decimals: int) -> np.ndarray:
    """One ring for ``poly``: the exterior, entering every hole along a vertical slit (see module doc)."""
    ext = _ring_xy(poly.exterior, decimals)
    if not poly.interiors:
        return ext
    inserts: dict[int, list[tuple[float, np.ndarray]]] = {}
    n = len(ext)
    for hole in poly.interiors:
        h = _ring_xy(hole, decimals)
        k = int(np.argmin(h[:, 1]))  # top-most hole vertex; the slit goes straight up from it
        hx, hy = h[k]
        best: tuple[float, int, float] | None = None
        for i in range(n):
            (x0, y0), (x1, y1) = ext[i], ext[(i + 1) % n]
            if x0 == x1 or not (min(x0, x1) <= hx <= max(x0, x1)):
                continue
            t = (hx - x0) / (x1 - x0)
            y = y0 + t * (y1 - y0)
            if y < hy and (best is None or hy - y < best[0]):
                best = (hy - y, i, t)
        if best is None:  # cannot happen for a valid polygon; keep the exterior only
            continue
        _, i, t = best
        y_e = round(ext[i][1] + t * (ext[(i + 1) % n][1] - ext[i][1]), decimals)
        loop = np.vstack([np.roll(h, -k, axis=0), h[k : k + 1]])
        path = np.vstack([[hx, y_e], loop, [[hx, y_e]]])
        inserts.setdefault(i, []).append((t, path))
    out: list[np.ndarray] = []
    for i in range(n):
        out.append(ext[i : i + 1])
        for _, path in sorted(inserts.get(i, []), key=lambda tp: tp[0]):
            out.append(path)
    return np.vstack(out)


def to_coco_polygons(geom: BaseGeometry, decimals: int = 2) -> list[list[float]]:
    """COCO polygon list (flat ``[x0, y0, ...]`` per part) of an area geometry; holes become keyholes."""
    polys: list[list[float]] = []
    for part in polygon_parts(geom):
        ring = _keyhole_ring(part, decimals)
        if len(ring) >= 3:
            polys.append([float(v) for v in ring.reshape(-1)])
    return polys


def rasterise_coco_polygons(polygons: list[list[float]], height: int, width: int) -> dict[str, Any]:
    """Compressed RLE (``counts`` as ``str``) of the union of COCO polygons, by pycocotools ``frPyObjects``."""
    if not polygons:
        rle = mask_utils.encode(np.zeros((height, width), dtype=np.uint8, order="F"))
    else:
        rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    counts = rle["counts"]
    return {
        "size": [height, width],
        "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
    }
