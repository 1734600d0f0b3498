"""Load a repository script that is run by path (``infer/*.py``, ``benchmarks/*.py``) as a module, for tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def load_script(relpath: str, name: str) -> ModuleType:
    """The script ``REPO/relpath`` imported as module ``name`` (registered in ``sys.modules`` first: dataclasses
    look their module up while the class is built)."""
    spec = importlib.util.spec_from_file_location(name, REPO / relpath)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
