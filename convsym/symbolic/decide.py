"""Decision procedure for the integer side conditions of index-sum rewrites (z3).

A rewrite such as "substitute ``t = a + b``" or "exchange the two sums" is valid exactly when two
sets of integer points are equal (or in bijection).  The sets are conjunctions of linear
inequalities in the indices whose coefficients may be size symbols (``k_1``, ``s_1``...).  We ask
z3 for a point that lies in one set but not the other, for *any* sizes satisfying the
hypotheses; ``unsat`` is a proof for all sizes, a model is a concrete counterexample.
Linear integer arithmetic is decidable; conditions with products of symbols (strides times
indices) are non-linear, where z3 may answer ``unknown``: that is reported as undecided, never as
proved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sympy
import z3

TIMEOUT_MS = 20_000


@dataclass(frozen=True)
class Decision:
    """The answer to one side condition: ``holds`` with the way it was decided, or a counterexample."""

    holds: bool
    how: str
    counterexample: dict[str, int] | None = None


class _Translator:
    def __init__(self) -> None:
        self.vars: dict[sympy.Symbol, z3.ArithRef] = {}

    def var(self, s: sympy.Symbol) -> z3.ArithRef:
        if s not in self.vars:
            for other in self.vars:
                if str(other) == str(s):
                    # z3 names its variables by string: two SymPy symbols with one name would merge
                    raise ValueError(
                        f"decide: two different symbols are named {s} ({other.assumptions0} and "
                        f"{s.assumptions0}); rename one of them"
                    )
            if s.is_integer is False or (s.is_integer is None and not isinstance(s, sympy.Dummy)):
                raise ValueError(f"decide: {s} is not declared integer; index conditions are over the integers")
            self.vars[s] = z3.Int(str(s))
        return self.vars[s]

    def __call__(self, e):
        e = sympy.sympify(e)
        if isinstance(e, sympy.Symbol):
            return self.var(e)
        if e.is_Integer:
            return z3.IntVal(int(e))
        if e.is_Rational:
            raise ValueError(f"decide: non-integer constant {e} in an index condition")
        if isinstance(e, sympy.Add):
            return z3.Sum([self(a) for a in e.args])
        if isinstance(e, sympy.Mul):
            out = self(e.args[0])
            for a in e.args[1:]:
                out = out * self(a)
            return out
        if isinstance(e, sympy.Pow) and e.exp.is_Integer and int(e.exp) >= 1:
            base = self(e.base)
            out = base
            for _ in range(int(e.exp) - 1):
                out = out * base
            return out
        if isinstance(e, sympy.Max):
            args = [self(a) for a in e.args]
            out = args[0]
            for a in args[1:]:
                out = z3.If(out >= a, out, a)
            return out
        if isinstance(e, sympy.Min):
            args = [self(a) for a in e.args]
            out = args[0]
            for a in args[1:]:
                out = z3.If(out <= a, out, a)
            return out
        if isinstance(e, sympy.Ge):
            return self(e.lhs) >= self(e.rhs)
        if isinstance(e, sympy.Gt):
            return self(e.lhs) > self(e.rhs)
        if isinstance(e, sympy.Le):
            return self(e.lhs) <= self(e.rhs)
        if isinstance(e, sympy.Lt):
            return self(e.lhs) < self(e.rhs)
        if isinstance(e, sympy.Eq):
            return self(e.lhs) == self(e.rhs)
        if isinstance(e, sympy.Ne):
            return self(e.lhs) != self(e.rhs)
        if isinstance(e, sympy.And):
            return z3.And([self(a) for a in e.args])
        if isinstance(e, sympy.Or):
            return z3.Or([self(a) for a in e.args])
        if isinstance(e, sympy.Not):
            return z3.Not(self(e.args[0]))
        if e is sympy.true:
            return z3.BoolVal(True)
        if e is sympy.false:
            return z3.BoolVal(False)
        raise ValueError(f"decide: cannot translate {e!r} ({type(e).__name__}) to integer arithmetic")


def _size_assumptions(tr: _Translator, exprs: Iterable, bound: Iterable = ()) -> list:
    """Positive-integer symbols (sizes, strides) get ``>= 1``; nonnegative ones ``>= 0``.

    Summation indices (``bound``) get nothing: a bound index ranges over what its range says,
    whatever assumptions its symbol was created with.
    """
    out = []
    syms: set[sympy.Symbol] = set()
    for e in exprs:
        syms |= sympy.sympify(e).free_symbols
    syms -= set(bound)
    for s in sorted(syms, key=sympy.default_sort_key):
        if s.is_positive:
            out.append(tr.var(s) >= 1)
        elif s.is_nonnegative:
            out.append(tr.var(s) >= 0)
        if s.is_negative:
            out.append(tr.var(s) <= -1)
        elif s.is_nonpositive:
            out.append(tr.var(s) <= 0)
        if s.is_even:
            out.append(tr.var(s) % 2 == 0)
        elif s.is_odd:
            out.append(tr.var(s) % 2 == 1)
    return out


def _solve(goal_negation, hypotheses, tr: _Translator) -> Decision:
    solver = z3.Solver()
    solver.set("timeout", TIMEOUT_MS)
    solver.add(*hypotheses)
    solver.add(goal_negation)
    res = solver.check()
    # the version is left out on purpose: generated/ must not change with the solver's release
    if res == z3.unsat:
        return Decision(True, "z3: no counterexample exists (unsat)")
    if res == z3.sat:
        m = solver.model()
        cex = {
            str(s): m.eval(v, model_completion=True).as_long()
            for s, v in sorted(tr.vars.items(), key=lambda kv: str(kv[0]))
        }
        return Decision(False, "z3: counterexample", cex)
    return Decision(False, f"z3: undecided ({solver.reason_unknown()})")


def equivalent(a: Iterable, b: Iterable, hypotheses: Iterable = (), bound: Iterable = ()) -> Decision:
    """Decide ``hypotheses => (AND a <=> AND b)`` for all integer values of every symbol.

    ``bound`` lists summation indices, which get no size assumption (see ``_size_assumptions``).
    """
    a, b, hypotheses = list(a), list(b), list(hypotheses)
    tr = _Translator()
    try:
        za = z3.And([tr(c) for c in a]) if a else z3.BoolVal(True)
        zb = z3.And([tr(c) for c in b]) if b else z3.BoolVal(True)
        hyps = [tr(h) for h in hypotheses] + _size_assumptions(tr, a + b + hypotheses, bound)
    except ValueError as exc:
        return Decision(False, f"not decided: {exc}")
    return _solve(za != zb, hyps, tr)


def implies(hypotheses: Iterable, goal: Iterable, bound: Iterable = ()) -> Decision:
    """Decide ``AND hypotheses => AND goal`` for all integer values of every symbol.

    ``bound`` lists summation indices, which get no size assumption.
    """
    hypotheses, goal = list(hypotheses), list(goal)
    tr = _Translator()
    try:
        zg = z3.And([tr(c) for c in goal]) if goal else z3.BoolVal(True)
        hyps = [tr(h) for h in hypotheses] + _size_assumptions(tr, hypotheses + goal, bound)
    except ValueError as exc:
        return Decision(False, f"not decided: {exc}")
    return _solve(z3.Not(zg), hyps, tr)


def satisfiable(conditions: Iterable) -> Decision:
    """Decide whether some integer values (sizes positive as declared) satisfy every condition;
    ``holds`` with a model in ``counterexample`` (here: an example), or not."""
    conditions = list(conditions)
    tr = _Translator()
    try:
        zc = [tr(c) for c in conditions] + _size_assumptions(tr, conditions)
    except ValueError as exc:
        return Decision(False, f"not decided: {exc}")
    solver = z3.Solver()
    solver.set("timeout", TIMEOUT_MS)
    solver.add(*zc)
    res = solver.check()
    if res == z3.sat:
        m = solver.model()
        return Decision(True, "z3: satisfiable", {
            str(s): m.eval(v, model_completion=True).as_long()
            for s, v in sorted(tr.vars.items(), key=lambda kv: str(kv[0]))})
    if res == z3.unsat:
        return Decision(False, "z3: unsatisfiable")
    return Decision(False, f"z3: undecided ({solver.reason_unknown()})")

