"""The committed book (generated/latex/) compiles into a clean document.

Compiled in a temporary folder: nothing runs into the margin (no overfull ``\\hbox`` wider than
10pt), every reference resolves, and the length stays that of a book one can hand out.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from convsym.build import compile_latex
from convsym.render.latex import overfull_hboxes

LATEX_DIR = Path(__file__).resolve().parent.parent / "generated" / "latex"
#: Boxes a little too wide are invisible in print; beyond this they reach into the margin.
OVERFULL_LIMIT_PT = 10.0
PAGES = range(40, 131)


@pytest.fixture(scope="module")
def book():
    tree = {f"latex/{path.name}": path.read_text(encoding="utf-8") for path in sorted(LATEX_DIR.glob("*.tex"))}
    if "latex/main.tex" not in tree:
        pytest.fail(f"no main.tex in {LATEX_DIR}: run `convsym build`")
    run = compile_latex(tree)
    assert run is not None
    return run


@pytest.mark.latex
def test_nothing_runs_into_the_margin(book):
    wide = overfull_hboxes(book.log, OVERFULL_LIMIT_PT)
    assert wide == [], f"{len(wide)} overfull boxes wider than {OVERFULL_LIMIT_PT}pt: {wide[:5]}"


@pytest.mark.latex
def test_every_reference_resolves(book):
    problems = [line for line in book.log.splitlines()
                if re.search(r"Reference `[^']*' on page \d+ undefined|There were undefined references", line)]
    assert problems == []


@pytest.mark.latex
def test_page_count_is_sensible(book):
    match = re.search(r"Output written on main\.pdf \((\d+) pages?", book.log)
    assert match is not None and int(match.group(1)) in PAGES
    assert book.pdf.startswith(b"%PDF")
