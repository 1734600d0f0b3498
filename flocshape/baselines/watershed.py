"""Classical particle segmentation: grey threshold + distance-transform watershed (scikit-image).

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

Conventions: images are ``(H, W)`` uint8 grey (row = y, column = x); lengths and areas in pixels; label images
are int32 with 0 = background and 1..n = instances.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
from scipy import ndimage as ndi
from skimage import filters, morphology, segmentation
from skimage.feature import peak_local_max

from flocshape.errors import input_error
from flocshape.fsio import atomic_dir, atomic_write_json
from flocshape.infer.protomask import CropMask, rle_from_crop
from flocshape.manifest import build_manifest, describe_input, write_manifest
from flocshape.masks import MaskCrop
from flocshape.outputs import claim_dir
from flocshape.shape.measure import concat_tables, labelmap_crops, measure_crops

THRESHOLDS = ("otsu", "fixed", "local")
MARKERS = ("peak_local_max", "h_maxima")
SCORES = ("mean_grey", "solidity", "constant")
CATEGORY_ID = 1  # the hackathon's single class "Normal"
EXIT_SOME_FRAMES_FAILED = 3
TOOL = "infer/watershed.py"
_CONNECTIVITY_8 = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class WatershedParams:
    """Settings of :func:`segment_frame` (units: px for lengths, px^2 for areas, 0-255 grey levels).

    ``score`` is the confidence written to the submission (it only orders predictions, so it matters for COCO
    AP, not for the hackathon F1): ``mean_grey`` = mean raw grey value of the instance / 255 (in-focus flocs
    are brighter than blurred, unlabelled ones), ``solidity`` = area / digital convex-hull area (the particle
    table's ``solidity``, :mod:`flocshape.shape`), ``constant``
    = 1.0.
    """

    smooth_sigma_px: float = 1.0
    background_sigma_px: float | None = None
    threshold: str = "otsu"
    fixed_level: float = 100.0
    local_block_px: int = 151
    local_offset_grey: float = 5.0
    fill_holes: bool = True
    min_area_px: int = 12
    max_area_px: int | None = None
    markers: str = "peak_local_max"
    min_distance_px: int = 5
    h_px: float = 0.5
    compactness: float = 0.0
    score: str = "mean_grey"

    def problems(self) -> list[tuple[str, str]]:
        """``(field, what is wrong)`` for every invalid setting; empty when all are valid."""
        bad: list[tuple[str, str]] = []
        if not self.smooth_sigma_px >= 0:
            bad.append(("smooth_sigma_px", "must be >= 0"))
        if self.background_sigma_px is not None and not self.background_sigma_px > 0:
            bad.append(("background_sigma_px", "must be > 0 or null"))
        if self.threshold not in THRESHOLDS:
            bad.append(("threshold", f"must be one of {', '.join(THRESHOLDS)}"))
        if self.local_block_px < 3 or self.local_block_px % 2 == 0:
            bad.append(("local_block_px", "must be an odd number >= 3"))
        if self.min_area_px < 1:
            bad.append(("min_area_px", "must be >= 1"))
        if self.max_area_px is not None and self.max_area_px < self.min_area_px:
            bad.append(("max_area_px", "must be >= min_area_px or null"))
        if self.markers not in MARKERS:
            bad.append(("markers", f"must be one of {', '.join(MARKERS)}"))
        if self.min_distance_px < 1:
            bad.append(("min_distance_px", "must be >= 1"))
        if not self.h_px > 0:
            bad.append(("h_px", "must be > 0"))
        if not self.compactness >= 0:
            bad.append(("compactness", "must be >= 0"))
        if self.score not in SCORES:
            bad.append(("score", f"must be one of {', '.join(SCORES)}"))
        return bad


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "smooth_sigma_px": (int, float),
    "background_sigma_px": (int, float, type(None)),
    "threshold": (str,),
    "fixed_level": (int, float),
    "local_block_px": (int,),
    "local_offset_grey": (int, float),
    "fill_holes": (bool,),
    "min_area_px": (int,),
    "max_area_px": (int, type(None)),
    "markers": (str,),
    "min_distance_px": (int,),
    "h_px": (int, float),
    "compactness": (int, float),
    "score": (str,),
}


def params_from_dict(values: dict[str, Any], source: object = "<params>") -> WatershedParams:
    """:class:`WatershedParams` from a dict (missing keys keep their defaults).

    Raises :class:`flocshape.errors.InputError` naming ``source`` and the key for an unknown key, a value of
    the wrong type (``bool`` is not a number) or an invalid value.
    """
    if not isinstance(values, dict):
        raise input_error(source, "parameters must be a JSON object")
    names = {f.name for f in dataclasses.fields(WatershedParams)}
    for key, value in values.items():
        if key not in names:
            raise input_error(source, f"unknown parameter (known: {', '.join(sorted(names))})", record=key)
        allowed = _FIELD_TYPES[key]
        is_bool = isinstance(value, bool)
        if not isinstance(value, allowed) or (is_bool and bool not in allowed):
            raise input_error(source, f"wrong type {type(value).__name__}", record=key)
        if isinstance(value, float) and not math.isfinite(value):
            raise input_error(source, "must be finite", record=key)
    params = WatershedParams(**values)
    for key, what in params.problems():
        raise input_error(source, what, record=key)
    return params


def load_params(path: str | os.PathLike[str]) -> WatershedParams:
    """Parameters from a JSON file (see :func:`params_from_dict`)."""
    try:
        values = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise input_error(path, f"cannot read parameters JSON ({type(exc).__name__}: {exc})") from exc
    return params_from_dict(values, path)


# --- the segmentation itself -------------------------------------------------------------------------------


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


# --- a whole run -------------------------------------------------------------------------------------------


@dataclass
class WatershedRunSummary:
    """Counts and timings of a watershed run (timings in seconds, summed over frames)."""

    frames_total: int = 0
    frames_ok: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    instances: int = 0
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 when every frame was segmented, 3 when some frames could not be read."""
        return EXIT_SOME_FRAMES_FAILED if self.failed else 0

    def per_frame_ms(self) -> dict[str, float]:
        """Mean milliseconds per segmented frame of each timing bucket."""
        n = max(self.frames_ok, 1)
        return {k: round(1000.0 * v / n, 1) for k, v in self.timings_s.items()}


def _process_file(job: tuple[Path, int, WatershedParams, str]) -> tuple[str, FrameResult | None]:
    """Read and segment one frame (``None`` when it cannot be decoded); top level so processes can run it."""
    from flocshape.infer.run import read_frame

    path, image_id, params, source = job
    t0 = time.perf_counter()
    image = read_frame(path)
    if image is None:
        return path.name, None
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    read_s = time.perf_counter() - t0
    result = frame_result(grey, params, image_id, path.name, source)
    result.timings_s = {"read_s": read_s, **result.timings_s}
    return path.name, result


def segment_files(
    sources: Sequence[Path],
    image_ids: dict[Path, int],
    params: WatershedParams,
    source: str = "",
    workers: int = 1,
) -> list[tuple[Path, FrameResult | None]]:
    """Segment every frame (in source order), with ``workers`` processes when > 1."""
    jobs = [(src, image_ids[src], params, source) for src in sources]
    if workers <= 1:
        results = [_process_file(job) for job in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_process_file, jobs, chunksize=4))
    return [(src, res) for src, (_, res) in zip(sources, results, strict=True)]


def write_parquet(table: pd.DataFrame, path: Path) -> None:
    """Write ``table`` to ``path`` (the caller's folder is temporary, so a plain write is atomic there)."""
    table.to_parquet(path, index=False)


def run_watershed(
    sources: Sequence[Path],
    out: Path,
    params: WatershedParams,
    images_json: Path | None = None,
    params_path: Path | None = None,
    workers: int = 1,
    overwrite: bool = False,
    um_per_px: float | None = None,
    cli_args: dict[str, Any] | None = None,
) -> WatershedRunSummary:
    """Segment ``sources`` into the run folder ``out`` (``submission.json``, ``particles.parquet``,
    ``manifest.json``), built in a temporary sibling folder and renamed into place when complete. ``out`` follows
    the output policy of :mod:`flocshape.outputs` (an earlier watershed run is replaced; another non-empty
    folder only with ``overwrite``; never one holding the frames).

    Image ids come from ``images_json`` by file name, else the integer file stem (as ``infer/predict.py``).
    Bad input raises :class:`~flocshape.errors.InputError` before anything is written; unreadable frames are
    warned about, listed in the manifest and make ``exit_code`` 3.
    """
    from flocshape.infer.run import assign_image_ids

    out = claim_dir(out, TOOL, [*sources, images_json, params_path], overwrite)
    if workers < 1:
        raise input_error("--workers", f"must be >= 1, got {workers}")
    if um_per_px is not None and not (math.isfinite(um_per_px) and um_per_px > 0):
        raise input_error("--um-per-px", f"must be a positive number, got {um_per_px}")
    image_ids = assign_image_ids(list(sources), images_json)
    summary = WatershedRunSummary(frames_total=len(sources))
    predictions: list[dict[str, Any]] = []
    tables: list[pd.DataFrame] = []
    totals: dict[str, float] = {}
    for src, result in segment_files(sources, image_ids, params, str(out / "submission.json"), workers):
        if result is None:
            print(f"warning: {src}: cannot decode image; skipped", file=sys.stderr, flush=True)
            summary.failed.append({"file": str(src), "error": "cannot decode image"})
            continue
        summary.frames_ok += 1
        predictions.extend(result.predictions)
        tables.append(result.particles)
        for key, value in result.timings_s.items():
            totals[key] = totals.get(key, 0.0) + value
    summary.instances = len(predictions)
    summary.timings_s = {k: round(v, 4) for k, v in totals.items()}
    inputs: dict[str, Any] = {
        "sources": {"count": len(sources), "first": str(sources[0]) if sources else None}
    }
    for key, path in (("images_json", images_json), ("params", params_path)):
        if path is not None:
            inputs[key] = describe_input(path)
    manifest = build_manifest(
        TOOL,
        cli_args or {},
        inputs=inputs,
        method="grey threshold + distance-transform watershed (scikit-image)",
        params=asdict(params),
        frames={"total": summary.frames_total, "ok": summary.frames_ok},
        failed_frames=summary.failed,
        instances=summary.instances,
        timings_s=summary.timings_s,
        workers=workers,
        outputs=["submission.json", "particles.parquet"],
    )
    with atomic_dir(out, overwrite=True) as tmp:
        atomic_write_json(tmp / "submission.json", predictions, indent=None)
        write_parquet(concat_tables([t for t in tables if len(t)], um_per_px), tmp / "particles.parquet")
        write_manifest(tmp, manifest)
    return summary
