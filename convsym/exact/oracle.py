"""The readable oracle: one ``{monomial: coefficient}`` dict per entry, plain loops.

The tests compare :class:`~convsym.exact.poly.PolyTensor` against it operation by operation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from convsym.exact.tensor import (
    Scalar,
    TensorAlgebra,
    _as_shape,
    _check_triples,
    _common_pool,
    _exact_scalar,
    _reshape_target,
)

if TYPE_CHECKING:  # annotations only: the pool builds tensors of this module
    from convsym.exact.pool import VariablePool

# --------------------------------------------------------------------------------------------
# the readable oracle


def _dict_add(acc: dict, mono: tuple, coef: Scalar) -> None:
    total = acc.get(mono, 0) + coef
    if total == 0:
        acc.pop(mono, None)
    else:
        acc[mono] = total


class DictPolyTensor(TensorAlgebra):
    """The test oracle: one ``{sorted var ids: coefficient}`` dict per flat entry, plain loops."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(
        self, shape: Sequence[int], entries: Sequence[Mapping[tuple[int, ...], Scalar]],
        pool: VariablePool | None = None,
    ) -> None:
        self.shape = _as_shape("DictPolyTensor", shape)
        if len(entries) != self.size:
            raise ValueError(f"DictPolyTensor: {len(entries)} entries for shape {self.shape}")
        self.pool = pool
        self.entries: list[dict[tuple[int, ...], Scalar]] = []
        for d in entries:
            clean: dict[tuple[int, ...], Scalar] = {}
            for mono, coef in d.items():
                _dict_add(clean, tuple(sorted(int(v) for v in mono)), _exact_scalar("DictPolyTensor", coef))
            self.entries.append(clean)

    @classmethod
    def variables(cls, pool: VariablePool, name: str, shape: Sequence[int]) -> DictPolyTensor:
        ids = pool.create_tensor_ids(name, _as_shape("DictPolyTensor.variables", shape))
        return cls(ids.shape, [{(int(i),): 1} for i in ids.reshape(-1)], pool)

    @classmethod
    def constant(cls, values: Any, pool: VariablePool | None = None) -> DictPolyTensor:
        arr = np.asarray(values, dtype=object)
        return cls(arr.shape, [{(): v} for v in arr.reshape(-1).tolist()], pool)

    @classmethod
    def zeros(cls, shape: Sequence[int], pool: VariablePool | None = None) -> DictPolyTensor:
        shape = _as_shape("DictPolyTensor.zeros", shape)
        return cls(shape, [{} for _ in range(math.prod(shape))], pool)

    def constant_like(self, values: Any) -> DictPolyTensor:
        return DictPolyTensor.constant(values, self.pool)

    def reshape(self, *shape: Any) -> DictPolyTensor:
        target = shape[0] if len(shape) == 1 else shape
        return DictPolyTensor(_reshape_target("reshape", self.shape, target), self.entries, self.pool)

    def gather(self, flat_index: Any) -> DictPolyTensor:
        index = np.asarray(flat_index)
        picked = []
        for i in index.reshape(-1).tolist():
            if not 0 <= i < self.size:
                raise ValueError(f"gather: indices must lie in [0, {self.size}) for shape {self.shape}")
            picked.append(self.entries[i])
        return DictPolyTensor(index.shape, picked, self.pool)

    def _add(self, other: DictPolyTensor) -> DictPolyTensor:
        out = []
        for mine, theirs in zip(self.entries, other.entries, strict=True):
            acc = dict(mine)
            for mono, coef in theirs.items():
                _dict_add(acc, mono, coef)
            out.append(acc)
        return DictPolyTensor(self.shape, out, _common_pool("add", self.pool, other.pool))

    def __neg__(self) -> DictPolyTensor:
        return DictPolyTensor(self.shape, [{m: -c for m, c in d.items()} for d in self.entries], self.pool)

    def _scale(self, scalar: Scalar) -> DictPolyTensor:
        return DictPolyTensor(self.shape, [{m: c * scalar for m, c in d.items()} for d in self.entries], self.pool)

    def contract(self, other, out_index, a_index, b_index, out_shape) -> DictPolyTensor:
        out_shape = _as_shape("contract", out_shape)
        oi, ai, bi = _check_triples(
            "contract", out_index, a_index, b_index, math.prod(out_shape), self.size, other.size
        )
        out: list[dict] = [{} for _ in range(math.prod(out_shape))]
        for o, i, j in zip(oi.tolist(), ai.tolist(), bi.tolist(), strict=True):
            for ma, ca in self.entries[i].items():
                for mb, cb in other.entries[j].items():
                    _dict_add(out[o], tuple(sorted(ma + mb)), ca * cb)
        return DictPolyTensor(out_shape, out, _common_pool("contract", self.pool, other.pool))

    def to_dicts(self) -> list[dict[tuple[int, ...], Scalar]]:
        return [dict(d) for d in self.entries]

    def evaluate(self, values: Mapping[int, Scalar]) -> np.ndarray:
        out = np.empty(self.size, dtype=object)
        for e, d in enumerate(self.entries):
            total: Scalar = 0
            for mono, coef in d.items():
                term = coef
                for v in mono:
                    term = term * values.get(v, 0)
                total += term
            out[e] = total
        return out.reshape(self.shape)

    def equals(self, other: DictPolyTensor) -> bool:
        return self.shape == other.shape and self.entries == other.entries

    def __eq__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, DictPolyTensor):
            return NotImplemented
        return self.equals(other)

    def __repr__(self) -> str:
        return f"DictPolyTensor(shape={self.shape})"
