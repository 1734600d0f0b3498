"""Deterministic test data: toy frames and datasets, a fake prediction run, blob outlines, and a plain-loop
transcription of the hackathon F1. Used by the tests, the benchmarks and ``benchmarks/gpu_check.sh``; nothing in the
pipeline imports it.

* Toy particles (:func:`make_toy_dataset`, :func:`make_toy_frames`): white ellipses on a dark background, fast to
  make and learnable in seconds. Not the project's synthetic stand-in (``datasets/synthesize.py``). Images are
  8-bit 3-channel JPEG; YOLO-seg labels hold one polygon per particle, normalised to ``[0, 1]``, class 0 =
  "Normal"; the COCO truth uses compressed RLE with ``category_id`` 1.
* :func:`make_fake_run`: a run folder as ``infer/predict.py`` writes it (frames, ``submission.json``,
  ``particles.parquet``, ``manifest.json``) without a model: each drawn ellipse is one prediction, and the
  particle table is measured by the project's own measurement (:func:`flocshape.shape.measure.measure_instances`,
  as ``infer/predict.py`` does).
* :func:`blob_polygon`: smooth star-shaped outlines (Fourier-perturbed radius) for the format-layer tests and
  benchmark.
* :func:`reference_hackathon_f1`: the organisers' "F1 with IoU" written as plain loops over decoded masks, the
  reference the fast implementation (:func:`flocshape.score.hackathon.hackathon_f1`) is checked and timed against.

Everything is deterministic for a seed. Lengths are in px; angles in degrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from flocshape.fsio import atomic_write_bytes, atomic_write_json
from flocshape.manifest import build_manifest, write_manifest
from flocshape.masks import decode_segmentation, encode_rle, mask_iou
from flocshape.shape.measure import concat_tables, measure_instances

FAKE_RUN_TOOL = "flocshape.testing.make_fake_run"


@dataclass(frozen=True)
class Ellipse:
    """An ellipse particle: centre (px), semi-axes (px), rotation (degrees, counter-clockwise in image view)."""

    cx: float
    cy: float
    semi_major_px: float
    semi_minor_px: float
    angle_deg: float

    def polygon(self, n_points: int = 32) -> np.ndarray:
        """``(n, 2)`` boundary points (x, y) in px."""
        t = np.linspace(0, 2 * np.pi, n_points, endpoint=False)
        a, b, th = self.semi_major_px, self.semi_minor_px, np.deg2rad(self.angle_deg)
        x = self.cx + a * np.cos(t) * np.cos(th) - b * np.sin(t) * np.sin(th)
        y = self.cy + a * np.cos(t) * np.sin(th) + b * np.sin(t) * np.cos(th)
        return np.stack([x, y], axis=1)


def random_ellipses(
    rng: np.random.Generator, height: int, width: int, count: int, radius_px: tuple[float, float]
) -> list[Ellipse]:
    """Up to ``count`` non-overlapping ellipses fully inside a ``height x width`` frame."""
    placed: list[Ellipse] = []
    for _ in range(count * 20):
        if len(placed) >= count:
            break
        a = rng.uniform(*radius_px)
        b = a * rng.uniform(0.45, 1.0)
        cx, cy = rng.uniform(a + 2, width - a - 2), rng.uniform(a + 2, height - a - 2)
        if cx <= a or cy <= a:
            continue
        if all(np.hypot(cx - e.cx, cy - e.cy) > a + e.semi_major_px + 3 for e in placed):
            placed.append(Ellipse(cx, cy, a, b, rng.uniform(0, 180)))
    return placed


def render_frame(
    rng: np.random.Generator, height: int, width: int, ellipses: list[Ellipse]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """A BGR uint8 frame with the ellipses drawn bright on dark, and each particle's exact ``bool`` mask."""
    canvas = np.full((height, width), 25.0, dtype=np.float32)
    masks = []
    for e in ellipses:
        m = np.zeros((height, width), np.uint8)
        cv2.fillPoly(m, [np.round(e.polygon(64) * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
        masks.append(m.astype(bool))
        canvas[m.astype(bool)] = rng.uniform(180, 240)
    canvas = cv2.GaussianBlur(canvas, (0, 0), 0.8) + rng.normal(0, 6, canvas.shape).astype(np.float32)
    grey = np.clip(canvas, 0, 255).astype(np.uint8)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), masks


def _yolo_label_lines(ellipses: list[Ellipse], height: int, width: int) -> list[str]:
    lines = []
    for e in ellipses:
        pts = e.polygon(32) / np.array([width, height])
        pts = np.clip(pts, 0.0, 1.0)
        lines.append("0 " + " ".join(f"{v:.6f}" for v in pts.ravel()))
    return lines


def make_toy_dataset(
    out_dir: str | Path,
    n_train: int = 8,
    n_val: int = 2,
    height: int = 96,
    width: int = 128,
    particles: tuple[int, int] = (3, 8),
    radius_px: tuple[float, float] = (5.0, 14.0),
    seed: int = 0,
) -> Path:
    """Write ``images/{train,val}``, ``labels/{train,val}`` and ``data.yaml`` (absolute ``path``); return the YAML."""
    out_dir = Path(out_dir).absolute()
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        (out_dir / "images" / split).mkdir(parents=True, exist_ok=True)
        (out_dir / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            ellipses = random_ellipses(
                rng, height, width, int(rng.integers(*particles, endpoint=True)), radius_px
            )
            image, _ = render_frame(rng, height, width, ellipses)
            cv2.imwrite(
                str(out_dir / "images" / split / f"{i:04d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 95]
            )
            lines = _yolo_label_lines(ellipses, height, width)
            (out_dir / "labels" / split / f"{i:04d}.txt").write_text("\n".join(lines) + "\n")
    data = {"path": str(out_dir), "train": "images/train", "val": "images/val", "names": {0: "Normal"}}
    yaml_path = out_dir / "data.yaml"
    yaml_path.write_text(yaml.safe_dump(data, sort_keys=False))
    return yaml_path


def make_toy_frames(
    out_dir: str | Path,
    n_frames: int = 3,
    height: int = 96,
    width: int = 128,
    particles: tuple[int, int] = (3, 8),
    radius_px: tuple[float, float] = (5.0, 14.0),
    seed: int = 1,
    first_image_id: int = 100,
) -> tuple[list[Path], dict]:
    """Write ``NNNN.jpg`` frames (file number from 1) and return them with a COCO truth dict (compressed RLE).

    Image ids are ``first_image_id + k`` so they never equal the file number (like the hackathon files).
    """
    out_dir = Path(out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    coco: dict = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "Normal"}]}
    paths = []
    for k in range(n_frames):
        ellipses = random_ellipses(
            rng, height, width, int(rng.integers(*particles, endpoint=True)), radius_px
        )
        image, masks = render_frame(rng, height, width, ellipses)
        path = out_dir / f"{k + 1:04d}.jpg"
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        paths.append(path)
        image_id = first_image_id + k
        coco["images"].append({"id": image_id, "file_name": path.name, "height": height, "width": width})
        for m in masks:
            ys, xs = np.nonzero(m)
            bbox = [float(xs.min()), float(ys.min()), float(np.ptp(xs) + 1), float(np.ptp(ys) + 1)]
            coco["annotations"].append(
                {
                    "id": len(coco["annotations"]) + 1,
                    "image_id": image_id,
                    "category_id": 1,
                    "segmentation": encode_rle(m),
                    "area": float(m.sum()),
                    "bbox": bbox,
                    "iscrowd": 0,
                }
            )
    return paths, coco


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
    prediction within its image (submission order), scores are uniform in [0.3, 1). The particle table is
    measured on the drawn frame with :func:`flocshape.shape.measure.measure_instances` (``low_score`` all False).
    """
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    height, width = size
    records: list[dict[str, Any]] = []
    tables = []
    frames = []
    for frame in range(1, n_frames + 1):
        image, masks = draw_ellipses(rng, height, width, particles_per_frame, aspect_range)
        name, image_id = f"{frame:04d}.jpg", 100 + frame
        _, jpg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        atomic_write_bytes(folder / images_subdir / name, jpg.tobytes())
        frames.append({"file": name, "image_id": image_id})
        rles = [encode_rle(mask) for mask in masks]
        scores = [float(rng.uniform(0.3, 1.0)) for _ in masks]
        for mask, rle, score in zip(masks, rles, scores, strict=True):
            ys, xs = np.nonzero(mask)
            bbox = [float(xs.min()), float(ys.min()), float(np.ptp(xs) + 1), float(np.ptp(ys) + 1)]
            records.append(
                {"image_id": image_id, "category_id": 1, "bbox": bbox, "score": score, "segmentation": rle}
            )
        if masks:
            tables.append(measure_instances(rles, image, image_id, name, scores=scores,
                                            source=str(folder / "submission.json")))  # fmt: skip
    atomic_write_json(folder / "submission.json", records, indent=None)
    table = concat_tables(tables).assign(low_score=False)
    atomic_write_bytes(folder / "particles.parquet", table.to_parquet(index=False))
    args = {"source": str(folder / images_subdir), "seed": seed}
    write_manifest(folder, build_manifest(FAKE_RUN_TOOL, args, frames=frames))
    return folder


def blob_polygon(
    rng: np.random.Generator, cx: float, cy: float, radius: float, n_vertices: int = 48
) -> np.ndarray:
    """Star-shaped smooth blob around ``(cx, cy)``: (N, 2) pixel coordinates, radius in px."""
    theta = np.linspace(0.0, 2.0 * np.pi, n_vertices, endpoint=False)
    r = np.ones_like(theta)
    for k in range(2, 6):
        r += rng.normal(0.0, 0.12 / k) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    r = radius * np.clip(r, 0.4, 1.8)
    return np.stack([cx + r * np.cos(theta), cy + r * np.sin(theta)], axis=1)


def reference_hackathon_f1(
    gt: dict[str, Any], preds: list[dict[str, Any]], th: float = 0.1
) -> dict[str, Any]:
    """Direct transcription: plain loops over GT and predictions, each IoU from decoded masks."""
    sizes = {im["id"]: (im["height"], im["width"]) for im in gt["images"]}
    gt_masks: dict[int, list[np.ndarray]] = {image_id: [] for image_id in sizes}
    pred_masks: dict[int, list[np.ndarray]] = {image_id: [] for image_id in sizes}
    for ann in gt["annotations"]:
        gt_masks[ann["image_id"]].append(decode_segmentation(ann["segmentation"], *sizes[ann["image_id"]]))
    for pred in preds:
        if pred["image_id"] in sizes:  # predictions for images not in the GT are ignored
            pred_masks[pred["image_id"]].append(
                decode_segmentation(pred["segmentation"], *sizes[pred["image_id"]])
            )
    sum_iou, tp, fp, fn = 0.0, 0, 0, 0
    for image_id in sizes:
        gts, prs = gt_masks[image_id], pred_masks[image_id]
        if not prs:
            fn += len(gts)
            continue
        iou = [[mask_iou(g, p) for p in prs] for g in gts]
        assigned = [[0.0] * len(prs) for _ in gts]
        for j in range(len(prs)):
            column_max = max(iou[i][j] for i in range(len(gts))) if gts else 0.0
            for i in range(len(gts)):
                if iou[i][j] == column_max:
                    assigned[i][j] = iou[i][j]
        for i in range(len(gts)):
            best = max(assigned[i])
            if best > 0:
                tp += 1
                sum_iou += best
            else:
                fn += 1
            k = 0
            for j in range(len(prs)):
                if assigned[i][j] > th:
                    k += 1
            fp += max(0, k - 1)
    precision = sum_iou / (tp + fp) if tp + fp else 0.0
    recall = sum_iou / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "sum_iou": sum_iou,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }
