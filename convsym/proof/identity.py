"""Exact polynomial identities for concrete sizes, and refutations by a concrete witness."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction

import numpy as np
import sympy

from convsym.errors import ProofError
from convsym.proof.sources import check_text
from convsym.proof.theorem import Theorem, mint, mint_witness
from convsym.proof.verdict import Verdict


def _fmt_sizes(sz: Mapping) -> str:
    return ", ".join(f"{k}={v}" for k, v in sz.items())


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
    values = {k: sorted({c[k] for c in cases}, key=repr) for k in keys}
    product = {tuple(c[k] for k in keys) for c in cases}
    full = set(itertools.product(*(values[k] for k in keys)))

    def vals(vs):
        if all(isinstance(v, int) and not isinstance(v, bool) for v in vs) and len(vs) > 2 and \
                vs == list(range(vs[0], vs[-1] + 1)):
            return f"{vs[0]}..{vs[-1]}"
        return "{" + ", ".join(map(str, vs)) + "}"

    fixed = ", ".join(f"{k}={values[k][0]}" for k in keys if len(values[k]) == 1)
    varying = [k for k in keys if len(values[k]) > 1]
    if product == full:
        text = "every " + ", ".join(f"{k} in {vals(values[k])}" for k in varying)
        text += f" ({len(cases)} instances)"
    else:
        text = f"{len(cases)} instances with " + ", ".join(f"{k} in {vals(values[k])}" for k in varying)
    return text + (f"; {fixed}" if fixed else "")


def _text_equation(lhs: str, rhs: str) -> str:
    """``\\text{lhs} = \\text{rhs}`` with the characters LaTeX's text mode needs escaped."""
    table = str.maketrans({"\\": r"\textbackslash{}", "_": r"\_", "{": r"\{", "}": r"\}", "#": r"\#",
                           "%": r"\%", "&": r"\&", "$": r"\$", "^": r"\^{}", "~": r"\~{}"})

    def esc(t: str) -> str:
        return t.translate(table)

    return rf"\text{{{esc(lhs)}}} = \text{{{esc(rhs)}}}"


def _describe_fn(fn: Callable) -> str:
    doc = (fn.__doc__ or "").strip().splitlines()
    return doc[0].rstrip(".") if doc else getattr(fn, "__name__", "f").strip("_").replace("_", " ")


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
        **kw,
    ) -> None:
        super().__init__(name, title, gloss, **kw)
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
        for nm, (start, shape) in owners.items():
            count = int(np.prod(shape))
            nonzero = []
            for vid in sorted(set(ids)):
                if start <= vid < start + count:
                    nonzero.append([[int(q) for q in np.unravel_index(vid - start, shape)], value])
            data["inputs"][nm] = {"shape": list(shape), "nonzero": nonzero}
        rows = tuple((sympy.latex(sympy.Symbol(pool.name(v))), str(value)) for v in sorted(set(ids)))
        return mint_witness(
            description=(
                f"at sizes {_fmt_sizes(sz)}: the inputs listed are {value}, every other input entry is 0; "
                f"the two sides differ at entry {where} (monomial {'*'.join(diff.monomial) or '1'}: "
                f"coefficient {diff.lhs} on the left, {diff.rhs} on the right)"
            ),
            assignment=rows, where=str(where), lhs=str(lv), rhs=str(rv), data=data,
        )

    def _run(self) -> dict:
        from convsym.exact.blockwise import compare_blockwise

        done = []
        statement = {"statement_text": self.statement_text(),
                     # the display holds the equation only; the family is the sizes line
                     "statement_latex": _text_equation(_describe_fn(self.lhs_fn), _describe_fn(self.rhs_fn))}
        for sz in self.cases:
            shapes = {k: tuple(int(d) for d in v) for k, v in self.inputs(**sz).items()}
            for nm, shape in shapes.items():
                if any(d < 1 for d in shape):
                    raise ProofError(f"at {_fmt_sizes(sz)} the input {nm} has shape {shape}: an empty instance "
                                     "proves nothing", rule="instance")
            try:
                # block by block (memory bounded by a block), the same first difference as the whole tensors
                check = compare_blockwise(lambda T, sz=sz: self.lhs_fn(T, **sz),
                                          lambda T, sz=sz: self.rhs_fn(T, **sz), shapes, precheck="auto", trials=2)
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
                owners, start = {}, 0
                for nm, shape in shapes.items():
                    owners[nm] = (start, shape)
                    start += int(np.prod(shape))
                witness = self._witness(sz, check.pool, owners, _Side(check, "lhs"), _Side(check, "rhs"),
                                        check.difference)
                step = mint("exact polynomials", f"at {_fmt_sizes(sz)} the two sides differ", rf"{witness.lhs} \ne "
                            rf"{witness.rhs}", "exact-instance", checked_by=(witness.description,))
                return {**statement, "verdict": "refuted", "witness": witness, "instances": tuple(done),
                        "steps": (step,), "sizes": _fmt_sizes(sz)}
            stats = check.terms_per_entry
            done.append(f"{_fmt_sizes(sz)}: identical polynomials ({stats.max} monomials per entry at most)")
        evidence = "exact-family" if len(self.cases) > 1 else "exact-instance"
        step = mint("exact polynomials", "both sides built from symbolic inputs and compared coefficient by "
                    "coefficient", statement["statement_latex"], evidence,
                    checked_by=(f"{len(self.cases)} instance(s): {family_text(self.cases)}",))
        if len(done) > 6:
            done = done[:3] + [f"... {len(done) - 5} more instances, all identical ..."] + done[-2:]
        return {**statement, "verdict": "proved", "instances": tuple(done), "steps": (step,)}

    def check_source_for(self, verdict: Verdict) -> str:
        """The emitted numeric check: ``check_source``, plus the witness re-test for a refutation."""
        return with_witness_test(self.name, self.check_source, verdict, self.witness_check)


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
                 describe: str = "", witness_check: str | Callable = "", data: Mapping | None = None, **kw) -> None:
        kw.setdefault("expected", "refuted")
        super().__init__(name, title, gloss, **kw)
        self.lhs_fn, self.rhs_fn, self.witness_inputs = lhs, rhs, dict(witness)
        self.where, self.describe, self.witness_check = where, describe, witness_check
        self.data = dict(data or {})

    def sizes(self) -> str:
        shown = ", ".join(f"{k} = {_show(_exact_or_raw(v))}" for k, v in self.witness_inputs.items())
        return f"one exact input: {shown}" if shown else "one exact input"

    def _run(self) -> dict:
        lv, rv = _exact_value(self.lhs_fn(**self.witness_inputs)), _exact_value(self.rhs_fn(**self.witness_inputs))
        text = f"{_describe_fn(self.lhs_fn)} = {_describe_fn(self.rhs_fn)}"
        statement = {"statement_text": text,
                     "statement_latex": _text_equation(_describe_fn(self.lhs_fn), _describe_fn(self.rhs_fn))}
        if lv == rv:
            raise ProofError(f"the witness does not separate the two sides: both are {_show(lv)}", rule="witness")
        inputs = {k: _jsonable(v) for k, v in self.witness_inputs.items()}
        witness = mint_witness(
            description=self.describe or f"the two sides differ at the input {inputs}",
            assignment=tuple((k, _show(v)) for k, v in self.witness_inputs.items()),
            where=self.where or "the output", lhs=_show(lv), rhs=_show(rv),
            data={"inputs": inputs, "lhs": _jsonable(lv), "rhs": _jsonable(rv), **self.data},
        )
        step = mint("exact evaluation", "both sides evaluated exactly at the witness input",
                    rf"{_latex(lv)} \ne {_latex(rv)}", "exact-instance", checked_by=("exact rational arithmetic",))
        return {**statement, "verdict": "refuted", "witness": witness, "steps": (step,)}

    def check_source_for(self, verdict: Verdict) -> str:
        return with_witness_test(self.name, self.check_source, verdict, self.witness_check)


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
