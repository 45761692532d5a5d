"""Cross-layer equalization (Nagel et al., 2019): rescale two convolutions around a positively
homogeneous activation."""

from __future__ import annotations

import math
import sys
from fractions import Fraction

import numpy as np

from convsym.transforms.layers import Conv2d, _check_type, _is_exact, _unify, rational_sqrt

__all__ = ["equalize"]


HOMOGENEOUS = ("relu", "leaky_relu", "prelu", "identity", None)


NOT_HOMOGENEOUS = {
    "relu6": "relu6(z) = min(max(z, 0), 6) clips at 6: relu6(2*6) = 6 != 2*relu6(6)",
    "hardswish": "hardswish(z) = z*relu6(z+3)/6: hardswish(2) = 5/3 != 2*hardswish(1) = 4/3",
    "hardsigmoid": "hardsigmoid(0) = 1/2 != 0: no nonzero f(0) is homogeneous",
    "hardtanh": "hardtanh clips at 1: hardtanh(2) = 1 != 2*hardtanh(1)",
    "sigmoid": "sigmoid(0) = 1/2 != 0: no nonzero f(0) is homogeneous",
    "tanh": "tanh(2) = 2*tanh(1)/(1 + tanh(1)^2) != 2*tanh(1)",
    "gelu": "gelu(z) = z*Phi(z): gelu(s*z) = s*z*Phi(s*z) != s*z*Phi(z)",
    "silu": "silu(z) = z*sigmoid(z): silu(s*z) != s*silu(z) (sigmoid is not constant)",
    "swish": "swish(z) = z*sigmoid(z): swish(s*z) != s*swish(z) (sigmoid is not constant)",
    "elu": "elu(z) = exp(z) - 1 for z < 0 is not linear in z",
    "selu": "selu(z) = lambda*alpha*(exp(z) - 1) for z < 0 is not linear in z",
    "softplus": "softplus(0) = log 2 != 0: no nonzero f(0) is homogeneous",
    "mish": "mish(z) = z*tanh(softplus(z)): mish(s*z) != s*mish(z)",
}


def _activation_key(name: str) -> str:
    """``'LeakyReLU'``, ``'leaky_relu'`` and ``'Leaky-ReLU'`` all read ``'leakyrelu'``: names are
    matched without case, ``_`` or ``-``, so PyTorch's class names are accepted like its
    functional names."""
    return name.lower().replace("_", "").replace("-", "")


_HOMOGENEOUS_KEYS = {_activation_key(a) for a in HOMOGENEOUS if a is not None}


_NOT_HOMOGENEOUS_KEYS = {_activation_key(a): a for a in NOT_HOMOGENEOUS}


def _check_activation(op: str, activation: object) -> None:
    if activation is None:
        return
    key = _activation_key(activation) if isinstance(activation, str) else None
    if key in _HOMOGENEOUS_KEYS:
        return
    if key in _NOT_HOMOGENEOUS_KEYS:
        reason = NOT_HOMOGENEOUS[_NOT_HOMOGENEOUS_KEYS[key]]
        raise ValueError(
            f"{op}: activation={activation!r} is not positively homogeneous ({reason}), so dividing "
            "channel i by s_i before it and multiplying by s_i after it changes the network; "
            "only relu, leaky_relu, prelu and identity (None) satisfy f(s*z) = s*f(z) for all s > 0"
        )
    raise ValueError(
        f"{op}: activation={activation!r} is not known; supported (positively homogeneous): "
        "'relu', 'leaky_relu', 'prelu', 'identity' or None; refused (not homogeneous): "
        + ", ".join(repr(a) for a in NOT_HOMOGENEOUS)
        + " (names match without case, '_' or '-': 'ReLU' and 'LeakyReLU' are accepted)"
    )


def _abs_max(block: np.ndarray):
    return max(abs(v) for v in block.reshape(-1).tolist())


def _float_scale(op: str, i: int, r1: float, r2: float) -> float:
    """``s = sqrt(r1 r2) / r2`` computed as ``sqrt(r1) / sqrt(r2)``: the product ``r1 r2``
    underflows to 0 or overflows to inf for weights near 1e-170 or 1e160, the square roots do
    not.  Refuses non-finite ranges and a scale outside the normal float range (precision lost)."""
    if not (math.isfinite(r1) and math.isfinite(r2)):
        raise ValueError(f"{op}: channel {i} has a non-finite weight range: r1_{i}={r1!r}, r2_{i}={r2!r}")
    s = math.sqrt(r1) / math.sqrt(r2)
    if not sys.float_info.min <= s <= sys.float_info.max:
        raise ValueError(
            f"{op}: the scale of channel {i}, sqrt(r1_{i}) / sqrt(r2_{i}) = sqrt({r1!r}) / sqrt({r2!r}) = {s!r}, "
            "is outside the normal float64 range, so the equalized weights would lose their precision"
        )
    return s


def equalize(first: Conv2d, second: Conv2d, activation: str | None = "relu") -> tuple[Conv2d, Conv2d, np.ndarray]:
    """Cross-layer equalization (DFQ): ``second(f(first(x)))`` with equalized weight ranges.

    Per intermediate channel ``i`` (an output channel of ``first``, an input channel of
    ``second``):

    * ``r1_i = max |first.weight[i]|`` (all its input channels and taps);
    * ``r2_i = max |W2[o, k]|`` over the output channels ``o`` of ``second`` that read channel
      ``i`` as their weight column ``k`` (``W2[:, i]`` when ``groups = 1``; for a depthwise
      ``second`` only ``W2[i, 0]``);
    * ``s_i = sqrt(r1_i * r2_i) / r2_i`` (``s_i = 1`` when ``r1_i = 0`` or ``r2_i = 0``: a dead
      channel has nothing to balance and any ``s_i > 0`` is exact); float arrays compute it as
      ``sqrt(r1_i) / sqrt(r2_i)``, which neither underflows nor overflows where ``r1_i * r2_i``
      would, and refuse (``ValueError``) non-finite ranges or a scale outside the normal float range;
    * ``first``'s output channel ``i`` (weights and bias) is divided by ``s_i``, ``second``'s
      weights reading channel ``i`` are multiplied by ``s_i``.

    Afterwards both ranges are ``sqrt(r1_i * r2_i)``.  Exact for every ``s_i > 0`` iff ``f`` is
    positively homogeneous (``f(s z) = s f(z)``): ``relu``, ``leaky_relu``, ``prelu`` (slopes
    per channel), ``identity``/``None`` (names match without case, ``_`` or ``-``, so
    ``'ReLU'``, ``'LeakyReLU'``, ``'PReLU'``, ``'Identity'`` are accepted); any kernel sizes,
    output channel counts, strides,
    padding and groups of the two layers.  Other activations raise ``ValueError`` saying why.
    Exact arrays need every ``r1_i * r2_i`` to be the square of a rational.

    Returns ``(first', second', s)`` with ``s`` of shape ``(C_mid,)``.
    """
    op = "equalize"
    _check_type(op, "first", first, Conv2d)
    _check_type(op, "second", second, Conv2d)
    _check_activation(op, activation)
    if second.in_channels != first.out_channels:
        raise ValueError(
            f"{op}: second.in_channels={second.in_channels} must equal first.out_channels={first.out_channels}"
        )
    w1, b1, w2, b2 = _unify(first.weight, first.bias, second.weight, second.bias)
    exact = _is_exact(w1)
    channels = first.out_channels
    group_in, group_out = w2.shape[1], second.out_channels // second.groups
    scales = np.empty(channels, dtype=object if exact else np.float64)
    new_w2 = w2.copy()
    for i in range(channels):
        g, k = divmod(i, group_in)
        rows = slice(g * group_out, (g + 1) * group_out)
        r1, r2 = _abs_max(w1[i]), _abs_max(w2[rows, k])
        if r1 == 0 or r2 == 0:
            s = Fraction(1) if exact else 1.0
        elif exact:
            s = rational_sqrt(op, r1 * r2, f"sqrt(r1_{i} * r2_{i}) for channel {i}") / r2
        else:
            s = _float_scale(op, i, r1, r2)
        scales[i] = s
        new_w2[rows, k] = w2[rows, k] * s
    new_w1 = w1 / scales[:, None, None, None]
    new_b1 = None if b1 is None else b1 / scales
    return (
        Conv2d(new_w1, new_b1, stride=first.stride, padding=first.padding, dilation=first.dilation,
               groups=first.groups),
        Conv2d(new_w2, b2, stride=second.stride, padding=second.padding, dilation=second.dilation,
               groups=second.groups),
        scales,
    )
