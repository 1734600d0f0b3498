"""Which particles of a particle table count in a statistic, and with what weight (0 = left out).

Conventions
-----------
* **Border**: particles with ``touches_border`` have unknown true size and a cut outline. Policy
  ``"exclude"`` (default) drops them from size *and* shape statistics; ``"include"`` keeps them with
  weight 1; ``"fov"`` drops them and weighs every kept particle by the Miles/Lantuejoul field-of-view
  factor ``C_fov = W * H / ((W - w_bbox) * (H - h_bbox))`` (image size from ``image_width`` /
  ``image_height``, box from ``bbox_w_px`` / ``bbox_h_px``), which undoes the bias of exclusion
  against large particles.
* **too_small** particles (too few pixels for meaningful shape numbers) are left out of *shape*
  statistics only, unless ``keep_too_small``.
* **low_score** predictions (score below the run's measurement threshold, ``measure_min_score`` of the
  post-processing; ``flocshape.score.postprocess``) are left out of size *and* shape statistics unless
  ``keep_low_score``. Tables without the column (ground truth, older runs) lose nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BORDER_POLICIES: tuple[str, ...] = ("exclude", "include", "fov")


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
