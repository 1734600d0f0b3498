"""Settings of the classical watershed baseline (:mod:`flocshape.baselines.watershed_segment`) and their reader.

Units: px for lengths, px^2 for areas, 0-255 grey levels. A parameters file (``infer/watershed.py --params``)
is a JSON object with any of the :class:`WatershedParams` fields (missing keys keep their defaults); an unknown
key, a value of the wrong type or an invalid value is a one-line :class:`flocshape.errors.InputError` naming
the file and the key.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any

from flocshape.errors import input_error
from flocshape.records import read_json_file

THRESHOLDS = ("otsu", "fixed", "local")
MARKERS = ("peak_local_max", "h_maxima")
SCORES = ("mean_grey", "solidity", "constant")


@dataclass(frozen=True)
class WatershedParams:
    """Settings of :func:`flocshape.baselines.watershed_segment.segment_frame` (units: px for lengths, px^2 for areas, 0-255 grey levels).

    ``score`` is the confidence written to the submission (it only orders predictions, so it matters for COCO
    AP, not for the hackathon F1): ``mean_grey`` = mean raw grey value of the instance / 255 (in-focus flocs
    are brighter than blurred, unlabelled ones), ``solidity`` = area / digital convex-hull area (the particle
    table's ``solidity``, :mod:`flocshape.shape`), ``constant``
    = 1.0.
    """

    smooth_sigma_px: float = 1.0
    background_sigma_px: float | None = None
    threshold: str = "otsu"
    fixed_level: float = 100.0
    local_block_px: int = 151
    local_offset_grey: float = 5.0
    fill_holes: bool = True
    min_area_px: int = 12
    max_area_px: int | None = None
    markers: str = "peak_local_max"
    min_distance_px: int = 5
    h_px: float = 0.5
    compactness: float = 0.0
    score: str = "mean_grey"

    def problems(self) -> list[tuple[str, str]]:
        """``(field, what is wrong)`` for every invalid setting; empty when all are valid."""
        bad: list[tuple[str, str]] = []
        if not self.smooth_sigma_px >= 0:
            bad.append(("smooth_sigma_px", "must be >= 0"))
        if self.background_sigma_px is not None and not self.background_sigma_px > 0:
            bad.append(("background_sigma_px", "must be > 0 or null"))
        if self.threshold not in THRESHOLDS:
            bad.append(("threshold", f"must be one of {', '.join(THRESHOLDS)}"))
        if self.local_block_px < 3 or self.local_block_px % 2 == 0:
            bad.append(("local_block_px", "must be an odd number >= 3"))
        if self.min_area_px < 1:
            bad.append(("min_area_px", "must be >= 1"))
        if self.max_area_px is not None and self.max_area_px < self.min_area_px:
            bad.append(("max_area_px", "must be >= min_area_px or null"))
        if self.markers not in MARKERS:
            bad.append(("markers", f"must be one of {', '.join(MARKERS)}"))
        if self.min_distance_px < 1:
            bad.append(("min_distance_px", "must be >= 1"))
        if not self.h_px > 0:
            bad.append(("h_px", "must be > 0"))
        if not self.compactness >= 0:
            bad.append(("compactness", "must be >= 0"))
        if self.score not in SCORES:
            bad.append(("score", f"must be one of {', '.join(SCORES)}"))
        return bad


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "smooth_sigma_px": (int, float),
    "background_sigma_px": (int, float, type(None)),
    "threshold": (str,),
    "fixed_level": (int, float),
    "local_block_px": (int,),
    "local_offset_grey": (int, float),
    "fill_holes": (bool,),
    "min_area_px": (int,),
    "max_area_px": (int, type(None)),
    "markers": (str,),
    "min_distance_px": (int,),
    "h_px": (int, float),
    "compactness": (int, float),
    "score": (str,),
}


def params_from_dict(values: dict[str, Any], source: object = "<params>") -> WatershedParams:
    """:class:`WatershedParams` from a dict (missing keys keep their defaults).

    Raises :class:`flocshape.errors.InputError` naming ``source`` and the key for an unknown key, a value of
    the wrong type (``bool`` is not a number) or an invalid value.
    """
    if not isinstance(values, dict):
        raise input_error(source, "parameters must be a JSON object")
    names = {f.name for f in dataclasses.fields(WatershedParams)}
    for key, value in values.items():
        if key not in names:
            raise input_error(source, f"unknown parameter (known: {', '.join(sorted(names))})", record=key)
        allowed = _FIELD_TYPES[key]
        is_bool = isinstance(value, bool)
        if not isinstance(value, allowed) or (is_bool and bool not in allowed):
            raise input_error(source, f"wrong type {type(value).__name__}", record=key)
        if isinstance(value, float) and not math.isfinite(value):
            raise input_error(source, "must be finite", record=key)
    params = WatershedParams(**values)
    for key, what in params.problems():
        raise input_error(source, what, record=key)
    return params


def load_params(path: str | os.PathLike[str]) -> WatershedParams:
    """Parameters from a JSON file (see :func:`params_from_dict`)."""
    return params_from_dict(read_json_file(path, "parameters JSON"), path)
