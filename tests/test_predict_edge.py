"""infer/predict.py around the network, with a stand-in segmenter (bright blobs of the frame): an empty result is a
full table, a frame changed on disk is predicted again on --resume, a run that fails before its first frame leaves
no folder behind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from scriptload import load_script

from flocshape.errors import run_cli
from flocshape.shape import schema
from flocshape.testing import make_toy_frames


class BlobSegmenter:
    """Every bright connected blob of the frame is an instance (score 0.9); counts the frames it saw."""

    frames_seen = 0
    fail_after: int | None = None  # raise on the frame after this many

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def instances(self, image: np.ndarray, timings: object) -> list:
        from flocshape.infer.engine import Instance
        from flocshape.infer.protomask import CropMask

        if BlobSegmenter.fail_after is not None and BlobSegmenter.frames_seen >= BlobSegmenter.fail_after:
            raise RuntimeError("segmenter failed")
        BlobSegmenter.frames_seen += 1
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        n, labels = cv2.connectedComponents((grey > 140).astype(np.uint8))
        out = []
        for k in range(1, n):
            mask = labels == k
            if mask.sum() >= 20:
                out.append(Instance(CropMask(mask, 0, 0, mask.shape).tight(), 0.9, 0, (0.0, 0.0, 1.0, 1.0)))
        return out


@pytest.fixture()
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    from flocshape.infer import run as run_module

    monkeypatch.setattr(run_module, "Segmenter", BlobSegmenter)
    BlobSegmenter.frames_seen, BlobSegmenter.fail_after = 0, None
    make_toy_frames(tmp_path / "frames", n_frames=4, seed=3)
    model = tmp_path / "fake.pt"
    model.write_bytes(b"not used")
    main = load_script("infer/predict.py", "predict_edge_cli").main
    return {"root": tmp_path, "main": main, "base": ["--model", str(model), "--imgsz", "128"]}


def _predict(setup: dict, source: Path, out: Path, *extra: str) -> int:
    return run_cli(setup["main"], [*setup["base"], "--source", str(source), "--out", str(out), *extra])


def test_no_detection_writes_the_full_empty_table(setup: dict, capsys: pytest.CaptureFixture[str]) -> None:
    root: Path = setup["root"]
    dark = root / "dark"
    dark.mkdir()
    for k in (1, 2):
        cv2.imwrite(str(dark / f"{k:04d}.png"), np.zeros((40, 50, 3), np.uint8))
    assert _predict(setup, dark, root / "none", "--um-per-px", "2") == 0
    table = pd.read_parquet(root / "none" / "particles.parquet")
    assert len(table) == 0 and json.loads((root / "none" / "submission.json").read_text()) == []
    assert set(schema.COLUMN_NAMES) | {"low_score", "um_per_px", "ecd_um"} <= set(table.columns)
    assert _predict(setup, root / "frames", root / "some") == 0
    from flocshape.stats.cli import main as compare_main

    capsys.readouterr()
    args = [
        str(root / "some"),
        str(root / "none"),
        "--out",
        str(root / "cmp"),
        "--no-plots",
        "--bootstrap",
        "50",
    ]
    assert run_cli(compare_main, args) == 0
    out = capsys.readouterr()
    assert "no particles in none" in out.out and "warning:" in out.err
    report = load_script("infer/report.py", "report_edge_cli").main
    assert run_cli(report, [str(root / "none"), "--out", str(root / "r.html"), "--frames", "1"]) == 0
    assert "no particles in" in (root / "r.html").read_text()


def test_resume_predicts_a_changed_frame_again(setup: dict, capsys: pytest.CaptureFixture[str]) -> None:
    root: Path = setup["root"]
    assert _predict(setup, root / "frames", root / "run") == 0
    assert BlobSegmenter.frames_seen == 4
    journal = root / "run" / "journal.jsonl"
    assert all(len(json.loads(line)["sha256"]) == 64 for line in journal.read_text().splitlines())
    _, other = make_toy_frames(root / "other", n_frames=1, seed=9)
    shutil.copyfile(root / "other" / "0001.jpg", root / "frames" / "0002.jpg")
    capsys.readouterr()
    assert _predict(setup, root / "frames", root / "run", "--resume") == 0
    assert BlobSegmenter.frames_seen == 5, "only the changed frame is predicted again"
    assert "1 frame(s) changed since they were predicted" in capsys.readouterr().err
    assert _predict(setup, root / "frames", root / "fresh") == 0
    assert (root / "run" / "submission.json").read_text() == (root / "fresh" / "submission.json").read_text()


def test_an_older_journal_without_hashes_is_predicted_again(setup: dict) -> None:
    root: Path = setup["root"]
    assert _predict(setup, root / "frames", root / "run") == 0
    journal = root / "run" / "journal.jsonl"
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    journal.write_text(
        "".join(json.dumps({k: v for k, v in rec.items() if k != "sha256"}) + "\n" for rec in lines)
    )
    assert _predict(setup, root / "frames", root / "run", "--resume") == 0
    assert BlobSegmenter.frames_seen == 8


def test_a_run_failing_before_its_first_frame_leaves_nothing(setup: dict) -> None:
    root: Path = setup["root"]
    BlobSegmenter.fail_after = 0
    with pytest.raises(RuntimeError):
        _predict(setup, root / "frames", root / "new" / "run")
    assert not (root / "new").exists(), "the folders this run created are gone"
    BlobSegmenter.fail_after = 2
    with pytest.raises(RuntimeError):
        _predict(setup, root / "frames", root / "run")
    assert len((root / "run" / "journal.jsonl").read_text().splitlines()) == 2, "finished frames are kept"
    BlobSegmenter.fail_after = None
    assert _predict(setup, root / "frames", root / "run", "--resume") == 0
    assert BlobSegmenter.frames_seen == 4
