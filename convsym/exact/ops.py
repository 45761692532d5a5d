"""Exact definitional convolution ops, written once for every backend of :mod:`convsym.exact`.

Each op validates its arguments, builds the index triples ``(out, a, b)`` of its defining sum
with NumPy from the hyper-parameters alone, and makes one :func:`~convsym.exact.tensor.contract`
call.  So the same definition runs on ``PolyTensor`` (exact proofs), ``ModPTensor``
(Schwartz-Zippel) and ``DictPolyTensor`` (the test oracle), and on exact constants.

Layout and semantics are PyTorch's: cross-correlation, zero padding, weights
``(C_out, C_in / groups, *k)``.  Like ``torch.nn.functional.conv1d/conv2d``, the input may be
unbatched ``(C, *spatial)`` or batched ``(N, C, *spatial)``; the output has the same form.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from convsym.exact.tensor import TensorAlgebra, _remember_range, contract
from convsym.spec import int_tuple, padding_pairs

__all__ = [
    "add_bias",
    "conv1d",
    "conv2d",
    "full_convolution",
    "matmul",
    "merge_bias",
    "merge_kernels",
    "merged_kernel_size",
    "total",
]


# --------------------------------------------------------------------------------------------
# validation


def _check_tensor(op: str, name: str, t: Any) -> None:
    if not isinstance(t, TensorAlgebra):
        raise TypeError(
            f"{op}: {name} must be a PolyTensor, ModPTensor or DictPolyTensor, got {type(t).__name__}"
        )


def _check_backends(op: str, **tensors: Any) -> None:
    given = {name: t for name, t in tensors.items() if t is not None}
    for name, t in given.items():
        _check_tensor(op, name, t)
    kinds = {type(t) for t in given.values()}
    if len(kinds) > 1:
        listed = ", ".join(f"{n}: {type(t).__name__}" for n, t in given.items())
        raise TypeError(f"{op}: all tensors must use one backend, got {listed}")


def _output_size(n: int, k: int, stride: int, pad: tuple[int, int], dilation: int) -> int:
    """``floor((n + before + after - d*(k-1) - 1) / s) + 1``."""
    return (n + pad[0] + pad[1] - dilation * (k - 1) - 1) // stride + 1


# --------------------------------------------------------------------------------------------
# convolution


def _conv(
    op: str, nd: int, x: TensorAlgebra, w: TensorAlgebra, b: TensorAlgebra | None,
    stride: Any, padding: Any, dilation: Any, groups: Any,
) -> TensorAlgebra:
    """``y[n,o,i] = b[o] + sum_{c,u} x[n, g(o)*C_g + c, s*i + d*u - p_before] * w[o,c,u]``.

    ``i`` and ``u`` are multi-indices over the ``nd`` spatial axes, ``C_g = C_in / groups`` and
    ``g(o) = o // (C_out / groups)``; input positions outside ``[0, n)`` are the zero padding.
    """
    _check_backends(op, x=x, w=w, b=b)
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(
            f"{op}: input must have {nd + 1} dims (C, *spatial) or {nd + 2} (N, C, *spatial), "
            f"got shape {x.shape}"
        )
    if w.ndim != nd + 2:
        raise ValueError(f"{op}: weight must have {nd + 2} dims (C_out, C_in/groups, *k), got shape {w.shape}")
    batched = x.ndim == nd + 2
    xs = x.shape if batched else (1, *x.shape)
    batch, in_channels, spatial = xs[0], xs[1], xs[2:]
    out_channels, group_channels, kernel = w.shape[0], w.shape[1], w.shape[2:]
    stride = int_tuple(op, "stride", stride, nd, 1)
    dilation = int_tuple(op, "dilation", dilation, nd, 1)
    if not isinstance(groups, int | np.integer) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups={groups!r} must be a positive int")
    groups = int(groups)
    if in_channels % groups:
        raise ValueError(f"{op}: groups={groups} must divide in_channels={in_channels}")
    if out_channels % groups:
        raise ValueError(f"{op}: groups={groups} must divide out_channels={out_channels}")
    if group_channels != in_channels // groups:
        raise ValueError(
            f"{op}: weight has {group_channels} input channels per group, expected "
            f"in_channels/groups = {in_channels}/{groups} = {in_channels // groups}"
        )
    if any(k < 1 for k in kernel):
        raise ValueError(f"{op}: kernel size {kernel} must be positive")
    if b is not None and b.shape != (out_channels,):
        raise ValueError(f"{op}: bias must have shape ({out_channels},), got {b.shape}")
    pads = padding_pairs(op, padding, nd, kernel, stride, dilation)
    out_spatial = tuple(
        _output_size(n, k, s, p, d)
        for n, k, s, p, d in zip(spatial, kernel, stride, pads, dilation, strict=True)
    )
    if any(o < 1 for o in out_spatial):
        raise ValueError(
            f"{op}: output size {out_spatial} is empty for input {spatial}, kernel {kernel}, "
            f"stride {stride}, padding {pads}, dilation {dilation}"
        )
    out_index, x_index, w_index = _conv_triples(
        xs, tuple(w.shape), groups, tuple(stride), tuple(dilation), tuple(tuple(p) for p in pads), out_spatial,
    )
    out_shape = (batch, out_channels, *out_spatial)
    y = contract(x.reshape(xs), w, out_index, x_index, w_index, out_shape)
    if b is not None:
        y = add_bias(y, b, axis=1)
    return y if batched else y.reshape(out_shape[1:])


#: Convolutions with at most this many triples keep them for the next call with the same shapes.
_TRIPLE_CACHE_LIMIT = 1 << 16
_TRIPLE_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def remembered_triples(key: tuple, make: Any) -> tuple[np.ndarray, ...]:
    """``make()`` (index arrays, the first one the triples' outputs), remembered under ``key`` for
    small ops (the instances of a family repeat layers of the same shapes); the arrays are made
    read-only, so that no caller can change what the next one gets."""
    found = _TRIPLE_CACHE.get(key)
    if found is None:
        found = tuple(make())
        for array in found:
            array.flags.writeable = False
        if found[0].size <= _TRIPLE_CACHE_LIMIT:
            if len(_TRIPLE_CACHE) >= 1024:
                _TRIPLE_CACHE.clear()
            _TRIPLE_CACHE[key] = found
            for array in found:
                _remember_range(array)
    return found


def _conv_triples(*key: Any) -> tuple[np.ndarray, ...]:
    """:func:`_make_conv_triples`, remembered (:func:`remembered_triples`)."""
    return remembered_triples(("conv", *key), lambda: _make_conv_triples(*key))


def _make_conv_triples(
    xs: tuple[int, ...], ws: tuple[int, ...], groups: int, stride: tuple[int, ...],
    dilation: tuple[int, ...], pads: tuple[tuple[int, int], ...], out_spatial: tuple[int, ...],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The flat ``(out, x, w)`` triples of a convolution's defining sum (read-only arrays).

    The sum runs over one broadcast axis per index, ``n, o, i_1..i_nd, c, u_1..u_nd`` (in this
    order, C order), keeping the terms whose input position lies inside the input; each flat
    index is the sum of per-axis offsets (its strides times the axis value).
    """
    nd = len(out_spatial)
    batch, in_channels, spatial = xs[0], xs[1], xs[2:]
    out_channels, group_channels, kernel = ws[0], ws[1], ws[2:]
    rank = 3 + 2 * nd

    def axis(values: np.ndarray, position: int) -> np.ndarray:
        shape = [1] * rank
        shape[position] = values.size
        return values.reshape(shape)

    n_ = axis(np.arange(batch, dtype=np.int64), 0)
    o_ = axis(np.arange(out_channels, dtype=np.int64), 1)
    c_ = axis(np.arange(group_channels, dtype=np.int64), 2 + nd)
    in_channel = (o_ // (out_channels // groups)) * group_channels + c_
    out_step, x_step, w_step = math.prod(out_spatial), math.prod(spatial), math.prod(kernel)
    out_flat = (n_ * out_channels + o_) * out_step
    x_flat = (n_ * in_channels + in_channel) * x_step
    w_flat = (o_ * group_channels + c_) * w_step
    valid = np.ones((1,) * rank, dtype=bool)
    for a in range(nd):
        out_step //= out_spatial[a]
        x_step //= spatial[a]
        w_step //= kernel[a]
        i_ = axis(np.arange(out_spatial[a], dtype=np.int64), 2 + a)
        u_ = axis(np.arange(kernel[a], dtype=np.int64), 3 + nd + a)
        pos = stride[a] * i_ + dilation[a] * u_ - pads[a][0]
        valid = valid & (pos >= 0) & (pos < spatial[a])
        out_flat = out_flat + i_ * out_step
        x_flat = x_flat + np.maximum(pos, 0) * x_step
        w_flat = w_flat + u_ * w_step
    full = np.broadcast_shapes(out_flat.shape, x_flat.shape, w_flat.shape, valid.shape)
    valid = np.broadcast_to(valid, full)
    return tuple(np.broadcast_to(flat, full)[valid] for flat in (out_flat, x_flat, w_flat))


def conv1d(
    x: TensorAlgebra, w: TensorAlgebra, b: TensorAlgebra | None = None, stride: Any = 1,
    padding: Any = 0, dilation: Any = 1, groups: int = 1,
) -> TensorAlgebra:
    """PyTorch ``conv1d``: ``y[o,i] = b[o] + sum_{c,u} x[g*C_g + c, s*i + d*u - p] * w[o,c,u]``.

    ``x`` is ``(C_in, L)`` or ``(N, C_in, L)``, ``w`` is ``(C_out, C_in/groups, k)``; output
    length ``floor((L + p_before + p_after - d*(k-1) - 1)/s) + 1``.
    """
    return _conv("conv1d", 1, x, w, b, stride, padding, dilation, groups)


def conv2d(
    x: TensorAlgebra, w: TensorAlgebra, b: TensorAlgebra | None = None, stride: Any = 1,
    padding: Any = 0, dilation: Any = 1, groups: int = 1,
) -> TensorAlgebra:
    """PyTorch ``conv2d`` (cross-correlation, zero padding), per spatial axis as :func:`conv1d`.

    ``x`` is ``(C_in, H, W)`` or ``(N, C_in, H, W)``, ``w`` is ``(C_out, C_in/groups, k_h, k_w)``;
    ``stride``, ``dilation`` are ints or pairs; ``padding`` an int, a pair, a pair of
    ``(before, after)`` pairs, ``'valid'`` or ``'same'``.
    """
    return _conv("conv2d", 2, x, w, b, stride, padding, dilation, groups)


def add_bias(y: TensorAlgebra, b: TensorAlgebra, axis: int = 0) -> TensorAlgebra:
    """``y + b`` with ``b[c]`` added to every entry of channel ``c`` (channel axis ``axis``)."""
    _check_backends("add_bias", y=y, b=b)
    if not -y.ndim <= axis < y.ndim:
        raise ValueError(f"add_bias: axis={axis} out of range for shape {y.shape}")
    axis %= y.ndim
    if b.shape != (y.shape[axis],):
        raise ValueError(
            f"add_bias: bias must have shape ({y.shape[axis]},) for axis {axis} of {y.shape}, "
            f"got {b.shape}"
        )
    shape = [1] * y.ndim
    shape[axis] = y.shape[axis]
    return y + b.reshape(tuple(shape))


# --------------------------------------------------------------------------------------------
# kernels


def merged_kernel_size(k1: int, k2: int, stride1: int = 1, dilation1: int = 1, dilation2: int = 1) -> int:
    """``d1*(k1 - 1) + s1*d2*(k2 - 1) + 1``: one axis of the kernel of two convolutions in a row."""
    return dilation1 * (k1 - 1) + stride1 * dilation2 * (k2 - 1) + 1


def _pair_sum(
    w1: TensorAlgebra, w2: TensorAlgebra, lead1: int, lead2: int,
    step1: tuple[int, ...], step2: tuple[int, ...],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    """Spatial part of a full convolution: offsets ``t = step1*a + step2*b`` per axis.

    Returns the flat spatial index of ``t`` and of ``a``, ``b`` for every pair, and the out sizes.
    """
    k1, k2 = w1.shape[lead1:], w2.shape[lead2:]
    nd = len(k1)
    out = tuple(
        s1 * (a - 1) + s2 * (b - 1) + 1 for a, b, s1, s2 in zip(k1, k2, step1, step2, strict=True)
    )
    grid_a = np.indices(k1, dtype=np.int64).reshape(nd, -1, 1)
    grid_b = np.indices(k2, dtype=np.int64).reshape(nd, 1, -1)
    t = [np.broadcast_to(step1[d] * grid_a[d] + step2[d] * grid_b[d], (grid_a.shape[1], grid_b.shape[2]))
         for d in range(nd)]
    t_flat = np.ravel_multi_index([v.reshape(-1) for v in t], out)
    a_flat = np.repeat(np.arange(math.prod(k1)), math.prod(k2))
    b_flat = np.tile(np.arange(math.prod(k2)), math.prod(k1))
    return t_flat, a_flat, b_flat, out


def full_convolution(w1: TensorAlgebra, w2: TensorAlgebra) -> TensorAlgebra:
    """True (flipped) full convolution of two kernels: ``W[t] = sum_{a+b=t} w1[a] * w2[b]``.

    Kernels of any equal number of axes (1-D ``(k,)``, 2-D ``(k_h, k_w)``, ...); each output
    axis has size ``k1 + k2 - 1``.
    """
    _check_backends("full_convolution", w1=w1, w2=w2)
    if w1.ndim != w2.ndim or w1.ndim < 1:
        raise ValueError(
            f"full_convolution: kernels must have the same number (>= 1) of axes, got shapes "
            f"{w1.shape} and {w2.shape}"
        )
    if any(k < 1 for k in (*w1.shape, *w2.shape)):
        raise ValueError(f"full_convolution: kernel sizes must be positive, got {w1.shape} and {w2.shape}")
    ones = (1,) * w1.ndim
    t, a, b, out = _pair_sum(w1, w2, 0, 0, ones, ones)
    return contract(w1, w2, t, a, b, out)


def merge_kernels(
    w1: TensorAlgebra, w2: TensorAlgebra, stride1: Any = 1, dilation1: Any = 1, dilation2: Any = 1
) -> TensorAlgebra:
    """The kernel of ``conv(conv(x, w1, stride=s1, dilation=d1), w2, dilation=d2)`` as one conv.

    ``w1`` is ``(M, C, *k1)``, ``w2`` is ``(O, M, *k2)``;
    ``W[o, c, t] = sum_m sum_{a, b: d1*a + s1*d2*b = t} w1[m, c, a] * w2[o, m, b]`` per spatial
    axis, of size :func:`merged_kernel_size` per axis.  The merged conv has stride ``s1*s2``
    and dilation 1; with ``s1 = d1 = d2 = 1`` this is the full convolution summed over ``m``.
    """
    op = "merge_kernels"
    _check_backends(op, w1=w1, w2=w2)
    if w1.ndim < 3 or w1.ndim != w2.ndim:
        raise ValueError(
            f"{op}: weights must be (M, C, *k1) and (O, M, *k2) with the same number of spatial "
            f"axes, got shapes {w1.shape} and {w2.shape}"
        )
    if w2.shape[1] != w1.shape[0]:
        raise ValueError(
            f"{op}: second weight has {w2.shape[1]} input channels but the first has "
            f"{w1.shape[0]} output channels"
        )
    nd = w1.ndim - 2
    s1 = int_tuple(op, "stride1", stride1, nd, 1)
    d1 = int_tuple(op, "dilation1", dilation1, nd, 1)
    d2 = int_tuple(op, "dilation2", dilation2, nd, 1)
    mid, cin, out_c = w1.shape[0], w1.shape[1], w2.shape[0]
    step2 = tuple(s * d for s, d in zip(s1, d2, strict=True))
    spatial = tuple(d * (a - 1) + s * (b - 1) + 1
                    for a, b, d, s in zip(w1.shape[2:], w2.shape[2:], d1, step2, strict=True))

    def make():
        t, a, b, _ = _pair_sum(w1, w2, 2, 2, d1, step2)
        k1, k2 = math.prod(w1.shape[2:]), math.prod(w2.shape[2:])
        o_, c_, m_ = np.ix_(np.arange(out_c), np.arange(cin), np.arange(mid))
        o_, c_, m_ = (v[..., None] for v in (o_, c_, m_))
        out_index = (o_ * cin + c_) * math.prod(spatial) + t
        w1_index = (m_ * cin + c_) * k1 + a
        w2_index = (o_ * mid + m_) * k2 + b
        full = np.broadcast_shapes(out_index.shape, w1_index.shape, w2_index.shape)
        made = []
        for index in (out_index, w1_index, w2_index):
            flat = np.empty(full, dtype=np.int64)  # filled in one pass (fresh memory, not a view)
            flat[...] = index
            made.append(flat.reshape(-1))
        return tuple(made)

    out_index, w1_index, w2_index = remembered_triples(("merge_kernels", w1.shape, w2.shape, d1, step2), make)
    return contract(w1, w2, out_index, w1_index, w2_index, (out_c, cin, *spatial))


def total(w: TensorAlgebra, axes: Sequence[int] | None = None) -> TensorAlgebra:
    """Sum over the spatial axes of a weight ``(O, C, *k)`` -> ``(O, C)`` (or over ``axes``)."""
    _check_tensor("total", "w", w)
    if axes is None:
        if w.ndim < 3:
            raise ValueError(
                f"total: a weight (O, C, *k) has at least 3 axes, got shape {w.shape}; "
                "pass axes= to sum other axes"
            )
        axes = tuple(range(2, w.ndim))
    return w.sum(tuple(axes))


def matmul(a: TensorAlgebra, b: TensorAlgebra) -> TensorAlgebra:
    """``(a @ b)[i, j] = sum_k a[i, k] * b[k, j]``; a vector ``b`` of shape ``(K,)`` gives ``(I,)``."""
    _check_backends("matmul", a=a, b=b)
    if a.ndim != 2 or b.ndim not in (1, 2) or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not (I, K) and (K, J) or (K,)")
    rows, inner = a.shape
    cols = b.shape[1] if b.ndim == 2 else 1

    def make():
        i_, k_, j_ = np.meshgrid(np.arange(rows), np.arange(inner), np.arange(cols), indexing="ij")
        return (i_ * cols + j_).reshape(-1), (i_ * inner + k_).reshape(-1), (k_ * cols + j_).reshape(-1)

    out_index, a_index, b_index = remembered_triples(("matmul", rows, inner, cols), make)
    out = contract(a, b, out_index, a_index, b_index, (rows, cols))
    return out if b.ndim == 2 else out.reshape((rows,))


def merge_bias(w2: TensorAlgebra, b1: TensorAlgebra, b2: TensorAlgebra | None = None) -> TensorAlgebra:
    """The bias of two convolutions in a row: ``B[o] = b2[o] + sum_{m,u} w2[o, m, u] * b1[m]``.

    Exact when the second convolution has no padding (every window sees ``b1`` everywhere).
    """
    _check_backends("merge_bias", w2=w2, b1=b1, b2=b2)
    if w2.ndim < 3 or b1.shape != (w2.shape[1],):
        raise ValueError(
            f"merge_bias: need w2 (O, M, *k) and b1 (M,), got shapes {w2.shape} and {b1.shape}"
        )
    bias = matmul(total(w2), b1)
    if b2 is None:
        return bias
    if b2.shape != (w2.shape[0],):
        raise ValueError(f"merge_bias: b2 must have shape ({w2.shape[0]},), got {b2.shape}")
    return b2 + bias
