"""The base of every theorem kind, and the one place where evidence is minted.

The trusted core of convsym is this package (with :mod:`convsym.symbolic.rules`, :mod:`convsym.symbolic.sums` and
:mod:`convsym.symbolic.decide`).  Three rules keep it honest:

* **Only the kernel's theorem kinds prove.**  :meth:`Theorem.prove` refuses a theorem whose class
  overrides ``_run`` outside ``convsym.proof``: a proof script builds on :class:`General`,
  :class:`Identity`, :class:`Checked` and :class:`Refutation`, never on a ``_run`` of its own.
* **Steps are minted, not written.**  A :class:`~convsym.proof.verdict.StepRecord` counts only if the
  kernel made it, right after the check it records (:func:`mint`); a record built anywhere else
  fails the proof.  Each minted step carries its *evidence*: ``general`` (a rule whose side
  conditions were decided for all sizes, an algebraic identity, a definition), ``exact-family``,
  ``exact-instance`` or ``numeric``.
* **Strength is computed.**  The verdict's strength is the weakest evidence among its steps; a
  proof with numeric evidence only is ``observed``, never ``proved``; a failed proof has strength
  ``none``.
"""

from __future__ import annotations

import time
import traceback
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence

from convsym.deferred import Deferred, resolve
from convsym.errors import ProofError
from convsym.proof.sources import CheckSource, check_kind, check_text
from convsym.proof.verdict import EVIDENCE, EXPECTED, NO_STRENGTH, STRENGTHS, StepRecord, Verdict, Witness

_MINTED: dict[int, weakref.ref] = {}
#: what a minted step established, kept by the kernel (not on the record a proof can touch):
#: ``id(step) -> (fact, latex, text)`` with ``fact`` a SymPy expression proved to be 0, or None
_FACTS: dict[int, tuple] = {}
#: the symbols a minted step's fact is about (``id(step) -> frozenset``), for the generated statement
_SYMBOLS: dict[int, frozenset] = {}


def _remember(obj) -> None:
    key = id(obj)

    def forget(_ref, key=key):
        _MINTED.pop(key, None)
        _FACTS.pop(key, None)
        _SYMBOLS.pop(key, None)

    _MINTED[key] = weakref.ref(obj, forget)


def minted(obj) -> bool:
    """True when ``obj`` (a step or a witness) was made by the kernel."""
    ref = _MINTED.get(id(obj))
    return ref is not None and ref() is obj


def mint(rule: str, description: str, expression: str, evidence: str, *, side_conditions: Sequence[str] = (),
         checked_by: Sequence[str] = (), text: str = "", fact=None, fact_latex: str = "",
         symbols: Iterable = (), queries: Sequence = (), instances=None) -> StepRecord:
    """A step record for a check the caller (kernel code) has just carried out.

    ``fact`` (a SymPy expression the check proved to be 0) and ``fact_latex``/``text`` (what the
    check established, printed by the kernel from the checked objects) are kept by the kernel.
    ``queries`` (the z3 questions the check asked) and ``instances`` (those it evaluated on) go
    into the machine record the book prints; they decide nothing.
    """
    if evidence not in EVIDENCE:
        raise ValueError(f"mint: evidence={evidence!r} must be one of {EVIDENCE}")
    record = StepRecord(rule, description, expression, tuple(side_conditions), tuple(checked_by), text, evidence,
                        tuple(queries), instances)
    _remember(record)
    _FACTS[id(record)] = (fact, fact_latex, text)
    _SYMBOLS[id(record)] = frozenset(symbols)
    return record


def fact_symbols(step: StepRecord) -> frozenset:
    """The symbols of what a minted step established (empty when the step did not say)."""
    return _SYMBOLS.get(id(step), frozenset()) if minted(step) else frozenset()


def established(step: StepRecord) -> tuple:
    """``(fact, latex, text)`` that the kernel recorded for a minted step."""
    if not minted(step):
        raise ProofError(f"step ({step.rule}) was not made by the kernel", rule="kernel")
    fact, latex, text = _FACTS.get(id(step), (None, "", ""))
    return fact, latex, (step.text if isinstance(text, Deferred) else text)


def established_fact(step: StepRecord):
    """The fact the kernel recorded for a minted step (None for a step that established none),
    without printing the step."""
    if not minted(step):
        raise ProofError(f"step ({step.rule}) was not made by the kernel", rule="kernel")
    return _FACTS.get(id(step), (None, "", ""))[0]


def mint_witness(**fields) -> Witness:
    """A witness whose two sides the caller (kernel code) has just evaluated exactly and found different."""
    if fields.get("lhs") == fields.get("rhs"):
        raise ProofError(f"a witness must separate the two sides; both are {fields.get('lhs')}")
    w = Witness(**fields)
    _remember(w)
    return w


def weakest(evidence: Iterable[str]) -> str | None:
    """The weakest strength among ``evidence`` (definitions do not count); None if there is none."""
    levels = [e for e in evidence if e != "definition"]
    if not levels:
        return None
    return min(levels, key=STRENGTHS.index)


def _foreign_overrides(cls: type) -> list[str]:
    """The kernel methods that a class outside ``convsym.proof`` redefines (``__init__`` and
    ``check_source_for``, which decide nothing, are allowed)."""
    kernel = [k for k in cls.__mro__ if k.__module__.startswith("convsym.proof")]
    names = {n for k in kernel for n, v in vars(k).items() if callable(v) or isinstance(v, property)}
    names -= {"__init__", "check_source_for", "__repr__"}
    out = []
    for k in cls.__mro__:
        if k.__module__.startswith("convsym.proof") or k is object:
            continue
        out.extend(sorted(n for n in vars(k) if n in names))
    return out


def _as_tuple(value):
    """A sequence as a tuple; a :class:`Deferred` (printed when read) as it is."""
    return value if isinstance(value, Deferred) else tuple(value)


class StepError(ProofError):
    """A :class:`ProofError` that carries the steps checked before it (as data)."""

    def __init__(self, message: str, *, step: int | None, rule: str | None, steps: Sequence[StepRecord] = ()):
        super().__init__(message, step=step, rule=rule)
        self.steps_so_far = tuple(steps)


class Theorem:
    """A named claim, its expected verdict and its emitted numeric check.

    ``title`` is a short name; ``gloss`` says in words what the claim means (it is printed as a
    gloss, never as the statement: the statement is generated from the objects the kernel
    checks).  ``expected`` is ``proved`` for a law, ``refuted`` for a documented non-law and
    ``observed`` for a numeric observation.  ``check_source`` is Python source of ``def test_...``
    functions that re-test the claim with NumPy and :mod:`convsym.reference` (text, or functions whose
    source is emitted: :func:`convsym.proof.sources.check_text`); ``remarks`` are
    plain-language notes (never checked, printed as remarks).  ``idea`` is one sentence of prose
    that says how the proof goes (printed before the derivation); like ``title`` it decides
    nothing.
    """

    def __init__(
        self,
        name: str,
        title: str,
        gloss: str = "",
        *,
        expected: str = "proved",
        check_source: CheckSource = "",
        notes: Sequence[str] = (),
        remarks: Sequence[str] = (),
        figure: Callable[[Mapping], tuple[str, str]] | None = None,
        idea: str = "",
    ) -> None:
        if not isinstance(name, str) or "." not in name:
            raise ValueError(f"Theorem: name={name!r} must be 'family.theorem'")
        if expected not in EXPECTED:
            raise ValueError(f"Theorem {name}: expected={expected!r} must be one of {EXPECTED}")
        self.name = name
        self.family = name.split(".", 1)[0]
        self.title = title
        if not isinstance(idea, str):
            raise TypeError(f"Theorem {name}: idea must be a str (one sentence of prose), got {type(idea).__name__}")
        self.idea = idea
        self.statement = gloss
        self.gloss = gloss
        self.expected = expected
        check_kind(name, check_source)  # a wrong kind fails here; the source is read when first needed
        self._check_spec = check_source
        self._check_text: str | None = check_source if isinstance(check_source, str) else None
        self.notes = tuple(notes) + tuple(remarks)
        if figure is not None and not callable(figure):
            raise TypeError(f"Theorem {name}: figure must be a callable returning (tikz, caption)")
        self.figure = figure

    # -- what a kind provides --------------------------------------------------------------------
    def _run(self) -> dict:  # pragma: no cover - every kind overrides
        raise NotImplementedError

    def sizes(self) -> str:
        return ""

    # -- the kernel's verdict --------------------------------------------------------------------
    def prove(self) -> Verdict:
        start = time.perf_counter()
        try:
            foreign = _foreign_overrides(type(self))
            if foreign:
                raise ProofError(
                    f"{type(self).__name__} overrides {', '.join(foreign)} outside the kernel; a theorem must be "
                    "one of the kernel's kinds (General, Identity, Checked, Refutation), used as it is",
                    step=None, rule="kernel",
                )
            fields = self._run()
            fields = self._settle(fields)
        except ProofError as exc:
            fields = {"verdict": "failed", "strength": NO_STRENGTH, "error": exc.message,
                      "failed_step": exc.step, "failed_rule": exc.rule,
                      "steps": tuple(getattr(exc, "steps_so_far", ()))}
        except Exception as exc:  # a bug or a bad theorem file: report, never crash the run
            tb = traceback.extract_tb(exc.__traceback__)
            where = f" at {tb[-1].filename}:{tb[-1].lineno}" if tb else ""
            fields = {"verdict": "failed", "strength": NO_STRENGTH, "error": f"{type(exc).__name__}: {exc}{where}"}
        if self.figure is not None and fields["verdict"] != "failed":
            # drawn from the proof's own data (sizes, witness), so the picture cannot drift from it
            import copy

            # the figure reads plain values (what is printed when read is printed now), from a
            # copy: drawing the figure must not be able to touch the verdict
            fields = {k: resolve(v) for k, v in fields.items()}
            fields["figure"], fields["figure_caption"] = self.figure(copy.deepcopy(fields))
        return Verdict(
            name=self.name,
            family=self.family,
            title=self.title,
            idea=self.idea,
            statement=self.gloss,
            statement_latex=fields.pop("statement_latex", ""),
            statement_text=fields.pop("statement_text", ""),
            statement_parts=fields.pop("statement_parts", None),
            expected=self.expected,
            sizes=fields.pop("sizes", self.sizes()),
            seconds=time.perf_counter() - start,
            hypotheses=_as_tuple(fields.pop("hypotheses", ())),
            notes=self.notes,
            **fields,
        )

    def _settle(self, fields: dict) -> dict:
        """Check what ``_run`` produced and compute the verdict's strength from its evidence."""
        steps = tuple(fields.get("steps", ()))
        for n, step in enumerate(steps, start=1):
            if not minted(step):
                raise StepError(f"step {n} ({step.rule}) was not made by the kernel; it checks nothing",
                                step=n, rule=step.rule)
        verdict = fields.get("verdict")
        if verdict == "refuted":
            witness = fields.get("witness")
            if witness is None or not minted(witness):
                raise ProofError("a refutation needs a witness evaluated by the kernel", step=None, rule="witness")
            fields["strength"] = "exact-instance"
            return fields
        if verdict != "proved":
            raise ProofError(f"the kernel produced verdict {verdict!r}", step=None, rule="kernel")
        strength = weakest([s.evidence for s in steps] + list(fields.pop("evidence", ())))
        if strength is None:
            raise StepError("no step checks anything (only definitions)", step=len(steps) + 1, rule="conclusion",
                            steps=steps)
        fields["strength"] = strength
        if strength == "numeric":
            fields["verdict"] = "observed"
        return fields

    @property
    def check_source(self) -> str:
        """The emitted numeric check as Python text (:func:`convsym.proof.sources.check_text`)."""
        if self._check_text is None:
            self._check_text = check_text(self.name, self._check_spec)
        return self._check_text

    @check_source.setter
    def check_source(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"Theorem {self.name}: check_source can be set to source text only, got "
                            f"{type(text).__name__}")
        self._check_text = text

    def check_source_for(self, verdict: Verdict) -> str:
        """The emitted numeric check for this theorem given its verdict."""
        return self.check_source

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
