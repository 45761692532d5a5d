"""``linear``, inference ``batch_norm``, ``pixel_shuffle`` and ``pixel_unshuffle``."""

from __future__ import annotations

import math
import numbers
from fractions import Fraction

import numpy as np

from convsym.reference._common import _array, _bias, _is_int, _optional_array, _rank, _unify

# --------------------------------------------------------------------------------------------
# dense layers and normalisation


def linear(x, w, b=None) -> np.ndarray:
    """Fully connected layer, like ``torch.nn.functional.linear``.

    ``x`` has shape ``(..., in)``, ``w`` shape ``(out, in)``, ``b`` shape ``(out,)``::

        out[..., o] = b[o] + sum_i x[..., i] * w[o, i]          (out = x @ w.T + b)
    """
    op = "linear"
    x = _array(op, "input", x)
    w = _array(op, "weight", w)
    b = _optional_array(op, "bias", b)
    if x.ndim < 1:
        raise ValueError(f"{op}: input must have at least 1 dimension (..., in), got shape ()")
    _rank(op, "weight", w, 2, "(out, in)")
    if x.shape[-1] != w.shape[1]:
        raise ValueError(
            f"{op}: input has {x.shape[-1]} features (input.shape[-1]) but weight expects "
            f"{w.shape[1]} (weight.shape[1])"
        )
    _bias(op, b, w.shape[0])
    x, w, b = _unify(x, w, b)
    out = np.matmul(x, w.T)
    return out if b is None else out + b


def _not_positive(op: str, channel: int, var, eps, total) -> ValueError:
    return ValueError(
        f"{op}: var + eps must be positive; channel {channel} has var = {var} and eps = {eps} "
        f"(var + eps = {total})"
    )


def _exact_sqrt(op: str, value: Fraction, channel: int) -> Fraction:
    num, den = value.numerator, value.denominator
    root_num, root_den = math.isqrt(num), math.isqrt(den)
    if root_num * root_num != num or root_den * root_den != den:
        raise ValueError(
            f"{op}: exact (object) arrays need var + eps to be the square of a fraction so that "
            f"sqrt stays exact; channel {channel} has var + eps = {value}"
        )
    return Fraction(root_num, root_den)


def batch_norm(x, mean, var, gamma, beta, eps=1e-5) -> np.ndarray:
    """Batch normalisation in inference mode, per channel on axis 1.

    ``x`` has shape ``(N, C, ...)``; ``mean``, ``var``, ``gamma``, ``beta`` shape ``(C,)``
    (``gamma=None`` means 1, ``beta=None`` means 0)::

        out[n, c, ...] = (x[n, c, ...] - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c]

    ``var[c] + eps`` must be positive (a ``ValueError`` names the first channel where it is not,
    NaN included), instead of the NaN or infinity a square root of it would give.

    Exact object inputs: a float ``eps`` is read as the shortest decimal that prints as it
    (``1e-05`` is ``Fraction(1, 100000)``, not the binary double ``5764607523034235/2**59``), as a
    user who types ``1e-5`` means; ``var[c] + eps`` must then be the square of a fraction (a
    ``ValueError`` says which channel is not), so no square root is ever rounded.
    """
    op = "batch_norm"
    x = _array(op, "input", x)
    if x.ndim < 2:
        raise ValueError(f"{op}: input must have at least 2 dimensions (N, C, ...), got shape {x.shape}")
    channels = x.shape[1]
    params = {}
    for name, value in (("mean", mean), ("var", var), ("gamma", gamma), ("beta", beta)):
        if value is None and name in ("mean", "var"):
            raise TypeError(f"{op}: {name} is required, got None")
        array = _optional_array(op, name, value)
        if array is not None and array.shape != (channels,):
            raise ValueError(f"{op}: {name} must have shape (C,) = ({channels},), got {array.shape}")
        params[name] = array
    if not isinstance(eps, numbers.Real) or isinstance(eps, bool):
        raise TypeError(f"{op}: eps must be a real number, got {eps!r}")
    x, mean, var, gamma, beta = _unify(x, params["mean"], params["var"], params["gamma"], params["beta"])
    shape = (1, channels) + (1,) * (x.ndim - 2)
    if x.dtype == object:
        if isinstance(eps, float) and not math.isfinite(eps):
            raise ValueError(f"{op}: eps must be finite for exact (object) arrays, got {eps!r}")
        exact_eps = Fraction(repr(eps)) if isinstance(eps, float) else Fraction(eps)
        roots = []
        for c, v in enumerate(var):
            total = Fraction(v) + exact_eps
            if total <= 0:
                raise _not_positive(op, c, v, eps, total)
            roots.append(_exact_sqrt(op, total, c))
        std = np.empty(channels, dtype=object)
        std[:] = roots
    else:
        total = var + float(eps)
        bad = np.flatnonzero(~(total > 0))
        if bad.size:
            c = int(bad[0])
            raise _not_positive(op, c, var[c], eps, total[c])
        std = np.sqrt(total)
    out = (x - mean.reshape(shape)) / std.reshape(shape)
    if gamma is not None:
        out = out * gamma.reshape(shape)
    if beta is not None:
        out = out + beta.reshape(shape)
    return out


# --------------------------------------------------------------------------------------------
# rearrangements


def _factor(op: str, r) -> int:
    if not _is_int(r):
        raise TypeError(f"{op}: r must be an int, got {r!r}")
    if r < 1:
        raise ValueError(f"{op}: r must be >= 1, got r={r}")
    return int(r)


def pixel_shuffle(x, r) -> np.ndarray:
    """Depth-to-space, like ``torch.nn.functional.pixel_shuffle``.

    ``(..., C*r*r, H, W) -> (..., C, H*r, W*r)`` with
    ``out[..., c, r*i + a, r*j + b] = x[..., c*r*r + a*r + b, i, j]``.
    """
    op = "pixel_shuffle"
    x = _array(op, "input", x, arithmetic=False)
    r = _factor(op, r)
    if x.ndim < 3:
        raise ValueError(f"{op}: input must have at least 3 dimensions (..., C, H, W), got shape {x.shape}")
    *lead, channels, height, width = x.shape
    if channels % (r * r):
        raise ValueError(f"{op}: channels={channels} must be divisible by r*r={r * r}")
    k = len(lead)
    split = x.reshape(*lead, channels // (r * r), r, r, height, width)
    moved = split.transpose(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return moved.reshape(*lead, channels // (r * r), height * r, width * r)


def pixel_unshuffle(x, r) -> np.ndarray:
    """Space-to-depth, like ``torch.nn.functional.pixel_unshuffle`` (inverse of pixel_shuffle).

    ``(..., C, H*r, W*r) -> (..., C*r*r, H, W)`` with
    ``out[..., c*r*r + a*r + b, i, j] = x[..., c, r*i + a, r*j + b]``.
    """
    op = "pixel_unshuffle"
    x = _array(op, "input", x, arithmetic=False)
    r = _factor(op, r)
    if x.ndim < 3:
        raise ValueError(f"{op}: input must have at least 3 dimensions (..., C, H, W), got shape {x.shape}")
    *lead, channels, height, width = x.shape
    for axis, size in (("H", height), ("W", width)):
        if size % r:
            raise ValueError(f"{op}: {axis}={size} must be divisible by r={r}")
    k = len(lead)
    split = x.reshape(*lead, channels, height // r, r, width // r, r)
    moved = split.transpose(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return moved.reshape(*lead, channels * r * r, height // r, width // r)
