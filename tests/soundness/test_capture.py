"""Capture: renaming bound indices onto names that are already taken must never prove a false claim.

Unfold, Fold, Name, Substitute and GroupBy rename or introduce bound indices; a user-chosen name
that is not fresh (a free position, a size, an index of the host sum) would capture a symbol and
change the meaning of the sum.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from _support import (
    BLIND_AT_3,
    Sig,
    assert_failed,
    assert_not_proved,
    assert_refuted,
    blind,
    differ,
    general,
    sums,
    term,
    witness_signals,
)
from sympy import IndexedBase, Symbol

from convsym import reference as ref
from convsym.symbolic import opdefs as D
from convsym.symbolic.rules import Fold, GroupBy, Name, Reorder, Substitute, Unfold
from convsym.symbolic.sums import Let, SumExpr, grid, index
from convsym.symbolic.symbols import sizes

(k,) = sizes("k")
i, a, b, c = index("i a b c")
x, w, y, W, h = (IndexedBase(n) for n in ("x", "w", "y", "W", "h"))
Z = blind(k)


def _conv_py(xs, ws, kk, s, d, pos):
    return sum(ws[q] * xs[s * pos + d * q] for q in range(kk))


def test_issue_reproducer_capture_is_refuted_and_witness_rechecked_with_reference():
    # (x * w)_a = (x *_{dilation 2} w)_0: the unfolded body's index a would capture the position a
    v = general("capture-repro", lhs=D.conv1d(x, w, k, a), rhs=D.conv1d(x, w, k, 0, dilation=2),
                derivation=[Unfold("conv1d"), Fold(D.conv1d(x, w, k, 0, dilation=2), ("a",))],
                instances=grid(k=range(1, 5))).prove()

    def recheck(d):
        sig, _ = witness_signals(d["inputs"])
        kk, pos = d["sizes"]["k"], d["positions"]["a"]
        n = pos + 2 * kk + 2
        xs = np.array([[[sig.get("x", Sig())[q] for q in range(n)]]], dtype=object)
        ws = np.array([[[sig.get("w", Sig())[q] for q in range(kk)]]], dtype=object)
        lhs = ref.conv1d(xs, ws)[0, 0, pos]
        rhs = ref.conv1d(xs, ws, dilation=2)[0, 0, 0]
        return lhs, rhs

    assert_refuted(v, recheck)
    # the issue's own counterexample: k=2, a=1, x=(1,2,3), w=(1,1) gives 5 != 4
    differ(_conv_py(Sig({0: 1, 1: 2, 2: 3}), Sig({0: 1, 1: 1}), 2, 1, 1, 1),
           _conv_py(Sig({0: 1, 1: 2, 2: 3}), Sig({0: 1, 1: 1}), 2, 1, 2, 0))


def test_unfold_indices_named_like_the_free_position_fails():
    # renaming conv1d's bound index to i would read x[i + i]: (x * w)_i "=" (x *_{stride 2} w)_0
    v = general("unfold-position", lhs=Z * D.conv1d(x, w, k, i), rhs=Z * D.conv1d(x, w, k, 0, stride=2),
                derivation=[Unfold("conv1d", ("i",)), Fold(D.conv1d(x, w, k, 0, stride=2), ("i",))]).prove()
    assert_failed(v, step=1, rule="definition", match="not fresh")
    xs, ws = Sig({1: 1}), Sig({0: 1})
    differ(BLIND_AT_3 * _conv_py(xs, ws, 3, 1, 1, 1), BLIND_AT_3 * _conv_py(xs, ws, 3, 2, 1, 0))


def test_unfold_indices_named_like_a_host_index_fails():
    # sum_b y_b (x * w)_0 "=" sum_b y_b w_b x_b if the body's index were renamed to the host's b
    v = general("unfold-host-index",
                lhs=sums(term(Z * y[b] * D.conv1d(x, w, k, 0), (b, 0, k - 1))),
                rhs=sums(term(Z * y[b] * w[b] * x[b], (b, 0, k - 1))),
                derivation=[Unfold("conv1d", ("b",))]).prove()
    assert_failed(v, step=1, rule="definition", match="not fresh")
    ys, xs, ws = Sig({0: 1}), Sig({1: 1}), Sig({1: 1})
    differ(BLIND_AT_3 * sum(ys[q] for q in range(3)) * _conv_py(xs, ws, 3, 1, 1, 0),
           BLIND_AT_3 * sum(ys[q] * ws[q] * xs[q] for q in range(3)))


def test_substitute_new_index_named_like_the_free_position_fails():
    # y_i sum_a x_a "=" sum_{c=1}^{k} x_{c-1} y_c if the new index i captured the position i
    v = general("substitute-position",
                lhs=sums(term(Z * x[a] * y[i], (a, 0, k - 1))),
                rhs=sums(term(Z * x[c - 1] * y[c], (c, 1, k))),
                derivation=[Substitute("a", "i", i - 1, [("i", 1, k)])]).prove()
    assert_failed(v, step=1, rule="substitution", match="not fresh")
    xs, ys, pos = Sig({0: 1}), Sig({0: 1}), 0
    differ(BLIND_AT_3 * ys[pos] * sum(xs[q] for q in range(3)),
           BLIND_AT_3 * sum(xs[q - 1] * ys[q] for q in range(1, 4)))


def test_substitute_new_index_named_like_a_host_index_fails():
    # sum_a sum_b x_a y_b "=" sum_{b=1}^{k} x_{b-1} y_b if the new index b merged with the old b
    v = general("substitute-host-index",
                lhs=sums(term(Z * x[a] * y[b], (a, 0, k - 1), (b, 0, k - 1))),
                rhs=sums(term(Z * x[b - 1] * y[b], (b, 1, k))),
                derivation=[Substitute("a", "b", b - 1, [("b", 1, k)])]).prove()
    assert_failed(v, step=1, rule="substitution", match="not fresh|no sum over exactly")
    xs, ys = Sig({0: 1}), Sig({0: 1})
    differ(BLIND_AT_3 * sum(xs[p] * ys[q] for p in range(3) for q in range(3)),
           BLIND_AT_3 * sum(xs[q - 1] * ys[q] for q in range(1, 4)))


def test_groupby_new_index_named_like_a_host_index_fails():
    v = general("groupby-host-index",
                lhs=sums(term(Z * x[a] * y[b], (a, 0, k - 1), (b, 0, k - 1))),
                rhs=sums(term(Z * x[a] * y[0], (a, 0, 2 * k - 2))),
                derivation=[GroupBy("a", a + b, 0, 2 * k - 2, Z * x[a] * y[b], ("a", "b"))]).prove()
    assert_failed(v, step=1, rule="partition by value", match="not fresh")
    xs, ys = Sig({0: 1}), Sig({1: 1})
    differ(BLIND_AT_3 * sum(xs[p] * ys[q] for p in range(3) for q in range(3)),
           BLIND_AT_3 * sum(xs[p] * ys[0] for p in range(5)))


def test_groupby_new_index_named_like_the_free_position_fails():
    # grouping by i = a + b would turn w_i into w_{a+b}
    v = general("groupby-position",
                lhs=sums(term(Z * x[a] * y[b] * w[i], (a, 0, k - 1), (b, 0, k - 1))),
                rhs=sums(term(Z * x[a] * y[b] * w[a + b], (a, 0, k - 1), (b, 0, k - 1))),
                derivation=[GroupBy("i", a + b, 0, 2 * k - 2, Z * x[a] * y[b] * w[i], ("a", "b"))]).prove()
    assert_failed(v, step=1, rule="partition by value", match="not fresh")
    xs, ys, ws, pos = Sig({0: 1}), Sig({1: 1}), Sig({0: 1}), 0
    differ(BLIND_AT_3 * sum(xs[p] * ys[q] * ws[pos] for p in range(3) for q in range(3)),
           BLIND_AT_3 * sum(xs[p] * ys[q] * ws[p + q] for p in range(3) for q in range(3)))


# the definition h_j := sum_a w_a x_{j+a} uses the bound name a; unfolding h_a must rename it
h_def = Let(h, lambda j: sums(term(w[a] * x[j + a], (a, 0, k - 1))))


def _h_lhs(ys, ws, xs, kk):
    return sum(ys[p] * sum(ws[q] * xs[p + q] for q in range(kk)) for p in range(kk))


def _h_captured(ys, ws, xs, kk):
    return sum(ys[p] * ws[p] * xs[2 * p] for p in range(kk))


def test_let_unfolding_at_an_argument_named_like_its_bound_index_is_refuted():
    v = general("let-capture", lhs=sums(term(y[a] * h[a], (a, 0, k - 1))),
                rhs=sums(term(y[a] * w[a] * x[2 * a], (a, 0, k - 1))),
                lets=[h_def], derivation=[Unfold("h")]).prove()

    def recheck(d):
        sig, _ = witness_signals(d["inputs"])
        ys, ws, xs = (sig.get(n, Sig()) for n in ("y", "w", "x"))
        kk = d["sizes"]["k"]
        return _h_lhs(ys, ws, xs, kk), _h_captured(ys, ws, xs, kk)

    data = assert_refuted(v, recheck)
    assert data["sizes"]["k"] == 2


def test_let_unfolding_capture_blinded_fails_at_the_conclusion():
    v = general("let-capture-blinded", lhs=sums(term(Z * y[a] * h[a], (a, 0, k - 1))),
                rhs=sums(term(Z * y[a] * w[a] * x[2 * a], (a, 0, k - 1))),
                lets=[h_def], derivation=[Unfold("h")]).prove()
    assert_failed(v, step=2, rule="conclusion", match="not the claimed right side")
    ys, ws, xs = Sig({0: 1}), Sig({1: 1}), Sig({1: 1})
    differ(BLIND_AT_3 * _h_lhs(ys, ws, xs, 3), BLIND_AT_3 * _h_captured(ys, ws, xs, 3))


def test_control_let_unfolding_with_the_renamed_index_proves():
    # the same derivation ends at the capture-free sum, which is the claim: proved
    (a2,) = index("a'")
    v = general("let-capture-control", lhs=sums(term(Z * y[a] * h[a], (a, 0, k - 1))),
                rhs=sums(term(Z * y[a] * w[a2] * x[a + a2], (a, 0, k - 1), (a2, 0, k - 1))),
                lets=[h_def], derivation=[Unfold("h")]).prove()
    assert v.verdict == "proved", v.error


# Name(let, at) must use the theorem's own definition of let.base: a second definition of the same
# base (x_{j^2} instead of x_j) agrees with the real one at the instances i = 0, 1 only.
W_real = Let(W, lambda j: SumExpr.of(x[j]))
W_fake = Let(W, lambda j: SumExpr.of(x[j * j]))


def test_name_with_a_definition_that_is_not_the_theorems_fails():
    v = general("name-foreign-let", lhs=x[i * i], rhs=W[i], lets=[W_real], derivation=[Name(W_fake, (i,))]).prove()
    assert_not_proved(v)


def test_name_with_the_second_of_two_definitions_of_one_base_fails():
    # two definitions of one signal are refused outright: which one would the instances use?
    with pytest.raises(ValueError, match=r"two lets define the same signal \['W'\]"):
        general("name-second-let", lhs=x[i * i], rhs=W[i], lets=[W_real, W_fake], derivation=[Name(W_fake, (i,))])
    assert 2 * 2 != 2  # x_4 vs x_2 at i = 2


def test_name_counterexample_at_position_2():
    xs, pos = Sig({4: 1}), 2
    differ(xs[pos * pos], xs[pos])  # W_2 = x_2 by the theorem's definition


def test_fold_over_an_index_the_application_mentions_fails():
    # folding sum_a w_a x_{a+a} into (x * w)_a would bind the position a of the application
    v = general("fold-capture", lhs=sums(term(Z * w[a] * x[a + a], (a, 0, k - 1))), rhs=Z * D.conv1d(x, w, k, 0),
                derivation=[Fold(D.conv1d(x, w, k, a), ("a",))]).prove()
    assert_failed(v, step=1, rule="fold", match="capture")
    ws, xs = Sig({1: 1}), Sig({2: 1})
    differ(BLIND_AT_3 * sum(ws[q] * xs[2 * q] for q in range(3)), BLIND_AT_3 * _conv_py(xs, ws, 3, 1, 1, 0))


# The conclusion compares sums up to the names of their bound indices by renaming them _0, _1, ...;
# a free position that is itself called _0 is then confused with the bound index.
p0 = Symbol("_0", integer=True)


def test_the_conclusion_does_not_confuse_a_bound_index_with_a_free_symbol():
    v = general("alpha-collision", lhs=sums(term(Z * x[a] * y[p0], (a, 0, k - 1))),
                rhs=sums(term(Z * x[p0] * y[a], (a, 0, k - 1))),
                derivation=[Reorder([("a", 0, k - 1)])]).prove()
    xs, ys, pos = Sig({1: 1}), Sig({0: 1}), 0
    differ(BLIND_AT_3 * sum(xs[q] * ys[pos] for q in range(3)), BLIND_AT_3 * sum(xs[pos] * ys[q] for q in range(3)))
    assert_not_proved(v)


def test_the_alpha_collision_unblinded_is_refuted():
    v = general("alpha-collision-unblinded", lhs=sums(term(x[a] * y[p0], (a, 0, k - 1))),
                rhs=sums(term(x[p0] * y[a], (a, 0, k - 1))), derivation=[Reorder([("a", 0, k - 1)])]).prove()

    def recheck(d):
        sig, _ = witness_signals(d["inputs"])
        xs, ys, kk, pos = sig.get("x", Sig()), sig.get("y", Sig()), d["sizes"]["k"], d["positions"]["_0"]
        return sum(xs[q] * ys[pos] for q in range(kk)), sum(xs[pos] * ys[q] for q in range(kk))

    assert_refuted(v, recheck)


def test_a_body_built_once_serves_each_instantiation_capture_free():
    # instantiate builds a body at placeholders once per (body, signal pattern); each use still
    # renames its bound indices away from that use's arguments
    from convsym.symbolic import sums as S

    x = sympy.IndexedBase("x")
    i, j, n = (sympy.Symbol(c, integer=True) for c in "ijn")
    calls = []

    def window(sig, at, length):
        calls.append(1)
        a = sympy.Symbol("a", integer=True)
        return S.SumExpr((S.Term(sig[at + a], (S.Range(a, (0,), (length - 1,)),)),))

    first = S.instantiate(window, [x, i, n])
    captured = S.instantiate(window, [x, sympy.Symbol("a", integer=True) + j, n])
    assert len(calls) == 1
    (t1,), (t2,) = first.terms, captured.terms
    assert str(t1.ranges[0].index) == "a"
    # the argument mentions a, so the bound index is renamed: a' ranges, a stays free
    assert str(t2.ranges[0].index) == "a'"
    assert t2.summand == x[sympy.Symbol("a", integer=True) + j + t2.ranges[0].index]
