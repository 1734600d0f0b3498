"""flocshape: particle (floc) instance segmentation and shape metrology.

Stage scripts live in the top-level folders ``convert/``, ``train/``, ``infer/`` and ``datasets/``;
they are thin command-line wrappers around the modules of this package.

Notebook API (each a thin function over the package; imports happen inside the functions, so
``import flocshape`` stays fast):

* :func:`measure` - the particle table of a label image, a list of masks or a COCO file / dict;
* :func:`predict` - predict frames with the shipped model (or your weights): particle table and submission;
* :func:`score` - hackathon F1, strict F1 and COCO mask AP of predictions against COCO ground truth;
* :func:`compare` - change of each descriptor between particle tables (median shift with CI, KS, ...).

Conventions (the particle table's, ``docs/shape.md``): pixel (row i, column j) covers
``[j, j+1) x [i, i+1)``; lengths in px, areas in px^2 (pixel counts), angles in degrees; with a scale
``um_per_px`` (micrometres per pixel) every ``_px`` column gains a ``_um`` / ``_um2`` twin.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # only for the annotations: numpy and pandas are imported when a function runs
    import numpy as np
    import pandas as pd

__version__ = "0.1.0"

__all__ = ["Prediction", "__version__", "compare", "measure", "predict", "score"]


class _FunctionAndSubpackage:
    """A notebook function that shares its name with a subpackage (``flocshape.score``).

    Called, it is the function (same docstring and signature); any other public attribute is the
    subpackage's, imported on first use, so ``flocshape.score.score_all`` and ``import flocshape.score``
    keep working.
    """

    def __init__(self, func: Callable[..., Any], subpackage: str) -> None:
        functools.update_wrapper(self, func)
        self._subpackage = subpackage

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__wrapped__(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(importlib.import_module(self._subpackage), name)

    def __repr__(self) -> str:
        return f"<function flocshape.{self.__name__} (attributes: subpackage {self._subpackage})>"


def _shares_name_with(subpackage: str) -> Callable[[Callable[..., Any]], _FunctionAndSubpackage]:
    """Decorator: the function becomes a :class:`_FunctionAndSubpackage` of ``subpackage``."""
    return lambda func: _FunctionAndSubpackage(func, subpackage)


class _Package(types.ModuleType):
    """This package's module type: importing the subpackage ``flocshape.score`` must not replace the function
    ``flocshape.score`` (the import system sets a package attribute per imported subpackage; the subpackage stays
    in ``sys.modules`` and behind the function's attributes)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and isinstance(
            self.__dict__.get(name), _FunctionAndSubpackage
        ):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def _json_default(value: Any) -> Any:
    """JSON for what ``json`` cannot write itself: ``bytes`` RLE counts, numpy scalars."""
    if isinstance(value, bytes):
        return value.decode("ascii")
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _measure_coco_object(
    data: dict[str, Any] | list[dict[str, Any]],
    images_dir: str | os.PathLike[str] | None,
    um_per_px: float | None,
    images_json: str | os.PathLike[str] | None,
) -> pd.DataFrame:
    """:func:`flocshape.shape.sources.measure_coco` of an in-memory COCO object (``source`` column ``""``)."""
    import json
    import tempfile

    from flocshape.errors import InputError
    from flocshape.shape.sources import measure_coco

    with tempfile.TemporaryDirectory(prefix="flocshape-measure-") as tmp:
        path = Path(tmp) / "coco.json"
        path.write_text(json.dumps(data, default=_json_default))
        try:
            table = measure_coco(path, images_dir, um_per_px, images_json)
        except InputError as exc:  # name the object, not the temporary file
            raise InputError(str(exc).replace(str(path), f"<COCO {type(data).__name__}>")) from None
    table["source"] = ""
    return table


def measure(
    masks: Any,
    image: np.ndarray | None = None,
    *,
    um_per_px: float | None = None,
    scores: Sequence[float] | None = None,
    image_id: int = 0,
    file_name: str = "",
    images_dir: str | os.PathLike[str] | None = None,
    images_json: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """The particle table: one row per instance, the columns of ``docs/shape.md`` (units in their names).

    ``masks`` is one of:

    * a 2-D integer **label image** (0 = background, each label > 0 one particle; ``instance_id`` = the label),
      measured by :func:`flocshape.shape.measure.measure_labelmap`;
    * a **list of masks** of one frame - 2-D bool / 0-1 arrays of the frame's size, or COCO RLE dicts
      ``{"size": [H, W], "counts": ...}`` - or an ``(N, H, W)`` array of them (``instance_id`` = 0..N-1),
      measured by :func:`flocshape.shape.measure.measure_instances`;
    * a **COCO** instances dict (``images``, ``annotations``), a COCO results list (dicts with ``image_id``,
      ``segmentation``, ``score``), or the path of such a JSON file, measured by
      :func:`flocshape.shape.sources.measure_coco` (``images_dir``: folder of the frames, for the intensity
      columns; ``images_json``: for a results list, the COCO file that names its images).

    ``image``: the frame (grey or RGB uint8, same H x W) for a label image or a list of masks; without it the
    intensity columns (``mean_intensity``, ``contrast``, ``sharpness``, ...) are NaN. ``um_per_px``: micrometres per
    pixel; adds ``um_per_px`` and the ``_um`` / ``_um2`` columns. ``scores`` (one per mask, 0-1) fill the
    ``score`` column of a list of masks (else NaN, as for ground truth). ``image_id`` / ``file_name`` label
    the rows of a label image or list of masks. ``source`` is the file for a path, else ``""``.

    A 2-D bool array is refused (one particle, or connected components?): pass ``[mask]`` for one particle, or
    ``scipy.ndimage.label(mask)[0]`` for one particle per connected component. Bad arrays raise ``ValueError``; a
    bad COCO file or object raises :class:`flocshape.errors.InputError` naming the file (or ``<COCO dict>``)
    and the record.

    A disc of radius 20 px on a 64 x 64 label image, 2 micrometres per pixel:

    >>> import numpy as np
    >>> import flocshape
    >>> yy, xx = np.mgrid[:64, :64]
    >>> labels = ((yy - 31.5) ** 2 + (xx - 31.5) ** 2 <= 20**2).astype(np.int32)
    >>> table = flocshape.measure(labels, um_per_px=2.0)
    >>> row = table.iloc[0]
    >>> int(row["area_px"]), round(float(row["ecd_px"]), 2), round(float(row["ecd_um"]), 2)
    (1264, 40.12, 80.23)
    >>> round(float(row["form_factor"]), 2), float(row["solidity"]), bool(row["touches_border"])
    (1.0, 1.0, False)

    The same disc and a 10 x 30 px rectangle as a list of masks, with scores:

    >>> rect = np.zeros((64, 64), bool)
    >>> rect[2:12, 30:60] = True
    >>> table = flocshape.measure([labels == 1, rect], scores=[0.9, 0.6])
    >>> print(table[["instance_id", "score", "area_px", "feret_max_px", "feret_min_px"]].to_string(index=False))
     instance_id  score  area_px  feret_max_px  feret_min_px
               0    0.9     1264     41.231056          40.0
               1    0.6      300     31.622777          10.0
    """
    import numpy as np

    from flocshape.shape.measure import measure_instances, measure_labelmap
    from flocshape.shape.sources import measure_coco

    if isinstance(masks, str | os.PathLike):
        return measure_coco(masks, images_dir, um_per_px, images_json)
    if isinstance(masks, dict):
        return _measure_coco_object(masks, images_dir, um_per_px, images_json)
    if isinstance(masks, Sequence) and masks and isinstance(masks[0], dict) and "segmentation" in masks[0]:
        return _measure_coco_object(list(masks), images_dir, um_per_px, images_json)
    if isinstance(masks, np.ndarray) and masks.ndim == 2:
        if masks.dtype == bool:
            raise ValueError(
                "a 2-D bool array is ambiguous: pass [mask] for one particle, or scipy.ndimage.label(mask)[0] "
                "for one particle per connected component"
            )
        return measure_labelmap(masks, image, image_id, file_name, um_per_px)
    if isinstance(masks, np.ndarray) and masks.ndim != 3:
        raise ValueError(
            f"expected a 2-D label image or an (N, H, W) stack of masks, got shape {masks.shape}"
        )
    from flocshape.masks import encode_rle

    rles = []
    for k, mask in enumerate(masks):
        if isinstance(mask, dict):
            rles.append(mask)
            continue
        m = np.asarray(mask)
        if m.ndim != 2:
            raise ValueError(f"mask {k}: expected a 2-D array or a COCO RLE dict, got shape {m.shape}")
        rles.append(encode_rle(m != 0))
    if scores is not None and len(scores) != len(rles):
        raise ValueError(f"{len(scores)} scores for {len(rles)} masks")
    return measure_instances(
        rles,
        image,
        image_id,
        file_name,
        scores=None if scores is None else [float(s) for s in scores],
        um_per_px=um_per_px,
    )


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


def _load_json_input(value: Any, role: str) -> tuple[Any, object]:
    """``value`` itself, or the JSON of the file it names; and how to name it in error messages."""
    if isinstance(value, str | os.PathLike):
        from flocshape.score.inputs import load_json

        return load_json(Path(value)), Path(value)
    return value, f"<{role}>"


@_shares_name_with("flocshape.score")
def score(
    gt: dict[str, Any] | str | os.PathLike[str],
    predictions: list[dict[str, Any]] | str | os.PathLike[str],
    *,
    th: float = 0.1,
    max_dets: int = 1000,
) -> dict[str, Any]:
    """All metrics of ``infer/score.py`` (``docs/score.md``) for ``predictions`` against ``gt``.

    ``gt``: a COCO instances dict or file (every annotation is a ground-truth instance); ``predictions``: a
    COCO results list or file (``image_id``, ``segmentation`` as RLE or polygons, ``score``; ``category_id``
    may be left out when the ground truth has one category). Predictions on images outside the ground truth
    are ignored (counted), but not all of them (that raises: the inputs do not belong together).

    Returns ``{"hackathon_f1": {"f1", "precision", "recall", "sum_iou", "tp", "fp", "fn", ...},
    "strict": {"f1", "precision", "recall", "mean_iou", ...}, "coco": {"AP", "AP50", "AP75", "APs", "APm",
    "APl", ...}, "counts": {...}}``: the hackathon's "F1 with IoU" (``th``: the IoU above which a second
    prediction on the same ground truth is a false positive), one-to-one F1 at IoU >= 0.5, and COCO mask AP
    at ``max_dets`` detections per image (:func:`flocshape.score.score_all`).

    Two particles, predicted exactly:

    >>> import numpy as np
    >>> import flocshape
    >>> from flocshape.masks import encode_rle
    >>> a = np.zeros((40, 50), bool)
    >>> a[5:15, 5:20] = True
    >>> b = np.zeros((40, 50), bool)
    >>> b[20:35, 25:45] = True
    >>> gt = {
    ...     "images": [{"id": 1, "file_name": "0001.jpg", "height": 40, "width": 50}],
    ...     "categories": [{"id": 1, "name": "Normal"}],
    ...     "annotations": [
    ...         {"id": k + 1, "image_id": 1, "category_id": 1, "segmentation": encode_rle(m),
    ...          "area": int(m.sum()), "bbox": [0, 0, 1, 1], "iscrowd": 0}
    ...         for k, m in enumerate([a, b])
    ...     ],
    ... }
    >>> preds = [{"image_id": 1, "category_id": 1, "segmentation": encode_rle(m), "score": 0.9} for m in [a, b]]
    >>> result = flocshape.score(gt, preds)
    >>> result["hackathon_f1"]["f1"], result["strict"]["f1"], round(result["coco"]["AP"], 3)
    (1.0, 1.0, 1.0)
    """
    from flocshape.records import warn_repeated_predictions
    from flocshape.score import score_all
    from flocshape.score.inputs import prepare, require_overlap

    gt_data, gt_source = _load_json_input(gt, "ground truth")
    pred_data, pred_source = _load_json_input(predictions, "predictions")
    prepared = prepare(gt_data, pred_data, gt_source=gt_source, pred_source=pred_source)
    require_overlap(prepared, pred_source)
    warn_repeated_predictions(prepared.preds, pred_source)
    return score_all(prepared, th=th, max_dets=max_dets)


def compare(
    a: pd.DataFrame | str | os.PathLike[str],
    b: pd.DataFrame | str | os.PathLike[str],
    *more: pd.DataFrame | str | os.PathLike[str],
    labels: Sequence[str] | None = None,
    descriptors: Sequence[str] | None = None,
    um_per_px: float | None = None,
    border: str = "exclude",
    keep_low_score: bool = False,
    keep_too_small: bool = False,
    min_score: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Change of each descriptor from batch ``a`` to ``b`` (and to each of ``more``), as ``infer/compare.py``.

    Each batch is a particle table (a DataFrame of :func:`measure` / :func:`predict`) or the path of one (a
    run folder holding ``particles.parquet``, or a ``.parquet`` / ``.csv`` file). ``labels`` name the batches
    (default ``"A"``, ``"B"``, ...). ``descriptors``: columns to compare (default: ECD, Feret max and the shape
    descriptors present in every table; with ``um_per_px`` the size columns in micrometres).

    Which particles count (``docs/stats.md``): ``low_score`` predictions are left out unless
    ``keep_low_score``; particles touching the border are left out (``border="include"`` keeps them); shape
    descriptors also leave out ``too_small`` particles unless ``keep_too_small``; ``min_score`` drops
    predictions scored lower first. Bootstrap: ``n_boot`` replicates, seeded by ``seed``, ``confidence`` level.

    Returns one row per later batch and descriptor with the columns
    :data:`flocshape.stats.compare.COMPARISON_COLUMNS`: ``label_a``, ``label_b``, ``descriptor``, ``n_a``,
    ``n_b``, ``median_a``, ``median_b``, ``delta_median`` (B - A, the descriptor's unit) with
    ``delta_ci_low`` / ``delta_ci_high``, ``delta_rel_pct`` (% of median A) with its CI, ``ks_statistic``,
    ``ks_pvalue``, ``ks_pvalue_holm``, ``wasserstein``, ``cliffs_delta``, ``cliffs_magnitude``,
    ``significant_ci``, ``enough_particles`` and a plain ``verdict`` line.

    Two batches of 60 particles whose equivalent diameters differ by 5 px:

    >>> import numpy as np
    >>> import pandas as pd
    >>> import flocshape
    >>> rng = np.random.default_rng(0)
    >>> batch_a = pd.DataFrame({"ecd_px": rng.normal(30, 3, 60)})
    >>> batch_b = pd.DataFrame({"ecd_px": rng.normal(35, 3, 60)})
    >>> result = flocshape.compare(batch_a, batch_b, labels=["before", "after"])
    >>> row = result.iloc[0]
    >>> row["descriptor"], int(row["n_a"]), int(row["n_b"]), bool(row["significant_ci"])
    ('ecd_px', 60, 60, True)
    >>> print(f"{row['delta_median']:+.1f} px, CI {row['delta_ci_low']:+.1f} to {row['delta_ci_high']:+.1f} px")
    +5.1 px, CI +3.4 to +6.6 px
    """
    from flocshape.stats.cli import resolve_descriptors
    from flocshape.stats.compare import CompareOptions, add_scale, compare_tables, load_particle_table

    batches = [a, b, *more]
    names = list(labels) if labels is not None else [chr(ord("A") + k) for k in range(len(batches))]
    if len(names) != len(batches) or len(set(names)) != len(names):
        raise ValueError(f"need {len(batches)} distinct labels, got {names}")
    tables: dict[str, pd.DataFrame] = {}
    where: dict[str, str] = {}
    for name, batch in zip(names, batches, strict=True):
        is_path = isinstance(batch, str | os.PathLike)
        table = load_particle_table(batch) if is_path else batch
        tables[name] = add_scale(table, um_per_px) if um_per_px is not None else table
        where[name] = str(batch) if is_path else f"table {name}"
    chosen = resolve_descriptors(tables, where, descriptors, um_per_px is not None)
    options = CompareOptions(
        border=border,
        keep_too_small=keep_too_small,
        keep_low_score=keep_low_score,
        min_score=min_score,
        n_boot=n_boot,
        seed=seed,
        confidence=confidence,
    )
    return compare_tables(tables, chosen, options)
