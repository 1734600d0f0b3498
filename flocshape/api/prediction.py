"""The notebook function :func:`predict`: predict frames with the shipped model (or given weights).

Imports happen inside the function, so importing this module (and ``flocshape``) stays fast. It runs what
``infer/predict.py`` runs (``docs/predict.md``) and returns a :class:`Prediction`: the particle table and the
COCO results list.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # only for the annotations: numpy and pandas are imported when the function runs
    import numpy as np
    import pandas as pd


class Prediction(NamedTuple):
    """What :func:`predict` returns."""

    particles: pd.DataFrame
    """The particle table (``particles.parquet``): one row per kept prediction, ``low_score`` flagged."""
    submission: list[dict[str, Any]]
    """The COCO results list (``submission.json``): ``image_id``, ``category_id``, ``bbox``, ``score``,
    ``segmentation`` (compressed RLE at the frame's resolution)."""
    out: Path | None
    """The run folder (with ``manifest.json``), or ``None`` when it was temporary."""


def _frames_to_folder(frames: Sequence[np.ndarray], folder: Path) -> list[Path]:
    """Write in-memory frames as ``0000.png``, ``0001.png``, ... (image ids 0, 1, ...)."""
    import cv2
    import numpy as np

    paths = []
    for k, frame in enumerate(frames):
        arr = np.asarray(frame)
        if arr.dtype != np.uint8 or arr.ndim not in (2, 3):
            raise ValueError(
                f"frame {k}: expected a uint8 grey (H, W) or BGR (H, W, 3) array, got {arr.dtype} {arr.shape}"
            )
        path = folder / f"{k:04d}.png"
        if not cv2.imwrite(str(path), arr):
            raise ValueError(f"frame {k}: cannot be written as PNG (shape {arr.shape})")
        paths.append(path)
    return paths


def predict(
    source: Any,
    out: str | os.PathLike[str] | None = None,
    *,
    model: str | os.PathLike[str] | None = None,
    images_json: str | os.PathLike[str] | None = None,
    um_per_px: float | None = None,
    imgsz: int | None = None,
    conf: float | None = None,
    tile_px: int | None = None,
    overlap: float | None = None,
    postproc: str | os.PathLike[str] | None = None,
    refine_level: float | None = None,
    refine_inset_px: float | None = None,
    refine_smooth_px: float | None = None,
    no_tile: bool = False,
    no_postproc: bool = False,
    no_refine: bool = False,
    device: str = "cpu",
    save_overlays: bool = False,
    resume: bool = False,
) -> Prediction:
    """Predict particles in frames, as ``infer/predict.py`` does (``docs/predict.md``).

    ``source``: a folder of frames, a glob pattern, a list of frame files, or in-memory frames (one uint8
    grey ``(H, W)`` or BGR ``(H, W, 3)`` array, or a list of them; image ids 0, 1, ... in that order).
    Image ids of files come from ``images_json`` (a COCO file naming the frames), else from the integer
    file stem. ``out``: the run folder (``submission.json``, ``particles.parquet``, ``manifest.json``; it
    must not exist or be empty, unless ``resume``); ``None`` predicts into a temporary folder that is
    removed afterwards.

    Without ``model`` the shipped weights run with their model card's settings (``imgsz`` px, ``conf``,
    ``tile_px`` / ``overlap``, tuned post-processing, mask refinement ``refine_level`` / ``refine_inset_px`` /
    ``refine_smooth_px``, the ``low_score`` measurement threshold); any of these given here wins, and
    ``no_tile`` / ``no_postproc`` / ``no_refine`` turn the card's off. With ``model`` (a local ``.pt``) the
    built-in defaults apply (1280 px, conf 0.25, no post-processing, no refinement). ``postproc``: a JSON file
    of ``infer/tune.py``. ``um_per_px`` adds micrometre columns. Bad input raises
    :class:`flocshape.errors.InputError` (a bad array: ``ValueError``) before anything is written.

    On one CPU core the shipped model takes about a second per 1024 x 1280 frame (tiled), plus a few
    seconds to load torch and the weights, so the example is not run here (``tests/test_api.py`` runs it):

    >>> import numpy as np
    >>> import flocshape
    >>> yy, xx = np.mgrid[:256, :320]
    >>> frame = np.where((yy - 128) ** 2 + (xx - 160) ** 2 <= 30**2, 230, 20).astype(np.uint8)
    >>> result = flocshape.predict(frame)  # doctest: +SKIP
    >>> len(result.particles) == len(result.submission)  # doctest: +SKIP
    True
    """
    import json
    import shutil
    import tempfile

    import numpy as np
    import pandas as pd

    from flocshape.infer.checks import check_device, check_postproc_values, check_predict_inputs
    from flocshape.infer.run import PredictOptions, find_sources, resolve_model_settings, run_predict

    tmp = Path(tempfile.mkdtemp(prefix="flocshape-predict-"))
    try:
        source_dir: Path | None = None
        if isinstance(source, np.ndarray):
            frames_dir = tmp / "frames"
            frames_dir.mkdir()
            sources = _frames_to_folder(
                [source] if source.ndim == 2 or source.shape[-1] == 3 else list(source), frames_dir
            )
        elif (
            isinstance(source, Sequence)
            and not isinstance(source, str)
            and source
            and isinstance(source[0], np.ndarray)
        ):
            frames_dir = tmp / "frames"
            frames_dir.mkdir()
            sources = _frames_to_folder(list(source), frames_dir)
        elif isinstance(source, str | os.PathLike):
            sources = find_sources(str(source))
            source_dir = Path(source) if Path(source).is_dir() else None
        else:
            sources = sorted(Path(s) for s in source)
        if not sources:
            raise ValueError(f"no image files in {source!r}")
        described = str(source) if isinstance(source, str | os.PathLike) else f"<{len(sources)} frames>"
        run_dir = Path(out) if out is not None else tmp / "run"
        model_path = None if model is None else Path(model)
        postproc_path = None if postproc is None else Path(postproc)
        images_json_path = None if images_json is None else Path(images_json)
        check_predict_inputs(
            sources, run_dir, images_json_path, model_path, postproc_path, resume, source_dir
        )
        check_device(device)
        choice = resolve_model_settings(
            model_path,
            imgsz,
            conf,
            postproc_path,
            no_postproc,
            refine_level,
            no_refine,
            tile_px=tile_px,
            overlap=overlap,
            no_tile=no_tile,
            refine_inset_px=refine_inset_px,
            refine_smooth_px=refine_smooth_px,
        )
        check_postproc_values(choice.postproc, postproc_path or "postproc")
        options = PredictOptions(
            conf=choice.conf,
            imgsz=choice.imgsz,
            tile_px=choice.tile_px,
            overlap=choice.overlap,
            um_per_px=um_per_px,
            device=str(device),
            box_pad_px=choice.box_pad_px,
            refine_level=choice.refine_level,
            refine_inset_px=choice.refine_inset_px,
            refine_smooth_px=choice.refine_smooth_px,
        )
        run_predict(
            choice.model,
            sources,
            run_dir,
            options,
            images_json=images_json_path,
            postproc_path=choice.postproc_path,
            save_overlays=save_overlays,
            resume=resume,
            cli_args={"api": "flocshape.predict", "source": described},
            postproc=choice.postproc,
            settings_from=choice.settings_from,
        )
        particles = pd.read_parquet(run_dir / "particles.parquet")
        submission = json.loads((run_dir / "submission.json").read_text())
        return Prediction(particles, submission, None if out is None else run_dir.absolute())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
