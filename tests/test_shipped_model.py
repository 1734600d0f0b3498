"""The shipped reference model: the file matches its card, the card is complete, ``infer/predict.py`` uses it by
default with the card's settings (an explicit option always wins), and an installed package contains it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from scriptload import load_script

import flocshape.models as models
from flocshape.errors import InputError, run_cli
from flocshape.infer.run import parse_postproc, resolve_model_settings
from flocshape.manifest import file_digest

REPO = Path(__file__).resolve().parents[1]
MAX_BYTES = 10 * 1024 * 1024


def _predict_main():  # noqa: ANN202 - the CLI module's main
    return load_script("infer/predict.py", "predict_cli").main


@pytest.fixture()
def fake_models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A models folder holding a copy of the real card (the weights are added per test)."""
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copyfile(models.model_card_path(), folder / models.model_card_path().name)
    monkeypatch.setattr(models, "models_dir", lambda: folder)
    return folder


def card_refine_level() -> float | None:
    """The shipped card's mask-refinement level (``None`` when the card has none)."""
    return models.load_model_card()["predict_defaults"].get("refine_level")


def test_weights_match_the_card_and_fit_the_size_limit() -> None:
    card = models.verify_shipped_model()
    pt = models.default_model_path()
    assert pt.name == card["file"] and pt.stat().st_size == card["bytes"] <= MAX_BYTES
    assert file_digest(pt) == card["sha256"]


def test_checkpoint_is_stripped_fp16_and_one_class() -> None:
    from flocshape import offline

    offline.setup()
    import torch

    ckpt = torch.load(models.default_model_path(), map_location="cpu", weights_only=False)
    assert ckpt["optimizer"] is None and ckpt["ema"] is None
    assert {p.dtype for p in ckpt["model"].parameters()} == {torch.float16}
    assert dict(ckpt["model"].names) == {0: "Normal"}
    assert ckpt["train_args"]["imgsz"] == 640 and ckpt["train_args"]["seed"] == 0


def test_card_documents_recipe_data_settings_and_scores() -> None:
    card = models.load_model_card()
    train = card["training"]
    assert train["recipe"] == "cpu-reference" and train["imgsz"] == 640
    assert train["data"]["preset"] == "hackathon" and train["data"]["seed"] == 0
    assert any("--recipe cpu-reference" in c for c in train["commands"])
    assert any("--preset hackathon --seed 0" in c for c in train["commands"])
    defaults = card["predict_defaults"]
    assert defaults["imgsz"] == 640 and 0.0 < defaults["conf"] < 1.0
    parse_postproc(defaults["postproc"], "card")  # raises on a malformed entry
    # the measurement threshold: chosen on validation for strict F1, flags (never drops) weak detections
    assert 0.0 < defaults["postproc"]["measure_min_score"] < 1.0
    assert defaults["postproc"]["measure_min_score"] > defaults["postproc"]["min_score"]
    assert "strict F1" in card["postproc_tuning"]["measure_criterion"]
    scores = card["test"]["scores"]
    for value in (scores["hackathon_f1"]["f1"], scores["strict_iou50"]["f1"], scores["coco_mask"]["AP50"]):
        assert 0.3 < value < 1.0
    assert (
        "--postproc" in card["test"]["predict_command"] and "--imgsz 640" in card["test"]["predict_command"]
    )


def test_card_builder_refuses_weights_that_are_not_the_runs_best(tmp_path: Path) -> None:
    from flocshape.models.card import build_card

    (tmp_path / "run" / "weights").mkdir(parents=True)
    (tmp_path / "run" / "weights" / "best.pt").write_bytes(b"other weights")
    with pytest.raises(InputError, match="not byte-identical"):
        build_card(
            models.default_model_path(), tmp_path / "run", tmp_path, tmp_path, tmp_path, tmp_path, tmp_path
        )


def _fake_card_inputs(
    tmp_path: Path, refine_level: float | None, inset_px: float = 0.0, smooth_px: float | None = None
) -> dict[str, Path]:
    """The smallest set of run files ``build_card`` reads up to its refinement check."""
    run = tmp_path / "run"
    (run / "weights").mkdir(parents=True)
    weights = run / "weights" / "best.pt"
    weights.write_bytes(b"weights")
    postproc = {"min_score": 0.2, "min_area_px": 10, "mask_nms_iou": 0.5}
    settings = {"model_sha256": file_digest(weights), "postproc": postproc, "imgsz": 640, "conf": 0.05}
    if refine_level is not None:
        settings |= {"refine_level": refine_level, "refine_grow_px": 2, "refine_inset_px": inset_px}
        if smooth_px is not None:  # None: a run made before the smoothing was recorded
            settings["refine_smooth_px"] = smooth_px
    files = {
        run / "manifest.json": {},
        tmp_path / "data" / "manifest.json": {},
        tmp_path / "yolo" / "manifest.json": {},
        tmp_path / "tune.json": postproc,
        tmp_path / "pred" / "manifest.json": {"settings": settings},
        tmp_path / "score.json": {},
    }
    for path, obj in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj))
    return {"weights": weights, "train_run": run, "data": tmp_path / "data", "yolo": tmp_path / "yolo",
            "tune": tmp_path / "tune.json", "test_pred": tmp_path / "pred", "test_score": tmp_path / "score.json"}  # fmt: skip


def test_card_builder_refuses_refined_test_runs_without_or_against_their_level_choice(tmp_path: Path) -> None:
    from flocshape.models.card import build_card

    inputs = _fake_card_inputs(tmp_path, refine_level=0.6)
    with pytest.raises(InputError, match="used mask refinement: pass its --refine-tuning"):
        build_card(**inputs)
    other_level = tmp_path / "levels.json"
    other_level.write_text(json.dumps({"best_level": 0.5, "grow_px": 2}))
    with pytest.raises(
        InputError, match="best_level / best_inset_px / best_smooth_px / grow_px differ"
    ) as err:
        build_card(**inputs, refine_tuning=other_level)
    assert "levels.json" in str(err.value)
    other_grow = tmp_path / "grow.json"
    other_grow.write_text(json.dumps({"best_level": 0.6, "grow_px": 3}))
    with pytest.raises(InputError, match="best_level / best_inset_px / best_smooth_px / grow_px differ"):
        build_card(**inputs, refine_tuning=other_grow)
    other_inset = tmp_path / "inset.json"
    other_inset.write_text(json.dumps({"best_level": 0.6, "best_inset_px": 0.5, "grow_px": 2}))
    with pytest.raises(InputError, match="best_inset_px"):
        build_card(**inputs, refine_tuning=other_inset)


def test_card_builder_checks_the_inset_of_refined_test_runs(tmp_path: Path) -> None:
    from flocshape.models.card import build_card

    inputs = _fake_card_inputs(tmp_path, refine_level=0.5, inset_px=0.5)
    no_inset = tmp_path / "no_inset.json"
    no_inset.write_text(json.dumps({"best_level": 0.5, "grow_px": 2}))  # a table written before insets: 0 px
    with pytest.raises(InputError, match="best_inset_px"):
        build_card(**inputs, refine_tuning=no_inset)
    same = tmp_path / "same.json"
    same.write_text(json.dumps({"best_level": 0.5, "best_inset_px": 0.5, "grow_px": 2}))
    with pytest.raises((InputError, KeyError, OSError)) as err:  # passes the check, then needs the real files
        build_card(**inputs, refine_tuning=same)
    assert "best_inset_px" not in str(err.value)


def test_default_model_brings_the_cards_settings() -> None:
    card = models.load_model_card()
    choice = resolve_model_settings()
    assert choice.model == models.default_model_path() and choice.card is not None
    assert (
        choice.imgsz == card["predict_defaults"]["imgsz"] and choice.conf == card["predict_defaults"]["conf"]
    )
    assert choice.postproc == parse_postproc(card["predict_defaults"]["postproc"], "card")
    assert choice.refine_level == card["predict_defaults"]["refine_level"] == 0.5
    assert choice.refine_inset_px == card["predict_defaults"]["refine_inset_px"] == 0.4
    assert choice.refine_smooth_px == card["predict_defaults"]["refine_smooth_px"] == 0.5
    assert card["refine_tuning"]["table"] and "infer/tune_refine.py" in card["refine_tuning"]["command"]
    assert set(choice.settings_from.values()) == {"model card"}


def test_explicit_options_win_over_the_card(tmp_path: Path) -> None:
    post = tmp_path / "post.json"
    post.write_text(json.dumps({"min_score": 0.5, "min_area_px": 3, "mask_nms_iou": None}))
    choice = resolve_model_settings(None, imgsz=1280, conf=0.3, postproc_path=post)
    assert (choice.imgsz, choice.conf) == (1280, 0.3)
    assert choice.postproc == {"min_score": 0.5, "min_area_px": 3.0, "mask_nms_iou": None}
    assert choice.settings_from == {
        "model": "model card",
        "imgsz": "option",
        "conf": "option",
        "postproc": "option",
        "refine": "model card",
        "tile": "model card",
        "box_pad": "model card",
    }
    assert choice.refine_level == card_refine_level()
    unrefined = resolve_model_settings(None, no_refine=True)
    assert unrefined.refine_level is None and unrefined.settings_from["refine"] == "option"
    assert resolve_model_settings(None, refine_level=0.4).refine_level == 0.4
    with pytest.raises(InputError, match="--no-refine"):
        resolve_model_settings(None, refine_level=0.4, no_refine=True)
    off = resolve_model_settings(None, no_postproc=True)
    assert off.postproc is None and off.settings_from["postproc"] == "option" and off.imgsz == 640
    with pytest.raises(InputError, match="--no-postproc"):
        resolve_model_settings(None, postproc_path=post, no_postproc=True)


def test_refine_inset_comes_with_the_cards_level_never_with_an_explicit_one() -> None:
    defaults = models.load_model_card()["predict_defaults"]
    card = resolve_model_settings()
    assert card.refine_inset_px == defaults.get("refine_inset_px", 0.0)
    explicit = resolve_model_settings(None, refine_level=0.4)
    assert (explicit.refine_level, explicit.refine_inset_px) == (0.4, 0.0)
    both = resolve_model_settings(None, refine_level=0.4, refine_inset_px=0.3)
    assert (both.refine_level, both.refine_inset_px, both.settings_from["refine"]) == (0.4, 0.3, "option")
    inset_only = resolve_model_settings(None, refine_inset_px=0.7)
    assert (inset_only.refine_level, inset_only.refine_inset_px) == (card_refine_level(), 0.7)
    assert inset_only.settings_from["refine"] == "option"
    with pytest.raises(InputError, match="--refine-inset"):
        resolve_model_settings(None, refine_inset_px=0.5, no_refine=True)
    with pytest.raises(InputError, match="--refine-inset.*needs a refinement level"):
        resolve_model_settings(models.default_model_path(), refine_inset_px=0.5)
    unrefined = resolve_model_settings(None, no_refine=True)
    assert (unrefined.refine_level, unrefined.refine_inset_px) == (None, 0.0)


def test_tiling_comes_from_the_card_unless_given() -> None:
    defaults = models.load_model_card()["predict_defaults"]
    choice = resolve_model_settings()
    assert choice.tile_px == defaults.get("tile_px") and choice.overlap == defaults.get("overlap", 0.2)
    explicit = resolve_model_settings(None, tile_px=512, overlap=0.3)
    assert (explicit.tile_px, explicit.overlap, explicit.settings_from["tile"]) == (512, 0.3, "option")
    whole = resolve_model_settings(None, no_tile=True)
    assert whole.tile_px is None and whole.settings_from["tile"] == "option"
    with pytest.raises(InputError, match="--no-tile"):
        resolve_model_settings(None, tile_px=512, no_tile=True)


def test_box_pad_comes_from_the_card_unless_given(tmp_path: Path) -> None:
    defaults = models.load_model_card()["predict_defaults"]
    choice = resolve_model_settings()
    assert (
        choice.box_pad_px == defaults.get("box_pad_px", 0) and choice.settings_from["box_pad"] == "model card"
    )
    explicit = resolve_model_settings(None, box_pad_px=5)
    assert (explicit.box_pad_px, explicit.settings_from["box_pad"]) == (5, "option")
    assert resolve_model_settings(None, box_pad_px=0).box_pad_px == 0
    copy = tmp_path / "weights.pt"
    shutil.copyfile(models.default_model_path(), copy)
    builtin = resolve_model_settings(copy)
    assert (builtin.box_pad_px, builtin.settings_from["box_pad"]) == (0, "built-in default")


def test_card_predict_defaults_carry_refinement_and_tiling_only_when_used() -> None:
    from flocshape.models.card import predict_defaults

    post = {"min_score": 0.2, "min_area_px": 10.0, "mask_nms_iou": 0.3}
    plain = {"imgsz": 640, "conf": 0.05, "tile_px": None, "overlap": 0.2, "refine_level": None}
    assert predict_defaults(plain, post) == {"imgsz": 640, "conf": 0.05, "postproc": post}
    tiled = plain | {"tile_px": 640, "overlap": 0.25, "refine_level": 0.6}
    assert predict_defaults(tiled, post) == {
        "imgsz": 640, "conf": 0.05, "postproc": post, "refine_level": 0.6, "refine_inset_px": 0.0,
        "refine_smooth_px": 1.0, "tile_px": 640, "overlap": 0.25,
    }  # fmt: skip
    assert predict_defaults(tiled | {"box_pad_px": 0}, post) == predict_defaults(tiled, post)
    assert predict_defaults(tiled | {"box_pad_px": 2}, post)["box_pad_px"] == 2
    inset = tiled | {"refine_level": 0.5, "refine_inset_px": 0.5}
    assert (
        predict_defaults(inset, post)["refine_level"],
        predict_defaults(inset, post)["refine_inset_px"],
    ) == (
        0.5,
        0.5,
    )


def test_explicit_model_gets_builtin_defaults_even_for_the_shipped_weights(tmp_path: Path) -> None:
    copy = tmp_path / "renamed.pt"
    shutil.copyfile(models.default_model_path(), copy)
    other = tmp_path / "other.pt"
    other.write_bytes(b"not the shipped weights")
    for model in (copy, models.default_model_path(), other):
        choice = resolve_model_settings(model)
        assert choice.card is None and (choice.imgsz, choice.conf, choice.postproc) == (1280, 0.25, None)
        assert choice.refine_level is None
        assert choice.settings_from == {"model": "option", "imgsz": "built-in default", "conf": "built-in default",
                                        "postproc": "built-in default", "refine": "built-in default",
                                        "tile": "built-in default", "box_pad": "built-in default"}  # fmt: skip
        assert choice.tile_px is None
    assert models.card_for_model(copy) is not None and models.card_for_model(other) is None


def test_changed_or_missing_shipped_weights_are_one_line_errors(
    fake_models_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="shipped model file is missing"):
        models.verify_shipped_model()
    (fake_models_dir / models.load_model_card()["file"]).write_bytes(b"version https://git-lfs pointer")
    with pytest.raises(InputError, match="differs from the model card"):
        resolve_model_settings()
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "0001.jpg").write_bytes(b"")
    rc = run_cli(_predict_main(), ["--source", str(frames), "--out", str(tmp_path / "out")])
    assert rc == 2 and not (tmp_path / "out").exists()


def test_predict_without_model_records_the_shipped_model_and_settings(tmp_path: Path) -> None:
    from flocshape.testing import make_toy_frames

    make_toy_frames(tmp_path / "frames", n_frames=2)
    main = _predict_main()
    assert run_cli(main, ["--source", str(tmp_path / "frames"), "--out", str(tmp_path / "a")]) == 0
    card = models.load_model_card()
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["model"]["sha256"] == card["sha256"] and manifest["model"]["shipped"] is True
    assert manifest["model"]["card"] == card["name"]
    assert manifest["model"]["settings_from"]["postproc"] == "model card"
    assert manifest["settings"]["imgsz"] == card["predict_defaults"]["imgsz"]
    assert manifest["settings"]["postproc"] == parse_postproc(card["predict_defaults"]["postproc"], "card")

    argv = [
        "--source",
        str(tmp_path / "frames"),
        "--out",
        str(tmp_path / "b"),
        "--imgsz",
        "320",
        "--no-postproc",
    ]
    assert run_cli(main, argv) == 0
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["settings"]["imgsz"] == 320 and manifest["settings"]["postproc"] is None
    assert manifest["settings"]["conf"] == card["predict_defaults"]["conf"]
    assert manifest["model"]["settings_from"] == {"model": "model card", "imgsz": "option", "conf": "model card",
                                                  "postproc": "option", "refine": "model card",
                                                  "tile": "model card", "box_pad": "model card"}  # fmt: skip
    assert manifest["settings"]["refine_level"] == card_refine_level()


def test_wheel_contains_the_model_and_card(tmp_path: Path) -> None:
    pytest.importorskip("setuptools")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).is_file():
            shutil.copyfile(REPO / name, src / name)
    shutil.copytree(REPO / "flocshape", src / "flocshape", ignore=shutil.ignore_patterns("__pycache__"))
    cmd = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
           "-w", str(tmp_path / "whl")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = (tmp_path / "whl").glob("flocshape-*.whl")
    card = models.load_model_card()
    with zipfile.ZipFile(wheel) as zf:
        info = {i.filename: i for i in zf.infolist()}
        pt = info[f"flocshape/models/{card['file']}"]
        assert pt.file_size == card["bytes"]
        assert json.loads(zf.read(f"flocshape/models/{models.MODEL_NAME}.json"))["sha256"] == card["sha256"]


def test_refine_smoothing_follows_the_same_rules_as_the_inset() -> None:
    defaults = models.load_model_card()["predict_defaults"]
    card = resolve_model_settings()
    assert card.refine_smooth_px == defaults.get("refine_smooth_px", 1.0)
    explicit = resolve_model_settings(None, refine_level=0.4)
    assert (explicit.refine_level, explicit.refine_inset_px, explicit.refine_smooth_px) == (0.4, 0.0, 1.0)
    smooth_only = resolve_model_settings(None, refine_smooth_px=2.0)
    assert (smooth_only.refine_level, smooth_only.refine_smooth_px) == (card_refine_level(), 2.0)
    assert smooth_only.refine_inset_px == card.refine_inset_px  # the card's other parameters stay
    assert smooth_only.settings_from["refine"] == "option"
    with pytest.raises(InputError, match="--refine-smooth"):
        resolve_model_settings(None, refine_smooth_px=0.5, no_refine=True)
    with pytest.raises(InputError, match="--refine-smooth.*needs a refinement level"):
        resolve_model_settings(models.default_model_path(), refine_smooth_px=0.5)
    assert resolve_model_settings(None, no_refine=True).refine_smooth_px == 1.0


def test_card_builder_checks_the_smoothing_of_refined_test_runs(tmp_path: Path) -> None:
    from flocshape.models.card import build_card, predict_defaults

    inputs = _fake_card_inputs(tmp_path, refine_level=0.5, inset_px=0.4, smooth_px=0.5)
    old = tmp_path / "old.json"  # a table written before the smoothing was tuned: 1 px
    old.write_text(json.dumps({"best_level": 0.5, "best_inset_px": 0.4, "grow_px": 2}))
    with pytest.raises(InputError, match="best_smooth_px"):
        build_card(**inputs, refine_tuning=old)
    same = tmp_path / "same.json"
    same.write_text(
        json.dumps({"best_level": 0.5, "best_inset_px": 0.4, "best_smooth_px": 0.5, "grow_px": 2})
    )
    with pytest.raises((InputError, KeyError, OSError)) as err:  # passes the check, then needs the real files
        build_card(**inputs, refine_tuning=same)
    assert "best_smooth_px" not in str(err.value)
    settings = {
        "imgsz": 640,
        "conf": 0.05,
        "refine_level": 0.5,
        "refine_inset_px": 0.4,
    }  # a run before smoothing
    assert predict_defaults(settings, {})["refine_smooth_px"] == 1.0
