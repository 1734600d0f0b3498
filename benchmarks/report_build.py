"""Benchmark infer/report.py: build time and file size, and PNG vs JPEG for the embedded sample frames.

Run: nice python benchmarks/report_build.py [--frames 6] [--particles 40] [--out /tmp/report_bench]
Prints a Markdown table. Synthetic hackathon-sized frames (1024 x 1280) from flocshape.testing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flocshape.report import plots  # noqa: E402
from flocshape.report.build import ReportOptions, build_report  # noqa: E402
from flocshape.report.descriptors import get_descriptor  # noqa: E402
from flocshape.report.frames import frame_outlines, pick_frames, read_grey  # noqa: E402
from flocshape.report.load import load_run  # noqa: E402
from flocshape.testing import make_fake_run  # noqa: E402


def overlay_formats(run_dir: Path) -> list[tuple[str, float, int]]:
    """(format, seconds, bytes) of one sample-frame overlay encoded as PNG and as JPEG (quality 85)."""
    run = load_run(run_dir)
    image_id = pick_frames(run, 1)[0]
    outlines, (h, w) = frame_outlines(run, image_id, get_descriptor("circularity"), None)
    grey, _ = read_grey(run.frame_files[image_id], h, w)
    rows = []
    for fmt in ("png", "jpeg"):
        t0 = time.perf_counter()
        uri = plots.plot_frame_overlay(
            grey, outlines, "Circularity [1]", (0.8, 1.0), "bench", image_format=fmt
        )
        rows.append((fmt, time.perf_counter() - t0, len(uri)))
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=6)
    p.add_argument("--particles", type=int, default=40)
    p.add_argument("--out", type=Path, default=Path("/tmp/report_bench"))
    a = p.parse_args()
    t0 = time.perf_counter()
    runs = [
        make_fake_run(a.out / "A", a.frames, a.particles, seed=1, size=(1024, 1280)),
        make_fake_run(a.out / "B", a.frames, a.particles, seed=2, size=(1024, 1280), aspect_range=(0.3, 0.7)),
    ]
    print(
        f"synthetic runs: {time.perf_counter() - t0:.1f} s ({a.frames} frames x {a.particles} particles each)\n"
    )
    print("| case | wall s | report KB |")
    print("|---|---|---|")
    for label, dirs, opts in (
        ("1 run, 4 sample frames", runs[:1], ReportOptions()),
        ("2 runs + comparison, 4 sample frames each", runs, ReportOptions()),
        ("2 runs + comparison, no sample frames", runs, ReportOptions(n_frames=0)),
    ):
        t0 = time.perf_counter()
        out = build_report(dirs, a.out / "report.html", opts)
        print(f"| {label} | {time.perf_counter() - t0:.2f} | {out.stat().st_size / 1024:.0f} |")
    print("\n| sample-frame overlay (1024 x 1280 frame, 640 px wide) | encode+draw s | data URI KB |")
    print("|---|---|---|")
    for fmt, seconds, size in overlay_formats(runs[0]):
        print(f"| {fmt} | {seconds:.2f} | {size / 1024:.0f} |")


if __name__ == "__main__":
    main()
