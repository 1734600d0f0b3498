"""The pipeline's stages called in-process, each one's output captured in a run's ``log.txt``.

A study run (:mod:`flocshape.train.sweep`) and a fine-tune (:mod:`flocshape.train.finetune_cli`) call the stages'
Python entry points, never their scripts:

=================  =============================================  ============================================
stage              called                                         command line recorded in the log
=================  =============================================  ============================================
train              ``flocshape.train.cli.main``                   ``train/train.py --data ... key=value``
predict            ``flocshape.infer.predict_cli.main``           ``infer/predict.py ...``
tune               :func:`flocshape.score.cli.tune_main`          ``infer/tune.py ...``
tune_refine        ``flocshape.infer.tune_refine_cli.main``       ``infer/tune_refine.py ...``
score              :func:`flocshape.score.cli.score_main`         ``infer/score.py ...``
vanilla baseline   ``flocshape.baselines.vanilla_cli.main``       ``train/vanilla_baseline.py ...``
=================  =============================================  ============================================

Per call, :meth:`StageLog.call` appends ``$ python <script> <args>`` (the equivalent command a user would type)
to the log, then everything the stage prints: stdout, stderr and Ultralytics' log lines (its logger's stream
handlers point at the log for the call). While the stage runs, ``sys.argv`` is that command line, so the
manifests it writes record it as if it had been typed. A stage that rejects its input (one-line error, exit
2), exits non-zero or raises is reported in the log (message or traceback) and raised as :class:`StageError`.
Ctrl-C (``KeyboardInterrupt``) is not caught. One process captures one stage at a time (``sys.stdout`` is
process-wide): concurrent runs go in separate processes.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from flocshape.errors import run_cli

StageMain = Callable[[Sequence[str] | None], int | None]
ULTRALYTICS_LOGGER = "ultralytics"
VANILLA = "train/vanilla_baseline.py"


class StageError(RuntimeError):
    """A stage failed; the message names the stage, its exit code or exception, and the log."""


@contextlib.contextmanager
def _ultralytics_logs_to(stream: TextIO) -> Iterator[None]:
    """Point the stream handlers of Ultralytics' logger at ``stream`` for the block (they keep the ``sys.stdout``
    of the moment Ultralytics was imported, so redirecting ``sys.stdout`` alone misses them)."""
    from flocshape import offline

    offline.setup()  # imports Ultralytics now, so that its handlers are not created on the captured stream
    handlers = [
        h
        for h in logging.getLogger(ULTRALYTICS_LOGGER).handlers
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    ]
    before = [h.setStream(stream) for h in handlers]
    try:
        yield
    finally:
        for handler, old in zip(handlers, before, strict=True):
            handler.setStream(old if old is not None else sys.__stdout__)


@contextlib.contextmanager
def _argv(command: list[str]) -> Iterator[None]:
    """``sys.argv`` set to ``command`` for the block."""
    saved = sys.argv
    sys.argv = command
    try:
        yield
    finally:
        sys.argv = saved


def command_line(script: str, argv: Sequence[object]) -> str:
    """``python script arg ...`` with arguments that hold spaces quoted (the log's ``$`` line)."""
    parts = [str(a) for a in argv]
    shown = [f"'{p}'" if (" " in p or not p) else p for p in parts]
    return " ".join(["python", script, *shown])


class StageLog:
    """The log file of one run; :meth:`call` runs a stage with its output appended to it."""

    def __init__(self, path: Path, label: str = "") -> None:
        self.path = Path(path)
        self.label = label or self.path.parent.name

    def note(self, text: str) -> None:
        """Append a line to the log."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(text.rstrip("\n") + "\n")

    def call(self, script: str, argv: Sequence[object], run: Callable[[list[str]], int | None]) -> float:
        """Run ``run(argv as strings)`` with its output in the log; return its wall time in s.

        ``script`` is the stage's command (``infer/predict.py``), recorded with ``argv`` as the ``$`` line.
        Raises :class:`StageError` when the stage exits non-zero, rejects its input or raises."""
        args = [str(a) for a in argv]
        self.note("$ " + command_line(script, args))
        t0 = time.perf_counter()
        with self.path.open("a", encoding="utf-8") as fh, contextlib.ExitStack() as stack:
            stack.enter_context(_ultralytics_logs_to(fh))
            stack.enter_context(contextlib.redirect_stdout(fh))
            stack.enter_context(contextlib.redirect_stderr(fh))
            stack.enter_context(_argv([script, *args]))
            rc = self._exit_code(script, lambda: run_cli(run, args), fh)
        if rc != 0:
            raise StageError(f"{self.label}: exit {rc}: {command_line(script, args)} (see {self.path})")
        return time.perf_counter() - t0

    def _exit_code(self, script: str, run: Callable[[], int], fh: TextIO) -> int:
        """The stage's exit code: its return value, a ``SystemExit`` code, or 1 with the traceback in the log
        for an exception (``run_cli`` has already turned bad input into exit 2 and a one-line error)."""
        try:
            rc = run()
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception as exc:  # noqa: BLE001 - any failure of a stage is reported, not raised
            traceback.print_exc(file=fh)
            fh.flush()
            raise StageError(
                f"{self.label}: {script} raised {type(exc).__name__}: {exc} (see {self.path})"
            ) from exc
        if rc == 130:  # run_cli's answer to Ctrl-C
            raise KeyboardInterrupt
        return int(rc)


def _main(module: str, name: str = "main") -> StageMain:
    """A stage's ``main(argv)``, imported when first called (the stage modules import Ultralytics and torch)."""
    import importlib

    return getattr(importlib.import_module(module), name)


def predict(log: StageLog, argv: Sequence[object]) -> float:
    """``infer/predict.py ARGV`` in-process."""
    return log.call("infer/predict.py", argv, _main("flocshape.infer.predict_cli"))


def tune(log: StageLog, argv: Sequence[object]) -> float:
    """``infer/tune.py ARGV`` (post-processing chosen on validation predictions) in-process."""
    return log.call("infer/tune.py", argv, _main("flocshape.score.cli", "tune_main"))


def tune_refine(log: StageLog, argv: Sequence[object]) -> float:
    """``infer/tune_refine.py ARGV`` (mask refinement chosen on validation frames) in-process."""
    return log.call("infer/tune_refine.py", argv, _main("flocshape.infer.tune_refine_cli"))


def score(log: StageLog, argv: Sequence[object]) -> float:
    """``infer/score.py ARGV`` in-process."""
    return log.call("infer/score.py", argv, _main("flocshape.score.cli", "score_main"))


def train(log: StageLog, data_yaml: Path, recipe: str, project: Path, overrides: dict[str, Any]) -> float:
    """``train/train.py`` into ``project/train`` (``exist_ok``: an interrupted run's folder is reused) with the
    recipe and ``key=value`` overrides; return the wall time in s."""
    items = [f"{k}={v}" for k, v in {"exist_ok": True, **overrides}.items()]
    argv = ["--data", data_yaml, "--recipe", recipe, "--project", project, "--name", "train", *items]
    return log.call("train/train.py", argv, _main("flocshape.train.cli"))


def vanilla_train(log: StageLog, data_yaml: Path, model: str, project: Path, budget: dict[str, Any]) -> float:
    """The vanilla-Ultralytics baseline's training into ``project/train``; ``budget``: ``time``, ``epochs``,
    ``device``, ``workers``, ``seed``. Returns the wall time in s."""
    items = [f"{k}={v}" for k, v in budget.items()]
    argv = ["train", "--data", data_yaml, "--model", model, "--project", project, "--name", "train", *items]
    return log.call(VANILLA, argv, _main("flocshape.baselines.vanilla_cli"))


def vanilla_predict(
    log: StageLog, weights: Path, source: Path, images_json: Path, out_json: Path, device: str
) -> float:
    """The vanilla baseline's prediction (Ultralytics defaults) into the results list ``out_json``."""
    argv = ["predict", "--model", weights, "--source", source, "--images-json", images_json, "--out", out_json,
            "--device", device]  # fmt: skip
    return log.call(VANILLA, argv, _main("flocshape.baselines.vanilla_cli"))
