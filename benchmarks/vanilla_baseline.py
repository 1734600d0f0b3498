"""Baseline: vanilla Ultralytics (convert_coco, train and predict with defaults); see flocshape/baselines/vanilla.py.

    python benchmarks/vanilla_baseline.py convert --json "D/label(polygon)_train.json" --images D/train \\
        --split-from runs/hack/yolo --out runs/vanilla/data
    python benchmarks/vanilla_baseline.py train --data runs/vanilla/data/data.yaml --model yolov8n-seg.yaml \\
        --project runs/vanilla/train --name v8n time=1.0 device=cpu workers=0
    python benchmarks/vanilla_baseline.py predict --model runs/vanilla/train/v8n/weights/best.pt \\
        --source D/test --images-json D/label_test.json --out runs/vanilla/test_submission.json
    python infer/score.py --gt D/truth/label_test_gt.json --pred runs/vanilla/test_submission.json --json S.json
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flocshape.baselines.vanilla import (  # noqa: E402
    convert_with_ultralytics,
    predict_vanilla,
    train_vanilla,
)
from flocshape.errors import run_cli  # noqa: E402
from flocshape.train.wrapper import parse_overrides  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch the sub-command."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
