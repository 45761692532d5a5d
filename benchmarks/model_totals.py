"""The whole-model table: each tool's own total next to convsym's model of it, on the nine
reference architectures of ``tests/zoo.py`` at 224x224 (batch 1, eval mode), and the time
convsym takes to count each model on the meta device.

Run from the repository root: ``python benchmarks/model_totals.py [--size 224] [--markdown]``.
Prints one row per architecture: ``=`` where ``ModelCost.total_reported_by(tool)`` and the
tool's parameter count equal the tool's own, else both figures; then the counting time, as
CPU and wall seconds and as a ratio to one real CPU forward pass of the same model.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from convsym.cost import TOOLS, count_module  # noqa: E402
from tests.crosscheck.model_tools import run_tool  # noqa: E402
from tests.zoo import ARCHITECTURES  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--models", default=",".join(ARCHITECTURES))
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    count_module(ARCHITECTURES["resnet18"][0](), (1, 3, 32, 32))  # torch's one-off lazy imports
    rows = []
    for name in args.models.split(","):
        build = ARCHITECTURES[name][0]
        torch.manual_seed(0)
        model = build(img_size=args.size) if name == "vit_tiny" else build()
        shape = (1, 3, args.size, args.size)
        cpu, wall = time.process_time(), time.perf_counter()
        counted = count_module(model, shape)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        x = torch.zeros(shape)
        with torch.no_grad():
            forward = time.perf_counter()
            model(x)
            forward = time.perf_counter() - forward
        cells = []
        for tool in TOOLS:
            got, params = run_tool(tool, model, x)
            mine = counted.tool(tool)
            value = (mine.value, mine.macs) if tool == "deepspeed" else mine.value
            cells.append("=" if (value, mine.params) == (got, params) else f"{value}/{mine.params} vs {got}/{params}")
        rows.append((name, f"{counted.total('macs'):,}", f"{counted.total('params'):,}", *cells,
                     f"{cpu:.2f}", f"{wall:.2f}", f"{wall / forward:.1f}", str(len(counted.uncounted))))
        print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    head = ("model", "convsym MACs", "params", *TOOLS, "count CPU s", "count wall s", "count/forward",
            "uncounted ops")
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        for r in [head, *rows]:
            print("  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip())


if __name__ == "__main__":
    main()
