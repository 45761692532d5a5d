"""SymPy, imported on first use.

Sizes and costs work "both with numbers and symbols" (:mod:`convsym.shapes`,
:mod:`convsym.cost`): only a symbolic argument needs SymPy.  Importing SymPy costs about
0.8 s, so the modules that the integer paths go through (``convsym cost --model ...`` counts a
whole model with ints only) use :data:`sympy` from here, which imports SymPy the first time an
attribute is read, and :func:`is_sympy` to ask "is this a SymPy object?" without importing it:
no value can be a SymPy object before SymPy is imported.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__all__ = ["is_sympy", "is_sympy_false", "sympy"]


class _LazySympy(types.ModuleType):
    """A stand-in for the ``sympy`` module: the first attribute read imports SymPy."""

    def __getattr__(self, name: str) -> Any:
        module = importlib.import_module("sympy")
        return getattr(module, name)

    def __dir__(self) -> list[str]:
        return dir(importlib.import_module("sympy"))


sympy: Any = _LazySympy("sympy")


def is_sympy(*values: object) -> bool:
    """True when any of ``values`` is a SymPy object (``sympy.Basic``); never imports SymPy."""
    module = sys.modules.get("sympy")
    if module is None or not hasattr(module, "Basic"):
        return False
    basic = module.Basic
    return any(isinstance(v, basic) for v in values)


def is_sympy_false(value: object) -> bool:
    """True when ``value`` is SymPy's ``false``; never imports SymPy."""
    module = sys.modules.get("sympy")
    return module is not None and value is getattr(module, "false", None)
