"""Exact scalars, coefficient arrays and the interface the three backends share.

:class:`TensorAlgebra` is the mixin behind :class:`~convsym.exact.poly.PolyTensor` (the fast exact
backend), :class:`~convsym.exact.oracle.DictPolyTensor` (the readable oracle) and
:class:`~convsym.exact.modp.ModPTensor` (the numeric twin modulo a prime); :func:`contract` is the
one product they all use.  See :mod:`convsym.exact.poly` for the storage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # annotations only: the pool builds tensors
    from convsym.exact.pool import VariablePool
import sympy

DEFAULT_PRIME = 2**31 - 1
# Every int64 coefficient array satisfies |c| < _LIMIT, so negation and one addition are safe.
_LIMIT = 2**62
_KEY_BITS = 62
_SENTINEL = np.iinfo(np.int32).max
Scalar = int | Fraction


# --------------------------------------------------------------------------------------------
# exact scalars and coefficient arrays


def _exact_scalar(op: str, value: Any) -> Scalar:
    """``value`` as a Python int or Fraction; floats and other types are rejected."""
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else value
    if isinstance(value, sympy.Rational):
        return _exact_scalar(op, Fraction(int(value.p), int(value.q)))
    raise TypeError(
        f"{op}: exact coefficients must be int or fractions.Fraction, got {value!r} "
        f"of type {type(value).__name__}"
    )


def _is_exact_scalar(value: Any) -> bool:
    return isinstance(value, int | np.integer | Fraction | sympy.Rational | np.bool_)


def _coef_array(op: str, values: Any) -> np.ndarray:
    """A flat exact coefficient array: int64 when every value is an int below 2**62."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iub":
        arr = arr.astype(np.int64) if arr.dtype != np.uint64 else arr.astype(object)
        return _normalize_coef(arr.reshape(-1)) if arr.dtype == object else _checked_int64(arr)
    if arr.dtype.kind == "f" or arr.dtype.kind == "c":
        raise TypeError(f"{op}: exact coefficients must be int or fractions.Fraction, got dtype {arr.dtype}")
    flat = arr.reshape(-1)
    out = np.empty(flat.shape, dtype=object)
    out[:] = [_exact_scalar(op, v) for v in flat.tolist()]
    return _normalize_coef(out)


def _checked_int64(arr: np.ndarray) -> np.ndarray:
    arr = arr.reshape(-1)
    if arr.size and (int(arr.max()) >= _LIMIT or int(arr.min()) <= -_LIMIT):
        out = np.empty(arr.shape, dtype=object)
        out[:] = arr.tolist()
        return out
    return arr


def _normalize_coef(coef: np.ndarray) -> np.ndarray:
    """Demote an object coefficient array to int64 when every value is an int below 2**62."""
    if coef.dtype != object:
        return coef
    values = [int(v) if isinstance(v, Fraction) and v.denominator == 1 else v for v in coef.tolist()]
    if all(type(v) is int for v in values) and all(-_LIMIT < v < _LIMIT for v in values):
        return np.array(values, dtype=np.int64).reshape(coef.shape)
    out = np.empty(coef.shape, dtype=object)
    out[:] = values
    return out


def _max_abs(coef: np.ndarray) -> int:
    """``max |c|`` of an int64 array (exact: |c| < 2**62 by the storage invariant)."""
    return int(np.abs(coef).max()) if coef.size else 0


def _to_object(coef: np.ndarray) -> np.ndarray:
    if coef.dtype == object:
        return coef
    out = np.empty(coef.shape, dtype=object)
    out[:] = coef.tolist()
    return out


def _as_shape(op: str, shape: Any) -> tuple[int, ...]:
    if type(shape) is tuple and all(type(s) is int and s >= 0 for s in shape):
        return shape  # already a shape (the common case)
    if isinstance(shape, int | np.integer):
        shape = (shape,)
    try:
        shape = tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"{op}: shape must be a tuple of ints, got {shape!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"{op}: shape {shape} has a negative size")
    return shape


def _reshape_target(op: str, shape: tuple[int, ...], new_shape: Any) -> tuple[int, ...]:
    if isinstance(new_shape, int | np.integer):
        new_shape = (new_shape,)
    if type(new_shape) is tuple and new_shape == shape:
        return shape
    try:
        target = tuple(map(int, new_shape))
        if all(s >= 0 for s in target) and math.prod(target) == math.prod(shape):
            return target  # what NumPy gives for a shape with no -1 (the common case)
        return np.empty(shape, dtype=np.int8).reshape(target).shape
    except ValueError:
        raise ValueError(f"{op}: cannot reshape shape {shape} into {tuple(new_shape)}") from None


def _check_triples(
    op: str, out_index: Any, a_index: Any, b_index: Any, out_size: int, a_size: int, b_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate contraction triples: three flat int arrays of one length, each in range."""
    arrays, _ = _check_triples_top(op, out_index, a_index, b_index, out_size, a_size, b_size)
    return arrays


def _check_triples_top(
    op: str, out_index: Any, a_index: Any, b_index: Any, out_size: int, a_size: int, b_size: int
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], tuple[int, int, int]]:
    """:func:`_check_triples`, with the largest value of each array (-1 when it is empty)."""
    arrays, tops = [], []
    for label, idx, size in (
        ("out_index", out_index, out_size),
        ("a_index", a_index, a_size),
        ("b_index", b_index, b_size),
    ):
        known = _KNOWN_RANGES.get(id(idx))
        if known is not None and known[0] is idx and idx.ndim == 1 and not idx.flags.writeable:
            # a remembered index array (flat, int64, read-only): its range was measured once
            low, top = known[1], known[2]
            if idx.size and (low < 0 or top >= size):
                raise ValueError(f"{op}: {label} must lie in [0, {size}), got values in [{low}, {top}]")
            arrays.append(idx)
            tops.append(top)
            continue
        arr = np.asarray(idx)
        if arr.size == 0:
            arr = arr.astype(np.int64)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{op}: {label} must hold integers, got dtype {arr.dtype}")
        arr = arr.reshape(-1).astype(np.int64, copy=False)
        top = -1
        if arr.size:
            low, top = int(arr.min()), int(arr.max())
            if low < 0 or top >= size:
                raise ValueError(f"{op}: {label} must lie in [0, {size}), got values in [{low}, {top}]")
        arrays.append(arr)
        tops.append(top)
    if not arrays[0].size == arrays[1].size == arrays[2].size:
        raise ValueError(
            f"{op}: out_index, a_index and b_index must have one length, got "
            f"{arrays[0].size}, {arrays[1].size} and {arrays[2].size}"
        )
    return (arrays[0], arrays[1], arrays[2]), (tops[0], tops[1], tops[2])


#: the least and largest values of remembered read-only index arrays, by ``id`` (each entry
#: holds its array, so that the id cannot be reused while it is here)
_KNOWN_RANGES: dict[int, tuple[np.ndarray, int, int]] = {}


def _known_range(index: Any) -> tuple[int, int] | None:
    """``(least, largest)`` of a remembered read-only index array (:func:`_remember_range`),
    else None (the values must be scanned)."""
    known = _KNOWN_RANGES.get(id(index))
    if known is not None and known[0] is index and not index.flags.writeable:
        return known[1], known[2]
    return None


def _remember_range(array: np.ndarray) -> None:
    """Make ``array`` read-only and remember its least and largest values, so that contractions
    and gathers with it check its range without scanning it again (only contiguous int64 arrays:
    those are used as they are)."""
    array.flags.writeable = False
    if array.dtype != np.int64 or not array.flags.c_contiguous:
        return
    if len(_KNOWN_RANGES) >= 1 << 13:
        _KNOWN_RANGES.clear()
    low, top = (int(array.min()), int(array.max())) if array.size else (0, -1)
    _KNOWN_RANGES[id(array)] = (array, low, top)


# --------------------------------------------------------------------------------------------
# the shared tensor interface


class TensorAlgebra:
    """Shape-level operations every backend gets from ``gather``, ``contract`` and ``_add``.

    A backend provides ``shape``, ``gather(flat_index)`` (entry ``k`` of the result is entry
    ``flat_index.flat[k]`` of ``self``), ``contract``, ``_add`` (same shapes), ``__neg__``,
    ``_scale`` (exact scalar), ``reshape`` and ``constant_like`` (a constant tensor of the same
    backend).  Arithmetic broadcasts like NumPy; ``*`` by a tensor is the entrywise product.
    """

    shape: tuple[int, ...]

    # -- provided by each backend
    def gather(self, flat_index: Any) -> TensorAlgebra:  # pragma: no cover - interface
        raise NotImplementedError

    def contract(self, other, out_index, a_index, b_index, out_shape):  # pragma: no cover
        raise NotImplementedError

    def constant_like(self, values: Any) -> TensorAlgebra:  # pragma: no cover - interface
        raise NotImplementedError

    # -- derived
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def _flat_positions(self) -> np.ndarray:
        return np.arange(self.size, dtype=np.int64).reshape(self.shape)

    def transpose(self, *axes: int) -> TensorAlgebra:
        """Permute the axes (reversed when none are given), as ``numpy.transpose``."""
        if len(axes) == 1 and not isinstance(axes[0], int | np.integer):
            axes = tuple(axes[0])
        try:
            index = self._flat_positions().transpose(*axes) if axes else self._flat_positions().T
        except ValueError:
            raise ValueError(f"transpose: axes {axes} do not match shape {self.shape}") from None
        return self.gather(index)

    @property
    def T(self) -> TensorAlgebra:
        return self.transpose()

    def broadcast_to(self, shape: Any) -> TensorAlgebra:
        """NumPy broadcasting of ``self`` to ``shape``."""
        shape = _as_shape("broadcast_to", shape)
        if shape == self.shape:
            return self
        return self.gather(_broadcast_index(self.shape, shape))

    def __getitem__(self, key: Any) -> TensorAlgebra:
        """NumPy indexing (basic and integer-array) of the entries."""
        return self.gather(np.asarray(self._flat_positions()[key]))

    def take(self, flat_index: Any) -> TensorAlgebra:
        """Alias of :meth:`gather`."""
        return self.gather(flat_index)

    def _coerce(self, op: str, other: Any) -> TensorAlgebra:
        if _is_exact_scalar(other):
            return self.constant_like(np.array(_exact_scalar(op, other), dtype=object))
        if type(other) is not type(self):
            raise TypeError(
                f"{op}: cannot combine {type(self).__name__} with {type(other).__name__}"
            )
        return other

    def _broadcast_pair(self, op: str, other: TensorAlgebra):
        try:
            shape = _broadcast_shapes(self.shape, other.shape)
        except ValueError:
            raise ValueError(
                f"{op}: shapes {self.shape} and {other.shape} do not broadcast"
            ) from None
        return self.broadcast_to(shape), other.broadcast_to(shape)

    def __add__(self, other: Any) -> TensorAlgebra:
        other = self._coerce("add", other)
        a, b = self._broadcast_pair("add", other)
        return a._add(b)

    __radd__ = __add__

    def __sub__(self, other: Any) -> TensorAlgebra:
        return self + (-self._coerce("sub", other))

    def __rsub__(self, other: Any) -> TensorAlgebra:
        return (-self) + self._coerce("sub", other)

    def __mul__(self, other: Any) -> TensorAlgebra:
        if _is_exact_scalar(other):
            return self._scale(_exact_scalar("mul", other))
        other = self._coerce("mul", other)
        a, b = self._broadcast_pair("mul", other)
        flat = np.arange(a.size, dtype=np.int64)
        return a.contract(b, flat, flat, flat, a.shape)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> TensorAlgebra:
        if not _is_exact_scalar(other):
            raise TypeError(f"div: only division by an exact scalar is defined, got {other!r}")
        divisor = _exact_scalar("div", other)
        if divisor == 0:
            raise ValueError("div: division by zero")
        return self._scale(_exact_scalar("div", Fraction(1) / divisor))

    def sum(self, axes: int | Sequence[int] | None = None) -> TensorAlgebra:
        """Sum over ``axes`` (all when ``None``), as one contraction with the constant 1."""
        ndim = self.ndim
        if axes is None:
            axes = tuple(range(ndim))
        elif isinstance(axes, int | np.integer):
            axes = (int(axes),)
        if any(not -ndim <= int(a) < ndim for a in axes):
            raise ValueError(f"sum: axes {tuple(axes)} out of range for shape {self.shape}")
        axes = tuple(sorted({int(a) % ndim for a in axes}))
        out_shape, out_index, flat, zeros = _sum_triples(self.shape, axes)
        one = self.constant_like(np.array([1], dtype=object))
        return self.contract(one, out_index, flat, zeros, out_shape)


def _broadcast_shapes(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """``numpy.broadcast_shapes(a, b)`` of two shapes (tuples of ints), without NumPy's arrays:
    aligned on the right, each pair of sizes equal or one of them 1; ValueError otherwise."""
    if a == b:
        return a
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    out = []
    for p, q in zip(a, b, strict=True):
        if p != q and p != 1 and q != 1:
            raise ValueError(f"shapes {a} and {b} do not broadcast")
        out.append(q if p == 1 else p)
    return tuple(out)


#: the index arrays of :meth:`TensorAlgebra.broadcast_to` for small shapes, by ``(shape, target)``
_BROADCASTS: dict[tuple, np.ndarray] = {}


def _broadcast_index(shape: tuple[int, ...], target: tuple[int, ...]) -> np.ndarray:
    """The flat positions of ``shape`` broadcast to ``target`` (NumPy's rule): for a small target,
    a contiguous read-only array made once (a family repeats its shapes), else a broadcast view."""
    found = _BROADCASTS.get((shape, target))
    if found is not None:
        return found
    try:
        index = np.broadcast_to(np.arange(math.prod(shape), dtype=np.int64).reshape(shape), target)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {shape} to {target}") from None
    if index.size > 1 << 16:
        return index
    index = np.ascontiguousarray(index)
    _remember_range(index)
    if len(_BROADCASTS) >= 1024:
        _BROADCASTS.clear()
    _BROADCASTS[(shape, target)] = index
    return index


#: the index arrays of :meth:`TensorAlgebra.sum` for small shapes, by ``(shape, axes)``
_SUM_TRIPLES: dict[tuple, tuple] = {}


def _sum_triples(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple:
    """``(out_shape, out_index, flat, zeros)`` of a sum of ``shape`` over ``axes`` (sorted, in
    range): made once for a small shape and kept read-only (a family repeats its shapes)."""
    found = _SUM_TRIPLES.get((shape, axes))
    if found is not None:
        return found
    ndim, size = len(shape), math.prod(shape)
    kept = [d for d in range(ndim) if d not in axes]
    out_shape = tuple(shape[d] for d in kept)
    grids = np.indices(shape, dtype=np.int64).reshape(ndim, -1)
    out_index = np.ravel_multi_index(tuple(grids[d] for d in kept), out_shape) if kept else (
        np.zeros(size, dtype=np.int64)
    )
    flat = np.arange(size, dtype=np.int64)
    found = (out_shape, out_index, flat, np.zeros_like(flat))
    for array in found[1:]:
        array.flags.writeable = False
    if size <= 1 << 16:
        for array in found[1:]:
            _remember_range(array)
        if len(_SUM_TRIPLES) >= 1024:
            _SUM_TRIPLES.clear()
        _SUM_TRIPLES[(shape, axes)] = found
    return found


def contract(a: TensorAlgebra, b: TensorAlgebra, out_index, a_index, b_index, out_shape):
    """``out[o] += a[ai] * b[bi]`` for every triple ``(o, ai, bi)`` of flat indices.

    ``out`` has ``out_shape`` and starts at zero; entries no triple reaches stay zero.  ``a`` and
    ``b`` must come from the same backend.  This one primitive gives convolution, full
    convolution, matrix products and sums (:mod:`convsym.exact.ops`).
    """
    if type(a) is not type(b) or not isinstance(a, TensorAlgebra):
        raise TypeError(
            f"contract: both operands must be tensors of one backend, got "
            f"{type(a).__name__} and {type(b).__name__}"
        )
    return a.contract(b, out_index, a_index, b_index, out_shape)


def _common_pool(op: str, a: VariablePool | None, b: VariablePool | None) -> VariablePool | None:
    if a is not None and b is not None and a is not b:
        raise ValueError(f"{op}: the operands use different variable pools")
    return a if a is not None else b
