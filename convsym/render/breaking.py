r"""Line breaking for generated LaTeX: long formulas, long names and long code-like words.

TeX breaks inline math only after a binary operator or a relation at the outer level of the
formula, never inside ``\left ... \right`` or a brace group, and it never breaks a display.  The
derivations convsym writes contain sums of several huge terms and side conditions hundreds of
points wide, so the renderer prepares them here:

* :func:`display_pieces` splits a displayed formula before its outer operators and relations;
  the document's ``\csdisplay`` macro sets the pieces as one display when they fit on the line
  and as a ragged, indented block broken between pieces when they do not (a piece wider than the
  line on its own is scaled down to it if that keeps 85% of its size, else set from
  :func:`breakable_display`, which breaks inside it);
* :func:`drop_true_conjuncts` leaves out the ``True`` conjuncts of the conditions z3 decided;
* :func:`breakable_inline` turns ``\left``/``\right`` pairs into fixed delimiters, so that
  inline math can break inside them;
* :func:`breakable_name` and :func:`breakable_prose` insert ``\allowbreak`` after dots, hyphens,
  commas and the like in names and in long unspaced words.

Everything works on LaTeX source tokens: a control word (``\sum``), a control symbol (``\{``),
a brace or one other character.
"""

from __future__ import annotations

import re

from convsym.render.tex import escape_text

_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\s+|.", re.DOTALL)

#: Relations before which a long display may break (a break before ``=`` reads best).
RELATIONS = frozenset({
    "=", "<", ">", r"\le", r"\leq", r"\ge", r"\geq", r"\ne", r"\neq", r"\Rightarrow",
    r"\Leftarrow", r"\Leftrightarrow", r"\iff", r"\implies", r"\equiv", r"\approx", r"\to",
    r"\mapsto", r"\subseteq", r"\subset", r"\supseteq", r"\sim", r"\cong",
})
#: Binary operators before which a long display may break.
BINARY = frozenset({"+", "-", r"\pm", r"\mp", r"\cdot", r"\times", r"\wedge", r"\vee", r"\land",
                    r"\lor", r"\cup", r"\cap"})
#: Wide spaces that separate the parts of a formula (``a = b,\quad c = d``).
SPACES = frozenset({r"\quad", r"\qquad"})
#: Spaces that separate the parts of a formula when they follow a comma (``a = b,\ c = d``).
COMMA_SPACES = frozenset({r"\ ", r"\;", r"\:", r"\,"})
# after these a + or - is a sign, not an operator
_NO_LEFT_OPERAND = RELATIONS | BINARY | SPACES | frozenset({
    "", "(", "[", r"\{", ",", ";", ":", "&", "^", "_", r"\,", r"\;", r"\:", r"\ ", r"\!", r"\left",
    r"\langle", r"\lfloor", r"\lceil", r"\colon",
})
_TALL = (r"\frac", r"\dfrac", r"\sum", r"\prod", r"\int", r"\substack", r"\binom", r"\sqrt")


def tokens(tex: str) -> list[str]:
    """The tokens of LaTeX source: control words and symbols, runs of spaces, single characters."""
    return _TOKEN.findall(tex)


_OPEN = ("{", r"\left", r"\begin")
_CLOSE = ("}", r"\right", r"\end")


def _levels(toks: list[str], brackets: bool = True) -> list[tuple[int, str]]:
    """Each token with its nesting level: braces, ``\\left``/``\\right``, environments and, when
    they pair up (an interval ``[0, n)`` pairs too), plain parentheses and brackets count."""
    levels = []
    depth, lowest = 0, 0
    for tok in toks:
        if tok in _CLOSE or (brackets and tok in (")", "]")):
            depth -= 1
            lowest = min(lowest, depth)
        levels.append((depth, tok))
        if tok in _OPEN or (brackets and tok in ("(", "[")):
            depth += 1
    if brackets and (depth != 0 or lowest < 0):
        return _levels(toks, brackets=False)
    return levels


def _significant(toks: list[str], i: int) -> str:
    """The last token before position ``i`` that is not a space ('' at the start)."""
    for tok in reversed(toks[:i]):
        if not tok.isspace():
            return tok
    return ""


def display_pieces(tex: str) -> list[str]:
    r"""``tex`` split before each outer relation, binary operator and ``\quad``.

    A ``+`` or ``-`` that follows an operator, a relation, an opening delimiter or a comma is a
    sign and stays with its operand.  Joining the pieces with spaces gives back a formula that
    typesets like ``tex``.

    >>> display_pieces(r"a + \left(b + c\right) = -d")
    ['a', '+ \\left(b + c\\right)', '= -d']
    """
    toks = tokens(tex)
    cuts = []
    for i, (depth, tok) in enumerate(_levels(toks)):
        if depth != 0 or i == 0:
            continue
        previous = _significant(toks, i)
        if tok in RELATIONS or tok in SPACES:
            if previous not in RELATIONS and previous != "":
                cuts.append(i)
        elif tok in COMMA_SPACES and previous == ",":
            cuts.append(i)
        elif tok in BINARY and previous not in _NO_LEFT_OPERAND:
            cuts.append(i)
    bounds = [0, *cuts, len(toks)]
    pieces = ["".join(toks[lo:hi]).strip() for lo, hi in zip(bounds, bounds[1:], strict=False)]
    return [p for p in pieces if p]


def split_piece(piece: str) -> tuple[str, str, str]:
    """``(kind, lead, body)`` of one of :func:`display_pieces`.

    ``kind`` is ``clause`` when the piece starts a new part of the formula (after ``\\quad`` or
    a comma and a space: ``lead`` is that space), ``relation`` when it starts with a relation,
    ``term`` otherwise; ``lead + body == piece``.
    """
    toks = tokens(piece)
    first = next((tok for tok in toks if not tok.isspace()), "")
    if first in SPACES or first in COMMA_SPACES:
        at = toks.index(first) + 1
        return "clause", "".join(toks[:at]), "".join(toks[at:]).strip()
    return ("relation" if first in RELATIONS else "term"), "", piece


def top_level_rows(tex: str) -> bool:
    r"""True when ``tex`` has a line break ``\\`` or an alignment ``&`` outside every group."""
    return any(depth == 0 and tok in ("\\\\", "&") for depth, tok in _levels(tokens(tex)))


def _matching_right(toks: list[str], start: int) -> int:
    depth = 0
    for j in range(start, len(toks)):
        if toks[j] == r"\left":
            depth += 1
        elif toks[j] == r"\right":
            depth -= 1
            if depth == 0:
                return j
    return -1


def _delimiter(toks: list[str], i: int) -> tuple[str, int]:
    """The delimiter after ``\\left``/``\\right`` at ``i`` (spaces skipped) and the index after it."""
    j = i + 1
    while j < len(toks) and toks[j].isspace():
        j += 1
    return (toks[j], j + 1) if j < len(toks) else ("", j)


def breakable_inline(tex: str) -> str:
    r"""Inline math that TeX can break: every ``\left X ... \right Y`` becomes fixed delimiters.

    A pair around a fraction, sum or root becomes ``\bigl X ... \bigr Y``; any other pair becomes
    the bare delimiters; ``\left.`` and ``\right.`` disappear.

    >>> breakable_inline(r"\left(\{a \wedge b\} = \{c\}\right)")
    '(\\{a \\wedge b\\} = \\{c\\})'
    """
    toks = tokens(tex)
    out: list[str] = []
    sizes: dict[int, str] = {}
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok in (r"\left", r"\right"):
            delim, after = _delimiter(toks, i)
            if tok == r"\left":
                end = _matching_right(toks, i)
                inner = toks[i:end] if end >= 0 else toks[i:]
                size = r"\bigl" if any(t in _TALL for t in inner) else ""
                if end >= 0:
                    sizes[end] = r"\bigr" if size else ""
            else:
                size = sizes.get(i, "")
            if delim != ".":
                out.append(size + delim)
                if delim[-1:].isalpha() and after < len(toks) and toks[after][:1].isalpha():
                    out.append(" ")
            i = after
            continue
        out.append(tok)
        i += 1
    return "".join(out)


_NAME_BREAK = re.compile(r"([.\-/_])")


def breakable_name(name: str) -> str:
    r"""A theorem or file name in ``\texttt`` that may break after its dots and hyphens.

    >>> breakable_name("merge.padded-second")
    '\\texttt{merge.\\allowbreak{}padded-\\allowbreak{}second}'
    """
    parts = _NAME_BREAK.split(name)
    out = []
    for part in parts:
        out.append(escape_text(part))
        if _NAME_BREAK.fullmatch(part):
            out.append(r"\allowbreak{}")
    return r"\texttt{" + "".join(out) + "}"


#: Words of escaped prose at least this long get break points after their punctuation.
LONG_WORD = 18
_WORD_BREAK = re.compile(r"(,|\*|=|/|\\_|\.|\]|\)|(?<!-)-(?!-))(?=[^\s])")


def breakable_prose(escaped: str) -> str:
    r"""Escaped prose whose long unspaced words (``b1_{0}*w2_{0,0,0,0}``) may break.

    Only words of at least :data:`LONG_WORD` characters change: ``\allowbreak{}`` goes after each
    comma, ``*``, ``=``, ``/``, ``_``, dot, closing bracket and hyphen inside them.
    """
    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        if len(word) < LONG_WORD or "$" in word:
            return word
        return _WORD_BREAK.sub(lambda m: m.group(1) + r"\allowbreak{}", word)

    return re.sub(r"[^\s]+", fix, escaped)


# ---------------------------------------------------------------------------------------------
# trivially true conjuncts

#: How a true proposition is printed in the conditions z3 decides.
TRUE_FORMS = (r"\text{True}", r"\mathrm{true}")
_TRUE_TOKEN = r"\csTRUE"
# where a conjunct starts and where it ends (the conjunction binds tighter than all of these)
_CONJUNCT_START = frozenset({"", r"\wedge", r"\vee", r"\Rightarrow", r"\iff", r"\Leftrightarrow", "(", "[",
                             "{", ",", r"\{", r"\colon", ":"})
_CONJUNCT_END = frozenset({"", r"\wedge", r"\vee", r"\Rightarrow", r"\iff", r"\Leftrightarrow", ")", "]",
                           "}", ",", r"\right", r"\}", r"\quad", r"\qquad"})


def _next_significant(toks: list[str], i: int) -> tuple[str, int]:
    for j in range(i + 1, len(toks)):
        if not toks[j].isspace():
            return toks[j], j
    return "", len(toks)


def _previous_significant(toks: list[str], i: int) -> tuple[str, int]:
    for j in range(i - 1, -1, -1):
        if not toks[j].isspace():
            return toks[j], j
    return "", -1


def drop_true_conjuncts(tex: str) -> str:
    r"""``tex`` without its trivially true conjuncts: ``\text{True} \wedge A`` and
    ``A \wedge \text{True}`` become ``A``, ``\text{True} \Rightarrow A`` becomes ``A``.

    Only a ``\text{True}`` (or ``\mathrm{true}``) that is a whole conjunct goes: one after
    ``\neg``, in a disjunction or beside a relation stays.  A formula that is true as a whole
    (``\text{True} \wedge \text{True}``, ``A \Rightarrow \text{True}``) becomes ``\text{True}``.

    >>> drop_true_conjuncts(r"\text{True} \wedge \text{True} \wedge k \geq 1 \Rightarrow k > 0")
    'k \\geq 1 \\Rightarrow k > 0'
    """
    text = tex
    for form in TRUE_FORMS:
        text = text.replace(form, _TRUE_TOKEN + " ")
    if _TRUE_TOKEN not in text:
        return tex
    toks = tokens(text)
    changed = True
    while changed:
        changed = False
        for i, tok in enumerate(toks):
            if tok != _TRUE_TOKEN:
                continue
            before, b = _previous_significant(toks, i)
            after, a = _next_significant(toks, i)
            if before == r"\wedge" and after in _CONJUNCT_END:
                del toks[b:i + 1]
            elif after == r"\wedge" and before in _CONJUNCT_START:
                del toks[i:a + 1]
            elif after == r"\Rightarrow" and before in _CONJUNCT_START - {r"\wedge", r"\vee"}:
                del toks[i:a + 1]
            elif before == r"\Rightarrow" and after == "" and all(
                    depth > 0 or t not in (r"\iff", r"\Leftrightarrow", ",")
                    for depth, t in _levels(toks[:b])):
                toks = [_TRUE_TOKEN]
            else:
                continue
            changed = True
            break
    return " ".join("".join(toks).split()).replace(_TRUE_TOKEN, TRUE_FORMS[0])


def is_trivially_true(tex: str) -> bool:
    r"""The formula is ``\text{True}`` once its true conjuncts are dropped."""
    return drop_true_conjuncts(tex).strip() in TRUE_FORMS


_BIG_OPERATORS = frozenset({r"\sum", r"\prod"})


def breakable_display(tex: str) -> str:
    r"""A displayed formula as display-style math that TeX can break at more places.

    Besides what :func:`breakable_inline` does, a discretionary times sign ``\*`` (printed only
    when the line breaks there) goes before each outer ``\sum``/``\prod`` that follows a factor
    and before each outer factor that follows a subscript or superscript (``{w}_{o} {x}_{c}``);
    an outer ``\text{...}`` becomes one ``\text`` per word with break points between them.  The
    document uses this form only for a piece too wide to be set whole (see ``\csdisplay``).

    >>> breakable_display(r"\sum_{a=0}^{k} \sum_{b=0}^{k} {w}_{a} {x}_{b}")
    '\\sum_{a=0}^{k} \\*\\sum_{b=0}^{k} \\*{w}_{a} \\*{x}_{b}'
    """
    toks = tokens(breakable_inline(tex))
    out: list[str] = []
    depth = 0
    script_closed = False  # the last group closed at the outer level was a sub/superscript
    opened_script: list[bool] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        previous = _significant(out, len(out))
        if depth == 0 and tok == r"\text" and i + 1 < len(toks) and toks[i + 1] == "{":
            end = _closing_brace(toks, i + 1)
            if end > 0:
                words = "".join(toks[i + 2:end]).split(" ")
                pieces = [r"\text{" + w + (" " if n < len(words) - 1 else "") + "}"
                          for n, w in enumerate(words) if w or n == len(words) - 1]
                out.append(r"\allowbreak{}".join(pieces))
                i = end + 1
                script_closed = False
                continue
        if depth == 0 and tok in _BIG_OPERATORS and previous not in _NO_LEFT_OPERAND:
            out.append(r"\*")
        elif depth == 0 and tok == "{" and previous == "}" and script_closed:
            out.append(r"\*")
        if tok == "{":
            opened_script.append(previous in ("_", "^"))
            depth += 1
        elif tok == "}" and depth > 0:
            depth -= 1
            was_script = opened_script.pop()
            if depth == 0:
                script_closed = was_script
        elif not tok.isspace() and depth == 0:
            script_closed = False
        out.append(tok)
        i += 1
    return "".join(out)


def _closing_brace(toks: list[str], start: int) -> int:
    depth = 0
    for j in range(start, len(toks)):
        if toks[j] == "{":
            depth += 1
        elif toks[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return -1
