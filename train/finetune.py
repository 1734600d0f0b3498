"""Few-shot fine-tune: ``python train/finetune.py --data DATA.yaml --val-coco COCO.json --out runs/ft [key=value ...]``.

Trains the shipped model on your labelled frames within a time budget and chooses the prediction settings on the
validation frames; logic in :mod:`flocshape.train.finetune_cli`, see docs/train.md ("Few-shot fine-tune").
"""

from flocshape.errors import run_cli
from flocshape.train.finetune_cli import main

if __name__ == "__main__":
    raise SystemExit(run_cli(main))
