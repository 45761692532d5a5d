"""The command line: exit codes (in a subprocess, as users run it), output and messages."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import convsym.run.build as build
from convsym.cli import default_out_dir, main


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m convsym ARGS`` with latexmk hidden, so builds stay fast and the same
    everywhere (the LaTeX path has its own tests)."""
    env = {k: v for k, v in os.environ.items() if k != "CONVSYM_REQUIRE_LATEX"}
    env["PATH"] = ""
    return subprocess.run(
        [sys.executable, "-m", "convsym", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=120,
    )


def call(*args: str) -> tuple[int, str, str]:
    """``convsym ARGS`` in this process: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), out, err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def no_latex(monkeypatch):
    monkeypatch.setattr(build.shutil, "which", lambda name: None)
    monkeypatch.delenv("CONVSYM_REQUIRE_LATEX", raising=False)


# ---------------------------------------------------------------------------------------------
# exit codes, in a subprocess


@pytest.mark.parametrize(
    ("outcome", "status"),
    [("proved", 0), ("failed", 1), ("refuted", 1)],
)
def test_prove_exit_status(write_script, script_source, outcome, status):
    folder = write_script("toy.py", script_source(outcome)).parent
    proc = run("prove", "--path", str(folder))
    assert proc.returncode == status, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    strength = {"proved": "general", "failed": "none", "refuted": "exact-instance"}[outcome]
    assert re.match(rf"proving toy\.add-commutes \.\.\. {outcome} \({strength}, \d+\.\d\d s\)", lines[0]), lines[0]
    assert re.match(r"proving toy\.sub-commutes \.\.\. refuted \(exact-instance, \d+\.\d\d s\)$", lines[1])
    assert lines[2].split() == ["theorem", "expected", "verdict", "strength", "seconds"]
    assert lines[-1].startswith("2 theorems: ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["prove", "toy.nope"], "convsym prove: select: unknown theorem or family 'toy.nope'; "
                                "valid names: toy, toy.add-commutes, toy.sub-commutes"),
        (["prove", "--jobs", "0"], "argument --jobs: 0 must be at least 1"),
        (["prove", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["show"], "the following arguments are required: NAME"),
        (["build"], "convsym build: --path without --out would compare or overwrite"),
    ],
)
def test_usage_errors_exit_2(toy_dir, args, message):
    proc = run(*args, "--path", str(toy_dir))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert proc.stdout == ""


def test_no_command_is_a_usage_error():
    proc = run()
    assert proc.returncode == 2
    assert "usage: convsym" in proc.stderr


def test_broken_proof_file_names_file_and_line(write_script):
    path = write_script("broken.py", "from convsym.proof.verdict import Family\n\nFAMILY = Family(\n")
    proc = run("list", "--path", str(path.parent))
    assert proc.returncode == 2
    assert f"convsym list: {path.resolve()}:3: SyntaxError: " in proc.stderr


def test_build_then_check_exit_status(toy_dir, tmp_path):
    out = tmp_path / "generated"
    built = run("build", "--out", str(out), "--path", str(toy_dir))
    assert built.returncode == 0, built.stderr
    assert "note: latexmk is not installed, so convsym.pdf was not built" in built.stderr
    assert run("check", "--out", str(out), "--path", str(toy_dir)).returncode == 0
    (out / "latex" / "toy.tex").write_text("% edited\n")
    proc = run("check", "--out", str(out), "--path", str(toy_dir))
    assert proc.returncode == 1
    assert "  stale: latex/toy.tex\n" in proc.stderr
    assert f"run: convsym build --out {out} --path {toy_dir}\n" in proc.stderr


def test_proof_script_runs_on_its_own(write_script, script_source):
    for outcome, status in (("proved", 0), ("failed", 1)):
        path = write_script(f"toy_{outcome}.py", script_source(outcome))
        proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True)
        assert proc.returncode == status, proc.stderr
        assert re.match(r"toy\.sub-commutes \.\.\. refuted \(exact-instance, \d+\.\d\d s\)$",
                        proc.stdout.splitlines()[1])


# ---------------------------------------------------------------------------------------------
# output, in this process


def test_list(toy_dir):
    status, out, err = call("list", "--path", str(toy_dir))
    assert status == 0
    assert [line.split(None, 3) for line in out.splitlines()] == [
        ["family", "theorem", "expects", "title"],
        ["toy", "toy.add-commutes", "proved", "add commutes"],
        ["toy", "toy.sub-commutes", "refuted", "sub commutes"],
    ]


def test_list_empty_folder(tmp_path):
    status, out, err = call("list", "--path", str(tmp_path))
    assert (status, out, err) == (0, "", "no theorems found\n")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_prove_json(toy_dir, jobs):
    status, out, err = call("prove", "toy", "--json", "--jobs", jobs, "--path", str(toy_dir))
    assert status == 0
    records = json.loads(out)
    assert [(r["name"], r["expected"], r["verdict"], r["strength"]) for r in records] == [
        ("toy.add-commutes", "proved", "proved", "general"),
        ("toy.sub-commutes", "refuted", "refuted", "exact-instance"),
    ]
    assert {"statement", "sizes", "seconds", "steps"} <= set(records[0])
    assert records[1]["witness"]["lhs"] == "1"
    assert "2 theorems: 2 as expected" in err


def test_prove_summary_names_the_unexpected(write_script, script_source):
    folder = write_script("toy.py", script_source("failed")).parent
    status, _, err = call("prove", "--path", str(folder))
    assert status == 1
    assert err.splitlines()[-1] == "2 theorems: 1 as expected, 1 not: toy.add-commutes"


def test_show(toy_dir):
    status, out, _ = call("show", "toy.sub-commutes", "--path", str(toy_dir))
    assert status == 0
    assert out.splitlines() == [
        "toy.sub-commutes: sub commutes",
        # one statement, the same the book prints (the claim in words: its sides are functions)
        "statement:",
        "  a - b = b - a",
        "derivation:",
        "  1. [exact evaluation] both sides evaluated exactly at the witness input",
        "       = 1 ≠ -1",
        "       checked: exact rational arithmetic",
        "verdict: refuted, strength exact-instance, sizes one exact input: a = 1, b = 0",
        "counterexample: one point",
        # the inputs in full, with their shapes
        "    a (1) = 1",
        "    b (1) = 0",
        "    left side = 1, right side = -1 at a - b",
    ]


def test_build_writes_and_reports(toy_dir, tmp_path, no_latex):
    out = tmp_path / "gen"
    (out / "latex").mkdir(parents=True)
    (out / "latex" / "stale.tex").write_text("%")
    status, stdout, err = call("build", "--out", str(out), "--path", str(toy_dir))
    assert (status, stdout) == (0, "")
    assert f"wrote 5 files to {out}, removed 1 stale\n" in err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "MANIFEST.json", "checks/test_toy.py", "latex/main.tex", "latex/record.tex", "latex/toy.tex",
    ]


def test_check_fresh_and_default_fix_command(toy_dir, tmp_path, no_latex, monkeypatch):
    out = tmp_path / "gen"
    call("build", "--out", str(out), "--path", str(toy_dir))
    status, _, err = call("check", "--out", str(out), "--path", str(toy_dir))
    assert status == 0
    assert err.splitlines() == [
        "note: latexmk is not installed: convsym.pdf was not rebuilt nor compared",
        f"{out} is up to date",
    ]
    # against the repository's own folders the fix is the bare command
    monkeypatch.setattr("convsym.cli.default_out_dir", lambda: out)
    monkeypatch.setattr("convsym.run.registry.default_proof_dir", lambda: toy_dir)
    (out / "checks" / "test_toy.py").unlink()
    status, _, err = call("check")
    assert status == 1
    assert err.splitlines()[-2:] == ["  missing: checks/test_toy.py", "run: convsym build"]


def test_default_out_dir():
    from convsym.run.registry import default_proof_dir

    assert default_out_dir() == default_proof_dir().parent / "generated"


# ---------------------------------------------------------------------------------------------
# --version and the names suggested for an unknown theorem


def test_version_names_the_package_and_its_backends():
    import numpy
    import sympy

    from convsym import __version__

    proc = run("--version")
    assert proc.returncode == 0 and proc.stderr == ""
    line = proc.stdout.strip()
    assert line.startswith(f"convsym {__version__} (Python {sys.version.split()[0]}, numpy {numpy.__version__}, "
                           f"sympy {sympy.__version__}, z3-solver ")
    assert "\n" not in line


def _many_families():
    from types import SimpleNamespace

    from convsym.proof.verdict import Family

    merge = ["sequential-1d", "sequential-2d", "strided-dilated", "exact-family-2d", "exact-strided-grouped"]
    folding = ["bn-after-conv", "bn-before-conv", "cle-relu", "cle-relu6", "cle-scale-in", "cle-scale-out"]
    return [(Family(family, family.title()), [SimpleNamespace(name=f"{family}.{n}") for n in names])
            for family, names in (("merge", merge), ("folding", folding))]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("merge.sequentail-1d", "'merge.sequentail-1d' (did you mean 'merge.sequential-1d'?)"),
        ("sequential-1d", "'sequential-1d' (did you mean 'merge.sequential-1d'?)"),
        ("folding.cle-scale", "'folding.cle-scale' (did you mean 'folding.cle-scale-in' or 'folding.cle-scale-out'?)"),
        ("folding.bn-before", "(did you mean 'folding.bn-before-conv'?)"),
        ("quantize", "'quantize' (no similar name)"),
    ],
)
def test_unknown_name_suggests_the_closest_names(name, message):
    from convsym.run.registry import select

    with pytest.raises(ValueError) as info:
        select(_many_families(), [name])
    text = str(info.value)
    assert text.startswith("select: unknown theorem or family ") and message in text
    assert text.endswith("; `convsym list` shows all 13 names")
    assert "merge.exact-family-2d" not in text  # the names are suggested, not all listed


def test_the_collector_is_tuned_for_the_program_only():
    import gc
    import io

    from convsym import cli as _cli

    before = gc.get_threshold()
    try:
        assert _cli.main(["list"], out=io.StringIO(), err=io.StringIO()) == 0
        assert gc.get_threshold() == before  # an in-process caller keeps its settings
        _cli._tune_gc()
        assert gc.get_threshold() == (_cli.GC_THRESHOLD, before[1], before[2])
    finally:
        gc.set_threshold(*before)
