"""Pools of exact variables for the polynomial backend.

A :class:`VariablePool` numbers every variable densely (``0, 1, 2, ...`` in creation order, so
numbering is deterministic) and remembers its name.  ``pool.tensor("x", (2, 3))`` creates a
:class:`~convsym.exact.poly.PolyTensor` whose entry ``[i, j]`` is the variable ``x_{i,j}``.  The
backend stores only the integer ids; names are needed only to print a result or a counterexample.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import numpy as np
import sympy

from convsym.exact.oracle import DictPolyTensor
from convsym.exact.poly import PolyTensor

# Monomials are stored as int32 rows in the backend; one id is kept free as a sort sentinel.
MAX_VARIABLES = 2**31 - 2


def variable_name(name: str, index: Sequence[int]) -> str:
    """The name of entry ``index`` of tensor ``name``: ``name_{i,j,...}``; ``name`` for ``()``."""
    if len(index) == 0:
        return name
    return f"{name}_{{{','.join(str(int(i)) for i in index)}}}"


class VariablePool:
    """A registry of exact variables: dense integer ids <-> names.

    Ids are given in creation order starting at 0, so building the same statement twice gives the
    same ids.  Names are unique within a pool.  Variables are real (``to_sympy`` gives
    ``Symbol(name, real=True)``), like :func:`convsym.symbolic.symbols.scalars`.
    """

    def __init__(self) -> None:
        self._names: list[str] = []
        self._ids: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"VariablePool({len(self)} variables)"

    def __contains__(self, name: object) -> bool:
        return name in self._ids

    def variable(self, name: str) -> int:
        """Create one variable called ``name`` and return its id."""
        return int(self.create([name])[0])

    def create(self, names: Iterable[str]) -> np.ndarray:
        """Create one variable per name (in order); return their ids as an int64 array."""
        names = list(names)
        clash = [n for n in names if n in self._ids]
        if clash or len(set(names)) != len(names):
            shown = clash[0] if clash else next(n for n in names if names.count(n) > 1)
            raise ValueError(f"VariablePool: variable {shown!r} already exists; names must be unique")
        if len(self._names) + len(names) > MAX_VARIABLES:
            raise ValueError(f"VariablePool: at most {MAX_VARIABLES} variables, asked for more")
        start = len(self._names)
        for n in names:
            if not isinstance(n, str) or not n:
                raise TypeError(f"VariablePool: a variable name must be a non-empty string, got {n!r}")
        self._ids.update(zip(names, range(start, start + len(names)), strict=True))
        self._names.extend(names)
        return np.arange(start, start + len(names), dtype=np.int64)

    def create_tensor_ids(self, name: str, shape: Sequence[int]) -> np.ndarray:
        """Create the variables ``name_{i,j,...}`` for every index of ``shape`` (C order).

        Returns their ids as an int64 array of ``shape``.
        """
        shape = tuple(int(s) for s in shape)
        if any(s < 0 for s in shape):
            raise ValueError(f"VariablePool.tensor: shape {shape} has a negative size")
        if shape:
            # the same names as variable_name(name, idx), built from per-axis strings at once
            axes = [[str(i) for i in range(n)] for n in shape]
            names = [f"{name}_{{{','.join(idx)}}}" for idx in itertools.product(*axes)]
        else:
            names = [name]
        return self.create(names).reshape(shape)

    def tensor(self, name: str, shape: Sequence[int]) -> PolyTensor:
        """A :class:`~convsym.exact.poly.PolyTensor` of fresh variables ``name_{i,j,...}``."""
        return PolyTensor.variables(self, name, shape)

    def dict_tensor(self, name: str, shape: Sequence[int]) -> DictPolyTensor:
        """The same as :meth:`tensor`, for the dict-based oracle backend."""
        return DictPolyTensor.variables(self, name, shape)

    def name(self, var_id: int) -> str:
        """The name of variable ``var_id``."""
        var_id = int(var_id)
        if not 0 <= var_id < len(self._names):
            raise ValueError(f"VariablePool.name: no variable with id {var_id} (pool has {len(self)})")
        return self._names[var_id]

    def id(self, name: str) -> int:
        """The id of the variable called ``name``."""
        try:
            return self._ids[name]
        except KeyError:
            raise ValueError(f"VariablePool.id: no variable called {name!r}") from None

    def to_sympy(self, var_id: int) -> sympy.Symbol:
        """The SymPy symbol of variable ``var_id`` (real)."""
        return sympy.Symbol(self.name(var_id), real=True)


def to_sympy(pool: VariablePool, var_id: int) -> sympy.Symbol:
    """The SymPy symbol of variable ``var_id`` of ``pool``; see :meth:`VariablePool.to_sympy`."""
    return pool.to_sympy(var_id)
