"""Statements generated from the objects a theorem checks.

Every theorem kind builds its :class:`~convsym.proof.verdict.Statement` with these helpers: the
quantifiers come from the symbols themselves (their assumptions give the number system: a size
is a positive integer, a position an integer, a scalar a real number), the hypotheses from the
theorem's conditions, the definitions from its ``Let`` objects, the claim from its two sides.
Nothing here is typed in by a proof script except the gloss, which is used as the claim only
when the two sides are builders (functions) that have no formula of their own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

import sympy
from sympy import IndexedBase, Symbol

from convsym.proof.verdict import Statement


def _key(s) -> tuple:
    return sympy.default_sort_key(s)


def math_list(symbols: Iterable) -> str:
    """``k_{1},\\allowbreak{} k_{2}``: LaTeX of the symbols, comma separated (a line may break after
    each comma), each name once."""
    names = list(dict.fromkeys(sympy.latex(s) for s in symbols))
    return r",\allowbreak{} ".join(names)


def text_list(symbols: Iterable) -> str:
    return ", ".join(dict.fromkeys(str(s) for s in symbols))


def _plural(items: Sequence, one: str, many: str) -> str:
    return one if len(items) == 1 else many


def sizes_quantifier(sizes: Sequence[Symbol]) -> tuple[str, str] | None:
    """``all integers $k_1, k_2 \\ge 1$`` (None when there is no size)."""
    if not sizes:
        return None
    word = _plural(sizes, "every integer", "all integers")
    return (f"{word} ${math_list(sizes)} \\ge 1$", f"{word} {text_list(sizes)} >= 1")


def positions_quantifier(positions: Sequence[Symbol]) -> tuple[str, str] | None:
    """``every integer position $i$`` (None when there is none)."""
    if not positions:
        return None
    word = _plural(positions, "every integer position", "all integer positions")
    return (f"{word} ${math_list(positions)}$", f"{word} {text_list(positions)}")


def integers_quantifiers(symbols: Sequence[Symbol]) -> list[tuple[str, str]]:
    """Integer symbols that are not sizes, grouped by declared sign: ``all integers $p, q \\ge 0$``,
    ``every integer $c$``."""
    groups: dict[tuple[str, str], list[Symbol]] = {}
    for q in sorted(symbols, key=_key):
        groups.setdefault(_sign(q), []).append(q)
    out = []
    for (tex_sign, text_sign), syms in groups.items():
        word = _plural(syms, "every integer", "all integers")
        out.append((f"{word} ${math_list(syms)}{tex_sign}$", f"{word} {text_list(syms)}{text_sign}"))
    return out


def _sign(s: Symbol) -> tuple[str, str]:
    if s.is_positive:
        return r" > 0", " > 0"
    if s.is_nonnegative:
        return r" \ge 0", " >= 0"
    if s.is_nonzero and s.is_real:
        return r" \ne 0", " != 0"
    return "", ""


def scalars_quantifiers(scalars: Sequence[Symbol]) -> list[tuple[str, str]]:
    """``all real numbers $b_1, b_2$`` (grouped by declared sign: ``real numbers $r > 0$``)."""
    groups: dict[tuple[str, str], list[Symbol]] = {}
    for s in sorted(scalars, key=_key):
        groups.setdefault(_sign(s), []).append(s)
    out = []
    for (tex_sign, text_sign), syms in groups.items():
        word = _plural(syms, "every real number", "all real numbers")
        out.append((f"{word} ${math_list(syms)}{tex_sign}$", f"{word} {text_list(syms)}{text_sign}"))
    return out


def signals_quantifier(signals: Sequence[IndexedBase]) -> tuple[str, str] | None:
    """``all real signals $x, w^{(1)}$ (indexed by integers, zero where they are not given)``."""
    if not signals:
        return None
    word = _plural(signals, "every real signal", "all real signals")
    names = sorted(signals, key=lambda b: str(b.label))
    return (f"{word} ${math_list(names)}$", f"{word} {text_list(n.label for n in names)}")


def signals_of(exprs: Iterable, lets: Sequence = ()) -> list[IndexedBase]:
    """The signals (``IndexedBase``) the sum expressions read, the ``Let``-defined ones excluded."""
    found: set = set()

    def visit(term) -> None:
        found.update(sympy.sympify(term.summand).atoms(IndexedBase))
        if term.inner is not None:
            for t in term.inner.terms:
                visit(t)

    for e in exprs:
        for t in e.terms:
            visit(t)
    for let in lets:
        for t in let.at(*let.parameters()).terms:
            visit(t)
    defined = {let.base for let in lets}
    return sorted((b for b in found if b not in defined), key=lambda b: str(b.label))


def scalars_of(exprs: Iterable, lets: Sequence = ()) -> list[Symbol]:
    """The real (non-integer) scalar symbols the sum expressions read (``b_1``, ``\\gamma``)."""
    from convsym.symbolic.sums import free_symbols

    out: set = set()
    bodies = list(exprs) + [let.at(*let.parameters()) for let in lets]
    for e in bodies:
        out |= {s for s in free_symbols(e)
                if isinstance(s, Symbol) and not isinstance(s, IndexedBase) and not s.is_integer}
    return sorted(out, key=_key)


def relation_text(h) -> str:
    """A SymPy relation in plain text with ``>=`` and ``<=`` (JSON; the terminal reads the LaTeX)."""
    return sympy.sstr(h)


# ---------------------------------------------------------------------------------------------
# sizes and inputs given by name (Identity, Refutation)

#: The book's names for the channel counts the exact families use.
CHANNEL_NAMES = {"ci": "C_{in}", "cm": "C_{mid}", "co": "C_{out}", "c": "C"}


def size_name_latex(name: str) -> str:
    """A size or input name as math: ``k1`` -> ``k_{1}``, ``ci`` -> ``C_{in}``, ``w2`` -> ``w_{2}``."""
    if name in CHANNEL_NAMES:
        return CHANNEL_NAMES[name]
    match = re.fullmatch(r"([A-Za-z]+?)_?(\d+)", name)
    if match:
        return f"{match[1]}_{{{match[2]}}}"
    if re.fullmatch(r"[A-Za-z]", name):
        return name
    match = re.fullmatch(r"([A-Za-z])_([A-Za-z0-9]+)", name)
    if match:
        return f"{match[1]}_{{{match[2]}}}"
    return name if name.isalpha() else r"\mathrm{" + name.replace("_", r"\_") + "}"


#: Input names spelled as Greek letters (BatchNorm's ``gamma``, ``beta``, ``mu``...).
GREEK = frozenset("alpha beta gamma delta epsilon lambda mu sigma rho tau theta phi".split())


def input_name_latex(name: str) -> str:
    """An input's name as the book writes it: ``w2`` -> ``w_{2}`` (the kernel of the second layer,
    as the notation writes it), ``gamma1`` -> ``\\gamma_{1}``, ``f`` -> ``f``, ``x`` -> ``x``."""
    match = re.fullmatch(r"([A-Za-z]+)_?(\d+)", name)
    if match:
        base = "\\" + match[1] if match[1] in GREEK else match[1]
        return f"{base}_{{{match[2]}}}"
    if name in GREEK:
        return "\\" + name
    return size_name_latex(name)


def _values_text(values: Sequence) -> str:
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values) and len(values) > 2 and \
            list(values) == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}..{values[-1]}"
    return "{" + ", ".join(map(str, values)) + "}"


def _values_latex(values: Sequence) -> str:
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values) and len(values) > 2 and \
            list(values) == list(range(values[0], values[-1] + 1)):
        return rf"\{{{values[0]}, \dots, {values[-1]}\}}"
    return r"\{" + ", ".join(map(str, values)) + r"\}"


def family_quantifiers(cases: Sequence[Mapping]) -> list[tuple[str, str]]:
    """The sizes of an exact family as quantifiers: ``every $k_1, k_2 \\in \\{1, \\dots, 5\\}$``
    when the family is a product of value sets, ``$k_1 = 3$`` for a size fixed in all cases,
    otherwise the number of instances and each size's values."""
    if not cases or not cases[0]:
        return []
    keys = list(cases[0])
    if any(list(c) != keys for c in cases):
        return [(f"the {len(cases)} size assignments listed under the exact checks",
                 f"the {len(cases)} size assignments listed")]
    values = {k: sorted({c[k] for c in cases}, key=lambda v: (str(type(v)), v)) for k in keys}
    # the cases are always some of the combinations of the values: all of them exactly when there
    # are as many distinct cases as combinations (the product is never built)
    product = len({tuple(c[k] for k in keys) for c in cases}) == math.prod(len(values[k]) for k in keys)
    fixed = [k for k in keys if len(values[k]) == 1]
    varying = [k for k in keys if len(values[k]) > 1]
    out = []
    if varying:
        groups: dict[str, list[str]] = {}
        for k in varying:
            groups.setdefault(_values_latex(values[k]), []).append(k)
        parts = [f"${', '.join(size_name_latex(k) for k in ks)} \\in {vals}$" for vals, ks in groups.items()]
        texts = [f"{', '.join(ks)} in {_values_text(values[ks[0]])}" for ks in groups.values()]
        head = "every size " if product else f"{len(cases)} size assignments with "
        out.append((head + ", ".join(parts), head + ", ".join(texts)))
    if fixed:
        out.append(("$" + ", ".join(f"{size_name_latex(k)} = {values[k][0]}" for k in fixed) + "$",
                    ", ".join(f"{k} = {values[k][0]}" for k in fixed)))
    return out


def _names(names: Sequence[str]) -> str:
    return r",\allowbreak{} ".join(dict.fromkeys(input_name_latex(n) for n in names))


def inputs_quantifier(shapes: Mapping[str, Sequence[int]] | None, names: Sequence[str]) -> tuple[str, str]:
    """``all real arrays $f, g$ of length 2`` (shapes known: one instance) or ``all real input
    arrays $x, w_1$, every entry a symbol``."""
    if shapes:
        by_shape: dict[tuple, list[str]] = {}
        for nm, shape in shapes.items():
            by_shape.setdefault(tuple(shape), []).append(nm)
        parts, texts = [], []
        for shape, nms in by_shape.items():
            kind = "vector" if len(shape) == 1 else "array"
            word = f"every real {kind}" if len(nms) == 1 else f"all real {kind}s"
            if len(shape) == 1:
                size, size_text = f"of length {shape[0]}", f"of length {shape[0]}"
            else:
                size = "of shape $" + r" \times ".join(map(str, shape)) + "$"
                size_text = "of shape " + "x".join(map(str, shape))
            parts.append(f"{word} ${_names(nms)}$ {size}")
            texts.append(f"{word} {', '.join(nms)} {size_text}")
        return ", ".join(parts), ", ".join(texts)
    math = _names(names)
    word = "every real input array" if len(names) == 1 else "all real input arrays"
    shapes_note = "of the shapes these sizes give"
    return f"{word} ${math}$ {shapes_note}", f"{word} {', '.join(names)} {shapes_note}"


def words_statement(quantifiers: Sequence[tuple[str, str]], gloss: str, lhs_name: str, rhs_name: str) -> Statement:
    """The statement of a claim whose two sides are builders: the quantifiers, and the claim told
    in words by the gloss (or, without a gloss, the builders' names)."""
    words = gloss.strip() or f"{lhs_name} equals {rhs_name}"
    return Statement(quantifiers=tuple(quantifiers), claim_words=words, claim_text=words)
