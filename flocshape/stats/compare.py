"""Change between batches: every later table (B, C, ...) against the first (A), per descriptor.

Per descriptor and pair (B vs A):

* ``delta_median`` = median(B) - median(A) with a percentile-bootstrap CI (A and B resampled
  independently, ``n_boot`` replicates, seeded), and the relative change
  ``delta_rel_pct = 100 * delta_median / median(A)`` with its CI from the same replicates;
* ``ks_statistic`` / ``ks_pvalue``: two-sample Kolmogorov-Smirnov (``scipy.stats.ks_2samp``, two-sided);
  ``ks_pvalue_holm``: Holm-adjusted over *all* rows of the comparison (family-wise error control: with
  ten descriptors and a 5 % level per test, one false alarm in two runs is expected otherwise);
* ``wasserstein``: 1-Wasserstein (earth mover's) distance in the descriptor's unit
  (``scipy.stats.wasserstein_distance``);
* ``cliffs_delta`` = P(b > a) - P(b < a) for a random particle a of A and b of B, in [-1, 1]
  (ordinal, robust to outliers and scale-free; from the Mann-Whitney U statistic), with the magnitude
  label of Romano et al. (2006): |d| < 0.147 negligible, < 0.33 small, < 0.474 medium, else large;
* ``enough_particles``: both samples hold at least ``min_particles`` (default :data:`MIN_PARTICLES`, 20);
  below that no difference is called significant (``significant_ci`` is False) and the verdict says so;
* ``verdict``: one plain line (:mod:`flocshape.stats.verdict`).

Which particles count: predictions flagged ``low_score`` (below the run's measurement threshold) are dropped
unless ``keep_low_score``; size columns (names ending ``_px``, ``_um``, ``_um2``) drop border-touching
particles (unless ``border="include"``); shape columns drop border-touching and ``too_small`` ones
(unless told otherwise); NaN values are dropped per descriptor. Optionally predictions below
``min_score`` are dropped first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from flocshape.errors import input_error
from flocshape.stats.distributions import SHAPE_DESCRIPTORS, flag_column
from flocshape.stats.verdict import unjudged_line, verdict_line

# Fewest particles per sample for a verdict: below it the percentile-bootstrap CI of a median is far too
# narrow (one particle gives a CI of zero width), so no change is called significant.
MIN_PARTICLES = 20

DEFAULT_DESCRIPTORS: tuple[str, ...] = ("ecd_px", "feret_max_px", *SHAPE_DESCRIPTORS)
# px column -> (um column, power of the scale)
SCALED_COLUMNS: dict[str, tuple[str, int]] = {
    "area_px": ("area_um2", 2),
    "perimeter_px": ("perimeter_um", 1),
    "ecd_px": ("ecd_um", 1),
    "convex_area_px": ("convex_area_um2", 2),
    "convex_perimeter_px": ("convex_perimeter_um", 1),
    "feret_max_px": ("feret_max_um", 1),
    "feret_min_px": ("feret_min_um", 1),
    "ellipse_major_px": ("ellipse_major_um", 1),
    "ellipse_minor_px": ("ellipse_minor_um", 1),
}
COMPARISON_COLUMNS: tuple[str, ...] = (
    "label_a", "label_b", "descriptor", "n_a", "n_b", "median_a", "median_b", "delta_median",
    "delta_ci_low", "delta_ci_high", "delta_rel_pct", "delta_rel_ci_low_pct", "delta_rel_ci_high_pct",
    "ks_statistic", "ks_pvalue", "ks_pvalue_holm", "wasserstein", "cliffs_delta", "cliffs_magnitude",
    "significant_ci", "enough_particles", "verdict",
)  # fmt: skip


@dataclass(frozen=True)
class CompareOptions:
    """Choices behind a comparison (recorded in the manifest and summary)."""

    border: str = "exclude"  # "exclude" | "include"
    keep_too_small: bool = False
    keep_low_score: bool = False
    min_score: float | None = None
    n_boot: int = 1000
    seed: int = 0
    confidence: float = 0.95
    alpha: float = 0.05
    min_particles: int = MIN_PARTICLES

    def __post_init__(self) -> None:
        if self.border not in ("exclude", "include"):
            raise ValueError(f"border policy {self.border!r} is not 'exclude' or 'include'")
        if self.min_particles < 2:
            raise ValueError(f"min_particles must be >= 2, got {self.min_particles}")

    def as_dict(self) -> dict[str, object]:
        """Plain dict (for manifests)."""
        return asdict(self)


# --------------------------------------------------------------------------------------------- loading


def load_particle_table(path: str | Path) -> pd.DataFrame:
    """Read a particle table: a run folder holding ``particles.parquet``, or a ``.parquet`` / ``.csv`` file.

    Raises :class:`flocshape.errors.InputError` (naming the file) when it is missing or unreadable.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "particles.parquet"
    if not p.is_file():
        raise input_error(
            p, "no such particle table (give a run folder with particles.parquet, or .parquet/.csv)"
        )
    try:
        if p.suffix.lower() == ".parquet":
            table = pd.read_parquet(p)
        elif p.suffix.lower() == ".csv":
            table = pd.read_csv(p)
        else:
            raise input_error(p, f"unknown table type {p.suffix!r} (expected .parquet or .csv)")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise input_error(p, f"cannot read table ({type(exc).__name__}: {exc})") from exc
    return table


def add_scale(table: pd.DataFrame, um_per_px: float) -> pd.DataFrame:
    """Copy of ``table`` with ``um_per_px`` and every ``_um`` / ``_um2`` column recomputed from its ``_px`` column."""
    if not (um_per_px > 0 and np.isfinite(um_per_px)):
        raise ValueError(f"um_per_px must be a positive number, got {um_per_px}")
    out = table.copy()
    out["um_per_px"] = float(um_per_px)
    for px_col, (um_col, power) in SCALED_COLUMNS.items():
        if px_col in out.columns:
            out[um_col] = out[px_col].astype(float) * float(um_per_px) ** power
    return out


def is_size_column(name: str) -> bool:
    """True for columns with a length/area unit (``_px``, ``_um``, ``_um2`` suffix)."""
    return name.endswith(("_px", "_um", "_um2"))


def counted_rows(table: pd.DataFrame, for_size: bool, options: CompareOptions) -> np.ndarray:
    """Boolean mask of the particles that count for a size (``for_size``) or shape descriptor."""
    keep = np.ones(len(table), dtype=bool)
    if options.min_score is not None and "score" in table.columns:
        keep &= ~(table["score"].to_numpy(float) < options.min_score)  # NaN score (ground truth) is kept
    if not options.keep_low_score:
        keep &= ~flag_column(table, "low_score")
    if options.border == "exclude":
        keep &= ~flag_column(table, "touches_border")
    if not for_size and not options.keep_too_small:
        keep &= ~flag_column(table, "too_small")
    return keep


def descriptor_values(table: pd.DataFrame, descriptor: str, options: CompareOptions) -> np.ndarray:
    """Finite values of ``descriptor`` from the particles that count (see the module docstring)."""
    x = table[descriptor].to_numpy(float)[counted_rows(table, is_size_column(descriptor), options)]
    return x[np.isfinite(x)]


# --------------------------------------------------------------------------------------------- statistics


def cliffs_delta(a: np.ndarray, b: np.ndarray) -> float:
    """Cliff's delta ``P(b > a) - P(b < a)`` (ties count half), via the Mann-Whitney U of B; NaN if empty."""
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    u_b = stats.mannwhitneyu(b, a, alternative="two-sided").statistic
    return float(2.0 * u_b / (len(a) * len(b)) - 1.0)


def cliffs_magnitude(delta: float) -> str:
    """Romano et al. (2006) label: negligible (< 0.147), small (< 0.33), medium (< 0.474), large."""
    if not np.isfinite(delta):
        return "n/a"
    d = abs(delta)
    return "negligible" if d < 0.147 else "small" if d < 0.33 else "medium" if d < 0.474 else "large"


def holm_adjust(pvalues: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values (NaN stays NaN, others counted in the family)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adjusted, 1.0)
    return out


def _boot_medians(
    x: np.ndarray, n_boot: int, rng: np.random.Generator, max_cells: int = 2_000_000
) -> np.ndarray:
    chunk = max(1, max_cells // max(1, x.size))
    parts = []
    done = 0
    while done < n_boot:
        rows = min(chunk, n_boot - done)
        parts.append(np.median(x[rng.integers(0, x.size, size=(rows, x.size))], axis=1))
        done += rows
    return np.concatenate(parts)


def bootstrap_delta_median(
    a: np.ndarray, b: np.ndarray, n_boot: int, seed: int, confidence: float
) -> dict[str, float]:
    """Delta median (B - A) and relative change in %, each with a percentile-bootstrap CI.

    A and B are resampled independently (seeded ``default_rng(seed)``); relative replicates with a
    non-positive A median are dropped. CIs are NaN for an empty sample or ``n_boot == 0``.
    """
    med_a = float(np.median(a)) if a.size else np.nan
    med_b = float(np.median(b)) if b.size else np.nan
    out = {"median_a": med_a, "median_b": med_b, "delta_median": med_b - med_a,
           "delta_rel_pct": 100.0 * (med_b - med_a) / med_a if med_a > 0 else np.nan,
           "delta_ci_low": np.nan, "delta_ci_high": np.nan,
           "delta_rel_ci_low_pct": np.nan, "delta_rel_ci_high_pct": np.nan}  # fmt: skip
    if a.size == 0 or b.size == 0 or n_boot == 0:
        return out
    rng = np.random.default_rng(seed)
    ma = _boot_medians(a, n_boot, rng)
    mb = _boot_medians(b, n_boot, rng)
    qs = [(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0]
    out["delta_ci_low"], out["delta_ci_high"] = (float(v) for v in np.quantile(mb - ma, qs))
    positive = ma > 0
    if med_a > 0 and positive.any():
        rel = 100.0 * (mb[positive] - ma[positive]) / ma[positive]
        out["delta_rel_ci_low_pct"], out["delta_rel_ci_high_pct"] = (float(v) for v in np.quantile(rel, qs))
    return out


def compare_samples(a: np.ndarray, b: np.ndarray, options: CompareOptions) -> dict[str, object]:
    """All statistics of one descriptor, B vs A (no labels, no verdict, no Holm column)."""
    row: dict[str, object] = {"n_a": int(a.size), "n_b": int(b.size)}
    row.update(bootstrap_delta_median(a, b, options.n_boot, options.seed, options.confidence))
    if a.size and b.size:
        ks = stats.ks_2samp(a, b)
        row["ks_statistic"], row["ks_pvalue"] = float(ks.statistic), float(ks.pvalue)
        row["wasserstein"] = float(stats.wasserstein_distance(a, b))
    else:
        row["ks_statistic"] = row["ks_pvalue"] = row["wasserstein"] = np.nan
    row["cliffs_delta"] = cliffs_delta(a, b)
    row["cliffs_magnitude"] = cliffs_magnitude(float(row["cliffs_delta"]))
    return row


def compare_tables(
    tables: dict[str, pd.DataFrame], descriptors: Sequence[str], options: CompareOptions | None = None
) -> pd.DataFrame:
    """Compare every table after the first with the first, per descriptor; columns :data:`COMPARISON_COLUMNS`.

    ``tables`` maps label -> particle table (insertion order: the first is the reference A).
    """
    opt = options or CompareOptions()
    labels = list(tables)
    if len(labels) < 2:
        raise ValueError("need at least two tables to compare")
    ref = labels[0]
    rows = []
    for other in labels[1:]:
        for desc in descriptors:
            a = descriptor_values(tables[ref], desc, opt)
            b = descriptor_values(tables[other], desc, opt)
            rows.append({"label_a": ref, "label_b": other, "descriptor": desc, **compare_samples(a, b, opt)})
    out = pd.DataFrame(rows)
    out["ks_pvalue_holm"] = holm_adjust(out["ks_pvalue"].to_numpy(float))
    lo, hi = out["delta_ci_low"].to_numpy(float), out["delta_ci_high"].to_numpy(float)
    out["enough_particles"] = np.minimum(out["n_a"], out["n_b"]).to_numpy() >= opt.min_particles
    out["significant_ci"] = (
        np.isfinite(lo) & np.isfinite(hi) & ((lo > 0) | (hi < 0)) & out["enough_particles"]
    )
    out["verdict"] = [_row_verdict(r, opt) for r in out.to_dict("records")]
    return out[list(COMPARISON_COLUMNS)]


def _row_verdict(row: dict[str, object], opt: CompareOptions) -> str:
    unjudged = unjudged_line(
        str(row["label_b"]), str(row["label_a"]), str(row["descriptor"]),
        int(row["n_a"]), int(row["n_b"]), opt.min_particles, opt.n_boot,  # type: ignore[arg-type]
        float(row["delta_rel_pct"]), float(row["delta_median"]),  # type: ignore[arg-type]
    )  # fmt: skip
    if unjudged is not None:
        return unjudged
    holm_p = float(row["ks_pvalue_holm"])  # type: ignore[arg-type]
    holm_ok = None if not np.isfinite(holm_p) else holm_p < opt.alpha
    return verdict_line(
        str(row["label_b"]), str(row["label_a"]), str(row["descriptor"]),
        float(row["delta_median"]),  # type: ignore[arg-type]
        (float(row["delta_ci_low"]), float(row["delta_ci_high"])),  # type: ignore[arg-type]
        float(row["delta_rel_pct"]),  # type: ignore[arg-type]
        (float(row["delta_rel_ci_low_pct"]), float(row["delta_rel_ci_high_pct"])),  # type: ignore[arg-type]
        confidence=opt.confidence,
        holm_significant=holm_ok,
    )  # fmt: skip
