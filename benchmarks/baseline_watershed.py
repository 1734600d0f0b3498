"""Watershed baseline: parameter search on validation frames, printed as a table.

    nice python benchmarks/baseline_watershed.py search [--data runs/hack/data] [--val runs/hack/yolo/images/val]
        [--every 3] [--out runs/baselines/search]

Searches on every ``--every``-th validation frame (sorted by name; GT = the training labels of those frames),
stage by stage (threshold set-up, smoothing, markers, minimum area), by hackathon F1, then compares the
``score`` choices by COCO mask AP on the same frames. Writes ``OUT/params.json`` (the chosen parameters, for
``infer/watershed.py --params``), ``OUT/search.csv`` and ``OUT/manifest.json``. Runs in one process.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flocshape.baselines.search import coordinate_search, evaluate, load_frames, params_json, subset_coco  # noqa: E402
from flocshape.baselines.watershed import SCORES, WatershedParams  # noqa: E402
from flocshape.fsio import atomic_dir, atomic_write_json  # noqa: E402
from flocshape.manifest import build_manifest, describe_input, write_manifest  # noqa: E402

STAGES: list = [
    [  # 0: how to separate bright flocs from the unevenly lit fluid
        {"background_sigma_px": None, "threshold": "otsu"},
        {"background_sigma_px": 40.0, "threshold": "otsu"},
        {"background_sigma_px": 80.0, "threshold": "otsu"},
        {"background_sigma_px": 40.0, "threshold": "fixed", "fixed_level": 20.0},
        {"background_sigma_px": 40.0, "threshold": "fixed", "fixed_level": 30.0},
        {"background_sigma_px": 40.0, "threshold": "fixed", "fixed_level": 40.0},
        {"background_sigma_px": None, "threshold": "local", "local_block_px": 151, "local_offset_grey": 10.0},
        {"background_sigma_px": None, "threshold": "local", "local_block_px": 151, "local_offset_grey": 20.0},
    ],
    {"smooth_sigma_px": [0.0, 1.0, 2.0]},  # 1
    [  # 2: watershed markers (how eagerly touching particles are split)
        {"markers": "peak_local_max", "min_distance_px": d} for d in (3, 5, 8, 12, 16)
    ]
    + [{"markers": "h_maxima", "h_px": h} for h in (0.5, 1.0, 2.0)],
    {"min_area_px": [12, 30, 60]},  # 3
]


def search(args: argparse.Namespace) -> int:
    """Run the staged search and the score comparison; print the tables; write OUT atomically."""
    label_train = args.data / "label_train.json"
    coco = json.loads(label_train.read_text())
    paths = sorted(p for p in args.val.iterdir() if p.suffix.lower() in (".jpg", ".png"))[:: args.every]
    gt = subset_coco(coco, {p.name for p in paths})
    frames = load_frames(paths, gt)
    print(f"{len(frames)} validation frames, {len(gt['annotations'])} GT instances")
    best, rows = coordinate_search(frames, gt, WatershedParams(), STAGES, log=lambda r: print(r, flush=True))
    score_rows = []
    for method in SCORES:
        result = evaluate(frames, gt, dataclasses.replace(best, score=method), with_ap=True)
        score_rows.append({"score": method, **result})
        print(score_rows[-1], flush=True)
    best = dataclasses.replace(best, score=max(score_rows, key=lambda r: r["AP"] or 0.0)["score"])
    table = pd.DataFrame(rows)
    table["setting"] = table["setting"].map(lambda s: json.dumps(s))
    with pd.option_context("display.width", 200, "display.max_colwidth", 90):
        print(table.to_string(index=False))
        print(pd.DataFrame(score_rows).to_string(index=False))
    print("chosen:", json.dumps(params_json(best)))
    with atomic_dir(args.out, overwrite=True) as tmp:
        atomic_write_json(tmp / "params.json", params_json(best))
        table.to_csv(tmp / "search.csv", index=False)
        pd.DataFrame(score_rows).to_csv(tmp / "scores.csv", index=False)
        manifest = build_manifest(
            "benchmarks/baseline_watershed.py",
            vars(args),
            inputs={"label_train": describe_input(label_train), "val": describe_input(args.val)},
            frames=[p.name for p in paths],
            stages=STAGES,
            chosen=params_json(best),
        )
        write_manifest(tmp, manifest)
    return 0


def main() -> int:
    """Parse the command line and run the search."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["search"])
    ap.add_argument("--data", type=Path, default=Path("runs/hack/data"), help="synthesized hackathon data")
    ap.add_argument("--val", type=Path, default=Path("runs/hack/yolo/images/val"), help="validation frames")
    ap.add_argument("--every", type=int, default=3, help="use every N-th validation frame (default 3)")
    ap.add_argument("--out", type=Path, default=Path("runs/baselines/search"), help="output folder")
    return search(ap.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
