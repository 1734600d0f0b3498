"""Bad flags give a one-line error, exit code 2, and write nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from flocshape.errors import run_cli
from flocshape.synth.cli import main


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--frames", "25"], "--frames"),
        (["--frames", "-10"], "--frames"),
        (["--frames", "abc"], "not an integer"),
        (["--test-frac", "1.5"], "--test-frac"),
        (["--test-frac", "0.0"], "--test-frac"),
        (["--preset", "bogus"], "unknown preset"),
        (["--particles-per-frame", "-1"], "--particles-per-frame"),
        (["--bubble-cluster-frac", "-0.1"], "--bubble-cluster-frac"),
        (["--min-visible-frac", "2"], "--min-visible-frac"),
        (["--jpeg-quality", "0"], "--jpeg-quality"),
        (["--size-median-px", "0"], "--size-median-px"),
        (["--workers", "0"], "--workers"),
        (["--bogus", "1"], "unrecognized"),
    ],
)
def test_bad_flag(flags: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ds"
    rc = run_cli(main, ["--out", str(out), "--preset", "small", *flags])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_existing_output_needs_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert run_cli(main, ["--out", str(out), "--preset", "small"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_script_runs_by_path(tmp_path: Path, repo_root: Path) -> None:
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "datasets/synthesize.py", "--out", str(tmp_path / "x"), "--frames", "7"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: command line: --frames: must be a positive multiple of 10")
