"""``infer/compare.py``: compare particle tables of batches and write a comparison folder.

Output folder (written atomically, all or nothing): ``comparison.csv``, ``verdicts.txt``,
``summary.json``, ``distributions.csv`` (dataset-level D-values and shape medians of every input,
see :mod:`flocshape.stats.distributions`), ``plots/<descriptor>.png`` (overlaid ECDFs and
histograms), ``plots/shape_vs_size.png`` and ``manifest.json``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from flocshape.cliargs import Parser, integer, open_fraction, positive, real
from flocshape.errors import input_error
from flocshape.fsio import atomic_dir, atomic_write_bytes, atomic_write_json, atomic_write_text, table_bytes
from flocshape.manifest import build_manifest, describe_input, write_manifest
from flocshape.outputs import claim_dir
from flocshape.stats.compare import (
    DEFAULT_DESCRIPTORS,
    MIN_PARTICLES,
    SCALED_COLUMNS,
    CompareOptions,
    add_scale,
    compare_tables,
    counted_rows,
    descriptor_values,
    load_particle_table,
)
from flocshape.stats.distributions import DistributionOptions, dataset_distribution
from flocshape.stats.plots import plot_descriptor, plot_shape_vs_size

_SCATTER_SHAPES = ("circularity", "elongation", "solidity")
TOOL = "infer/compare.py"


def table_path(path: str | Path) -> Path:
    """The particle table an input names: ``RUN/particles.parquet`` for a run folder, else the file itself."""
    p = Path(path)
    return p / "particles.parquet" if p.is_dir() else p


def unique_labels(paths: Sequence[str], labels: Sequence[str] | None) -> list[str]:
    """Labels for the inputs: given ones, else the folder name (run folder) or file stem, made unique."""
    if labels:
        if len(labels) != len(paths):
            raise input_error("--labels", f"{len(labels)} labels for {len(paths)} inputs")
        if len(set(labels)) != len(labels):
            raise input_error("--labels", "labels must be unique")
        return list(labels)
    out: list[str] = []
    for p in paths:
        path = Path(p)
        base = path.name if path.is_dir() else path.stem
        label, k = base, 2
        while label in out:
            label, k = f"{base}_{k}", k + 1
        out.append(label)
    return out


def resolve_descriptors(
    tables: dict[str, pd.DataFrame], paths: dict[str, str], requested: Sequence[str] | None, scaled: bool
) -> list[str]:
    """Descriptors to compare: the requested ones (each must exist in every table), else the defaults
    present in all tables; with a scale, ``_px`` length/area columns are replaced by their ``_um`` ones.
    """
    if requested:
        for label, table in tables.items():
            missing = [d for d in requested if d not in table.columns]
            if missing:
                raise input_error(paths[label], f"no column(s) {', '.join(missing)}")
        return list(requested)
    chosen = []
    for d in DEFAULT_DESCRIPTORS:
        name = SCALED_COLUMNS[d][0] if scaled and d in SCALED_COLUMNS else d
        if all(name in t.columns for t in tables.values()):
            chosen.append(name)
    if not chosen:
        worst = min(tables, key=lambda k: sum(d in tables[k].columns for d in DEFAULT_DESCRIPTORS))
        raise input_error(
            paths[worst],
            f"none of the default descriptors ({', '.join(DEFAULT_DESCRIPTORS)}) is in every table",
        )
    return chosen


def shape_size_pairs(
    tables: dict[str, pd.DataFrame], size_name: str, shapes: Sequence[str], opt: CompareOptions
) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """``{shape: {label: (size, shape)}}`` of the particles that count for shape statistics, both finite."""
    pairs: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for shape in shapes:
        pairs[shape] = {}
        for label, t in tables.items():
            size = t[size_name].to_numpy(float)
            value = t[shape].to_numpy(float)
            keep = counted_rows(t, for_size=False, options=opt) & np.isfinite(size) & np.isfinite(value)
            pairs[shape][label] = (size[keep], value[keep])
    return pairs


def _summary(
    comparison: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    inputs: dict[str, str],
    opt: CompareOptions,
    descriptors: Sequence[str],
    um_per_px: float | None,
) -> dict[str, object]:
    records = comparison.replace({np.nan: None}).to_dict("records")
    return {
        "reference": next(iter(tables)),
        "inputs": inputs,
        "n_particles": {label: len(t) for label, t in tables.items()},
        "descriptors": list(descriptors),
        "um_per_px": um_per_px,
        "options": opt.as_dict(),
        "effect_size": "Cliff's delta = P(b > a) - P(b < a); Romano et al. 2006 magnitude labels",
        "multiple_testing": "ks_pvalue_holm: Holm adjustment over all rows of comparison.csv; the verdict "
        "uses the per-descriptor bootstrap CI of the median change",
        "min_particles": opt.min_particles,
        "min_particles_rule": "no change is called significant unless both samples hold at least "
        "min_particles particles (enough_particles); the verdict then says so",
        "significant_ci": int(comparison["significant_ci"].sum()),
        "significant_holm": int(
            ((comparison["ks_pvalue_holm"] < opt.alpha) & comparison["enough_particles"]).sum()
        ),
        "comparisons": records,
    }


def run_compare(
    paths: Sequence[str],
    out: str | Path,
    labels: Sequence[str] | None = None,
    descriptors: Sequence[str] | None = None,
    um_per_px: float | None = None,
    options: CompareOptions | None = None,
    plots: bool = True,
    overwrite: bool = False,
) -> pd.DataFrame:
    """Load the tables, compare them (first = reference), write the output folder; returns comparison.csv.

    ``out`` follows the output policy of :mod:`flocshape.outputs` (an earlier compare output is replaced, any
    other existing folder only with ``overwrite``). A table without particles is compared as empty: its
    verdicts say "no particles".
    """
    opt = options or CompareOptions()
    if len(paths) < 2:
        raise input_error("compare", "give at least two inputs (A B [C ...])")
    claim_dir(out, TOOL, [table_path(p) for p in paths], overwrite)
    names = unique_labels(paths, labels)
    tables = {label: load_particle_table(p) for label, p in zip(names, paths, strict=True)}
    if um_per_px is not None:
        tables = {label: add_scale(t, um_per_px) for label, t in tables.items()}
    inputs = dict(zip(names, (str(p) for p in paths), strict=True))
    chosen = resolve_descriptors(tables, inputs, descriptors, scaled=um_per_px is not None)
    for label, p in zip(names, paths, strict=True):
        if tables[label].empty:
            print(f"warning: {table_path(p)}: no particles; its comparisons say so", file=sys.stderr)
    comparison = compare_tables(tables, chosen, opt)
    dist_opt = DistributionOptions(
        border=opt.border,
        keep_too_small=opt.keep_too_small,
        keep_low_score=opt.keep_low_score,
        n_boot=min(opt.n_boot, 500),
        seed=opt.seed,
        confidence=opt.confidence,
    )
    distributions = pd.concat(
        [dataset_distribution(t, dist_opt).assign(label=label) for label, t in tables.items()],
        ignore_index=True,
    )
    with atomic_dir(out) as tmp:
        atomic_write_bytes(tmp / "comparison.csv", table_bytes(comparison, "csv"))
        atomic_write_bytes(tmp / "distributions.csv", table_bytes(distributions, "csv"))
        atomic_write_text(tmp / "verdicts.txt", "\n".join(comparison["verdict"]) + "\n")
        atomic_write_json(tmp / "summary.json", _summary(comparison, tables, inputs, opt, chosen, um_per_px))
        if plots:
            _write_plots(tables, chosen, tmp / "plots", opt, um_per_px is not None)
        manifest = build_manifest(
            TOOL,
            {"inputs": list(map(str, paths)), "labels": names, "descriptors": chosen, "um_per_px": um_per_px,
             "plots": plots, **opt.as_dict()},
            inputs={label: describe_input(table_path(p)) for label, p in inputs.items()},
            outputs=sorted(str(q.relative_to(tmp)) for q in tmp.rglob("*") if q.is_file()),
        )  # fmt: skip
        write_manifest(tmp, manifest)
    return comparison


def _write_plots(
    tables: dict[str, pd.DataFrame],
    descriptors: Sequence[str],
    folder: Path,
    opt: CompareOptions,
    scaled: bool,
) -> None:
    for desc in descriptors:
        samples = {label: descriptor_values(t, desc, opt) for label, t in tables.items()}
        plot_descriptor(samples, desc, folder / f"{desc}.png")
    size_name = "ecd_um" if scaled else "ecd_px"
    shapes = [s for s in _SCATTER_SHAPES if all(s in t.columns for t in tables.values())]
    if shapes and all(size_name in t.columns for t in tables.values()):
        pairs = shape_size_pairs(tables, size_name, shapes, opt)
        plot_shape_vs_size(pairs, size_name, folder / "shape_vs_size.png", seed=opt.seed)


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``infer/compare.py``."""
    ap = Parser(
        prog="infer/compare.py",
        description="Compare particle tables of batches: B (C, ...) against A, per descriptor.",
    )
    ap.add_argument(
        "inputs",
        nargs="+",
        help="run folders with particles.parquet, or .parquet/.csv tables; the first is the reference A",
    )
    ap.add_argument("--out", required=True, help="output folder (an earlier compare output is replaced)")
    ap.add_argument("--overwrite", action="store_true", help="replace an --out folder another tool wrote")
    ap.add_argument(
        "--descriptors", nargs="+", help=f"columns to compare (default: {' '.join(DEFAULT_DESCRIPTORS)})"
    )
    ap.add_argument(
        "--um-per-px", type=positive(), help="scale: adds _um columns and compares ecd_um/feret_max_um"
    )
    ap.add_argument(
        "--labels", nargs="+", help="names of the inputs in verdicts and plots (default: file names)"
    )
    ap.add_argument(
        "--border",
        choices=["exclude", "include"],
        default="exclude",
        help="border-touching particles (default: exclude)",
    )
    ap.add_argument(
        "--keep-too-small", action="store_true", help="count too_small particles in shape statistics"
    )
    ap.add_argument(
        "--keep-low-score",
        action="store_true",
        help="count predictions flagged low_score (below the run's measurement threshold)",
    )
    ap.add_argument(
        "--min-score",
        type=real(),
        help="also drop predictions scored below this (the low_score flags apply as well unless --keep-low-score)",
    )
    ap.add_argument(
        "--bootstrap",
        type=integer(0),
        default=1000,
        help="bootstrap replicates (default 1000; 0: no verdicts)",
    )
    ap.add_argument("--seed", type=integer(0), default=0)
    ap.add_argument("--confidence", type=open_fraction(), default=0.95)
    ap.add_argument(
        "--min-particles",
        type=integer(2),
        default=MIN_PARTICLES,
        help=f"fewest particles per sample for a verdict (default {MIN_PARTICLES})",
    )
    ap.add_argument("--no-plots", action="store_true")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``infer/compare.py``; prints the verdicts."""
    args = build_parser().parse_args(argv)
    opt = CompareOptions(
        border=args.border,
        keep_too_small=args.keep_too_small,
        keep_low_score=args.keep_low_score,
        min_score=args.min_score,
        n_boot=args.bootstrap,
        seed=args.seed,
        confidence=args.confidence,
        min_particles=args.min_particles,
    )
    comparison = run_compare(args.inputs, args.out, args.labels, args.descriptors, args.um_per_px, opt,
                             plots=not args.no_plots, overwrite=args.overwrite)  # fmt: skip
    print("\n".join(comparison["verdict"]))
    print(f"wrote {args.out}")
    return 0
