"""The settings of a predict run and where each one comes from.

Sources, lowest first (:func:`resolve_settings`, the one place they are merged):

1. the built-in defaults (``flocshape/cfg/predict.yaml``, :func:`flocshape.cfg.predict_defaults`);
2. the shipped model card's ``predict_defaults``, only when no model is named (neither on the command line nor in
   a config file): the shipped weights are then used, their sha256 checked against the card;
3. a config file (``--cfg FILE``, :func:`flocshape.cfg.load_predict_config`);
4. the options given on the command line (``None`` = not given).

A higher source wins key by key, with two rules of the model-dependent settings:

* the model card speaks for every setting it could hold: a card without ``tile_px`` means whole frames, without
  ``refine_level`` no refinement, without ``box_pad_px`` no padding (the built-in values);
* mask refinement is one group: the source that sets the level (``refine``) brings its own ``refine_inset`` and
  ``refine_smooth`` or the built-in ones, never those of a lower source; ``refine_inset`` or ``refine_smooth``
  alone changes that parameter of the level's source (and needs a level).

``settings_from`` records, for ``model``, ``imgsz``, ``conf``, ``postproc``, ``refine``, ``tile`` and ``box_pad``,
the source that decided it: ``option``, ``config file``, ``model card`` or ``built-in default``. Units: ``imgsz``,
``tile``, ``box_pad``, ``refine_inset`` and ``refine_smooth`` in px; ``conf``, ``overlap`` and ``refine`` fractions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flocshape.cfg import CONFIG_KEYS, PredictConfig, predict_defaults
from flocshape.errors import input_error
from flocshape.models import default_model_path, model_card_path, verify_shipped_model
from flocshape.score.postprocess import MEASURE_KEY

POSTPROC_KEYS = ("min_score", "min_area_px", "mask_nms_iou")
FROM_OPTION, FROM_CONFIG, FROM_CARD, FROM_BUILTIN = "option", "config file", "model card", "built-in default"
# the model card's predict_defaults key of each setting (argparse name)
CARD_KEYS = {"imgsz": "imgsz", "conf": "conf", "postproc": "postproc", "tile": "tile_px", "overlap": "overlap",
             "box_pad": "box_pad_px", "refine": "refine_level", "refine_inset": "refine_inset_px",
             "refine_smooth": "refine_smooth_px"}  # fmt: skip
_REFINE_KEYS = ("refine_inset", "refine_smooth")


def _builtin(key: str) -> Any:
    """A dataclass field whose default is the built-in default of option ``key`` (read when an instance is made)."""
    return field(default_factory=lambda: predict_defaults()[key])


@dataclass
class PredictOptions:
    """Everything that decides the predictions (kept in ``run_config.json``; ``--resume`` must match it).

    Defaults: the built-in defaults (``flocshape/cfg/predict.yaml``). Units: ``imgsz``, ``tile_px``,
    ``box_pad_px``, ``refine_grow_px``, ``refine_inset_px`` and ``refine_smooth_px`` in px; ``conf``, ``iou``,
    ``overlap`` and ``refine_level`` fractions (0-1); ``um_per_px`` in um per px."""

    conf: float = _builtin("conf")
    iou: float = _builtin("iou")
    max_det: int = _builtin("max_det")
    imgsz: int = _builtin("imgsz")
    tile_px: int | None = _builtin("tile")
    overlap: float = _builtin("overlap")
    box_pad_px: int = _builtin("box_pad")
    um_per_px: float | None = _builtin("um_per_px")
    device: str = _builtin("device")
    # None: masks as the network gives them; else the edge level of flocshape.infer.refine
    refine_level: float | None = _builtin("refine")
    refine_grow_px: int = _builtin("refine_grow_px")
    # px: outlines this far inside the level's contour (RefineSettings.inset_px); used only with refine_level
    refine_inset_px: float = _builtin("refine_inset")
    # px: Gaussian smoothing of the frame before thresholding (RefineSettings.smooth_sigma_px); only with refine_level
    refine_smooth_px: float = _builtin("refine_smooth")


@dataclass
class ModelChoice:
    """The weights and the settings that depend on them, with where each setting came from.

    ``settings_from`` maps ``model``, ``imgsz``, ``conf``, ``postproc``, ``refine``, ``tile`` and ``box_pad`` to
    ``"option"``, ``"config file"``, ``"model card"`` or ``"built-in default"`` (module docstring). ``card`` is the
    shipped card when no model was named, else ``None``; ``config`` the ``--cfg`` file, if any.
    """

    model: Path
    imgsz: int
    conf: float
    postproc: dict[str, Any] | None
    postproc_path: Path | None
    card: dict[str, Any] | None
    settings_from: dict[str, str]
    refine_level: float | None = None
    tile_px: int | None = None
    overlap: float = _builtin("overlap")
    refine_inset_px: float = _builtin("refine_inset")
    refine_smooth_px: float = _builtin("refine_smooth")
    box_pad_px: int = _builtin("box_pad")
    config: Path | None = None

    def predict_options(self, **run: Any) -> PredictOptions:
        """:class:`PredictOptions` of these settings plus the run's own (``iou``, ``max_det``, ``device``,
        ``um_per_px``, ``refine_grow_px``; left out: their built-in defaults)."""
        return PredictOptions(
            conf=self.conf,
            imgsz=self.imgsz,
            tile_px=self.tile_px,
            overlap=self.overlap,
            box_pad_px=self.box_pad_px,
            refine_level=self.refine_level,
            refine_inset_px=self.refine_inset_px,
            refine_smooth_px=self.refine_smooth_px,
            **run,
        )


@dataclass(frozen=True)
class _Layer:
    """One source of settings: its name (as in ``settings_from``), its values by option name and where it is
    (for messages). ``None`` for ``tile``, ``postproc`` or ``refine`` means off."""

    source: str
    values: Mapping[str, Any]
    where: Path | None = None

    def needs_level(self, key: str) -> Exception:
        """The error for a refinement parameter this source gives without a refinement level."""
        if self.where is None:
            flag = "--" + key.replace("_", "-")
            return input_error(flag, "needs a refinement level (--refine LEVEL; this model has none)")
        return input_error(self.where, "needs a refinement level (refine: LEVEL; none is set)", record=key)


def command_line_layer(
    model: Path | None = None,
    imgsz: int | None = None,
    conf: float | None = None,
    postproc: Path | None = None,
    no_postproc: bool = False,
    refine: float | None = None,
    no_refine: bool = False,
    refine_inset: float | None = None,
    refine_smooth: float | None = None,
    tile: int | None = None,
    overlap: float | None = None,
    no_tile: bool = False,
    box_pad: int | None = None,
) -> dict[str, Any]:
    """The settings given on the command line (``None`` = not given), by option name; ``no_*`` switch a setting
    off (recorded as ``None``). A setting given together with its ``no_*`` is a one-line error."""
    if postproc is not None and no_postproc:
        raise input_error("--postproc", "cannot be combined with --no-postproc")
    if refine is not None and no_refine:
        raise input_error("--refine", "cannot be combined with --no-refine")
    for key, value in (("refine_inset", refine_inset), ("refine_smooth", refine_smooth)):
        if value is not None and no_refine:
            raise input_error("--" + key.replace("_", "-"), "cannot be combined with --no-refine")
    if tile is not None and no_tile:
        raise input_error("--tile", "cannot be combined with --no-tile")
    given = {"model": model, "imgsz": imgsz, "conf": conf, "postproc": postproc, "refine": refine,
             "refine_inset": refine_inset, "refine_smooth": refine_smooth, "tile": tile, "overlap": overlap,
             "box_pad": box_pad}  # fmt: skip
    values = {key: value for key, value in given.items() if value is not None}
    for key, off in (("postproc", no_postproc), ("refine", no_refine), ("tile", no_tile)):
        if off:
            values[key] = None
    return values


def _card_layer(card: dict[str, Any]) -> _Layer:
    """The card's ``predict_defaults`` as a source: every setting, the built-in value where the card has none
    (refinement parameters only where the card has them)."""
    card_defaults, builtin = card["predict_defaults"], predict_defaults()
    values = {
        key: card_defaults.get(CARD_KEYS[key], builtin[key]) for key in CARD_KEYS if key not in _REFINE_KEYS
    }
    values.update(
        {key: card_defaults[CARD_KEYS[key]] for key in _REFINE_KEYS if CARD_KEYS[key] in card_defaults}
    )
    return _Layer(FROM_CARD, values, model_card_path())


def _pick(key: str, layers: list[_Layer]) -> tuple[Any, _Layer]:
    """The value of ``key`` from the highest source that gives it (the built-in defaults give every key)."""
    layer = next(layer for layer in layers if key in layer.values)
    return layer.values[key], layer


def _postproc(value: Any, layer: _Layer) -> tuple[dict[str, Any] | None, Path | None]:
    """The post-processing a source gives: ``None`` (off), a JSON file (loaded) or a mapping (checked)."""
    if value is None:
        return None, None
    if isinstance(value, dict):
        where = (
            f"{layer.where}: predict_defaults" if layer.source == FROM_CARD else f"{layer.where}: postproc"
        )
        return parse_postproc(value, where), None
    return load_postproc(Path(value)), Path(value)


def _refinement(layers: list[_Layer]) -> tuple[float | None, float, float, _Layer]:
    """Level, inset (px) and smoothing (px) of the mask refinement, and the source that decided it (see the
    module docstring: the level's source and the sources above it give the parameters, else the built-in ones).
    ``layers``: highest first, the built-in defaults last."""
    builtin = layers[-1].values
    top = next(k for k, layer in enumerate(layers) if "refine" in layer.values)
    level, deciding, params = layers[top].values["refine"], top, {}
    for key in _REFINE_KEYS:
        giver = next(
            (k for k in range(top + 1) if key in layers[k].values and layers[k] is not layers[-1]), None
        )
        if giver is None:
            params[key] = builtin[key]
            continue
        if level is None:
            raise layers[giver].needs_level(key)
        params[key], deciding = layers[giver].values[key], min(deciding, giver)
    return level, float(params["refine_inset"]), float(params["refine_smooth"]), layers[deciding]


def resolve_settings(
    command_line: Mapping[str, Any] | None = None, config: PredictConfig | None = None
) -> ModelChoice:
    """Merge the settings of a predict run: built-in defaults < model card (no model named) < ``config`` (a
    ``--cfg`` file) < ``command_line`` (:func:`command_line_layer`); see the module docstring."""
    layers = [_Layer(FROM_OPTION, command_line or {})]
    if config is not None:
        layers.append(_Layer(FROM_CONFIG, config.values, config.path))
    card = None
    named = next((layer for layer in layers if layer.values.get("model") is not None), None)
    if named is None:
        card = verify_shipped_model()
        layers.append(_card_layer(card))
    builtin = predict_defaults()
    layers.append(_Layer(FROM_BUILTIN, {key: builtin[key] for key in CONFIG_KEYS}))
    model = default_model_path() if named is None else Path(named.values["model"])
    settings_from = {"model": FROM_CARD if named is None else named.source}
    imgsz, settings_from["imgsz"] = _source(_pick("imgsz", layers))
    conf, settings_from["conf"] = _source(_pick("conf", layers))
    value, layer = _pick("postproc", layers)
    postproc, postproc_path = _postproc(value, layer)
    settings_from["postproc"] = layer.source
    level, inset, smooth, layer = _refinement(layers)
    settings_from["refine"] = layer.source
    tile, settings_from["tile"] = _source(_pick("tile", layers))
    overlap, _ = _pick("overlap", layers)
    box_pad, settings_from["box_pad"] = _source(_pick("box_pad", layers))
    return ModelChoice(
        model=model,
        imgsz=int(imgsz),
        conf=float(conf),
        postproc=postproc,
        postproc_path=postproc_path,
        card=card,
        settings_from=settings_from,
        refine_level=None if level is None else float(level),
        tile_px=None if tile is None else int(tile),
        overlap=float(overlap),
        refine_inset_px=inset if level is not None else float(builtin["refine_inset"]),
        refine_smooth_px=smooth if level is not None else float(builtin["refine_smooth"]),
        box_pad_px=int(box_pad),
        config=None if config is None else config.path,
    )


def _source(picked: tuple[Any, _Layer]) -> tuple[Any, str]:
    """``(value, source name)`` of :func:`_pick`'s answer."""
    return picked[0], picked[1].source


def resolve_model_settings(
    model: Path | None = None,
    imgsz: int | None = None,
    conf: float | None = None,
    postproc_path: Path | None = None,
    no_postproc: bool = False,
    refine_level: float | None = None,
    no_refine: bool = False,
    tile_px: int | None = None,
    overlap: float | None = None,
    no_tile: bool = False,
    refine_inset_px: float | None = None,
    refine_smooth_px: float | None = None,
    box_pad_px: int | None = None,
) -> ModelChoice:
    """:func:`resolve_settings` of options given by name (``None`` = not given; no config file).

    Without ``model`` the shipped checkpoint runs with its card's settings; with an explicit ``model`` (even a
    copy of the shipped weights) the built-in defaults apply, so scripts that tune post-processing on raw
    predictions (benchmarks/metrology_e2e.py, train/sweep.py) never get the card's filtering silently. An explicit
    ``refine_level`` comes with the given ``refine_inset_px`` / ``refine_smooth_px`` or the built-in ones, never
    with the card's; either one alone changes that parameter of the card's refinement.
    """
    return resolve_settings(
        command_line_layer(
            model=model,
            imgsz=imgsz,
            conf=conf,
            postproc=postproc_path,
            no_postproc=no_postproc,
            refine=refine_level,
            no_refine=no_refine,
            refine_inset=refine_inset_px,
            refine_smooth=refine_smooth_px,
            tile=tile_px,
            overlap=overlap,
            no_tile=no_tile,
            box_pad=box_pad_px,
        )  # fmt: skip
    )


def load_postproc(path: Path) -> dict[str, Any]:
    """The ``--postproc`` JSON: ``min_score``, ``min_area_px`` (numbers), ``mask_nms_iou`` (number or null = off),
    optional ``nms_metric`` (``"iou"`` or ``"ios"``); passed to ``flocshape.score.postprocess.filter_predictions``.
    Optional ``measure_min_score`` (0-1): particles scored below it are kept but flagged ``low_score`` in the
    particle table (left out of statistics by default; ``flocshape.score.postprocess``)."""
    try:
        cfg = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise input_error(path, f"cannot read post-processing JSON ({type(exc).__name__}: {exc})") from exc
    return parse_postproc(cfg, path)


def parse_postproc(cfg: Any, where: object) -> dict[str, Any]:
    """Validate a post-processing dict (see :func:`load_postproc`); errors name ``where`` (file, record)."""
    if not isinstance(cfg, dict):
        raise input_error(where, "must be a JSON object")

    def is_number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    for key in POSTPROC_KEYS:
        if key not in cfg or not (is_number(cfg[key]) or (key == "mask_nms_iou" and cfg[key] is None)):
            raise input_error(where, "missing or not a number", record=key)
    if cfg.get("nms_metric", "iou") not in ("iou", "ios"):
        raise input_error(where, "must be 'iou' or 'ios'", record="nms_metric")
    out: dict[str, Any] = {key: (None if cfg[key] is None else float(cfg[key])) for key in POSTPROC_KEYS}
    if "nms_metric" in cfg:
        out["nms_metric"] = cfg["nms_metric"]
    if cfg.get(MEASURE_KEY) is not None:
        out[MEASURE_KEY] = measure_threshold(cfg[MEASURE_KEY], where, record=MEASURE_KEY)
    return out


def measure_threshold(value: Any, where: object, record: str | None = None) -> float:
    """A measurement threshold (``measure_min_score``) as a float in [0, 1]; one-line error naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise input_error(where, f"must be a number in [0, 1], got {value!r}", record=record)
    return float(value)
