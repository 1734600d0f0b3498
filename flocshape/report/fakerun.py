"""A small synthetic run folder (frames, submission, particle table, manifest) for tests and demos.

White filled ellipses on a dark noisy background; each ellipse is one prediction. The particle table has the
contract-(1) columns the report reads, measured from the masks with scikit-image/shapely (plausible values,
not the project's reference measurement; that is :mod:`flocshape.shape`). Deterministic for a seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
from shapely.geometry import MultiPoint
from skimage.measure import perimeter_crofton, regionprops

from flocshape.fsio import atomic_write_bytes, atomic_write_json
from flocshape.manifest import build_manifest, write_manifest
from flocshape.masks import encode_rle

TOO_SMALL_PX = 30


def draw_ellipses(
    rng: np.random.Generator, height: int, width: int, n: int, aspect_range: tuple[float, float]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """A grey frame with ``n`` non-overlapping-ish white ellipses and their bool masks (semi-axes in px)."""
    image = rng.normal(25, 6, size=(height, width)).clip(0, 255).astype(np.uint8)
    masks = []
    occupied = np.zeros((height, width), bool)
    for _ in range(n * 4):
        if len(masks) == n:
            break
        major = float(rng.lognormal(np.log(12), 0.45))
        minor = major * rng.uniform(*aspect_range)
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        canvas = np.zeros((height, width), np.uint8)
        cv2.ellipse(
            canvas,
            (int(cx), int(cy)),
            (max(1, int(major)), max(1, int(minor))),
            float(rng.uniform(0, 180)),
            0,
            360,
            1,
            -1,
        )
        mask = canvas.astype(bool)
        if not mask.any() or (mask & occupied).any():
            continue
        occupied |= mask
        masks.append(mask)
        image[mask] = rng.normal(200, 15, size=int(mask.sum())).clip(0, 255).astype(np.uint8)
    return image, masks


def feret_min_max(mask: np.ndarray) -> tuple[float, float, float]:
    """Min and max Feret diameter [px] of the pixel-corner hull, and the max-Feret angle [deg]."""
    ys, xs = np.nonzero(mask)
    corners = np.concatenate([np.c_[xs + dx, ys + dy] for dx in (0, 1) for dy in (0, 1)])
    hull = MultiPoint(corners.astype(float)).convex_hull
    pts = np.asarray(hull.exterior.coords)[:-1]
    diff = pts[:, None, :] - pts[None, :, :]
    dist = np.hypot(diff[..., 0], diff[..., 1])
    i, j = np.unravel_index(np.argmax(dist), dist.shape)
    angle = float(np.degrees(np.arctan2(-(pts[j, 1] - pts[i, 1]), pts[j, 0] - pts[i, 0])) % 180)
    widths = []
    for k in range(len(pts)):
        a, b = pts[k], pts[(k + 1) % len(pts)]
        edge = b - a
        norm = np.hypot(*edge)
        if norm > 0:
            rel = pts - a
            widths.append(np.max(np.abs(edge[0] * rel[:, 1] - edge[1] * rel[:, 0])) / norm)
    return float(min(widths)), float(dist.max()), angle


def measure_mask(mask: np.ndarray, image: np.ndarray) -> dict[str, Any]:
    """Contract-(1) shape columns of one mask (plausible estimators, see module docstring)."""
    h, w = mask.shape
    props = regionprops(mask.astype(np.uint8))[0]
    area = float(mask.sum())
    perim = float(perimeter_crofton(mask, 4)) or 1.0
    hull_perim = float(perimeter_crofton(props.image_convex, 4)) or perim
    fmin, fmax, fangle = feret_min_max(mask)
    y0, x0, y1, x1 = props.bbox
    major, minor = float(props.axis_major_length), float(props.axis_minor_length)
    form_factor = 4 * np.pi * area / perim**2
    return {
        "area_px": area,
        "perimeter_px": perim,
        "ecd_px": float(np.sqrt(4 * area / np.pi)),
        "form_factor": form_factor,
        "circularity": float(np.sqrt(form_factor)),
        "convex_area_px": float(props.area_convex),
        "solidity": float(props.solidity),
        "convex_perimeter_px": hull_perim,
        "convexity": hull_perim / perim,
        "feret_max_px": fmax,
        "feret_min_px": fmin,
        "feret_angle_deg": fangle,
        "aspect_ratio_feret": fmin / fmax,
        "aspect_ratio_ellipse": minor / major if major else np.nan,
        "elongation": 1 - fmin / fmax,
        "roundness": 4 * area / (np.pi * fmax**2),
        "ellipse_major_px": major,
        "ellipse_minor_px": minor,
        "ellipse_orientation_deg": float(np.degrees(props.orientation)),
        "centroid_x_px": float(props.centroid[1]),
        "centroid_y_px": float(props.centroid[0]),
        "bbox_x_px": float(x0),
        "bbox_y_px": float(y0),
        "bbox_w_px": float(x1 - x0),
        "bbox_h_px": float(y1 - y0),
        "touches_border": bool(x0 == 0 or y0 == 0 or x1 == w or y1 == h),
        "mean_intensity": float(image[mask].mean()),
        "contrast": float(image[mask].mean() - 25.0),
        "sharpness": float("nan"),
        "too_small": bool(area < TOO_SMALL_PX),
        "image_height": h,
        "image_width": w,
    }


def make_fake_run(
    folder: str | Path,
    n_frames: int = 4,
    particles_per_frame: int = 25,
    seed: int = 0,
    aspect_range: tuple[float, float] = (0.45, 1.0),
    size: tuple[int, int] = (240, 320),
    images_subdir: str = "images",
) -> Path:
    """Write ``folder/{images/NNNN.jpg, submission.json, particles.parquet, manifest.json}``; return ``folder``.

    COCO image ids are ``100 + frame`` (never the file number), ``instance_id`` is the 0-based index of the
    prediction within its image (submission order), scores are uniform in [0.3, 1).
    """
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    height, width = size
    records: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    frames = []
    for frame in range(1, n_frames + 1):
        image, masks = draw_ellipses(rng, height, width, particles_per_frame, aspect_range)
        name = f"{frame:04d}.jpg"
        image_id = 100 + frame
        ok, jpg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        atomic_write_bytes(folder / images_subdir / name, jpg.tobytes())
        frames.append({"file": name, "image_id": image_id})
        for k, mask in enumerate(masks):
            score = float(rng.uniform(0.3, 1.0))
            ys, xs = np.nonzero(mask)
            bbox = [
                float(xs.min()),
                float(ys.min()),
                float(xs.max() - xs.min() + 1),
                float(ys.max() - ys.min() + 1),
            ]
            records.append(
                {
                    "image_id": image_id,
                    "category_id": 1,
                    "bbox": bbox,
                    "score": score,
                    "segmentation": encode_rle(mask),
                }
            )
            rows.append(
                {
                    "source": str(folder / "submission.json"),
                    "image_id": image_id,
                    "file_name": name,
                    "instance_id": k,
                    "score": score,
                    **measure_mask(mask, image),
                }
            )
    atomic_write_json(folder / "submission.json", records, indent=None)
    table = pd.DataFrame(rows)
    buf = table.to_parquet(index=False)
    atomic_write_bytes(folder / "particles.parquet", buf)
    write_manifest(
        folder,
        build_manifest(
            "flocshape.report.fakerun", {"source": str(folder / images_subdir), "seed": seed}, frames=frames
        ),
    )
    return folder
