"""Start a stage as a subprocess and SIGKILL it once its journal has enough lines (kill -9 / --resume tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def kill_after_journal_lines(cmd: Sequence[str], journal: Path, lines: int, timeout_s: float = 240) -> int:
    """Run ``cmd`` from the repository root, SIGKILL it when ``journal`` holds ``lines`` lines; the lines then.

    Fails the test when the run finished before it could be killed.
    """
    proc = subprocess.Popen(list(cmd), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_bytes().count(b"\n") >= lines:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    return journal.read_bytes().count(b"\n")
