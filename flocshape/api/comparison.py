"""The notebook function :func:`compare`: change of each descriptor between particle tables.

Imports happen inside the function, so importing this module (and ``flocshape``) stays fast. It compares as
``infer/compare.py`` does (``docs/stats.md``): median shift with a bootstrap CI, KS, Cliff's delta, a verdict.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for the annotations: pandas is imported when the function runs
    import pandas as pd


def compare(
    a: pd.DataFrame | str | os.PathLike[str],
    b: pd.DataFrame | str | os.PathLike[str],
    *more: pd.DataFrame | str | os.PathLike[str],
    labels: Sequence[str] | None = None,
    descriptors: Sequence[str] | None = None,
    um_per_px: float | None = None,
    border: str = "exclude",
    keep_low_score: bool = False,
    keep_too_small: bool = False,
    min_score: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Change of each descriptor from batch ``a`` to ``b`` (and to each of ``more``), as ``infer/compare.py``.

    Each batch is a particle table (a DataFrame of :func:`measure` / :func:`predict`) or the path of one (a
    run folder holding ``particles.parquet``, or a ``.parquet`` / ``.csv`` file). ``labels`` name the batches
    (default ``"A"``, ``"B"``, ...). ``descriptors``: columns to compare (default: ECD, Feret max and the shape
    descriptors present in every table; with ``um_per_px`` the size columns in micrometres).

    Which particles count (``docs/stats.md``): ``low_score`` predictions are left out unless
    ``keep_low_score``; particles touching the border are left out (``border="include"`` keeps them); shape
    descriptors also leave out ``too_small`` particles unless ``keep_too_small``; ``min_score`` drops
    predictions scored lower first. Bootstrap: ``n_boot`` replicates, seeded by ``seed``, ``confidence`` level.

    Returns one row per later batch and descriptor with the columns
    :data:`flocshape.stats.compare.COMPARISON_COLUMNS`: ``label_a``, ``label_b``, ``descriptor``, ``n_a``,
    ``n_b``, ``median_a``, ``median_b``, ``delta_median`` (B - A, the descriptor's unit) with
    ``delta_ci_low`` / ``delta_ci_high``, ``delta_rel_pct`` (% of median A) with its CI, ``ks_statistic``,
    ``ks_pvalue``, ``ks_pvalue_holm``, ``wasserstein``, ``cliffs_delta``, ``cliffs_magnitude``,
    ``significant_ci``, ``enough_particles`` and a plain ``verdict`` line.

    Two batches of 60 particles whose equivalent diameters differ by 5 px:

    >>> import numpy as np
    >>> import pandas as pd
    >>> import flocshape
    >>> rng = np.random.default_rng(0)
    >>> batch_a = pd.DataFrame({"ecd_px": rng.normal(30, 3, 60)})
    >>> batch_b = pd.DataFrame({"ecd_px": rng.normal(35, 3, 60)})
    >>> result = flocshape.compare(batch_a, batch_b, labels=["before", "after"])
    >>> row = result.iloc[0]
    >>> row["descriptor"], int(row["n_a"]), int(row["n_b"]), bool(row["significant_ci"])
    ('ecd_px', 60, 60, True)
    >>> print(f"{row['delta_median']:+.1f} px, CI {row['delta_ci_low']:+.1f} to {row['delta_ci_high']:+.1f} px")
    +5.1 px, CI +3.4 to +6.6 px
    """
    from flocshape.stats.cli import resolve_descriptors
    from flocshape.stats.compare import CompareOptions, add_scale, compare_tables, load_particle_table

    batches = [a, b, *more]
    names = list(labels) if labels is not None else [chr(ord("A") + k) for k in range(len(batches))]
    if len(names) != len(batches) or len(set(names)) != len(names):
        raise ValueError(f"need {len(batches)} distinct labels, got {names}")
    tables: dict[str, pd.DataFrame] = {}
    where: dict[str, str] = {}
    for name, batch in zip(names, batches, strict=True):
        is_path = isinstance(batch, str | os.PathLike)
        table = load_particle_table(batch) if is_path else batch
        tables[name] = add_scale(table, um_per_px) if um_per_px is not None else table
        where[name] = str(batch) if is_path else f"table {name}"
    chosen = resolve_descriptors(tables, where, descriptors, um_per_px is not None)
    options = CompareOptions(
        border=border,
        keep_too_small=keep_too_small,
        keep_low_score=keep_low_score,
        min_score=min_score,
        n_boot=n_boot,
        seed=seed,
        confidence=confidence,
    )
    return compare_tables(tables, chosen, options)
