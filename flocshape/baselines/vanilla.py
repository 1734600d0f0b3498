"""Baseline 1: vanilla Ultralytics, as a user would run it straight from its documentation.

Three steps, each with Ultralytics' defaults and nothing of this project's pipeline:

1. :func:`convert_with_ultralytics`: ``ultralytics.data.converter.convert_coco`` on the *polygon* label file
   (``label(polygon)_train.json``; the RLE file needs ``faster-coco-eval`` and keeps only outer contours), with the
   same train/val frames as a ``coco2yolo`` output so both see the same split.
2. :func:`train_vanilla`: ``YOLO(model.yaml).train(data=..., **budget)`` where ``budget`` only sets the schedule
   (``time``/``epochs``) and the device; every other argument is Ultralytics' default (imgsz 640, augmentation,
   optimizer ``auto``, ``max_det`` 300, validation every epoch).
3. :func:`predict_vanilla`: ``model.predict`` with defaults (conf 0.25, iou 0.7, imgsz 640, max_det 300,
   ``retina_masks=False``) and the documented way to get outlines, ``result.masks.xy`` (polygons in frame
   pixels), filled with pycocotools into compressed RLE; the score is the box confidence.

The output is a COCO results list that ``infer/score.py`` reads, like ``infer/predict.py``'s ``submission.json``.
Run by path: ``python benchmarks/vanilla_baseline.py {convert,train,predict} ...``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pycocotools import mask as mask_utils

from flocshape import offline
from flocshape.errors import input_error
from flocshape.fsio import atomic_dir, atomic_write_json, is_image_file
from flocshape.infer.run import assign_image_ids, find_sources
from flocshape.manifest import build_manifest, describe_input, write_manifest


def split_names(split_from: Path) -> dict[str, list[str]]:
    """Image file names per split (``train``, ``val``) of a ``coco2yolo`` output folder."""
    out: dict[str, list[str]] = {}
    for split in ("train", "val"):
        folder = split_from / "images" / split
        if not folder.is_dir():
            raise input_error(
                folder, "not a folder: expected a coco2yolo output with images/train and images/val"
            )
        out[split] = sorted(p.name for p in folder.iterdir() if is_image_file(p))
    return out


def convert_with_ultralytics(coco_json: Path, images_dir: Path, split_from: Path, out: Path) -> Path:
    """Convert ``coco_json`` with Ultralytics' ``convert_coco`` into a dataset at ``out``; return its data.yaml.

    Frames go to ``train``/``val`` exactly as in ``split_from`` (symbolic links to ``images_dir``).
    """
    offline.setup()
    from ultralytics.data.converter import convert_coco

    coco_json, images_dir, out = Path(coco_json), Path(images_dir), Path(out)
    if not coco_json.is_file():
        raise input_error(coco_json, "no such file")
    splits = split_names(Path(split_from))
    with tempfile.TemporaryDirectory() as tmp, atomic_dir(out) as stage:
        ann_dir = Path(tmp) / "annotations"
        ann_dir.mkdir()
        shutil.copy(
            coco_json, ann_dir / "instances_train.json"
        )  # convert_coco names the label folder by stem
        convert_coco(
            labels_dir=str(ann_dir), save_dir=str(Path(tmp) / "conv"), use_segments=True, cls91to80=False
        )
        converted = Path(tmp) / "conv" / "labels" / "train"
        for split, names in splits.items():
            (stage / "images" / split).mkdir(parents=True)
            (stage / "labels" / split).mkdir(parents=True)
            for name in names:
                src = images_dir / name
                if not src.is_file():
                    raise input_error(src, "frame of the split is missing from --images", name)
                os.symlink(src.absolute(), stage / "images" / split / name)
                label = converted / (Path(name).stem + ".txt")
                if label.is_file():
                    shutil.copy(label, stage / "labels" / split / label.name)
        data_yaml = {
            "path": str(out.absolute()),
            "train": "images/train",
            "val": "images/val",
            "names": {0: "Normal"},
        }
        (stage / "data.yaml").write_text(yaml.safe_dump(data_yaml, sort_keys=False))
        manifest = build_manifest(
            "benchmarks/vanilla_baseline.py convert",
            {"coco_json": str(coco_json), "images": str(images_dir), "split_from": str(split_from)},
            inputs={"coco_json": describe_input(coco_json)},
            converter="ultralytics.data.converter.convert_coco(use_segments=True, cls91to80=False)",
            frames={k: len(v) for k, v in splits.items()},
        )
        write_manifest(stage, manifest)
    return out / "data.yaml"


def train_vanilla(data_yaml: Path, model_yaml: str, project: Path, name: str, **budget: Any) -> Path:
    """``YOLO(model_yaml).train`` with Ultralytics' defaults plus ``budget`` (schedule, device); return best.pt."""
    offline.setup()
    from ultralytics import YOLO

    allowed = {"time", "epochs", "device", "workers", "seed"}
    extra = set(budget) - allowed
    if extra:
        raise ValueError(f"vanilla training takes only {sorted(allowed)}, not {sorted(extra)}")
    model = YOLO(model_yaml, task="segment")
    model.train(
        data=str(data_yaml), project=str(Path(project).absolute()), name=name, exist_ok=True, **budget
    )
    return Path(model.trainer.save_dir) / "weights" / "best.pt"


def polygons_to_rle(
    polygons: list[np.ndarray], height: int, width: int
) -> tuple[dict[str, Any], list[float]] | None:
    """Fill one instance's polygons (frame px, pycocotools' pixel-corner convention): (compressed RLE, xywh box).

    ``None`` when nothing is filled (fewer than 3 points or zero area).
    """
    flat = [np.asarray(p, dtype=np.float64).reshape(-1).tolist() for p in polygons if len(p) >= 3]
    if not flat:
        return None
    rle = mask_utils.merge(mask_utils.frPyObjects(flat, height, width))
    if int(mask_utils.area(rle)) == 0:
        return None
    box = [float(v) for v in mask_utils.toBbox(rle)]
    return {"size": [height, width], "counts": rle["counts"].decode("ascii")}, box


def predict_vanilla(
    weights: Path, source: Path, images_json: Path, out_json: Path, device: str = "cpu"
) -> int:
    """Predict every frame in ``source`` with Ultralytics' defaults; write a COCO results list; return its length."""
    offline.setup()
    from ultralytics import YOLO

    frames = find_sources(str(source))
    ids = {frame.name: image_id for frame, image_id in assign_image_ids(frames, Path(images_json)).items()}
    model = YOLO(str(weights), task="segment")
    results: list[dict[str, Any]] = []
    for frame in frames:
        for r in model.predict(source=str(frame), device=device, verbose=False):
            if r.masks is None:
                continue
            height, width = r.orig_shape
            for polygon, conf in zip(r.masks.xy, r.boxes.conf.tolist(), strict=True):
                filled = polygons_to_rle([polygon], height, width)
                if filled is None:
                    continue
                rle, box = filled
                results.append(
                    {
                        "image_id": ids[frame.name],
                        "category_id": 1,
                        "bbox": box,
                        "score": float(conf),
                        "segmentation": rle,
                    }
                )
    atomic_write_json(out_json, results, indent=None)
    return len(results)
