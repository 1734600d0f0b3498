"""Size and shape distributions of a particle table, per image and per dataset, with bootstrap CIs.

Conventions
-----------
* **Weighted quantiles and the bootstrap**: :mod:`flocshape.stats.quantiles` (one quantile definition for
  every weighting: numpy's ``method="hazen"`` with equal weights; percentile bootstrap over particles, every
  statistic of one variable from the same replicates).
* **Number-weighted** D10/D50/D90 (``weighting="number"``, ISO 9276 ``x_{q,0}``): every counted particle
  weighs 1 (times its field-of-view weight under ``border="fov"``).
* **Volume-weighted** (``weighting="volume"``, ``x_{q,3}``): every particle weighs the volume of the
  sphere with its equivalent circular diameter, ``v = pi / 6 * ecd**3`` (sphere assumption: a 2-D
  projection has no thickness; flocs are not spheres, so read Dv-values as "mass-like" weighting, not
  as a measured volume). Feret-max quantiles are volume-weighted by the same ECD-sphere volume.
* **span** = ``(D90 - D10) / D50`` in the same weighting.
* **Which particles count** (:mod:`flocshape.stats.weights`): particles touching the border, ``too_small``
  particles (shape statistics only) and ``low_score`` predictions are left out by default, and counted
  (``n_excluded_border``, ``n_excluded_too_small``, ``n_excluded_low_score``); ``border="fov"`` weighs the
  kept particles by the Miles/Lantuejoul field-of-view factor.

Output tables are *tidy* (long): one row per (scope, image, variable, statistic, weighting) with
``value``, ``ci_low``, ``ci_high`` and the counts behind it. Lengths keep the unit of their column
(``_px`` or ``_um``). The names of :mod:`flocshape.stats.quantiles` and :mod:`flocshape.stats.weights` are
importable from here too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from flocshape.fsio import atomic_write_bytes, table_bytes
from flocshape.stats.quantiles import (
    SIZE_QUANTILES,
    RowStatistic,
    _quantiles_of_sorted,  # noqa: F401 - importable from here, as the bootstrap benchmark does
    bootstrap_statistics,
    median_and_mean,
    size_quantiles,
    sphere_volume_weights,
    weighted_mean,
    weighted_quantile,
)
from flocshape.stats.weights import BORDER_POLICIES, flag_column, fov_weights, particle_weights

__all__ = [
    "BORDER_POLICIES",
    "SHAPE_DESCRIPTORS",
    "SIZE_DESCRIPTORS",
    "SIZE_QUANTILES",
    "DistributionOptions",
    "RowStatistic",
    "bootstrap_statistics",
    "dataset_distribution",
    "describe",
    "flag_column",
    "fov_weights",
    "median_and_mean",
    "particle_weights",
    "per_image_distribution",
    "size_quantiles",
    "sphere_volume_weights",
    "weighted_mean",
    "weighted_quantile",
    "write_tables",
]

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
