"""The ``generated/`` tree: proving, rendering, writing and checking it.

:func:`build_tree` is a pure function from verdicts to ``{posix path: text}``; nothing in it
depends on time, on the machine or on ``PYTHONHASHSEED``, so rebuilding an unchanged project
gives the same bytes.  Layout (paths relative to ``generated/``)::

    latex/main.tex            the document: preamble, title, contents, one \\input per family
    latex/<family>.tex        one chapter per family
    latex/record.tex          the machine record appendix (and validation.tex, when it ships)
    checks/test_<family>.py   the emitted numeric checks of the family
    formulas/...              exported formulas (passed in as ``extra``)
    convsym.pdf               the compiled document, when LaTeX is installed
    MANIFEST.json             {file, sha256, theorems} of every other file, sorted by file;
                              for convsym.pdf {file, source_sha256, theorems} instead

:func:`write_tree` owns only ``latex/``, ``checks/``, ``formulas/``, ``MANIFEST.json`` and
``convsym.pdf`` under the output folder; other files there are never touched.

The PDF is the one file whose bytes depend on the TeX installation (its version, its fonts), so
it is identified by what it was built from, never by its bytes: :func:`source_hash` of the
``latex/`` files.  ``main.tex`` carries that hash in the PDF's Keywords
(``convsym-source-sha256:<hex>``) and the manifest records it as the PDF's ``source_sha256``.
:func:`check` compares every other file byte for byte and the PDF by the hash it records, so a
different TeX gives a different but valid PDF; it never runs LaTeX.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convsym.errors import RenderError
from convsym.proof.verdict import Family, Verdict
from convsym.render.checks import check_source_of, render_checks
from convsym.render.latex import HEADER, render_chapter, render_main, render_record
from convsym.render.reports import validation_appendix
from convsym.run.registry import (
    default_proof_dir,
    failed_verdict,
    load_file,
    proof_files,
    prove_one,
    select,
)

Results = list[tuple[Family, list[tuple[Verdict, Any]]]]

OWNED_DIRS = ("latex", "checks", "formulas")
MANIFEST = "MANIFEST.json"
#: The recorded translation-validation report the appendix prints (``convsym validate``'s JSON),
#: in the shipped proofs' data folder, and the LaTeX file of that appendix (main.tex inputs it
#: when the tree has it).
VALIDATION_REPORT = "validation_resnet18.json"
VALIDATION_TEX = "latex/validation.tex"
#: The machine record appendix (every step's side conditions, z3 queries and instances).
RECORD_TEX = "latex/record.tex"
PDF = "convsym.pdf"
#: Folders tools leave next to generated files (pytest runs generated/checks); never compared.
IGNORED_DIRS = ("__pycache__", ".pytest_cache")
LATEX_TIMEOUT_SECONDS = 600
LOG_TAIL_LINES = 40
#: How main.tex names the hash of the LaTeX sources in the PDF's Keywords: this prefix, 64 hex.
SOURCE_KEY = "convsym-source-sha256:"
_SOURCE_FIELD = re.compile(re.escape(SOURCE_KEY) + "[0-9a-f]{64}")
#: The Keywords entry of a PDF's document information: a literal or a hexadecimal string.
_PDF_KEYWORDS = re.compile(rb"/Keywords\s*(\((?:\\.|[^\\()])*\)|<[0-9A-Fa-f\s]*>)", re.DOTALL)
_PDF_ESCAPE = re.compile(rb"\\([0-7]{1,3}|\r\n|.)", re.DOTALL)
_PDF_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f",
                b"\r\n": b"", b"\n": b"", b"\r": b""}
_UNSET_SOURCE = SOURCE_KEY + "0" * 64

#: Every file the document needs from TeX, checked with kpsewhich before latexmk runs:
#: (file, Debian package, TeX Live package).  The fonts are Latin Modern (Type 1, vector) in the
#: T1 encoding; nothing falls back to other fonts when a package is missing.
LATEX_FILES = (
    ("book.cls", "texlive-latex-base", "latex"),
    ("fontenc.sty", "texlive-latex-base", "latex"),
    ("lmodern.sty", "lmodern", "lm"),
    ("t1lmr.fd", "lmodern", "lm"),
    ("lmr10.pfb", "lmodern", "lm"),
    ("amsmath.sty", "texlive-latex-base", "amsmath"),
    ("amssymb.sty", "texlive-base", "amsfonts"),
    ("amsthm.sty", "texlive-latex-base", "amscls"),
    ("booktabs.sty", "texlive-latex-recommended", "booktabs"),
    ("longtable.sty", "texlive-latex-base", "tools"),
    ("tabularx.sty", "texlive-latex-base", "tools"),
    ("graphicx.sty", "texlive-latex-base", "graphics"),
    ("xcolor.sty", "texlive-latex-recommended", "xcolor"),
    ("tikz.sty", "texlive-pictures", "pgf"),
    ("geometry.sty", "texlive-latex-base", "geometry"),
    ("microtype.sty", "texlive-latex-recommended", "microtype"),
    ("enumitem.sty", "texlive-latex-extra", "enumitem"),
    ("needspace.sty", "texlive-latex-extra", "needspace"),
    ("hyperref.sty", "texlive-latex-base", "hyperref"),
)


# ---------------------------------------------------------------------------------------------
# the tree


def _sha256(data: str | bytes) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def source_hash(files: Mapping[str, str | bytes]) -> str:
    """The sha256 of what the PDF is built from: every ``latex/`` file of ``files``.

    Path, size and bytes of each file, by path; in ``latex/main.tex`` the hash field itself
    (``convsym-source-sha256:<hex>``) counts as 64 zeros, so the hash can be written into the
    document it describes.  The templates and figures are in it through the LaTeX they render.
    """
    digest = hashlib.sha256()
    for path in sorted(files):
        if not path.startswith("latex/"):
            continue
        content = files[path]
        if path == "latex/main.tex" and isinstance(content, str):
            content = _SOURCE_FIELD.sub(_UNSET_SOURCE, content)
        data = content.encode("utf-8") if isinstance(content, str) else content
        digest.update(f"{path}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _pdf_string(token: bytes) -> str:
    """The text of a PDF string token, ``(literal)`` or ``<hex>``, in PDFDoc or UTF-16."""
    if token.startswith(b"<"):
        data = bytes.fromhex(re.sub(rb"\s", b"", token[1:-1]).decode("ascii"))
    else:
        def unescape(match: re.Match[bytes]) -> bytes:
            code = match.group(1)
            if code[:1].isdigit():
                return bytes([int(code, 8) & 0xFF])
            return _PDF_ESCAPES.get(code, code)

        data = _PDF_ESCAPE.sub(unescape, token[1:-1])
    if data.startswith(b"\xfe\xff"):
        return data[2:].decode("utf-16-be", errors="replace")
    return data.decode("latin-1")


def recorded_source_hash(pdf: bytes) -> str | None:
    """The source hash a PDF built by convsym records in its Keywords, or None.

    hyperref writes the Keywords as a UTF-16 string with octal escapes, so the string is
    decoded rather than searched for as bytes.
    """
    for match in _PDF_KEYWORDS.finditer(pdf):
        found = _SOURCE_FIELD.search(_pdf_string(match.group(1)))
        if found:
            return found.group(0)[len(SOURCE_KEY):]
    return None


def manifest_text(files: Mapping[str, str | bytes], theorems: Mapping[str, Sequence[str]]) -> str:
    """``MANIFEST.json``: ``{"files": [{file, sha256, theorems}, ...], "generated": HEADER}``.

    Every file of ``files`` except the manifest itself, sorted by path; ``theorems`` lists, per
    file, the names of the theorems the file is about (empty for files about none).  The PDF's
    bytes depend on the TeX installation, so its entry has ``source_sha256`` (the
    :func:`source_hash` of the LaTeX sources it is built from) instead of ``sha256``.
    """
    entries = [
        {"file": path,
         **({"source_sha256": source_hash(files)} if path == PDF else {"sha256": _sha256(files[path])}),
         "theorems": list(theorems.get(path, ()))}
        for path in sorted(files)
        if path != MANIFEST
    ]
    return json.dumps({"files": entries, "generated": HEADER}, indent=2, sort_keys=True) + "\n"


def _owned(path: str) -> bool:
    return path in (MANIFEST, PDF) or path.split("/", 1)[0] in OWNED_DIRS and "/" in path


def validation_report_tex(names: Iterable[str]) -> str | None:
    """The appendix printing the recorded validation report, when every theorem the report
    cites is among ``names`` (the book's theorems) and the report ships; None otherwise."""
    path = default_proof_dir() / "data" / VALIDATION_REPORT
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    cited = {node["theorem"] for node in data.get("nodes", ()) if node.get("theorem")}
    if not cited or not cited <= set(names):
        return None
    return f"% {HEADER}\n" + validation_appendix(data)


def build_tree(results: Results, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The text files of ``generated/`` for ``results`` = ``[(Family, [(Verdict, Theorem)])]``.

    Families appear in the given order (``run_all`` sorts them by ``(order, name)``), theorems
    in definition order.  ``extra`` adds text files under ``formulas/`` (the exported formulas);
    they are listed in the manifest like the rest.  The PDF is added by :func:`with_pdf`.
    """
    tree: dict[str, str] = {}
    theorems: dict[str, list[str]] = {}
    seen: set[str] = set()
    for family, entries in results:
        if family.name == "main":
            raise ValueError("build_tree: family name 'main' is reserved for latex/main.tex")
        if family.name in seen:
            raise ValueError(f"build_tree: family {family.name!r} appears twice in the results")
        seen.add(family.name)
        names = [verdict.name for verdict, _ in entries]
        tree[f"latex/{family.name}.tex"] = render_chapter(family, [v for v, _ in entries])
        theorems[f"latex/{family.name}.tex"] = names
        tree[f"checks/test_{family.name}.py"] = render_checks(family, entries)
        theorems[f"checks/test_{family.name}.py"] = [
            t.name for v, t in entries if check_source_of((v, t)).strip()
        ]
    appendix = validation_report_tex(v.name for _, entries in results for v, _ in entries)
    if appendix is not None:
        tree[VALIDATION_TEX] = appendix
        theorems[VALIDATION_TEX] = []
    tree[RECORD_TEX] = render_record([(family, [v for v, _ in entries]) for family, entries in results])
    theorems[RECORD_TEX] = [v.name for _, entries in results for v, _ in entries if v.steps]
    main = render_main([family for family, _ in results], [v for _, entries in results for v, _ in entries])
    if main.count(_UNSET_SOURCE) != 1:
        raise RenderError(f"build_tree: main.tex must hold the field {_UNSET_SOURCE!r} once")
    tree["latex/main.tex"] = main
    theorems["latex/main.tex"] = [v.name for _, entries in results for v, _ in entries]
    for path, text in sorted((extra or {}).items()):
        if not path.startswith("formulas/") or path in tree:
            raise ValueError(f"build_tree: extra file {path!r} must be a new file under formulas/")
        tree[path] = text
    tree["latex/main.tex"] = main.replace(_UNSET_SOURCE, SOURCE_KEY + source_hash(tree))
    tree[MANIFEST] = manifest_text(tree, theorems)
    return dict(sorted(tree.items()))


def with_pdf(tree: Mapping[str, str], pdf: bytes | None) -> dict[str, str | bytes]:
    """The tree plus ``convsym.pdf`` (about every theorem), with the manifest updated.

    The manifest does not depend on the PDF's bytes, only on its being there.
    """
    files: dict[str, str | bytes] = dict(tree)
    if pdf is None:
        return files
    manifest = json.loads(tree[MANIFEST])
    theorems = {e["file"]: e["theorems"] for e in manifest["files"]}
    theorems[PDF] = theorems.get("latex/main.tex", [])
    files[PDF] = pdf
    files[MANIFEST] = manifest_text(files, theorems)
    return files


# ---------------------------------------------------------------------------------------------
# LaTeX


def latex_available() -> bool:
    """latexmk is installed and so is every file of :data:`LATEX_FILES`."""
    return latex_problem() is None


def missing_latex_files() -> list[tuple[str, str, str]]:
    """The entries of :data:`LATEX_FILES` that ``kpsewhich`` does not find (empty when
    kpsewhich itself is not installed: then latexmk will tell)."""
    kpsewhich = shutil.which("kpsewhich")
    if kpsewhich is None:
        return []
    try:
        proc = subprocess.run(
            [kpsewhich, *(name for name, _, _ in LATEX_FILES)], stdin=subprocess.DEVNULL,
            capture_output=True, text=True, errors="replace", timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = {Path(line.strip()).name for line in proc.stdout.splitlines() if line.strip()}
    return [entry for entry in LATEX_FILES if entry[0] not in found]


def latex_problem() -> str | None:
    """Why the PDF cannot be built on this machine, naming what to install; None when it can."""
    if shutil.which("latexmk") is None:
        return "latexmk is not installed"
    missing = missing_latex_files()
    if not missing:
        return None
    files = ", ".join(name for name, _, _ in missing)
    debian = " ".join(dict.fromkeys(deb for _, deb, _ in missing))
    texlive = " ".join(dict.fromkeys(tl for _, _, tl in missing))
    return (f"LaTeX cannot find {files}: install the Debian package(s) {debian} "
            f"(apt-get install {debian}) or the TeX Live package(s) {texlive} "
            f"(tlmgr install {texlive})")


def _latex_required() -> bool:
    return os.environ.get("CONVSYM_REQUIRE_LATEX") == "1"


@dataclass(frozen=True)
class LatexRun:
    """A compiled document: the PDF bytes and the text of LaTeX's log of the last run."""

    pdf: bytes
    log: str


def compile_latex(tree: Mapping[str, str]) -> LatexRun | None:
    """Compile ``latex/main.tex`` of ``tree`` with latexmk; the PDF and the log.

    Runs ``latexmk -pdf -interaction=nonstopmode -halt-on-error main.tex`` in a temporary folder
    with ``SOURCE_DATE_EPOCH=0 FORCE_SOURCE_DATE=1 TZ=UTC`` (with the ``\\pdfinfoomitdate``/
    ``\\pdftrailerid`` settings of ``main.tex`` this makes the bytes reproducible) and
    ``max_print_line`` large, so that no message of the log is wrapped.  Returns None when
    latexmk or a file of :data:`LATEX_FILES` is missing (see :func:`latex_problem`), unless
    ``CONVSYM_REQUIRE_LATEX=1``: then that raises RenderError naming what to install.  A LaTeX
    error raises RenderError with the tail of the log.
    """
    latexmk = shutil.which("latexmk")
    if latexmk is None:
        if _latex_required():
            raise RenderError("compile_pdf: latexmk not found and CONVSYM_REQUIRE_LATEX=1")
        return None
    problem = latex_problem()
    if problem is not None:
        if _latex_required():
            raise RenderError(f"compile_pdf: {problem} (CONVSYM_REQUIRE_LATEX=1)")
        return None
    if "latex/main.tex" not in tree:
        raise RenderError("compile_pdf: the tree has no latex/main.tex")
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1", TZ="UTC",
               max_print_line="100000")
    with tempfile.TemporaryDirectory(prefix="convsym-latex-") as tmp:
        folder = Path(tmp)
        for path, text in tree.items():
            if path.startswith("latex/"):
                target = folder / path[len("latex/"):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8", newline="")
        command = [latexmk, "-norc", "-pdf", "-interaction=nonstopmode", "-halt-on-error",
                   "main.tex"]
        try:
            proc = subprocess.run(
                command, cwd=folder, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                text=True, errors="replace", timeout=LATEX_TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired as exc:
            raise RenderError(
                f"compile_pdf: latexmk did not finish in {LATEX_TIMEOUT_SECONDS} s"
            ) from exc
        pdf = folder / "main.pdf"
        log = folder / "main.log"
        text = (log.read_text(encoding="utf-8", errors="replace") if log.is_file()
                else proc.stdout + proc.stderr)
        if proc.returncode != 0 or not pdf.is_file():
            tail = "\n".join(text.splitlines()[-LOG_TAIL_LINES:])
            raise RenderError(
                f"compile_pdf: latexmk exited with {proc.returncode}; tail of the log:\n{tail}"
            )
        return LatexRun(pdf.read_bytes(), text)


def compile_pdf(tree: Mapping[str, str]) -> bytes | None:
    """The PDF bytes of :func:`compile_latex` (None when LaTeX cannot run here)."""
    run = compile_latex(tree)
    return None if run is None else run.pdf


def pdf_built_from(pdf: bytes | None, tree: Mapping[str, str]) -> bool:
    """``pdf`` records the :func:`source_hash` of the LaTeX sources of ``tree``."""
    return pdf is not None and recorded_source_hash(pdf) == source_hash(tree)


def build_pdf(tree: Mapping[str, str], out_dir: Path | str) -> tuple[bytes | None, str | None]:
    """The PDF ``convsym build`` writes into ``out_dir`` for ``tree``, and a note for the user.

    A ``convsym.pdf`` already in ``out_dir`` that was built from exactly these LaTeX sources is
    kept as it is (on another TeX it would compile to other bytes: the committed one stays
    unchanged); delete it to compile anew.  Otherwise the PDF is compiled; None (and a note
    naming what to install) when LaTeX cannot run here.
    """
    committed = Path(out_dir) / PDF
    if committed.is_file():
        data = committed.read_bytes()
        if pdf_built_from(data, tree):
            return data, f"{PDF} is up to date (built from these LaTeX sources): not recompiled"
    pdf = compile_pdf(tree)
    if pdf is None:
        return None, f"{latex_problem() or 'LaTeX cannot run'}, so {PDF} was not built"
    return pdf, None


# ---------------------------------------------------------------------------------------------
# the folder


def _walk_owned(out_dir: Path) -> list[str]:
    """POSIX paths of the files under ``out_dir`` that the build owns."""
    found: list[str] = []
    for top in (MANIFEST, PDF):
        if (out_dir / top).is_file():
            found.append(top)
    for folder in OWNED_DIRS:
        base = out_dir / folder
        if not base.is_dir():
            continue
        for root, dirs, files in os.walk(base):
            dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS)
            for name in files:
                found.append((Path(root) / name).relative_to(out_dir).as_posix())
    return sorted(found)


def write_tree(tree: Mapping[str, str], out_dir: Path | str, pdf: bytes | None = None) -> list[str]:
    """Write ``tree`` (and ``convsym.pdf`` when ``pdf`` is given) under ``out_dir``.

    Files whose content is unchanged are not rewritten.  Owned files not in the tree are
    removed, including an old ``convsym.pdf`` when ``pdf`` is None (it would describe other
    LaTeX); nothing outside the owned paths is touched.  Returns the paths removed.
    """
    out = Path(out_dir)
    files = with_pdf(tree, pdf)
    for path in files:
        if not _owned(path):
            raise ValueError(f"write_tree: {path!r} is not a path the build owns")
    out.mkdir(parents=True, exist_ok=True)
    removed = [path for path in _walk_owned(out) if path not in files]
    for path in removed:
        (out / path).unlink()
    for folder in OWNED_DIRS:
        base = out / folder
        # deepest first, so a folder emptied by removing its sub-folders goes too
        for sub in sorted(base.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if sub.is_dir() and sub.name not in IGNORED_DIRS and not any(sub.iterdir()):
                sub.rmdir()
    for path, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        target = out / path
        if target.is_file() and target.read_bytes() == data:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return removed


# ---------------------------------------------------------------------------------------------
# proving


_WORKER_CACHE: dict[tuple[str, ...], list] = {}


def _sources(pf) -> tuple[str, ...]:
    """Every script of a proof file (a chapter may span several section scripts)."""
    return tuple(str(s) for s in (pf.sources or (pf.path,)))


def _prove_in_worker(paths: tuple[str, ...], name: str) -> Verdict:
    # Theorems hold SymPy objects and closures; re-loading the scripts here means only the
    # Verdict crosses the process boundary.
    if paths not in _WORKER_CACHE:
        _WORKER_CACHE[paths] = [t for path in paths for t in load_file(path).theorems]
    for theorem in _WORKER_CACHE[paths]:
        if theorem.name == name:
            return prove_one(theorem)
    raise RenderError(f"run_all: theorem {name!r} vanished from {', '.join(paths)}")


def run_all(
    proof_dirs: Iterable[Path | str] | None = None,
    names: Iterable[str] | None = None,
    jobs: int = 1,
    progress: Callable[[Any, Verdict | None], None] | None = None,
) -> Results:
    """Prove the selected theorems; ``[(Family, [(Verdict, Theorem), ...]), ...]``.

    Families by ``(order, name)``, theorems in definition order whatever ``jobs`` is; families
    with no selected theorem are left out.  ``jobs > 1`` proves in that many processes (forked
    workers reuse the scripts loaded here).  ``progress(theorem, verdict)`` is called as each proof finishes,
    and, when proving in this process, ``progress(theorem, None)`` just before it starts.
    Unknown names raise ValueError (see :func:`convsym.run.registry.select`).
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"run_all: jobs={jobs!r} must be a positive integer")
    files = proof_files(proof_dirs)
    chosen = {id(t) for t in select([(pf.family, list(pf.theorems)) for pf in files], names)}
    work = [(pf, t) for pf in files for t in pf.theorems if id(t) in chosen]
    verdicts: dict[int, Verdict] = {}
    if jobs == 1 or len(work) <= 1:
        from convsym.proof.checked import remember_proved

        for _, theorem in work:
            if progress is not None:
                progress(theorem, None)
            verdicts[id(theorem)] = verdict = prove_one(theorem)
            remember_proved(theorem, verdict)  # a lemma citing it later uses this verdict
            if progress is not None:
                progress(theorem, verdict)
    else:
        # Workers forked from here inherit the scripts already loaded above, so they do not
        # re-run them (under the "spawn" start method they still load each script once).
        _WORKER_CACHE.update((_sources(pf), list(pf.theorems)) for pf in files)
        with ProcessPoolExecutor(max_workers=min(jobs, len(work))) as pool:
            futures = {
                pool.submit(_prove_in_worker, _sources(pf), t.name): t for pf, t in work
            }
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: futures[f].name):
                    theorem = futures[future]
                    try:
                        verdict = future.result()
                    except Exception as exc:  # the worker died or could not re-load the file
                        verdict = failed_verdict(
                            theorem, f"proving in a worker raised {type(exc).__name__}: {exc}"
                        )
                    verdicts[id(theorem)] = verdict
                    if progress is not None:
                        progress(theorem, verdict)
    results: Results = []
    for pf in files:
        entries = [(verdicts[id(t)], t) for t in pf.theorems if id(t) in verdicts]
        if entries:
            results.append((pf.family, entries))
    return results


# ---------------------------------------------------------------------------------------------
# check


def build(
    out_dir: Path | str,
    proof_dirs: Iterable[Path | str] | None = None,
    jobs: int = 1,
    progress: Callable[[Any, Verdict | None], None] | None = None,
    extra: Mapping[str, str] | None = None,
) -> tuple[Results, dict[str, str], bytes | None]:
    """Prove everything, render, compile the PDF (when possible, see :func:`build_pdf`) and
    write ``out_dir``."""
    results = run_all(proof_dirs, jobs=jobs, progress=progress)
    tree = build_tree(results, extra)
    pdf, _ = build_pdf(tree, out_dir)
    write_tree(tree, out_dir, pdf)
    return results, tree, pdf


def diff_dirs(expected: Path, actual: Path, skip: Sequence[str] = ()) -> list[str]:
    """``stale: path`` / ``missing: path`` / ``extra: path`` for the owned files that differ."""
    want = set(_walk_owned(expected)) - set(skip)
    have = set(_walk_owned(actual)) - set(skip)
    problems = []
    for path in sorted(want | have):
        if path not in have:
            problems.append(f"missing: {path}")
        elif path not in want:
            problems.append(f"extra: {path}")
        elif (expected / path).read_bytes() != (actual / path).read_bytes():
            problems.append(f"stale: {path}")
    return problems


def check(
    out_dir: Path | str,
    proof_dirs: Iterable[Path | str] | None = None,
    jobs: int = 1,
    results: Results | None = None,
    notes: list[str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> list[str]:
    """Rebuild into a temporary folder and list what differs from ``out_dir`` (empty = fresh).

    Each entry is ``stale: <path>``, ``missing: <path>`` or ``extra: <path>``, by path.  Every
    file but the PDF is compared byte for byte.  The PDF is not rebuilt (its bytes depend on the
    TeX installation): it is fresh when the source hash it records is that of the rebuilt LaTeX
    sources.  A missing PDF is reported only where it could be built (latexmk and the packages
    of :data:`LATEX_FILES` installed).  What was done about the PDF is appended to ``notes``.
    """
    out = Path(out_dir)
    notes = notes if notes is not None else []
    if results is None:
        results = run_all(proof_dirs, jobs=jobs)
    tree = build_tree(results, extra)
    current = source_hash(tree)
    committed = out / PDF
    pdf: bytes | None = None
    pdf_problems: list[str] = []
    if committed.is_file():
        pdf = committed.read_bytes()
        recorded = recorded_source_hash(pdf)
        if recorded == current:
            notes.append(f"{PDF} was not rebuilt: it was built from the current LaTeX sources "
                         f"(source sha256 {current[:16]}... recorded in the PDF)")
        else:
            pdf_problems.append(f"stale: {PDF}")
            notes.append(
                f"{PDF} was built from other LaTeX sources: it records source sha256 "
                f"{recorded[:16] + '...' if recorded else '(none)'}, the current sources hash to "
                f"{current[:16]}..."
            )
    else:
        problem = latex_problem()
        if problem is None:
            pdf = b""  # the manifest the build would write lists the PDF
            pdf_problems.append(f"missing: {PDF}")
        elif problem == "latexmk is not installed":
            notes.append(f"latexmk is not installed: {PDF} was not rebuilt nor compared")
        else:
            notes.append(f"{PDF} was not rebuilt nor compared: {problem}")
    with tempfile.TemporaryDirectory(prefix="convsym-check-") as tmp:
        write_tree(tree, tmp, pdf)
        problems = diff_dirs(Path(tmp), out, skip=[PDF]) + pdf_problems
    return sorted(problems, key=lambda p: p.split(": ", 1)[1])
