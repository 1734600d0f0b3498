"""A small workspace of valid inputs for every stage, and the runner of the bad-input matrix.

:func:`build_workspace` writes, once per test module, the files every case starts from (ground truth and
predictions, three toy frames, a predict-like run folder, an empty particle table, a toy YOLO dataset, a user's
notes folder). :func:`run_case` copies it, applies one case, runs the stage's ``main`` in this process through
:func:`flocshape.errors.run_cli` (as the scripts do) and reports the exit code, the stderr lines and every file
that appeared, changed or disappeared (by sha256). The network is never loaded: ``Segmenter`` is replaced by a
stub that fails the case if a predict run gets that far.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pandas as pd
from scriptload import load_script

from flocshape.errors import run_cli
from flocshape.score.synth import synthetic_scoring_set
from flocshape.shape.sources import measure_coco
from flocshape.testing import make_toy_dataset, make_toy_frames

# A folder no process may create files in: /sys for root (chmod 555 does not stop root), else a chmod-555
# folder of the workspace.
ROOT_USER = os.geteuid() == 0


def read_only(ws: Path) -> Path:
    """A folder of ``ws`` (or ``/sys`` for root) in which nothing can be created."""
    return Path("/sys") if ROOT_USER else ws / "ro"


@dataclass(frozen=True)
class Case:
    """One kind of bad input: the stage, what is wrong, how to build the command line, what must be said.

    ``argv(ws)`` builds the arguments inside the copied workspace ``ws`` (and may write the bad file there first:
    those files count as inputs). ``outcome`` is ``"error"`` (exit 2, one line ``error: ...``, nothing written),
    ``"warning"`` (exit 0, a ``warning: ...`` line, the output written, no input changed) or ``"answer"`` (exit 0,
    nothing on stderr, ``expect`` in the printed answer: a result that says what it cannot conclude).
    """

    id: str
    stage: str
    kind: str
    argv: Callable[[Path], list[str]]
    expect: str
    outcome: str = "error"


@dataclass
class Result:
    """What a case did: exit code, stderr lines, stdout, files added / changed / removed (relative paths)."""

    rc: int
    err: list[str]
    out: str
    added: list[str]
    changed: list[str]
    removed: list[str]


STAGES: dict[str, tuple[str, str]] = {
    # stage -> (command shown in the docs, how to load its main)
    "score": ("infer/score.py", "flocshape.score.cli:score_main"),
    "tune": ("infer/tune.py", "flocshape.score.cli:tune_main"),
    "shape": ("infer/shape.py", "script:infer/shape.py"),
    "compare": ("infer/compare.py", "flocshape.stats.cli:main"),
    "track": ("infer/track.py", "flocshape.track.cli:main"),
    "report": ("infer/report.py", "script:infer/report.py"),
    "calibrate": ("infer/calibrate.py", "script:infer/calibrate.py"),
    "tune_refine": ("infer/tune_refine.py", "script:infer/tune_refine.py"),
    "predict": ("infer/predict.py", "script:infer/predict.py"),
    "watershed": ("infer/watershed.py", "script:infer/watershed.py"),
    "synthesize": ("datasets/synthesize.py", "flocshape.synth.cli:main"),
    "coco2yolo": ("convert/coco2yolo.py", "flocshape.convert_guard:coco2yolo_main"),
    "yolo2coco": ("convert/yolo2coco.py", "flocshape.convert_guard:yolo2coco_main"),
    "labelmap2coco": ("convert/labelmap2coco.py", "flocshape.convert_guard:labelmap2coco_main"),
    "train": ("train/train.py", "script:train/train.py"),
    "sweep": ("train/sweep.py", "script:train/sweep.py"),
}


def stage_main(stage: str) -> Callable[[Sequence[str] | None], int]:
    """The ``main`` of a stage (scripts are loaded by path, like ``python infer/x.py``)."""
    where = STAGES[stage][1]
    if where.startswith("script:"):
        rel = where.removeprefix("script:")
        return load_script(rel, "badinput_" + rel.replace("/", "_").removesuffix(".py")).main
    module, name = where.split(":")
    return getattr(__import__(module, fromlist=[name]), name)


def _write_json(path: Path, obj: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


def build_workspace(root: Path) -> Path:
    """Write the valid inputs every case starts from into ``root`` (see the module docstring)."""
    gt, preds = synthetic_scoring_set(seed=11, n_images=2, duplicates=2)
    _write_json(root / "gt.json", gt)
    _write_json(root / "pred.json", preds)
    _, toy = make_toy_frames(root / "frames", n_frames=3)
    _write_json(root / "toy_gt.json", toy)
    _write_json(root / "images.json", {"images": toy["images"], "categories": toy["categories"]})
    results = [{"image_id": a["image_id"], "category_id": 1, "score": 0.9 - 0.01 * k,
                "segmentation": a["segmentation"]} for k, a in enumerate(toy["annotations"])]  # fmt: skip
    run = root / "run"
    _write_json(run / "submission.json", results)
    table = measure_coco(run / "submission.json", root / "frames", None, root / "images.json")
    table.assign(low_score=False).to_parquet(run / "particles.parquet", index=False)
    _write_json(run / "manifest.json", {"tool": "infer/predict.py", "args": {"source": str(root / "frames")}})
    other = root / "other_run"
    other.mkdir()
    measure_coco(root / "gt.json").assign(low_score=False).to_parquet(
        other / "particles.parquet", index=False
    )
    empty = root / "empty"
    empty.mkdir()
    table.iloc[:0].assign(low_score=False).to_parquet(empty / "particles.parquet", index=False)
    make_toy_dataset(root / "ds", n_train=1, n_val=1)
    (root / "labels").mkdir()
    (root / "labels" / "0001.txt").write_text("0 0.1 0.1 0.3 0.1 0.3 0.3 0.1 0.3\n")
    notes = root / "notes"
    notes.mkdir()
    (notes / "mine.txt").write_text("a user's notes\n")
    _write_json(notes / "mine.json", {"mine": True})
    (notes / "table.csv").write_text("a,b\n1,2\n")
    (notes / "page.html").write_text("<p>mine</p>\n")
    (root / "dir.parquet").mkdir()
    if not ROOT_USER:
        (root / "ro").mkdir()
        (root / "ro").chmod(0o555)
    return root


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (``"dir"`` for folders), by relative path."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = "dir" if p.is_dir() and not p.is_symlink() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


class _NoNetwork:
    """Stands in for ``flocshape.infer.run.Segmenter``: a predict case that reaches the model fails."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded: the bad input was not caught before")


def run_case(case: Case, base: Path, work: Path) -> Result:
    """Copy ``base`` to ``work``, build the case's argv, run the stage, compare the files before and after."""
    shutil.copytree(base, work, symlinks=True)
    argv = case.argv(work)
    before = snapshot(work)
    err, out = io.StringIO(), io.StringIO()
    main = stage_main(case.stage)
    cwd = os.getcwd()
    try:
        os.chdir(work)
        with (
            contextlib.redirect_stderr(err),
            contextlib.redirect_stdout(out),
            mock.patch("flocshape.infer.run.Segmenter", _NoNetwork),
        ):
            rc = run_cli(main, argv)
    finally:
        os.chdir(cwd)
    after = snapshot(work)
    return Result(
        rc=rc,
        err=[line for line in err.getvalue().splitlines() if line.strip()],
        out=out.getvalue(),
        added=sorted(set(after) - set(before)),
        changed=sorted(k for k in before if k in after and before[k] != after[k]),
        removed=sorted(set(before) - set(after)),
    )


def tables_equal(a: Path, b: Path) -> bool:
    """Two parquet tables hold the same values."""
    return pd.read_parquet(a).equals(pd.read_parquet(b))
