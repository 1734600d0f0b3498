"""Timing of the vectorised bootstrap (flocshape.stats) and of tracking; prints a table.

Run: ``nice .venv/bin/python benchmarks/bench_stats.py [--n 17500] [--boot 1000]``.
Compared: the shipped bootstrap (sort once, then sort integer draw indices per replicate) against
the straightforward one (gather values per replicate, argsort values per replicate).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from flocshape.stats.distributions import _quantiles_of_sorted, bootstrap_statistics, size_quantiles


def naive_bootstrap(x: np.ndarray, w: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Resample (value, weight) pairs, argsort values per replicate, weighted D50 (same convention)."""
    rng = np.random.default_rng(seed)
    out = []
    chunk = max(1, 2_000_000 // x.size)
    for start in range(0, n_boot, chunk):
        idx = rng.integers(0, x.size, size=(min(chunk, n_boot - start), x.size))
        v, ww = x[idx], w[idx]
        order = np.argsort(v, axis=-1)
        out.append(_quantiles_of_sorted(np.take_along_axis(v, order, -1), np.take_along_axis(ww, order, -1),
                                        np.array([0.1, 0.5, 0.9])))  # fmt: skip
    return np.concatenate(out)


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[50, 2000, 17500])
    ap.add_argument("--boot", type=int, default=1000)
    a = ap.parse_args()
    print("| particles | replicates | shipped (index sort) s | naive (value argsort) s | speed-up |")
    print("|---|---|---|---|---|")
    for n in a.n:
        rng = np.random.default_rng(0)
        x = rng.lognormal(3, 0.5, n)
        w = np.pi / 6 * x**3
        t_new = best_of(lambda: bootstrap_statistics(x, w, size_quantiles, a.boot, 0))  # noqa: B023
        t_old = best_of(lambda: naive_bootstrap(x, w, a.boot, 0))  # noqa: B023
        print(f"| {n} | {a.boot} | {t_new:.3f} | {t_old:.3f} | {t_old / t_new:.1f}x |")


if __name__ == "__main__":
    main()
