"""Synthetic particle tables of ellipses with known size and shape (for tests and benchmarks).

Each particle is an ellipse with semi-axes ``a >= b`` (px): ``ecd = 2 sqrt(a b)``, ``feret_max = 2a``,
``feret_min = 2b``, ``aspect_ratio_feret = b / a``, ``elongation = 1 - b / a``, perimeter by
Ramanujan's second approximation, ``form_factor = 4 pi A / P^2``. Solidity and convexity are 1 for an
ellipse; here they get a small seeded roughness so they vary. Columns follow the particle-table
contract of :mod:`flocshape.shape` (the subset statistics need).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def ellipse_perimeter(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Ramanujan's second approximation of the perimeter of an ellipse with semi-axes ``a``, ``b``."""
    h = ((a - b) / (a + b)) ** 2
    return np.pi * (a + b) * (1 + 3 * h / (10 + np.sqrt(4 - 3 * h)))


def ellipse_table(
    n: int,
    seed: int = 0,
    ecd_median_px: float = 30.0,
    ecd_sigma_log: float = 0.4,
    aspect_mean: float = 0.7,
    n_images: int = 5,
    image_width: int = 1280,
    image_height: int = 1024,
    min_area_px: float = 50.0,
) -> pd.DataFrame:
    """``n`` ellipse particles: log-normal ECD (median ``ecd_median_px``, log-sd ``ecd_sigma_log``) and
    Feret aspect ratio ``b / a`` ~ Beta with mean ``aspect_mean``; random positions (some touch the border).
    """
    rng = np.random.default_rng(seed)
    ecd = ecd_median_px * np.exp(ecd_sigma_log * rng.standard_normal(n))
    k = 20.0
    ar = rng.beta(aspect_mean * k, (1 - aspect_mean) * k, n).clip(0.05, 1.0)
    a = ecd / 2 / np.sqrt(ar)
    b = a * ar
    area = np.pi * a * b
    perim = ellipse_perimeter(a, b)
    cx = rng.uniform(0, image_width, n)
    cy = rng.uniform(0, image_height, n)
    theta = rng.uniform(0, np.pi, n)
    half_w = np.sqrt((a * np.cos(theta)) ** 2 + (b * np.sin(theta)) ** 2)
    half_h = np.sqrt((a * np.sin(theta)) ** 2 + (b * np.cos(theta)) ** 2)
    x0 = np.clip(cx - half_w, 0, image_width)
    y0 = np.clip(cy - half_h, 0, image_height)
    x1 = np.clip(cx + half_w, 0, image_width)
    y1 = np.clip(cy + half_h, 0, image_height)
    touches = (
        (cx - half_w <= 0) | (cy - half_h <= 0) | (cx + half_w >= image_width) | (cy + half_h >= image_height)
    )
    form_factor = 4 * np.pi * area / perim**2
    image_id = rng.integers(0, n_images, n)
    return pd.DataFrame(
        {
            "source": "synthetic",
            "image_id": image_id,
            "file_name": [f"{i + 1:04d}.jpg" for i in image_id],
            "instance_id": np.arange(n),
            "score": np.nan,
            "area_px": area,
            "perimeter_px": perim,
            "ecd_px": ecd,
            "form_factor": form_factor,
            "circularity": np.sqrt(form_factor),
            "solidity": 1 - rng.gamma(2.0, 0.01, n),
            "convexity": 1 - rng.gamma(2.0, 0.01, n),
            "feret_max_px": 2 * a,
            "feret_min_px": 2 * b,
            "aspect_ratio_feret": ar,
            "aspect_ratio_ellipse": ar,
            "elongation": 1 - ar,
            "roundness": ar,
            "centroid_x_px": cx,
            "centroid_y_px": cy,
            "bbox_x_px": x0,
            "bbox_y_px": y0,
            "bbox_w_px": x1 - x0,
            "bbox_h_px": y1 - y0,
            "touches_border": touches,
            "too_small": area < min_area_px,
            "image_height": image_height,
            "image_width": image_width,
        }
    )
