"""A tiny training run and a predict run open no network connection and still finish.

Runs in a fresh interpreter so the socket patches are in place before ``ultralytics`` is first imported (its
import-time ``is_online()`` probe included). Every ``connect``/``getaddrinfo``/``create_connection`` raises and
is recorded; the test asserts the record is empty.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

DRIVER = textwrap.dedent(
    """
    import json, socket, sys
    attempts = []

    def refuse(name):
        def blocked(*args, **kwargs):
            attempts.append([name, repr(args[:2])[:200]])
            raise OSError(f"network disabled by test ({name})")
        return blocked

    socket.socket.connect = refuse("socket.connect")
    socket.socket.connect_ex = refuse("socket.connect_ex")
    socket.getaddrinfo = refuse("getaddrinfo")
    socket.create_connection = refuse("create_connection")

    root = sys.argv[1]
    from flocshape.testing import make_toy_dataset, make_toy_frames
    from flocshape.train.wrapper import train
    from flocshape.infer.run import PredictOptions, find_sources, run_predict

    data = make_toy_dataset(root + "/ds", n_train=3, n_val=1)
    result = train(data, "cpu-small", {"epochs": 1, "imgsz": 64, "batch": 3, "workers": 0}, name="net",
                   project=root + "/runs")
    best = result.save_dir / "weights" / "best.pt"
    frames, _ = make_toy_frames(root + "/frames", n_frames=2)
    summary = run_predict(best, find_sources(root + "/frames"), root + "/pred",
                          PredictOptions(conf=0.001, imgsz=96))
    print("RESULT " + json.dumps({"attempts": attempts, "best": best.is_file(), "frames_ok": summary.frames_ok}))
    """
)


@pytest.mark.slow
def test_train_and_predict_open_no_network_connection(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT ") :])
    assert result["best"] is True and result["frames_ok"] == 2
    assert result["attempts"] == [], result["attempts"]
