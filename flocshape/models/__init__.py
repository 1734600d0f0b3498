"""The shipped reference model and its model card.

``floc-yolov8n-seg-cpuref.pt`` is a YOLOv8n-seg checkpoint (fp16, optimizer stripped, 6.8 MB) trained by the
``cpu-reference`` recipe on native-resolution 640-px tiles of synthetic hackathon-preset data (seed 0). Next to it,
``floc-yolov8n-seg-cpuref.json`` (the *model card*) records how it was made (commands, data seed, recipe),
the settings it is meant to be run with (``predict_defaults``: network input size in px, minimum confidence,
tile size in px and overlap, mask-refinement level and the post-processing tuned on the validation split) and its
test scores, plus the sha256 of the ``.pt``.

``infer/predict.py`` uses this model when ``--model`` is not given, and then the card's ``predict_defaults``
fill in the options that were not given explicitly (see :func:`flocshape.infer.run.resolve_model_settings`).
:func:`card_for_model` tells by sha256 whether any file holds the shipped weights (recorded in run manifests).

Both files are package data, so an installed (non-editable) ``flocshape`` finds them too.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from flocshape.errors import input_error
from flocshape.manifest import file_digest

MODEL_NAME = "floc-yolov8n-seg-cpuref"
"""Stem of the shipped model's files (``.pt`` weights, ``.json`` card)."""

_PREDICT_DEFAULT_KEYS = ("imgsz", "conf", "postproc")


def models_dir() -> Path:
    """The folder of the shipped model files (inside the installed package)."""
    return Path(__file__).resolve().parent


def default_model_path() -> Path:
    """Absolute path of the shipped checkpoint ``floc-yolov8n-seg-cpuref.pt``."""
    return models_dir() / f"{MODEL_NAME}.pt"


def model_card_path() -> Path:
    """Absolute path of the shipped model card ``floc-yolov8n-seg-cpuref.json``."""
    return models_dir() / f"{MODEL_NAME}.json"


def load_model_card(path: Path | None = None) -> dict[str, Any]:
    """The model card as a dict (default: the shipped one). Raises ``InputError`` for a missing or bad card.

    Required keys: ``file`` (weights file name), ``sha256`` (hex digest of the weights) and ``predict_defaults``
    with ``imgsz`` (px, int), ``conf`` (0-1) and ``postproc`` (``min_score``, ``min_area_px``, ``mask_nms_iou``,
    optional ``nms_metric``; see ``flocshape.infer.run.load_postproc``).
    """
    path = Path(path) if path is not None else model_card_path()
    try:
        card = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise input_error(path, f"cannot read model card ({type(exc).__name__}: {exc})") from exc
    if not isinstance(card, dict):
        raise input_error(path, "model card must be a JSON object")
    for key in ("file", "sha256", "predict_defaults"):
        if key not in card:
            raise input_error(path, "missing key", record=key)
    defaults = card["predict_defaults"]
    if not isinstance(defaults, dict) or any(k not in defaults for k in _PREDICT_DEFAULT_KEYS):
        raise input_error(path, f"must hold {', '.join(_PREDICT_DEFAULT_KEYS)}", record="predict_defaults")
    return card


@lru_cache(maxsize=8)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a file, cached by (path, size, mtime) so repeated checks do not re-read 7 MB."""
    return file_digest(path)


def model_sha256(path: Path) -> str:
    """Hex sha256 of a model file (cached while the file is unchanged)."""
    st = Path(path).stat()
    return _digest(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def card_for_model(model: Path, card_path: Path | None = None) -> dict[str, Any] | None:
    """The shipped card when ``model``'s sha256 equals the card's (the same weights, wherever the file lies),
    else ``None``. A missing ``model`` file gives ``None`` (the caller reports it), so does a missing card."""
    card_path = Path(card_path) if card_path is not None else model_card_path()
    if not Path(model).is_file() or not card_path.is_file():
        return None
    card = load_model_card(card_path)
    return card if model_sha256(Path(model)) == card["sha256"] else None


def verify_shipped_model() -> dict[str, Any]:
    """Check that the shipped weights exist and match the card's sha256; return the card.

    Raises ``InputError`` naming the file when the weights are missing or were changed (e.g. a Git LFS pointer
    or a partial checkout instead of the real file).
    """
    card = load_model_card()
    pt = models_dir() / card["file"]
    if not pt.is_file():
        raise input_error(pt, "shipped model file is missing (reinstall flocshape or pass --model)")
    digest = model_sha256(pt)
    if digest != card["sha256"]:
        raise input_error(
            pt, f"sha256 {digest[:12]}... differs from the model card's {card['sha256'][:12]}..."
        )
    return card
