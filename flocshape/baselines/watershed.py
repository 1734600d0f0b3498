"""Classical baseline over a folder of frames (``infer/watershed.py``): threshold + distance-transform watershed.

:func:`run_watershed` segments every frame with :func:`flocshape.baselines.watershed_segment.segment_frame` (the
method, step by step, as an ImageJ user does it) and writes a run folder like ``infer/predict.py``'s:
``submission.json`` (COCO results, compressed RLE), ``particles.parquet`` and ``manifest.json``. Settings are
:class:`WatershedParams` (:mod:`flocshape.baselines.watershed_params`). The public names of both modules are
importable from here too.

Conventions: frames are read as ``(H, W)`` uint8 grey; lengths and areas in pixels; timings in seconds.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import pandas as pd

from flocshape.baselines.watershed_params import (
    MARKERS,
    SCORES,
    THRESHOLDS,
    WatershedParams,
    load_params,
    params_from_dict,
)
from flocshape.baselines.watershed_segment import (
    CATEGORY_ID,
    FrameResult,
    crop_to_prediction,
    filter_areas,
    foreground_mask,
    frame_result,
    instance_scores,
    preprocess,
    segment_frame,
    smooth_background_px,
    watershed_markers,
)
from flocshape.errors import input_error
from flocshape.fsio import atomic_dir, atomic_write_json
from flocshape.manifest import build_manifest, describe_input, write_manifest
from flocshape.outputs import claim_dir
from flocshape.shape.measure import concat_tables

__all__ = [
    "CATEGORY_ID",
    "EXIT_SOME_FRAMES_FAILED",
    "MARKERS",
    "SCORES",
    "THRESHOLDS",
    "TOOL",
    "FrameResult",
    "WatershedParams",
    "WatershedRunSummary",
    "crop_to_prediction",
    "filter_areas",
    "foreground_mask",
    "frame_result",
    "instance_scores",
    "load_params",
    "params_from_dict",
    "preprocess",
    "run_watershed",
    "segment_files",
    "segment_frame",
    "smooth_background_px",
    "watershed_markers",
    "write_parquet",
]

EXIT_SOME_FRAMES_FAILED = 3
TOOL = "infer/watershed.py"


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
