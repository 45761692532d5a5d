"""A Checked step prints its LaTeX when the record is read: the same text as printing it at once;
the statement (the last fact, the list of facts) is printed when the verdict is read."""

from __future__ import annotations

import sympy

from convsym.deferred import Deferred
from convsym.proof import checked
from convsym.proof.checked import Checked, Proof

n, k = sympy.symbols("n k", integer=True, positive=True)
i = sympy.Symbol("i", integer=True)


def _raw(step, name):
    return object.__getattribute__(step, name)


def test_equal_prints_when_read():
    P = Proof()
    lhs, rhs = (n + k) ** 2, n**2 + 2 * n * k + k**2
    P.equal("square", lhs, rhs)
    step = P.steps[-1]
    assert type(_raw(step, "expression")) is Deferred
    assert step.expression == f"{sympy.latex(lhs)} = {sympy.latex(rhs)}"
    assert type(_raw(step, "expression")) is str  # kept once read
    assert step.text == f"{sympy.sstr(lhs)} = {sympy.sstr(rhs)}"


def test_summation_and_z3_steps_print_as_before():
    P = Proof()
    value = P.summation("sum", i, [(i, 0, n - 1)])
    shown = sympy.Sum(i, (i, 0, n - 1))
    step = P.steps[-1]
    assert step.expression == f"{sympy.latex(shown)} = {sympy.latex(value)}"
    assert any("by the signs of the sizes" in c for c in step.checked_by)
    P.implies("bound", [i >= 0, i <= n - 1], [i <= n])
    step = P.steps[-1]
    assert step.expression == sympy.latex(i <= n)
    assert step.side_conditions == (rf"{sympy.latex(i >= 0)} \wedge {sympy.latex(i <= n - 1)} \Rightarrow "
                                    rf"{sympy.latex(i <= n)}",)


def test_statement_is_the_last_fact_printed():
    def derive(P):
        P.equal("first", (n + 1) ** 2, n**2 + 2 * n + 1)
        P.equal("last", n * (k + 1), n * k + n)

    v = Checked("t.deferred", "deferred", derive=derive).prove()
    assert v.verdict == "proved"
    for name in ("statement_latex", "statement_text", "statement_parts"):
        assert type(_raw(v, name)) is Deferred  # nothing printed while proving
    assert v.statement_latex == f"{sympy.latex(n * (k + 1))} = {sympy.latex(n * k + n)}"
    assert v.statement_text == (f"{sympy.sstr((n + 1) ** 2)} = {sympy.sstr(n**2 + 2 * n + 1)}; "
                                f"{sympy.sstr(n * (k + 1))} = {sympy.sstr(n * k + n)}")


def test_index_finds_the_first_equal_step():
    P = Proof()
    P.equal("same", n + n, 2 * n)
    P.equal("same", n + n, 2 * n)
    first, second = P.steps
    assert checked._index(P.steps, second) == P.steps.index(second) == 0
    assert checked._index(P.steps, first) == 0
