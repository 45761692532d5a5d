"""The kernel's own guards: Checked proofs, refutations, minted steps, numeric evidence and
theorem subclasses."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import z3
from _support import Sig, assert_failed, assert_not_proved, general, sums, term
from sympy import Abs, Eq, Gt, IndexedBase, Lt, Min, Ne, Symbol, floor

from convsym.proof import Checked, General, Identity, Refutation, StepRecord
from convsym.proof.verdict import Verdict
from convsym.run.registry import prove_one
from convsym.symbolic.rules import Collapse, Reorder
from convsym.symbolic.sums import index
from convsym.symbolic.symbols import sizes

X = Symbol("X", real=True)
(k, n) = sizes("k n")
(a,) = index("a")
x = IndexedBase("x")


def checked(name, derive, **kw):
    return Checked(f"soundness.{name}", name, derive=derive, **kw).prove()


# ---------------------------------------------------------------------------------------------
# Checked: every step checks, and the claim must be one of the facts


def test_a_claim_that_no_step_established_fails():
    # the step shows X (X + 1) = X**2 + X; the claim says X (X + 1) = X**2 + 1
    v = checked("claim-not-a-fact", lambda P: P.equal("expand", X * (X + 1), X**2 + X),
                claim=Eq(X * (X + 1), X**2 + 1))
    assert_failed(v, step=2, rule="conclusion", match="not one of the facts")
    assert 0 * (0 + 1) != 0**2 + 1


def test_a_false_algebraic_step_fails():
    v = checked("false-equal", lambda P: P.equal("expand", X * (X + 1), X**2 + 1), claim=Eq(X * (X + 1), X**2 + 1))
    assert_failed(v, step=1, rule="algebra")
    assert 0 * (0 + 1) != 0**2 + 1


def test_a_summation_of_a_floor_is_refused():
    # sum_{a<n} floor(a/2) = n (n - 1) / 4 is false at n = 2 (0, not 1/2)
    v = checked("summation-floor", lambda P: P.summation("floors", floor(a / 2), [(a, 0, n - 1)]))
    assert_failed(v, step=1, rule="summation", match="floor, ceiling, min, max")
    assert sum(q // 2 for q in range(2)) != Fraction(2 * 1, 4)


def test_a_summation_of_a_min_is_refused():
    # sum_{a<n} min(a, 3) = n (n - 1) / 2 is false at n = 5 (9, not 10)
    v = checked("summation-min", lambda P: P.summation("minima", Min(a, 3), [(a, 0, n - 1)]))
    assert_failed(v, step=1, rule="summation", match="floor, ceiling, min, max")
    assert sum(min(q, 3) for q in range(5)) != 5 * 4 // 2


def test_a_false_integer_implication_fails():
    v = checked("false-implies", lambda P: P.implies("k >= 2", [k >= 1], [k >= 2]))
    assert_failed(v, step=1, rule="z3", match="counterexample")
    assert not (1 >= 2)


def test_a_false_real_formula_fails():
    r = z3.Real("r")
    v = checked("false-real", lambda P: P.real_valid("r^2 > 0", r * r > 0, r"r^2 > 0"))
    assert_failed(v, step=1, rule="z3", match="does not prove")
    assert not (0 * 0 > 0)


def test_a_false_case_analysis_fails():
    # |s| = s for every real s: false for s < 0
    s = Symbol("s", real=True)
    v = checked("false-cases", lambda P: P.cases("|s| = s", Abs(s) - s, s, r"|s| = s"))
    assert_failed(v, step=1, rule="case analysis", match="negative")
    assert abs(-1) != -1


def test_a_false_exact_family_fails():
    v = checked("false-family", lambda P: P.family("2^q > q^2", [{"q": q} for q in range(5, 1, -1)],
                                                   lambda q: 2**q > q**2, lambda q: True))
    assert_failed(v, step=1, rule="exact family", match="q=4|q=3|q=2")
    assert not (2**3 > 3**2)


def test_a_lemma_that_is_refuted_fails():
    lemma = Identity("soundness.false-lemma", "x = 2x", inputs=lambda m: {"x": (m,)}, lhs=lambda T, m: T["x"],
                     rhs=lambda T, m: T["x"] * 2, family=[{"m": 1}])
    v = checked("uses-false-lemma", lambda P: P.lemma("x = 2x", lemma, "x = 2x"))
    assert_failed(v, step=1, rule="lemma", match="refuted")
    assert 1 != 2 * 1


def test_a_refuted_cross_check_fails_a_general_theorem():
    cross = Identity("soundness.false-cross", "x = 2x", inputs=lambda m: {"x": (m,)}, lhs=lambda T, m: T["x"],
                     rhs=lambda T, m: T["x"] * 2, family=[{"m": 1}])
    v = general("false-cross-check", lhs=sums(term(x[a], (a, 0, k - 1))), rhs=sums(term(x[a], (a, 0, k - 1))),
                derivation=[Reorder([("a", 0, k - 1)])], cross_checks=[cross]).prove()
    assert_failed(v, rule="cross-check", match="did not prove")
    assert 1 != 2 * 1


# ---------------------------------------------------------------------------------------------
# Refutation: the witness must separate the sides, exactly


def test_a_refutation_whose_sides_agree_fails():
    # "n + 1 = 1 + n is false" with the witness n = 3: both sides are 4
    v = Refutation("soundness.refutation-equal", "equal", lhs=lambda m: m + 1, rhs=lambda m: 1 + m,
                   witness={"m": 3}).prove()
    assert_failed(v, rule="witness", match="does not separate")
    assert 3 + 1 == 1 + 3


def test_a_refutation_by_floating_point_fails():
    # 3 * 0.1 != 0.3 in floats, but 3/10 = 3/10 exactly: not a counterexample
    v = Refutation("soundness.refutation-float", "float", lhs=lambda m: m * 0.1 * 3, rhs=lambda m: m * 0.3,
                   witness={"m": 1}).prove()
    assert_failed(v, rule="exact evaluation", match="float")
    assert Fraction(1, 10) * 3 == Fraction(3, 10)


# ---------------------------------------------------------------------------------------------
# numeric evidence is observed, never proved


def test_a_numeric_step_is_observed_not_proved():
    # X + 10**-12 = X "holds" in floating point with a tolerance; it is false exactly
    def observe():
        assert abs((1 + 1e-12) - 1) < 1e-9
        return "isclose(1 + 1e-12, 1)"

    def derive(P):
        P.numeric("close", observe, "X + 10^{-12} = X")

    v = checked("numeric-only", derive)
    assert_not_proved(v)
    assert v.verdict == "observed" and v.strength == "numeric"
    assert Fraction(1) + Fraction(1, 10**12) != 1


def test_numeric_evidence_weakens_a_checked_proof_to_observed():
    def derive(P):
        P.equal("trivial", X, X)
        P.numeric("close", lambda: "ok", "X + 10^{-12} = X")

    v = checked("numeric-and-general", derive)
    assert v.verdict == "observed" and v.strength == "numeric"


# ---------------------------------------------------------------------------------------------
# only the kernel's kinds prove, only minted steps count

FALSE_LHS = sums(term(x[a], (a, 0, k - 1)))  # sum_{a<k} x_a = x_0 is false from k = 2 on
FALSE_RHS = x[0]


def _false_claim_counterexample():
    xs = Sig({1: 1})
    assert sum(xs[q] for q in range(2)) != xs[0]


def test_a_subclass_overriding_run_fails():
    class Mine(General):
        def _run(self):
            return {"verdict": "proved", "steps": ()}

    v = Mine("soundness.override-run", "t", lhs=FALSE_LHS, rhs=FALSE_RHS, derivation=[Collapse("a", 0)]).prove()
    assert_failed(v, rule="kernel", match="overrides _run outside the kernel")
    _false_claim_counterexample()


def test_a_hand_made_step_returned_by_a_disguised_run_fails():
    def run(self):
        return {"verdict": "proved", "steps": (StepRecord("z3", "trust me", "x", evidence="general"),)}

    run.__module__ = "convsym.proof.mine"  # passes the module test; the step is still not minted

    class Disguised(General):
        _run = run

    v = Disguised("soundness.disguised-run", "t", lhs=FALSE_LHS, rhs=FALSE_RHS, derivation=[Collapse("a", 0)]).prove()
    assert_failed(v, rule="kernel", match="overrides _run outside the kernel")
    _false_claim_counterexample()


def test_a_hand_made_step_in_a_checked_proof_fails():
    def derive(P):
        P.equal("trivial", X, X)
        P.steps.append(StepRecord("z3", "trust me", "X = X + 1", evidence="general"))

    v = checked("hand-made-step", derive)
    assert_failed(v, step=2, rule="z3", match="not made by the kernel")
    assert 0 != 0 + 1


def test_overriding_the_claim_check_does_not_prove_the_where_dropped_claim():
    class NoClaimCheck(General):
        def _claim_check(self, instances):
            return None

    v = NoClaimCheck("soundness.no-claim-check", "t", lhs=sums(term(k, (a, 0, k - 1), where=(Eq(a, 2),))), rhs=k,
                     derivation=[Collapse("a", 2)], instances=()).prove()
    assert_not_proved(v)
    assert v.verdict == "failed"
    assert sum(1 for q in range(1) if q == 2) != 1


def test_a_subclass_overriding_settle_cannot_prove_a_false_claim():
    class Settled(General):
        def _settle(self, fields):
            return {**fields, "verdict": "proved", "strength": "general", "witness": None}

    v = Settled("soundness.override-settle", "t", lhs=FALSE_LHS, rhs=FALSE_RHS,
                derivation=[Reorder([("a", 0, k - 1)])]).prove()
    _false_claim_counterexample()
    assert_not_proved(v)


def test_a_subclass_overriding_prove_cannot_prove_a_false_claim():
    class Proves(General):
        def prove(self):
            return Verdict(name=self.name, family=self.family, title=self.title, statement="", statement_latex="",
                           expected="proved", verdict="proved", strength="general", sizes="all k", seconds=0.0)

    # what `convsym prove` runs: registry.prove_one must not take the subclass's word for it
    v = prove_one(Proves("soundness.override-prove", "t", lhs=FALSE_LHS, rhs=FALSE_RHS,
                         derivation=[Reorder([("a", 0, k - 1)])]))
    _false_claim_counterexample()
    assert_not_proved(v)
    assert v.verdict == "failed" and v.strength == "none"


def test_facts_appended_by_hand_do_not_establish_a_claim():
    def derive(P):
        P.equal("trivial", X, X)
        P.facts.append(X - (X + 1))

    v = checked("forged-fact", derive, claim=Eq(X, X + 1, evaluate=False))
    assert 0 != 0 + 1
    assert_not_proved(v)


def test_case_analysis_over_a_differently_declared_symbol_fails():
    s_real, s_pos = Symbol("s", real=True), Symbol("s", positive=True)
    v = checked("cases-other-symbol", lambda P: P.cases("|s| = s", Abs(s_pos) - s_pos, s_real, r"|s| = s"))
    assert abs(-1) != -1
    assert_not_proved(v)


def test_a_checked_statement_is_not_free_text():
    v = checked("free-text-statement", lambda P: P.real_valid("true", z3.BoolVal(True), "1 = 2"))
    assert 1 != 2
    assert v.verdict != "proved" or "1 = 2" not in v.statement_latex


# ---------------------------------------------------------------------------------------------
# exact families must be exact: n + 1 = n "holds" in floating point at n = 10**16 (and 2**24 in float32)

INEXACT_SIDES = {
    "list-of-floats": (lambda m: [float(m) + 1], lambda m: [float(m)], 10**16),
    "numpy-float32": (lambda m: np.float32(m) + np.float32(1), lambda m: np.float32(m), 2**24),
    "tuple-of-numpy-floats": (lambda m: tuple(np.array([m], dtype=float) + 1),
                              lambda m: tuple(np.array([m], dtype=float)), 10**16),
}


def test_an_exact_family_refuses_a_python_float():
    v = checked("family-float", lambda P: P.family("n + 1 = n", [{"m": 10**16}], lambda m: float(m) + 1,
                                                   lambda m: float(m)))
    assert_failed(v, step=1, rule="exact family", match="float")
    assert 10**16 + 1 != 10**16


@pytest.mark.parametrize("kind", sorted(INEXACT_SIDES))
def test_an_exact_family_refuses_hidden_floating_point(kind):
    lhs, rhs, m = INEXACT_SIDES[kind]
    v = checked(f"family-{kind}", lambda P: P.family("n + 1 = n", [{"m": m}], lhs, rhs))
    assert m + 1 != m
    assert_not_proved(v)


# ---------------------------------------------------------------------------------------------
# a Checked claim is an equation: the kernel must not match an inequality against an equality fact


@pytest.mark.parametrize("relation", [Gt, Lt, Ne], ids=["greater", "less", "unequal"])
def test_an_inequality_claim_is_not_established_by_an_equation(relation):
    claim = relation((X + 1) ** 2, X**2 + 2 * X + 1, evaluate=False)
    assert not bool(claim.subs(X, 0))  # false at X = 0 (1 vs 1), and at every X
    with pytest.raises(TypeError, match="claim must be a SymPy Eq"):
        checked(f"claim-{relation.__name__.lower()}",
                lambda P: P.equal("square", (X + 1) ** 2, X**2 + 2 * X + 1), claim=claim)


def test_a_lemma_that_is_not_a_kernel_theorem_proves_nothing():
    # an object whose own prove() says "proved" must not become evidence for a Checked proof
    class Fake:
        name, title, expected, check_source = "soundness.fake-lemma", "fake", "proved", ""

        def prove(self):
            return Verdict(name=self.name, family="soundness", title="t", statement="", statement_latex="",
                           expected="proved", verdict="proved", strength="general", sizes="", seconds=0.0)

    v = checked("fake-lemma", lambda P: P.lemma("1 = 2 by a fake lemma", Fake(), r"1 = 2"))
    assert 1 != 2
    assert_failed(v, step=1, rule="lemma", match="not one of the kernel's theorem kinds")
