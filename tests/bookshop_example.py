"""The bookshop example (examples/bookshop) as modules, loaded once for the tests that run it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BOOKSHOP = Path(__file__).resolve().parents[1] / "examples" / "bookshop"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bookshop_{name}", BOOKSHOP / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


service, seed = _load("service"), _load("seed")
