"""The cost records' units: a size is an int or a SymPy expression; helpers on sizes.

At the bottom of :mod:`convsym.cost`: the record and the tools' conventions both use it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy

Size = int | sympy.Expr

__all__ = ["Size", "is_symbolic", "numel"]


def is_symbolic(*values: object) -> bool:
    """Whether any of ``values`` is a SymPy expression (then results are expressions too)."""
    return any(isinstance(v, sympy.Basic) for v in values)

def numel(shape: Sequence[Size]) -> Size:
    out: Size = 1
    for v in shape:
        out = out * v
    return out
