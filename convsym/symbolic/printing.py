"""Index sums printed: LaTeX for the book, plain text for messages and the terminal.

The data (:mod:`convsym.symbolic.sums`) never imports this module; the kernel records a step's
printed form with these functions, and the renderers lay them out.
"""

from __future__ import annotations

import re

import sympy
from sympy.printing.latex import LatexPrinter

from convsym.symbolic.sums import Let, Range, SumExpr, Term

__all__ = ["latex", "latex_range", "latex_sumexpr", "latex_term", "let_latex", "let_text", "text_sumexpr",
           "text_term"]

#: the name of an array of one layer of several, as the book writes it: ``w_1``, ``b_{2}``, ``\gamma_1``
_NUMBERED = re.compile(r"(?P<base>[A-Za-z]|\\[A-Za-z]+)_(?:\{(?P<braced>\d+)\}|(?P<plain>\d+))")


class _BookPrinter(LatexPrinter):
    """SymPy's LaTeX, except an entry of a numbered array (the kernel ``w_1`` of the first layer
    of two) is written with one subscript, the layer first: ``w_{1,a}``, not ``{w_{1}}_{a}``."""

    def _print_Indexed(self, expr) -> str:
        match = _NUMBERED.fullmatch(str(expr.base.label))
        if match is None:
            return super()._print_Indexed(expr)
        number = match["braced"] or match["plain"]
        indices = ",".join(self._print(i) for i in expr.indices)
        return f"{match['base']}_{{{number},{indices}}}"


def latex(expr) -> str:
    """The LaTeX of a SymPy expression of a derivation, as the book prints it (see ``_BookPrinter``)."""
    return _BookPrinter().doprint(expr)


def latex_range(r: Range) -> tuple[str, str]:
    """``(index=lower, upper)`` for ``\\sum_{...}^{...}``: a max of lower bounds, a min of upper ones."""
    lo = r.lower[0] if len(r.lower) == 1 else sympy.Max(*r.lower, evaluate=False)
    hi = r.upper[0] if len(r.upper) == 1 else sympy.Min(*r.upper, evaluate=False)
    return f"{latex(r.index)}={latex(lo)}", latex(hi)


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
            stacked.append(rf"{latex(lo)} \le {latex(r.index)} \le {latex(hi)}")
        else:
            lo_s, hi_s = latex_range(r)
            parts.append(rf"\sum_{{{lo_s}}}^{{{hi_s}}}")
    if term.where:
        stacked.extend(latex(w) for w in term.where)
        joined = r" \\ ".join(stacked)
        parts.append(rf"\sum_{{\substack{{{joined}}}}}")
    body = latex(term.summand)
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


def let_latex(let: Let) -> str:
    """``h_{j} := ...``: the definition of an intermediate signal, generated from its body."""
    params = let.parameters()
    return f"{latex(let.head(params))} := {latex_sumexpr(let.at(*params))}"


def let_text(let: Let) -> str:
    """The plain-text form of :func:`let_latex`."""
    params = let.parameters()
    return f"{sympy.sstr(let.head(params))} := {text_sumexpr(let.at(*params))}"


#: The proof scripts' short size names and the notation's symbols for them.
SIZE_NAMES = {"ci": "C_{in}", "co": "C_{out}", "cm": "C_{mid}", "Cin": "C_{in}", "Cout": "C_{out}",
              "Cmid": "C_{mid}", "kh": "k_h", "kw": "k_w"}


def size_name_latex(name: object) -> str:
    """A size named in a script's instances as the notation writes it: ``k1`` -> ``k_{1}``,
    ``ci`` -> ``C_{in}``, ``k1h`` -> ``k_{1,h}``, ``P_before`` -> ``P_{before}``; a longer word
    upright (``\\mathrm{groups}``)."""
    n = str(name)
    if n in SIZE_NAMES:
        return SIZE_NAMES[n]
    m = re.fullmatch(r"([A-Za-z])(\d)([hw])", n)  # k1h: the height of the first kernel
    if m is not None:
        return f"{m[1]}_{{{m[2]},{m[3]}}}"
    m = re.fullmatch(r"([A-Za-z]+)_(\d+|[A-Za-z]+)", n) if "_" in n else re.fullmatch(r"([A-Za-z]+?)(\d+)?", n)
    if m is None:
        return n
    head = m[1] if len(m[1]) == 1 else rf"\mathrm{{{m[1]}}}"
    return head if m[2] is None else f"{head}_{{{m[2]}}}"
