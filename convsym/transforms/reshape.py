"""Convolutions that are other layers: 1x1 and full-map convolutions as fully connected layers,
and a convolution after ``pixel_unshuffle`` as one convolution."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convsym.transforms.layers import Conv2d, _check_type, _dense
from convsym.transforms.sequential import _conv, _sides

__all__ = [
    "conv1x1_to_linear",
    "full_map_conv_to_linear",
    "linear_to_conv1x1",
    "linear_to_full_map_conv",
    "unshuffled_conv_to_conv",
]


def _regroup(dense: np.ndarray, groups: int) -> np.ndarray:
    """The diagonal blocks of a dense ``(O, C, ...)`` weight as a grouped ``(O, C/g, ...)`` one."""
    out_channels, in_channels = dense.shape[:2]
    go, gi = out_channels // groups, in_channels // groups
    out = np.empty((out_channels, gi, *dense.shape[2:]), dtype=dense.dtype)
    for j in range(groups):
        out[j * go : (j + 1) * go] = dense[j * go : (j + 1) * go, j * gi : (j + 1) * gi]
    return out


def _matrix(op: str, w: object, b: object) -> tuple[np.ndarray, np.ndarray | None]:
    _check_type(op, "w", w, np.ndarray)
    if w.ndim != 2:
        raise ValueError(f"{op}: w must be 2-D (out_features, in_features), got shape {w.shape}")
    if b is not None:
        _check_type(op, "b", b, np.ndarray)
    return w, b


def conv1x1_to_linear(conv: Conv2d) -> tuple[np.ndarray, np.ndarray | None]:
    """The fully connected layer ``(w, b)`` that a 1x1 convolution applies at every pixel:

    ``conv(x)[n, :, i, j] == w @ x[n, :, i, j] + b`` with ``w[o, c] = W[o, c, 0, 0]`` (groups
    expanded to the block-diagonal dense matrix), ``b`` the conv's bias.  Cost ``O*C*H*W`` MACs
    per sample, as ``H*W`` products of an ``O x C`` matrix with a vector.

    Rules (``ValueError`` otherwise): kernel 1x1; stride 1 (stride ``s`` keeps only the pixels
    ``(s*i, s*j)``); padding 0 (padding adds a ring whose output is the bias alone).  Dilation
    does not matter for a 1x1 kernel.
    """
    op = "conv1x1_to_linear"
    conv = _conv(op, "conv", conv)
    if conv.kernel_size != (1, 1):
        raise ValueError(f"{op}: kernel_size={conv.kernel_size} must be (1, 1) for a per-pixel linear map")
    if conv.stride != (1, 1):
        raise ValueError(
            f"{op}: stride={conv.stride} must be (1, 1): a strided 1x1 conv applies the linear map "
            "only at every s-th pixel"
        )
    if conv.padding != (0, 0):
        raise ValueError(
            f"{op}: padding={conv.padding} must be 0: the padded ring's output is the bias alone, "
            "not the linear map of a pixel"
        )
    w = _dense(conv.weight, conv.groups)[:, :, 0, 0].copy()
    return w, None if conv.bias is None else conv.bias.copy()


def linear_to_conv1x1(w: np.ndarray, b: np.ndarray | None = None) -> Conv2d:
    """The 1x1 convolution ``W[o, c, 0, 0] = w[o, c]`` (bias ``b``) that applies the fully
    connected layer ``x -> w @ x + b`` at every pixel of an ``(N, C, H, W)`` map."""
    w, b = _matrix("linear_to_conv1x1", w, b)
    return Conv2d(w[:, :, None, None], b)


def linear_to_full_map_conv(w: np.ndarray, b: np.ndarray | None, input_shape: Sequence[int]) -> Conv2d:
    """A fully connected layer on the row-major flattened ``C x H x W`` map as a convolution whose
    kernel covers the whole map: ``W[o, c, u, v] = w[o, c*H*W + u*W + v]``, no padding.

    On an input of exactly ``H x W`` the conv's output is ``(N, O, 1, 1)`` and
    ``conv(x)[n, :, 0, 0] == w @ x[n].reshape(-1) + b``.
    """
    op = "linear_to_full_map_conv"
    w, b = _matrix(op, w, b)
    if len(input_shape) != 3 or not all(isinstance(s, int | np.integer) and s >= 1 for s in input_shape):
        raise ValueError(f"{op}: input_shape must be (C, H, W) of positive ints, got {tuple(input_shape)!r}")
    c, h, wd = (int(s) for s in input_shape)
    if w.shape[1] != c * h * wd:
        raise ValueError(
            f"{op}: w has {w.shape[1]} input features but the flattened map has C*H*W = "
            f"{c}*{h}*{wd} = {c * h * wd}"
        )
    return Conv2d(w.reshape(w.shape[0], c, h, wd), b)


def full_map_conv_to_linear(conv: Conv2d) -> tuple[np.ndarray, np.ndarray | None]:
    """The fully connected layer ``(w, b)`` on the flattened ``C x kh x kw`` input that a
    convolution computes on an input exactly its kernel's size: ``w[o, c*kh*kw + u*kw + v] =
    W[o, c, u, v]`` (groups expanded).

    Rules (``ValueError`` otherwise): padding 0 (the kernel must cover the map itself, not a
    zero ring) and dilation 1 (a dilated kernel covers only part of the map).  Stride does not
    matter: there is one window.
    """
    op = "full_map_conv_to_linear"
    conv = _conv(op, "conv", conv)
    if conv.padding != (0, 0):
        raise ValueError(f"{op}: padding={conv.padding} must be 0: the kernel must cover the map, not a zero ring")
    if conv.dilation != (1, 1):
        raise ValueError(f"{op}: dilation={conv.dilation} must be 1: a dilated kernel skips pixels of the map")
    dense = _dense(conv.weight, conv.groups)
    return dense.reshape(dense.shape[0], -1).copy(), None if conv.bias is None else conv.bias.copy()


def unshuffled_conv_to_conv(conv: Conv2d, r: int) -> Conv2d:
    """The convolution on a ``D x rH x rW`` map equal to ``conv`` on its pixel-unshuffled
    ``D r^2 x H x W`` form: ``conv(pixel_unshuffle(y, r)) == result(y)``.

    With ``conv`` of kernel ``K``, stride ``S``, padding ``P`` and dilation ``d`` (per axis):
    kernel ``r (d (K - 1) + 1)``, stride ``r S``, padding ``r P`` (each side), dilation 1, and

        ``W'[o, e, r d u + a, r d v + b] = W[o, e r^2 + a r + b, u, v]``   (zero elsewhere),

    which for ``d = 1`` is ``pixel_shuffle`` applied to the weight.  Same MACs, same number of
    nonzero weights, same output.  Groups ``g`` stay ``g`` when ``g`` divides ``D`` (each group is
    made of whole channels of the map); otherwise the result is dense (groups 1), zero outside
    the blocks.

    Rule (``ValueError`` otherwise): ``in_channels`` is divisible by ``r^2``.
    """
    op = "unshuffled_conv_to_conv"
    conv = _conv(op, "conv", conv)
    if isinstance(r, bool) or not isinstance(r, int | np.integer) or r < 1:
        raise ValueError(f"{op}: r={r!r} must be a positive int")
    r = int(r)
    if conv.in_channels % (r * r):
        raise ValueError(
            f"{op}: in_channels={conv.in_channels} must be divisible by r*r={r * r}: the conv's "
            "input must be a pixel-unshuffled map"
        )
    depth = conv.in_channels // (r * r)
    dense = _dense(conv.weight, conv.groups)
    out_c, _, kh, kw = dense.shape
    (dh, dw) = conv.dilation
    big = np.zeros((out_c, depth, r * (dh * (kh - 1) + 1), r * (dw * (kw - 1) + 1)), dtype=dense.dtype)
    for e in range(depth):
        for a in range(r):
            for b in range(r):
                big[:, e, a :: r * dh, b :: r * dw][:, :kh, :kw] = dense[:, e * r * r + a * r + b]
    groups = conv.groups if depth % conv.groups == 0 else 1
    weight = _regroup(big, groups)
    (top, bottom), (left, right) = _sides(conv.padding)
    return Conv2d(
        weight,
        conv.bias,
        stride=(r * conv.stride[0], r * conv.stride[1]),
        padding=((r * top, r * bottom), (r * left, r * right)),
        dilation=1,
        groups=groups,
    )
