"""False claims the kernel's fast paths must still reject: side conditions with strides (non-linear,
decided by z3's presolver first, counterexamples by the default solver), a translation met again
in another query, and bounds evaluated by the generated integer evaluators."""

from __future__ import annotations

import sympy
from _support import BLIND_AT_3, Sig, assert_failed, blind, differ, general, sums, term
from sympy import Eq, IndexedBase

from convsym.symbolic import decide
from convsym.symbolic.rules import Collapse
from convsym.symbolic.sums import index
from convsym.symbolic.symbols import sizes

k, s = sizes("k s")
a, j = index("a j")
x = IndexedBase("x")
Z = blind(k)


def _holds_at(conditions, values):
    env = {sym: sympy.Integer(values[str(sym)]) for c in conditions for sym in sympy.sympify(c).free_symbols}
    return all(bool(sympy.sympify(c).xreplace(env)) for c in conditions)


def test_a_stride_condition_off_by_one_is_refuted_with_a_real_counterexample():
    hyps = [Eq(a, s * j), a >= 0, a <= k - 1, j >= 0]
    d = decide.implies(hyps, [Eq(a, s * j + 1)], bound=[a, j])
    assert not d.holds and d.how == "z3: counterexample"
    cex = d.counterexample
    assert _holds_at(hyps + [k >= 1, s >= 1], cex) and not _holds_at([Eq(a, s * j + 1)], cex)
    # the true statement is proved (so the refusal is not vacuous), and the same condition met
    # again (its translation remembered) is refused again, with a counterexample that is one
    assert decide.implies(hyps, [Eq(a, s * j)], bound=[a, j]).holds
    again = decide.implies(hyps, [Eq(a, s * j + 1)], bound=[a, j])
    assert not again.holds
    assert _holds_at(hyps + [k >= 1, s >= 1], again.counterexample)
    assert not _holds_at([Eq(a, s * j + 1)], again.counterexample)


def test_a_stride_equivalence_false_only_for_stride_two_is_refuted():
    # s j = a and j = a are the same points only when s = 1
    d = decide.equivalent([Eq(s * j, a)], [Eq(j, a)], [a >= 0, j >= 0])
    assert not d.holds and d.counterexample["s"] >= 2


def test_collapse_to_the_wrong_strided_value_fails():
    lhs = sums(term(Z * x[a], (a, 0, k - 1), (j, 0, k - 1), where=(Eq(a, s * j),)))
    wrong = general("collapse-strided-off", lhs=lhs, rhs=lhs, derivation=[Collapse("a", s * j + 1)]).prove()
    assert_failed(wrong, step=1, rule="collapse", match="does not force")
    right = general("collapse-strided", lhs=lhs,
                    rhs=sums(term(Z * x[s * j], (j, 0, k - 1), where=(s * j >= 0, s * j <= k - 1))),
                    derivation=[Collapse("a", s * j)]).prove()
    assert right.verdict == "proved"
    xs = Sig({0: 1})  # at k = 3, s = 1 the wrong value reads x[j + 1]: a different sum
    differ(BLIND_AT_3 * sum(xs[q] for q in range(3)), BLIND_AT_3 * sum(xs[q + 1] for q in range(3) if q + 1 <= 2))


def test_a_product_bound_one_short_is_refuted_by_the_generated_evaluator():
    # sum_{a=0}^{k s - 2} x_a = sum_{a=0}^{k s - 1} x_a: the bound k s - 1 compiles to generated code
    v = general("product-bound-short", lhs=sums(term(x[a], (a, 0, k * s - 2))),
                rhs=sums(term(x[a], (a, 0, k * s - 1))), derivation=[Collapse("a", 0)]).prove()
    assert v.verdict == "refuted"
    data = v.witness.data
    ks = data["sizes"]["k"] * data["sizes"]["s"]
    xs = Sig({key[2:-1]: value for key, value in data["inputs"].items()})
    left = sum(xs[str(q)] for q in range(ks - 1))
    right = sum(xs[str(q)] for q in range(ks))
    assert (left, right) == (int(data["lhs"]), int(data["rhs"])) and left != right
