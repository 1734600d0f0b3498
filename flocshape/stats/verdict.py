"""Plain-language verdicts for a change of one descriptor between two batches.

A verdict is built from the change of the *median* (B minus A) and its bootstrap CI:

* the CI covers 0 -> ``"B vs A: no significant change in size (median ecd_px -0.4 %, 95 % CI -2.1 to 1.3 %)"``;
* otherwise -> ``"B is 18 % more elongated than A (median elongation, 95 % CI 14 to 22 %)"``; the
  percentages are the relative change ``100 * (median_B - median_A) / median_A`` and its CI, written
  as magnitudes in the direction of the change.

When the median of A is not positive the relative change is undefined and the absolute change is
written instead. A change is never called significant without enough particles: with an empty sample, fewer
than the minimum per sample (:data:`flocshape.stats.compare.MIN_PARTICLES` by default) or no bootstrap, the
line says why it judges nothing (:func:`unjudged_line`) and gives the observed change only. Words per descriptor are in :data:`WORDING` (increase, decrease, noun); unknown
descriptors get "higher <name>" / "lower <name>".
"""

from __future__ import annotations

import math

# descriptor -> (word for an increase, word for a decrease, noun for "no change in ...")
WORDING: dict[str, tuple[str, str, str]] = {
    "elongation": ("more elongated", "less elongated", "elongation"),
    "aspect_ratio_feret": ("less elongated", "more elongated", "elongation"),
    "aspect_ratio_ellipse": ("less elongated", "more elongated", "elongation"),
    "solidity": ("more compact", "less compact", "compactness"),
    "convexity": ("smoother", "rougher", "roughness"),
    "form_factor": ("rounder", "less round", "roundness"),
    "circularity": ("rounder", "less round", "roundness"),
    "roundness": ("rounder", "less round", "roundness"),
    "mean_intensity": ("brighter", "darker", "brightness"),
    "contrast": ("higher in contrast", "lower in contrast", "contrast"),
    "sharpness": ("sharper", "blurrier", "sharpness"),
}
_SIZE_PREFIXES = (
    "ecd",
    "area",
    "feret_max",
    "feret_min",
    "perimeter",
    "convex_area",
    "convex_perimeter",
    "ellipse_major",
    "ellipse_minor",
)


def wording(descriptor: str) -> tuple[str, str, str]:
    """(increase, decrease, noun) words for ``descriptor``; size columns (``ecd_px``, ``area_um2``...) -> larger/smaller."""
    if descriptor in WORDING:
        return WORDING[descriptor]
    base = descriptor.rsplit("_", 1)[0] if descriptor.endswith(("_px", "_um", "_um2")) else descriptor
    if base in _SIZE_PREFIXES:
        noun = "size" if base in ("ecd", "area") else base.replace("_", " ")
        return ("larger", "smaller", noun)
    return (f"higher {descriptor}", f"lower {descriptor}", descriptor)


def _num(x: float) -> str:
    """Compact number: 2 significant digits below 10, integers above."""
    ax = abs(x)
    if ax >= 10:
        return f"{x:.0f}"
    if ax >= 1:
        return f"{x:.1f}"
    return f"{x:.2g}"


def verdict_line(
    label_b: str,
    label_a: str,
    descriptor: str,
    delta_median: float,
    delta_ci: tuple[float, float],
    rel_pct: float,
    rel_ci_pct: tuple[float, float],
    confidence: float = 0.95,
    holm_significant: bool | None = None,
) -> str:
    """One verdict line for ``descriptor`` (B vs A); see the module docstring for the wording.

    ``holm_significant=False`` appends a caution that the KS test is not significant after Holm
    adjustment over all comparisons.
    """
    up, down, noun = wording(descriptor)
    level = f"{confidence * 100:.0f} % CI"
    lo, hi = delta_ci
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{label_b} vs {label_a}: {noun}: not enough particles for a confidence interval"
    relative = math.isfinite(rel_pct) and all(math.isfinite(v) for v in rel_ci_pct)
    if lo <= 0.0 <= hi:
        if relative:
            detail = (
                f"median {descriptor} {rel_pct:+.1f} %, {level} {rel_ci_pct[0]:.1f} to {rel_ci_pct[1]:.1f} %"
            )
        else:
            detail = f"median {descriptor} {delta_median:+.3g}, {level} {lo:.3g} to {hi:.3g}"
        return f"{label_b} vs {label_a}: no significant change in {noun} ({detail})"
    word = up if delta_median > 0 else down
    if relative:
        a, b = sorted((abs(rel_ci_pct[0]), abs(rel_ci_pct[1])))
        line = f"{label_b} is {_num(abs(rel_pct))} % {word} than {label_a} (median {descriptor}, {level} {_num(a)} to {_num(b)} %)"
    else:
        a, b = sorted((abs(lo), abs(hi)))
        line = (
            f"{label_b} is {word} than {label_a} by {abs(delta_median):.3g} "
            f"(median {descriptor}, {level} {a:.3g} to {b:.3g})"
        )
    if holm_significant is False:
        line += "; KS test not significant after Holm adjustment"
    return line


def unjudged_line(
    label_b: str,
    label_a: str,
    descriptor: str,
    n_a: int,
    n_b: int,
    min_particles: int,
    n_boot: int,
    rel_pct: float,
    delta_median: float,
) -> str | None:
    """The verdict when significance cannot be judged, else ``None``.

    Reasons, first that applies: a sample without particles; a sample below ``min_particles`` (the stated
    minimum: a bootstrap CI of a median from a handful of particles is far too narrow); ``n_boot == 0`` (no
    confidence interval was asked for). The observed change of the median is given, not judged.
    """
    noun = wording(descriptor)[2]
    empty = [label for label, n in ((label_a, n_a), (label_b, n_b)) if n == 0]
    if empty:
        return f"{label_b} vs {label_a}: {noun}: no particles in {' and '.join(empty)}; nothing to compare"
    if math.isfinite(rel_pct):
        observed = f"observed median {descriptor} {rel_pct:+.1f} %"
    else:
        observed = f"observed median {descriptor} {delta_median:+.3g}"
    if min(n_a, n_b) < min_particles:
        return (
            f"{label_b} vs {label_a}: {noun}: too few particles to judge ({n_b} vs {n_a}; at least "
            f"{min_particles} in each needed); {observed}, not a finding"
        )
    if n_boot == 0:
        return f"{label_b} vs {label_a}: {noun}: not judged (no bootstrap, so no confidence interval); {observed}"
    return None
