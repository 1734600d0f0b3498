"""Predict benchmark: time per full 1024x1280 frame at imgsz 1280 on CPU, and peak RSS at 1000 particles/frame.

Run from the repo root::

    nice .venv/bin/python benchmarks/bench_predict.py [--model PT] [--particles 60] [--repeats 3] [--dense 1000]

Both sides run Ultralytics' real letterbox + forward pass; the detections after NMS are *injected* (boxes around
the toy frame's particles, random mask coefficients) so the mask cost is measured at a known particle count even
with an untrained model (``--model`` defaults to an untrained yolov8n-seg built from its YAML). Compared:

* ``flocshape``: :class:`flocshape.infer.engine.Segmenter` (box-local masks from prototypes) + ``rle_from_crop``;
* ``ultralytics retina``: ``YOLO.predict(retina_masks=True)`` (``process_mask_native``, N x H x W) + pycocotools
  ``encode`` of each full-frame mask.

Peak RSS is measured in a fresh subprocess per side (``ru_maxrss``), minus the same process's RSS just before
the dense frame. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flocshape import offline  # noqa: E402

offline.setup()

import torch  # noqa: E402
from pycocotools import mask as mask_utils  # noqa: E402

from flocshape.fsio import atomic_write_json  # noqa: E402
from flocshape.infer.engine import Segmenter  # noqa: E402
from flocshape.infer.run import instance_to_prediction  # noqa: E402
from flocshape.testing import random_ellipses, render_frame  # noqa: E402

FRAME_HW = (1024, 1280)


def untrained_model(path: Path) -> Path:
    """An untrained yolov8n-seg saved as a local .pt (no download)."""
    from ultralytics import YOLO

    if not path.is_file():
        YOLO("yolov8n-seg.yaml").save(str(path))
    return path


def toy_frame(n_particles: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 1024x1280 BGR frame with ``n_particles`` ellipses and their boxes (xyxy px)."""
    rng = np.random.default_rng(seed)
    radius = (6.0, 30.0) if n_particles <= 200 else (5.0, 14.0)
    ellipses = random_ellipses(rng, *FRAME_HW, n_particles, radius)
    frame, masks = render_frame(rng, *FRAME_HW, ellipses)
    boxes = []
    for m in masks:
        ys, xs = np.nonzero(m)
        boxes.append([xs.min() - 1.0, ys.min() - 1.0, xs.max() + 2.0, ys.max() + 2.0])
    return frame, np.array(boxes)


def frame_proto(model: Path, frame: np.ndarray) -> np.ndarray:
    """The model's prototypes ``(C, mh, mw)`` for this frame (one real forward pass)."""
    inject_detections(np.zeros((0, 4)), np.zeros((0, 32), np.float32))
    return Segmenter(model, imgsz=1280).detect(frame).proto


def centre_coefficients(proto: np.ndarray, boxes_xyxy: np.ndarray, stride: float = 4.0) -> np.ndarray:
    """Coefficients equal to the prototype vector at each box centre, so every mask is non-empty (logit > 0 there)."""
    cx = np.clip(((boxes_xyxy[:, 0] + boxes_xyxy[:, 2]) / 2 / stride).astype(int), 0, proto.shape[2] - 1)
    cy = np.clip(((boxes_xyxy[:, 1] + boxes_xyxy[:, 3]) / 2 / stride).astype(int), 0, proto.shape[1] - 1)
    return proto[:, cy, cx].T.astype(np.float32)


def inject_detections(boxes_xyxy: np.ndarray, coefficients: np.ndarray) -> None:
    """Make Ultralytics' NMS return these boxes (input px; the frame maps 1:1 at imgsz 1280) and coefficients."""
    import ultralytics.models.yolo.detect.predict as detect_predict

    n = len(boxes_xyxy)
    det = np.zeros((n, 6 + coefficients.shape[1]), np.float32)
    det[:, :4] = boxes_xyxy
    det[:, 4] = np.linspace(0.95, 0.5, n)
    det[:, 6:] = coefficients
    injected = torch.from_numpy(det)

    class _NMS:
        @staticmethod
        def non_max_suppression(*args, **kwargs):  # noqa: ANN002, ANN003, ANN205 - same as Ultralytics'
            return [injected.clone()]

    detect_predict.nms = _NMS


def time_flocshape(model: Path, frame: np.ndarray, repeats: int) -> dict[str, float]:
    """Median ms per frame of each step of our path (``masks`` includes NMS and the predictor's own overhead)."""
    seg = Segmenter(model, imgsz=1280, conf=0.25, max_det=3000)
    seg.instances(frame)  # warm-up
    rows = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        raw = seg.detect(frame)
        t1 = time.perf_counter()
        from flocshape.infer.engine import masks_from_detections

        instances = masks_from_detections(raw)
        t2 = time.perf_counter()
        preds = [instance_to_prediction(inst, 1) for inst in instances]
        t3 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            atomic_write_json(Path(tmp) / "submission.json", preds, indent=None)
        t4 = time.perf_counter()
        net = (raw.speed["preprocess"] + raw.speed["inference"]) / 1e3  # same split as Ultralytics' side
        rows.append([net, (t1 - t0 - net) + (t2 - t1), t3 - t2, t4 - t3, len(preds)])
    med = np.median(np.array(rows), axis=0)
    return {"network": med[0] * 1e3, "masks": med[1] * 1e3, "encode": med[2] * 1e3, "write": med[3] * 1e3,
            "instances": med[4]}  # fmt: skip


def time_ultralytics(model: Path, frame: np.ndarray, repeats: int) -> dict[str, float]:
    """Median ms per frame of Ultralytics' predict(retina_masks=True) + encoding each full-frame mask."""
    from ultralytics import YOLO

    yolo = YOLO(str(model))
    kwargs = {"imgsz": 1280, "conf": 0.25, "max_det": 3000, "retina_masks": True, "verbose": False}
    yolo.predict(frame, **kwargs)  # warm-up
    rows = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = yolo.predict(frame, **kwargs)[0]
        t1 = time.perf_counter()
        masks = result.masks.data.numpy().astype(np.uint8)
        rles = [mask_utils.encode(np.asfortranarray(m)) for m in masks]
        t2 = time.perf_counter()
        preds = [{"image_id": 1, "category_id": 1, "bbox": mask_utils.toBbox(r).tolist(), "score": 0.5,
                  "segmentation": {"size": r["size"], "counts": r["counts"].decode()}} for r in rles]  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            atomic_write_json(Path(tmp) / "submission.json", preds, indent=None)
        t3 = time.perf_counter()
        net = (result.speed["preprocess"] + result.speed["inference"]) / 1e3
        post = t1 - t0 - net
        rows.append([net, post, t2 - t1, t3 - t2, len(preds)])
    med = np.median(np.array(rows), axis=0)
    return {"network": med[0] * 1e3, "masks": med[1] * 1e3, "encode": med[2] * 1e3, "write": med[3] * 1e3,
            "instances": med[4]}  # fmt: skip


class RssSampler:
    """Samples this process's RSS every 2 ms in a thread; ``peak_mib`` is the largest value seen."""

    def __init__(self) -> None:
        import threading

        import psutil

        self._proc = psutil.Process()
        self.peak_mib = self._proc.memory_info().rss / 2**20
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mib = max(self.peak_mib, self._proc.memory_info().rss / 2**20)
            time.sleep(0.002)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mib = max(self.peak_mib, self._proc.memory_info().rss / 2**20)


def peak_rss_child(side: str, model: Path, n_particles: int) -> None:
    """(Subprocess) print JSON: RSS just before the dense frame and the peak while predicting + encoding it, MiB."""
    import psutil

    frame, boxes = toy_frame(n_particles, seed=1)
    coefficients = centre_coefficients(frame_proto(model, frame), boxes)
    inject_detections(boxes[:5], coefficients[:5])
    kwargs = {"imgsz": 1280, "conf": 0.25, "max_det": 3000, "retina_masks": True, "verbose": False}
    if side == "flocshape":
        seg = Segmenter(model, imgsz=1280, conf=0.25, max_det=3000)
        seg.instances(frame)  # warm-up with 5 detections
    else:
        from ultralytics import YOLO

        yolo = YOLO(str(model))
        yolo.predict(frame, **kwargs)
    inject_detections(boxes, coefficients)
    before = psutil.Process().memory_info().rss / 2**20
    with RssSampler() as sampler:
        if side == "flocshape":
            n = len([instance_to_prediction(i, 1) for i in seg.instances(frame)])
        else:
            masks = yolo.predict(frame, **kwargs)[0].masks.data.numpy()
            n = len([mask_utils.encode(np.asfortranarray(m.astype(np.uint8))) for m in masks])
            del masks
    print(json.dumps({"side": side, "instances": n, "before_mib": before, "peak_mib": sampler.peak_mib}))


def main() -> None:
    """Run both timing comparisons and the peak-RSS comparison; print Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", type=Path, default=None, help="a local YOLO-seg .pt (default: untrained v8n)"
    )
    parser.add_argument("--particles", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dense", type=int, default=1000, help="particles for the peak-RSS frame")
    parser.add_argument("--rss-child", choices=["flocshape", "ultralytics"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    model = args.model or untrained_model(Path(tempfile.gettempdir()) / "flocshape-bench-yolov8n-seg.pt")
    if args.rss_child:
        peak_rss_child(args.rss_child, model, args.dense)
        return
    frame, boxes = toy_frame(args.particles)
    inject_detections(boxes, centre_coefficients(frame_proto(model, frame), boxes))
    ours = time_flocshape(model, frame, args.repeats)
    theirs = time_ultralytics(model, frame, args.repeats)
    print(f"## Per frame 1024x1280, imgsz 1280, {len(boxes)} particles, CPU threads {torch.get_num_threads()}, "
          f"median of {args.repeats} (ms)\n")  # fmt: skip
    print("| path | network | masks | encode | write | outside network | outside / network | instances |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in (("flocshape (box-local)", ours), ("ultralytics retina_masks=True", theirs)):
        outside = r["masks"] + r["encode"] + r["write"]
        print(f"| {name} | {r['network']:.0f} | {r['masks']:.0f} | {r['encode']:.0f} | {r['write']:.0f} | "
              f"{outside:.0f} | {100 * outside / r['network']:.0f} % | {r['instances']:.0f} |")  # fmt: skip
    print(f"\n## Peak RSS, one frame with {args.dense} particles (MiB)\n")
    print("| path | RSS before frame | peak RSS | increase | instances |")
    print("|---|---|---|---|---|")
    for side in ("flocshape", "ultralytics"):
        cmd = [
            sys.executable,
            __file__,
            "--rss-child",
            side,
            "--dense",
            str(args.dense),
            "--model",
            str(model),
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        r = json.loads(out)
        print(f"| {side} | {r['before_mib']:.0f} | {r['peak_mib']:.0f} | {r['peak_mib'] - r['before_mib']:.0f} | "
              f"{r['instances']} |")  # fmt: skip


if __name__ == "__main__":
    main()
