"""Renderers: verdicts in, text out.  Jinja2 is used here and nowhere else in convsym.

``latex``   the LaTeX chapters and ``main.tex`` (one Jinja2 environment, ``tex``/``escape`` filters)
``checks``  the emitted pytest files that re-test each claim with ``convsym.reference``

:func:`render_text` is the plain-text form ``convsym show`` prints.
"""

from __future__ import annotations

from convsym.render.checks import render_checks
from convsym.render.latex import (
    HEADER,
    bookmark,
    environment,
    escape,
    render_chapter,
    render_main,
    render_template,
    tex,
)
from convsym.verdict import Verdict

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
    return [prefix + line for line in lines]


def render_text(v: Verdict) -> str:
    """One theorem's derivation as plain text, for a terminal.

    Each step shows its plain-text form (``StepRecord.text``) when the proof gave one, its LaTeX
    otherwise; hypotheses, statement and conditions are shown as the verdict holds them.
    """
    out = [f"{v.name}: {v.title}"]
    if v.statement:
        out.append(v.statement)
    if v.hypotheses:
        out.append("hypotheses:")
        out += _indent(list(v.hypotheses))
    if v.statement_latex:
        out += ["statement:", *_indent([v.statement_latex])]
    if v.steps:
        out.append("derivation:")
        for number, step in enumerate(v.steps, start=1):
            out.append(f"  {number}. [{step.rule}] {step.description}")
            out += _indent([step.text or step.expression], "       = ")
            for i, cond in enumerate(step.side_conditions):
                how = step.checked_by[i] if i < len(step.checked_by) else "not stated"
                out.append(f"       if {cond}   (checked: {how})")
            for how in step.checked_by[len(step.side_conditions):]:
                out.append(f"       checked: {how}")
    if v.instances:
        out.append("exact-instance checks:")
        out += _indent(list(v.instances))
    mark = "" if v.ok else f" (expected {v.expected})"
    out.append(f"verdict: {v.verdict}{mark}, strength {v.strength}, sizes {v.sizes or '-'}")
    if v.witness is not None:
        w = v.witness
        out.append(f"counterexample: {w.description}")
        out += _indent([f"{name} = {value}" for name, value in w.assignment])
        out.append(f"    left side = {w.lhs}, right side = {w.rhs} at {w.where}")
    if v.verdict == "failed":
        where = f" at step {v.failed_step} ({v.failed_rule or '?'})" if v.failed_step else ""
        out.append(f"failed{where}: {v.error}")
    if v.notes:
        out.append("notes:")
        out += _indent(list(v.notes))
    return "\n".join(out) + "\n"
