"""The enumeration that re-checks a summation's closed form: the exact fast path (a polynomial in
the indices with rational coefficients, evaluated in Fractions) against substituting every term."""

from __future__ import annotations

import random

import pytest
import sympy

from convsym.proof import checked

i, j, k, n, a = sympy.symbols("i j k n a", integer=True)


def _substituted(summand, limits, env):
    def rec(level, sub):
        if level < 0:
            return sympy.sympify(summand).xreplace(sub)
        idx, lo, hi = limits[level]
        lo_v, hi_v = sympy.sympify(lo).xreplace(sub), sympy.sympify(hi).xreplace(sub)
        return sum((rec(level - 1, {**sub, idx: sympy.Integer(v)}) for v in range(int(lo_v), int(hi_v) + 1)),
                   sympy.Integer(0))

    return rec(len(limits) - 1, dict(env))


@pytest.mark.parametrize("seed", range(12))
def test_random_polynomial_sums(seed):
    rng = random.Random(seed)
    summand = sum(sympy.Rational(rng.randint(-5, 5), rng.randint(1, 4)) * i ** rng.randint(0, 3)
                  * j ** rng.randint(0, 2) * n ** rng.randint(0, 1) for _ in range(4))
    limits = [(i, 0, j + rng.randint(-1, 1)), (j, rng.randint(0, 1), n - rng.randint(0, 1))]
    env = {n: sympy.Integer(rng.randint(2, 5))}
    assert checked._enumerate(summand, limits, env) == _substituted(summand, limits, env)


def test_other_summands_are_substituted():
    limits = [(i, 1, n)]
    env = {n: sympy.Integer(4)}
    for summand in (a * i, i * sympy.floor(n / 3), sympy.Integer(2), i**2 / 7):
        assert sympy.simplify(checked._enumerate(summand, limits, env) - _substituted(summand, limits, env)) == 0
    assert checked._enumerate(i, [(i, 0, n)], {n: sympy.Integer(100)}) is None  # not small


@pytest.mark.parametrize("seed", range(12))
def test_integer_path_agrees_with_substitution(seed):
    """Bounds that depend on the outer indices (with rational coefficients), three levels."""
    rng = random.Random(100 + seed)
    summand = sum(sympy.Rational(rng.randint(-5, 5), rng.randint(1, 4)) * i ** rng.randint(0, 2)
                  * j ** rng.randint(0, 2) * k ** rng.randint(0, 1) * n ** rng.randint(0, 1) for _ in range(4))
    limits = [(i, j - rng.randint(0, 1), k + j + rng.randint(-1, 1)), (j, 0, k * rng.randint(1, 2)),
              (k, rng.randint(0, 1), n / 2 + sympy.Rational(rng.randint(0, 1), 2))]
    env = {n: sympy.Integer(rng.randint(2, 6))}
    fast, slow = checked._enumerate(summand, limits, env), checked._enumerate_substituting(summand, limits, env)
    assert fast == slow and type(fast) is type(slow)


def test_integer_path_refuses_what_substitution_refuses():
    env = {n: sympy.Integer(3)}
    assert checked._enumerate(i, [(i, 0, n / 2)], env) is None  # a bound 3/2 is not an integer
    assert checked._enumerate(i, [(i, n, 0)], env) is None  # runs backwards
    assert checked._enumerate(i, [(i, 0, j), (j, 0, 60 * n)], env) is None  # too long
    assert checked._enumerate(i * j, [(i, 0, n - 1), (j, 0, n - 1)], env) == 9
    assert checked._enumerate(i, [(i, n + 1, n)], env) == 0  # empty
