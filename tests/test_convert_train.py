"""A coco2yolo dataset is accepted by plain Ultralytics training (1 epoch, imgsz 64, model from YAML)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_coco import make_coco

from flocshape.convert.to_yolo import YoloOptions, convert_coco_to_yolo


@pytest.mark.slow
def test_ultralytics_trains_one_epoch_on_converted_dataset(tmp_path: Path) -> None:
    from flocshape.offline import setup

    setup()
    from ultralytics import YOLO

    src = make_coco(tmp_path / "in", n_frames=6, height=64, width=64, instances_per_frame=4, seed=2)
    out = tmp_path / "ds"
    convert_coco_to_yolo(src["rle"], src["images"], out, YoloOptions(val_frac=0.34, group_size=2))
    model = YOLO("yolov8n-seg.yaml")
    model.train(
        data=str(out / "data.yaml"),
        epochs=1,
        imgsz=64,
        batch=2,
        workers=0,
        device="cpu",
        project=str(tmp_path / "runs"),
        name="t",
        plots=False,
        verbose=False,
        amp=False,
    )
    assert (tmp_path / "runs/t/weights/last.pt").is_file()
    assert sorted(p.name for p in (out / "labels").glob("*.cache")) == ["train.cache", "val.cache"]
