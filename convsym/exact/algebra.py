"""The fast exact backend: tensors whose entries are polynomials in many distinct variables.

Why not a general polynomial library: SymPy's ``ring`` and flint's ``fmpz_mpoly`` store a dense
exponent vector over *all* symbols for every monomial.  A 2-D merge statement at ``k=7, C=8``
has ~8,000 variables but monomials of degree at most 3, so a dense vector is 2,600 times larger
than needed.  Here a monomial is a short sorted row of variable ids.

Three backends share one interface (the :class:`TensorAlgebra` mixin plus ``gather``,
``contract``, ``_add``, ``__neg__``, ``_scale``, ``reshape``, ``constant_like``), so the ops in
:mod:`convsym.exact.ops` are written once:

``PolyTensor``      sparse COO terms, vectorised NumPy; the exact backend used by proofs.
``DictPolyTensor``  one ``{monomial: coefficient}`` dict per entry and plain loops; the readable
                    oracle the tests compare ``PolyTensor`` against.
``ModPTensor``      int64 values modulo a prime ``p < 2**31``; the Schwartz-Zippel pre-check.

Storage of a ``PolyTensor`` with ``n`` terms and degree ``D`` (always canonical):

``entry``  int64 ``(n,)``    flat C-order index of the entry the term belongs to, ascending;
``mono``   int32 ``(n, D)``  the monomial: variable ids ascending, padded with ``-1`` at the end
                             (``x_0**2 * x_5`` is ``[0, 0, 5]``; a constant is all ``-1``);
``coef``   ``(n,)``          int64 while ``|c| < 2**62`` is guaranteed, else ``object`` (Python
                             ints / ``fractions.Fraction``).

Terms are sorted by ``(entry, mono)`` lexicographically (``-1`` first), equal terms are merged,
zero coefficients dropped and ``D`` is the largest degree present.  Two tensors are equal as
polynomial tensors exactly when these arrays are equal.  For sorting, ``(entry, mono)`` is
packed into one int64 key, ``b`` bits per monomial column holding ``id + 1`` (``0`` = padding;
the rank among the ids present when ids are too large), entry index in the high bits; the
numeric order of keys is the lexicographic order of terms.  When the key leaves room, the
coefficient (or the term's position) is packed into its low bits so that a plain ``np.sort``
(SIMD, 5-6 times faster than ``argsort`` here) orders the terms; when the key does not fit in
62 bits, ``np.lexsort`` over the columns is used.  Adding two canonical tensors merges their
sorted keys (``searchsorted``) instead of sorting again.

Overflow policy: bounds are checked *before* multiplying or summing (``max|a| * max|b|`` for
products, times the largest number of terms merged into one for sums); whenever a bound reaches
``2**62`` the coefficients switch to Python ints.  Results are demoted back to int64 when they
fit again.  Nothing overflows silently.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import sympy

from convsym.symbolic.symbols import VariablePool

__all__ = [
    "DEFAULT_PRIME",
    "DictPolyTensor",
    "ExactCheck",
    "ModPTensor",
    "PolyTensor",
    "TensorAlgebra",
    "TermDifference",
    "TermStats",
    "ZippelResult",
    "contract",
    "exact_check",
    "schwartz_zippel",
]

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
    try:
        return np.empty(shape, dtype=np.int8).reshape(tuple(int(s) for s in new_shape)).shape
    except ValueError:
        raise ValueError(f"{op}: cannot reshape shape {shape} into {tuple(new_shape)}") from None


def _check_triples(
    op: str, out_index: Any, a_index: Any, b_index: Any, out_size: int, a_size: int, b_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate contraction triples: three flat int arrays of one length, each in range."""
    arrays = []
    for label, idx, size in (
        ("out_index", out_index, out_size),
        ("a_index", a_index, a_size),
        ("b_index", b_index, b_size),
    ):
        arr = np.asarray(idx)
        if arr.size == 0:
            arr = arr.astype(np.int64)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{op}: {label} must hold integers, got dtype {arr.dtype}")
        arr = arr.reshape(-1).astype(np.int64, copy=False)
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= size):
            raise ValueError(
                f"{op}: {label} must lie in [0, {size}), got values in "
                f"[{int(arr.min())}, {int(arr.max())}]"
            )
        arrays.append(arr)
    if not arrays[0].size == arrays[1].size == arrays[2].size:
        raise ValueError(
            f"{op}: out_index, a_index and b_index must have one length, got "
            f"{arrays[0].size}, {arrays[1].size} and {arrays[2].size}"
        )
    return arrays[0], arrays[1], arrays[2]


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
        try:
            index = np.broadcast_to(self._flat_positions(), shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast shape {self.shape} to {shape}") from None
        return self.gather(index)

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
            shape = np.broadcast_shapes(self.shape, other.shape)
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
        kept = [d for d in range(ndim) if d not in axes]
        out_shape = tuple(self.shape[d] for d in kept)
        grids = np.indices(self.shape, dtype=np.int64).reshape(ndim, -1)
        out_index = np.ravel_multi_index(tuple(grids[d] for d in kept), out_shape) if kept else (
            np.zeros(self.size, dtype=np.int64)
        )
        one = self.constant_like(np.array([1], dtype=object))
        flat = np.arange(self.size, dtype=np.int64)
        return self.contract(one, out_index, flat, np.zeros_like(flat), out_shape)


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


# --------------------------------------------------------------------------------------------
# canonical form of a term list
#
# Internally a monomial array is handled as a list of int32 columns (column j = j-th smallest
# id of every term), so that sorting networks and key packing run on contiguous vectors.


def _columns(mono: np.ndarray) -> list[np.ndarray]:
    return [mono[:, j] for j in range(mono.shape[1])]


def _stack(cols: list[np.ndarray], n: int) -> np.ndarray:
    """Columns -> an ``(n, width)`` int32 array in Fortran order (columns stay contiguous)."""
    out = np.empty((n, len(cols)), dtype=np.int32, order="F")
    for j, col in enumerate(cols):
        out[:, j] = col
    return out


def _sort_columns(cols: list[np.ndarray]) -> list[np.ndarray]:
    """Sort every row ascending with the ``-1`` padding last.

    Viewed as uint32, ``-1`` is the largest value, so plain min/max put it at the end.
    """
    width = len(cols)
    if width <= 1:
        return cols
    u = [np.ascontiguousarray(c, dtype=np.int32).view(np.uint32) for c in cols]
    if width <= 8:
        # odd-even transposition network: `width` rounds of vectorised compare-exchange
        for rnd in range(width):
            for i in range(rnd % 2, width - 1, 2):
                low = np.minimum(u[i], u[i + 1])
                np.maximum(u[i], u[i + 1], out=u[i + 1])
                u[i] = low
    else:
        block = np.sort(np.stack(u, axis=1), axis=1)
        u = [block[:, j] for j in range(width)]
    return [c.view(np.int32) for c in u]


def _merge_sorted_columns(a: list[np.ndarray], b: list[np.ndarray]) -> list[np.ndarray]:
    """Rows of ``a`` and of ``b`` each sorted (``-1`` padding last) -> rows of ``a + b`` sorted.

    With one column in ``b`` (a product by a variable) the new id is bubbled into place, ``len(a)``
    compare-exchanges instead of the ``len(a) + 1`` rounds of the general network.
    """
    if len(b) != 1:
        return _sort_columns(a + b)
    u = [np.ascontiguousarray(c, dtype=np.int32).view(np.uint32) for c in a + b]
    for i in range(len(u) - 1, 0, -1):
        low = np.minimum(u[i - 1], u[i])
        np.maximum(u[i - 1], u[i], out=u[i])
        u[i - 1] = low
    return [c.view(np.int32) for c in u]


@dataclass(frozen=True)
class _KeyPlan:
    """How ``(entry, monomial)`` is packed into one int64 key.

    ``key = entry << (width*bits) | code_0 << ((width-1)*bits) | ... | code_{width-1}`` where
    ``code = id + 1`` (0 = padding), or, when the plain ids would need too many bits, the rank of
    the id among the ids present (``present`` holds them sorted, -1 for padding first).
    Lexicographic order of ``(entry, ids)`` with padding first is the numeric order of keys.
    """

    width: int
    bits: int
    total_bits: int
    present: np.ndarray | None = None

    def encode(self, entry: np.ndarray, cols: list[np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
        """The keys of the terms (written into ``out`` when given)."""
        if self.present is None:
            # key = entry << (width*bits) + sum_j (id_j + 1) << shift_j; a padding id -1 adds 0
            key = np.left_shift(entry, self.width * self.bits, dtype=np.int64, out=out)
            shifts = [(self.width - 1 - j) * self.bits for j in range(min(self.width, len(cols)))]
            key += sum(1 << sh for sh in shifts)
            if shifts:
                code = np.empty(key.size, dtype=np.int64)
                for col, sh in zip(cols[: len(shifts)], shifts, strict=True):
                    np.left_shift(col, sh, dtype=np.int64, out=code)
                    key += code
            return key
        if out is None:
            key = entry.astype(np.int64, copy=True)
        else:
            key = out
            key[:] = entry
        code = np.empty(key.size, dtype=np.int64)
        for j in range(self.width):
            key <<= self.bits
            if j < len(cols):
                if self.present is None:
                    np.add(cols[j], 1, out=code)
                else:
                    code[:] = np.searchsorted(self.present, cols[j])
                key |= code
        return key

    def decode(self, key: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Inverse of :meth:`encode` (consumes ``key``): entries and monomial columns."""
        mask = (1 << self.bits) - 1
        cols: list[np.ndarray] = [np.empty(0)] * self.width
        code = np.empty(key.size, dtype=np.int64)
        for j in range(self.width - 1, -1, -1):
            np.bitwise_and(key, mask, out=code)
            key >>= self.bits
            if self.present is None:
                cols[j] = np.empty(key.size, dtype=np.int32)
                np.subtract(code, 1, out=cols[j], casting="unsafe")
            else:
                cols[j] = self.present[code]
        return key, cols


def _plan_key(size: int, width: int, groups: list[list[np.ndarray]]) -> _KeyPlan | None:
    """A key layout for the columns in ``groups`` fitting 62 bits, or None."""
    entry_bits = max(size - 1, 0).bit_length()
    top = max((int(c.max()) for cols in groups for c in cols if c.size), default=-1)
    bits = (top + 1).bit_length()
    if entry_bits + width * bits <= _KEY_BITS:
        return _KeyPlan(width, bits, entry_bits + width * bits)
    present = np.unique(np.concatenate([np.array([-1], dtype=np.int32), *(c for g in groups for c in g)]))
    bits = (present.size - 1).bit_length()
    if entry_bits + width * bits <= _KEY_BITS:
        return _KeyPlan(width, bits, entry_bits + width * bits, present)
    return None


def _reduce_runs(coef: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    """Sum the runs of ``coef`` beginning at ``starts``, switching to Python ints if needed."""
    if starts.size == n:
        return coef
    if coef.dtype != object:
        longest = int(np.diff(np.append(starts, n)).max())
        if _max_abs(coef) * longest >= _LIMIT:
            coef = _to_object(coef)
    return np.add.reduceat(coef, starts)


def _merge_sorted_keys(key: np.ndarray, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge equal adjacent keys, drop zero coefficients."""
    n = key.size
    if n and not (key[1:] == key[:-1]).any():
        # no two terms share a key: nothing to merge
        if coef.dtype != object and coef.strides == (0,) and int(coef[0]) != 0:
            return key, coef  # a broadcast nonzero constant
        if coef.dtype != object and (int(coef.min()) > 0 or int(coef.max()) < 0):
            return key, coef
        keep = coef != 0
        if not keep.all():
            key, coef = key[keep], coef[keep]
        return key, _normalize_coef(coef)
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    coef = _reduce_runs(coef, starts, n)
    if starts.size != n:
        key = key[starts]
    keep = coef != 0
    if not keep.all():
        key, coef = key[keep], coef[keep]
    return key, _normalize_coef(coef)


def _trim(entry: np.ndarray, cols: list[np.ndarray], coef: np.ndarray):
    """Drop padding-only trailing columns; the canonical ``(entry, mono, coef)`` triple."""
    width = len(cols)
    while width and not (cols[width - 1] >= 0).any():
        width -= 1
    return entry, _stack(cols[:width], entry.size), coef


def _canonicalize(size: int, entry: np.ndarray, cols: list[np.ndarray], coef: np.ndarray):
    """Sort terms by (entry, monomial), merge equal ones, drop zeros; each row of ``cols`` sorted.

    Returns ``(entry, mono, coef)`` with ``mono`` an ``(n, degree)`` int32 array.
    """
    n, width = entry.size, len(cols)
    if n == 0:
        return entry.astype(np.int64), np.zeros((0, 0), dtype=np.int32), np.zeros(0, dtype=np.int64)
    plan = _plan_key(size, width, [cols])
    if plan is None:
        return _canonicalize_lexsort(size, entry.astype(np.int64), cols, coef)
    key, coef = _sorted_keys(plan, entry, cols, coef)
    entry, cols = plan.decode(key)
    return _trim(entry, cols, coef)


def _sorted_keys(plan: _KeyPlan, entry: np.ndarray, cols: list[np.ndarray], coef: np.ndarray):
    """Packed keys of the terms, sorted, equal ones merged, zeros dropped; with their coefficients."""
    return _sort_packed(plan.total_bits, plan.encode(entry, cols), coef)


def _sort_packed(total_bits: int, key: np.ndarray, coef: np.ndarray):
    """Sort packed keys of ``total_bits`` bits (in place) with their coefficients, merge equal
    keys, drop zeros."""
    n = key.size
    if coef.dtype == object:
        span = None
    elif coef.strides == (0,):  # a broadcast constant
        span = 0
    else:
        span = int(coef.max()) - int(coef.min())
    index_bits = max(n - 1, 1).bit_length()
    if span == 0:
        # one coefficient for every term (products of variables): only the keys need sorting
        key.sort()
        return _merge_sorted_keys(key, coef)
    if span is not None and total_bits + span.bit_length() <= _KEY_BITS:
        # the coefficient rides in the low bits: one SIMD sort orders everything
        shift, low = span.bit_length(), int(coef.min())
        key <<= shift
        key |= coef - low
        key.sort()
        coef = (key & ((1 << shift) - 1)) + low
        key >>= shift
    elif total_bits + index_bits <= _KEY_BITS:
        key <<= index_bits
        key |= np.arange(n, dtype=np.int64)
        key.sort()
        coef = coef[key & ((1 << index_bits) - 1)]
        key >>= index_bits
    else:
        order = np.argsort(key, kind="stable")
        key, coef = key[order], coef[order]
    return _merge_sorted_keys(key, coef)


def _canonicalize_lexsort(size: int, entry: np.ndarray, cols: list[np.ndarray], coef: np.ndarray):
    """The same as :func:`_canonicalize` for keys that would not fit in 62 bits."""
    n = entry.size
    order = np.lexsort(tuple(reversed(cols)) + (entry,))
    entry, cols, coef = entry[order], [c[order] for c in cols], coef[order]
    change = entry[1:] != entry[:-1]
    for c in cols:
        change |= c[1:] != c[:-1]
    starts = np.flatnonzero(np.concatenate(([True], change)))
    coef = _reduce_runs(coef, starts, n)
    if starts.size != n:
        entry, cols = entry[starts], [c[starts] for c in cols]
    keep = coef != 0
    if not keep.all():
        entry, cols, coef = entry[keep], [c[keep] for c in cols], coef[keep]
    return _trim(entry, cols, _normalize_coef(coef))


def _merge_canonical(size: int, a: PolyTensor, b: PolyTensor):
    """Canonical terms of ``a + b`` for canonical ``a``, ``b``: a linear merge, no full sort."""
    width = max(a.degree, b.degree)
    cols_a, cols_b = _columns(a.mono), _columns(b.mono)
    if a.coef.dtype == object or b.coef.dtype == object:
        ca, cb = _to_object(a.coef), _to_object(b.coef)
    else:
        ca, cb = a.coef, b.coef
    plan = _plan_key(size, width, [cols_a, cols_b])
    if plan is None:
        pad_a = cols_a + [np.full(a.nnz, -1, dtype=np.int32)] * (width - a.degree)
        pad_b = cols_b + [np.full(b.nnz, -1, dtype=np.int32)] * (width - b.degree)
        cols = [np.concatenate([x, y]) for x, y in zip(pad_a, pad_b, strict=True)]
        return _canonicalize_lexsort(
            size, np.concatenate([a.entry, b.entry]), cols, np.concatenate([ca, cb])
        )
    key_a, key_b = plan.encode(a.entry, cols_a), plan.encode(b.entry, cols_b)
    from_b = np.zeros(a.nnz + b.nnz, dtype=bool)
    from_b[np.searchsorted(key_a, key_b, side="right") + np.arange(b.nnz)] = True
    key = np.empty(from_b.size, dtype=np.int64)
    key[~from_b], key[from_b] = key_a, key_b
    coef = np.empty(from_b.size, dtype=ca.dtype)
    coef[~from_b], coef[from_b] = ca, cb
    key, coef = _merge_sorted_keys(key, coef)
    entry, cols = plan.decode(key)
    return _trim(entry, cols, coef)


def _pad(mono: np.ndarray, width: int) -> np.ndarray:
    if mono.shape[1] == width:
        return mono
    pad = np.full((mono.shape[0], width - mono.shape[1]), -1, dtype=np.int32)
    return np.concatenate([mono, pad], axis=1)


def _common_pool(op: str, a: VariablePool | None, b: VariablePool | None) -> VariablePool | None:
    if a is not None and b is not None and a is not b:
        raise ValueError(f"{op}: the operands use different variable pools")
    return a if a is not None else b


# --------------------------------------------------------------------------------------------
# records


@dataclass(frozen=True)
class TermStats:
    """Number of terms per entry: the largest and the mean over all entries."""

    max: int
    mean: float


@dataclass(frozen=True)
class TermDifference:
    """One term on which two polynomial tensors differ.

    ``index`` is the entry, ``monomial`` the variable names (a repeated name is a power),
    ``lhs``/``rhs`` its coefficient on each side (0 when absent) and ``degree`` its degree.
    """

    index: tuple[int, ...]
    monomial: tuple[str, ...]
    lhs: Scalar
    rhs: Scalar
    degree: int

    def __str__(self) -> str:
        mono = "*".join(self.monomial) or "1"
        return f"entry {self.index}, monomial {mono}: lhs coefficient {self.lhs}, rhs {self.rhs}"


# --------------------------------------------------------------------------------------------
# the exact backend


class PolyTensor(TensorAlgebra):
    """An N-d array of exact polynomials, stored as canonical sparse terms (see module doc).

    Build one with :meth:`variables` (or ``pool.tensor``), :meth:`constant`, :meth:`zeros` or
    :meth:`from_dicts`.  Every instance is canonical, so ``==`` compares polynomials.
    """

    __slots__ = ("shape", "entry", "mono", "coef", "pool", "_offsets")
    __hash__ = None  # type: ignore[assignment]

    def __init__(
        self,
        shape: Sequence[int],
        entry: Any,
        mono: Any,
        coef: Any,
        pool: VariablePool | None = None,
        *,
        canonical: bool = False,
    ) -> None:
        """Terms ``coef[t] * prod(mono[t])`` added into flat entry ``entry[t]`` of ``shape``.

        ``mono`` rows list variable ids (any order, ``-1`` = no variable).  With
        ``canonical=True`` the arrays are trusted to be canonical already (internal use).
        """
        self.shape = _as_shape("PolyTensor", shape)
        self.pool = pool
        self._offsets: np.ndarray | None = None
        if canonical:
            self.entry, self.mono, self.coef = entry, mono, coef
            return
        entry = np.asarray(entry, dtype=np.int64).reshape(-1)
        mono = np.asarray(mono, dtype=np.int64)
        if mono.ndim == 1 and mono.size == 0:
            mono = mono.reshape(entry.size, 0)
        if mono.ndim != 2 or mono.shape[0] != entry.size:
            raise ValueError(
                f"PolyTensor: mono must have shape (n_terms, degree) with n_terms={entry.size}, "
                f"got {mono.shape}"
            )
        coef = _coef_array("PolyTensor", coef)
        if coef.size != entry.size:
            raise ValueError(f"PolyTensor: {coef.size} coefficients for {entry.size} terms")
        if entry.size and (int(entry.min()) < 0 or int(entry.max()) >= self.size):
            raise ValueError(f"PolyTensor: entry indices must lie in [0, {self.size})")
        if mono.size and int(mono.min()) < -1:
            raise ValueError("PolyTensor: variable ids must be >= 0 (-1 pads a monomial)")
        if pool is not None and mono.size and int(mono.max()) >= len(pool):
            raise ValueError(f"PolyTensor: variable id {int(mono.max())} is not in the pool")
        cols = _sort_columns(_columns(mono.astype(np.int32)))
        self.entry, self.mono, self.coef = _canonicalize(self.size, entry, cols, coef)

    # -- constructors
    @classmethod
    def variables(cls, pool: VariablePool, name: str, shape: Sequence[int]) -> PolyTensor:
        """Fresh variables ``name_{i,j,...}`` of ``pool``, one per entry of ``shape``."""
        shape = _as_shape("PolyTensor.variables", shape)
        ids = pool.create_tensor_ids(name, shape).reshape(-1)
        n = ids.size
        return cls(
            shape,
            np.arange(n, dtype=np.int64),
            ids.astype(np.int32).reshape(n, 1),
            np.ones(n, dtype=np.int64),
            pool,
            canonical=True,
        )

    @classmethod
    def constant(cls, values: Any, pool: VariablePool | None = None) -> PolyTensor:
        """Constant polynomials: an array of ints or Fractions (floats are rejected)."""
        arr = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
        coef = _coef_array("PolyTensor.constant", arr)
        n = coef.size
        return cls(arr.shape, np.arange(n), np.zeros((n, 0), dtype=np.int32), coef, pool)

    @classmethod
    def zeros(cls, shape: Sequence[int], pool: VariablePool | None = None) -> PolyTensor:
        """The zero tensor of ``shape``."""
        return cls(
            _as_shape("PolyTensor.zeros", shape),
            np.zeros(0, dtype=np.int64),
            np.zeros((0, 0), dtype=np.int32),
            np.zeros(0, dtype=np.int64),
            pool,
            canonical=True,
        )

    @classmethod
    def from_dicts(
        cls, shape: Sequence[int], dicts: Sequence[Mapping[tuple[int, ...], Scalar]],
        pool: VariablePool | None = None,
    ) -> PolyTensor:
        """From one ``{(var ids...): coefficient}`` dict per flat entry (C order)."""
        shape = _as_shape("PolyTensor.from_dicts", shape)
        if len(dicts) != math.prod(shape):
            raise ValueError(f"PolyTensor.from_dicts: {len(dicts)} dicts for shape {shape}")
        terms = [(e, m, c) for e, d in enumerate(dicts) for m, c in d.items()]
        width = max((len(m) for _, m, _ in terms), default=0)
        mono = np.full((len(terms), width), -1, dtype=np.int64)
        for row, (_, m, _) in enumerate(terms):
            mono[row, : len(m)] = m
        coef = np.empty(len(terms), dtype=object)
        coef[:] = [c for _, _, c in terms]
        return cls(shape, [e for e, _, _ in terms], mono, coef, pool)

    def constant_like(self, values: Any) -> PolyTensor:
        return PolyTensor.constant(values, self.pool)

    # -- structure
    @property
    def nnz(self) -> int:
        """Number of stored (non-zero) terms."""
        return int(self.entry.size)

    @property
    def degree(self) -> int:
        """The largest total degree of a term (0 for constants and for zero)."""
        return int(self.mono.shape[1])

    def offsets(self) -> np.ndarray:
        """CSR offsets: the terms of flat entry ``e`` are ``offsets[e]:offsets[e+1]``."""
        if self._offsets is None:
            self._offsets = np.searchsorted(
                self.entry, np.arange(self.size + 1, dtype=np.int64), side="left"
            ).astype(np.int64)
        return self._offsets

    def terms_per_entry(self) -> TermStats:
        """The largest and the mean number of terms of an entry."""
        if self.size == 0:
            return TermStats(0, 0.0)
        counts = np.diff(self.offsets())
        return TermStats(int(counts.max()), float(counts.mean()))

    def canonical(self) -> PolyTensor:
        """``self``: every PolyTensor is kept canonical (sorted, merged, zero-free)."""
        return self

    def reshape(self, *shape: Any) -> PolyTensor:
        """Same entries in C order, new shape (one ``-1`` allowed)."""
        target = shape[0] if len(shape) == 1 else shape
        new = _reshape_target("reshape", self.shape, target)
        return PolyTensor(new, self.entry, self.mono, self.coef, self.pool, canonical=True)

    def gather(self, flat_index: Any) -> PolyTensor:
        """Entry ``k`` of the result (shape of ``flat_index``) is ``self.flat[flat_index.flat[k]]``."""
        index = np.asarray(flat_index)
        if index.size == 0:
            return PolyTensor.zeros(index.shape, self.pool)
        if index.dtype.kind not in "iu":
            raise TypeError(f"gather: indices must be integers, got dtype {index.dtype}")
        flat = index.reshape(-1).astype(np.int64)
        if int(flat.min()) < 0 or int(flat.max()) >= self.size:
            raise ValueError(f"gather: indices must lie in [0, {self.size}) for shape {self.shape}")
        ptr = self.offsets()
        counts = ptr[flat + 1] - ptr[flat]
        total = int(counts.sum())
        new_start = np.cumsum(counts) - counts
        source = np.repeat(ptr[flat] - new_start, counts) + np.arange(total, dtype=np.int64)
        entry = np.repeat(np.arange(flat.size, dtype=np.int64), counts)
        return PolyTensor(
            index.shape,
            entry,
            _stack([c[source] for c in _columns(self.mono)], total),
            self.coef[source],
            self.pool,
            canonical=True,
        )

    # -- arithmetic
    def _add(self, other: PolyTensor) -> PolyTensor:
        pool = _common_pool("add", self.pool, other.pool)
        if other.nnz == 0:
            return PolyTensor(self.shape, self.entry, self.mono, self.coef, pool, canonical=True)
        if self.nnz == 0:
            return PolyTensor(self.shape, other.entry, other.mono, other.coef, pool, canonical=True)
        return PolyTensor(self.shape, *_merge_canonical(self.size, self, other), pool, canonical=True)

    def __neg__(self) -> PolyTensor:
        return PolyTensor(self.shape, self.entry, self.mono, -self.coef, self.pool, canonical=True)

    def _scale(self, scalar: Scalar) -> PolyTensor:
        if scalar == 0:
            return PolyTensor.zeros(self.shape, self.pool)
        if type(scalar) is int and self.coef.dtype != object and _max_abs(self.coef) * abs(scalar) < _LIMIT:
            coef = self.coef * scalar
        else:
            coef = _normalize_coef(_to_object(self.coef) * scalar)
        return PolyTensor(self.shape, self.entry, self.mono, coef, self.pool, canonical=True)

    def contract(self, other: PolyTensor, out_index, a_index, b_index, out_shape) -> PolyTensor:
        """``out[o] += self[ai] * other[bi]`` per triple; see :func:`contract`.

        Cost: ``sum over triples of terms(self[ai]) * terms(other[bi])`` products, then one sort.
        """
        if not isinstance(other, PolyTensor):
            raise TypeError(f"contract: cannot combine PolyTensor with {type(other).__name__}")
        out_shape = _as_shape("contract", out_shape)
        out_size = math.prod(out_shape)
        oi, ai, bi = _check_triples(
            "contract", out_index, a_index, b_index, out_size, self.size, other.size
        )
        pool = _common_pool("contract", self.pool, other.pool)
        terms = self._product_terms(other, oi, ai, bi)
        if terms is None:
            return PolyTensor.zeros(out_shape, pool)
        return PolyTensor(out_shape, *_canonicalize(out_size, *terms), pool, canonical=True)

    def _product_terms(self, other: PolyTensor, oi: np.ndarray, ai: np.ndarray, bi: np.ndarray,
                       constant_view: bool = False):
        """The raw terms ``(entry, columns, coef)`` of a contraction, before sorting and merging.

        Each row of the columns is sorted; ``None`` when there is no term.  With
        ``constant_view``, coefficients that are all equal come back as a read-only broadcast
        view (no memory) instead of a filled array.
        """
        a_ptr, b_ptr = self.offsets(), other.offsets()
        na = a_ptr[ai + 1] - a_ptr[ai]
        nb = b_ptr[bi + 1] - b_ptr[bi]
        pairs = na * nb
        total = int(pairs.sum())
        if total == 0:
            return None
        if int(pairs.min()) == 0:  # triples with an empty factor make no term
            keep = pairs > 0
            oi, ai, bi, na, nb, pairs = oi[keep], ai[keep], bi[keep], na[keep], nb[keep], pairs[keep]
        # term t of triple k pairs term t // nb[k] of a[ai[k]] with term t % nb[k] of b[bi[k]]
        first = np.cumsum(pairs) - pairs  # where the terms of triple k start
        # With one term per entry on a side (a tensor of variables, say), that side's term of
        # each product is a plain repeat of its term per triple: no index array, no gather.
        ia = ib = None
        if int(nb.max()) == 1:
            ia = np.repeat(a_ptr[ai] - first, pairs)
            ia += np.arange(total, dtype=np.int64)
            single_b = b_ptr[bi]
        elif int(na.max()) == 1:
            ib = np.repeat(b_ptr[bi] - first, pairs)
            ib += np.arange(total, dtype=np.int64)
            single_a = a_ptr[ai]
        else:
            local = np.arange(total, dtype=np.int64) - np.repeat(first, pairs)
            q, r = np.divmod(local, np.repeat(nb, pairs))
            del local
            ia = np.repeat(a_ptr[ai], pairs) + q
            ib = np.repeat(b_ptr[bi], pairs) + r
        entry = np.repeat(oi, pairs)

        def side(columns: list[np.ndarray], index, single) -> list[np.ndarray]:
            if index is None:
                return [np.repeat(c[single], pairs) for c in columns]
            return [c[index] for c in columns]

        def side_coef(coef: np.ndarray, index, single) -> np.ndarray:
            return np.repeat(coef[single], pairs) if index is None else coef[index]

        cols_a = side(_columns(self.mono), ia, single_a if ia is None else None)
        cols_b = side(_columns(other.mono), ib, single_b if ib is None else None)
        if self.degree and other.degree:
            cols = _merge_sorted_columns(cols_a, cols_b)
        else:
            cols = cols_a + cols_b
        ca, cb = self.coef, other.coef
        sel_a = single_a if ia is None else None
        sel_b = single_b if ib is None else None
        if ca.dtype == object or cb.dtype == object or _max_abs(ca) * _max_abs(cb) >= _LIMIT:
            coef = side_coef(_to_object(ca), ia, sel_a) * side_coef(_to_object(cb), ib, sel_b)
        elif ca.min() == ca.max() and cb.min() == cb.max():
            # constant coefficients (e.g. all variables): skip two gathers of the product size
            value = np.int64(int(ca[0]) * int(cb[0]))
            coef = np.broadcast_to(value, (total,)) if constant_view else np.full(total, value)
        else:
            coef = side_coef(ca, ia, sel_a) * side_coef(cb, ib, sel_b)
        del ia, ib
        return entry, cols, coef

    # -- comparison
    def equals(self, other: PolyTensor) -> bool:
        """Same shape and the same polynomial in every entry."""
        if not isinstance(other, PolyTensor):
            raise TypeError(f"equals: cannot compare PolyTensor with {type(other).__name__}")
        return (
            self.shape == other.shape
            and self.nnz == other.nnz
            and self.degree == other.degree
            and np.array_equal(self.entry, other.entry)
            and np.array_equal(self.mono, other.mono)
            and bool(np.all(self.coef == other.coef))
        )

    def __eq__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, PolyTensor):
            return NotImplemented
        return self.equals(other)

    def _coefficient_of(self, flat: int, row: np.ndarray) -> Scalar:
        lo, hi = self.offsets()[flat], self.offsets()[flat + 1]
        width = max(self.degree, row.size)
        mine = _pad(self.mono[lo:hi], width)
        target = np.concatenate([row, np.full(width - row.size, -1, dtype=row.dtype)])
        hit = np.flatnonzero((mine == target).all(axis=1))
        if not hit.size:
            return 0
        value = self.coef[lo + hit[0]]
        # int64 entries are NumPy scalars; object entries are already Python ints or Fractions
        return value.item() if isinstance(value, np.generic) else value

    def first_difference(self, other: PolyTensor) -> TermDifference | None:
        """``None`` when equal, else a differing term of least degree (first in canonical order)."""
        if not isinstance(other, PolyTensor):
            raise TypeError(f"first_difference: cannot compare PolyTensor with {type(other).__name__}")
        if self.shape != other.shape:
            raise ValueError(f"first_difference: shapes {self.shape} and {other.shape} differ")
        diff = self - other
        if diff.nnz == 0:
            return None
        t = int(np.argmin((diff.mono >= 0).sum(axis=1)))
        flat = int(diff.entry[t])
        row = diff.mono[t][diff.mono[t] >= 0]
        return TermDifference(
            index=tuple(int(i) for i in np.unravel_index(flat, self.shape)),
            monomial=tuple(self._name(int(v), diff.pool) for v in row),
            lhs=self._coefficient_of(flat, row),
            rhs=other._coefficient_of(flat, row),
            degree=int(row.size),
        )

    @staticmethod
    def _name(var_id: int, pool: VariablePool | None) -> str:
        return pool.name(var_id) if pool is not None else f"v_{{{var_id}}}"

    # -- views
    def to_dicts(self) -> list[dict[tuple[int, ...], Scalar]]:
        """One ``{(var ids...): coefficient}`` dict per flat entry (a readable view)."""
        out: list[dict[tuple[int, ...], Scalar]] = [{} for _ in range(self.size)]
        for e, row, c in zip(self.entry.tolist(), self.mono.tolist(), self.coef.tolist(), strict=True):
            out[e][tuple(v for v in row if v >= 0)] = c
        return out

    def to_sympy_array(self, max_terms: int = 20_000) -> np.ndarray:
        """An object array of SymPy expressions (small tensors only: at most ``max_terms``)."""
        if self.nnz > max_terms:
            raise ValueError(
                f"to_sympy_array: {self.nnz} terms exceed max_terms={max_terms}; "
                "compare PolyTensors directly instead"
            )
        out = np.empty(self.size, dtype=object)
        for e, terms in enumerate(self.to_dicts()):
            addends = []
            for mono, coef in terms.items():
                coef = Fraction(coef)
                factor = sympy.Rational(coef.numerator, coef.denominator)
                addends.append(factor * sympy.Mul(*[self._symbol(v) for v in mono]))
            out[e] = sympy.Add(*addends)
        return out.reshape(self.shape)

    def _symbol(self, var_id: int) -> sympy.Symbol:
        if self.pool is not None:
            return self.pool.to_sympy(var_id)
        return sympy.Symbol(self._name(var_id, None), real=True)

    def evaluate(self, values: Mapping[int, Scalar]) -> np.ndarray:
        """Exact value of every entry with ``values[var_id]`` (unassigned variables are 0).

        Returns an object array of Python ints / Fractions of ``self.shape``.
        """
        table_size = (int(self.mono.max()) + 2) if self.mono.size else 1
        table = np.zeros(table_size, dtype=object)
        table[0] = 1
        for var_id, value in values.items():
            if 0 <= int(var_id) < table_size - 1:
                table[int(var_id) + 1] = _exact_scalar("evaluate", value)
        term = _to_object(self.coef).copy()
        for j in range(self.degree):
            term = term * table[self.mono[:, j] + 1]
        out = np.zeros(self.size, dtype=object)
        out[:] = [0] * self.size
        if self.nnz:
            ptr = self.offsets()
            filled = np.flatnonzero(np.diff(ptr) > 0)
            out[filled] = np.add.reduceat(term, ptr[filled])
        return out.reshape(self.shape)

    def __repr__(self) -> str:
        return (
            f"PolyTensor(shape={self.shape}, nnz={self.nnz}, degree={self.degree}, "
            f"coef={self.coef.dtype})"
        )


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


# --------------------------------------------------------------------------------------------
# the numeric twin modulo a prime


def _mod_p(op: str, value: Scalar, p: int) -> int:
    value = _exact_scalar(op, value)
    if isinstance(value, Fraction):
        if value.denominator % p == 0:
            raise ValueError(f"{op}: denominator {value.denominator} is not invertible modulo p={p}")
        return value.numerator * pow(value.denominator, -1, p) % p
    return value % p


class ModPTensor(TensorAlgebra):
    """Values modulo a prime ``p < 2**31`` as int64 in ``[0, p)``, same interface as PolyTensor.

    Products of two residues are below ``2**62`` and are reduced at once, so nothing overflows.
    ``degree`` is an upper bound on the degree of each entry as a polynomial in the random inputs
    (inputs 1, constants 0, products add, sums take the maximum): Schwartz-Zippel needs it.
    """

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, values: Any, p: int = DEFAULT_PRIME, degree: int = 0) -> None:
        if not 2 <= p < 2**31:
            raise ValueError(f"ModPTensor: the modulus p={p} must lie in [2, 2**31)")
        arr = np.asarray(values)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"ModPTensor: values must be integers, got dtype {arr.dtype}")
        self.values = np.mod(arr.astype(np.int64), p)
        self.shape = self.values.shape
        self.p = int(p)
        self.degree = int(degree)

    @classmethod
    def constant(cls, values: Any, p: int = DEFAULT_PRIME) -> ModPTensor:
        """Exact constants (ints, Fractions) reduced modulo ``p``; degree 0."""
        arr = np.asarray(values, dtype=object)
        flat = [_mod_p("ModPTensor.constant", v, p) for v in arr.reshape(-1).tolist()]
        return cls(np.array(flat, dtype=np.int64).reshape(arr.shape), p, 0)

    @classmethod
    def random(cls, shape: Sequence[int], rng: np.random.Generator, p: int = DEFAULT_PRIME) -> ModPTensor:
        """Uniform residues, an input of degree 1."""
        return cls(rng.integers(0, p, size=_as_shape("ModPTensor.random", shape), dtype=np.int64), p, 1)

    @classmethod
    def zeros(cls, shape: Sequence[int], p: int = DEFAULT_PRIME) -> ModPTensor:
        return cls(np.zeros(_as_shape("ModPTensor.zeros", shape), dtype=np.int64), p, 0)

    def constant_like(self, values: Any) -> ModPTensor:
        return ModPTensor.constant(values, self.p)

    def _check_p(self, op: str, other: ModPTensor) -> None:
        if self.p != other.p:
            raise ValueError(f"{op}: moduli differ (p={self.p} and p={other.p})")

    def reshape(self, *shape: Any) -> ModPTensor:
        target = shape[0] if len(shape) == 1 else shape
        new = _reshape_target("reshape", self.shape, target)
        return ModPTensor(self.values.reshape(new), self.p, self.degree)

    def gather(self, flat_index: Any) -> ModPTensor:
        index = np.asarray(flat_index)
        if index.size and index.dtype.kind not in "iu":
            raise TypeError(f"gather: indices must be integers, got dtype {index.dtype}")
        if index.size and (int(index.min()) < 0 or int(index.max()) >= self.size):
            raise ValueError(f"gather: indices must lie in [0, {self.size}) for shape {self.shape}")
        return ModPTensor(self.values.reshape(-1)[index.astype(np.int64)], self.p, self.degree)

    def _add(self, other: ModPTensor) -> ModPTensor:
        self._check_p("add", other)
        return ModPTensor((self.values + other.values) % self.p, self.p, max(self.degree, other.degree))

    def __neg__(self) -> ModPTensor:
        return ModPTensor((-self.values) % self.p, self.p, self.degree)

    def _scale(self, scalar: Scalar) -> ModPTensor:
        factor = _mod_p("mul", scalar, self.p)
        degree = self.degree if factor else 0
        return ModPTensor(self.values * factor % self.p, self.p, degree)

    def contract(self, other: ModPTensor, out_index, a_index, b_index, out_shape) -> ModPTensor:
        if not isinstance(other, ModPTensor):
            raise TypeError(f"contract: cannot combine ModPTensor with {type(other).__name__}")
        self._check_p("contract", other)
        out_shape = _as_shape("contract", out_shape)
        out_size = math.prod(out_shape)
        oi, ai, bi = _check_triples("contract", out_index, a_index, b_index, out_size, self.size, other.size)
        out = np.zeros(out_size, dtype=np.int64)
        a, b = self.values.reshape(-1), other.values.reshape(-1)
        # residues < 2**31, so a chunk of 2**31 of them sums below 2**62
        chunk = 2**31
        for start in range(0, oi.size, chunk):
            part = slice(start, start + chunk)
            np.add.at(out, oi[part], a[ai[part]] * b[bi[part]] % self.p)
            out %= self.p
        return ModPTensor(out.reshape(out_shape), self.p, self.degree + other.degree)

    def equals(self, other: ModPTensor) -> bool:
        self._check_p("equals", other)
        return self.shape == other.shape and bool(np.array_equal(self.values, other.values))

    def __eq__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, ModPTensor):
            return NotImplemented
        return self.equals(other)

    def __repr__(self) -> str:
        return f"ModPTensor(shape={self.shape}, p={self.p}, degree={self.degree})"


# --------------------------------------------------------------------------------------------
# identity checks


Builder = Callable[[dict[str, Any]], TensorAlgebra]


@dataclass(frozen=True)
class ZippelResult:
    """Outcome of :func:`schwartz_zippel`.

    ``equal`` is False only when the sides were seen to differ (then ``index``, ``lhs_value`` and
    ``rhs_value`` locate it and ``point`` is the input that shows it; a certain refutation for
    integer/Fraction coefficients whose denominators are prime to ``p``).  When ``equal`` is
    True, ``error_bound = (degree / p) ** trials`` bounds the chance that a non-zero difference
    went unseen, provided some coefficient of the difference is not a multiple of ``p``
    (always so when its coefficients are smaller than ``p`` in absolute value); ``point`` is
    then the last point tried.
    """

    equal: bool
    trials: int
    p: int
    degree: int
    error_bound: Fraction
    point: dict[str, np.ndarray]
    index: tuple[int, ...] | None = None
    lhs_value: int | None = None
    rhs_value: int | None = None


def _check_same_shape(op: str, lhs: TensorAlgebra, rhs: TensorAlgebra) -> None:
    if lhs.shape != rhs.shape:
        raise ValueError(f"{op}: lhs has shape {lhs.shape} but rhs has shape {rhs.shape}")


def schwartz_zippel(
    build_lhs: Builder,
    build_rhs: Builder,
    shapes: Mapping[str, Sequence[int]],
    trials: int = 3,
    seed: int = 0,
    p: int = DEFAULT_PRIME,
) -> ZippelResult:
    """Randomised identity test: evaluate both sides at ``trials`` random points modulo ``p``.

    ``shapes`` maps input names to shapes; each builder receives ``{name: ModPTensor}`` and
    returns a tensor.  A nonzero polynomial of degree ``d`` over the field of ``p`` elements
    vanishes at a uniform random point with probability at most ``d / p`` (Schwartz-Zippel), so a
    wrong identity passes ``trials`` independent points with probability ``<= (d/p)**trials``.
    """
    if trials < 1:
        raise ValueError(f"schwartz_zippel: trials={trials} must be at least 1")
    rng = np.random.default_rng(seed)
    degree = 0
    point: dict[str, np.ndarray] = {}
    for trial in range(1, trials + 1):
        point = {name: rng.integers(0, p, size=_as_shape("schwartz_zippel", shape), dtype=np.int64)
                 for name, shape in shapes.items()}
        inputs = {name: ModPTensor(values, p, 1) for name, values in point.items()}
        lhs, rhs = build_lhs(dict(inputs)), build_rhs(dict(inputs))
        _check_same_shape("schwartz_zippel", lhs, rhs)
        degree = max(degree, lhs.degree, rhs.degree)
        differ = np.flatnonzero(lhs.values.reshape(-1) != rhs.values.reshape(-1))
        if differ.size:
            flat = int(differ[0])
            return ZippelResult(
                equal=False, trials=trial, p=p, degree=degree, error_bound=Fraction(0),
                point=point, index=tuple(int(i) for i in np.unravel_index(flat, lhs.shape)),
                lhs_value=int(lhs.values.reshape(-1)[flat]),
                rhs_value=int(rhs.values.reshape(-1)[flat]),
            )
    return ZippelResult(
        equal=True, trials=trials, p=p, degree=degree,
        error_bound=Fraction(degree, p) ** trials, point=point,
    )


@dataclass(frozen=True)
class ExactCheck:
    """Outcome of :func:`exact_check`: ``equal`` is a proof (or ``difference`` a refutation)."""

    equal: bool
    difference: TermDifference | None
    terms_per_entry: TermStats
    nnz: int
    pool: VariablePool


def exact_check(
    build_lhs: Builder,
    build_rhs: Builder,
    shapes: Mapping[str, Sequence[int]],
    backend: type = PolyTensor,
) -> ExactCheck:
    """Exact polynomial identity check with every input entry a distinct variable.

    ``shapes`` maps input names to shapes; the variables of input ``x`` are named ``x_{i,j,...}``
    and created in the order of ``shapes``.  ``backend`` is :class:`PolyTensor` (fast) or
    :class:`DictPolyTensor` (the oracle).  ``terms_per_entry``/``nnz`` describe the lhs.
    """
    pool = VariablePool()
    inputs = {name: backend.variables(pool, name, shape) for name, shape in shapes.items()}
    lhs, rhs = build_lhs(dict(inputs)), build_rhs(dict(inputs))
    _check_same_shape("exact_check", lhs, rhs)
    if backend is PolyTensor:
        equal = lhs.equals(rhs)
        difference = None if equal else lhs.first_difference(rhs)
        return ExactCheck(equal, difference, lhs.terms_per_entry(), lhs.nnz, pool)
    as_poly = [PolyTensor.from_dicts(t.shape, t.to_dicts(), pool) for t in (lhs, rhs)]
    difference = as_poly[0].first_difference(as_poly[1])
    return ExactCheck(
        difference is None, difference, as_poly[0].terms_per_entry(), as_poly[0].nnz, pool
    )
