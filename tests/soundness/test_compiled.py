"""The claim check's compiled evaluation (``convsym.proof.claim.Denoter``): false claims whose two
sides differ only through a construct the compiler decides itself (floor and ceiling bounds,
``Max``/``Min`` bounds, ``Mod`` and relational conditions, a bound of an inner sum) are refuted,
and the compiler itself, not its SymPy fallback, sees the difference; a construct outside the
compiler (a ``Piecewise`` summand) is declined and refuted by the fallback.

Each claim's derivation is one harmless step (linearity): the claim check, which runs before
the derivation, must reject the claim.  Each witness is re-evaluated
here with plain Python loops.
"""

from __future__ import annotations

import sympy
from _support import Sig, assert_refuted, general, sums, term, witness_signals
from sympy import Eq, IndexedBase, Mod, Piecewise, ceiling, floor

from convsym.proof.claim import Denoter
from convsym.symbolic.rules import Distribute
from convsym.symbolic.sums import index
from convsym.symbolic.symbols import sizes

(k,) = sizes("k")
a, b = index("a b")
x, y = (IndexedBase(n) for n in ("x", "y"))


def _sides_differ_compiled(v, lhs, rhs) -> None:
    """At the witness's sizes the compiler evaluates both sides (no fallback) and they differ."""
    env = {k: sympy.Integer(v.witness.data["sizes"]["k"])}
    denoter = Denoter()
    left, right = denoter.poly(lhs, env), denoter.poly(rhs, env)
    assert left is not None and right is not None, denoter.unsupported
    assert left != right


def _refuted(name, lhs, rhs, recheck) -> dict:
    v = general(name, lhs=lhs, rhs=rhs, derivation=[Distribute()]).prove()
    data = assert_refuted(v, recheck)
    _sides_differ_compiled(v, lhs, rhs)
    return data


def _signals(data):
    sig, _ = witness_signals(data["inputs"])
    return sig.get("x", Sig()), sig.get("y", Sig()), data["sizes"]["k"]


def test_a_floor_bound_is_not_a_ceiling_bound():
    lhs = sums(term(x[a], (a, 0, floor(k / 2))))
    rhs = sums(term(x[a], (a, 0, ceiling(k / 2))))

    def recheck(data):
        xs, _, kk = _signals(data)
        return sum(xs[p] for p in range(kk // 2 + 1)), sum(xs[p] for p in range(-(-kk // 2) + 1))

    assert _refuted("compiled-floor-ceiling", lhs, rhs, recheck)["sizes"]["k"] % 2 == 1


def test_a_max_lower_bound_is_not_its_second_argument():
    lhs = sums(term(x[a], ((a, (0, k - 2), k - 1))))
    rhs = sums(term(x[a], (a, k - 2, k - 1)))

    def recheck(data):
        xs, _, kk = _signals(data)
        return sum(xs[p] for p in range(max(0, kk - 2), kk)), sum(xs[p] for p in range(kk - 2, kk))

    assert _refuted("compiled-max-lower", lhs, rhs, recheck)["sizes"]["k"] == 1


def test_a_min_upper_bound_is_not_its_constant():
    lhs = sums(term(x[a], (a, 0, (k - 1, 1))))
    rhs = sums(term(x[a], (a, 0, 1)))

    def recheck(data):
        xs, _, kk = _signals(data)
        return sum(xs[p] for p in range(min(kk - 1, 1) + 1)), sum(xs[p] for p in range(2))

    assert _refuted("compiled-min-upper", lhs, rhs, recheck)["sizes"]["k"] == 1


def test_even_entries_are_not_odd_entries():
    lhs = sums(term(x[a], (a, 0, k - 1), where=(Eq(Mod(a, 2), 0),)))
    rhs = sums(term(x[a], (a, 0, k - 1), where=(Eq(Mod(a + 1, 2), 0),)))

    def recheck(data):
        xs, _, kk = _signals(data)
        return sum(xs[p] for p in range(kk) if p % 2 == 0), sum(xs[p] for p in range(kk) if (p + 1) % 2 == 0)

    _refuted("compiled-mod-condition", lhs, rhs, recheck)


def test_a_strict_condition_is_not_a_weak_one():
    lhs = sums(term(x[a], (a, 0, k - 1), where=(a < k - 1,)))
    rhs = sums(term(x[a], (a, 0, k - 1), where=(a <= k - 1,)))

    def recheck(data):
        xs, _, kk = _signals(data)
        return sum(xs[p] for p in range(kk) if p < kk - 1), sum(xs[p] for p in range(kk))

    _refuted("compiled-strict-condition", lhs, rhs, recheck)


def test_a_piecewise_weight_is_not_one_and_the_fallback_refutes_it():
    # a Piecewise summand is outside the compiler: it declines, and the SymPy denotation decides
    lhs = sums(term(Piecewise((1, a < 1), (2, True)) * x[a], (a, 0, k - 1)))
    rhs = sums(term(x[a], (a, 0, k - 1)))

    def recheck(data):
        xs, _, kk = _signals(data)
        return sum((1 if p < 1 else 2) * xs[p] for p in range(kk)), sum(xs[p] for p in range(kk))

    v = general("compiled-piecewise", lhs=lhs, rhs=rhs, derivation=[Distribute()]).prove()
    assert assert_refuted(v, recheck)["sizes"]["k"] == 2
    denoter = Denoter()
    assert denoter.poly(lhs, {k: sympy.Integer(2)}) is None
    assert "Piecewise" in str(denoter.unsupported)


def test_an_inner_bound_off_by_one():
    lhs = sums(term(x[a] * y[b], (a, 0, k - 1), (b, 0, a)))
    rhs = sums(term(x[a] * y[b], (a, 0, k - 1), (b, 0, a - 1)))

    def recheck(data):
        xs, ys, kk = _signals(data)
        return (sum(xs[p] * ys[q] for p in range(kk) for q in range(p + 1)),
                sum(xs[p] * ys[q] for p in range(kk) for q in range(p)))

    _refuted("compiled-inner-bound", lhs, rhs, recheck)
