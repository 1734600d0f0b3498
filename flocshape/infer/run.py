"""``infer/predict.py``: predict every frame, write the hackathon submission, particle table and manifest.

Outputs in the run folder ``OUT``:

* ``submission.json``: JSON list of ``{"image_id", "category_id", "bbox": [x, y, w, h], "score",
  "segmentation": {"size": [H, W], "counts": str}}`` (compressed RLE at the frame's resolution; ``bbox`` is the
  mask's bounding box in px; ``category_id`` = class index + 1);
* ``particles.parquet``: one row per instance, from ``flocshape.shape.measure.measure_instances`` (measured per
  frame while the frame is in memory; ``instance_id`` = index of the prediction within its frame, by score);
* ``journal.jsonl`` and ``run_config.json``: the resume journal (:mod:`flocshape.infer.journal`);
* ``overlays/`` (``--save-overlays``): outlines drawn on each frame (:mod:`flocshape.infer.overlays`);
* ``manifest.json``: arguments, inputs, versions, counts, failed frames, timings (s).

Frames that cannot be read are reported with a one-line warning, listed in the manifest, and make the exit code 3.

Video frames (:class:`flocshape.infer.video.VideoFrame`, conventions in :mod:`flocshape.infer.video`) go through the
same loop: read one at a time from the video, journalled with the video's sha256, ``frame_index`` and ``time_s``
(seconds); the particle table gets ``frame_index`` and ``time_s`` and the run folder ``images.json``.

This module runs a :class:`PredictJob`; the settings are resolved in :mod:`flocshape.infer.settings` and the
frames found and read in :mod:`flocshape.infer.frames` (their public names are importable from here too).
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flocshape.errors import input_error
from flocshape.infer.engine import Segmenter
from flocshape.infer.frames import (
    assign_image_ids,
    find_sources,
    frame_digest,
    image_ids_from_json,
    read_frame,
    read_frame_and_digest,
)
from flocshape.infer.journal import JOURNAL, RUN_CONFIG, Journal, assemble, frame_done, prepare_out_dir
from flocshape.infer.overlays import draw_overlay
from flocshape.infer.process import flag_low_score, instance_to_prediction, predict_frame, process_frame
from flocshape.infer.refine import RefineSettings
from flocshape.infer.settings import (
    POSTPROC_KEYS,
    ModelChoice,
    PredictOptions,
    load_postproc,
    measure_threshold,
    parse_postproc,
    resolve_model_settings,
    resolve_settings,
)
from flocshape.infer.video import close_streams, video_inputs
from flocshape.manifest import build_manifest, describe_input, file_digest, write_manifest
from flocshape.models import card_for_model, model_card_path
from flocshape.score.postprocess import MEASURE_KEY

__all__ = [
    "EXIT_SOME_FRAMES_FAILED", "JOURNAL", "POSTPROC_KEYS", "RUN_CONFIG", "ModelChoice",
    "PredictJob", "PredictOptions", "RunSummary", "assign_image_ids", "draw_overlay", "find_sources",
    "flag_low_score", "frame_digest", "frame_done", "image_ids_from_json", "instance_to_prediction",
    "load_postproc", "measure_threshold", "parse_postproc", "per_frame_ms", "predict_frame", "read_frame",
    "read_frame_and_digest", "resolve_model_settings", "resolve_settings", "run_predict",
]  # fmt: skip

EXIT_SOME_FRAMES_FAILED = 3


@dataclass
class RunSummary:
    """Counts and timings of a predict run (timings in seconds, summed over the frames processed now)."""

    frames_total: int = 0
    frames_done_before: int = 0
    frames_ok: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    instances: int = 0
    timings_s: dict[str, float] = field(default_factory=dict)
    particles_table: str = ""

    @property
    def exit_code(self) -> int:
        """0 when every frame was predicted, 3 when some frames failed."""
        return EXIT_SOME_FRAMES_FAILED if self.failed else 0


@dataclass
class PredictJob:
    """One predict run: the weights, the frames, the run folder and everything that decides the outputs.

    Post-processing: ``postproc_path`` (a JSON file) if given, else the ``postproc`` dict (e.g. a model card's),
    else none. ``measure_min_score`` (0-1), when given, replaces the post-processing's measurement threshold (the
    ``low_score`` flag; 0 flags nothing). ``settings_from`` (see :class:`ModelChoice`) is recorded in the
    manifest's ``model`` block, ``cli_args`` as its arguments and ``config_path`` (a ``--cfg`` file) among its
    inputs. ``sources`` may be video frames (:mod:`flocshape.infer.video`); ``sampling`` (``{"every": N}`` or
    ``{"fps": F}``) is then part of the settings ``--resume`` must match.
    """

    model: Path
    sources: list[Path]
    out: Path
    options: PredictOptions
    images_json: Path | None = None
    postproc_path: Path | None = None
    save_overlays: bool = False
    resume: bool = False
    cli_args: dict[str, Any] | None = None
    postproc: dict[str, Any] | None = None
    settings_from: dict[str, str] | None = None
    measure_min_score: float | None = None
    sampling: dict[str, Any] | None = None
    config_path: Path | None = None

    @classmethod
    def from_choice(
        cls, choice: ModelChoice, sources: list[Path], out: Path, options: PredictOptions, **rest: Any
    ) -> PredictJob:
        """The job of resolved settings (:func:`~flocshape.infer.settings.resolve_settings`): weights,
        post-processing, their sources and the config file from ``choice``; the rest as given."""
        return cls(choice.model, sources, out, options, postproc_path=choice.postproc_path,
                   postproc=choice.postproc, settings_from=choice.settings_from, config_path=choice.config,
                   **rest)  # fmt: skip


def run_predict(job: PredictJob | Path, *args: Any, **kwargs: Any) -> RunSummary:
    """Predict all of ``job.sources`` into ``job.out`` (see the module docstring). Bad input raises before
    anything is written.

    ``run_predict(job)`` takes a :class:`PredictJob`; the form ``run_predict(model, sources, out, options,
    **fields)`` builds one from :class:`PredictJob`'s fields in their order.
    """
    if not isinstance(job, PredictJob):
        job = PredictJob(job, *args, **kwargs)
    elif args or kwargs:
        raise TypeError("run_predict(job) takes only the job")
    out, options = Path(job.out).absolute(), job.options
    image_ids = assign_image_ids(job.sources, job.images_json)
    postproc = _job_postproc(job)
    _check_options(options)
    refine = _refine_settings(options)
    segmenter = Segmenter(job.model, options.imgsz, options.conf, options.iou, options.max_det, options.device,
                          options.box_pad_px)  # fmt: skip
    model_sha256 = file_digest(job.model)
    settings = {"model_sha256": model_sha256, **asdict(options), "postproc": postproc}
    if job.sampling is not None:
        settings["sampling"] = job.sampling
    prepare_out_dir(out, settings, job.resume)
    journal = Journal(out / JOURNAL)
    summary = RunSummary(frames_total=len(job.sources))
    try:
        totals = _predict_pending(job, out, journal, image_ids, segmenter, postproc, refine, summary)
    finally:
        journal.close()
        close_streams()
    summary.failed = [
        {"file": str(s), "error": str(journal.records[s.name].get("error"))}
        for s in job.sources
        if journal.records.get(s.name, {}).get("status") == "failed"
    ]
    summary.frames_ok = sum(1 for s in job.sources if journal.records.get(s.name, {}).get("status") == "ok")
    summary.instances, summary.particles_table = assemble(out, journal, job.sources, options.um_per_px)
    summary.timings_s = {k: round(v, 4) for k, v in totals.items()}
    write_manifest(out, _manifest(job, summary, settings, model_sha256))
    return summary


def _job_postproc(job: PredictJob) -> dict[str, Any] | None:
    """The job's post-processing: its file, else its dict (checked), with ``measure_min_score`` applied."""
    postproc = job.postproc
    if job.postproc_path:
        postproc = load_postproc(job.postproc_path)
    elif postproc is not None:
        postproc = parse_postproc(postproc, "postproc")
    if job.measure_min_score is not None:
        postproc = {
            **(postproc or {}),
            MEASURE_KEY: measure_threshold(job.measure_min_score, "--measure-min-score"),
        }
    return postproc


def _check_options(options: PredictOptions) -> None:
    """Tiling and refinement numbers in range (the command line checks them too; the API does not)."""
    if options.tile_px is not None and options.tile_px < 32:
        raise input_error("--tile", f"tile size {options.tile_px} px is too small (>= 32)")
    if not 0.0 <= options.overlap < 1.0:
        raise input_error("--overlap", f"overlap {options.overlap} must be in [0, 1)")
    if options.refine_grow_px < 0:
        raise input_error("--refine-grow-px", f"must be >= 0, got {options.refine_grow_px}")


def _refine_settings(options: PredictOptions) -> RefineSettings | None:
    """The mask refinement of ``options`` (``None``: masks as predicted); out-of-range values are input errors."""
    if options.refine_level is None:
        return None
    try:
        return RefineSettings(
            level=options.refine_level,
            grow_px=options.refine_grow_px,
            inset_px=options.refine_inset_px,
            smooth_sigma_px=options.refine_smooth_px,
        )
    except ValueError as exc:
        raise input_error("--refine/--refine-inset/--refine-smooth", str(exc)) from None


def _predict_pending(
    job: PredictJob,
    out: Path,
    journal: Journal,
    image_ids: dict[Path, int],
    segmenter: Segmenter,
    postproc: dict[str, Any] | None,
    refine: RefineSettings | None,
    summary: RunSummary,
) -> dict[str, float]:
    """Predict the frames the journal does not hold as done, journalling each; returns the summed timings (s)."""
    pending = [s for s in job.sources if not frame_done(journal.records.get(s.name), s)]
    changed = [s for s in pending if journal.records.get(s.name, {}).get("status") == "ok"]
    if changed:
        _warn(
            f"{len(changed)} frame(s) changed since they were predicted (first: {changed[0]}); predicted again"
        )
    summary.frames_done_before = len(job.sources) - len(pending)
    overlays_dir = out / "overlays" if job.save_overlays else None
    totals: dict[str, float] = {}
    from tqdm import tqdm

    for src in tqdm(pending, desc="predict", unit="frame", disable=None):
        record, frame_timings = process_frame(src, image_ids[src], segmenter, job.options, postproc,
                                               overlays_dir, str(out / "submission.json"), refine)  # fmt: skip
        if record["status"] != "ok":
            _warn(f"{src}: {record['error']}; skipped")
        journal.append({**record, "timings_s": frame_timings})
        for key, value in frame_timings.items():
            totals[key] = totals.get(key, 0.0) + value
    return totals


def _manifest(
    job: PredictJob, summary: RunSummary, settings: dict[str, Any], model_sha256: str
) -> dict[str, Any]:
    """The run's ``manifest.json`` content."""
    inputs = {"model": describe_input(job.model),
              "sources": {"count": len(job.sources), "first": str(job.sources[0])}}  # fmt: skip
    for key, path in (
        ("images_json", job.images_json),
        ("postproc", job.postproc_path),
        ("cfg", job.config_path),
    ):
        if path is not None:
            inputs[key] = describe_input(path)
    inputs.update(video_inputs(job.sources, job.sampling))
    return build_manifest(
        "infer/predict.py",
        job.cli_args or {},
        inputs=inputs,
        settings=settings,
        model=_model_block(job.model, model_sha256, job.settings_from),
        frames={
            "total": summary.frames_total,
            "ok": summary.frames_ok,
            "done_before_resume": summary.frames_done_before,
        },
        failed_frames=summary.failed,
        instances=summary.instances,
        particles_table=summary.particles_table,
        timings_s=summary.timings_s,
        outputs=["submission.json", "particles.parquet", JOURNAL, RUN_CONFIG]
        + (["images.json"] if job.sampling is not None else [])
        + (["overlays/"] if job.save_overlays else []),
    )


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def _model_block(model: Path, sha256: str, settings_from: dict[str, str] | None) -> dict[str, Any]:
    """Manifest entry: which weights (path, sha256), whether they are the shipped model (card name), and where
    each model-dependent setting came from."""
    card = card_for_model(model)
    return {
        "path": str(Path(model).absolute()),
        "sha256": sha256,
        "shipped": card is not None,
        "card": card["name"] if card else None,
        "card_file": str(model_card_path()) if card else None,
        "settings_from": settings_from or {},
    }


def per_frame_ms(summary: RunSummary, frames: int) -> dict[str, float]:
    """Mean milliseconds per frame of each timing bucket (for reports)."""
    if frames <= 0:
        return {}
    return {k: round(1000.0 * v / frames, 1) for k, v in summary.timings_s.items() if math.isfinite(v)}
