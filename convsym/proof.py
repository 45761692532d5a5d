"""Theorems and how they are proved.

A theorem states a claim ``lhs == rhs`` with its hypotheses and declares the verdict it expects
(``proved`` for a law, ``refuted`` for a documented non-law).  ``prove()`` never raises for a
failed proof: it returns a :class:`~convsym.verdict.Verdict` whose ``verdict`` is ``failed`` and
whose ``error`` names the step and rule that did not check.

Three kinds of theorem:

* :class:`General` -- for all sizes: a derivation over symbolic index sums
  (:mod:`convsym.sums`), each step a rule of :mod:`convsym.rules` that checks its own side
  conditions, each step re-checked on exact instances, the end compared with the claimed right
  side, and optional exact cross-checks by the independent polynomial backend.
* :class:`Identity` -- exact polynomial identity for concrete sizes (one instance or a family),
  every input entry a distinct symbol, decided by :mod:`convsym.algebra` after a
  Schwartz-Zippel pre-check.
* :class:`Counterexample` -- a claim expected to be false, refuted by a concrete exact witness
  (found by the exact backend), re-evaluated exactly before it is reported.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence

import sympy

from .errors import ProofError
from .rules import Context, Rule
from .sums import Let, SumExpr, evaluate, latex_sumexpr, text_sumexpr
from .verdict import StepRecord, Verdict, Witness


class Theorem:
    """Base class: a named claim with its expected verdict and emitted numeric check.

    ``check_source`` is Python source of one or more ``def test_...():`` functions that re-test
    the claim numerically with ``np`` (NumPy), ``ref`` (:mod:`convsym.reference`) and
    ``Fraction`` only; ``convsym build`` writes it to ``generated/checks/``.
    """

    strength = "exact-instance"

    def __init__(
        self,
        name: str,
        title: str,
        statement: str,
        *,
        statement_latex: str = "",
        expected: str = "proved",
        hypotheses: Sequence[str] = (),
        check_source: str = "",
        notes: Sequence[str] = (),
        figure: Callable[[Mapping], tuple[str, str]] | None = None,
    ) -> None:
        if not isinstance(name, str) or "." not in name:
            raise ValueError(f"Theorem: name={name!r} must be 'family.theorem'")
        if expected not in ("proved", "refuted"):
            raise ValueError(f"Theorem {name}: expected={expected!r} must be 'proved' or 'refuted'")
        self.name = name
        self.family = name.split(".", 1)[0]
        self.title = title
        self.statement = statement
        self.statement_latex = statement_latex
        self.expected = expected
        self.hypotheses = tuple(hypotheses)
        self.check_source = check_source
        self.notes = tuple(notes)
        if figure is not None and not callable(figure):
            raise TypeError(f"Theorem {name}: figure must be a callable returning (tikz, caption)")
        self.figure = figure

    # subclasses fill these in
    def _run(self) -> dict:
        raise NotImplementedError

    def sizes(self) -> str:
        return ""

    def prove(self) -> Verdict:
        start = time.perf_counter()
        fields: dict = {}
        try:
            fields = self._run()
            verdict = fields.pop("verdict", "proved")
        except ProofError as exc:
            verdict = "failed"
            fields = {
                "error": str(exc),
                "failed_step": exc.step,
                "failed_rule": exc.rule,
                "steps": tuple(getattr(exc, "steps_so_far", ())),
            }
        except Exception as exc:  # a bug or bad theorem file: report, never crash the run
            verdict = "failed"
            tb = traceback.extract_tb(exc.__traceback__)
            where = f" at {tb[-1].filename}:{tb[-1].lineno}" if tb else ""
            fields = {"error": f"{type(exc).__name__}: {exc}{where}"}
        fields.setdefault("strength", self.strength)
        if self.figure is not None and verdict != "failed":
            # drawn from the proof's own data (sizes, witness), so the picture cannot drift from it
            fields["figure"], fields["figure_caption"] = self.figure(fields)
        return Verdict(
            name=self.name,
            family=self.family,
            title=self.title,
            statement=self.statement,
            statement_latex=fields.pop("statement_latex", self.statement_latex),
            expected=self.expected,
            verdict=verdict,
            sizes=self.sizes(),
            seconds=time.perf_counter() - start,
            hypotheses=fields.pop("hypotheses", self.hypotheses),
            notes=self.notes,
            **fields,
        )

    def check_source_for(self, verdict: Verdict) -> str:
        """The emitted numeric check for this theorem given its verdict."""
        return self.check_source

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def _env(instance: Mapping, symbols: Iterable[sympy.Symbol]) -> dict:
    by_name = {str(s): s for s in symbols}
    env = {}
    for key, val in instance.items():
        sym = by_name.get(str(key)) if not isinstance(key, sympy.Symbol) else key
        if sym is None:
            raise ValueError(f"instance size {key!r} is not a symbol of the statement ({sorted(by_name)})")
        env[sym] = sympy.Integer(val)
    return env


def _fmt_instance(env: Mapping) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(env.items(), key=lambda kv: str(kv[0])))


class General(Theorem):
    """A claim for all sizes, proved by a derivation whose every step is checked.

    ``lhs`` and ``rhs`` are :class:`SumExpr` (or SymPy expressions built from
    :mod:`convsym.opdefs` applications); ``lets`` define intermediate signals; ``derivation`` is a
    list of :mod:`convsym.rules` objects; ``instances`` are size assignments on which every step
    is re-evaluated exactly; ``cross_checks`` are further theorems (typically :class:`Identity`)
    that must be proved for the general verdict to stand.
    """

    strength = "general"

    def __init__(
        self,
        name: str,
        title: str,
        statement: str,
        *,
        lhs,
        rhs,
        derivation: Sequence[Rule],
        lets: Sequence[Let] = (),
        size_hypotheses: Sequence = (),
        instances: Sequence[Mapping] = (),
        cross_checks: Sequence[Theorem] = (),
        **kw,
    ) -> None:
        super().__init__(name, title, statement, **kw)
        self.lhs = lhs if isinstance(lhs, SumExpr) else SumExpr.of(*sympy.Add.make_args(lhs))
        self.rhs = rhs if isinstance(rhs, SumExpr) else SumExpr.of(*sympy.Add.make_args(rhs))
        self.derivation = tuple(derivation)
        self.lets = tuple(lets)
        self.size_hypotheses = tuple(size_hypotheses)
        self.instances = tuple(instances)
        self.cross_checks = tuple(cross_checks)
        if not self.derivation:
            raise ValueError(f"Theorem {name}: a general theorem needs a derivation")

    def _symbols(self) -> set[sympy.Symbol]:
        syms: set[sympy.Symbol] = set()
        for e in (self.lhs, self.rhs):
            for t in e.terms:
                syms |= sympy.sympify(t.summand).free_symbols
        for h in self.size_hypotheses:
            syms |= sympy.sympify(h).free_symbols
        return syms

    def sizes(self) -> str:
        sizes = sorted(
            (s for s in self._symbols() if s.is_integer and s.is_positive), key=sympy.default_sort_key
        )
        return "all " + ", ".join(str(s) for s in sizes) + " >= 1" if sizes else "all sizes"

    def _hypotheses_latex(self) -> tuple[str, ...]:
        sizes = sorted(
            (s for s in self._symbols() if s.is_integer and s.is_positive), key=sympy.default_sort_key
        )
        out = []
        if sizes:
            out.append(", ".join(sympy.latex(s) for s in sizes) + r" \in \mathbb{Z}_{\ge 1}")
        out.extend(sympy.latex(h) for h in self.size_hypotheses)
        for let in self.lets:
            out.append(let.latex_body)
        return tuple(out) + self.hypotheses

    def _run(self) -> dict:
        ctx = Context(lets=self.lets, hypotheses=self.size_hypotheses)
        syms = self._symbols()
        envs = [_env(inst, syms) for inst in self.instances]
        inst_desc = "; ".join(_fmt_instance(e) for e in envs)
        cur = self.lhs
        values = [evaluate(cur, env, self.lets) for env in envs]
        steps: list[StepRecord] = []
        for n, rule in enumerate(self.derivation, start=1):
            try:
                outcome = rule.apply(cur, ctx)
                new_values = [evaluate(outcome.expr, env, self.lets) for env in envs]
                for env, before, after in zip(envs, values, new_values, strict=False):
                    if sympy.expand(before - after) != 0:
                        raise ProofError(
                            f"the rewrite changes the value at the instance {_fmt_instance(env)}: "
                            f"{sympy.sstr(before)} became {sympy.sstr(after)}"
                        )
            except ProofError as exc:
                err = ProofError(str(exc).split(": ", 1)[-1] if exc.step else str(exc), step=n, rule=rule.name)
                err.steps_so_far = tuple(steps)
                raise err from exc
            checked = outcome.checked_by + (
                (f"re-evaluated exactly on the {len(envs)} instances",) if envs else ()
            )
            steps.append(
                StepRecord(rule.name, rule.describe(), latex_sumexpr(outcome.expr),
                           outcome.side_conditions, checked, text=text_sumexpr(outcome.expr))
            )
            cur, values = outcome.expr, new_values
        if not cur.same_as(self.rhs):
            err = ProofError(
                f"the derivation ends at {text_sumexpr(cur)}, which is not the claimed right side "
                f"{text_sumexpr(self.rhs)}",
                step=len(self.derivation) + 1,
                rule="conclusion",
            )
            err.steps_so_far = tuple(steps)
            raise err
        instances = [f"every step re-evaluated exactly at {inst_desc}"] if envs else []
        for th in self.cross_checks:
            v = th.prove()
            if v.verdict != "proved":
                err = ProofError(f"cross-check {th.name} did not prove: {v.error}", step=len(steps) + 1,
                                 rule="cross-check")
                err.steps_so_far = tuple(steps)
                raise err
            instances.append(f"{th.title} ({v.strength}: {v.sizes})")
        return {
            "verdict": "proved",
            "steps": tuple(steps),
            "instances": tuple(instances),
            "hypotheses": self._hypotheses_latex(),
            "statement_latex": self.statement_latex
            or f"{latex_sumexpr(self.lhs)} = {latex_sumexpr(self.rhs)}",
        }


def _fmt_sizes(sz: Mapping) -> str:
    return ", ".join(f"{k}={v}" for k, v in sz.items())


class Identity(Theorem):
    """An exact polynomial identity ``lhs == rhs`` for concrete sizes, every input entry a symbol.

    ``inputs(**sizes)`` gives ``{name: shape}``; ``lhs(T, **sizes)`` and ``rhs(T, **sizes)`` build
    the two sides from the input tensors ``T`` with :mod:`convsym.ops` (they run unchanged on the
    exact :class:`~convsym.algebra.PolyTensor` and on the mod-p twin of the Schwartz-Zippel
    pre-check).  ``family`` lists the size assignments, smallest first.  The verdict is ``proved``
    when every instance is an identity, ``refuted`` at the first instance that is not, with an
    exact witness: the inputs of one differing monomial set to small integers, every other
    input entry zero, both sides re-evaluated exactly.
    """

    def __init__(
        self,
        name: str,
        title: str,
        statement: str,
        *,
        inputs: Callable[..., Mapping[str, Sequence[int]]],
        lhs: Callable[..., object],
        rhs: Callable[..., object],
        family: Sequence[Mapping[str, int]],
        bound: str = "",
        witness_check: str = "",
        **kw,
    ) -> None:
        super().__init__(name, title, statement, **kw)
        if not family:
            raise ValueError(f"Theorem {name}: family must list at least one size assignment")
        self.inputs, self.lhs_fn, self.rhs_fn = inputs, lhs, rhs
        self.cases = tuple(dict(f) for f in family)  # self.family is the family *name* (Theorem)
        self.bound = bound
        self.witness_check = witness_check
        self.strength = "exact-instance" if len(self.cases) == 1 else "exact-family"

    def sizes(self) -> str:
        if self.bound:
            return self.bound
        if len(self.cases) == 1:
            return _fmt_sizes(self.cases[0])
        return f"{len(self.cases)} instances, from {_fmt_sizes(self.cases[0])} to {_fmt_sizes(self.cases[-1])}"

    def _exact(self, sz: Mapping) -> tuple:
        from .algebra import PolyTensor
        from .symbols import VariablePool

        pool = VariablePool()
        shapes = {k: tuple(v) for k, v in self.inputs(**sz).items()}
        tensors, owners = {}, {}
        for nm, shape in shapes.items():
            start = len(pool)
            tensors[nm] = PolyTensor.variables(pool, nm, shape)
            owners[nm] = (start, shape)
        lhs = self.lhs_fn(dict(tensors), **sz)
        rhs = self.rhs_fn(dict(tensors), **sz)
        if lhs.shape != rhs.shape:
            raise ProofError(f"at {_fmt_sizes(sz)} the two sides have shapes {lhs.shape} and {rhs.shape}")
        return pool, owners, lhs, rhs

    def _witness(self, sz, pool, owners, lhs, rhs, diff) -> Witness:
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
            count = 1
            for d in shape:
                count *= d
            nonzero = []
            for vid in sorted(set(ids)):
                if start <= vid < start + count:
                    nonzero.append([list(int(q) for q in _unravel(vid - start, shape)), value])
            data["inputs"][nm] = {"shape": list(shape), "nonzero": nonzero}
        rows = tuple((sympy.latex(sympy.Symbol(pool.name(v))), str(value)) for v in sorted(set(ids)))
        return Witness(
            description=(
                f"at sizes {_fmt_sizes(sz)}: the inputs listed are {value}, every other input entry is 0; "
                f"the two sides differ at entry {where} (monomial {'*'.join(diff.monomial) or '1'}: "
                f"coefficient {diff.lhs} on the left, {diff.rhs} on the right)"
            ),
            assignment=rows,
            where=str(where),
            lhs=str(lv),
            rhs=str(rv),
            data=data,
        )

    def _run(self) -> dict:
        from .algebra import schwartz_zippel

        done = []
        for sz in self.cases:
            shapes = {k: tuple(v) for k, v in self.inputs(**sz).items()}
            zr = schwartz_zippel(lambda T, sz=sz: self.lhs_fn(T, **sz),
                                 lambda T, sz=sz: self.rhs_fn(T, **sz), shapes, trials=2)
            pool, owners, lhs, rhs = self._exact(sz)
            diff = lhs.first_difference(rhs)
            if diff is None and not zr.equal:
                raise ProofError(f"at {_fmt_sizes(sz)} the random pre-check saw a difference the exact check did not")
            if diff is not None:
                return {"verdict": "refuted", "witness": self._witness(sz, pool, owners, lhs, rhs, diff),
                        "instances": tuple(done), "strength": "exact-instance"}
            stats = lhs.terms_per_entry()
            done.append(f"{_fmt_sizes(sz)}: identical polynomials ({stats.max} monomials per entry at most)")
        if len(done) > 6:
            done = done[:3] + [f"... {len(done) - 5} more instances, all identical ..."] + done[-2:]
        return {"verdict": "proved", "instances": tuple(done)}

    def check_source_for(self, verdict: Verdict) -> str:
        """The emitted numeric check: ``check_source``, plus the witness re-test for a refutation."""
        src = self.check_source
        if verdict.witness is not None and self.witness_check:
            fn = "test_witness_" + self.name.split(".", 1)[1].replace("-", "_")
            src += (
                f"\n\ndef {fn}():\n"
                f"    witness = {verdict.witness.data!r}\n"
                f"{_indent(self.witness_check, 4)}"
            )
        return src


def _indent(src: str, n: int) -> str:
    import textwrap

    return textwrap.indent(textwrap.dedent(src).strip("\n"), " " * n) + "\n"


def _unravel(flat: int, shape: Sequence[int]) -> tuple[int, ...]:
    out = []
    for d in reversed(shape):
        out.append(flat % d)
        flat //= d
    return tuple(reversed(out))


# Re-exported so proof scripts need one import line.
__all__ = ["Theorem", "General", "Identity", "Verdict", "Witness"]
