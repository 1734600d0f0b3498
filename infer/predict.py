"""Predict particles: ``python infer/predict.py [--model PT] --source DIR|GLOB --out runs/predict/RUN [options]``.

Without ``--model`` the shipped model (``flocshape/models/floc-yolov8n-seg-cpuref.pt``) is used, with its model
card's ``--imgsz``, ``--conf``, ``--tile``, ``--refine`` / ``--refine-inset`` / ``--refine-smooth`` and tuned post-processing unless
those are given (docs/models.md). Writes ``submission.json`` (hackathon format), ``particles.parquet``, ``manifest.json`` (and
``overlays/``).
``--source`` may also be a video (``.mp4``/``.avi``/``.mov``) or a folder of videos, sampled with ``--every N`` or
``--fps F`` (:mod:`flocshape.infer.video`; the run folder then also gets ``images.json``).
A thin CLI over :mod:`flocshape.infer.run`; see docs/predict.md. Exit code 3: some frames could not be read.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Sequence
from pathlib import Path

from flocshape.cliargs import Parser, fraction, integer, non_negative, positive, real
from flocshape.errors import InputError, input_error, run_cli
from flocshape.infer.checks import (
    check_device,
    check_frame_names,
    check_postproc_values,
    check_predict_inputs,
)
from flocshape.infer.run import (
    BUILTIN_CONF,
    BUILTIN_IMGSZ,
    BUILTIN_OVERLAP,
    JOURNAL,
    ModelChoice,
    PredictOptions,
    RunSummary,
    find_sources,
    per_frame_ms,
    resolve_model_settings,
    run_predict,
)
from flocshape.infer.video import find_videos, video_frames
from flocshape.models import MODEL_NAME


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    p = Parser(prog="infer/predict.py", description=__doc__.splitlines()[0])
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        help=f"YOLO-seg weights (.pt, local; default: the shipped {MODEL_NAME}.pt, see docs/models.md)",
    )
    p.add_argument(
        "--source",
        required=True,
        help="folder of frames, a quoted glob pattern, a video or a folder of videos",
    )
    sampling = p.add_mutually_exclusive_group()
    sampling.add_argument(
        "--every",
        type=integer(1),
        default=None,
        metavar="N",
        help="video: predict every N-th frame (default 1)",
    )
    sampling.add_argument(
        "--fps",
        type=positive(),
        default=None,
        metavar="F",
        help="video: predict F frames per second (the frame nearest to each k/F s; at most the video's fps)",
    )
    p.add_argument(
        "--images-json", type=Path, default=None, help="COCO file with 'images' (image ids by file name)"
    )
    p.add_argument("--out", required=True, type=Path, help="run folder, e.g. runs/predict/RUN")
    p.add_argument(
        "--conf",
        type=fraction(),
        default=None,
        help=f"minimum confidence (default: the model card's for the shipped model, else {BUILTIN_CONF})",
    )
    p.add_argument("--iou", type=real(0.0, 1.0, lo_open=True), default=0.7, help="NMS IoU (default 0.7)")
    p.add_argument(
        "--max-det", type=integer(1), default=1000, help="most instances per frame / tile (default 1000)"
    )
    p.add_argument(
        "--imgsz",
        type=integer(32, multiple_of=32),
        default=None,
        help=f"network input size, px (default: the model card's for the shipped model, else {BUILTIN_IMGSZ})",
    )
    p.add_argument(
        "--tile",
        type=integer(32),
        default=None,
        help="predict on tiles of this size, px, at native resolution (default: the model card's for the shipped "
        "model, else whole frames)",
    )
    p.add_argument(
        "--overlap",
        type=real(0.0, 1.0, hi_open=True),
        default=None,
        help=f"tile overlap fraction (default: the model card's for the shipped model, else {BUILTIN_OVERLAP})",
    )
    p.add_argument("--no-tile", action="store_true", help="whole frames, even for the shipped model")
    p.add_argument(
        "--box-pad",
        type=integer(0, 32),
        default=None,
        help="widen each mask window (the predicted box) by this many px, so that a mask is not cut straight where "
        "the network says the particle goes on (default: the model card's for the shipped model, else 0)",
    )
    p.add_argument("--device", default="cpu", help="torch device (default cpu; e.g. 0 for the first GPU)")
    p.add_argument("--save-overlays", action="store_true", help="write outlines on frames to OUT/overlays/")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in OUT")
    p.add_argument(
        "--postproc",
        type=Path,
        default=None,
        help="JSON: min_score, min_area_px, mask_nms_iou (default: the model card's for the shipped model)",
    )
    p.add_argument("--no-postproc", action="store_true", help="no post-processing, not even the model card's")
    p.add_argument(
        "--measure-min-score",
        type=fraction(),
        default=None,
        metavar="S",
        help="flag particles scored below S as low_score in particles.parquet: kept in submission.json, left out "
        "of statistics by default (default: the post-processing's measure_min_score; 0 flags none)",
    )
    p.add_argument(
        "--refine",
        type=fraction(),
        default=None,
        metavar="LEVEL",
        help="refine masks against the frame: edge at LEVEL (0-1) of the local particle contrast, e.g. 0.6 "
        "(default: the model card's for the shipped model, else off; docs/predict.md)",
    )
    p.add_argument(
        "--no-refine", action="store_true", help="masks as the network gives them, even for the shipped model"
    )
    p.add_argument(
        "--refine-inset",
        type=non_negative(),
        default=None,
        metavar="PX",
        help="with refinement: place outlines PX inside the LEVEL contour (first order; 0-5 px). Default: the "
        "model card's with its level, else 0 (docs/predict.md)",
    )
    p.add_argument(
        "--refine-smooth",
        type=non_negative(),
        default=None,
        metavar="PX",
        help="with refinement: sigma of the Gaussian smoothing of the frame before thresholding (0-5 px). "
        "Default: the model card's with its level, else 1 (docs/predict.md)",
    )
    p.add_argument(
        "--refine-grow-px",
        type=integer(0),
        default=2,
        help="how far refinement may move an outline outwards (default 2)",
    )
    p.add_argument(
        "--um-per-px", type=positive(), default=None, help="scale; adds micrometre columns to the table"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the prediction; exit code 0, or 3 when some frames failed."""
    args = build_parser().parse_args(argv)
    videos = find_videos(args.source)
    source_dir = Path(args.source) if Path(args.source).is_dir() else None
    sampling = None
    if videos:
        _check_video_options(args, source_dir)
        check_predict_inputs(videos, args.out, None, args.model, args.postproc, args.resume, source_dir)
        sources, _ = video_frames(args.source, args.every, args.fps)
        check_frame_names(sources)
        sampling = {"fps": args.fps} if args.fps is not None else {"every": args.every or 1}
    else:
        if args.every is not None or args.fps is not None:
            flag = "--every" if args.every is not None else "--fps"
            raise input_error("command line", "only for a video source (.mp4, .avi, .mov)", flag)
        sources = find_sources(args.source)
        check_predict_inputs(
            sources, args.out, args.images_json, args.model, args.postproc, args.resume, source_dir
        )
    check_device(args.device)
    choice = resolve_model_settings(
        args.model,
        args.imgsz,
        args.conf,
        args.postproc,
        args.no_postproc,
        args.refine,
        args.no_refine,
        tile_px=args.tile,
        overlap=args.overlap,
        no_tile=args.no_tile,
        refine_inset_px=args.refine_inset,
        refine_smooth_px=args.refine_smooth,
        box_pad_px=args.box_pad,
    )
    options = PredictOptions(
        conf=choice.conf,
        iou=args.iou,
        max_det=args.max_det,
        imgsz=choice.imgsz,
        tile_px=choice.tile_px,
        overlap=choice.overlap,
        box_pad_px=choice.box_pad_px,
        um_per_px=args.um_per_px,
        device=str(args.device),
        refine_level=choice.refine_level,
        refine_grow_px=args.refine_grow_px,
        refine_inset_px=choice.refine_inset_px,
        refine_smooth_px=choice.refine_smooth_px,
    )
    check_postproc_values(choice.postproc, args.postproc or "postproc")
    created = _first_missing(Path(args.out).absolute())
    try:
        summary = _run(args, choice, options, sources, sampling)
    except BaseException:
        _remove_if_unused(Path(args.out), created)
        raise
    done_now = summary.frames_total - summary.frames_done_before
    used = "shipped model card" if choice.card else "defaults/options"
    print(
        f"model: {choice.model} (imgsz {choice.imgsz}, conf {choice.conf}, postproc {choice.postproc}, "
        f"refine {choice.refine_level} (inset {choice.refine_inset_px} px, smooth {choice.refine_smooth_px} px), "
        f"box pad {choice.box_pad_px} px, tile {choice.tile_px}; {used})"
    )
    print(f"frames: {summary.frames_ok}/{summary.frames_total} ok, {len(summary.failed)} failed")
    print(f"instances: {summary.instances}")
    print(f"per frame (ms): {per_frame_ms(summary, done_now)}")
    print(f"out: {Path(args.out).absolute()}")
    return summary.exit_code


def _check_video_options(args: argparse.Namespace, source_dir: Path | None) -> None:
    """A video source takes no ``--images-json`` (its frames are numbered) and no image frames beside it."""
    if args.images_json is not None:
        raise input_error(
            "command line", "not used with a video source (frame ids are 1, 2, ...)", "--images-json"
        )
    if source_dir is not None:
        try:
            images = find_sources(args.source)
        except InputError:  # no image files: as it should be
            images = []
        if images:
            raise input_error(
                source_dir, f"holds both videos and image frames ({images[0].name}); give one kind"
            )


def _first_missing(out: Path) -> Path | None:
    """The outermost folder of ``out`` (``out`` included) that does not exist yet, or ``None``."""
    missing = None
    while not out.exists() and out != out.parent:
        missing, out = out, out.parent
    return missing


def _remove_if_unused(out: Path, created: Path | None) -> None:
    """Remove the folders this invocation created (``created``: the outermost) when it failed before finishing
    any frame, so that a corrected rerun starts clean; a folder that existed before, or a run with a finished
    frame, is kept."""
    journal = out / JOURNAL
    if created is not None and created.is_dir() and (not journal.exists() or journal.stat().st_size == 0):
        shutil.rmtree(created, ignore_errors=True)


def _run(
    args: argparse.Namespace,
    choice: ModelChoice,
    options: PredictOptions,
    sources: list[Path],
    sampling: dict[str, float] | None = None,
) -> RunSummary:
    """:func:`run_predict` with the parsed options."""
    return run_predict(
        choice.model,
        sources,
        args.out,
        options,
        images_json=args.images_json,
        postproc_path=choice.postproc_path,
        save_overlays=args.save_overlays,
        resume=args.resume,
        cli_args=vars(args),
        postproc=choice.postproc,
        settings_from=choice.settings_from,
        measure_min_score=args.measure_min_score,
        sampling=sampling,
    )


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
