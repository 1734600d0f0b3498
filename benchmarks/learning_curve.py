"""Learning curve of the few-shot fine-tune: N labelled training images -> scores on fixed validation papers.

Two steps around ``train/sweep.py`` (which trains each run, predicts the validation frames, chooses the
post-processing and mask refinement on them and scores them)::

    python benchmarks/learning_curve.py prepare --yolo runs/emps/yolo --out runs/emps/curve \
        --sizes 5 10 20 40 all --seeds 0 1 --imgsz 512
    python train/sweep.py runs/emps/curve/study.yaml --out runs/emps/curve/study
    python benchmarks/learning_curve.py table --coco runs/emps/emps_train.json --study runs/emps/curve/study

``prepare`` draws the training subsets from the training split of a ``coco2yolo`` dataset (split by paper with
``--group-key doi``): for each seed one random order of the training images, and N = the first N images of it
(so the subsets of one seed are nested); ``all`` is the whole training split (one run, whatever the seeds).
Seeds beyond the first are drawn only for N <= ``--seeds-upto``. Every subset keeps the dataset's validation
frames. Each subset gets a ``data.yaml`` whose ``train`` is a list of image paths, and the study file has two
runs per subset: from the shipped model and from scratch (``yolov8n-seg.yaml``), both with the ``finetune``
recipe and the epochs that ``train/finetune.py`` gives N images (a budget in epochs, so a busy machine changes
only the time, not the model).

``table`` prints one row per N and start: the mean over seeds (and the range when there are two or more) of
strict F1@0.5 and mean matched IoU of the particles that enter the statistics (score >= the tuned
``measure_min_score``), COCO mask AP and AP50, and the hackathon F1 of the tuned submission, all after the
post-processing and refinement chosen on the validation frames (optimistic by that choice); then the strict F1
with the measurement threshold cross-fitted (chosen on half of the validation papers, applied to the other half,
both ways, counts pooled), the strict F1 of the raw predictions at score >= 0.25 with nothing chosen on the
validation frames, epochs and training minutes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flocshape.fsio import atomic_write_text  # noqa: E402
from flocshape.models import default_model_path  # noqa: E402
from flocshape.train.finetune_budget import budget_epochs, budget_minutes  # noqa: E402
from flocshape.train.finetune_cli import REFINE_INSETS, REFINE_LEVELS, REFINE_SMOOTHS  # noqa: E402

RAW_MIN_SCORE = 0.25  # Ultralytics' default confidence: the untuned column


def _train_images(yolo: Path) -> list[Path]:
    folder = yolo / "images" / "train"
    images = sorted(p for p in folder.iterdir() if p.is_file())
    if not images:
        raise SystemExit(f"error: {folder}: no training images")
    return images


def prepare(yolo: Path, out: Path, sizes: list[str], seeds: list[int], seeds_upto: int, imgsz: int,
            coco: Path) -> Path:  # fmt: skip
    """Write the subsets and ``out/study.yaml``; return the study path."""
    yolo = yolo.resolve()
    images = _train_images(yolo)
    runs: list[dict[str, Any]] = []
    for size in sizes:
        n = len(images) if size == "all" else int(size)
        if n > len(images):
            raise SystemExit(f"error: {yolo}: N={n} but only {len(images)} training images")
        size_seeds = seeds[:1] if size == "all" or n > seeds_upto else seeds
        for seed in size_seeds:
            order = np.random.default_rng(seed).permutation(len(images))
            chosen = [images[i] for i in sorted(order[:n])]
            name = f"N{size}" + ("" if size == "all" else f"-s{seed}")
            sub = out / "subsets" / name
            sub.mkdir(parents=True, exist_ok=True)
            atomic_write_text(sub / "train.txt", "".join(f"{p}\n" for p in chosen))
            data = {"path": str(yolo), "train": str((sub / "train.txt").resolve()), "val": "images/val",
                    "names": {0: "particle"}}  # fmt: skip
            atomic_write_text(sub / "data.yaml", yaml.safe_dump(data, sort_keys=False))
            epochs = budget_epochs(n, imgsz)
            for start, model in (("shipped", str(default_model_path())), ("scratch", "yolov8n-seg.yaml")):
                runs.append({
                    "name": f"{start}-{name}",
                    "setting": f"{start}, N={n}, seed {seed}, {epochs} epochs ({budget_minutes(n):.1f} idle min)",
                    "data": {"yolo": str(sub.resolve())},
                    "train": {"model": model, "epochs": epochs, "seed": seed},
                })  # fmt: skip
    study = {
        "description": f"Learning curve of the finetune recipe on {yolo} (N = {', '.join(sizes)}; seeds {seeds} "
        f"for N <= {seeds_upto}); written by benchmarks/learning_curve.py prepare",
        "data": {"train_coco": str(coco.resolve()), "val_images": str(yolo / "images" / "val")},
        "defaults": {
            "recipe": "finetune",
            "train": {"imgsz": imgsz},
            "predict": {"imgsz": imgsz},
            # the refinement grid of train/finetune.py
            "refine_levels": REFINE_LEVELS,
            "refine_insets": REFINE_INSETS,
            "refine_smooths": REFINE_SMOOTHS,
        },
        "runs": runs,
    }
    path = out / "study.yaml"
    atomic_write_text(path, yaml.safe_dump(study, sort_keys=False, width=200))
    return path


def _strict(gt: Path, submission: Path, min_score: float) -> dict[str, Any] | None:
    """Strict metrics (F1@0.5, mean matched IoU) of a validation submission's predictions at score >= min_score."""
    from flocshape.score import score_all
    from flocshape.score.postprocess import filter_predictions

    if not submission.is_file() or not gt.is_file():
        return None
    preds = filter_predictions(json.loads(submission.read_text()), min_score=min_score)
    return score_all(json.loads(gt.read_text()), preds)["strict"]


def _crossfit_strict_f1(
    gt_path: Path, submission: Path, grid: list[float], group_key: str = "doi"
) -> float | None:
    """Strict F1@0.5 with the measurement threshold chosen on one half of the validation papers and applied to the
    other (both ways, counts pooled): the honest counterpart of choosing it on all validation frames."""
    from flocshape.score.strict import strict_metrics

    if not submission.is_file():
        return None
    gt = json.loads(gt_path.read_text())
    preds = json.loads(submission.read_text())
    groups = sorted({str(im.get(group_key, im["id"])) for im in gt["images"]})
    first = set(np.random.default_rng(0).permutation(groups)[: len(groups) // 2])
    halves = [
        [im for im in gt["images"] if (str(im.get(group_key, im["id"])) in first) == side] for side in (1, 0)
    ]

    def counts(images: list[dict[str, Any]], min_score: float) -> tuple[int, int, int]:
        ids = {im["id"] for im in images}
        sub = {**gt, "images": images, "annotations": [a for a in gt["annotations"] if a["image_id"] in ids]}
        kept = [q for q in preds if q["image_id"] in ids and float(q["score"]) >= min_score]
        m = strict_metrics(sub, kept)
        return m["tp"], m["fp"], m["fn"]

    def f1(c: tuple[int, int, int]) -> float:
        return 2 * c[0] / (2 * c[0] + c[1] + c[2]) if c[0] else 0.0

    tp = fp = fn = 0
    for choose, apply in ((halves[0], halves[1]), (halves[1], halves[0])):
        best = max(grid, key=lambda t: (f1(counts(choose, t)), -t))
        c = counts(apply, best)
        tp, fp, fn = tp + c[0], fp + c[1], fn + c[2]
    return f1((tp, fp, fn))


def _run_scores(run: Path) -> dict[str, Any] | None:
    """One finished run's columns; ``None`` while it is not finished."""
    row_path = run / "row.json"
    if not row_path.is_file():
        return None
    row = json.loads(row_path.read_text())
    refined = row.get("refine") is not None
    score = json.loads((run / f"val_score{'_refined' if refined else ''}.json").read_text())
    postproc = json.loads((run / "tune" / "postproc.json").read_text())
    chosen = run / "val_pred" / f"submission_{'refined' if refined else 'tuned'}.json"
    measured = _strict(run / "val_gt.json", chosen, float(postproc["measure_min_score"]))
    raw = _strict(run / "val_gt.json", run / "val_pred" / "submission.json", RAW_MIN_SCORE)
    crossfit = _crossfit_strict_f1(run / "val_gt.json", chosen, list(postproc["grid"]["min_score"]))
    return {
        "strict_f1": measured["f1"] if measured else None,
        "mean_iou": measured["mean_iou"] if measured else None,
        "AP": score["coco"]["AP"],
        "AP50": score["coco"]["AP50"],
        "hackathon_f1": score["hackathon_f1"]["f1"],
        "crossfit_strict_f1": crossfit,
        "raw_strict_f1": raw["f1"] if raw else None,
        "epochs": row.get("epochs"),
        "train_min": row.get("train_min"),
    }


def _cell(values: list[float], digits: int = 3) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def table(study: Path) -> str:
    """The markdown table of a finished (or partly finished) learning-curve study."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in sorted(p for p in study.iterdir() if p.is_dir()):
        start, _, rest = run.name.partition("-")
        size = rest.split("-")[0][1:]
        scores = _run_scores(run)
        if scores is not None:
            groups.setdefault((start, size), []).append(scores)

    def order(key: tuple[str, str]) -> tuple[int, float]:
        return (0 if key[0] == "shipped" else 1, float("inf") if key[1] == "all" else float(key[1]))

    lines = [
        "| start | N | seeds | strict F1@0.5 | mean matched IoU | AP | AP50 | hackathon F1 "
        "| strict F1, threshold cross-fitted | strict F1, raw ≥ 0.25 | epochs | train min |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted(groups, key=order):
        rows = groups[key]
        col = {k: [r[k] for r in rows] for k in rows[0]}
        lines.append(
            f"| {key[0]} | {key[1]} | {len(rows)} | {_cell(col['strict_f1'])} | {_cell(col['mean_iou'])} "
            f"| {_cell(col['AP'])} | {_cell(col['AP50'])} | {_cell(col['hackathon_f1'])} "
            f"| {_cell(col['crossfit_strict_f1'])} | {_cell(col['raw_strict_f1'])} "
            f"| {_cell(col['epochs'], 0)} | {_cell(col['train_min'], 1)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="write the training subsets and the study file")
    p.add_argument("--yolo", type=Path, required=True, help="coco2yolo output (images/train, images/val)")
    p.add_argument("--coco", type=Path, required=True, help="its source COCO file (validation ground truth)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--sizes", nargs="+", default=["5", "10", "20", "40", "all"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--seeds-upto", type=int, default=20, help="more than one seed only for N <= this")
    p.add_argument("--imgsz", type=int, default=512)
    t = sub.add_parser("table", help="print the table of a study folder")
    t.add_argument("--study", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.cmd == "prepare":
        print(
            f"wrote {prepare(args.yolo, args.out, args.sizes, args.seeds, args.seeds_upto, args.imgsz, args.coco)}"
        )
    else:
        print(table(args.study))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
