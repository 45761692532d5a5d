"""How long ``convsym cost --model tests.zoo:resnet50 --input 1,3,224,224`` takes, end to end.

Runs the command ``--repeat`` times in fresh processes and prints, for each, the wall and CPU
seconds (CPU: user + system of the child, the figure that does not depend on other load on the
machine), next to a fresh ``python -c "import torch"`` (the floor any torch tool pays) and
the ratio of the two, then the median of each column.  Run from the repository root:
``python benchmarks/cli_model_time.py``.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(argv: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tests.zoo:resnet50")
    parser.add_argument("--input", default="1,3,224,224")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    command = [sys.executable, "-m", "convsym", "cost", "--model", args.model, "--input", args.input]
    floor = [sys.executable, "-c", "import torch"]
    print(f"{'run':>3}  {'cost wall s':>11}  {'cost CPU s':>10}  {'import torch CPU s':>18}  {'ratio (CPU)':>11}")
    runs = []
    for i in range(args.repeat):
        wall, cpu = timed(command)
        _, torch_cpu = timed(floor)
        runs.append((wall, cpu, torch_cpu))
        print(f"{i + 1:>3}  {wall:>11.2f}  {cpu:>10.2f}  {torch_cpu:>18.2f}  {cpu / torch_cpu:>11.2f}")
    wall, cpu, torch_cpu = (statistics.median(r[i] for r in runs) for i in range(3))
    print(f"{'med':>3}  {wall:>11.2f}  {cpu:>10.2f}  {torch_cpu:>18.2f}  {cpu / torch_cpu:>11.2f}")


if __name__ == "__main__":
    main()
