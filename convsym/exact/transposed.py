"""Exact transposed-convolution ops for every backend of :mod:`convsym.exact`.

Written like :mod:`convsym.exact.ops`: index triples built with NumPy from the hyper-parameters, one
:func:`~convsym.exact.tensor.contract` (or gather) per op.  ``conv_transpose2d`` is the scatter
definition (input ``(c, i, j)`` times weight ``(c, o, u, v)`` added at ``(s i + d u - p, ...)``),
written independently of the upsample-and-convolve form it is compared with in the proofs.
Inputs are batched ``(N, C, H, W)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convsym.exact.ops import _check_backends, add_bias, remembered_triples
from convsym.exact.tensor import TensorAlgebra, contract
from convsym.spec import int_tuple

__all__ = ["conv_transpose2d", "flip_swap", "pixel_shuffle", "place", "upsample_pad"]


def conv_transpose2d(x: TensorAlgebra, w: TensorAlgebra, b: TensorAlgebra | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, dilation: Any = 1, groups: int = 1) -> TensorAlgebra:
    """``y[n, gamma O_g + o, s i + d u - p] += x[n, gamma C_g + c, i] * w[gamma C_g + c, o, u]`` per axis,
    kept where ``0 <= s i + d u - p < (n-1)s - 2p + d(k-1) + output_padding + 1``."""
    op = "conv_transpose2d"
    _check_backends(op, x=x, w=w, b=b)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"{op}: input (N, C, H, W) and weight (C, O/g, kh, kw), got {x.shape} and {w.shape}")
    s = int_tuple(op, "stride", stride, 2, 1)
    p = int_tuple(op, "padding", padding, 2, 0)
    q = int_tuple(op, "output_padding", output_padding, 2, 0)
    d = int_tuple(op, "dilation", dilation, 2, 1)
    batch, channels, height, width = x.shape
    if channels != w.shape[0] or channels % groups:
        raise ValueError(f"{op}: input channels {channels} must equal weight.shape[0]={w.shape[0]} and be a "
                         f"multiple of groups={groups}")
    per_in, per_out, kh, kw = channels // groups, w.shape[1], w.shape[2], w.shape[3]
    for axis in range(2):
        if q[axis] >= s[axis] and q[axis] >= d[axis]:
            raise ValueError(f"{op}: output_padding={q[axis]} must be smaller than stride={s[axis]} or "
                             f"dilation={d[axis]}")
    out_hw = tuple((n - 1) * s[a] - 2 * p[a] + d[a] * (k - 1) + q[a] + 1
                   for a, (n, k) in enumerate(((height, kh), (width, kw))))
    if min(out_hw) < 1:
        raise ValueError(f"{op}: output size {out_hw} is empty")
    out_shape = (batch, per_out * groups, *out_hw)

    def make():
        nn, cc, ii, jj, oo, uu, vv = np.meshgrid(np.arange(batch), np.arange(channels), np.arange(height),
                                                 np.arange(width), np.arange(per_out), np.arange(kh), np.arange(kw),
                                                 indexing="ij")
        yy = s[0] * ii + d[0] * uu - p[0]
        zz = s[1] * jj + d[1] * vv - p[1]
        keep = (yy >= 0) & (yy < out_hw[0]) & (zz >= 0) & (zz < out_hw[1])
        out_c = (cc // per_in) * per_out + oo
        return (np.ravel_multi_index((nn[keep], out_c[keep], yy[keep], zz[keep]), out_shape),
                np.ravel_multi_index((nn[keep], cc[keep], ii[keep], jj[keep]), x.shape),
                np.ravel_multi_index((cc[keep], oo[keep], uu[keep], vv[keep]), w.shape))

    out_index, x_index, w_index = remembered_triples(
        ("conv_transpose2d", x.shape, w.shape, int(groups), s, p, d, out_hw), make)
    y = contract(x, w, out_index, x_index, w_index, out_shape)
    return y if b is None else add_bias(y, b, axis=1)


def place(src: TensorAlgebra, shape: tuple[int, ...], dst_index, src_index) -> TensorAlgebra:
    """A tensor of ``shape`` with ``out.flat[dst_index[k]] = src.flat[src_index[k]]`` and zeros elsewhere."""
    dst = np.asarray(dst_index, dtype=np.int64).reshape(-1)
    srci = np.asarray(src_index, dtype=np.int64).reshape(-1)
    one = src.constant_like(np.ones((1,), dtype=np.int64))
    return contract(src.reshape((src.size,)), one, dst, srci, np.zeros_like(dst), tuple(shape))


def upsample_pad(x: TensorAlgebra, stride: tuple[int, int], borders: tuple[tuple[int, int], tuple[int, int]]):
    """``s - 1`` zeros between the entries of each axis, then ``(before, after)`` zeros on it (a negative
    border crops)."""
    batch, channels, height, width = x.shape
    sizes = [(n - 1) * s + 1 + lo + hi for n, s, (lo, hi) in zip((height, width), stride, borders, strict=True)]
    nn, cc, ii, jj = np.meshgrid(np.arange(batch), np.arange(channels), np.arange(height), np.arange(width),
                                 indexing="ij")
    yy = borders[0][0] + stride[0] * ii
    zz = borders[1][0] + stride[1] * jj
    keep = (yy >= 0) & (yy < sizes[0]) & (zz >= 0) & (zz < sizes[1])
    shape = (batch, channels, *sizes)
    dst = np.ravel_multi_index((nn[keep], cc[keep], yy[keep], zz[keep]), shape)
    src = np.ravel_multi_index((nn[keep], cc[keep], ii[keep], jj[keep]), x.shape)
    return place(x, shape, dst, src)


def flip_swap(w: TensorAlgebra, groups: int = 1) -> TensorAlgebra:
    """The convolution weight ``(O, C/g, kh, kw)`` of a transposed weight ``(C, O/g, kh, kw)``: kernel
    flipped, in/out channels swapped within each group."""
    channels, per_out, kh, kw = w.shape
    per_in = channels // groups
    flat = np.arange(w.size).reshape(w.shape)[:, :, ::-1, ::-1]
    flat = flat.reshape(groups, per_in, per_out, kh, kw).transpose(0, 2, 1, 3, 4).reshape(
        groups * per_out, per_in, kh, kw)
    return w.gather(np.ascontiguousarray(flat))


def pixel_shuffle(x: TensorAlgebra, r: int) -> TensorAlgebra:
    """``out[n, c, r i + a, r j + b] = x[n, c r^2 + a r + b, i, j]``."""
    batch, channels, height, width = x.shape
    if channels % (r * r):
        raise ValueError(f"pixel_shuffle: channels={channels} must be divisible by r*r={r * r}")
    flat = np.arange(x.size).reshape(batch, channels // (r * r), r, r, height, width)
    flat = flat.transpose(0, 1, 4, 2, 5, 3).reshape(batch, channels // (r * r), height * r, width * r)
    return x.gather(np.ascontiguousarray(flat))
