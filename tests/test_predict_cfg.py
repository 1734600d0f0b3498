"""The prediction settings: one defaults file (flocshape/cfg/predict.yaml), one resolution
(flocshape.infer.settings.resolve_settings: built-in < model card < --cfg file < command line), the --cfg file's
format and errors, and the thin by-path scripts.

The runs here use a stand-in segmenter (each bright blob of the frame is an instance), so no network is loaded."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from scriptload import load_script

from flocshape import cfg
from flocshape.errors import InputError, run_cli
from flocshape.infer import predict_cli, tune_refine_cli
from flocshape.infer.settings import (
    PredictOptions,
    command_line_layer,
    resolve_model_settings,
    resolve_settings,
)
from flocshape.testing import make_toy_frames

REPO = Path(__file__).resolve().parents[1]


class BlobSegmenter:
    """Every bright connected blob of the frame (grey > 140, >= 20 px) is an instance of score 0.9 - 0.01 k."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def instances(self, image: np.ndarray, timings: object) -> list:
        from flocshape.infer.engine import Instance
        from flocshape.infer.protomask import CropMask

        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        n, labels = cv2.connectedComponents((grey > 140).astype(np.uint8))
        masks = [labels == k for k in range(1, n) if (labels == k).sum() >= 20]
        return [Instance(CropMask(m, 0, 0, m.shape).tight(), 0.9 - 0.01 * k, 0, (0.0, 0.0, 1.0, 1.0))
                for k, m in enumerate(masks)]  # fmt: skip


@pytest.fixture()
def defaults_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201 - a writer of defaults files
    """Point flocshape.cfg at a copy of the defaults file; returns a function that rewrites some of its values."""
    path = tmp_path / "defaults" / "predict.yaml"
    path.parent.mkdir()
    shutil.copyfile(cfg.DEFAULTS_FILE, path)
    monkeypatch.setattr(cfg, "DEFAULTS_FILE", path)
    cfg.predict_defaults.cache_clear()

    def write(**changes: object) -> Path:
        values = yaml.safe_load(path.read_text())
        path.write_text(yaml.safe_dump({**values, **changes}))
        cfg.predict_defaults.cache_clear()
        return path

    yield write
    cfg.predict_defaults.cache_clear()


@pytest.fixture()
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Toy frames, a stand-in model file and post-processing JSON; the network replaced by :class:`BlobSegmenter`."""
    from flocshape.infer import run as run_module

    monkeypatch.setattr(run_module, "Segmenter", BlobSegmenter)
    make_toy_frames(tmp_path / "frames", n_frames=2, seed=3)
    (tmp_path / "ft" / "weights").mkdir(parents=True)
    (tmp_path / "ft" / "weights" / "best.pt").write_bytes(b"stand-in weights")
    post = {"min_score": 0.0, "min_area_px": 30, "mask_nms_iou": 0.5, "measure_min_score": 0.89}
    (tmp_path / "ft" / "post.json").write_text(json.dumps(post))
    return tmp_path


def _write_cfg(path: Path, values: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(values))
    return path


# --- one source of defaults ---------------------------------------------------------------------------------------


def test_the_defaults_file_holds_every_option_once_and_ships_as_package_data() -> None:
    values = cfg.load_defaults(cfg.DEFAULTS_FILE)
    assert list(values) == list(cfg.OPTION_TYPES)
    assert (values["imgsz"], values["conf"], values["tile"], values["refine"], values["refine_smooth"]) == (
        1280, 0.25, None, None, 1.0,
    )  # fmt: skip
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"flocshape.cfg" = ["*.yaml"]' in pyproject


def test_parser_defaults_and_help_are_the_files_values() -> None:
    d = cfg.predict_defaults()
    parser = predict_cli.build_parser()
    args = parser.parse_args(["--source", "frames", "--out", "run"])
    for key in ("iou", "max_det", "device", "refine_grow_px"):
        assert getattr(args, key) == d[key], key
    # the settings a model card or a --cfg file may set are None: "given on the command line" must be visible
    for key in cfg.CONFIG_KEYS:
        assert getattr(args, key) is None, key
    text = " ".join(parser.format_help().split())
    assert f"else {d['conf']})" in text and f"else {d['imgsz']})" in text and f"(default {d['iou']})" in text
    assert PredictOptions() == PredictOptions(
        conf=d["conf"], iou=d["iou"], max_det=d["max_det"], imgsz=d["imgsz"], tile_px=d["tile"],
        overlap=d["overlap"], box_pad_px=d["box_pad"], um_per_px=d["um_per_px"], device=d["device"],
        refine_level=d["refine"], refine_grow_px=d["refine_grow_px"], refine_inset_px=d["refine_inset"],
        refine_smooth_px=d["refine_smooth"],
    )  # fmt: skip
    tune_args = tune_refine_cli.parse_args(
        ["--pred", "p.json", "--gt", "g.json", "--images", "f", "--out", "o"]
    )
    assert tune_args.grow_px == d["refine_grow_px"]


def test_changing_the_defaults_file_changes_parser_options_and_resolution(
    defaults_file, tmp_path: Path
) -> None:  # noqa: ANN001
    defaults_file(conf=0.4, imgsz=640, iou=0.5, tile=320, refine=0.5, refine_smooth=0.75, device="mps")
    model = tmp_path / "w.pt"
    model.write_bytes(b"weights")
    choice = resolve_model_settings(model)
    assert (choice.conf, choice.imgsz, choice.tile_px, choice.refine_level, choice.refine_smooth_px) == (
        0.4, 640, 320, 0.5, 0.75,
    )  # fmt: skip
    assert set(choice.settings_from.values()) == {"option", "built-in default"}
    args = predict_cli.build_parser().parse_args(["--source", "f", "--out", "o"])
    assert (args.iou, args.device) == (0.5, "mps")
    assert "else 0.4)" in " ".join(predict_cli.build_parser().format_help().split())
    assert PredictOptions().conf == 0.4 and PredictOptions().refine_smooth_px == 0.75
    # --refine LEVEL alone takes the built-in smoothing, whatever it is
    assert resolve_model_settings(model, refine_level=0.6).refine_smooth_px == 0.75


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"confidence": 0.3}, "confidence: unknown option"),
        ({"imgsz": 100}, "imgsz: must be an integer in [32, inf), a multiple of 32"),
        ({"conf": None}, "conf: must not be null"),
        ({"iou": "0.7"}, "iou: must be a number, got '0.7'"),
        ({"max_det": True}, "max_det: must be an integer, got True"),
    ],
)
def test_a_bad_defaults_file_is_a_one_line_error(defaults_file, change: dict, message: str) -> None:  # noqa: ANN001
    path = defaults_file(**change)
    with pytest.raises(InputError) as err:
        cfg.predict_defaults()
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value) and "\n" not in str(err.value)


def test_a_defaults_file_missing_an_option_is_an_error(defaults_file) -> None:  # noqa: ANN001
    path = defaults_file()
    values = yaml.safe_load(path.read_text())
    del values["overlap"]
    path.write_text(yaml.safe_dump(values))
    with pytest.raises(InputError, match=r"predict\.yaml: overlap: missing: every option needs its default"):
        cfg.load_defaults(path)


# --- precedence: built-in < model card < --cfg < command line ------------------------------------------------------


def test_config_file_sits_between_the_model_card_and_the_command_line(tmp_path: Path) -> None:
    card = resolve_settings()
    config = cfg.load_predict_config(_write_cfg(tmp_path / "c.yaml", {"imgsz": 960, "refine_smooth": 0.75}))
    mid = resolve_settings(None, config)
    assert (mid.imgsz, mid.conf, mid.refine_level, mid.refine_inset_px, mid.refine_smooth_px) == (
        960, card.conf, card.refine_level, card.refine_inset_px, 0.75,
    )  # fmt: skip
    assert mid.settings_from == {**card.settings_from, "imgsz": "config file", "refine": "config file"}
    assert mid.card is not None and mid.config == tmp_path / "c.yaml"
    top = resolve_settings(command_line_layer(imgsz=320, refine_smooth=0.5), config)
    assert (top.imgsz, top.refine_smooth_px) == (320, 0.5)
    assert top.settings_from["imgsz"] == top.settings_from["refine"] == "option"


def test_a_model_named_in_the_config_file_gets_no_card(tmp_path: Path) -> None:
    (tmp_path / "best.pt").write_bytes(b"weights")
    config = cfg.load_predict_config(_write_cfg(tmp_path / "c.yaml", {"model": "best.pt", "conf": 0.1}))
    choice = resolve_settings(None, config)
    assert choice.model == tmp_path / "best.pt" and choice.card is None
    assert (choice.conf, choice.imgsz, choice.postproc, choice.refine_level) == (0.1, 1280, None, None)
    assert choice.settings_from == {"model": "config file", "imgsz": "built-in default", "conf": "config file",
                                    "postproc": "built-in default", "refine": "built-in default",
                                    "tile": "built-in default", "box_pad": "built-in default"}  # fmt: skip
    other = tmp_path / "other.pt"
    assert resolve_settings(command_line_layer(model=other), config).settings_from["model"] == "option"


def test_the_refinement_is_one_group_across_sources(tmp_path: Path) -> None:
    card = resolve_settings()
    # a level in the config file brings its own inset and smoothing (or the built-in ones), not the card's
    level_only = resolve_settings(
        None, cfg.load_predict_config(_write_cfg(tmp_path / "a.yaml", {"refine": 0.6}))
    )
    assert (level_only.refine_level, level_only.refine_inset_px, level_only.refine_smooth_px) == (
        0.6,
        0.0,
        1.0,
    )
    # an inset alone in the config file changes the card's refinement and keeps the rest
    inset_only = cfg.load_predict_config(_write_cfg(tmp_path / "b.yaml", {"refine_inset": 0.3}))
    choice = resolve_settings(None, inset_only)
    assert (choice.refine_level, choice.refine_inset_px, choice.refine_smooth_px) == (
        card.refine_level, 0.3, card.refine_smooth_px,
    )  # fmt: skip
    # a level on the command line drops the lower sources' parameters
    choice = resolve_settings(command_line_layer(refine=0.4), inset_only)
    assert (choice.refine_level, choice.refine_inset_px, choice.settings_from["refine"]) == (
        0.4,
        0.0,
        "option",
    )
    # a smoothing on the command line changes the config file's refinement
    full = cfg.load_predict_config(
        _write_cfg(tmp_path / "c.yaml", {"refine": 0.5, "refine_inset": 0.2, "refine_smooth": 0.5})
    )
    choice = resolve_settings(command_line_layer(refine_smooth=0.25), full)
    assert (choice.refine_level, choice.refine_inset_px, choice.refine_smooth_px) == (0.5, 0.2, 0.25)
    # null switches it off; the parameters are then recorded as the built-in ones
    off = resolve_settings(None, cfg.load_predict_config(_write_cfg(tmp_path / "d.yaml", {"refine": None})))
    assert (off.refine_level, off.refine_inset_px, off.refine_smooth_px) == (None, 0.0, 1.0)
    assert off.settings_from["refine"] == "config file"


def test_null_in_a_config_file_switches_tiling_and_post_processing_off(tmp_path: Path) -> None:
    path = _write_cfg(tmp_path / "c.yaml", {"tile": None, "postproc": None, "imgsz": None, "box_pad": 3})
    choice = resolve_settings(None, cfg.load_predict_config(path))
    assert (choice.tile_px, choice.postproc, choice.imgsz, choice.box_pad_px) == (None, None, 640, 3)
    assert choice.settings_from["tile"] == choice.settings_from["postproc"] == "config file"
    assert choice.settings_from["imgsz"] == "model card"  # null for any other key = left out
    back_on = resolve_settings(command_line_layer(tile=512), cfg.load_predict_config(path))
    assert back_on.tile_px == 512 and back_on.settings_from["tile"] == "option"


def test_post_processing_in_a_config_file_is_a_file_or_the_mapping_itself(tmp_path: Path) -> None:
    post = {"min_score": 0.1, "min_area_px": 5, "mask_nms_iou": None, "measure_min_score": 0.3}
    (tmp_path / "post.json").write_text(json.dumps(post))
    from_file = resolve_settings(
        None, cfg.load_predict_config(_write_cfg(tmp_path / "a.yaml", {"postproc": "post.json"}))
    )
    inline = resolve_settings(
        None, cfg.load_predict_config(_write_cfg(tmp_path / "b.yaml", {"postproc": post}))
    )
    assert from_file.postproc == inline.postproc == {"min_score": 0.1, "min_area_px": 5.0, "mask_nms_iou": None,
                                                     "measure_min_score": 0.3}  # fmt: skip
    assert from_file.postproc_path == tmp_path / "post.json" and inline.postproc_path is None
    bad = cfg.load_predict_config(_write_cfg(tmp_path / "c.yaml", {"postproc": {"min_score": 0.1}}))
    with pytest.raises(InputError, match=r"c\.yaml: postproc: min_area_px: missing or not a number"):
        resolve_settings(None, bad)


def test_relative_paths_are_relative_to_the_config_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "runs" / "ft"
    (folder / "weights").mkdir(parents=True)
    (folder / "weights" / "best.pt").write_bytes(b"weights")
    (folder / "post.json").write_text(json.dumps({"min_score": 0, "min_area_px": 0, "mask_nms_iou": None}))
    _write_cfg(folder / "predict.yaml", {"model": "weights/best.pt", "postproc": "post.json"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = cfg.load_predict_config(Path("../runs/ft/predict.yaml"))
    assert config.values["model"].resolve() == (folder / "weights" / "best.pt").resolve()
    assert config.values["postproc"].resolve() == (folder / "post.json").resolve()
    absolute = cfg.load_predict_config(
        _write_cfg(tmp_path / "abs.yaml", {"model": str(folder / "weights/best.pt")})
    )
    assert absolute.values["model"] == folder / "weights" / "best.pt"


# --- --cfg errors: one line, exit code 2, nothing written ----------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "predict.yaml: config file not found"),
        ({"confidence": 0.3}, "predict.yaml: confidence: unknown key (a config file holds: model, imgsz"),
        ({"iou": 0.5}, "predict.yaml: iou: unknown key"),
        ({"imgsz": 100}, "predict.yaml: imgsz: must be an integer in [32, inf), a multiple of 32, got '100'"),
        ({"conf": "0.3"}, "predict.yaml: conf: must be a number, got '0.3'"),
        ({"tile": False}, "predict.yaml: tile: must be an integer, got False"),
        ({"refine": 1.0}, "predict.yaml: refine: must be a finite number in (0, 1)"),
        ({"refine_inset": 7}, "predict.yaml: refine_inset: must be a finite number in [0, 5]"),
        ({"model": "missing.pt"}, "predict.yaml: model: file not found: "),
        ({"postproc": 3}, "predict.yaml: postproc: must be a non-empty string, got 3 (a JSON file or the"),
        ([1, 2], "predict.yaml: must be a YAML mapping of option names"),
        ("imgsz: [", "predict.yaml: cannot read YAML (ParserError"),
    ],
)
def test_config_file_errors_are_one_line_and_exit_2(
    workspace: Path, capsys: pytest.CaptureFixture[str], content: object, message: str
) -> None:
    path = workspace / "cfgs" / "predict.yaml"
    if content is not None:
        path.parent.mkdir(exist_ok=True)
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    argv = ["--cfg", str(path), "--source", str(workspace / "frames"), "--out", str(workspace / "run")]
    assert run_cli(predict_cli.main, argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path.parent}/") and message in err and err.count("\n") == 1, err
    assert not (workspace / "run").exists()


def test_a_config_level_missing_for_its_inset_names_the_file_and_key(workspace: Path, capsys) -> None:  # noqa: ANN001
    path = _write_cfg(workspace / "c.yaml", {"model": "ft/weights/best.pt", "refine_inset": 0.4})
    argv = ["--cfg", str(path), "--source", str(workspace / "frames"), "--out", str(workspace / "run")]
    assert run_cli(predict_cli.main, argv) == 2
    assert (
        capsys.readouterr().err
        == f"error: {path}: refine_inset: needs a refinement level (refine: LEVEL; none is set)\n"
    )
    _write_cfg(path, {"model": "ft/weights/best.pt", "refine": None, "refine_smooth": 0.5})
    assert run_cli(predict_cli.main, argv) == 2
    assert "refine_smooth: needs a refinement level" in capsys.readouterr().err
    assert not (workspace / "run").exists()


def test_out_may_not_hold_the_config_file(workspace: Path, capsys) -> None:  # noqa: ANN001
    path = _write_cfg(workspace / "cfgs" / "predict.yaml", {"model": "../ft/weights/best.pt"})
    argv = ["--cfg", str(path), "--source", str(workspace / "frames"), "--out", str(path.parent)]
    assert run_cli(predict_cli.main, argv) == 2
    assert f"contains the input {path}" in capsys.readouterr().err


# --- a run with --cfg: model from the file, sources recorded, outputs as with the same options --------------------


def test_a_run_from_a_config_file_equals_the_run_with_the_same_options(workspace: Path, capsys) -> None:  # noqa: ANN001
    ft = workspace / "ft"
    values = {"model": "weights/best.pt", "imgsz": 128, "conf": 0.05, "postproc": "post.json", "refine": 0.5,
              "refine_inset": 0.4, "refine_smooth": 0.5, "tile": None, "overlap": 0.2}  # fmt: skip
    path = _write_cfg(ft / "predict.yaml", values)
    base = ["--source", str(workspace / "frames")]
    assert run_cli(predict_cli.main, ["--cfg", str(path), *base, "--out", str(workspace / "by_cfg")]) == 0
    options = ["--model", str(ft / "weights" / "best.pt"), "--imgsz", "128", "--conf", "0.05", "--postproc",
               str(ft / "post.json"), "--refine", "0.5", "--refine-inset", "0.4", "--refine-smooth", "0.5",
               "--no-tile", "--overlap", "0.2"]  # fmt: skip
    assert run_cli(predict_cli.main, [*base, *options, "--out", str(workspace / "by_options")]) == 0
    a, b = workspace / "by_cfg", workspace / "by_options"
    assert (a / "submission.json").read_bytes() == (b / "submission.json").read_bytes()
    assert (a / "run_config.json").read_bytes() == (b / "run_config.json").read_bytes()
    table_a, table_b = pd.read_parquet(a / "particles.parquet"), pd.read_parquet(b / "particles.parquet")
    assert len(table_a) > 0 and table_a.drop(columns="source").equals(table_b.drop(columns="source"))
    assert table_a["low_score"].any()  # the post-processing's measurement threshold came from the file
    manifest = json.loads((a / "manifest.json").read_text())
    assert manifest["model"]["settings_from"] == {"model": "config file", "imgsz": "config file",
                                                  "conf": "config file", "postproc": "config file",
                                                  "refine": "config file", "tile": "config file",
                                                  "box_pad": "built-in default"}  # fmt: skip
    assert manifest["inputs"]["cfg"]["path"] == str(path.absolute()) and manifest["inputs"]["cfg"]["sha256"]
    assert manifest["inputs"]["postproc"]["path"] == str((ft / "post.json").absolute())
    assert manifest["args"]["cfg"] == str(path)
    assert json.loads((b / "manifest.json").read_text())["model"]["settings_from"]["model"] == "option"
    assert "config file" in capsys.readouterr().out


def test_command_line_options_win_over_the_config_file_in_a_run(workspace: Path) -> None:
    path = _write_cfg(
        workspace / "ft" / "predict.yaml", {"model": "weights/best.pt", "imgsz": 128, "refine": 0.5}
    )
    out = workspace / "run"
    argv = ["--cfg", str(path), "--source", str(workspace / "frames"), "--out", str(out), "--no-refine",
            "--imgsz", "96"]  # fmt: skip
    assert run_cli(predict_cli.main, argv) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["imgsz"] == 96 and manifest["settings"]["refine_level"] is None
    assert (
        manifest["model"]["settings_from"]["imgsz"]
        == manifest["model"]["settings_from"]["refine"]
        == "option"
    )
    assert manifest["model"]["settings_from"]["model"] == "config file"


# --- the one-object run and the thin scripts ----------------------------------------------------------------------


def test_run_predict_takes_one_job_and_the_field_form_alike(workspace: Path) -> None:
    from flocshape.infer.run import PredictJob, find_sources, run_predict

    sources = find_sources(str(workspace / "frames"))
    model = workspace / "ft" / "weights" / "best.pt"
    options = PredictOptions(imgsz=128)
    run_predict(PredictJob(model, sources, workspace / "a", options, save_overlays=True))
    run_predict(model, sources, workspace / "b", options, save_overlays=True)
    assert (workspace / "a" / "submission.json").read_bytes() == (
        workspace / "b" / "submission.json"
    ).read_bytes()
    assert sorted(p.name for p in (workspace / "a" / "overlays").iterdir()) == ["0001.jpg", "0002.jpg"]
    with pytest.raises(TypeError):
        run_predict(PredictJob(model, sources, workspace / "c", options), sources)


def test_the_scripts_run_the_package_mains() -> None:
    assert load_script("infer/predict.py", "predict_cfg_script").main is predict_cli.main
    assert load_script("infer/tune_refine.py", "tune_refine_cfg_script").main is tune_refine_cli.main
    for script in ("infer/predict.py", "infer/tune_refine.py"):
        tree = ast.parse((REPO / script).read_text())
        assert len(tree.body) <= 5  # docstring, two imports, __all__, the __main__ guard
