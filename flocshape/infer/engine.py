"""Run a YOLO-seg model on one frame and return instances as crop masks at the frame's resolution.

The network part (letterbox, forward pass, NMS) is Ultralytics' own predictor; only the mask step is replaced
(see :mod:`flocshape.infer.protomask`): Ultralytics is asked for boxes, scores and mask coefficients plus the
prototypes, and each mask is computed inside its box. Memory per frame is ``O(prototypes + one box)`` instead of
``O(N x H x W)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flocshape import offline
from flocshape.errors import input_error
from flocshape.infer.protomask import CropMask, LetterboxGeometry, instance_crop_mask


@dataclass
class RawDetections:
    """Network output for one frame after NMS: boxes in frame pixels (xyxy edges), scores, class indices,
    mask coefficients ``(N, C)`` and the frame's prototypes ``(C, mh, mw)`` (float32)."""

    boxes_xyxy: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    coefficients: np.ndarray
    proto: np.ndarray
    geometry: LetterboxGeometry
    speed: dict[str, float] = field(default_factory=dict)


@dataclass
class Instance:
    """One predicted particle: its mask window in frame pixels, confidence, 0-based class index and box."""

    crop: CropMask
    score: float
    class_index: int
    box_xyxy: tuple[float, float, float, float]
    cut_by_tile: bool = False
    # frame window ``(x0, y0, x1, y1)`` (px, end exclusive) of the tile(s) that saw it; ``None`` for whole frames
    tile_xyxy: tuple[int, int, int, int] | None = None


@dataclass
class FrameTimings:
    """Seconds spent on one frame: network (letterbox + forward + NMS) and mask post-processing."""

    network_s: float = 0.0
    masks_s: float = 0.0


def _proto_predictor_class() -> type:
    """A ``SegmentationPredictor`` that returns boxes, coefficients and prototypes instead of full-frame masks."""
    from ultralytics.models.yolo.segment import SegmentationPredictor
    from ultralytics.utils import ops

    class ProtoPredictor(SegmentationPredictor):
        def construct_result(self, pred, img, orig_img, img_path, proto):  # noqa: ANN001 - Ultralytics' signature
            geometry = LetterboxGeometry.from_shapes(tuple(img.shape[2:]), tuple(orig_img.shape[:2]))
            boxes = ops.scale_boxes(img.shape[2:], pred[:, :4].clone(), orig_img.shape)
            return RawDetections(
                boxes_xyxy=boxes.detach().cpu().numpy().astype(np.float64),
                scores=pred[:, 4].detach().cpu().numpy().astype(np.float64),
                classes=pred[:, 5].detach().cpu().numpy().astype(np.int64),
                coefficients=pred[:, 6:].detach().float().cpu().numpy(),
                proto=proto.detach().float().cpu().numpy(),
                geometry=geometry,
            )

    return ProtoPredictor


class Segmenter:
    """A loaded YOLO-seg model that turns a BGR frame into :class:`Instance` objects.

    ``imgsz``: network input size (long side, px); ``conf``: minimum confidence; ``iou``: NMS IoU;
    ``max_det``: most instances per frame (per tile in tiled mode); ``box_pad_px``: widen each mask window.
    """

    def __init__(
        self,
        model_path: str | Path,
        imgsz: int = 1280,
        conf: float = 0.25,
        iou: float = 0.7,
        max_det: int = 1000,
        device: str = "cpu",
        box_pad_px: int = 0,
    ) -> None:
        model_path = Path(model_path)
        if not model_path.is_file():
            raise input_error(model_path, "model weights not found (a local .pt file is required)")
        offline.setup()
        from ultralytics import YOLO

        try:
            yolo = YOLO(str(model_path))
        except Exception as exc:  # Ultralytics raises assorted errors for a non-model file
            raise input_error(model_path, f"cannot load model ({type(exc).__name__}: {exc})") from exc
        if yolo.task != "segment":
            raise input_error(model_path, f"model task is {yolo.task!r}, a segmentation model is needed")
        self.names: dict[int, str] = dict(yolo.names)
        self.box_pad_px = int(box_pad_px)
        overrides = {
            "conf": float(conf),
            "iou": float(iou),
            "max_det": int(max_det),
            "imgsz": int(imgsz),
            "device": device,
            "verbose": False,
            "save": False,
            "retina_masks": False,
            "task": "segment",
            "mode": "predict",
            "batch": 1,
            "rect": True,  # minimal letterbox padding, as YOLO.predict() does
        }
        self.predictor = _proto_predictor_class()(overrides=overrides)
        self.predictor.setup_model(model=yolo.model, verbose=False)

    def detect(self, image_bgr: np.ndarray) -> RawDetections:
        """Letterbox, forward pass and NMS for one frame (``H x W x 3`` uint8 BGR)."""
        results = list(self.predictor.stream_inference(source=image_bgr))
        return results[0]

    def instances(self, image_bgr: np.ndarray, timings: FrameTimings | None = None) -> list[Instance]:
        """All instances of one frame, highest score first; instances whose mask is empty are dropped."""
        t0 = time.perf_counter()
        raw = self.detect(image_bgr)
        t1 = time.perf_counter()
        found = masks_from_detections(raw, self.box_pad_px)
        if timings is not None:
            timings.network_s += t1 - t0
            timings.masks_s += time.perf_counter() - t1
        return found


def masks_from_detections(raw: RawDetections, box_pad_px: int = 0) -> list[Instance]:
    """Per-instance crop masks for a frame's detections (tight windows), sorted by descending score."""
    out: list[Instance] = []
    for k in np.argsort(-raw.scores, kind="stable"):
        crop = instance_crop_mask(raw.proto, raw.coefficients[k], raw.boxes_xyxy[k], raw.geometry, box_pad_px)
        crop = crop.tight()
        if crop.mask.size == 0:
            continue
        box = tuple(float(b) for b in raw.boxes_xyxy[k])
        out.append(Instance(crop, float(raw.scores[k]), int(raw.classes[k]), box))  # type: ignore[arg-type]
    return out
