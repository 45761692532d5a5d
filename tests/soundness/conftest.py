"""Soundness tests: false claims the kernel must not prove, and mutants of the shipped theorems.

The helpers live in ``_support.py`` next to this file (the suite runs with
``--import-mode=importlib``, so this folder is put on ``sys.path`` here).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import _support  # noqa: E402


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # pragma: no cover - reporting only
    stats = _support.MUTATION_STATS
    if not stats:
        return
    total = sum(n for n, _ in stats.values())
    rejected = sum(r for _, r in stats.values())
    rate = 100.0 * rejected / total if total else 0.0
    terminalreporter.write_sep("-", "soundness: mutation test")
    for name, (n, r) in sorted(stats.items()):
        terminalreporter.write_line(f"{name}: {r}/{n} mutants rejected")
    terminalreporter.write_line(f"total: {rejected}/{total} mutants rejected ({rate:.1f}%) over {len(stats)} theorems")
