"""Time convsym.reference.conv2d against torch.nn.functional.conv2d and print the ratios.

    python benchmarks/reference_vs_torch.py [--repeat 5]

Each line is the best of ``--repeat`` runs.  ``ratio`` is reference time / torch time (lower is
better; the aim is at most 1.2 in float64 and 3 in float32).  Without torch only the reference
times are printed.  NumPy's matrix products run in OpenBLAS, whose kernel choice depends on the
environment: ``OPENBLAS_CORETYPE`` (printed in the header) and ``OPENBLAS_NUM_THREADS`` change the
reference's times, so compare runs made under the same settings.
"""

from __future__ import annotations

import argparse
import os
import time
from functools import partial

import numpy as np

from convsym import reference

try:
    import torch
except ImportError:
    torch = None

# (name, input shape, weight shape, stride, padding, groups)
SHAPES = [
    ("resnet 3x3, 64->64, 56x56", (8, 64, 56, 56), (64, 64, 3, 3), 1, 1, 1),
    ("stem 7x7/2, 3->64, 224x224", (8, 3, 224, 224), (64, 3, 7, 7), 2, 3, 1),
    ("depthwise 3x3, 64ch, 56x56", (8, 64, 56, 56), (64, 1, 3, 3), 1, 1, 64),
    ("pointwise 1x1, 256->64, 56x56", (8, 256, 56, 56), (64, 256, 1, 1), 1, 0, 1),
    ("3x3/2, 128->256, 28x28", (8, 128, 28, 28), (256, 128, 3, 3), 2, 1, 1),
]


def best_times(calls, repeat: int) -> list[float]:
    """Best time of each call; the calls take turns so that a busy spell hits them alike."""
    for call in calls:
        call()  # warm-up: allocations, thread pools
    best = [float("inf")] * len(calls)
    for _ in range(repeat):
        for index, call in enumerate(calls):
            start = time.perf_counter()
            call()
            best[index] = min(best[index], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (best kept)")
    args = parser.parse_args()

    print(f"numpy {np.__version__}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')!r}")
    if torch is None:
        print("torch is not installed: printing reference times only")
        print("(pip install -e .[crosscheck] for the comparison)")
    else:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'shape':32} {'dtype':8} {'reference':>11} {'torch':>11} {'ratio':>7}")
    rng = np.random.default_rng(0)
    for name, x_shape, w_shape, stride, padding, groups in SHAPES:
        for dtype in (np.float64, np.float32):
            x = rng.standard_normal(x_shape).astype(dtype)
            w = rng.standard_normal(w_shape).astype(dtype)
            kwargs = dict(stride=stride, padding=padding, groups=groups)
            ours = reference.conv2d(x, w, **kwargs)
            assert ours.dtype == dtype, f"{name}: {dtype.__name__} came back as {ours.dtype}"
            calls = [partial(reference.conv2d, x, w, **kwargs)]
            if torch is not None:
                tx, tw = torch.from_numpy(x), torch.from_numpy(w)
                theirs = torch.nn.functional.conv2d(tx, tw, **kwargs).numpy()
                scale = float(np.abs(theirs).max())
                tolerance = 1e-10 if dtype == np.float64 else 1e-4
                assert float(np.abs(ours - theirs).max()) <= tolerance * scale, name
                calls.append(partial(torch.nn.functional.conv2d, tx, tw, **kwargs))
            times = best_times(calls, args.repeat)
            line = f"{name:32} {dtype.__name__:8} {times[0] * 1e3:9.1f}ms"
            if torch is not None:
                line += f" {times[1] * 1e3:9.1f}ms {times[0] / times[1]:6.2f}x"
            print(line, flush=True)


if __name__ == "__main__":
    main()
