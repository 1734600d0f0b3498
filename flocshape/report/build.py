"""Assemble the self-contained HTML report from one or more run folders.

Sections (each an ``<section id=...>``): ``overview``, ``counts``, ``summary``, ``distributions``, ``frames``,
``comparison`` (only with several runs; the first run is the baseline) and ``provenance``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np

from flocshape.errors import input_error
from flocshape.fsio import atomic_write_json, atomic_write_text
from flocshape.manifest import build_manifest, describe_input
from flocshape.outputs import claim_file, manifest_beside, run_files
from flocshape.report import html as H
from flocshape.report.descriptors import PLOTTED, TABULATED, Descriptor, descriptor_names, get_descriptor
from flocshape.report.frames import frame_outlines, pick_frames, read_grey
from flocshape.report.load import RunData, load_run
from flocshape.report.plots import (
    Sample,
    plot_counts_per_frame,
    plot_distribution,
    plot_frame_overlay,
    plot_size_cumulative,
)
from flocshape.report.sections import (
    color_range,
    comparison_rows,
    count_summary,
    descriptor_values,
    per_frame_counts,
    size_rows,
    summary_rows,
)
from flocshape.report.stats_bridge import CONFIDENCE, N_RESAMPLES

TOOL = "infer/report.py"


@dataclass(frozen=True)
class ReportOptions:
    """What to draw. ``um_per_px``: scale (None = pixel units); ``color_by``: descriptor for outlines."""

    color_by: str = "circularity"
    um_per_px: float | None = None
    n_frames: int = 4
    title: str = "Particle shape report"


def section(section_id: str, title: str, body: str) -> str:
    """One ``<section>`` with an ``<h2>`` heading."""
    return f'<section id="{section_id}">\n<h2>{escape(title)}</h2>\n{body}\n</section>\n'


def overview_section(runs: Sequence[RunData], opts: ReportOptions) -> str:
    """Which runs, which unit, which exclusions, and every note about missing inputs."""
    unit = (
        f"µm (scale {H.fmt(opts.um_per_px)} µm/px)"
        if opts.um_per_px
        else "pixels (no scale given: --um-per-px)"
    )
    items = "".join(
        f"<li><b>{escape(r.label)}</b>: <code>{escape(str(r.path))}</code>"
        f"{' (baseline)' if i == 0 and len(runs) > 1 else ''}</li>"
        for i, r in enumerate(runs)
    )
    body = (
        f"<ul>{items}</ul><p>Lengths in {escape(unit)}. Size statistics leave out particles touching the image "
        "border (their true size is unknown) and detections flagged <i>low score</i> (below the run's measurement "
        "threshold, chosen on validation frames); shape statistics also leave out particles flagged "
        "<i>too small</i> for meaningful shape numbers. Counts include every detection. Intervals are "
        f"{int(CONFIDENCE * 100)} % percentile-bootstrap confidence intervals ({N_RESAMPLES} resamples, "
        "fixed seed; 2000 for comparisons). Volume-weighted sizes assume spheres of diameter ECD.</p>"
    )
    body += "".join(
        H.note(f"{r.label}: no particles in {r.path / 'particles.parquet'}: its statistics are empty")
        for r in runs
        if r.particles.empty
    )
    body += "".join(H.note(f"{r.label}: {n}") for r in runs for n in r.notes)
    return section("overview", "Overview", body)


def counts_section(runs: Sequence[RunData]) -> str:
    """Counts table and the particles-per-frame histogram."""
    header = [
        "run",
        "frames",
        "particles",
        "per frame: mean",
        "median",
        "min",
        "max",
        "touch border",
        "low score",
        "too small",
        "N size stats",
        "N shape stats",
        "median score",
    ]
    rows = []
    for r in runs:
        c = count_summary(r)
        rows.append(
            [H.text_cell(r.label)]
            + [
                H.num_cell(v, k, run=r.label)
                for k, v in (
                    ("frames", c.frames),
                    ("particles", c.particles),
                    ("per_frame_mean", c.per_frame_mean),
                    ("per_frame_median", c.per_frame_median),
                    ("per_frame_min", c.per_frame_min),
                    ("per_frame_max", c.per_frame_max),
                    ("touches_border", c.touches_border),
                    ("low_score", c.low_score),
                    ("too_small", c.too_small),
                    ("n_size", c.n_size),
                    ("n_shape", c.n_shape),
                    ("score_median", c.score_median),
                )
            ]
        )
    plot = plot_counts_per_frame([Sample(r.label, per_frame_counts(r)) for r in runs])
    return section("counts", "Counts", H.table(header, rows, "counts") + H.image(plot, "particles per frame"))


def summary_section(runs: Sequence[RunData], opts: ReportOptions) -> str:
    """Size percentiles (number and volume weighted) and the per-descriptor summary with CIs."""
    unit = get_descriptor("ecd").unit(opts.um_per_px)
    size_header = ["run", "weighting", "N", f"D10 [{unit}]", f"D50 [{unit}]", f"D90 [{unit}]", "span"]
    size_body = []
    for row in size_rows(runs, opts.um_per_px):
        attrs = {"run": row.run, "descriptor": "ecd", "weighting": row.weighting}
        size_body.append(
            [H.text_cell(row.run), H.text_cell(row.weighting), H.num_cell(row.n, "n", **attrs)]
            + [
                H.ci_cell(e.value, e.low, e.high, k, **attrs)
                for k, e in (("D10", row.d10), ("D50", row.d50), ("D90", row.d90), ("span", row.span))
            ]
        )
    header = ["descriptor", "run", "unit", "N", "median [95 % CI]", "mean [95 % CI]", "P10", "P90"]
    body = []
    order = {name: i for i, name in enumerate(TABULATED)}
    for row in sorted(summary_rows(runs, opts.um_per_px), key=lambda r: order[r.descriptor.name]):
        d = row.descriptor
        attrs = {"run": row.run, "descriptor": d.name}
        body.append(
            [
                H.text_cell(d.label),
                H.text_cell(row.run),
                H.text_cell(d.unit(opts.um_per_px)),
                H.num_cell(row.n, "n", **attrs),
                H.ci_cell(row.median.value, row.median.low, row.median.high, "median", **attrs),
                H.ci_cell(row.mean.value, row.mean.low, row.mean.high, "mean", **attrs),
                H.num_cell(row.p10, "p10", **attrs),
                H.num_cell(row.p90, "p90", **attrs),
            ]
        )
    text = (
        "<h3>Size: equivalent circle diameter (ECD)</h3><p class='muted'>Number-weighted (Dn, every particle "
        "counts once) and volume-weighted (Dv, each particle weighs the volume of a sphere of diameter ECD) "
        "percentiles; span = (D90 − D10) / D50. N = particles used (border-touching and low-score excluded).</p>"
        + H.table(size_header, size_body, "size")
        + "<h3>All descriptors</h3><p class='muted'>Number-weighted. For size descriptors the median is Dn50 and "
        "P10/P90 are Dn10/Dn90.</p>" + H.table(header, body, "summary")
    )
    return section("summary", "Summary statistics", text)


def distributions_section(runs: Sequence[RunData], opts: ReportOptions) -> str:
    """Number/volume cumulative size plot, then a histogram + ECDF per plotted descriptor."""
    ecd = get_descriptor("ecd")
    parts = [
        H.image(
            plot_size_cumulative(
                [Sample(r.label, descriptor_values(r.particles, ecd, opts.um_per_px)) for r in runs],
                ecd.axis_label(opts.um_per_px),
            ),
            "cumulative size distribution",
        )
    ]
    for name in PLOTTED:
        d = get_descriptor(name)
        present = [r for r in runs if d.column in r.particles.columns]
        if not present:
            parts.append(H.note(f"{d.label}: column {d.column} not in any particle table"))
            continue
        samples = [Sample(r.label, descriptor_values(r.particles, d, opts.um_per_px)) for r in present]
        parts.append(f"<h3>{escape(d.label)}</h3>")
        parts.append(H.image(plot_distribution(samples, d.axis_label(opts.um_per_px), d.label), d.label))
    return section("distributions", "Size and shape distributions", "\n".join(parts))


def frames_section(runs: Sequence[RunData], opts: ReportOptions, color: Descriptor) -> str:
    """Sample frames of each run with outlines coloured by ``color``."""
    vrange = color_range(runs, color, opts.um_per_px)
    parts = [
        f"<p>Outlines coloured by <b>{escape(color.label)}</b> [{escape(color.unit(opts.um_per_px))}]; the "
        f"colour scale spans the 2nd–98th percentile of all runs ({H.fmt(vrange[0])} to {H.fmt(vrange[1])}), "
        "values beyond it take the end colours. Choose another descriptor with <code>--color-by</code>.</p>"
    ]
    for r in runs:
        if not r.has_outlines:
            parts.append(H.note(f"{r.label}: no submission.json, so no outlines to draw"))
            continue
        parts.append(f'<h3>{escape(r.label)}</h3><div class="frames">')
        for image_id in pick_frames(r, opts.n_frames):
            outlines, (h, w) = frame_outlines(r, image_id, color, opts.um_per_px)
            grey, found = read_grey(r.frame_files.get(image_id), h, w)
            name = r.frame_names.get(image_id) or f"image_id {image_id}"
            title = f"{r.label}: {Path(name).name} (image_id {image_id}, {len(outlines)} outlines)"
            if not found:
                title += "\nimage not found: outlines on black"
            uri = plot_frame_overlay(grey, outlines, color.axis_label(opts.um_per_px), vrange, title)
            parts.append(H.image(uri, title))
        parts.append("</div>")
    return section("frames", "Sample frames", "\n".join(parts))


def comparison_section(runs: Sequence[RunData], opts: ReportOptions) -> str:
    """Each run against the first (baseline): Δmedian with CI, KS, Wasserstein, effect size, verdict."""
    base = runs[0]
    header = [
        "run",
        "descriptor",
        "N base / run",
        "median base → run",
        "Δmedian [95 % CI]",
        "Δ % [95 % CI]",
        "KS D",
        "KS p (Holm)",
        "Wasserstein",
        "Cliff's δ",
    ]
    body, verdicts = [], []
    for row in comparison_rows(runs, opts.um_per_px):
        c, d = row.result, row.descriptor
        attrs = {"run": row.other, "descriptor": d.name}
        unit = d.unit(opts.um_per_px)
        body.append(
            [
                H.text_cell(row.other),
                H.text_cell(f"{d.short_label} [{unit}]"),
                f'<td data-stat="n">{c.n_a} / {c.n_b}</td>',
                f'<td data-stat="medians">{H.fmt(c.median_a)} → {H.fmt(c.median_b)}</td>',
                H.ci_cell(
                    c.delta_median.value, c.delta_median.low, c.delta_median.high, "delta_median", **attrs
                ),
                H.ci_cell(
                    c.delta_rel_pct.value, c.delta_rel_pct.low, c.delta_rel_pct.high, "delta_rel_pct", **attrs
                ),
                H.num_cell(c.ks_statistic, "ks_statistic", **attrs),
                H.num_cell(c.ks_pvalue_holm, "ks_pvalue_holm", p_value=True, **attrs),
                H.num_cell(c.wasserstein, "wasserstein", **attrs),
                f'<td data-stat="cliffs_delta" data-value="{c.cliffs_delta!r}">{H.fmt(c.cliffs_delta, 2)} '
                f'<span class="muted">{escape(c.cliffs_magnitude)}</span></td>',
            ]
        )
        verdicts.append((c.significant, c.verdict))
    changed = [v for sig, v in verdicts if sig]
    same = [v for sig, v in verdicts if not sig]
    lines = "".join(f'<li class="verdict">{escape(v)}</li>' for v in changed)
    lines += "".join(f'<li class="muted">{escape(v)}</li>' for v in same)
    text = (
        f"<p>Baseline: <b>{escape(base.label)}</b>; Δ = run − baseline, on the particles that count (see "
        "Overview). A change is called significant when the bootstrap CI of Δmedian excludes 0. KS p-values are "
        "Holm-adjusted over all rows; with many particles they flag tiny shifts, so read them with Δmedian and "
        "Cliff's δ (|δ| &lt; 0.147 negligible, &lt; 0.33 small, &lt; 0.474 medium, else large). The overlaid "
        "distributions are in the section above.</p>"
        f'<ul class="verdicts">{lines}</ul>' + H.table(header, body, "comparison")
    )
    return section("comparison", "Comparison between runs", text)


def provenance_section(runs: Sequence[RunData], opts: ReportOptions) -> str:
    """Each run's manifest (tool, time, commit; for an ``infer/predict.py`` run the model block and the resolved
    settings, i.e. what the model card filled in, such as the refinement level and inset; arguments) and the
    report's own options."""
    parts = []
    for r in runs:
        m = r.manifest or {}
        keep = {
            k: m.get(k) for k in ("tool", "created_utc", "git_commit", "model", "settings", "args") if k in m
        }
        shown = json.dumps(keep, indent=1, ensure_ascii=False, default=str) if keep else "no manifest.json"
        parts.append(f"<h3>{escape(r.label)}</h3><pre>{escape(shown)}</pre>")
    parts.append(
        f"<p class='muted'>Report options: {escape(json.dumps(opts.__dict__, ensure_ascii=False))}</p>"
    )
    return section("provenance", "Provenance", "\n".join(parts))


def render_report(runs: Sequence[RunData], opts: ReportOptions) -> str:
    """The complete HTML document for ``runs`` (deterministic: no clock, fixed bootstrap seed)."""
    try:
        color = get_descriptor(opts.color_by)
    except KeyError:
        raise input_error(
            "--color-by", f"unknown descriptor {opts.color_by!r}; choose from {', '.join(descriptor_names())}"
        ) from None
    with np.errstate(all="ignore"):
        body = [
            f"<h1>{escape(opts.title)}</h1>",
            overview_section(runs, opts),
            counts_section(runs),
            summary_section(runs, opts),
            distributions_section(runs, opts),
            frames_section(runs, opts, color),
        ]
        if len(runs) > 1:
            body.append(comparison_section(runs, opts))
        body.append(provenance_section(runs, opts))
    return H.page(opts.title, "\n".join(body))


def default_out(run_dirs: Sequence[Path]) -> Path:
    """``RUN_DIR/report.html`` of the first run."""
    return Path(run_dirs[0]) / "report.html"


def build_report(
    run_dirs: Sequence[str | Path],
    out: str | Path | None = None,
    opts: ReportOptions | None = None,
    images_dir: str | Path | None = None,
    labels: Sequence[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Load the runs, write the report atomically to ``out`` (default ``RUN_DIR/report.html``) and a manifest.

    ``out`` follows the output policy of :mod:`flocshape.outputs` (it never replaces a run's files; an earlier
    report is replaced, another existing file only with ``overwrite``). The manifest goes to ``manifest.json``
    next to the report when that folder has none yet (or it is this report's), else to
    ``<report stem>.manifest.json`` so a run folder's own manifest is never overwritten. Returns the report path.
    """
    opts = opts or ReportOptions()
    if opts.um_per_px is not None and not (opts.um_per_px > 0 and np.isfinite(opts.um_per_px)):
        raise input_error("--um-per-px", f"must be a positive number, got {opts.um_per_px}")
    paths = [Path(p) for p in run_dirs]
    out_path = Path(out) if out is not None else default_out(paths)
    manifest_path = manifest_beside(out_path, TOOL)
    inputs = [f for p in paths for f in run_files(p)] + [Path(images_dir) if images_dir else None]
    claim_file(out_path, TOOL, inputs, overwrite, companions=[manifest_path])
    names = list(labels) if labels else _unique_labels(paths)
    runs = [load_run(p, images_dir, label) for p, label in zip(paths, names, strict=True)]
    for r in runs:
        if r.particles.empty:
            print(f"warning: {r.path}: no particles; the report says so", file=sys.stderr)
    document = render_report(runs, opts)
    atomic_write_text(out_path, document)
    manifest = build_manifest(
        TOOL,
        {
            "runs": [str(p) for p in paths],
            "out": str(out_path),
            "images": str(images_dir) if images_dir else None,
            **opts.__dict__,
        },
        inputs={
            f"{label}/particles.parquet": describe_input(p / "particles.parquet")
            for p, label in zip(paths, names, strict=True)
        },
        outputs={"report": describe_input(out_path)},
    )
    atomic_write_json(manifest_path, manifest)
    return out_path


def _unique_labels(paths: Sequence[Path]) -> list[str]:
    """Run labels from folder names, made unique with the parent folder name or a number where they clash."""
    labels = [p.resolve().name for p in paths]
    if len(set(labels)) < len(labels):
        labels = [f"{p.resolve().parent.name}/{p.resolve().name}" for p in paths]
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        seen[lab] = seen.get(lab, 0) + 1
        out.append(lab if seen[lab] == 1 else f"{lab} ({seen[lab]})")
    return out
