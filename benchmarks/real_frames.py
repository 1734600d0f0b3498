"""Label-free check of a model on real frames: how sure it is, how much it leaves out, how straight its outlines are.

Predicts a folder of frames with ``infer/predict.py`` (the shipped model and its card's settings unless options
after ``--`` say otherwise), saves the overlays and prints, per run:

* detections per frame, median score, share of detections with score >= 0.5;
* share flagged ``low_score`` (below the model's measurement threshold: left out of every statistic);
* straight-run share of the outlines (:mod:`flocshape.shape.straight`: outline length on horizontal or
  vertical runs >= 12 px, frame border left out), of the counted particles and of all detections.

No labels are needed, so it runs on a user's own camera frames. Usage::

    python benchmarks/real_frames.py --source ../shared/data/hackathon-frame --out runs/real/card
    python benchmarks/real_frames.py --source FRAMES --out runs/real/other -- --model other.pt
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from flocshape.errors import input_error, run_cli
from flocshape.masks import decode_rle_crop, to_compressed_rle
from flocshape.shape.straight import total_straight_runs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metrology_e2e import markdown, run, split_passthrough  # noqa: E402


def _coco_segmentations(path: Path, min_score: float | None) -> list[tuple[dict, int, int]]:
    """``(segmentation, height, width)`` of a COCO instances file or of a predict run's results list."""
    data = json.loads(path.read_text())
    if isinstance(data, dict):  # instances file: sizes from its images
        sizes = {im["id"]: (im["height"], im["width"]) for im in data["images"]}
        return [(a["segmentation"], *sizes[a["image_id"]]) for a in data["annotations"]]
    out = []
    for det in data:
        if min_score is not None and det["score"] < min_score:
            continue
        h, w = det["segmentation"]["size"]
        out.append((det["segmentation"], h, w))
    return out


def measure_min_score(run_dir: Path) -> float | None:
    """The measurement threshold a predict run flagged ``low_score`` with (None: nothing flagged)."""
    postproc = json.loads((run_dir / "manifest.json").read_text())["settings"].get("postproc") or {}
    return postproc.get("measure_min_score")


def straight_of_submission(path: Path, run_dir: Path | None, counted_only: bool = True) -> float:
    """Straight-run share of the masks in ``path``; for a predict run (``run_dir``) only the counted ones (not
    ``low_score``) unless ``counted_only`` is False."""
    min_score = measure_min_score(run_dir) if run_dir is not None and counted_only else None
    crops = (decode_rle_crop(to_compressed_rle(s, h, w)) for s, h, w in _coco_segmentations(path, min_score))
    return total_straight_runs(crops).share


def label_free_table(run_dir: Path) -> list[dict[str, object]]:
    """The module's table for one predict run folder (one row)."""
    table = pd.read_parquet(run_dir / "particles.parquet")
    frames = json.loads((run_dir / "manifest.json").read_text()).get("frames", {}).get("ok")
    n_frames = frames or max(int(table["file_name"].nunique()), 1)
    scores = table["score"].to_numpy(float)
    low = table["low_score"].to_numpy(bool) if "low_score" in table else np.zeros(len(table), bool)
    return [{
        "run": run_dir.name,
        "frames": n_frames,
        "detections per frame": len(table) / n_frames,
        "median score": float(np.median(scores)) if len(scores) else float("nan"),
        "share score >= 0.5": float(np.mean(scores >= 0.5)) if len(scores) else float("nan"),
        "share low_score": float(np.mean(low)) if len(low) else float("nan"),
        "straight-run share % (counted)": 100 * straight_of_submission(run_dir / "submission.json", run_dir),
        "straight-run share % (all)": 100 * straight_of_submission(run_dir / "submission.json", run_dir, False),
    }]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    own, extra = split_passthrough(argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", type=Path, required=True, help="folder of real frames")
    ap.add_argument(
        "--out", type=Path, required=True, help="predict run folder to create (reused if complete)"
    )
    args = ap.parse_args(own)
    if not args.source.is_dir():
        raise input_error(args.source, "not a folder of frames")
    if not (args.out / "submission.json").is_file():
        run("infer/predict.py", "--source", args.source, "--out", args.out, "--save-overlays", *extra)
    print(markdown(label_free_table(args.out)))
    print(f"\noverlays: {args.out / 'overlays'}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
