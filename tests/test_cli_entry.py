"""The ``flocshape`` command: every stage listed, per-stage help, one-line errors, and the same outputs by path.

The chain synthesize -> coco2yolo -> score -> shape (truth and predictions) -> compare runs twice on tiny synthetic
data, once as ``python <folder>/<script>.py ARGS`` and once as ``flocshape <stage> ARGS``, in the same folder
(the first run's outputs are moved aside first, so every recorded path is the same). Every output file must be
byte-identical, except that in JSON files the keys in :data:`RUN_KEYS` are left out of the comparison: when the
run happened (``created_utc``) and the command line that started it (``command``: ``["shape.py", ARGS]`` against
``["flocshape", "shape", ARGS]``). None of these stages records an elapsed time. No model runs here.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flocshape.cli import BY_NAME, STAGES

REPO = Path(__file__).resolve().parents[1]
RUN_KEYS = frozenset({"created_utc", "command"})

# (stage, script, arguments); {W} is the work folder, both runs use the same one
CHAIN: list[tuple[str, str, list[str]]] = [
    ("synthesize", "datasets/synthesize.py",
     ["--out", "{W}/data", "--preset", "small", "--frames", "20", "--test-frac", "0.5", "--seed", "3",
      "--workers", "1"]),
    ("coco2yolo", "convert/coco2yolo.py",
     ["--json", "{W}/data/label_train.json", "--images", "{W}/data/train", "--out", "{W}/yolo",
      "--group-size", "2", "--val-frac", "0.25", "--workers", "1"]),
    ("score", "infer/score.py",
     ["--gt", "{W}/data/truth/label_test_gt.json", "--pred", "{W}/pred.json", "--json", "{W}/score.json"]),
    ("shape", "infer/shape.py",
     ["--coco", "{W}/data/truth/label_test_gt.json", "--images", "{W}/data/test", "--out",
      "{W}/truth/particles.parquet"]),
    ("shape", "infer/shape.py",
     ["--coco", "{W}/pred.json", "--images", "{W}/data/test", "--images-json", "{W}/data/label_test.json",
      "--um-per-px", "2.5", "--out", "{W}/pred/particles.parquet"]),
    ("compare", "infer/compare.py",
     ["{W}/truth", "{W}/pred", "--labels", "truth", "predicted", "--out", "{W}/compare", "--bootstrap", "100",
      "--no-plots"]),
]  # fmt: skip


def flocshape_command() -> list[str]:
    """The installed ``flocshape`` next to this Python, else ``python -m flocshape.cli``."""
    exe = Path(sys.executable).with_name("flocshape")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "flocshape.cli"]


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` from the repository root, one CPU thread per library."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)


def write_predictions(work: Path) -> None:
    """A results list made from the test truth: every 4th instance missed, scores from the annotation id."""
    gt = json.loads((work / "data" / "truth" / "label_test_gt.json").read_text())
    preds = [
        {"image_id": a["image_id"], "category_id": a["category_id"], "segmentation": a["segmentation"],
         "bbox": a["bbox"], "score": round(0.3 + 0.7 * ((a["id"] * 37) % 100) / 100, 3)}
        for a in gt["annotations"] if a["id"] % 4
    ]  # fmt: skip
    (work / "pred.json").write_text(json.dumps(preds))


def run_chain(work: Path, by_path: bool) -> None:
    """The whole chain, by path or through ``flocshape``; each stage must exit 0."""
    for stage, script, args in CHAIN:
        argv = [a.replace("{W}", str(work)) for a in args]
        cmd = [sys.executable, script, *argv] if by_path else [*flocshape_command(), stage, *argv]
        proc = run(cmd)
        assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        if stage == "synthesize":
            write_predictions(work)


def without_run_keys(value: Any) -> Any:
    """``value`` with the :data:`RUN_KEYS` of every nested dict removed."""
    if isinstance(value, dict):
        return {k: without_run_keys(v) for k, v in value.items() if k not in RUN_KEYS}
    if isinstance(value, list):
        return [without_run_keys(v) for v in value]
    return value


def differences(a: Path, b: Path) -> list[str]:
    """Files of folder ``a`` that differ in folder ``b`` (JSON compared without :data:`RUN_KEYS`)."""
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    if files_a != files_b:
        return [f"file lists differ: {sorted(set(files_a) ^ set(files_b))}"]
    out = []
    for rel in files_a:
        x, y = (a / rel).read_bytes(), (b / rel).read_bytes()
        if x == y:
            continue
        if rel.suffix == ".json" and without_run_keys(json.loads(x)) == without_run_keys(json.loads(y)):
            continue
        out.append(str(rel))
    return out


def test_chain_by_path_and_by_flocshape_is_byte_identical(tmp_path: Path) -> None:
    work, aside = tmp_path / "work", tmp_path / "by_path"
    run_chain(work, by_path=True)
    work.rename(aside)
    run_chain(work, by_path=False)
    assert differences(aside, work) == []
    # the legitimately different keys really are there, and differ only in what they say they record
    m_path = json.loads((aside / "truth" / "particles.parquet.manifest.json").read_text())
    m_cmd = json.loads((work / "truth" / "particles.parquet.manifest.json").read_text())
    assert m_path["command"][0] == "shape.py" and m_cmd["command"][:2] == ["flocshape", "shape"]
    assert (
        m_path["command"][1:] == m_cmd["command"][2:] and m_path["tool"] == m_cmd["tool"] == "infer/shape.py"
    )


def test_help_lists_every_stage() -> None:
    proc = run([*flocshape_command(), "--help"])
    assert proc.returncode == 0
    listed = {line.split()[0] for line in proc.stdout.splitlines() if line.startswith("  ") and line.split()}
    assert {s.name for s in STAGES} <= listed
    for name in ("synthesize", "realism", "coco2yolo", "yolo2coco", "labelmap2coco", "export-labelling", "train",
                 "finetune", "sweep", "vanilla-baseline", "predict", "score", "tune", "tune-refine", "shape",
                 "calibrate", "compare", "track", "report", "watershed"):  # fmt: skip
        assert name in BY_NAME and name in listed


def test_help_does_not_import_torch() -> None:
    code = "import sys; from flocshape.cli import main; main(['--help']); assert 'torch' not in sys.modules"
    assert run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize("stage", ["predict", "shape", "calibrate", "coco2yolo", "vanilla-baseline"])
def test_stage_help(stage: str) -> None:
    proc = run([*flocshape_command(), stage, "--help"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: flocshape {stage} ")


@pytest.mark.parametrize("argv", [["nosuchstage"], ["--nosuchflag"], ["shpe", "--help"]])
def test_unknown_stage_is_one_line_and_exit_2(argv: list[str]) -> None:
    proc = run([*flocshape_command(), *argv])
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("error: command line: unknown ") and proc.stderr.count("\n") == 1


def test_stage_errors_match_the_script(tmp_path: Path) -> None:
    args = ["--coco", str(tmp_path / "missing.json"), "--out", str(tmp_path / "p.parquet")]
    by_path = run([sys.executable, "infer/shape.py", *args])
    by_cmd = run([*flocshape_command(), "shape", *args])
    assert by_path.returncode == by_cmd.returncode == 2
    assert by_path.stderr == by_cmd.stderr and by_cmd.stderr.count("\n") == 1


def test_a_stage_whose_module_is_absent_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # noqa: ANN001
    from flocshape import cli

    ghost = cli.Stage("ghost", "flocshape.no_such_module:main", ("infer/ghost.py",), "not installed")
    monkeypatch.setitem(cli.BY_NAME, "ghost", ghost)
    assert cli.main(["ghost", "--help"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "flocshape ghost" in err and "flocshape.no_such_module" in err


def test_every_installed_stage_has_its_script_and_main() -> None:
    for stage in STAGES:
        module, func = stage.target.split(":")
        if importlib.util.find_spec(module) is None:
            continue  # not installed: test_a_stage_whose_module_is_absent_is_one_line
        assert callable(getattr(importlib.import_module(module), func)), stage.target
        for script in stage.scripts:
            assert (REPO / script).is_file(), script
