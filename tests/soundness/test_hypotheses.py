"""Hypotheses and instances: contradictory hypotheses prove nothing, instances must satisfy the
hypotheses, and the kernel's own boundary instances catch what the user's instances miss."""

from __future__ import annotations

import pytest
from _support import Sig, assert_failed, assert_refuted, blind, differ, general, sums, term, witness_signals
from sympy import Eq, IndexedBase

from convsym.symbolic.rules import Collapse, Reorder
from convsym.symbolic.sums import index
from convsym.symbolic.symbols import scalars, sizes

(k, n) = sizes("k n")
i, a = index("i a")
x = IndexedBase("x")
(s,) = scalars("s")


def _sum_x(xs, kk):
    return sum(xs[q] for q in range(kk))


def test_contradictory_size_hypotheses_prove_nothing():
    v = general("contradictory-sizes", lhs=sums(term(x[a], (a, 0, k - 1))), rhs=0,
                size_hypotheses=[k >= 3, k <= 2], derivation=[Reorder([("a", 0, k - 1)])]).prove()
    assert_failed(v, rule="hypotheses", match="cannot all hold")
    differ(_sum_x(Sig({0: 1}), 1), 0)  # the claim itself, at k = 1


def test_hypotheses_no_integer_satisfies_prove_nothing():
    # 2 i = 1 has no integer solution: the claim x_i = 0 would hold vacuously
    v = general("contradictory-position", lhs=x[i], rhs=0, size_hypotheses=[Eq(2 * i, 1)],
                derivation=[Reorder([("a", 0, 0)])]).prove()
    assert_failed(v, rule="hypotheses", match="cannot all hold")
    differ(Sig({0: 1})[0], 0)


def test_hypotheses_over_a_real_scalar_are_not_decided():
    # s > 0 is not an integer condition; s * sum x = sum x is false at s = 2
    v = general("real-hypothesis", lhs=sums(term(s * x[a], (a, 0, k - 1))), rhs=sums(term(x[a], (a, 0, k - 1))),
                size_hypotheses=[s > 0], derivation=[Reorder([("a", 0, k - 1)])]).prove()
    assert_failed(v, rule="hypotheses", match="cannot all hold")
    differ(2 * _sum_x(Sig({0: 1}), 1), _sum_x(Sig({0: 1}), 1))


def test_an_instance_that_violates_the_hypotheses_fails():
    v = general("instance-violates", lhs=sums(term(x[a], (a, 0, k - 1))), rhs=x[0] + x[1],
                size_hypotheses=[k >= 2], instances=[{"k": 1}, {"k": 2}],
                derivation=[Reorder([("a", 0, k - 1)])]).prove()
    assert_failed(v, rule="instances", match="violates the hypotheses")
    xs = Sig({2: 1})
    differ(_sum_x(xs, 3), xs[0] + xs[1])


def test_an_instance_naming_no_size_of_the_statement_fails():
    v = general("instance-unknown-name", lhs=sums(term(x[a], (a, 0, k - 1))), rhs=x[0],
                instances=[{"m": 2}], derivation=[Reorder([("a", 0, k - 1)])]).prove()
    assert_failed(v, rule="instances", match="names .m., which is not a size")
    differ(_sum_x(Sig({1: 1}), 2), Sig({1: 1})[0])


@pytest.mark.parametrize("value", [0, -1, 2.0])
def test_an_instance_with_a_value_that_is_not_a_positive_integer_fails(value):
    v = general("instance-zero", lhs=sums(term(x[a], (a, 0, k - 1))), rhs=x[0],
                instances=[{"k": value}], derivation=[Reorder([("a", 0, k - 1)])]).prove()
    assert_failed(v, rule="instances", match="must be a positive integer")
    differ(_sum_x(Sig({1: 1}), 2), Sig({1: 1})[0])


def test_an_instance_missing_a_size_fails():
    v = general("instance-missing", lhs=sums(term(x[a], (a, 0, k - 1))), rhs=sums(term(x[a], (a, 0, n - 1))),
                instances=[{"k": 2}], derivation=[Reorder([("a", 0, k - 1)])]).prove()
    assert_failed(v, rule="instances", match="gives no value to n")
    differ(_sum_x(Sig({1: 1}), 2), _sum_x(Sig({1: 1}), 1))


def test_boundary_instances_catch_what_the_users_instances_miss():
    # true at the user's k = 3, 4, false at k = 2, the least size the hypothesis k >= 2 allows
    v = general("boundary-catches", lhs=sums(term(x[a], (a, 0, k - 1))),
                rhs=sums(term(x[a], (a, 0, k - 1)), (k - 3) * (k - 4) * x[0]),
                size_hypotheses=[k >= 2], instances=[{"k": 3}, {"k": 4}],
                derivation=[Reorder([("a", 0, k - 1)])]).prove()

    def recheck(d):
        sig, _ = witness_signals(d["inputs"])
        xs, kk = sig.get("x", Sig()), d["sizes"]["k"]
        return _sum_x(xs, kk), _sum_x(xs, kk) + (kk - 3) * (kk - 4) * xs[0]

    assert assert_refuted(v, recheck)["sizes"]["k"] == 2


def test_a_hypothesis_beyond_the_small_sizes_does_not_hide_a_false_step():
    # under k >= 5: sum_{a<k} x_a = sum_{a<=4} x_a holds at k = 5 only
    v = general("large-hypothesis", lhs=sums(term(x[a], (a, 0, k - 1))), rhs=sums(term(x[a], (a, 0, 4))),
                size_hypotheses=[k >= 5], derivation=[Reorder([("a", 0, 4)])]).prove()
    if v.verdict == "refuted":  # the kernel evaluated the claim at some k > 5
        def recheck(d):
            sig, _ = witness_signals(d["inputs"])
            xs = sig.get("x", Sig())
            return _sum_x(xs, d["sizes"]["k"]), _sum_x(xs, 5)

        assert assert_refuted(v, recheck)["sizes"]["k"] > 5
    else:  # it evaluated the claim at k = 5 only: the exchange of sums must fail for all k >= 5
        assert_failed(v, step=1, rule="exchange of sums", match="not the same set of points")
    xs = Sig({5: 1})
    differ(_sum_x(xs, 6), _sum_x(xs, 5))


def test_a_position_hypothesis_does_not_let_collapse_drop_points():
    # under i <= 0: sum_{a=i}^{0} x_a = x_0 holds at i = 0 (the only small position allowed), not at i = -1
    v = general("position-hypothesis", lhs=sums(term(x[a], (a, i, 0))), rhs=x[0],
                size_hypotheses=[i <= 0], derivation=[Collapse("a", 0)]).prove()
    assert_failed(v, step=1, rule="collapse", match="does not force")
    xs = Sig({-1: 1})
    differ(sum(xs[q] for q in range(-1, 1)), xs[0])


def test_the_blinded_claim_with_a_true_hypothesis_still_needs_a_valid_rule():
    # the hypothesis k >= 1 adds nothing; the blinded claim sum_{a<k} = sum_{a<k-1} is still false at k = 3
    Z = blind(k)
    v = general("blinded-hypothesis", lhs=sums(term(Z * x[a], (a, 0, k - 1))), rhs=sums(term(Z * x[a], (a, 0, k - 2))),
                size_hypotheses=[k >= 1], derivation=[Reorder([("a", 0, k - 2)])]).prove()
    assert_failed(v, step=1, rule="exchange of sums", match="not the same set of points")
    xs = Sig({2: 1})
    differ(_sum_x(xs, 3), _sum_x(xs, 2))
