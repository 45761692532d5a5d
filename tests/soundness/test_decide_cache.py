"""decide remembers the z3 translation of each expression: a remembered translation is checked as
a new one is (its symbols registered, names compared, integrality required)."""

import pytest
import sympy

from convsym.symbolic import decide

i = sympy.Symbol("i", integer=True)
k = sympy.Symbol("k", integer=True, positive=True)


def test_a_remembered_translation_registers_its_symbols():
    cond = sympy.Le(i + 2 * k, 7)
    first = decide._Translator()
    z_first = first(cond)
    second = decide._Translator()
    z_second = second(cond)
    assert cond in decide._TRANSLATED
    assert z_first.eq(z_second)
    assert set(second.vars) == {i, k}
    # a model reads every variable of the formula, so a counterexample names them all
    d = decide.implies([sympy.Ge(i, 0)], [cond])
    assert not d.holds and set(d.counterexample) == {"i", "k"}


def test_a_remembered_translation_still_sees_two_symbols_of_one_name():
    k_other = sympy.Symbol("k", integer=True)  # same name, other assumptions
    cond = sympy.Ge(k, 2)
    decide._Translator()(cond)  # remembered
    tr = decide._Translator()
    tr(sympy.Ge(k_other, 0))
    with pytest.raises(ValueError, match="two different symbols are named k"):
        tr(cond)
    d = decide.implies([sympy.Ge(k_other, 0)], [cond])
    assert not d.holds and "two different symbols are named k" in d.how


def test_inside_a_larger_formula_the_remembered_part_is_checked():
    x = sympy.Symbol("x")  # not integer
    part = sympy.Ge(i, 0)
    decide._Translator()(part)
    tr = decide._Translator()
    with pytest.raises(ValueError, match="x is not declared integer"):
        tr(sympy.And(part, sympy.Ge(x, 0)))
    # the symbols met before the error are registered, as without the cache
    assert i in tr.vars


def test_answers_are_unchanged_by_remembering():
    a = [sympy.Ge(i, 0), sympy.Le(i, k - 1)]
    b = [sympy.Ge(i, 0), sympy.Lt(i, k)]
    first = decide.equivalent(a, b)
    again = decide.equivalent(a, b)
    assert first.holds and again.holds and first == again
    wrong = decide.equivalent(a, [sympy.Ge(i, 0), sympy.Le(i, k)])
    assert not wrong.holds and wrong.counterexample["i"] == wrong.counterexample["k"]
