"""Scaling of the exact merge check: time, peak memory and bytes per term (never run as a test).

Statement (as in proof_backends.py), every entry of every input a distinct variable:

    conv2d(conv2d(x, w1) + b1, w2) + b2 == conv2d(x, merge_kernels(w1, w2)) + merge_bias(...)

with k1 = k2 = k, C_in = C_mid = C_out = C, input C x 2k x 2k, output C x 2 x 2.  Each cell runs
in its own process, so its peak is its own:

  terms    terms of one side (lhs), the figure the issue's "107.6M terms" counts
  wall s   wall-clock seconds of the check (the machine may be shared: see cpu s)
  cpu s    CPU seconds of the process during the check (user + system), untraced run
  RSS MB   peak resident set of the whole process (ru_maxrss), interpreter and trace included
  traced   peak of the memory NumPy and Python allocate during a second, traced run (tracemalloc)
  B/term   traced / terms: bytes per polynomial term of one side
  x prev   the same for the previous method (exact_check: both sides whole), when it ran

Usage (from the repository root, so that this checkout's convsym is imported):

    python -m benchmarks.exact_scaling              # k = 3..7, C = 1..8: a couple of minutes
    python -m benchmarks.exact_scaling --full       # k = 3..11, C = 1..16: ~5 min, ~2.3 GB peak
                                                    # (benchmarks/results/exact_scaling.md)
    python -m benchmarks.exact_scaling --previous   # also time exact_check where it fits
                                                    # (--previous-limit terms, default 30M)
    python -m benchmarks.exact_scaling --kernels 9,11 --channels 16   # chosen cells only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

KERNELS = (3, 5, 7, 9, 11)
CHANNELS = (1, 2, 4, 8, 16)


def merge_statement(k1: int, k2: int, c: int):
    """(lhs, rhs, shapes) of the 2-D two-layer merge identity, output C x 2 x 2."""
    from convsym.exact.ops import conv2d, merge_bias, merge_kernels

    n = k1 + k2
    shapes = {"x": (c, n, n), "w1": (c, c, k1, k1), "b1": (c,), "w2": (c, c, k2, k2), "b2": (c,)}

    def lhs(v):
        return conv2d(conv2d(v["x"], v["w1"], v["b1"]), v["w2"], v["b2"])

    def rhs(v):
        return conv2d(v["x"], merge_kernels(v["w1"], v["w2"]), merge_bias(v["w2"], v["b1"], v["b2"]))

    return lhs, rhs, shapes


def lhs_terms(k: int, c: int) -> int:
    """Terms of one side: per output entry C*C*k^4 (x w1 w2) + C*k^2 (b1 w2) + 1 (b2)."""
    return 4 * c * (c * c * k**4 + c * k * k + 1)


def worker(method: str, k: int, c: int, trace: bool) -> dict:
    """One check in this process; the figures as a dict."""
    from convsym.exact.blockwise import compare_blockwise
    from convsym.exact.modp import exact_check

    lhs, rhs, shapes = merge_statement(k, k, c)

    def check():
        if method == "blockwise":
            return compare_blockwise(lhs, rhs, shapes, precheck=False)
        return exact_check(lhs, rhs, shapes)

    # timed without tracemalloc (it slows Python-level allocations), then traced for the peak
    cpu, wall = time.process_time(), time.perf_counter()
    result = check()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    blocks = getattr(result, "blocks", 1)
    peak = 0
    if trace:
        del result
        tracemalloc.start()
        result = check()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if not result.equal:
        raise AssertionError(f"the merge identity failed at k={k}, C={c}")
    return {
        "wall": wall, "cpu": cpu, "traced": peak, "nnz": result.nnz, "blocks": blocks,
        "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def run(method: str, k: int, c: int, trace: bool = True) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.exact_scaling", "--worker", method, str(k), str(c),
         *([] if trace else ["--no-trace"])],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="k = 3..11 and C = 1..16 (long)")
    parser.add_argument("--previous", action="store_true", help="also run exact_check (whole tensors)")
    parser.add_argument("--previous-limit", type=float, default=30e6,
                        help="largest lhs term count exact_check is run on (memory: ~110 B a term)")
    parser.add_argument("--kernels", help="comma-separated kernel sizes (overrides the defaults), e.g. 9,11")
    parser.add_argument("--channels", help="comma-separated channel counts (overrides the defaults), e.g. 16")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--no-trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        method, k, c = args.worker[0], int(args.worker[1]), int(args.worker[2])
        print(json.dumps(worker(method, k, c, not args.no_trace)))
        return

    kernels = KERNELS if args.full else KERNELS[:3]
    channels = CHANNELS if args.full else CHANNELS[:4]
    if args.kernels:
        kernels = tuple(int(k) for k in args.kernels.split(","))
    if args.channels:
        channels = tuple(int(c) for c in args.channels.split(","))
    print(f"exact merge check by blocks (convsym.exact.blockwise.compare_blockwise); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    header = (f"{'k':>3} {'C':>3} {'terms':>12} {'blocks':>6} {'wall s':>8} {'cpu s':>8} {'RSS MB':>8} "
              f"{'traced MB':>9} {'B/term':>7} {'prev cpu s':>10} {'x prev':>7} {'prev B/term':>11}")
    print(header)
    print("-" * len(header))
    for k in kernels:
        for c in channels:
            new = run("blockwise", k, c)
            line = (f"{k:>3} {c:>3} {new['nnz']:>12,} {new['blocks']:>6} {new['wall']:>8.2f} {new['cpu']:>8.2f} "
                    f"{new['rss'] / 2**20:>8.0f} {new['traced'] / 2**20:>9.0f} {new['traced'] / new['nnz']:>7.1f}")
            if args.previous and lhs_terms(k, c) <= args.previous_limit:
                old = run("exact_check", k, c)
                line += (f" {old['cpu']:>10.2f} {old['cpu'] / new['cpu']:>6.2f}x"
                         f" {old['traced'] / old['nnz']:>11.1f}")
            print(line, flush=True)


if __name__ == "__main__":
    main()
