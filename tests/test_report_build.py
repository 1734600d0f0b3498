"""The HTML report: structure, self-containment, numbers against flocshape.stats, units, determinism."""

from __future__ import annotations

import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flocshape.report.build import ReportOptions, build_report
from flocshape.stats.compare import CompareOptions, compare_tables
from flocshape.stats.distributions import DistributionOptions, describe
from flocshape.testing import make_fake_run

SECTIONS = ("overview", "counts", "summary", "distributions", "frames", "comparison", "provenance")


class ReportParser(HTMLParser):
    """Collects section ids, image sources, every attribute value, and the data-* cells."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: list[str] = []
        self.cells: list[dict[str, str]] = []
        self.tags: set[str] = set()
        self.attr_values: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        self.attr_values += [v for k, v in a.items() if k != "src"]
        if tag == "section":
            self.sections.append(a.get("id", ""))
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag == "td" and "data-stat" in a:
            self.cells.append(a)


def parse(path: Path) -> ReportParser:
    p = ReportParser()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def cell(cells: list[dict[str, str]], **want: str) -> dict[str, str]:
    hits = [c for c in cells if all(c.get(f"data-{k.replace('_', '-')}") == v for k, v in want.items())]
    assert len(hits) == 1, (want, len(hits))
    return hits[0]


def folder_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("runs")
    a = make_fake_run(root / "base", n_frames=3, particles_per_frame=14, seed=1, size=(120, 160))
    b = make_fake_run(
        root / "elongated",
        n_frames=3,
        particles_per_frame=14,
        seed=2,
        size=(120, 160),
        aspect_range=(0.3, 0.6),
    )
    return a, b


@pytest.fixture(scope="module")
def report(two_runs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    opts = ReportOptions(color_by="aspect_ratio_feret", n_frames=2)
    return build_report(list(two_runs), out, opts)


def test_sections_present_in_order(report: Path) -> None:
    assert tuple(parse(report).sections) == SECTIONS


def test_self_contained_no_external_urls(report: Path) -> None:
    p = parse(report)
    text = report.read_text(encoding="utf-8")
    assert p.images and all(
        re.fullmatch(r"data:image/(png|jpeg);base64,[A-Za-z0-9+/=]+", s) for s in p.images
    )
    assert not {"script", "link", "iframe"} & p.tags
    assert not re.search(r"https?://|url\(|@import|//cdn", text)
    # plots: 1 counts + 1 cumulative + 6 descriptors; frames: 2 per run
    assert sum(s.startswith("data:image/png") for s in p.images) == 9
    assert sum(s.startswith("data:image/jpeg") for s in p.images) == 4


def test_size_table_matches_distributions(report: Path, two_runs: tuple[Path, Path]) -> None:
    cells = parse(report).cells
    for run in two_runs:
        table = pd.read_parquet(run / "particles.parquet")
        tidy = describe(table, DistributionOptions(size_columns=("ecd_px",), shape_columns=("circularity",)))
        for weighting in ("number", "volume"):
            for stat in ("D10", "D50", "D90", "span"):
                want = tidy[
                    (tidy.variable == "ecd_px") & (tidy.statistic == stat) & (tidy.weighting == weighting)
                ]
                got = cell(cells, stat=stat, run=run.name, descriptor="ecd", weighting=weighting)
                assert float(got["data-value"]) == pytest.approx(float(want.value.iloc[0]), rel=1e-12)
                assert float(got["data-low"]) == pytest.approx(float(want.ci_low.iloc[0]), rel=1e-12)
                assert float(got["data-high"]) == pytest.approx(float(want.ci_high.iloc[0]), rel=1e-12)
        circ = tidy[(tidy.variable == "circularity") & (tidy.statistic == "median")].iloc[0]
        got = cell(cells, stat="median", run=run.name, descriptor="circularity")
        assert float(got["data-value"]) == pytest.approx(float(circ.value), rel=1e-12)
        assert int(
            cell(cells, stat="n", run=run.name, descriptor="circularity")["data-value"].split(".")[0]
        ) == int(circ.n_used)


def test_counts_match_table(report: Path, two_runs: tuple[Path, Path]) -> None:
    cells = parse(report).cells
    for run in two_runs:
        table = pd.read_parquet(run / "particles.parquet")
        assert float(cell(cells, stat="particles", run=run.name)["data-value"]) == len(table)
        assert float(cell(cells, stat="frames", run=run.name)["data-value"]) == 3
        assert (
            float(cell(cells, stat="touches_border", run=run.name)["data-value"])
            == table.touches_border.sum()
        )
        n_shape = (~table.touches_border & ~table.too_small).sum()
        assert float(cell(cells, stat="n_shape", run=run.name)["data-value"]) == n_shape


def test_comparison_matches_compare_tables(report: Path, two_runs: tuple[Path, Path]) -> None:
    p = parse(report)
    base, other = (pd.read_parquet(r / "particles.parquet") for r in two_runs)
    cols = [
        "ecd_px",
        "feret_max_px",
        "feret_min_px",
        "circularity",
        "aspect_ratio_feret",
        "aspect_ratio_ellipse",
        "roundness",
        "solidity",
        "convexity",
    ]  # the report's TABULATED order: the Holm correction runs over this family
    want = compare_tables({"base": base, "elongated": other}, cols, CompareOptions())
    row = want[want.descriptor == "aspect_ratio_feret"].iloc[0]
    got = cell(p.cells, stat="delta_median", run="elongated", descriptor="aspect_ratio_feret")
    assert float(got["data-value"]) == pytest.approx(row.delta_median, rel=1e-12)
    assert float(got["data-low"]) == pytest.approx(row.delta_ci_low, rel=1e-12)
    holm = cell(p.cells, stat="ks_pvalue_holm", run="elongated", descriptor="aspect_ratio_feret")
    assert float(holm["data-value"]) == pytest.approx(row.ks_pvalue_holm, rel=1e-12)
    # the synthetic 'elongated' run has a clearly lower aspect ratio: the verdict must say so
    assert row.delta_ci_high < 0
    assert row.verdict in report.read_text(encoding="utf-8")


def test_scale_converts_lengths_not_ratios(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    px = parse(build_report([two_runs[0]], tmp_path / "px.html", ReportOptions(n_frames=0)))
    um = parse(build_report([two_runs[0]], tmp_path / "um.html", ReportOptions(n_frames=0, um_per_px=2.5)))
    d50_px = float(cell(px.cells, stat="D50", run="base", descriptor="ecd", weighting="number")["data-value"])
    d50_um = float(cell(um.cells, stat="D50", run="base", descriptor="ecd", weighting="number")["data-value"])
    assert d50_um == pytest.approx(2.5 * d50_px, rel=1e-12)
    circ_px = float(cell(px.cells, stat="median", run="base", descriptor="circularity")["data-value"])
    circ_um = float(cell(um.cells, stat="median", run="base", descriptor="circularity")["data-value"])
    assert circ_um == circ_px
    assert "D50 [µm]" in (tmp_path / "um.html").read_text(encoding="utf-8")
    assert "comparison" not in px.sections


def test_deterministic_and_inputs_untouched(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    before = [folder_digest(r) for r in two_runs]
    opts = ReportOptions(n_frames=1)
    first = build_report(list(two_runs), tmp_path / "a" / "report.html", opts).read_bytes()
    second = build_report(list(two_runs), tmp_path / "b" / "report.html", opts).read_bytes()
    assert first == second
    assert [folder_digest(r) for r in two_runs] == before
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["tool"] == "infer/report.py" and manifest["args"]["n_frames"] == 1


def test_default_out_keeps_run_manifest(tmp_path: Path) -> None:
    run = make_fake_run(tmp_path / "run", n_frames=1, particles_per_frame=6, size=(80, 100))
    own = (run / "manifest.json").read_bytes()
    out = build_report([run], opts=ReportOptions(n_frames=1))
    assert out == run / "report.html" and out.is_file()
    assert (run / "manifest.json").read_bytes() == own
    assert json.loads((run / "report.manifest.json").read_text())["tool"] == "infer/report.py"


def test_provenance_shows_the_prediction_settings_the_card_filled_in(tmp_path: Path) -> None:
    run = make_fake_run(tmp_path / "run", n_frames=1, particles_per_frame=6, size=(80, 100))
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["model"] = {"sha256": "c47d9590", "shipped": True, "settings_from": {"refine": "model card"}}
    manifest["settings"] = {"refine_level": 0.5, "refine_inset_px": 0.4, "tile_px": 640}
    (run / "manifest.json").write_text(json.dumps(manifest))
    html = build_report([run], out=tmp_path / "r.html", opts=ReportOptions(n_frames=1)).read_text()
    provenance = html[html.index('id="provenance"') :]
    for text in ("refine_inset_px", "0.4", "c47d9590", "model card", "tile_px"):
        assert text in provenance


def test_journal_counts_frames_without_particles(tmp_path: Path) -> None:
    run = make_fake_run(tmp_path / "run", n_frames=2, particles_per_frame=5, size=(60, 80))
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["frames"] = {"total": 3, "ok": 3}  # infer/predict.py writes counts, not a list
    (run / "manifest.json").write_text(json.dumps(manifest))
    lines = [{"file_name": f"{i:04d}.jpg", "image_id": 100 + i, "status": "ok"} for i in (1, 2, 3)]
    lines.append({"file_name": "0004.jpg", "image_id": 104, "status": "failed"})
    (run / "journal.jsonl").write_text("".join(json.dumps(rec) + "\n" for rec in lines))
    cells = parse(build_report([run], tmp_path / "r.html", ReportOptions(n_frames=0))).cells
    assert float(cell(cells, stat="frames", run="run")["data-value"]) == 3
    assert float(cell(cells, stat="per_frame_min", run="run")["data-value"]) == 0


def test_ground_truth_folder_and_missing_images(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    gt = tmp_path / "gt"
    gt.mkdir()
    table = pd.read_parquet(two_runs[0] / "particles.parquet").assign(score=np.nan)
    table.to_parquet(gt / "particles.parquet")
    moved = tmp_path / "run_without_images"
    moved.mkdir()
    for name in ("particles.parquet", "submission.json"):
        (moved / name).write_bytes((two_runs[1] / name).read_bytes())
    manifest = json.loads((two_runs[1] / "manifest.json").read_text())
    manifest["args"]["source"] = str(tmp_path / "nowhere")
    (moved / "manifest.json").write_text(json.dumps(manifest))
    out = build_report([gt, moved], tmp_path / "r.html", ReportOptions(n_frames=1))
    text = out.read_text(encoding="utf-8")
    assert "gt: no submission.json" in text
    assert "frame images not found" in text and "image not found" in text
    assert "gt: no frame list" in text
    assert tuple(parse(out).sections) == SECTIONS
