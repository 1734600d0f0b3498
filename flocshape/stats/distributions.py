"""Size and shape distributions of a particle table, per image and per dataset, with bootstrap CIs.

Conventions
-----------
* **Weighted quantile** (:func:`weighted_quantile`): values sorted ascending with positive weights
  ``w_k``; the k-th value sits at the cumulative probability ``p_k = (C_k - w_k / 2) / W`` (``C_k`` the
  running sum of weights, ``W`` the total), and the q-quantile is linear interpolation in ``(p_k, x_k)``,
  clamped to the smallest/largest value outside ``[p_1, p_n]``. With equal weights this is exactly
  numpy's ``method="hazen"`` (``p_k = (k - 0.5) / n``), so number- and volume-weighted quantiles use one
  definition.
* **Number-weighted** D10/D50/D90 (``weighting="number"``, ISO 9276 ``x_{q,0}``): every counted particle
  weighs 1 (times its field-of-view weight under ``border="fov"``).
* **Volume-weighted** (``weighting="volume"``, ``x_{q,3}``): every particle weighs the volume of the
  sphere with its equivalent circular diameter, ``v = pi / 6 * ecd**3`` (sphere assumption: a 2-D
  projection has no thickness; flocs are not spheres, so read Dv-values as "mass-like" weighting, not
  as a measured volume). Feret-max quantiles are volume-weighted by the same ECD-sphere volume.
* **span** = ``(D90 - D10) / D50`` in the same weighting.
* **Border**: particles with ``touches_border`` have unknown true size and a cut outline. Policy
  ``"exclude"`` (default) drops them from size *and* shape statistics; ``"include"`` keeps them with
  weight 1; ``"fov"`` drops them and weighs every kept particle by the Miles/Lantuejoul field-of-view
  factor ``C_fov = W * H / ((W - w_bbox) * (H - h_bbox))`` (image size from ``image_width`` /
  ``image_height``, box from ``bbox_w_px`` / ``bbox_h_px``), which undoes the bias of exclusion
  against large particles. Excluded particles are counted (``n_excluded_border``).
* **too_small** particles (too few pixels for meaningful shape numbers) are excluded from *shape*
  statistics only, unless ``keep_too_small`` (counted: ``n_excluded_too_small``).
* **low_score** predictions (score below the run's measurement threshold, ``measure_min_score`` of the
  post-processing; ``flocshape.score.postprocess``) are excluded from size *and* shape statistics unless
  ``keep_low_score`` (counted: ``n_excluded_low_score``). Tables without the column (ground truth, older
  runs) lose nothing.
* **Bootstrap**: percentile bootstrap over particles (resampling kept particles with replacement,
  ``n_boot`` replicates, seeded with ``numpy.random.default_rng(seed)``); the CI is the
  ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the replicates. Every statistic
  of one variable comes from the same replicates.

Output tables are *tidy* (long): one row per (scope, image, variable, statistic, weighting) with
``value``, ``ci_low``, ``ci_high`` and the counts behind it. Lengths keep the unit of their column
(``_px`` or ``_um``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from flocshape.fsio import atomic_write_bytes, table_bytes

SHAPE_DESCRIPTORS: tuple[str, ...] = (
    "form_factor",
    "circularity",
    "solidity",
    "convexity",
    "aspect_ratio_feret",
    "aspect_ratio_ellipse",
    "elongation",
    "roundness",
)
SIZE_DESCRIPTORS: tuple[str, ...] = ("ecd_px", "feret_max_px", "ecd_um", "feret_max_um")
BORDER_POLICIES: tuple[str, ...] = ("exclude", "include", "fov")
SIZE_QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)
_MAX_CELLS = 2_000_000  # bootstrap chunk size (values held at once), about 16 MB of float64

RowStatistic = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]


@dataclass(frozen=True)
class DistributionOptions:
    """Choices behind a distribution summary (all recorded in the manifest).

    ``border``: one of :data:`BORDER_POLICIES`; ``keep_too_small``: count too_small particles in shape
    statistics; ``keep_low_score``: count low_score predictions; ``n_boot``: bootstrap replicates (0 = no
    CIs); ``seed``: RNG seed; ``confidence``: CI level;
    ``size_columns`` / ``shape_columns``: variables (default: those of :data:`SIZE_DESCRIPTORS` /
    :data:`SHAPE_DESCRIPTORS` present in the table).
    """

    border: str = "exclude"
    keep_too_small: bool = False
    keep_low_score: bool = False
    n_boot: int = 1000
    seed: int = 0
    confidence: float = 0.95
    size_columns: tuple[str, ...] | None = None
    shape_columns: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.border not in BORDER_POLICIES:
            raise ValueError(f"border policy {self.border!r} is not one of {BORDER_POLICIES}")
        if self.n_boot < 0:
            raise ValueError("n_boot must be >= 0")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError("confidence must be in (0, 1)")

    def as_dict(self) -> dict[str, object]:
        """Plain dict (for manifests)."""
        return asdict(self)


# --------------------------------------------------------------------------------------------- quantiles


def _quantiles_of_sorted(xs: np.ndarray, ws: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """Weighted quantiles of rows sorted ascending along the last axis, all weights > 0.

    ``xs`` and ``ws`` have shape ``(..., n)`` with ``n >= 1``; returns ``(..., len(qs))``.
    """
    n = ws.shape[-1]
    cw = np.cumsum(ws, axis=-1)
    p = (cw - 0.5 * ws) / cw[..., -1:]
    out = np.empty((*ws.shape[:-1], qs.size))
    for j, qj in enumerate(qs):
        upper = np.clip(np.sum(p < qj, axis=-1, keepdims=True), 0, n - 1)
        lower = np.clip(upper - 1, 0, n - 1)
        p_lo = np.take_along_axis(p, lower, -1)
        p_hi = np.take_along_axis(p, upper, -1)
        x_lo = np.take_along_axis(xs, lower, -1)
        x_hi = np.take_along_axis(xs, upper, -1)
        gap = p_hi - p_lo
        frac = np.clip(np.where(gap > 0, (qj - p_lo) / np.where(gap > 0, gap, 1.0), 0.0), 0.0, 1.0)
        out[..., j] = (x_lo + frac * (x_hi - x_lo))[..., 0]
    return out


def weighted_quantile(
    values: np.ndarray, weights: np.ndarray | None, q: float | Sequence[float]
) -> np.ndarray:
    """Weighted quantile(s) along the last axis (convention in the module docstring).

    ``values`` and ``weights`` have the same shape ``(..., n)``; weights must be finite and > 0 (drop
    excluded items first). ``q`` is a scalar or sequence in [0, 1]. Returns shape ``(...,)`` for a scalar
    ``q`` else ``(..., len(q))``; NaN when ``n == 0``.
    """
    x = np.asarray(values, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != x.shape:
        raise ValueError(f"weights shape {w.shape} differs from values shape {x.shape}")
    if w.size and not (np.all(np.isfinite(w)) and np.all(w > 0)):
        raise ValueError("weights must be finite and > 0")
    qs = np.atleast_1d(np.asarray(q, dtype=float))
    if np.any((qs < 0) | (qs > 1)):
        raise ValueError("quantiles must be in [0, 1]")
    if x.shape[-1] == 0:
        out = np.full((*x.shape[:-1], qs.size), np.nan)
    else:
        order = np.argsort(x, axis=-1, kind="stable")
        out = _quantiles_of_sorted(np.take_along_axis(x, order, -1), np.take_along_axis(w, order, -1), qs)
    return out[..., 0] if np.ndim(q) == 0 else out


def weighted_mean(values: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Weighted mean along the last axis; ``values`` broadcasts to ``weights`` (NaN for zero total weight)."""
    x = np.asarray(values, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(w * x, axis=-1) / np.sum(w, axis=-1)


def sphere_volume_weights(ecd: np.ndarray) -> np.ndarray:
    """Volume of the sphere with diameter ``ecd``: ``pi / 6 * ecd**3`` (unit: cube of the ECD unit)."""
    d = np.asarray(ecd, dtype=float)
    return np.pi / 6.0 * d**3


# --------------------------------------------------------------------------------------------- bootstrap


def bootstrap_statistics(
    values: np.ndarray,
    weights: np.ndarray | None,
    statistic: RowStatistic,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, tuple[float, float, float]]:
    """Percentile-bootstrap CIs of the named statistics returned by ``statistic``.

    ``statistic(xs, ws)`` receives replicate rows sorted by value, ``xs`` and ``ws`` of shape
    ``(rows, n)`` (weights > 0), and returns ``{name: array(rows)}``. The sample is sorted once; a
    replicate draws n particle indices with replacement (``rng.integers``) and sorts the *indices*
    (integer sort, cheaper than sorting values), which gives sorted values directly. Replicates run in
    chunks of at most ~2 million cells. Returns ``{name: (estimate, ci_low, ci_high)}``; the estimate is
    the statistic of the original sample; CIs are NaN when ``n_boot == 0``; everything is NaN for an empty
    sample.
    """
    x = np.asarray(values, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(x, kind="stable")
    xs, ws = x[order], w[order]
    n = xs.size
    if n == 0:  # no particle: every statistic is NaN (names from a one-particle sample)
        return {k: (np.nan, np.nan, np.nan) for k in statistic(np.zeros((1, 1)), np.ones((1, 1)))}
    estimate = statistic(xs[None, :], ws[None, :])
    result = {k: (float(v[0]), np.nan, np.nan) for k, v in estimate.items()}
    if n_boot == 0:
        return result
    rng = np.random.default_rng(seed)
    chunk = max(1, _MAX_CELLS // n)
    reps: dict[str, list[np.ndarray]] = {k: [] for k in estimate}
    done = 0
    while done < n_boot:
        rows = min(chunk, n_boot - done)
        draws = np.sort(rng.integers(0, n, size=(rows, n)), axis=-1)
        for k, v in statistic(xs[draws], ws[draws]).items():
            reps[k].append(v)
        done += rows
    lo_q, hi_q = (1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0
    for k, parts in reps.items():
        r = np.concatenate(parts)
        r = r[np.isfinite(r)]
        if r.size:
            lo, hi = np.quantile(r, [lo_q, hi_q])
            result[k] = (result[k][0], float(lo), float(hi))
    return result


def median_and_mean(xs: np.ndarray, ws: np.ndarray) -> dict[str, np.ndarray]:
    """Row statistic on sorted values: weighted ``median`` and ``mean``."""
    return {"median": _quantiles_of_sorted(xs, ws, np.array([0.5]))[..., 0], "mean": weighted_mean(xs, ws)}


def size_quantiles(xs: np.ndarray, ws: np.ndarray) -> dict[str, np.ndarray]:
    """Row statistic on sorted values: weighted ``D10``, ``D50``, ``D90``, ``span`` and ``mean``.

    ``span = (D90 - D10) / D50``.
    """
    d = _quantiles_of_sorted(xs, ws, np.asarray(SIZE_QUANTILES))
    with np.errstate(invalid="ignore", divide="ignore"):
        span = (d[..., 2] - d[..., 0]) / d[..., 1]
    return {"D10": d[..., 0], "D50": d[..., 1], "D90": d[..., 2], "span": span, "mean": weighted_mean(xs, ws)}


# --------------------------------------------------------------------------------------------- weights


def fov_weights(table: pd.DataFrame) -> np.ndarray:
    """Miles/Lantuejoul field-of-view weight ``W * H / ((W - w_bbox) * (H - h_bbox))`` per particle.

    Dimensionless, >= 1; NaN where the box spans the whole image (no unbiased weight exists).
    """
    width = table["image_width"].to_numpy(float)
    height = table["image_height"].to_numpy(float)
    free_w = width - table["bbox_w_px"].to_numpy(float)
    free_h = height - table["bbox_h_px"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = width * height / (free_w * free_h)
    return np.where((free_w > 0) & (free_h > 0), c, np.nan)


def flag_column(table: pd.DataFrame, name: str) -> np.ndarray:
    """A boolean flag column (``touches_border``, ``low_score``, ``too_small``) as an array; all False when the
    table has no such column (ground truth has no ``low_score``), missing values count as False."""
    if name not in table.columns:
        return np.zeros(len(table), dtype=bool)
    return table[name].fillna(False).to_numpy(dtype=bool)


def particle_weights(
    table: pd.DataFrame,
    border: str,
    for_shape: bool,
    keep_too_small: bool = False,
    keep_low_score: bool = False,
) -> np.ndarray:
    """Per-particle weight for size (``for_shape=False``) or shape statistics; 0 means excluded.

    See the module docstring for the border, too_small and low_score policies. Size statistics never drop
    too_small particles.
    """
    if border not in BORDER_POLICIES:
        raise ValueError(f"border policy {border!r} is not one of {BORDER_POLICIES}")
    touches = flag_column(table, "touches_border")
    if border == "include":
        w = np.ones(len(table))
    elif border == "exclude":
        w = np.where(touches, 0.0, 1.0)
    else:
        c = fov_weights(table)
        w = np.where(touches | ~np.isfinite(c), 0.0, c)
    if not keep_low_score:
        w = np.where(flag_column(table, "low_score"), 0.0, w)
    if for_shape and not keep_too_small:
        w = np.where(flag_column(table, "too_small"), 0.0, w)
    return w


# --------------------------------------------------------------------------------------------- summaries


def _present(table: pd.DataFrame, wanted: tuple[str, ...] | None, default: tuple[str, ...]) -> list[str]:
    cols = default if wanted is None else wanted
    return [c for c in cols if c in table.columns]


def _volume_basis(table: pd.DataFrame) -> np.ndarray | None:
    for col in ("ecd_px", "ecd_um"):
        if col in table.columns:
            return sphere_volume_weights(table[col].to_numpy(float))
    return None


def _rows(
    variable: str,
    weighting: str,
    stats: dict[str, tuple[float, float, float]],
    n_used: int,
) -> list[dict[str, object]]:
    return [
        {
            "variable": variable,
            "statistic": name,
            "weighting": weighting,
            "value": est,
            "ci_low": lo,
            "ci_high": hi,
            "n_used": n_used,
        }
        for name, (est, lo, hi) in stats.items()
    ]


def describe(table: pd.DataFrame, options: DistributionOptions | None = None) -> pd.DataFrame:
    """Tidy summary of one group of particles (an image or a dataset).

    Rows: ``variable`` = ``particles`` with statistics ``n_total``, ``n_excluded_border``,
    ``n_excluded_low_score``, ``n_excluded_too_small``; for each size column: ``D10``, ``D50``, ``D90``, ``span``, ``mean``
    in weightings ``number`` and ``volume``; for each shape column: ``median`` and ``mean``
    (``number``). Columns: variable, statistic, weighting, value, ci_low, ci_high, n_used.
    """
    opt = options or DistributionOptions()
    size_w = particle_weights(table, opt.border, for_shape=False, keep_low_score=opt.keep_low_score)
    shape_w = particle_weights(
        table,
        opt.border,
        for_shape=True,
        keep_too_small=opt.keep_too_small,
        keep_low_score=opt.keep_low_score,
    )
    touches = flag_column(table, "touches_border")
    n_border = int(np.count_nonzero(touches)) if opt.border != "include" else 0
    low = flag_column(table, "low_score") & ~(touches & (opt.border != "include"))
    n_low = 0 if opt.keep_low_score else int(np.count_nonzero(low))
    n_small = int(np.count_nonzero(flag_column(table, "too_small") & (size_w > 0)))
    if opt.keep_too_small:
        n_small = 0
    rows: list[dict[str, object]] = []
    for name, value in (
        ("n_total", len(table)),
        ("n_excluded_border", n_border),
        ("n_excluded_low_score", n_low),
        ("n_excluded_too_small", n_small),
    ):
        rows.append(
            {
                "variable": "particles",
                "statistic": name,
                "weighting": "count",
                "value": float(value),
                "ci_low": np.nan,
                "ci_high": np.nan,
                "n_used": len(table),
            }
        )
    volume = _volume_basis(table)
    boot = {"n_boot": opt.n_boot, "seed": opt.seed, "confidence": opt.confidence}
    for col in _present(table, opt.size_columns, SIZE_DESCRIPTORS):
        x = table[col].to_numpy(float)
        keep = (size_w > 0) & np.isfinite(x)
        rows += _rows(
            col,
            "number",
            bootstrap_statistics(x[keep], size_w[keep], size_quantiles, **boot),
            int(keep.sum()),
        )
        if volume is not None:
            keep_v = keep & np.isfinite(volume) & (volume > 0)
            wv = size_w[keep_v] * volume[keep_v]
            rows += _rows(
                col, "volume", bootstrap_statistics(x[keep_v], wv, size_quantiles, **boot), int(keep_v.sum())
            )
    for col in _present(table, opt.shape_columns, SHAPE_DESCRIPTORS):
        x = table[col].to_numpy(float)
        keep = (shape_w > 0) & np.isfinite(x)
        rows += _rows(
            col,
            "number",
            bootstrap_statistics(x[keep], shape_w[keep], median_and_mean, **boot),
            int(keep.sum()),
        )
    return pd.DataFrame(rows)


def dataset_distribution(table: pd.DataFrame, options: DistributionOptions | None = None) -> pd.DataFrame:
    """:func:`describe` of all particles, with ``scope="dataset"`` and the border policy as columns."""
    opt = options or DistributionOptions()
    out = describe(table, opt)
    out.insert(0, "scope", "dataset")
    out["border_policy"] = opt.border
    return out


def per_image_distribution(table: pd.DataFrame, options: DistributionOptions | None = None) -> pd.DataFrame:
    """:func:`describe` of each image (grouped by ``image_id``), with ``image_id`` and ``file_name`` columns.

    Images are in ascending ``image_id`` order; every image uses the same seed.
    """
    opt = options or DistributionOptions()
    parts = []
    for image_id, group in table.groupby("image_id", sort=True):
        part = describe(group, opt)
        part.insert(0, "file_name", str(group["file_name"].iloc[0]) if "file_name" in group.columns else "")
        part.insert(0, "image_id", int(image_id))
        part.insert(0, "scope", "image")
        parts.append(part)
    if not parts:
        return pd.DataFrame(
            columns=[
                "scope",
                "image_id",
                "file_name",
                "variable",
                "statistic",
                "weighting",
                "value",
                "ci_low",
                "ci_high",
                "n_used",
                "border_policy",
            ]
        )
    out = pd.concat(parts, ignore_index=True)
    out["border_policy"] = opt.border
    return out


def write_tables(
    tables: dict[str, pd.DataFrame],
    folder: str | os.PathLike[str],
    formats: Sequence[str] = ("csv", "parquet"),
) -> list[Path]:
    """Write each ``{stem: table}`` as ``folder/stem.<fmt>`` atomically; returns the paths written."""
    paths = []
    for stem, table in tables.items():
        for fmt in formats:
            paths.append(atomic_write_bytes(Path(folder) / f"{stem}.{fmt}", table_bytes(table, fmt)))
    return paths
