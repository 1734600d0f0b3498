"""Predict particles: ``python infer/predict.py [--model PT | --cfg FILE] --source DIR|GLOB --out runs/predict/RUN``.

Without ``--model`` the shipped model (``flocshape/models/floc-yolov8n-seg-cpuref.pt``) is used, with its model
card's ``--imgsz``, ``--conf``, ``--tile``, ``--refine`` / ``--refine-inset`` / ``--refine-smooth`` and tuned
post-processing unless those are given (docs/models.md). ``--cfg FILE`` (YAML) sets any of those, and the model,
above the card and below the command line (:mod:`flocshape.infer.settings`). Writes ``submission.json``
(hackathon format), ``particles.parquet``, ``manifest.json`` (and ``overlays/``).
``--source`` may also be a video (``.mp4``/``.avi``/``.mov``) or a folder of videos, sampled with ``--every N`` or
``--fps F`` (:mod:`flocshape.infer.video`; the run folder then also gets ``images.json``).
A thin CLI over :mod:`flocshape.infer.run`; see docs/predict.md. Exit code 3: some frames could not be read;
2: bad input (one line).

Built-in defaults are read from ``flocshape/cfg/predict.yaml`` (:func:`flocshape.cfg.predict_defaults`); the
options that the model card or a ``--cfg`` file may set default to ``None`` here, so that an option given on the
command line is told apart from one left out.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flocshape.cfg import CONFIG_KEYS, OPTION_TYPES, PredictConfig, load_predict_config, predict_defaults
from flocshape.cliargs import Parser
from flocshape.errors import InputError, input_error, run_cli
from flocshape.infer.checks import (
    check_device,
    check_frame_names,
    check_postproc_values,
    check_predict_inputs,
)
from flocshape.infer.run import JOURNAL, PredictJob, RunSummary, find_sources, per_frame_ms, run_predict
from flocshape.infer.settings import FROM_CONFIG, ModelChoice, command_line_layer, resolve_settings
from flocshape.infer.video import find_videos, video_frames
from flocshape.models import MODEL_NAME

PROG = "infer/predict.py"
_CARD_OR = "default: the model card's for the shipped model, else"


def _type(key: str) -> Any:
    """The argparse ``type`` of option ``key`` (its range is shared with the defaults and ``--cfg`` files)."""
    return OPTION_TYPES[key].parse


def build_parser() -> argparse.ArgumentParser:
    """The command-line options; help texts show the built-in defaults of ``flocshape/cfg/predict.yaml``."""
    d = predict_defaults()
    p = Parser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument(
        "--model",
        type=_type("model"),
        default=None,
        help=f"YOLO-seg weights (.pt, local; default: the shipped {MODEL_NAME}.pt, see docs/models.md)",
    )
    p.add_argument(
        "--cfg",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"YAML file of settings ({', '.join(CONFIG_KEYS)}; relative paths from its folder): they win over "
        "the model card's and the built-in defaults, options given here win over them (docs/predict.md)",
    )
    p.add_argument(
        "--source",
        required=True,
        help="folder of frames, a quoted glob pattern, a video or a folder of videos",
    )
    sampling = p.add_mutually_exclusive_group()
    sampling.add_argument(
        "--every",
        type=_type("every"),
        default=None,
        metavar="N",
        help=f"video: predict every N-th frame (default {d['every']})",
    )
    sampling.add_argument(
        "--fps",
        type=_type("fps"),
        default=None,
        metavar="F",
        help="video: predict F frames per second (the frame nearest to each k/F s; at most the video's fps)",
    )
    p.add_argument(
        "--images-json", type=Path, default=None, help="COCO file with 'images' (image ids by file name)"
    )
    p.add_argument("--out", required=True, type=Path, help="run folder, e.g. runs/predict/RUN")
    p.add_argument(
        "--conf", type=_type("conf"), default=None, help=f"minimum confidence ({_CARD_OR} {d['conf']})"
    )
    p.add_argument("--iou", type=_type("iou"), default=d["iou"], help=f"NMS IoU (default {d['iou']})")
    p.add_argument(
        "--max-det",
        type=_type("max_det"),
        default=d["max_det"],
        help=f"most instances per frame / tile (default {d['max_det']})",
    )
    p.add_argument(
        "--imgsz", type=_type("imgsz"), default=None, help=f"network input size, px ({_CARD_OR} {d['imgsz']})"
    )
    p.add_argument(
        "--tile",
        type=_type("tile"),
        default=None,
        help="predict on tiles of this size, px, at native resolution "
        f"({_CARD_OR} {_or(d['tile'], 'whole frames')})",
    )
    p.add_argument(
        "--overlap",
        type=_type("overlap"),
        default=None,
        help=f"tile overlap fraction ({_CARD_OR} {d['overlap']})",
    )
    p.add_argument("--no-tile", action="store_true", help="whole frames, even for the shipped model")
    p.add_argument(
        "--box-pad",
        type=_type("box_pad"),
        default=None,
        help="widen each mask window (the predicted box) by this many px, so that a mask is not cut straight where "
        f"the network says the particle goes on ({_CARD_OR} {d['box_pad']})",
    )
    p.add_argument(
        "--device",
        default=d["device"],
        help=f"torch device (default {d['device']}; e.g. 0 for the first GPU)",
    )
    p.add_argument("--save-overlays", action="store_true", help="write outlines on frames to OUT/overlays/")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in OUT")
    p.add_argument(
        "--postproc",
        type=_type("postproc"),
        default=None,
        help="JSON: min_score, min_area_px, mask_nms_iou "
        f"({_CARD_OR} {_or(d['postproc'], 'no post-processing')})",
    )
    p.add_argument("--no-postproc", action="store_true", help="no post-processing, not even the model card's")
    p.add_argument(
        "--measure-min-score",
        type=_type("measure_min_score"),
        default=None,
        metavar="S",
        help="flag particles scored below S as low_score in particles.parquet: kept in submission.json, left out "
        "of statistics by default (default: the post-processing's measure_min_score; 0 flags none)",
    )
    p.add_argument(
        "--refine",
        type=_type("refine"),
        default=None,
        metavar="LEVEL",
        help="refine masks against the frame: edge at LEVEL (0-1) of the local particle contrast, e.g. 0.5 "
        f"({_CARD_OR} {_or(d['refine'], 'off')}; docs/predict.md)",
    )
    p.add_argument(
        "--no-refine", action="store_true", help="masks as the network gives them, even for the shipped model"
    )
    p.add_argument(
        "--refine-inset",
        type=_type("refine_inset"),
        default=None,
        metavar="PX",
        help="with refinement: place outlines PX inside the LEVEL contour (first order; 0-5 px). Default: the "
        f"model card's with its level, else {d['refine_inset']:g} (docs/predict.md)",
    )
    p.add_argument(
        "--refine-smooth",
        type=_type("refine_smooth"),
        default=None,
        metavar="PX",
        help="with refinement: sigma of the Gaussian smoothing of the frame before thresholding (0-5 px). "
        f"Default: the model card's with its level, else {d['refine_smooth']:g} (docs/predict.md)",
    )
    p.add_argument(
        "--refine-grow-px",
        type=_type("refine_grow_px"),
        default=d["refine_grow_px"],
        help=f"how far refinement may move an outline outwards (default {d['refine_grow_px']})",
    )
    p.add_argument(
        "--um-per-px",
        type=_type("um_per_px"),
        default=None,
        help="scale; adds micrometre columns to the table",
    )
    return p


def _or(value: Any, none_text: str) -> str:
    """A default for a help text: the value, or what ``None`` means."""
    return none_text if value is None else str(value)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the prediction; exit code 0, or 3 when some frames failed (bad input raises ``InputError``)."""
    args = build_parser().parse_args(argv)
    config = load_predict_config(args.cfg) if args.cfg is not None else None
    sources, sampling = _sources(args, config)
    check_device(args.device)
    choice = resolve_settings(_command_line(args), config)
    options = choice.predict_options(iou=args.iou, max_det=args.max_det, um_per_px=args.um_per_px,
                                     device=str(args.device), refine_grow_px=args.refine_grow_px)  # fmt: skip
    check_postproc_values(choice.postproc, _postproc_where(choice))
    job = PredictJob.from_choice(choice, sources, args.out, options, images_json=args.images_json,
                                 save_overlays=args.save_overlays, resume=args.resume, cli_args=vars(args),
                                 measure_min_score=args.measure_min_score, sampling=sampling)  # fmt: skip
    created = _first_missing(Path(args.out).absolute())
    try:
        summary = run_predict(job)
    except BaseException:
        _remove_if_unused(Path(args.out), created)
        raise
    _print_summary(choice, summary, Path(args.out))
    return summary.exit_code


def _command_line(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line (:func:`flocshape.infer.settings.command_line_layer`)."""
    return command_line_layer(model=args.model, imgsz=args.imgsz, conf=args.conf, postproc=args.postproc,
                              no_postproc=args.no_postproc, refine=args.refine, no_refine=args.no_refine,
                              refine_inset=args.refine_inset, refine_smooth=args.refine_smooth, tile=args.tile,
                              overlap=args.overlap, no_tile=args.no_tile, box_pad=args.box_pad)  # fmt: skip


def _named_files(args: argparse.Namespace, config: PredictConfig | None) -> tuple[Path | None, Path | None]:
    """The weights and the post-processing file the run reads, where named: on the command line, else in
    ``--cfg`` (checked before the model is loaded)."""
    values = config.values if config is not None else {}
    model = args.model if args.model is not None else values.get("model")
    postproc = values.get("postproc") if args.postproc is None and not args.no_postproc else args.postproc
    return model, postproc if isinstance(postproc, Path) else None


def _sources(
    args: argparse.Namespace, config: PredictConfig | None
) -> tuple[list[Path], dict[str, float] | None]:
    """The frames to predict (image files or sampled video frames) and the video sampling, checked with the run
    folder and the named input files."""
    model, postproc = _named_files(args, config)
    cfg = None if config is None else config.path
    videos = find_videos(args.source)
    source_dir = Path(args.source) if Path(args.source).is_dir() else None
    if videos:
        _check_video_options(args, source_dir)
        check_predict_inputs(videos, args.out, None, model, postproc, args.resume, source_dir, cfg)
        sources, _ = video_frames(args.source, args.every, args.fps)
        check_frame_names(sources)
        every = args.every or predict_defaults()["every"]
        return sources, ({"fps": args.fps} if args.fps is not None else {"every": every})
    if args.every is not None or args.fps is not None:
        flag = "--every" if args.every is not None else "--fps"
        raise input_error("command line", "only for a video source (.mp4, .avi, .mov)", flag)
    sources = find_sources(args.source)
    check_predict_inputs(sources, args.out, args.images_json, model, postproc, args.resume, source_dir, cfg)
    return sources, None


def _postproc_where(choice: ModelChoice) -> object:
    """How to name the post-processing in messages: its file, the ``--cfg`` entry, else ``postproc``."""
    if choice.postproc_path is not None:
        return choice.postproc_path
    if choice.settings_from.get("postproc") == FROM_CONFIG:
        return f"{choice.config}: postproc"
    return "postproc"


def _print_summary(choice: ModelChoice, summary: RunSummary, out: Path) -> None:
    """The run in five lines on stdout: model and settings, frames, instances, timings (ms per frame), folder."""
    done_now = summary.frames_total - summary.frames_done_before
    used = "shipped model card" if choice.card else "defaults/options"
    if choice.config is not None:
        used += f", config file {choice.config}"
    print(
        f"model: {choice.model} (imgsz {choice.imgsz}, conf {choice.conf}, postproc {choice.postproc}, "
        f"refine {choice.refine_level} (inset {choice.refine_inset_px} px, smooth {choice.refine_smooth_px} px), "
        f"box pad {choice.box_pad_px} px, tile {choice.tile_px}; {used})"
    )
    print(f"frames: {summary.frames_ok}/{summary.frames_total} ok, {len(summary.failed)} failed")
    print(f"instances: {summary.instances}")
    print(f"per frame (ms): {per_frame_ms(summary, done_now)}")
    print(f"out: {out.absolute()}")


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


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
