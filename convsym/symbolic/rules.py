"""Rewrite rules of a general derivation: each is a named object that checks itself.

A rule takes the current :class:`~convsym.symbolic.sums.SumExpr` and returns the rewritten one plus the
side conditions it needed and how each was discharged.  A rule that cannot justify its rewrite
raises :class:`~convsym.errors.ProofError`; it never rewrites on trust.  (After every rule the
proof also re-evaluates both expressions on exact instances: see ``convsym.proof``.)

The rules, in the order a convolution derivation usually needs them:

``Unfold``      replace an operation (or an intermediate signal) by its definition;
``Distribute``  linearity: ``sum_R c (sum_D f + g) = sum_{R,D} c f + sum_R c g``;
``Reorder``     exchange of sums: the same integer points, iterated in another order;
``Substitute``  change of index ``old = +-new + shift``, with the new ranges;
``GroupBy``     partition a sum by the value ``t`` of an index expression (strides, dilations);
``Fold``        recognise a (partial) sum as the definition of an operation and name it;
``Name``        name an expression (or a factor of a product) by an intermediate definition;
``Collapse``    drop the sum of an index that the domain pins to one value;
``Restate``     replace the conditions of a sum by equivalent ones (the same points).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import sympy
from sympy import Expr, Indexed, Symbol

from convsym.deferred import Deferred
from convsym.errors import ProofError
from convsym.symbolic import decide
from convsym.symbolic.printing import latex as book_latex
from convsym.symbolic.sums import App, Let, Range, SumExpr, Term, instantiate, labels, rename_term, term_symbols


@dataclass
class Context:
    """What a rule may use: intermediate definitions and hypotheses on sizes/positions."""

    lets: tuple[Let, ...] = ()
    hypotheses: tuple = ()


@dataclass(frozen=True)
class Outcome:
    """What a rule returns: the rewritten expression, the side conditions it needed (LaTeX; each
    may be a :class:`~convsym.deferred.Deferred`, printed when the step record is read) and how
    each was discharged."""

    expr: SumExpr
    side_conditions: tuple[str, ...] = ()
    checked_by: tuple[str, ...] = ()


def _index_latex(name) -> str:
    """A summation index by its name (``a_h``) as LaTeX (``a_{h}``)."""
    return book_latex(Symbol(str(name)))


def _operations(cls=App):
    for sub in cls.__subclasses__():
        yield sub
        yield from _operations(sub)


def _target_words(target: str) -> str:
    """What :class:`Unfold` writes out, in the book's notation: an operation by the left side of
    its definition (``$(x \\star_{s,d} w)_i$``, the head of its ``doc``), an intermediate signal by
    its name (``$h$``)."""
    op = next((sub.op for sub in _operations() if sub.op.name == target), None)
    if op is None:
        return f"${target}$"
    head = op.doc.split(" = ", 1)[0].strip()
    return f"${head}$" if head and head != op.doc.strip() else "the operation"


def _latex_conds(conds) -> str:
    return r" \wedge ".join(sympy.latex(c) for c in conds) if conds else r"\mathrm{true}"


# the side conditions as the book prints them: computed when first read (printing is slow, and no
# verdict depends on it)

def _same_points(a, b, given=()) -> str:
    out = rf"\{{{_latex_conds(a)}\}} = \{{{_latex_conds(b)}\}}"
    return out + (rf" \text{{ for }} {_latex_conds(given)}" if given else "")


def _bijection(old, value, before, after) -> str:
    return (rf"{sympy.latex(old)} = {sympy.latex(value)}\colon\ "
            rf"\{{{_latex_conds(before)}\}} \leftrightarrow \{{{_latex_conds(after)}\}}")


def _between(lower, value, upper, domain) -> str:
    return (rf"{sympy.latex(lower)} \le {sympy.latex(value)} \le {sympy.latex(upper)}"
            rf" \text{{ on }} \{{{_latex_conds(domain)}\}}")


def _forces(used, index, value) -> str:
    return rf"{_latex_conds(used)} \implies {sympy.latex(index)} = {sympy.latex(value)}"


_term_symbols = term_symbols


def _linear_coefficient(summand: Expr, atom) -> Expr:
    """``c`` with ``summand == c * atom`` and ``c`` free of ``atom``; ProofError otherwise."""
    poly = sympy.expand(summand)
    c = sympy.expand(poly.coeff(atom, 1))
    rest = sympy.expand(poly - c * atom)
    if rest != 0 or c.has(atom):
        raise ProofError(f"{atom} does not occur as a single linear factor of {summand}")
    return c


def _split_additive(summand: Expr, pred) -> tuple[list[Expr], Expr]:
    """Additive parts of ``summand`` that satisfy ``pred`` and the sum of the others."""
    parts = sympy.Add.make_args(sympy.expand(summand))
    hit = [p for p in parts if pred(p)]
    rest = sympy.Add(*[p for p in parts if not pred(p)])
    return hit, rest


def _expand_indices(e: Expr) -> Expr:
    """``e`` expanded, the index expressions of its signal entries too (``x[s(b + i) - s b]`` is
    ``x[s i]``): :func:`sympy.expand` leaves them as they are."""
    e = sympy.sympify(e)
    entries = {q: q.base[tuple(sympy.expand(i) for i in q.indices)] for q in e.atoms(Indexed)}
    return sympy.expand(e.xreplace(entries))


class Rule:
    name = "rule"

    def describe(self) -> str:  # pragma: no cover - every rule overrides
        raise NotImplementedError

    def apply(self, expr: SumExpr, ctx: Context) -> Outcome:  # pragma: no cover
        raise NotImplementedError


@dataclass
class Unfold(Rule):
    """Replace every application of ``target`` (an operation name or an intermediate signal) by
    its definition.  A one-term definition merges into the host sum (its bound indices are fresh);
    a definition of several terms stays in parentheses for :class:`Distribute`."""

    target: str
    indices: tuple[str, ...] = ()
    name = "definition"

    def describe(self) -> str:
        return f"write out the definition of {_target_words(self.target)}"

    def _matches(self, atom, ctx: Context) -> bool:
        if isinstance(atom, App):
            return atom.op.name == self.target
        if isinstance(atom, Indexed):
            return str(atom.base.label) == self.target and any(
                let.base == atom.base for let in ctx.lets
            )
        return False

    def _body(self, atom, ctx: Context, avoid: set[Symbol]) -> SumExpr:
        if isinstance(atom, App):
            return atom.unfold(avoid)
        let = next(let for let in ctx.lets if let.base == atom.base)
        return instantiate(let.body, atom.indices, avoid)

    def _rename(self, body: SumExpr, avoid: set[Symbol]) -> SumExpr:
        """Give the definition's bound indices the names in ``indices`` (in range order); each
        name must be fresh: not a symbol of the host term or of the application."""
        if not self.indices:
            return body
        bound = []
        for t in body.terms:
            bound.extend(r.index for r in t.ranges if r.index not in bound)
        if len(bound) != len(self.indices):
            raise ProofError(
                f"{self.target} binds {len(bound)} indices ({', '.join(map(str, bound))}), "
                f"but {len(self.indices)} names were given"
            )
        taken = {str(s) for s in avoid}
        if len(set(self.indices)) != len(self.indices):
            raise ProofError(f"the index names {self.indices} for {self.target} are not distinct")
        for new in self.indices:
            if new in taken:
                raise ProofError(
                    f"index name {new!r} for {self.target} is not fresh: it already occurs in the term or in "
                    "the arguments of the application"
                )
        mapping = {old: Symbol(new, integer=True) for old, new in zip(bound, self.indices, strict=False)}
        return SumExpr(tuple(rename_term(t, mapping) for t in body.terms))

    def apply(self, expr: SumExpr, ctx: Context) -> Outcome:
        out: list[Term] = []
        found = False
        for term in expr.terms:
            # expanded first: expansion also rewrites the arguments of an application, and the
            # applications must be found in the form the additive parts below have
            summand = sympy.expand(sympy.sympify(term.summand))
            atoms = sorted(
                [a for a in summand.atoms(App, Indexed) if self._matches(a, ctx)],
                key=sympy.default_sort_key,
            )
            if not atoms:
                out.append(term)
                continue
            if term.inner is not None:
                raise ProofError(
                    f"cannot unfold {self.target} inside a term that still has parentheses; distribute first"
                )
            found = True
            rest = summand
            for atom in atoms:
                hit, rest = _split_additive(rest, lambda p, a=atom: p.has(a))
                if not hit:
                    raise ProofError(f"{sympy.sstr(atom)} occurs in no additive part of {sympy.sstr(summand)}")
                for part in hit:
                    coeff = _linear_coefficient(part, atom)
                    host_syms = _term_symbols(Term(coeff, term.ranges, term.where)) | (atom.free_symbols - labels(atom))
                    body = self._rename(self._body(atom, ctx, host_syms), host_syms)
                    for bt in body.terms:
                        clash = {r.index for r in bt.ranges} & host_syms
                        if clash:
                            raise ProofError(
                                f"bound index {sorted(map(str, clash))} of {self.target} clashes with the host sum"
                            )
                    if len(body.terms) == 1:
                        bt = body.terms[0]
                        out.append(Term(coeff * bt.summand, term.ranges + bt.ranges,
                                        term.where + bt.where, bt.inner))
                    else:
                        out.append(Term(coeff, term.ranges, term.where, body))
            if rest != 0:
                out.append(Term(rest, term.ranges, term.where))
        if not found:
            raise ProofError(f"no application of {self.target} to unfold")
        return Outcome(SumExpr(tuple(out)), (), ("by definition",))


@dataclass
class Distribute(Rule):
    """Linearity: a factor distributes over a parenthesised sum and nested sums merge."""

    name = "linearity"

    def describe(self) -> str:
        return "distribute over the parenthesised sum (linearity) and merge nested sums"

    def apply(self, expr: SumExpr, ctx: Context) -> Outcome:
        out: list[Term] = []
        found = False
        for term in expr.terms:
            if term.inner is None:
                out.append(term)
                continue
            found = True
            outer = {r.index for r in term.ranges}
            factor_syms = sympy.sympify(term.summand).free_symbols - labels(term.summand)
            for w in term.where:
                factor_syms |= sympy.sympify(w).free_symbols
            for it in term.inner.terms:
                clash = {r.index for r in it.ranges} & outer
                if clash:
                    raise ProofError(f"inner index {sorted(map(str, clash))} is also an outer index")
                captured = {str(r.index) for r in it.ranges} & {str(s) for s in factor_syms}
                if captured:
                    raise ProofError(
                        f"inner index {sorted(captured)} occurs in the factor outside the parentheses; "
                        "distributing would capture it"
                    )
                out.append(Term(sympy.expand(term.summand * it.summand), term.ranges + it.ranges,
                                term.where + it.where, it.inner))
        if not found:
            raise ProofError("nothing to distribute")
        return Outcome(SumExpr(tuple(out)), (), ("ring axioms (distributivity); finite sums",))


def _parse_ranges(spec: Sequence[tuple[str, object, object]], known: Mapping[str, Symbol]) -> tuple[Range, ...]:
    ranges = []
    for name, lo, hi in spec:
        if name not in known:
            raise ProofError(f"range for unknown index {name!r}")
        ranges.append(Range.of(known[name], lo, hi))
    return tuple(ranges)



@dataclass
class Reorder(Rule):
    """Exchange of sums: iterate the same set of integer points with new iterated ranges.

    ``ranges`` lists ``(index, lower, upper)`` outermost first (``lower``/``upper`` may be tuples
    meaning max/min).  Applies to every term whose indices are exactly these; the side condition
    is the equality of the two point sets, for all sizes, decided by z3.
    """

    ranges: Sequence[tuple]
    name = "exchange of sums"

    def describe(self) -> str:
        order = ", ".join(_index_latex(r[0]) for r in self.ranges)
        return f"exchange the order of summation: ${order}$, outermost first"

    def apply(self, expr: SumExpr, ctx: Context) -> Outcome:
        names = {r[0] for r in self.ranges}
        out = list(expr.terms)
        conds, how = [], []
        hit = False
        for k, term in enumerate(expr.terms):
            if {str(i) for i in term.indices} != names:
                continue
            hit = True
            known = {str(i): i for i in term.indices}
            new_ranges = _parse_ranges(self.ranges, known)
            new = Term(term.summand, new_ranges, term.where, term.inner)
            d = decide.equivalent(term.domain(), new.domain(), ctx.hypotheses, bound=term.indices)
            cond = Deferred(partial(_same_points, tuple(term.domain()), tuple(new.domain())))
            if not d.holds:
                raise ProofError(f"the reordered ranges are not the same set of points: {d.how} {d.counterexample}")
            conds.append(cond)
            how.append(d.how)
            out[k] = new
        if not hit:
            raise ProofError(f"no sum over exactly the indices {sorted(names)}")
        return Outcome(SumExpr(tuple(out)), tuple(conds), tuple(how))


@dataclass
class Substitute(Rule):
    """Change of summation index ``old = value`` where ``value = +-new + (terms free of new)``.

    The map is a bijection of the integers for fixed other indices (its coefficient on ``new``
    is +-1, checked); the new ``ranges`` (outermost first, covering all indices of the term)
    must describe exactly the image of the old domain: decided by z3 for all sizes.
    """

    old: str
    new: str
    value: Expr
    ranges: Sequence[tuple]
    name = "substitution"

    def describe(self) -> str:
        return f"substitute ${_index_latex(self.old)} = {book_latex(self.value)}$"

    def apply(self, expr: SumExpr, ctx: Context) -> Outcome:
        out = list(expr.terms)
        conds, how = [], []
        hit = False
        for k, term in enumerate(expr.terms):
            known = {str(i): i for i in term.indices}
            wanted = ({str(r[0]) for r in self.ranges} - {self.new}) | {self.old}
            if self.old not in known or set(known) != wanted:
                continue
            hit = True
            old_sym = known[self.old]
            value = sympy.sympify(self.value)
            new_syms = [s for s in value.free_symbols if str(s) == self.new]
            if len(new_syms) != 1:
                raise ProofError(f"value {value} must mention the new index {self.new}")
            new_sym = new_syms[0]
            if str(new_sym) in {str(q) for q in _term_symbols(term)} - {self.old}:
                raise ProofError(
                    f"the new index {self.new} is not fresh: it already occurs in the sum it would be bound in"
                )
            coeff = sympy.expand(value).coeff(new_sym, 1)
            shift = sympy.expand(value - coeff * new_sym)
            if coeff not in (1, -1) or shift.has(new_sym) or shift.has(old_sym):
                raise ProofError(
                    f"{self.old} = {value} is not of the form +-{self.new} + shift, "
                    "so it is not a bijection of the integers"
                )
            others = {s: s for s in term.indices if s != old_sym}
            known_new = {str(s): s for s in others} | {self.new: new_sym}
            new_ranges = _parse_ranges(self.ranges, known_new)
            if {r.index for r in new_ranges} != set(others) | {new_sym}:
                raise ProofError("the new ranges must cover every index of the sum exactly once")
            new_term = Term(
                sympy.expand(sympy.sympify(term.summand).subs(old_sym, value)),
                new_ranges,
                tuple(sympy.sympify(w).subs(old_sym, value) for w in term.where),
                None if term.inner is None else SumExpr(
                    tuple(rename_term(t, {old_sym: value}) for t in term.inner.terms)),
            )
            old_domain_in_new = [sympy.sympify(c).subs(old_sym, value) for c in term.domain()]
            d = decide.equivalent(old_domain_in_new, new_term.domain(), ctx.hypotheses,
                                  bound=(old_sym, *new_term.indices))
            if not d.holds:
                raise ProofError(
                    f"the new ranges are not the image of the old domain under {self.old} = {value}: "
                    f"{d.how} {d.counterexample}"
                )
            conds.append(Deferred(partial(_bijection, old_sym, value, tuple(term.domain()),
                                          tuple(new_term.domain()))))
            how.append(f"coefficient {coeff} on {self.new}: bijection of the integers; ranges: {d.how}")
            out[k] = new_term
        if not hit:
            wanted = sorted(({str(r[0]) for r in self.ranges} - {self.new}) | {self.old})
            raise ProofError(f"no sum over exactly the indices {wanted}")
        return Outcome(SumExpr(tuple(out)), tuple(conds), tuple(how))


@dataclass
class GroupBy(Rule):
    """Partition a sum by the value of an index expression:

    ``sum_{p in D} f(p) = sum_{t=lo}^{hi} sum_{p in D, value(p) = t} f(p)``, valid when every
    ``p`` in ``D`` has ``lo <= value(p) <= hi`` (decided by z3).  ``summand`` is the new summand,
    which may use ``t`` in place of ``value``; it must agree with the old one wherever
    ``value(p) = t`` (checked by solving the condition for one index).
    """

    new: str
    value: Expr
    lower: Expr
    upper: Expr
    summand: Expr
    indices: tuple[str, ...]
    name = "partition by value"

    def describe(self) -> str:
        return f"group the terms by the value ${_index_latex(self.new)} = {book_latex(self.value)}$"

    def apply(self, expr: SumExpr, ctx: Context) -> Outcome:
        names = set(self.indices)
        out = list(expr.terms)
        conds, how = [], []
        hit = False
        for k, term in enumerate(expr.terms):
            if {str(i) for i in term.indices} != names:
                continue
            hit = True
            t = Symbol(self.new, integer=True)
            if self.new in {str(q) for q in _term_symbols(term)}:
                raise ProofError(f"the new index {self.new} is not fresh: it already occurs in the sum")
            value = sympy.sympify(self.value)
            bound = [sympy.Ge(value, self.lower), sympy.Le(value, self.upper)]
            d = decide.implies(list(term.domain()) + list(ctx.hypotheses), bound, bound=term.indices)
            if not d.holds:
                raise ProofError(
                    f"{self.value} leaves [{self.lower}, {self.upper}] on the domain: {d.how} {d.counterexample}"
                )
            new_summand = sympy.sympify(self.summand)
            solved = None
            expanded = sympy.expand(value)
            for s in sorted(term.indices, key=sympy.default_sort_key):
                c = expanded.coeff(s, 1)
                rest = sympy.expand(expanded - c * s)
                if c != 0 and not rest.has(s) and not c.has(s):
                    solved = (s, (t - rest) / c)  # value = c s + rest, linear in s
                    break
            if solved is None:
                raise ProofError(f"cannot solve {value} = {t} for an index")
            s, sol = solved
            diff = _expand_indices(sympy.expand((new_summand - term.summand).subs(s, sol)))
            if diff != 0:
                diff = sympy.simplify(diff)
            if diff != 0:
                raise ProofError(f"the new summand {new_summand} differs from {term.summand} where {value} = {t}")
            new_term = Term(
                new_summand,
                (Range.of(t, self.lower, self.upper),) + term.ranges,
                term.where + (sympy.Eq(value, t),),
                term.inner,
            )
            conds.append(Deferred(partial(_between, self.lower, value, self.upper, tuple(term.domain()))))
            how.append(d.how)
            out[k] = new_term
        if not hit:
            raise ProofError(f"no sum over exactly the indices {sorted(names)}")
        return Outcome(SumExpr(tuple(out)), tuple(conds), tuple(how))


#: an application longer than this (characters of LaTeX) is not repeated in a fold's description
FOLD_INLINE_CHARS = 110


@dataclass
class Fold(Rule):
    """Recognise the sum over the indices ``over`` as the definition of ``app`` and name it.

    Checked: the summand factors as ``g * f`` with ``f`` the definition's summand (bound indices
    renamed to ``over``) and ``g`` free of them; the conditions on ``over`` are equivalent to the
    definition's domain for every value of the remaining indices (z3); the remaining ranges do
    not depend on ``over``.
    """

    app: App
    over: tuple[str, ...]
    name = "fold"

    def describe(self) -> str:
        over = ", ".join(_index_latex(q) for q in self.over)
        app = book_latex(self.app)
        if len(app) > FOLD_INLINE_CHARS:  # too long for the line of the description: it is displayed below
            return f"the sum over ${over}$ is, by definition, the operation in the display below"
        return f"the sum over ${over}$ is, by definition, ${app}$"

    def apply(self, expr: SumExpr, ctx: Context) -> Outcome:
        arg_names = {str(q) for q in self.app.free_symbols - labels(self.app)}
        captured = set(self.over) & arg_names
        if captured:
            raise ProofError(
                f"cannot fold over {sorted(captured)}: the folded application {sympy.sstr(self.app)} mentions "
                "it as a free symbol, so naming the bound index so would capture it"
            )
        body = self.app.unfold()
        if len(body.terms) != 1 or body.terms[0].inner is not None:
            raise ProofError(f"{self.app.op.name} is not a single sum; it cannot be folded")
        dterm = body.terms[0]
        out = list(expr.terms)
        errors = []
        for k, term in enumerate(expr.terms):
            known = {str(i): i for i in term.indices}
            if not set(self.over) <= set(known) or term.inner is not None:
                continue
            over_syms = [known[n] for n in self.over]
            if len(dterm.ranges) != len(over_syms):
                raise ProofError(
                    f"{self.app.op.name} sums over {len(dterm.ranges)} indices, not {len(over_syms)}"
                )
            rename = {r.index: s for r, s in zip(dterm.ranges, over_syms, strict=False)}
            f = sympy.sympify(dterm.summand).xreplace(rename)
            g = sympy.sympify(term.summand) / f  # a product divided by its factor cancels as it is built
            if any(g.has(s) for s in over_syms) or sympy.denom(g) != 1:
                g = sympy.cancel(sympy.sympify(term.summand) / f)
            if any(g.has(s) for s in over_syms) or sympy.expand(g * f - term.summand) != 0:
                errors.append(f"summand {term.summand} is not (factor free of {self.over}) * {f}")
                continue
            inner_conds = [c for c in term.domain() if any(sympy.sympify(c).has(s) for s in over_syms)]
            outer_ranges = tuple(r for r in term.ranges if r.index not in over_syms)
            for r in outer_ranges:
                if any(sympy.sympify(e).has(s) for e in r.lower + r.upper for s in over_syms):
                    raise ProofError(f"the range of {r.index} depends on a folded index")
            outer_where = tuple(w for w in term.where if not any(sympy.sympify(w).has(s) for s in over_syms))
            outer_conds = [c for r in outer_ranges for c in r.conditions()] + list(outer_where)
            def_conds = [sympy.sympify(c).xreplace(rename) for c in dterm.domain()]
            d = decide.equivalent(inner_conds, def_conds, list(ctx.hypotheses) + outer_conds, bound=term.indices)
            if not d.holds:
                raise ProofError(
                    f"the range of {', '.join(self.over)} is not that of {sympy.sstr(self.app)}: "
                    f"{d.how} {d.counterexample}"
                )
            out[k] = Term(sympy.expand(g * self.app), outer_ranges, outer_where)
            cond = Deferred(partial(_same_points, tuple(inner_conds), tuple(def_conds), tuple(outer_conds)))
            return Outcome(SumExpr(tuple(out)), (cond,), (d.how,))
        raise ProofError(
            f"no sum over {', '.join(self.over)} matches the definition of {sympy.sstr(self.app)}"
            + (f" ({errors[0]})" if errors else "")
        )


@dataclass
class Name(Rule):
    """Name an expression by an intermediate definition: where ``summand = q * let.body(at)``
    with ``q`` a polynomial, write ``q * base[at]``.

    Valid by the definition itself; checked per term: ``q = summand / body`` has denominator 1
    and ``q * body == summand`` after expansion (a factor inside one flat product is found too).
    Terms the body does not divide stay as they are; if it divides none, the rule fails.
    """

    let: Let
    at: tuple
    name = "definition"

    def describe(self) -> str:
        return f"write it as ${book_latex(self.let.base)}$, by its definition"

    def apply(self, expr: SumExpr, ctx: Context) -> Outcome:
        if not any(let is self.let for let in ctx.lets):
            raise ProofError(f"{self.let.base.label} is not defined by this theorem's lets; name only by the "
                             "theorem's own definitions")
        body = self.let.at(*self.at)
        if len(body.terms) != 1 or body.terms[0].ranges or body.terms[0].inner is not None:
            raise ProofError(f"{self.let.base.label} is not defined by a single expression without sums")
        pattern = sympy.sympify(body.terms[0].summand)
        if pattern == 0:
            raise ProofError(f"{self.let.base.label} is defined as 0; it cannot be factored out")
        target = self.let.base[tuple(self.at)] if len(self.at) > 1 else self.let.base[self.at[0]]
        out, hit = [], 0
        for term in expr.terms:
            summand = sympy.sympify(term.summand)
            quotient = sympy.cancel(summand / pattern)
            divides = (
                summand != 0
                and sympy.denom(quotient) == 1
                and sympy.expand(quotient * pattern - summand) == 0
            )
            if not divides:
                out.append(term)
                continue
            hit += 1
            out.append(Term(quotient * target, term.ranges, term.where, term.inner))
        if not hit:
            raise ProofError(f"{sympy.sstr(pattern)} divides no summand")
        return Outcome(SumExpr(tuple(out)), (), ("by definition",))


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
        return (f"the conditions fix ${_index_latex(self.index)} = {book_latex(self.value)}$, so its sum has one "
                "term")

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
            # first from the conditions on the index alone, then with the ranges of the indices
            # they mention, then from the whole domain (fewer unknowns for z3 first): what a part
            # of the domain forces, the whole domain forces too.  A trial that fails is not kept in
            # the record: the step was not decided by it.
            mentions = [c for c in domain if sympy.sympify(c).has(s)]
            near = set().union(*(sympy.sympify(c).free_symbols for c in mentions)) if mentions else set()
            ranged = mentions + [c for r in term.ranges if r.index in near and r.index != s
                                 for c in r.conditions() if c not in mentions]
            trials = [mentions]
            for part in (ranged, domain):
                if len(part) > len(trials[-1]):
                    trials.append(part)
            for n_trial, used in enumerate(trials):
                last = n_trial == len(trials) - 1
                with decide.recording() as trial:
                    d = decide.implies(used + list(ctx.hypotheses), [sympy.Eq(s, value)], bound=term.indices)
                if d.holds or last:
                    decide.keep(trial)
                    break
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
            conds.append(Deferred(partial(_forces, tuple(used), s, value)))
            how.append(d.how)
        if not hit:
            raise ProofError(f"no sum over {self.index} to collapse")
        return Outcome(SumExpr(tuple(out)), tuple(conds), tuple(how))


_RELATIONS = (sympy.Eq, sympy.Ne, sympy.Ge, sympy.Gt, sympy.Le, sympy.Lt)


@dataclass
class Restate(Rule):
    """Replace the conditions (``where``) of the sum over exactly ``indices`` by ``where``.

    The sum runs over the same integer points when the old domain (ranges and conditions) and the
    new one are the same set for every value of the sizes and of the outer indices allowed by the
    hypotheses: decided by z3, for all sizes.  The summand and the ranges stay as they are.  Used
    where one condition is rewritten with the help of another (``s a + b - p = i`` becomes
    ``t - p = i`` given ``s a + b = t``), or a condition the others imply is dropped.  The new
    conditions may mention only symbols the term already has.
    """

    indices: tuple[str, ...]
    where: Sequence[Expr]
    name = "equivalent conditions"

    def describe(self) -> str:
        # every index and condition in its own formula, so that a long list breaks between them
        over = ", ".join(f"${_index_latex(q)}$" for q in self.indices)
        conds = ", ".join(f"${sympy.latex(sympy.sympify(c))}$" for c in self.where) or "none"
        return f"restate the conditions of the sum over {over} as {conds}, which select the same points"

    def apply(self, expr: SumExpr, ctx: Context) -> Outcome:
        names = set(self.indices)
        if len(names) != len(self.indices):
            raise ProofError(f"the indices {tuple(self.indices)} are not distinct")
        out = list(expr.terms)
        conds, how = [], []
        hit = False
        for k, term in enumerate(expr.terms):
            known = {str(i): i for i in term.indices}
            if set(known) != names:
                continue
            hit = True
            available = {str(q): q for q in _term_symbols(term)}
            for h in ctx.hypotheses:
                available.update({str(q): q for q in sympy.sympify(h).free_symbols})
            new_where = []
            for c in self.where:
                c = sympy.sympify(c)
                if not isinstance(c, _RELATIONS):
                    raise ProofError(f"condition {c} is not an equation or inequality")
                stray = sorted(str(q) for q in c.free_symbols if str(q) not in available)
                if stray:
                    raise ProofError(f"condition {c} mentions {', '.join(stray)}, which the sum does not have")
                c = c.xreplace({q: available[str(q)] for q in c.free_symbols})
                if c is sympy.true or c is sympy.false:
                    raise ProofError(f"condition {c} is constant; restate only with conditions on the indices")
                new_where.append(c)
            new = Term(term.summand, term.ranges, tuple(new_where), term.inner)
            d = decide.equivalent(term.domain(), new.domain(), ctx.hypotheses, bound=term.indices)
            if not d.holds:
                raise ProofError(
                    f"the new conditions do not select the same points: {d.how} {d.counterexample}"
                )
            conds.append(Deferred(partial(_same_points, tuple(term.domain()), tuple(new.domain()))))
            how.append(d.how)
            out[k] = new
        if not hit:
            raise ProofError(f"no sum over exactly the indices {sorted(names)}")
        return Outcome(SumExpr(tuple(out)), tuple(conds), tuple(how))
