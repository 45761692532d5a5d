"""Pools of exact variables for the polynomial backend.

A :class:`VariablePool` numbers every variable densely (``0, 1, 2, ...`` in creation order, so
numbering is deterministic) and remembers its name.  ``pool.tensor("x", (2, 3))`` creates a
:class:`~convsym.exact.poly.PolyTensor` whose entry ``[i, j]`` is the variable ``x_{i,j}``.  The
backend stores only the integer ids; names are needed only to print a result or a counterexample.
"""

from __future__ import annotations

import bisect
import itertools
import math
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
        self._size = 0
        # the variables in blocks ``(start, name, shape)`` of creation: a block made by
        # create_tensor_ids names its variables only when a name is asked for (a proof checks
        # thousands of small instances whose variables are never named); a block of ``create``
        # has shape None and its names in ``_listed[start]``
        self._blocks: list[tuple[int, str, tuple[int, ...] | None]] = []
        self._starts: list[int] = []  # the blocks' first ids, ascending
        self._listed: dict[int, list[str]] = {}
        self._ids: dict[str, int] | None = {}  # name -> id; None until a lazy block is named

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"VariablePool({len(self)} variables)"

    def __contains__(self, name: object) -> bool:
        return name in self._all_ids()

    def _all_ids(self) -> dict[str, int]:
        if self._ids is None:
            ids: dict[str, int] = {}
            for start, _, _ in self._blocks:
                ids.update(zip(self._block_names(start), itertools.count(start)))
            self._ids = ids
        return self._ids

    def _block_names(self, start: int) -> list[str]:
        names = self._listed.get(start)
        if names is None:
            _, name, shape = self._blocks[bisect.bisect_right(self._starts, start) - 1]
            # the same names as variable_name(name, idx), built from per-axis strings at once
            axes = [[str(i) for i in range(n)] for n in shape]
            names = self._listed[start] = [f"{name}_{{{','.join(idx)}}}" for idx in itertools.product(*axes)]
        return names

    def variable(self, name: str) -> int:
        """Create one variable called ``name`` and return its id."""
        return int(self.create([name])[0])

    def create(self, names: Iterable[str]) -> np.ndarray:
        """Create one variable per name (in order); return their ids as an int64 array."""
        names = list(names)
        known = self._all_ids()
        clash = [n for n in names if n in known]
        if clash or len(set(names)) != len(names):
            shown = clash[0] if clash else next(n for n in names if names.count(n) > 1)
            raise ValueError(f"VariablePool: variable {shown!r} already exists; names must be unique")
        if self._size + len(names) > MAX_VARIABLES:
            raise ValueError(f"VariablePool: at most {MAX_VARIABLES} variables, asked for more")
        start = self._size
        for n in names:
            if not isinstance(n, str) or not n:
                raise TypeError(f"VariablePool: a variable name must be a non-empty string, got {n!r}")
        known.update(zip(names, range(start, start + len(names)), strict=True))
        if names:
            self._blocks.append((start, "", None))
            self._starts.append(start)
            self._listed[start] = names
        self._size += len(names)
        return np.arange(start, start + len(names), dtype=np.int64)

    def create_tensor_ids(self, name: str, shape: Sequence[int]) -> np.ndarray:
        """Create the variables ``name_{i,j,...}`` for every index of ``shape`` (C order).

        Returns their ids as an int64 array of ``shape``.
        """
        shape = tuple(int(s) for s in shape)
        if any(s < 0 for s in shape):
            raise ValueError(f"VariablePool.tensor: shape {shape} has a negative size")
        count = math.prod(shape)
        # The names of a tensor ``b`` are ``b`` or ``b_{...}``: they can only meet names of another
        # tensor whose name is a prefix of ``b`` or has ``b`` as a prefix; only then (or after
        # ``create``, which names each variable) are the names made now and checked one by one.
        lazy = bool(shape) and isinstance(name, str) and count > 0 and all(
            block_shape is not None and not block.startswith(name) and not name.startswith(block)
            for _, block, block_shape in self._blocks)
        if not lazy:
            if shape:
                axes = [[str(i) for i in range(n)] for n in shape]
                names = [f"{name}_{{{','.join(idx)}}}" for idx in itertools.product(*axes)]
            else:
                names = [name]
            return self.create(names).reshape(shape)
        if self._size + count > MAX_VARIABLES:
            raise ValueError(f"VariablePool: at most {MAX_VARIABLES} variables, asked for more")
        start = self._size
        self._blocks.append((start, name, shape))
        self._starts.append(start)
        self._ids = None
        self._size += count
        return np.arange(start, start + count, dtype=np.int64).reshape(shape)

    def tensor(self, name: str, shape: Sequence[int]) -> PolyTensor:
        """A :class:`~convsym.exact.poly.PolyTensor` of fresh variables ``name_{i,j,...}``."""
        return PolyTensor.variables(self, name, shape)

    def dict_tensor(self, name: str, shape: Sequence[int]) -> DictPolyTensor:
        """The same as :meth:`tensor`, for the dict-based oracle backend."""
        return DictPolyTensor.variables(self, name, shape)

    def name(self, var_id: int) -> str:
        """The name of variable ``var_id``."""
        var_id = int(var_id)
        if not 0 <= var_id < len(self):
            raise ValueError(f"VariablePool.name: no variable with id {var_id} (pool has {len(self)})")
        start = self._starts[bisect.bisect_right(self._starts, var_id) - 1]
        return self._block_names(start)[var_id - start]

    def id(self, name: str) -> int:
        """The id of the variable called ``name``."""
        try:
            return self._all_ids()[name]
        except KeyError:
            raise ValueError(f"VariablePool.id: no variable called {name!r}") from None

    def to_sympy(self, var_id: int) -> sympy.Symbol:
        """The SymPy symbol of variable ``var_id`` (real)."""
        return sympy.Symbol(self.name(var_id), real=True)


def to_sympy(pool: VariablePool, var_id: int) -> sympy.Symbol:
    """The SymPy symbol of variable ``var_id`` of ``pool``; see :meth:`VariablePool.to_sympy`."""
    return pool.to_sympy(var_id)
