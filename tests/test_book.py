"""The committed book (generated/latex/) compiles into a clean document.

Compiled in a temporary folder: nothing runs into the margin (no overfull ``\\hbox`` wider than
10pt), every reference resolves, the length stays that of a book one can hand out, and every
font is a vector font (Latin Modern, Type 1: ``pdffonts`` lists no Type 3 bitmap font), in the
compiled book and in the committed ``generated/convsym.pdf``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from convsym.render.latex import overfull_hboxes
from convsym.run.build import compile_latex, recorded_source_hash, source_hash

GENERATED = Path(__file__).resolve().parent.parent / "generated"
LATEX_DIR = GENERATED / "latex"
#: Boxes a little too wide are invisible in print; beyond this they reach into the margin.
OVERFULL_LIMIT_PT = 10.0
PAGES = range(40, 131)


def _sources() -> dict[str, str]:
    tree = {f"latex/{path.name}": path.read_text(encoding="utf-8") for path in sorted(LATEX_DIR.glob("*.tex"))}
    if "latex/main.tex" not in tree:
        pytest.fail(f"no main.tex in {LATEX_DIR}: run `convsym build`")
    return tree


@pytest.fixture(scope="module")
def book():
    run = compile_latex(_sources())
    assert run is not None
    return run


def pdf_fonts(pdf: Path) -> list[tuple[str, str]]:
    """``(name, type)`` of every font ``pdffonts`` lists; skipped without pdffonts (poppler-utils)
    unless CONVSYM_REQUIRE_LATEX=1."""
    pdffonts = shutil.which("pdffonts")
    if pdffonts is None:
        if os.environ.get("CONVSYM_REQUIRE_LATEX") == "1":
            pytest.fail("pdffonts is not installed (Debian: apt-get install poppler-utils) "
                        "and CONVSYM_REQUIRE_LATEX=1")
        pytest.skip("pdffonts is not installed (Debian: apt-get install poppler-utils)")
    proc = subprocess.run([pdffonts, str(pdf)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:2] == ["name", "type"] and set(lines[1]) <= {"-", " "}
    # the type is the words between the name and the encoding, which start at fixed columns
    start = lines[0].index("type")
    end = lines[0].index("encoding")
    return [(line[:start].strip(), line[start:end].strip()) for line in lines[2:] if line.strip()]


def assert_vector_fonts(pdf: Path) -> None:
    fonts = pdf_fonts(pdf)
    assert fonts, f"pdffonts lists no font in {pdf}"
    assert [f for f in fonts if f[1].startswith("Type 3")] == [], f"bitmap (Type 3) fonts in {pdf}"
    # Latin Modern for text and mathematics (the AMS symbol fonts for blackboard bold)
    assert all("LM" in name or name.split("+")[-1].startswith(("MSAM", "MSBM")) for name, _ in fonts), fonts


@pytest.mark.latex
def test_the_book_uses_vector_fonts_only(book, tmp_path):
    pdf = tmp_path / "book.pdf"
    pdf.write_bytes(book.pdf)
    assert_vector_fonts(pdf)


@pytest.mark.latex
def test_the_book_records_its_sources(book):
    assert recorded_source_hash(book.pdf) == source_hash(_sources())


def test_the_committed_pdf_uses_vector_fonts_only():
    pdf = GENERATED / "convsym.pdf"
    if not pdf.is_file():
        pytest.skip("generated/convsym.pdf is not committed")
    assert_vector_fonts(pdf)


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
