r"""The bottom of the LaTeX renderers: escaping prose, splitting it into prose and math, checking
the braces of math, and the typographic quotes of prose.

:mod:`convsym.render.breaking` and :mod:`convsym.render.prose` build on this module and
:mod:`convsym.render.latex` on all three; this module imports none of them, so the renderers
form a chain without cycles: ``tex`` <- ``breaking`` <- ``prose`` <- ``latex``.
"""

from __future__ import annotations

import re
from typing import Any

from convsym.errors import RenderError

# One character at a time, so that the backslash of an escape is never escaped again.
_PROSE_ESCAPES = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
    # in the OT1 text encoding these three glyph slots hold other characters (< prints as ¡)
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}


def escape_text(text: str) -> str:
    r"""Escape every LaTeX special character of ``text`` (``& % $ # _ { } ~ ^ \`` and ``< > |``)."""
    return "".join(_PROSE_ESCAPES.get(ch, ch) for ch in text)


def segments(text: Any, op: str) -> list[tuple[bool, str]]:
    """``text`` split into (is_math, part) on ``$``; a last unpaired ``$`` stays prose."""
    if not isinstance(text, str):
        raise RenderError(f"{op}: expected prose as str, got {type(text).__name__}: {text!r}")
    parts = text.split("$")
    if len(parts) % 2 == 0:
        # an odd number of dollars: the unpaired last one is a literal dollar sign
        parts[-2:] = [parts[-2] + "$" + parts[-1]]
    segments = [(i % 2 == 1, part) for i, part in enumerate(parts)]
    for is_math, part in segments:
        if is_math:
            check_braces(part, op)
    return segments


def escape(text: Any, math: bool = True) -> str:
    r"""Make prose safe for LaTeX, keeping ``$...$`` inline math intact.

    The text is split on ``$``: the parts outside a pair of dollars are escaped, the parts
    inside are passed through as math.  A last ``$`` without a partner is escaped as text
    (``"costs $5"`` stays prose).  With ``math=False`` every character is escaped, which is what
    arbitrary messages (error texts) need.

    >>> escape("k_1 and $k_1$ & 50%")
    'k\\_1 and $k_1$ \\& 50\\%'
    """
    if not math:
        if not isinstance(text, str):
            raise RenderError(
                f"escape: expected prose as str, got {type(text).__name__}: {text!r}"
            )
        return escape_text(text)
    return "".join(
        f"${part}$" if is_math else quotes(escape_text(part)) for is_math, part in segments(text, "escape")
    )


def bookmark(text: Any) -> str:
    r"""Prose for a heading that also becomes a PDF bookmark.

    Like :func:`escape`, but each ``$...$`` becomes ``\texorpdfstring{$...$}{...}`` whose PDF
    text is the math source without backslashes and braces (a bookmark cannot hold math).
    """
    out = []
    for is_math, part in segments(text, "bookmark"):
        if not is_math:
            out.append(quotes(escape_text(part)))
            continue
        plain = re.sub(r"\\([A-Za-z]+)", r" \1 ", part).replace("\\", " ")
        plain = " ".join(plain.replace("{", "").replace("}", "").split())
        out.append(f"\\texorpdfstring{{${part}$}}{{{escape_text(plain)}}}")
    return "".join(out)


def tex(value: Any) -> str:
    """Pass LaTeX math through unchanged.

    Strings are taken as LaTeX already; integers and SymPy objects are printed with
    ``sympy.latex``.  The braces of the result must balance (``\\{`` and ``\\}`` do not count),
    because an unbalanced brace breaks the whole document far from its cause.
    """
    if isinstance(value, bool):
        raise RenderError(f"tex: expected LaTeX math, got a bool: {value!r}")
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int):
        text = str(value)
    else:
        import sympy

        if not isinstance(value, sympy.Basic):
            raise RenderError(
                f"tex: expected LaTeX math as str, int or sympy object, "
                f"got {type(value).__name__}: {value!r}"
            )
        text = sympy.latex(value)
    check_braces(text, "tex")
    return text


def check_braces(text: str, op: str) -> None:
    depth = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2  # \{ \} \\ are not grouping braces
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                break
        i += 1
    if depth != 0:
        raise RenderError(f"{op}: unbalanced braces in LaTeX {text!r}")


# a straight quote that opens: at the start, or after a space or an opening bracket
_OPENING_DOUBLE = re.compile(r'(^|(?<=[\s(\[{]))"')
_OPENING_SINGLE = re.compile(r"(^|(?<=[\s(\[{]))'(?=\S)")


def quotes(escaped: str) -> str:
    r"""Typographic quotes in escaped prose: an opening ``"`` becomes ``\`\```, any other
    ``"`` becomes ``''``, and an opening ``'`` becomes ```` ` ```` (an apostrophe stays).

    >>> quotes("the 'big' conv and \"this\" one's")
    "the `big' conv and ``this'' one's"
    """
    text = _OPENING_DOUBLE.sub("``", escaped)
    text = text.replace('"', "''")
    return _OPENING_SINGLE.sub("`", text)
