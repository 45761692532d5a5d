"""Nested sums: a parenthesised inner sum must follow a substitution of the outer index, and
distributing a factor over it must not capture its indices."""

from __future__ import annotations

from _support import (
    BLIND_AT_3,
    Sig,
    assert_failed,
    assert_refuted,
    blind,
    differ,
    general,
    sums,
    term,
    witness_signals,
)
from sympy import IndexedBase

from convsym.symbolic.rules import Distribute, Reorder, Substitute, Unfold
from convsym.symbolic.sums import Let, Range, SumExpr, Term, index
from convsym.symbolic.symbols import sizes

(k,) = sizes("k")
i, a, b, t = index("i a b t")
x, y, w, g = (IndexedBase(n) for n in ("x", "y", "w", "g"))
Z = blind(k)


def _nested(inner_shift):
    """sum_{t=1}^{k} Z x_{t-1} (sum_{b<k} y_{t + inner_shift + b})."""
    return sums(term(Z * x[t - 1], (t, 1, k), inner=sums(term(y[t + inner_shift + b], (b, 0, k - 1)))))


NESTED_LHS = sums(term(Z * x[a], (a, 0, k - 1), inner=sums(term(y[a + b], (b, 0, k - 1)))))


def _nested_py(xs, ys, kk, shift):
    return sum(xs[p] * sum(ys[p + shift + q] for q in range(kk)) for p in range(kk))


def test_substitute_must_rewrite_the_inner_sum():
    # a = t - 1 turns y_{a+b} into y_{t-1+b}; the claim keeps y_{t+b} (the inner sum not rewritten, off by one)
    v = general("substitute-nested", lhs=NESTED_LHS, rhs=_nested(0),
                derivation=[Substitute("a", "t", t - 1, [("t", 1, k)])]).prove()
    assert_failed(v, step=2, rule="conclusion", match="not the claimed right side")
    xs, ys = Sig({0: 1}), Sig({0: 1})
    differ(BLIND_AT_3 * _nested_py(xs, ys, 3, 0), BLIND_AT_3 * _nested_py(xs, ys, 3, 1))


def test_control_substitute_rewrites_the_inner_sum():
    v = general("substitute-nested-control", lhs=NESTED_LHS, rhs=_nested(-1),
                derivation=[Substitute("a", "t", t - 1, [("t", 1, k)])]).prove()
    assert v.verdict == "proved", v.error


def test_an_inner_sum_rebinding_the_outer_index_fails():
    # "sum_a x_a (sum_a y_a)": a capturing reading gives sum_a x_a y_a, the product is (sum x)(sum y)
    shadow = SumExpr.of(Term(x[a], (Range.of(a, 0, k - 1),), (), sums(term(y[a], (a, 0, k - 1)))))
    v = general("inner-rebinds", lhs=shadow, rhs=sums(term(x[a] * y[a], (a, 0, k - 1))),
                derivation=[Distribute()]).prove()
    assert_failed(v, match="bound twice")
    xs, ys = Sig({0: 1}), Sig({1: 1})
    differ(sum(xs[p] for p in range(2)) * sum(ys[q] for q in range(2)), sum(xs[p] * ys[p] for p in range(2)))


# g_j := x_j + sum_{a<k} w_a (two terms: unfolding it leaves a parenthesised sum)
g_def = Let(g, lambda j: sums(x[j], term(w[a], (a, 0, k - 1))))


def _g_host_py(ys, xs, ws, kk):
    return sum(ys[p] * (xs[0] + sum(ws[q] for q in range(kk))) for p in range(kk))


def _g_captured_py(ys, xs, ws, kk):
    return sum(ys[p] * xs[0] + ys[p] * ws[p] for p in range(kk))


def test_distribute_does_not_capture_the_definitions_index():
    # sum_a y_a g_0 = sum_a y_a x_0 + sum_a sum_{a'} y_a w_{a'}, not sum_a (y_a x_0 + y_a w_a)
    v = general("distribute-capture", lhs=sums(term(Z * y[a] * g[0], (a, 0, k - 1))),
                rhs=sums(term(Z * y[a] * x[0], (a, 0, k - 1)), term(Z * y[a] * w[a], (a, 0, k - 1))),
                lets=[g_def], derivation=[Unfold("g"), Distribute()]).prove()
    assert_failed(v, step=3, rule="conclusion", match="not the claimed right side")
    ys, xs, ws = Sig({0: 1}), Sig(), Sig({1: 1})
    differ(BLIND_AT_3 * _g_host_py(ys, xs, ws, 3), BLIND_AT_3 * _g_captured_py(ys, xs, ws, 3))


def test_distribute_capture_unblinded_is_refuted():
    v = general("distribute-capture-unblinded", lhs=sums(term(y[a] * g[0], (a, 0, k - 1))),
                rhs=sums(term(y[a] * x[0], (a, 0, k - 1)), term(y[a] * w[a], (a, 0, k - 1))),
                lets=[g_def], derivation=[Unfold("g"), Distribute()]).prove()

    def recheck(d):
        sig, _ = witness_signals(d["inputs"])
        ys, xs, ws = (sig.get(nm, Sig()) for nm in ("y", "x", "w"))
        kk = d["sizes"]["k"]
        return _g_host_py(ys, xs, ws, kk), _g_captured_py(ys, xs, ws, kk)

    assert assert_refuted(v, recheck)["sizes"]["k"] == 2


def test_reorder_of_a_parenthesised_sum_keeps_the_inner_ranges():
    # exchanging nothing but claiming the inner sum runs one step further
    rhs = sums(term(Z * x[a], (a, 0, k - 1), inner=sums(term(y[a + b], (b, 0, k)))))
    v = general("nested-inner-range", lhs=NESTED_LHS, rhs=rhs, derivation=[Reorder([("a", 0, k - 1)])]).prove()
    assert_failed(v, step=2, rule="conclusion", match="not the claimed right side")
    xs, ys = Sig({0: 1}), Sig({3: 1})
    differ(BLIND_AT_3 * sum(xs[p] * sum(ys[p + q] for q in range(3)) for p in range(3)),
           BLIND_AT_3 * sum(xs[p] * sum(ys[p + q] for q in range(4)) for p in range(3)))
