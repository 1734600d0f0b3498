"""Benchmark: coco2yolo (this project) vs ``ultralytics.data.converter.convert_coco`` on hackathon-sized input.

Makes its own random COCO input (default 520 frames of 1024 x 1280, 62 blob-like instances each, 15 % with a
hole, 10 % in two parts, some cut by the frame border), in two variants: compressed RLE and polygons. For each
converter it prints wall time and fidelity: every source instance is matched to the written row of the same
image with the highest IoU (pycocotools polygon fill of the row, COCO pixel-corner convention; for Ultralytics
also with its rows read as pixel *centres*, i.e. shifted by +0.5 px). Run by path:

    nice .venv/bin/python benchmarks/bench_convert.py [--frames 520] [--instances 62] [--work /tmp/bench_convert]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flocshape.convert.to_yolo import YoloOptions, convert_coco_to_yolo  # noqa: E402
from flocshape.testing import blob_polygon  # noqa: E402


def make_input(work: Path, frames: int, instances: int, height: int, width: int, seed: int) -> None:
    """Write images/NNNN.jpg, rle/instances_rle.json and polygon/instances_polygon.json under ``work``."""
    rng = np.random.default_rng(seed)
    (work / "images").mkdir(parents=True, exist_ok=True)
    canvas_mask = np.zeros((height, width), dtype=np.uint8, order="F")
    images, anns_rle, anns_poly = [], [], []
    for frame in range(1, frames + 1):
        image_id = frame + 1000
        images.append({"id": image_id, "file_name": f"{frame:04d}.jpg", "height": height, "width": width})
        canvas = np.full((height, width), 15, np.uint8)
        for _ in range(instances):
            radius = float(np.exp(rng.uniform(np.log(4), np.log(45))))
            cx, cy = (
                rng.uniform(-radius / 2, width + radius / 2),
                rng.uniform(-radius / 2, height + radius / 2),
            )
            parts = [blob_polygon(rng, cx, cy, radius)]
            if rng.random() < 0.1:
                a, d = rng.uniform(0, 2 * np.pi), radius * rng.uniform(1.6, 2.4)
                parts.append(blob_polygon(rng, cx + d * np.cos(a), cy + d * np.sin(a), radius * 0.4))
            flat = [np.round(p, 2).reshape(-1).tolist() for p in parts]
            rle = mask_utils.merge(mask_utils.frPyObjects(flat, height, width))
            if mask_utils.area(rle) == 0:
                continue
            x, y, w, h = (int(v) for v in mask_utils.toBbox(rle))
            m = mask_utils.decode(rle)
            crop = m[y : y + h, x : x + w].astype(bool)
            if radius > 8 and rng.random() < 0.15:  # a hole (RLE variant only)
                hole = mask_utils.decode(
                    mask_utils.frPyObjects(
                        [blob_polygon(rng, cx, cy, radius * 0.3, 24).reshape(-1).tolist()], height, width
                    )[0]
                )[y : y + h, x : x + w].astype(bool)
                crop &= ~hole
            canvas_mask[y : y + h, x : x + w] = crop
            enc = mask_utils.encode(canvas_mask)
            canvas_mask[y : y + h, x : x + w] = 0
            canvas[y : y + h, x : x + w][crop] = 210
            common = {
                "id": len(anns_rle) + 1,
                "image_id": image_id,
                "category_id": 1,
                "iscrowd": 0,
                "area": int(crop.sum()),
                "bbox": [float(x), float(y), float(w), float(h)],
            }
            anns_rle.append(
                {**common, "segmentation": {"size": [height, width], "counts": enc["counts"].decode()}}
            )
            anns_poly.append({**common, "segmentation": flat})
        cv2.imwrite(str(work / "images" / f"{frame:04d}.jpg"), canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])
    cats = [{"id": 1, "name": "Normal"}]
    for kind, anns in (("rle", anns_rle), ("polygon", anns_poly)):
        (work / kind).mkdir(exist_ok=True)
        (work / kind / f"instances_{kind}.json").write_text(
            json.dumps({"images": images, "annotations": anns, "categories": cats})
        )


def match_ious(coco: dict, label_dir: Path, shift_px: float = 0.0) -> np.ndarray:
    """Best IoU of every source instance against the rows written for its image."""
    by_image: dict[int, list] = {}
    for a in coco["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    out = []
    for im in coco["images"]:
        h, w = im["height"], im["width"]
        src = [
            mask_utils.merge(mask_utils.frPyObjects(a["segmentation"], h, w))
            if isinstance(a["segmentation"], list)
            else {"size": [h, w], "counts": a["segmentation"]["counts"].encode()}
            for a in by_image.get(im["id"], [])
        ]
        txt = label_dir / f"{Path(im['file_name']).stem}.txt"
        rows = [
            np.array(line.split()[1:], float).reshape(-1, 2) * [w, h] + shift_px
            for line in (txt.read_text().splitlines() if txt.is_file() else [])
            if line.strip()
        ]
        if not src:
            continue
        if not rows:
            out.extend([0.0] * len(src))
            continue
        got = [mask_utils.frPyObjects([r.reshape(-1).tolist()], h, w)[0] for r in rows]
        out.extend(np.asarray(mask_utils.iou(src, got, [0] * len(got))).max(axis=1).tolist())
    return np.asarray(out)


def fmt(ious: np.ndarray) -> str:
    return f"{ious.mean():.5f} | {np.percentile(ious, 1):.5f} | {ious.min():.5f} | {(ious < 0.99).sum()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=520)
    ap.add_argument("--instances", type=int, default=62)
    ap.add_argument("--height", type=int, default=1024)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench_convert"))
    ap.add_argument("--skip-ultralytics", action="store_true")
    args = ap.parse_args()
    if args.work.exists():
        shutil.rmtree(args.work)
    t0 = time.perf_counter()
    make_input(args.work, args.frames, args.instances, args.height, args.width, args.seed)
    print(f"input: {args.frames} frames {args.height}x{args.width}, made in {time.perf_counter() - t0:.1f} s")
    print("| converter | input | workers | wall s | instances | IoU mean | IoU p1 | IoU min | rows < 0.99 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind in ("rle", "polygon"):
        src = args.work / kind / f"instances_{kind}.json"
        coco = json.loads(src.read_text())
        for workers in (1, 2):
            out = args.work / f"ours_{kind}_{workers}"
            t = time.perf_counter()
            convert_coco_to_yolo(src, args.work / "images", out, YoloOptions(val_frac=0, workers=workers))
            wall = time.perf_counter() - t
            ious = match_ious(coco, out / "labels/train")
            print(f"| flocshape coco2yolo | {kind} | {workers} | {wall:.1f} | {len(ious)} | {fmt(ious)} |")
        if args.skip_ultralytics:
            continue
        from flocshape.offline import setup

        setup()
        from ultralytics.data.converter import convert_coco

        save = args.work / f"ultra_{kind}"
        t = time.perf_counter()
        convert_coco(str(src.parent), str(save), use_segments=True, cls91to80=False)
        wall = time.perf_counter() - t
        label_dir = save / "labels" / kind
        for shift, name in ((0.0, "ultralytics convert_coco"), (0.5, "ultralytics convert_coco (+0.5 px)")):
            ious = match_ious(coco, label_dir, shift)
            print(f"| {name} | {kind} | 1 | {wall:.1f} | {len(ious)} | {fmt(ious)} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
