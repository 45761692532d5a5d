"""Exact polynomial identities for concrete sizes, and refutations by a concrete witness."""

from __future__ import annotations

import itertools
import math
import numbers
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction

import numpy as np
import sympy

from convsym.errors import ProofError
from convsym.proof import statement as S
from convsym.proof.sources import check_text
from convsym.proof.theorem import Theorem, mint, mint_witness
from convsym.proof.verdict import Statement, Verdict


def _fmt_sizes(sz: Mapping) -> str:
    return ", ".join(f"{k}={v}" for k, v in sz.items())


def _value_latex(v) -> str:
    """A size's value as math: ``3``, an upright word for anything else (``\\text{literal}``)."""
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    return r"\text{" + str(v).replace("_", r"\_") + "}"


def _sizes_latex(sz: Mapping) -> str:
    """``$k_{1} = 1$, $C_{in} = 2$``: sizes as the book writes them ("" for no sizes)."""
    if not sz:
        return ""
    return ", ".join(f"${S.size_name_latex(k)} = {_value_latex(v)}$" for k, v in sz.items())


def _in_order(values) -> list:
    """Numbers in increasing order, then anything else by its text."""
    def key(v):
        number = isinstance(v, int) and not isinstance(v, bool)
        return (not number, v if number else 0, repr(v))
    return sorted(values, key=key)


def _is_product(cases: Sequence[Mapping], keys: Sequence, values: Mapping[object, Sequence]) -> bool:
    """Whether the cases are every combination of the values of their sizes (``values[k]``: the
    distinct values of size ``k``): they are always some of them, so all of them exactly when
    there are as many distinct cases as combinations (the product is never built)."""
    return len({tuple(c[k] for k in keys) for c in cases}) == math.prod(len(values[k]) for k in keys)


def family_latex(cases: Sequence[Mapping]) -> str:
    """:func:`family_text` as the book writes it: ``every $k_{1} \\in \\{1, \\dots, 3\\}$ (9 instances)``."""
    if not cases:
        return "no instance"
    if len(cases) == 1:
        return _sizes_latex(cases[0]) or "no sizes"
    keys = list(cases[0])
    if any(list(c) != keys for c in cases):
        return f"{len(cases)} instances"
    values = {k: _in_order({c[k] for c in cases}) for k in keys}

    def vals(vs):
        if all(isinstance(v, int) and not isinstance(v, bool) for v in vs) and len(vs) > 2 and \
                vs == list(range(vs[0], vs[-1] + 1)):
            return rf"\{{{vs[0]}, \dots, {vs[-1]}\}}"
        return r"\{" + ", ".join(_value_latex(v) for v in vs) + r"\}"

    fixed = {k: values[k][0] for k in keys if len(values[k]) == 1}
    ranges = ", ".join(f"${S.size_name_latex(k)} \\in {vals(values[k])}$" for k in keys if len(values[k]) > 1)
    if _is_product(cases, keys, values):
        text = f"every {ranges} ({len(cases)} instances)"
    else:
        text = f"{len(cases)} instances with {ranges}"
    return text + (f"; {_sizes_latex(fixed)}" if fixed else "")


def family_text(cases: Sequence[Mapping]) -> str:
    """The family in words, generated from its cases: a product of value sets when it is one,
    otherwise the number of instances and the range of each size."""
    if not cases:
        return "no instance"
    if len(cases) == 1:
        return _fmt_sizes(cases[0])
    keys = list(cases[0])
    if any(list(c) != keys for c in cases):
        return f"{len(cases)} instances"
    values = {k: _in_order({c[k] for c in cases}) for k in keys}

    def vals(vs):
        if all(isinstance(v, int) and not isinstance(v, bool) for v in vs) and len(vs) > 2 and \
                vs == list(range(vs[0], vs[-1] + 1)):
            return f"{vs[0]}..{vs[-1]}"
        return "{" + ", ".join(map(str, vs)) + "}"

    fixed = ", ".join(f"{k}={values[k][0]}" for k in keys if len(values[k]) == 1)
    varying = [k for k in keys if len(values[k]) > 1]
    if _is_product(cases, keys, values):
        text = "every " + ", ".join(f"{k} in {vals(values[k])}" for k in varying)
        text += f" ({len(cases)} instances)"
    else:
        text = f"{len(cases)} instances with " + ", ".join(f"{k} in {vals(values[k])}" for k in varying)
    return text + (f"; {fixed}" if fixed else "")


def _text_equation(lhs: str, rhs: str) -> str:
    """``\\text{lhs} = \\text{rhs}`` with the characters LaTeX's text mode needs escaped (inline
    ``$...$`` math in a builder's docstring stays math)."""
    table = str.maketrans({"\\": r"\textbackslash{}", "_": r"\_", "{": r"\{", "}": r"\}", "#": r"\#",
                           "%": r"\%", "&": r"\&", "$": r"\$", "^": r"\^{}", "~": r"\~{}"})

    def side(t: str) -> str:
        parts = t.split("$")
        if len(parts) % 2 == 0:  # an unmatched $: all of it is text
            return rf"\text{{{t.translate(table)}}}"
        # the words as escaped text, the $...$ parts as the display's own math (no math nested in text)
        return "".join((rf"\text{{{p.translate(table)}}}" if p else "") if i % 2 == 0 else f"{{{p}}}"
                       for i, p in enumerate(parts))

    return f"{side(lhs)} = {side(rhs)}"


def _describe_fn(fn: Callable) -> str:
    doc = (fn.__doc__ or "").strip().splitlines()
    return doc[0].rstrip(".") if doc else getattr(fn, "__name__", "f").strip("_").replace("_", " ")


def _has_name(fn: Callable) -> bool:
    """Whether a builder says what it computes (a docstring, or a name that is not ``<lambda>``)."""
    return bool((fn.__doc__ or "").strip()) or getattr(fn, "__name__", "<lambda>") != "<lambda>"


def _builders_latex(lhs: Callable, rhs: Callable) -> str:
    """The equation of two builders by their names, or ``""`` when they have none (lambdas)."""
    return _text_equation(_describe_fn(lhs), _describe_fn(rhs)) if _has_name(lhs) and _has_name(rhs) else ""


def entry_latex(pool_name: str) -> str:
    """A pool variable ``w2_{0,1}`` as the book writes an entry: ``w_{2,0,1}`` (the layer's number
    first, as in the derivations), ``x_{0,1}`` for an array without a number."""
    import re

    match = re.fullmatch(r"(.+?)_\{(.*)\}", pool_name)
    if not match:
        return S.input_name_latex(pool_name)
    numbered = re.fullmatch(r"(.+)_\{(\d+)\}", S.input_name_latex(match[1]))
    if numbered:
        return f"{numbered[1]}_{{{numbered[2]},{match[2]}}}"
    return f"{{{S.input_name_latex(match[1])}}}_{{{match[2]}}}"


#: an input with at most this many entries is printed in full with a witness
FULL_ARRAY_ENTRIES = 16


def _array_latex(values, shape: Sequence[int]) -> str:
    """Nested brackets: ``[1, 0]``, ``[[1, 0], [0, 0]]``."""
    arr = np.asarray(values, dtype=object).reshape(shape)

    def rec(a) -> str:
        if not isinstance(a, np.ndarray):
            return _latex_number(a)
        return "[" + ", ".join(rec(e) for e in a) + "]"

    return rec(arr)


def _latex_number(v) -> str:
    if isinstance(v, Fraction):
        return sympy.latex(sympy.Rational(v.numerator, v.denominator))
    return sympy.latex(sympy.sympify(v))


def witness_arrays(inputs: Mapping[str, Mapping]) -> tuple[tuple[str, str, str], ...]:
    """The inputs of a witness in full when they are small: ``(name, shape, values)`` in LaTeX;
    ``inputs[name]`` is ``{"shape": [...], "nonzero": [[index, value], ...]}``."""
    out = []
    for nm, spec in inputs.items():
        shape = tuple(int(d) for d in spec["shape"])
        count = int(np.prod(shape))
        if count > FULL_ARRAY_ENTRIES:
            continue
        full = np.zeros(shape, dtype=object)
        for index, value in spec["nonzero"]:
            full[tuple(index)] = value
        out.append((S.input_name_latex(nm), r" \times ".join(map(str, shape)), _array_latex(full.flat, shape)))
    return tuple(out)


def statement_coordinates(name: str, coordinates: Callable[..., Mapping[str, int]], where: Sequence[int],
                          sizes: Mapping) -> dict[str, int]:
    """``coordinates(where, **sizes)`` checked: a nonempty ``{index name: int}``."""
    coords = dict(coordinates(tuple(int(q) for q in where), **sizes))
    if not coords or not all(isinstance(k, str) for k in coords):
        raise ProofError(f"Theorem {name}: coordinates({tuple(where)}) gave {coords!r}, not a nonempty "
                         "{index name: value} mapping", rule="witness")
    out = {}
    for k, v in coords.items():
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise ProofError(f"Theorem {name}: coordinates({tuple(where)}) gives {k} = {v!r}, not an integer",
                             rule="witness")
        out[k] = int(v)
    return out


def _index_name_latex(name: str) -> str:
    """An index name as math: ``t`` -> ``t``, ``j_h`` -> ``j_{h}``; a name in LaTeX already
    (``\\phi_h``) stays as it is."""
    return S.size_name_latex(name) if re.fullmatch(r"[A-Za-z0-9_]+", name) else name


def where_text(coords: Mapping[str, int] | None, where: Sequence[int]) -> tuple[str, str]:
    """An output entry as ``(LaTeX, words)``: by the statement's index values ``coords`` when
    there are any (``t = -1``), else by its array index counted from 0."""
    if coords:
        tex = ", ".join(f"{_index_name_latex(k)} = {int(v)}" for k, v in coords.items())
        return tex, f"${tex}$"
    index = ", ".join(map(str, where))
    return rf"\text{{output entry }} ({index})", f"the output entry with array index $({index})$ (counted from 0)"


class Identity(Theorem):
    """An exact polynomial identity ``lhs == rhs`` for concrete sizes, every input entry a symbol.

    ``inputs(**sizes)`` gives ``{name: shape}``; ``lhs(T, **sizes)`` and ``rhs(T, **sizes)`` build
    the two sides from the input tensors ``T`` with :mod:`convsym.exact.ops` (they run unchanged on the
    exact :class:`~convsym.exact.poly.PolyTensor` and on the mod-p twin of the Schwartz-Zippel
    pre-check).  ``family`` lists the size assignments, smallest first.  The verdict is ``proved``
    when every instance is an identity (strength ``exact-family`` for several instances,
    ``exact-instance`` for one), ``refuted`` at the first instance that is not, with an exact
    witness: the inputs of one differing monomial set to small integers, every other input entry
    zero, both sides re-evaluated exactly.  The sizes are described from the family itself.
    """

    def __init__(
        self,
        name: str,
        title: str,
        gloss: str = "",
        *,
        inputs: Callable[..., Mapping[str, Sequence[int]]],
        lhs: Callable[..., object],
        rhs: Callable[..., object],
        family: Sequence[Mapping[str, int]],
        witness_check: str | Callable = "",
        coordinates: Callable[..., Mapping[str, int]] | None = None,
        **kw,
    ) -> None:
        super().__init__(name, title, gloss, **kw)
        if coordinates is not None and not callable(coordinates):
            raise TypeError(f"Theorem {name}: coordinates must be a function (entry, **sizes) -> {{index: value}}")
        self.coordinates = coordinates
        if not family:
            raise ValueError(f"Theorem {name}: family must list at least one size assignment")
        self.inputs, self.lhs_fn, self.rhs_fn = inputs, lhs, rhs
        self.cases = tuple(dict(f) for f in family)  # self.family is the family *name* (Theorem)
        self.witness_check = witness_check

    def sizes(self) -> str:
        return family_text(self.cases)

    def statement_text(self) -> str:
        return (f"for {family_text(self.cases)}: {_describe_fn(self.lhs_fn)} = {_describe_fn(self.rhs_fn)}, "
                "as exact polynomials in every input entry")

    def statement_parts(self) -> Statement:
        """The family's sizes and the inputs as quantifiers; the claim in words (the gloss: the two
        sides are builders, which have no formula), or the builders' names."""
        quantifiers = S.family_quantifiers(self.cases)
        if len(self.cases) == 1:
            shapes = {k: tuple(int(d) for d in v) for k, v in self.inputs(**self.cases[0]).items()}
            quantifiers.append(S.inputs_quantifier(shapes, list(shapes)))
        else:
            quantifiers.append(S.inputs_quantifier(None, list(self.inputs(**self.cases[0]))))
        return S.words_statement(quantifiers, self.gloss, _describe_fn(self.lhs_fn), _describe_fn(self.rhs_fn))

    def statement_coordinates(self, where: Sequence[int], sz: Mapping) -> dict[str, int] | None:
        """The statement's index values of the output entry with array index ``where``
        (``coordinates``), or None when the statement indexes the output as the array does."""
        return None if self.coordinates is None else statement_coordinates(self.name, self.coordinates, where, sz)

    def _where(self, where: tuple, sz: Mapping) -> tuple[str, str]:
        """The differing output entry in the statement's coordinates when the theorem gives them
        (``coordinates``), else as the output's array index counted from 0: ``(LaTeX, words)``."""
        return where_text(self.statement_coordinates(where, sz), where)

    def _witness(self, sz, pool, owners, lhs, rhs, diff):
        ids = [pool.id(n) for n in diff.monomial]
        where = tuple(diff.index)
        for value in (1, 2, 3, -1, 5, 7):
            assignment = {i: value for i in ids}
            lv = lhs.evaluate(assignment)[where]
            rv = rhs.evaluate(assignment)[where]
            if lv != rv:
                break
        else:  # pragma: no cover - a nonzero polynomial vanishing at all of these is not possible here
            raise ProofError(f"no small witness found for the difference {diff}")
        data: dict = {"sizes": dict(sz), "inputs": {}, "entry": list(where), "lhs": str(lv), "rhs": str(rv)}
        coords = self.statement_coordinates(where, sz)
        if coords is not None:
            data["coordinates"] = coords
        for nm, (start, shape) in owners.items():
            count = int(np.prod(shape))
            nonzero = []
            for vid in sorted(set(ids)):
                if start <= vid < start + count:
                    nonzero.append([[int(q) for q in np.unravel_index(vid - start, shape)], value])
            data["inputs"][nm] = {"shape": list(shape), "nonzero": nonzero}
        rows = tuple((entry_latex(pool.name(v)), str(value)) for v in sorted(set(ids)))
        where_tex, where_words = self._where(where, sz)
        sizes = tuple((S.size_name_latex(k), str(v)) for k, v in sz.items())
        at = ("at the sizes $" + ", ".join(f"{k} = {v}" for k, v in sizes) + "$, ") if sizes else ""
        product = r"\, ".join(entry_latex(n) for n in diff.monomial) or "1"
        entries = "these entries" if len(set(ids)) > 1 else "this entry"
        return mint_witness(
            description=(f"{at[:1].upper() + at[1:] if at else ''}{'w' if at else 'W'}ith the inputs below, "
                         f"the two sides differ at {where_words}: the left side is {lv}, the right side {rv}"),
            assignment=rows, where=where_tex, lhs=str(lv), rhs=str(rv), data=data, sizes=sizes,
            arrays=witness_arrays(data["inputs"]),
            reason=(f"As polynomials in the input entries the two sides differ in the term ${product}$ "
                    f"(coefficient {diff.lhs} on the left, {diff.rhs} on the right), so setting {entries} to "
                    f"{value} and every other entry to 0 separates them"),
        )

    def _refuted(self, sz, shapes, check, statement: dict, done: list) -> dict:
        owners, start = {}, 0
        for nm, shape in shapes.items():
            owners[nm] = (start, shape)
            start += int(np.prod(shape))
        witness = self._witness(sz, check.pool, owners, _Side(check, "lhs"), _Side(check, "rhs"),
                                check.difference)
        step = mint("exact polynomials", f"at {_sizes_latex(sz)} the two sides differ" if sz else
                    "the two sides differ", rf"{witness.lhs} \ne "
                    rf"{witness.rhs}", "exact-instance", checked_by=(witness.description,))
        return {**statement, "verdict": "refuted", "witness": witness,
                "instances": tuple(_instance_line(*d) for d in done),
                "steps": (step,), "sizes": _fmt_sizes(sz)}

    def _run(self) -> dict:
        from convsym.exact import blockwise

        done: list[tuple[Mapping, int]] = []  # per proved instance: its sizes, the most terms of an entry
        statement = {"statement_text": self.statement_text(),
                     # the builders' names when they have them (no formula: the statement is in words)
                     "statement_latex": _builders_latex(self.lhs_fn, self.rhs_fn),
                     "statement_parts": self.statement_parts()}

        def alone(sz: Mapping, shapes: Mapping, traced=None) -> dict | None:
            """Check one instance by blocks (memory bounded by a block); the refuted result, if it is."""
            try:
                if traced is not None:
                    check = blockwise.compare_traced(traced, shapes, precheck="auto", trials=2)
                else:
                    check = blockwise.compare_blockwise(lambda T: self.lhs_fn(T, **sz),
                                                        lambda T: self.rhs_fn(T, **sz), shapes, precheck="auto",
                                                        trials=2)
            except ValueError as exc:
                if "compare_blockwise: lhs has shape" in str(exc):
                    raise ProofError(f"at {_fmt_sizes(sz)} {str(exc).split(': ', 1)[1]}") from None
                raise
            if int(np.prod(check.shape)) == 0:
                raise ProofError(f"at {_fmt_sizes(sz)} both sides are empty: an empty instance proves nothing",
                                 rule="instance")
            if check.equal and check.zippel is not None and not check.zippel.equal:
                raise ProofError(f"at {_fmt_sizes(sz)} the random pre-check saw a difference the exact check did not")
            if not check.equal:
                return self._refuted(sz, shapes, check, statement, done)
            done.append((sz, check.terms_per_entry.max))
            return None

        # First every instance is traced, in the family's order, and the small ones are checked in
        # batches of one structure (blockwise.compare_batch: the same exact comparison, its NumPy
        # calls made once for the batch instead of once per instance).  Then the instances are
        # settled in the family's order: a batched identity is recorded; an instance that is large,
        # runs the pre-check, or is the first of its batch whose sides differ is checked alone by
        # blocks, so a refutation is always compare_blockwise's report on its instance; an instance
        # that could not be traced raises its error there, after the instances before it.
        shapes_of: list[dict] = []
        status: list = []  # per instance: ("equal", most), "alone", "differs" or "unsettled"
        failure: tuple[int, Exception] | None = None
        buckets: dict[tuple, tuple[list[int], list, int]] = {}
        kept: dict[int, object] = {}  # traces of instances checked alone, by index
        kept_bytes = 0

        def run(bucket: tuple[list[int], list, int]) -> None:
            indices, pairs, _ = bucket
            try:
                outcome = blockwise.compare_batch(pairs)
            except Exception:  # left unsettled: each is checked alone at its turn, raising there
                return
            for i, most in zip(indices, outcome.most, strict=False):
                status[i] = ("equal", most)
            if outcome.first_unequal is not None:
                status[indices[outcome.first_unequal]] = "differs"

        for i, sz in enumerate(self.cases):
            try:
                shapes = {k: tuple(int(d) for d in v) for k, v in self.inputs(**sz).items()}
                for nm, shape in shapes.items():
                    if any(d < 1 for d in shape):
                        raise ProofError(f"at {_fmt_sizes(sz)} the input {nm} has shape {shape}: an empty "
                                         "instance proves nothing", rule="instance")
                traced = blockwise.trace_pair(lambda T, sz=sz: self.lhs_fn(T, **sz),
                                              lambda T, sz=sz: self.rhs_fn(T, **sz), shapes)
            except Exception as exc:  # raised (or turned into a ProofError) when its turn comes
                failure = (i, exc)
                break
            shapes_of.append(shapes)
            cost = blockwise.batch_cost(traced)
            if (int(np.prod(traced.lhs.shape)) == 0 or blockwise.precheck_runs(traced, "auto", trials=2)
                    or cost > blockwise.BATCH_TERMS):
                # its trace is kept for its turn while the traces kept stay small (else traced again)
                size = blockwise.trace_bytes(traced)
                if kept_bytes + size <= blockwise.KEPT_TRACE_BYTES:
                    kept[i] = traced
                    kept_bytes += size
                status.append("alone")
                continue
            status.append("unsettled")
            signature = blockwise.graph_signature(traced)
            indices, pairs, total = buckets.get(signature, ([], [], 0))
            if pairs and total + cost > blockwise.BATCH_TERMS:
                run((indices, pairs, total))
                indices, pairs, total = [], [], 0
            indices.append(i)
            pairs.append(traced)
            buckets[signature] = (indices, pairs, total + cost)
        for bucket in buckets.values():
            run(bucket)
        buckets.clear()

        for i, sz in enumerate(self.cases):
            if failure is not None and i == failure[0]:
                exc = failure[1]
                if isinstance(exc, ValueError) and "compare_blockwise: lhs has shape" in str(exc):
                    raise ProofError(f"at {_fmt_sizes(sz)} {str(exc).split(': ', 1)[1]}") from None
                raise exc
            state = status[i]
            if isinstance(state, tuple):
                done.append((sz, state[1]))
                continue
            refuted = alone(sz, shapes_of[i], kept.pop(i, None))
            if refuted is not None:
                return refuted
            if state == "differs":
                raise ProofError(f"at {_fmt_sizes(sz)} the batched exact check saw a difference the check by "
                                 "blocks did not")
        evidence = "exact-family" if len(self.cases) > 1 else "exact-instance"
        step = mint("exact polynomials", "both sides built from symbolic inputs and compared coefficient by "
                    "coefficient", statement["statement_latex"] or r"\text{left side} = \text{right side}",
                    evidence,
                    checked_by=(family_latex(self.cases) if len(self.cases) > 1 else
                                f"one instance: {family_latex(self.cases)}" if self.cases[0] else "one instance",))
        # the record keeps the first three and the last two instances (only those are written out)
        if len(done) > 6:
            lines = ([_instance_line(*d) for d in done[:3]] + [f"... {len(done) - 5} more instances, all identical ..."]
                     + [_instance_line(*d) for d in done[-2:]])
        else:
            lines = [_instance_line(*d) for d in done]
        return {**statement, "verdict": "proved", "instances": tuple(lines), "steps": (step,)}

    def check_source_for(self, verdict: Verdict) -> str:
        """The emitted numeric check: ``check_source``, plus the witness re-test for a refutation."""
        return with_witness_test(self.name, self.check_source, verdict, self.witness_check)


def _instance_line(sz: Mapping, most: int) -> str:
    """One proved instance for the record: its sizes and the most terms of an entry."""
    many = "monomial" if most == 1 else "monomials"
    return f"{_sizes_latex(sz) or 'the one instance'}: identical polynomials ({most} {many} per entry at most)"


class _Side:
    """One side of a blockwise comparison, evaluated at an assignment and an output entry."""

    def __init__(self, check, side: str) -> None:
        self.check, self.side = check, side

    def evaluate(self, values):
        check, side = self.check, self.side

        class _At:
            def __getitem__(self, where):
                return check.evaluate(side, values, where)

        return _At()


def with_witness_test(name: str, source: str, verdict: Verdict, witness_check: str | Callable) -> str:
    """``source`` plus a test that rebuilds a refutation's witness from its data and re-checks it.

    ``witness_check`` is the test's body (text, with ``witness`` bound to the witness data) or a
    function of the witness: the test then calls it by name, so the function itself must be
    emitted by a ``check_source`` of the same family.
    """
    if verdict.witness is None or not witness_check:
        return source
    if callable(witness_check):
        check_text(name, witness_check)  # a named, readable function (raises TypeError otherwise)
        witness_check = f"{witness_check.__name__}(witness)"
    fn = "test_witness_" + name.split(".", 1)[1].replace("-", "_")
    body = textwrap.indent(textwrap.dedent(witness_check).strip("\n"), "    ")
    return source + f"\n\ndef {fn}():\n    witness = {verdict.witness.data!r}\n{body}\n"


class Refutation(Theorem):
    """A claim ``lhs(**inputs) == rhs(**inputs)`` refuted at one concrete, exact input.

    ``lhs`` and ``rhs`` are functions of keyword inputs that compute each side exactly
    (Python ints, :class:`~fractions.Fraction`, or NumPy object arrays of them, e.g. with
    :mod:`convsym.reference`); ``witness`` is the input.  The kernel evaluates both sides itself,
    refuses floating-point values, and reports ``refuted`` (strength ``exact-instance``) when they
    differ; ``failed`` when they agree (the witness does not separate them).
    """

    def __init__(self, name: str, title: str, gloss: str = "", *, lhs: Callable[..., object],
                 rhs: Callable[..., object], witness: Mapping[str, object], where: str = "",
                 describe: str = "", witness_check: str | Callable = "", data: Mapping | None = None,
                 coordinates: Callable[..., Mapping[str, int]] | None = None, **kw) -> None:
        kw.setdefault("expected", "refuted")
        super().__init__(name, title, gloss, **kw)
        if coordinates is not None and not callable(coordinates):
            raise TypeError(f"Theorem {name}: coordinates must be a function (entry, **inputs) -> {{index: value}}")
        self.lhs_fn, self.rhs_fn, self.witness_inputs = lhs, rhs, dict(witness)
        self.where, self.describe, self.witness_check = where, describe, witness_check
        self.coordinates = coordinates
        self.data = dict(data or {})

    def _first_difference(self, left, right) -> tuple[str, str, dict, tuple[str, str] | None]:
        """Where two array sides differ, as ``(LaTeX, words, data, (left, right) there)``: the first
        differing entry (in the statement's coordinates when the theorem gives them), or the two
        shapes when they differ (no entry); ``("", "", {}, None)`` when a side is not an array."""
        if not (isinstance(left, np.ndarray) and isinstance(right, np.ndarray)):
            return "", "", {}, None
        if left.shape != right.shape:
            words = (f"the two sides have different shapes, ${_shape_latex(left)}$ on the left and "
                     f"${_shape_latex(right)}$ on the right")
            return "", words, {}, None
        for where in itertools.product(*(range(d) for d in left.shape)):
            if _exact_value(left[where]) != _exact_value(right[where]):
                break
        else:  # pragma: no cover - the caller has seen the sides differ
            return "", "", {}, None
        sizes = {k: v for k, v in self.witness_inputs.items() if isinstance(v, int) and not isinstance(v, bool)}
        coords = (None if self.coordinates is None else
                  statement_coordinates(self.name, self.coordinates, where, sizes))
        tex, words = where_text(coords, where)
        at_left, at_right = _show(_exact_value(left[where])), _show(_exact_value(right[where]))
        words = f"the two sides differ at {words}: the left side is {at_left}, the right side {at_right}"
        data = {"entry": list(where), **({"coordinates": coords} if coords else {})}
        return tex, words, data, (at_left, at_right)

    def sizes(self) -> str:
        shown = ", ".join(f"{k} = {_show(_exact_or_raw(v))}" for k, v in self.witness_inputs.items())
        return f"one exact input: {shown}" if shown else "one exact input"

    def _run(self) -> dict:
        lv, rv = _exact_value(self.lhs_fn(**self.witness_inputs)), _exact_value(self.rhs_fn(**self.witness_inputs))
        text = f"{_describe_fn(self.lhs_fn)} = {_describe_fn(self.rhs_fn)}"
        statement = {"statement_text": text, "statement_latex": _builders_latex(self.lhs_fn, self.rhs_fn),
                     "statement_parts": S.words_statement((), self.gloss, _describe_fn(self.lhs_fn),
                                                          _describe_fn(self.rhs_fn))}
        if lv == rv:
            raise ProofError(f"the witness does not separate the two sides: both are {_show(lv)}", rule="witness")
        inputs = {k: _jsonable(v) for k, v in self.witness_inputs.items()}
        where_tex, where_words, where_data, there = self._first_difference(self.lhs_fn(**self.witness_inputs),
                                                                           self.rhs_fn(**self.witness_inputs))
        default = (f"With the inputs below, {where_words}" if where_words else
                   "With the inputs below, the two sides differ")
        witness = mint_witness(
            description=self.describe or default,
            assignment=tuple((S.input_name_latex(k), _show(v)) for k, v in self.witness_inputs.items()),
            # the two values at the differing entry when there is one, else the whole sides
            where=self.where or where_tex or r"\text{the output}", lhs=there[0] if there else _show(lv),
            rhs=there[1] if there else _show(rv),
            data={"inputs": inputs, "lhs": _jsonable(lv), "rhs": _jsonable(rv), **where_data, **self.data},
            # the inputs are given whole: each is printed in full
            arrays=tuple((S.input_name_latex(k), _shape_latex(v), _latex_value(v))
                         for k, v in self.witness_inputs.items()),
        )
        step = mint("exact evaluation", "both sides evaluated exactly at the witness input",
                    rf"{_latex(lv)} \ne {_latex(rv)}", "exact-instance", checked_by=("exact rational arithmetic",))
        return {**statement, "verdict": "refuted", "witness": witness, "steps": (step,)}

    def check_source_for(self, verdict: Verdict) -> str:
        return with_witness_test(self.name, self.check_source, verdict, self.witness_check)


def _shape_latex(v) -> str:
    """``2 \\times 3`` for an array, ``1`` for a number (a scalar input)."""
    shape = getattr(v, "shape", None)
    if shape is None and isinstance(v, tuple | list):
        shape = (len(v),)
    return r" \times ".join(map(str, shape)) if shape else "1"


def _latex_value(v) -> str:
    """An input's value as LaTeX: a number, or nested brackets for an array."""
    if isinstance(v, np.ndarray):
        return _array_latex(v.flat, v.shape)
    if isinstance(v, tuple | list):
        return "[" + ", ".join(_latex_value(e) for e in v) + "]"
    try:
        return _latex_number(_exact_value(v))
    except ProofError:
        return r"\text{" + str(v).replace("_", r"\_") + "}"


def _exact_or_raw(v):
    try:
        return _exact_value(v)
    except ProofError:
        return v


def _exact_value(v):
    if isinstance(v, np.ndarray):
        if v.dtype != object:
            raise ProofError(f"a side evaluated to a {v.dtype} array; exact evaluation needs object arrays of "
                             "ints or Fractions", rule="exact evaluation")
        for entry in v.flat:
            _exact_value(entry)
        return tuple(_exact_value(e) for e in v.flat), v.shape
    if isinstance(v, bool) or isinstance(v, float | complex):
        raise ProofError(f"a side evaluated to the float {v!r}; exact evaluation needs ints or Fractions",
                         rule="exact evaluation")
    if isinstance(v, int | Fraction):
        return Fraction(v)
    if isinstance(v, sympy.Rational):
        return Fraction(int(v.p), int(v.q))
    if isinstance(v, tuple | list):
        return tuple(_exact_value(e) for e in v)
    raise ProofError(f"a side evaluated to {type(v).__name__}; exact evaluation needs ints or Fractions",
                     rule="exact evaluation")


def _show(v) -> str:
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], tuple) and isinstance(v[0], tuple):
        return "[" + ", ".join(_show(e) for e in v[0]) + "]"
    if isinstance(v, np.ndarray):
        return "[" + ", ".join(_show(e) for e in v.flat) + "]"
    if isinstance(v, tuple | list):
        return "(" + ", ".join(_show(e) for e in v) + ")"
    return str(v)


def _latex(v) -> str:
    if isinstance(v, Fraction):
        return sympy.latex(sympy.Rational(v.numerator, v.denominator))
    return r"\text{" + _show(v) + "}"


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return {"shape": list(v.shape), "values": [_jsonable(e) for e in v.flat]}
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], tuple) and isinstance(v[0], tuple):
        return {"shape": list(v[1]), "values": [_jsonable(e) for e in v[0]]}
    if isinstance(v, Fraction):
        return str(v) if v.denominator != 1 else v.numerator
    if isinstance(v, tuple | list):
        return [_jsonable(e) for e in v]
    return v
