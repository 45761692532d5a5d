"""The whole-model table: each tool's own total next to convsym's model of it, on the nine
reference architectures of ``tests/zoo.py`` at 224x224 (batch 1, eval mode), and the time
convsym takes to count each model on the meta device.

Run from the repository root: ``python benchmarks/model_totals.py [--size 224] [--markdown]``.
Prints one row per architecture: ``=`` where ``ModelCost.total_reported_by(tool)`` and the
tool's parameter count equal the tool's own, else both figures; then the counting time, as
CPU and wall seconds and as a ratio to one real CPU forward pass of the same model.

``--write`` also writes the table as ``proofs/data/model_totals.json`` (its fields are
described inside it, under ``fields``), the data the book's costs chapter prints; the
crosscheck test ``tests/crosscheck/test_model_totals.py`` recomputes it with the installed
tools and fails when the committed file is stale.
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
from tests.crosscheck.model_tools import TOTALS_PATH, model_totals, totals_text  # noqa: E402
from tests.zoo import ARCHITECTURES  # noqa: E402


def _cell(cell: dict) -> str:
    if cell["equal"]:
        return "="
    if cell["convsym"] is None:
        return "not modelled"
    return f"{cell['convsym']}/{cell['params_convsym']} vs {cell['tool']}/{cell['params_tool']}"


def _timing(name: str, size: int) -> tuple[float, float, float]:
    """CPU and wall seconds of ``count_module`` and the wall seconds of one real forward pass."""
    build = ARCHITECTURES[name][0]
    torch.manual_seed(0)
    model = build(img_size=size) if name == "vit_tiny" else build()
    model.eval()
    shape = (1, 3, size, size)
    cpu, wall = time.process_time(), time.perf_counter()
    count_module(model, shape)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    with torch.no_grad():
        forward = time.perf_counter()
        model(torch.zeros(shape))
        forward = time.perf_counter() - forward
    return cpu, wall, forward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--models", default=",".join(ARCHITECTURES))
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--write", action="store_true", help=f"also write {TOTALS_PATH}")
    args = parser.parse_args()
    names = args.models.split(",")
    unknown = [n for n in names if n not in ARCHITECTURES]
    if unknown:
        parser.error(f"--models: unknown {', '.join(unknown)}; known: {', '.join(ARCHITECTURES)}")
    torch.set_num_threads(1)
    count_module(ARCHITECTURES["resnet18"][0](), (1, 3, 32, 32))  # torch's one-off lazy imports
    data = model_totals(args.size, names)
    if args.write:
        path = ROOT / TOTALS_PATH
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(totals_text(data))
        print(f"wrote {TOTALS_PATH}", file=sys.stderr)
    rows = []
    for entry in data["architectures"]:
        cpu, wall, forward = _timing(entry["name"], args.size)
        mine = entry["convsym"]
        rows.append((entry["name"], f"{mine['macs']:,}", f"{mine['params']:,}",
                     *(_cell(entry["tools"][t]) for t in TOOLS), f"{cpu:.2f}", f"{wall:.2f}",
                     f"{wall / forward:.1f}", str(len(mine["uncounted"]))))
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
