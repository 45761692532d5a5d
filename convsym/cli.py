"""The ``convsym`` command (also ``python -m convsym``).

::

    convsym --version
    convsym list  [--path DIR ...]
    convsym prove [NAME ...] [--json] [--jobs N] [--path DIR ...]
    convsym build [--out DIR] [--jobs N] [--path DIR ...]
    convsym check [--out DIR] [--jobs N] [--path DIR ...]
    convsym show  NAME ... [--path DIR ...]
    convsym cost  LAYER --input N,C,H,W [--out-channels C] [--kernel K] [--stride S] [--padding P]
                  [--dilation D] [--groups G] [--no-bias] [--output-padding O] [--ceil-mode]
                  [--exclude-pad] [--dtype DTYPE] [--json]
    convsym cost  --model PACKAGE.MODULE:CALLABLE --input N,C,H,W [--by layer|block] [--depth D]
                  [--tool NAME ...] [--json | --csv]
    convsym validate ORIGINAL OPTIMIZED [--json]   (ONNX files; needs the models extra)

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

from convsym.dtypes import DTYPE_SIZES, TOOLS
from convsym.errors import ConvsymError
from convsym.proof.verdict import Verdict
from convsym.run.registry import ProofFileError, default_out_dir, listing, verdict_summary

# convsym.run.build, convsym.cost and convsym.render import SymPy and Jinja2: each command imports
# what it needs inside its function, so `import convsym.cli` and `convsym list` start fast.

EXIT_OK, EXIT_NOT_AS_EXPECTED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A command line that cannot be carried out as asked (exit status 2)."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def version_text() -> str:
    """``convsym 0.1.0 (Python 3.11.7, numpy 2.1.0, sympy 1.13.3, z3-solver 4.13.0.0)``: the
    package and the versions that decide its results, for bug reports."""
    from importlib.metadata import PackageNotFoundError, version

    from convsym import __version__

    parts = [f"Python {sys.version.split()[0]}"]
    for dist in ("numpy", "sympy", "z3-solver"):
        try:
            parts.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist} not installed")
    return f"convsym {__version__} ({', '.join(parts)})"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="convsym",
        description="Exact, checked facts about convolution layers.",
    )
    top.add_argument("--version", action="version", version=version_text(),
                     help="print convsym's version and those of its backends, then exit")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument(
            "--path", action="append", type=Path, metavar="DIR",
            help="folder of proof scripts (repeatable; default: the proofs shipped with convsym)",
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
                       help="output folder (default: the repository's generated/ in a "
                            "checkout, else ./generated)")
        p.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                       help="prove in N processes")
    p = add("show", "prove theorems and print their derivations as text")
    p.add_argument("names", nargs="+", metavar="NAME", help="theorem or family")
    help = ("the cost of one layer or a whole model: MACs, parameters, FLOPs, memory, backward, "
            "each tool's figure")
    p = sub.add_parser("cost", help=help, description=help)
    p.add_argument("layer", nargs="?", choices=LAYERS, metavar="LAYER", help="one of " + ", ".join(LAYERS))
    p.add_argument("--model", metavar="PACKAGE.MODULE:CALLABLE",
                   help="count a whole torch model: CALLABLE() returns the nn.Module (built on the meta "
                        "device; the current folder is importable)")
    p.add_argument("--by", choices=("layer", "block"), default="layer",
                   help="--model: one row per module call (layer) or per block (default layer)")
    p.add_argument("--depth", type=_positive_int, default=2, metavar="D",
                   help="--model --by block: a block is a module path cut to D components (default 2)")
    p.add_argument("--tool", action="append", choices=TOOLS, metavar="NAME",
                   help="--model: compare with this tool only (repeatable; default all: " + ", ".join(TOOLS) + ")")
    p.add_argument("--csv", action="store_true", help="--model: print the rows as CSV")
    p.add_argument("--input", type=_sizes, required=True, metavar="N,C,H,W",
                   help="input shape (linear: any shape ending in in_features)")
    p.add_argument("--out-channels", type=int, metavar="C",
                   help="output channels (conv) or out_features (linear)")
    p.add_argument("--kernel", type=_pair_or_int, default=1, metavar="K",
                   help="kernel size: K or KH,KW (default 1)")
    p.add_argument("--stride", type=_pair_or_int, metavar="S",
                   help="stride: S or SH,SW (default 1; pooling: the kernel)")
    p.add_argument("--padding", type=_padding, default=0, metavar="P",
                   help="padding: P, PH,PW, same or valid (default 0)")
    p.add_argument("--dilation", type=_pair_or_int, default=1, metavar="D", help="dilation (default 1)")
    p.add_argument("--groups", type=int, default=1, metavar="G", help="groups (default 1)")
    p.add_argument("--no-bias", dest="bias", action="store_false", help="the layer has no bias")
    p.add_argument("--output-padding", type=_pair_or_int, default=0, metavar="O",
                   help="output_padding of a transposed conv (default 0)")
    p.add_argument("--ceil-mode", action="store_true", help="pooling in ceil mode")
    p.add_argument("--exclude-pad", dest="count_include_pad", action="store_false",
                   help="average pooling with count_include_pad=False")
    p.add_argument("--dtype", default="float32", choices=sorted(DTYPE_SIZES), metavar="DTYPE",
                   help="element type for the memory in bytes (default float32)")
    p.add_argument("--json", action="store_true", help="print the cost as JSON on stdout")
    help = "check each node of an optimized ONNX model against the original, exactly (exit 0 iff all verified)"
    p = sub.add_parser("validate", help=help, description=help)
    p.add_argument("original", type=Path, metavar="ORIGINAL", help="the ONNX model before optimization")
    p.add_argument("optimized", type=Path, metavar="OPTIMIZED", help="the ONNX model the optimizer wrote")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    return top


LAYERS = ("conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "linear")


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None


def _sizes(text: str) -> tuple[int, ...]:
    return _ints(text)


def _pair_or_int(text: str) -> int | tuple[int, int]:
    values = _ints(text)
    if len(values) == 1:
        return values[0]
    if len(values) == 2:
        return values
    raise argparse.ArgumentTypeError(f"{text!r} must be one integer or two (H,W)")


def _padding(text: str) -> object:
    return text if text in ("same", "valid") else _pair_or_int(text)


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
    rows = listing(args.path)
    if rows:
        # the column is what each theorem file declares, not a verdict: `convsym prove` finds those
        rows.insert(0, ("family", "theorem", "expects", "title"))
        out.write("\n".join(_table(rows)) + "\n")
    else:
        err.write("no theorems found\n")
    return EXIT_OK


def cmd_prove(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from convsym.run.build import run_all

    results = run_all(args.path, args.names, jobs=args.jobs, progress=_Progress(err))
    verdicts = _all_verdicts(results)
    if args.json:
        out.write(json.dumps([v.to_json() for v in verdicts], indent=2) + "\n")
    err.write(_summary(verdicts))
    return _status(verdicts)


def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from convsym.render import render_text
    from convsym.run.build import run_all

    results = run_all(args.path, args.names)
    verdicts = _all_verdicts(results)
    out.write("\n".join(render_text(v) for v in verdicts))
    return _status(verdicts)


def cmd_build(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from convsym.render.export import formula_files
    from convsym.run.build import build_pdf, build_tree, run_all, write_tree

    out_dir = _out_dir(args)
    results = run_all(args.path, jobs=args.jobs, progress=_Progress(err))
    tree = build_tree(results, extra=formula_files(results))
    pdf, pdf_note = build_pdf(tree, out_dir)
    removed = write_tree(tree, out_dir, pdf)
    verdicts = _all_verdicts(results)
    err.write(_summary(verdicts))
    written = len(tree) + (pdf is not None)
    err.write(f"wrote {written} files to {out_dir}")
    err.write(f", removed {len(removed)} stale\n" if removed else "\n")
    if pdf_note:
        err.write(f"note: {pdf_note}\n")
    return _status(verdicts)


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from convsym.render.export import formula_files
    from convsym.run.build import check, run_all

    out_dir = _out_dir(args)
    notes: list[str] = []
    results = run_all(args.path, jobs=args.jobs)
    problems = check(out_dir, args.path, jobs=args.jobs, results=results, notes=notes,
                     extra=formula_files(results))
    for note in notes:
        err.write(f"note: {note}\n")
    if not problems:
        err.write(f"{out_dir} is up to date\n")
        return EXIT_OK
    err.write(f"{out_dir} is out of date:\n")
    err.write("".join(f"  {p}\n" for p in problems))
    err.write(f"run: {_fix_command(args)}\n")
    return EXIT_NOT_AS_EXPECTED


def _load_model(spec: str) -> Any:
    """``PACKAGE.MODULE:CALLABLE`` -> the module CALLABLE() returns, built on the meta device.
    The module is imported by name (never evaluated as code)."""
    import importlib

    import torch

    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr or not all(part.isidentifier() for part in
                                                         (*module_name.split("."), *attr.split("."))):
        raise UsageError(f"--model {spec!r} must be PACKAGE.MODULE:CALLABLE (dotted names)")
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"--model {spec!r}: cannot import {module_name!r}: {exc}") from None
    for part in attr.split("."):
        if not hasattr(target, part):
            raise UsageError(f"--model {spec!r}: {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise UsageError(f"--model {spec!r}: {attr!r} is not callable")
    try:
        with torch.device("meta"):
            model = target() if not isinstance(target, torch.nn.Module) else target
    except TypeError as exc:
        raise UsageError(f"--model {spec!r}: {attr}() cannot be called without arguments: {exc}") from None
    if not isinstance(model, torch.nn.Module):
        raise UsageError(f"--model {spec!r}: {attr}() returned {type(model).__name__}, not a torch.nn.Module")
    return model


def cmd_cost_model(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import time

    from convsym.cost import count_module

    if args.json and args.csv:
        raise UsageError("--json and --csv exclude each other")
    start = time.perf_counter()
    model = _load_model(args.model)
    children = max(1, sum(1 for _ in model.children()))
    done = [0]
    tty = hasattr(err, "isatty") and err.isatty()

    def progress(n: int) -> None:
        done[0] += n
        if tty:
            err.write(f"\rcounting {args.model}: {done[0]}/{children} top-level modules")
            err.flush()

    try:
        counted = count_module(model, args.input, progress=progress)
    except RuntimeError as exc:
        raise UsageError(f"--model {args.model!r} does not run on an input {args.input}: {exc}") from None
    tools = tuple(args.tool) if args.tool else TOOLS
    if tty:
        err.write("\n")
    if args.json:
        out.write(counted.to_json(args.by, args.depth, tools))
    elif args.csv:
        out.write(counted.to_csv(args.by, args.depth, tools))
    else:
        out.write(counted.table(args.by, args.depth, tools))
        out.write(counted.summary(tools))
    err.write(f"counted {len(counted.ops)} operators of {args.model} in {time.perf_counter() - start:.2f} s\n")
    return EXIT_OK


def cmd_cost(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.model is not None:
        if args.layer is not None:
            raise UsageError("give a LAYER or --model, not both")
        return cmd_cost_model(args, out, err)
    if args.layer is None:
        raise UsageError("give a LAYER (" + ", ".join(LAYERS) + ") or --model PACKAGE.MODULE:CALLABLE")
    if args.csv or args.tool or args.by != "layer":
        raise UsageError("--csv, --tool and --by apply to --model only")
    from convsym.cost import cost_from_options

    if args.layer in ("conv2d", "conv_transpose2d", "linear") and args.out_channels is None:
        raise UsageError(f"{args.layer} needs --out-channels")
    options = {
        "layer": args.layer,
        "input": args.input,
        "out_channels": args.out_channels,
        "kernel": args.kernel,
        "stride": 1 if args.stride is None else args.stride,
        "pool_stride": args.stride,
        "padding": args.padding,
        "dilation": args.dilation,
        "groups": args.groups,
        "bias": args.bias,
        "output_padding": args.output_padding,
        "ceil_mode": args.ceil_mode,
        "count_include_pad": args.count_include_pad,
    }
    cost = cost_from_options(options)
    if args.json:
        out.write(json.dumps(cost.to_json(args.dtype), indent=2, sort_keys=True) + "\n")
    else:
        out.write(cost.report(args.dtype))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        from convsym.onnx import validate_models
    except ImportError as exc:
        raise UsageError(f"{exc} (pip install 'convsym[models]')") from None
    report = validate_models(args.original, args.optimized)
    if args.json:
        out.write(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n")
    else:
        out.write(report.table())
    counts = report.counts()
    err.write(f"{counts['verified']} verified, {counts['wrong']} wrong, {counts['unmatched']} unmatched "
              f"({report.seconds:.2f} s)\n")
    return EXIT_OK if report.ok else EXIT_NOT_AS_EXPECTED


COMMANDS = {
    "list": cmd_list,
    "prove": cmd_prove,
    "show": cmd_show,
    "build": cmd_build,
    "check": cmd_check,
    "cost": cmd_cost,
    "validate": cmd_validate,
}


#: the cyclic collector's first threshold for the program: proving allocates millions of small,
#: short-lived SymPy objects and almost no cycles, so the default (700) spends about 6 % of a
#: prove in some 850 collections that free nearly nothing; 20,000 makes it some 20
GC_THRESHOLD = 20_000


def _tune_gc() -> None:
    import gc

    _, second, third = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, second, third)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    if argv is None:  # the program itself (an in-process caller keeps its own collector settings)
        _tune_gc()
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
