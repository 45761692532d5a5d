"""A lemma step reuses the verdict the runner got for the theorem it cites (checked.remember_proved)."""

from __future__ import annotations

import sympy

from convsym.proof import Checked, checked
from convsym.proof.verdict import Verdict

x = sympy.Symbol("x")


def _lemma_theorem(name, holds=True):
    def derive(P):
        P.equal("a square expanded", (x + 1) ** 2, x**2 + 2 * x + 1 if holds else x**2 + 1)

    return Checked(f"reuse.{name}", name, derive=derive)


def _citing(name, lemma):
    return Checked(f"reuse.{name}", name, derive=lambda P: P.lemma("the square", lemma, r"\text{square}"))


def test_a_remembered_verdict_is_used_by_the_lemma(monkeypatch):
    lemma = _lemma_theorem("square")
    verdict = lemma.prove()
    checked.remember_proved(lemma, verdict)
    calls = []
    monkeypatch.setattr(Checked, "_run", lambda self: calls.append(self.name) or Checked._run(self), raising=True)
    assert checked._proved_once(lemma) is verdict
    assert calls == []


def test_a_remembered_failure_still_fails_the_citing_theorem():
    lemma = _lemma_theorem("square-wrong", holds=False)
    verdict = lemma.prove()
    assert verdict.verdict == "failed"
    checked.remember_proved(lemma, verdict)
    v = _citing("uses-wrong", lemma).prove()
    assert v.verdict == "failed" and "the lemma reuse.square-wrong is failed" in v.error


def test_only_the_theorems_own_verdict_is_remembered():
    lemma, other = _lemma_theorem("square-a"), _lemma_theorem("square-b", holds=False)
    foreign = other.prove()
    assert isinstance(foreign, Verdict) and foreign.name != lemma.name
    checked.remember_proved(lemma, foreign)
    assert checked._proved_once(lemma).name == lemma.name
    assert checked._proved_once(lemma).verdict == "proved"
