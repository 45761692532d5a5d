"""Convolution rewrites as NumPy weight transforms.

Layers are frozen records validated once (:class:`Conv2d`, :class:`BatchNorm2d`); rewrites are
functions from layers to a layer that computes the same map, or a ``ValueError`` that says which
rule makes the rewrite inexact.  Layout and semantics are PyTorch's: NCHW, cross-correlation,
zero padding.

Number kinds.  Arrays are either *exact* (``dtype=object`` holding Python ``int`` and
``fractions.Fraction``) or *float* (``float64``).  On the way in, integer dtypes become exact
object arrays of Python ints (no overflow) and float dtypes become ``float64``; bool, complex and
object arrays holding anything but ints and rationals raise ``TypeError``.  A result is exact
when every array it comes from is exact; when exact and float arrays meet, the exact ones are
converted to ``float64``, as NumPy promotes ints with floats.  Exact paths never divide ints with
``/`` and never take a float square root.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "BatchNorm2d",
    "ConstantPadConv2d",
    "Conv2d",
    "ConvTranspose2d",
    "equalize",
    "fold_batchnorm",
    "fold_batchnorm_before",
    "identity_conv",
    "merge_parallel",
    "merge_parallel_dense",
    "merge_sequential",
    "conv1x1_to_linear",
    "linear_to_conv1x1",
    "linear_to_full_map_conv",
    "full_map_conv_to_linear",
    "unshuffled_conv_to_conv",
    "split_kernel",
]

from convsym.layers import BatchNorm2d, Conv2d, ConvTranspose2d, _check_type, _dense, _int, _unify

# ---------------------------------------------------------------------------------------------
# Rewrites


def merge_sequential(first: Conv2d, second: Conv2d, padding_mode: str | None = None) -> Conv2d:
    r"""One convolution equal to ``second(first(x))`` for every input ``x``.

    ``padding_mode`` (``'bias'`` or ``'zeros'``) asks for the merge of a ``second`` that pads:
    see :func:`convsym.equivalences.merge_sequential_padded` for the exact conditions (with
    ``'bias'`` the intermediate's padding ring holds ``b1``, as re-parameterisation blocks do).
    Without it a padded ``second`` raises ``ValueError``.

    Per spatial axis, with kernel sizes ``k1, k2``, strides ``s1, s2``, dilations ``d1, d2``:

    * weight: ``W[o,c,t] = sum_m sum_{a,b : d1*a + s1*d2*b = t} W1[m,c,a] * W2[o,m,b]``
      (the true convolution of the kernels when ``s1 = d1 = d2 = 1``), summed over the middle
      channels ``m``; kernel size ``d1(k1-1) + s1*d2(k2-1) + 1``;
    * stride ``s1*s2``, dilation 1, padding ``p1`` (first's, symmetric or not);
    * bias: ``B[o] = b2[o] + sum_{m,u,v} W2[o,m,u,v] * b1[m]`` (``None`` when both are).

    Derivation: ``second`` reads intermediate position ``j*s2 + d2*b``, which ``first``
    computed from padded input position ``(j*s2 + d2*b)*s1 + d1*a = j*(s1*s2) + t``.  The output
    sizes agree because ``floor(floor(A/s1)/s2 - B) = floor((A - s1*s2*B)/(s1*s2))``.

    Groups: every combination ``(g1, g2)`` is supported.  Merged ``groups = gcd(g1, g2)``: the
    intermediate channels split into ``gcd(g1, g2)`` contiguous blocks that are unions of whole
    groups of both layers, so merged output block ``J`` reads only input block ``J``; and these
    blocks are the connected components of the channel graph, so no larger group count is exact
    for all weights.  Equal groups ``g`` (depthwise after depthwise included) stay ``g``; groups 1
    on either side gives a dense merged weight.

    Exact conditions (``ValueError`` otherwise): ``second.in_channels == first.out_channels``
    and ``second.padding == 0``: zero padding of the intermediate is not zero padding of the
    input (the intermediate's border holds ``b1`` and partial sums), so the merge would be wrong
    on a border ring of width ``p2``.

    Exact arrays give an exact result; float arrays a float64 one.  Cost:
    ``O(k2h*k2w * O*M*C*k1h*k1w)``.
    """
    op = "merge_sequential"
    if padding_mode is not None:
        from convsym.equivalences import merge_sequential_padded

        return merge_sequential_padded(first, second, padding_mode)
    _check_type(op, "first", first, Conv2d)
    _check_type(op, "second", second, Conv2d)
    if second.in_channels != first.out_channels:
        raise ValueError(
            f"{op}: second.in_channels={second.in_channels} must equal "
            f"first.out_channels={first.out_channels}"
        )
    if second.padding != (0, 0):
        raise ValueError(
            f"{op}: second.padding={second.padding} must be 0: zero padding of the "
            "intermediate is not zero padding of the input, so the merged conv would be wrong "
            f"on a border ring of width p2={second.padding} (pass padding_mode='bias' to pad the "
            "intermediate with the first bias, an exact repair under the conditions it checks)"
        )
    w1, b1, w2, b2 = _unify(first.weight, first.bias, second.weight, second.bias)
    dense1 = _dense(w1, first.groups)  # (M, C, k1h, k1w)
    dense2 = _dense(w2, second.groups)  # (O, M, k2h, k2w)
    (k1h, k1w), (k2h, k2w) = first.kernel_size, second.kernel_size
    (s1h, s1w), (d1h, d1w), (d2h, d2w) = first.stride, first.dilation, second.dilation
    size_h = d1h * (k1h - 1) + s1h * d2h * (k2h - 1) + 1
    size_w = d1w * (k1w - 1) + s1w * d2w * (k2w - 1) + 1
    out_channels, in_channels = second.out_channels, first.in_channels
    merged = np.zeros((out_channels, in_channels, size_h, size_w), dtype=w1.dtype)
    for bh in range(k2h):
        for bw in range(k2w):
            # every tap (a_h, a_w) of the first kernel lands at t = d1*a + s1*d2*b
            contribution = np.tensordot(dense2[:, :, bh, bw], dense1, axes=([1], [0]))
            top, left = s1h * d2h * bh, s1w * d2w * bw
            merged[
                :,
                :,
                top : top + d1h * (k1h - 1) + 1 : d1h,
                left : left + d1w * (k1w - 1) + 1 : d1w,
            ] += contribution

    groups = math.gcd(first.groups, second.groups)
    group_out, group_in = out_channels // groups, in_channels // groups
    weight = np.empty((out_channels, group_in, size_h, size_w), dtype=merged.dtype)
    for j in range(groups):
        rows = slice(j * group_out, (j + 1) * group_out)
        weight[rows] = merged[rows, j * group_in : (j + 1) * group_in]

    if b1 is None and b2 is None:
        bias = None
    else:
        bias = np.zeros(out_channels, dtype=merged.dtype) if b2 is None else b2.copy()
        if b1 is not None:
            bias = bias + dense2.sum(axis=(2, 3)) @ b1
    return Conv2d(
        weight,
        bias,
        stride=(s1h * second.stride[0], s1w * second.stride[1]),
        padding=first.padding,
        dilation=1,
        groups=groups,
    )


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


# The rewrites of the folding family live in their own module (they import the layers above);
# they are offered here under the contract's names.
from .equivalences import (  # noqa: E402  (equivalences imports the layers, not this module)
    conv1x1_to_linear,
    full_map_conv_to_linear,
    linear_to_conv1x1,
    linear_to_full_map_conv,
    split_kernel,
    unshuffled_conv_to_conv,
)
from .folding import (  # noqa: E402  (folding imports the layers, not this module)
    ConstantPadConv2d,
    equalize,
    fold_batchnorm,
    fold_batchnorm_before,
    merge_parallel,
    merge_parallel_dense,
)
from .subpixel import subpixel_to_transposed, transposed_to_subpixel  # noqa: E402, F401  (re-exported)


# Every transform also accepts the matching torch modules and then returns torch modules
# (convsym.torch.adapt); torch is imported only when a module is actually passed.
def _adapt_all() -> None:
    from convsym.torch import adapt

    for name in ("merge_sequential", "merge_parallel", "merge_parallel_dense", "fold_batchnorm",
                 "fold_batchnorm_before", "equalize", "conv1x1_to_linear", "linear_to_conv1x1",
                 "linear_to_full_map_conv", "full_map_conv_to_linear",
                 "unshuffled_conv_to_conv", "split_kernel"):
        globals()[name] = adapt(globals()[name])


_adapt_all()
