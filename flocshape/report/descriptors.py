"""The descriptors the report shows, their units, and conversion of px columns to physical units.

Conventions
-----------
* Every value is taken from the contract-(1) pixel column (``ecd_px``, ``feret_max_px`` ...) and, when a scale
  ``um_per_px`` is given, converted here: lengths times ``um_per_px``, areas times ``um_per_px**2``. The ``*_um``
  columns of the table are therefore never needed, and all runs of one report share one unit.
* Ratios (circularity, solidity ...) are dimensionless; angles are in degrees.
* A descriptor is looked up by its short name (``ecd``), its px column (``ecd_px``) or its µm column (``ecd_um``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Kind = Literal["length", "area", "ratio", "angle", "grey", "score"]


@dataclass(frozen=True)
class Descriptor:
    """One column of the particle table as the report presents it.

    ``name``: short name used on the command line (``--color-by``); ``column``: the contract-(1) column;
    ``kind``: how units convert; ``group``: ``"size"`` (border-touching excluded) or ``"shape"`` (border-touching
    and too-small particles excluded) or ``"other"``; ``label``: axis label without unit.
    """

    name: str
    column: str
    kind: Kind
    group: Literal["size", "shape", "other"]
    label: str
    short: str = ""

    @property
    def short_label(self) -> str:
        """A short table label (``ECD``, ``AR Feret``); the full ``label`` carries the definition."""
        return self.short or self.label

    def unit(self, um_per_px: float | None) -> str:
        """The unit of this descriptor's values (``px``, ``px²``, ``µm``, ``µm²``, ``°``, ``0-255`` or ``1``)."""
        if self.kind == "length":
            return "µm" if um_per_px else "px"
        if self.kind == "area":
            return "µm²" if um_per_px else "px²"
        if self.kind == "angle":
            return "°"
        if self.kind == "grey":
            return "grey 0-255"
        return "1"

    def axis_label(self, um_per_px: float | None) -> str:
        """Axis label with the unit, e.g. ``ECD (equivalent circle diameter) [µm]``."""
        unit = self.unit(um_per_px)
        return f"{self.label} [{unit}]" if unit != "1" else f"{self.label} [dimensionless]"

    def column_for(self, um_per_px: float | None) -> str:
        """The column holding this descriptor in the report's unit (``ecd_um``, ``area_um2`` with a scale)."""
        if um_per_px and self.kind == "length":
            return self.name + "_um"
        if um_per_px and self.kind == "area":
            return self.name + "_um2"
        return self.column

    def values(self, table: pd.DataFrame, um_per_px: float | None) -> pd.Series:
        """This descriptor's column of ``table`` as floats in the report's unit (NaN where missing)."""
        raw = pd.to_numeric(table[self.column], errors="coerce").astype(float)
        if um_per_px and self.kind == "length":
            return raw * float(um_per_px)
        if um_per_px and self.kind == "area":
            return raw * float(um_per_px) ** 2
        return raw


DESCRIPTORS: tuple[Descriptor, ...] = (
    Descriptor("ecd", "ecd_px", "length", "size", "ECD (equivalent circle diameter)", "ECD"),
    Descriptor("feret_max", "feret_max_px", "length", "size", "Max Feret diameter", "Feret max"),
    Descriptor("feret_min", "feret_min_px", "length", "size", "Min Feret diameter", "Feret min"),
    Descriptor("area", "area_px", "area", "size", "Area (pixel count)", "Area"),
    Descriptor("circularity", "circularity", "ratio", "shape", "Circularity sqrt(4πA/P²)", "Circularity"),
    Descriptor("form_factor", "form_factor", "ratio", "shape", "Form factor 4πA/P²", "Form factor"),
    Descriptor(
        "aspect_ratio_feret", "aspect_ratio_feret", "ratio", "shape", "Aspect ratio Feret min/max", "AR Feret"
    ),
    Descriptor(
        "aspect_ratio_ellipse",
        "aspect_ratio_ellipse",
        "ratio",
        "shape",
        "Aspect ratio ellipse minor/major",
        "AR ellipse",
    ),
    Descriptor("elongation", "elongation", "ratio", "shape", "Elongation 1 - AR(Feret)", "Elongation"),
    Descriptor("roundness", "roundness", "ratio", "shape", "Roundness 4A/(π Feret_max²)", "Roundness"),
    Descriptor("solidity", "solidity", "ratio", "shape", "Solidity A/A_convex", "Solidity"),
    Descriptor("convexity", "convexity", "ratio", "shape", "Convexity P_convex/P", "Convexity"),
    Descriptor("score", "score", "score", "other", "Detection confidence"),
    Descriptor("mean_intensity", "mean_intensity", "grey", "other", "Mean intensity"),
    Descriptor("contrast", "contrast", "grey", "other", "Contrast inside - ring"),
    Descriptor("sharpness", "sharpness", "ratio", "other", "Boundary sharpness"),
)

#: Descriptors drawn as histogram + ECDF, in this order.
PLOTTED = (
    "ecd", "feret_max", "circularity", "aspect_ratio_feret", "aspect_ratio_ellipse", "solidity", "convexity"
)  # fmt: skip
#: Descriptors in the summary table, in this order.
TABULATED = (
    "ecd",
    "feret_max",
    "feret_min",
    "circularity",
    "aspect_ratio_feret",
    "aspect_ratio_ellipse",
    "roundness",
    "solidity",
    "convexity",
)


def with_units(table: pd.DataFrame, um_per_px: float | None) -> pd.DataFrame:
    """A copy of ``table`` where every length/area descriptor also has its column in the report's unit.

    With a scale, ``<name>_um`` / ``<name>_um2`` are (re)computed from the px columns, so a table's own
    ``*_um`` columns never disagree with the scale of the report. Without a scale the table is returned as is.
    """
    if not um_per_px:
        return table
    out = table.copy()
    for d in DESCRIPTORS:
        if d.kind in ("length", "area") and d.column in out.columns:
            out[d.column_for(um_per_px)] = d.values(out, um_per_px)
    return out


def get_descriptor(name: str) -> Descriptor:
    """The descriptor called ``name`` (short name, px column or µm column); ``KeyError`` if unknown."""
    key = name.strip()
    for suffix in ("_px", "_um2", "_um"):
        if key.endswith(suffix) and key[: -len(suffix)] in {d.name for d in DESCRIPTORS}:
            key = key[: -len(suffix)]
    for d in DESCRIPTORS:
        if key in (d.name, d.column):
            return d
    raise KeyError(name)


def descriptor_names() -> list[str]:
    """All short names accepted by :func:`get_descriptor`."""
    return [d.name for d in DESCRIPTORS]


def finite(values: pd.Series | np.ndarray) -> np.ndarray:
    """The finite entries of ``values`` as a float array (NaN and inf dropped)."""
    arr = np.asarray(values, dtype=float)
    return arr[np.isfinite(arr)]
