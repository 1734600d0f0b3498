"""Instances of a COCO file (ground truth or results list) with their frame, block and mask geometry.

Files are read, validated and decoded by :mod:`flocshape.coco` (one line naming the file and the record for bad
input); inputs are only read.

Conventions
-----------
* ``frame`` = the integer made of the digits of the file-name stem (``0012.jpg`` -> 12);
  ``block = (frame - 1) // block_size`` (default 10: frames 1-10 are block 0).
* **Video frames** (every image entry has ``video``, ``frame_index`` and ``time_s``, as in the ``images.json`` that
  ``infer/predict.py`` writes for a video): ``block`` = the video (0, 1, ... in video-name order), ``frame`` = the
  1-based position of the frame among the video's predicted frames (so sampled frames are consecutive), and the
  column ``time_s`` (seconds, ``frame_index / fps``) is added; ``--block-size`` is not used.
* ``instance_id``: the annotation ``id`` for a COCO instances file; for a results list, the running
  index (0, 1, ...) of the prediction within its image in file order, as in the particle table of
  :mod:`flocshape.shape` (so the two join on ``image_id, instance_id``).
* Geometry from the mask: ``area_px`` (pixel count), ``centroid_x_px`` / ``centroid_y_px`` (mean of
  pixel centres, pixel (i, j) centred at (j + 0.5, i + 0.5)), box ``bbox_*_px`` (pycocotools),
  ``touches_border`` (box on the first/last row or column).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pycocotools import mask as mask_utils

from flocshape.coco import Instance, read_instances
from flocshape.errors import input_error

INSTANCE_COLUMNS = (
    "image_id", "file_name", "frame", "block", "instance_id", "score", "area_px", "ecd_px",
    "centroid_x_px", "centroid_y_px", "bbox_x_px", "bbox_y_px", "bbox_w_px", "bbox_h_px", "touches_border",
    "image_height", "image_width", "rle",
)  # fmt: skip


def frame_number(file_name: str) -> int:
    """The frame number: all digits of the file-name stem as one integer; ``ValueError`` if there are none."""
    digits = "".join(re.findall(r"\d", Path(file_name).stem))
    if not digits:
        raise ValueError(f"file name {file_name!r} has no digits (no frame number)")
    return int(digits)


def block_of(frame: int, block_size: int = 10) -> int:
    """Block index of a 1-based frame number: ``(frame - 1) // block_size``."""
    return (int(frame) - 1) // int(block_size)


def video_frames(images: Any, image_ids: Any) -> pd.DataFrame | None:
    """``image_id, frame, block, time_s`` of video frames (see the module conventions), or ``None`` unless every
    image entry of ``images`` carries a ``video`` name, an integer ``frame_index`` and a finite ``time_s``."""
    if not isinstance(images, list) or not images:
        return None
    keys = ("video", "frame_index", "time_s")
    if not all(isinstance(im, dict) and all(k in im for k in keys) for im in images):
        return None
    table = pd.DataFrame([{k: im[k] for k in ("id", *keys)} for im in images]).rename(
        columns={"id": "image_id"}
    )
    if (
        not pd.api.types.is_numeric_dtype(table["time_s"])
        or not np.isfinite(table["time_s"].astype(float)).all()
    ):
        return None
    table["video"] = table["video"].astype(str)
    table["block"] = table["video"].rank(method="dense").astype(int) - 1
    table["frame"] = table.groupby("video")["frame_index"].rank(method="first").astype(int)
    table["time_s"] = table["time_s"].astype(float)
    table = table[table["image_id"].isin(set(int(i) for i in image_ids))]
    return table[["image_id", "frame", "block", "time_s"]]


def mask_geometry(rle: dict[str, Any]) -> dict[str, float]:
    """Area, centroid, box and border contact of one compressed RLE (see the module conventions)."""
    height, width = (int(v) for v in rle["size"])
    area = float(mask_utils.area(rle))
    x, y, w, h = (float(v) for v in mask_utils.toBbox(rle))
    if area > 0:
        x0, y0 = int(x), int(y)
        crop = mask_utils.decode(rle)[y0 : y0 + int(h), x0 : x0 + int(w)]
        rows, cols = np.nonzero(crop)
        cx, cy = float(cols.mean()) + x0 + 0.5, float(rows.mean()) + y0 + 0.5
    else:
        cx = cy = float("nan")
    touches = area > 0 and (x <= 0 or y <= 0 or x + w >= width or y + h >= height)
    return {"area_px": area, "ecd_px": float(np.sqrt(4 * area / np.pi)), "centroid_x_px": cx,
            "centroid_y_px": cy, "bbox_x_px": x, "bbox_y_px": y, "bbox_w_px": w, "bbox_h_px": h,
            "touches_border": bool(touches), "image_height": height, "image_width": width}  # fmt: skip


def _row(inst: Instance) -> dict[str, Any]:
    """One instance's row: identity, :func:`mask_geometry` and the mask as a text RLE."""
    rle = inst.rle()
    geometry = mask_geometry(rle)
    counts = rle["counts"]
    text_rle = {"size": [inst.image.height, inst.image.width],
                "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}  # fmt: skip
    return {"image_id": inst.image_id, "file_name": inst.image.file_name, "instance_id": inst.instance_id,
            "score": inst.score, **geometry, "rle": text_rle}  # fmt: skip


def load_instances(
    pred_path: str | Path,
    images_json: str | Path | None = None,
    block_size: int = 10,
    min_score: float | None = None,
) -> pd.DataFrame:
    """One row per instance (columns :data:`INSTANCE_COLUMNS`), sorted by block, frame, instance_id.

    ``pred_path``: a COCO instances file (images come from it) or a results/submission list (images
    come from ``images_json``, a COCO file with an ``images`` list). ``min_score`` drops lower-scored
    predictions (ground truth, score NaN, is kept). Bad input raises :class:`~flocshape.errors.InputError`.
    """
    pred_path = Path(pred_path)
    source = read_instances(pred_path, images_json, images_required=True)
    rows = [_row(inst) for inst in source.instances()]
    table = pd.DataFrame(rows, columns=[c for c in INSTANCE_COLUMNS if c not in ("frame", "block")])
    video = video_frames(source.image_records, table["image_id"].unique())
    if video is not None:
        table = table.merge(video, on="image_id", how="left", validate="many_to_one")
        if min_score is not None:
            table = table[~(table["score"] < min_score)]
        table = table.sort_values(["block", "frame", "image_id", "instance_id"], kind="stable")
        return table[[*INSTANCE_COLUMNS, "time_s"]].reset_index(drop=True)
    frames = {}
    for name in table["file_name"].unique():
        try:
            frames[name] = frame_number(name)
        except ValueError as exc:
            raise input_error(pred_path, str(exc)) from exc
    table["frame"] = table["file_name"].map(frames).astype(int)
    table["block"] = (table["frame"] - 1) // int(block_size)
    if min_score is not None:
        table = table[~(table["score"] < min_score)]
    table = table.sort_values(["block", "frame", "image_id", "instance_id"], kind="stable").reset_index(
        drop=True
    )
    return table[list(INSTANCE_COLUMNS)]
