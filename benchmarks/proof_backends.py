"""Time the exact backends on the 2-D two-layer merge identity (never run as a test).

Statement, every entry of every input a distinct variable, C_in = C_mid = C_out = C:

    conv2d(conv2d(x, w1) + b1, w2) + b2 == conv2d(x, W) + B,
    W[o,c] = sum_m full_convolution(w1[m,c], w2[o,m]),  B[o] = b2[o] + sum_{m,u,v} w2[o,m,u,v] b1[m]

The input is C x n x n with n = k1 + k2, so the output is C x 2 x 2.  Columns:

  zippel   Schwartz-Zippel pre-check, 3 random points mod 2**31-1 (ModPTensor), best of --repeat
  exact    PolyTensor: build both sides and compare them, best of --repeat
  blocks   convsym.exact.blockwise.compare_blockwise: the same check a block of output entries at a time
  naive    sympy.expand(lhs - rhs) == 0 per entry over nested SymPy expressions of the same
           statement, in a subprocess limited to --naive-limit seconds ("> 60 s" when it does not
           finish; "skipped" when a size no larger in every parameter already did not finish)
  ratio    naive / exact
  mono     monomials per output entry (exact result)
  peak MB  peak memory traced by tracemalloc during one exact check (NumPy buffers included)
  blk MB   the same for compare_blockwise

Usage: python -m benchmarks.proof_backends [--quick] [--repeat R] [--naive-limit S]
(run from the repository root, so that this checkout's convsym is imported)
(--quick runs only the first two rows: k=(3,3) with C=1 and C=2.)
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import time
import tracemalloc
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from convsym.exact.blockwise import compare_blockwise  # noqa: E402
from convsym.exact.modp import exact_check, schwartz_zippel  # noqa: E402
from convsym.exact.ops import conv2d, merge_bias, merge_kernels  # noqa: E402

KERNELS = ((3, 3), (3, 5), (5, 5), (7, 7))
CHANNELS = (1, 2, 4, 8)


def statement(k1: int, k2: int, c: int):
    n = k1 + k2  # output (k1 + k2) - (k1 + k2 - 1) + 1 = 2 along each axis
    shapes = {
        "x": (c, n, n), "w1": (c, c, k1, k1), "b1": (c,), "w2": (c, c, k2, k2), "b2": (c,),
    }

    def lhs(v):
        return conv2d(conv2d(v["x"], v["w1"], v["b1"]), v["w2"], v["b2"])

    def rhs(v):
        return conv2d(v["x"], merge_kernels(v["w1"], v["w2"]), merge_bias(v["w2"], v["b1"], v["b2"]))

    return lhs, rhs, shapes


def best_time(repeat: int, fn, *args, **kwargs):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best, result


def naive_sympy(k1: int, k2: int, c: int) -> float:
    """Nested SymPy expressions with plain loops, then expand every entry of lhs - rhs."""
    import sympy

    start = time.perf_counter()
    n = k1 + k2

    def symbols(name, shape):
        out = np.empty(shape, dtype=object)
        for idx in np.ndindex(*shape):
            out[idx] = sympy.Symbol(f"{name}_{{{','.join(map(str, idx))}}}", real=True)
        return out

    x, w1, b1 = symbols("x", (c, n, n)), symbols("w1", (c, c, k1, k1)), symbols("b1", (c,))
    w2, b2 = symbols("w2", (c, c, k2, k2)), symbols("b2", (c,))

    def conv(inp, w, b):
        cout, cin, k = w.shape[0], w.shape[1], w.shape[2]
        size = inp.shape[1] - k + 1
        out = np.empty((cout, size, size), dtype=object)
        for o, i, j in itertools.product(range(cout), range(size), range(size)):
            out[o, i, j] = sympy.Add(b[o], *[
                inp[m, i + u, j + v] * w[o, m, u, v]
                for m, u, v in itertools.product(range(cin), range(k), range(k))
            ])
        return out

    lhs = conv(conv(x, w1, b1), w2, b2)
    big = k1 + k2 - 1
    merged = np.empty((c, c, big, big), dtype=object)
    for o, ch, t, s in itertools.product(range(c), range(c), range(big), range(big)):
        merged[o, ch, t, s] = sympy.Add(*[
            w1[m, ch, a, b] * w2[o, m, t - a, s - b]
            for m, a, b in itertools.product(range(c), range(k1), range(k1))
            if 0 <= t - a < k2 and 0 <= s - b < k2
        ])
    bias = [b2[o] + sympy.Add(*[w2[o, m, u, v] * b1[m]
                                for m, u, v in itertools.product(range(c), range(k2), range(k2))])
            for o in range(c)]
    rhs = conv(x, merged, bias)
    for idx in np.ndindex(*lhs.shape):
        if sympy.expand(lhs[idx] - rhs[idx]) != 0:
            raise AssertionError(f"naive: the identity failed at {idx}")
    return time.perf_counter() - start


def run_naive(k1: int, k2: int, c: int, limit: float) -> float | None:
    """Seconds of :func:`naive_sympy` in a subprocess, or None past ``limit``."""
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--naive-worker", str(k1), str(k2), str(c)],
            capture_output=True, text=True, timeout=limit, check=True,
        )
    except subprocess.TimeoutExpired:
        return None
    return float(done.stdout.strip().splitlines()[-1])


def peak_memory_mb(lhs, rhs, shapes, check=exact_check) -> float:
    tracemalloc.start()
    check(lhs, rhs, shapes)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="only the first two rows")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per backend (best is shown)")
    parser.add_argument("--naive-limit", type=float, default=60.0, help="seconds allowed to naive SymPy")
    parser.add_argument("--naive-worker", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.naive_worker:
        print(naive_sympy(*args.naive_worker))
        return

    rows = [(k1, k2, c) for (k1, k2) in KERNELS for c in CHANNELS]
    if args.quick:
        rows = rows[:2]
    limit = args.naive_limit
    timed_out: list[tuple[int, int, int]] = []
    header = (f"{'k1,k2':>6} {'C':>2} {'zippel s':>9} {'exact s':>8} {'blocks s':>8} {'naive s':>9} {'ratio':>8} "
              f"{'mono':>7} {'peak MB':>8} {'blk MB':>7}")
    print("2-D merge identity, all entries symbolic with biases; input C x (k1+k2) x (k1+k2), output C x 2 x 2")
    print(header)
    print("-" * len(header))
    for k1, k2, c in rows:
        lhs, rhs, shapes = statement(k1, k2, c)
        t_zippel, zippel = best_time(args.repeat, schwartz_zippel, lhs, rhs, shapes, trials=3)
        t_exact, exact = best_time(args.repeat, exact_check, lhs, rhs, shapes)
        t_blocks, blocks = best_time(args.repeat, compare_blockwise, lhs, rhs, shapes, precheck=False)
        if not (zippel.equal and exact.equal and blocks.equal):
            raise AssertionError(f"the merge identity failed at k=({k1},{k2}), C={c}")
        peak = peak_memory_mb(lhs, rhs, shapes)
        peak_blocks = peak_memory_mb(lhs, rhs, shapes, partial(compare_blockwise, precheck=False))
        if any(a <= k1 and b <= k2 and d <= c for a, b, d in timed_out):
            naive_text, ratio_text = "skipped", "-"
        else:
            t_naive = run_naive(k1, k2, c, limit)
            if t_naive is None:
                timed_out.append((k1, k2, c))
                naive_text, ratio_text = f"> {limit:.0f}", f"> {limit / t_exact:.0f}x"
            else:
                naive_text, ratio_text = f"{t_naive:.3f}", f"{t_naive / t_exact:.0f}x"
        print(f"{f'{k1},{k2}':>6} {c:>2} {t_zippel:>9.4f} {t_exact:>8.4f} {t_blocks:>8.4f} {naive_text:>9} "
              f"{ratio_text:>8} {exact.terms_per_entry.max:>7} {peak:>8.1f} {peak_blocks:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
