"""Exact per-channel affine chains and the floating-point error bounds of fused parameters
(see the package docstring: the bound)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from convsym.onnx.graph import _Graph


def _fraction_array(values: np.ndarray) -> np.ndarray:
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    return np.array([Fraction(v) for v in flat.tolist()], dtype=object).reshape(np.shape(values))


def _sqrt_enclosure(q: Fraction, bits: int = 80) -> tuple[Fraction, Fraction]:
    """``lo <= sqrt(q) <= hi`` with ``hi - lo <= 2^-bits * sqrt(q)`` (rationals)."""
    num, den = q.numerator, q.denominator
    scale = 1 << (bits + 1)
    root = math.isqrt(num * den * scale * scale)  # floor(sqrt(q) * den * scale)
    lo, hi = Fraction(root, den * scale), Fraction(root + 1, den * scale)
    return lo, hi


@dataclass
class _Affine:
    """``y[o] = S[o] x[o] + T[o]`` composed exactly, with the bias magnitude ``A`` and counts."""

    S: np.ndarray
    T: np.ndarray
    A: np.ndarray
    radius: np.ndarray  # |S - S_exact| <= radius (from the sqrt enclosures)
    n_weight: int = 2
    n_bias: int = 3
    steps: list[str] = field(default_factory=list)


def _per_channel(value: np.ndarray, channels: int) -> np.ndarray | None:
    """A constant that broadcasts along the channel axis of NCHW (shape ``()``, ``(1,)``,
    ``(C, 1, 1)`` or ``(1, C, 1, 1)``) as a vector of length ``C``; None for anything else (a
    constant that varies over space or batch is not a per-channel affine map)."""
    v = np.asarray(value)
    if v.size == 1 and v.ndim <= 4:
        return np.full(channels, v.reshape(()).item(), dtype=v.dtype)
    if v.shape in ((channels, 1, 1), (1, channels, 1, 1)):
        return v.reshape(channels)
    return None


def _start(bias: np.ndarray | None, channels: int) -> _Affine:
    T = _fraction_array(bias) if bias is not None else np.array([Fraction(0)] * channels, dtype=object)
    S = np.array([Fraction(1)] * channels, dtype=object)
    return _Affine(S, T, np.abs(T), np.array([Fraction(0)] * channels, dtype=object))


def _apply_bn(chain: _Affine, node, graph: _Graph) -> _Affine:
    """Compose ``bn`` after the chain with :func:`convsym.transforms.fold_batchnorm`, exactly."""
    from convsym.transforms import BatchNorm2d, Conv2d, fold_batchnorm

    gamma, beta, mean, var = (_fraction_array(graph.const[n]) for n in node.input[1:5])
    eps = Fraction(float(np.float32(graph.attrs(node).get("epsilon", 1e-5))))
    channels = len(gamma)
    s_hat = np.empty(channels, dtype=object)
    radius = np.empty(channels, dtype=object)
    for c in range(channels):
        lo, hi = _sqrt_enclosure(var[c] + eps)
        mid = (lo + hi) / 2
        s_hat[c] = gamma[c] / mid
        radius[c] = abs(gamma[c]) * (1 / lo - 1 / hi)
    half = np.array([Fraction(1, 2)] * channels, dtype=object)
    # a probe conv: weight S (so the folded weight is S * s) and bias T
    probe = Conv2d(chain.S.reshape(channels, 1, 1, 1), chain.T)
    folded = fold_batchnorm(probe, BatchNorm2d(mean, half, s_hat, beta, eps=Fraction(1, 2)))
    S, T = folded.weight.reshape(channels), folded.bias
    A = (chain.A + np.abs(mean)) * np.abs(s_hat) + np.abs(beta)
    new_radius = chain.radius * np.abs(s_hat) + np.abs(chain.S) * radius
    return _Affine(np.array(S, dtype=object), np.array(T, dtype=object), A, new_radius, chain.n_weight + 5,
                   chain.n_bias + 8, chain.steps + [node.name])


def _apply_add(chain: _Affine, c: np.ndarray, node) -> _Affine:
    c = _fraction_array(c)
    return _Affine(chain.S, chain.T + c, chain.A + np.abs(c), chain.radius, chain.n_weight, chain.n_bias + 1,
                   chain.steps + [node.name])


def _apply_mul(chain: _Affine, c: np.ndarray, node) -> _Affine:
    c = _fraction_array(c)
    return _Affine(chain.S * c, chain.T * c, chain.A * np.abs(c), chain.radius * np.abs(c), chain.n_weight + 1,
                   chain.n_bias + 1, chain.steps + [node.name])


def _gamma(n: int, u: float) -> float:
    return n * u / (1 - n * u)


def _out_index(weight_shape, group: int, transposed: bool) -> np.ndarray:
    """For each weight entry (as a broadcastable array) the output channel it writes."""
    if not transposed:
        return np.arange(weight_shape[0])[:, None, None, None]
    cin, cout_g = weight_shape[0], weight_shape[1]
    gi = cin // group
    i = np.arange(cin)[:, None]
    return ((i // gi) * cout_g + np.arange(cout_g)[None, :])[:, :, None, None]


def _check_weights(w: np.ndarray, w_opt: np.ndarray, chain: _Affine, idx: np.ndarray, u: float, tiny: float):
    """``(ok, ratio, allowed)``: is every ``|w_opt - w*S| <= gamma_Nw |w*S| + N*tiny``, decided exactly."""
    n = chain.n_weight
    g = _gamma(n, u)
    S64 = np.array([float(s) for s in chain.S])[idx]
    # the enclosure of sqrt is 2^-80 relative: far inside the margin below
    assert all(r <= abs(s) * Fraction(1, 10**15) for r, s in zip(chain.radius, chain.S, strict=True))
    w64, o64 = w.astype(np.float64), w_opt.astype(np.float64)
    ref = w64 * S64
    allowed = g * np.abs(ref) + n * tiny
    d = np.abs(o64 - ref)
    undecided = np.abs(d - allowed) <= 2e-12 * (np.abs(ref) + allowed) + 1e-300
    ok_entries = d < allowed
    for pos in zip(*np.nonzero(undecided), strict=False):
        o = int(np.broadcast_to(idx, w.shape)[pos])
        exact = Fraction(float(w[pos])) * chain.S[o]
        err = abs(Fraction(float(w_opt[pos])) - exact)
        lim = Fraction(g) * abs(exact) + n * Fraction(tiny) - abs(Fraction(float(w[pos]))) * chain.radius[o]
        ok_entries[pos] = err <= lim
    ratio = float(np.max(d / allowed)) if d.size else 0.0
    return bool(ok_entries.all()), ratio, allowed


def _check_bias(b_opt: np.ndarray | None, chain: _Affine, u: float, tiny: float, channels: int):
    n = chain.n_bias
    g = _gamma(n, u)
    b_opt = np.zeros(channels) if b_opt is None else b_opt
    ok, ratio, allowed = True, 0.0, np.empty(channels)
    for o in range(channels):
        exact = chain.T[o]
        # T was composed with s_hat, within 2^-80 relative of the exact scale: |T - T_exact| is at
        # most A * 2^-78, far below gamma_N * A, and added so that the decision stays rigorous
        lim = Fraction(g) * chain.A[o] + n * Fraction(tiny) + chain.A[o] / 2**78
        err = abs(Fraction(float(b_opt[o])) - exact)
        allowed[o] = float(lim)
        ok = ok and err <= lim
        ratio = max(ratio, float(err / lim) if lim else (0.0 if err == 0 else math.inf))
    return ok, ratio, allowed
