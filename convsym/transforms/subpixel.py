"""Sub-pixel convolution (Shi et al., 2016) and stride-r transposed convolution, both ways.

``subpixel_to_transposed(conv, r)``: a stride-1 convolution with ``r^2 C`` output channels
followed by ``pixel_shuffle(r)`` is the transposed convolution with stride ``r``, kernel
``r K`` per axis, padding ``r (K - 1 - P)``, no output padding, dilation 1 and the weight map::

    V[gamma C_in/g + c_i, c_o, phi_h + r (K_h - 1 - a_h), phi_w + r (K_w - 1 - a_w)]
        = W[(gamma C/g + c_o) r^2 + phi_h r + phi_w, c_i, a_h, a_w]

(phase ``phi`` and tap ``a`` of the convolution; the kernel is flipped within each phase).
Border conditions: stride 1 and dilation 1, the same padding ``P <= K - 1`` on both sides of
each axis, and the ``r^2`` channels of one output channel share one bias.  With groups ``g``
the transposed layer has groups ``g`` when ``g`` divides ``C``; otherwise a shuffled channel
mixes groups and the result is the dense (groups 1) layer.

``transposed_to_subpixel(tconv)``: every transposed convolution whose stride is the same ``r``
on both axes, and whose output length is a multiple of ``r`` for every input length
(``d (k - 1) - 2 p + output_padding + 1`` divisible by ``r`` on each axis), is a stride-1
convolution with ``r^2 C_out`` channels (asymmetric zero padding) followed by
``pixel_shuffle(r)``: output ``r j + phi`` reads input ``m = j + (phi + p - d b) / r`` through
tap ``b`` whenever that is an integer.

NumPy only; integer/Fraction object arrays stay exact, float arrays stay float64 (the maps
only move weights, so both are exact).  Proved in ``proofs/transposed.py``.
"""

from __future__ import annotations

import numpy as np

from convsym.transforms.layers import Conv2d, ConvTranspose2d, _pads

__all__ = ["subpixel_to_transposed", "transposed_to_subpixel"]


def _factor(op: str, r) -> int:
    if isinstance(r, bool) or not isinstance(r, int | np.integer):
        raise TypeError(f"{op}: r must be an int, got {r!r}")
    if r < 1:
        raise ValueError(f"{op}: r={r} must be >= 1")
    return int(r)


def _zeros(shape, like: np.ndarray) -> np.ndarray:
    out = np.zeros(shape, dtype=like.dtype)
    if out.dtype == object:
        out[...] = 0
    return out


def subpixel_to_transposed(conv: Conv2d, r: int) -> ConvTranspose2d:
    """The transposed convolution equal to ``pixel_shuffle(conv(x), r)`` for every input ``x``."""
    op = "subpixel_to_transposed"
    if not isinstance(conv, Conv2d):
        raise TypeError(f"{op}: conv must be a convsym Conv2d, got {type(conv).__name__}")
    r = _factor(op, r)
    if conv.stride != (1, 1):
        raise ValueError(f"{op}: rule 'stride 1': a sub-pixel convolution has stride 1, got stride={conv.stride}")
    if conv.dilation != (1, 1):
        raise ValueError(f"{op}: rule 'dilation 1': the weight map needs dilation 1, got dilation={conv.dilation}")
    w = conv.weight
    out_channels, in_per_group, kh, kw = w.shape
    if out_channels % (r * r):
        raise ValueError(f"{op}: rule 'r^2 C channels': out_channels={out_channels} is not a multiple of "
                         f"r^2={r * r}")
    channels = out_channels // (r * r)
    g = conv.groups
    if channels % g:
        # a shuffled channel mixes groups: use the dense (groups=1) weight, zero outside the diagonal blocks
        dense = _zeros((out_channels, in_per_group * g, kh, kw), w)
        per_out = out_channels // g
        for o in range(out_channels):
            gamma = o // per_out
            dense[o, gamma * in_per_group:(gamma + 1) * in_per_group] = w[o]
        w, in_per_group, g = dense, in_per_group * g, 1
    (top, bottom), (left, right) = _pads(conv.padding)
    for axis, lo, hi, k in (("H", top, bottom, kh), ("W", left, right, kw)):
        if lo != hi:
            raise ValueError(f"{op}: rule 'symmetric padding': a transposed convolution crops the same on both "
                             f"sides, but the convolution pads ({lo}, {hi}) on axis {axis}")
        if lo > k - 1:
            raise ValueError(f"{op}: rule 'padding <= K - 1': padding {lo} > K - 1 = {k - 1} on axis {axis} would "
                             f"need the transposed padding r(K - 1 - P) = {r * (k - 1 - lo)} < 0")
    bias = None
    if conv.bias is not None:
        per_phase = conv.bias.reshape(channels, r * r)
        if not all(np.all(per_phase[c] == per_phase[c, 0]) for c in range(channels)):
            raise ValueError(f"{op}: rule 'one bias per shuffled channel': the r^2={r * r} phases of a shuffled "
                             "channel have different biases, which a transposed convolution (one bias per "
                             "output channel) cannot give")
        bias = per_phase[:, 0].copy()
    # W[c r^2 + phi_h r + phi_w, ci, a_h, a_w] -> U[c, ci, (K_h-1-a_h) r + phi_h, (K_w-1-a_w) r + phi_w]
    split = w.reshape(channels, r, r, in_per_group, kh, kw)[..., ::-1, ::-1]
    u = split.transpose(0, 3, 4, 1, 5, 2).reshape(channels, in_per_group, kh * r, kw * r)
    # conv group gamma (output channels gamma C/g .. , inputs gamma C_in/g ..) -> rows of the transposed weight
    per = channels // g
    v = u.reshape(g, per, in_per_group, kh * r, kw * r).transpose(0, 2, 1, 3, 4)
    v = np.ascontiguousarray(v.reshape(g * in_per_group, per, kh * r, kw * r))
    return ConvTranspose2d(v, bias, stride=r, padding=(r * (kh - 1 - top), r * (kw - 1 - left)),
                           output_padding=0, dilation=1, groups=g)


def _axis_plan(op: str, axis: str, k: int, r: int, p: int, q: int, d: int):
    """Per axis: (tap list ``(phi, b, a)``, conv kernel size, (pad before, pad after))."""
    extent = d * (k - 1) - 2 * p + q + 1
    if extent % r:
        raise ValueError(f"{op}: rule 'output length a multiple of r': on axis {axis} the output length "
                         f"(n-1)r + d(k-1) - 2p + output_padding + 1 leaves d(k-1) - 2p + output_padding + 1 = "
                         f"{extent}, not a multiple of r={r}, so it is not r times a convolution's output length")
    taps = []
    for b in range(k):
        for phi in range(r):
            if (phi + p - d * b) % r == 0:
                taps.append((phi, b, (phi + p - d * b) // r))
    lo = min(0, min(e for _, _, e in taps))
    hi = max(max(e for _, _, e in taps), 1 - extent // r)
    size = hi - lo + 1
    before, after = -lo, hi + extent // r - 1
    return [(phi, b, e - lo) for phi, b, e in taps], size, (before, after)


def transposed_to_subpixel(tconv: ConvTranspose2d) -> tuple[Conv2d, int]:
    """``(conv, r)`` with ``pixel_shuffle(conv(x), r) == tconv(x)`` for every input ``x``."""
    op = "transposed_to_subpixel"
    if not isinstance(tconv, ConvTranspose2d):
        raise TypeError(f"{op}: tconv must be a convsym ConvTranspose2d, got {type(tconv).__name__}")
    (rh, rw) = tconv.stride
    if rh != rw:
        raise ValueError(f"{op}: rule 'one factor r': pixel_shuffle interleaves r x r phases, but the stride is "
                         f"{tconv.stride}")
    r = rh
    w = tconv.weight
    in_channels, out_per_group, kh, kw = w.shape
    g = tconv.groups
    in_per_group = in_channels // g
    out_channels = out_per_group * g
    plan_h, size_h, pad_h = _axis_plan(op, "H", kh, r, tconv.padding[0], tconv.output_padding[0], tconv.dilation[0])
    plan_w, size_w, pad_w = _axis_plan(op, "W", kw, r, tconv.padding[1], tconv.output_padding[1], tconv.dilation[1])
    conv_w = _zeros((out_channels, r, r, in_per_group, size_h, size_w), w)
    # w[gamma C_in/g + ci, c_o, b_h, b_w] -> W[(gamma C_out/g + c_o) r^2 + phi_h r + phi_w, ci, a_h, a_w]
    grouped = w.reshape(g, in_per_group, out_per_group, kh, kw).transpose(0, 2, 1, 3, 4).reshape(
        out_channels, in_per_group, kh, kw)
    for phi_h, b_h, a_h in plan_h:
        for phi_w, b_w, a_w in plan_w:
            conv_w[:, phi_h, phi_w, :, a_h, a_w] = grouped[:, :, b_h, b_w]
    conv_w = conv_w.reshape(out_channels * r * r, in_per_group, size_h, size_w)
    bias = None if tconv.bias is None else np.repeat(tconv.bias, r * r)
    return Conv2d(conv_w, bias, stride=1, padding=(pad_h, pad_w), dilation=1, groups=g), r
