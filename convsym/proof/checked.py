"""Theorems proved by a list of kernel-checked steps (algebra, z3, summation, exact families).

``Checked(name, title, gloss, derive=fn)`` runs ``fn(P)`` with a :class:`Proof`; every method of
``P`` carries out its check *before* it records the step, and records what the check
established (its evidence).  There is no way to add a step that checks nothing: prose goes into
``P.define`` (evidence ``definition``, which proves nothing on its own) or into the theorem's
gloss and remarks.  The printed statement is generated from what the steps checked: the
``claim`` when one is given (it must be one of the facts a step established), otherwise the
facts themselves.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction

import sympy
import z3

from convsym.deferred import Deferred, resolve
from convsym.proof.theorem import (
    StepError,
    Theorem,
    established,
    established_fact,
    fact_symbols,
    mint,
    mint_witness,
    minted,
    weakest,
)
from convsym.proof.verdict import Instances
from convsym.symbolic import decide
from convsym.symbolic.printing import size_name_latex


@functools.lru_cache(maxsize=4096, typed=True)
def _tex_of(e) -> str:
    """``sympy.latex(e)``, kept: a step prints each side twice (shown and fact), and proofs repeat
    expressions; equal SymPy expressions are the same tree, so they print alike."""
    return sympy.latex(e)


@functools.lru_cache(maxsize=4096, typed=True)
def _str_of(e) -> str:
    """``sympy.sstr(e)``, kept like :func:`_tex_of`."""
    return sympy.sstr(e)


def _kept(kept: Callable[[object], str], printer: Callable[[object], str], e) -> str:
    try:
        return kept(e)
    except TypeError:  # not hashable
        return printer(e)


def _tex(e) -> str:
    return _kept(_tex_of, sympy.latex, e)


def _str(e) -> str:
    return _kept(_str_of, sympy.sstr, e)


def _text_eq(lhs, rhs) -> str:
    return f"{_str(lhs)} = {_str(rhs)}"


def _text_implies(hypotheses: Sequence, goals: Sequence) -> str:
    return f"{' and '.join(map(_str, hypotheses)) or 'true'} implies {' and '.join(map(_str, goals))}"


def _text_same_set(hypotheses: Sequence, a: Sequence, b: Sequence) -> str:
    return (f"{' and '.join(map(_str, hypotheses)) or 'true'} implies "
            f"{{{' and '.join(map(_str, a))}}} = {{{' and '.join(map(_str, b))}}}")


def _text_positive(expr) -> str:
    return f"{_str(expr)} > 0"


def _text_lemma(name: str, verdict) -> str:
    return f"{name}: {verdict.statement_text}"


def _conj(conds: Iterable) -> str:
    return r" \wedge ".join(_tex(c) for c in conds) or r"\mathrm{true}"


def _later(fn: Callable, *args) -> Deferred:
    """``fn(*args)``, printed when the step record is read (see :mod:`convsym.deferred`)."""
    return Deferred(functools.partial(fn, *args))


def _tex_eq(lhs, rhs) -> str:
    return f"{_tex(lhs)} = {_tex(rhs)}"


def _tex_implies(hypotheses, goals) -> str:
    return rf"{_conj(hypotheses)} \Rightarrow {_conj(goals)}"


def _tex_same_set(a, b) -> str:
    return rf"\{{{_conj(a)}\}} = \{{{_conj(b)}\}}"


def _tex_same_set_under(hypotheses, a, b) -> str:
    return rf"{_conj(hypotheses)} \Rightarrow \left(\{{{_conj(a)}\}} = \{{{_conj(b)}\}}\right)"


def _tex_positive(expr) -> str:
    return f"{_tex(expr)} > 0"


def _tex_range(lo, hi) -> str:
    return rf"{_tex(lo)} \le {_tex(hi)} + 1"


def _tex_by_signs(by_signs) -> str:
    return (f"no range runs backwards (lower bound at most the upper bound "
            f"plus 1): for ${', '.join(_tex(i) for i in by_signs)}$ by the signs of the sizes")


def _fmt_case(case: Mapping) -> str:
    return ", ".join(f"{k}={v}" for k, v in case.items())


def cases_record(what: str, cases: Sequence[Mapping]) -> Instances:
    """The cases of an exact family for the machine record, in the order they were evaluated."""
    keys: list = []
    for case in cases:
        keys.extend(k for k in case if k not in keys)
    return Instances(what, tuple(size_name_latex(k) for k in keys),
                     tuple(tuple(str(case[k]) if k in case else "" for k in keys) for case in cases))


def _case_math(case: Mapping) -> str:
    """A case as inline math for the book and ``convsym show``: ``$C_{in} = 1,\\ k_{1} = 2$``."""
    def value(v) -> str:
        if isinstance(v, bool):  # as the book's size rows write them
            return r"\text{" + str(v).lower() + "}"
        if isinstance(v, str):
            return r"\text{" + _escape_text(v) + "}"
        return str(v)

    return "$" + r",\ ".join(f"{size_name_latex(k)} = {value(v)}" for k, v in case.items()) + "$"


def _fn_words(fn: Callable) -> str:
    """What a function computes, in words: its docstring's first line, else its name with spaces
    (``merge_is_exact`` -> "merge is exact"); "" for a lambda, which has neither."""
    doc = (fn.__doc__ or "").strip().splitlines()
    if doc:
        return doc[0].rstrip(".")
    name = getattr(fn, "__name__", "<lambda>")
    return "" if name == "<lambda>" else name.strip("_").replace("_", " ")


class Proof:
    """Collects the checked steps of one proof; every check raises :class:`ProofError` when it fails."""

    def __init__(self) -> None:
        self.steps: list = []
        self.instances: list[str] = []
        self.witness = None
        #: the machine record of the cross-checks: the cases each was evaluated on
        self.evaluated: list[Instances] = []

    def _fail(self, rule: str, message: str) -> None:
        raise StepError(message, step=len(self.steps) + 1, rule=rule, steps=self.steps)

    def define(self, description: str, expression: str) -> None:
        """Introduce notation (checks nothing, so it neither proves nor weakens anything)."""
        self.steps.append(mint("definition", description, expression, "definition", checked_by=("by definition",)))

    def equal(self, description: str, lhs, rhs, rule: str = "algebra", shown: str | None = None) -> None:
        """``lhs == rhs`` as an identity of SymPy expressions (the difference expands or simplifies to 0)."""
        lhs, rhs = sympy.sympify(lhs), sympy.sympify(rhs)
        diff = sympy.expand(lhs - rhs)
        if diff != 0 and sympy.simplify(diff) != 0:
            self._fail(rule, f"{description}: {sympy.sstr(lhs)} - ({sympy.sstr(rhs)}) = {sympy.sstr(diff)}")
        self.steps.append(mint(rule, description, shown or _later(_tex_eq, lhs, rhs), "general",
                               checked_by=("the difference reduces to 0 (SymPy)",),
                               text=_later(_text_eq, lhs, rhs), fact=lhs - rhs,
                               fact_latex=_later(_tex_eq, lhs, rhs),
                               symbols=lhs.free_symbols | rhs.free_symbols))

    def identical(self, description: str, lhs, rhs, rule: str = "algebra", shown: str | None = None) -> None:
        """``lhs`` and ``rhs`` are the same SymPy expression (structurally, e.g. two Piecewise forms)."""
        lhs, rhs = sympy.sympify(lhs), sympy.sympify(rhs)
        if lhs != rhs:
            self._fail(rule, f"{description}: {sympy.sstr(lhs)} is not {sympy.sstr(rhs)}")
        self.steps.append(mint(rule, description, shown or _later(_tex_eq, lhs, rhs), "general",
                               checked_by=("the same expression (SymPy, structurally)",),
                               text=_later(_text_eq, lhs, rhs), fact=lhs - rhs,
                               fact_latex=_later(_tex_eq, lhs, rhs),
                               symbols=lhs.free_symbols | rhs.free_symbols))

    def induction(self, description: str, n: sympy.Symbol, closed: Mapping[str, Callable], base: Mapping[str, object],
                  step: Mapping[str, Callable], shown: str = "") -> None:
        """Induction on ``n >= 0`` for closed forms built from finite sums and products over ``1..n``.

        ``closed[name](n)`` is the closed form; ``base[name]`` its value at ``n = 0``;
        ``step[name](prev, n)`` the recurrence, where ``prev`` maps every name to its closed form
        at ``n - 1``.  Checked: ``closed(0) == base`` and, for ``n >= 1``, ``closed(n)`` with the
        last term of each sum and product up to ``n`` peeled off (``sum_{l=a}^{n} f = sum_{l=a}^{n-1} f
        + f(n)``, likewise products) equals ``step(prev, n)``.
        """
        for name, form in closed.items():
            at0 = sympy.sympify(form(sympy.Integer(0))).doit()
            if sympy.simplify(at0 - sympy.sympify(base[name])) != 0:
                self._fail("induction", f"{description}: base case {name}(0) = {at0}, not {base[name]}")
        prev = {name: form(n - 1) for name, form in closed.items()}
        for name, form in closed.items():
            peeled = _peel(sympy.sympify(form(n)), n)
            target = sympy.sympify(step[name](prev, n))
            if sympy.expand(peeled - target) != 0 and sympy.simplify(peeled - target) != 0:
                self._fail("induction", f"{description}: the step for {name} leaves {sympy.simplify(peeled - target)}")
        self.steps.append(mint("induction", description, shown or ", ".join(
            f"{name}({_tex(n)})" for name in closed), "general",
            side_conditions=(rf"{_tex(n)} \ge 1",),
            checked_by=("base case evaluated; induction step by peeling the last term of each finite sum and "
                        "product (SymPy)",),
            fact_latex=r",\quad ".join(f"{name}({_tex(n)}) = {_tex(form(n))}" for name, form in closed.items()),
            text=", ".join(f"{name}({n}) = {sympy.sstr(form(n))}" for name, form in closed.items())))

    def zero(self, description: str, expr, rule: str = "algebra", shown: str | None = None) -> None:
        """``expr == 0`` identically (SymPy)."""
        self.equal(description, expr, 0, rule=rule, shown=shown)

    def summation(self, description: str, summand, limits: Sequence[tuple], hypotheses: Sequence = ()) -> sympy.Expr:
        """``sum summand`` over ``limits`` (innermost first), for a summand polynomial in the indices.

        SymPy sums polynomials over symbolic integer ranges in closed form (Faulhaber); summands
        with floors, ceilings, minima or maxima of the summation indices are refused (SymPy's
        ``Sum.doit`` is not reliable on them).  SymPy's closed forms follow Karr's convention,
        which agrees with "an empty range sums to 0" only when ``lower <= upper + 1``: that side
        condition is checked for every range (from the symbols' signs, or by z3 under
        ``hypotheses``).  The closed form is re-checked against direct enumeration at small bounds.
        """
        summand = sympy.sympify(summand)
        indices = [lim[0] for lim in limits]
        for e in [summand] + [sympy.sympify(b) for lim in limits for b in lim[1:]]:
            parts = e.atoms(sympy.floor, sympy.ceiling, sympy.Min, sympy.Max, sympy.Piecewise)
            if any(part.has(*indices) for part in parts):
                self._fail("summation", f"{description}: {e} has a floor, ceiling, min, max or piecewise part "
                                        "that depends on a summation index; sum it by cases instead")
        if not summand.is_polynomial(*indices):
            self._fail("summation", f"{description}: the summand {summand} is not a polynomial in {indices}")
        conditions = []
        queries = []
        by_signs = []
        for k, (idx, lo, hi) in enumerate(limits):
            width = sympy.sympify(hi) - sympy.sympify(lo) + 1
            if width.is_nonnegative:
                # decided by the signs of the sizes: said once in the step's checks, not listed
                by_signs.append(idx)
                continue
            conditions.append(_later(_tex_range, lo, hi))
            outer = [lim[0] for lim in limits[k + 1:]]
            ranges = [c for (j, a, b) in limits[k + 1:] for c in (j >= a, j <= b)]
            d = decide.implies(list(hypotheses) + ranges, [width >= 0], bound=outer)
            queries.append(d.query)
            if not d.holds:
                self._fail("summation", f"{description}: the range of {idx} may run backwards ({_tex(lo)} > "
                                        f"{_tex(hi)} + 1), where the closed form is not the sum: {d.how} "
                                        f"{d.counterexample or ''}".strip())
        value = sympy.factor_terms(sympy.summation(summand, *limits))
        bounds = sorted({s for lim in limits for b in lim[1:] for s in sympy.sympify(b).free_symbols}
                        - set(indices), key=sympy.default_sort_key)
        enumerated = []
        for trial in range(3):
            env = {s: sympy.Integer(2 + (trial * 3 + k) % 4) for k, s in enumerate(bounds)}
            direct = _enumerate(summand, limits, env)
            closed = sympy.sympify(value).xreplace(env)
            if direct is not None and sympy.simplify(closed - direct) != 0:
                self._fail("summation", f"{description}: the closed form {value} gives {closed} at "
                                        f"{_fmt_case(env)}, enumeration gives {direct}")
            if direct is not None:
                enumerated.append(env)
        shown = sympy.Sum(summand, *limits)
        self.steps.append(mint("summation", description, _later(_tex_eq, shown, value), "general",
                               text=_later(_text_eq, shown, value),
                               fact_latex=_later(_tex_eq, shown, value), symbols=sympy.sympify(value).free_symbols,
                               side_conditions=tuple(conditions),
                               checked_by=("closed form of a polynomial sum (SymPy), re-checked by enumeration",
                                           *((_later(_tex_by_signs, tuple(by_signs)),) if by_signs else ())),
                               queries=queries, instances=Instances(
                                   "the closed form against the sum enumerated term by term",
                                   tuple(_tex(b) for b in bounds),
                                   tuple(tuple(str(env[b]) for b in bounds) for env in enumerated))
                               if enumerated else None))
        return value

    def implies(self, description: str, hypotheses: Sequence, goals: Sequence, shown: str | None = None) -> None:
        """``AND hypotheses => AND goals`` for all integers (z3)."""
        d = decide.implies(hypotheses, goals)
        if not d.holds:
            self._fail("z3", f"{description}: {d.how} {d.counterexample or ''}".strip())
        hypotheses, goals = tuple(hypotheses), tuple(goals)
        self.steps.append(mint("integer arithmetic", description, shown or _later(_conj, goals), "general",
                               side_conditions=(_later(_tex_implies, hypotheses, goals),),
                               checked_by=(d.how,), fact_latex=_later(_tex_implies, hypotheses, goals),
                               queries=(d.query,),
                               symbols=set().union(*(sympy.sympify(e).free_symbols for e in [*hypotheses, *goals])),
                               text=_later(_text_implies, hypotheses, goals)))

    def same_set(self, description: str, a: Sequence, b: Sequence, hypotheses: Sequence,
                 shown: str | None = None) -> None:
        """``{AND a} = {AND b}`` under the hypotheses, for all integers (z3)."""
        d = decide.equivalent(a, b, hypotheses)
        if not d.holds:
            self._fail("z3", f"{description}: {d.how} {d.counterexample or ''}".strip())
        a, b, hypotheses = tuple(a), tuple(b), tuple(hypotheses)
        self.steps.append(mint(
            "integer arithmetic", description, shown or _later(_tex_same_set, a, b), "general",
            side_conditions=(_later(_tex_same_set_under, hypotheses, a, b),),
            checked_by=(d.how,), queries=(d.query,),
            fact_latex=_later(_tex_same_set_under, hypotheses, a, b),
            text=_later(_text_same_set, hypotheses, a, b),
        ))

    def real_valid(self, description: str, formula, expression: str, conditions: Sequence[str] = ()) -> None:
        """A z3 formula over the reals (and integers) that must hold for all values: its negation is unsat."""
        solver = z3.Solver()
        solver.set("timeout", 20000)
        solver.add(z3.Not(formula))
        result = solver.check()
        if result != z3.unsat:
            model = solver.model() if result == z3.sat else solver.reason_unknown()
            self._fail("z3", f"{description}: z3 does not prove it ({result}: {model})")
        shown = " ".join(str(formula).split())
        query = decide.formula_query("valid", [formula], "z3: no counterexample exists (unsat)")
        self.steps.append(mint("z3", description, expression, "general", side_conditions=tuple(conditions),
                               checked_by=(f"z3: the negation of this formula is unsat: {shown}",), text=shown,
                               queries=(query,)))

    def cases(self, description: str, expr, variable: sympy.Symbol, expression: str) -> None:
        """``expr == 0`` for every real value of ``variable``, by cases on its sign: SymPy checks the
        expression with ``variable`` declared nonnegative and then negative."""
        expr = sympy.sympify(expr)
        namesakes = [q for q in expr.free_symbols if str(q) == str(variable) and q != variable]
        if namesakes:
            self._fail("case analysis", f"{description}: {expr} has another symbol named {variable} "
                                        f"({namesakes[0].assumptions0}); the cases would not cover it")
        if variable not in expr.free_symbols:
            self._fail("case analysis", f"{description}: {variable} (with its assumptions) does not occur in {expr}")
        if variable.is_real is not True:
            self._fail("case analysis", f"{description}: {variable} must be declared real")
        for assumption in ({"nonnegative": True}, {"negative": True}):
            v = sympy.Dummy(str(variable), real=True, **assumption)
            e = sympy.simplify(expr.xreplace({variable: v}))
            if e != 0:
                self._fail("case analysis", f"{description}: for {variable} {list(assumption)[0]} it reduces to {e}")
        self.steps.append(mint("case analysis", description, expression, "general",
                               side_conditions=(rf"{_tex(variable)} \ge 0 \text{{ or }} {_tex(variable)} < 0",),
                               checked_by=("SymPy: zero on each sign",), fact=expr, symbols=expr.free_symbols,
                               fact_latex=_later(_tex_eq, expr, 0), text=_later(_text_eq, expr, 0)))

    def positive(self, description: str, expr, expression: str) -> None:
        """``expr > 0`` for every value of its symbols, from their declared signs (SymPy's assumptions)."""
        if sympy.sympify(expr).is_positive is not True:
            self._fail("sign", f"{description}: SymPy cannot show that {expr} is positive from the assumptions")
        self.steps.append(mint("sign", description, expression, "general",
                               checked_by=("SymPy: positive from the declared signs of its symbols",),
                               fact_latex=_later(_tex_positive, expr), text=_later(_text_positive, expr),
                               symbols=sympy.sympify(expr).free_symbols))

    def lemma(self, description: str, theorem: Theorem, expression: str) -> str:
        """Use a theorem of the library: it must be proved; the step's evidence is its strength."""
        from convsym.proof.theorem import _foreign_overrides

        if not isinstance(theorem, Theorem) or type(theorem).prove is not Theorem.prove or \
                _foreign_overrides(type(theorem)):
            self._fail("lemma", f"{description}: {type(theorem).__name__} is not one of the kernel's theorem kinds; "
                                "a lemma must be proved by the kernel")
        v = _proved_once(theorem)
        if v.verdict != "proved":
            self._fail("lemma", f"{description}: the lemma {theorem.name} is {v.verdict}: {v.error or ''}".strip())
        self.steps.append(mint("lemma", description, expression, v.strength,
                               checked_by=(f"lemma {theorem.name}: proved ({v.strength}, {v.sizes})",),
                               fact_latex=r"\text{" + theorem.name + "}", text=_later(_text_lemma, theorem.name, v)))
        return v.strength

    def family(self, description: str, cases: Sequence[Mapping], lhs: Callable, rhs: Callable,
               shown: str = "") -> None:
        """``lhs(**case) == rhs(**case)`` exactly (ints or Fractions) for every case."""
        if not cases:
            self._fail("exact family", f"{description}: no case")
        for case in cases:
            left, right = lhs(**case), rhs(**case)
            bad = _inexact(left) or _inexact(right)
            if bad:
                self._fail("exact family", f"{description}: at {_fmt_case(case)} a side holds {bad}; an exact "
                                           "family compares ints, Fractions or exact SymPy numbers only")
            if left != right:
                self._fail("exact family", f"{description}: at {_fmt_case(case)} the left side is {left}, "
                                           f"the right side {right}")
        first, last = _case_math(cases[0]), _case_math(cases[-1])
        text = f"{description}: {len(cases)} instances, exact, from {first} to {last}"
        self.instances.append(text)
        evidence = "exact-family" if len(cases) > 1 else "exact-instance"
        sides = (_fn_words(lhs), _fn_words(rhs))
        fns = (f"{sides[0]} = {sides[1]} on {len(cases)} cases" if all(sides) else
               f"the two sides agree on {len(cases)} cases")
        self.steps.append(mint("exact family", description, shown or rf"\text{{{len(cases)} exact instances}}",
                               evidence, checked_by=(text,), text=fns,
                               instances=cases_record("both sides computed exactly", cases),
                               fact_latex=r"\text{" + _escape_text(fns) + "}"))

    def cross_check(self, description: str, cases: Sequence[Mapping], lhs: Callable, rhs: Callable) -> None:
        """Like :meth:`family`, but as a cross-check of a derivation that is complete without it:
        it is run and reported with the instances, and it is not a step (it neither raises nor
        lowers the strength)."""
        for case in cases:
            left, right = lhs(**case), rhs(**case)
            if left != right:
                self._fail("cross-check", f"{description}: at {_fmt_case(case)} the left side is {left}, "
                                          f"the right side {right}")
        self.instances.append(f"{description}: {len(cases)} instances, exact, from {_case_math(cases[0])} "
                              f"to {_case_math(cases[-1])}")
        self.evaluated.append(cases_record(description, cases))

    def exact_counterexample(self, description: str, lhs, rhs, expression: str, *, witness: str,
                             assignment: Sequence[tuple[str, str]], where: str, data: Mapping) -> None:
        """The claim's two sides at a concrete input, evaluated exactly (ints/Fractions): they differ.
        The theorem is then refuted with this witness."""
        from fractions import Fraction

        for side in (lhs, rhs):
            if not isinstance(side, int | Fraction | sympy.Rational) or isinstance(side, bool):
                self._fail("exact evaluation", f"{description}: a side is {side!r}, not an exact number")
        if lhs == rhs:
            self._fail("exact evaluation", f"{description}: both sides are {lhs}; the witness separates nothing")
        self._witness(description, expression, "exact rational arithmetic", witness, assignment, where,
                      str(lhs), str(rhs), data)

    def no_solution(self, description: str, constraints: Sequence, expression: str, *, witness: str,
                    assignment: Sequence[tuple[str, str]], where: str, lhs: str, rhs: str, data: Mapping) -> None:
        """The claim at the witness asks for values satisfying ``constraints`` (z3 formulas); z3 shows
        there are none (unsat).  The theorem is then refuted with this witness."""
        solver = z3.Solver()
        solver.set("timeout", 20000)
        solver.add(*constraints)
        result = solver.check()
        if result != z3.unsat:
            self._fail("z3", f"{description}: z3 answers {result}, so the witness is not shown to refute the claim")
        query = decide.formula_query("unsatisfiable", constraints, "z3: unsatisfiable")
        self._witness(description, expression, "z3: the claim's equations at the witness are unsat", witness,
                      assignment, where, lhs, rhs, data, queries=(query,))

    def _witness(self, description, expression, how, text, assignment, where, lhs, rhs, data, queries=()) -> None:
        if self.witness is not None:
            self._fail("witness", f"{description}: a proof refutes its claim once")
        self.witness = mint_witness(description=text, assignment=tuple((str(a), str(b)) for a, b in assignment),
                                    where=where, lhs=lhs, rhs=rhs, data=dict(data))
        self.steps.append(mint("counterexample", description, expression, "exact-instance", checked_by=(how,),
                               queries=queries,
                               text=f"{lhs} != {rhs}", fact_latex=rf"\text{{{_escape_text(lhs)}}} \ne "
                                                                 rf"\text{{{_escape_text(rhs)}}}"))

    def numeric(self, description: str, check: Callable[[], str], expression: str) -> None:
        """A floating-point observation: ``check()`` raises when it fails and returns what it saw.
        Evidence ``numeric``: a theorem that uses it is at best *observed*."""
        try:
            seen = check()
        except (AssertionError, ArithmeticError, ValueError) as exc:
            self._fail("numeric", f"{description}: {exc}")
        self.steps.append(mint("numeric", description, expression, "numeric", checked_by=(str(seen),),
                               text=str(seen), fact_latex=r"\text{" + _escape_text(str(seen)) + "}"))
        self.instances.append(str(seen))


#: a generated statement longer than this (LaTeX characters) is referred to, not printed
MAX_STATEMENT_LATEX = 600


def _escape_text(text: str) -> str:
    """Plain text for ``\\text{...}``."""
    out = str(text)
    for a, b in (("\\", r"\textbackslash{}"), ("{", r"\{"), ("}", r"\}"), ("_", r"\_"), ("%", r"\%"),
                 ("&", r"\&"), ("#", r"\#"), ("$", r"\$"), ("^", r"\^{}"), ("~", r"\~{}")):
        out = out.replace(a, b)
    return out


def _inexact(v) -> str:
    """A description of the first floating-point value inside ``v`` ('' when ``v`` is exact)."""
    import numbers
    from fractions import Fraction

    import numpy as np

    if isinstance(v, bool | int | Fraction | np.integer | np.bool_):
        return ""
    if isinstance(v, sympy.Basic):
        return "" if (v.is_Rational or not v.atoms(sympy.Float)) and not v.has(sympy.Float) else f"the SymPy float {v}"
    if isinstance(v, np.ndarray):
        if v.dtype == object:
            return next((r for r in (_inexact(e) for e in v.flat) if r), "")
        return "" if np.issubdtype(v.dtype, np.integer) or v.dtype == bool else f"a {v.dtype} array"
    if isinstance(v, tuple | list):
        return next((r for r in (_inexact(e) for e in v) if r), "")
    if isinstance(v, dict):
        return next((r for r in (_inexact(e) for e in v.values()) if r), "")
    if isinstance(v, str | type(None)):
        return ""
    if isinstance(v, numbers.Number):
        return f"the {type(v).__name__} {v!r}"
    return ""


def _peel(expr, n):
    """Split off the last term of every sum and product whose upper limit is ``n``."""
    def peel_one(e):
        if isinstance(e, sympy.Sum | sympy.Product) and len(e.limits) == 1 and e.limits[0][2] == n:
            var, lo, _ = e.limits[0]
            head = type(e)(e.function, (var, lo, n - 1))
            last = e.function.xreplace({var: n})
            return head + last if isinstance(e, sympy.Sum) else head * last
        return e
    return expr.replace(lambda e: isinstance(e, sympy.Sum | sympy.Product), peel_one)


_VERDICTS: dict[int, object] = {}


def remember_proved(theorem: Theorem, verdict) -> None:
    """The kernel's verdict of ``theorem``, as the runner of ``convsym prove`` got it from
    ``theorem.prove()``: a lemma step citing the theorem later in the run uses it instead of
    proving the theorem again."""
    if isinstance(theorem, Theorem) and getattr(verdict, "name", None) == theorem.name:
        _VERDICTS.setdefault(id(theorem), (theorem, verdict))


def _proved_once(theorem: Theorem):
    key = id(theorem)
    if key not in _VERDICTS:
        _VERDICTS[key] = (theorem, theorem.prove())
    return _VERDICTS[key][1]


def _enumerate(summand, limits, env):
    """Direct sum at small concrete bounds (None if a bound is not a small integer).

    A summand that is, at ``env``, a polynomial in the indices with rational coefficients, with
    bounds that are, at ``env``, polynomials in the outer indices with rational coefficients, is
    summed term by term in exact integer arithmetic (each polynomial over a common denominator);
    any other sum is enumerated by substituting into SymPy expressions."""
    env = dict(env)
    indices = [lim[0] for lim in limits]
    value = _integer_terms(sympy.sympify(summand).xreplace(env), indices)
    bounds = []
    for k, (_, lo, hi) in enumerate(limits):
        outer = indices[k + 1:]
        pair = (_integer_terms(sympy.sympify(lo).xreplace(env), outer),
                _integer_terms(sympy.sympify(hi).xreplace(env), outer))
        if None in pair:
            bounds = None
            break
        bounds.append(pair)
    if value is None or bounds is None:
        return _enumerate_substituting(summand, limits, env)
    numer, denom = value

    def rec(k, point):
        if k < 0:
            return numer(point)
        (lo_n, lo_d), (hi_n, hi_d) = bounds[k]
        lo_v, hi_v = lo_n(point), hi_n(point)
        if lo_v % lo_d or hi_v % hi_d:  # not an integer
            raise _NotSmall
        lo_v, hi_v = lo_v // lo_d, hi_v // hi_d
        if hi_v - lo_v > 50 or lo_v > hi_v + 1:
            raise _NotSmall
        idx = indices[k]
        total = 0
        for val in range(lo_v, hi_v + 1):
            point[idx] = val
            total += rec(k - 1, point)
        point.pop(idx, None)
        return total

    try:
        total = rec(len(limits) - 1, {})
    except _NotSmall:
        return None
    return sympy.Rational(total, denom)


def _enumerate_substituting(summand, limits, env):
    """:func:`_enumerate` by substitution: each bound and each term a SymPy expression evaluated
    at the point (a polynomial summand in exact Python arithmetic)."""
    value = _rational_terms(sympy.sympify(summand).xreplace(dict(env)), [lim[0] for lim in limits])

    def rec(k, sub):
        if k < 0:
            if value is not None:
                return value(sub)
            return sympy.sympify(summand).xreplace(sub)
        idx, lo, hi = limits[k]
        lo_v, hi_v = sympy.sympify(lo).xreplace(sub), sympy.sympify(hi).xreplace(sub)
        if not (lo_v.is_Integer and hi_v.is_Integer) or hi_v - lo_v > 50 or lo_v > hi_v + 1:
            raise _NotSmall
        total = sympy.Integer(0)
        for val in range(int(lo_v), int(hi_v) + 1):
            total += rec(k - 1, {**sub, idx: sympy.Integer(val)})
        return total

    try:
        return rec(len(limits) - 1, dict(env))
    except _NotSmall:
        return None


class _NotSmall(Exception):
    pass


def _rational_coefficients(expr, indices):
    """``[(exponents, Rational coefficient)]`` of ``expr`` as a polynomial in ``indices`` with
    rational coefficients; None when it is not one (or has another symbol)."""
    if not indices or expr.free_symbols - set(indices):
        return None
    try:
        poly = sympy.Poly(expr, *indices)
    except sympy.PolynomialError:
        return None
    if not (poly.domain.is_ZZ or poly.domain.is_QQ):
        return None
    return [(monom, sympy.Rational(c)) for monom, c in poly.terms()]


def _integer_terms(expr, indices):
    """``(numer, denom)`` with ``expr == numer(point) / denom`` at integer ``point[index]``
    (Python ints; ``denom`` a positive int), when ``expr`` is a polynomial in ``indices`` with
    rational coefficients (a rational constant included); None otherwise."""
    if expr.is_Rational:
        p, q = int(expr.p), int(expr.q)
        return (lambda point: p), q
    coeffs = _rational_coefficients(expr, indices)
    if coeffs is None:
        return None
    denom = 1
    for _, c in coeffs:
        denom = denom * int(c.q) // math.gcd(denom, int(c.q))
    terms = [(tuple((v, e) for v, e in zip(indices, monom, strict=True) if e), int(c.p) * (denom // int(c.q)))
             for monom, c in coeffs]

    def numer(point) -> int:
        total = 0
        for powers, coef in terms:
            term = coef
            for v, e in powers:
                term *= point[v] ** e
            total += term
        return total

    return numer, denom


def _rational_terms(expr, indices):
    """``point -> expr`` at integer ``point[index]`` (SymPy Integers) as an exact SymPy Rational,
    when ``expr`` is a polynomial in ``indices`` with rational coefficients; None otherwise."""
    coeffs = _rational_coefficients(expr, indices)
    if coeffs is None:
        return None
    terms = [(monom, Fraction(int(c.p), int(c.q))) for monom, c in coeffs]

    def value(point) -> sympy.Rational:
        at = [int(point[i]) for i in indices]
        total = Fraction(0)
        for monom, coef in terms:
            term = coef
            for v, e in zip(at, monom, strict=True):
                if e:
                    term *= v ** e
            total += term
        return sympy.Rational(total.numerator, total.denominator)

    return value


def _index(steps: Sequence, step) -> int:
    """``steps.index(step)`` without printing the deferred fields of the steps before it: a step
    equal to ``step`` has its rule and description (plain strings) first."""
    for n, other in enumerate(steps):
        if other is step or (other.rule == step.rule and other.description == step.description
                             and other == step):
            return n
    raise ValueError(f"_index: the step {step.rule} is not among the proof's steps")


class Checked(Theorem):
    """A theorem proved by ``derive(P)``: a list of kernel-checked steps (:class:`Proof`).

    ``claim`` (optional) is a SymPy equation the steps must establish (``P.equal`` of the same two
    sides, up to expansion); the printed statement is the claim, or else the facts the steps
    checked.  The strength is the weakest evidence of the steps.
    """

    def __init__(self, name: str, title: str, gloss: str = "", *, derive: Callable[[Proof], None],
                 claim=None, witness_check: str | Callable = "", **kw) -> None:
        super().__init__(name, title, gloss, **kw)
        if claim is not None and not isinstance(claim, sympy.Equality):
            raise TypeError(f"Theorem {name}: claim must be a SymPy Eq, got {type(claim).__name__} ({claim})")
        self.derive = derive
        self.claim = claim
        self.witness_check = witness_check
        self._sizes = ""

    def sizes(self) -> str:
        return self._sizes

    def _run(self) -> dict:
        proof = Proof()
        self.derive(proof)
        checked = [s for s in proof.steps if s.evidence != "definition"]
        if proof.witness is not None:
            from convsym.proof.verdict import Statement

            words = self.gloss.strip() or proof.steps[-1].description
            parts = Statement(claim_words=words, claim_text=words)
            return {"verdict": "refuted", "witness": proof.witness, "steps": tuple(proof.steps),
                    "statement_parts": parts, "instances": tuple(proof.instances),
                    "statement_latex": proof.steps[-1].expression,
                    "statement_text": proof.steps[-1].description,
                    # where the witness sits, as inline math (the book and the terminal print it so)
                    "sizes": f"${proof.witness.where}$"}
        for n, step in enumerate(proof.steps, start=1):
            if not minted(step):
                raise StepError(f"step {n} ({step.rule}) was not made by the kernel; it checks nothing", step=n,
                                rule=step.rule, steps=proof.steps[:n - 1])
        if self.claim is not None:
            target = sympy.expand(self.claim.lhs - self.claim.rhs)
            facts = [f for f in map(established_fact, checked) if f is not None]
            if not any(sympy.expand(f - target) == 0 or sympy.expand(f + target) == 0 for f in facts):
                raise StepError(f"the claim {sympy.sstr(self.claim)} is not one of the facts the steps established",
                                step=len(proof.steps) + 1, rule="conclusion", steps=proof.steps)

        @functools.cache
        def statement() -> tuple:
            # printed when the verdict is read (the book, --json), not while proving
            records = [established(s) for s in checked]
            if self.claim is not None:
                latex, text = sympy.latex(self.claim), sympy.sstr(self.claim)
            else:
                # the conclusion is the last checked fact; the plain text lists every fact
                step_no = _index(proof.steps, checked[-1]) + 1
                last_latex = resolve(records[-1][1])
                if checked[-1].rule == "z3":
                    latex = rf"\text{{the formula z3 decided at step {step_no} (printed with it)}}"
                elif len(last_latex) > MAX_STATEMENT_LATEX:
                    latex = rf"\text{{the identity checked at step {step_no} (too long to print here)}}"
                else:
                    latex = last_latex
                text = "; ".join(resolve(tx) for _, _, tx in records if tx)
            return latex, text, self._statement_parts(proof, records, latex, text)

        strength = weakest(s.evidence for s in checked)
        if strength == "general":
            sizes = "all sizes"
        else:
            sizes = "; ".join(c for s in checked if s.evidence == strength for c in s.checked_by)
        self._sizes = sizes
        return {"verdict": "proved", "steps": tuple(proof.steps), "instances": tuple(proof.instances),
                "statement_latex": Deferred(lambda: statement()[0]), "statement_text": Deferred(lambda: statement()[1]),
                "sizes": sizes, "statement_parts": Deferred(lambda: statement()[2]),
                "evaluated": tuple(proof.evaluated)}

    def _statement_parts(self, proof: Proof, records: list, latex: str, text: str):
        """The statement: the claim (or the last fact), quantified over the symbols it holds (their
        assumptions give the number system), with the notation the proof defined as definitions."""
        from convsym.proof import statement as S
        from convsym.proof.verdict import Statement

        if self.claim is not None:
            found = self.claim.free_symbols
        else:
            last = [s for s in proof.steps if s.evidence != "definition"][-1]
            found = fact_symbols(last) or getattr(records[-1][0], "free_symbols", set())
        symbols = sorted(found, key=sympy.default_sort_key)
        symbols = [q for q in symbols if isinstance(q, sympy.Symbol)]
        sizes = S.sizes_quantifier([q for q in symbols if q.is_integer and q.is_positive])
        quantifiers = ([sizes] if sizes else []) + S.integers_quantifiers(
            [q for q in symbols if q.is_integer and not q.is_positive])
        quantifiers += S.scalars_quantifiers([q for q in symbols if q.is_real and not q.is_integer])
        other = [q for q in symbols if q.is_real is not True]
        if other:
            quantifiers.append((f"all numbers ${S.math_list(other)}$", f"all numbers {S.text_list(other)}"))
        definitions = tuple(st.expression for st in proof.steps if st.evidence == "definition")
        definitions_text = tuple(st.text or st.description for st in proof.steps if st.evidence == "definition")
        half = (len(latex) - 3) // 2
        if self.gloss.strip() and latex[half:half + 3] == " = " and latex[:half] == latex[half + 3:]:
            # the last fact reads X = X (both sides were computed to the same form): the claim is
            # the gloss, the quantifiers say what it was checked for
            words = self.gloss.strip()
            return Statement(quantifiers=tuple(quantifiers), definitions=definitions,
                             definitions_text=definitions_text, claim_words=words, claim_text=text)
        if latex.startswith(r"\text{the "):
            # a fact too long to typeset as one display (or z3's formula): the claim is the gloss,
            # which states it in words and formulas; without one, the statement points to the step
            words = self.gloss.strip() or latex[len(r"\text{"):-1]
            return Statement(quantifiers=tuple(quantifiers), definitions=definitions,
                             definitions_text=definitions_text, claim_words=words, claim_text=text)
        return Statement(quantifiers=tuple(quantifiers), definitions=definitions, definitions_text=definitions_text,
                         claim_latex=latex, claim_text=text)

    def check_source_for(self, verdict) -> str:
        """``check_source``, plus the witness re-test for a refutation."""
        from convsym.proof.identity import with_witness_test

        return with_witness_test(self.name, self.check_source, verdict, self.witness_check)
