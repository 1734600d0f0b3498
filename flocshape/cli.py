"""The ``flocshape`` command: one entry point with a sub-command for every stage.

``flocshape <stage> ARGS`` runs exactly the function that ``python <folder>/<script>.py ARGS`` runs, with the same
options, outputs, exit codes and one-line errors (:func:`flocshape.errors.run_cli`); only the program name in
``--help`` reads ``flocshape <stage>``. ``flocshape --help`` lists the stages; ``flocshape <stage> --help`` shows
the stage's own help. A stage's module is imported only when that stage runs, so the list comes up without
importing torch.

Exit codes of the dispatcher itself: 0 for ``--help`` / ``--version``, 2 for an unknown stage or option (one line
``error: command line: ...``), 1 when a stage's module is not part of this installation.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

PROG = "flocshape"
HELP_FLAGS = ("-h", "--help")


@dataclass(frozen=True)
class Stage:
    """One sub-command: its name, ``module:function`` main, the scripts that run it by path, a one-line summary."""

    name: str
    target: str
    scripts: tuple[str, ...]
    summary: str

    @property
    def folder(self) -> str:
        """The folder of its main script (``datasets``, ``convert``, ``train``, ``infer``)."""
        return PurePosixPath(self.scripts[0]).parent.name


STAGES: tuple[Stage, ...] = (
    Stage("synthesize", "flocshape.synth.cli:main", ("datasets/synthesize.py",),
          "synthetic floc frames in the hackathon layout, with COCO labels and exact truth"),
    Stage("realism", "flocshape.synth.realism:main", ("datasets/realism.py",),
          "realism figure and table: synthetic frame statistics next to the hackathon's"),
    Stage("coco2yolo", "flocshape.convert_guard:coco2yolo_main", ("convert/coco2yolo.py",),
          "COCO instances -> Ultralytics YOLO-seg dataset (group split, optional tiles)"),
    Stage("yolo2coco", "flocshape.convert_guard:yolo2coco_main", ("convert/yolo2coco.py",),
          "YOLO-seg labels -> COCO instances (or a scored results list)"),
    Stage("labelmap2coco", "flocshape.convert_guard:labelmap2coco_main", ("convert/labelmap2coco.py",),
          "instance label maps (16-bit PNG) -> COCO with compressed RLE"),
    Stage("export-labelling", "flocshape.convert.export:main", ("convert/export_labelling.py",),
          "predictions of chosen frames -> pre-annotations for CVAT or Label Studio"),
    Stage("train", "flocshape.train.cli:main", ("train/train.py",),
          "train a YOLO-seg particle model from a recipe"),
    Stage("finetune", "flocshape.train.finetune_cli:main", ("train/finetune.py",),
          "fine-tune the shipped model on your own labelled frames"),
    Stage("sweep", "flocshape.train.sweep_cli:main", ("train/sweep.py",),
          "model study: train each run, tune on validation, score test, leaderboard"),
    Stage("vanilla-baseline", "flocshape.baselines.vanilla_cli:main",
          ("train/vanilla_baseline.py", "benchmarks/vanilla_baseline.py"),
          "baseline: Ultralytics' own convert, train and predict with its defaults"),
    Stage("predict", "flocshape.infer.predict_cli:main", ("infer/predict.py",),
          "segment frames or a video: submission.json, particles.parquet, overlays"),
    Stage("score", "flocshape.score.cli:score_main", ("infer/score.py",),
          "score predictions against COCO ground truth (hackathon F1, strict F1, COCO AP)"),
    Stage("tune", "flocshape.score.cli:tune_main", ("infer/tune.py",),
          "tune post-processing for the hackathon F1 on a validation split"),
    Stage("tune-refine", "flocshape.infer.tune_refine_cli:main", ("infer/tune_refine.py",),
          "choose the mask refinement (level, inset, smoothing) on a validation split"),
    Stage("shape", "flocshape.shape.cli:main", ("infer/shape.py",),
          "shape descriptors of every instance -> particle table"),
    Stage("calibrate", "flocshape.shape.calibrate_cli:main", ("infer/calibrate.py",),
          "fit descriptor calibration on labelled frames, or apply it to a particle table"),
    Stage("compare", "flocshape.stats.cli:main", ("infer/compare.py",),
          "change of size and shape between batches (Δmedian with CI, KS, verdicts)"),
    Stage("track", "flocshape.track.cli:main", ("infer/track.py",),
          "link particles across frames and fit trends over time"),
    Stage("report", "flocshape.report.cli:main", ("infer/report.py",),
          "one self-contained HTML report of one or more runs"),
    Stage("watershed", "flocshape.baselines.watershed_cli:main", ("infer/watershed.py",),
          "classical baseline: grey threshold + distance-transform watershed"),
)  # fmt: skip

BY_NAME: dict[str, Stage] = {stage.name: stage for stage in STAGES}
FOLDER_TITLES = {
    "datasets": "data",
    "convert": "convert formats",
    "train": "train",
    "infer": "predict, measure, compare",
}


class StageUnavailable(Exception):
    """The module of a registered stage is not part of this installation."""


def help_text() -> str:
    """``flocshape --help``: usage, then every stage with its one-line summary, grouped by folder."""
    width = max(len(stage.name) for stage in STAGES) + 2
    lines = [
        f"usage: {PROG} <stage> [options ...]",
        f"       {PROG} <stage> --help",
        "",
        "Particle (floc) segmentation with Ultralytics YOLO-seg and shape metrology. Each stage runs the same",
        "code, options and exit codes as its script run by path: `flocshape shape ARGS` = `python infer/shape.py ARGS`.",
    ]
    for folder, title in FOLDER_TITLES.items():
        lines += ["", f"{title} ({folder}/):"]
        lines += [f"  {s.name:<{width}}{s.summary}" for s in STAGES if s.folder == folder]
    lines += ["", "options:", "  -h, --help  show this list", "  --version   show the version"]
    return "\n".join(lines)


def _error(message: str, code: int) -> int:
    """Print ``error: message`` (one line) on stderr and return ``code``."""
    print(f"error: {message}", file=sys.stderr)
    return code


def _unknown(word: str) -> int:
    """One line for an unknown stage or option, with the closest stage name when there is one."""
    kind = "option" if word.startswith("-") else "stage"
    close = difflib.get_close_matches(word.lstrip("-"), list(BY_NAME), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return _error(f"command line: unknown {kind} '{word}'; {hint}'{PROG} --help' lists the stages", 2)


def load_main(stage: Stage) -> Callable[[Sequence[str] | None], int | None]:
    """Import the stage's module and return its ``main``; :class:`StageUnavailable` if the module is absent."""
    module_name, func_name = stage.target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # only the stage's own module (or a parent package) missing; a missing dependency inside it is a bug
        if exc.name is None or not (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise
        raise StageUnavailable(f"no module {module_name}") from None
    return getattr(module, func_name)


@contextmanager
def stage_prog(stage: Stage) -> Iterator[None]:
    """While a stage runs, parsers built with its script's name as ``prog`` are named ``flocshape <stage>``.

    Stage parsers name themselves after their script (``prog="infer/shape.py"`` or ``"coco2yolo.py"``); this
    renames them in ``--help`` and usage lines (sub-command parsers follow their parent), nothing else.
    """
    names = {*stage.scripts, *(PurePosixPath(s).name for s in stage.scripts)}
    prog = f"{PROG} {stage.name}"
    original = argparse.ArgumentParser.__init__

    def init(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        if args and args[0] in names:
            args = (prog, *args[1:])
        elif kwargs.get("prog") in names:
            kwargs["prog"] = prog
        original(self, *args, **kwargs)

    argparse.ArgumentParser.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        argparse.ArgumentParser.__init__ = original  # type: ignore[method-assign]


def run_stage(stage: Stage, argv: Sequence[str]) -> int:
    """Run one stage's ``main`` on ``argv`` under :func:`flocshape.errors.run_cli` (one-line errors)."""
    from flocshape.errors import run_cli

    with stage_prog(stage):
        try:
            stage_main = load_main(stage)
        except StageUnavailable as exc:
            return _error(f"{PROG} {stage.name}: not available in this installation ({exc})", 1)
        return run_cli(stage_main, list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flocshape`` command."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in HELP_FLAGS:
        print(help_text())
        return 0
    if args[0] == "--version":
        from flocshape import __version__

        print(f"{PROG} {__version__}")
        return 0
    stage = BY_NAME.get(args[0])
    if stage is None:
        return _unknown(args[0])
    return run_stage(stage, args[1:])


if __name__ == "__main__":
    raise SystemExit(main())
