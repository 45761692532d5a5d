"""Shared fixtures: fake theorems and verdicts, proof-script folders, and the LaTeX skip rule.

Tests marked ``latex`` need latexmk and the LaTeX packages of the book.  They are skipped when
one is missing (the reason names the package to install), unless
``CONVSYM_REQUIRE_LATEX=1``: then they run, and fail, so a machine that must build the PDF
cannot pass silently without it.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from convsym.proof.verdict import Family, StepRecord, Verdict, Witness


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("CONVSYM_REQUIRE_LATEX") == "1" or not any("latex" in i.keywords for i in items):
        return
    from convsym.run.build import latex_problem

    problem = latex_problem()  # names the Debian / TeX Live package to install
    if problem is None:
        return
    skip = pytest.mark.skip(reason=f"{problem} (CONVSYM_REQUIRE_LATEX=1 makes this fail instead)")
    for item in items:
        if "latex" in item.keywords:
            item.add_marker(skip)


# ---------------------------------------------------------------------------------------------
# fake theorems and verdicts (the interface of convsym.proof.Theorem, duck-typed)


def make_verdict(name: str = "toy.add-commutes", verdict: str = "proved", **fields: Any) -> Verdict:
    """A Verdict with readable defaults; ``fields`` override any of them."""
    expected = fields.pop("expected", "refuted" if verdict == "refuted" else "proved")
    base: dict[str, Any] = {
        "name": name,
        "family": name.split(".", 1)[0],
        "title": "Addition commutes",
        "statement": "For all integers $a$ and $b$: a + b = b + a.",
        "statement_latex": "a + b = b + a",
        "expected": expected,
        "verdict": verdict,
        "strength": "exact-instance",
        "sizes": "a, b <= 3",
        "seconds": 0.0,
        "hypotheses": (r"a, b \in \mathbb{Z}",),
        "steps": (
            StepRecord("unfold_sum", "write the sum out", "a + b"),
            StepRecord("commute", "swap the terms", "b + a", (r"a \in \mathbb{Z}",), ("z3: unsat",)),
        ),
        "instances": ("all $a, b \\le 3$",),
    }
    if verdict == "refuted":
        base["witness"] = Witness(
            description="Subtraction at one point.",
            assignment=(("a", "1"), ("b", "0")),
            where="a - b",
            lhs="1",
            rhs="-1",
            data={"a": 1, "b": 0},
        )
    if verdict == "failed":
        base.update(error="step 2 did not check: {b} & 50%", failed_step=2, failed_rule="commute", strength="none")
    base.update(fields)
    return Verdict(**base)


@dataclass
class FakeTheorem:
    """Satisfies the theorem interface; ``prove`` returns a stored verdict."""

    name: str
    verdict: Verdict
    check_source: str = ""
    title: str = "Addition commutes"
    expected: str = field(init=False)
    family: str = field(init=False)

    def __post_init__(self) -> None:
        self.expected = self.verdict.expected
        self.family = self.name.split(".", 1)[0]

    def prove(self) -> Verdict:
        return self.verdict


TOY_FAMILY = Family("toy", "Toy facts", intro="Facts about $a + b$ & friends.", order=5)

CHECK_ADD = """
def test_add_commutes():
    x = np.arange(4)
    assert (x + 1 == 1 + x).all()
"""
CHECK_SUB = """
def test_sub_does_not_commute():
    assert Fraction(1) - 0 != Fraction(0) - 1
"""


@pytest.fixture
def toy_results() -> list[tuple[Family, list[tuple[Verdict, FakeTheorem]]]]:
    """One family, a proved theorem and a refuted one, as ``run_all`` returns them."""
    proved = FakeTheorem("toy.add-commutes", make_verdict("toy.add-commutes"), CHECK_ADD)
    refuted = FakeTheorem(
        "toy.sub-commutes",
        make_verdict("toy.sub-commutes", "refuted", title="Subtraction commutes"),
        CHECK_SUB,
    )
    return [(TOY_FAMILY, [(t.verdict, t) for t in (proved, refuted)])]


# ---------------------------------------------------------------------------------------------
# proof scripts on disk

TOY_SCRIPT = '''\
"""A toy proof script: two small theorems of the kernel's kinds."""

import sympy

from convsym.proof import Checked, Refutation
from convsym.run.registry import run_script
from convsym.proof.verdict import Family

FAMILY = Family("toy", "Toy facts", intro="Facts about $a + b$.", order=5)
a, b = sympy.symbols("a b", integer=True)
OUTCOME = "{add}"


def derive_add(P):
    if OUTCOME == "refuted":
        P.exact_counterexample("a + b against b + a + 1 at a = 1, b = 0", 1 + 0, 0 + 1 + 1, "1 \\\\ne 2",
                               witness="a = 1, b = 0", assignment=(("a", "1"), ("b", "0")), where="a + b",
                               data={"a": 1, "b": 0})
        return
    P.equal("swap the terms", a + b, b + a + (1 if OUTCOME == "failed" else 0), rule="commute")


add_commutes = Checked("toy.add-commutes", "add commutes", "a + b = b + a", derive=derive_add, check_source="""
def test_add_commutes():
    x = np.arange(3)
    assert (x + 1 == 1 + x).all()
""")


def a_minus_b(a, b):
    \"\"\"a - b\"\"\"
    return a - b


def b_minus_a(a, b):
    \"\"\"b - a\"\"\"
    return b - a


sub_commutes = Refutation("toy.sub-commutes", "sub commutes", "a - b = b - a", lhs=a_minus_b, rhs=b_minus_a,
                          witness={"a": 1, "b": 0}, where="a - b", describe="one point", check_source="""
def test_sub_does_not_commute():
    assert Fraction(1) - 0 != Fraction(0) - 1
""")

if __name__ == "__main__":
    raise SystemExit(run_script(globals()))
'''


def toy_script(add: str = "proved") -> str:
    """The toy script; ``add`` is the outcome its first theorem reports (expected: proved)."""
    return TOY_SCRIPT.replace("{add}", add)


@pytest.fixture
def write_script(tmp_path: Path):
    """``write_script(file_name, source)`` -> path, in a fresh ``proofs/`` folder."""
    folder = tmp_path / "proofs"
    folder.mkdir()

    def write(file_name: str, source: str) -> Path:
        path = folder / file_name
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    return write


@pytest.fixture
def toy_dir(write_script) -> Path:
    """A proofs folder with the toy script, every verdict as expected."""
    return write_script("toy.py", toy_script()).parent


@pytest.fixture
def verdict_factory():
    """:func:`make_verdict`, for tests that build their own verdicts."""
    return make_verdict


@pytest.fixture
def fake_theorem():
    """The :class:`FakeTheorem` class."""
    return FakeTheorem


@pytest.fixture
def toy_family() -> Family:
    return TOY_FAMILY


@pytest.fixture
def script_source():
    """:func:`toy_script`: the toy proof script's source for a given first outcome."""
    return toy_script
