"""Classical particle segmentation of one frame: grey threshold + distance-transform watershed (scikit-image).

This is what an ImageJ user does (Process > Filters > Gaussian Blur, optionally Process > Subtract Background,
Image > Adjust > Threshold (Otsu / fixed / Auto Local Threshold "Mean"), Process > Binary > Fill Holes,
Analyze Particles with a minimum size, Process > Binary > Watershed), written with scikit-image / scipy:

1. optional Gaussian smoothing of the grey frame (``smooth_sigma_px``, 0 = off);
2. optional background subtraction: the frame minus a very smooth copy of itself (Gaussian of
   ``background_sigma_px``, computed on a downscaled frame; a cheap stand-in for ImageJ's rolling ball). The
   hackathon frames are lit unevenly (brighter fluid at the top), which one global grey level cannot follow;
3. threshold, particles = pixels **brighter** than the level: ``otsu`` (global Otsu level of the frame),
   ``fixed`` (``fixed_level``, a grey value of the image after steps 1-2), or ``local`` (brighter than the
   Gaussian-weighted local mean over ``local_block_px`` by ``local_offset_grey`` grey levels,
   ``skimage.filters.threshold_local``);
4. fill holes (``fill_holes``), remove foreground components smaller than ``min_area_px``;
5. Euclidean distance transform of the foreground (px); markers = its local maxima, either
   ``peak_local_max`` (maxima at least ``min_distance_px`` apart) or ``h_maxima`` (maxima at least ``h_px``
   high, ImageJ's binary Watershed uses the EDM with a tolerance of 0.5 px); every foreground component gets
   at least one marker (its deepest point), so no component is lost;
6. ``skimage.segmentation.watershed`` on ``-distance`` inside the foreground (touching particles are split at
   the necks), then pieces smaller than ``min_area_px`` (or larger than ``max_area_px``) are dropped.

**Dark air bubbles are not particles**, and thresholding for *bright* flocs ignores them by construction: a
bubble is darker than the fluid, so it never enters the foreground; a bubble lying on a floc leaves a dark hole
in it that step 4 fills, as a labeller draws the floc outline through the bubble.

One frame's outputs (:func:`frame_result`): its submission records in ``infer/predict.py``'s format and its
particle table (:func:`flocshape.shape.measure.measure_crops`). Settings: :class:`WatershedParams`
(:mod:`flocshape.baselines.watershed_params`); a whole run: :mod:`flocshape.baselines.watershed`.

Conventions: images are ``(H, W)`` uint8 grey (row = y, column = x); lengths and areas in pixels; label images
are int32 with 0 = background and 1..n = instances.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import pandas as pd
from scipy import ndimage as ndi
from skimage import filters, morphology, segmentation
from skimage.feature import peak_local_max

from flocshape.baselines.watershed_params import WatershedParams
from flocshape.infer.protomask import CropMask, rle_from_crop
from flocshape.masks import MaskCrop
from flocshape.shape.measure import labelmap_crops, measure_crops

CATEGORY_ID = 1  # the hackathon's single class "Normal"
_CONNECTIVITY_8 = np.ones((3, 3), dtype=bool)


def smooth_background_px(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """A very smooth copy of ``image`` (float32): Gaussian of ``sigma_px`` computed at reduced resolution.

    The frame is shrunk by ``max(1, sigma_px // 4)`` (area averaging), blurred with ``sigma_px / factor`` and
    enlarged back bilinearly; for ``sigma_px`` >= 8 this differs from the full-resolution Gaussian by far less
    than a grey level and is ~10x faster.
    """
    h, w = image.shape
    factor = max(1, int(sigma_px // 4))
    small = cv2.resize(image, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma_px / factor, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def preprocess(grey: np.ndarray, params: WatershedParams) -> np.ndarray:
    """Steps 1-2: the smoothed, optionally background-subtracted frame (float32 grey levels)."""
    image = np.asarray(grey, dtype=np.float32)
    if params.smooth_sigma_px > 0:
        image = cv2.GaussianBlur(image, (0, 0), params.smooth_sigma_px, borderType=cv2.BORDER_REFLECT)
    if params.background_sigma_px is not None:
        image = image - smooth_background_px(image, params.background_sigma_px)
    return image


def foreground_mask(image: np.ndarray, params: WatershedParams) -> np.ndarray:
    """Steps 3-4 (before the size filter): bright pixels of the preprocessed ``image``, holes filled (bool)."""
    if params.threshold == "otsu":
        foreground = image > filters.threshold_otsu(image)
    elif params.threshold == "fixed":
        foreground = image > params.fixed_level
    else:
        local_mean = filters.threshold_local(image, params.local_block_px, method="gaussian", offset=0.0)
        foreground = image > local_mean + params.local_offset_grey
    return ndi.binary_fill_holes(foreground) if params.fill_holes else foreground


def watershed_markers(distance: np.ndarray, components: np.ndarray, params: WatershedParams) -> np.ndarray:
    """Step 5: int32 marker image (0 = none) from the distance map; every component gets at least one marker."""
    if params.markers == "h_maxima":
        markers, _ = ndi.label(morphology.h_maxima(distance, params.h_px), structure=_CONNECTIVITY_8)
    else:
        peaks = peak_local_max(
            distance, min_distance=params.min_distance_px, labels=components, exclude_border=False
        )
        markers = np.zeros(distance.shape, dtype=np.int32)
        markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1, dtype=np.int32)
    n_components = int(components.max())
    has_marker = np.zeros(n_components + 1, dtype=bool)
    has_marker[components[markers > 0]] = True
    lacking = np.flatnonzero(~has_marker[1:]) + 1
    if lacking.size:
        deepest = ndi.maximum_position(distance, components, index=lacking)
        rows, cols = np.asarray(deepest, dtype=np.intp).reshape(-1, 2).T
        markers[rows, cols] = int(markers.max()) + np.arange(1, lacking.size + 1)
    return markers.astype(np.int32, copy=False)


def filter_areas(labels: np.ndarray, min_area_px: int, max_area_px: int | None) -> np.ndarray:
    """Labels with pixel count in ``[min_area_px, max_area_px]``, renumbered 1..n in label order (int32)."""
    areas = np.bincount(labels.ravel())
    keep = areas >= min_area_px
    if max_area_px is not None:
        keep &= areas <= max_area_px
    keep[0] = False
    new_ids = np.zeros(areas.size, dtype=np.int32)
    new_ids[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    return new_ids[labels]


def segment_frame(grey: np.ndarray, params: WatershedParams) -> np.ndarray:
    """Instance label image (int32, 0 = background, 1..n) of one ``(H, W)`` uint8 grey frame (steps 1-6)."""
    grey = np.asarray(grey)
    if grey.ndim != 2:
        raise ValueError(f"expected a 2-D grey frame, got shape {grey.shape}")
    components, _ = ndi.label(foreground_mask(preprocess(grey, params), params), structure=_CONNECTIVITY_8)
    components = filter_areas(components, params.min_area_px, None)  # 8-connected components >= min_area_px
    foreground = components > 0
    if not foreground.any():
        return np.zeros(grey.shape, dtype=np.int32)
    distance = ndi.distance_transform_edt(foreground)
    markers = watershed_markers(distance, components, params)
    labels = segmentation.watershed(-distance, markers, mask=foreground, compactness=params.compactness)
    return filter_areas(labels, params.min_area_px, params.max_area_px)


# --- instances, scores and one frame's outputs -------------------------------------------------------------


def instance_scores(
    labels: np.ndarray, grey: np.ndarray, method: str, particles: pd.DataFrame | None = None
) -> np.ndarray:
    """Score in [0, 1] of each instance 1..n of ``labels`` (see :class:`WatershedParams`).

    ``solidity`` is read from ``particles`` (the frame's particle table in label order, digital convex hull).
    """
    n = int(labels.max())
    if method == "constant" or n == 0:
        return np.ones(n)
    if method == "mean_grey":
        return np.asarray(ndi.mean(grey, labels, index=np.arange(1, n + 1)), dtype=np.float64) / 255.0
    if particles is None:
        raise ValueError("the solidity score needs the particle table")
    return particles["solidity"].to_numpy(dtype=np.float64)


@dataclass
class FrameResult:
    """One frame's submission records (highest score first) and particle rows (same order)."""

    predictions: list[dict[str, Any]]
    particles: pd.DataFrame
    timings_s: dict[str, float] = field(default_factory=dict)


def crop_to_prediction(crop: MaskCrop, image_id: int, score: float) -> dict[str, Any]:
    """One COCO result record in ``infer/predict.py``'s format (compressed RLE, mask bbox ``[x, y, w, h]``)."""
    h, w = crop.crop.shape
    rle = rle_from_crop(CropMask(crop.crop, crop.x0, crop.y0, (crop.height, crop.width)))
    return {
        "image_id": int(image_id),
        "category_id": CATEGORY_ID,
        "bbox": [float(crop.x0), float(crop.y0), float(w), float(h)],
        "score": round(float(score), 5),
        "segmentation": rle,
    }


def frame_result(
    grey: np.ndarray,
    params: WatershedParams,
    image_id: int,
    file_name: str,
    source: str = "",
    measure_shapes: bool = True,
) -> FrameResult:
    """Segment one grey frame; predictions sorted by score (descending, ties by label), ``instance_id`` = rank.

    With ``measure_shapes`` the particle rows come from :func:`flocshape.shape.measure.measure_crops` (the grey
    frame gives the intensity columns); otherwise the table is empty.
    """
    t0 = time.perf_counter()
    labels = segment_frame(grey, params)
    t1 = time.perf_counter()
    crops, _ = labelmap_crops(labels)
    n = len(crops)
    particles = pd.DataFrame()
    if measure_shapes or params.score == "solidity":
        identity = {"source": source, "image_id": int(image_id), "file_name": file_name}
        nan = [float("nan")] * n
        particles = measure_crops(crops, grey, identity, list(range(n)), nan, [CATEGORY_ID] * n, labels > 0)
    t2 = time.perf_counter()
    scores = instance_scores(labels, grey, params.score, particles)
    order = np.argsort(-scores, kind="stable")
    predictions = [crop_to_prediction(crops[i], image_id, scores[i]) for i in order]
    if measure_shapes:
        particles = particles.iloc[order].reset_index(drop=True)
        particles["instance_id"] = np.arange(n, dtype=particles["instance_id"].dtype)
        particles["score"] = np.array([p["score"] for p in predictions], dtype=np.float64)
    else:
        particles = pd.DataFrame()
    t3 = time.perf_counter()
    return FrameResult(
        predictions, particles, {"segment_s": t1 - t0, "measure_s": t2 - t1, "encode_s": t3 - t2}
    )
