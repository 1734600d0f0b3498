"""The output policy (flocshape/outputs.py): an earlier output of the same stage is replaced, anything else only
with --overwrite and never an input; folders are replaced by a rename, files by an atomic rename."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from badinput_workspace import build_workspace, snapshot, stage_main

from flocshape.errors import InputError, run_cli
from flocshape.fsio import atomic_dir
from flocshape.outputs import check_not_input, claim_dir, claim_file, is_own_file, manifest_beside


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_workspace(tmp_path_factory.mktemp("policy") / "base")


@pytest.fixture()
def ws(base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import shutil

    work = tmp_path / "ws"
    shutil.copytree(base, work)
    monkeypatch.chdir(work)
    return work


def _run(stage: str, *args: str) -> int:
    return run_cli(stage_main(stage), list(args))


@pytest.mark.parametrize(
    ("stage", "args", "out"),
    [
        ("score", ["--gt", "gt.json", "--pred", "pred.json", "--json"], "s.json"),
        ("tune", ["--gt", "gt.json", "--pred", "pred.json", "--out"], "post/p.json"),
        ("shape", ["--coco", "gt.json", "--out"], "t/particles.parquet"),
        ("shape", ["--coco", "gt.json", "--out"], "t/particles.csv"),
        ("compare", ["run", "other_run", "--no-plots", "--bootstrap", "20", "--out"], "cmp"),
        ("track", ["--pred", "run/submission.json", "--images-json", "images.json", "--bootstrap", "0", "--out"],
         "tracks"),
        ("report", ["run", "--frames", "0", "--out"], "run/report.html"),
    ],
)  # fmt: skip
def test_a_rerun_replaces_its_own_output(stage: str, args: list[str], out: str, ws: Path) -> None:
    assert _run(stage, *args, out) == 0
    first = snapshot(ws)
    assert _run(stage, *args, out) == 0  # no --overwrite needed for the stage's own output
    second = snapshot(ws)
    assert set(second) == set(first), "a rerun leaves no temporary or old copies behind"
    inputs = [k for k in first if k.startswith(("gt.json", "pred.json", "run/particles", "run/submission"))]
    assert all(first[k] == second[k] for k in inputs)


def test_overwrite_replaces_a_foreign_folder_by_a_rename(ws: Path) -> None:
    args = ["run", "other_run", "--no-plots", "--bootstrap", "20", "--out", "notes"]
    assert _run("compare", *args) == 2
    assert (ws / "notes" / "mine.txt").is_file()
    assert _run("compare", *args, "--overwrite") == 0
    assert (ws / "notes" / "comparison.csv").is_file() and not (ws / "notes" / "mine.txt").exists()
    assert not [p for p in ws.iterdir() if p.name.startswith(".notes")], "no hidden old copy is left"


def test_overwrite_never_replaces_an_input(ws: Path) -> None:
    before = snapshot(ws)
    assert _run("score", "--gt", "gt.json", "--pred", "pred.json", "--json", "gt.json", "--overwrite") == 2
    assert _run("compare", "run", "other_run", "--out", "run", "--overwrite") == 2
    assert snapshot(ws) == before


def test_a_new_file_inside_an_input_folder_is_allowed_but_nothing_there_is_replaced(ws: Path) -> None:
    frames = ws / "frames"
    check_not_input(frames / "new.parquet", [frames])
    with pytest.raises(InputError, match="exists inside the input folder"):
        check_not_input(frames / "0001.jpg", [frames])


def test_links_to_an_input_count_as_the_input(ws: Path) -> None:
    os.symlink(ws / "gt.json", ws / "link.json")
    os.link(ws / "pred.json", ws / "hard.json")
    with pytest.raises(InputError, match="is also an input"):
        claim_file(ws / "link.json", "infer/score.py", [ws / "gt.json"], overwrite=True)
    with pytest.raises(InputError, match="is also an input"):
        claim_file(ws / "hard.json", "infer/score.py", [ws / "pred.json"], overwrite=True)


def test_own_outputs_are_recognised_by_their_manifest(tmp_path: Path) -> None:
    embedded = tmp_path / "score.json"
    embedded.write_text(json.dumps({"f1": 1, "manifest": {"tool": "infer/score.py"}}))
    assert is_own_file(embedded, "infer/score.py") and not is_own_file(embedded, "infer/tune.py")
    table = tmp_path / "particles.parquet"
    table.write_bytes(b"PAR1")
    assert not is_own_file(table, "infer/shape.py")
    (tmp_path / "particles.parquet.manifest.json").write_text(json.dumps({"tool": "infer/shape.py"}))
    assert is_own_file(table, "infer/shape.py")
    (tmp_path / "manifest.json").write_text(json.dumps({"tool": "infer/predict.py"}))
    assert manifest_beside(tmp_path / "r.html", "infer/report.py") == tmp_path / "r.manifest.json"
    folder = tmp_path / "cmp"
    folder.mkdir()
    assert claim_dir(folder, "infer/compare.py") == folder.absolute()  # empty: free to use
    (folder / "x.txt").write_text("x")
    with pytest.raises(InputError, match="not an earlier output"):
        claim_dir(folder, "infer/compare.py")
    (folder / "manifest.json").write_text(json.dumps({"tool": "infer/compare.py"}))
    assert claim_dir(folder, "infer/compare.py") == folder.absolute()


def test_atomic_dir_replaces_a_file_or_link_without_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.write_text("old file")
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("new")
    assert (target / "a.txt").read_text() == "new"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("keep")
    target2 = tmp_path / "link"
    target2.symlink_to(elsewhere)
    with atomic_dir(target2) as tmp:
        (tmp / "b.txt").write_text("new")
    assert (elsewhere / "keep.txt").read_text() == "keep", "the folder a link points to is not touched"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "link", "out"]
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "failed") as tmp:
        (tmp / "half.txt").write_text("half")
        raise RuntimeError("stop")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "link", "out"]


def test_an_unwritable_destination_met_late_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The safety net of run_cli: a file-system error about a named path (here: the parent turned into a file
    after the checks) is reported in one line with exit code 2."""

    def main(argv: object) -> int:
        from flocshape.fsio import atomic_write_text

        (tmp_path / "parent").write_text("now a file")
        atomic_write_text(tmp_path / "parent" / "x.txt", "x")
        return 0

    assert run_cli(main, []) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {tmp_path / 'parent'}")
