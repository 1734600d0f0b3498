"""Matplotlib figures for the report, returned as ``data:image/png;base64`` URIs (no files, no pyplot state).

Every figure states N in its legend, carries units on its axes, and uses fonts of at least 9 pt at 100 dpi.
PNG metadata is fixed so identical inputs give byte-identical images.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

from flocshape.stats.distributions import weighted_quantile

DPI = 100
FONT_PT = 10
RUN_COLORS = colormaps["tab10"].colors
_PNG_META = {"Software": None}
EXCLUDED_COLOR = "#ff3030"


@dataclass(frozen=True)
class Sample:
    """One run's values of one descriptor, already filtered and in the report's unit."""

    label: str
    values: np.ndarray


def _new_figure(width_in: float, height_in: float, margins: dict[str, float] | None = None) -> Figure:
    """A pyplot-free figure with fixed margins (fractions of the figure; constrained layout is ~2x slower)."""
    fig = Figure(figsize=(width_in, height_in), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(
        **(margins or {"left": 0.08, "right": 0.98, "bottom": 0.17, "top": 0.89, "wspace": 0.25})
    )
    return fig


def figure_to_data_uri(fig: Figure, fmt: str = "png") -> str:
    """Render ``fig`` to PNG (plots) or JPEG quality 85 (photographic frames) and return a base64 data URI."""
    buf = io.BytesIO()
    if fmt == "png":
        fig.savefig(buf, format="png", dpi=DPI, metadata=_PNG_META)
        mime = "image/png"
    else:
        fig.savefig(buf, format="jpeg", dpi=DPI, pil_kwargs={"quality": 85, "optimize": True})
        mime = "image/jpeg"
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def shared_bins(samples: Sequence[Sample], max_bins: int = 50) -> np.ndarray:
    """Common histogram edges for all samples (Freedman-Diaconis on the pooled data, 5..``max_bins`` bins)."""
    pooled = np.concatenate([s.values for s in samples]) if samples else np.array([])
    pooled = pooled[np.isfinite(pooled)]
    if pooled.size == 0:
        return np.linspace(0.0, 1.0, 11)
    lo, hi = float(pooled.min()), float(pooled.max())
    if hi <= lo:
        return np.linspace(lo - 0.5, hi + 0.5, 11)
    n_fd = len(np.histogram_bin_edges(pooled, bins="fd")) - 1
    return np.linspace(lo, hi, int(np.clip(n_fd, 5, max_bins)) + 1)


def plot_distribution(samples: Sequence[Sample], axis_label: str, title: str) -> str:
    """Histogram (fraction of particles per bin) and ECDF of one descriptor, one colour per run."""
    fig = _new_figure(9.0, 3.0)
    ax_hist, ax_ecdf = fig.subplots(1, 2)
    edges = shared_bins(samples)
    for i, s in enumerate(samples):
        color = RUN_COLORS[i % len(RUN_COLORS)]
        label = f"{s.label} (N={s.values.size})"
        if s.values.size == 0:
            ax_hist.plot([], [], color=color, label=label + ": no data")
            continue
        weights = np.full(s.values.size, 1.0 / s.values.size)
        ax_hist.hist(s.values, bins=edges, weights=weights, histtype="step", lw=1.6, color=color, label=label)
        x = np.sort(s.values)
        ax_ecdf.step(x, np.arange(1, x.size + 1) / x.size, where="post", color=color, lw=1.6, label=label)
    ax_hist.set(xlabel=axis_label, ylabel="fraction of particles per bin", title=f"{title}: histogram")
    ax_ecdf.set(xlabel=axis_label, ylabel="cumulative fraction", ylim=(0, 1.02), title=f"{title}: ECDF")
    for ax in (ax_hist, ax_ecdf):
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=FONT_PT - 1)
    ax_hist.legend(fontsize=FONT_PT - 1, frameon=False)
    return figure_to_data_uri(fig)


def plot_size_cumulative(samples: Sequence[Sample], axis_label: str) -> str:
    """Number-weighted (Q0) and volume-weighted (Q3, spheres) cumulative size distributions on a log axis."""
    fig = _new_figure(9.0, 3.2, {"left": 0.07, "right": 0.62, "bottom": 0.16, "top": 0.9})
    ax = fig.subplots()
    for i, s in enumerate(samples):
        x = np.sort(s.values[np.isfinite(s.values) & (s.values > 0)])
        if x.size == 0:
            continue
        color = RUN_COLORS[i % len(RUN_COLORS)]
        ax.step(
            x,
            np.arange(1, x.size + 1) / x.size,
            where="post",
            color=color,
            lw=1.6,
            label=f"{s.label}: number-weighted Q0 (N={x.size})",
        )
        vol = x**3
        ax.step(
            x,
            np.cumsum(vol) / vol.sum(),
            where="post",
            color=color,
            lw=1.6,
            ls="--",
            label=f"{s.label}: volume-weighted Q3",
        )
        d50 = float(weighted_quantile(x, vol, 0.5))
        ax.axvline(d50, color=color, lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(
        xlabel=axis_label + " (log scale)",
        ylabel="cumulative fraction",
        ylim=(0, 1.02),
        title="Size distribution: by number and by volume (dotted line: Dv50)",
    )
    ax.grid(alpha=0.3, which="both")
    if ax.get_legend_handles_labels()[0]:  # a run without particles draws no curve
        ax.legend(fontsize=FONT_PT - 1, frameon=False, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return figure_to_data_uri(fig)


def plot_counts_per_frame(counts: Sequence[Sample]) -> str:
    """Histogram of particles per frame, one colour per run (integer bins)."""
    fig = _new_figure(9.0, 2.8, {"left": 0.07, "right": 0.98, "bottom": 0.17, "top": 0.89})
    ax = fig.subplots()
    pooled = np.concatenate([c.values for c in counts]) if counts else np.array([0])
    top = int(pooled.max()) if pooled.size else 0
    width = max(1, int(np.ceil((top + 1) / 40)))
    edges = np.arange(0, top + width + 1, width) - 0.5
    for i, c in enumerate(counts):
        ax.hist(
            c.values,
            bins=edges,
            histtype="step",
            lw=1.6,
            color=RUN_COLORS[i % len(RUN_COLORS)],
            label=f"{c.label} ({c.values.size} frames, {int(c.values.sum())} particles)",
        )
    ax.set(
        xlabel="particles per frame (all detections)", ylabel="number of frames", title="Particles per frame"
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=FONT_PT - 1, frameon=False)
    return figure_to_data_uri(fig)


@dataclass(frozen=True)
class Outline:
    """One particle outline in image pixel coordinates (x, y), its descriptor value and why it is greyed."""

    xy: np.ndarray
    value: float
    excluded: str | None = None  # "touches border", "too small" or None


def plot_frame_overlay(
    image: np.ndarray,
    outlines: Sequence[Outline],
    colorbar_label: str,
    value_range: tuple[float, float],
    title: str,
    max_width_px: int = 640,
    image_format: str = "jpeg",
) -> str:
    """The frame in grey with each outline coloured by its value (viridis) and a colour bar with units.

    Outlines of excluded particles are drawn dashed in red; NaN values in magenta. ``image`` is a
    2-D uint8 grey frame (rows = y). Returned as a JPEG data URI by default (``image_format="png"`` for PNG;
    see BENCHMARKS.md for sizes).
    """
    h, w = image.shape[:2]
    fig_w = max_width_px / DPI
    ax_w = 0.73 * fig_w  # inches; the rest: y label, colour bar and its label
    ax_h = ax_w * h / w
    fig_h = ax_h + 0.95  # title above, x label below
    fig = _new_figure(fig_w, fig_h)
    ax = fig.add_axes((0.115, 0.5 / fig_h, 0.73, ax_h / fig_h))
    cax = fig.add_axes((0.865, 0.5 / fig_h, 0.022, ax_h / fig_h))
    ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="antialiased")
    norm = Normalize(*value_range)
    cmap = colormaps["viridis"]
    kept = [o for o in outlines if o.excluded is None and np.isfinite(o.value)]
    if kept:
        lc = LineCollection([o.xy for o in kept], colors=cmap(norm([o.value for o in kept])), linewidths=1.4)
        ax.add_collection(lc)
    greyed = [o for o in outlines if o.excluded is not None]
    if greyed:
        ax.add_collection(
            LineCollection([o.xy for o in greyed], colors=EXCLUDED_COLOR, linewidths=1.0, linestyles="--")
        )
    nan = [o for o in outlines if o.excluded is None and not np.isfinite(o.value)]
    if nan:
        ax.add_collection(LineCollection([o.xy for o in nan], colors="magenta", linewidths=1.2))
    ax.set(xlim=(0, w), ylim=(h, 0))
    ax.set_title(title, fontsize=FONT_PT)
    ax.set_xlabel("x [px]", fontsize=FONT_PT - 1)
    ax.set_ylabel("y [px]", fontsize=FONT_PT - 1)
    sm = cmap_scalar_mappable(norm)
    fig.colorbar(sm, cax=cax).set_label(colorbar_label, fontsize=FONT_PT - 1)
    handles = [Line2D([], [], color=cmap(0.6), lw=1.4, label=f"outline coloured by value ({len(kept)})")]
    if greyed:
        handles.append(
            Line2D(
                [],
                [],
                color=EXCLUDED_COLOR,
                lw=1.0,
                ls="--",
                label=f"excluded: touches border / too small ({len(greyed)})",
            )
        )
    if nan:
        handles.append(Line2D([], [], color="magenta", lw=1.2, label=f"value not available ({len(nan)})"))
    ax.legend(handles=handles, fontsize=FONT_PT - 2, loc="upper right", framealpha=0.8)
    return figure_to_data_uri(fig, fmt=image_format)


def cmap_scalar_mappable(norm: Normalize):  # noqa: ANN201 - matplotlib ScalarMappable
    """A viridis ScalarMappable for a colour bar."""
    from matplotlib.cm import ScalarMappable

    sm = ScalarMappable(norm=norm, cmap=colormaps["viridis"])
    sm.set_array([])
    return sm
