"""How long ``convsym prove --jobs 1`` takes, end to end, and where the time goes.

Runs ``python -m convsym prove --jobs 1 --json`` ``--repeat`` times in fresh processes and prints,
for each, the wall and CPU seconds of the process (CPU: user + system of the child, the figure
that depends least on other load on the machine) and, from the verdicts, the sum of the
theorems' ``seconds`` by strength (general, exact-family, exact-instance, numeric); "startup" is
the wall time outside the theorems (interpreter, imports, loading the proof scripts, output).
Then the median of each column.  ``--root`` runs another checkout (e.g. an older commit exported
with ``git archive``); ``--compare OTHER`` runs this checkout (or ``--root``) and ``OTHER`` in
turn, run for run, so that both see the same load on the machine, and prints one table each.
``--plain`` times the command as a user types it (``prove --jobs 1``, no ``--json``): the verdicts'
printed forms (statements, steps, records) are then never printed, so only the wall and CPU
columns are given.  Run from the repository root: ``python benchmarks/prove_time.py``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STRENGTHS = ("general", "exact-family", "exact-instance", "numeric")


def timed(argv: list[str], cwd: Path) -> tuple[float, float, list[dict] | None]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(done.stdout) if "--json" in argv else None


def _row(wall: float, cpu: float, verdicts: list[dict] | None) -> list[float]:
    if verdicts is None:
        return [wall, cpu]
    by = {s: sum(v["seconds"] for v in verdicts if v["strength"] == s) for s in STRENGTHS}
    return [wall, cpu, *by.values(), wall - sum(by.values())]


def _table(title: str, runs: list[list[float]]) -> None:
    head = ["wall s", "CPU s", *STRENGTHS, "startup"][:len(runs[0])]
    print(title)
    print(f"{'run':>3}  " + "  ".join(f"{h:>14}" for h in head))
    for i, row in enumerate(runs):
        print(f"{i + 1:>3}  " + "  ".join(f"{x:>14.2f}" for x in row))
    medians = [statistics.median(r[i] for r in runs) for i in range(len(head))]
    print(f"{'med':>3}  " + "  ".join(f"{x:>14.2f}" for x in medians))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to run (default: this one)")
    parser.add_argument("--compare", type=Path, default=None, help="another checkout, run in turn with --root")
    parser.add_argument("--plain", action="store_true", help="without --json: wall and CPU only")
    args = parser.parse_args()
    command = [sys.executable, "-m", "convsym", "prove", "--jobs", "1"] + ([] if args.plain else ["--json"])
    roots = [args.root] + ([args.compare] if args.compare is not None else [])
    runs: dict[Path, list[list[float]]] = {root: [] for root in roots}
    for _ in range(args.repeat):
        for root in roots:
            runs[root].append(_row(*timed(command, root)))
    for root in roots:
        _table(str(root), runs[root])


if __name__ == "__main__":
    main()
