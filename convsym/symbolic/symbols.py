"""Symbols with assumptions for the general statements.

``sizes("k_1 k_2")`` gives positive integer sizes, ``scalars("b_1 b_2")`` real scalars.  Both
always return a tuple, also for a single name (``(k,) = sizes("k")``), unlike ``sympy.symbols``
whose return type depends on the input.  (The exact variables of instances live in
:mod:`convsym.exact.pool`.)
"""

from __future__ import annotations

import re

import sympy

__all__ = ["scalars", "sizes"]

_SEPARATORS = re.compile(r"[\s,]+")


def _split_names(op: str, names: str) -> list[str]:
    if not isinstance(names, str):
        raise TypeError(f"{op}: names must be a string such as 'k_1 k_2', got {type(names).__name__}")
    parts = [part for part in _SEPARATORS.split(names.strip()) if part]
    if not parts:
        raise ValueError(f"{op}: expected at least one name, got {names!r}")
    if len(set(parts)) != len(parts):
        raise ValueError(f"{op}: names must be distinct, got {names!r}")
    return parts


def sizes(names: str) -> tuple[sympy.Symbol, ...]:
    """Positive integer symbols, one per whitespace- or comma-separated name.

    ``sizes("k_1 k_2") == (k_1, k_2)``; ``sizes("k") == (k,)`` (always a tuple).
    Each symbol has ``integer=True, positive=True``.
    """
    return tuple(sympy.Symbol(n, integer=True, positive=True) for n in _split_names("sizes", names))


def scalars(names: str) -> tuple[sympy.Symbol, ...]:
    """Real symbols, one per whitespace- or comma-separated name (always a tuple)."""
    return tuple(sympy.Symbol(n, real=True) for n in _split_names("scalars", names))
