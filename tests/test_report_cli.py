"""infer/report.py: the command line, one-line errors for bad input, and outline matching."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scriptload import load_script

from flocshape.errors import run_cli
from flocshape.masks import encode_rle
from flocshape.report.descriptors import get_descriptor, with_units
from flocshape.report.frames import match_rows
from flocshape.testing import make_fake_run

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "infer" / "report.py"


def load_cli_main():  # noqa: ANN201 - the script's main function
    return load_script("infer/report.py", "report_cli").main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_fake_run(
        tmp_path_factory.mktemp("cli") / "run", n_frames=2, particles_per_frame=8, size=(90, 120)
    )


def test_cli_writes_report_and_manifest(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "rep.html"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(run_dir), "--out", str(out), "--color-by", "ecd_px", "--frames", "1",
         "--um-per-px", "0.5"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    text = out.read_text(encoding="utf-8")
    assert "D50 [µm]" in text and "Lengths in µm (scale 0.5 µm/px)" in text
    manifest = json.loads((out.parent / "manifest.json").read_text())
    assert manifest["args"]["um_per_px"] == 0.5 and manifest["args"]["color_by"] == "ecd_px"


def test_cli_missing_parquet_is_one_line_error(tmp_path: Path) -> None:
    empty = tmp_path / "run_without_table"
    empty.mkdir()
    (empty / "submission.json").write_text("[]")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(empty)], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "particles.parquet" in lines[0]
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in empty.iterdir()) == ["submission.json"]


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("missing_columns", "missing columns ['ecd_px']"),
        ("corrupt_parquet", "not a readable parquet file"),
        (
            "bad_submission_record",
            "submission.json: prediction 1 (image_id 1): segmentation is not a compressed RLE",
        ),
        ("submission_not_json", "submission.json: invalid JSON"),
        ("unknown_color", "--color-by: unknown descriptor 'hue'"),
        ("not_a_folder", "not a folder"),
    ],
)
def test_bad_input_messages(
    setup: str, expected: str, run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    table = pd.read_parquet(run_dir / "particles.parquet")
    table.to_parquet(bad / "particles.parquet")
    args = [str(bad), "--out", str(tmp_path / "out" / "r.html")]
    if setup == "missing_columns":
        table.drop(columns=["ecd_px"]).to_parquet(bad / "particles.parquet")
    elif setup == "corrupt_parquet":
        (bad / "particles.parquet").write_bytes(b"PAR1 this is not parquet")
    elif setup == "bad_submission_record":
        good = {"image_id": 1, "score": 0.9, "segmentation": encode_rle(np.ones((4, 4), bool))}
        (bad / "submission.json").write_text(
            json.dumps([good, {"image_id": 1, "score": 0.8, "segmentation": [[0, 0, 1, 1]]}])
        )
    elif setup == "submission_not_json":
        (bad / "submission.json").write_text("[{")
    elif setup == "unknown_color":
        args += ["--color-by", "hue"]
    elif setup == "not_a_folder":
        args[0] = str(tmp_path / "nope")
    assert run_cli(load_cli_main(), args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err
    assert not (tmp_path / "out").exists()


def test_match_rows_by_instance_id_then_centroid() -> None:
    masks = [np.zeros((20, 30), bool) for _ in range(3)]
    masks[0][2:6, 2:6] = True
    masks[1][10:18, 5:9] = True
    masks[2][3:5, 20:29] = True
    records = [{"image_id": 7, "segmentation": encode_rle(m)} for m in masks]
    rows = pd.DataFrame({
        "instance_id": [2, 0, 1],
        "area_px": [18, 16, 32],
        "centroid_x_px": [24.0, 3.5, 6.5],
        "centroid_y_px": [3.5, 3.5, 13.5],
    }, index=[10, 11, 12])  # fmt: skip
    assert match_rows(records, rows) == [11, 12, 10]
    shuffled = rows.assign(instance_id=[5, 6, 7])  # ids that do not follow submission order
    assert match_rows(records, shuffled) == [11, 12, 10]
    far = rows.assign(centroid_x_px=[100.0, 100.0, 100.0], instance_id=[9, 9, 9])
    assert match_rows(records, far) == [None, None, None]


def test_descriptor_aliases_and_units() -> None:
    assert get_descriptor("ecd") is get_descriptor("ecd_px") is get_descriptor("ecd_um")
    assert get_descriptor("area_um2").column == "area_px"
    with pytest.raises(KeyError):
        get_descriptor("hue")
    table = pd.DataFrame({"ecd_px": [2.0, 4.0], "area_px": [3.0, 12.0], "circularity": [0.9, 0.8],
                          "ecd_um": [99.0, 99.0]})  # fmt: skip
    scaled = with_units(table, 0.5)
    assert scaled["ecd_um"].tolist() == [1.0, 2.0]  # recomputed from px, stale column ignored
    assert scaled["area_um2"].tolist() == [0.75, 3.0]
    assert scaled["circularity"].tolist() == [0.9, 0.8]
    assert get_descriptor("ecd").unit(0.5) == "µm" and get_descriptor("solidity").unit(0.5) == "1"
    assert table["ecd_um"].tolist() == [99.0, 99.0]  # input not modified
