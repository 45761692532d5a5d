"""Restate: the conditions of a sum may be replaced only by conditions that select the same points,
for all sizes under the theorem's hypotheses.  Each false restatement below is blinded (zero at
the boundary instances), so the rule itself must reject it; its counterexample is re-evaluated
here with plain loops.  Two true restatements show the rule is not vacuous."""

from __future__ import annotations

import sympy
from _support import BLIND_AT_3, Sig, assert_failed, blind, differ, general, sums, term
from sympy import Eq, Ge, IndexedBase

from convsym.symbolic import opdefs_transposed as T
from convsym.symbolic.rules import Collapse, Context, Fold, GroupBy, Restate, Unfold
from convsym.symbolic.sums import App, Let, SumExpr, index
from convsym.symbolic.symbols import sizes

(k,) = sizes("k")
i, a, b, p, q = index("i a b p q")
x, y = (IndexedBase(n) for n in ("x", "y"))
Z = blind(k)


def test_dropping_a_condition_the_ranges_do_not_imply_fails():
    # sum_{a<k, a >= 1} x_a is not sum_{a<k} x_a
    v = general("restate-drop", lhs=sums(term(Z * x[a], (a, 0, k - 1), where=(Ge(a, 1),))),
                rhs=sums(term(Z * x[a], (a, 0, k - 1))),
                derivation=[Restate(("a",), [])]).prove()
    assert_failed(v, step=1, rule="equivalent conditions", match="do not select the same points")
    xs = Sig({0: 1})
    differ(BLIND_AT_3 * sum(xs[r] for r in range(3) if r >= 1), BLIND_AT_3 * sum(xs[r] for r in range(3)))


def test_rewriting_an_equation_with_a_wrong_coefficient_fails():
    # [2a + b = i] is not [a + b = i]
    v = general("restate-coefficient",
                lhs=sums(term(Z * x[a] * y[b], (a, 0, k - 1), (b, 0, k - 1), where=(Eq(2 * a + b, i),))),
                rhs=sums(term(Z * x[a] * y[b], (a, 0, k - 1), (b, 0, k - 1), where=(Eq(a + b, i),))),
                derivation=[Restate(("a", "b"), [Eq(a + b, i)])]).prove()
    assert_failed(v, step=1, rule="equivalent conditions", match="do not select the same points")
    xs, ys = Sig({1: 1}), Sig({0: 1})
    differ(sum(xs[r] * ys[s] for r in range(3) for s in range(3) if 2 * r + s == 1),
           sum(xs[r] * ys[s] for r in range(3) for s in range(3) if r + s == 1))


def test_a_restatement_valid_only_under_a_hypothesis_not_given_fails():
    # [a + p >= 0] holds on 0 <= a < k for p >= 0 only; without that hypothesis p = -1 separates
    claim = dict(lhs=sums(term(Z * x[a], (a, 0, k - 1), where=(Ge(a + p, 0),))),
                 rhs=sums(term(Z * x[a], (a, 0, k - 1))),
                 derivation=[Restate(("a",), [])])
    v = general("restate-hypothesis", **claim).prove()
    assert_failed(v, step=1, rule="equivalent conditions", match="do not select the same points")
    xs = Sig({0: 1})
    differ(sum(xs[r] for r in range(3) if r - 1 >= 0), sum(xs[r] for r in range(3)))
    # with the hypothesis the same restatement is proved
    ok = general("restate-hypothesis-given", size_hypotheses=[Ge(p, 0)], **claim).prove()
    assert ok.verdict == "proved" and ok.strength == "general", ok.error


def test_a_condition_on_a_symbol_the_sum_does_not_have_fails():
    v = general("restate-stray", lhs=sums(term(Z * x[a], (a, 0, k - 1), where=(Ge(a, 1),))),
                rhs=sums(term(Z * x[a], (a, 0, k - 1), where=(Ge(a, q),))),
                derivation=[Restate(("a",), [Ge(a, q)])]).prove()
    assert_failed(v, step=1, rule="equivalent conditions", match="mentions q, which the sum does not have")


def test_a_condition_that_is_not_a_relation_fails():
    v = general("restate-not-relation", lhs=sums(term(Z * x[a], (a, 0, k - 1), where=(Ge(a, 1),))),
                rhs=sums(term(Z * x[a], (a, 0, k - 1))),
                derivation=[Restate(("a",), [a + 1])]).prove()
    assert_failed(v, step=1, rule="equivalent conditions", match="is not an equation or inequality")


def test_restating_a_sum_that_does_not_exist_fails():
    v = general("restate-missing", lhs=sums(term(Z * x[a], (a, 0, k - 1))), rhs=sums(term(Z * x[a], (a, 0, k - 1))),
                derivation=[Restate(("a", "b"), [])]).prove()
    assert_failed(v, step=1, rule="equivalent conditions", match=r"no sum over exactly the indices \['a', 'b'\]")


def test_dropping_an_implied_condition_is_proved():
    # on 0 <= a < k, a <= k + 5 always holds
    v = general("restate-implied", lhs=sums(term(x[a], (a, 0, k - 1), where=(sympy.Le(a, k + 5),))),
                rhs=sums(term(x[a], (a, 0, k - 1))), derivation=[Restate(("a",), [])]).prove()
    assert v.verdict == "proved" and v.strength == "general", v.error


def test_unfold_finds_an_application_whose_arguments_expansion_rewrites():
    # the length (n - 1) s + k is expanded with the summand; the application must still unfold
    # (it once stayed folded while the step was accepted as "definition")
    n, kk, s, d = sizes("n k s d")
    w, h = IndexedBase("w"), IndexedBase("h")
    h_def = Let(h, lambda tt: SumExpr.of(T.conv_transpose1d(x, w, n, kk, s, 0, d, tt)))
    app = T.conv_transpose1d(h, y, (n - 1) * s + d * (kk - 1) + 1, 1, 1, 0, 1, i)
    out = Unfold("conv_transpose1d", ("j", "b")).apply(SumExpr.of(app), Context(lets=(h_def,)))
    (unfolded,) = out.expr.terms
    assert [str(r.index) for r in unfolded.ranges] == ["j", "b"]
    assert not unfolded.summand.atoms(App), unfolded.summand
    # a false merge: the second layer's stride s2 dropped from the grouped value is rejected by z3
    (s2,) = sizes("s_2")
    j, t = index("j t")
    w2 = IndexedBase("w_2")
    v = general("merge-wrong-group",
                lhs=T.conv_transpose1d(h, w2, (n - 1) * s + d * (kk - 1) + 1, 2, s2, 0, 1, i),
                rhs=T.conv_transpose1d(h, w2, (n - 1) * s + d * (kk - 1) + 1, 2, s2, 0, 1, i),
                lets=[h_def],
                derivation=[Unfold("conv_transpose1d", ("m", "b")), Unfold("h"),
                            Unfold("conv_transpose1d", ("j", "a")), Collapse("m", s * j + d * a),
                            GroupBy("t", s * j + b, 0, (n - 1) * s + 1, w[a] * w2[b] * x[j], ("b", "j", "a")),
                            Restate(("t", "b", "j", "a"), [Eq(s2 * t + s2 * d * a, i), Eq(s * j + b, t)]),
                            Fold(T.conv_transpose1d(x, w, n, kk, s, 0, d, t), ("j", "a"))]).prove()
    assert v.verdict != "proved"
    assert v.failed_rule == "equivalent conditions", (v.failed_rule, v.error)
