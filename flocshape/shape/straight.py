"""Straight runs in instance outlines: the share of outline length on long horizontal or vertical edges.

A mask cut at its predicted box or at a tile border gets a straight, axis-aligned edge that no particle has.
This module measures how much of the outline lies on such edges, so that a cut shows up as a number.

Conventions
-----------
* The outline is the set of pixel edges (cracks) between a mask pixel and a non-mask pixel, 4-neighbours;
  each crack has length 1 px. Pixel ``(row i, column j)`` covers ``[j, j+1) x [i, i+1)``.
* Cracks on the frame border (a mask pixel in the first or last row or column) are not part of the outline:
  the frame cuts the particle there, not the segmentation.
* A *straight run* is a maximal sequence of consecutive cracks on one horizontal (or vertical) pixel line with
  the mask on the same side; it counts when it is at least ``min_run_px`` long (default 12 px).
* ``straight_share = straight crack length / total crack length``, summed over the masks given (length-weighted),
  so large particles weigh more than small ones, as they do in the outline a reader looks at.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from flocshape.masks import MaskCrop

MIN_RUN_PX = 12


@dataclass(frozen=True)
class StraightRuns:
    """Outline length on long axis-aligned runs and the whole outline length (px; frame border left out)."""

    straight_px: int
    outline_px: int

    @property
    def share(self) -> float:
        """``straight_px / outline_px`` (NaN for an empty outline)."""
        return self.straight_px / self.outline_px if self.outline_px else float("nan")

    def __add__(self, other: StraightRuns) -> StraightRuns:
        return StraightRuns(self.straight_px + other.straight_px, self.outline_px + other.outline_px)


def _runs_along_rows(cracks: np.ndarray, min_run_px: int) -> int:
    """Total length of runs of ``True`` of at least ``min_run_px`` along each row of ``cracks``."""
    if cracks.size == 0:
        return 0
    edge = np.zeros((cracks.shape[0], 1), np.int8)
    steps = np.diff(np.concatenate([edge, cracks.astype(np.int8), edge], axis=1), axis=1)
    lengths = np.flatnonzero(steps.ravel() == -1) - np.flatnonzero(steps.ravel() == 1)
    return int(lengths[lengths >= min_run_px].sum())


def straight_runs(mask: np.ndarray, border: tuple[bool, bool, bool, bool] = (False,) * 4, *,
                  min_run_px: int = MIN_RUN_PX) -> StraightRuns:  # fmt: skip
    """Straight runs of one mask given as an array that holds the whole instance.

    ``border`` = ``(top, bottom, left, right)``: which sides of the array lie on the frame border (cracks there
    are left out); on the other sides the array is padded with background, so a mask touching the array's edge
    gets its outline there.
    """
    top, bottom, left, right = border
    m = np.pad(
        np.asarray(mask, bool), ((0 if top else 1, 0 if bottom else 1), (0 if left else 1, 0 if right else 1))
    )
    straight = total = 0
    for grid in (m, m.T):  # horizontal cracks lie between rows; vertical ones between columns
        step = np.diff(grid.astype(np.int8), axis=0)
        for side in (1, -1):  # mask below / above the crack line: runs never mix the two
            cracks = step == side
            total += int(np.count_nonzero(cracks))
            straight += _runs_along_rows(cracks, min_run_px)
    return StraightRuns(straight, total)


def crop_straight_runs(crop: MaskCrop, min_run_px: int = MIN_RUN_PX) -> StraightRuns:
    """Straight runs of a :class:`~flocshape.masks.MaskCrop` (tight window in a ``height x width`` frame)."""
    h, w = crop.crop.shape
    border = (crop.y0 == 0, crop.y0 + h >= crop.height, crop.x0 == 0, crop.x0 + w >= crop.width)
    return straight_runs(crop.crop, border, min_run_px=min_run_px)


def total_straight_runs(crops: Iterable[MaskCrop], min_run_px: int = MIN_RUN_PX) -> StraightRuns:
    """Sum of :func:`crop_straight_runs` over ``crops`` (its ``share`` is the length-weighted share)."""
    out = StraightRuns(0, 0)
    for crop in crops:
        if crop.crop.size:
            out = out + crop_straight_runs(crop, min_run_px)
    return out
