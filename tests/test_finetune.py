"""train/finetune.py: a few-shot fine-tune end to end on toy frames (slow: it trains), the budget, and one-line
errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flocshape.convert.from_yolo import yolo_to_coco
from flocshape.errors import run_cli
from flocshape.testing import make_toy_dataset
from flocshape.train.finetune_budget import budget_epochs
from flocshape.train.finetune_cli import build_parser, main, train_overrides

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A toy dataset (4 train, 2 val frames of 96 x 128 px) and the COCO labels of its validation frames."""
    root = tmp_path_factory.mktemp("finetune")
    data = make_toy_dataset(root / "ds", n_train=4, n_val=2)
    coco = yolo_to_coco(root / "ds" / "images" / "val", root / "ds" / "labels" / "val", names={0: "Normal"})
    (root / "val.json").write_text(json.dumps(coco))
    return data, root / "val.json"


def one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the command in-process; assert exit 2 and a single ``error:`` line on stderr; return it."""
    assert run_cli(main, argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def test_bad_input_is_one_line_and_writes_nothing(
    toy: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, coco = toy
    out = tmp_path / "ft"
    base = ["--val-coco", str(coco), "--out", str(out)]
    line = one_line_error(["--data", str(tmp_path / "missing.yaml"), *base], capsys)
    assert "missing.yaml" in line and "not found" in line
    empty = tmp_path / "empty"
    (empty / "images" / "train").mkdir(parents=True)
    spec = {"path": str(empty), "train": "images/train", "val": str(data.parent / "images" / "val")}
    (empty / "data.yaml").write_text(yaml.safe_dump(spec))
    line = one_line_error(["--data", str(empty / "data.yaml"), *base], capsys)
    assert str(empty / "data.yaml") in line and "train: no training images" in line
    partial = json.loads(coco.read_text())
    partial["images"] = partial["images"][:1]
    partial["annotations"] = [
        a for a in partial["annotations"] if a["image_id"] == partial["images"][0]["id"]
    ]
    (tmp_path / "partial.json").write_text(json.dumps(partial))
    line = one_line_error(
        ["--data", str(data), "--val-coco", str(tmp_path / "partial.json"), "--out", str(out)], capsys
    )
    assert "partial.json: images: validation frame 0001.jpg is not among its images" in line
    line = one_line_error(["--data", str(data), *base, "epochs"], capsys)
    assert "command line: epochs: expected key=value" in line
    line = one_line_error(["--data", str(data), *base, "epoch=3"], capsys)
    assert "epoch: unknown Ultralytics train argument" in line
    line = one_line_error(["--data", str(data), *base, "--imgsz", "128", "imgsz=160"], capsys)
    assert "imgsz: given twice" in line
    assert not out.exists()


def test_budget_sets_epochs_unless_given(toy: tuple[Path, Path], tmp_path: Path) -> None:
    data, coco = toy
    base = ["--data", str(data), "--val-coco", str(coco), "--out", str(tmp_path / "ft"), "--imgsz", "128"]
    overrides = train_overrides(build_parser().parse_args(base), 4)
    assert overrides["epochs"] == budget_epochs(4, 128) and overrides["imgsz"] == 128
    assert (
        Path(overrides["model"]).name == "floc-yolov8n-seg-cpuref.pt"
        and Path(overrides["model"]).is_absolute()
    )
    assert "epochs" not in train_overrides(build_parser().parse_args([*base, "time=0.01"]), 4)
    assert train_overrides(build_parser().parse_args([*base, "epochs=2"]), 4)["epochs"] == 2


@pytest.mark.slow
def test_finetune_end_to_end_writes_the_predict_config(toy: tuple[Path, Path], tmp_path: Path) -> None:
    """1 epoch at imgsz 128 from the shipped model; then the validation choice, predict.yaml, and a resume."""
    data, coco = toy
    out = tmp_path / "ft"
    cmd = [sys.executable, "train/finetune.py", "--data", str(data), "--val-coco", str(coco), "--out", str(out),
           "--imgsz", "128", "epochs=1", "batch=4"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    cfg_path = out / "predict.yaml"
    assert proc.stdout.strip().splitlines()[-1] == (
        f"predict with: python infer/predict.py --cfg {cfg_path} --source FRAMES --out RUN"
    )
    for name in ("train/weights/best.pt", "tune/refine.json", "val_score.json", "log.txt", "manifest.json"):
        assert (out / name).is_file(), name
    cfg = yaml.safe_load(cfg_path.read_text())
    refine = json.loads((out / "tune" / "refine.json").read_text())
    predicted = bool(json.loads((out / "val_pred" / "submission.json").read_text()))
    assert cfg["model"] == "train/weights/best.pt" and cfg["imgsz"] == 128 and cfg["conf"] == 0.05
    assert cfg["tile"] is None and cfg["postproc"] == ("tune/postproc.json" if predicted else None)
    assert cfg["refine"] == refine["best_level"]
    if cfg["refine"] is not None:
        assert (cfg["refine_inset"], cfg["refine_smooth"]) == (
            refine["best_inset_px"],
            refine["best_smooth_px"],
        )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tool"] == "train/finetune.py" and manifest["status"] == "done"
    assert manifest["train_images"] == 4 and manifest["settings"]["train"]["epochs"] == 1
    score = json.loads((out / "val_score.json").read_text())
    assert manifest["val_score"]["hackathon_f1"] == score["hackathon_f1"]["f1"]
    log = (out / "log.txt").read_text()
    for command in ("train/train.py", "infer/predict.py", "infer/tune_refine.py", "infer/score.py"):
        assert f"$ python {command} " in log, command
    # the predict config is accepted by infer/predict.py
    run = tmp_path / "run"
    pred = subprocess.run([sys.executable, "infer/predict.py", "--cfg", str(cfg_path), "--source",
                           str(data.parent / "images" / "val"), "--out", str(run)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert pred.returncode == 0, pred.stderr[-2000:]
    settings = json.loads((run / "manifest.json").read_text())["settings"]
    assert settings["imgsz"] == 128 and settings["refine_level"] == cfg["refine"]
    # the same command again resumes: nothing is retrained or re-predicted; other arguments are refused
    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and (out / "log.txt").read_text() == log
    other = subprocess.run([*cmd[:-4], "--imgsz", "160", "epochs=1", "batch=4"], cwd=REPO, capture_output=True,
                           text=True)  # fmt: skip
    assert other.returncode == 2 and "holds a fine-tune with other arguments" in other.stderr
