"""Shared helpers of the soundness tests: building false claims and checking how they are rejected.

Every false claim is checked twice: the kernel's verdict must not be ``proved`` (and is pinned to
the expected rejection: ``refuted`` with a witness, or ``failed`` at a named step and rule with a
matching message), and the claim's counterexample is re-evaluated here, independently of the
kernel, with plain Python loops (or :mod:`convsym.reference`), to show that the two sides differ.

A *blinded* claim is multiplied by ``binomial(k - 1, 2)`` (one atom, so that rules which expand
a summand do not split it into several terms): it is zero on the kernel's boundary instances
``k = 1, 2``, so the claim check cannot see the difference, and the derivation's own
rules must reject the false step.  The counterexamples of blinded claims are at ``k = 3``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from fractions import Fraction

import sympy

from convsym.proof import General, minted
from convsym.symbolic.sums import Range, SumExpr, Term

#: {theorem name: (mutants, rejected)}, filled by test_mutations.py, printed by conftest.py
MUTATION_STATS: dict[str, tuple[int, int]] = {}


def blind(k):
    """A factor that vanishes at k = 1 and k = 2 (the kernel's boundary instances of one size)
    and is 1 at k = 3: ``binomial(k - 1, 2)``."""
    return sympy.binomial(k - 1, 2)


#: the value of ``blind(k)`` at ``k = 3``
BLIND_AT_3 = 1


def term(summand, *ranges, where=(), inner=None) -> Term:
    """``Term(summand, (Range.of(*r) for r in ranges), where, inner)``."""
    return Term(sympy.sympify(summand), tuple(Range.of(*r) for r in ranges), tuple(where), inner)


def sums(*terms) -> SumExpr:
    return SumExpr.of(*terms)


def general(name: str, **kw) -> General:
    """A General theorem of the ``soundness`` family; ``instances`` defaults to none (the kernel
    adds its boundary instances)."""
    kw.setdefault("instances", ())
    return General(f"soundness.{name}", name.replace("-", " "), **kw)


# ---------------------------------------------------------------------------------------------
# signals with default 0


class Sig:
    """An infinite signal: ``s[i]`` (or ``s[i, j]``) is the value given, 0 elsewhere."""

    def __init__(self, values: Mapping | None = None):
        self.values = {}
        for key, val in (values or {}).items():
            self.values[key if isinstance(key, tuple) else (key,)] = val

    def __getitem__(self, idx):
        return self.values.get(idx if isinstance(idx, tuple) else (idx,), 0)

    def __repr__(self) -> str:
        return f"Sig({self.values})"


_ENTRY = re.compile(r"^(?P<base>.+?)\[(?P<idx>[^\[\]]*)\]$")


def witness_signals(inputs: Mapping[str, int]) -> tuple[dict[str, Sig], dict[str, int]]:
    """A General witness's ``inputs`` (``{"x[1]": 1, "w[0, 2]": 3, "b_1": 2}``) as signals and scalars."""
    entries: dict[str, dict] = {}
    scalars: dict[str, int] = {}
    for key, val in inputs.items():
        m = _ENTRY.match(key)
        if m is None:
            scalars[key] = int(val)
            continue
        idx = tuple(int(q) for q in m.group("idx").split(",")) if m.group("idx").strip() else ()
        entries.setdefault(m.group("base"), {})[idx] = int(val)
    return {name: Sig(vals) for name, vals in entries.items()}, scalars


# ---------------------------------------------------------------------------------------------
# the two ways a false claim is rejected


def assert_not_proved(v) -> None:
    assert v.verdict != "proved", f"{v.name}: a false claim was proved ({v.strength})"
    assert v.verdict != "observed" or v.strength == "numeric"


def assert_failed(v, *, step=None, rule=None, match: str | None = None) -> None:
    """The verdict is ``failed`` (strength none), at ``step`` and ``rule`` when given, and its
    error matches the regular expression ``match``."""
    assert_not_proved(v)
    assert v.verdict == "failed", f"{v.name}: expected failed, got {v.verdict} ({v.error})"
    assert v.strength == "none"
    assert v.error
    if step is not None:
        assert v.failed_step == step, f"{v.name}: failed at step {v.failed_step}, not {step}: {v.error}"
    if rule is not None:
        assert v.failed_rule == rule, f"{v.name}: failed rule {v.failed_rule!r}, not {rule!r}: {v.error}"
    if match is not None:
        assert re.search(match, v.error), f"{v.name}: error {v.error!r} does not match {match!r}"


def assert_refuted(v, recheck: Callable[[dict], tuple]) -> dict:
    """The verdict is ``refuted`` with a kernel-made witness; ``recheck(data)`` evaluates the two
    sides at the witness independently and returns ``(lhs, rhs)``, which must be the witness's
    values and must differ.  Returns the witness data."""
    assert_not_proved(v)
    assert v.verdict == "refuted", f"{v.name}: expected refuted, got {v.verdict} ({v.error})"
    assert v.strength == "exact-instance"
    assert v.witness is not None and minted(v.witness)
    data = v.witness.data
    lhs, rhs = recheck(data)
    assert lhs != rhs, f"{v.name}: the witness does not separate the two sides ({lhs} == {rhs})"
    assert Fraction(str(data["lhs"])) == Fraction(lhs), (data, lhs)
    assert Fraction(str(data["rhs"])) == Fraction(rhs), (data, rhs)
    return data


def differ(lhs, rhs) -> None:
    """A hand-made counterexample: the two sides, evaluated here, differ."""
    assert lhs != rhs, f"not a counterexample: both sides are {lhs}"
