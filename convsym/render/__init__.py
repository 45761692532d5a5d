"""Renderers: verdicts in, text out.  Jinja2 is used here and nowhere else in convsym.

``latex``   the LaTeX chapters and ``main.tex`` (one Jinja2 environment, ``tex``/``escape`` filters)
``checks``  the emitted pytest files that re-test each claim with ``convsym.reference``
``unicode`` LaTeX fragments read back as Unicode text for the terminal

:func:`render_text` is the plain-text form ``convsym show`` prints.
"""

from __future__ import annotations

from convsym.proof.verdict import Verdict
from convsym.render.breaking import drop_true_conjuncts, is_trivially_true
from convsym.render.checks import render_checks
from convsym.render.latex import (
    HEADER,
    bookmark,
    entries_not_in_full,
    environment,
    escape,
    render_chapter,
    render_main,
    render_template,
    tex,
)
from convsym.render.prose import code_relations
from convsym.render.unicode import latex_to_unicode, prose_to_unicode, statement_lines, text_to_unicode

__all__ = [
    "HEADER",
    "bookmark",
    "environment",
    "escape",
    "render_chapter",
    "render_checks",
    "render_main",
    "render_template",
    "render_text",
    "tex",
]


def _indent(lines: list[str], prefix: str = "    ") -> list[str]:
    """Each line prefixed; an entry holding several lines (a table) gives each its prefix, the
    continuation lines aligned under the first."""
    out = []
    for entry in lines:
        first, *rest = entry.split("\n")
        out.append(prefix + first)
        out += [" " * len(prefix) + line for line in rest]
    return out


def render_text(v: Verdict) -> str:
    """One theorem's derivation as plain text with Unicode mathematics, for a terminal.

    The LaTeX the verdict holds (hypotheses, statement, expressions, conditions) is read back by
    :func:`convsym.render.unicode.latex_to_unicode` (``k_{1} \\in \\mathbb{Z}_{\\ge 1}`` prints
    ``k₁ ∈ ℤ≥1``); prose by :func:`~convsym.render.unicode.text_to_unicode`, which keeps its
    words and braces and converts its ``$...$`` parts and LaTeX-style names (``k_1``,
    ``w_{1,a}``).  Each step shows its plain-text form (``StepRecord.text``) when the proof gave
    one, its LaTeX otherwise.
    """
    math, plain, prose = latex_to_unicode, text_to_unicode, prose_to_unicode
    out = [f"{v.name}: {plain(v.title)}"]
    out += statement_lines(v)
    if v.steps:
        out.append("derivation:")
        for number, step in enumerate(v.steps, start=1):
            out.append(f"  {number}. [{step.rule}] {plain(step.description)}")
            # the step's LaTeX, as the book prints it (its plain text is code: sum(...), ==)
            shown = math(drop_true_conjuncts(step.expression)) if step.expression else plain(step.text)
            out += _indent([shown], "       = ")
            for i, cond in enumerate(step.side_conditions):
                if is_trivially_true(cond):  # as in the book: a condition true for all sizes is not shown
                    continue
                # a step gives one "how" per side condition, or fewer that speak for them all
                how = f"   (checked: {plain(step.checked_by[i])})" if i < len(step.checked_by) else ""
                out.append(f"       if {math(drop_true_conjuncts(cond))}{how}")
            for how in step.checked_by[len(step.side_conditions):]:
                out.append(f"       checked: {plain(how)}")
    if v.instances:
        out.append("exact-instance checks:")
        out += _indent([plain(i) for i in v.instances])
    mark = "" if v.ok else f" (expected {v.expected})"
    out.append(f"verdict: {v.verdict}{mark}, strength {v.strength}, sizes {prose(code_relations(v.sizes)) or '-'}")
    if v.witness is not None:
        w = v.witness
        out.append(f"counterexample: {prose(code_relations(w.description))}")
        if w.reason:
            out.append(f"    why: {prose(w.reason)}")
        out += _indent([f"{math(name)} ({math(shape)}) = {math(values)}" for name, shape, values in w.arrays])
        rest = entries_not_in_full(w)
        out += _indent([f"{math(name)} = {value}" for name, value in rest])
        if rest:
            out.append("    (every input entry not listed is 0)")
        out.append(f"    left side = {plain(str(w.lhs))}, right side = {plain(str(w.rhs))} at {math(w.where)}")
    if v.verdict == "failed":
        where = f" at step {v.failed_step} ({v.failed_rule or '?'})" if v.failed_step else ""
        out.append(f"failed{where}: {v.error}")
    if v.notes:
        out.append("notes:")
        out += _indent([plain(n) for n in v.notes])
    return "\n".join(out) + "\n"
