"""LaTeX and check rendering: filters, the Jinja2 environment, exact output lines."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jinja2
import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

from convsym.errors import RenderError
from convsym.proof.verdict import StepRecord
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
from convsym.render.latex import BREAKABLE_DISPLAY_CHARS, bookmark, display_view, overfull_hboxes

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
    ("expression", "kind", "pieces"),
    [
        ("a + b", "plain", [("term", "", "a + b")]),
        ("x" * (BREAKABLE_DISPLAY_CHARS - 1), "plain", [("term", "", "x" * (BREAKABLE_DISPLAY_CHARS - 1))]),
        ("x" * BREAKABLE_DISPLAY_CHARS, "pieces", [("term", "", "x" * BREAKABLE_DISPLAY_CHARS)]),
        (r"a &= b \\ &= c", "aligned", [("term", "", r"a &= b \\ &= c")]),
        # rows inside a group or an environment are not rows of the display
        (r"\begin{cases} a & b \\ c & d \end{cases} = " + "y" * 50, "pieces",
         [("term", "", r"\begin{cases} a & b \\ c & d \end{cases}"), ("relation", "", "= " + "y" * 50)]),
        # operators inside parentheses stay; a minus after a relation is a sign
        (r"Z(e) = r k + (q - r) E,\ E = -\max(e, 0),\quad q = \left(a + b\right) - 1" + " " * 10, "pieces",
         [("term", "", "Z(e)"), ("relation", "", "= r k"), ("term", "", "+ (q - r) E,"),
          ("clause", r"\ {}", "E"), ("relation", "", r"= -\max(e, 0),"), ("clause", r"\quad", "q"),
          ("relation", "", r"= \left(a + b\right)"), ("term", "", "- 1")]),
    ],
)
def test_display_kind(expression, kind, pieces):
    view = display_view(expression)
    assert (view["kind"], view["tex"]) == (kind, expression.strip())
    assert [(p["kind"], p["lead"], p["tex"]) for p in view["pieces"]] == pieces


# ---------------------------------------------------------------------------------------------
# the LaTeX log


LOG = """\
Overfull \\hbox (674.69458pt too wide) in paragraph at lines 750--751
[]\\OT1/cmr/m/n/10.95 x
Overfull \\hbox (9.5pt too wide) detected at line 12
Underfull \\hbox (badness 10000) in paragraph at lines 1--2
Overfull \\hbox (10.00001pt too wide) in alignment at lines 3--9
"""


@pytest.mark.parametrize(
    ("limit", "found"),
    [
        (0.0, [(674.69458, "in paragraph at lines 750--751"), (9.5, "detected at line 12"),
               (10.00001, "in alignment at lines 3--9")]),
        (10.0, [(674.69458, "in paragraph at lines 750--751"), (10.00001, "in alignment at lines 3--9")]),
        (1000.0, []),
    ],
)
def test_overfull_hboxes(limit, found):
    assert overfull_hboxes(LOG, limit) == found


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
    from convsym.proof.verdict import Statement

    bad = verdict_factory(statement_parts=Statement(hypotheses=("a_{1",), claim_latex="a = a"))
    with pytest.raises(RenderError, match=r"render chapter\.tex\.j2: statement: unbalanced braces"):
        render_chapter(toy_family, [bad])


def _statement():
    from convsym.proof.verdict import Statement

    return Statement(quantifiers=(("all integers $a, b$", "all integers a, b"),), hypotheses=(r"a \le b",),
                     definitions=(r"c := a + b",), claim_latex="a + b = b + a", claim_text="a + b = b + a")


def test_statement_is_one_sentence_with_its_claim_and_definitions(verdict_factory, toy_family):
    lines = _lines(render_chapter(toy_family, [verdict_factory(statement_parts=_statement())]))
    i = lines.index(r"\noindent For all integers $a, b$ such that $a \le b$:")
    assert lines[i + 1:i + 3] == [r"\[ a + b = b + a \]", r"\par\noindent where $c := a + b$."]
    # the gloss and the hypotheses list are not repeated: the statement says it once
    assert not any("Hypotheses" in ln or "For all integers $a$ and $b$" in ln for ln in lines)


def test_statement_in_words_for_builders(verdict_factory, toy_family):
    from convsym.proof.verdict import Statement

    parts = Statement(quantifiers=(("every size $k \\in \\{1, 2\\}$", "every size k in {1, 2}"),),
                      claim_words="the two layers == the merged layer", claim_text="x")
    v = verdict_factory("toy.sub-commutes", "refuted", statement_parts=parts)
    lines = _lines(render_chapter(toy_family, [v]))
    assert r"\noindent the two layers = the merged layer" in lines
    assert r"\par\noindent Tested for every size $k \in \{1, 2\}$." in lines
    assert not any(r"\text{" in ln and "lambda" in ln for ln in lines)


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


def test_main_title_page_and_index(toy_family):
    from convsym import __version__

    lines = _lines(render_main([toy_family]))
    in_order = [
        r"\begin{titlepage}",
        rf"{{\large version {__version__}\par}}",
        r"\end{titlepage}",
        r"\tableofcontents",
        r"\mainmatter",
        r"\input{toy}",
        r"\appendix",
        r"\chapter{Index of theorems}\label{ch:index}",
        r"\csindex",
        r"\end{document}",
    ]
    positions = [lines.index(line) for line in in_order]
    assert positions == sorted(positions)
    abstract = next(ln for ln in lines if ln.startswith(r"\small\noindent\textbf{Abstract.}"))
    for strength in ("numeric", "exact-instance", "exact-family", "general"):
        assert rf"\emph{{{strength}}}" in abstract


def test_main_inputs_families_in_order(toy_family):
    from convsym.proof.verdict import Family

    other = Family("alpha", "Alpha")
    lines = _lines(render_main([toy_family, other]))
    assert [ln for ln in lines if ln.startswith(r"\input")] == [r"\input{toy}", r"\input{alpha}"]


def test_chapter_proved_theorem(verdict_factory, toy_family):
    lines = _lines(render_chapter(toy_family, [verdict_factory(statement_parts=_statement())]))
    assert lines[:3] == [
        "% generated by convsym build; do not edit",
        r"\chapter{Toy facts}\label{ch:toy}",
        r"Facts about $a + b$ \& friends.",
    ]
    expected_in_order = [
        r"\begin{theorem}[{Addition commutes}]\label{thm:toy.add-commutes}",
        r"\addcontentsline{toc}{section}{\protect\numberline{\thetheorem}Addition commutes}%",
        r"\csindexentry{thm:toy.add-commutes}{\texttt{toy.\allowbreak{}add-\allowbreak{}commutes}}"
        r"{proved}{exact-instance}%",
        r"\thminfo{\texttt{toy.\allowbreak{}add-\allowbreak{}commutes}}{exact-instance}",
        r"\noindent For all integers $a, b$ such that $a \le b$:",
        r"\[ a + b = b + a \]",
        r"\end{theorem}",
        r"\paragraph{Derivation.}",
        r"\item \textbf{unfold\_sum}: write the sum out\label{step:toy.add-commutes:1}"
        r"\csrecmark{toy.add-commutes}{1}",
        r"\[ a + b \]",
        r"\item \textbf{commute}: swap the terms\label{step:toy.add-commutes:2}\csrecmark{toy.add-commutes}{2}",
        r"\[ b + a \]",
        r"Side conditions and how each was checked:",
        r"  \item $a \in \mathbb{Z}$ --- z3: unsat",
        r"\paragraph{Exact-instance checks.}",
        r"  \item all $a, b \le 3$",
        r"\toprule",
        r"expected & proved \\",
        r"verdict & \textbf{proved} \\",
        r"strength & exact-instance \\",
        r"sizes & a, b $\le$ 3 \\",
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
        # a short table stays on the page of its sentence: a tabular, not a longtable
        r"\par\nopagebreak\smallskip",
        r"\begin{tabular}{@{}ll@{}}",
        r"input entry & exact value \\",
        r"$a$ & $1$ \\",
        r"$b$ & $0$ \\",
        r"\end{tabular}",
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


def test_chapter_long_and_aligned_displays(verdict_factory, toy_family):
    long = " + ".join(f"x_{{{i}}}" for i in range(29)) + " = x_{29}"
    steps = (StepRecord("expand", "expand", long), StepRecord("split", "split", r"a &= b \\ &= c"))
    lines = _lines(render_chapter(toy_family, [verdict_factory(steps=steps)]))
    i = lines.index(r"\csdisplay{%")
    # each piece twice: as displayed, and the breakable form used when it is too wide to scale
    assert lines[i + 1 : i + 4] == [r"\cspiece{x_{0}}{x_{0}}%", r"\cspiece{+ x_{1}}{+ x_{1}}%",
                                    r"\cspiece{+ x_{2}}{+ x_{2}}%"]
    assert lines[i + 29 : i + 32] == [r"\cspiece{+ x_{28}}{+ x_{28}}%", r"\csrel{= x_{29}}{= x_{29}}%", "}"]
    assert r"\[ \begin{aligned} a &= b \\ &= c \end{aligned} \]" in lines


@pytest.mark.parametrize(
    ("condition", "latex"),
    [
        # \left ... \right cannot break inline: fixed delimiters can
        (r"\left(\{a \wedge b\} = \{c\}\right)", r"(\{a \wedge b\} = \{c\})"),
        (r"d \left\lfloor{\frac{n}{s}}\right\rfloor", r"d \bigl\lfloor{\frac{n}{s}}\bigr\rfloor"),
        (r"\left. x \right|_{0}", r" x |_{0}"),
    ],
)
def test_side_conditions_may_break(verdict_factory, toy_family, condition, latex):
    step = StepRecord("fold", "fold the sum", "W", (condition,), ("z3: unsat",))
    lines = _lines(render_chapter(toy_family, [verdict_factory(steps=(step,))]))
    assert f"  \\item ${latex}$ --- z3: unsat" in lines


@pytest.mark.parametrize(
    ("description", "latex"),
    [
        # the rules write their formulas as inline math: printed as they are
        (r"the sum over $a, b$ is, by definition, $\left(w_1 * w_2\right)_{t}$",
         r"the sum over $a, b$ is, by definition, $\left(w_1 * w_2\right)_{t}$"),
        ("substitute $b = t - a$", "substitute $b = t - a$"),
        # prose without math: its relations typeset
        ("the kernel fits: k <= n", r"the kernel fits: k $\le$ n"),
        # not a rule's own wording, or already with math: prose as it is
        ("r1' = max |w1[i] / s| = r1 / s", r"r1' = max \textbar{}w1[i] / s\textbar{} = r1 / s"),
        ("a $1 \\times 1$ convolution", "a $1 \\times 1$ convolution"),
    ],
)
def test_rule_descriptions_show_their_formulas(verdict_factory, toy_family, description, latex):
    step = StepRecord("rule", description, "W")
    lines = _lines(render_chapter(toy_family, [verdict_factory(steps=(step,))]))
    v = verdict_factory(steps=(step,))
    assert rf"\item \textbf{{rule}}: {latex}\label{{step:{v.name}:1}}\csrecmark{{{v.name}}}{{1}}" in lines


@pytest.mark.parametrize(
    ("sizes", "latex"),
    [
        ("all k_1, k_2 >= 1", r"all $k_1,\allowbreak{} k_2 \ge 1$"),
        ("k1, k2 <= 5", r"k1, k2 $\le$ 5"),
    ],
)
def test_sizes_as_math(verdict_factory, toy_family, sizes, latex):
    lines = _lines(render_chapter(toy_family, [verdict_factory(sizes=sizes)]))
    assert f"sizes & {latex} \\\\" in lines


def test_instances_as_math(verdict_factory, toy_family):
    v = verdict_factory(instances=("every step re-evaluated exactly at C_{in}=1, k1=2; C_{in}=2, k1=1",))
    lines = _lines(render_chapter(toy_family, [v]))
    assert (r"  \item every step re-evaluated exactly at $C_{in} = 1,\allowbreak{} k_{1} = 2$; "
            r"$C_{in} = 2,\allowbreak{} k_{1} = 1$") in lines


@pytest.mark.parametrize(("sizes", "latex"), [
    ("126 instances with k1 in 1..3, k2 in {2, 3}; c=2, n=2",
     r"126 instances with $k_{1} \in \{1, \dots, 3\}$, $k_{2} \in \{2, 3\}$; $c = 2$, $n = 2$"),
    ("every k in {1, (3, 2)}, s in {1, 2} (32 instances); ci=2, co=2",
     r"every $k \in \{1, (3, 2)\}$, $s \in \{1, 2\}$ (32 instances); $C_{in} = 2$, $C_{out} = 2$"),
    ("one exact input: x = [1, 0], P_before = 1, bias=True",
     r"one exact input: $x = [1, 0]$, $P_{before} = 1$, $\mathrm{bias} = \text{true}$"),
    # not a list of sizes: left as prose
    ("fixed point after 22 sweeps", "fixed point after 22 sweeps"),
])
def test_instance_lists_as_math(sizes, latex):
    from convsym.render.prose import sizes_prose

    assert sizes_prose(sizes) == latex


def test_a_witness_size_list_in_the_notation(verdict_factory, toy_family):
    v = verdict_factory(sizes="k1=1, ci=2, cm=1, co=3, k1h=2, p2=0")
    lines = _lines(render_chapter(toy_family, [v]))
    assert (r"sizes & $k_{1} = 1,\allowbreak{} C_{in} = 2,\allowbreak{} C_{mid} = 1,\allowbreak{} "
            r"C_{out} = 3,\allowbreak{} k_{1,h} = 2,\allowbreak{} p_{2} = 0$ \\") in lines


@pytest.mark.parametrize(
    ("prose", "latex"),
    [
        ("see toy.sub-commutes.", r"see \thmref{toy.sub-commutes}{\texttt{toy.\allowbreak{}sub-\allowbreak{}"
                                  r"commutes}}{toy.sub-commutes}."),
        # a dotted name that is not a theorem name: a file, a module path, an abbreviation
        ("e.g. convsym.cost.real_taps", r"e.g. convsym.\allowbreak{}cost.\allowbreak{}real\_\allowbreak{}taps"),
        ("in $a.b$ only", "in $a.b$ only"),
    ],
)
def test_notes_link_theorem_names(verdict_factory, toy_family, prose, latex):
    lines = _lines(render_chapter(toy_family, [verdict_factory(notes=(prose,))]))
    assert f"  \\item {latex}" in lines


def test_chapter_keeps_theorem_order(verdict_factory, toy_family):
    names = ["toy.c", "toy.a", "toy.b"]
    text = render_chapter(toy_family, [verdict_factory(n) for n in names])
    found = [ln for ln in _lines(text) if ln.startswith(r"\begin{theorem}")]
    assert found == [rf"\begin{{theorem}}[{{Addition commutes}}]\label{{thm:{n}}}" for n in names]


def test_render_text(verdict_factory):
    text = render_text(verdict_factory("toy.sub-commutes", "refuted"))
    lines = _lines(text)
    assert lines[0] == "toy.sub-commutes: Addition commutes"
    assert "  2. [commute] swap the terms" in lines
    assert "       if a ∈ ℤ   (checked: z3: unsat)" in lines
    assert "verdict: refuted, strength exact-instance, sizes a, b ≤ 3" in lines
    assert "    left side = 1, right side = -1 at a - b" in lines


@pytest.mark.parametrize(
    ("step", "shown"),
    [
        # the step as the book prints it, never its code-like plain text
        (StepRecord("fold", "fold", r"\sum_{a=0}^{k-1} w_{a}", text="sum(w[a], a = 0..k-1)"),
         "       = Σ(a=0..k-1) wₐ"),
        (StepRecord("fold", "fold", r"\sum_{a=0}^{k-1} w_{a}"), "       = Σ(a=0..k-1) wₐ"),
        (StepRecord("fold", "fold", "", text="w_0 + w_1"), "       = w₀ + w₁"),
    ],
)
def test_render_text_reads_the_steps_latex(verdict_factory, step, shown):
    lines = _lines(render_text(verdict_factory(steps=(step,))))
    assert lines[lines.index("  1. [fold] fold") + 1] == shown


# ---------------------------------------------------------------------------------------------
# LaTeX read back as Unicode for the terminal (convsym show)

UNICODE_TABLE = [
    # the fragments the proofs produce
    (r"k_{1}, k_{2} \in \mathbb{Z}_{\ge 1}", "k₁, k₂ ∈ ℤ≥1"),
    (r"\{a \geq 0 \wedge a \leq k_{1} - 1\} = \{b \geq 0\}", "{a ≥ 0 ∧ a ≤ k₁ - 1} = {b ≥ 0}"),
    (r"h_j := \left(x \star w^{(1)}\right)_j + b_1 \text{ (the first layer)}",
     "hⱼ := (x ⋆ w⁽¹⁾)ⱼ + b₁ (the first layer)"),
    (r"b = - a + t\colon\ \{a \geq 0\} \leftrightarrow \{t \geq a\}", "b = - a + t: {a ≥ 0} ↔ {t ≥ a}"),
    (r"\sum_{a=0}^{k-1} w_{a} x_{i+a}", "Σ(a=0..k-1) wₐ x[i+a]"),
    (r"\sum_{\substack{0 \leq c \leq C_{i} - 1\\0 \leq o \leq C_{o} - 1}} 1", "Σ(0 ≤ c ≤ Cᵢ - 1, 0 ≤ o ≤ Cₒ - 1) 1"),
    (r"\prod_{l=1}^{L} s_l", "Π(l=1..L) sₗ"),
    (r"\frac{C_{in} C_{out} k_{h} k_{w}}{g}", "(Cᵢₙ Cₒᵤₜ kₕ k_w)/g"),
    (r"\tfrac{1}{s_i} f(h_i)", "1/sᵢ f(hᵢ)"),
    (r"r_o = 1/\sqrt{\sigma^2_o + \epsilon}", "rₒ = 1/√(σ²ₒ + ϵ)"),
    (r"\left\lfloor{\frac{n + 2 p - k}{s}}\right\rfloor + 1", "⌊(n + 2 p - k)/s⌋ + 1"),
    (r"\tilde{w}_{o,c,u,v} := t_o w_{o,c,u,v}", "w̃[o,c,u,v] := tₒ w[o,c,u,v]"),
    (r"\bar{w}_b := w_{k-1-b}", "w̄_b := w[k-1-b]"),
    (r"\#\{z \in \mathbb{R} : z^2 + 1 = 0\} = 0", "#{z ∈ ℝ : z² + 1 = 0} = 0"),
    (r"P \Rightarrow Q \wedge \neg R", "P ⇒ Q ∧ ¬ R"),
    (r"y \mathrel{+}= x_{n,c}\, w", "y += x[n,c] w"),
    (r"\max(a, b) \cdot 2^{31}", "max(a, b) · 2³¹"),
    (r"x^{\prime} = \gamma_c r_c", "x′ = γ_c r_c"),
    (r"\begin{cases} a & \text{for}\: x \leq 0 \\ b & \text{otherwise} \end{cases}", "{ a for x ≤ 0; b otherwise }"),
    (r"\begin{array}{lr}\text{layer} & \text{MACs} \\ \hline \text{conv1} & 118\,013 \\ \end{array}",
     "layer  MACs\nconv1  118 013"),
    (r"$1\times 1$ convolution", "1× 1 convolution"),
]


@pytest.mark.parametrize(("latex", "text"), UNICODE_TABLE, ids=[t for _, t in UNICODE_TABLE])
def test_latex_to_unicode(latex, text):
    from convsym.render.unicode import latex_to_unicode

    assert latex_to_unicode(latex) == text


@pytest.mark.parametrize(
    ("prose", "text"),
    [
        ("window $i$ ends before $s(i-1) < X$", "window i ends before s(i-1) < X"),
        ("k_1, k_2 in {1, 2}", "k₁, k₂ in {1, 2}"),                      # literal braces stay
        ("max_pool2d and count_include_pad", "max_pool2d and count_include_pad"),  # names stay
        ("conv1d(x, w^{(1)}, k_1)*w^{(2)}[b]", "conv1d(x, w⁽¹⁾, k₁)*w⁽²⁾[b]"),
        ("1/k^2 of 2^31", "1/k² of 2^31"),
        ("plain words", "plain words"),
    ],
)
def test_text_to_unicode(prose, text):
    from convsym.render.unicode import text_to_unicode

    assert text_to_unicode(prose) == text


def test_render_text_prints_no_latex(verdict_factory):
    step = StepRecord("exchange", "exchange the sums over $a$ and $b$",
                      r"\sum_{a=0}^{k_{1}-1} \sum_{b=0}^{k_{2}-1} w_{a} x_{a+b}",
                      (r"\{a \geq 0 \wedge b \leq k_{2} - 1\} = \{b \leq k_{2} - 1 \wedge a \geq 0\}",),
                      ("z3: unsat",))
    text = render_text(verdict_factory(steps=(step,)))
    assert "\\" not in text and "_{" not in text and "^{" not in text
    assert "       = Σ(a=0..k₁-1) Σ(b=0..k₂-1) wₐ x[a+b]" in _lines(text)
    assert "       if {a ≥ 0 ∧ b ≤ k₂ - 1} = {b ≤ k₂ - 1 ∧ a ≥ 0}   (checked: z3: unsat)" in _lines(text)


def test_step_text_is_in_the_json():
    step = StepRecord("fold", "fold", "W", text="W")
    assert step.to_json()["text"] == "W" and StepRecord("r", "d", "e").to_json()["text"] == ""


def test_render_text_failed(verdict_factory):
    lines = _lines(render_text(verdict_factory("toy.x", "failed")))
    assert "verdict: failed (expected proved), strength none, sizes a, b ≤ 3" in lines
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
    with pytest.raises(RenderError, match=r"check_source of toy\.bad must be source text or functions, got NoneType"):
        render_checks(toy_family, [bad])


# ---------------------------------------------------------------------------------------------
# breaking long formulas: the pieces give back the formula, each piece is well formed

_ATOMS = [r"x_{1}", r"\left(a + b\right)", r"\frac{c - d}{e}", r"\sum_{i=0}^{n-1} w_{i}", "(p - q)", "k",
          r"\begin{cases} 1 & a = b \\ 0 & \text{else} \end{cases}", r"\{i \ge 0 \wedge i < n\}"]
_JOINS = [" + ", " - ", " = ", r" \le ", r",\ ", r",\quad ", r" \wedge ", " ", r" \cdot "]


@given(st.lists(st.tuples(st.sampled_from(_JOINS), st.sampled_from(_ATOMS)), max_size=12),
       st.sampled_from(_ATOMS), st.booleans())
def test_display_pieces_give_back_the_formula(rest, first, sign):
    from convsym.render.breaking import display_pieces, split_piece

    formula = ("-" if sign else "") + first + "".join(join + atom for join, atom in rest)
    pieces = display_pieces(formula)
    assert "".join(pieces).replace(" ", "") == formula.replace(" ", "")
    for piece in pieces:
        tex(piece)  # balanced braces
        kind, lead, body = split_piece(piece)
        assert lead + body == piece or (lead + " " + body) == piece
        assert piece.count(r"\left") == piece.count(r"\right")
        assert piece.count(r"\begin") == piece.count(r"\end")


def test_render_checks_emits_the_witness_helper_once_and_only_when_used(fake_theorem, verdict_factory, toy_family):
    uses = "def test_a():\n    assert _witness_array({'shape': [1], 'nonzero': [[[0], '1/2']]})[0] == Fraction(1, 2)\n"
    plain = "def test_b():\n    assert True\n"
    second = uses.replace("test_a", "test_c")
    both = render_checks(toy_family, [fake_theorem("toy.a", verdict_factory("toy.a"), uses),
                                      fake_theorem("toy.b", verdict_factory("toy.b"), second)])
    assert both.count("def _witness_array(spec):") == 1
    none = render_checks(toy_family, [fake_theorem("toy.b", verdict_factory("toy.b"), plain)])
    assert "_witness_array" not in none
    namespace: dict = {}
    exec(compile(both, "<checks>", "exec"), namespace)  # the emitted file runs as it stands
    namespace["test_a"]()


def test_every_shipped_theorem_has_a_numeric_check():
    # issue 10, item 5: a theorem whose check_source is empty is emitted as "no numeric check"
    from convsym.run.registry import load_families

    families = load_families()
    names = [t.name for _, theorems in families for t in theorems]
    # a refuted claim's check is the re-test of its witness, added once the verdict is known
    missing = [t.name for _, theorems in families for t in theorems
               if not t.check_source.strip() and not (t.expected == "refuted" and getattr(t, "witness_check", ""))]
    assert len(names) >= 95 and missing == []


# ---------------------------------------------------------------------------------------------
# the renderers' layering, trivially true conditions, breakable displays, the front matter


def _render_imports(module: str) -> set[str]:
    import convsym.render

    path = Path(convsym.render.__file__).parent / f"{module}.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("convsym.render"):
            found.add(node.module.removeprefix("convsym.render").lstrip(".") or
                      ",".join(alias.name for alias in node.names))
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("convsym.render.") for a in node.names
                      if a.name.startswith("convsym.render.")}
    return found


def test_the_renderers_import_downwards_only():
    # tex <- breaking <- prose <- latex: nothing imports a module above it, at any level
    assert _render_imports("tex") == set()
    assert _render_imports("breaking") == {"tex"}
    assert _render_imports("prose") == {"breaking", "tex"}
    assert _render_imports("frontmatter") == {"breaking", "tex"}
    assert "latex" not in _render_imports("breaking") | _render_imports("prose") | _render_imports("frontmatter")


@pytest.mark.parametrize(
    ("condition", "printed"),
    [
        (r"\text{True} \wedge \text{True} \wedge k \geq 1 \Rightarrow k > 0", r"k \geq 1 \Rightarrow k > 0"),
        (r"a \wedge \text{True}", "a"),
        (r"\text{True} \wedge o_{p} \geq s", r"o_{p} \geq s"),
        (r"\mathrm{true} \Rightarrow a = b", "a = b"),
        (r"\left(\text{True} \wedge x\right) \wedge y", r"\left( x\right) \wedge y"),
        # not a whole conjunct: kept
        (r"\neg \text{True} \wedge x", r"\neg \text{True} \wedge x"),
        (r"a \vee \text{True}", r"a \vee \text{True}"),
        (r"x = \text{True}", r"x = \text{True}"),
        # true as a whole
        (r"\text{True} \wedge \text{True}", r"\text{True}"),
        (r"\mathrm{true} \Rightarrow \text{True} \wedge \text{True}", r"\text{True}"),
        (r"a \wedge b \Rightarrow \text{True}", r"\text{True}"),
    ],
)
def test_true_conjuncts_are_dropped(condition, printed):
    from convsym.render.breaking import drop_true_conjuncts

    assert drop_true_conjuncts(condition) == printed


def test_trivial_side_conditions_and_repeated_reevaluation_are_not_printed(verdict_factory, toy_family):
    steps = (
        StepRecord("fold", "fold", "a", (r"\text{True} \wedge \text{True}", r"\text{True} \wedge k \ge 1"),
                   ("z3: unsat", "z3: unsat", "re-evaluated exactly on 3 instance(s)")),
        StepRecord("conclusion", "done", r"\text{True} \wedge b", (),
                   ("structural equality", "re-evaluated exactly on 3 instance(s)")),
    )
    text = render_chapter(toy_family, [verdict_factory(steps=steps)])
    lines = _lines(text)
    assert r"  \item $k \ge 1$ --- z3: unsat" in lines
    assert "True" not in text
    assert "re-evaluated exactly on 3 instance(s)" not in text
    i = lines.index(r"\paragraph{Derivation.}")
    assert lines[i + 1] == "Every step was re-evaluated exactly on the 3 instances listed under Exact-instance checks."
    assert r"\[ b \]" in lines


@pytest.mark.parametrize(
    ("check", "printed"),
    [
        ("lemma toy.x: proved (general, all C, k_h >= 1)",
         r"lemma \thmref{toy.x}{\texttt{toy.\allowbreak{}x}}{toy.x}: "
         r"proved (general, all $C,\allowbreak{} k_h \ge 1$)"),
        ("z3: the negation of this formula is unsat: If(a >= b, a, b) == a",
         "z3: its negation is unsatisfiable, so it holds for all values"),
    ],
)
def test_checks_are_printed_as_prose(verdict_factory, toy_family, check, printed):
    step = StepRecord("z3", "decide", "a", (), (check,))
    assert f"  \\item {printed}" in _lines(render_chapter(toy_family, [verdict_factory(steps=(step,))]))


@pytest.mark.parametrize(
    ("prose", "latex"),
    [
        ("the 'big' conv", "the `big' conv"),
        ('a "quoted" word and the seed\'s', "a ``quoted'' word and the seed's"),
        ("(\"x\")", "(``x'')"),
    ],
)
def test_opening_quotes(prose, latex):
    assert escape(prose) == latex


def test_breakable_display_breaks_products_of_sums_and_long_text():
    from convsym.render.breaking import breakable_display

    assert breakable_display(r"\sum_{a=0}^{k} {w}_{a} {x}_{i + a}") == r"\sum_{a=0}^{k} \*{w}_{a} \*{x}_{i + a}"
    # a fraction's arguments and a sign after an operator are never separated
    assert breakable_display(r"\frac{a}{b} + \sum_{c} c") == r"\frac{a}{b} + \sum_{c} c"
    assert breakable_display(r"\text{one two}") == r"\text{one }\allowbreak{}\text{two}"
    assert breakable_display(r"\left(\frac{a}{b}\right)") == r"\bigl(\frac{a}{b}\bigr)"


def test_main_front_matter(toy_family, verdict_factory):
    from convsym import __version__
    from convsym.dtypes import TOOL_VERSIONS
    from convsym.render.frontmatter import BIBLIOGRAPHY

    verdicts = [verdict_factory(), verdict_factory("toy.sub-commutes", "refuted", statement_latex=r"a - b = b - a"),
                verdict_factory("toy.taut", statement_latex="0 = 0"),
                verdict_factory("toy.words", statement_latex=r"\text{f} = \text{g}")]
    text = render_main([toy_family], verdicts)
    lines = _lines(text)
    in_order = [r"\end{titlepage}", r"\section*{How to cite this book}", "@manual{convsym,", r"\tableofcontents",
                r"\chapter{Introduction}\label{ch:introduction}", r"\chapter{Notation}\label{ch:notation}",
                r"\chapter{How to read this book}\label{ch:how-to-read}",
                r"\chapter{Summary of results}\label{ch:summary}",
                r"\chapter{Limitations}\label{ch:limitations}", r"\mainmatter", r"\input{toy}",
                r"\begin{thebibliography}{99}", r"\end{document}"]
    positions = [lines.index(line) for line in in_order]
    assert positions == sorted(positions)
    assert f"  edition = {{Version {__version__}}}," in lines
    # one summary row per verdict, in order, with its page; the formula only where it says something
    rows = [ln for ln in lines if ln.startswith(r"\ref{thm:toy.")]
    assert [r.split("}", 1)[0] for r in rows] == [r"\ref{thm:toy.add-commutes", r"\ref{thm:toy.sub-commutes",
                                                  r"\ref{thm:toy.taut", r"\ref{thm:toy.words"]
    assert rows[0].endswith(r"& $a + b = b + a$ & proved, exact-instance & \pageref{thm:toy.add-commutes} \\")
    assert r"& $a - b = b - a$ & refuted, exact-instance &" in rows[1]
    assert r"Addition commutes &  & proved" in rows[2] and r"Addition commutes &  & proved" in rows[3]
    # every counting tool with the version convsym models, and every work the front matter cites
    for key, _ in BIBLIOGRAPHY:
        assert rf"\bibitem{{{key}}}" in text
    for version in TOOL_VERSIONS.values():
        assert f"version {version}" in text
    cited = {key for group in re.findall(r"\\cite\{([^}]*)\}", text) for key in group.split(",")}
    assert cited == {key for key, _ in BIBLIOGRAPHY}


def test_bibtex_rejects_a_strange_version():
    from convsym.render.frontmatter import bibtex

    with pytest.raises(ValueError, match=r"bibtex: the version must be .*got '1\.0\}'"):
        bibtex("1.0}")


def test_figure_tables_are_booktabs_tables_in_small_type():
    from convsym.render.figures import table

    text = table(["layer", "MACs"], [["conv1", "$9$"], ["fc", "$1$"]], "lr", footer=[["total", "$10$"]])
    assert text.splitlines() == [r"{\small", r"\begin{tabular}{@{}lr@{}}", r"\toprule", r"layer & MACs \\",
                                 r"\midrule", r"conv1 & $9$ \\", r"fc & $1$ \\", r"\midrule", r"total & $10$ \\",
                                 r"\bottomrule", r"\end{tabular}}"]
    assert "resizebox" not in text and "array" not in text
    with pytest.raises(ValueError, match=r"table: row 1 has 1 cells for 2 columns \('lr'\)"):
        table(["a", "b"], [["x", "y"], ["z"]], "lr")
    with pytest.raises(ValueError, match=r"table: align must be column letters l, r or c, got 'lx'"):
        table(["a", "b"], [], "lx")


@pytest.mark.parametrize(("description", "printed"), [("at one point", "at one point."), ("at $a = 1$", "at $a = 1$."),
                                                      ("ends.", "ends."), ("", "")])
def test_witness_description_is_a_sentence(verdict_factory, toy_family, description, printed):
    from convsym.proof.verdict import Witness

    v = verdict_factory("toy.sub-commutes", "refuted",
                        witness=Witness(description, (("a", "1"),), "a - b", "1", "-1"))
    lines = _lines(render_chapter(toy_family, [v]))
    i = lines.index(r"\paragraph{Counterexample.}")
    expected = ([printed] if printed else []) + ["Every input entry not listed is zero."]
    assert lines[i + 1:i + 1 + len(expected)] == expected


def test_headings_get_opening_quotes():
    assert bookmark("'same' padding") == "`same' padding"


def test_render_text_leaves_out_trivially_true_conditions(verdict_factory):
    step = StepRecord("fold", "fold", "a", (r"\text{True} \wedge \text{True}", r"\text{True} \wedge k \ge 1"),
                      ("z3: unsat", "z3: unsat"))
    text = render_text(verdict_factory(steps=(step,)))
    assert "True" not in text
    assert "       if k ≥ 1   (checked: z3: unsat)" in text.splitlines()


def test_render_text_prints_the_books_statement_in_unicode(verdict_factory):
    from convsym.proof.verdict import Statement

    parts = Statement(quantifiers=((r"all integers $k_{1}, k_{2} \ge 1$", "all integers k_1, k_2 >= 1"),),
                      hypotheses=(r"0 \le i \le n - k",), definitions=(r"{h}_{j} := \sum_{a=0}^{k-1} x_{j+a}",),
                      claim_latex=r"h_{i} = h_{i}", claim_text="sum(x[a], a) == h[i]")
    step = StepRecord("fold", "fold", r"\sum_{a=0}^{k-1} w_{a}", text="sum(w[a], a = 0..k-1)")
    lines = _lines(render_text(verdict_factory(statement_parts=parts, sizes="all k_1 >= 1", steps=(step,))))
    i = lines.index("statement:")
    assert lines[i + 1:i + 4] == ["  For all integers k₁, k₂ ≥ 1 such that 0 ≤ i ≤ n - k:", "      hᵢ = hᵢ",
                                  "  where hⱼ := Σ(a=0..k-1) x[j+a]."]
    text = "\n".join(lines)
    for code in ("==", ">=", "<=", "sum("):
        assert code not in text
