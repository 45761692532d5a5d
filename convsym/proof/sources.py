"""The source of an emitted numeric check, and the module a proof script keeps its checks in.

A theorem's ``check_source`` is what ``generated/checks/test_<family>.py`` emits for it.  It is
either Python source text (handy in a user's script or the README) or real functions: one
function, or a sequence of them, whose source is read with :func:`inspect.getsource`.  The shipped
scripts keep those functions in ``proofs/checks/<script>.py``, a module that imports only
``numpy as np``, ``convsym.reference as ref`` and ``Fraction`` (the emitted file's imports), so a
linter sees every check; :func:`load_checks` loads it next to the script.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
import textwrap
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: What ``check_source=`` accepts.
CheckSource = str | Callable[..., Any] | Sequence[Callable[..., Any] | str]


def _check_function(owner: str, fn: Any) -> None:
    if not isinstance(fn, types.FunctionType):
        raise TypeError(
            f"check_source of {owner}: {fn!r} is a {type(fn).__name__}; give source text, a "
            f"function or a sequence of functions"
        )
    if fn.__name__ == "<lambda>":
        raise TypeError(f"check_source of {owner}: a lambda has no name to emit; define a function")


def _function_source(owner: str, fn: Any) -> str:
    _check_function(owner, fn)
    try:
        text = inspect.getsource(fn)
    except OSError as exc:
        raise TypeError(f"check_source of {owner}: cannot read the source of {fn.__name__}: {exc}") from exc
    return textwrap.dedent(text).strip("\n")


def check_kind(owner: str, source: CheckSource) -> None:
    """The TypeErrors of :func:`check_text` that do not need the functions' source (the kind of
    ``source``, a lambda, an empty sequence), raised now; reading the source can wait until the
    text is needed."""
    if isinstance(source, str):
        return
    if callable(source):
        _check_function(owner, source)
        return
    if isinstance(source, Sequence) and not isinstance(source, (bytes, bytearray)):
        if not source:
            raise TypeError(f"check_source of {owner}: an empty sequence of functions checks nothing")
        for fn in source:
            if not isinstance(fn, str):
                _check_function(owner, fn)
        return
    raise TypeError(
        f"check_source of {owner}: got {type(source).__name__}; give source text, a function or "
        f"a sequence of functions"
    )


def check_text(owner: str, source: CheckSource) -> str:
    """``source`` as Python text: a string is returned as given; a function or a sequence of
    functions becomes their source (dedented, in the given order, two blank lines apart).  A
    sequence may also hold strings, for source generated when the script runs (a formula printed
    as a Python function, a table of expected values); they are emitted as given, in place.

    Raises TypeError naming ``owner`` (the theorem) for anything else, for a lambda and for an
    empty sequence.  The text is validated when the check file is written
    (:func:`convsym.render.checks.check_block`: no imports, no rebinding of ``np``/``ref``/
    ``Fraction``, at least one ``test_`` function).
    """
    if isinstance(source, str):
        return source
    if callable(source):
        return "\n" + _function_source(owner, source) + "\n"
    if isinstance(source, Sequence) and not isinstance(source, (bytes, bytearray)):
        if not source:
            raise TypeError(f"check_source of {owner}: an empty sequence of functions checks nothing")
        parts = [textwrap.dedent(fn).strip("\n") if isinstance(fn, str) else _function_source(owner, fn)
                 for fn in source]
        return "\n" + "\n\n\n".join(parts) + "\n"
    raise TypeError(
        f"check_source of {owner}: got {type(source).__name__}; give source text, a function or "
        f"a sequence of functions"
    )


def load_checks(script: str | Path) -> types.ModuleType:
    """The checks module of a proof script: ``<folder>/checks/<stem>.py`` next to ``script``
    (pass ``__file__``), imported by path under a name unique to that file.

    It works wherever the script is (the repository's ``proofs/``, the installed
    ``convsym.proofs``, a user's folder).  Raises FileNotFoundError naming the expected path.
    """
    script = Path(script).resolve()
    path = script.parent / "checks" / f"{script.stem}.py"
    if not path.is_file():
        raise FileNotFoundError(f"load_checks: no checks module {path} for the proof script {script.name}")
    stem = "".join(ch if ch.isalnum() else "_" for ch in script.stem)
    name = f"_convsym_checks_{stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"load_checks: {path} is not importable as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # inspect.getsource finds the file through the module
    spec.loader.exec_module(module)
    return module
