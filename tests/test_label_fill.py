"""Training-target fill (flocshape.train.label_fill): exact pycocotools fill vs Ultralytics' cv2 fill."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from flocshape.convert.rings import mask_to_geometry
from flocshape.train.label_fill import label_fill, polygon2mask_exact


def _ellipse_ring(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    m = np.zeros((96, 128), np.uint8)
    axes = (int(rng.integers(3, 40)), int(rng.integers(2, 20)))
    cv2.ellipse(m, (64, 48), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return m.astype(bool), np.asarray(mask_to_geometry(m.astype(bool)).exterior.coords)[:-1]


def test_exact_fill_reproduces_the_labelled_mask_where_ultralytics_adds_a_row_and_a_column() -> None:
    from ultralytics.data.utils import polygon2mask

    rng = np.random.default_rng(1)
    for _ in range(30):
        mask, ring = _ellipse_ring(rng)
        exact = polygon2mask_exact((96, 128), [ring.reshape(-1)], color=1).astype(bool)
        assert np.array_equal(exact, mask)
        theirs = polygon2mask((96, 128), [ring.reshape(-1)], color=1).astype(bool)
        assert theirs.sum() > mask.sum()


def test_exact_fill_downsamples_like_ultralytics_and_keeps_colour() -> None:
    from ultralytics.data.utils import polygon2mask

    square = np.array([8.0, 8.0, 40.0, 8.0, 40.0, 24.0, 8.0, 24.0])  # pixel-edge outline of 32 x 16 px
    ours = polygon2mask_exact((64, 64), [square], color=3, downsample_ratio=4)
    assert ours.shape == (16, 16) and set(np.unique(ours)) == {0, 3}
    assert ours.sum() / 3 == 8 * 4  # 32 x 16 px at 1/4 resolution
    theirs = polygon2mask((64, 64), [square], color=3, downsample_ratio=4)
    assert theirs.shape == ours.shape
    assert polygon2mask_exact((10, 10), [np.array([1.0, 1.0, 2.0, 2.0])]).sum() == 0  # < 3 points: nothing


def test_context_manager_patches_ultralytics_and_restores_it() -> None:
    import ultralytics.data.utils as data_utils

    original = data_utils.polygon2mask
    with label_fill("exact"):
        assert data_utils.polygon2mask is polygon2mask_exact
        # polygons2masks looks the function up at call time, so the dataset's targets change too
        _, ring = _ellipse_ring(np.random.default_rng(2))
        masks = data_utils.polygons2masks((96, 128), [ring.reshape(-1)], color=1)
        assert np.array_equal(masks[0], polygon2mask_exact((96, 128), [ring.reshape(-1)]))
    assert data_utils.polygon2mask is original
    with label_fill("ultralytics"):
        assert data_utils.polygon2mask is original
    with pytest.raises(ValueError, match="label_fill"), label_fill("cv2"):
        pass


def test_wrapper_rejects_an_unknown_label_fill(tmp_path) -> None:  # noqa: ANN001
    from flocshape.errors import InputError
    from flocshape.testing import make_toy_dataset
    from flocshape.train.wrapper import train

    data = make_toy_dataset(tmp_path / "ds", n_train=2, n_val=1)
    with pytest.raises(InputError, match="label_fill"):
        train(data, "cpu-small", {"label_fill": "cv2", "epochs": 1}, project=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
