"""The exact polynomial backend against the dict oracle, its overflow policy and its twins."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from convsym.exact.modp import ModPTensor, exact_check, schwartz_zippel
from convsym.exact.oracle import DictPolyTensor
from convsym.exact.poly import PolyTensor, TermDifference
from convsym.exact.pool import VariablePool, to_sympy
from convsym.exact.tensor import DEFAULT_PRIME, contract
from convsym.symbolic.symbols import scalars, sizes

N_VARS = 6

# ---------------------------------------------------------------------------------------------
# strategies: small random polynomial tensors given as one {monomial: coefficient} dict per entry

coefficients = st.one_of(
    st.integers(-4, 4),
    st.integers(-(2**63), 2**63),
    st.fractions(min_value=-3, max_value=3, max_denominator=5),
)
monomials = st.lists(st.integers(0, N_VARS - 1), max_size=3).map(tuple)
entries = st.dictionaries(monomials, coefficients, max_size=4)
shapes = st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple)


@st.composite
def tensor_dicts(draw, shape=None):
    shape = draw(shapes) if shape is None else shape
    return shape, [draw(entries) for _ in range(math.prod(shape))]


def both(shape, dicts):
    """The same tensor in the fast backend and in the oracle."""
    return PolyTensor.from_dicts(shape, dicts), DictPolyTensor(shape, dicts)


def assert_same(fast: PolyTensor, oracle: DictPolyTensor) -> None:
    assert fast.shape == oracle.shape
    assert fast.to_dicts() == oracle.to_dicts()


def terms(t: PolyTensor) -> list[tuple[int, tuple[int, ...], object]]:
    """The stored terms, read straight from the arrays (no per-entry allocation)."""
    return [
        (e, tuple(v for v in row if v >= 0), c)
        for e, row, c in zip(t.entry.tolist(), t.mono.tolist(), t.coef.tolist(), strict=True)
    ]


# ---------------------------------------------------------------------------------------------
# PolyTensor against the oracle


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_elementwise_ops_match_oracle(data):
    shape, da = data.draw(tensor_dicts())
    _, db = data.draw(tensor_dicts(shape))
    scalar = data.draw(st.one_of(st.integers(-3, 3), st.fractions(-2, 2, max_denominator=4)))
    fa, oa = both(shape, da)
    fb, ob = both(shape, db)
    assert_same(fa, oa)
    assert_same(fa + fb, oa + ob)
    assert_same(fa - fb, oa - ob)
    assert_same(-fa, -oa)
    assert_same(fa * scalar, oa * scalar)
    assert_same(fa * fb, oa * ob)
    assert_same(fa - fa, DictPolyTensor.zeros(shape))
    assert (fa + fb) == (fb + fa)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_contract_matches_oracle(data):
    shape_a, da = data.draw(tensor_dicts())
    shape_b, db = data.draw(tensor_dicts())
    out_shape = data.draw(shapes)
    size_a, size_b, size_o = math.prod(shape_a), math.prod(shape_b), math.prod(out_shape)
    triples = data.draw(
        st.lists(
            st.tuples(st.integers(0, size_o - 1), st.integers(0, size_a - 1), st.integers(0, size_b - 1)),
            max_size=12,
        )
    )
    o, a, b = (np.array([t[i] for t in triples], dtype=np.int64) for i in range(3))
    fa, oa = both(shape_a, da)
    fb, ob = both(shape_b, db)
    assert_same(contract(fa, fb, o, a, b, out_shape), contract(oa, ob, o, a, b, out_shape))


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_shape_ops_match_oracle(data):
    shape, d = data.draw(tensor_dicts())
    fast, oracle = both(shape, d)
    index = data.draw(st.lists(st.integers(0, fast.size - 1), max_size=7))
    flat = np.array(index, dtype=np.int64)
    assert_same(fast.gather(flat), oracle.gather(flat))
    assert_same(fast.transpose(), oracle.transpose())
    assert_same(fast.reshape(-1), oracle.reshape(-1))
    assert_same(fast.sum(), oracle.sum())
    assert_same(fast.sum(0), oracle.sum(0))
    assert_same(fast.broadcast_to((2, *shape)), oracle.broadcast_to((2, *shape)))
    assert_same(fast[..., :1], oracle[..., :1])


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_evaluate_matches_oracle(data):
    shape, d = data.draw(tensor_dicts())
    values = data.draw(
        st.dictionaries(st.integers(0, N_VARS - 1), st.one_of(st.integers(-5, 5), st.fractions(-2, 2)))
    )
    fast, oracle = both(shape, d)
    assert fast.evaluate(values).tolist() == oracle.evaluate(values).tolist()


def test_construction_is_canonical_whatever_the_term_order():
    # x0*x1 written as (1, 0) and (0, 1), a zero sum, and duplicates spread over the list
    entry = [1, 0, 1, 1, 0]
    mono = [[1, 0], [0, -1], [0, 1], [-1, -1], [0, -1]]
    coef = [2, 5, 3, 7, -5]
    t = PolyTensor((2,), entry, mono, coef)
    assert terms(t) == [(1, (), 7), (1, (0, 1), 5)]
    assert t.degree == 2
    permuted = PolyTensor((2,), entry[::-1], mono[::-1], coef[::-1])
    assert permuted == t


def _expected_terms(size_terms):
    acc: dict[tuple[int, tuple[int, ...]], object] = {}
    for e, m, c in size_terms:
        key = (e, tuple(sorted(m)))
        acc[key] = acc.get(key, 0) + c
    return [(e, m, c) for (e, m), c in sorted(acc.items()) if c != 0]


@pytest.mark.parametrize(
    "case",
    [
        # many distinct ids at degree 12: the packed key does not fit -> lexsort
        "lexsort",
        # huge coefficient span: the coefficient cannot ride in the key -> position packed
        "index-packed",
        # entries near 2**40 and a long key: neither fits -> argsort
        "argsort",
    ],
)
def test_every_sorting_path_gives_the_canonical_order(case):
    rng = np.random.default_rng(7)
    n = 40
    if case == "lexsort":
        shape, entry = (3,), rng.integers(0, 3, n)
        mono = rng.integers(0, 60, (n, 12))
        coef = rng.integers(-2, 3, n)
    elif case == "index-packed":
        shape, entry = (4,), rng.integers(0, 4, n)
        mono = rng.integers(0, 5, (n, 2))
        coef = rng.integers(-(2**61), 2**61, n)
    else:
        shape = (2**20, 2**20)
        entry = rng.integers(2**40 - 4, 2**40, n)
        mono = rng.integers(0, 2**16, (n, 1)) * 1000 + rng.integers(0, 1000, (n, 1))
        mono = np.concatenate([mono, mono[::-1]], axis=1)
        coef = rng.integers(-3, 4, n)
    given = [(int(e), tuple(int(v) for v in m), int(c)) for e, m, c in zip(entry, mono, coef, strict=True)]
    # duplicate every term so merging is exercised too
    entry, mono, coef = np.tile(entry, 2), np.tile(mono, (2, 1)), np.tile(coef, 2)
    t = PolyTensor(shape, entry, mono, coef)
    assert terms(t) == _expected_terms(given + given)


# ---------------------------------------------------------------------------------------------
# overflow: bounds are checked before arithmetic, Python ints take over


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda: PolyTensor.constant([2**61, 2**61]).sum(), [2**62]),
        (lambda: PolyTensor.constant([2**40]) * PolyTensor.constant([2**40]), [2**80]),
        (lambda: PolyTensor.constant([2**62 - 1]) * 3, [3 * (2**62 - 1)]),
        (lambda: PolyTensor.constant([2**63 + 5]) + PolyTensor.constant([1]), [2**63 + 6]),
        (lambda: -PolyTensor.constant([-(2**63)]), [2**63]),
    ],
)
def test_overflow_falls_back_to_python_ints(build, expected):
    t = build()
    assert t.coef.dtype == object
    assert t.evaluate({}).reshape(-1).tolist() == expected


def test_contract_sum_bound_counts_the_merged_terms():
    # four products of 2**30 * 2**30 land in one entry: each fits, the sum 2**62 does not
    pool = VariablePool()
    x = pool.tensor("x", (4,))
    a = x * (2**30)
    ones = PolyTensor.constant([2**30])
    flat = np.arange(4)
    y = contract(a, ones, np.zeros(4, dtype=int), flat, np.zeros(4, dtype=int), (1,))
    assert y.coef.dtype == np.int64  # four distinct monomials: no merge, no overflow
    z = contract(PolyTensor.constant([2**31] * 4), ones * 2**1, np.zeros(4, dtype=int), flat,
                 np.zeros(4, dtype=int), (1,))
    assert z.coef.dtype == object
    assert z.evaluate({}).tolist() == [2**64]


def test_results_demote_back_to_int64_when_they_fit():
    big = PolyTensor.constant([2**62 + 1, 3])
    small = big - PolyTensor.constant([2**62, 0])
    assert small.coef.dtype == np.int64
    assert small.evaluate({}).tolist() == [1, 3]
    halves = PolyTensor.constant([4, 6]) * Fraction(1, 2)
    assert halves.coef.dtype == np.int64


def test_fraction_coefficients_stay_exact():
    pool = VariablePool()
    x = pool.tensor("x", (2,))
    y = x * Fraction(1, 3) + Fraction(2, 7)
    assert y.evaluate({0: 3, 1: Fraction(3, 2)}).tolist() == [Fraction(9, 7), Fraction(11, 14)]
    assert (y * 3 - x - Fraction(6, 7)).nnz == 0


# ---------------------------------------------------------------------------------------------
# comparison, differences and views


def test_first_difference_reports_a_term_of_least_degree():
    pool = VariablePool()
    x = pool.tensor("x", (2, 2))
    lhs = x[0, 0] * x[0, 1] * x[1, 0] * 2 + x[1, 1] * 5
    rhs = x[1, 1] * 3
    diff = lhs.first_difference(rhs)
    assert diff == TermDifference(index=(), monomial=("x_{1,1}",), lhs=5, rhs=3, degree=1)
    assert lhs.first_difference(lhs * 1) is None
    assert "x_{1,1}" in str(diff)


def test_first_difference_rejects_other_shapes():
    pool = VariablePool()
    with pytest.raises(ValueError, match=r"first_difference: shapes \(2,\) and \(3,\) differ"):
        pool.tensor("a", (2,)).first_difference(pool.tensor("b", (3,)))


def test_statistics_and_sympy_view():
    pool = VariablePool()
    x = pool.tensor("x", (2,))
    t = PolyTensor.constant([[1, 0], [0, 0]], pool) + x.reshape(2, 1) * x * 2
    assert t.shape == (2, 2)
    assert t.nnz == 5
    stats = t.terms_per_entry()
    assert (stats.max, stats.mean) == (2, 1.25)
    x0, x1 = (sympy.Symbol(n, real=True) for n in ("x_{0}", "x_{1}"))
    assert t.to_sympy_array().tolist() == [
        [2 * x0**2 + 1, 2 * x0 * x1],
        [2 * x0 * x1, 2 * x1**2],
    ]
    with pytest.raises(ValueError, match="to_sympy_array: 5 terms exceed max_terms=4"):
        t.to_sympy_array(max_terms=4)


def test_pool_names_ids_and_symbols():
    pool = VariablePool()
    x = pool.tensor("x", (1, 2, 3))
    w = pool.tensor("w^{(1)}", (1, 1, 2, 3))
    assert len(pool) == 12
    assert pool.name(5) == "x_{0,1,2}"
    assert pool.name(11) == "w^{(1)}_{0,0,1,2}"
    assert pool.id("w^{(1)}_{0,0,0,0}") == 6
    assert x.to_dicts()[4] == {(4,): 1} and w.to_dicts()[0] == {(6,): 1}
    assert to_sympy(pool, 0) == sympy.Symbol("x_{0,0,0}", real=True)
    with pytest.raises(ValueError, match="variable 'x_{0,0,0}' already exists"):
        pool.tensor("x", (1,1,1))
    assert pool.tensor("s", ()).to_dicts() == [{(12,): 1}]


def test_sizes_and_scalars_carry_assumptions():
    k1, k2 = sizes("k_1 k_2")
    (k,) = sizes("k")
    assert k1.is_integer and k1.is_positive and k.is_positive
    (b,) = scalars("b_1")
    assert b.is_real and b.is_positive is None
    with pytest.raises(ValueError, match="sizes: names must be distinct"):
        sizes("k k")


# ---------------------------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: PolyTensor.constant([0.5]), TypeError, "exact coefficients must be int or fractions.Fraction"),
        (
            lambda: contract(PolyTensor.constant([1]), PolyTensor.constant([1]), [0, 0], [0], [0], (1,)),
            ValueError,
            "contract: out_index, a_index and b_index must have one length, got 2, 1 and 1",
        ),
        (
            lambda: contract(PolyTensor.constant([1]), PolyTensor.constant([1]), [0], [1], [0], (1,)),
            ValueError,
            r"contract: a_index must lie in \[0, 1\), got values in \[1, 1\]",
        ),
        (
            lambda: contract(PolyTensor.constant([1]), ModPTensor.constant([1]), [0], [0], [0], (1,)),
            TypeError,
            "contract: both operands must be tensors of one backend",
        ),
        (
            lambda: PolyTensor.constant([1, 2]) + PolyTensor.constant([1, 2, 3]),
            ValueError,
            r"add: shapes \(2,\) and \(3,\) do not broadcast",
        ),
        (
            lambda: VariablePool().tensor("x", (1,)) + VariablePool().tensor("y", (1,)),
            ValueError,
            "add: the operands use different variable pools",
        ),
        (lambda: PolyTensor.constant([1, 2]).reshape(3), ValueError, r"reshape: cannot reshape shape \(2,\)"),
        (lambda: ModPTensor.constant([Fraction(1, 7)], p=7), ValueError, "not invertible modulo p=7"),
    ],
)
def test_errors_name_the_operation(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------------------------------------
# the mod-p twin and Schwartz-Zippel


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_modp_agrees_with_exact_evaluation(data):
    shape, da = data.draw(tensor_dicts())
    _, db = data.draw(tensor_dicts(shape))
    point = data.draw(st.lists(st.integers(0, DEFAULT_PRIME - 1), min_size=N_VARS, max_size=N_VARS))
    scalar = data.draw(st.fractions(-3, 3, max_denominator=5))
    fa, fb = PolyTensor.from_dicts(shape, da), PolyTensor.from_dicts(shape, db)
    ma, mb = (ModPTensor.constant(f.evaluate(dict(enumerate(point)))) for f in (fa, fb))
    flat = np.arange(fa.size)
    exact = (fa * fb - fb * scalar + fa).transpose().sum(0)
    modp = (ma * mb - mb * scalar + ma).transpose().sum(0)
    values = exact.evaluate(dict(enumerate(point)))
    expected = ModPTensor.constant(values)
    assert modp == expected
    folded = contract(fa, fb, flat[::-1], flat, flat, fa.shape)
    assert contract(ma, mb, flat[::-1], flat, flat, fa.shape) == ModPTensor.constant(
        folded.evaluate(dict(enumerate(point)))
    )


def _square_of_sum(v):
    s = v["x"] + v["y"]
    return s * s


def _sum_of_squares(v, cross=2):
    return v["x"] * v["x"] + v["y"] * v["y"] + v["x"] * v["y"] * cross


@pytest.mark.parametrize(("cross", "equal"), [(2, True), (1, False), (0, False)])
def test_schwartz_zippel_and_exact_check_agree(cross, equal):
    shapes = {"x": (3,), "y": (3,)}
    result = schwartz_zippel(_square_of_sum, lambda v: _sum_of_squares(v, cross), shapes, trials=2, seed=1)
    exact = exact_check(_square_of_sum, lambda v: _sum_of_squares(v, cross), shapes)
    oracle = exact_check(_square_of_sum, lambda v: _sum_of_squares(v, cross), shapes, backend=DictPolyTensor)
    assert result.equal is exact.equal is oracle.equal is equal
    assert result.degree == 2
    if equal:
        assert result.error_bound == Fraction(2, DEFAULT_PRIME) ** 2
        assert exact.difference is None
    else:
        # the witness really separates the sides
        x, y = (int(result.point[name][result.index]) for name in ("x", "y"))
        p = result.p
        assert (x + y) ** 2 % p == result.lhs_value != result.rhs_value
        assert exact.difference == oracle.difference
        assert exact.difference.monomial == ("x_{0}", "y_{0}")
        assert (exact.difference.lhs, exact.difference.rhs) == (2, cross)


def test_schwartz_zippel_rejects_mismatched_sides():
    with pytest.raises(ValueError, match=r"schwartz_zippel: lhs has shape \(2,\) but rhs has shape \(\)"):
        schwartz_zippel(lambda v: v["x"], lambda v: v["x"].sum(), {"x": (2,)})


@pytest.mark.parametrize("scale", [Fraction(1, 3), 2**70])
def test_first_difference_reports_fraction_and_big_coefficients(scale):
    pool = VariablePool()
    x = PolyTensor.variables(pool, "x", (2,))
    diff = (x * scale).first_difference(x)
    assert (diff.index, diff.monomial, diff.lhs, diff.rhs) == ((0,), ("x_{0}",), scale, 1)
