"""BatchNorm folded into the convolution before it (exact) or after it (exact without padding,
repaired with a constant-padded convolution otherwise)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convsym.transforms.layers import (
    BatchNorm2d,
    Conv2d,
    ConvTranspose2d,
    _check_type,
    _input,
    _pads,
    _unify,
    rational_sqrt,
)
from convsym.transforms.parallel import _group_channel_index, _kinds_exact, _zeros

__all__ = ["ConstantPadConv2d", "fold_batchnorm", "fold_batchnorm_before"]


def _batchnorm_scale(op: str, bn: BatchNorm2d, exact: bool) -> tuple[np.ndarray, ...]:
    """``(a, mean, beta)`` with ``a[c] = gamma[c] / sqrt(var[c] + eps)`` in the requested kind."""
    mean, var, gamma, beta = (getattr(bn, n) for n in ("mean", "var", "gamma", "beta"))
    if not exact:
        mean, var, gamma, beta = (np.asarray(a, dtype=np.float64) for a in (mean, var, gamma, beta))
        return gamma / np.sqrt(var + float(bn.eps)), mean, beta
    a = np.empty(bn.num_features, dtype=object)
    for c in range(bn.num_features):
        a[c] = gamma[c] / rational_sqrt(op, var[c] + bn.eps, f"sqrt(var[{c}] + eps)")
    return a, mean, beta


def fold_batchnorm(conv: Conv2d | ConvTranspose2d, bn: BatchNorm2d) -> Conv2d | ConvTranspose2d:
    """One convolution equal to ``bn(conv(x))`` for every ``x`` (any padding, stride, groups).

    With ``a[o] = gamma[o] / sqrt(var[o] + eps)``:
    ``W'[o] = W[o] * a[o]`` and ``b'[o] = (b[o] - mean[o]) * a[o] + beta[o]`` (``b = 0`` when the
    conv has no bias).  For a :class:`ConvTranspose2d` (weight ``(C_in, C_out/g, kh, kw)``) the
    output channel is the weight's axis 1 within each group: ``W'[i, j] = W[i, j] * a[(i //
    (C_in/g)) * (C_out/g) + j]``, the same bias formula, and a ``ConvTranspose2d`` is returned.
    Exact arrays need every ``var[o] + eps`` to be the square of a rational (``ValueError``
    otherwise); ``eps > 0`` and ``var >= 0`` are checked by ``BatchNorm2d``.
    """
    op = "fold_batchnorm"
    if not isinstance(conv, ConvTranspose2d):  # a ConvTranspose2d is accepted too
        _check_type(op, "conv", conv, Conv2d)
    _check_type(op, "bn", bn, BatchNorm2d)
    if bn.num_features != conv.out_channels:
        raise ValueError(
            f"{op}: bn.num_features={bn.num_features} must equal conv.out_channels={conv.out_channels}"
        )
    exact = _kinds_exact(conv.weight, conv.bias, bn.mean)
    a, mean, beta = _batchnorm_scale(op, bn, exact)
    weight, bias = _unify(conv.weight, conv.bias)
    if not exact:
        weight = weight.astype(np.float64)
        bias = None if bias is None else bias.astype(np.float64)
    if bias is None:
        bias = _zeros((conv.out_channels,), exact)
    new_bias = (bias - mean) * a + beta
    if isinstance(conv, Conv2d):
        return Conv2d(weight * a[:, None, None, None], new_bias, stride=conv.stride,
                      padding=conv.padding, dilation=conv.dilation, groups=conv.groups)
    group_in, group_out = conv.in_channels // conv.groups, weight.shape[1]
    i = np.arange(conv.in_channels)[:, None]
    out_index = (i // group_in) * group_out + np.arange(group_out)[None, :]  # (C_in, C_out/g)
    return ConvTranspose2d(weight * a[out_index][:, :, None, None], new_bias, stride=conv.stride,
                           padding=conv.padding, output_padding=conv.output_padding,
                           dilation=conv.dilation, groups=conv.groups)


@dataclass(frozen=True, eq=False)
class ConstantPadConv2d:
    """``conv(pad(x, value))``: pad channel ``c`` of ``x`` with ``value[c]``, then run ``conv``.

    The exact form of ``conv(bn(x))`` when ``conv`` zero-pads (see :func:`fold_batchnorm_before`):
    zero padding of ``bn(x)`` is padding of ``x`` with the value ``q[c] = mean[c] - beta[c] *
    sqrt(var[c] + eps) / gamma[c]`` that BN maps to 0.  ``conv`` has padding 0; ``padding`` is
    ``((top, bottom), (left, right))``; ``value`` has shape ``(C,)``.  Its ``__call__`` is the
    whole computation, so it can replace the two layers; a runtime that pads with a per-channel
    constant (or a preceding layer that emits it) runs it natively.
    """

    conv: Conv2d
    padding: tuple[tuple[int, int], tuple[int, int]]
    value: np.ndarray

    def __post_init__(self) -> None:
        op = "ConstantPadConv2d"
        _check_type(op, "conv", self.conv, Conv2d)
        if self.conv.padding != (0, 0):
            raise ValueError(f"{op}: conv.padding={self.conv.padding} must be 0; the padding is done here")
        value = np.asarray(self.value)
        if value.shape != (self.conv.in_channels,):
            raise ValueError(
                f"{op}: value must have shape (in_channels,)=({self.conv.in_channels},), got {value.shape}"
            )
        (top, bottom), (left, right) = self.padding
        if min(top, bottom, left, right) < 0:
            raise ValueError(f"{op}: padding={self.padding} must be >= 0")

    def __repr__(self) -> str:
        """One line: the padding, the shape of the padding values and the convolution's repr."""
        value = np.asarray(self.value)
        kind = "exact" if value.dtype == object else str(value.dtype)
        return f"ConstantPadConv2d(padding={self.padding}, value={value.shape} {kind}, conv={self.conv!r})"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = _input("ConstantPadConv2d", x, self.conv.in_channels)
        x, value = _unify(x, self.value)
        (top, bottom), (left, right) = self.padding
        n, c, h, w = x.shape
        padded = np.empty((n, c, h + top + bottom, w + left + right), dtype=x.dtype)
        padded[...] = value[None, :, None, None]
        padded[:, :, top : top + h, left : left + w] = x
        return self.conv(padded)


def fold_batchnorm_before(bn: BatchNorm2d, conv: Conv2d, repair: bool = False) -> Conv2d | ConstantPadConv2d:
    """One convolution equal to ``conv(bn(x))``.

    With ``a[c] = gamma[c] / sqrt(var[c] + eps)`` and ``h[c] = beta[c] - a[c] * mean[c]``
    (so ``bn(x)[c] = a[c] x[c] + h[c]``), and ``c(o, k) = (o // (O/g)) * (C/g) + k`` the input
    channel of weight column ``k``:
    ``W'[o, k] = W[o, k] * a[c(o, k)]``, ``b'[o] = b[o] + sum_{k,u,v} W[o, k, u, v] * h[c(o, k)]``.

    Exact when ``conv`` has no padding.  With zero padding ``p``, ``conv`` pads ``bn(x)`` with
    zeros but ``W'`` would see ``x`` padded with zeros, i.e. ``bn`` padded with ``h``: wrong on a
    border ring of width ``p`` unless ``h = 0`` on every channel (then the fold is exact and a
    padded ``Conv2d`` is returned).  Otherwise ``ValueError``, or with ``repair=True`` the exact
    :class:`ConstantPadConv2d` that pads ``x`` with ``q[c] = mean[c] - beta[c] / a[c]`` (BN maps
    ``q`` to 0); a channel with ``gamma[c] = 0`` and ``beta[c] != 0`` has no such value
    (``ValueError``).  Exact arrays need exact square roots, as in :func:`fold_batchnorm`.
    """
    op = "fold_batchnorm_before"
    _check_type(op, "bn", bn, BatchNorm2d)
    _check_type(op, "conv", conv, Conv2d)
    if not isinstance(repair, bool):
        raise TypeError(f"{op}: repair must be a bool, got {type(repair).__name__}")
    if bn.num_features != conv.in_channels:
        raise ValueError(
            f"{op}: bn.num_features={bn.num_features} must equal conv.in_channels={conv.in_channels}"
        )
    exact = _kinds_exact(conv.weight, conv.bias, bn.mean)
    a, mean, beta = _batchnorm_scale(op, bn, exact)
    shift = beta - a * mean
    weight, bias = _unify(conv.weight, conv.bias)
    if not exact:
        weight = weight.astype(np.float64)
        bias = None if bias is None else bias.astype(np.float64)
    if bias is None:
        bias = _zeros((conv.out_channels,), exact)
    idx = _group_channel_index(conv)
    new_weight = weight * a[idx][:, :, None, None]
    new_bias = bias + (weight.sum(axis=(2, 3)) * shift[idx]).sum(axis=1)
    pads = _pads(conv.padding)
    moved = [c for c in range(bn.num_features) if shift[c] != 0]
    if pads == ((0, 0), (0, 0)) or not moved:
        return Conv2d(new_weight, new_bias, stride=conv.stride, padding=conv.padding,
                      dilation=conv.dilation, groups=conv.groups)
    if not repair:
        c = moved[0]
        raise ValueError(
            f"{op}: conv.padding={conv.padding} pads bn(x) with zeros, but the folded conv would pad x "
            f"with zeros, i.e. bn(x) with bn(0) = beta - gamma*mean/sqrt(var+eps), which is {shift[c]} "
            f"!= 0 on channel {c}: the output would be wrong on a border ring of width {conv.padding}; "
            "pass repair=True to pad x with the value bn maps to 0 instead"
        )
    value = _zeros((bn.num_features,), exact)
    for c in moved:
        if a[c] == 0:
            raise ValueError(
                f"{op}: gamma[{c}] = 0 makes bn constant beta[{c}] = {beta[c]} != 0 on channel {c}: no "
                "input value maps to 0, so no padding of x reproduces the zero padding of bn(x)"
            )
        value[c] = mean[c] - beta[c] / a[c]
    folded = Conv2d(new_weight, new_bias, stride=conv.stride, padding=0, dilation=conv.dilation,
                    groups=conv.groups)
    return ConstantPadConv2d(folded, pads, value)
