"""Refine predicted instance masks against the frame's own grey levels (a local, per-particle edge threshold).

Why: YOLO-seg masks come from prototypes at 1/4 of the network input (at ``imgsz 640`` on a 1280-px frame, one
prototype cell is 8 frame pixels), so outlines are smoothed, thin tips are rounded off and masks bulge by about a
pixel. The particles are bright on a dark fluid, so the frame itself says where each edge is; the network is good
at *which* particle is where. This step keeps the network's instance and moves its outline to the image edge.

Method, per instance (in the order given; instances are independent of each other):

1. The grey frame is smoothed with a Gaussian of ``smooth_sigma_px`` (JPEG and sensor noise). Smoothing adds to
   the optical blur: straight edges stay at ``level`` 0.5 whatever it is, but thin arms and sharp corners lose
   contrast and retract, so it is a tuned setting (the shipped card: 0.5 px; before 2026-12 always 1 px).
2. ``background`` = median grey level of a ring ``grow_px .. grow_px + ring_px`` pixels outside the predicted mask
   (disc structuring elements), leaving out pixels of other predicted masks.
   ``particle`` = the ``particle_percentile`` percentile of the grey levels inside the predicted mask.
3. Edge level ``t = background + level * (particle - background)``; ``level`` is a fraction of the local contrast
   (0 = background, 1 = particle), tuned on labelled validation frames (``infer/refine_tune`` in the benchmarks).
4. New mask = pixels brighter than ``t`` (with ``inset_px > 0``: pixels whose first-order distance inside the
   ``t`` contour, ``(grey - t) / |grad grey|`` in px, exceeds ``inset_px``) within the predicted mask dilated by
   ``grow_px``, never taking pixels that belong to another predicted mask and not to this one; only the connected
   parts (8-connectivity) that overlap the predicted mask are kept, and holes are filled.
5. The predicted mask is kept unchanged when the contrast ``particle - background`` is under ``min_contrast`` grey
   levels, when the ring has fewer than 5 usable pixels (crowded), or when the new mask keeps under
   ``min_keep_frac`` of the predicted area (a dim particle the threshold would erase).

The outline can therefore move at most ``grow_px`` pixels outwards; inwards it can move freely (within rule 5).
Grey levels are those of the 8-bit frame (0-255).

Blur: the contour at ``level`` 0.5 of a blurred step edge stays where the edge is whatever the blur; any other level
moves inwards (> 0.5) or outwards (< 0.5) as the blur grows (for a Gaussian blur sigma by about
``sigma * Phi^-1(level)``: level 0.6 moves 0.25 sigma inwards). ``level 0.5`` with an ``inset_px`` places the outline
a fixed distance inside the half-contrast contour, independent of the blur.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np
from scipy import ndimage

from flocshape.infer.protomask import CropMask

_MIN_RING_PIXELS = 5
# px: RefineSettings' own default sigma of the Gaussian smoothing of the frame before thresholding, which is also
# the smoothing of a refinement recorded without one (model cards, tune_refine choices, run configs). Prediction
# does not read it: its default smoothing is `refine_smooth` of flocshape/cfg/predict.yaml (or a model card's, or
# a --cfg file's), resolved in flocshape.infer.settings.
DEFAULT_SMOOTH_PX = 1.0


@dataclass(frozen=True)
class RefineSettings:
    """Parameters of :func:`refine_crops` (see the module docstring for their roles; px = frame pixels)."""

    level: float = 0.3
    grow_px: int = 2
    ring_px: int = 4
    smooth_sigma_px: float = DEFAULT_SMOOTH_PX
    particle_percentile: float = 75.0
    min_contrast: float = 8.0
    min_keep_frac: float = 0.3
    inset_px: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 < self.level < 1.0:
            raise ValueError(f"refine level must be in (0, 1), got {self.level}")
        if self.grow_px < 0 or self.ring_px < 1:
            raise ValueError(
                f"refine grow_px must be >= 0 and ring_px >= 1, got {self.grow_px}, {self.ring_px}"
            )
        if not 0.0 <= self.inset_px <= 5.0:
            raise ValueError(f"refine inset_px must be in [0, 5], got {self.inset_px}")
        if not 0.0 <= self.smooth_sigma_px <= 5.0:
            raise ValueError(f"refine smooth_sigma_px must be in [0, 5], got {self.smooth_sigma_px}")
        if not 0.0 <= self.particle_percentile <= 100.0:
            raise ValueError(
                f"refine particle_percentile must be in [0, 100], got {self.particle_percentile}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for manifests and JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RefineSettings:
        """Settings from a dict with a subset of the fields (unknown keys are an error)."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown refine setting(s): {', '.join(sorted(unknown))}")
        return cls(**data)


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    if radius <= 0:
        return mask.copy()
    return cv2.dilate(mask.astype(np.uint8), _disc(radius)).astype(bool)


def coverage_count(crops: Sequence[CropMask], frame_hw: tuple[int, int]) -> np.ndarray:
    """How many of ``crops`` cover each frame pixel (``uint16``, ``H x W``)."""
    count = np.zeros(frame_hw, np.uint16)
    for crop in crops:
        h, w = crop.mask.shape
        count[crop.y0 : crop.y0 + h, crop.x0 : crop.x0 + w] += crop.mask
    return count


def refine_one(
    smooth_grey: np.ndarray, crop: CropMask, coverage: np.ndarray, settings: RefineSettings
) -> CropMask:
    """Refined mask of one instance (the module's rules 2-5) on an already smoothed float32 grey frame.

    ``coverage`` is :func:`coverage_count` of all instances of the frame, this one included.
    """
    if crop.area_px == 0:
        return crop
    frame_h, frame_w = smooth_grey.shape
    pad = settings.grow_px + settings.ring_px + 1
    h, w = crop.mask.shape
    y0, x0 = max(crop.y0 - pad, 0), max(crop.x0 - pad, 0)
    y1, x1 = min(crop.y0 + h + pad, frame_h), min(crop.x0 + w + pad, frame_w)
    inside = np.zeros((y1 - y0, x1 - x0), bool)
    inside[crop.y0 - y0 : crop.y0 - y0 + h, crop.x0 - x0 : crop.x0 - x0 + w] = crop.mask
    others = (coverage[y0:y1, x0:x1] - inside) > 0
    grey = smooth_grey[y0:y1, x0:x1]
    grown = _dilate(inside, settings.grow_px)
    ring = _dilate(inside, settings.grow_px + settings.ring_px) & ~grown & ~others
    if np.count_nonzero(ring) < _MIN_RING_PIXELS:
        return crop
    background = float(np.median(grey[ring]))
    particle = float(np.percentile(grey[inside], settings.particle_percentile))
    if particle - background < settings.min_contrast:
        return crop
    edge = background + settings.level * (particle - background)
    if settings.inset_px > 0:
        gy, gx = np.gradient(grey)
        bright = (grey - edge) > settings.inset_px * np.hypot(gx, gy)
    else:
        bright = grey > edge
    new = grown & ~(others & ~inside) & bright
    labels, n = ndimage.label(new, structure=np.ones((3, 3), bool))
    if n > 1:
        hit = np.unique(labels[inside & new])
        new = np.isin(labels, hit[hit > 0])
    new = ndimage.binary_fill_holes(new)
    if np.count_nonzero(new) < settings.min_keep_frac * crop.area_px:
        return crop
    return CropMask(new, x0, y0, crop.frame_hw).tight()


def refine_crops(
    grey: np.ndarray, crops: Sequence[CropMask], settings: RefineSettings | None = None
) -> list[CropMask]:
    """Refined masks of all instances of one frame (``grey``: ``H x W`` uint8 or float); same order as ``crops``.

    Every instance sees the other instances' *predicted* masks (not their refined ones), so the result does not
    depend on the order of ``crops``.
    """
    settings = settings or RefineSettings()
    if grey.ndim != 2:
        raise ValueError(f"refine needs a 2-D grey frame, got shape {grey.shape}")
    frame = grey.astype(np.float32)
    if settings.smooth_sigma_px > 0:
        frame = cv2.GaussianBlur(frame, (0, 0), settings.smooth_sigma_px)
    coverage = coverage_count(crops, frame.shape)
    return [refine_one(frame, crop, coverage, settings) for crop in crops]
