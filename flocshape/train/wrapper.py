"""``train/train.py``: a thin, offline-safe wrapper over Ultralytics YOLO-seg training.

A *recipe* is a YAML mapping of Ultralytics train arguments (``model``, ``imgsz``, ``epochs``, ``batch``,
augmentation, optimiser, ``max_det``, ...) plus an optional free-text ``description``. Command-line ``key=value``
overrides replace recipe values; each value is typed with ``yaml.safe_load`` (``epochs=3`` is an int,
``device=0,1`` stays the string ``"0,1"``, ``fliplr=0.0`` a float). Anything the user passes is handed to
Ultralytics untouched, including multi-GPU ``device`` strings.

Models are built from ``.yaml`` configs (Ultralytics ships ``yolov8n-seg.yaml``, ``yolo11n-seg.yaml``, ...); a
``.pt`` is used only when it exists locally. Runs go to ``<project>/<name>/`` (default project
``<repo>/runs/segment``, absolute) and get a ``manifest.json`` next to Ultralytics' ``args.yaml``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flocshape import offline
from flocshape.errors import input_error
from flocshape.manifest import build_manifest, describe_input, write_manifest
from flocshape.train.label_fill import LABEL_FILLS, label_fill

RECIPES_DIR = offline.REPO_ROOT / "train" / "recipes"
DEFAULT_PROJECT = offline.REPO_ROOT / "runs" / "segment"
DEFAULT_MAX_DET = 1000
RECIPE_META_KEYS = frozenset({"description"})
WRAPPER_KEYS = frozenset({"label_fill"})  # ours, not Ultralytics': see flocshape.train.label_fill
RESERVED_KEYS = frozenset({"data", "project", "name", "mode", "task"})


@dataclass
class TrainResult:
    """Where a run went and what it reported (Ultralytics' final validation metrics, a flat dict)."""

    save_dir: Path
    metrics: dict[str, float] = field(default_factory=dict)
    validator_settings: dict[str, Any] | None = None


def resolve_recipe(name_or_path: str | Path) -> Path:
    """A recipe file: an existing path, or the name of a file in ``train/recipes`` (``cpu-small``)."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    named = RECIPES_DIR / f"{name_or_path}.yaml"
    if named.is_file():
        return named
    known = ", ".join(sorted(q.stem for q in RECIPES_DIR.glob("*.yaml")))
    raise input_error(p, f"recipe not found (known recipes: {known})")


def load_recipe(path: str | Path) -> dict[str, Any]:
    """Read a recipe YAML mapping; the free-text ``description`` is dropped. Keys are checked later."""
    path = Path(path)
    try:
        recipe = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise input_error(
            path, f"cannot read recipe ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        ) from exc
    if not isinstance(recipe, dict):
        raise input_error(path, "a recipe must be a YAML mapping of Ultralytics train arguments")
    return {k: v for k, v in recipe.items() if k not in RECIPE_META_KEYS}


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["epochs=3", "device=0,1"]`` -> ``{"epochs": 3, "device": "0,1"}`` (values typed by ``yaml.safe_load``)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise input_error("command line", f"expected key=value, got {item!r}", record=item)
        try:
            out[key.strip()] = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            out[key.strip()] = raw
    return out


def check_args(args: dict[str, Any], where: str | Path) -> None:
    """Every key must be an Ultralytics train argument (or one of ours, :data:`WRAPPER_KEYS`) and not one the wrapper
    sets itself."""
    offline.setup()
    from ultralytics.utils import DEFAULT_CFG_DICT

    for key in args:
        if key in WRAPPER_KEYS:
            continue
        if key in RESERVED_KEYS:
            raise input_error(
                where, f"{key!r} is set by the wrapper (use --data/--name/--project)", record=key
            )
        if key not in DEFAULT_CFG_DICT:
            raise input_error(where, "unknown Ultralytics train argument", record=key)
    check_values({k: v for k, v in args.items() if k not in WRAPPER_KEYS}, where)


def check_values(args: dict[str, Any], where: str | Path) -> None:
    """Types and ranges of Ultralytics train arguments (Ultralytics' own ``check_cfg``), and every number finite."""
    from ultralytics.cfg import check_cfg

    try:
        check_cfg(dict(args), hard=True)
    except (TypeError, ValueError) as exc:
        raise input_error(where, str(exc)) from None
    for key, value in args.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise input_error(where, f"must be a finite number, got {value}", record=key)


def check_model_spec(model: Any, where: str | Path) -> str:
    """A model config ``*.yaml`` (local file or an Ultralytics built-in name) or a local ``*.pt``; returns it."""
    if not isinstance(model, str) or not model:
        raise input_error(where, "'model' must name a .yaml config or a local .pt file", record="model")
    if model.endswith(".pt"):
        if not Path(model).is_file():
            raise input_error(
                model, "weights file not found (only local .pt files are used; nothing is downloaded)"
            )
        return str(Path(model).absolute())
    if not model.endswith((".yaml", ".yml")):
        raise input_error(where, f"model {model!r} is neither a .yaml config nor a .pt file", record="model")
    if Path(model).is_file():
        return str(Path(model).absolute())
    from ultralytics.nn.tasks import yaml_model_load

    try:
        yaml_model_load(
            model
        )  # resolves scale-suffixed names: yolov8n-seg.yaml -> v8/yolov8-seg.yaml, scale n
    except Exception as exc:  # FileNotFoundError from Ultralytics' search
        raise input_error(
            where, f"model config {model!r} not found locally or in Ultralytics", record="model"
        ) from exc
    return model


def check_data_yaml(path: str | Path) -> Path:
    """The dataset YAML must exist, be a mapping with ``train``/``val`` and have no ``download`` key (offline)."""
    p = Path(path).absolute()
    if not p.is_file():
        raise input_error(p, "dataset YAML not found")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise input_error(p, f"not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(data, dict):
        raise input_error(p, "dataset YAML must be a mapping")
    for key in ("train", "val"):
        if key not in data:
            raise input_error(p, "missing key", record=key)
    if "download" in data:
        raise input_error(p, "a 'download' key is not allowed (runs are offline)", record="download")
    return p


def build_train_args(recipe: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Recipe values, then overrides; ``max_det`` defaults to 1000 so training-time validation is not capped at 300."""
    args = {**recipe, **overrides}
    args.setdefault("max_det", DEFAULT_MAX_DET)
    return args


def train(
    data_yaml: str | Path,
    recipe: str | Path,
    overrides: dict[str, Any] | None = None,
    name: str | None = None,
    project: str | Path = DEFAULT_PROJECT,
) -> TrainResult:
    """Train a YOLO-seg model as the recipe says; return the run folder and final metrics.

    The run folder is Ultralytics' ``save_dir`` (``project/name``, incremented if it exists); our
    ``manifest.json`` (recipe, overrides, data digest, versions, metrics, validator settings) is written there.
    """
    offline.setup()
    recipe_path = resolve_recipe(recipe)
    recipe_args = load_recipe(recipe_path)
    overrides = dict(overrides or {})
    check_args(recipe_args, recipe_path)
    check_args(overrides, "command line")
    args = build_train_args(recipe_args, overrides)
    fill = str(args.pop("label_fill", "ultralytics"))
    if fill not in LABEL_FILLS:
        where = "command line" if "label_fill" in overrides else recipe_path
        raise input_error(where, f"label_fill must be one of {list(LABEL_FILLS)}, got {fill!r}", "label_fill")
    model_spec = check_model_spec(
        args.pop("model", None), recipe_path if "model" not in overrides else "command line"
    )
    data_path = check_data_yaml(data_yaml)
    project = Path(project).absolute()
    run_name = name or recipe_path.stem

    from ultralytics import YOLO

    from flocshape.train.trainer import VALIDATOR_SETTINGS_FILE, FlocSegmentationTrainer

    model = YOLO(model_spec, task="segment")
    started = time.perf_counter()
    with label_fill(fill):
        model.train(
            trainer=FlocSegmentationTrainer, data=str(data_path), project=str(project), name=run_name, **args
        )
    elapsed_s = time.perf_counter() - started
    trainer = model.trainer
    save_dir = Path(trainer.save_dir)
    metrics = {k: float(v) for k, v in (getattr(trainer, "metrics", None) or {}).items()}
    settings_file = save_dir / VALIDATOR_SETTINGS_FILE
    validator_settings = yaml.safe_load(settings_file.read_text()) if settings_file.is_file() else None
    manifest = build_manifest(
        "train/train.py",
        {"data": str(data_path), "recipe": str(recipe_path), "name": run_name, "project": str(project)},
        inputs={"data_yaml": describe_input(data_path), "recipe": describe_input(recipe_path)},
        recipe=recipe_args,
        overrides=overrides,
        train_args={"model": model_spec, **args},
        label_fill=fill,
        save_dir=str(save_dir),
        weights={
            "best": str(save_dir / "weights" / "best.pt"),
            "last": str(save_dir / "weights" / "last.pt"),
        },
        metrics=metrics,
        validator_settings=validator_settings,
        elapsed_s=round(elapsed_s, 2),
    )
    write_manifest(save_dir, manifest)
    return TrainResult(save_dir, metrics, validator_settings)
