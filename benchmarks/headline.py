"""The figures of issue 17's table, each as a ratio against the previous method and torch.

Never run as a test.  From the repository root (so that this checkout's convsym is imported):

    python -m benchmarks.headline                    # about a minute
    python -m benchmarks.headline --large            # + exact merge (9,9) and (11,11) C=16
                                                     #   (107.6M and ~240M terms: minutes)
    python -m benchmarks.headline --large --previous-large
                                                     # + the previous exact check at (9,9) C=16
                                                     #   (whole tensors: ~65 s and ~11.5 GB)

For the reference-vs-torch rows the issue allows unsetting OpenBLAS's core pinning for this
command alone:  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.headline

The machine may be shared: every time is given as CPU seconds of the process doing the work
(user + system, what the work costs) and as wall seconds (what a user waits), with the load
average in the header.  Ratios use CPU time.

Rows and what "previous" and "torch" mean in each:

  import convsym.cli     previous: the imports cli.py made before (build, cost, render);
                         torch: `import torch`
  convsym list           previous: the same command with those imports made first; torch: as above
  exact merge B/term     traced peak (tracemalloc) / terms of one side, at (7,7) C=8 and (9,9) C=16;
                         previous: exact_check (both sides whole)
  exact merge (9,9) C=16 (--large) compare_blockwise; previous: exact_check (--previous-large);
                         torch: the same identity checked numerically in float64 by torch
  exact merge (11,11)    as above (--large); the previous method runs out of memory
  exact / Zippel (7,7)8  exact check time over 3 Schwartz-Zippel points (and over 1 point, the
                         pre-check's default); previous: exact_check
  depthwise 3x3 64ch     convsym.reference.conv2d on (8,64,56,56), padding 1 (the depthwise path:
                         blocks of padded planes, one tap copy and one batched matrix product per
                         block, cropped into the result while in cache); previous: the grouped
                         im2col path it replaces; torch: torch.nn.functional.conv2d (CPU time of
                         all its threads, idle spinning included, and with 1 thread); best and
                         median of the runs.  Only these rows:  python -m benchmarks.headline --depthwise-only
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.exact_scaling import merge_statement, run  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover - torch is optional
    torch = None

PREVIOUS_CLI_IMPORTS = "import convsym.run.build, convsym.cost, convsym.render, convsym.render.export"


def child_seconds(code: list[str], repeat: int) -> tuple[float, float]:
    """Best (CPU, wall) seconds of a child process running ``code`` (argv after python)."""
    best_cpu = best_wall = float("inf")
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, *code], check=True, capture_output=True, cwd=ROOT)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best_cpu, best_wall = min(best_cpu, cpu), min(best_wall, wall)
    return best_cpu, best_wall


def import_seconds(statement: str, repeat: int) -> tuple[float, float]:
    """Best (CPU, wall) seconds of ``statement`` measured inside a fresh interpreter."""
    code = (f"import time; c = time.process_time(); w = time.perf_counter(); {statement}; "
            "print(time.process_time() - c, time.perf_counter() - w)")
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
        cpu, wall = (float(v) for v in out.stdout.split())
        best = (min(best[0], cpu), min(best[1], wall))
    return best


def cpu_best(repeat: int, fn, *args, **kwargs) -> tuple[float, float, object]:
    best_cpu = best_wall = float("inf")
    result = None
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        result = fn(*args, **kwargs)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    return best_cpu, best_wall, result


def torch_merge_check(k: int, c: int, repeat: int = 3) -> float | None:
    """Best wall seconds of a float64 numeric check of the merge identity in torch."""
    if torch is None:
        return None
    F = torch.nn.functional
    g = torch.Generator().manual_seed(0)
    n = 2 * k
    x = torch.randn(1, c, n, n, generator=g, dtype=torch.float64)
    w1, w2 = (torch.randn(c, c, k, k, generator=g, dtype=torch.float64) for _ in range(2))
    b1, b2 = (torch.randn(c, generator=g, dtype=torch.float64) for _ in range(2))

    def check():
        lhs = F.conv2d(F.conv2d(x, w1, b1), w2, b2)
        merged = F.conv2d(F.pad(w1.transpose(0, 1), (k - 1,) * 4), w2.flip(-1, -2)).transpose(0, 1)
        bias = b2 + w2.sum(dim=(2, 3)) @ b1
        rhs = F.conv2d(x, merged, bias)
        assert torch.allclose(lhs, rhs, rtol=1e-9, atol=1e-9)

    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        check()
        best = min(best, time.perf_counter() - start)
    return best


def fmt_ratio(new: float, old: float | None) -> str:
    return "-" if old is None or old == 0 else f"{new / old:.2f}x"


def row(figure: str, now: str, previous: str, vs_prev: str, torch_text: str, vs_torch: str, target: str) -> None:
    print(f"{figure:30} {now:>24} {previous:>22} {vs_prev:>8} {torch_text:>12} {vs_torch:>9}  {target}", flush=True)


def previous_depthwise(x, w, padding: int, groups: int):
    """The reference's previous path for a depthwise conv: grouped im2col + matrix products."""
    from convsym.reference import _common, conv

    pads = ((padding, padding), (padding, padding))
    return conv._conv_core(_common._pad(x, pads), w, (1, 1), (1, 1), groups)


def torch_one_thread(fn, *args, **kwargs):
    """``fn`` with torch limited to one thread (its CPU time then has no idle spinning in it)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn(*args, **kwargs)
    finally:
        torch.set_num_threads(threads)


def depthwise_rows(repeat: int) -> None:
    """CPU ms (best and median of ``repeat``) of the depthwise 3x3 conv, the calls taking turns."""
    from convsym import reference

    rng = np.random.default_rng(0)
    for dtype, target in ((np.float32, "at most 2x torch"), (np.float64, "at most 1x torch")):
        x = rng.standard_normal((8, 64, 56, 56)).astype(dtype)
        w = rng.standard_normal((64, 1, 3, 3)).astype(dtype)
        calls = {"now": partial(reference.conv2d, x, w, padding=1, groups=64),
                 "previous": partial(previous_depthwise, x, w, 1, 64)}
        if torch is not None:
            tx, tw = torch.from_numpy(x), torch.from_numpy(w)
            conv = partial(torch.nn.functional.conv2d, tx, tw, padding=1, groups=64)
            calls["torch"] = conv
            calls["torch 1 thread"] = partial(torch_one_thread, conv)
            expected = conv().numpy()
            scale = float(np.abs(expected).max()) * (1e-5 if dtype == np.float32 else 1e-12)
            for name in ("now", "previous"):
                assert float(np.abs(calls[name]() - expected).max()) <= scale, name
        for call in calls.values():
            call()
        # CPU time: torch's threads are all counted, and a shared machine does not blur it.  The
        # calls take turns, except torch with all its threads, timed on its own afterwards: its
        # idle threads keep spinning after it returns, and process CPU time would charge that
        # spinning to whichever call came next.
        times: dict[str, list[float]] = {name: [] for name in calls}
        turns = [name for name in calls if name != "torch"]
        for names in (turns, ["torch"] if "torch" in calls else []):
            for _ in range(repeat):
                for name in names:
                    start = time.process_time()
                    calls[name]()
                    times[name].append(time.process_time() - start)
        best = {name: min(t) for name, t in times.items()}
        median = {name: float(np.median(t)) for name, t in times.items()}
        label = f"depthwise 3x3 64ch {np.dtype(dtype).name}"
        for stat, values in (("best", best), ("median", median)):
            t_torch = values.get("torch")
            row(f"{label} {stat}", f"{values['now'] * 1e3:.2f} ms cpu", f"{values['previous'] * 1e3:.2f} ms",
                fmt_ratio(values["now"], values["previous"]),
                "-" if t_torch is None else f"{t_torch * 1e3:.2f} ms", fmt_ratio(values["now"], t_torch), target)
            if "torch 1 thread" in values:
                one = values["torch 1 thread"]
                row("  vs torch with 1 thread", "", "", "", f"{one * 1e3:.2f} ms", fmt_ratio(values["now"], one), "")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="runs per small measurement (best kept)")
    parser.add_argument("--large", action="store_true", help="also the exact merge at (9,9) and (11,11) C=16")
    parser.add_argument("--previous-large", action="store_true",
                        help="also the previous exact check at (9,9) C=16 (~11.5 GB)")
    parser.add_argument("--skip-depthwise", action="store_true")
    parser.add_argument("--depthwise-only", action="store_true", help="only the depthwise 3x3 rows")
    args = parser.parse_args(argv)
    if args.depthwise_only and args.skip_depthwise:
        parser.error("--depthwise-only and --skip-depthwise exclude each other")

    print(f"issue 17 figures; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"numpy {np.__version__}; torch {getattr(torch, '__version__', 'not installed')}; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')!r}")
    row("figure", "now", "previous", "/prev", "torch", "/torch", "target")
    print("-" * 140)
    if args.depthwise_only:
        depthwise_rows(max(args.repeat, 9))
        return

    # -- start-up
    torch_import = import_seconds("import torch", args.repeat) if torch is not None else None
    cli = import_seconds("import convsym.cli", args.repeat)
    old_cli = import_seconds(f"{PREVIOUS_CLI_IMPORTS}; import convsym.cli", args.repeat)
    row("import convsym.cli", f"{cli[0]:.3f} s cpu {cli[1]:.3f} wall", f"{old_cli[0]:.3f} s cpu",
        fmt_ratio(cli[0], old_cli[0]), "-" if torch_import is None else f"{torch_import[0]:.3f} s",
        fmt_ratio(cli[0], torch_import and torch_import[0]), "under 0.15 s")
    listing = child_seconds(["-m", "convsym", "list"], 3)
    old_listing = child_seconds(["-c", f"{PREVIOUS_CLI_IMPORTS}; from convsym.cli import main; main(['list'])"], 3)
    row("convsym list", f"{listing[0]:.3f} s cpu {listing[1]:.3f} wall", f"{old_listing[0]:.3f} s cpu",
        fmt_ratio(listing[0], old_listing[0]), "-" if torch_import is None else f"{torch_import[0]:.3f} s",
        fmt_ratio(listing[0], torch_import and torch_import[0]), "under 0.5 s")

    # -- exact merge: memory per term, then the two large cases (each in its own process)
    from convsym.exact.blockwise import compare_blockwise
    from convsym.exact.modp import exact_check, schwartz_zippel

    small_new, small_old = run("blockwise", 7, 8), run("exact_check", 7, 8)
    row("exact merge B/term (7,7) C=8", f"{small_new['traced'] / small_new['nnz']:.1f} B",
        f"{small_old['traced'] / small_old['nnz']:.1f} B",
        fmt_ratio(small_new["traced"], small_old["traced"]), "-", "-", "at most 40")
    if args.large:
        torch99 = torch_merge_check(9, 16)
        big = run("blockwise", 9, 16)
        row("exact merge B/term (9,9) C=16", f"{big['traced'] / big['nnz']:.1f} B", "(110-130 B in issue)",
            "-", "-", "-", "at most 40")
        old_big = run("exact_check", 9, 16, trace=False) if args.previous_large else None
        row("exact merge (9,9) C=16", f"{big['cpu']:.1f} s cpu {big['wall']:.1f} wall",
            "-" if old_big is None else f"{old_big['cpu']:.1f} s cpu {old_big['rss'] / 2**30:.1f} GB",
            fmt_ratio(big["cpu"], old_big and old_big["cpu"]),
            "-" if torch99 is None else f"{torch99 * 1e3:.1f} ms", fmt_ratio(big["cpu"], torch99), "under 30 s")
        old_rss = "-" if old_big is None else f"{old_big['rss'] / 2**30:.1f} GB"
        row("  peak memory (RSS)", f"{big['rss'] / 2**30:.2f} GB", old_rss,
            fmt_ratio(big["rss"], old_big and old_big["rss"]), "-", "-", "under 4 GB")
        torch11 = torch_merge_check(11, 16)
        huge = run("blockwise", 11, 16, trace=False)
        row("exact merge (11,11) C=16", f"{huge['cpu']:.1f} s cpu {huge['wall']:.1f} wall",
            "out of memory", "-", "-" if torch11 is None else f"{torch11 * 1e3:.1f} ms",
            fmt_ratio(huge["cpu"], torch11), "under 90 s")
        row("  peak memory (RSS)", f"{huge['rss'] / 2**30:.2f} GB", "-", "-", "-", "-", "under 10 GB")
    else:
        print("(exact merge at (9,9) and (11,11) C=16: with --large, a few minutes)")

    # -- exact vs Schwartz-Zippel at (7,7) C=8, in this process
    lhs, rhs, shapes = merge_statement(7, 7, 8)
    zippel = cpu_best(3, schwartz_zippel, lhs, rhs, shapes, trials=3)
    blocks = cpu_best(3, compare_blockwise, lhs, rhs, shapes, precheck=False)
    whole = cpu_best(3, exact_check, lhs, rhs, shapes)
    zippel1 = cpu_best(3, schwartz_zippel, lhs, rhs, shapes, trials=1)
    torch77 = torch_merge_check(7, 8)
    row("exact / Zippel (7,7) C=8", f"{blocks[0] / zippel[0]:.1f}x ({blocks[0]:.2f} s)",
        f"{whole[0] / zippel[0]:.1f}x ({whole[0]:.2f} s)", fmt_ratio(blocks[0], whole[0]),
        "-" if torch77 is None else f"{torch77 * 1e3:.1f} ms", fmt_ratio(blocks[0], torch77), "under 8x")
    row("  over 1 Zippel point", f"{blocks[0] / zippel1[0]:.1f}x ({zippel1[0]:.3f} s)",
        f"{whole[0] / zippel1[0]:.1f}x", "-", "-", "-", "")

    if not args.skip_depthwise:
        depthwise_rows(max(args.repeat, 9))
    print("whole `convsym prove --jobs 1`: python benchmarks/prove_time.py --plain "
          "(against an older checkout: --root OLD --compare .)")


if __name__ == "__main__":
    main()
