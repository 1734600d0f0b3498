"""The training budget of a few-shot fine-tune (``train/recipes/finetune.yaml``) for N training images.

The budget is set as a number of epochs, so that a fine-tune gives the same model on a busy machine as on an idle
one (only slower): 18 s of training per image on 2 idle CPU cores, at least 4 and at most 12 minutes, turned into
epochs with the training throughput measured there (:data:`IMAGES_PER_SECOND_512` at imgsz 512, scaled by pixel
count for other sizes). On 2 idle cores the whole fine-tune (training plus the choice of post-processing on the
validation frames) then stays within 15 minutes.
"""

from __future__ import annotations

import math

SECONDS_PER_IMAGE = 18.0
MIN_MINUTES = 4.0
MAX_MINUTES = 12.0
IMAGES_PER_SECOND_512 = (
    3.6  # yolov8n-seg, batch 8, mosaic, 2 idle CPU cores (291 EMPS images x 9 epochs in 12 min)
)


def budget_minutes(n_images: int) -> float:
    """Training minutes on 2 idle CPU cores for ``n_images`` training images (>= 1)."""
    if n_images < 1:
        raise ValueError(f"n_images must be >= 1, not {n_images}")
    return min(MAX_MINUTES, max(MIN_MINUTES, n_images * SECONDS_PER_IMAGE / 60.0))


def budget_hours(n_images: int) -> float:
    """The same budget as a wall-time cap in hours (Ultralytics' ``time``)."""
    return round(budget_minutes(n_images) / 60.0, 4)


def budget_epochs(n_images: int, imgsz: int = 512) -> int:
    """Epochs that fill :func:`budget_minutes` on 2 idle CPU cores at ``imgsz`` (at least 1)."""
    if imgsz < 32:
        raise ValueError(f"imgsz must be >= 32, not {imgsz}")
    images_per_second = IMAGES_PER_SECOND_512 * (512.0 / imgsz) ** 2
    return max(1, math.ceil(budget_minutes(n_images) * 60.0 * images_per_second / n_images))
