"""Outlines drawn on frames (``--save-overlays``): ``OUT/overlays/<frame stem>.jpg``, JPEG quality 90."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from flocshape.fsio import atomic_write_bytes
from flocshape.infer.engine import Instance

JPEG_QUALITY = 90


def draw_overlay(image_bgr: np.ndarray, instances: list[Instance]) -> np.ndarray:
    """The frame with each instance's outline (green, 1 px; 2 px for frames over 1000 px) drawn on it."""
    out = image_bgr.copy()
    thickness = 2 if max(out.shape[:2]) > 1000 else 1
    for inst in instances:
        contours, _ = cv2.findContours(
            inst.crop.mask.astype(np.uint8),
            cv2.RETR_EXTERNAL,
            cv2.CHAIN_APPROX_NONE,
            offset=(inst.crop.x0, inst.crop.y0),
        )
        cv2.drawContours(out, contours, -1, (0, 255, 0), thickness)
    return out


def write_overlay(folder: Path, stem: str, image_bgr: np.ndarray, instances: list[Instance]) -> None:
    """Write :func:`draw_overlay` of the frame as ``folder/<stem>.jpg`` (atomic; nothing when encoding fails)."""
    ok, buf = cv2.imencode(
        ".jpg", draw_overlay(image_bgr, instances), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    )
    if ok:
        atomic_write_bytes(folder / f"{stem}.jpg", buf.tobytes())
