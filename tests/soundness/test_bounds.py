"""Bounds: ranges off by one, empty ranges, the k = 1 boundary and ill-ordered ranges."""

from __future__ import annotations

from _support import BLIND_AT_3, Sig, assert_failed, assert_refuted, blind, differ, general, sums, term, witness_signals
from sympy import IndexedBase

from convsym.symbolic import opdefs as D
from convsym.symbolic.rules import Fold, GroupBy, Reorder, Substitute, Unfold
from convsym.symbolic.sums import Range, SumExpr, Term, index
from convsym.symbolic.symbols import sizes

(k,) = sizes("k")
i, a, b, t = index("i a b t")
x, w, y = (IndexedBase(n) for n in ("x", "w", "y"))
Z = blind(k)


def _double(xs, ys, kk, a_range, b_range_of):
    return sum(xs[p] * ys[q] for p in a_range(kk) for q in b_range_of(p, kk))


# ---------------------------------------------------------------------------------------------
# off by one in a rule's ranges (blinded: the rule's own check must reject it)


def test_reorder_with_an_upper_bound_off_by_one_fails():
    v = general("reorder-upper",
                lhs=sums(term(Z * x[a] * y[b], (a, 0, k - 1), (b, 0, k - 1))),
                rhs=sums(term(Z * x[a] * y[b], (b, 0, k - 1), (a, 0, k))),
                derivation=[Reorder([("b", 0, k - 1), ("a", 0, k)])]).prove()
    assert_failed(v, step=1, rule="exchange of sums", match="not the same set of points")
    xs, ys = Sig({3: 1}), Sig({0: 1})
    differ(BLIND_AT_3 * sum(xs[p] * ys[q] for p in range(3) for q in range(3)),
           BLIND_AT_3 * sum(xs[p] * ys[q] for q in range(3) for p in range(4)))


def test_reorder_of_a_triangle_with_the_inner_lower_bound_off_by_one_fails():
    # sum_{a<k} sum_{b<=a} = sum_{b<k} sum_{a=b}^{k-1}, not sum_{a=b+1}^{k-1}
    v = general("reorder-triangle",
                lhs=sums(term(Z * x[a] * y[b], (a, 0, k - 1), (b, 0, a))),
                rhs=sums(term(Z * x[a] * y[b], (b, 0, k - 1), (a, b + 1, k - 1))),
                derivation=[Reorder([("b", 0, k - 1), ("a", b + 1, k - 1)])]).prove()
    assert_failed(v, step=1, rule="exchange of sums", match="not the same set of points")
    xs, ys = Sig({0: 1}), Sig({0: 1})
    differ(BLIND_AT_3 * sum(xs[p] * ys[q] for p in range(3) for q in range(p + 1)),
           BLIND_AT_3 * sum(xs[p] * ys[q] for q in range(3) for p in range(q + 1, 3)))


def test_substitute_with_an_upper_bound_off_by_one_fails():
    v = general("substitute-upper", lhs=sums(term(Z * x[a], (a, 0, k - 1))),
                rhs=sums(term(Z * x[t - 1], (t, 1, k + 1))),
                derivation=[Substitute("a", "t", t - 1, [("t", 1, k + 1)])]).prove()
    assert_failed(v, step=1, rule="substitution", match="not the image of the old domain")
    xs = Sig({3: 1})
    differ(BLIND_AT_3 * sum(xs[q] for q in range(3)), BLIND_AT_3 * sum(xs[q - 1] for q in range(1, 5)))


def test_substitute_with_a_lower_bound_off_by_one_fails():
    v = general("substitute-lower", lhs=sums(term(Z * x[a], (a, 0, k - 1))),
                rhs=sums(term(Z * x[t - 1], (t, 0, k))),
                derivation=[Substitute("a", "t", t - 1, [("t", 0, k)])]).prove()
    assert_failed(v, step=1, rule="substitution", match="not the image of the old domain")
    xs = Sig({-1: 1})
    differ(BLIND_AT_3 * sum(xs[q] for q in range(3)), BLIND_AT_3 * sum(xs[q - 1] for q in range(0, 4)))


def test_substitute_that_is_not_a_bijection_fails():
    # a = 2 t is not a change of index (it skips the odd a)
    v = general("substitute-not-bijective", lhs=sums(term(Z * x[a], (a, 0, k - 1))),
                rhs=sums(term(Z * x[2 * t], (t, 0, k - 1))),
                derivation=[Substitute("a", "t", 2 * t, [("t", 0, k - 1)])]).prove()
    assert_failed(v, step=1, rule="substitution", match="not a bijection")
    xs = Sig({1: 1})
    differ(BLIND_AT_3 * sum(xs[q] for q in range(3)), BLIND_AT_3 * sum(xs[2 * q] for q in range(3)))


def test_fold_of_a_sum_one_term_too_long_fails():
    v = general("fold-upper", lhs=sums(term(Z * w[a] * x[i + a], (a, 0, k))),
                rhs=Z * D.conv1d(x, w, k, i), derivation=[Fold(D.conv1d(x, w, k, i), ("a",))]).prove()
    assert_failed(v, step=1, rule="fold", match="is not that of conv1d")
    ws, xs, pos = Sig({3: 1}), Sig({3: 1}), 0
    differ(BLIND_AT_3 * sum(ws[q] * xs[pos + q] for q in range(4)),
           BLIND_AT_3 * sum(ws[q] * xs[pos + q] for q in range(3)))


def test_groupby_with_a_range_one_too_short_fails():
    v = general("groupby-range",
                lhs=sums(term(Z * x[a] * y[b], (a, 0, k - 1), (b, 0, k - 1))),
                rhs=sums(term(Z * x[a] * y[b], (t, 0, 2 * k - 3), (a, 0, k - 1), (b, 0, k - 1))),
                derivation=[GroupBy("t", a + b, 0, 2 * k - 3, Z * x[a] * y[b], ("a", "b"))]).prove()
    assert_failed(v, step=1, rule="partition by value", match=r"leaves \[0, 2\*k - 3\]")
    xs, ys = Sig({2: 1}), Sig({2: 1})
    differ(BLIND_AT_3 * sum(xs[p] * ys[q] for p in range(3) for q in range(3)),
           BLIND_AT_3 * sum(xs[p] * ys[q] for p in range(3) for q in range(3) if p + q <= 3))


# ---------------------------------------------------------------------------------------------
# the k = 1 boundary and empty ranges (the kernel's own boundary instances find them)


def test_peeling_two_terms_off_a_sum_is_refuted_at_k_1():
    # sum_{a<k} x_a = x_0 + x_1 + sum_{a=2}^{k-1} x_a holds for k >= 2 only
    v = general("peel-two", lhs=sums(term(x[a], (a, 0, k - 1))),
                rhs=sums(x[0], x[1], term(x[a], (a, 2, k - 1))),
                derivation=[Reorder([("a", 0, k - 1)])], instances=[{"k": 2}, {"k": 3}, {"k": 4}]).prove()

    def recheck(d):
        sig, _ = witness_signals(d["inputs"])
        xs, kk = sig.get("x", Sig()), d["sizes"]["k"]
        return sum(xs[q] for q in range(kk)), xs[0] + xs[1] + sum(xs[q] for q in range(2, kk))

    assert assert_refuted(v, recheck)["sizes"]["k"] == 1


def test_first_plus_last_plus_middle_is_refuted_at_k_1():
    # total(w, k) = w_0 + w_{k-1} + sum_{b=1}^{k-2} w_b counts w_0 twice when k = 1
    v = general("first-last", lhs=D.total(w, k), rhs=sums(w[0], w[k - 1], term(w[b], (b, 1, k - 2))),
                derivation=[Unfold("total")], instances=[{"k": 2}, {"k": 5}]).prove()

    def recheck(d):
        sig, _ = witness_signals(d["inputs"])
        ws, kk = sig.get("w", Sig()), d["sizes"]["k"]
        return sum(ws[q] for q in range(kk)), ws[0] + ws[kk - 1] + sum(ws[q] for q in range(1, kk - 1))

    assert assert_refuted(v, recheck)["sizes"]["k"] == 1


def test_an_empty_sum_is_not_its_first_term():
    # sum_{a=0}^{k-2} x_a = x_0 + sum_{a=1}^{k-2} x_a: at k = 1 the left side is empty
    v = general("empty-not-first", lhs=sums(term(x[a], (a, 0, k - 2))), rhs=sums(x[0], term(x[a], (a, 1, k - 2))),
                derivation=[Reorder([("a", 0, k - 2)])], instances=[{"k": 3}]).prove()

    def recheck(d):
        sig, _ = witness_signals(d["inputs"])
        xs, kk = sig.get("x", Sig()), d["sizes"]["k"]
        return sum(xs[q] for q in range(kk - 1)), xs[0] + sum(xs[q] for q in range(1, kk - 1))

    assert assert_refuted(v, recheck)["sizes"]["k"] == 1


def test_count_of_an_empty_range_is_refuted():
    # #{a : k <= a <= 2k - 3} = k - 2 for k >= 2, but at k = 1 the range is empty: 0, not -1
    v = general("empty-count", lhs=sums(term(1, (a, k, 2 * k - 3))), rhs=k - 2,
                derivation=[Reorder([("a", k, 2 * k - 3)])], instances=[{"k": 2}, {"k": 3}]).prove()

    def recheck(d):
        kk = d["sizes"]["k"]
        return len(range(kk, 2 * kk - 2)), kk - 2

    assert assert_refuted(v, recheck)["sizes"]["k"] == 1


# ---------------------------------------------------------------------------------------------
# ill-ordered ranges: a bound that mentions an inner index


def test_a_statement_with_an_ill_ordered_range_fails():
    # "sum_{a=0}^{b} sum_{b=0}^{k-1} x_a": a's bound mentions the inner index b
    ill = SumExpr.of(Term(x[a], (Range.of(a, 0, b), Range.of(b, 0, k - 1))))
    v = general("ill-ordered-statement", lhs=ill, rhs=sums(term(k * x[a], (a, 0, k - 1))),
                derivation=[Reorder([("b", 0, k - 1), ("a", 0, b)])]).prove()
    assert_failed(v, match="not an enclosing index")
    # read as the set {0 <= a <= b <= k - 1}, the left side is not k * sum_a x_a
    xs, kk = Sig({1: 1}), 2
    differ(sum(xs[p] for q in range(kk) for p in range(q + 1)), kk * sum(xs[p] for p in range(kk)))


def test_reorder_into_ill_ordered_ranges_fails():
    # the same set of points, but the outer range would mention the inner index b
    v = general("ill-ordered-reorder",
                lhs=sums(term(Z * x[a], (b, 0, k - 1), (a, 0, b))),
                rhs=sums(term(Z * k * x[a], (a, 0, k - 1))),
                derivation=[Reorder([("a", 0, b), ("b", a, k - 1)])]).prove()
    assert_failed(v, step=1, match="not an enclosing index")
    xs = Sig({1: 1})
    differ(BLIND_AT_3 * sum(xs[p] for q in range(3) for p in range(q + 1)),
           BLIND_AT_3 * 3 * sum(xs[p] for p in range(3)))


def test_groupby_with_a_bound_mentioning_a_summation_index_fails():
    # t in [a, a + k - 1] holds on the domain, but t's range (outermost) cannot mention a
    v = general("groupby-ill-ordered",
                lhs=sums(term(Z * x[a] * y[b], (a, 0, k - 1), (b, 0, k - 1))),
                rhs=sums(term(Z * x[a] * y[b], (a, 0, k - 1), (b, 0, k - 1), (t, 0, 0))),
                derivation=[GroupBy("t", a + b, a, a + k - 1, Z * x[a] * y[b], ("a", "b"))]).prove()
    assert_failed(v, step=1, match="not an enclosing index")
    xs, ys = Sig({0: 1}), Sig({0: 1})
    differ(BLIND_AT_3 * sum(xs[p] * ys[q] for p in range(3) for q in range(3)),
           BLIND_AT_3 * 2 * sum(xs[p] * ys[q] for p in range(3) for q in range(3)))
