"""The ``convsym`` command (also ``python -m convsym``).

::

    convsym list  [--path DIR ...]
    convsym prove [NAME ...] [--json] [--jobs N] [--path DIR ...]
    convsym build [--out DIR] [--jobs N] [--path DIR ...]
    convsym check [--out DIR] [--jobs N] [--path DIR ...]
    convsym show  NAME ... [--path DIR ...]

A NAME is a theorem (``merge.sequential-1d``) or a family (``merge``).  Exit status: 0 when
every verdict is the one its theorem declares (``check``: when ``generated/`` is fresh), 1
otherwise, 2 for a usage error (bad options, unknown names, a proof script that does not load).
Progress and summaries go to stderr; stdout carries only the requested output.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from convsym.build import build_tree, check, compile_pdf, run_all, write_tree
from convsym.errors import ConvsymError
from convsym.registry import ProofFileError, default_proof_dir, load_families, verdict_summary
from convsym.render import render_text
from convsym.verdict import Verdict

EXIT_OK, EXIT_NOT_AS_EXPECTED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A command line that cannot be carried out as asked (exit status 2)."""


def default_out_dir() -> Path:
    """The repository's ``generated/`` folder."""
    return default_proof_dir().parent / "generated"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="convsym",
        description="Exact, checked facts about convolution layers.",
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument(
            "--path", action="append", type=Path, metavar="DIR",
            help="folder of proof scripts (repeatable; default: the repository's proofs/)",
        )
        return p

    add("list", "list the theorems: family, name, expected verdict, title")
    p = add("prove", "prove theorems and report each verdict")
    p.add_argument("names", nargs="*", metavar="NAME", help="theorem or family (default: all)")
    p.add_argument("--json", action="store_true", help="print the verdicts as JSON on stdout")
    p.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                   help="prove in N processes")
    for name, help in (("build", "prove everything and write generated/"),
                       ("check", "rebuild into a temporary folder and compare with generated/")):
        p = add(name, help)
        p.add_argument("--out", type=Path, metavar="DIR",
                       help="output folder (default: the repository's generated/)")
        p.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                       help="prove in N processes")
    p = add("show", "prove theorems and print their derivations as text")
    p.add_argument("names", nargs="+", metavar="NAME", help="theorem or family")
    return top


# ---------------------------------------------------------------------------------------------
# output helpers


class _Progress:
    """``proving merge.x ... proved (general, 0.12 s)`` lines on stderr."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.open: str | None = None  # the theorem whose line awaits its verdict

    def __call__(self, theorem: Any, verdict: Verdict | None) -> None:
        if verdict is None:
            self.stream.write(f"proving {theorem.name} ... ")
            self.open = theorem.name
        elif self.open == theorem.name:
            self.stream.write(verdict_summary(verdict) + "\n")
            self.open = None
        else:
            self.stream.write(f"proving {theorem.name} ... {verdict_summary(verdict)}\n")
        self.stream.flush()


def _table(rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def _summary(verdicts: Sequence[Verdict]) -> str:
    rows = [("theorem", "expected", "verdict", "strength", "seconds")]
    rows += [(v.name, v.expected, v.verdict, v.strength, f"{v.seconds:.2f}") for v in verdicts]
    bad = [v for v in verdicts if not v.ok]
    tail = f"{len(verdicts)} theorems: {len(verdicts) - len(bad)} as expected"
    if bad:
        tail += f", {len(bad)} not: {', '.join(v.name for v in bad)}"
    return "\n".join([*_table(rows, right=(4,)), tail]) + "\n"


def _all_verdicts(results) -> list[Verdict]:
    return [v for _, entries in results for v, _ in entries]


def _status(verdicts: Sequence[Verdict]) -> int:
    return EXIT_OK if all(v.ok for v in verdicts) else EXIT_NOT_AS_EXPECTED


def _fix_command(args: argparse.Namespace) -> str:
    words = ["convsym", "build"]
    if args.out is not None:
        words += ["--out", str(args.out)]
    for folder in args.path or ():
        words += ["--path", str(folder)]
    return shlex.join(words)


def _out_dir(args: argparse.Namespace) -> Path:
    if args.out is None and args.path:
        raise UsageError(
            "--path without --out would compare or overwrite the repository's generated/ "
            "with other proofs; give --out DIR"
        )
    return args.out if args.out is not None else default_out_dir()


# ---------------------------------------------------------------------------------------------
# commands


def cmd_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    rows = [
        (family.name, t.name, t.expected, str(getattr(t, "title", "")))
        for family, theorems in load_families(args.path)
        for t in theorems
    ]
    if rows:
        out.write("\n".join(_table(rows)) + "\n")
    else:
        err.write("no theorems found\n")
    return EXIT_OK


def cmd_prove(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    results = run_all(args.path, args.names, jobs=args.jobs, progress=_Progress(err))
    verdicts = _all_verdicts(results)
    if args.json:
        out.write(json.dumps([v.to_json() for v in verdicts], indent=2) + "\n")
    err.write(_summary(verdicts))
    return _status(verdicts)


def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    results = run_all(args.path, args.names)
    verdicts = _all_verdicts(results)
    out.write("\n".join(render_text(v) for v in verdicts))
    return _status(verdicts)


def cmd_build(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    out_dir = _out_dir(args)
    results = run_all(args.path, jobs=args.jobs, progress=_Progress(err))
    tree = build_tree(results)
    pdf = compile_pdf(tree)
    removed = write_tree(tree, out_dir, pdf)
    verdicts = _all_verdicts(results)
    err.write(_summary(verdicts))
    written = len(tree) + (pdf is not None)
    err.write(f"wrote {written} files to {out_dir}")
    err.write(f", removed {len(removed)} stale\n" if removed else "\n")
    if pdf is None:
        err.write("note: latexmk is not installed, so convsym.pdf was not built\n")
    return _status(verdicts)


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    out_dir = _out_dir(args)
    notes: list[str] = []
    problems = check(out_dir, args.path, jobs=args.jobs, notes=notes)
    for note in notes:
        err.write(f"note: {note}\n")
    if not problems:
        err.write(f"{out_dir} is up to date\n")
        return EXIT_OK
    err.write(f"{out_dir} is out of date:\n")
    err.write("".join(f"  {p}\n" for p in problems))
    err.write(f"run: {_fix_command(args)}\n")
    return EXIT_NOT_AS_EXPECTED


COMMANDS = {
    "list": cmd_list,
    "prove": cmd_prove,
    "show": cmd_show,
    "build": cmd_build,
    "check": cmd_check,
}


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    args = parser().parse_args(argv)  # exits with status 2 on a usage error
    try:
        return COMMANDS[args.command](args, out, err)
    except (UsageError, ProofFileError, ValueError) as exc:
        err.write(f"convsym {args.command}: {exc}\n")
        return EXIT_USAGE
    except ConvsymError as exc:
        err.write(f"convsym {args.command}: {type(exc).__name__}: {exc}\n")
        return EXIT_NOT_AS_EXPECTED
