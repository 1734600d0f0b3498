"""Statistics of a generated data set: card numbers (hard-case proportions) and realism measures.

Published reference values of the 2022 hackathon data (from the issue and the one surviving real frame)
are in :data:`PUBLISHED`. Grey levels are 0-255 (OpenCV BGR -> grey conversion); areas are mask pixel counts;
COCO size classes: small < 32^2, medium < 96^2, large otherwise (px^2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from flocshape.synth.config import SynthConfig

GREY_PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
PUBLISHED: dict[str, Any] = {
    "grey_percentiles": dict(zip(GREY_PERCENTILES, (7, 13, 35, 65, 86, 138, 170), strict=True)),
    "noise_sigma": 5.8,
    "particles_per_frame": 62.0,
    "area_median_px": "a few hundred",
    "area_p90_px": (6000, 14000),
    "largest_px": (330, 245),
    "coco_small_share": "most (> 0.5)",
    "rg_correlation": 0.978,
}
NEAR_LIMIT_BAND = (0.7, 1.3)
"""Blur within this band times the label limit counts as 'defocused near the labelling limit'."""


def grey_percentiles(bgr: np.ndarray) -> dict[int, float]:
    """Whole-frame grey-level percentiles (1/5/25/50/75/95/99 %)."""
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    values = np.percentile(grey, GREY_PERCENTILES)
    return {p: float(v) for p, v in zip(GREY_PERCENTILES, values, strict=True)}


def noise_sigma(bgr: np.ndarray, window_px: int = 7) -> float:
    """Noise sd (grey levels): robust sd (1.4826 x MAD) of the grey frame minus its ``window_px`` box mean.

    The median ignores edges and particle texture; the result is corrected for the box mean's own share
    (``sqrt(1 - 1/window_px^2)``). Unlike high-pass (Laplacian/wavelet) estimators it is not fooled by JPEG,
    which removes most of the finest-scale noise.
    """
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    residual = grey - cv2.blur(grey, (window_px, window_px), borderType=cv2.BORDER_REFLECT)
    mad = float(np.median(np.abs(residual - np.median(residual))))
    return 1.4826 * mad / float(np.sqrt(1.0 - 1.0 / window_px**2))


def rg_correlation(bgr: np.ndarray) -> float:
    """Pearson correlation of the red and green channels over the frame."""
    return float(np.corrcoef(bgr[..., 2].ravel(), bgr[..., 1].ravel())[0, 1])


def coco_size_shares(areas_px: np.ndarray) -> dict[str, float]:
    """Shares of COCO small / medium / large instances."""
    a = np.asarray(areas_px, float)
    n = max(len(a), 1)
    return {
        "small": float(np.sum(a < 32**2) / n),
        "medium": float(np.sum((a >= 32**2) & (a < 96**2)) / n),
        "large": float(np.sum(a >= 96**2) / n),
    }


def hard_case_shares(truth: pd.DataFrame, cfg: SynthConfig) -> dict[str, float]:
    """Proportions of hard cases among labelled instances (and of unlabelled near-limit particles)."""
    lab = truth[truth["labelled"]]
    n = max(len(lab), 1)
    lo, hi = (f * cfg.max_label_blur_px for f in NEAR_LIMIT_BAND)
    near = truth["blur_sigma_px"].between(lo, hi)
    return {
        "labelled_overlapping": float(lab["overlaps_other"].sum() / n),
        "labelled_touching": float(lab["touches_other"].sum() / n),
        "labelled_occluded": float((lab["visible_fraction"] < 1.0 - 1e-9).sum() / n),
        "labelled_border_cut": float(lab["touches_border"].sum() / n),
        "labelled_near_blur_limit": float((near & truth["labelled"]).sum() / n),
        "labelled_with_bubbles_on_top": float((lab["bubbles_on_top"] > 0).sum() / n),
        "all_particles_near_blur_limit": float(near.sum() / max(len(truth), 1)),
    }


def card_statistics(root: Path, cfg: SynthConfig) -> dict[str, Any]:
    """Counts and hard-case proportions for ``card.json``, read back from the written truth tables."""
    truth = pd.read_parquet(root / "truth" / "particles.parquet")
    bubbles = pd.read_parquet(root / "truth" / "bubbles.parquet")
    frames = truth.groupby("split")["image_id"].nunique().to_dict()
    labelled = truth[truth["labelled"]]
    per_frame = labelled.groupby("image_id").size().reindex(truth["image_id"].unique(), fill_value=0)
    n_bubbles = max(len(bubbles), 1)
    on_flocs = float((bubbles["on_track_id"] >= 0).sum() / n_bubbles) if len(bubbles) else 0.0
    return {
        "images": {k: int(v) for k, v in frames.items()},
        "particle_rows": int(len(truth)),
        "labelled_instances": {k: int(v) for k, v in labelled.groupby("split").size().items()},
        "labelled_per_frame_mean": float(per_frame.mean()),
        "label_reasons": {k: int(v) for k, v in truth["label_reason"].value_counts().sort_index().items()},
        "tracks": int(truth["track_id"].nunique()),
        "broken_up_children": int(truth.loc[truth["parent_track_id"] >= 0, "track_id"].nunique()),
        "bubbles_per_frame_mean": float(len(bubbles) / max(truth["image_id"].nunique(), 1)),
        "bubbles_on_flocs_share": on_flocs,
        "hard_cases": hard_case_shares(truth, cfg),
        "coco_size_shares_labelled": coco_size_shares(labelled["mask_area_px"].to_numpy()),
    }
