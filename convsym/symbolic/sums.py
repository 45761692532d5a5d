"""Symbolic index sums: the objects a general (all sizes) derivation rewrites.

An expression is a :class:`SumExpr`, a sum of :class:`Term` objects.  A term is

    sum over the integer points of a domain  of  summand  (times an optional inner SumExpr)

where the domain is given by iterated :class:`Range` objects (outermost first; the index runs
from the max of its lower bounds to the min of its upper bounds, bounds may mention outer
indices and sizes) and optional extra linear conditions ``where`` (e.g. ``d_1 a + s_1 d_2 b = t``).
As a *set*, the domain is the conjunction of all these inequalities; the iteration order is
only how it is printed, so reordering is a rewrite whose side condition is a set equality
(decided by :mod:`convsym.symbolic.decide`).

Operations such as a convolution appear inside summands as :class:`App` objects (SymPy
functions that know their definition); intermediate signals are :class:`Let` definitions of an
``IndexedBase``.  Both can be *unfolded* into a SumExpr and, for concrete sizes, *evaluated* to
an explicit polynomial, which is how every derivation step is cross-checked on instances.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import sympy
from sympy import Expr, Indexed, IndexedBase, Symbol

from convsym.errors import ProofError


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

    @property
    def is_plain(self) -> bool:
        """No ranges, no conditions, no parentheses: just a SymPy expression."""
        return not self.ranges and not self.where and self.inner is None

    def domain(self) -> tuple[sympy.Basic, ...]:
        """The conditions whose conjunction is this term's domain (as a set)."""
        out: list[sympy.Basic] = []
        for r in self.ranges:
            out.extend(r.conditions())
        out.extend(self.where)
        return tuple(out)

    def key(self):
        ops = sorted((a.op.name, id(a.op)) for a in sympy.sympify(self.summand).atoms(App))
        return (
            sympy.default_sort_key(self.summand),
            tuple(ops),
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
        """The sum of the plain terms (no ranges, no conditions, no parentheses), as one expression."""
        return sympy.Add(*[t.summand for t in self.terms if t.is_plain])

    def sum_terms(self) -> tuple[Term, ...]:
        """The terms that are not plain: sums, conditioned terms, parenthesised sums."""
        return tuple(t for t in self.terms if not t.is_plain)

    def same_as(self, other: SumExpr) -> bool:
        """Structural equality up to term order and the names of bound indices.

        Plain terms are compared after expansion; every other term (a sum, a term with
        conditions, a parenthesised sum) must occur on both sides with the same summand, the same
        ranges and the same conditions, after renaming its bound indices canonically.  This is
        deliberately syntactic: it never drops a condition, so it can only say *same* when the two
        expressions are the same sum.
        """
        taken = set()
        for t in self.terms + other.terms:
            taken |= {name_of(q) for q in term_symbols(t)}
        prefix = "_"
        while any(name.startswith(prefix) for name in taken):
            prefix += "_"
        mine = sorted(alpha_normal(t, prefix).key() for t in self.sum_terms())
        theirs = sorted(alpha_normal(t, prefix).key() for t in other.sum_terms())
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

    def unfold(self, avoid: Iterable[Symbol] = ()) -> SumExpr:
        """The definition at these arguments, capture-avoiding: bound indices of the body are
        renamed away from every symbol of the arguments and of ``avoid``."""
        return instantiate(self.op.body, self.args, avoid)

    def _latex(self, printer) -> str:
        return self.op.latex(*[printer._print(a) for a in self.args])

    def _sympystr(self, printer) -> str:
        # as the call is written: trailing arguments left at their defaults (stride=1, ...) omitted
        args = list(self.args)
        defaults = [p.default for p in inspect.signature(self.op.body).parameters.values()]
        while args and len(args) == len(defaults) and defaults[len(args) - 1] is not inspect.Parameter.empty \
                and args[-1] == sympy.sympify(defaults[len(args) - 1]):
            args.pop()
            defaults.pop()
        return f"{self.op.name}({', '.join(printer.doprint(a) for a in args)})"


@dataclass(frozen=True)
class OpDef:
    """A defined operation: its name, how to print it, and its body as a SumExpr.

    ``body(*args)`` returns the definition as a SumExpr.  It is only ever called through
    :func:`instantiate`, with fresh placeholders for the arguments, so the body may use any names
    for its bound indices: they are renamed away from the actual arguments afterwards.  Its
    parameters are the operation's: an application ``op(x, w, k, i, stride=2)`` may name any of
    them and omit those with defaults, and always carries every argument, in the body's order.

    ``latex(*args)`` receives those arguments already printed as LaTeX strings (``"w^{(1)}"``,
    ``"k_{1} + 1"``, ``"1"``) and returns the LaTeX of the application.
    """

    name: str
    body: Callable[..., SumExpr]
    latex: Callable[..., str]
    doc: str = ""
    cls: type = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cls = type(self.name, (App,), {"op": self, "nargs": None})
        object.__setattr__(self, "cls", cls)

    def __call__(self, *args, **kwargs) -> App:
        signature = inspect.signature(self.body)
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.name}{signature}: {exc}") from None
        bound.apply_defaults()
        return self.cls(*[sympy.sympify(a) for a in bound.args])


@dataclass(frozen=True)
class Let:
    """``base[position] := body(position)`` for an intermediate signal (e.g. ``h = conv(x, w_1) + b_1``).

    The printed definition is generated from ``body`` (:func:`convsym.symbolic.printing.let_latex`),
    never typed in.
    """

    base: IndexedBase
    body: Callable[..., SumExpr]

    def parameters(self) -> tuple[Symbol, ...]:
        """Integer symbols named after the body's parameters (``jj`` is printed ``j``)."""
        import inspect

        names = []
        for p in inspect.signature(self.body).parameters:
            short = p[0] if len(p) == 2 and p[0] == p[1] else p
            names.append(short if short not in names else p)
        return tuple(Symbol(n, integer=True) for n in names)

    def at(self, *args) -> SumExpr:
        """The definition at ``args`` (capture-avoiding)."""
        return instantiate(self.body, args)

    def head(self, args=None):
        args = self.parameters() if args is None else args
        return self.base[tuple(args)] if len(args) != 1 else self.base[args[0]]


# --------------------------------------------------------------------------------------------
# Bound indices: capture-avoiding instantiation and well-formedness


def bound_indices(expr: SumExpr) -> list[Symbol]:
    """Every summation index of ``expr``, at every depth, outermost first (with repeats)."""
    out: list[Symbol] = []
    for t in expr.terms:
        out.extend(r.index for r in t.ranges)
        if t.inner is not None:
            out.extend(bound_indices(t.inner))
    return out


def labels(e) -> set[Symbol]:
    """The labels of the signals (``IndexedBase``) in ``e``: names of arrays, not numbers."""
    e = sympy.sympify(e)
    out: set[Symbol] = set()
    for node in sympy.preorder_traversal(e):  # one walk for both kinds
        if isinstance(node, Indexed):
            out.add(node.base.label)
        elif isinstance(node, IndexedBase):
            out.add(node.label)
    return out


def term_symbols(term: Term) -> set[Symbol]:
    """Every symbol of a term: free ones and its bound indices (at every depth); signal labels
    (the ``x`` of ``x[i]``) are not symbols here."""
    syms = set(sympy.sympify(term.summand).free_symbols) - labels(term.summand)
    for r in term.ranges:
        syms.add(r.index)
        for e in r.lower + r.upper:
            syms |= sympy.sympify(e).free_symbols
    for w in term.where:
        syms |= sympy.sympify(w).free_symbols
    if term.inner is not None:
        for t in term.inner.terms:
            syms |= term_symbols(t)
    return syms


def free_symbols(expr: SumExpr) -> set[Symbol]:
    """The free symbols of ``expr``: every symbol that is not bound by an enclosing range (signal
    labels excluded)."""
    out: set[Symbol] = set()

    def visit(term: Term, bound: frozenset) -> None:
        inner_bound = bound | {r.index for r in term.ranges}
        for r in term.ranges:
            for e in r.lower + r.upper:
                out.update(sympy.sympify(e).free_symbols - inner_bound)
        out.update(sympy.sympify(term.summand).free_symbols - labels(term.summand) - inner_bound)
        for w in term.where:
            out.update(sympy.sympify(w).free_symbols - inner_bound)
        if term.inner is not None:
            for t in term.inner.terms:
                visit(t, inner_bound)

    for t in expr.terms:
        visit(t, frozenset())
    return out


def fresh_symbol(name: str, taken: Iterable[str]) -> Symbol:
    """An integer index named ``name``, ``name'``, ``name''``... whichever is not ``taken``."""
    taken = set(taken)
    candidate = name
    while candidate in taken:
        candidate += "'"
    return Symbol(candidate, integer=True)


def rename_bound(expr: SumExpr, avoid: Iterable[str]) -> SumExpr:
    """Rename the bound indices of ``expr`` whose names are in ``avoid`` (or repeat an enclosing
    index's name) to fresh names; the result binds every index once, away from ``avoid``."""
    avoid = set(avoid)

    def term(t: Term, taken: set[str]) -> Term:
        mapping = {}
        for r in t.ranges:
            if name_of(r.index) in taken or name_of(r.index) in mapping.values():
                new = fresh_symbol(name_of(r.index), taken | {name_of(v) for v in mapping.values()}
                                   | {name_of(s) for s in term_symbols(t)})
                mapping[r.index] = new
            taken = taken | {name_of(mapping.get(r.index, r.index))}
        t = rename_term(t, mapping) if mapping else t
        if t.inner is not None:
            t = Term(t.summand, t.ranges, t.where, SumExpr(tuple(term(it, set(taken)) for it in t.inner.terms)))
        return t

    return SumExpr(tuple(term(t, set(avoid)) for t in expr.terms))


def rename_term(term: Term, mapping: Mapping) -> Term:
    """``term`` with ``mapping`` applied everywhere: summand, ranges (index and bounds), conditions,
    inner sums (simultaneous ``xreplace``; the caller keeps it capture-free)."""
    return Term(
        sympy.sympify(term.summand).xreplace(mapping),
        tuple(Range(mapping.get(r.index, r.index),
                    tuple(sympy.sympify(e).xreplace(mapping) for e in r.lower),
                    tuple(sympy.sympify(e).xreplace(mapping) for e in r.upper)) for r in term.ranges),
        tuple(sympy.sympify(w).xreplace(mapping) for w in term.where),
        None if term.inner is None else SumExpr(tuple(rename_term(t, mapping) for t in term.inner.terms)),
    )


def _placeholder(arg, k: int):
    arg = sympy.sympify(arg)
    if isinstance(arg, IndexedBase):
        return arg
    return sympy.Dummy(f"arg{k}", integer=True)


#: a definition's body built at placeholders, per (body, which arguments are signals): the body
#: is a function of its arguments, and the placeholders never survive an instantiation, so one
#: build serves every application of the body to arguments of that shape
_BODIES: dict = {}
_BODIES_LIMIT = 4096


def body_at_placeholders(body: Callable[..., SumExpr], args: list) -> tuple[list, SumExpr]:
    """``body`` built at placeholders for ``args`` (a signal argument stands for itself, any other
    argument gets a fresh integer placeholder), and the placeholders; remembered per body and
    signal pattern.  ProofError if the body does not return a SumExpr."""
    pattern = tuple(a if isinstance(a, IndexedBase) else None for a in args)
    try:
        key = (body, pattern)
        hit = _BODIES.get(key)
    except TypeError:  # an unhashable body (a callable object): built each time
        key, hit = None, None
    if hit is not None:
        return hit
    holders = [_placeholder(a, k) for k, a in enumerate(args)]
    expr = body(*holders)
    if not isinstance(expr, SumExpr):
        raise ProofError(f"a definition body must return a SumExpr, got {type(expr).__name__}")
    if key is not None:
        if len(_BODIES) >= _BODIES_LIMIT:
            _BODIES.clear()
        _BODIES[key] = (holders, expr)
    return holders, expr


def instantiate(body: Callable[..., SumExpr], args: Iterable, avoid: Iterable[Symbol] = ()) -> SumExpr:
    """``body(*args)`` without variable capture.

    The body is built at fresh placeholders (so it cannot confuse an argument with one of its
    own bound indices), its bound indices are renamed away from every symbol of ``args`` and
    ``avoid``, and only then are the placeholders replaced by the arguments.
    """
    args = [sympy.sympify(a) for a in args]
    holders, expr = body_at_placeholders(body, args)
    taken = {name_of(s) for a in args if not isinstance(a, IndexedBase) for s in a.free_symbols - labels(a)}
    taken |= {name_of(s) for s in avoid}
    expr = rename_bound(expr, taken)
    mapping = {h: a for h, a in zip(holders, args, strict=True) if h is not a}
    return _xreplace_expr(expr, mapping) if mapping else expr


def _xreplace_expr(expr: SumExpr, mapping: Mapping) -> SumExpr:
    return SumExpr(tuple(rename_term(t, mapping) for t in expr.terms))


def alpha_normal(term: Term, prefix: str = "_") -> Term:
    """The term with its bound indices renamed ``<prefix>0, <prefix>1, ...`` in binding order (for
    comparison; ``prefix`` must start no name of the compared terms)."""
    counter = [0]

    def norm(t: Term) -> Term:
        mapping = {}
        for r in t.ranges:
            mapping[r.index] = Symbol(f"{prefix}{counter[0]}", integer=True)
            counter[0] += 1
        t = rename_term(t, mapping) if mapping else t
        if t.inner is not None:
            t = Term(t.summand, t.ranges, t.where, SumExpr(tuple(norm(it) for it in t.inner.terms)))
        return t

    return norm(term)


def name_of(s) -> str:
    """``str(s)`` for a symbol, read from the symbol itself when it is a plain ``Symbol`` (the
    printer's answer, without the printer)."""
    return s.name if type(s) is Symbol else str(s)


def check_well_formed(expr: SumExpr, free: Iterable[Symbol] = ()) -> None:
    """Raise :class:`ProofError` unless ``expr`` binds every index once, every range's bounds
    mention only enclosing indices and free symbols, and no two different symbols share a name.

    ``free`` are the symbols of the statement (sizes, positions): a bound index must not be
    named like one of them.
    """
    free_names = {name_of(s) for s in free}

    def visit(term: Term, outer: tuple[Symbol, ...]) -> None:
        seen = list(outer)
        for r in term.ranges:
            if r.index in seen or name_of(r.index) in {name_of(s) for s in seen}:
                raise ProofError(f"index {r.index} is bound twice")
            if name_of(r.index) in free_names:
                raise ProofError(f"bound index {r.index} has the name of a free symbol of the statement")
            later = {q.index for q in term.ranges[term.ranges.index(r):]}
            for e in r.lower + r.upper:
                bad = sympy.sympify(e).free_symbols & later
                if bad:
                    raise ProofError(
                        f"the range of {r.index} mentions {', '.join(sorted(map(str, bad)))}, which is not an "
                        "enclosing index (ranges are iterated outermost first)"
                    )
            seen.append(r.index)
        if term.inner is not None:
            for t in term.inner.terms:
                visit(t, tuple(seen))

    for t in expr.terms:
        visit(t, ())
    by_name: dict[str, Symbol] = {}
    for t in expr.terms:
        for sym in term_symbols(t):
            if isinstance(sym, sympy.Dummy):
                continue
            other = by_name.setdefault(name_of(sym), sym)
            if other != sym:
                raise ProofError(
                    f"two different symbols are named {sym} (assumptions {other.assumptions0} and "
                    f"{sym.assumptions0}); give them different names"
                )


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
            mapping[a] = evaluate(let.at(*a.indices), env, lets)
        e = e.xreplace(mapping)


def _subs_term(term: Term, mapping: Mapping) -> Term:
    return Term(
        sympy.sympify(term.summand).subs(mapping),
        tuple(r.subs(mapping) for r in term.ranges),
        tuple(sympy.sympify(w).subs(mapping) for w in term.where),
        None if term.inner is None else SumExpr(tuple(_subs_term(t, mapping) for t in term.inner.terms)),
    )


def grid(**ranges: Iterable[int]) -> list[dict[str, int]]:
    """All combinations of the given size values, e.g. ``grid(k_1=range(1, 4), k_2=range(1, 4))``."""
    names = list(ranges)
    return [dict(zip(names, vals, strict=False)) for vals in itertools.product(*(list(ranges[n]) for n in names))]
