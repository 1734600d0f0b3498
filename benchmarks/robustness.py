"""Robustness inside the generator: one or more models on unseen seeds of the default preset and on changed cameras.

For every seed of ``--seeds`` and every row of :data:`ROWS` (the default ``hackathon`` preset, then one knob set
changed: more noise and stronger JPEG, a denser scene, a brighter background), a batch of ``--frames`` test frames
is generated with ``datasets/synthesize.py`` (reused when present), predicted with ``infer/predict.py`` and scored
with ``infer/score.py``. Each ``--config NAME=FILE`` is one model with its settings (a predict config file, read
with ``predict --cfg``; ``NAME=card`` is the shipped model with its card's settings). Prints, per model and row,
hackathon F1 and mask AP50 averaged over the seeds (and per seed), and the change of F1 against the default row.
Writes ``robustness.md`` and ``robustness.json`` into ``--work``. Usage::

    python benchmarks/robustness.py --work runs/robust --config card=card
    python benchmarks/robustness.py --work runs/robust --config card=card --config new=runs/new/predict.yaml
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from flocshape.errors import input_error, run_cli
from flocshape.fsio import atomic_write_json, atomic_write_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metrology_e2e import markdown, run, split_passthrough  # noqa: E402

BLOCK = 10  # frames per generated video block
ROWS: dict[str, list[str]] = {
    "default knobs": [],
    "--noise-sigma 14 --jpeg-quality 70": ["--noise-sigma", "14", "--jpeg-quality", "70"],
    "--particles-per-frame 260": ["--particles-per-frame", "260"],
    "--brightness-top 110 --brightness-bottom 50": ["--brightness-top", "110", "--brightness-bottom", "50"],
}
"""Row label -> knobs given to ``datasets/synthesize.py`` on top of the preset."""
ROW_DIRS = {label: f"row{i}" for i, label in enumerate(ROWS)}


def generate(work: Path, preset: str, seed: int, row: str, frames: int) -> Path:
    """A batch of ``frames`` test frames (plus one train block) of ``preset`` with ``row``'s knobs; reused."""
    out = work / "batches" / f"{preset}_s{seed}_{ROW_DIRS[row]}"
    if not (out / "manifest.json").is_file():
        blocks = frames // BLOCK
        args = ["datasets/synthesize.py", "--out", out, "--preset", preset, "--seed", seed]
        args += ["--frames", (blocks + 1) * BLOCK, "--test-frac", f"{blocks / (blocks + 1):.6f}", *ROWS[row]]
        run(*args)
    return out


def predict_and_score(batch: Path, out: Path, cfg: str | None, extra: list[str]) -> dict[str, float]:
    """Predict the batch's test frames (reused when predicted or scored already) and return hackathon F1 and mask AP50."""
    score_path = out / "score.json"
    if not score_path.is_file():
        cfg_args = [] if cfg is None else ["--cfg", cfg]
        if not (out / "submission.json").is_file():  # written last, when every frame is done
            resume = ["--resume"] if (out / "journal.jsonl").is_file() else []  # an interrupted run goes on
            run("infer/predict.py", "--source", batch / "test", "--images-json", batch / "label_test.json",
                "--out", out, *cfg_args, *resume, *extra)  # fmt: skip
        run("infer/score.py", "--gt", batch / "truth" / "label_test_gt.json", "--pred", out / "submission.json",
            "--json", score_path)  # fmt: skip
    score = json.loads(score_path.read_text())
    return {"hackathon_f1": score["hackathon_f1"]["f1"], "ap50": score["coco"]["AP50"]}


def parse_config(text: str) -> tuple[str, str | None]:
    """``NAME=FILE`` -> (name, predict config file or None for ``card``)."""
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise input_error("--config", f"expected NAME=FILE or NAME=card, got {text!r}")
    if path == "card":
        return name, None
    if not Path(path).is_file():
        raise input_error(path, "predict config file not found", record=f"--config {name}")
    return name, path


def table_rows(results: dict, seeds: list[int]) -> list[dict[str, object]]:
    """Per model and row: mean hackathon F1 and AP50 over seeds, change of F1 against the default row, per seed."""
    rows = []
    for name, by_row in results.items():
        base = sum(by_row["default knobs"][s]["hackathon_f1"] for s in seeds) / len(seeds)
        for label, by_seed in by_row.items():
            f1 = sum(by_seed[s]["hackathon_f1"] for s in seeds) / len(seeds)
            ap50 = sum(by_seed[s]["ap50"] for s in seeds) / len(seeds)
            per_seed = " / ".join(f"{by_seed[s]['hackathon_f1']:.3f}" for s in seeds)
            rows.append({"model": name, "condition": label, "hackathon F1": round(f1, 4), "AP50": round(ap50, 4),
                         "F1 vs default": round(f1 - base, 4), "F1 per seed": per_seed})  # fmt: skip
    return rows


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    """Options before ``--``; options after it go to every ``infer/predict.py`` call."""
    own, extra = split_passthrough(argv)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", type=Path, required=True, help="folder for batches, predictions and the tables")
    p.add_argument(
        "--config", action="append", default=[], help="NAME=FILE (predict --cfg) or NAME=card; repeat"
    )
    p.add_argument(
        "--seeds", type=int, nargs="+", default=[1, 21, 33], help="generator seeds (default 1 21 33)"
    )
    p.add_argument(
        "--frames", type=int, default=20, help="test frames per batch, a multiple of 10 (default 20)"
    )
    p.add_argument("--preset", default="hackathon", help="generator preset of every row (default hackathon)")
    p.add_argument("--rows", nargs="+", default=list(ROWS), help="row labels to run (default all)")
    args = p.parse_args(own)
    if args.frames <= 0 or args.frames % BLOCK:
        raise input_error("--frames", f"must be a positive multiple of {BLOCK}, got {args.frames}")
    unknown = [r for r in args.rows if r not in ROWS]
    if unknown or "default knobs" not in args.rows:
        raise input_error("--rows", f"rows must include 'default knobs' and be among {list(ROWS)}")
    return args, extra


def main(argv: list[str] | None = None) -> int:
    """Generate, predict, score; print and write the table."""
    args, extra = parse_args(argv)
    configs = [parse_config(c) for c in args.config] or [("card", None)]
    results: dict[str, dict[str, dict[int, dict[str, float]]]] = {}
    for row in args.rows:
        for seed in args.seeds:
            batch = generate(args.work, args.preset, seed, row, args.frames)
            for name, cfg in configs:
                out = args.work / "pred" / name / batch.name
                results.setdefault(name, {}).setdefault(row, {})[seed] = predict_and_score(
                    batch, out, cfg, extra
                )
    rows = table_rows(results, args.seeds)
    text = markdown(rows)
    head = f"{args.preset}, seeds {args.seeds}, {args.frames} test frames each; F1 per seed in seed order"
    print(head + "\n\n" + text)
    atomic_write_text(args.work / "robustness.md", head + "\n\n" + text + "\n")
    record = {"seeds": args.seeds, "frames": args.frames, "preset": args.preset, "configs": dict(configs),
              "predict_options": extra, "results": results}  # fmt: skip
    atomic_write_json(args.work / "robustness.json", record)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
