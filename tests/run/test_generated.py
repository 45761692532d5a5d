"""generated/ is what `convsym build` produces, whatever the hash seed and the TeX installation.

Every file convsym writes is compared byte for byte; the PDF, whose bytes depend on the TeX
that compiled it, by the hash of the LaTeX sources it records (see :mod:`convsym.run.build`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from convsym.run.build import recorded_source_hash, source_hash

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "generated"


@pytest.mark.parametrize(("seed", "tex"), [("0", "installed"), ("1", "hidden")])
def test_generated_is_fresh_under_any_hash_seed(seed, tex):
    """Fresh under two hash seeds; the second run with no TeX on the PATH at all (a machine
    without LaTeX, or with another TeX, must not call the committed PDF stale)."""
    env = {**os.environ, "PYTHONHASHSEED": seed}
    if tex == "hidden":
        env.pop("CONVSYM_REQUIRE_LATEX", None)
        env["PATH"] = ""
    run = subprocess.run(
        [sys.executable, "-m", "convsym", "check", "--jobs", "2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    if (GENERATED / "convsym.pdf").is_file():
        assert "note: convsym.pdf was not rebuilt: it was built from the current LaTeX sources" in run.stderr


def test_the_manifest_names_the_pdf_by_its_sources_not_its_bytes():
    manifest = json.loads((GENERATED / "MANIFEST.json").read_text(encoding="utf-8"))
    latex = {f"latex/{p.name}": p.read_text(encoding="utf-8") for p in (GENERATED / "latex").glob("*.tex")}
    entries = {e["file"]: e for e in manifest["files"]}
    pdf = GENERATED / "convsym.pdf"
    if not pdf.is_file():
        assert "convsym.pdf" not in entries
        pytest.skip("generated/convsym.pdf is not committed")
    entry = entries["convsym.pdf"]
    assert "sha256" not in entry
    assert entry["source_sha256"] == source_hash(latex) == recorded_source_hash(pdf.read_bytes())


def test_emitted_checks_import_only_numpy_fractions_and_the_reference():
    import ast

    for path in sorted((ROOT / "generated" / "checks").glob("test_*.py")):
        tree = ast.parse(path.read_text())
        modules = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                modules.add(node.module)
        assert modules <= {"numpy", "fractions", "convsym.reference"}, (path.name, modules)
