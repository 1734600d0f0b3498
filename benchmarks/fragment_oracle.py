"""Diagnostic: how much would uniting fragments of one particle change the measured batch shift? (an upper bound)

Oracle (uses the labels, so it is a bound, never a method): a prediction is a *fragment* of the labelled particle
that holds at least ``--inside`` (default 0.7) of its mask (intersection over the prediction's area, pycocotools
``iscrowd`` IoU). When one labelled particle holds two or more fragments, they are replaced by their union (score:
the highest); every other prediction is kept as it is. The results list written is then measured with
``infer/shape.py`` and compared with ``benchmarks/metrology_e2e.py --shift-only`` (docs/history.md, the elongation batch pair).

Usage::

    python benchmarks/fragment_oracle.py --pred PRED/submission.json --gt DATA/truth/label_test_gt.json \\
        --out ORACLE/submission.json
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from flocshape.errors import run_cli
from flocshape.fsio import atomic_write_json
from flocshape.score.inputs import load_json, prepare


def unite_fragments(gt: dict[str, Any], preds: list[dict[str, Any]], inside: float) -> tuple[list, int, int]:
    """Results list with each labelled particle's fragments united; also (particles with fragments, fragments)."""
    prepared = prepare(gt, preds)
    out: list[dict[str, Any]] = []
    n_groups = n_fragments = 0
    for im in prepared.images:
        if not im.pred_rles:
            continue
        used: set[int] = set()
        if im.gt_rles:
            held = np.asarray(mask_utils.iou(im.pred_rles, im.gt_rles, [1] * len(im.gt_rles)), float)
            owner, share = held.argmax(axis=1), held.max(axis=1)
            for g in range(len(im.gt_rles)):
                members = [k for k in range(len(im.pred_rles)) if owner[k] == g and share[k] >= inside]
                if len(members) < 2:
                    continue
                union = mask_utils.merge([im.pred_rles[k] for k in members])
                first = dict(preds[im.pred_indices[members[0]]])
                first["segmentation"] = {"size": union["size"], "counts": union["counts"].decode("ascii")}
                first["score"] = max(im.pred_scores[k] for k in members)
                out.append(first)
                used.update(members)
                n_groups, n_fragments = n_groups + 1, n_fragments + len(members)
        out += [preds[im.pred_indices[k]] for k in range(len(im.pred_rles)) if k not in used]
    return out, n_groups, n_fragments


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pred", type=Path, required=True, help="results list (submission.json)")
    p.add_argument("--gt", type=Path, required=True, help="COCO labels of the same frames")
    p.add_argument("--out", type=Path, required=True, help="results list with fragments united")
    p.add_argument("--inside", type=float, default=0.7, help="share of a prediction inside the label (0.7)")
    args = p.parse_args(argv)
    out, n_groups, n_fragments = unite_fragments(load_json(args.gt), load_json(args.pred), args.inside)
    atomic_write_json(args.out, out)
    print(
        f"{n_fragments} fragments of {n_groups} labelled particles united -> {args.out} ({len(out)} results)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
