"""Synthetic ground truth + predictions with known defects, for tests and benchmarks of the scoring code.

Particles are filled ellipses placed one per cell of a grid (so GT masks never overlap). Predictions are
jittered copies of the GT (some GT are missed), plus optional defects whose effect on the hackathon metric
is known: ``duplicates`` (a second, lower-score, slightly shifted copy of a GT: IoU with the first
prediction well above 0.5), ``fragments`` (low-score pieces inside a GT, IoU with it about 0.15-0.35: a
duplicate for the hackathon metric, invisible to IoU-NMS) and ``background`` (low-score blobs away from
every GT: free for the hackathon metric, false positives for the strict one). Sizes in px; deterministic
for a seed.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from flocshape.masks import encode_rle


def ellipse_mask(
    height: int, width: int, cx: float, cy: float, ax: float, ay: float, angle_deg: float
) -> np.ndarray:
    """A filled ellipse (centre ``cx, cy``, semi-axes ``ax, ay`` in px, angle in degrees) as a bool mask."""
    canvas = np.zeros((height, width), np.uint8)
    cv2.ellipse(
        canvas, (round(cx), round(cy)), (max(1, round(ax)), max(1, round(ay))), angle_deg, 0, 360, 1, -1
    )
    return canvas.astype(bool)


def _frame(
    rng: np.random.Generator,
    height: int,
    width: int,
    n_gt: int,
    miss_fraction: float,
    duplicates: int,
    fragments: int,
    background: int,
) -> tuple[list[np.ndarray], list[tuple[np.ndarray, float]]]:
    cols = int(np.ceil(np.sqrt(2 * n_gt * width / height)))
    rows = int(np.ceil(2 * n_gt / cols))
    cell_h, cell_w = height / rows, width / cols
    cells = rng.permutation(rows * cols)
    gt_cells, free_cells = cells[:n_gt], cells[n_gt:]
    gts, params = [], []
    for cell in gt_cells:
        r, c = divmod(int(cell), cols)
        a_max = 0.45 * min(cell_h, cell_w)
        ax, ay = rng.uniform(0.5, 1.0) * a_max, rng.uniform(0.4, 1.0) * a_max
        cx, cy = (c + 0.5) * cell_w + rng.uniform(-0.05, 0.05) * cell_w, (r + 0.5) * cell_h
        angle = rng.uniform(0, 180)
        params.append((cx, cy, ax, ay, angle))
        gts.append(ellipse_mask(height, width, cx, cy, ax, ay, angle))
    preds: list[tuple[np.ndarray, float]] = []
    found = rng.random(n_gt) >= miss_fraction
    for (cx, cy, ax, ay, angle), hit in zip(params, found, strict=True):
        if hit:
            j = 0.08 * min(ax, ay)
            m = ellipse_mask(
                height,
                width,
                cx + rng.normal(0, j),
                cy + rng.normal(0, j),
                ax * rng.uniform(0.9, 1.1),
                ay * rng.uniform(0.9, 1.1),
                angle + rng.normal(0, 5),
            )
            preds.append((m, float(rng.uniform(0.5, 1.0))))
    hit_idx = np.flatnonzero(found)
    for k in rng.choice(hit_idx, size=min(duplicates, hit_idx.size), replace=False):
        cx, cy, ax, ay, angle = params[k]
        m = ellipse_mask(height, width, cx + 0.1 * ax, cy, ax, ay, angle)
        preds.append((m, float(rng.uniform(0.3, 0.5))))
    for k in rng.choice(n_gt, size=min(fragments, n_gt), replace=False):
        cx, cy, ax, ay, angle = params[k]
        m = ellipse_mask(height, width, cx, cy, ax * 0.45, ay * 0.45, angle)
        preds.append((m, float(rng.uniform(0.0, 0.2))))
    for cell in free_cells[:background]:
        r, c = divmod(int(cell), cols)
        a = 0.2 * min(cell_h, cell_w)
        preds.append(
            (
                ellipse_mask(height, width, (c + 0.5) * cell_w, (r + 0.5) * cell_h, a, a, 0),
                float(rng.uniform(0, 0.2)),
            )
        )
    order = rng.permutation(len(preds))
    return gts, [preds[i] for i in order]


def synthetic_scoring_set(
    seed: int = 0,
    n_images: int = 4,
    height: int = 96,
    width: int = 128,
    n_gt: int = 8,
    miss_fraction: float = 0.1,
    duplicates: int = 0,
    fragments: int = 0,
    background: int = 0,
    n_distinct: int | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A COCO ground truth (RLE, one category "Normal") and a matching predictions list (hackathon format).

    ``duplicates`` / ``fragments`` / ``background`` are counts per image (see the module docstring).
    ``n_distinct`` frames are generated and reused cyclically (cheap large sets for benchmarks); image ids
    are ``1000 + index``.
    """
    rng = np.random.default_rng(seed)
    distinct = [
        _frame(rng, height, width, n_gt, miss_fraction, duplicates, fragments, background)
        for _ in range(min(n_images, n_distinct or n_images))
    ]
    encoded = [([encode_rle(m) for m in g], [(encode_rle(m), s) for m, s in p]) for g, p in distinct]
    images, anns, preds = [], [], []
    for i in range(n_images):
        image_id = 1000 + i
        images.append({"id": image_id, "file_name": f"{i + 1:04d}.jpg", "height": height, "width": width})
        gt_rles, pred_rles = encoded[i % len(encoded)]
        for rle in gt_rles:
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": image_id,
                    "category_id": 1,
                    "segmentation": rle,
                    "iscrowd": 0,
                }
            )
        for rle, score in pred_rles:
            preds.append({"image_id": image_id, "category_id": 1, "score": score, "segmentation": rle})
    gt = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "Normal"}]}
    return gt, preds
