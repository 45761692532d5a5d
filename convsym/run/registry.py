"""Finding, loading and selecting the theorems of the proof scripts.

A proof script (any ``*.py`` not starting with ``_`` in ``proofs/`` or in a folder given with
``--path``) binds a module-level ``FAMILY = Family(...)`` and module-level theorems: objects with
a ``prove`` method and a ``check_source`` attribute (instances of ``convsym.proof.Theorem``).
Loading keeps the order in which the script binds them; families are sorted by ``(order, name)``.

A family (one chapter, one emitted check file) may span several scripts, its *sections*: each
binds the same ``Family`` (equal values, typically one object imported from a ``_*.py`` module
next to them) and an integer ``SECTION``; the chapter lists the sections' theorems by
``(SECTION, file name)``, each section's in binding order.

A mistake in a user's script (it does not parse, it raises, it lacks ``FAMILY``, two theorems
share a name, a theorem is filed under the wrong family) raises :class:`ProofFileError`, whose
message starts with ``<file>:<line>:``.
"""

from __future__ import annotations

import ast
import difflib
import functools
import hashlib
import importlib.util
import inspect
import os
import sys
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convsym.errors import ConvsymError
from convsym.proof.verdict import NO_STRENGTH, Family, Verdict


class ProofFileError(ConvsymError):
    """A proof script could not be loaded; the message names the file and the line."""

    def __init__(self, path: Path | str, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


#: The ``convsym`` package folder (this module lives in ``convsym/run/``).
PACKAGE_DIR = Path(__file__).resolve().parent.parent


def source_checkout() -> Path | None:
    """The repository the ``convsym`` package is run from, or None when it is installed.

    A checkout (``pip install -e .``, or ``python -m convsym`` in the clone) has ``proofs/`` and
    ``pyproject.toml`` next to the ``convsym`` package folder; an installed package has neither.
    """
    root = PACKAGE_DIR.parent
    if (root / "proofs").is_dir() and (root / "pyproject.toml").is_file():
        return root
    return None


def default_proof_dir() -> Path:
    """The shipped proof scripts: the repository's ``proofs/`` in a checkout, else the copy
    installed with the package as ``convsym.proofs`` (``pyproject.toml`` maps the one to the
    other, so the folder stays at the top of the repository)."""
    root = source_checkout()
    if root is not None:
        return root / "proofs"
    return PACKAGE_DIR / "proofs"


def default_out_dir() -> Path:
    """Where ``convsym build`` and ``convsym check`` write and compare without ``--out``: the
    repository's ``generated/`` in a checkout, else ``generated/`` in the current folder."""
    root = source_checkout()
    return (root if root is not None else Path.cwd()) / "generated"


def is_theorem(obj: Any) -> bool:
    """A theorem is any instance (not class) with ``prove`` and ``check_source``.

    The attributes are looked up without being computed: a theorem reads its check's source only
    when the source is needed."""
    return (
        not isinstance(obj, type)
        and _has(obj, "prove")
        and _has(obj, "check_source")
        and _has(obj, "name")
    )


def _has(obj: Any, name: str) -> bool:
    try:
        inspect.getattr_static(obj, name)
    except AttributeError:
        return False
    return True


@dataclass(frozen=True)
class ProofFile:
    """The theorems of one family in definition order, with the script(s) they come from.

    ``load_file`` gives one script (``sources == (path,)``); ``proof_files`` joins the sections
    of a family spread over several scripts into one ProofFile whose ``path`` is its first
    section and ``sources`` all of them, in order.
    """

    path: Path
    family: Family
    theorems: tuple[Any, ...]
    section: int = 0
    sources: tuple[Path, ...] = ()


def _section(namespace: Mapping[str, Any], path: Path, lines: Mapping[str, int]) -> int:
    section = namespace.get("SECTION", 0)
    if not isinstance(section, int) or isinstance(section, bool):
        raise ProofFileError(path, lines.get("SECTION"),
                             f"SECTION must be an int (the place of this script in its family), "
                             f"got {section!r}")
    return section


# ---------------------------------------------------------------------------------------------
# loading


def _module_name(path: Path) -> str:
    # unique per file, stable across runs and processes (no id(), no hash())
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    stem = "".join(ch if ch.isalnum() else "_" for ch in path.stem)
    return f"_convsym_proof_{stem}_{digest}"


def _line_in(path: Path, exc: BaseException) -> int | None:
    """The line of ``path`` the traceback of ``exc`` passes through last."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == path:
            line = frame.lineno
    return line


def _binding_lines(source: str) -> dict[str, int]:
    """Top-level name -> line of its last binding statement."""
    return dict(_parsed_binding_lines(source))


@functools.lru_cache(maxsize=256)
def _parsed_binding_lines(source: str) -> dict[str, int]:
    # kept by source text: a script of a family in several sections is read again to check
    # that it declares SECTION (see proof_files), and its source has not changed meanwhile
    lines: dict[str, int] = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name):
                        lines[sub.id] = node.lineno
    return lines


def collect(namespace: Mapping[str, Any], path: Path | str = "<script>",
            lines: Mapping[str, int] | None = None) -> tuple[Family, list[Any]]:
    """FAMILY and the theorems a module namespace binds, in binding order.

    Raises ProofFileError when FAMILY is missing or not a Family, when two theorems share a
    name, or when a theorem's name does not start with ``<FAMILY.name>.``.
    """
    lines = lines or {}
    family = namespace.get("FAMILY")
    if family is None:
        raise ProofFileError(path, None, "no module-level FAMILY = Family(...) in the proof script")
    if not isinstance(family, Family):
        raise ProofFileError(
            path, lines.get("FAMILY"),
            f"FAMILY must be a convsym.proof.verdict.Family, got {type(family).__name__}",
        )
    theorems: list[Any] = []
    seen: dict[str, str] = {}
    for var, obj in namespace.items():
        if var.startswith("__") or not is_theorem(obj) or any(obj is t for t in theorems):
            continue
        name = obj.name
        if not isinstance(name, str) or name.split(".", 1)[0] != family.name or "." not in name:
            raise ProofFileError(
                path, lines.get(var),
                f"theorem {var} is named {name!r}; names in this file must start with "
                f"'{family.name}.' (FAMILY.name)",
            )
        if name in seen:
            raise ProofFileError(
                path, lines.get(var),
                f"duplicate theorem name {name!r} (bound to {seen[name]} and {var})",
            )
        seen[name] = var
        theorems.append(obj)
    return family, theorems


def load_file(path: Path | str) -> ProofFile:
    """Import one proof script under a unique module name and collect its theorems.

    The script's folder is on ``sys.path`` while it runs, as it is under ``python script.py``,
    so scripts may share helpers in ``_*.py`` modules next to them.
    """
    path = Path(path).resolve()
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProofFileError(path, None, f"cannot read the proof script: {exc}") from exc
    try:
        lines = _binding_lines(source)
    except SyntaxError as exc:
        raise ProofFileError(path, exc.lineno, f"SyntaxError: {exc.msg}") from exc
    name = _module_name(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ProofFileError(path, None, "not importable as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look classes up by module name
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        line = exc.lineno if isinstance(exc, SyntaxError) and exc.filename == str(path) else None
        line = line or _line_in(path, exc)
        raise ProofFileError(path, line, f"{type(exc).__name__}: {exc}") from exc
    finally:
        try:
            sys.path.remove(str(path.parent))
        except ValueError:
            pass
    family, theorems = collect(vars(module), path, lines)
    return ProofFile(path, family, tuple(theorems), _section(vars(module), path, lines), (path,))


def proof_files(paths: Iterable[Path | str] | None = None) -> list[ProofFile]:
    """Load every ``*.py`` (not ``_*.py``) of the given folders or files, one ProofFile per family.

    Families come back sorted by ``(order, name)``; the scripts of one family are joined by
    ``(SECTION, file name)``.  A theorem name used in two files, or one family name bound to
    two different ``Family`` values (or, in two files, without ``SECTION``), is a ProofFileError
    naming both files.
    """
    folders = [default_proof_dir()] if paths is None else [Path(p) for p in paths]
    scripts: list[Path] = []
    for folder in folders:
        if folder.is_file():
            scripts.append(folder)
        elif folder.is_dir():
            scripts += sorted(
                (p for p in folder.glob("*.py") if not p.name.startswith("_")),
                key=lambda p: p.name,
            )
        else:
            raise ValueError(f"load_families: proof path {str(folder)!r} does not exist")
    parts: dict[str, list[ProofFile]] = {}
    names: dict[str, Path] = {}
    for script in scripts:
        pf = load_file(script)
        earlier = parts.setdefault(pf.family.name, [])
        if earlier:
            first = earlier[0]
            if pf.family != first.family:
                raise ProofFileError(
                    pf.path, None,
                    f"family {pf.family.name!r} is already defined in {first.path} with another "
                    f"title, intro or order (the sections of a family bind the same Family)",
                )
            if "SECTION" not in _declared(pf.path) or "SECTION" not in _declared(first.path):
                raise ProofFileError(
                    pf.path, None,
                    f"family {pf.family.name!r} is already defined in {first.path}; scripts "
                    f"sharing a family each bind SECTION = <int> to order them",
                )
        for theorem in pf.theorems:
            if theorem.name in names:
                raise ProofFileError(
                    pf.path, None,
                    f"theorem {theorem.name!r} is already defined in {names[theorem.name]}",
                )
            names[theorem.name] = pf.path
        earlier.append(pf)
    loaded: list[ProofFile] = []
    for sections in parts.values():
        sections.sort(key=lambda pf: (pf.section, pf.path.name))
        first = sections[0]
        loaded.append(ProofFile(
            first.path, first.family, tuple(t for pf in sections for t in pf.theorems),
            first.section, tuple(pf.path for pf in sections),
        ))
    loaded.sort(key=lambda pf: (pf.family.order, pf.family.name))
    return loaded


def _declared(path: Path) -> set[str]:
    """The top-level names a script binds (its source was parsed once already by load_file)."""
    return set(_binding_lines(path.read_text(encoding="utf-8")))


def load_families(paths: Iterable[Path | str] | None = None) -> list[tuple[Family, list[Any]]]:
    """``[(Family, [theorem, ...]), ...]`` of the proof scripts in ``paths`` (default:
    ``default_proof_dir()``), families by ``(order, name)``, theorems in definition order."""
    return [(pf.family, list(pf.theorems)) for pf in proof_files(paths)]


# --------------------------------------------------------------------------------------------
# the listing, cached by the bytes it depends on

#: ``convsym list`` reads its rows from here when every file they depend on is unchanged.
CACHE_ENV = "CONVSYM_CACHE_DIR"


def cache_dir() -> Path | None:
    """``$CONVSYM_CACHE_DIR``, else ``$XDG_CACHE_HOME/convsym`` (``~/.cache/convsym``); None when
    ``CONVSYM_CACHE_DIR`` is set to the empty string (no cache)."""
    if CACHE_ENV in os.environ:
        return Path(os.environ[CACHE_ENV]) if os.environ[CACHE_ENV] else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "convsym"


def listing_fingerprint(paths: Iterable[Path | str] | None = None) -> str:
    """sha256 of everything the listing depends on: every ``.py`` file below the proof folders
    (scripts, their helpers and checks) and every ``.py`` file of the ``convsym`` package, each
    with its path.  Any edit gives another fingerprint, so a cached listing is never stale."""
    folders = [default_proof_dir()] if paths is None else [Path(p) for p in paths]
    digest = hashlib.sha256()
    for root in [*folders, PACKAGE_DIR]:
        files = [root] if root.is_file() else sorted(root.rglob("*.py")) if root.is_dir() else []
        if not root.exists():
            raise ValueError(f"load_families: proof path {str(root)!r} does not exist")
        for path in files:
            digest.update(str(path.resolve()).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def listing(paths: Iterable[Path | str] | None = None) -> list[tuple[str, str, str, str]]:
    """``(family, theorem, expected, title)`` for every theorem, as ``convsym list`` prints them.

    Loading the scripts builds every theorem (SymPy, z3: seconds); the rows are cached in
    :func:`cache_dir` under :func:`listing_fingerprint`, so an unchanged tree is listed without
    importing them.  A cache that cannot be read or written is ignored."""
    import json

    paths = None if paths is None else list(paths)
    folder = cache_dir()
    target = None if folder is None else folder / f"list-{listing_fingerprint(paths)}.json"
    if target is not None:
        try:
            return [tuple(row) for row in json.loads(target.read_text())]
        except (OSError, ValueError, TypeError):
            pass
    rows = [(family.name, t.name, t.expected, str(getattr(t, "title", "")))
            for family, theorems in load_families(paths) for t in theorems]
    if target is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(rows))
            partial.replace(target)
        except OSError:
            pass
    return rows


def theorem_names(families: Sequence[tuple[Family, Sequence[Any]]]) -> list[str]:
    """Every name ``select`` accepts: each family name followed by its theorems' names."""
    out: list[str] = []
    for family, theorems in families:
        out.append(family.name)
        out += [t.name for t in theorems]
    return out


#: Below this many valid names an unknown name lists them all; from it on, the closest ones.
LIST_ALL_BELOW = 12


def closest_names(name: str, valid: Sequence[str], n: int = 3) -> list[str]:
    """Up to ``n`` names of ``valid`` that ``name`` was probably meant to be, best first.

    A name given without its family (``sequential-1d``) or as a prefix (``merge.seq``) matches
    the theorems it ends or starts; otherwise the names most similar to it (``difflib`` ratio at
    least 0.6, on the full name or, family dropped, on the short name), the best and those
    within 0.05 of it.
    """
    short = {v: v.split(".", 1)[1] for v in valid if "." in v}
    exact_short = [v for v, tail in short.items() if tail == name]
    prefix = [v for v in valid if v.startswith(name)] if len(name) >= 3 else []
    found = exact_short + [v for v in prefix if v not in exact_short]
    if found:
        return found[:n]
    bare = name.split(".", 1)[-1]
    ratio: dict[str, float] = {}
    for v in valid:
        full = difflib.SequenceMatcher(None, name, v).ratio()
        tail = difflib.SequenceMatcher(None, bare, short[v]).ratio() if v in short else 0.0
        ratio[v] = max(full, tail)
    best = max(ratio.values(), default=0.0)
    # the best match and those nearly as good: a typo has one answer, a stem several
    close = [v for v in valid if ratio[v] >= max(0.6, best - 0.05)]
    return sorted(close, key=lambda v: -ratio[v])[:n]


def select(families: Sequence[tuple[Family, Sequence[Any]]],
           names: Iterable[str] | None) -> list[Any]:
    """The theorems named in ``names``, in definition order, each once.

    A name is a theorem's full name (``merge.sequential-1d``) or a family name (``merge``,
    selecting all of ``merge.*``).  No names selects everything.  An unknown name raises
    ValueError: with fewer than ``LIST_ALL_BELOW`` valid names it lists them all, otherwise it
    suggests the closest ones (see :func:`closest_names`).
    """
    every = [t for _, theorems in families for t in theorems]
    names = list(names or ())
    if not names:
        return every
    family_names = {family.name for family, _ in families}
    theorem_set = {t.name for t in every}
    unknown = [n for n in names if n not in family_names and n not in theorem_set]
    if unknown:
        valid = theorem_names(families)
        if len(valid) < LIST_ALL_BELOW:
            listed = ", ".join(valid) or "(none: no theorems were found)"
            raise ValueError(
                f"select: unknown theorem or family {', '.join(map(repr, unknown))}; "
                f"valid names: {listed}"
            )
        guesses = []
        for name in unknown:
            close = closest_names(name, valid)
            hint = f"did you mean {' or '.join(map(repr, close))}?" if close else "no similar name"
            guesses.append(f"{name!r} ({hint})")
        raise ValueError(
            f"select: unknown theorem or family {', '.join(guesses)}; "
            f"`convsym list` shows all {len(valid)} names"
        )
    wanted = set(names)
    return [t for t in every if t.name in wanted or t.name.split(".", 1)[0] in wanted]


# ---------------------------------------------------------------------------------------------
# proving


def failed_verdict(theorem: Any, error: str, seconds: float = 0.0) -> Verdict:
    """A ``failed`` verdict for a theorem whose ``prove`` did not return one."""
    name = theorem.name
    return Verdict(
        name=name,
        family=getattr(theorem, "family", name.split(".", 1)[0]),
        title=str(getattr(theorem, "title", name)),
        statement=str(getattr(theorem, "statement", "")),
        statement_latex="",
        expected=theorem.expected,
        verdict="failed",
        strength=NO_STRENGTH,
        sizes="",
        seconds=seconds,
        error=error,
    )


def prove_one(theorem: Any) -> Verdict:
    """``theorem.prove()``, with a crash or a wrong return value turned into a failed verdict.

    ``prove`` reports a failed proof itself; this guards the run of all theorems against a
    theorem whose machinery raises, so one broken theorem cannot hide the verdicts of the rest.
    """
    from convsym.proof import Theorem

    start = time.perf_counter()
    if not isinstance(theorem, Theorem) or type(theorem).prove is not Theorem.prove:
        # only the kernel decides verdicts: an object that brings its own prove() proves nothing
        return failed_verdict(
            theorem, f"{type(theorem).__name__} is not one of the kernel's theorem kinds (or overrides prove); "
            "build theorems with convsym.proof (General, Identity, Checked, Refutation)", 0.0)
    try:
        verdict = theorem.prove()
    except Exception as exc:
        return failed_verdict(
            theorem, f"prove raised {type(exc).__name__}: {exc}", time.perf_counter() - start
        )
    if not isinstance(verdict, Verdict):
        return failed_verdict(
            theorem, f"prove returned {type(verdict).__name__}, not a Verdict",
            time.perf_counter() - start,
        )
    if verdict.name != theorem.name:
        return failed_verdict(
            theorem, f"prove returned the verdict of {verdict.name!r}", verdict.seconds
        )
    return verdict


def verdict_summary(v: Verdict) -> str:
    """``proved (general, 0.12 s)``, plus what was expected when it differs, and the error."""
    text = f"{v.verdict} ({v.strength}, {v.seconds:.2f} s)"
    if not v.ok:
        text += f", expected {v.expected}"
    if v.verdict == "failed" and v.error:
        step = f"step {v.failed_step} ({v.failed_rule or '?'}): " if v.failed_step else ""
        text += f": {step}{(v.error.strip().splitlines() or [''])[0]}"
    return text


def run_script(namespace: Mapping[str, Any]) -> int:
    """What a proof script does when run on its own: prove its theorems, print one line each.

    Returns the exit status: 0 when every verdict is the one the script declares, else 1.
    """
    path = namespace.get("__file__", "<script>")
    lines: dict[str, int] = {}
    if path != "<script>":
        try:
            lines = _binding_lines(Path(path).read_text(encoding="utf-8"))
        except (OSError, SyntaxError):
            lines = {}
    _, theorems = collect(namespace, path, lines)
    status = 0
    for theorem in theorems:
        verdict = prove_one(theorem)
        print(f"{theorem.name} ... {verdict_summary(verdict)}", flush=True)
        if not verdict.ok:
            status = 1
    return status
