"""A tiny, deterministic toy dataset (white ellipses on a dark background) for tests and benchmarks.

Not the project's synthetic stand-in (``datasets/synthesize.py``); this only needs to be fast and to give a
model something learnable in seconds. Conventions: images are 8-bit 3-channel JPEG/PNG; YOLO-seg labels hold one
polygon per particle, normalised to ``[0, 1]``; class 0 = "Normal"; the COCO truth uses compressed RLE with
``category_id`` 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from flocshape.masks import encode_rle


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
