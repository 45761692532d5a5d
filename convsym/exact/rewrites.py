"""Exact ops for the equivalences family, written once for every backend of :mod:`convsym.exact`.

Rearrangements and linear maps that :mod:`convsym.exact.ops` does not have: padding with a value,
im2col and the convolution as a matrix product, the Toeplitz (doubly blocked) matrix of a
convolution, average pooling with PyTorch's divisors, pixel (un)shuffle, kernel flips and the full
cross-correlation.  Like :mod:`convsym.exact.ops`, every op builds index triples with NumPy from the
hyper-parameters alone and makes :func:`~convsym.exact.tensor.contract` or ``gather`` calls, so the
same definition runs on ``PolyTensor`` (exact proofs), ``ModPTensor`` (Schwartz-Zippel) and
``DictPolyTensor``.  Inputs are unbatched ``(C, H, W)`` maps and weights ``(O, C/g, kh, kw)``.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from convsym.exact.ops import matmul
from convsym.exact.tensor import TensorAlgebra, contract
from convsym.spec import int_tuple, padding_pairs, split_offsets, split_owner

__all__ = [
    "avg_pool2d",
    "concat",
    "conv2d_im2col",
    "dense_weight",
    "flip",
    "im2col",
    "pad2d",
    "pixel_shuffle",
    "pixel_unshuffle",
    "pool_output_size",
    "split_kernel",
    "toeplitz_matrix",
    "xcorr_full",
]


def _check(op: str, name: str, t: Any, ndim: int) -> None:
    if not isinstance(t, TensorAlgebra):
        raise TypeError(f"{op}: {name} must be a PolyTensor, ModPTensor or DictPolyTensor, got {type(t).__name__}")
    if t.ndim != ndim:
        raise ValueError(f"{op}: {name} must have {ndim} dims, got shape {t.shape}")


def _pair(op: str, name: str, value: Any, minimum: int) -> tuple[int, int]:
    return int_tuple(op, name, value, 2, minimum)  # type: ignore[return-value]


def _pads(op: str, padding: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    """``padding`` (int, pair, or ``((top, bottom), (left, right))``) as explicit pairs."""
    return padding_pairs(op, padding, 2)  # type: ignore[return-value]


def _scatter(t: TensorAlgebra, out_shape: tuple[int, ...], out_index: np.ndarray, src_index: np.ndarray):
    """``out.flat[out_index[k]] += t.flat[src_index[k]]``; every other entry of ``out`` is zero."""
    one = t.constant_like(np.ones(1, dtype=object))
    return contract(t.reshape((t.size,)), one, out_index.reshape(-1), src_index.reshape(-1),
                    np.zeros(out_index.size, dtype=np.int64), out_shape)


def pad2d(t: TensorAlgebra, padding: Any, value: TensorAlgebra | None = None) -> TensorAlgebra:
    """``t`` of shape ``(C, H, W)`` padded on H and W with ``value[c]`` in channel ``c`` (zero when
    ``value`` is None): ``out[c, i + top, j + left] = t[c, i, j]``, every other entry ``value[c]``."""
    op = "pad2d"
    _check(op, "t", t, 3)
    (top, bottom), (left, right) = _pads(op, padding)
    c, h, w = t.shape
    out_shape = (c, h + top + bottom, w + left + right)
    cc, ii, jj = np.indices(t.shape)
    out_index = np.ravel_multi_index((cc, ii + top, jj + left), out_shape)
    out = _scatter(t, out_shape, out_index, np.arange(t.size))
    if value is None:
        return out
    _check(op, "value", value, 1)
    if value.shape != (c,):
        raise ValueError(f"{op}: value must have shape ({c},), got {value.shape}")
    ring = np.ones(out_shape[1:], dtype=object)
    ring[top : top + h, left : left + w] = 0
    ring_t = t.constant_like(ring.reshape((1,) + ring.shape))
    return out + ring_t * value.reshape((c, 1, 1))


def pool_output_size(n: int, k: int, s: int, p: int, ceil_mode: bool = False, d: int = 1) -> int:
    """PyTorch's pooling output size: ``floor`` (or ``ceil``) of ``(n + 2p - d(k-1) - 1)/s`` plus one;
    in ceil mode a last window starting at or beyond ``n + p`` is dropped."""
    num = n + 2 * p - d * (k - 1) - 1
    out = (num + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _conv_geometry(op, shape_hw, kernel, stride, padding, dilation):
    kh, kw = kernel
    (sh, sw), (dh, dw) = _pair(op, "stride", stride, 1), _pair(op, "dilation", dilation, 1)
    pads = _pads(op, padding)
    out = []
    for n, k, s, d, (lo, hi) in zip(shape_hw, (kh, kw), (sh, sw), (dh, dw), pads, strict=True):
        o = (n + lo + hi - d * (k - 1) - 1) // s + 1
        if o < 1:
            raise ValueError(f"{op}: output size {o} is empty for input {shape_hw}, kernel {kernel}")
        out.append(o)
    return (sh, sw), (dh, dw), pads, tuple(out)


def im2col(x: TensorAlgebra, kernel_size: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1):
    """The unfolded input, like ``torch.nn.functional.unfold`` on one sample:
    ``(C, H, W) -> (C*kh*kw, L)``, ``L = H_out*W_out``, with
    ``out[c*kh*kw + u*kw + v, i*W_out + j] = xpad[c, i*s_h + u*d_h, j*s_w + v*d_w]``."""
    op = "im2col"
    _check(op, "x", x, 3)
    kh, kw = _pair(op, "kernel_size", kernel_size, 1)
    (sh, sw), (dh, dw), ((top, _), (left, _)), (oh, ow) = _conv_geometry(
        op, x.shape[1:], (kh, kw), stride, padding, dilation)
    c, h, w = x.shape
    cc, uu, vv, ii, jj = np.ix_(np.arange(c), np.arange(kh), np.arange(kw), np.arange(oh), np.arange(ow))
    rows = np.broadcast_to(sh * ii + dh * uu - top, (c, kh, kw, oh, ow))
    cols = np.broadcast_to(sw * jj + dw * vv - left, (c, kh, kw, oh, ow))
    chan = np.broadcast_to(cc, rows.shape)
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    out_shape = (c * kh * kw, oh * ow)
    out_index = np.arange(math.prod(rows.shape)).reshape(rows.shape)[inside]
    src = np.ravel_multi_index((chan[inside], rows[inside], cols[inside]), x.shape)
    return _scatter(x, out_shape, out_index, src)


def conv2d_im2col(x: TensorAlgebra, w: TensorAlgebra, b: TensorAlgebra | None = None, stride: Any = 1,
                  padding: Any = 0, dilation: Any = 1, groups: int = 1) -> TensorAlgebra:
    """A convolution as matrix products: per group ``g``,
    ``Y_g = W_g.reshape(O/G, C/G*kh*kw) @ im2col(x)[rows of group g]``, stacked over the groups and
    reshaped to ``(O, H_out, W_out)``; plus the bias."""
    op = "conv2d_im2col"
    _check(op, "x", x, 3)
    _check(op, "w", w, 4)
    out_c, cg, kh, kw = w.shape
    if x.shape[0] != cg * groups or out_c % groups:
        raise ValueError(f"{op}: groups={groups} does not fit x {x.shape} and w {w.shape}")
    cols = im2col(x, (kh, kw), stride, padding, dilation)
    length = cols.shape[1]
    og, rows = out_c // groups, cg * kh * kw
    y = None
    for g in range(groups):
        wg = w[g * og : (g + 1) * og].reshape((og, rows))
        yg = matmul(wg, cols[g * rows : (g + 1) * rows])
        placed = _scatter(yg, (out_c, length), np.arange(g * og * length, (g + 1) * og * length),
                          np.arange(og * length))
        y = placed if y is None else y + placed
    _, _, _, (oh, ow) = _conv_geometry(op, x.shape[1:], (kh, kw), stride, padding, dilation)
    y = y.reshape((out_c, oh, ow))
    if b is not None:
        y = y + b.reshape((out_c, 1, 1))
    return y


def dense_weight(w: TensorAlgebra, groups: int) -> TensorAlgebra:
    """The grouped weight ``(O, C/g, kh, kw)`` as the block-diagonal dense ``(O, C, kh, kw)``."""
    out_c, cg = w.shape[:2]
    if groups == 1:
        return w
    og = out_c // groups
    oo, cc, uu, vv = np.indices(w.shape)
    dense_shape = (out_c, cg * groups) + tuple(w.shape[2:])
    out_index = np.ravel_multi_index((oo, (oo // og) * cg + cc, uu, vv), dense_shape)
    return _scatter(w, dense_shape, out_index, np.arange(w.size))


def toeplitz_matrix(w: TensorAlgebra, input_hw: tuple[int, int], stride: Any = 1, padding: Any = 0,
                    dilation: Any = 1, groups: int = 1) -> TensorAlgebra:
    """The convolution as one matrix ``T`` of shape ``(O*H_out*W_out, C*H*W)``:
    ``T[(o, i, j), (c, s_h i + d_h u - top, s_w j + d_w v - left)] = w[o, c, u, v]`` (taps that
    fall into the zero padding are dropped), so ``conv2d(x, w).flat == T @ x.flat``.  For one
    channel and stride 1 it is block Toeplitz with Toeplitz blocks: ``T[(i, j), (i', j')]``
    depends only on ``(i' - i, j' - j)``."""
    op = "toeplitz_matrix"
    _check(op, "w", w, 4)
    dense = dense_weight(w, groups)
    out_c, c, kh, kw = dense.shape
    h, wd = input_hw
    (sh, sw), (dh, dw), ((top, _), (left, _)), (oh, ow) = _conv_geometry(
        op, (h, wd), (kh, kw), stride, padding, dilation)
    oo, ii, jj, cc, uu, vv = np.ix_(*(np.arange(n) for n in (out_c, oh, ow, c, kh, kw)))
    full = (out_c, oh, ow, c, kh, kw)
    rows = np.broadcast_to(sh * ii + dh * uu - top, full)
    cols = np.broadcast_to(sw * jj + dw * vv - left, full)
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < wd)
    b = [np.broadcast_to(t, full)[inside] for t in (oo, ii, jj, cc, uu, vv)]
    shape = (out_c * oh * ow, c * h * wd)
    out_index = np.ravel_multi_index((np.ravel_multi_index((b[0], b[1], b[2]), (out_c, oh, ow)),
                                      np.ravel_multi_index((b[3], rows[inside], cols[inside]), (c, h, wd))), shape)
    src = np.ravel_multi_index((b[0], b[3], b[4], b[5]), dense.shape)
    return _scatter(dense, shape, out_index, src)


def avg_pool2d(x: TensorAlgebra, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> TensorAlgebra:
    """PyTorch's average pooling of ``(C, H, W)``: the sum over the window's positions inside the
    input times ``1/divisor``; the divisor per axis is the window clipped to ``[-p, n + p)``
    (``count_include_pad``) or to ``[0, n)``, multiplied over the two axes."""
    op = "avg_pool2d"
    _check(op, "x", x, 3)
    kh, kw = _pair(op, "kernel_size", kernel_size, 1)
    sh, sw = (kh, kw) if stride is None else _pair(op, "stride", stride, 1)
    ph, pw = _pair(op, "padding", padding, 0)
    c, h, w = x.shape
    oh, ow = pool_output_size(h, kh, sh, ph, ceil_mode), pool_output_size(w, kw, sw, pw, ceil_mode)

    def counts(n, k, s, p, o):
        starts = np.arange(o) * s - p
        if count_include_pad:
            return np.minimum(starts + k, n + p) - starts
        return np.minimum(starts + k, n) - np.maximum(starts, 0)

    divisor = np.multiply.outer(counts(h, kh, sh, ph, oh), counts(w, kw, sw, pw, ow))
    recip = np.empty(divisor.shape, dtype=object)
    recip[...] = [[Fraction(1, int(d)) for d in row] for row in divisor]
    cc, ii, jj, uu, vv = np.ix_(np.arange(c), np.arange(oh), np.arange(ow), np.arange(kh), np.arange(kw))
    full = (c, oh, ow, kh, kw)
    rows = np.broadcast_to(sh * ii + uu - ph, full)
    cols = np.broadcast_to(sw * jj + vv - pw, full)
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    chan = np.broadcast_to(cc, full)[inside]
    oi = np.broadcast_to(ii, full)[inside]
    oj = np.broadcast_to(jj, full)[inside]
    out_index = np.ravel_multi_index((chan, oi, oj), (c, oh, ow))
    x_index = np.ravel_multi_index((chan, rows[inside], cols[inside]), x.shape)
    coef_index = np.ravel_multi_index((oi, oj), (oh, ow))
    return contract(x.reshape((x.size,)), x.constant_like(recip.reshape(-1)), out_index, x_index,
                    coef_index, (c, oh, ow))


def pixel_unshuffle(t: TensorAlgebra, r: int) -> TensorAlgebra:
    """Space-to-depth: ``(D, r*H, r*W) -> (D*r*r, H, W)``, ``out[d*r*r + a*r + b, i, j] = t[d, r*i + a, r*j + b]``."""
    _check("pixel_unshuffle", "t", t, 3)
    d, hr, wr = t.shape
    if hr % r or wr % r:
        raise ValueError(f"pixel_unshuffle: H={hr} and W={wr} must be divisible by r={r}")
    return t.reshape((d, hr // r, r, wr // r, r)).transpose(0, 2, 4, 1, 3).reshape((d * r * r, hr // r, wr // r))


def pixel_shuffle(t: TensorAlgebra, r: int) -> TensorAlgebra:
    """Depth-to-space on the last three axes: ``(..., D*r*r, H, W) -> (..., D, r*H, r*W)``,
    ``out[..., d, r*i + a, r*j + b] = t[..., d*r*r + a*r + b, i, j]`` (also maps a weight
    ``(O, D*r*r, K, K)`` to ``(O, D, r*K, r*K)``)."""
    if t.ndim < 3:
        raise ValueError(f"pixel_shuffle: need at least 3 dims, got shape {t.shape}")
    *lead, ch, h, w = t.shape
    if ch % (r * r):
        raise ValueError(f"pixel_shuffle: channels={ch} must be divisible by r*r={r * r}")
    k = len(lead)
    split = t.reshape(tuple(lead) + (ch // (r * r), r, r, h, w))
    moved = split.transpose(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return moved.reshape(tuple(lead) + (ch // (r * r), h * r, w * r))


def flip(t: TensorAlgebra, axes: tuple[int, ...] | None = None) -> TensorAlgebra:
    """``t`` reversed along ``axes`` (all axes when None): ``out[i] = t[n - 1 - i]`` per flipped axis."""
    axes = tuple(range(t.ndim)) if axes is None else tuple(a % t.ndim for a in axes)
    index = np.arange(t.size).reshape(t.shape)
    for a in axes:
        index = np.flip(index, axis=a)
    return t.gather(np.ascontiguousarray(index))


def xcorr_full(f: TensorAlgebra, g: TensorAlgebra) -> TensorAlgebra:
    """Full cross-correlation of two 1-D sequences: ``out[t + k_f - 1] = sum_n f[n] g[n + t]`` for
    ``t = -(k_f - 1) .. k_g - 1``; equals ``full_convolution(flip(f), g)``."""
    _check("xcorr_full", "f", f, 1)
    _check("xcorr_full", "g", g, 1)
    kf, kg = f.shape[0], g.shape[0]
    tt, nn = np.meshgrid(np.arange(-(kf - 1), kg), np.arange(kf), indexing="ij")
    keep = (nn + tt >= 0) & (nn + tt < kg)
    return contract(f, g, (tt + kf - 1)[keep], nn[keep], (nn + tt)[keep], (kf + kg - 1,))



def concat(*tensors: TensorAlgebra) -> TensorAlgebra:
    """The 1-D concatenation of the flattened ``tensors`` (C order), of length the sum of their sizes."""
    if not tensors:
        raise ValueError("concat: need at least one tensor")
    total = sum(t.size for t in tensors)
    out, start = None, 0
    for t in tensors:
        placed = _scatter(t, (total,), np.arange(start, start + t.size), np.arange(t.size))
        out = placed if out is None else out + placed
        start += t.size
    return out


def split_kernel(w: TensorAlgebra, k1: Any) -> tuple[TensorAlgebra, TensorAlgebra]:
    """The two weights of :func:`convsym.transforms.sequential.split_kernel` built from a symbolic weight
    ``w`` ``(O, C, K_h, K_w)``: impulses (constants) and chunks of ``w`` (scattered entries), so
    that ``merge_kernels(w1, w2) == w`` can be checked as a polynomial identity."""

    _check("split_kernel", "w", w, 4)
    out_c, in_c, kh, kw = w.shape
    k1h, k1w = _pair("split_kernel", "k1", k1, 1)
    k2h, k2w = kh - k1h + 1, kw - k1w + 1
    if k2h < 1 or k2w < 1:
        raise ValueError(f"split_kernel: k1={k1} must be at most the kernel size {(kh, kw)}")
    shift_first = in_c * len(split_offsets(k1h, k2h)) * len(split_offsets(k1w, k2w))
    weight_first = out_c * len(split_offsets(k2h, k1h)) * len(split_offsets(k2w, k1w))
    if shift_first <= weight_first:
        windows = [(cc, ah, aw) for cc in range(in_c)
                   for ah in split_offsets(k1h, k2h) for aw in split_offsets(k1w, k2w)]
        m = len(windows)
        impulses = np.zeros((m, in_c, k1h, k1w), dtype=object)
        dst, src = [], []
        for mm, (cc, ah, aw) in enumerate(windows):
            impulses[mm, cc, ah, aw] = 1
            for bh in range(k2h):
                for bw in range(k2w):
                    th, tw = ah + bh, aw + bw
                    if split_owner(th, k1h, k2h) == ah and split_owner(tw, k1w, k2w) == aw:
                        for oo in range(out_c):
                            dst.append(np.ravel_multi_index((oo, mm, bh, bw), (out_c, m, k2h, k2w)))
                            src.append(np.ravel_multi_index((oo, cc, th, tw), w.shape))
        chunks = _scatter(w, (out_c, m, k2h, k2w), np.array(dst, dtype=np.int64), np.array(src, dtype=np.int64))
        return w.constant_like(impulses), chunks
    windows = [(oo, bh, bw) for oo in range(out_c)
               for bh in split_offsets(k2h, k1h) for bw in split_offsets(k2w, k1w)]
    m = len(windows)
    impulses = np.zeros((out_c, m, k2h, k2w), dtype=object)
    dst, src = [], []
    for mm, (oo, bh, bw) in enumerate(windows):
        impulses[oo, mm, bh, bw] = 1
        for ah in range(k1h):
            for aw in range(k1w):
                th, tw = bh + ah, bw + aw
                if split_owner(th, k2h, k1h) == bh and split_owner(tw, k2w, k1w) == bw:
                    for cc in range(in_c):
                        dst.append(np.ravel_multi_index((mm, cc, ah, aw), (m, in_c, k1h, k1w)))
                        src.append(np.ravel_multi_index((oo, cc, th, tw), w.shape))
    chunks = _scatter(w, (m, in_c, k1h, k1w), np.array(dst, dtype=np.int64), np.array(src, dtype=np.int64))
    return chunks, w.constant_like(impulses)
