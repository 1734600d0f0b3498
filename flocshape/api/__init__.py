"""The notebook API, one module per function; ``flocshape`` re-exports them (``flocshape.measure``, ...).

* :func:`measure` (:mod:`flocshape.api.particles`) - the particle table of a label image, a list of masks or a
  COCO file / dict;
* :func:`predict` (:mod:`flocshape.api.prediction`) - predict frames with the shipped model (or your weights):
  particle table and submission;
* :func:`score` (:mod:`flocshape.api.scoring`) - hackathon F1, strict F1 and COCO mask AP of predictions against
  COCO ground truth;
* :func:`compare` (:mod:`flocshape.api.comparison`) - change of each descriptor between particle tables (median
  shift with CI, KS, ...).

Every function imports what it needs when it runs, so importing this package loads nothing heavy.
"""

from __future__ import annotations

from flocshape.api.comparison import compare
from flocshape.api.particles import measure
from flocshape.api.prediction import Prediction, predict
from flocshape.api.scoring import score

__all__ = ["Prediction", "compare", "measure", "predict", "score"]
