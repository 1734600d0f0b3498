"""The notebook function :func:`measure`: the particle table of a label image, a list of masks or COCO data.

Imports happen inside the function, so importing this module (and ``flocshape``) stays fast. Conventions
(``docs/shape.md``): pixel (row i, column j) covers ``[j, j+1) x [i, i+1)``; lengths in px, areas in px^2
(pixel counts); with ``um_per_px`` (micrometres per pixel) every ``_px`` column gains a ``_um`` / ``_um2`` twin.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for the annotations: numpy and pandas are imported when the function runs
    import numpy as np
    import pandas as pd


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
