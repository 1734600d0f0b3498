"""The bad-input matrix: every kind of bad input a stage must answer with one line (or a documented warning).

Each :class:`~badinput_workspace.Case` runs in a fresh copy of the workspace of :mod:`badinput_workspace`
(paths are relative to it). ``python tests/badinput_cases.py`` prints the table of docs/reliability.md from a
real run of every case.
"""

from __future__ import annotations

import copy
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from badinput_workspace import Case, read_only

NAN = math.nan


def _edit(src: str, dst: str, mutate: Callable[[Any], Any]) -> Callable[[Path], str]:
    """A builder writing ``dst`` = ``src`` (JSON) changed by ``mutate`` (which edits in place or returns)."""

    def build(ws: Path) -> str:
        data = copy.deepcopy(json.loads((ws / src).read_text()))
        new = mutate(data)
        (ws / dst).write_text(json.dumps(data if new is None else new))
        return dst

    return build


def _set(path: str, value: Any) -> Callable[[Any], None]:
    """``mutate`` that sets a nested key, ``"annotations.0.bbox"`` style."""
    keys = path.split(".")

    def mutate(data: Any) -> None:
        for k in keys[:-1]:
            data = data[int(k)] if isinstance(data, list) else data[k]
        last = keys[-1]
        if isinstance(data, list):
            data[int(last)] = value
        else:
            data[last] = value

    return mutate


def _score(gt: Callable[[Path], str] | str = "gt.json", pred: Callable[[Path], str] | str = "pred.json",
           *extra: str) -> Callable[[Path], list[str]]:  # fmt: skip
    return lambda ws: ["--gt", gt(ws) if callable(gt) else gt, "--pred", pred(ws) if callable(pred) else pred,
                       *extra]  # fmt: skip


def _args(*items: str | Callable[[Path], str]) -> Callable[[Path], list[str]]:
    """argv from strings and builders (a builder writes a file and returns its path)."""
    return lambda ws: [i(ws) if callable(i) else i for i in items]


def _ro(name: str) -> Callable[[Path], str]:
    return lambda ws: str(read_only(ws) / name)


def _pop(path: str) -> Callable[[Any], None]:
    """``mutate`` that deletes a nested key or list item, ``"annotations.0.id"`` style."""
    keys = path.split(".")

    def mutate(data: Any) -> None:
        for k in keys[:-1]:
            data = data[int(k)] if isinstance(data, list) else data[k]
        data.pop(int(keys[-1]) if isinstance(data, list) else keys[-1])

    return mutate


def _dup_annotations(d: dict) -> None:
    d["annotations"] = d["annotations"] + d["annotations"]


def _on_other_images(preds: list) -> list:
    return [{**p, "image_id": 424242} for p in preds]


def _nowhere(preds: list) -> list:
    """Predictions on the right images that overlap no ground truth (a 2x2 square in the corner)."""
    square = [[0, 0, 2, 0, 2, 2, 0, 2]]
    return [{**p, "segmentation": square} for p in preds]


def _frames_with_same_name(ws: Path) -> str:
    for sub in ("a", "b"):
        (ws / "twins" / sub).mkdir(parents=True)
        (ws / "twins" / sub / "0001.jpg").write_bytes((ws / "frames" / "0001.jpg").read_bytes())
    return "twins/*/0001.jpg"


def _non_utf8_name(ws: Path) -> str:
    folder = ws / "odd"
    folder.mkdir()
    raw = bytes(folder) + b"/0001\xff.jpg"
    with open(raw, "wb") as fh:
        fh.write((ws / "frames" / "0001.jpg").read_bytes())
    return "odd"


def _old_empty_table(ws: Path) -> str:
    import pandas as pd

    (ws / "old").mkdir()
    pd.DataFrame().to_parquet(ws / "old" / "particles.parquet")
    return "old"


def _one_particle(ws: Path) -> str:
    import pandas as pd

    table = pd.read_parquet(ws / "run" / "particles.parquet")
    table[~table["touches_border"]].iloc[:1].to_parquet(ws / "one.parquet", index=False)
    return "one.parquet"


def _twice_rows(ws: Path) -> str:
    import pandas as pd

    table = pd.read_parquet(ws / "run" / "particles.parquet")
    pd.concat([table, table]).to_parquet(ws / "twice.parquet", index=False)
    return "twice.parquet"


def _video(name: str, n_frames: int = 30, cut: bool = False) -> Callable[[Path], str]:
    """A builder writing ``videos/NAME`` (256 x 320 px, 10 fps; ``.avi``: MJPG, else mp4v) of ``n_frames`` frames,
    or, with ``cut``, its first half of bytes only."""

    def build(ws: Path) -> str:
        import cv2
        import numpy as np

        path = ws / "videos" / name
        path.parent.mkdir(exist_ok=True)
        fourcc = "MJPG" if path.suffix == ".avi" else "mp4v"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10.0, (320, 256))
        for i in range(n_frames):
            frame = np.full((256, 320, 3), 20, np.uint8)
            writer.write(cv2.circle(frame, (100 + i, 120), 12, (230, 230, 230), -1))
        writer.release()
        if cut:
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])
        return f"videos/{name}"

    return build


PRED = ["--source", "frames"]
RUN = ["--pred", "run/submission.json", "--images-json", "images.json"]

CASES: list[Case] = [
    # ---------------------------------------------------------------- outputs: never replace a user's file
    Case("score-json-is-gt", "score", "--json names the ground truth", _score("gt.json", "pred.json", "--json", "gt.json"), "is also an input"),
    Case("score-json-is-pred", "score", "--json names the predictions", _score("gt.json", "pred.json", "--json", "pred.json"), "is also an input"),
    Case("score-json-user-file", "score", "--json names a user's file", _score("gt.json", "pred.json", "--json", "notes/mine.json"), "not an earlier output of infer/score.py"),
    Case("score-json-folder", "score", "--json names a folder", _score("gt.json", "pred.json", "--json", "notes"), "is a folder"),
    Case("score-json-parent-file", "score", "--json inside a file", _score("gt.json", "pred.json", "--json", "gt.json/score.json"), "it is a file"),
    Case("score-json-read-only", "score", "--json in a read-only folder", lambda ws: _score()(ws) + ["--json", _ro("s.json")(ws)], "cannot write in"),
    Case("tune-out-is-pred", "tune", "--out names the predictions", _score("gt.json", "pred.json", "--out", "pred.json"), "is also an input"),
    Case("tune-out-user-file", "tune", "--out names a user's file", _score("gt.json", "pred.json", "--out", "notes/mine.json"), "not an earlier output of infer/tune.py"),
    Case("tune-csv-user-file", "tune", "the CSV beside --out is a user's file", _score("gt.json", "pred.json", "--out", "notes/table.json"), "table.csv, which is not an earlier output"),
    Case("tune-out-not-json", "tune", "--out does not end in .json", _score("gt.json", "pred.json", "--out", "post.txt"), "must end in .json"),
    Case("tune-out-folder", "tune", "--out names a folder ending .json", _score("gt.json", "pred.json", "--out", "dir.parquet"), "must end in .json"),
    Case("tune-out-read-only", "tune", "--out in a read-only folder", lambda ws: _score()(ws) + ["--out", _ro("p.json")(ws)], "cannot write in"),
    Case("shape-out-predict-table", "shape", "--out replaces predict's particle table", _args("--coco", "run/submission.json", "--images-json", "images.json", "--out", "run/particles.parquet"), "not an earlier output of infer/shape.py"),
    Case("shape-out-user-csv", "shape", "--out names a user's CSV", _args("--coco", "gt.json", "--out", "notes/table.csv"), "not an earlier output"),
    Case("shape-out-folder", "shape", "--out names a folder", _args("--coco", "gt.json", "--out", "dir.parquet"), "is a folder"),
    Case("shape-out-parent-file", "shape", "--out inside a file", _args("--coco", "gt.json", "--out", "gt.json/p.parquet"), "it is a file"),
    Case("shape-out-read-only", "shape", "--out in a read-only folder", _args("--coco", "gt.json", "--out", _ro("p.parquet")), "cannot write in"),
    Case("shape-out-suffix", "shape", "--out neither .parquet nor .csv", _args("--coco", "gt.json", "--out", "p.txt"), ".parquet or .csv"),
    Case("compare-out-is-input-run", "compare", "--out names the first input run", _args("run", "other_run", "--out", "run"), "contains the input"),
    Case("compare-out-user-folder", "compare", "--out names a user's folder", _args("run", "other_run", "--out", "notes"), "not an earlier output of infer/compare.py"),
    Case("compare-out-is-file", "compare", "--out names a file", _args("run", "other_run", "--out", "notes/mine.txt"), "exists and is not a folder"),
    Case("compare-out-parent-file", "compare", "--out inside a file", _args("run", "other_run", "--out", "gt.json/cmp"), "it is a file"),
    Case("compare-out-read-only", "compare", "--out in a read-only folder", _args("run", "other_run", "--out", _ro("cmp")), "cannot write in"),
    Case("track-out-is-run", "track", "--out names the run holding --pred", _args(*RUN, "--out", "run"), "contains the input"),
    Case("track-out-user-folder", "track", "--out names a user's folder", _args(*RUN, "--out", "notes"), "not an earlier output of infer/track.py"),
    Case("track-out-is-file", "track", "--out names a file", _args(*RUN, "--out", "notes/mine.txt"), "exists and is not a folder"),
    Case("track-out-read-only", "track", "--out in a read-only folder", _args(*RUN, "--out", _ro("tracks")), "cannot write in"),
    Case("report-out-is-table", "report", "--out replaces the run's particle table", _args("run", "--out", "run/particles.parquet"), "is also an input"),
    Case("report-out-is-submission", "report", "--out replaces the run's submission", _args("run", "--out", "run/submission.json"), "is also an input"),
    Case("report-out-user-file", "report", "--out names a user's HTML page", _args("run", "--out", "notes/page.html"), "not an earlier output of infer/report.py"),
    Case("report-out-folder", "report", "--out names a folder", _args("run", "--out", "notes"), "is a folder"),
    Case("report-out-read-only", "report", "--out in a read-only folder", _args("run", "--out", _ro("r.html")), "cannot write in"),
    Case("calibrate-apply-out-is-table", "calibrate", "apply --out names the input table", _args("apply", "--table", "run/particles.parquet", "--calibration", "gt.json", "--out", "run/particles.parquet"), "is also an input"),
    Case("calibrate-fit-out-is-gt", "calibrate", "fit --out names the ground truth", _args("fit", "--gt", "gt.json", "--pred", "pred.json", "--out", "gt.json"), "is also an input"),
    Case("calibrate-fit-out-user-file", "calibrate", "fit --out names a user's file", _args("fit", "--gt", "gt.json", "--pred", "pred.json", "--out", "notes/mine.json"), "not an earlier output"),
    Case("tune-refine-out-is-gt", "tune_refine", "--out names the ground truth", _args("--pred", "pred.json", "--gt", "gt.json", "--images", "frames", "--out", "gt.json"), "is also an input"),
    Case("tune-refine-refined-is-out", "tune_refine", "--refined-out equals --out", _args("--pred", "pred.json", "--gt", "gt.json", "--images", "frames", "--out", "r.json", "--refined-out", "r.json"), "is also --out"),
    Case("tune-refine-refined-is-pred", "tune_refine", "--refined-out names the predictions", _args("--pred", "pred.json", "--gt", "gt.json", "--images", "frames", "--out", "r.json", "--refined-out", "pred.json"), "is also an input"),
    Case("predict-out-is-file", "predict", "--out names a file", _args(*PRED, "--out", "notes/mine.txt"), "exists and is not a folder"),
    Case("predict-out-is-source", "predict", "--out names the frames folder", _args(*PRED, "--out", "frames"), "contains the input"),
    Case("predict-out-not-empty", "predict", "--out is a non-empty folder, no --resume", _args(*PRED, "--out", "notes"), "pass --resume"),
    Case("predict-out-parent-file", "predict", "--out inside a file", _args(*PRED, "--out", "gt.json/run"), "it is a file"),
    Case("predict-out-read-only", "predict", "--out in a read-only folder", _args(*PRED, "--out", _ro("run")), "cannot write in"),
    Case("watershed-out-is-source", "watershed", "--out names the frames folder, with --overwrite", _args(*PRED, "--out", "frames", "--overwrite"), "contains the input"),
    Case("watershed-out-user-folder", "watershed", "--out names a user's folder", _args(*PRED, "--out", "notes"), "not an earlier output of infer/watershed.py"),
    Case("synthesize-out-user-folder", "synthesize", "--out names a user's folder", _args("--out", "notes", "--preset", "small"), "not an earlier output of datasets/synthesize.py"),
    Case("synthesize-out-is-file", "synthesize", "--out names a file", _args("--out", "notes/mine.txt", "--preset", "small"), "exists and is not a folder"),
    Case("synthesize-out-read-only", "synthesize", "--out in a read-only folder", _args("--out", _ro("data"), "--preset", "small"), "cannot write in"),
    Case("yolo2coco-out-user-file", "yolo2coco", "--out names a user's file", _args("--images", "frames", "--labels", "labels", "--out", "notes/mine.json"), "not an earlier output of yolo2coco"),
    Case("yolo2coco-out-parent-file", "yolo2coco", "--out inside a file", _args("--images", "frames", "--labels", "labels", "--out", "gt.json/c.json"), "it is a file"),
    Case("labelmap2coco-out-folder", "labelmap2coco", "--out names a folder", _args("--images", "frames", "--labels", "frames", "--out", "notes"), "is a folder"),
    Case("coco2yolo-out-parent-file", "coco2yolo", "--out inside a file", _args("--json", "toy_gt.json", "--images", "frames", "--out", "gt.json/yolo"), "it is a file"),
    Case("coco2yolo-out-is-images", "coco2yolo", "--out names the images folder", _args("--json", "toy_gt.json", "--images", "frames", "--out", "frames"), "contains the input"),
    Case("train-project-parent-file", "train", "--project inside a file", _args("--data", "ds/data.yaml", "--recipe", "cpu-small", "--project", "gt.json/runs"), "it is a file"),
    # ---------------------------------------------------------------- numbers checked at the edge
    Case("predict-conf-nan", "predict", "--conf nan", _args(*PRED, "--out", "r", "--conf", "nan"), "--conf: must be a finite number in [0, 1]"),
    Case("predict-conf-above-1", "predict", "--conf 1.5", _args(*PRED, "--out", "r", "--conf", "1.5"), "--conf: must be a finite number"),
    Case("predict-conf-text", "predict", "--conf abc", _args(*PRED, "--out", "r", "--conf", "abc"), "--conf: not a number"),
    Case("predict-iou-2", "predict", "--iou 2", _args(*PRED, "--out", "r", "--iou", "2"), "--iou: must be a finite number in (0, 1]"),
    Case("predict-iou-0", "predict", "--iou 0", _args(*PRED, "--out", "r", "--iou", "0"), "--iou: must be"),
    Case("predict-max-det-0", "predict", "--max-det 0", _args(*PRED, "--out", "r", "--max-det", "0"), "--max-det: must be an integer in [1, inf)"),
    Case("predict-imgsz-negative", "predict", "--imgsz -5", _args(*PRED, "--out", "r", "--imgsz", "-5"), "--imgsz: must be an integer in [32, inf), a multiple of 32"),
    Case("predict-imgsz-not-stride", "predict", "--imgsz 100 (not a multiple of 32)", _args(*PRED, "--out", "r", "--imgsz", "100"), "a multiple of 32"),
    Case("predict-tile-small", "predict", "--tile 16", _args(*PRED, "--out", "r", "--tile", "16"), "--tile: must be an integer in [32, inf)"),
    Case("predict-overlap-1", "predict", "--overlap 1", _args(*PRED, "--out", "r", "--overlap", "1"), "--overlap: must be a finite number in [0, 1)"),
    Case("predict-overlap-nan", "predict", "--overlap nan", _args(*PRED, "--out", "r", "--overlap", "nan"), "--overlap: must be"),
    Case("predict-box-pad-negative", "predict", "--box-pad -1", _args(*PRED, "--out", "r", "--box-pad", "-1"), "--box-pad: must be an integer in [0,"),
    Case("predict-um-negative", "predict", "--um-per-px -1", _args(*PRED, "--out", "r", "--um-per-px", "-1"), "--um-per-px: must be a finite number in (0, inf)"),
    Case("predict-um-inf", "predict", "--um-per-px inf", _args(*PRED, "--out", "r", "--um-per-px", "inf"), "--um-per-px: must be"),
    Case("predict-measure-score-2", "predict", "--measure-min-score 2", _args(*PRED, "--out", "r", "--measure-min-score", "2"), "--measure-min-score: must be"),
    Case("predict-refine-1.5", "predict", "--refine 1.5", _args(*PRED, "--out", "r", "--refine", "1.5"), "--refine: must be"),
    Case("predict-refine-inset-negative", "predict", "--refine-inset -1", _args(*PRED, "--out", "r", "--refine-inset", "-1"), "--refine-inset: must be"),
    Case("predict-refine-smooth-nan", "predict", "--refine-smooth nan", _args(*PRED, "--out", "r", "--refine-smooth", "nan"), "--refine-smooth: must be"),
    Case("predict-grow-negative", "predict", "--refine-grow-px -2", _args(*PRED, "--out", "r", "--refine-grow-px", "-2"), "--refine-grow-px: must be"),
    Case("predict-device-missing", "predict", "--device 7 (no such GPU)", _args(*PRED, "--out", "r", "--device", "7"), "--device: no CUDA device 7"),
    Case("predict-device-text", "predict", "--device gpu", _args(*PRED, "--out", "r", "--device", "gpu"), "--device: not a device"),
    Case("predict-unknown-flag", "predict", "an unknown flag", _args(*PRED, "--out", "r", "--confidence", "0.5"), "unrecognized arguments"),
    Case("score-th-1", "score", "--th 1", _score("gt.json", "pred.json", "--th", "1"), "--th: must be a finite number in [0, 1)"),
    Case("score-th-nan", "score", "--th nan", _score("gt.json", "pred.json", "--th", "nan"), "--th: must be"),
    Case("score-max-dets-0", "score", "--max-dets 0", _score("gt.json", "pred.json", "--max-dets", "0"), "--max-dets: must be"),
    Case("score-missing-option", "score", "--pred missing", _args("--gt", "gt.json"), "the following arguments are required: --pred"),
    Case("tune-grid-nan", "tune", "--grid with NaN", _score("gt.json", "pred.json", "--out", "p.json", "--grid", '{"min_score": [NaN]}'), "min_score must be a finite number"),
    Case("tune-grid-unknown-key", "tune", "--grid with an unknown key", _score("gt.json", "pred.json", "--out", "p.json", "--grid", '{"conf": [0.1]}'), "unknown grid keys"),
    Case("tune-grid-not-json", "tune", "--grid neither a file nor JSON", _score("gt.json", "pred.json", "--out", "p.json", "--grid", "{min_score"), "neither a file nor JSON"),
    Case("tune-grid-empty-axis", "tune", "--grid with an empty list", _score("gt.json", "pred.json", "--out", "p.json", "--grid", '{"min_score": []}'), "at least one value"),
    Case("shape-um-zero", "shape", "--um-per-px 0", _args("--coco", "gt.json", "--out", "p.parquet", "--um-per-px", "0"), "--um-per-px: must be"),
    Case("shape-um-nan", "shape", "--um-per-px nan", _args("--coco", "gt.json", "--out", "p.parquet", "--um-per-px", "nan"), "--um-per-px: must be"),
    Case("compare-bootstrap-negative", "compare", "--bootstrap -1", _args("run", "other_run", "--out", "c", "--bootstrap", "-1"), "--bootstrap: must be"),
    Case("compare-confidence-1", "compare", "--confidence 1", _args("run", "other_run", "--out", "c", "--confidence", "1"), "--confidence: must be a finite number in (0, 1)"),
    Case("compare-confidence-nan", "compare", "--confidence nan", _args("run", "other_run", "--out", "c", "--confidence", "nan"), "--confidence: must be"),
    Case("compare-um-negative", "compare", "--um-per-px -2", _args("run", "other_run", "--out", "c", "--um-per-px", "-2"), "--um-per-px: must be"),
    Case("compare-min-particles-1", "compare", "--min-particles 1", _args("run", "other_run", "--out", "c", "--min-particles", "1"), "--min-particles: must be an integer in [2, inf)"),
    Case("compare-one-input", "compare", "a single input", _args("run", "--out", "c"), "at least two inputs"),
    Case("track-iou-gate-0", "track", "--iou-gate 0", _args(*RUN, "--out", "t", "--iou-gate", "0"), "--iou-gate: must be"),
    Case("track-block-size-0", "track", "--block-size 0", _args(*RUN, "--out", "t", "--block-size", "0"), "--block-size: must be"),
    Case("track-area-ratio-below-1", "track", "--max-area-ratio 0.5", _args(*RUN, "--out", "t", "--max-area-ratio", "0.5"), "--max-area-ratio: must be"),
    Case("track-min-len-1", "track", "--min-track-len 1", _args(*RUN, "--out", "t", "--min-track-len", "1"), "--min-track-len: must be"),
    Case("track-centroid-nan", "track", "--max-centroid-px nan", _args(*RUN, "--out", "t", "--max-centroid-px", "nan"), "--max-centroid-px: must be"),
    Case("report-frames-negative", "report", "--frames -1", _args("run", "--out", "r.html", "--frames", "-1"), "--frames: must be"),
    Case("report-um-nan", "report", "--um-per-px nan", _args("run", "--out", "r.html", "--um-per-px", "nan"), "--um-per-px: must be"),
    Case("calibrate-iou-0", "calibrate", "fit --iou-min 0", _args("fit", "--gt", "gt.json", "--pred", "pred.json", "--out", "c.json", "--iou-min", "0"), "--iou-min: must be"),
    Case("calibrate-bins-1", "calibrate", "fit --bins 1", _args("fit", "--gt", "gt.json", "--pred", "pred.json", "--out", "c.json", "--bins", "1"), "--bins: must be"),
    Case("tune-refine-level-1.5", "tune_refine", "--level 1.5", _args("--pred", "pred.json", "--gt", "gt.json", "--images", "frames", "--out", "r.json", "--level", "0.5", "1.5"), "--level: must be"),
    Case("tune-refine-grow-negative", "tune_refine", "--grow-px -1", _args("--pred", "pred.json", "--gt", "gt.json", "--images", "frames", "--out", "r.json", "--grow-px", "-1"), "--grow-px: must be"),
    Case("watershed-workers-0", "watershed", "--workers 0", _args(*PRED, "--out", "w", "--workers", "0"), "--workers: must be"),
    Case("watershed-um-negative", "watershed", "--um-per-px -1", _args(*PRED, "--out", "w", "--um-per-px", "-1"), "--um-per-px: must be"),
    Case("synthesize-noise-nan", "synthesize", "--noise-sigma nan", _args("--out", "data", "--preset", "small", "--noise-sigma", "nan"), "--noise-sigma: must be a finite number"),
    Case("synthesize-noise-inf", "synthesize", "--noise-sigma inf", _args("--out", "data", "--preset", "small", "--noise-sigma", "inf"), "--noise-sigma: must be"),
    Case("synthesize-frames-text", "synthesize", "--frames abc", _args("--out", "data", "--preset", "small", "--frames", "abc"), "--frames: not an integer"),
    Case("train-epochs-text", "train", "epochs=abc", _args("--data", "ds/data.yaml", "--recipe", "cpu-small", "--project", "runs", "epochs=abc"), "'epochs=abc' is of invalid type str"),
    Case("train-box-nan", "train", "box=.nan", _args("--data", "ds/data.yaml", "--recipe", "cpu-small", "--project", "runs", "box=.nan"), "must be a finite number"),
    Case("train-mosaic-2", "train", "mosaic=2 (a fraction)", _args("--data", "ds/data.yaml", "--recipe", "cpu-small", "--project", "runs", "mosaic=2"), "'mosaic=2' is an invalid value"),
    Case("train-no-equals", "train", "an override without =", _args("--data", "ds/data.yaml", "--recipe", "cpu-small", "--project", "runs", "epochs"), "expected key=value"),
    Case("coco2yolo-val-frac-nan", "coco2yolo", "--val-frac nan", _args("--json", "toy_gt.json", "--images", "frames", "--out", "y", "--val-frac", "nan"), "--val-frac: must be in [0, 1)"),
    Case("coco2yolo-overlap", "coco2yolo", "--overlap 1.5", _args("--json", "toy_gt.json", "--images", "frames", "--out", "y", "--tile", "64", "--overlap", "1.5"), "--overlap: must be in [0, 1)"),
    Case("sweep-parallel-0", "sweep", "--parallel 0", _args("study.yaml", "--out", "s", "--parallel", "0"), "--parallel: must be"),
    # ---------------------------------------------------------------- records: one validation for every reader
    Case("gt-bbox-nan", "score", "ground truth with a NaN bbox", _score(_edit("gt.json", "bad.json", _set("annotations.0.bbox", [NAN, 1, 2, 3]))), "'bbox' must be [x, y, w, h] of finite numbers"),
    Case("gt-area-negative", "score", "ground truth with a negative area", _score(_edit("gt.json", "bad.json", _set("annotations.0.area", -5))), "'area' must be a finite number >= 0"),
    Case("gt-duplicate-annotation-id", "score", "ground truth with an annotation id twice", _score(_edit("gt.json", "bad.json", _dup_annotations)), "duplicate annotation id"),
    Case("gt-duplicate-image-id", "score", "ground truth with an image id twice", _score(_edit("gt.json", "bad.json", lambda d: d["images"].append(dict(d["images"][0]))), "pred.json"), "duplicate image id"),
    Case("gt-height-zero", "score", "ground truth image of height 0", _score(_edit("gt.json", "bad.json", _set("images.0.height", 0))), "'height' must be at least 1"),
    Case("gt-huge-image", "score", "ground truth image of 10^9 px side", _score(_edit("gt.json", "bad.json", _set("images.0.width", 10**9))), "exceeds 65535 px"),
    Case("gt-unknown-image", "score", "annotation on an image not listed", _score(_edit("gt.json", "bad.json", _set("annotations.0.image_id", 424242))), "image_id 424242 is not in 'images'"),
    Case("gt-unknown-category", "score", "annotation of a category not listed", _score(_edit("gt.json", "bad.json", _set("annotations.0.category_id", 7))), "category_id 7 is not a listed category"),
    Case("gt-iscrowd-2", "score", "annotation with iscrowd 2", _score(_edit("gt.json", "bad.json", _set("annotations.0.iscrowd", 2))), "'iscrowd' must be 0 or 1"),
    Case("gt-no-annotation-id", "score", "annotation without an id", _score(_edit("gt.json", "bad.json", _pop("annotations.0.id"))), "missing key 'id'"),
    Case("gt-not-object", "score", "ground truth that is a list", _score(_edit("gt.json", "bad.json", lambda d: d["annotations"])), "ground truth must be a COCO object"),
    Case("gt-invalid-json", "score", "ground truth that is not JSON", _score(lambda ws: (ws / "bad.json").write_text("{not json") and "bad.json"), "invalid JSON"),
    Case("gt-not-utf8", "score", "ground truth that is not UTF-8", _score(lambda ws: (ws / "bad.json").write_bytes(b'{"images": "\xff"}') and "bad.json"), "not UTF-8 text"),
    Case("gt-missing-file", "score", "ground truth file missing", _score("nope.json"), "file not found"),
    Case("pred-score-nan", "score", "prediction with a NaN score", _score("gt.json", _edit("pred.json", "bad.json", _set("0.score", NAN))), "'score' must be a finite number"),
    Case("pred-score-missing", "score", "prediction without a score", _score("gt.json", _edit("pred.json", "bad.json", _pop("0.score"))), "'score' must be a finite number, got None"),
    Case("pred-unknown-category", "score", "prediction category not in the ground truth", _score("gt.json", _edit("pred.json", "bad.json", _set("0.category_id", 3))), "category_id 3 is not a listed category"),
    Case("pred-image-id-text", "score", "prediction image_id a string", _score("gt.json", _edit("pred.json", "bad.json", _set("0.image_id", "abc"))), "'image_id' must be an integer"),
    Case("pred-not-list", "score", "predictions that are an object", _score("gt.json", _edit("pred.json", "bad.json", lambda d: {"annotations": d})), "must be a JSON list"),
    Case("pred-disjoint-images", "score", "predictions on none of the ground-truth images", _score("gt.json", _edit("pred.json", "bad.json", _on_other_images)), "none of the"),
    Case("pred-rle-size", "score", "prediction RLE of another size", _score("gt.json", _edit("pred.json", "bad.json", _set("0.segmentation.size", [10, 10]))), "differs from the image size"),
    Case("pred-rle-corrupt", "score", "prediction RLE counts corrupt", _score("gt.json", _edit("pred.json", "bad.json", _set("0.segmentation.counts", "3"))), "RLE counts cover"),
    Case("pred-polygon-odd", "score", "prediction polygon with an odd coordinate count", _score("gt.json", _edit("pred.json", "bad.json", _set("0.segmentation", [[1, 2, 3, 4, 5, 6, 7]]))), "odd coordinate count"),
    Case("pred-bbox-negative", "score", "prediction bbox of negative width", _score("gt.json", _edit("pred.json", "bad.json", _set("0.bbox", [1, 1, -4, 2]))), "'bbox' must be"),
    Case("pred-not-object", "score", "prediction that is a number", _score("gt.json", _edit("pred.json", "bad.json", _set("0", 5))), "prediction is not an object"),
    Case("shape-duplicate-annotations", "shape", "COCO file with every annotation twice", _args("--coco", _edit("toy_gt.json", "bad.json", _dup_annotations), "--out", "p.parquet"), "duplicate annotation id"),
    Case("shape-score-nan", "shape", "results list with a NaN score", _args("--coco", _edit("run/submission.json", "bad.json", _set("0.score", NAN)), "--images-json", "images.json", "--out", "p.parquet"), "'score' must be a finite number"),
    Case("shape-unknown-image", "shape", "results on an image --images-json does not list", _args("--coco", _edit("run/submission.json", "bad.json", _set("0.image_id", 999)), "--images-json", "images.json", "--out", "p.parquet"), "image_id 999 is not in the images of"),
    Case("shape-size-disagrees", "shape", "--images-json size disagrees with the RLE", _args("--coco", "run/submission.json", "--images-json", _edit("images.json", "bad_images.json", _set("images.0.height", 100)), "--out", "p.parquet"), "differs from the image size"),
    Case("shape-unknown-category", "shape", "annotation of a category not listed", _args("--coco", _edit("toy_gt.json", "bad.json", _set("annotations.0.category_id", 9)), "--out", "p.parquet"), "category_id 9 is not a listed category"),
    Case("shape-images-missing", "shape", "--images folder missing", _args("--coco", "toy_gt.json", "--images", "nope", "--out", "p.parquet"), "images folder not found"),
    Case("track-duplicate-annotations", "track", "COCO file with every annotation twice", _args("--pred", _edit("toy_gt.json", "bad.json", _dup_annotations), "--out", "t"), "duplicate annotation id"),
    Case("track-score-nan", "track", "results list with a NaN score", _args("--pred", _edit("run/submission.json", "bad.json", _set("1.score", NAN)), "--images-json", "images.json", "--out", "t"), "'score' must be a finite number"),
    Case("track-other-particles", "track", "--particles of another run", _args(*RUN, "--particles", "other_run/particles.parquet", "--out", "t"), "does not describe the predictions"),
    Case("track-particles-twice", "track", "--particles with every row twice", _args(*RUN, "--particles", _twice_rows, "--out", "t"), "appears twice"),
    Case("track-needs-images", "track", "results list without --images-json", _args("--pred", "run/submission.json", "--out", "t"), "needs --images-json"),
    Case("tune-empty-predictions", "tune", "no predictions", _score("gt.json", _edit("pred.json", "bad.json", lambda d: []), "--out", "p.json"), "nothing to tune"),
    Case("tune-disjoint", "tune", "predictions on other images", _score("gt.json", _edit("pred.json", "bad.json", _on_other_images), "--out", "p.json"), "none of the"),
    Case("tune-all-zero", "tune", "predictions that hit no particle (every F1 0)", _score("gt.json", _edit("pred.json", "bad.json", _nowhere), "--out", "p.json"), "scores hackathon F1 0"),
    Case("tune-no-gt", "tune", "ground truth without instances", _score(_edit("gt.json", "bad.json", _set("annotations", [])), "pred.json", "--out", "p.json"), "no ground-truth instances"),
    Case("report-submission-nan", "report", "run whose submission has a NaN score", _args(lambda ws: _edit("run/submission.json", "run/submission.json", _set("0.score", NAN))(ws) and "run", "--out", "r.html"), "'score' must be a finite number"),
    Case("report-old-empty-table", "report", "run whose table has no columns", _args(_old_empty_table, "--out", "r.html"), "missing columns"),
    Case("compare-old-empty-table", "compare", "table with no columns", _args("run", _old_empty_table, "--out", "c"), "none of the default descriptors"),
    Case("compare-missing-table", "compare", "input without particles.parquet", _args("run", "notes", "--out", "c"), "no such particle table"),
    Case("calibrate-disjoint", "calibrate", "fit on predictions of other images", _args("fit", "--gt", "gt.json", "--pred", _edit("pred.json", "bad.json", _on_other_images), "--out", "c.json"), "none of the"),
    Case("predict-images-json-size", "predict", "--images-json size disagrees with the frame", _args(*PRED, "--images-json", _edit("images.json", "bad_images.json", _set("images.1.height", 100)), "--out", "r"), "differs from the frame"),
    Case("predict-images-json-duplicate-name", "predict", "--images-json lists a file twice", _args(*PRED, "--images-json", _edit("images.json", "bad_images.json", lambda d: d["images"].append({**d["images"][0], "id": 7})), "--out", "r"), "listed twice"),
    Case("predict-images-json-id-text", "predict", "--images-json id not an integer", _args(*PRED, "--images-json", _edit("images.json", "bad_images.json", _set("images.0.id", "abc")), "--out", "r"), "'id' must be an integer"),
    Case("predict-images-json-missing-frame", "predict", "--images-json without a frame's entry", _args(*PRED, "--images-json", _edit("images.json", "bad_images.json", _pop("images.2")), "--out", "r"), "no image entry for this frame"),
    Case("predict-non-utf8-name", "predict", "frame file name not UTF-8", _args("--source", _non_utf8_name, "--out", "r"), "not valid UTF-8"),
    Case("predict-same-name-twice", "predict", "two frames with the same file name", _args("--source", _frames_with_same_name, "--out", "r"), "same file name as"),
    Case("predict-model-missing", "predict", "--model file missing", _args(*PRED, "--out", "r", "--model", "nope.pt"), "weights file not found"),
    Case("predict-postproc-nan", "predict", "--postproc with a NaN min_score", _args(*PRED, "--out", "r", "--postproc", lambda ws: (ws / "pp.json").write_text('{"min_score": NaN, "min_area_px": 0, "mask_nms_iou": 0.5}') and "pp.json"), "min_score must be a finite number"),
    Case("predict-no-frames", "predict", "--source without images", _args("--source", "notes", "--out", "r"), "no image files found"),
    Case("predict-video-unopenable", "predict", "a video file OpenCV cannot open", _args("--source", lambda ws: (ws / "videos").mkdir() or (ws / "videos" / "bad.mp4").write_text("not a video") and "videos/bad.mp4", "--out", "r"), "cannot open video"),
    Case("predict-video-no-frames", "predict", "a video with no frames", _args("--source", _video("empty.avi", 0), "--out", "r"), "the video has no frames"),
    Case("predict-video-cut-avi", "predict", "an AVI cut to half its bytes", _args("--source", _video("cut.avi", cut=True), "--out", "r"), "can be decoded (file cut short?)"),
    Case("predict-video-cut-mp4", "predict", "an MP4 cut to half its bytes (its index is lost)", _args("--source", _video("cut.mp4", cut=True), "--out", "r"), "cannot open video"),
    Case("predict-video-fps-above", "predict", "--fps above the video's frame rate", _args("--source", _video("clip.mp4"), "--fps", "25", "--out", "r"), "--fps: 25 is above the frame rate"),
    Case("predict-video-every-0", "predict", "--every 0", _args("--source", _video("clip.mp4"), "--every", "0", "--out", "r"), "--every: must be an integer in [1, inf)"),
    Case("predict-video-every-and-fps", "predict", "--every with --fps", _args("--source", _video("clip.mp4"), "--every", "2", "--fps", "2", "--out", "r"), "--fps: not allowed with argument --every"),
    Case("predict-video-fps-nan", "predict", "--fps nan", _args("--source", _video("clip.mp4"), "--fps", "nan", "--out", "r"), "--fps: must be a finite number"),
    Case("predict-video-images-json", "predict", "--images-json with a video", _args("--source", _video("clip.mp4"), "--images-json", "images.json", "--out", "r"), "--images-json: not used with a video source"),
    Case("predict-video-and-frames", "predict", "a folder with videos and image frames", _args("--source", lambda ws: _video("clip.mp4")(ws) and (ws / "videos" / "0001.jpg").write_bytes((ws / "frames" / "0001.jpg").read_bytes()) and "videos", "--out", "r"), "holds both videos and image frames"),
    Case("predict-every-on-images", "predict", "--every with image frames", _args(*PRED, "--every", "2", "--out", "r"), "--every: only for a video source"),
    Case("predict-stem-not-id", "predict", "frame names that are no ids, no --images-json", _args("--source", lambda ws: (ws / "named").mkdir() or (ws / "named" / "a.jpg").write_bytes((ws / "frames" / "0001.jpg").read_bytes()) and "named", "--out", "r"), "file stem is not an integer image id"),
    # ---------------------------------------------------------------- answers that say what they cannot conclude
    Case("answer-compare-one-particle", "compare", "a batch of one particle", _args("run", _one_particle, "--out", "c", "--no-plots", "--bootstrap", "50"), "too few particles to judge", "answer"),
    Case("answer-compare-no-bootstrap", "compare", "--bootstrap 0", _args("run", "run", "--labels", "a", "b", "--min-particles", "2", "--out", "c", "--no-plots", "--bootstrap", "0"), "not judged (no bootstrap", "answer"),
    # ---------------------------------------------------------------- documented warnings (exit 0)
    Case("warn-compare-empty-run", "compare", "a run with no particles", _args("run", "empty", "--out", "c", "--no-plots", "--bootstrap", "50"), "no particles", "warning"),
    Case("warn-report-empty-run", "report", "a run with no particles", _args("empty", "--out", "r.html", "--frames", "0"), "no particles", "warning"),
    Case("warn-score-some-ignored", "score", "some predictions on images not in the ground truth", _score("gt.json", _edit("pred.json", "bad.json", lambda d: d + [{**d[0], "image_id": 424242}]), "--json", "s.json"), "ignored (the hackathon rule)", "warning"),
    Case("warn-score-repeated", "score", "a prediction repeated exactly", _score("gt.json", _edit("pred.json", "bad.json", lambda d: d + [d[0]]), "--json", "s.json"), "repeat an earlier one exactly", "warning"),
    Case("warn-track-no-low-score", "track", "--particles without a low_score column", _args(*RUN, "--particles", lambda ws: __import__("pandas").read_parquet(ws / "run/particles.parquet").drop(columns=["low_score"]).to_parquet(ws / "nolow.parquet") or "nolow.parquet", "--out", "t", "--bootstrap", "0"), "no low_score column", "warning"),
    Case("warn-yolo2coco-orphan-label", "yolo2coco", "a label file without an image", _args("--images", "frames", "--labels", lambda ws: (ws / "labels" / "9999.txt").write_text("0 0.1 0.1 0.3 0.1 0.3 0.3\n") and "labels", "--out", "c.json"), "no image 9999.*", "warning"),
]  # fmt: skip


def _shown(case: Case, result: Any, work: Path) -> str:
    """The line a user sees for a case: the error or warning on stderr, or the answer's line on stdout."""
    if case.outcome == "answer":
        line = next(x for x in result.out.splitlines() if case.expect in x)
    else:
        wanted = "error: " if case.outcome == "error" else "warning: "
        line = next((e for e in result.err if e.startswith(wanted)), " / ".join(result.err))
    line = line.replace(str(work) + "/", "").replace(str(work), ".")
    return line.encode("utf-8", "backslashreplace").decode("utf-8")  # a non-UTF-8 file name, escaped


def markdown_table() -> str:
    """Run every case in a temporary workspace and return the table of docs/reliability.md."""
    import tempfile

    from badinput_workspace import STAGES, build_workspace, run_case

    left_by_outcome = {
        "error": "nothing new; inputs unchanged",
        "warning": "the outputs; inputs unchanged",
        "answer": "the outputs (line printed on stdout); inputs unchanged",
    }
    lines = ["| kind | command | message | exit code | left on disk |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        base = build_workspace(Path(tmp) / "base")
        for k, case in enumerate(CASES):
            work = Path(tmp) / f"case{k}"
            result = run_case(case, base, work)
            left = left_by_outcome[case.outcome]
            if result.changed or result.removed or (case.outcome == "error" and result.added):
                left = f"CHANGED: {result.changed + result.removed + result.added}"
            command = f"`{STAGES[case.stage][0]}`"
            shown = _shown(case, result, work)
            lines.append(f"| `{case.id}`: {case.kind} | {command} | `{shown}` | {result.rc} | {left} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    print(markdown_table())
