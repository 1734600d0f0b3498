"""Train a YOLO-seg particle model: ``python train/train.py --data OUT/data.yaml --recipe cpu-small [key=value ...]``.

The command line of ``train/train.py`` and ``flocshape train``, over :mod:`flocshape.train.wrapper`; see
docs/train.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flocshape.cliargs import Parser
from flocshape.outputs import check_writable
from flocshape.train.wrapper import DEFAULT_PROJECT, parse_overrides, train


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, train, print where the run went."""
    parser = Parser(prog="train/train.py", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="dataset YAML (from convert/)")
    parser.add_argument("--recipe", required=True, help="recipe name in train/recipes or a recipe YAML path")
    parser.add_argument(
        "--name", default=None, help="run name (default: the recipe name); incremented if taken"
    )
    parser.add_argument("--project", default=str(DEFAULT_PROJECT), help="runs folder (default: runs/segment)")
    parser.add_argument("overrides", nargs="*", help="Ultralytics train arguments as key=value")
    args = parser.parse_args(argv)
    # a run is never replaced (Ultralytics picks a new name), but the runs folder must be writable
    check_writable(Path(args.project) / (args.name or "run"), "--project")
    result = train(
        args.data, args.recipe, parse_overrides(args.overrides), name=args.name, project=args.project
    )
    print(f"run: {result.save_dir}")
    print(f"weights: {result.save_dir / 'weights' / 'best.pt'}")
    for key in ("metrics/mAP50(M)", "metrics/mAP50-95(M)"):
        if key in result.metrics:
            print(f"{key}: {result.metrics[key]:.4f}")
    return 0
