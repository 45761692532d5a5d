"""The cost records' units: a size is an int or a SymPy expression; helpers on sizes.

At the bottom of :mod:`convsym.cost`: the record and the tools' conventions both use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

from convsym.lazy_sympy import is_sympy

if TYPE_CHECKING:
    import sympy

    Size = int | sympy.Expr
else:
    Size = Union[int, "sympy.Expr"]

__all__ = ["Size", "is_symbolic", "numel"]


def is_symbolic(*values: object) -> bool:
    """Whether any of ``values`` is a SymPy expression (then results are expressions too)."""
    return is_sympy(*values)


def numel(shape: Sequence[Size]) -> Size:
    out: Size = 1
    for v in shape:
        out = out * v
    return out
