"""The notebook function :func:`score`: hackathon F1, strict F1 and COCO mask AP of predictions.

Imports happen inside the function, so importing this module (and ``flocshape``) stays fast. It scores as
``infer/score.py`` does (``docs/score.md``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _load_json_input(value: Any, role: str) -> tuple[Any, object]:
    """``value`` itself, or the JSON of the file it names; and how to name it in error messages."""
    if isinstance(value, str | os.PathLike):
        from flocshape.records import load_json

        return load_json(Path(value)), Path(value)
    return value, f"<{role}>"


def score(
    gt: dict[str, Any] | str | os.PathLike[str],
    predictions: list[dict[str, Any]] | str | os.PathLike[str],
    *,
    th: float = 0.1,
    max_dets: int = 1000,
) -> dict[str, Any]:
    """All metrics of ``infer/score.py`` (``docs/score.md``) for ``predictions`` against ``gt``.

    ``gt``: a COCO instances dict or file (every annotation is a ground-truth instance); ``predictions``: a
    COCO results list or file (``image_id``, ``segmentation`` as RLE or polygons, ``score``; ``category_id``
    may be left out when the ground truth has one category). Predictions on images outside the ground truth
    are ignored (counted), but not all of them (that raises: the inputs do not belong together).

    Returns ``{"hackathon_f1": {"f1", "precision", "recall", "sum_iou", "tp", "fp", "fn", ...},
    "strict": {"f1", "precision", "recall", "mean_iou", ...}, "coco": {"AP", "AP50", "AP75", "APs", "APm",
    "APl", ...}, "counts": {...}}``: the hackathon's "F1 with IoU" (``th``: the IoU above which a second
    prediction on the same ground truth is a false positive), one-to-one F1 at IoU >= 0.5, and COCO mask AP
    at ``max_dets`` detections per image (:func:`flocshape.score.score_all`).

    Two particles, predicted exactly:

    >>> import numpy as np
    >>> import flocshape
    >>> from flocshape.masks import encode_rle
    >>> a = np.zeros((40, 50), bool)
    >>> a[5:15, 5:20] = True
    >>> b = np.zeros((40, 50), bool)
    >>> b[20:35, 25:45] = True
    >>> gt = {
    ...     "images": [{"id": 1, "file_name": "0001.jpg", "height": 40, "width": 50}],
    ...     "categories": [{"id": 1, "name": "Normal"}],
    ...     "annotations": [
    ...         {"id": k + 1, "image_id": 1, "category_id": 1, "segmentation": encode_rle(m),
    ...          "area": int(m.sum()), "bbox": [0, 0, 1, 1], "iscrowd": 0}
    ...         for k, m in enumerate([a, b])
    ...     ],
    ... }
    >>> preds = [{"image_id": 1, "category_id": 1, "segmentation": encode_rle(m), "score": 0.9} for m in [a, b]]
    >>> result = flocshape.score(gt, preds)
    >>> result["hackathon_f1"]["f1"], result["strict"]["f1"], round(result["coco"]["AP"], 3)
    (1.0, 1.0, 1.0)
    """
    from flocshape.records import warn_repeated_predictions
    from flocshape.score import score_all
    from flocshape.score.inputs import prepare, require_overlap

    gt_data, gt_source = _load_json_input(gt, "ground truth")
    pred_data, pred_source = _load_json_input(predictions, "predictions")
    prepared = prepare(gt_data, pred_data, gt_source=gt_source, pred_source=pred_source)
    require_overlap(prepared, pred_source)
    warn_repeated_predictions(prepared.preds, pred_source)
    return score_all(prepared, th=th, max_dets=max_dets)
