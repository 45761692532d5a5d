"""The numeric twin modulo a prime, the Schwartz-Zippel pre-check and the exact check.

:class:`ModPTensor` evaluates the same ops on int64 values modulo a prime ``p < 2**31``;
:func:`schwartz_zippel` compares two builders at random points; :func:`exact_check` runs the
pre-check (where it is cheaper) and then the exact comparison with
:class:`~convsym.exact.poly.PolyTensor`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from convsym.exact.poly import PolyTensor, TermDifference, TermStats
from convsym.exact.pool import VariablePool
from convsym.exact.tensor import (
    DEFAULT_PRIME,
    Scalar,
    TensorAlgebra,
    _as_shape,
    _check_triples,
    _exact_scalar,
    _reshape_target,
)

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
    :class:`~convsym.exact.oracle.DictPolyTensor` (the oracle).  ``terms_per_entry``/``nnz`` describe the lhs.
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
