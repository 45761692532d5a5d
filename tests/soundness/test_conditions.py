"""Conditions: a ``where`` condition (or the range a collapsed index came from) must never be
dropped on the way to the claimed right side."""

from __future__ import annotations

import sympy
from _support import BLIND_AT_3, Sig, assert_failed, assert_refuted, blind, differ, general, sums, term, witness_signals
from sympy import Eq, IndexedBase, Ne

from convsym.symbolic import opdefs as D
from convsym.symbolic.rules import Collapse, Fold, GroupBy, Reorder
from convsym.symbolic.sums import grid, index
from convsym.symbolic.symbols import sizes

(k,) = sizes("k")
i, a, b, t = index("i a b t")
x, w, y = (IndexedBase(n) for n in ("x", "w", "y"))
Z = blind(k)


def test_issue_reproducer_where_dropped_is_refuted():
    # k * #{a in [0, k): a = 2} = k: false for k = 1, 2 (the left side is 0)
    v = general("where-dropped-repro", lhs=sums(term(k, (a, 0, k - 1), where=(Eq(a, 2),))), rhs=k,
                derivation=[Collapse("a", 2)], instances=grid(k=range(1, 6))).prove()

    def recheck(d):
        kk = d["sizes"]["k"]
        return sum(kk for q in range(kk) if q == 2), kk

    data = assert_refuted(v, recheck)
    assert data["sizes"]["k"] in (1, 2)


def test_collapse_keeps_the_condition_of_the_eliminated_range():
    # sum_{a=k}^{min(k, 2)} x_a = x_k holds for k = 1, 2 (the boundary instances) and fails for k = 3:
    # collapsing a = k must leave the condition k <= 2, so the conclusion x_k is not reached
    v = general("collapse-keeps-condition", lhs=sums(term(x[a], (a, k, (k, 2)))), rhs=x[k],
                derivation=[Collapse("a", k)]).prove()
    assert_failed(v, step=2, rule="conclusion", match=r"k <= 2")
    xs = Sig({3: 1})
    differ(sum(xs[q] for q in range(3, min(3, 2) + 1)), xs[3])


def test_collapse_when_the_domain_does_not_force_the_value_fails():
    v = general("collapse-not-forced", lhs=sums(term(Z * x[a], (a, 0, k - 1))), rhs=Z * x[0],
                derivation=[Collapse("a", 0)]).prove()
    assert_failed(v, step=1, rule="collapse", match="does not force")
    xs = Sig({1: 1})
    differ(BLIND_AT_3 * sum(xs[q] for q in range(3)), BLIND_AT_3 * xs[0])


def test_collapse_on_an_empty_range_fails():
    # sum_{a=k}^{k-1} x_a is empty; the empty domain "forces" a = k vacuously, but a <= k - 1 is then false
    v = general("collapse-empty", lhs=sums(term(Z * x[a], (a, k, k - 1))), rhs=Z * x[k],
                derivation=[Collapse("a", k)]).prove()
    assert_failed(v, step=1, rule="collapse", match="is false")
    xs = Sig({3: 1})
    differ(BLIND_AT_3 * sum(xs[q] for q in range(3, 3)), BLIND_AT_3 * xs[3])


def test_fold_over_a_conditioned_sum_fails():
    # sum_{a != 1} w_a x_{i+a} is not (x * w)_i
    v = general("fold-condition", lhs=sums(term(Z * w[a] * x[i + a], (a, 0, k - 1), where=(Ne(a, 1),))),
                rhs=Z * D.conv1d(x, w, k, i), derivation=[Fold(D.conv1d(x, w, k, i), ("a",))]).prove()
    assert_failed(v, step=1, rule="fold", match="is not that of conv1d")
    ws, xs, pos = Sig({1: 1}), Sig({1: 1}), 0
    differ(BLIND_AT_3 * sum(ws[q] * xs[pos + q] for q in range(3) if q != 1),
           BLIND_AT_3 * sum(ws[q] * xs[pos + q] for q in range(3)))


def test_reorder_keeps_a_diagonal_condition():
    # sum_{a, b: a = b} x_a y_b is not the full double sum; exchanging the sums keeps a = b
    v = general("reorder-keeps-where",
                lhs=sums(term(Z * x[a] * y[b], (a, 0, k - 1), (b, 0, k - 1), where=(Eq(a, b),))),
                rhs=sums(term(Z * x[a] * y[b], (b, 0, k - 1), (a, 0, k - 1))),
                derivation=[Reorder([("b", 0, k - 1), ("a", 0, k - 1)])]).prove()
    assert_failed(v, step=2, rule="conclusion", match="not the claimed right side")
    xs, ys = Sig({0: 1}), Sig({1: 1})
    differ(BLIND_AT_3 * sum(xs[p] * ys[q] for p in range(3) for q in range(3) if p == q),
           BLIND_AT_3 * sum(xs[p] * ys[q] for p in range(3) for q in range(3)))


def test_groupby_with_a_summand_that_disagrees_on_the_condition_fails():
    # grouping by t = a + b allows writing x_{t-b} for x_a, not x_t
    v = general("groupby-summand",
                lhs=sums(term(Z * x[a] * y[b], (a, 0, k - 1), (b, 0, k - 1))),
                rhs=sums(term(Z * x[t] * y[b], (t, 0, 2 * k - 2), (a, 0, k - 1), (b, 0, k - 1),
                              where=(Eq(a + b, t),))),
                derivation=[GroupBy("t", a + b, 0, 2 * k - 2, Z * x[t] * y[b], ("a", "b"))]).prove()
    assert_failed(v, step=1, rule="partition by value", match="differs")
    xs, ys = Sig({0: 1}), Sig({1: 1})
    differ(BLIND_AT_3 * sum(xs[p] * ys[q] for p in range(3) for q in range(3)),
           BLIND_AT_3 * sum(xs[p + q] * ys[q] for p in range(3) for q in range(3)))


def test_where_condition_unblinded_is_refuted_with_witness():
    # sum_{a, b: a = b} x_a y_b = (sum_a x_a)(sum_b y_b): false from k = 2 on
    v = general("where-product",
                lhs=sums(term(x[a] * y[b], (a, 0, k - 1), (b, 0, k - 1), where=(Eq(a, b),))),
                rhs=sums(term(x[a] * y[b], (a, 0, k - 1), (b, 0, k - 1))),
                derivation=[Reorder([("b", 0, k - 1), ("a", 0, k - 1)])]).prove()

    def recheck(d):
        sig, _ = witness_signals(d["inputs"])
        xs, ys, kk = sig.get("x", Sig()), sig.get("y", Sig()), d["sizes"]["k"]
        return (sum(xs[p] * ys[p] for p in range(kk)),
                sum(xs[p] * ys[q] for p in range(kk) for q in range(kk)))

    assert assert_refuted(v, recheck)["sizes"]["k"] == 2


def test_collapse_forced_through_another_index_is_proved_and_keeps_the_chain():
    # a = b and b = 2 force a = 2 only together: the conditions on a alone do not, so the kernel
    # must fall back to the whole domain (and keep b = 2 as a condition of the remaining sum)
    v = general("collapse-chain", lhs=sums(term(x[a] * y[b], (a, 0, k - 1), (b, 0, k - 1), where=(Eq(a, b), Eq(b, 2)))),
                rhs=sums(term(x[2] * y[b], (b, 0, k - 1), where=(sympy.Le(2, k - 1), Eq(2, b), Eq(b, 2)))),
                derivation=[Collapse("a", 2)]).prove()
    assert v.verdict == "proved", v.error
    step = v.steps[0]
    assert "a = b" in step.side_conditions[0] and "b = 2" in step.side_conditions[0]
