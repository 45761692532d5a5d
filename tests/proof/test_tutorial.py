"""A newcomer copies the tutorial proof, renames it, and runs it through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "CONVSYM_REQUIRE_LATEX"}
    return subprocess.run([sys.executable, "-m", "convsym", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_a_copied_and_renamed_tutorial_proves_builds_and_its_checks_pass(tmp_path):
    mine = tmp_path / "myproofs"
    mine.mkdir()
    text = (ROOT / "proofs" / "tutorial.py").read_text()
    text = text.replace('"tutorial"', '"mine"').replace('"tutorial.', '"mine.')
    (mine / "mine.py").write_text(text)

    listed = _cli("list", "--path", str(mine), cwd=tmp_path)
    assert listed.returncode == 0 and "mine.linear-in-input" in listed.stdout

    proved = _cli("prove", "--json", "--path", str(mine), cwd=tmp_path)
    assert proved.returncode == 0, proved.stderr
    records = {r["name"]: r for r in json.loads(proved.stdout)}
    assert records["mine.linear-in-input"]["strength"] == "general"
    assert records["mine.linear-exact"]["strength"] == "exact-family"

    out = tmp_path / "out"
    built = _cli("build", "--path", str(mine), "--out", str(out), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert (out / "latex" / "mine.tex").exists()
    checks = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(out / "checks")], capture_output=True, text=True, timeout=300)
    assert checks.returncode == 0, checks.stdout


def test_a_mistake_in_the_copied_file_names_the_file_and_line(tmp_path):
    mine = tmp_path / "myproofs"
    mine.mkdir()
    lines = (ROOT / "proofs" / "tutorial.py").read_text().splitlines()
    at = next(n for n, line in enumerate(lines) if line.startswith("(k,) = sizes"))
    lines[at] = '(k,) = sizes("k k")'  # a newcomer's typo: duplicate names
    (mine / "typo.py").write_text("\n".join(lines) + "\n")
    run = _cli("prove", "--path", str(mine), cwd=tmp_path)
    assert run.returncode == 2
    assert f"typo.py:{at + 1}" in run.stderr
    assert "sizes: names must be distinct" in run.stderr
