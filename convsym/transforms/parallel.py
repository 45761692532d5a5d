"""Parallel branches summed into one convolution (RepVGG, Diverse Branch Block, dilated
re-parameterisation), and the identity as a convolution."""

from __future__ import annotations

import math

import numpy as np

from convsym.transforms.layers import Conv2d, _check_type, _int, _is_exact, _pads, _unify

__all__ = ["identity_conv", "merge_parallel", "merge_parallel_dense", "regroup", "undilate"]


def _kinds_exact(*arrays: np.ndarray | None) -> bool:
    return all(a is None or _is_exact(a) for a in arrays)


def _zeros(shape: tuple[int, ...], exact: bool) -> np.ndarray:
    # np.zeros(dtype=object) holds Python int 0, which keeps exact sums exact
    return np.zeros(shape, dtype=object if exact else np.float64)


def _group_channel_index(conv: Conv2d) -> np.ndarray:
    """``idx[o, c]``: the input channel that weight column ``c`` of output ``o`` reads."""
    group_out, group_in = conv.out_channels // conv.groups, conv.weight.shape[1]
    o = np.arange(conv.out_channels)[:, None]
    return (o // group_out) * group_in + np.arange(group_in)[None, :]


def merge_parallel(*convs: Conv2d) -> Conv2d:
    """One convolution equal to ``sum_j convs[j](x)`` for every input ``x`` (RepVGG, DBB).

    All branches must share ``in_channels``, ``out_channels``, ``groups``, ``stride`` and
    ``dilation``.  Per spatial axis, branch ``j`` (kernel ``k_j``, padding ``(t_j, b_j)``,
    dilation ``d``) reads input offsets ``-t_j + d*u`` for ``u < k_j``.  The merged kernel starts
    at offset ``-T``, ``T = max_j t_j``, and branch ``j`` is shifted by ``T - t_j`` input
    positions.  When every shift is a multiple of ``d`` the merged conv keeps dilation ``d`` and
    branch ``j`` lands at tap ``e_j = (T - t_j) / d``; otherwise the taps lie on no common
    dilated grid and that axis is merged with dilation 1 (each kernel spread out with ``d - 1``
    zeros between taps).  The kernel size is ``K = max_j (last tap of j) + 1``.  The outputs
    align when ``t_j + b_j - d*(k_j - 1)`` is the same for every branch (equal output sizes for
    every input size); the merged padding is ``(T, L + d'*(K - 1) - T)`` with that common ``L``
    and the merged dilation ``d'``.  So a ``1x1`` branch with padding 0 next to a ``3x3`` with
    padding 1 is centred, and the merge is exact for any zero padding.

    Branches with different dilations or groups: :func:`merge_parallel_dense`.

    ``W = sum_j embed(W_j)``, ``b = sum_j b_j`` (``None`` when no branch has a bias).
    ``identity_conv(C)`` is the identity branch; ``avg_pool2d(k, count_include_pad=True)`` is the
    depthwise branch with constant kernel ``1/k^2``.  ``ValueError`` when the branches differ in
    one of the shared hyper-parameters or their outputs do not align.
    """
    op = "merge_parallel"
    if not convs:
        raise ValueError(f"{op}: needs at least one Conv2d branch")
    for j, conv in enumerate(convs):
        _check_type(op, f"convs[{j}]", conv, Conv2d)
    ref = convs[0]
    for j, conv in enumerate(convs[1:], start=1):
        for attr in ("in_channels", "out_channels", "groups", "stride", "dilation"):
            if getattr(conv, attr) != getattr(ref, attr):
                raise ValueError(
                    f"{op}: convs[{j}].{attr}={getattr(conv, attr)} differs from "
                    f"convs[0].{attr}={getattr(ref, attr)}; parallel branches must share it"
                )
    pads = [_pads(conv.padding) for conv in convs]
    # per branch and axis: (first tap, step between taps) in the merged kernel
    place: list[list[tuple[int, int]]] = [[(0, 1), (0, 1)] for _ in convs]
    size, padding, dilation = [0, 0], [(0, 0), (0, 0)], [1, 1]
    for axis in range(2):
        d = ref.dilation[axis]
        top = max(p[axis][0] for p in pads)
        reach = {p[axis][0] + p[axis][1] - d * (conv.kernel_size[axis] - 1)
                 for conv, p in zip(convs, pads, strict=True)}
        if len(reach) != 1:
            detail = ", ".join(
                f"convs[{j}]: k={c.kernel_size[axis]}, padding={p[axis]}"
                for j, (c, p) in enumerate(zip(convs, pads, strict=True))
            )
            raise ValueError(
                f"{op}: the branches give different output sizes along axis {'HW'[axis]} "
                f"(padding before + after - d*(k-1) must be equal): {detail}"
            )
        shifts = [top - p[axis][0] for p in pads]
        dilation[axis] = d if all(shift % d == 0 for shift in shifts) else 1
        step = d // dilation[axis]
        for j, shift in enumerate(shifts):
            place[j][axis] = (shift // dilation[axis], step)
        size[axis] = max(e + step * (conv.kernel_size[axis] - 1) + 1
                         for (e, _), conv in zip((pl[axis] for pl in place), convs, strict=True))
        padding[axis] = (top, reach.pop() + dilation[axis] * (size[axis] - 1) - top)
    arrays = _unify(*[c.weight for c in convs], *[c.bias for c in convs])
    weights, biases = arrays[: len(convs)], arrays[len(convs) :]
    exact = _is_exact(weights[0])
    weight = _zeros((ref.out_channels, ref.weight.shape[1], size[0], size[1]), exact)
    for w, ((eh, sh), (ew, sw)) in zip(weights, place, strict=True):
        weight[:, :, eh : eh + sh * (w.shape[2] - 1) + 1 : sh, ew : ew + sw * (w.shape[3] - 1) + 1 : sw] += w
    bias = None
    if any(b is not None for b in biases):
        bias = _zeros((ref.out_channels,), exact)
        for b in biases:
            if b is not None:
                bias = bias + b
    return Conv2d(weight, bias, stride=ref.stride, padding=tuple(padding), dilation=tuple(dilation),
                  groups=ref.groups)


def merge_parallel_dense(*convs: Conv2d) -> Conv2d:
    """:func:`merge_parallel` for branches that may differ in dilation and groups (UniRepLKNet's
    dilated re-parameterisation, DBB branches of other group counts).

    Branches with different dilations are first rewritten with :func:`undilate` (a kernel of
    size ``k`` and dilation ``d`` is the dilation-1 kernel of size ``d(k-1)+1`` holding its taps
    every ``d`` positions and zeros between: the dilated-kernel-as-sparse-kernel identity);
    branches with different groups are rewritten with :func:`regroup` to the ``gcd`` of their
    groups (a block-diagonal weight with ``g`` blocks is block-diagonal with any divisor of
    ``g`` blocks).  Then :func:`merge_parallel`, whose conditions (same channels and stride,
    aligned outputs) still apply.  Exact: both rewrites compute the same map for every input.
    """
    op = "merge_parallel_dense"
    if not convs:
        raise ValueError(f"{op}: needs at least one Conv2d branch")
    for j, conv in enumerate(convs):
        _check_type(op, f"convs[{j}]", conv, Conv2d)
    if len({c.dilation for c in convs}) > 1:
        convs = tuple(undilate(c) for c in convs)
    if len({c.groups for c in convs}) > 1 and len({(c.in_channels, c.out_channels) for c in convs}) == 1:
        groups = math.gcd(*(c.groups for c in convs))
        convs = tuple(regroup(c, groups) for c in convs)
    return merge_parallel(*convs)


def undilate(conv: Conv2d) -> Conv2d:
    """The same convolution with dilation 1: ``W'[o, c, d_h*u, d_w*v] = W[o, c, u, v]``, zeros
    elsewhere, kernel ``(d_h(k_h-1)+1, d_w(k_w-1)+1)``; stride, padding, groups and bias kept.

    Exact for every input: the dilated conv reads ``x[i*s - p + d*u]`` with weight ``W[u]``, the
    sparse kernel reads ``x[i*s - p + t]`` with weight ``W'[t]``, which is ``W[u]`` at ``t = d*u``
    and 0 elsewhere, so both sums have the same nonzero terms.
    """
    _check_type("undilate", "conv", conv, Conv2d)
    (dh, dw), (kh, kw) = conv.dilation, conv.kernel_size
    exact = _is_exact(conv.weight)
    weight = _zeros((*conv.weight.shape[:2], dh * (kh - 1) + 1, dw * (kw - 1) + 1), exact)
    weight[:, :, ::dh, ::dw] = conv.weight
    return Conv2d(weight, conv.bias, stride=conv.stride, padding=conv.padding, dilation=1, groups=conv.groups)


def regroup(conv: Conv2d, groups: int) -> Conv2d:
    """The same convolution with ``groups`` groups, a divisor of ``conv.groups`` (1 gives the
    dense weight): the weight of new group ``J`` is the block-diagonal of the old groups it holds.
    ``ValueError`` when ``groups`` does not divide ``conv.groups``."""
    op = "regroup"
    _check_type(op, "conv", conv, Conv2d)
    if groups < 1 or conv.groups % groups:
        raise ValueError(f"{op}: groups={groups} must divide conv.groups={conv.groups}")
    exact = _is_exact(conv.weight)
    old_in, old_out = conv.weight.shape[1], conv.out_channels // conv.groups
    new_in = conv.in_channels // groups
    weight = _zeros((conv.out_channels, new_in, *conv.kernel_size), exact)
    for g in range(conv.groups):
        rows = slice(g * old_out, (g + 1) * old_out)
        start = (g * old_in) % new_in
        weight[rows, start : start + old_in] = conv.weight[rows]
    return Conv2d(weight, conv.bias, stride=conv.stride, padding=conv.padding, dilation=conv.dilation,
                  groups=groups)


def identity_conv(channels: int, kernel_size: int = 1, groups: int = 1) -> Conv2d:
    """The convolution that maps every ``x`` with ``channels`` channels to itself.

    Weight ``(C, C/g, k, k)`` exact (object array of Python ints): ``W[o, o mod (C/g), k//2,
    k//2] = 1``, zeros elsewhere; padding ``k//2``, stride 1, no bias.  ``kernel_size`` must be
    odd (an even kernel has no centre tap that symmetric padding keeps in place) and ``groups``
    must divide ``channels``.
    """
    op = "identity_conv"
    channels = _int(op, "channels", channels)
    kernel_size = _int(op, "kernel_size", kernel_size)
    groups = _int(op, "groups", groups)
    if channels < 1:
        raise ValueError(f"{op}: channels={channels} must be >= 1")
    if kernel_size < 1:
        raise ValueError(f"{op}: kernel_size={kernel_size} must be >= 1")
    if kernel_size % 2 == 0:
        raise ValueError(
            f"{op}: kernel_size={kernel_size} must be odd: an even kernel has no centre tap "
            "that padding kernel_size//2 keeps in place"
        )
    if groups < 1:
        raise ValueError(f"{op}: groups={groups} must be >= 1")
    if channels % groups:
        raise ValueError(f"{op}: groups={groups} must divide channels={channels}")
    group_in = channels // groups
    centre = kernel_size // 2
    weight = np.zeros((channels, group_in, kernel_size, kernel_size), dtype=object)
    for o in range(channels):
        weight[o, o % group_in, centre, centre] = 1
    return Conv2d(weight, None, padding=centre, groups=groups)
