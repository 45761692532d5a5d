"""Symbols: two SymPy symbols with one name, summation indices declared positive, two operations
with one name, and instances that ignore a symbol's declared assumptions."""

from __future__ import annotations

from _support import BLIND_AT_3, Sig, assert_failed, blind, differ, general, sums, term
from sympy import IndexedBase, Symbol

from convsym.symbolic import opdefs as D
from convsym.symbolic.rules import Collapse, Reorder
from convsym.symbolic.sums import OpDef, Range, SumExpr, Term, index
from convsym.symbolic.symbols import sizes

(k,) = sizes("k")
i, a, b, c = index("i a b c")
x, w, y = (IndexedBase(n) for n in ("x", "w", "y"))
Z = blind(k)


def test_two_symbols_named_k_are_not_one_size():
    # k (positive) and k' (any integer), both printed k: sum_{a<k} x_a = sum_{a<k'} x_a is false at k=1, k'=2
    k_int = Symbol("k", integer=True)
    v = general("same-name-sizes", lhs=sums(term(x[a], (a, 0, k - 1))), rhs=sums(term(x[a], (a, 0, k_int - 1))),
                derivation=[Reorder([("a", 0, k - 1)])]).prove()
    assert_failed(v, match="two different symbols are named k")
    xs = Sig({1: 1})
    differ(sum(xs[q] for q in range(1)), sum(xs[q] for q in range(2)))


def test_a_position_and_a_size_with_one_name_are_not_one_symbol():
    i_size = Symbol("i", integer=True, positive=True)
    v = general("same-name-position", lhs=Z * x[i], rhs=Z * x[i_size], derivation=[Reorder([("a", 0, 0)])]).prove()
    assert_failed(v, match=r"two different symbols are named (i|x\[i\]) ")
    xs = Sig({0: 1})
    differ(xs[0], xs[1])  # i = 0, the size i = 1


def test_two_signals_with_one_name_are_not_one_signal():
    x_real = IndexedBase("x", real=True)
    v = general("same-name-signals", lhs=sums(term(Z * x[a], (a, 0, k - 1))),
                rhs=sums(term(Z * x_real[a], (a, 0, k - 1))), derivation=[Reorder([("a", 0, k - 1)])]).prove()
    assert_failed(v, match="two different symbols are named x")
    differ(BLIND_AT_3 * sum(Sig({0: 1})[q] for q in range(3)), BLIND_AT_3 * sum(Sig()[q] for q in range(3)))


def test_a_bound_index_named_like_a_size_fails():
    # sum_{k'=0}^{k-1} x_{k'} written with a bound index also called k
    k_bound = Symbol("k", integer=True)
    v = general("bound-named-like-size", lhs=SumExpr.of(Term(x[k_bound], (Range.of(k_bound, 0, k - 1),))),
                rhs=k * x[0], derivation=[Reorder([("k", 0, k - 1)])]).prove()
    assert_failed(v, match="named k|name of a free symbol")
    xs = Sig({1: 1})
    differ(sum(xs[q] for q in range(2)), 2 * xs[0])


a_pos = Symbol("a", integer=True, positive=True)


def test_a_summation_index_declared_positive_gets_no_size_assumption_in_reorder():
    # if z3 assumed a >= 1, sum_{a=0}^{k-1} and sum_{a=1}^{k-1} would be "the same set"
    v = general("positive-index-reorder", lhs=sums(term(Z * x[a_pos], (a_pos, 0, k - 1))),
                rhs=sums(term(Z * x[a_pos], (a_pos, 1, k - 1))), derivation=[Reorder([("a", 1, k - 1)])]).prove()
    assert_failed(v, step=1, rule="exchange of sums", match="not the same set of points")
    xs = Sig({0: 1})
    differ(BLIND_AT_3 * sum(xs[q] for q in range(3)), BLIND_AT_3 * sum(xs[q] for q in range(1, 3)))


def test_a_summation_index_declared_positive_gets_no_size_assumption_in_collapse():
    # if z3 assumed a >= 1, the domain 0 <= a <= 1 would force a = 1
    v = general("positive-index-collapse", lhs=sums(term(Z * x[a_pos], (a_pos, 0, 1))), rhs=Z * x[1],
                derivation=[Collapse("a", 1)]).prove()
    assert_failed(v, step=1, rule="collapse", match="does not force")
    xs = Sig({0: 1})
    differ(BLIND_AT_3 * (xs[0] + xs[1]), BLIND_AT_3 * xs[1])


# A second operation called "total" whose body stops at min(k - 1, 1): it agrees with total for
# k = 1, 2 (the boundary instances) and not for k = 3.
def _short_total(v, kk):
    return SumExpr.of(Term(v[b], (Range.of(b, 0, (kk - 1, 1)),)))


short_total = OpDef("total", _short_total, lambda v, kk: r"\Sigma' " + v)


def test_an_operation_named_like_another_is_not_that_operation():
    v = general("same-name-op", lhs=sums(term(short_total(w, k) * y[c], (c, 0, k - 1))),
                rhs=sums(term(D.total(w, k) * y[c], (c, 0, k - 1))),
                derivation=[Reorder([("c", 0, k - 1)])]).prove()
    assert v.verdict != "proved", "a false claim was proved"


def test_same_name_operation_counterexample_at_k_3():
    ws, ys = Sig({2: 1}), Sig({0: 1})
    differ(sum(ws[q] for q in range(min(2, 1) + 1)) * ys[0], sum(ws[q] for q in range(3)) * ys[0])


# True claims the kernel must not refute: the claim check evaluates every integer position at 0 and 1
# and every size at 1 and 2, whatever assumptions the symbol carries.
i_neg = Symbol("i", integer=True, negative=True)
k_even = Symbol("k", integer=True, positive=True, even=True)


def test_a_true_claim_about_a_negative_position_is_not_refuted():
    v = general("negative-position", lhs=sums(term(1, (a, i_neg, -1))), rhs=-i_neg,
                derivation=[Reorder([("a", i_neg, -1)])]).prove()
    assert v.verdict != "refuted", v.witness and v.witness.data


def test_a_true_claim_about_an_even_size_is_not_refuted():
    v = general("even-size", lhs=sums(term((-1) ** a, (a, 0, k_even - 1))), rhs=0,
                derivation=[Reorder([("a", 0, k_even - 1)])]).prove()
    assert v.verdict != "refuted", v.witness and v.witness.data


def test_the_two_true_claims_hold_on_their_domains():
    for neg in range(-5, 0):
        assert len(range(neg, 0)) == -neg
    for even in range(2, 12, 2):
        assert sum((-1) ** q for q in range(even)) == 0
