"""Symbolic index sums: the objects a general (all sizes) derivation rewrites.

An expression is a :class:`SumExpr`, a sum of :class:`Term` objects.  A term is

    sum over the integer points of a domain  of  summand  (times an optional inner SumExpr)

where the domain is given by iterated :class:`Range` objects (outermost first; the index runs
from the max of its lower bounds to the min of its upper bounds, bounds may mention outer
indices and sizes) and optional extra linear conditions ``where`` (e.g. ``d_1 a + s_1 d_2 b = t``).
As a *set*, the domain is the conjunction of all these inequalities; the iteration order is
only how it is printed, so reordering is a rewrite whose side condition is a set equality
(decided by :mod:`convsym.decide`).

Operations such as a convolution appear inside summands as :class:`App` objects (SymPy
functions that know their definition); intermediate signals are :class:`Let` definitions of an
``IndexedBase``.  Both can be *unfolded* into a SumExpr and, for concrete sizes, *evaluated* to
an explicit polynomial, which is how every derivation step is cross-checked on instances.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import sympy
from sympy import Expr, Indexed, IndexedBase, Symbol

from .errors import ProofError


def index(names: str) -> tuple[Symbol, ...]:
    """Integer summation/position indices, e.g. ``index("a b t")``."""
    return tuple(Symbol(n, integer=True) for n in names.split())


@dataclass(frozen=True)
class Range:
    """``index`` runs over ``max(lower) <= index <= min(upper)``."""

    index: Symbol
    lower: tuple[Expr, ...]
    upper: tuple[Expr, ...]

    @staticmethod
    def of(idx: Symbol, lo, hi) -> Range:
        lows = tuple(sympy.sympify(v) for v in (lo if isinstance(lo, tuple) else (lo,)))
        ups = tuple(sympy.sympify(v) for v in (hi if isinstance(hi, tuple) else (hi,)))
        return Range(idx, lows, ups)

    def conditions(self) -> tuple[sympy.Basic, ...]:
        return tuple(sympy.Ge(self.index, lo, evaluate=False) for lo in self.lower) + tuple(
            sympy.Le(self.index, hi, evaluate=False) for hi in self.upper
        )

    def subs(self, mapping: Mapping) -> Range:
        return Range(
            self.index,
            tuple(sympy.sympify(e).subs(mapping) for e in self.lower),
            tuple(sympy.sympify(e).subs(mapping) for e in self.upper),
        )

    def latex(self) -> tuple[str, str]:
        lo = self.lower[0] if len(self.lower) == 1 else sympy.Max(*self.lower, evaluate=False)
        hi = self.upper[0] if len(self.upper) == 1 else sympy.Min(*self.upper, evaluate=False)
        return (
            f"{sympy.latex(self.index)}={sympy.latex(lo)}",
            sympy.latex(hi),
        )


@dataclass(frozen=True)
class Term:
    """``sum_{ranges, where} summand * inner`` (``inner`` is None for a flat term)."""

    summand: Expr
    ranges: tuple[Range, ...] = ()
    where: tuple[sympy.Basic, ...] = ()
    inner: SumExpr | None = None

    @property
    def indices(self) -> tuple[Symbol, ...]:
        return tuple(r.index for r in self.ranges)

    def domain(self) -> tuple[sympy.Basic, ...]:
        """The conditions whose conjunction is this term's domain (as a set)."""
        out: list[sympy.Basic] = []
        for r in self.ranges:
            out.extend(r.conditions())
        out.extend(self.where)
        return tuple(out)

    def key(self):
        return (
            sympy.default_sort_key(self.summand),
            tuple((str(r.index), tuple(map(sympy.srepr, r.lower)), tuple(map(sympy.srepr, r.upper)))
                  for r in self.ranges),
            tuple(sympy.srepr(w) for w in self.where),
            self.inner.key() if self.inner is not None else (),
        )


@dataclass(frozen=True)
class SumExpr:
    """A finite sum of terms."""

    terms: tuple[Term, ...]

    @staticmethod
    def of(*parts: Term | Expr | int) -> SumExpr:
        terms = []
        for p in parts:
            terms.append(p if isinstance(p, Term) else Term(sympy.sympify(p)))
        return SumExpr(tuple(terms))

    def key(self):
        return tuple(t.key() for t in self.terms)

    def __add__(self, other: SumExpr) -> SumExpr:
        return SumExpr(self.terms + other.terms)

    def plain_part(self) -> Expr:
        """The sum of the terms without ranges, as one SymPy expression."""
        return sympy.Add(*[t.summand for t in self.terms if not t.ranges and t.inner is None])

    def sum_terms(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.ranges or t.inner is not None)

    def same_as(self, other: SumExpr) -> bool:
        """Structural equality up to term order, plain terms compared after expansion."""
        mine = sorted(t.key() for t in self.sum_terms())
        theirs = sorted(t.key() for t in other.sum_terms())
        if mine != theirs:
            return False
        return sympy.expand(self.plain_part() - other.plain_part()) == 0


# --------------------------------------------------------------------------------------------
# Operations as SymPy functions that know their definition


class App(sympy.Function):
    """An application of a defined operation, e.g. ``conv1d(x, w, k, i)``.

    Subclasses set ``op`` to an :class:`OpDef`.  Arguments are SymPy objects (IndexedBase for
    signals and kernels, expressions for sizes and positions).
    """

    op: OpDef

    @classmethod
    def eval(cls, *args):  # keep applications unevaluated
        return None

    def unfold(self) -> SumExpr:
        return self.op.body(*self.args)

    def _latex(self, printer) -> str:
        return self.op.latex(printer, *self.args)

    def _sympystr(self, printer) -> str:
        return f"{self.op.name}({', '.join(printer.doprint(a) for a in self.args)})"


@dataclass(frozen=True)
class OpDef:
    """A defined operation: its name, how to print it, and its body as a SumExpr.

    ``body(*args)`` returns the definition with *fresh* bound indices (the names in
    ``bound``), so folding can rename them.
    """

    name: str
    body: Callable[..., SumExpr]
    latex: Callable[..., str]
    doc: str = ""
    cls: type = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cls = type(self.name, (App,), {"op": self, "nargs": None})
        object.__setattr__(self, "cls", cls)

    def __call__(self, *args) -> App:
        return self.cls(*[sympy.sympify(a) for a in args])


@dataclass(frozen=True)
class Let:
    """``base[position] := body(position)`` for an intermediate signal (e.g. ``h = conv(x, w_1) + b_1``)."""

    base: IndexedBase
    body: Callable[..., SumExpr]
    latex_body: str = ""


# --------------------------------------------------------------------------------------------
# Concrete evaluation: instances of a symbolic-size expression


def _num(e: Expr, env: Mapping) -> int:
    v = sympy.sympify(e).subs(env)
    if not v.is_Integer:
        raise ProofError(f"bound {e} does not evaluate to an integer at {dict(env)} (got {v})")
    return int(v)


def _points(term: Term, env: Mapping) -> Iterable[dict]:
    """Integer points of a term's domain for concrete sizes ``env`` (outer indices in env)."""
    ranges = term.ranges

    def rec(k: int, cur: dict):
        if k == len(ranges):
            if all(bool(sympy.sympify(w).subs({**env, **cur})) for w in term.where):
                yield dict(cur)
            return
        r = ranges[k]
        full = {**env, **cur}
        lo = max(_num(v, full) for v in r.lower)
        hi = min(_num(v, full) for v in r.upper)
        for val in range(lo, hi + 1):
            cur[r.index] = sympy.Integer(val)
            yield from rec(k + 1, cur)
        cur.pop(r.index, None)

    yield from rec(0, {})


def evaluate(expr: SumExpr, env: Mapping, lets: Iterable[Let] = ()) -> Expr:
    """Expand ``expr`` for concrete sizes ``env`` into an explicit polynomial.

    Every :class:`App` is unfolded and every ``Let`` base is replaced by its definition,
    recursively, so two expressions that mean the same thing evaluate to the same polynomial.
    Free position indices (not in ``env``) stay symbolic.
    """
    lets = tuple(lets)
    total = sympy.Integer(0)
    for term in expr.terms:
        for point in _points(term, env):
            full = {**env, **point}
            value = _resolve(sympy.sympify(term.summand).subs(full), env, lets)
            if term.inner is not None:
                inner = SumExpr(tuple(_subs_term(t, full) for t in term.inner.terms))
                value = value * evaluate(inner, env, lets)
            total += value
    return sympy.expand(total)


def _resolve(e: Expr, env: Mapping, lets: tuple[Let, ...]) -> Expr:
    """Replace applications and intermediate signals by their concrete values."""
    while True:
        apps = sorted(e.atoms(App), key=sympy.default_sort_key)
        let_hits = [
            a for a in e.atoms(Indexed) if any(a.base == let.base for let in lets)
        ]
        if not apps and not let_hits:
            return e
        mapping = {}
        for a in apps:
            mapping[a] = evaluate(a.subs(env).unfold(), env, lets)
        for a in let_hits:
            let = next(let for let in lets if let.base == a.base)
            mapping[a] = evaluate(let.body(*a.indices), env, lets)
        e = e.xreplace(mapping)


def _subs_term(term: Term, mapping: Mapping) -> Term:
    return Term(
        sympy.sympify(term.summand).subs(mapping),
        tuple(r.subs(mapping) for r in term.ranges),
        tuple(sympy.sympify(w).subs(mapping) for w in term.where),
        None if term.inner is None else SumExpr(tuple(_subs_term(t, mapping) for t in term.inner.terms)),
    )



# --------------------------------------------------------------------------------------------
# LaTeX


def latex_term(term: Term) -> str:
    """``\\sum_{a=lo}^{hi}`` per range; the ranges that a ``where`` condition constrains are
    printed together with it under one ``\\substack``."""
    constrained = set()
    for w in term.where:
        # in ``value = t`` the index t is what the outer sum runs over: only ``value``'s indices stack
        w = sympy.sympify(w)
        constrained |= (w.lhs if isinstance(w, sympy.Eq) else w).free_symbols
    parts = []
    stacked = []
    for r in term.ranges:
        if r.index in constrained:
            lo = r.lower[0] if len(r.lower) == 1 else sympy.Max(*r.lower, evaluate=False)
            hi = r.upper[0] if len(r.upper) == 1 else sympy.Min(*r.upper, evaluate=False)
            stacked.append(rf"{sympy.latex(lo)} \le {sympy.latex(r.index)} \le {sympy.latex(hi)}")
        else:
            lo_s, hi_s = r.latex()
            parts.append(rf"\sum_{{{lo_s}}}^{{{hi_s}}}")
    if term.where:
        stacked.extend(sympy.latex(w) for w in term.where)
        joined = r" \\ ".join(stacked)
        parts.append(rf"\sum_{{\substack{{{joined}}}}}")
    body = sympy.latex(term.summand)
    if term.inner is not None:
        inner = latex_sumexpr(term.inner)
        body = (body + " " if term.summand != 1 else "") + rf"\left({inner}\right)"
    elif term.ranges and isinstance(term.summand, sympy.Add):
        body = rf"\left({body}\right)"
    return " ".join(parts + [body])


def latex_sumexpr(expr: SumExpr) -> str:
    if not expr.terms:
        return "0"
    out = latex_term(expr.terms[0])
    for t in expr.terms[1:]:
        s = latex_term(t)
        out += (" " if s.startswith("-") else " + ") + s
    return out


def grid(**ranges: Iterable[int]) -> list[dict[str, int]]:
    """All combinations of the given size values, e.g. ``grid(k_1=range(1, 4), k_2=range(1, 4))``."""
    names = list(ranges)
    return [dict(zip(names, vals, strict=False)) for vals in itertools.product(*(list(ranges[n]) for n in names))]


def text_term(term: Term) -> str:
    head = ""
    for r in term.ranges:
        lo = r.lower[0] if len(r.lower) == 1 else sympy.Max(*r.lower, evaluate=False)
        hi = r.upper[0] if len(r.upper) == 1 else sympy.Min(*r.upper, evaluate=False)
        head += f"sum({r.index}={sympy.sstr(lo)}..{sympy.sstr(hi)}) "
    if term.where:
        head += "sum(" + ", ".join(sympy.sstr(w) for w in term.where) + ") "
    body = sympy.sstr(term.summand)
    if term.inner is not None:
        body += " * (" + text_sumexpr(term.inner) + ")"
    return head + body


def text_sumexpr(expr: SumExpr) -> str:
    """Plain-text form (for error messages): every argument of every operation is shown."""
    return " + ".join(text_term(t) for t in expr.terms) if expr.terms else "0"
