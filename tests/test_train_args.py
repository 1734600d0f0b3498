"""train/train.py argument handling: recipes, key=value overrides, one-line errors (no training here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flocshape.errors import InputError
from flocshape.models import default_model_path
from flocshape.train.wrapper import (
    RECIPES_DIR,
    build_train_args,
    check_args,
    check_data_yaml,
    check_model_spec,
    load_recipe,
    parse_overrides,
    resolve_recipe,
)

REPO = Path(__file__).resolve().parents[1]


def test_overrides_are_typed_by_yaml() -> None:
    parsed = parse_overrides(
        ["epochs=3", "lr0=0.01", "device=0,1", "cache=false", "name_x=abc", "imgsz=[320, 256]"]
    )
    assert parsed == {
        "epochs": 3,
        "lr0": 0.01,
        "device": "0,1",
        "cache": False,
        "name_x": "abc",
        "imgsz": [320, 256],
    }


def test_override_without_equals_is_an_input_error() -> None:
    with pytest.raises(InputError, match="expected key=value"):
        parse_overrides(["epochs"])


@pytest.mark.parametrize("name", ["cpu-small", "cpu-reference", "gpu-1280"])
def test_shipped_recipes_are_valid_and_uncapped(name: str) -> None:
    path = resolve_recipe(name)
    assert path.parent == RECIPES_DIR
    recipe = load_recipe(path)
    check_args(recipe, path)
    assert check_model_spec(recipe["model"], path).endswith(".yaml")
    assert recipe["max_det"] >= 1000
    assert "description" not in recipe
    assert (RECIPES_DIR / f"{name}.yaml").read_text().count("description") == 1


def test_gpu_recipe_trains_at_1280() -> None:
    assert load_recipe(resolve_recipe("gpu-1280"))["imgsz"] == 1280


def test_overrides_win_and_max_det_defaults_to_1000() -> None:
    args = build_train_args({"epochs": 10, "imgsz": 320}, {"epochs": 2})
    assert args == {"epochs": 2, "imgsz": 320, "max_det": 1000}
    assert build_train_args({"max_det": 300}, {"max_det": 2000})["max_det"] == 2000


def test_unknown_and_reserved_keys_are_rejected() -> None:
    with pytest.raises(InputError, match="unknown Ultralytics train argument"):
        check_args({"epoch": 3}, "command line")
    with pytest.raises(InputError, match="set by the wrapper"):
        check_args({"data": "x.yaml"}, "command line")


def test_missing_pt_is_rejected_without_download(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="weights file not found"):
        check_model_spec(str(tmp_path / "yolov8n-seg.pt"), "command line")
    with pytest.raises(InputError, match="not found locally or in Ultralytics"):
        check_model_spec("no-such-model-seg.yaml", "command line")


def test_data_yaml_checks(tmp_path: Path) -> None:
    bad = tmp_path / "data.yaml"
    bad.write_text(yaml.safe_dump({"train": "images/train", "val": "images/val", "download": "https://x"}))
    with pytest.raises(InputError, match="download"):
        check_data_yaml(bad)
    bad.write_text(yaml.safe_dump({"train": "images/train"}))
    with pytest.raises(InputError, match="val: missing key"):
        check_data_yaml(bad)
    with pytest.raises(InputError, match="not found"):
        check_data_yaml(tmp_path / "nope.yaml")


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "train/train.py", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_cli_bad_input_gives_one_line_error_and_exit_2(tmp_path: Path) -> None:
    data = tmp_path / "data.yaml"
    data.write_text(yaml.safe_dump({"train": "a", "val": "b", "names": {0: "Normal"}}))
    proc = _run_cli(
        "--data", str(data), "--recipe", "cpu-small", "--project", str(tmp_path / "runs"), "model=missing.pt"
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: missing.pt: weights file not found"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()
    proc = _run_cli("--data", str(data), "--recipe", "no-such-recipe")
    assert proc.returncode == 2 and "recipe not found" in proc.stderr and "cpu-small" in proc.stderr


@pytest.mark.parametrize("name", ["cpu-randomised", "finetune"])
def test_warm_start_recipes_start_from_the_shipped_weights(name: str) -> None:
    path = resolve_recipe(name)
    recipe = load_recipe(path)
    check_args(recipe, path)
    assert Path(check_model_spec(recipe["model"], path)) == default_model_path().absolute()
    assert recipe["max_det"] >= 1000 and "description" not in recipe
