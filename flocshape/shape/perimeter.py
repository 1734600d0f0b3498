"""Perimeter estimators for a binary pixel mask.

Pixel convention: pixel (row i, column j) is the unit square ``[j, j+1) x [i, i+1)``; its centre
``(j + 0.5, i + 0.5)`` is the lattice point that digitisation tests. All lengths are in pixels.

The product uses :func:`crofton_perimeter` (Cauchy-Crofton formula on the pixel-centre lattice, 4
directions). It counts in/out transitions between neighbouring pixel centres along the lattice lines of
directions 0, 45, 90 and 135 degrees and integrates them over directions:

``P = pi/8 * (T_0 + T_90 + (T_45 + T_135) / sqrt(2))``

where ``T_d`` is the number of transitions along all lines of direction ``d`` (line spacing 1 for 0/90
and 1/sqrt(2) for the diagonals). For convex shapes at random position and rotation the estimate is
unbiased in the mean (Cauchy's formula); it does not follow the pixel staircase, so it avoids the
+5-8 % over-estimate of boundary-tracing estimators. It equals ``skimage.measure.perimeter_crofton(mask,
4)`` exactly but runs on the particle's bounding-box crop in one vectorised pass.

:func:`vossepoel_smeulders_perimeter` (chain code through the boundary pixel centres, corner-corrected)
is kept for comparison in the accuracy benchmark.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

_CROFTON_AXIS_WEIGHT = math.pi / 8.0
_CROFTON_DIAGONAL_WEIGHT = math.pi / (8.0 * math.sqrt(2.0))

# Vossepoel & Smeulders (1982) chain-code length coefficients: even (axis) steps, odd (diagonal) steps,
# corners (changes of chain direction).
_VS_EVEN, _VS_ODD, _VS_CORNER = 0.980, 1.406, -0.091


def lattice_transitions(padded: np.ndarray) -> tuple[int, int, int, int]:
    """In/out transitions along the 0, 90, 45 and 135 degree lattice lines of a zero-padded mask.

    ``padded`` must have a background border of at least one pixel so that every line starts and ends
    outside the object.
    """
    p = padded.astype(bool, copy=False)
    t0 = int(np.count_nonzero(p[:, 1:] != p[:, :-1]))
    t90 = int(np.count_nonzero(p[1:, :] != p[:-1, :]))
    t45 = int(np.count_nonzero(p[1:, 1:] != p[:-1, :-1]))
    t135 = int(np.count_nonzero(p[1:, :-1] != p[:-1, 1:]))
    return t0, t90, t45, t135


def crofton_from_transitions(t0: int, t90: int, t45: int, t135: int) -> float:
    """Cauchy-Crofton perimeter (px) from the four transition counts of :func:`lattice_transitions`."""
    return _CROFTON_AXIS_WEIGHT * (t0 + t90) + _CROFTON_DIAGONAL_WEIGHT * (t45 + t135)


def crofton_perimeter_padded(padded: np.ndarray) -> float:
    """Crofton perimeter (px) of a mask that already has a one-pixel background border."""
    return crofton_from_transitions(*lattice_transitions(padded))


def crofton_perimeter(mask: np.ndarray) -> float:
    """Crofton perimeter (px, 4 directions) of all foreground pixels of ``mask``; 0.0 for an empty mask."""
    return crofton_perimeter_padded(np.pad(np.asarray(mask, dtype=bool), 1))


def vossepoel_smeulders_perimeter(mask: np.ndarray) -> float:
    """Chain-code perimeter (px) through the centres of the boundary pixels (8-connected contours).

    ``P = 0.980 n_even + 1.406 n_odd - 0.091 n_corner`` summed over outer and hole contours. A path
    through pixel centres lies about half a pixel inside the true outline, so for convex shapes this
    under-estimates by roughly ``pi`` px; it is offered for comparison only.
    """
    padded = np.pad(np.asarray(mask, dtype=np.uint8), 1)
    contours, _ = cv2.findContours(padded, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    total = 0.0
    for contour in contours:
        pts = contour[:, 0, :]
        if len(pts) < 2:
            continue
        steps = np.diff(np.vstack([pts, pts[:1]]), axis=0)
        diagonal = np.all(steps != 0, axis=1)
        direction = np.arctan2(steps[:, 1], steps[:, 0])
        corners = int(np.count_nonzero(direction != np.roll(direction, 1)))
        n_odd = int(np.count_nonzero(diagonal))
        n_even = len(steps) - n_odd
        total += _VS_EVEN * n_even + _VS_ODD * n_odd + _VS_CORNER * corners
    return total


def padded_transitions(padded: np.ndarray) -> tuple[int, int, int, int]:
    """:func:`lattice_transitions` of a C-contiguous 2-D mask with a one-pixel zero border, faster.

    Works on the flattened image: neighbours along 0, 90, 45 and 135 degrees are 1, W, W + 1 and
    W - 1 elements apart (W = padded width); the pairs that wrap around a row end join two border
    pixels, which are both background, so the counts are the same.
    """
    flat = padded.reshape(-1)
    width = padded.shape[1]
    return (
        int(np.count_nonzero(flat[1:] != flat[:-1])),
        int(np.count_nonzero(flat[width:] != flat[:-width])),
        int(np.count_nonzero(flat[width + 1 :] != flat[: -width - 1])),
        int(np.count_nonzero(flat[width - 1 :] != flat[: 1 - width])),
    )
