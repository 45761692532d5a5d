"""A rewrite rule the equivalences family needs beyond :mod:`convsym.rules`.

``Collapse``  a summation index that its domain pins to one value is replaced by that value:
              ``sum_{s in D} f(s, ...) = f(e, ...)`` restricted to the points where ``s = e``
              lies in ``D``.  It removes the singleton sums of a ``1 x 1`` kernel and the index
              fixed by an equation ``a + b = t`` (the coefficient of ``z^t`` in a product of
              polynomials).

Like every rule it checks itself: the side condition "the domain forces ``s = e``" is decided by
z3 for all sizes, and the conditions the removed range imposed are kept (substituted) as
conditions on the remaining indices, so the set of points summed over does not change.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy
from sympy import Expr

from . import decide
from .errors import ProofError
from .rules import Context, Outcome, Rule, _latex_conds
from .sums import SumExpr, Term

__all__ = ["Collapse"]


@dataclass
class Collapse(Rule):
    """Eliminate the summation index ``index``, which the term's domain forces to equal ``value``.

    ``value`` may mention sizes and other indices of the term (not ``index``).  Checked: the
    domain implies ``index = value`` (z3, for all sizes).  The rewritten term sums over the other
    indices; the conditions of the eliminated range and of the ``where`` list, with ``value``
    substituted, stay as ``where`` conditions (the ones that become ``True`` are dropped), so the
    summed points correspond one to one.
    """

    index: str
    value: Expr
    name = "collapse"

    def describe(self) -> str:
        return f"the domain fixes {self.index} = {sympy.sstr(self.value)}: drop its sum"

    def apply(self, expr: SumExpr, ctx: Context) -> Outcome:
        out = list(expr.terms)
        conds, how = [], []
        hit = False
        for k, term in enumerate(expr.terms):
            known = {str(i): i for i in term.indices}
            if self.index not in known or term.inner is not None:
                continue
            hit = True
            s = known[self.index]
            value = sympy.sympify(self.value)
            rename = {sym: known[str(sym)] for sym in value.free_symbols if str(sym) in known}
            value = value.xreplace(rename)
            if value.has(s):
                raise ProofError(f"the value {value} of {self.index} must not mention {self.index}")
            domain = list(term.domain())
            d = decide.implies(domain + list(ctx.hypotheses), [sympy.Eq(s, value)])
            if not d.holds:
                raise ProofError(
                    f"the domain does not force {self.index} = {value}: {d.how} {d.counterexample}"
                )
            kept_ranges = tuple(r for r in term.ranges if r.index != s)
            for r in kept_ranges:
                if any(sympy.sympify(e).has(s) for e in r.lower + r.upper):
                    raise ProofError(f"the range of {r.index} depends on the collapsed index {self.index}")
            removed = next(r for r in term.ranges if r.index == s)
            where = []
            for c in list(removed.conditions()) + list(term.where):
                c2 = sympy.sympify(c).subs(s, value)
                if c2 is sympy.true:
                    continue
                if c2 is sympy.false:
                    raise ProofError(f"condition {c} is false at {self.index} = {value}")
                where.append(c2)
            out[k] = Term(sympy.expand(sympy.sympify(term.summand).subs(s, value)), kept_ranges, tuple(where))
            conds.append(rf"{_latex_conds(domain)} \implies {sympy.latex(s)} = {sympy.latex(value)}")
            how.append(d.how)
        if not hit:
            raise ProofError(f"no sum over {self.index} to collapse")
        return Outcome(SumExpr(tuple(out)), tuple(conds), tuple(how))
