"""train/train.py end to end: a 1-epoch run at imgsz 64 on a toy dataset (slow: it trains)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flocshape.testing import make_toy_dataset

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_cli_run_writes_manifest_and_validation_is_not_capped(tmp_path: Path) -> None:
    data = make_toy_dataset(tmp_path / "ds", n_train=3, n_val=1)
    project = tmp_path / "runs"
    cmd = [sys.executable, "train/train.py", "--data", str(data), "--recipe", "cpu-small", "--name", "r",
           "--project", str(project), "epochs=1", "imgsz=64", "batch=3", "workers=0", "max_det=1500"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = project / "r"
    assert f"run: {run}" in proc.stdout
    assert (run / "weights" / "best.pt").is_file() and (run / "args.yaml").is_file()
    args = yaml.safe_load((run / "args.yaml").read_text())
    assert args["max_det"] == 1500 and args["data"] == str(data) and args["imgsz"] == 64
    # the validator that ran during training saw max_det=1500, not Ultralytics' default 300
    assert json.loads((run / "validator_settings.json").read_text())["max_det"] == 1500
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["overrides"] == {"epochs": 1, "imgsz": 64, "batch": 3, "workers": 0, "max_det": 1500}
    assert manifest["recipe"]["model"] == "yolov8n-seg.yaml"
    assert manifest["inputs"]["data_yaml"]["sha256"]
    assert manifest["validator_settings"]["max_det"] == 1500
    assert manifest["versions"]["ultralytics"]
    assert "metrics/mAP50-95(M)" in manifest["metrics"]
    # the same name again goes to an incremented folder; nothing is overwritten
    first_manifest = (run / "manifest.json").read_text()
    proc2 = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc2.returncode == 0
    run2 = Path(next(x for x in proc2.stdout.splitlines() if x.startswith("run: "))[len("run: ") :])
    assert run2 != run and run2.parent == project and (run2 / "manifest.json").is_file()
    assert (run / "manifest.json").read_text() == first_manifest
