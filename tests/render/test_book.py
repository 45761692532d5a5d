"""The committed book (generated/latex/) compiles into a clean document.

Compiled in a temporary folder: nothing runs into the margin (no overfull ``\\hbox`` wider than
1pt), every reference resolves, the length stays that of a book one can hand out, and every
font is a vector font (Latin Modern, Type 1: ``pdffonts`` lists no Type 3 bitmap font), in the
compiled book and in the committed ``generated/convsym.pdf``.  Its text (``pdftotext``) is that of
a book, not of code: no ``==``, ``>=``, ``<=``, ``sum(``, no "seed" or "README", no source path;
and it has its front matter: the notation and the summary of results.

``CONVSYM_BOOK_DIR`` names another build folder (``convsym build --out DIR``) whose ``latex/``
is compiled instead of ``generated/latex/``, to check a book before it is committed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from convsym.errors import RenderError
from convsym.render.latex import overfull_hboxes
from convsym.render.prose import changed_part, is_tautology
from convsym.run.build import compile_latex, recorded_source_hash, source_hash

GENERATED = Path(__file__).resolve().parents[2] / "generated"
LATEX_DIR = Path(os.environ.get("CONVSYM_BOOK_DIR") or GENERATED) / "latex"
#: A box wider than the line by more than this shows in print.
OVERFULL_LIMIT_PT = 1.0
#: The chapters and front matter take some 150 pages, the machine record appendix some 45 more.
PAGES = range(40, 241)


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


def _poppler(tool: str) -> str:
    """The path of a poppler-utils program; skipped without it unless CONVSYM_REQUIRE_LATEX=1."""
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CONVSYM_REQUIRE_LATEX") == "1":
            pytest.fail(f"{tool} is not installed (Debian: apt-get install poppler-utils) "
                        "and CONVSYM_REQUIRE_LATEX=1")
        pytest.skip(f"{tool} is not installed (Debian: apt-get install poppler-utils)")
    return path


def pdf_fonts(pdf: Path) -> list[tuple[str, str]]:
    """``(name, type)`` of every font ``pdffonts`` lists; skipped without pdffonts (poppler-utils)
    unless CONVSYM_REQUIRE_LATEX=1."""
    pdffonts = _poppler("pdffonts")
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


# ---------------------------------------------------------------------------------------------
# the text a reader sees

#: Code notation and words of the project's workshop that a reader of the book must not meet:
#: (what, pattern).
CODE_IN_TEXT = (
    ("'=='", re.compile(r"==")),
    ("'>='", re.compile(r">=")),
    ("'<='", re.compile(r"<=")),
    ("'sum('", re.compile(r"sum\(")),
    ("'seed'", re.compile(r"seed", re.IGNORECASE)),
    ("'README'", re.compile(r"README")),
    ("a code path", re.compile(r"convsym/|[\w/-]+\.py\b")),
)


@pytest.fixture(scope="module")
def book_pages(book, tmp_path_factory) -> list[str]:
    """The text of each page of the compiled book, as ``pdftotext`` reads it."""
    pdftotext = _poppler("pdftotext")
    pdf = tmp_path_factory.mktemp("book") / "book.pdf"
    pdf.write_bytes(book.pdf)
    proc = subprocess.run([pdftotext, "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    pages = proc.stdout.split("\f")
    assert len(pages) > 10, "pdftotext read almost no pages"
    return pages


def code_in_text(pages: list[str]) -> list[str]:
    """``what on page N: line`` for every line of ``pages`` that holds code notation."""
    return [f"{what} on page {number}: {line.strip()}"
            for number, page in enumerate(pages, start=1)
            for line in page.splitlines()
            for what, pattern in CODE_IN_TEXT if pattern.search(line)]


def test_code_in_text_finds_each_kind():
    page = "a == b\nk >= 1 and k <= 3\nsum(w)\nthe Seed\nREADME\nsee proofs/merge.py\nconvsym/render"
    found = code_in_text(["clean page", page])
    assert [f.split(" on page ")[0] for f in found] == [
        "'=='", "'>='", "'<='", "'sum('", "'seed'", "'README'", "a code path", "a code path"]
    assert all(" on page 2: " in f for f in found)
    assert code_in_text(["k \u2265 1, \u2211 w, a = b, merge.sequential-1d (1.1)"]) == []


@pytest.mark.latex
def test_the_text_is_a_book_not_code(book_pages):
    offenders = code_in_text(book_pages)
    assert offenders == [], f"{len(offenders)} lines with code notation:\n" + "\n".join(offenders)


def _page_of(pages: list[str], heading: str) -> int | None:
    """The number of the first page that opens with ``heading`` (a chapter's first page)."""
    return next((number for number, page in enumerate(pages, start=1)
                 if next((line.strip() for line in page.splitlines() if line.strip()), "") == heading), None)


@pytest.mark.latex
def test_the_front_matter_is_there(book_pages):
    pages = {heading: _page_of(book_pages, heading)
             for heading in ("Introduction", "Notation", "How to read this book", "Summary of results",
                             "Limitations", "Bibliography", "How to cite this book")}
    assert None not in pages.values(), pages
    # in the order of a book, the chapters after them
    assert (pages["How to cite this book"] < pages["Introduction"] < pages["Notation"]
            < pages["Summary of results"] < pages["Limitations"])
    first_chapter = _page_of(book_pages, "Chapter 1")
    assert first_chapter is not None and pages["Limitations"] < first_chapter < pages["Bibliography"]
    # the summary lists every theorem with its page: as many rows as the index of theorems
    summary = "\n".join(book_pages[pages["Summary of results"] - 1:pages["Limitations"] - 1])
    rows = set(re.findall(r"^(\d+\.\d+) ", summary, re.MULTILINE))
    theorems = re.findall(r"\\csindexentry\{", "".join(_sources().values()))
    assert len(rows) == len(theorems) > 0
    # how to cite: a BibTeX entry with the version of the title page
    cite = book_pages[pages["How to cite this book"] - 1]
    assert "@manual{convsym," in cite and re.search(r"edition = \{Version \S+\}", cite)


#: Control words of the chapters that need no entry in the notation: typesetting, the document's
#: own macros, and the standard mathematics every reader knows (relations, sums, fractions).
STANDARD_MACROS = frozenset("""
    addcontentsline allowbreak arraycolsep bigl bigr csclause csdisplay csfigure csindexentry cspiece
    csrel draw filldraw hline item node noindent nopagebreak numberline par paragraph path protect
    resizebox scriptsize setlength smallskip texorpdfstring textasciicircum textasciitilde
    textbackslash textbar textbf textgreater textless texttt thetheorem thminfo thmref tiny
    begin end label needspace baselineskip linewidth centering small toprule midrule bottomrule
    emph text mathrm mathtt operatorname mathbb mathrel substack colorbox raggedleft
    frac tfrac sum prod left right cdot times dots quad qquad colon le leq ge geq ne neq in
    to iff implies leftrightarrow mapsto subseteq cap cup emptyset log lor land sqrt deg min max
    Delta rho
    arabic caption definecolor ref shortstack tabcolsep textit raggedright arraybackslash endhead
    csrec csrecentry csrecinstances csrecmark csrecthm pageref phantomsection setcounter mathit forall
""".split())


def test_every_symbol_of_the_chapters_is_in_the_notation():
    sources = _sources()
    main = sources["latex/main.tex"]
    assert r"\chapter{Notation}" in main, "main.tex has no notation chapter"
    notation = main[main.index(r"\chapter{Notation}"):main.index(r"\chapter{How to read this book}")]
    explained = set(re.findall(r"\\([A-Za-z]+)", notation))
    used: dict[str, str] = {}
    for path, text in sources.items():
        if path != "latex/main.tex":
            # a line break (two backslashes) is not the start of a control word
            for word in re.findall(r"\\([A-Za-z]+)", text.replace("\\\\", " ")):
                used.setdefault(word, path)
    unexplained = sorted(f"\\{word} ({path})" for word, path in used.items()
                         if word not in explained and word not in STANDARD_MACROS)
    assert unexplained == [], f"symbols used but not in the notation: {unexplained}"
    # the operators of the book, named once in the notation with their meaning
    for symbol in (r"\star", r"\star_{s,d}", r"\star_G", r"\star^{\mathrm{dw}}", r"x * w", r"\mathrm{PS}_r",
                   r"\Sigma w", r"\lfloor", "NCHW"):
        assert symbol in notation, symbol


def test_every_step_label_is_explained_in_how_to_read():
    sources = _sources()
    main = sources["latex/main.tex"]
    how = main[main.index(r"\chapter{How to read this book}"):main.index(r"\chapter{Summary of results}")]
    explained = set(re.findall(r"\\item\[([^\]]+)\]", how))
    used: dict[str, str] = {}
    for path, text in sources.items():
        if path != "latex/main.tex":
            for label in re.findall(r"^\\item \\textbf\{([^}]*)\}:", text, re.MULTILINE):
                used.setdefault(label, path)
    assert {"definition", "fold", "algebra"} <= set(used), sorted(used)
    unexplained = sorted(f"{label} ({path})" for label, path in used.items() if label not in explained)
    assert unexplained == [], f"step labels used but not explained in How to read: {unexplained}"


def test_the_changed_part_of_a_rewrite():
    before = r"b + \sum_{a} w_{a} (x_{i + a} + y_{i + a}) + c"
    after = r"b + \sum_{a} (w_{a} x_{i + a} + w_{a} y_{i + a}) + c"
    assert changed_part(before, after) == r"(w_{a} x_{i + a} + w_{a} y_{i + a})"
    # only the inserted factor; a change across groups widens to the smallest group around it
    assert changed_part(r"\sum_{a} w_{a} x_{i + a} + q", r"\sum_{a} w_{a} x_{2 i + a} + q") == "2"
    assert changed_part(r"q + \frac{a}{b} + c", r"q + \frac{a + 1}{b + 1} + c") == r"\frac{a + 1}{b + 1}"
    # the bounds of a sum go with the sum
    summand = r" {w^{(1)}}_{a} {w^{(2)}}_{b} {x}_{a + b + i} + b_{2} + b_{1} \Sigma w^{(2)}"
    assert changed_part(r"\sum_{b=0}^{k} \sum_{a=0}^{m}" + summand, r"\sum_{a=0}^{m} \sum_{b=0}^{k}" + summand) == (
        r"\sum_{a=0}^{m} \sum_{b=0}^{k}")
    assert changed_part("a + b", "a + b") == ""
    # a change of (almost) everything is not set apart
    assert changed_part("x", r"\sum_{t} W_{t} y_{t}") == ""
    with pytest.raises(RenderError, match="changed_part: expected two formulas as str"):
        changed_part(None, "x")


def test_a_tautology_is_recognised():
    assert is_tautology("n = n") and is_tautology(r"H_{\mathrm{out}} = H_{\mathrm{out}} ")
    assert not is_tautology("n = m") and not is_tautology("n = n = n") and not is_tautology("n")
    assert not is_tautology(r"\{n = n\} \le 1 = 1 + 0")
    with pytest.raises(RenderError, match="is_tautology: expected a formula as str"):
        is_tautology(3)
# ---------------------------------------------------------------------------------------------
# recorded data: the whole-model totals (costs chapter) and the validation report (appendix)

DATA = Path(__file__).resolve().parents[2] / "proofs" / "data"


@pytest.mark.latex
def test_the_model_totals_table_is_in_the_costs_chapter(book_pages):
    from convsym.render.reports import model_name

    data = json.loads((DATA / "model_totals.json").read_text(encoding="utf-8"))
    page = next((p for p in book_pages if "Measured data, not part of the proof" in p), None)
    assert page is not None, "no page holds the whole-model totals"
    assert "SHAPES AND COSTS" in page.upper()
    for arch in data["architectures"]:
        assert model_name(arch["name"]) in page
    # one "=" per model and tool: every recorded total equals the tool's own
    equal = sum(entry["equal"] for arch in data["architectures"] for entry in arch["tools"].values())
    assert equal == len(data["architectures"]) * len(data["tools"])
    assert len(re.findall(r"\d =$", page, re.MULTILINE)) >= equal
    words = " ".join(page.split())  # a caption may break a line between a tool and its version
    for tool in data["tools"]:
        assert f"{tool} {data['versions'][tool]}" in words


@pytest.mark.latex
def test_the_validation_report_is_an_appendix(book_pages):
    data = json.loads((DATA / "validation_resnet18.json").read_text(encoding="utf-8"))
    start = next((n for n, p in enumerate(book_pages) if re.search(r"^Appendix [A-Z]\s+Validating an optimized "
                                                                      r"network", p, re.MULTILINE)), None)
    assert start is not None, "no appendix 'Validating an optimized network'"
    text = "\n".join(book_pages[start:start + 3])
    assert "measured data, not a proof of this book" in text
    assert f"{data['counts']['verified']} verified" in text
    # the grouped rows: the conv+BN folds once, with their theorem and its number
    folds = sum(1 for node in data["nodes"] if node["theorem"] == "folding.bn-after-conv-exact")
    assert folds > 1 and re.search(r"folding\.bn-after-conv-exact \(\d+\.\d+\)", text)
    assert "Conv from Conv + BatchNorm" in text and str(folds) in text.split()


# ---------------------------------------------------------------------------------------------
# the machine record


@pytest.mark.latex
def test_the_machine_record_is_an_appendix_per_chapter(book_pages):
    start = next((n for n, p in enumerate(book_pages) if re.search(r"^Appendix [A-Z]\s+Machine record\s*$", p,
                                                                       re.MULTILINE)), None)
    assert start is not None, "no appendix 'Machine record'"
    record = "\n".join(book_pages[start:])
    chapters = sorted({int(n) for n in re.findall(r"^Chapter (\d+)$", "\n".join(book_pages[:start]), re.MULTILINE)})
    sections = [int(n) for n in re.findall(r"Machine record for Chapter (\d+)$", record, re.MULTILINE)]
    assert chapters and sections == chapters
    # every step of the chapters links to its record, and each record names its step and page
    links = set(re.findall(r"record (\d+\.\d+\.\d+)", "\n".join(book_pages[:start])))
    # pdftotext may split an entry's header where the line holds a tall formula ("Record" and its
    # number on two lines, "page82", a control character before a link): only the words are checked
    entries = set(re.findall(r"Record\W+(\d+\.\d+\.\d+)\W+step\W+\d+\W+page\W*\d+\)", record))
    assert links and links <= entries
    assert len(entries) == len(re.findall(r"\\csrecentry\{", _sources().get("latex/record.tex", "")))
