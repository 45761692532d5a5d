"""LaTeX and check rendering: filters, the Jinja2 environment, exact output lines."""

from __future__ import annotations

import ast

import jinja2
import pytest
import sympy

from convsym.errors import RenderError
from convsym.render import (
    environment,
    escape,
    render_chapter,
    render_checks,
    render_main,
    render_template,
    render_text,
    tex,
)
from convsym.render.latex import WIDE_DISPLAY_CHARS, bookmark, display_view
from convsym.verdict import StepRecord

# ---------------------------------------------------------------------------------------------
# filters


@pytest.mark.parametrize(
    ("prose", "latex"),
    [
        ("plain words", "plain words"),
        ("a & b", r"a \& b"),
        ("50% off", r"50\% off"),
        ("k_1 # {x}", r"k\_1 \# \{x\}"),
        ("a~b^c", r"a\textasciitilde{}b\textasciicircum{}c"),
        ("C:\\dir", r"C:\textbackslash{}dir"),
        ("a < b > c | d", r"a \textless{} b \textgreater{} c \textbar{} d"),
        ("size $k_1+k_2-1$ for k_1", r"size $k_1+k_2-1$ for k\_1"),
        ("$a_1$ & $b^{2}$", r"$a_1$ \& $b^{2}$"),
        ("costs $5", r"costs \$5"),
        ("$x$ and $5", r"$x$ and \$5"),
        ("", ""),
    ],
)
def test_escape_prose_keeps_inline_math(prose, latex):
    assert escape(prose) == latex


@pytest.mark.parametrize(
    ("text", "latex"),
    [
        ("$x$ & {y}", r"\$x\$ \& \{y\}"),
        ("step 2: {b}_1", r"step 2: \{b\}\_1"),
    ],
)
def test_escape_without_math_escapes_everything(text, latex):
    assert escape(text, math=False) == latex


def test_escape_rejects_non_text():
    with pytest.raises(RenderError, match=r"escape: expected prose as str, got int: 3"):
        escape(3)


def test_escape_rejects_unbalanced_math():
    with pytest.raises(RenderError, match=r"escape: unbalanced braces in LaTeX 'x_\{1'"):
        escape("see $x_{1$ here")


@pytest.mark.parametrize(
    ("prose", "latex"),
    [
        ("Merge", "Merge"),
        ("size $k_1+k_2-1$ & more", r"size \texorpdfstring{$k_1+k_2-1$}{k\_1+k\_2-1} \& more"),
        (r"bias $\Sigma w_{2}$", r"bias \texorpdfstring{$\Sigma w_{2}$}{Sigma w\_2}"),
        ("costs $5", r"costs \$5"),
    ],
)
def test_bookmark_gives_math_a_pdf_text(prose, latex):
    assert bookmark(prose) == latex


@pytest.mark.parametrize(
    ("value", "latex"),
    [
        (r"\frac{a}{b} + \left\{ x \right\}", r"\frac{a}{b} + \left\{ x \right\}"),
        ("  x^{2}  ", "x^{2}"),
        (12, "12"),
        (sympy.Symbol("k_1") + 1, "k_{1} + 1"),
        (sympy.Rational(1, 3), r"\frac{1}{3}"),
    ],
)
def test_tex_passes_math_through(value, latex):
    assert tex(value) == latex


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (r"\frac{a}{b", r"tex: unbalanced braces in LaTeX '\\\\frac\{a\}\{b'"),
        ("a}{b", r"tex: unbalanced braces in LaTeX 'a\}\{b'"),
        (1.5, r"tex: expected LaTeX math as str, int or sympy object, got float: 1.5"),
        (True, r"tex: expected LaTeX math, got a bool: True"),
    ],
)
def test_tex_rejects(value, message):
    with pytest.raises(RenderError, match=message):
        tex(value)


@pytest.mark.parametrize(
    ("expression", "kind"),
    [
        ("a + b", "plain"),
        ("x" * WIDE_DISPLAY_CHARS, "plain"),
        ("x" * (WIDE_DISPLAY_CHARS + 1), "wide"),
        (r"a &= b \\ &= c", "aligned"),
    ],
)
def test_display_kind(expression, kind):
    assert display_view(expression) == {"kind": kind, "tex": expression}


# ---------------------------------------------------------------------------------------------
# the environment


@pytest.mark.parametrize(
    ("source", "context", "output"),
    [
        (r"\frac{\VAR{a}}{2}", {"a": "x"}, r"\frac{x}{2}"),
        (r"\BLOCK{if a}yes\BLOCK{else}no\BLOCK{endif}", {"a": False}, "no"),
        (r"a\#{ a comment }b", {}, "ab"),
        ("%% for i in xs\n\\item \\VAR{i}\n%% endfor\n", {"xs": [1, 2]}, "\\item 1\n\\item 2\n"),
        ("% a LaTeX comment\n", {}, "% a LaTeX comment\n"),
        (r"{{ raw }} {% raw %} \VAR{s|escape}", {"s": "a_b"}, r"{{ raw }} {% raw %} a\_b"),
        (r"$\VAR{m|tex}$", {"m": "x_{1}"}, "$x_{1}$"),
        ("trailing\n", {}, "trailing\n"),
    ],
)
def test_environment_delimiters(source, context, output):
    assert environment().from_string(source).render(**context) == output


def test_environment_is_strict():
    with pytest.raises(jinja2.UndefinedError, match="'missing' is undefined"):
        environment().from_string(r"\VAR{missing}").render()


def test_environment_does_not_autoescape():
    assert environment().from_string(r"\VAR{s}").render(s="<&>") == "<&>"


def test_missing_template_variable_is_a_render_error(toy_family):
    with pytest.raises(RenderError, match=r"render chapter\.tex\.j2: UndefinedError: "
                                          r"'theorems' is undefined"):
        render_template("chapter.tex.j2", family={"name": "toy", "title": "T", "intro": ""})


def test_view_errors_name_the_theorem(verdict_factory, toy_family):
    bad = verdict_factory(statement_latex=r"\frac{a}{b")
    with pytest.raises(RenderError, match=r"render_chapter toy: theorem toy\.add-commutes: "
                                          r"tex: unbalanced braces"):
        render_chapter(toy_family, [bad])


def test_filter_errors_name_the_template(verdict_factory, toy_family):
    bad = verdict_factory(hypotheses=("a_{1",))
    with pytest.raises(RenderError, match=r"render chapter\.tex\.j2: tex: unbalanced braces"):
        render_chapter(toy_family, [bad])


# ---------------------------------------------------------------------------------------------
# LaTeX output, key lines matched exactly


def _lines(text: str) -> list[str]:
    return text.splitlines()


def test_main_document(toy_family):
    text = render_main([toy_family])
    lines = _lines(text)
    assert lines[0] == "% generated by convsym build; do not edit"
    assert lines[1] == r"\documentclass[a4paper,11pt,oneside]{book}"
    for line in [
        r"\ifdefined\pdfinfoomitdate",
        r"  \pdfinfoomitdate=1",
        r"  \pdftrailerid{}",
        r"  \pdfsuppressptexinfo=-1",
        r"\usepackage{amsmath}",
        r"\usepackage{amsthm}",
        r"\usepackage{booktabs}",
        r"\usepackage[a4paper,margin=2.5cm]{geometry}",
        r"\usepackage{microtype}",
        r"\allowdisplaybreaks",
        r"\title{convsym: exact facts about convolution layers}",
        r"\tableofcontents",
        r"\input{toy}",
    ]:
        assert line in lines
    assert lines.index(r"\input{toy}") < lines.index(r"\end{document}") == len(lines) - 1
    assert text.endswith("\\end{document}\n")
    assert "\\today" not in text


def test_main_inputs_families_in_order(toy_family):
    from convsym.verdict import Family

    other = Family("alpha", "Alpha")
    lines = _lines(render_main([toy_family, other]))
    assert [ln for ln in lines if ln.startswith(r"\input")] == [r"\input{toy}", r"\input{alpha}"]


def test_chapter_proved_theorem(verdict_factory, toy_family):
    lines = _lines(render_chapter(toy_family, [verdict_factory()]))
    assert lines[:3] == [
        "% generated by convsym build; do not edit",
        r"\chapter{Toy facts}\label{ch:toy}",
        r"Facts about $a + b$ \& friends.",
    ]
    expected_in_order = [
        r"\begin{theorem}[{Addition commutes}]\label{thm:toy.add-commutes}",
        r"\addcontentsline{toc}{section}{\protect\numberline{\thetheorem}Addition commutes}%",
        r"\texttt{toy.add-commutes}.",
        r"  \item $a, b \in \mathbb{Z}$",
        r"For all integers $a$ and $b$: a + b = b + a.",
        r"\[ a + b = b + a \]",
        r"\end{theorem}",
        r"\paragraph{Derivation.}",
        r"\item \textbf{unfold\_sum}: write the sum out",
        r"\[ a + b \]",
        r"\item \textbf{commute}: swap the terms",
        r"\[ b + a \]",
        r"Side conditions and how each was checked:",
        r"  \item $a \in \mathbb{Z}$ --- z3: unsat",
        r"\paragraph{Exact-instance checks.}",
        r"  \item all $a, b \le 3$",
        r"\toprule",
        r"expected & proved \\",
        r"verdict & \textbf{proved} \\",
        r"strength & exact-instance \\",
        r"sizes & a, b \textless{}= 3 \\",
        r"\bottomrule",
    ]
    positions = [lines.index(line) for line in expected_in_order]
    assert positions == sorted(positions)
    assert not any("Counterexample" in ln or "Failed" in ln for ln in lines)


def test_chapter_refuted_claim_shows_witness(verdict_factory, toy_family):
    v = verdict_factory("toy.sub-commutes", "refuted", title="Subtraction commutes")
    lines = _lines(render_chapter(toy_family, [v]))
    expected_in_order = [
        r"\begin{claim}[{Subtraction commutes}]\label{thm:toy.sub-commutes}",
        r"\end{claim}",
        r"expected & refuted \\",
        r"verdict & \textbf{refuted} \\",
        r"\paragraph{Counterexample.}",
        r"Subtraction at one point.",
        r"\begin{longtable}{@{}ll@{}}",
        r"input & exact value \\",
        r"$a$ & $1$ \\",
        r"$b$ & $0$ \\",
        r"\end{longtable}",
        r"\noindent Left side $= 1$, right side $= -1$ at $a - b$.",
    ]
    positions = [lines.index(line) for line in expected_in_order]
    assert positions == sorted(positions)


def test_chapter_failed_verdict_shows_error_and_step(verdict_factory, toy_family):
    v = verdict_factory("toy.broken", "failed")
    lines = _lines(render_chapter(toy_family, [v]))
    assert r"verdict & \textbf{failed} (not as expected) \\" in lines
    i = lines.index(r"\paragraph{Failed.}")
    assert lines[i + 1 : i + 3] == [
        r"The check did not go through at step 2 (\textbf{commute}):",
        r"\texttt{step 2 did not check: \{b\} \& 50\%}",
    ]


def test_chapter_failed_without_step(verdict_factory, toy_family):
    v = verdict_factory("toy.broken", "failed", failed_step=None, failed_rule=None, steps=())
    lines = _lines(render_chapter(toy_family, [v]))
    i = lines.index(r"\paragraph{Failed.}")
    assert lines[i + 1] == "The check did not go through:"
    assert r"\paragraph{Derivation.}" not in lines


def test_chapter_omits_empty_lists(verdict_factory, toy_family):
    # an empty itemize or enumerate is a LaTeX error
    v = verdict_factory(hypotheses=(), steps=(), instances=(), sizes="", statement="")
    text = render_chapter(toy_family, [v])
    for env in ("itemize", "enumerate"):
        assert f"\\begin{{{env}}}" not in text
    assert "sizes &" not in text


def test_chapter_checks_without_conditions(verdict_factory, toy_family):
    step = StepRecord("fold", "fold the sum", "W", (), ("by definition", "exact: $k \\le 3$"))
    lines = _lines(render_chapter(toy_family, [verdict_factory(steps=(step,))]))
    i = lines.index("Checked:")
    assert lines[i + 1 : i + 5] == [
        r"\begin{itemize}",
        r"  \item by definition",
        r"  \item exact: $k \le 3$",
        r"\end{itemize}",
    ]


def test_chapter_wide_and_aligned_displays(verdict_factory, toy_family):
    wide = " + ".join(f"x_{{{i}}}" for i in range(60))
    steps = (StepRecord("expand", "expand", wide), StepRecord("split", "split", r"a &= b \\ &= c"))
    lines = _lines(render_chapter(toy_family, [verdict_factory(steps=steps)]))
    assert (
        r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}"
        rf"{{$\displaystyle {wide}$}}"
    ) in lines
    assert r"\[ \begin{aligned} a &= b \\ &= c \end{aligned} \]" in lines


def test_chapter_keeps_theorem_order(verdict_factory, toy_family):
    names = ["toy.c", "toy.a", "toy.b"]
    text = render_chapter(toy_family, [verdict_factory(n) for n in names])
    found = [ln for ln in _lines(text) if ln.startswith(r"\texttt{toy.")]
    assert found == [rf"\texttt{{{n}}}." for n in names]


def test_render_text(verdict_factory):
    text = render_text(verdict_factory("toy.sub-commutes", "refuted"))
    lines = _lines(text)
    assert lines[0] == "toy.sub-commutes: Addition commutes"
    assert "  2. [commute] swap the terms" in lines
    assert "       if a \\in \\mathbb{Z}   (checked: z3: unsat)" in lines
    assert "verdict: refuted, strength exact-instance, sizes a, b <= 3" in lines
    assert "    left side = 1, right side = -1 at a - b" in lines


def test_render_text_failed(verdict_factory):
    lines = _lines(render_text(verdict_factory("toy.x", "failed")))
    assert "verdict: failed (expected proved), strength exact-instance, sizes a, b <= 3" in lines
    assert "failed at step 2 (commute): step 2 did not check: {b} & 50%" in lines


# ---------------------------------------------------------------------------------------------
# emitted checks


CHECK_A = """
    def test_a():
        assert (np.arange(3) + 1 == ref_plus_one()).all()


    def ref_plus_one():
        return np.array([1, 2, 3])
"""
CHECK_B = """
def test_b():
    assert Fraction(1, 2) * 2 == 1
    assert callable(ref.conv2d)
"""


def test_render_checks_layout(fake_theorem, verdict_factory, toy_family):
    entries = [
        (verdict_factory("toy.a"), fake_theorem("toy.a", verdict_factory("toy.a"), CHECK_A)),
        (verdict_factory("toy.none"), fake_theorem("toy.none", verdict_factory("toy.none"), "")),
        (verdict_factory("toy.b"), fake_theorem("toy.b", verdict_factory("toy.b"), CHECK_B)),
    ]
    text = render_checks(toy_family, entries)
    assert text.splitlines()[:8] == [
        "# generated by convsym build; do not edit",
        '"""Numeric checks of the toy theorems against convsym.reference."""',
        "",
        "from fractions import Fraction",
        "",
        "import numpy as np",
        "",
        "import convsym.reference as ref",
    ]
    comments = [ln for ln in text.splitlines() if ln.startswith("# toy.")]
    assert comments == ["# toy.a", "# toy.none: no numeric check", "# toy.b"]
    assert "\ndef test_a():\n" in text  # dedented
    assert text.endswith("assert callable(ref.conv2d)\n")
    # the emitted file runs: every test passes against the real reference
    namespace: dict = {}
    exec(compile(text, "test_toy.py", "exec"), namespace)
    namespace["test_a"]()
    namespace["test_b"]()


def _imported_modules(text: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module)
    return modules


def test_render_checks_imports_only_numpy_fractions_reference(toy_results, toy_family):
    text = render_checks(toy_family, toy_results[0][1])
    assert _imported_modules(text) == {"numpy", "fractions", "convsym.reference"}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def test_x(:\n    pass\n", r"the check of toy\.bad does not parse: line 1"),
        ("def helper():\n    return 1\n", r"the check of toy\.bad defines no top-level test_"),
        ("import torch\n\ndef test_x():\n    pass\n", r"the check of toy\.bad imports at line 1"),
        ("def test_x():\n    from os import path\n", r"the check of toy\.bad imports at line 2"),
        ("np = None\n\ndef test_x():\n    pass\n", r"the check of toy\.bad rebinds 'np' at line 1"),
        (
            "def test_a():\n    pass\n",
            r"the check of toy\.bad defines 'test_a' \(line 1\), which the check of toy\.a "
            r"already defines",
        ),
        (
            "def ref_plus_one():\n    pass\n\ndef test_c():\n    pass\n",
            r"the check of toy\.bad defines 'ref_plus_one'",
        ),
    ],
)
def test_render_checks_rejects(source, message, fake_theorem, verdict_factory, toy_family):
    good = fake_theorem("toy.a", verdict_factory("toy.a"), CHECK_A)
    bad = fake_theorem("toy.bad", verdict_factory("toy.bad"), source)
    with pytest.raises(RenderError, match="render_checks: " + message):
        render_checks(toy_family, [good, bad])


def test_render_checks_rejects_non_text(fake_theorem, verdict_factory, toy_family):
    bad = fake_theorem("toy.bad", verdict_factory("toy.bad"), None)
    with pytest.raises(RenderError, match=r"check_source of toy\.bad must be str, got NoneType"):
        render_checks(toy_family, [bad])
