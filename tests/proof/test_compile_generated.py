"""The generated integer evaluators of convsym.symbolic.compile agree with the closure evaluators
(and with SymPy) on random points, report a missing value the same way, and leave every other
expression to the closures."""

import random

import pytest
import sympy

from convsym.symbolic import compile as K

a, b, c = sympy.symbols("a b c", integer=True)
n = sympy.Symbol("n", integer=True, positive=True)

NUMBERS = [
    a + 2 * b - 3,
    (a - b) * (c + 1) - n**2,
    sympy.Max(a, b - 1, -c),
    sympy.Min(a * b, 4) + sympy.Abs(c - n),
    (a + b) ** 3 - 7 * a * b * c,
]
CONDITIONS = [
    sympy.Le(a + b, n),
    sympy.Eq(2 * a - b, c),
    sympy.Ne(a * b, 0),
    sympy.And(sympy.Ge(a, 0), sympy.Lt(a, n)),
    sympy.Or(sympy.Gt(b, c), sympy.Not(sympy.Eq(a, 1))),
]


@pytest.mark.parametrize("e", NUMBERS, ids=str)
def test_generated_numbers_agree_with_the_closures_and_sympy(e):
    fast = K.compile_number(e)
    assert fast.__name__ == "_number"  # the generated kind
    tree = K._number_tree(e)
    rng = random.Random(str(e))
    for _ in range(200):
        env = {a: rng.randint(-9, 9), b: rng.randint(-9, 9), c: rng.randint(-9, 9), n: rng.randint(1, 9)}
        value = fast(env)
        assert type(value) is int
        assert value == tree(env) == int(e.xreplace({k: sympy.Integer(v) for k, v in env.items()}))


@pytest.mark.parametrize("cond", CONDITIONS, ids=str)
def test_generated_conditions_agree_with_the_closures_and_sympy(cond):
    fast = K.compile_bool(cond)
    assert fast.__name__ == "_condition"
    tree = K._bool_tree(cond)
    rng = random.Random(str(cond))
    for _ in range(200):
        env = {a: rng.randint(-3, 3), b: rng.randint(-3, 3), c: rng.randint(-3, 3), n: rng.randint(1, 4)}
        expected = bool(cond.xreplace({k: sympy.Integer(v) for k, v in env.items()}))
        assert fast(env) is expected and tree(env) is expected


def test_a_missing_value_is_unsupported_with_its_name():
    with pytest.raises(K.Unsupported, match="^c has no value$"):
        K.compile_number(a + 2 * c)({a: 1})
    with pytest.raises(K.Unsupported, match="^n has no value$"):
        K.compile_bool(sympy.Le(a, n))({a: 1})


def test_rationals_floors_and_mods_stay_with_the_closures():
    for e in (a / 2 + b, sympy.floor((a - b) / n), sympy.Mod(a, n) + 1):
        f = K.compile_number(e)
        assert f.__name__ != "_number"
    half = K.compile_number(a / 2 + b)
    assert half({a: 3, b: 1}) == sympy.Rational(5, 2)
    assert K.compile_number(sympy.floor((a - b) / n))({a: 7, b: 0, n: 2}) == 3


def test_equal_expressions_share_one_evaluator_and_symbols_keep_their_assumptions():
    assert K.compile_number(a + 2 * b) is K.compile_number(a + 2 * b)
    a_pos = sympy.Symbol("a", integer=True, positive=True)
    f = K.compile_number(a_pos + 2 * b)
    with pytest.raises(K.Unsupported, match="a has no value"):
        f({a: 1, b: 1})  # the other a: a different symbol
    assert f({a_pos: 1, b: 1}) == 3
