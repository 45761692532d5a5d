"""Tracing for the blockwise check: :class:`TraceTensor` records the ops of :mod:`convsym.exact.ops`
as a small graph of index arrays instead of computing them (see :mod:`convsym.exact.blockwise`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convsym.exact.tensor import (
    TensorAlgebra,
    _as_shape,
    _check_triples_top,
    _coef_array,
    _exact_scalar,
    _known_range,
    _reshape_target,
)

__all__ = ["TraceTensor"]


#: Default largest number of terms (upper bound, both sides together) in one block.
DEFAULT_BUDGET = 1 << 25


#: Blocks of at most this many terms are compared as PolyTensors (fewer NumPy calls).
SMALL_BLOCK = 1 << 14




# --------------------------------------------------------------------------------------------
# tracing


class _Graph:
    """Nodes in creation (so topological) order: ``kinds[i]``, ``sizes[i]`` (flat), ``args[i]``."""

    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.sizes: list[int] = []
        self.args: list[tuple] = []

    def add(self, kind: str, shape: tuple[int, ...], *args: Any) -> TraceTensor:
        self.kinds.append(kind)
        self.sizes.append(math.prod(shape))
        self.args.append(args)
        return TraceTensor(self, len(self.kinds) - 1, shape)


def _small_ints(index: np.ndarray, top: int | None = None) -> np.ndarray:
    """int32 when the values fit (halves the memory of the large triple arrays); ``top`` is the
    largest value when it is known already.  A remembered read-only index array (the triples of
    a layer shape) gets one shared read-only int32 copy, made the first time."""
    if not (index.size and (int(index.max()) if top is None else top) < 2**31):
        return index
    remembered = _known_range(index) is not None
    if remembered:
        found = _SMALL_COPIES.get(id(index))
        if found is not None and found[0] is index:
            return found[1]
    small = index.astype(np.int32)
    if remembered:
        small.flags.writeable = False
        if len(_SMALL_COPIES) >= 1 << 13:
            _SMALL_COPIES.clear()
        _SMALL_COPIES[id(index)] = (index, small)  # holds the array: its id is not reused meanwhile
    return small


#: the int32 copies of remembered index arrays, by the array's ``id``
_SMALL_COPIES: dict[int, tuple[np.ndarray, np.ndarray]] = {}


class TraceTensor(TensorAlgebra):
    """A tensor that records how it is built (see the module doc); it holds no terms.

    Made by :func:`compare_blockwise` for the inputs; the ops of :mod:`convsym.exact.ops` run on it
    unchanged and return TraceTensors.
    """

    __slots__ = ("_graph", "_node", "shape")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, graph: _Graph, node: int, shape: tuple[int, ...]) -> None:
        self._graph, self._node, self.shape = graph, node, shape

    def _same_graph(self, op: str, other: TraceTensor) -> None:
        if not isinstance(other, TraceTensor) or other._graph is not self._graph:
            raise TypeError(f"{op}: cannot combine TraceTensor with {type(other).__name__} or another trace")

    def constant_like(self, values: Any) -> TraceTensor:
        arr = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
        return self._graph.add("const", arr.shape, _coef_array("constant", arr))

    def reshape(self, *shape: Any) -> TraceTensor:
        target = shape[0] if len(shape) == 1 else shape
        return TraceTensor(self._graph, self._node, _reshape_target("reshape", self.shape, target))

    def gather(self, flat_index: Any) -> TraceTensor:
        known = _known_range(flat_index)
        if known is not None:  # a remembered index array (contiguous, int64, read-only)
            if flat_index.size and (known[0] < 0 or known[1] >= self.size):
                raise ValueError(f"gather: indices must lie in [0, {self.size}) for shape {self.shape}")
            return self._graph.add("gather", flat_index.shape, self._node, flat_index.reshape(-1))
        index = np.asarray(flat_index)
        if index.size and index.dtype.kind not in "iu":
            raise TypeError(f"gather: indices must be integers, got dtype {index.dtype}")
        flat = index.reshape(-1).astype(np.int64)
        if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= self.size):
            raise ValueError(f"gather: indices must lie in [0, {self.size}) for shape {self.shape}")
        return self._graph.add("gather", index.shape, self._node, flat)

    def _add(self, other: TraceTensor) -> TraceTensor:
        self._same_graph("add", other)
        return self._graph.add("add", self.shape, self._node, other._node)

    def __neg__(self) -> TraceTensor:
        return self._graph.add("scale", self.shape, self._node, -1)

    def _scale(self, scalar: Any) -> TraceTensor:
        return self._graph.add("scale", self.shape, self._node, _exact_scalar("mul", scalar))

    def contract(self, other, out_index, a_index, b_index, out_shape) -> TraceTensor:
        self._same_graph("contract", other)
        out_shape = _as_shape("contract", out_shape)
        (oi, ai, bi), tops = _check_triples_top(
            "contract", out_index, a_index, b_index, math.prod(out_shape), self.size, other.size
        )
        return self._graph.add(
            "contract", out_shape, self._node, other._node,
            *(_small_ints(index, top) for index, top in zip((oi, ai, bi), tops, strict=True)),
        )

    def __repr__(self) -> str:
        return f"TraceTensor(shape={self.shape}, node={self._node})"
