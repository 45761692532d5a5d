r"""Prose of the book: cross-references, rule descriptions and size lists as LaTeX.

The texts a proof produces are plain prose that may hold inline math between ``$...$``.  Three
things make them read better in the book, each a pure function of the text:

* :func:`crossref_prose` escapes prose and turns every dotted theorem name in it
  (``merge.padded-second``) into ``\thmref{...}``: a link to the theorem labelled
  ``thm:<name>`` with its number when the document has that label, the plain name otherwise
  (LaTeX decides, from the labels of the previous run, so names of other chapters work too);
* :func:`step_prose` leaves a step description that holds inline math as it is (the rules of
  :mod:`convsym.symbolic.rules` write theirs so) and typesets the relations of any other;
* :func:`sizes_prose` does the same for size lists (``all k_1, k_2 >= 1``) and for the
  instances a derivation was re-evaluated on.

A text that does not match a known form, or whose math would not be balanced, stays prose.
"""

from __future__ import annotations

import re

from convsym.errors import RenderError
from convsym.render.breaking import breakable_name, breakable_prose
from convsym.render.tex import escape_text, quotes, segments
from convsym.symbolic.printing import size_name_latex

#: A theorem name as the proof scripts spell them: ``family.words-with-hyphens``.
THEOREM_NAME = re.compile(
    r"(?<![\w.\\-])([a-z][a-z0-9_]+\.[a-z0-9]+(?:-[a-z0-9]+)*)(?![\w-]|\.\w)"
)


def _escape(text: str) -> str:
    return quotes(escape_text(text))


def _prose_part(text: str) -> str:
    out = []
    last = 0
    for match in THEOREM_NAME.finditer(text):
        out.append(breakable_prose(_escape(text[last:match.start()])))
        name = match.group(1)
        out.append(rf"\thmref{{{name}}}{{{breakable_name(name)}}}{{{_escape(name)}}}")
        last = match.end()
    out.append(breakable_prose(_escape(text[last:])))
    return "".join(out)


def crossref_prose(text: object) -> str:
    r"""Prose with ``$...$`` math kept, special characters escaped, theorem names linked.

    >>> crossref_prose("see costs.memory & $k_1$")
    'see \\thmref{costs.memory}{\\texttt{costs.\\allowbreak{}memory}}{costs.memory} \\& $k_1$'
    """
    return "".join(
        f"${part}$" if is_math else _prose_part(part) for is_math, part in segments(text, "prose")
    )


# ---------------------------------------------------------------------------------------------
# formulas written by sympy.sstr, as LaTeX

_OPERATION = re.compile(r"([A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]*|[A-Za-z]+[0-9][A-Za-z0-9]*|[A-Za-z]{3,})\(")


def _balanced(tex: str) -> bool:
    depth = 0
    i = 0
    while i < len(tex):
        if tex[i] == "\\":
            i += 2
            continue
        depth += {"{": 1, "}": -1}.get(tex[i], 0)
        if depth < 0:
            return False
        i += 1
    return depth == 0


def sstr_math(text: str) -> str:
    r"""A formula printed by ``sympy.sstr`` (symbol names are LaTeX) as LaTeX math.

    ``**`` becomes a superscript, ``*`` a thin space, an operation name ``conv1d(`` an upright
    operator, and every comma between arguments a place where the line may break.

    >>> sstr_math("conv1d(x, W, d_1*(k_1 - 1) + 1, i)")
    '\\operatorname{conv1d}(x,\\allowbreak{} W,\\allowbreak{} d_1\\,(k_1 - 1) + 1,\\allowbreak{} i)'
    """
    tex = re.sub(r"\*\*(\w+|\([^()]*\))", lambda m: "^{" + m.group(1).strip("()") + "}", text)
    tex = tex.replace("*", r"\,")
    tex = _OPERATION.sub(lambda m: r"\operatorname{" + m.group(1).replace("_", r"\_") + "}(", tex)
    tex = tex.replace(", ", r",\allowbreak{} ")
    return tex


def step_prose(description: str) -> str:
    """A step's description as the book prints it: the rules of :mod:`convsym.symbolic.rules`
    write their formulas as inline math already; other prose gets its relations typeset
    (:func:`code_relations`)."""
    if not isinstance(description, str):
        raise RenderError(f"step_prose: expected a description as str, got {type(description).__name__}")
    if "$" in description:
        return description
    return code_relations(description)


_ASSIGNMENTS = re.compile(r"[^\s=,;]+=-?\d+(?:, [^\s=,;]+=-?\d+)*")


def sizes_prose(text: str) -> str:
    """Size lists as math: ``all k_1, k_2 >= 1`` (with conditions such as ``with p >= 0, p <= k - 1``)
    and ``... exactly at k_1=1, k_2=2; k_1=2, k_2=1``."""
    if not isinstance(text, str):
        raise RenderError(f"sizes_prose: expected sizes as str, got {type(text).__name__}")
    if "$" in text:
        return text
    match = re.fullmatch(r"all ((?:[^\s,]+, )*[^\s,]+) >= 1(?: with (.+))?", text)
    if match and _balanced(match[1]):
        names = match[1].replace(", ", ",\\allowbreak{} ")
        conditions = match[2] or ""
        if not conditions:
            return f"all ${names} \\ge 1$"
        if _balanced(conditions) and re.fullmatch(r"[\w\s+\-*/(),<>=]+", conditions):
            tex = sstr_math(conditions.replace(">=", r"\ge").replace("<=", r"\le"))
            return f"all ${names} \\ge 1$ with ${tex}$"
    match = re.fullmatch(r"(every step re-evaluated exactly at )(.+)", text)
    if match:
        groups = match[2].split("; ")
        if all(_ASSIGNMENTS.fullmatch(g) and _balanced(g) for g in groups):
            return match[1] + "; ".join(_assignments_math(g) for g in groups)
    if _ASSIGNMENTS.fullmatch(text) and _balanced(text):
        return _assignments_math(text)
    if not re.search(r"[\\|<>^]", text) and _balanced(text):
        tex, found = _SIZE_TOKEN.subn(_size_token_math, text)
        if found:
            return tex
    return code_relations(text)


_NAME = r"[A-Za-z][A-Za-z0-9_]*"
#: A size in a list of instances: ``k1 in 1..3``, ``s in {1, 2}``, ``n=2`` or ``x = [1, 0]``.
_SIZE_TOKEN = re.compile(
    rf"\b(?P<range>{_NAME}) in (?P<a>-?\d+)\.\.(?P<b>-?\d+)"
    rf"|\b(?P<set>{_NAME}) in \{{(?P<items>[-\d, ()]*)\}}"
    rf"|\b(?P<name>{_NAME}) ?= ?(?P<value>-?\d+(?:/\d+)?\b|\[[-\d, /]*\]|True\b|False\b)"
)


def _size_token_math(m: re.Match) -> str:
    if m["range"]:
        return f"${size_name_latex(m['range'])} \\in \\{{{m['a']}, \\dots, {m['b']}\\}}$"
    if m["set"]:
        return f"${size_name_latex(m['set'])} \\in \\{{{m['items']}\\}}$"
    value = m["value"]
    if value in ("True", "False"):
        value = rf"\text{{{value.lower()}}}"
    return f"${size_name_latex(m['name'])} = {value}$"


def _assignments_math(text: str) -> str:
    """``k1=2, C_in=3`` as ``$k_{1} = 2,\\allowbreak{} C_{in} = 3$``: a trailing number or an
    underscore part of a name becomes its subscript."""
    pairs = [pair.split("=", 1) for pair in text.split(", ")]
    return "$" + ",\\allowbreak{} ".join(f"{size_name_latex(k)} = {v}" for k, v in pairs) + "$"



_LEMMA = re.compile(r"(?P<head>lemma \S+: \w+ \()(?P<strength>[\w-]+), (?P<sizes>.+)\)")
_Z3_FORMULA = re.compile(r"z3: the negation of this formula is unsat: .+")


def checked_prose(text: str) -> str:
    """How a step was checked, as the book prints it: a lemma's sizes as math
    (``lemma merge.x: proved (general, all k_1 >= 1)``), and for a z3 decision the verdict
    without z3's own print of the formula (the step's display shows it; ``convsym show`` prints
    z3's form)."""
    if not isinstance(text, str):
        raise RenderError(f"checked_prose: expected a check as str, got {type(text).__name__}")
    if _Z3_FORMULA.fullmatch(text):
        return "z3: its negation is unsatisfiable, so it holds for all values"
    match = _LEMMA.fullmatch(text)
    if match:
        return f"{match['head']}{match['strength']}, {sizes_prose(match['sizes'])})"
    return text


# ---------------------------------------------------------------------------------------------
# what a step changed

#: The rules of a derivation (:mod:`convsym.symbolic.rules`): each rewrites the whole expression
#: of the step before, so the part it changed can be shown.
REWRITE_RULES = frozenset({"definition", "linearity", "exchange of sums", "substitution", "partition by value",
                           "fold", "collapse", "equivalent conditions"})

_TEX_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\s+|.", re.DOTALL)
#: A changed part longer than this (characters of LaTeX) is not shown apart: the step rewrote
#: most of the expression, and its display says it all.
CHANGED_PART_CHARS = 90


def changed_part(before: str, after: str, limit: int = CHANGED_PART_CHARS) -> str:
    r"""The part of the formula ``after`` that differs from ``before``, as balanced LaTeX math.

    The longest common head and tail (in LaTeX tokens) are cut off; the rest is widened to the
    smallest group (braces or parentheses) around it.  ``""`` when the two are equal, when the changed part is
    (almost) the whole formula, longer than ``limit``, or not a formula one can set apart (it
    holds an alignment, a line break or half of a ``\left ... \right`` pair).

    >>> changed_part(r"b + \sum_{a} w_{a} (x_{i + a} + y_{i + a}) + c",
    ...              r"b + \sum_{a} (w_{a} x_{i + a} + w_{a} y_{i + a}) + c")
    '(w_{a} x_{i + a} + w_{a} y_{i + a})'
    """
    if not isinstance(before, str) or not isinstance(after, str):
        raise RenderError("changed_part: expected two formulas as str, got "
                          f"{type(before).__name__} and {type(after).__name__}")
    a, b = _TEX_TOKEN.findall(before), _TEX_TOKEN.findall(after)
    n = min(len(a), len(b))
    head = 0
    while head < n and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < n - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    lo, hi = head, len(b) - tail
    if lo >= hi:
        return ""
    depth = [0]
    for token in b:
        depth.append(depth[-1] + {"{": 1, "}": -1, "(": 1, ")": -1}.get(token, 0))
    target = min(depth[lo:hi + 1])
    while lo > 0 and depth[lo] > target:
        lo -= 1
    while hi < len(b) and depth[hi] > target:
        hi += 1
    # a group that is the argument of a command (\frac{..}{..}) goes with its command, a subscript
    # or superscript with its base
    while lo > 0 and b[lo] == "{" and re.fullmatch(r"\\[A-Za-z]+", b[lo - 1]):
        lo -= 1
    if lo > 1 and b[lo - 1] in ("_", "^"):
        if b[lo - 2] in ("}", ")", " ") or b[lo - 2].isspace():
            return ""
        lo -= 2
    while hi < len(b) and b[hi] in ("_", "^") and hi + 1 < len(b) and b[hi + 1] != "{":
        hi += 2
    part = "".join(b[lo:hi]).strip()
    whole = "".join(b).strip()
    if (not part or len(part) > limit or len(part) > 0.75 * len(whole) or not _balanced(part)
            or "&" in part or "\\\\" in part or part.count(r"\left") != part.count(r"\right")
            or part[0] in "^_=" or part[-1] in "^_="):
        return ""
    return part


def _top_level_relations(text: str) -> list[int]:
    """Positions of the ``=`` signs of ``text`` outside every brace group."""
    out, depth, i = [], 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if ch == "=" and depth == 0:
            out.append(i)
        i += 1
    return out


def is_tautology(formula: str) -> bool:
    r"""True when ``formula`` is one equation whose two sides are the same text (``n = n``):
    printed, it would say nothing about what the step checked.

    >>> is_tautology("n = n"), is_tautology(r"H_{out} = H_{out}"), is_tautology("a = b")
    (True, True, False)
    """
    if not isinstance(formula, str):
        raise RenderError(f"is_tautology: expected a formula as str, got {type(formula).__name__}")
    cuts = _top_level_relations(formula)
    if len(cuts) != 1:
        return False
    left, right = formula[:cuts[0]].strip(), formula[cuts[0] + 1:].strip()
    return bool(left) and "".join(left.split()) == "".join(right.split())


# statements: the kernel's structured statement as sentences (prose with inline $...$ math)

_CODE_RELATIONS = ((" == ", " = "), (">=", r"$\ge$"), ("<=", r"$\le$"), ("!=", r"$\ne$"))


def code_relations(text: str) -> str:
    r"""Prose whose relations were typed as code (``a == b``, ``p >= 1``) with them as mathematics
    (``a = b``, ``p $\ge$ 1``); the ``$...$`` parts are left as they are.

    >>> code_relations("p2 >= 1 and f == g")
    'p2 $\\ge$ 1 and f = g'
    """
    if not isinstance(text, str):
        raise RenderError(f"code_relations: expected prose as str, got {type(text).__name__}")
    out = []
    for is_math, part in segments(text, "code_relations"):
        if is_math:
            out.append(f"${part}$")
            continue
        for code, math in _CODE_RELATIONS:
            part = part.replace(code, math)
        out.append(part)
    return "".join(out)


def _and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def statement_sentences(parts, refuted: bool = False) -> dict[str, str]:
    r"""The statement as the book and the terminal print it, from the kernel's
    :class:`~convsym.proof.verdict.Statement`: prose with inline ``$...$`` math.

    ``lead``: the quantifiers and hypotheses, ending in a colon, before the claim's display
    (``For all integers $k_{1}, k_{2} \ge 1$ and every integer position $i$:``);
    ``claim``: the claim's LaTeX (empty when it is told in words); ``words``: the claim in words;
    ``scope``: for a claim in words, the sizes and inputs it was checked for; ``where``: the
    definitions (``where $h_{j} := \dots$.``).
    """
    quantifiers = [q for q, _ in parts.quantifiers]
    hypotheses = [f"${h}$" for h in parts.hypotheses]
    such = f" such that {_and(hypotheses)}" if hypotheses else ""
    definitions = [f"${d}$" for d in parts.definitions]
    where = f"where {_and(definitions)}." if definitions else ""
    common = {"where": where, "definitions": list(parts.definitions)}
    if parts.claim_latex:
        lead = f"For {_and(quantifiers)}{such}:" if quantifiers or such else ""
        return {"lead": lead, "claim": parts.claim_latex, "words": "", "scope": "", **common}
    words = code_relations(parts.claim_words)
    scope = f"{'Tested' if refuted else 'Checked'} for {_and(quantifiers)}{such}." if quantifiers else ""
    return {"lead": "", "claim": "", "words": words, "scope": scope, **common}
