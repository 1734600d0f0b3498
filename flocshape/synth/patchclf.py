"""Real-vs-synthetic patch classifier: how well can hand-crafted features tell a real patch from a synthetic one?

Patches are 64 x 64 px, on the non-overlapping grid of each frame, at least 90 % fluid
(:func:`flocshape.synth.realism_stats.patch_origins`). Each patch gives :data:`FEATURE_NAMES`: grey-level
moments and percentiles, gradient and Laplacian statistics, sensor-noise sd, radially averaged spectrum
shares, JPEG blockiness, colour (Cr, Cb) levels and noise, and a uniform LBP histogram (P = 8, R = 1). A
logistic regression (L2, balanced class weights, Newton's method, numpy only) is trained on standardised
features, and scored by ROC AUC on held-out patches: 0.5 = the classifier cannot tell them apart, 1.0 = it
always can.

Folds are spatial, because there is only one real frame: fold k (k = 0..3) tests on quadrant k of the real frame
(top-left, top-right, bottom-left, bottom-right; a patch belongs to the quadrant holding its centre) against
quadrant k of the synthetic frames of blocks ``b`` with ``b % 4 == k``, and trains on the other three quadrants
of the real frame and of the other blocks' synthetic frames. No test patch overlaps a training patch, no test
frame region or block is seen in training, and both classes are tested on the same part of the picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.stats import kurtosis, rankdata, skew
from skimage.feature import local_binary_pattern

from flocshape.synth.realism_stats import (
    PATCH_PX,
    SPECTRUM_BANDS,
    blockiness,
    fluid_mask,
    grey,
    patch_origins,
    radial_band_power,
)

N_FOLDS = 4
LBP_BINS = 10  # uniform LBP with P = 8: values 0..9
FEATURE_NAMES: tuple[str, ...] = (
    "grey_mean",
    "grey_sd",
    "grey_skew",
    "grey_kurtosis",
    "grey_p5",
    "grey_p50",
    "grey_p95",
    "gradient_mean",
    "gradient_p90",
    "gradient_over_sd",
    "laplacian_sd",
    "noise_sd",
    *(f"spectrum_band{k}" for k in range(len(SPECTRUM_BANDS) - 1)),
    "blockiness",
    "cr_mean",
    "cb_mean",
    "cr_noise_sd",
    "cb_noise_sd",
    *(f"lbp{k}" for k in range(LBP_BINS)),
)


FEATURE_GROUPS: dict[str, list[int]] = {
    group: [i for i, name in enumerate(FEATURE_NAMES) if name.startswith(prefixes)]
    for group, prefixes in (
        ("grey-level", ("grey_",)),
        ("gradient", ("gradient_", "laplacian_")),
        ("noise and spectrum", ("noise_", "spectrum_")),
        ("JPEG and colour", ("blockiness", "cr_", "cb_")),
        ("LBP texture", ("lbp",)),
    )
}
"""Feature columns of each group: a classifier on one group says which aspect of the picture gives it away."""


def _robust_sd(values: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def patch_features(bgr: np.ndarray) -> np.ndarray:
    """The :data:`FEATURE_NAMES` of one BGR ``uint8`` patch, float64."""
    g = grey(bgr)
    v = g.ravel()
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    grad = np.hypot(gx, gy).ravel()
    sd = float(v.std())
    residual = g - cv2.blur(g, (7, 7))
    bands = radial_band_power(g)
    ycc = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb).astype(np.float32)
    cr, cb = ycc[..., 1], ycc[..., 2]
    lbp = local_binary_pattern(np.clip(g, 0, 255).astype(np.uint8), 8, 1, method="uniform")
    hist = np.bincount(lbp.astype(int).ravel(), minlength=LBP_BINS)[:LBP_BINS] / lbp.size
    return np.array(
        [
            v.mean(),
            sd,
            float(skew(v)),
            float(kurtosis(v)),
            *np.percentile(v, (5, 50, 95)),
            grad.mean(),
            np.percentile(grad, 90),
            grad.mean() / max(sd, 1e-3),
            float(cv2.Laplacian(g, cv2.CV_32F).std()),
            _robust_sd(residual),
            *np.log10(bands / max(bands.sum(), 1e-9) + 1e-6),
            blockiness(g),
            float(cr.mean()),
            float(cb.mean()),
            _robust_sd(cr - cv2.blur(cr, (7, 7))),
            _robust_sd(cb - cv2.blur(cb, (7, 7))),
            *hist,
        ],
        float,
    )


def quadrant(y: int, x: int, shape: tuple[int, ...], size: int = PATCH_PX) -> int:
    """Quadrant (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right) holding the patch centre."""
    cy, cx = y + size / 2, x + size / 2
    return int(cy >= shape[0] / 2) * 2 + int(cx >= shape[1] / 2)


@dataclass
class Patches:
    """Features ``X`` (n, d) of patches with their quadrant, and the frame's block (-1 for the real frame)."""

    X: np.ndarray
    quadrant: np.ndarray
    block: np.ndarray


def frame_patches(bgr: np.ndarray, block: int) -> Patches:
    """Features of every fluid grid patch of one frame."""
    origins = patch_origins(fluid_mask(bgr))
    X = np.array([patch_features(bgr[y : y + PATCH_PX, x : x + PATCH_PX]) for y, x in origins])
    return Patches(
        X=X.reshape(len(origins), len(FEATURE_NAMES)),
        quadrant=np.array([quadrant(y, x, bgr.shape) for y, x in origins], int),
        block=np.full(len(origins), block, int),
    )


def concat(parts: list[Patches]) -> Patches:
    """All patches of several frames together."""
    return Patches(
        X=np.vstack([p.X for p in parts]),
        quadrant=np.concatenate([p.quadrant for p in parts]),
        block=np.concatenate([p.block for p in parts]),
    )


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 50) -> np.ndarray:
    """Weights ``(d + 1,)`` (bias last) of an L2 logistic regression with balanced class weights (Newton).

    Minimises ``sum_i c_i * logloss_i + l2 / 2 * |w|^2`` (bias not penalised), ``c_i = n / (2 n_class(i))``.
    """
    n, d = X.shape
    A = np.hstack([X, np.ones((n, 1))])
    n_pos = max(int(y.sum()), 1)
    c = np.where(y == 1, n / (2.0 * n_pos), n / (2.0 * max(n - n_pos, 1)))
    penalty = np.full(d + 1, l2)
    penalty[-1] = 0.0
    w = np.zeros(d + 1)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(A @ w, -30, 30)))
        grad = A.T @ (c * (p - y)) + penalty * w
        hess = (A * (c * p * (1 - p))[:, None]).T @ A + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC of ``scores`` for binary ``labels`` (Mann-Whitney U with tied ranks averaged); NaN if one class."""
    labels = np.asarray(labels, bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if not n_pos or not n_neg:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def fold_auc(X: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, l2: float = 1.0) -> float:
    """AUC on ``test`` of a logistic regression fitted on ``train`` (features standardised on ``train``)."""
    mu = X[train].mean(axis=0)
    sd = X[train].std(axis=0)
    sd[sd < 1e-9] = 1.0
    Z = (X - mu) / sd
    w = fit_logistic(Z[train], y[train], l2=l2)
    return roc_auc(Z[test] @ w[:-1] + w[-1], y[test])


def spatial_folds(real: Patches, synth: Patches) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index masks over ``concat([real, synth])`` for the folds of the module doc."""
    q = np.concatenate([real.quadrant, synth.quadrant])
    is_real = np.concatenate([np.ones(len(real.quadrant), bool), np.zeros(len(synth.quadrant), bool)])
    group = np.concatenate([np.full(len(real.quadrant), -1), synth.block % N_FOLDS])
    folds = []
    for k in range(N_FOLDS):
        test = (q == k) & (is_real | (group == k))
        train = (q != k) & (is_real | (group != k))
        folds.append((train, test))
    return folds


def cross_validated_auc(
    real: Patches, synth: Patches, l2: float = 1.0, columns: list[int] | None = None
) -> list[float]:
    """Held-out ROC AUC of each spatial fold (real = positive class), on all features or on ``columns`` only; a
    fold missing a class gives NaN."""
    both = concat([real, synth])
    X = both.X if columns is None else both.X[:, columns]
    y = np.concatenate([np.ones(len(real.X)), np.zeros(len(synth.X))])
    return [fold_auc(X, y, train, test, l2) for train, test in spatial_folds(real, synth)]
