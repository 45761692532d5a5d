"""The records a proof produces: checked steps, witnesses and verdicts.

These are plain frozen data.  ``convsym.proof`` produces them, ``convsym.render`` prints them and
``convsym prove --json`` serialises them; nothing here computes.

Strength, weakest to strongest (stated on every verdict):

``numeric``         floating-point agreement on random inputs (never called a proof);
``exact-instance``  an exact polynomial identity for concrete sizes, every entry a symbol;
``exact-family``    exact for every size up to a stated bound;
``general``         for all sizes, by a derivation over symbolic index sums whose every step is a
                    checked rewrite, cross-checked by exact instances.

A *refuted* verdict carries a :class:`Witness`: concrete exact numbers on which the two sides
differ.  A *failed* verdict means the check did not go through (a step did not check, or an
error); it is never a proof and never a refutation, and its strength is ``none``.  An
*observed* verdict rests on numeric evidence only: it is never called proved.

The strength is computed by the kernel from the weakest evidence of the steps
(``StepRecord.evidence``), never declared by a theorem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STRENGTHS = ("numeric", "exact-instance", "exact-family", "general")
#: what a step's check established, weakest first; ``definition`` introduces notation and checks
#: nothing, so it never raises (or lowers) a verdict's strength
EVIDENCE = ("numeric", "exact-instance", "exact-family", "general", "definition")
VERDICTS = ("proved", "refuted", "failed", "observed")
#: a failed verdict established nothing
NO_STRENGTH = "none"
#: what a theorem file may declare
EXPECTED = ("proved", "refuted", "observed")


@dataclass(frozen=True)
class StepRecord:
    """One checked derivation step, as it is rendered.

    ``expression`` is the LaTeX of the whole expression *after* the step; ``side_conditions``
    the LaTeX of each condition the rule needed; ``checked_by`` says how each was discharged
    (``"z3: unsat"``, ``"exact instances k_1, k_2 <= 4"``...).  ``text`` is the same expression
    as plain text for a terminal (``convsym show``); empty when the proof did not give one.
    """

    rule: str
    description: str
    expression: str
    side_conditions: tuple[str, ...] = ()
    checked_by: tuple[str, ...] = ()
    text: str = ""
    evidence: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "evidence": self.evidence,
            "description": self.description,
            "expression": self.expression,
            "side_conditions": list(self.side_conditions),
            "checked_by": list(self.checked_by),
            "text": self.text,
        }


@dataclass(frozen=True)
class Witness:
    """A concrete exact counterexample.

    ``assignment`` lists (LaTeX name, exact value) pairs of the inputs that are not zero (every
    other input entry is zero); ``lhs`` and ``rhs`` are the exact values of the two sides at the
    entry ``where`` (LaTeX); ``data`` is a JSON-able dict the emitted numeric check rebuilds the
    witness from (exact integers or fraction strings only).
    """

    description: str
    assignment: tuple[tuple[str, str], ...]
    where: str
    lhs: str
    rhs: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "assignment": [list(p) for p in self.assignment],
            "where": self.where,
            "lhs": self.lhs,
            "rhs": self.rhs,
            "data": self.data,
        }


@dataclass(frozen=True)
class Verdict:
    """What proving one theorem established.

    ``expected`` is what the theorem file declares (``proved`` for a law, ``refuted`` for a
    documented non-law); ``verdict`` is what the check found.  ``seconds`` is wall time and is
    never written into ``generated/`` (it would break reproducibility).
    """

    name: str
    family: str
    title: str
    statement: str
    statement_latex: str
    expected: str
    verdict: str
    strength: str
    sizes: str
    seconds: float
    hypotheses: tuple[str, ...] = ()
    steps: tuple[StepRecord, ...] = ()
    instances: tuple[str, ...] = ()
    witness: Witness | None = None
    error: str | None = None
    failed_step: int | None = None
    failed_rule: str | None = None
    notes: tuple[str, ...] = ()
    figure: str = ""
    figure_caption: str = ""
    statement_text: str = ""
    #: one sentence of prose on how the proof goes (the theorem's ``idea``; it decides nothing)
    idea: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"Verdict: verdict={self.verdict!r} must be one of {VERDICTS}")
        if self.expected not in EXPECTED:
            raise ValueError(f"Verdict: expected={self.expected!r} must be one of {EXPECTED}")
        if self.verdict == "failed":
            if self.strength != NO_STRENGTH:
                raise ValueError(f"Verdict {self.name}: a failed verdict has strength {NO_STRENGTH!r}")
        elif self.strength not in STRENGTHS:
            raise ValueError(f"Verdict: strength={self.strength!r} must be one of {STRENGTHS}")
        if self.verdict == "proved" and self.strength == "numeric":
            raise ValueError(f"Verdict {self.name}: numeric evidence is 'observed', never 'proved'")
        if self.verdict == "observed" and self.strength != "numeric":
            raise ValueError(f"Verdict {self.name}: 'observed' is the verdict of numeric evidence only")
        if self.verdict == "refuted" and self.witness is None:
            raise ValueError(f"Verdict {self.name}: a refutation must carry a witness")
        if self.verdict == "failed" and not self.error:
            raise ValueError(f"Verdict {self.name}: a failed verdict must say why (error)")

    @property
    def ok(self) -> bool:
        """True when the verdict is what the theorem file declares."""
        return self.verdict == self.expected

    def to_json(self) -> dict[str, Any]:
        """The ``convsym prove --json`` record."""
        return {
            "name": self.name,
            "family": self.family,
            "title": self.title,
            "statement": self.statement,
            "statement_latex": self.statement_latex,
            "statement_text": self.statement_text,
            "expected": self.expected,
            "verdict": self.verdict,
            "strength": self.strength,
            "sizes": self.sizes,
            "seconds": round(self.seconds, 4),
            "hypotheses": list(self.hypotheses),
            "steps": [s.to_json() for s in self.steps],
            "instances": list(self.instances),
            "witness": self.witness.to_json() if self.witness else None,
            "error": self.error,
            "failed_step": self.failed_step,
            "failed_rule": self.failed_rule,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Family:
    """A family of theorems: one proof script, one LaTeX chapter, one emitted check file.

    ``name`` is a lower-case identifier (``merge``) used in file names; ``title`` and ``intro``
    (plain prose, may contain inline LaTeX math between ``$...$``) open the chapter.
    """

    name: str
    title: str
    intro: str = ""
    order: int = 100

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or not self.name.islower():
            raise ValueError(
                f"Family: name={self.name!r} must be a lower-case Python identifier"
            )
