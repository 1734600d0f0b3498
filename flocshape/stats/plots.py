"""Comparison plots (matplotlib, Agg backend, PNG): overlaid ECDFs and histograms, shape vs size scatter."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from flocshape.fsio import atomic_write_bytes  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def plot_descriptor(samples: dict[str, np.ndarray], descriptor: str, path: Path, bins: int = 40) -> Path:
    """One PNG with two panels for ``descriptor``: overlaid ECDFs and density histograms (shared bins)."""
    fig, (ax_cdf, ax_hist) = plt.subplots(1, 2, figsize=(10, 4))
    finite = [v for v in samples.values() if v.size]
    edges = (
        np.histogram_bin_edges(np.concatenate(finite), bins=bins) if finite else np.linspace(0, 1, bins + 1)
    )
    for label, values in samples.items():
        if values.size == 0:
            continue
        xs = np.sort(values)
        ax_cdf.step(xs, np.arange(1, xs.size + 1) / xs.size, where="post", label=f"{label} (n={xs.size})")
        ax_hist.hist(values, bins=edges, density=True, histtype="step", linewidth=1.5, label=label)
    ax_cdf.set(xlabel=descriptor, ylabel="cumulative fraction (number)", title=f"ECDF of {descriptor}")
    ax_hist.set(xlabel=descriptor, ylabel="density", title=f"Histogram of {descriptor}")
    ax_cdf.legend(fontsize=8)
    ax_hist.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def plot_shape_vs_size(
    pairs: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]],
    size_name: str,
    path: Path,
    max_points: int = 4000,
    seed: int = 0,
) -> Path:
    """Scatter of each shape descriptor (panels) against ``size_name``, one colour per batch.

    ``pairs[shape][label] = (size_values, shape_values)``; at most ``max_points`` points per batch and
    panel are drawn (seeded random subset), so large batches stay readable.
    """
    shapes = list(pairs)
    fig, axes = plt.subplots(1, max(1, len(shapes)), figsize=(4.2 * max(1, len(shapes)), 4), squeeze=False)
    rng = np.random.default_rng(seed)
    for ax, shape in zip(axes[0], shapes, strict=False):
        for label, (size, value) in pairs[shape].items():
            if size.size > max_points:
                pick = rng.choice(size.size, max_points, replace=False)
                size, value = size[pick], value[pick]
            ax.scatter(size, value, s=4, alpha=0.4, label=label)
        ax.set(xlabel=size_name, ylabel=shape, xscale="log", title=f"{shape} vs {size_name}")
        ax.legend(fontsize=8, markerscale=3)
    fig.tight_layout()
    return _save(fig, path)
