"""The proof machinery: checked steps, failures that name the step, refutations with witnesses."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import sympy
from sympy import IndexedBase

from convsym.errors import ProofError
from convsym.exact import ops
from convsym.proof import General, Identity
from convsym.proof.verdict import Verdict
from convsym.symbolic import decide
from convsym.symbolic import opdefs as D
from convsym.symbolic.rules import Context, Distribute, Fold, Name, Reorder, Rule, Substitute, Unfold
from convsym.symbolic.sums import Let, Range, SumExpr, Term, evaluate, grid, index
from convsym.symbolic.symbols import scalars, sizes

ROOT = Path(__file__).resolve().parents[2]
MERGE = runpy.run_path(str(ROOT / "proofs" / "merge.py"))

k1, k2 = sizes("k_1 k_2")
i, a, b, t = index("i a b t")
x, w1, w2, h, W = (IndexedBase(n) for n in ("x", "w^{(1)}", "w^{(2)}", "h", "W"))
b1, b2 = scalars("b_1 b_2")
H = Let(h, lambda j: SumExpr.of(D.conv1d(x, w1, k1, j), b1))


def merge_1d(kernel_size, fold_size=None, derivation_tail=()):
    """The 1-D merge with a claimed kernel size (the true one is k1 + k2 - 1)."""
    fold_size = kernel_size if fold_size is None else fold_size
    Wd = Let(W, lambda j: SumExpr.of(D.full_convolution(w1, w2, k1, k2, j)))
    return General(
        "test.merge-1d",
        "t",
        "s",
        lhs=D.conv1d(h, w2, k2, i) + b2,
        rhs=D.conv1d(x, W, kernel_size, i) + b2 + b1 * D.total(w2, k2),
        lets=[H, Wd],
        derivation=[
            Unfold("conv1d", ("b",)),
            Unfold("h"),
            Distribute(),
            Unfold("conv1d", ("a",)),
            Reorder([("a", 0, k1 - 1), ("b", 0, k2 - 1)]),
            Substitute("b", "t", t - a, [("a", 0, k1 - 1), ("t", a, a + k2 - 1)]),
            Reorder([("t", 0, k1 + k2 - 2), ("a", (0, t - k2 + 1), (t, k1 - 1))]),
            Fold(D.full_convolution(w1, w2, k1, k2, t), ("a",)),
            Name(Wd, (t,)),
            Fold(D.conv1d(x, W, fold_size, i), ("t",)),
            Fold(D.total(w2, k2), ("b",)),
            *derivation_tail,
        ],
        instances=grid(k_1=range(1, 3), k_2=range(1, 3)),
    )


def test_true_merge_is_proved_in_general_with_every_step_checked():
    v = merge_1d(k1 + k2 - 1).prove()
    assert (v.verdict, v.strength, v.ok) == ("proved", "general", True)
    assert len(v.steps) == 12 and v.steps[-1].rule == "conclusion"  # 11 rules, then the conclusion
    assert all(s.checked_by and s.evidence == "general" for s in v.steps)
    z3_steps = [s for s in v.steps if any(c.startswith("z3") or "z3" in c for c in s.checked_by)]
    assert len(z3_steps) >= 5  # reorders, substitution, folds: side conditions decided, not assumed
    assert all(s.checked_by[-1] == "re-evaluated exactly on 4 instance(s)" for s in v.steps[:-1])
    assert "the claim itself" in v.instances[0]


def test_a_longer_kernel_fails_at_the_fold_with_a_counterexample():
    # with kernel size k1 + k2 the claim itself holds (W is 0 at t = k1 + k2 - 1, so the instances agree),
    # but the derivation cannot fold a sum of k1 + k2 - 1 terms into one of k1 + k2: failed, not proved
    v = merge_1d(k1 + k2).prove()
    assert (v.verdict, v.strength, v.ok) == ("failed", "none", False)
    assert (v.failed_step, v.failed_rule) == (10, "fold")
    assert "range of t is not that of conv1d" in v.error
    assert "counterexample" in v.error
    assert len(v.steps) == 9  # the steps that did check are kept for the report


def test_a_derivation_that_ends_elsewhere_fails_at_the_conclusion():
    # a true claim whose derivation stops one fold short
    th = merge_1d(k1 + k2 - 1)
    th.derivation = th.derivation[:-1]
    v = th.prove()
    assert v.verdict == "failed"
    assert (v.failed_step, v.failed_rule) == (11, "conclusion")
    assert "is not the claimed right side" in v.error


class DropFirstTerm(Rule):
    """A wrong rule: it silently drops a term (a buggy rewrite must be caught by the instances)."""

    name = "drop"

    def describe(self):
        return "drop the first term"

    def apply(self, expr, ctx):
        from convsym.symbolic.rules import Outcome

        return Outcome(SumExpr(expr.terms[1:]))


def test_a_rule_that_changes_the_value_is_caught_on_instances():
    th = General(
        "test.bad-rule", "t", "s",
        lhs=D.total(w2, k2) + b2, rhs=D.total(w2, k2) + b2,
        derivation=[DropFirstTerm()],
        instances=grid(k_2=range(1, 3)),
    )
    v = th.prove()
    assert v.verdict == "failed" and v.failed_rule == "drop"
    assert "changes the value at the instance k_2=1" in v.error


@pytest.mark.parametrize(
    "rule, message",
    [
        (Substitute("b", "t", 2 * t - a, [("a", 0, k1 - 1), ("t", a, a + k2 - 1)]), "not a bijection"),
        (Substitute("b", "t", t - a, [("a", 0, k1 - 1), ("t", a, a + k2)]), "not the image"),
        (Reorder([("b", 0, k2 - 1), ("a", 0, k1)]), "not the same set of points"),
        (Fold(D.total(w2, k2 + 1), ("b",)), "range of b is not that of total"),
        (Unfold("full_convolution"), "no application of full_convolution"),
    ],
)
def test_rules_refuse_unjustified_rewrites(rule, message):
    if isinstance(rule, Fold):
        expr = SumExpr.of(Term(w2[b], (Range.of(b, 0, k2 - 1),)))
    else:
        expr = SumExpr.of(Term(w1[a] * w2[b], (Range.of(a, 0, k1 - 1), Range.of(b, 0, k2 - 1))))
    with pytest.raises(ProofError, match=message):
        rule.apply(expr, Context())


def test_evaluate_expands_definitions_on_instances():
    e = SumExpr.of(D.conv1d(x, w1, k1, i))
    got = evaluate(e, {k1: 2})
    assert sympy.expand(got - (w1[0] * x[i] + w1[1] * x[i + 1])) == 0


# --- decision procedure


def test_decide_equivalence_and_counterexample():
    (n,) = sizes("n")
    (j,) = index("j")
    ok = decide.equivalent([j >= 0, j <= n - 1], [j >= 0, j < n])
    assert ok.holds and "unsat" in ok.how
    bad = decide.equivalent([j >= 0, j <= n - 1], [j >= 0, j <= n])
    assert not bad.holds and bad.counterexample["j"] == bad.counterexample["n"]


def test_decide_rejects_non_integer_constants():
    (j,) = index("j")
    d = decide.implies([j >= 0], [j >= sympy.Rational(1, 2)])
    assert not d.holds and "non-integer constant 1/2" in d.how  # not decided is never proved


# --- exact identities and refutations


def test_refutation_carries_a_witness_that_the_reference_confirms():
    v = MERGE["padded"].prove()
    assert v.verdict == "refuted" and v.ok and v.witness is not None
    data = v.witness.data
    assert data["lhs"] != data["rhs"]
    import numpy as np

    from convsym import reference as ref

    def arr(spec):
        out = np.zeros(spec["shape"], dtype=object)
        out[...] = 0
        for idx, val in spec["nonzero"]:
            out[tuple(idx)] = val
        return out

    T = {k: arr(s) for k, s in data["inputs"].items()}
    sz = data["sizes"]
    lhs = ref.conv2d(ref.conv2d(T["x"][None], T["w1"], T["b1"], padding=sz["p1"]), T["w2"], T["b2"],
                     padding=sz["p2"])[0]
    assert str(lhs[tuple(data["entry"])]) == data["lhs"]


def _wrong_merge(T, **s):
    # claims the merged kernel is the plain (unflipped) correlation of the kernels
    w1f = T["w1"][:, :, ::-1, ::-1]
    return ops.conv2d(T["x"], ops.merge_kernels(w1f, T["w2"]), ops.merge_bias(T["w2"], T["b1"], T["b2"]))


def test_a_false_identity_is_refuted_never_proved():
    th = Identity(
        "test.wrong-merge", "t", "s",
        inputs=MERGE["layer_inputs"], lhs=MERGE["two_layers"], rhs=_wrong_merge,
        family=[dict(k1=1, k2=1, ci=1, cm=1, co=1, n=2), dict(k1=2, k2=2, ci=1, cm=1, co=1, n=4)],
    )
    v = th.prove()
    assert v.verdict == "refuted" and not v.ok  # expected 'proved': the run must fail, not pass
    assert v.witness.data["sizes"]["k1"] == 2  # the 1x1 instance agrees; the first differing one is shown
    assert v.witness.lhs != v.witness.rhs


def test_true_identity_is_proved_with_its_strength():
    th = Identity(
        "test.merge", "t", "s", inputs=MERGE["layer_inputs"], lhs=MERGE["two_layers"],
        rhs=MERGE["merged_layer"], family=[dict(k1=3, k2=2, ci=2, cm=1, co=2, n=5)],
    )
    v = th.prove()
    assert (v.verdict, v.strength) == ("proved", "exact-instance")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(verdict="refuted"), "a refutation must carry a witness"),
        (dict(verdict="failed", strength="none"), "a failed verdict must say why"),
        (dict(verdict="failed", error="e"), "a failed verdict has strength 'none'"),
        (dict(strength="numeric"), "numeric evidence is 'observed', never 'proved'"),
        (dict(verdict="observed"), "'observed' is the verdict of numeric evidence only"),
        (dict(strength="strong"), "strength='strong' must be one of"),
        (dict(expected="maybe"), r"expected='maybe' must be one of \('proved', 'refuted', 'observed'\)"),
    ],
)
def test_verdict_validates_itself(kwargs, message):
    base = dict(name="f.x", family="f", title="t", statement="s", statement_latex="", expected="proved",
                verdict="proved", strength="general", sizes="", seconds=0.0)
    base.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Verdict(**base)


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("nodot", {}, "must be 'family.theorem'"),
        ("f.x", {"expected": "true"}, r"expected='true' must be one of \('proved', 'refuted', 'observed'\)"),
    ],
)
def test_theorem_arguments_are_validated(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        General(name, "t", "s", lhs=b1, rhs=b1, derivation=[Distribute()], **kwargs)


def test_general_needs_a_derivation_and_identity_a_family():
    with pytest.raises(ValueError, match="needs a derivation"):
        General("f.x", "t", "s", lhs=b1, rhs=b1, derivation=[])
    with pytest.raises(ValueError, match="at least one size assignment"):
        Identity("f.x", "t", "s", inputs=dict, lhs=None, rhs=None, family=[])


WRONG_CLAIM_SCRIPT = '''
from sympy import IndexedBase
from convsym.symbolic import opdefs as D
from convsym.proof import General
from convsym.symbolic.rules import Distribute, Fold, Name, Reorder, Substitute, Unfold
from convsym.symbolic.sums import Let, SumExpr, grid, index
from convsym.symbolic.symbols import scalars, sizes
from convsym.proof.verdict import Family

FAMILY = Family("wrong", "A wrong claim")
k1, k2 = sizes("k_1 k_2")
i, a, b, t = index("i a b t")
x, w1, w2, h, W = (IndexedBase(n) for n in ("x", "w1", "w2", "h", "W"))
b1, b2 = scalars("b_1 b_2")
H = Let(h, lambda j: SumExpr.of(D.conv1d(x, w1, k1, j), b1))
WD = Let(W, lambda j: SumExpr.of(D.full_convolution(w1, w2, k1, k2, j)))
claim = General(
    "wrong.kernel-size", "The merged kernel has size k1 + k2 (it does not)", "wrong",
    lhs=D.conv1d(h, w2, k2, i) + b2,
    rhs=D.conv1d(x, W, k1 + k2, i) + b2 + b1 * D.total(w2, k2),
    lets=[H, WD],
    derivation=[
        Unfold("conv1d", ("b",)), Unfold("h"), Distribute(), Unfold("conv1d", ("a",)),
        Reorder([("a", 0, k1 - 1), ("b", 0, k2 - 1)]),
        Substitute("b", "t", t - a, [("a", 0, k1 - 1), ("t", a, a + k2 - 1)]),
        Reorder([("t", 0, k1 + k2 - 2), ("a", (0, t - k2 + 1), (t, k1 - 1))]),
        Fold(D.full_convolution(w1, w2, k1, k2, t), ("a",)),
        Name(WD, (t,)),
        Fold(D.conv1d(x, W, k1 + k2, i), ("t",)),
        Fold(D.total(w2, k2), ("b",)),
    ],
    instances=grid(k_1=range(1, 3), k_2=range(1, 3)),
)
'''


def test_cli_reports_an_unproved_claim_as_failed_with_the_breaking_step(tmp_path):
    import json
    import subprocess
    import sys

    (tmp_path / "wrong.py").write_text(WRONG_CLAIM_SCRIPT)
    run = subprocess.run(
        [sys.executable, "-m", "convsym", "prove", "--json", "--path", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 1, run.stderr
    (record,) = json.loads(run.stdout)
    assert (record["verdict"], record["failed_step"], record["failed_rule"]) == ("failed", 10, "fold")
    assert "counterexample {'k_1': 1, 'k_2': 1, 't': 1}" in record["error"]


def test_every_verdict_names_its_family():
    for name in ("padded", "sequential_1d"):
        v = MERGE[name].prove()
        assert v.family == "merge" and v.to_json()["family"] == "merge"
    th = Identity("fam.x", "t", "s", inputs=MERGE["layer_inputs"], lhs=MERGE["two_layers"],
                  rhs=MERGE["merged_layer"], family=[dict(k1=1, k2=1, ci=1, cm=1, co=1, n=1)])
    assert th.family == "fam" and th.prove().family == "fam"


# ---------------------------------------------------------------------------------------------
# statements and witnesses in the book's terms (generated by the kernel, never typed in)


def test_general_statement_is_generated_from_the_objects():
    v = merge_1d(k1 + k2 - 1).prove()
    parts = v.statement_parts
    assert [q for q, _ in parts.quantifiers] == [
        r"all integers $k_{1},\allowbreak{} k_{2} \ge 1$", "every integer position $i$",
        r"all real numbers $b_{1},\allowbreak{} b_{2}$",
        r"all real signals $w^{(1)},\allowbreak{} w^{(2)},\allowbreak{} x$"]
    # the definitions are kept apart from the hypotheses; every symbol of the claim is quantified or defined
    assert parts.hypotheses == ()
    assert [d.split(" := ")[0] for d in parts.definitions] == ["{h}_{j}", "{W}_{j}"]
    assert parts.claim_latex == v.statement_latex and "=" in parts.claim_latex
    assert v.to_json()["statement_parts"]["claim"] == parts.claim_latex


def test_general_statement_keeps_hypotheses_apart():
    n = sizes("n")[0]
    th = General("test.hyp", "t", "", lhs=SumExpr.of(x[i]), rhs=SumExpr.of(x[i]), derivation=[Unfold("h")],
                 lets=[H], size_hypotheses=[i <= n - 1, i >= 0])
    parts = th.statement_parts()
    assert parts.hypotheses == (r"i \leq n - 1", r"i \geq 0")
    assert parts.definitions and not any(":=" in h for h in parts.hypotheses)


def test_identity_statement_is_the_gloss_with_generated_quantifiers():
    th = Identity("test.words", "t", "Two layers are one.", inputs=lambda **_: {"f": (2,), "g": (2,)},
                  lhs=lambda T: T["f"], rhs=lambda T: T["f"], family=[{}])
    v = th.prove()
    assert v.statement_parts.claim_words == "Two layers are one."
    assert v.statement_parts.quantifiers == ((r"all real vectors $f,\allowbreak{} g$ of length 2",
                                              "all real vectors f, g of length 2"),)
    assert "lambda" not in v.statement_latex and "lambda" not in v.steps[0].expression


def test_identity_witness_is_in_the_books_terms():
    v = MERGE["padded"].prove()
    w = v.witness
    assert ("p_{2}", "1") in w.sizes and ("C_{in}", "1") in w.sizes
    assert "monomial" not in w.description and "at sizes :" not in w.description
    assert "*" not in w.description + w.reason and "b1_{0}" not in w.reason
    assert w.reason.startswith("As polynomials in the input entries the two sides differ in the term $")
    # every input is small, so every input is printed in full (with its shape)
    # named as the notation writes them: w_1, b_1 (not w^{(1)}), entries w_{1,a}
    assert [a[0] for a in w.arrays] == ["x", "w_{1}", "b_{1}", "w_{2}", "b_{2}"]
    assert ("b_{1}", "1", "[1]") in w.arrays
    assert all("^{(" not in name for name, _ in w.assignment)


def test_identity_witness_in_the_statements_coordinates():
    from convsym.exact import rewrites as E

    def full(th_kw):
        return Identity("test.xcorr", "t", "Claim (false): cross-correlation commutes.", expected="refuted",
                        inputs=lambda **_: {"f": (2,), "g": (2,)}, lhs=lambda T: E.xcorr_full(T["f"], T["g"]),
                        rhs=lambda T: E.xcorr_full(T["g"], T["f"]), family=[{}], **th_kw).prove().witness

    plain = full({})
    assert plain.where == r"\text{output entry } (0)"
    assert "array index $(0)$ (counted from 0)" in plain.description
    # the full cross-correlation's array index 0 is lag t = -(len(f) - 1) = -1
    shifted = full({"coordinates": lambda entry: {"t": entry[0] - 1}})
    assert shifted.where == "t = -1" and "at $t = -1$" in shifted.description
    assert {a[0] for a in shifted.arrays} == {"f", "g"} and "at the sizes" not in shifted.description
    with pytest.raises(TypeError, match=r"Theorem test\.c: coordinates must be a function"):
        Identity("test.c", "t", inputs=lambda: {}, lhs=len, rhs=len, family=[{}], coordinates=3)


def test_general_witness_names_sizes_and_positions():
    th = General("test.false", "t", "", expected="refuted", lhs=D.conv1d(x, w1, k1, i),
                 rhs=D.conv1d(x, w1, k1 + 1, i), derivation=[Unfold("conv1d")])
    v = th.prove()
    assert v.verdict == "refuted"
    w = v.witness
    assert w.sizes == (("k_{1}", "1"),) and w.where == "i = 0"
    assert w.description.startswith("At $k_{1} = 1$ and $i = 0$, with $")
    assert "the left side is 0 and the right side is 1" in w.description and w.reason
