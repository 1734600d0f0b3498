"""flocshape: particle (floc) instance segmentation and shape metrology.

Stage scripts live in the top-level folders ``convert/``, ``train/``, ``infer/`` and ``datasets/``;
they are thin command-line wrappers around the modules of this package.

Notebook API (implemented in :mod:`flocshape.api`; imports happen inside the functions, so
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
import sys
import types
from collections.abc import Callable
from typing import Any, TypeVar

from flocshape import api as _api

__version__ = "0.1.0"

__all__ = ["Prediction", "__version__", "compare", "measure", "predict", "score"]

_T = TypeVar("_T")


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


def _public(obj: _T) -> _T:
    """``obj`` presented as ``flocshape.<name>`` (its ``__module__``): so its docstring examples are this package's
    doctests, and pickles and reprs name the public place."""
    obj.__module__ = __name__
    return obj


measure = _public(_api.measure)
predict = _public(_api.predict)
compare = _public(_api.compare)
Prediction = _public(_api.Prediction)
score = _FunctionAndSubpackage(_public(_api.score), "flocshape.score")
