"""Shared data for the labelling round-trip tests: a small predicted frame set, and YOLO labels read back as masks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from fixtures_coco import make_coco

from flocshape.convert.rings import ring_to_mask
from flocshape.masks import decode_segmentation, encode_rle

HEIGHT, WIDTH = 64, 80


def _special_masks() -> list[np.ndarray]:
    """Masks no single polygon can hold: a ring (hole) and two pieces touching only at a corner."""
    ring = np.zeros((HEIGHT, WIDTH), bool)
    ring[20:40, 30:52] = True
    ring[26:33, 36:44] = False
    corner = np.zeros((HEIGHT, WIDTH), bool)
    corner[50:56, 5:11] = True
    corner[56:60, 11:15] = True
    return [ring, corner]


def make_predictions(root: Path) -> dict[str, Any]:
    """Six 64x80 frames ``0001.jpg``.. with a submission-style results list (RLE, scores, bboxes).

    Returns paths (``images``, ``images_json``, ``pred``), ``masks``: image id -> masks in submission order,
    and ``names``: image id -> file name. Frame ``0001.jpg`` also holds a ring and a corner-touching pair.
    """
    src = make_coco(root / "src", n_frames=6, height=HEIGHT, width=WIDTH, instances_per_frame=5, seed=3)
    coco = json.loads(src["rle"].read_text())
    names = {im["id"]: im["file_name"] for im in coco["images"]}
    first = next(i for i, n in names.items() if n == "0001.jpg")
    segs = [(a["image_id"], a["segmentation"]) for a in coco["annotations"]]
    segs += [(first, encode_rle(m)) for m in _special_masks()]
    preds, masks = [], {i: [] for i in names}
    for k, (image_id, seg) in enumerate(segs):
        mask = decode_segmentation(seg, HEIGHT, WIDTH)
        ys, xs = np.nonzero(mask)
        bbox = [float(xs.min()), float(ys.min()), float(np.ptp(xs) + 1), float(np.ptp(ys) + 1)]
        preds.append(
            {
                "image_id": image_id,
                "category_id": 1,
                "bbox": bbox,
                "score": round(0.95 - 0.02 * k, 3),
                "segmentation": seg,
            }
        )
        masks[image_id].append(mask)
    pred = root / "submission.json"
    pred.write_text(json.dumps(preds))
    return {"images": src["images"], "images_json": src["rle"], "pred": pred, "masks": masks, "names": names}


def yolo_masks(label_file: Path, height: int, width: int) -> list[np.ndarray]:
    """The rows of a YOLO-seg label file rasterised back (pycocotools fill) to masks, in row order."""
    out = []
    for row in label_file.read_text().splitlines():
        vals = np.array([float(v) for v in row.split()[1:]]).reshape(-1, 2)
        out.append(ring_to_mask(vals * [width, height], height, width))
    return out


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks."""
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else 1.0
