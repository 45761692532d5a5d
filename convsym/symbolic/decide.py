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

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sympy
import z3

from convsym.deferred import Deferred, ResolvesDeferred
from convsym.symbolic.sums import name_of

TIMEOUT_MS = 20_000


@dataclass(frozen=True)
class Query(ResolvesDeferred):
    """One question put to z3, kept for the machine record as LaTeX math (it decides nothing).

    ``kind`` is ``implies`` (``hypotheses`` imply the conjunction ``goal``), ``equivalent``
    (under ``hypotheses``, the conjunction ``goal`` holds exactly when the conjunction ``other``
    does), ``satisfiable`` (some values satisfy ``goal``) or ``valid`` (the closed formula
    ``goal`` holds).  ``variables`` are the integer unknowns, each with the range z3 was told:
    ``(LaTeX name, LaTeX conditions)``, the conditions empty for a summation index or another
    unknown z3 was told nothing about.  ``outcome`` is z3's answer as :class:`Decision` says it;
    ``counterexample`` the values z3 found, ``(name, value)`` pairs (empty after unsat).
    """

    kind: str
    variables: tuple[tuple[str, tuple[str, ...]], ...]
    hypotheses: tuple[str, ...]
    goal: tuple[str, ...]
    other: tuple[str, ...] = ()
    outcome: str = ""
    counterexample: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Decision:
    """The answer to one side condition: ``holds`` with the way it was decided, or a counterexample.

    ``query`` is the question as it was put to z3, for the record (not compared)."""

    holds: bool
    how: str
    counterexample: dict[str, int] | None = None
    query: Query | None = field(default=None, compare=False, repr=False)


#: the open :func:`recording` blocks, innermost last
_RECORDERS: list[list[Query]] = []


@contextmanager
def recording() -> Iterator[list[Query]]:
    """Collect, in order, the queries decided inside the block (a nested block keeps its own)."""
    log: list[Query] = []
    _RECORDERS.append(log)
    try:
        yield log
    finally:
        _RECORDERS.pop()


def keep(queries: Iterable[Query]) -> None:
    """Add ``queries`` (decided inside a trial :func:`recording` block whose answer was used) to the
    innermost open recording, as if they had been decided there."""
    if _RECORDERS:
        _RECORDERS[-1].extend(queries)


def _latex_all(exprs: Iterable) -> tuple[str, ...]:
    out = []
    for e in exprs:
        try:
            out.append(sympy.latex(sympy.sympify(e)))
        except (sympy.SympifyError, TypeError, ValueError, AttributeError):
            out.append(r"\text{" + "".join("\\" + c if c in "{}_^%&#$" else c for c in str(e)) + "}")
    return tuple(out)


def _recorded(decision: Decision, kind: str, tr: _Translator, hypotheses: Iterable, goal: Iterable,
              other: Iterable = (), ranges: Iterable = ()) -> Decision:
    """``decision`` with its query attached, and the query added to the innermost recording."""
    told: dict[str, list[str]] = {}
    for s, cond in ranges:
        told.setdefault(str(s), []).append(cond)
    unknowns = sorted(tr.vars, key=lambda s: (str(s), sympy.default_sort_key(s)))
    hypotheses, goal, other = tuple(hypotheses), tuple(goal), tuple(other)

    def variables() -> tuple:
        out = []
        for s in unknowns:
            name = sympy.latex(s)
            out.append((name, tuple(c.replace("@", name) for c in told.get(str(s), ()))))
        return tuple(out)

    cex = tuple(sorted((decision.counterexample or {}).items())) if not decision.holds or kind == "satisfiable" \
        else ()
    # the LaTeX is printed when the record is read (the book), not when the question is decided
    query = Query(kind, Deferred(variables), Deferred(lambda: _latex_all(hypotheses)),
                  Deferred(lambda: _latex_all(goal)), Deferred(lambda: _latex_all(other)), decision.how, cex)
    if _RECORDERS:
        _RECORDERS[-1].append(query)
    return Decision(decision.holds, decision.how, decision.counterexample, query)


#: translations of expressions already put to z3, with the symbols each visits (in order); z3
#: terms are immutable, so one translation serves every query that meets the expression again
_TRANSLATED: dict = {}
_TRANSLATED_LIMIT = 50_000


class _Translator:
    def __init__(self) -> None:
        self.vars: dict[sympy.Symbol, z3.ArithRef] = {}
        self._names: dict[str, sympy.Symbol] = {}
        self._visited: list | None = None

    def var(self, s: sympy.Symbol) -> z3.ArithRef:
        if self._visited is not None:
            self._visited.append(s)
        if s not in self.vars:
            name = name_of(s)
            other = self._names.get(name)
            if other is not None:
                # z3 names its variables by string: two SymPy symbols with one name would merge
                raise ValueError(
                    f"decide: two different symbols are named {s} ({other.assumptions0} and "
                    f"{s.assumptions0}); rename one of them"
                )
            if s.is_integer is False or (s.is_integer is None and not isinstance(s, sympy.Dummy)):
                raise ValueError(f"decide: {s} is not declared integer; index conditions are over the integers")
            self.vars[s] = z3.Int(name)
            self._names[name] = s
        return self.vars[s]

    def __call__(self, e):
        if not isinstance(e, sympy.Basic):
            e = sympy.sympify(e)
        hit = _TRANSLATED.get(e)
        if hit is not None:
            term, visited = hit
            for s in visited:  # the same checks, in the same order, as translating it again
                self.var(s)
            return term
        outer, self._visited = self._visited, []
        try:
            term = self._translate(e)
            visited = tuple(dict.fromkeys(self._visited))
        finally:
            if outer is not None:
                outer.extend(self._visited)
            self._visited = outer
        if len(_TRANSLATED) >= _TRANSLATED_LIMIT:
            _TRANSLATED.clear()
        _TRANSLATED[e] = (term, visited)
        return term

    def _translate(self, e):
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
    return [z for _, _, z in _assumptions(tr, exprs, bound)]


def _assumptions(tr: _Translator, exprs: Iterable, bound: Iterable = ()) -> list[tuple]:
    """The assumptions of :func:`_size_assumptions` as ``(symbol, condition, z3 condition)``; the
    condition is LaTeX with ``@`` for the symbol's name (printed only when the record is read)."""
    out = []
    syms: set[sympy.Symbol] = set()
    for e in exprs:
        syms |= (e if isinstance(e, sympy.Basic) else sympy.sympify(e)).free_symbols
    syms -= set(bound)
    for s in sorted(syms, key=sympy.default_sort_key):
        if s.is_positive:
            out.append((s, r"@ \ge 1", tr.var(s) >= 1))
        elif s.is_nonnegative:
            out.append((s, r"@ \ge 0", tr.var(s) >= 0))
        if s.is_negative:
            out.append((s, r"@ \le -1", tr.var(s) <= -1))
        elif s.is_nonpositive:
            out.append((s, r"@ \le 0", tr.var(s) <= 0))
        if s.is_even:
            out.append((s, r"@ \equiv 0 \pmod{2}", tr.var(s) % 2 == 0))
        elif s.is_odd:
            out.append((s, r"@ \equiv 1 \pmod{2}", tr.var(s) % 2 == 1))
    return out


def _presolver() -> z3.Solver:
    """z3's SMT core after simplification and Gaussian elimination of the equalities (index
    substitutions make many): on the side conditions of the proof library it answers about eight
    times faster than the default solver, with the same answers."""
    return z3.Then("simplify", "propagate-values", "solve-eqs", "smt").solver()


def _solve(goal_negation, hypotheses, tr: _Translator) -> Decision:
    # unsat from the presolver is a proof like any other; for any other answer the default
    # solver decides again, so counterexamples (and what is reported) do not depend on it
    fast = _presolver()
    fast.set("timeout", TIMEOUT_MS)
    fast.add(*hypotheses)
    fast.add(goal_negation)
    if fast.check() == z3.unsat:
        return Decision(True, "z3: no counterexample exists (unsat)")
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
        hyps = [tr(h) for h in hypotheses]
        told = _assumptions(tr, a + b + hypotheses, bound)
        hyps += [z for _, _, z in told]
    except ValueError as exc:
        return _recorded(Decision(False, f"not decided: {exc}"), "equivalent", tr, hypotheses, a, b)
    return _recorded(_solve(za != zb, hyps, tr), "equivalent", tr, hypotheses, a, b,
                     [(s, c) for s, c, _ in told])


def implies(hypotheses: Iterable, goal: Iterable, bound: Iterable = ()) -> Decision:
    """Decide ``AND hypotheses => AND goal`` for all integer values of every symbol.

    ``bound`` lists summation indices, which get no size assumption.
    """
    hypotheses, goal = list(hypotheses), list(goal)
    tr = _Translator()
    try:
        zg = z3.And([tr(c) for c in goal]) if goal else z3.BoolVal(True)
        hyps = [tr(h) for h in hypotheses]
        told = _assumptions(tr, hypotheses + goal, bound)
        hyps += [z for _, _, z in told]
    except ValueError as exc:
        return _recorded(Decision(False, f"not decided: {exc}"), "implies", tr, hypotheses, goal)
    return _recorded(_solve(z3.Not(zg), hyps, tr), "implies", tr, hypotheses, goal, (),
                     [(s, c) for s, c, _ in told])


def satisfiable(conditions: Iterable) -> Decision:
    """Decide whether some integer values (sizes positive as declared) satisfy every condition;
    ``holds`` with a model in ``counterexample`` (here: an example), or not."""
    conditions = list(conditions)
    tr = _Translator()
    try:
        zc = [tr(c) for c in conditions]
        told = _assumptions(tr, conditions)
        zc += [z for _, _, z in told]
    except ValueError as exc:
        return _recorded(Decision(False, f"not decided: {exc}"), "satisfiable", tr, (), conditions)
    solver = z3.Solver()
    solver.set("timeout", TIMEOUT_MS)
    solver.add(*zc)
    res = solver.check()
    ranges = [(s, c) for s, c, _ in told]
    if res == z3.sat:
        m = solver.model()
        return _recorded(Decision(True, "z3: satisfiable", {
            str(s): m.eval(v, model_completion=True).as_long()
            for s, v in sorted(tr.vars.items(), key=lambda kv: str(kv[0]))}), "satisfiable", tr, (), conditions,
            (), ranges)
    if res == z3.unsat:
        return _recorded(Decision(False, "z3: unsatisfiable"), "satisfiable", tr, (), conditions, (), ranges)
    return _recorded(Decision(False, f"z3: undecided ({solver.reason_unknown()})"), "satisfiable", tr, (),
                     conditions, (), ranges)


# ---------------------------------------------------------------------------------------------
# the record of a formula a proof hands to z3 itself (over the reals, or a system of equations)

_Z3_RELATIONS = {z3.Z3_OP_LE: r"\le", z3.Z3_OP_GE: r"\ge", z3.Z3_OP_LT: "<", z3.Z3_OP_GT: ">",
                 z3.Z3_OP_DISTINCT: r"\ne"}
_Z3_SORTS = {z3.Z3_REAL_SORT: r"\mathbb{R}", z3.Z3_INT_SORT: r"\mathbb{Z}", z3.Z3_BOOL_SORT: r"\{0, 1\}"}


def z3_latex(e) -> str:
    """A z3 formula or term as LaTeX math, for the record (``If`` reads ``a \text{ if } c
    \text{ else } b`` in parentheses; a quantifier names its variables and their sort)."""
    if z3.is_quantifier(e):
        names = [z3_latex(z3.Const(e.var_name(k), e.var_sort(k))) for k in range(e.num_vars())]
        sorts = {_Z3_SORTS.get(e.var_sort(k).kind(), str(e.var_sort(k))) for k in range(e.num_vars())}
        body = z3.substitute_vars(e.body(), *[z3.Const(e.var_name(k), e.var_sort(k))
                                             for k in reversed(range(e.num_vars()))])
        head = r"\forall" if e.is_forall() else r"\exists"
        return rf"{head}\, {', '.join(names)} \in {', '.join(sorted(sorts))}\colon\ {z3_latex(body)}"
    if z3.is_int_value(e) or z3.is_rational_value(e):
        return sympy.latex(sympy.Rational(str(e.as_fraction() if z3.is_rational_value(e) else e.as_long())))
    if z3.is_true(e):
        return r"\mathrm{true}"
    if z3.is_false(e):
        return r"\mathrm{false}"
    if z3.is_const(e):
        name = str(e)
        head, digits = name.rstrip("0123456789"), name[len(name.rstrip("0123456789")):]
        return f"{head}_{{{digits}}}" if head and digits else name
    k = e.decl().kind()
    args = [z3_latex(a) for a in e.children()]
    wrap = [f"({a})" if z3.is_app(c) and c.num_args() > 1 and c.decl().kind() not in (z3.Z3_OP_ITE,)
            and not z3.is_const(c) else a for a, c in zip(args, e.children(), strict=True)]
    if k == z3.Z3_OP_AND:
        return r" \wedge ".join(wrap)
    if k == z3.Z3_OP_OR:
        return r" \vee ".join(wrap)
    if k == z3.Z3_OP_NOT:
        return rf"\neg {wrap[0]}"
    if k == z3.Z3_OP_IMPLIES:
        return rf"{wrap[0]} \Rightarrow {wrap[1]}"
    if k == z3.Z3_OP_EQ:
        return rf"{wrap[0]} \iff {wrap[1]}" if z3.is_bool(e.children()[0]) else f"{args[0]} = {args[1]}"
    if k in _Z3_RELATIONS:
        return f" {_Z3_RELATIONS[k]} ".join(args)
    if k == z3.Z3_OP_ITE:
        return rf"\left({args[1]} \text{{ if }} {args[0]} \text{{ else }} {args[2]}\right)"
    if k == z3.Z3_OP_ADD:
        return " + ".join(args)
    if k == z3.Z3_OP_SUB:
        return " - ".join([args[0]] + wrap[1:])
    if k == z3.Z3_OP_UMINUS:
        return f"-{wrap[0]}"
    if k == z3.Z3_OP_MUL:
        return r" \cdot ".join(wrap)
    if k in (z3.Z3_OP_DIV, z3.Z3_OP_IDIV):
        return rf"\frac{{{args[0]}}}{{{args[1]}}}"
    if k == z3.Z3_OP_POWER:
        return f"{{{wrap[0]}}}^{{{args[1]}}}"
    if k in (z3.Z3_OP_TO_REAL, z3.Z3_OP_TO_INT):
        return args[0]
    return rf"\operatorname{{{e.decl().name()}}}({', '.join(args)})"


def formula_query(kind: str, formulas: Iterable, outcome: str) -> Query:
    """The record of z3 formulas a proof decided itself (``valid``: the formula holds;
    ``unsatisfiable``: no values satisfy all of them), for the innermost recording too."""
    formulas = list(formulas)
    consts: dict[str, str] = {}

    def collect(e) -> None:
        if z3.is_quantifier(e):
            return
        if z3.is_const(e) and not (z3.is_int_value(e) or z3.is_rational_value(e) or z3.is_true(e)
                                    or z3.is_false(e)):
            consts[z3_latex(e)] = _Z3_SORTS.get(e.sort().kind(), str(e.sort()))
        for c in e.children():
            collect(c)

    for f in formulas:
        collect(f)
    variables = tuple((name, (rf"{name} \in {sort}",)) for name, sort in sorted(consts.items()))
    query = Query(kind, variables, (), tuple(z3_latex(f) for f in formulas), (), outcome)
    if _RECORDERS:
        _RECORDERS[-1].append(query)
    return query
