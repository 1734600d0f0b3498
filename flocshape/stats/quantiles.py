"""Weighted quantiles and means of particle values, and their vectorised percentile bootstrap.

Conventions
-----------
* **Weighted quantile** (:func:`weighted_quantile`): values sorted ascending with positive weights
  ``w_k``; the k-th value sits at the cumulative probability ``p_k = (C_k - w_k / 2) / W`` (``C_k`` the
  running sum of weights, ``W`` the total), and the q-quantile is linear interpolation in ``(p_k, x_k)``,
  clamped to the smallest/largest value outside ``[p_1, p_n]``. With equal weights this is exactly
  numpy's ``method="hazen"`` (``p_k = (k - 0.5) / n``), so number- and volume-weighted quantiles use one
  definition.
* **Volume weight** (:func:`sphere_volume_weights`): the volume of the sphere with the particle's equivalent
  circular diameter, ``v = pi / 6 * ecd**3`` (unit: cube of the ECD unit).
* **span** = ``(D90 - D10) / D50`` in the same weighting (:func:`size_quantiles`).
* **Bootstrap** (:func:`bootstrap_statistics`): percentile bootstrap over particles (resampling kept particles
  with replacement, ``n_boot`` replicates, seeded with ``numpy.random.default_rng(seed)``); the CI is the
  ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the replicates. Every statistic of one
  variable comes from the same replicates.

Values keep the unit of their column (``_px`` or ``_um``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

SIZE_QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)
_MAX_CELLS = 2_000_000  # bootstrap chunk size (values held at once), about 16 MB of float64

RowStatistic = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]


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
