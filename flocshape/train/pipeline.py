"""Train a model and choose its prediction settings on the validation frames: the sequence a study run and a
fine-tune share.

:meth:`Pipeline.train` -> :meth:`Pipeline.validate`: predict the whole validation frames raw (conf 0.05, the
run's predict options) -> choose the post-processing on them (``infer/tune.py``; skipped, so none, when the
model predicts nothing there) -> choose the mask refinement on the post-processed predictions
(``infer/tune_refine.py``: every level x inset x smoothing of the grid and the unrefined masks; an empty level
list skips it) -> score the validation predictions with the chosen settings (``infer/score.py``). Every stage
is called in-process (:mod:`flocshape.train.stages`) and logged to the run's ``log.txt``.

A step whose output exists is skipped, so an interrupted run resumes. Files in the run folder:
``train/`` (Ultralytics run, ``weights/best.pt``), ``train_time.json`` (``train_wall_s``, s), ``val_gt.json`` (the
COCO file restricted to the validation frames), ``val_pred/`` (raw predictions; ``submission_tuned.json`` after
the post-processing, ``submission_refined.json`` after the refinement), ``tune/postproc.json``,
``tune/refine.json`` and the validation score (default ``val_score.json``, ``val_score_refined.json`` when a
refinement was chosen). Scores on the validation frames are optimistic: the settings were chosen on them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flocshape.fsio import atomic_write_json
from flocshape.infer.refine import DEFAULT_SMOOTH_PX
from flocshape.infer.refine_tune import chosen_refinement
from flocshape.score.inputs import subset_coco
from flocshape.score.postprocess import filter_predictions
from flocshape.train import stages

VAL_CONF = 0.05
"""Minimum confidence of the validation predictions: low, so that the post-processing tuning can choose."""
DEFAULT_REFINE_LEVELS = (0.4, 0.5, 0.6, 0.7)
POSTPROC_KEYS = ("min_score", "min_area_px", "mask_nms_iou", "nms_metric")

Refinement = tuple[float, float, float]
"""A chosen mask refinement: (level 0-1, inset px, smoothing sigma px)."""


@dataclass
class PipelineSpec:
    """What to train and how to predict.

    ``train``: Ultralytics ``key=value`` overrides of the recipe; ``predict``: ``infer/predict.py`` options by
    dest name without dashes (``imgsz``, ``tile``, ``overlap``, ``device``; ``conf`` defaults to
    :data:`VAL_CONF`); ``val_coco``: a COCO file whose images include every frame of ``val_images`` (its
    annotations are their ground truth). The refinement grid: levels (0-1; empty = no refinement), insets and
    smoothing sigmas (px).
    """

    folder: Path
    data_yaml: Path
    recipe: str
    val_images: Path
    val_coco: Path
    train: dict[str, Any] = field(default_factory=dict)
    predict: dict[str, Any] = field(default_factory=dict)
    refine_levels: list[float] = field(default_factory=lambda: list(DEFAULT_REFINE_LEVELS))
    refine_insets: list[float] = field(default_factory=lambda: [0.0])
    refine_smooths: list[float] = field(default_factory=lambda: [DEFAULT_SMOOTH_PX])


@dataclass
class Validation:
    """The settings chosen on the validation frames and the validation score with them (``infer/score.py``'s
    JSON). ``postproc``: the tuned file, ``None`` when nothing was predicted; ``refine``: ``None`` when the
    unrefined masks won or refinement was skipped; ``submission``: the validation predictions with both."""

    postproc: Path | None
    refine: Refinement | None
    submission: Path
    score: dict[str, Any]
    score_path: Path


def predict_options(
    options: dict[str, Any], postproc: Path | None = None, refine: Refinement | None = None
) -> list[object]:
    """``infer/predict.py`` flags for ``options`` (conf :data:`VAL_CONF` unless given), a post-processing file and
    a refinement."""
    argv: list[object] = []
    for key, value in {"conf": VAL_CONF, **options}.items():
        argv += [f"--{key.replace('_', '-')}", value]
    if postproc is not None:
        argv += ["--postproc", postproc]
    if refine is not None:
        argv += ["--refine", refine[0], "--refine-inset", refine[1], "--refine-smooth", refine[2]]
    return argv


class Pipeline:
    """The steps of one run in ``spec.folder``; each is skipped when its output exists."""

    def __init__(self, spec: PipelineSpec, log: stages.StageLog | None = None) -> None:
        self.spec = spec
        self.dir = Path(spec.folder)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = log or stages.StageLog(self.dir / "log.txt")

    def weights(self) -> Path:
        """The trained weights, ``train/weights/best.pt``."""
        return self.dir / "train" / "weights" / "best.pt"

    def train(self) -> None:
        """Train unless ``best.pt`` exists; record the wall time (s) in ``train_time.json``."""
        if self.weights().is_file():
            return
        wall = stages.train(self.log, self.spec.data_yaml, self.spec.recipe, self.dir, self.spec.train)
        atomic_write_json(self.dir / "train_time.json", {"train_wall_s": round(wall, 1)})

    def val_gt(self) -> Path:
        """The ground truth of the validation frames: ``val_coco`` restricted to them (``val_gt.json``)."""
        out = self.dir / "val_gt.json"
        if not out.is_file():
            names = {p.name for p in self.spec.val_images.iterdir()}
            coco = json.loads(self.spec.val_coco.read_text())
            atomic_write_json(out, subset_coco(coco, names), indent=None)
        return out

    def predict(
        self,
        source: Path,
        images_json: Path,
        out: Path,
        postproc: Path | None = None,
        refine: Refinement | None = None,
    ) -> Path:
        """Predict ``source`` into the run folder ``out`` unless done; return its ``submission.json``."""
        if not (out / "submission.json").is_file():
            argv = ["--model", self.weights(), "--source", source, "--images-json", images_json, "--out", out]
            stages.predict(self.log, [*argv, *predict_options(self.spec.predict, postproc, refine)])
        return out / "submission.json"

    def score(self, gt: Path, pred: Path, out: Path) -> dict[str, Any]:
        """``infer/score.py`` of ``pred`` against ``gt`` into ``out`` unless done; return the scores."""
        if not out.is_file():
            stages.score(self.log, ["--gt", gt, "--pred", pred, "--json", out])
        return json.loads(out.read_text())

    def tune_postproc(self, raw: Path, val_gt: Path) -> Path | None:
        """``tune/postproc.json`` chosen on the raw validation predictions; ``None`` when there are none."""
        if not json.loads(raw.read_text()):
            return None
        out = self.dir / "tune" / "postproc.json"
        if not out.is_file():
            stages.tune(self.log, ["--gt", val_gt, "--pred", raw, "--out", out])
        return out

    def tuned_val_submission(self, postproc: Path) -> Path:
        """The validation predictions after the post-processing tuned on them (``submission_tuned.json``)."""
        out = self.dir / "val_pred" / "submission_tuned.json"
        if not out.is_file():
            params = json.loads(postproc.read_text())
            raw = json.loads((self.dir / "val_pred" / "submission.json").read_text())
            atomic_write_json(
                out, filter_predictions(raw, **{k: params[k] for k in POSTPROC_KEYS}), indent=None
            )
        return out

    def tune_refine(self, val_pred: Path, val_gt: Path) -> Refinement | None:
        """The refinement chosen on the validation frames (``None``: skipped, or the unrefined masks won). Writes
        ``tune/refine.json`` and ``val_pred/submission_refined.json`` (refined with the choice)."""
        spec = self.spec
        if not spec.refine_levels:
            return None
        out = self.dir / "tune" / "refine.json"
        if not out.is_file():
            stages.tune_refine(self.log, [
                "--pred", val_pred, "--gt", val_gt, "--images", spec.val_images, "--images-json", spec.val_coco,
                "--level", *spec.refine_levels, "--inset-px", *spec.refine_insets, "--smooth-px",
                *spec.refine_smooths, "--out", out, "--refined-out", self.refined_val_submission(),
            ])  # fmt: skip
        chosen = chosen_refinement(json.loads(out.read_text()))
        if chosen["refine_level"] is None:
            return None
        return float(chosen["refine_level"]), chosen["refine_inset_px"], chosen["refine_smooth_px"]

    def refined_val_submission(self) -> Path:
        """Where ``infer/tune_refine.py`` writes the validation predictions refined with its choice."""
        return self.dir / "val_pred" / "submission_refined.json"

    def validate(self, score_name: str | None = None) -> Validation:
        """Predict the validation frames, choose post-processing and refinement on them, score them with the
        choice into ``score_name`` (default ``val_score.json``, ``val_score_refined.json`` when refined)."""
        val_gt = self.val_gt()
        raw = self.predict(self.spec.val_images, self.spec.val_coco, self.dir / "val_pred")
        postproc = self.tune_postproc(raw, val_gt)
        submission = raw if postproc is None else self.tuned_val_submission(postproc)
        refine = self.tune_refine(submission, val_gt)
        if refine is not None:
            submission = self.refined_val_submission()
        name = score_name or ("val_score_refined.json" if refine is not None else "val_score.json")
        score = self.score(val_gt, submission, self.dir / name)
        return Validation(postproc, refine, submission, score, self.dir / name)
