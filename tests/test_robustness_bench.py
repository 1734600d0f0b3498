"""The robustness benchmark's table and its argument checks (benchmarks/robustness.py); no generation here."""

from __future__ import annotations

import pytest
from scriptload import load_script

from flocshape.errors import InputError

rb = load_script("benchmarks/robustness.py", "robustness")


def _scores(f1: float, ap50: float) -> dict[str, float]:
    return {"hackathon_f1": f1, "ap50": ap50}


def test_rows_average_over_seeds_and_compare_with_the_default_row() -> None:
    results = {
        "m": {
            "default knobs": {1: _scores(0.70, 0.60), 2: _scores(0.80, 0.70)},
            "--particles-per-frame 260": {1: _scores(0.60, 0.50), 2: _scores(0.70, 0.60)},
        }
    }
    rows = {r["condition"]: r for r in rb.table_rows(results, [1, 2])}
    assert rows["default knobs"]["hackathon F1"] == pytest.approx(0.75)
    assert rows["default knobs"]["AP50"] == pytest.approx(0.65)
    assert rows["default knobs"]["F1 vs default"] == pytest.approx(0.0)
    assert rows["--particles-per-frame 260"]["F1 vs default"] == pytest.approx(-0.10)
    assert rows["--particles-per-frame 260"]["F1 per seed"] == "0.600 / 0.700"


def test_configs_and_rows_are_checked(tmp_path) -> None:
    assert rb.parse_config("card=card") == ("card", None)
    cfg = tmp_path / "predict.yaml"
    cfg.write_text("imgsz: 640\n")
    assert rb.parse_config(f"new={cfg}") == ("new", str(cfg))
    with pytest.raises(InputError, match="NAME=FILE"):
        rb.parse_config("nameonly")
    with pytest.raises(InputError, match="not found"):
        rb.parse_config(f"new={tmp_path / 'missing.yaml'}")
    with pytest.raises(InputError, match="multiple of 10"):
        rb.parse_args(["--work", str(tmp_path), "--frames", "15"])
    with pytest.raises(InputError, match="default knobs"):
        rb.parse_args(["--work", str(tmp_path), "--rows", "--particles-per-frame 260"])
    args, extra = rb.parse_args(["--work", str(tmp_path), "--seeds", "4", "--", "--tile", "640"])
    assert args.seeds == [4] and extra == ["--tile", "640"]


def test_every_row_names_generator_knobs() -> None:
    from flocshape.synth.cli import build_parser

    parser = build_parser()
    for label, knobs in rb.ROWS.items():
        parsed = vars(parser.parse_args(["--out", "x", *knobs]))
        given = {
            k.lstrip("-").replace("-", "_"): float(v) for k, v in zip(knobs[::2], knobs[1::2], strict=True)
        }
        assert {k: parsed[k] for k in given} == given, label
