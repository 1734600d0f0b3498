"""Baseline: vanilla Ultralytics (convert_coco, train and predict with defaults); see flocshape/baselines/vanilla.py.

    python train/vanilla_baseline.py convert --json "D/label(polygon)_train.json" --images D/train \\
        --split-from runs/hack/yolo --out runs/vanilla/data
    python train/vanilla_baseline.py train --data runs/vanilla/data/data.yaml --model yolov8n-seg.yaml \\
        --project runs/vanilla/train --name v8n time=1.0 device=cpu workers=0
    python train/vanilla_baseline.py predict --model runs/vanilla/train/v8n/weights/best.pt \\
        --source D/test --images-json D/label_test.json --out runs/vanilla/test_submission.json
    python infer/score.py --gt D/truth/label_test_gt.json --pred runs/vanilla/test_submission.json --json S.json

The command line of ``train/vanilla_baseline.py`` and ``flocshape vanilla-baseline``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from flocshape.cliargs import Parser

PROG = "train/vanilla_baseline.py"


def build_parser() -> argparse.ArgumentParser:
    """The three sub-commands and their options (errors are one line, exit code 2)."""
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    c = sub.add_parser("convert", help="Ultralytics convert_coco, same split as a coco2yolo output")
    c.add_argument("--json", required=True, type=Path, help="COCO polygon file (label(polygon)_train.json)")
    c.add_argument("--images", required=True, type=Path)
    c.add_argument(
        "--split-from", required=True, type=Path, help="coco2yolo output whose train/val split to use"
    )
    c.add_argument("--out", required=True, type=Path)
    t = sub.add_parser("train", help="YOLO(model).train with defaults + a time/epoch budget")
    t.add_argument("--data", required=True, type=Path)
    t.add_argument("--model", default="yolov8n-seg.yaml")
    t.add_argument("--project", required=True, type=Path)
    t.add_argument("--name", required=True)
    t.add_argument("budget", nargs="*", help="time=H epochs=N device=D workers=N seed=N")
    p = sub.add_parser("predict", help="model.predict with defaults -> COCO results JSON")
    p.add_argument("--model", required=True, type=Path)
    p.add_argument("--source", required=True, type=Path)
    p.add_argument("--images-json", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--device", default="cpu")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch the sub-command."""
    args = build_parser().parse_args(argv)
    from flocshape.baselines.vanilla import convert_with_ultralytics, predict_vanilla, train_vanilla
    from flocshape.train.wrapper import parse_overrides

    if args.step == "convert":
        print(f"data: {convert_with_ultralytics(args.json, args.images, args.split_from, args.out)}")
    elif args.step == "train":
        weights = train_vanilla(
            args.data, args.model, args.project, args.name, **parse_overrides(args.budget)
        )
        print(f"weights: {weights}")
    else:
        n = predict_vanilla(args.model, args.source, args.images_json, args.out, args.device)
        print(f"predictions: {n} -> {args.out}")
    return 0
