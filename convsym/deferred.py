"""Values printed only when read: the LaTeX and text of a proof's steps.

A verdict does not depend on how its steps print, and printing a large index sum with SymPy
costs more than checking the step.  A record may therefore hold a :class:`Deferred` in place of
a string (or of a string inside a tuple); :class:`ResolvesDeferred` computes it on first read and
keeps the result, so every reader (the JSON, the book, ``convsym show``, equality, pickling for
the worker processes) sees the plain value.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import fields
from typing import Any


class Deferred:
    """A value computed by ``make()`` when a :class:`ResolvesDeferred` record's field is read."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        if not callable(make):
            raise TypeError(f"Deferred: make must be callable, got {type(make).__name__}")
        self.make = make


def _copy_deferred(value: Any, memo: dict) -> Any:
    if type(value) is Deferred:
        return Deferred(value.make)
    if type(value) is tuple and any(type(v) is Deferred for v in value):
        return tuple(Deferred(v.make) if type(v) is Deferred else copy.deepcopy(v, memo) for v in value)
    return copy.deepcopy(value, memo)


def resolve(value: Any) -> Any:
    """``value`` with a :class:`Deferred` (itself or an item of a tuple) computed."""
    if type(value) is Deferred:
        return value.make()
    if type(value) is tuple and any(type(v) is Deferred for v in value):
        return tuple(v.make() if type(v) is Deferred else v for v in value)
    return value


class ResolvesDeferred:
    """Mixin for frozen dataclasses: a field holding a :class:`Deferred` is computed on first read
    and replaced by its value."""

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        kind = type(value)
        if kind is Deferred or (kind is tuple and any(type(v) is Deferred for v in value)):
            value = resolve(value)
            object.__setattr__(self, name, value)
        return value

    def __getstate__(self) -> dict[str, Any]:
        # every field computed: a Deferred holds a closure, which does not pickle
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __deepcopy__(self, memo: dict) -> ResolvesDeferred:
        # a copy that prints nothing: a field still deferred stays deferred in the copy (a new
        # Deferred with the same ``make``), so copying a record costs no printing
        new = object.__new__(type(self))
        memo[id(self)] = new
        for f in fields(self):
            value = object.__getattribute__(self, f.name)
            object.__setattr__(new, f.name, _copy_deferred(value, memo))
        return new

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)
