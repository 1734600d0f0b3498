"""Speed and memory of the synthetic generator: prints a markdown table.

Usage: ``python benchmarks/bench_synth.py [--frames 40] [--out /tmp/bench_synth]``

Each row runs ``datasets/synthesize.py`` in a fresh subprocess and reports wall-clock frames per second,
CPU seconds per *output* frame (user + system of the process and its workers, which on a shared machine
is the fairer number), and the peak resident memory of the largest process. Compared: 1 vs 2 worker
processes at full size (1024 x 1280), and the ``small`` preset.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_case(out: Path, extra: list[str]) -> dict[str, float]:
    """Run the generator once in a child process; return wall, CPU and memory figures."""
    shutil.rmtree(out, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "datasets/synthesize.py", "--out", str(out), *extra],
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    card = json.loads((out / "card.json").read_text())
    frames = sum(card["statistics"]["images"].values())
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {
        "frames": frames,
        "wall_s": wall,
        "fps": frames / wall,
        "cpu_s_per_frame": cpu / frames,
        "peak_rss_mb": after.ru_maxrss / 1024.0,
        "mb_per_frame": size / frames / 1e6,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=40, help="video frames per full-size case (multiple of 10)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench_synth"), help="scratch folder")
    args = ap.parse_args()
    cases = [
        ("hackathon, 1 worker", ["--frames", str(args.frames), "--workers", "1"]),
        ("hackathon, 2 workers", ["--frames", str(args.frames), "--workers", "2"]),
        ("small preset, 1 worker", ["--preset", "small", "--workers", "1"]),
    ]
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    print(
        "| case | output frames | wall s | frames/s (wall) | CPU s per frame | peak RSS MB | MB per frame |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, extra in cases:
        r = run_case(args.out / name.split(",")[0].replace(" ", "_"), extra)
        print(
            f"| {name} | {r['frames']} | {r['wall_s']:.1f} | {r['fps']:.2f} | {r['cpu_s_per_frame']:.3f} | "
            f"{r['peak_rss_mb']:.0f} | {r['mb_per_frame']:.2f} |",
            flush=True,
        )
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
