"""The claim itself, evaluated on instances independently of the rewrite rules.

A general theorem says ``lhs = rhs`` for every size satisfying its hypotheses and every position.
Before any derivation step is looked at, the kernel evaluates both sides exactly on a grid of
instances: every size and every free position is set to an integer, every operation is
instantiated at those integers (so no bound index can be captured: there is nothing symbolic left
to capture but the signal entries) and every sum is enumerated point by point.  The two sides
are then compared as polynomials in the signal entries (``x[3]``, ``w[1, 0]``...) and scalars.
A difference is a refutation, with a witness that assigns small integers to the entries.

The enumeration runs compiled (:class:`Denoter`: every bound, condition and index is compiled once
into plain-integer code, values are polynomial dicts); anything the compiler does not decide, and
every difference, is evaluated again by substitution in SymPy (:func:`denote_reference`), which
decides and writes the witness.

The instances are the user's plus the kernel's own *boundary* instances: every size at its least
value allowed by the hypotheses and at the next one, in combination, each combined with
positions ``0`` and ``1``.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping, Sequence

import sympy
from sympy import Indexed, IndexedBase, Symbol

from convsym.errors import ProofError
from convsym.symbolic import compile as K
from convsym.symbolic import decide
from convsym.symbolic.sums import (
    App,
    Let,
    SumExpr,
    Term,
    body_at_placeholders,
    free_symbols,
    instantiate,
    name_of,
    rename_bound,
)

#: at most this many boundary size combinations (beyond it: least, next, and one size at a time)
MAX_BOUNDARY = 16
#: at most this many position tuples per size instance
MAX_POSITIONS = 4


def admissible(s: Symbol, value: int) -> bool:
    """Whether ``value`` agrees with what ``s`` is declared to be (sign, parity)."""
    v = int(value)  # plain integer comparisons: the same truth values as SymPy's, without building relations
    checks = {"positive": v > 0, "negative": v < 0, "nonnegative": v >= 0, "nonpositive": v <= 0,
              "zero": v == 0, "nonzero": v != 0, "even": v % 2 == 0, "odd": v % 2 == 1}
    for name, holds in checks.items():
        declared = getattr(s, f"is_{name}")
        if declared is True and not holds:
            return False
        if declared is False and holds:
            return False
    return True


def is_size(s: Symbol) -> bool:
    return bool(s.is_integer) and bool(s.is_positive)


def is_position(s: Symbol) -> bool:
    return bool(s.is_integer) and not s.is_positive


# ---------------------------------------------------------------------------------------------
# instances


def _holds(conditions: Sequence, env: Mapping) -> bool:
    ints = None
    if all(isinstance(v, int | sympy.Integer) and not isinstance(v, bool) for v in env.values()):
        ints = {k: int(v) for k, v in env.items()}
    for c in conditions:
        if ints is not None:
            try:  # exact integer arithmetic, compiled once per condition
                if K.compile_bool(c)(ints):
                    continue
                return False
            except K.Unsupported:
                pass  # a node or a value the compiled test does not decide: SymPy does
        v = sympy.sympify(c).xreplace(env)
        if v is sympy.true:
            continue
        if v is sympy.false:
            return False
        v = sympy.simplify(v)
        if v is not sympy.true:
            return False
    return True


def check_hypotheses(name: str, hypotheses: Sequence, sizes: Sequence[Symbol]) -> dict[str, int]:
    """ProofError unless some sizes satisfy the hypotheses; returns such an example (z3)."""
    d = decide.satisfiable(list(hypotheses) + [s >= 1 for s in sizes])
    if not d.holds:
        raise ProofError(f"the hypotheses of {name} cannot all hold ({d.how}): the claim would be vacuous",
                         rule="hypotheses")
    return d.counterexample or {}


def _satisfying(sizes: Sequence[Symbol], values: Mapping, conds: Sequence) -> list[tuple[int, ...]]:
    """The combinations of ``values`` of ``sizes`` (product order) that satisfy ``conds``."""
    try:  # the conditions compiled once (exact integers); SymPy per combination is slow at 3^10
        tests = [K.compile_bool(c) for c in conds]
    except K.Unsupported:
        tests = None
    out = []
    for combo in itertools.product(*(values[s] for s in sizes)):
        if tests is not None:
            ints = dict(zip(sizes, combo, strict=True))
            try:
                if all(t(ints) for t in tests):
                    out.append(combo)
                continue
            except K.Unsupported:
                pass  # this combination is decided by SymPy below
        env = dict(zip(sizes, map(sympy.Integer, combo), strict=True))
        if _holds(conds, env):
            out.append(combo)
    return out


def boundary_instances(sizes: Sequence[Symbol], hypotheses: Sequence, example: Mapping[str, int]) -> list[dict]:
    """Every size at its least value and the next, in combination (capped), filtered by the hypotheses.

    The candidates are the first three admissible values of each size that satisfy the size
    hypotheses; a size no hypothesis mentions is independent of the others, so only the sizes the
    hypotheses mention are enumerated together (3^10 combinations would be slow), and the rest
    are combined afterwards: the instances are those of the full enumeration, in its order."""
    sizes = list(sizes)
    if not sizes:
        return [{}]
    size_conds = [h for h in hypotheses if sympy.sympify(h).free_symbols <= set(sizes)]
    values = {s: [v for v in range(1, 9) if admissible(s, v)][:3] for s in sizes}
    mentioned = set().union(*(sympy.sympify(h).free_symbols for h in size_conds)) if size_conds else set()
    tied = [s for s in sizes if s in mentioned]
    tied_ok = _satisfying(tied, values, size_conds)
    if not tied_ok or any(not values[s] for s in sizes):
        if not example:
            return []
        least = [example.get(str(s), 1) for s in sizes]
        return [dict(zip(sizes, map(sympy.Integer, least), strict=True))]
    least = {s: values[s][0] for s in sizes if s not in mentioned}
    least.update({s: min(c[k] for c in tied_ok) for k, s in enumerate(tied)})
    near = {s: [v for v in values[s] if v in (least[s], least[s] + 1)] for s in sizes}
    tied_near = {c for c in tied_ok if all(c[k] in near[s] for k, s in enumerate(tied))}
    where = [sizes.index(s) for s in tied]  # the places of the tied sizes in a combination

    def ok(combo) -> bool:
        return tuple(combo[k] for k in where) in tied_near

    total = len(tied_near) * math.prod(len(near[s]) for s in sizes if s not in mentioned)
    if total == 0:  # no candidate near the least values: the least candidate
        first = dict(zip(tied, min(tied_ok), strict=True))
        chosen = [tuple(first.get(s, values[s][0]) for s in sizes)]
    elif total <= MAX_BOUNDARY:
        chosen = [c for c in itertools.product(*(near[s] for s in sizes)) if ok(c)]
    else:
        low = tuple(least[s] for s in sizes)
        keep = {low, tuple(v + 1 for v in low)}
        for k in range(len(sizes)):
            one = list(low)
            one[k] += 1
            keep.add(tuple(one))
        chosen = sorted(c for c in keep if ok(c) and all(c[k] in near[s] for k, s in enumerate(sizes)))
        if not chosen:
            chosen = list(itertools.islice((c for c in itertools.product(*(near[s] for s in sizes)) if ok(c)),
                                           MAX_BOUNDARY))
    return [dict(zip(sizes, map(sympy.Integer, c), strict=True)) for c in chosen]


@functools.lru_cache(maxsize=4096)
def _two_nearest(p: Symbol) -> list[int]:
    """The two admissible values of ``p`` nearest 0 (0 and 1 for an unconstrained position)."""
    near = sorted((v for v in range(-6, 7) if admissible(p, v)), key=lambda v: (abs(v - 0.5), v))
    return sorted(near[:2]) or [0]


def position_tuples(positions: Sequence[Symbol]) -> list[tuple[int, ...]]:
    """Positions 0 and 1 (or the two admissible values nearest 0, for a position declared e.g.
    negative or odd), in combination (all-first and all-second beyond a few positions)."""
    if not positions:
        return [()]
    choices = [_two_nearest(p) for p in positions]
    combos = list(itertools.product(*choices))
    if len(combos) > MAX_POSITIONS:
        combos = [tuple(c[0] for c in choices), tuple(c[-1] for c in choices)]
    return combos


def full_instances(size_envs: Sequence[Mapping], positions: Sequence[Symbol], hypotheses: Sequence,
                   ) -> list[dict]:
    """Each size instance with each position tuple that satisfies the hypotheses."""
    out = []
    for env in size_envs:
        found = False
        for combo in position_tuples(positions):
            full = dict(env)
            full.update(zip(positions, map(sympy.Integer, combo), strict=True))
            if _holds(hypotheses, full):
                out.append(full)
                found = True
        if not found and positions:
            chosen = _least_positions(hypotheses, env, positions)
            if chosen is not None:
                out.append({**env, **chosen})
    return out


def _canonical_integers(limit: int):
    """0, 1, -1, 2, -2, ... up to ``limit`` in absolute value."""
    yield 0
    for v in range(1, limit + 1):
        yield v
        yield -v


def _least_positions(hypotheses: Sequence, env: Mapping, positions: Sequence[Symbol]) -> dict | None:
    """Values of ``positions`` that satisfy the hypotheses at the sizes ``env``, chosen one position
    at a time (by name) as the first satisfiable value of 0, 1, -1, 2, -2, ...: z3's models depend on
    the order it is told things in, which varies with the hash seed; whether a value is satisfiable
    does not, so the choice (and generated/) is the same in every run.  None if none exists."""
    fixed = [sympy.Eq(s, v) for s, v in env.items()]
    d = decide.satisfiable(list(hypotheses) + fixed)
    if not d.holds:
        return None
    chosen: dict = {}
    for p in sorted(positions, key=str):
        model = int(d.counterexample.get(str(p), 0))  # satisfiable with the values chosen so far
        for v in _canonical_integers(abs(model)):
            trial = decide.satisfiable(list(hypotheses) + fixed + [sympy.Eq(p, v)])
            if trial.holds:
                chosen[p] = sympy.Integer(v)
                fixed.append(sympy.Eq(p, v))
                d = trial
                break
    return chosen


# ---------------------------------------------------------------------------------------------
# the denotation: exact values on an instance


def _int(e, env: Mapping, what: str) -> int:
    v = sympy.sympify(e).xreplace(env)
    if not v.is_Integer:
        v = sympy.simplify(v)
    if not v.is_Integer:
        raise ProofError(f"{what} {e} is not an integer at {format_env(env)} (got {v})", rule="instance")
    return int(v)


def _cond(c, env: Mapping) -> bool:
    v = sympy.sympify(c).xreplace(env)
    if v in (sympy.true, sympy.false):
        return bool(v)
    v = sympy.simplify(v)
    if v in (sympy.true, sympy.false):
        return bool(v)
    raise ProofError(f"condition {c} is not decided at {format_env(env)} (got {v})", rule="instance")


def denote_reference(expr: SumExpr, env: Mapping, lets: Sequence[Let] = (), memo: dict | None = None) -> sympy.Expr:
    """The exact value of ``expr`` with every integer symbol in ``env`` (sizes and positions), by
    SymPy substitution at every point (the reference for :class:`Denoter`, which compiles).

    Sums are enumerated point by point from their ranges and conditions; applications and
    intermediate signals are instantiated at integer arguments and evaluated the same way.  The
    result is a polynomial in the signal entries and scalars (not expanded).
    """
    memo = {} if memo is None else memo
    total = sympy.Integer(0)
    for term in expr.terms:
        total += _denote_term(term, dict(env), lets, memo)
    return total


def _denote_term(term: Term, env: dict, lets: Sequence[Let], memo: dict) -> sympy.Expr:
    out = sympy.Integer(0)

    def rec(k: int) -> None:
        nonlocal out
        if k == len(term.ranges):
            if all(_cond(w, env) for w in term.where):
                value = _value(sympy.sympify(term.summand), env, lets, memo)
                if term.inner is not None:
                    value = value * denote_reference(term.inner, env, lets, memo)
                out += value
            return
        r = term.ranges[k]
        lo = max(_int(v, env, "lower bound") for v in r.lower)
        hi = min(_int(v, env, "upper bound") for v in r.upper)
        for val in range(lo, hi + 1):
            env[r.index] = sympy.Integer(val)
            rec(k + 1)
        env.pop(r.index, None)

    rec(0)
    return out


def _value(e: sympy.Expr, env: Mapping, lets: Sequence[Let], memo: dict) -> sympy.Expr:
    env = dict(env)
    e = e.xreplace(env)
    apps = e.atoms(App)
    hits = [a for a in e.atoms(Indexed) if any(a.base == let.base for let in lets)]
    if not apps and not hits:
        return e
    mapping = {}
    for a in list(apps) + hits:
        if a in memo:
            mapping[a] = memo[a]
    apps = sorted((a for a in apps if a not in mapping), key=sympy.default_sort_key)
    hits = [a for a in hits if a not in mapping]
    for a in apps:
        args = [sympy.sympify(x) for x in a.args]
        for x in args:
            if not isinstance(x, IndexedBase) and not x.is_number:
                bad = {s for s in x.free_symbols if s.is_integer}
                if bad:
                    raise ProofError(f"argument {x} of {a.op.name} is not an integer at {format_env(env)}",
                                     rule="instance")
        mapping[a] = memo[a] = denote_reference(instantiate(a.op.body, args, env), env, lets, memo)
    for a in hits:
        let = next(let for let in lets if let.base == a.base)
        mapping[a] = memo[a] = denote_reference(instantiate(let.body, a.indices, env), env, lets, memo)
    return _value(e.xreplace(mapping), env, lets, memo)



#: the SymPy value (its printed form is what a witness shows)
denote = denote_reference


# ---------------------------------------------------------------------------------------------
# the same denotation, compiled


class Denoter:
    """The denotation of :func:`denote_reference`, compiled once and evaluated with plain integers.

    Every bound, condition and index of a sum is compiled once (:mod:`convsym.symbolic.compile`);
    an application ``op(x, w, k, i)`` or an entry ``h[t]`` of an intermediate signal is
    instantiated once per operation *template*: the body at fresh placeholders, its bound indices
    renamed away exactly as :func:`~convsym.symbolic.sums.instantiate` renames them for the same
    environment, and the placeholders given the integer arguments as values at each point instead
    of being substituted.  The template cache key is (body, the signal arguments, the names bound
    in the environment, the names of the instance's sizes and positions), everything the
    instantiated sum depends on.  Values are polynomials in the signal entries and scalars (dicts,
    see :mod:`convsym.symbolic.compile`); the value of one application at one argument tuple is
    remembered in ``memo``, so a template that reads any integer symbol but its placeholders and
    the instance's sizes and positions is not compiled.

    :meth:`poly` returns None whenever anything is outside what the compiler decides exactly (an
    unknown function, a bound that is not an integer, an undecided condition...): the caller then
    uses :func:`denote_reference`, which computes the value or raises its error.  One Denoter
    serves one list of ``lets``.
    """

    def __init__(self, lets: Sequence[Let] = ()) -> None:
        self.lets = tuple(lets)
        self._let_of: dict = {}
        for let in self.lets:
            self._let_of.setdefault(let.base, let)  # the first let of a base, as the reference
        self._sums: dict = {}
        self._templates: dict = {}
        self._memo: dict = {}
        self.unsupported: K.Unsupported | None = None
        self._top: frozenset = frozenset()  # the names of the instance's sizes and positions
        self._top_names: dict = {}  # the names of each tuple of an instance's symbols, once

    # -- evaluation ---------------------------------------------------------------------------
    def poly(self, expr: SumExpr, env: Mapping, memo: dict | None = None) -> dict | None:
        """The value of ``expr`` at ``env`` as a polynomial dict, or None (use the reference).
        ``memo`` (application values) belongs to this one ``env``."""
        try:
            ienv = K.env_ints(env)
            keys = tuple(env)
            top = self._top_names.get(keys)
            if top is None:
                top = self._top_names[keys] = frozenset(str(k) for k in keys)
            self._top = top
            compiled = self._sum(expr, self._top)
            self._memo = {} if memo is None else memo
            return self._eval_sum(compiled, ienv)
        except K.Unsupported as exc:
            self.unsupported = exc  # why the reference is needed (for diagnostics and tests)
            return None

    def _eval_sum(self, compiled, env: dict) -> dict:
        total: dict = {}
        for term in compiled:
            K.poly_add_into(total, self._eval_term(term, dict(env)))
        return total

    def _eval_term(self, term, env: dict) -> dict:
        ranges, where, summand, inner = term
        out: dict = {}
        depth = len(ranges)

        def rec(k: int) -> None:
            if k == depth:
                for w in where:
                    if not w(env):
                        return
                value = summand(env)
                if inner is not None:
                    value = K.poly_mul(value, self._eval_sum(inner, env))
                K.poly_add_into(out, value)
                return
            idx, lows, ups = ranges[k]
            lo = max(K.as_int(f(env)) for f in lows)
            hi = min(K.as_int(f(env)) for f in ups)
            for val in range(lo, hi + 1):
                env[idx] = val
                rec(k + 1)
            env.pop(idx, None)

        rec(0)
        return out

    # -- compilation --------------------------------------------------------------------------
    def _sum(self, expr: SumExpr, names: frozenset):
        """``expr`` compiled for an environment whose keys have ``names`` (cached; Unsupported is
        cached too)."""
        key = (id(expr), names)
        hit = self._sums.get(key)
        if hit is None:
            try:
                compiled = tuple(self._term(t, names) for t in expr.terms)
            except K.Unsupported as exc:
                compiled = exc
            hit = self._sums[key] = (expr, compiled)  # the expression is kept: its id stays its own
        if isinstance(hit[1], K.Unsupported):
            raise hit[1]
        return hit[1]

    def _term(self, term: Term, names: frozenset):
        ranges = tuple((r.index, tuple(K.compile_number(v) for v in r.lower),
                        tuple(K.compile_number(v) for v in r.upper)) for r in term.ranges)
        where = tuple(K.compile_bool(w) for w in term.where)
        point = names | {str(r.index) for r in term.ranges}
        summand = K.compile_poly(term.summand, lambda node: self._special(node, point))
        inner = None
        if term.inner is not None:
            inner = tuple(self._term(t, point) for t in term.inner.terms)
        return ranges, where, summand, inner

    def _special(self, node, names: frozenset):
        """Evaluators for an application or an entry of an intermediate signal (None otherwise)."""
        if isinstance(node, App):
            args = [sympy.sympify(x) for x in node.args]
            parts = [x if isinstance(x, IndexedBase) else K.compile_number(x) for x in args]
            pattern = tuple(x if isinstance(x, IndexedBase) else None for x in args)
            return self._application(("app", node.func, node.op.body, pattern, names), node.op.body, pattern,
                                     parts, node.func)
        if isinstance(node, Indexed) and node.base in self._let_of:
            let = self._let_of[node.base]
            parts = [K.compile_number(i) for i in node.indices]
            pattern = (None,) * len(parts)
            return self._application(("let", node.base, let.body, pattern, names), let.body, pattern,
                                     parts, node.base)
        return None

    def _application(self, key, body, pattern: tuple, parts: list, head):
        names = key[-1]

        def f(env: dict) -> dict:
            values = tuple(p if isinstance(p, IndexedBase) else K.as_int(p(env)) for p in parts)
            mkey = (key[0], head, values)
            hit = self._memo.get(mkey)
            if hit is not None:
                return hit
            holders, compiled = self._template(key + (self._top,), body, pattern, names)
            inner_env = dict(env)
            for h, v in zip(holders, values, strict=True):
                if h is not None:
                    inner_env[h] = v
            value = self._memo[mkey] = self._eval_sum(compiled, inner_env)
            return value

        return f

    def _template(self, key, body, pattern: tuple, names: frozenset):
        hit = self._templates.get(key)
        if hit is None:
            try:
                hit = self._build_template(body, pattern, names, key[-1])
            except K.Unsupported as exc:
                hit = exc
            self._templates[key] = hit
        if isinstance(hit, K.Unsupported):
            raise hit
        return hit

    def _build_template(self, body, pattern: tuple, names: frozenset, top: frozenset):
        # as instantiate(body, args, env) with integer args: the body at placeholders, its bound
        # indices renamed away from the names of env (integer arguments have no symbols); the
        # placeholders then stand for the arguments (values at each point, not substitution)
        # (built once per body and signal pattern, as instantiate builds it)
        try:
            holders, expr = body_at_placeholders(body, [p if p is not None else sympy.Integer(0) for p in pattern])
        except ProofError:
            raise K.Unsupported("a definition body must return a SumExpr") from None
        except Exception as exc:  # the reference calls the body again and reports it
            raise K.Unsupported(f"the body raised {exc!r}") from None
        holders = list(holders)
        expr = rename_bound(expr, set(names))
        # the value must depend on the arguments and the instance only (it is remembered per
        # argument tuple, in a memo of one instance): a body that reads an integer symbol other
        # than a size or position of the instance (an index of the sum around it, say) is left to
        # the reference
        outside = [q for q in free_symbols(expr) if q not in holders and name_of(q) not in top
                   and (q.is_integer or name_of(q) in names)]
        if outside:
            raise K.Unsupported(f"the body reads {', '.join(sorted(map(str, outside)))}, which it does not bind")
        compiled = self._sum(expr, names)
        return [None if p is not None else h for p, h in zip(pattern, holders, strict=True)], compiled


def format_env(env: Mapping) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(env.items(), key=lambda kv: str(kv[0])))


# ---------------------------------------------------------------------------------------------
# witnesses


def unknowns(e: sympy.Expr) -> list:
    """The signal entries and scalar symbols of a polynomial, in a deterministic order."""
    atoms = set(e.atoms(Indexed))
    atoms |= {s for s in e.free_symbols if not s.is_integer and not isinstance(s, IndexedBase)}
    inside = set()
    for a in e.atoms(Indexed):
        inside |= a.free_symbols
    atoms = {a for a in atoms if isinstance(a, Indexed) or a not in inside or a in e.free_symbols}
    return sorted(atoms, key=sympy.default_sort_key)


def find_assignment(lhs: sympy.Expr, rhs: sympy.Expr) -> tuple[dict, sympy.Expr, sympy.Expr] | None:
    """Small integers for the unknowns on which ``lhs`` and ``rhs`` differ (None if they agree)."""
    diff = sympy.expand(lhs - rhs)
    if diff == 0:
        return None
    names = unknowns(lhs + rhs)
    poly = sympy.Poly(diff, *names) if names else None
    if poly is None:
        return {}, lhs, rhs
    monomial = sorted(poly.monoms())[0]
    for value in (1, 2, 3, -1, 5, 7, 11):
        assign = {n: (sympy.Integer(value) if p else sympy.Integer(0)) for n, p in zip(names, monomial, strict=True)}
        lv, rv = sympy.expand(lhs.xreplace(assign)), sympy.expand(rhs.xreplace(assign))
        if lv != rv:
            return assign, lv, rv
    for seed in range(50):  # a nonzero polynomial cannot vanish on every point of a grid this large
        assign = {n: sympy.Integer((7 * seed + 3 * k) % 13 - 6) for k, n in enumerate(names)}
        lv, rv = sympy.expand(lhs.xreplace(assign)), sympy.expand(rhs.xreplace(assign))
        if lv != rv:
            return assign, lv, rv
    raise ProofError("the two sides differ as polynomials but no small witness was found", rule="claim")
