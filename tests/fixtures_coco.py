"""Small random COCO datasets of blob-like instances, for the converter tests (import: ``from fixtures_coco import
make_coco``).

Not the project's realistic floc synthesiser (``datasets/synthesize.py``): this only needs shapes that exercise the
format layer: smooth star-shaped blobs (:func:`flocshape.testing.blob_polygon`), some with a hole (RLE only: a COCO
polygon cannot hold a hole), some in two separate parts, a few touching the frame border. Frames are named
``0001.jpg, 0002.jpg, ...`` (video-frame style). Deterministic for a seed; lengths in px.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from flocshape.masks import encode_rle
from flocshape.testing import blob_polygon


def _poly_mask(polys: list[np.ndarray], height: int, width: int) -> np.ndarray:
    rles = mask_utils.frPyObjects([p.reshape(-1).tolist() for p in polys], height, width)
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)


def random_instance(
    rng: np.random.Generator,
    height: int,
    width: int,
    radius_px: tuple[float, float] = (4.0, 40.0),
    p_hole: float = 0.15,
    p_two_parts: float = 0.1,
) -> tuple[list[np.ndarray], np.ndarray]:
    """One instance: ``(polygon parts, mask)``; the mask may have a hole the polygons do not show."""
    radius = float(np.exp(rng.uniform(np.log(radius_px[0]), np.log(radius_px[1]))))
    cx, cy = (
        rng.uniform(-radius * 0.5, width + radius * 0.5),
        rng.uniform(-radius * 0.5, height + radius * 0.5),
    )
    parts = [blob_polygon(rng, cx, cy, radius)]
    if rng.random() < p_two_parts:
        ang = rng.uniform(0, 2 * np.pi)
        d = radius * rng.uniform(1.6, 2.4)
        parts.append(
            blob_polygon(rng, cx + d * np.cos(ang), cy + d * np.sin(ang), radius * rng.uniform(0.3, 0.6))
        )
    mask = _poly_mask(parts, height, width)
    if radius > 8 and rng.random() < p_hole:
        hole = _poly_mask([blob_polygon(rng, cx, cy, radius * rng.uniform(0.2, 0.35), 24)], height, width)
        mask &= ~hole
    return parts, mask


def make_coco(
    out_dir: str | Path,
    n_frames: int = 4,
    height: int = 96,
    width: int = 128,
    instances_per_frame: int = 6,
    seed: int = 0,
    radius_px: tuple[float, float] = (4.0, 20.0),
    write_jpeg: bool = True,
) -> dict[str, Path]:
    """Write ``images/NNNN.jpg`` plus ``rle.json`` (compressed RLE, str counts) and ``polygon.json``.

    Image ids are a shuffled range (never equal to the frame number). Returns the paths.
    """
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    ids = rng.permutation(np.arange(101, 101 + n_frames)).tolist()
    images, anns_rle, anns_poly = [], [], []
    ann_id = 1
    for frame in range(1, n_frames + 1):
        name = f"{frame:04d}.jpg"
        image_id = int(ids[frame - 1])
        images.append({"id": image_id, "file_name": name, "height": height, "width": width})
        canvas = np.full((height, width), 20, dtype=np.uint8)
        for _ in range(instances_per_frame):
            parts, mask = random_instance(rng, height, width, radius_px)
            if not mask.any():
                continue
            canvas[mask] = 200
            common: dict[str, Any] = {
                "id": ann_id,
                "image_id": image_id,
                "category_id": 1,
                "iscrowd": 0,
                "area": int(mask.sum()),
                "bbox": [float(v) for v in mask_utils.toBbox(encode_rle(mask))],
            }
            anns_rle.append({**common, "segmentation": encode_rle(mask)})
            anns_poly.append({**common, "segmentation": [np.round(p, 2).reshape(-1).tolist() for p in parts]})
            ann_id += 1
        if write_jpeg:
            cv2.imwrite(str(out / "images" / name), canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])
    cats = [{"id": 1, "name": "Normal"}]
    paths = {"images": out / "images", "rle": out / "rle.json", "polygon": out / "polygon.json"}
    for key, anns in (("rle", anns_rle), ("polygon", anns_poly)):
        paths[key].write_text(
            json.dumps({"images": images, "annotations": anns, "categories": cats}), encoding="utf-8"
        )
    return paths
