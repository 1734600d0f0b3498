"""The Ultralytics segmentation trainer, made safe for offline use in every process it runs in.

Multi-GPU (``device=0,1,...``): Ultralytics pickles ``type(trainer)`` with cloudpickle into a temporary DDP script
(``ultralytics/utils/dist.py``) and rebuilds the trainer in each spawned worker. Environment variables
(``YOLO_OFFLINE``, ``YOLO_CONFIG_DIR``) are inherited, but in-process patches are not. Classes and functions of an
importable module are pickled *by reference*, so each worker imports this module and runs
:meth:`FlocSegmentationTrainer.__init__`, which calls :func:`flocshape.offline.setup` there too: the AMP check
becomes a local decision (no ``yolo26n.pt`` download) in every rank. Nothing here keeps module-level state.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flocshape import offline

offline.setup()  # before the Ultralytics import below, in the main process and in DDP workers alike

from ultralytics.models.yolo.segment import SegmentationTrainer  # noqa: E402

VALIDATOR_SETTINGS_FILE = "validator_settings.json"


def record_validator_settings(validator: Any) -> None:
    """``on_val_start`` callback: write the settings the validator really uses to ``save_dir``.

    Writes ``validator_settings.json`` (``max_det``, ``conf``, ``iou``, ``imgsz``), so a run can prove that the
    training-time validation was not capped at Ultralytics' default of 300 detections. A file (not a variable)
    because under DDP the validator lives in another process.
    """
    save_dir = getattr(validator, "save_dir", None)
    if not save_dir:
        return
    args = validator.args
    settings = {"max_det": int(args.max_det), "conf": args.conf, "iou": args.iou, "imgsz": args.imgsz}
    path = Path(save_dir) / VALIDATOR_SETTINGS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings) + "\n")


class FlocSegmentationTrainer(SegmentationTrainer):
    """``SegmentationTrainer`` that applies :func:`flocshape.offline.setup` in its own process and records the
    validator's settings (see :func:`record_validator_settings`)."""

    def __init__(self, cfg: Any = None, overrides: dict | None = None, _callbacks: Any = None) -> None:
        offline.setup()
        from ultralytics.utils import DEFAULT_CFG

        super().__init__(cfg=DEFAULT_CFG if cfg is None else cfg, overrides=overrides, _callbacks=_callbacks)
        if record_validator_settings not in self.callbacks["on_val_start"]:
            self.add_callback("on_val_start", record_validator_settings)
