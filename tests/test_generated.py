"""generated/ is what `convsym build` produces, byte for byte, whatever the hash seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("seed", ["0", "1"])
def test_generated_is_fresh_under_any_hash_seed(seed):
    env = {**os.environ, "PYTHONHASHSEED": seed}
    run = subprocess.run(
        [sys.executable, "-m", "convsym", "check", "--jobs", "2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr


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
