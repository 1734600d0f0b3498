"""Built-in defaults of the prediction options and the reader of a user's ``--cfg`` file.

``predict.yaml`` (package data, beside this module) holds every built-in default of ``infer/predict.py``
(:mod:`flocshape.infer.predict_cli`) and is the only place they are written: the command-line parser, its help
texts, :class:`flocshape.infer.settings.PredictOptions` and the settings resolution read them through
:func:`predict_defaults`, which reads the file once and checks it like a command line (every key of
:data:`OPTION_TYPES` present, no other, each value of its option's type and range; ``null`` only where an
option may be absent).

Conventions: keys are the options' argparse names (``--refine-inset`` -> ``refine_inset``); units are the options'
own (px for sizes and distances, fractions 0-1 for scores, IoU and overlap); ``null`` means "none" (no tiling, no
post-processing, no refinement; ``model: null`` = the shipped model with its model card's settings).

A ``--cfg`` file (:func:`load_predict_config`) is a YAML mapping of some of :data:`CONFIG_KEYS` to values, e.g.
the settings a fine-tuned model was chosen with. Relative paths in it (``model``, ``postproc``) are relative to
the file's folder; ``postproc`` may also be the post-processing mapping itself. ``null`` switches tiling,
post-processing or refinement off (``tile``, ``postproc``, ``refine``); for any other key it is the same as
leaving the key out. A missing file, a key outside :data:`CONFIG_KEYS` or a bad value is a one-line
:class:`~flocshape.errors.InputError` naming the file and the key.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from flocshape.cliargs import fraction, integer, non_negative, positive, real
from flocshape.errors import input_error

DEFAULTS_FILE = Path(__file__).with_name("predict.yaml")


@dataclass(frozen=True)
class OptionType:
    """How an option's value is written: ``kind`` is ``int``, ``real``, ``path`` or ``text``; ``parse`` turns the
    command-line text into the value (an argparse ``type``, range checked); ``nullable``: may be ``null``."""

    kind: str
    parse: Callable[[str], Any]
    nullable: bool = False


def _int(parse: Callable[[str], int], nullable: bool = False) -> OptionType:
    return OptionType("int", parse, nullable)


def _real(parse: Callable[[str], float], nullable: bool = False) -> OptionType:
    return OptionType("real", parse, nullable)


# every setting of infer/predict.py with a default, by argparse name: the command line's types and ranges
OPTION_TYPES: dict[str, OptionType] = {
    "model": OptionType("path", Path, nullable=True),
    "imgsz": _int(integer(32, multiple_of=32)),
    "conf": _real(fraction()),
    "iou": _real(real(0.0, 1.0, lo_open=True)),
    "max_det": _int(integer(1)),
    "tile": _int(integer(32), nullable=True),
    "overlap": _real(real(0.0, 1.0, hi_open=True)),
    "box_pad": _int(integer(0, 32)),
    "device": OptionType("text", str),
    "postproc": OptionType("path", Path, nullable=True),
    "measure_min_score": _real(fraction(), nullable=True),
    "refine": _real(fraction(), nullable=True),
    "refine_inset": _real(non_negative()),
    "refine_smooth": _real(non_negative()),
    "refine_grow_px": _int(integer(0)),
    "every": _int(integer(1)),
    "fps": _real(positive(), nullable=True),
    "um_per_px": _real(positive(), nullable=True),
}

# the keys a --cfg file may hold: the settings that belong to a model (those of a model card's predict_defaults)
CONFIG_KEYS = ("model", "imgsz", "conf", "tile", "overlap", "postproc", "refine", "refine_inset", "refine_smooth",
               "box_pad")  # fmt: skip
# null in a --cfg file switches these off; for the other keys null is the same as leaving the key out
CONFIG_OFF_KEYS = ("tile", "postproc", "refine")
# a --cfg file is checked against the refinement's own ranges (flocshape.infer.refine.RefineSettings), so that
# a value out of them is reported with the file's name rather than when the run starts
_CONFIG_TYPES = {
    **OPTION_TYPES,
    "refine": _real(real(0.0, 1.0, lo_open=True, hi_open=True), nullable=True),
    "refine_inset": _real(real(0.0, 5.0)),
    "refine_smooth": _real(real(0.0, 5.0)),
}


def check_value(key: str, value: Any, kind: OptionType) -> Any:
    """``value`` (as YAML reads it) checked against its option's type and range; raises ``ValueError`` with the
    reason. Numbers must be YAML numbers (``0.05``, not ``"0.05"``); booleans are not numbers."""
    if value is None:
        if kind.nullable:
            return None
        raise ValueError("must not be null")
    if kind.kind in ("int", "real"):
        allowed = int if kind.kind == "int" else int | float
        if isinstance(value, bool) or not isinstance(value, allowed):
            what = "an integer" if kind.kind == "int" else "a number"
            raise ValueError(f"must be {what}, got {value!r}")
        try:
            return kind.parse(str(value))
        except argparse.ArgumentTypeError as exc:
            raise ValueError(str(exc)) from None
    if not isinstance(value, str) or not value:
        raise ValueError(f"must be a non-empty string, got {value!r}")
    return kind.parse(value)


def _read_yaml(path: Path) -> Any:
    """The YAML document of ``path``; one-line errors for a missing or unreadable file."""
    if not path.is_file():
        raise input_error(path, "config file not found")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise input_error(path, f"cannot read YAML ({type(exc).__name__}: {exc})") from None


def load_defaults(path: Path) -> dict[str, Any]:
    """The built-in defaults file ``path`` checked (see the module docstring): ``{option name: value}``."""
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise input_error(path, "must be a YAML mapping of option names to values")
    for key in data:
        if key not in OPTION_TYPES:
            raise input_error(path, f"unknown option (known: {', '.join(OPTION_TYPES)})", record=key)
    missing = [key for key in OPTION_TYPES if key not in data]
    if missing:
        raise input_error(path, "missing: every option needs its default", record=", ".join(missing))
    out: dict[str, Any] = {}
    for key, kind in OPTION_TYPES.items():
        try:
            out[key] = check_value(key, data[key], kind)
        except ValueError as exc:
            raise input_error(path, str(exc), record=key) from None
    return out


@functools.cache
def predict_defaults() -> Mapping[str, Any]:
    """The built-in defaults of the prediction options (``predict.yaml``; read and checked once, read-only)."""
    return MappingProxyType(load_defaults(DEFAULTS_FILE))


@dataclass(frozen=True)
class PredictConfig:
    """A ``--cfg`` file: its ``path`` and its ``values`` (checked; paths resolved against the file's folder; a
    key with ``null`` is kept only for :data:`CONFIG_OFF_KEYS`; ``postproc`` is a :class:`~pathlib.Path` or the
    post-processing mapping itself, checked where it is used)."""

    path: Path
    values: dict[str, Any] = field(default_factory=dict)


def load_predict_config(path: Path) -> PredictConfig:
    """Read and check a ``--cfg`` file (see the module docstring)."""
    path = Path(path)
    data = _read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise input_error(path, "must be a YAML mapping of option names (model, imgsz, ...) to values")
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in CONFIG_KEYS:
            raise input_error(
                path, f"unknown key (a config file holds: {', '.join(CONFIG_KEYS)})", record=key
            )
        if value is None and key not in CONFIG_OFF_KEYS:
            continue
        values[key] = _config_value(path, key, value)
    return PredictConfig(path, values)


def _config_value(path: Path, key: str, value: Any) -> Any:
    """One checked value of a ``--cfg`` file: numbers in range, files that exist (relative to its folder)."""
    if key == "postproc" and isinstance(value, dict):
        return value
    try:
        checked = check_value(key, value, _CONFIG_TYPES[key])
    except ValueError as exc:
        what = f"{exc}" if key != "postproc" else f"{exc} (a JSON file or the post-processing mapping)"
        raise input_error(path, what, record=key) from None
    if isinstance(checked, Path):
        checked = path.parent / checked
        if not checked.is_file():
            raise input_error(path, f"file not found: {checked}", record=key)
    return checked
