"""The bad-input matrix (tests/badinput_cases.py): every kind of bad input to every stage gives exit code 2 and one
line ``error: ...`` (or, where documented, exit 0 and a ``warning: ...`` line, or an answer that says what it cannot
conclude), never a traceback; no input or
other file changes (sha256 of every file of the workspace before and after) and, on an error, nothing is written.
The neural network is never loaded (predict cases fail before it). docs/reliability.md tabulates every case.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from badinput_cases import CASES
from badinput_workspace import Case, build_workspace, run_case


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_workspace(tmp_path_factory.mktemp("badinput") / "base")


def test_the_matrix_has_at_least_100_kinds() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) >= 100 and len(set(ids)) == len(ids)
    assert {c.outcome for c in CASES} == {"error", "warning", "answer"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input(case: Case, base: Path, tmp_path: Path) -> None:
    result = run_case(case, base, tmp_path / "ws")
    assert not result.changed and not result.removed, (result.changed, result.removed)
    if case.outcome == "error":
        assert result.rc == 2, result.err
        assert len(result.err) == 1 and result.err[0].startswith("error: "), result.err
        assert case.expect in result.err[0], result.err
        assert not result.added, result.added
    elif case.outcome == "answer":
        assert result.rc == 0 and not result.err, result.err
        assert case.expect in result.out and result.added
    else:
        assert result.rc == 0, result.err
        assert result.err and all(e.startswith("warning: ") for e in result.err), result.err
        assert any(case.expect in e for e in result.err), result.err
        assert result.added, "a warning does not stop the output"


def test_docs_table_lists_every_case(repo_root: Path) -> None:
    text = (repo_root / "docs" / "reliability.md").read_text(encoding="utf-8")
    assert [c.id for c in CASES if f"`{c.id}`" not in text] == []


@pytest.mark.parametrize(
    ("script", "args", "needle"),
    [
        ("infer/predict.py", ["--source", "frames", "--out", "r", "--conf", "nan"], "--conf: must be"),
        ("infer/compare.py", ["run", "run", "--out", "run"], "contains the input"),
        (
            "infer/score.py",
            ["--gt", "gt.json", "--pred", "pred.json", "--json", "gt.json"],
            "is also an input",
        ),
    ],
)
def test_scripts_by_path_print_one_line(script: str, args: list[str], needle: str, base: Path, repo_root: Path,
                                        tmp_path: Path) -> None:  # fmt: skip
    """The scripts themselves (run by path, as users do): exit 2, one line, no traceback, nothing written."""
    import shutil

    ws = tmp_path / "ws"
    shutil.copytree(base, ws)
    before = sorted(str(p.relative_to(ws)) for p in ws.rglob("*"))
    proc = subprocess.run([sys.executable, str(repo_root / script), *args], cwd=ws, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    assert sorted(str(p.relative_to(ws)) for p in ws.rglob("*")) == before
