"""The model-study driver (train/sweep.py) and the vanilla-Ultralytics baseline (flocshape.baselines.vanilla)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from pycocotools import mask as mask_utils

from flocshape.baselines.vanilla import convert_with_ultralytics, polygons_to_rle, split_names
from flocshape.errors import InputError, input_error
from flocshape.train.stages import StageError, StageLog
from flocshape.train.sweep import leaderboard, load_study, run_study

REPO = Path(__file__).resolve().parents[1]


def write_study(path: Path, study: dict) -> Path:
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


BASE = {
    "data": {"yolo": "y", "train_coco": "c.json", "vanilla": "v/data.yaml"},
    "defaults": {"recipe": "cpu-small", "train": {"epochs": 3, "val": False}, "predict": {"imgsz": 320}},
}


def test_load_study_applies_defaults_but_not_to_vanilla(tmp_path: Path) -> None:
    study = {
        **BASE,
        "runs": [
            {"name": "a", "train": {"epochs": 5}, "setting": "a folded\n  YAML block\n"},
            {"name": "b", "kind": "vanilla", "train": {"model": "yolov8n-seg.yaml", "time": 0.1}},
            {"name": "c", "data": {"yolo": "tiles"}, "predict": {"tile": 640}, "refine_levels": []},
            {"name": "d", "refine_insets": [0, 0.5], "refine_smooths": [0.5, 1]},
        ],
    }
    _, runs = load_study(write_study(tmp_path / "s.yaml", study))
    a, b, c, d = runs
    assert a.train == {"epochs": 5, "val": False} and a.recipe == "cpu-small" and a.predict == {"imgsz": 320}
    assert b.kind == "vanilla" and b.train == {"model": "yolov8n-seg.yaml", "time": 0.1}
    assert c.data["yolo"] == "tiles" and c.data["train_coco"] == "c.json"
    assert c.predict == {"imgsz": 320, "tile": 640}
    assert a.refine_levels == [0.4, 0.5, 0.6, 0.7] and c.refine_levels == []
    assert a.refine_insets == [0.0] and d.refine_insets == [0.0, 0.5]
    assert a.refine_smooths == [1.0] and d.refine_smooths == [0.5, 1.0]
    assert a.setting == "a folded YAML block"  # one line in the markdown leaderboard


@pytest.mark.parametrize(
    ("runs", "message"),
    [
        ([], "non-empty list 'runs'"),
        ([{"name": "a"}, {"name": "a"}], "repeated"),
        ([{"name": "a", "kind": "magic"}], "kind must be one of"),
        ([{"setting": "no name"}], "needs a name"),
        ([{"name": "a", "refine_levels": [0.5, 1.2]}], "refine_levels must be"),
        ([{"name": "a", "refine_levels": 0.6}], "refine_levels must be"),
        ([{"name": "a", "refine_insets": []}], "refine_insets must be"),
        ([{"name": "a", "refine_insets": [0.5, 6]}], "refine_insets must be"),
        ([{"name": "a", "refine_smooths": [-1]}], "refine_smooths must be"),
        ([{"name": "a", "data": {"yolo": None, "vanilla": "v"}, "kind": "vanilla"}], None),
    ],
)
def test_load_study_rejects_bad_files(tmp_path: Path, runs: list, message: str | None) -> None:
    path = write_study(tmp_path / "s.yaml", {**BASE, "runs": runs})
    if message is None:
        assert load_study(path)[1][0].kind == "vanilla"
        return
    with pytest.raises(InputError, match=message) as err:
        load_study(path)
    assert str(path) in str(err.value)


def test_load_study_needs_the_data_a_run_uses(tmp_path: Path) -> None:
    path = write_study(tmp_path / "s.yaml", {"data": {"yolo": "y"}, "runs": [{"name": "a"}]})
    with pytest.raises(InputError, match=r"\['train_coco'\]"):
        load_study(path)
    path = write_study(tmp_path / "t.yaml", {"data": {"yolo": "y", "colour": "red"}, "runs": [{"name": "a"}]})
    with pytest.raises(InputError, match="unknown data keys"):
        load_study(path)


def test_leaderboard_sorts_by_validation_and_keeps_errors() -> None:
    rows = [
        {"run": "low", "kind": "pipeline", "val_f1": 0.4, "test_f1": 0.9, "train_min": 12.345},
        {"run": "high", "kind": "pipeline", "val_f1": 0.6, "test_f1": 0.5, "train_min": 3.0},
        {"run": "broken", "kind": "vanilla", "error": "exit 1"},
    ]
    table_csv, table_md = leaderboard(rows)
    lines = table_md.splitlines()
    assert lines[0].startswith("| run | kind |") and lines[0].rstrip().endswith("| error |")
    assert [ln.split("|")[1].strip() for ln in lines[2:]] == [
        "high",
        "low",
        "broken",
    ]  # selection on val only
    assert "| 12.3 |" in lines[3] and "| 0.600 |" in lines[2]
    assert table_csv.splitlines()[1].startswith("high,pipeline,")


def test_stage_log_captures_the_stage_and_reports_failures(tmp_path: Path) -> None:
    """A stage runs in-process: its command line, stdout, stderr and Ultralytics' log lines go to the log."""
    from ultralytics.utils import LOGGER

    log = StageLog(tmp_path / "run" / "log.txt")
    seen: list[list[str]] = []

    def stage(argv: list[str]) -> int:
        seen.append(list(sys.argv))
        print("on stdout", argv)
        print("on stderr", file=sys.stderr)
        LOGGER.info("from ultralytics")
        return 0

    log.call("infer/x.py", ["--a", "b c"], stage)
    text = log.path.read_text()
    assert text.startswith("$ python infer/x.py --a 'b c'\n") and "on stdout ['--a', 'b c']" in text
    assert "on stderr" in text and "from ultralytics" in text
    assert seen == [["infer/x.py", "--a", "b c"]] and sys.argv[0] != "infer/x.py"

    def bad_input(argv: list[str]) -> int:
        raise input_error("f.json", "broken", "rec")

    with pytest.raises(StageError, match="run: exit 2: python infer/y.py"):
        log.call("infer/y.py", [], bad_input)
    assert "error: f.json: rec: broken" in log.path.read_text()

    def crash(argv: list[str]) -> int:
        raise ValueError("a bug")

    with pytest.raises(StageError, match="infer/z.py raised ValueError: a bug"):
        log.call("infer/z.py", [], crash)
    assert "Traceback" in log.path.read_text()


def test_a_failing_stage_becomes_an_error_row(tmp_path: Path) -> None:
    """No training data: the train stage rejects it (exit 2), the run gets an error row, the board is written;
    with ``parallel`` each run goes to its own process and logs there."""
    study = {"data": {"yolo": str(tmp_path / "nowhere"), "train_coco": str(tmp_path / "c.json")},
             "defaults": {"recipe": "cpu-small"}, "runs": [{"name": "broken"}, {"name": "also-broken"}]}  # fmt: skip
    rows = run_study(write_study(tmp_path / "s.yaml", study), tmp_path / "study", parallel=2)
    assert [r["run"] for r in rows] == ["broken", "also-broken"] and all("exit 2" in r["error"] for r in rows)
    for name in ("broken", "also-broken"):
        log = (tmp_path / "study" / name / "log.txt").read_text()
        assert log.startswith("$ python train/train.py --data ") and "dataset YAML not found" in log
    assert "| broken |" in (tmp_path / "study" / "leaderboard.md").read_text()


def test_the_package_never_runs_its_scripts_or_reads_tests() -> None:
    """Stages are called as functions; the package and the benchmarks import nothing from tests/."""
    for path in [*(REPO / "flocshape").rglob("*.py"), *(REPO / "benchmarks").glob("*.py")]:
        text = path.read_text()
        assert '"tests"' not in text and "from tests" not in text, path
        if path.is_relative_to(REPO / "flocshape"):
            assert "sys.executable" not in text, path


def test_polygons_to_rle_fills_like_pycocotools() -> None:
    square = np.array([[10, 10], [30, 10], [30, 20], [10, 20]], dtype=np.float32)
    rle, box = polygons_to_rle([square], 50, 60)
    decoded = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()})
    assert decoded.shape == (50, 60) and decoded.sum() == 200  # 20 x 10 px, pixel-corner convention
    assert box == [10.0, 10.0, 20.0, 10.0]
    assert polygons_to_rle([square[:2]], 50, 60) is None  # fewer than 3 points: nothing to fill


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 train frames of the small preset, split by blocks of 10 with coco2yolo."""
    root = tmp_path_factory.mktemp("sweep")
    py = sys.executable
    subprocess.run([py, "datasets/synthesize.py", "--out", root / "data", "--preset", "small", "--frames", "40",
                    "--seed", "3"], cwd=REPO, check=True, capture_output=True)  # fmt: skip
    subprocess.run([py, "convert/coco2yolo.py", "--json", root / "data" / "label_train.json", "--images",
                    root / "data" / "train", "--out", root / "yolo", "--group-size", "10", "--val-frac", "0.25"],
                   cwd=REPO, check=True, capture_output=True)  # fmt: skip
    return root


def test_vanilla_convert_keeps_the_split(small_data: Path, tmp_path: Path) -> None:
    data = small_data / "data"
    out = tmp_path / "vanilla"
    yaml_path = convert_with_ultralytics(
        data / "label(polygon)_train.json", data / "train", small_data / "yolo", out
    )
    ours, theirs = split_names(small_data / "yolo"), split_names(out)
    assert ours == theirs and ours["val"]
    cfg = yaml.safe_load(yaml_path.read_text())
    assert cfg["names"] == {0: "Normal"} and Path(cfg["path"]) == out.absolute()
    coco = json.loads((data / "label(polygon)_train.json").read_text())
    ids = {im["id"]: im["file_name"] for im in coco["images"]}
    n_anns: dict[str, int] = {}
    for a in coco["annotations"]:
        n_anns[ids[a["image_id"]]] = n_anns.get(ids[a["image_id"]], 0) + 1
    for name in theirs["val"]:
        label = out / "labels" / "val" / (Path(name).stem + ".txt")
        assert len(label.read_text().splitlines()) == n_anns.get(name, 0)
    assert json.loads((out / "manifest.json").read_text())["frames"] == {k: len(v) for k, v in ours.items()}


def test_vanilla_convert_missing_file_is_one_line_error(small_data: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "benchmarks/vanilla_baseline.py", "convert", "--json", tmp_path / "nope.json",
         "--images", small_data / "data" / "train", "--split-from", small_data / "yolo", "--out", tmp_path / "o"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "nope.json" in proc.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_sweep_end_to_end_one_run(small_data: Path, tmp_path: Path) -> None:
    """One pipeline run: train 1 epoch, predict val, tune, predict test, score, leaderboard; then it resumes."""
    data = small_data / "data"
    study = {
        "data": {
            "yolo": str(small_data / "yolo"),
            "train_coco": str(data / "label_train.json"),
            "test_images": str(data / "test"),
            "test_images_json": str(data / "label_test.json"),
            "test_gt": str(data / "truth" / "label_test_gt.json"),
        },
        "defaults": {"recipe": "cpu-small", "train": {"epochs": 1, "imgsz": 160}, "predict": {"imgsz": 160}},
        "runs": [{"name": "tiny", "setting": "1 epoch"}],
    }
    path = write_study(tmp_path / "study.yaml", study)
    out = tmp_path / "study"
    cmd = [sys.executable, "train/sweep.py", str(path), "--out", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    row = json.loads((out / "tiny" / "row.json").read_text())
    assert row["epochs"] == 1 and row["imgsz"] == 160 and 0.0 <= row["test_f1"] <= 1.0
    refine = json.loads((out / "tiny" / "tune" / "refine.json").read_text())
    assert row["refine"] == refine["best_level"] and len(refine["table"]) == 5  # unrefined + 4 levels
    suffix = "_refined" if row["refine"] is not None else ""
    score = json.loads((out / "tiny" / f"test_score{suffix}.json").read_text())
    assert row["test_f1"] == score["hackathon_f1"]["f1"]
    test_manifest = json.loads((out / "tiny" / f"test_pred{suffix}" / "manifest.json").read_text())
    assert test_manifest["settings"]["refine_level"] == row["refine"]
    assert row["refine_inset_px"] == (None if row["refine"] is None else 0.0)
    assert row["refine_smooth_px"] == (None if row["refine"] is None else 1.0)
    if row["refine"] is not None:
        assert test_manifest["settings"]["refine_inset_px"] == 0.0
        assert test_manifest["settings"]["refine_smooth_px"] == 1.0
    # post-processing is tuned on the validation predictions; a model that predicts nothing there gets none
    val_preds = json.loads((out / "tiny" / "val_pred" / "submission.json").read_text())
    assert (out / "tiny" / "tune" / "postproc.json").is_file() == bool(val_preds)
    board = (out / "leaderboard.md").read_text().splitlines()
    assert board[2].startswith("| tiny | pipeline | yolov8n-seg.yaml | 1 epoch | 160 | 1 |")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tool"] == "train/sweep.py" and manifest["rows"][0]["run"] == "tiny"
    # a second invocation resumes: nothing is retrained or re-predicted
    log_before = (out / "tiny" / "log.txt").read_text()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0
    assert (out / "tiny" / "log.txt").read_text() == log_before
