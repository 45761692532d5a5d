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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy

from convsym.exact.keys import (
    _canonicalize,
    _columns,
    _merge_canonical,
    _merge_sorted_columns,
    _pad,
    _sort_columns,
    _stack,
    product_indices,
)
from convsym.exact.tensor import (
    _LIMIT,
    Scalar,
    TensorAlgebra,
    _as_shape,
    _check_triples,
    _coef_array,
    _common_pool,
    _exact_scalar,
    _max_abs,
    _normalize_coef,
    _reshape_target,
    _to_object,
)

if TYPE_CHECKING:  # annotations only: the pool builds tensors of this module
    from convsym.exact.pool import VariablePool


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
        """``out[o] += self[ai] * other[bi]`` per triple; see :func:`~convsym.exact.tensor.contract`.

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
        found = product_indices(self.offsets(), other.offsets(), oi, ai, bi)
        if found is None:
            return None
        entry, ia, ib, single_a, single_b, pairs = found
        total = len(entry)

        once = total == pairs.size  # one term per triple: a repeat would copy

        def side(columns: list[np.ndarray], index, single) -> list[np.ndarray]:
            if index is None:
                return [c[single] if once else np.repeat(c[single], pairs) for c in columns]
            return [c[index] for c in columns]

        def side_coef(coef: np.ndarray, index, single) -> np.ndarray:
            if index is None:
                return coef[single] if once else np.repeat(coef[single], pairs)
            return coef[index]

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
