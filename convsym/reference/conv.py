"""Convolutions: ``conv1d``, ``conv2d`` (with the depthwise path), ``conv_transpose2d`` and ``im2col``."""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from convsym.reference._common import (
    _AXES,
    _array,
    _at_least,
    _bias,
    _check_kernel_fits,
    _conv_padding,
    _ints,
    _optional_array,
    _pad,
    _positive_int,
    _rank,
    _unify,
    _windows,
)

# The convolutions build the im2col matrix for a few samples at a time: a chunk of about this many
# entries keeps the copy in cache-friendly pieces without paying Python overhead per sample.
_CHUNK_ENTRIES = 1 << 21


# The depthwise path works on blocks of planes (or rows of one large plane) whose tap copies,
# (planes, taps, positions), take about this many bytes: on a 512 KiB L2 cache, 1 MiB measured
# fastest for float32 and float64 alike (smaller blocks pay more Python calls per entry).
_DEPTHWISE_BYTES = 1 << 20


def _conv_core(xp: np.ndarray, w: np.ndarray, stride, dilation, groups: int) -> np.ndarray:
    """Grouped cross-correlation of an already padded input: im2col, then matrix products.

    ``out[n, g*Og + o, *i] = sum_{c, *u} w[g*Og + o, c, *u] * xp[n, g*Cg + c, *(i*s + u*d)]``,
    computed for a chunk of samples as ``W_g (Og, Cg*K) @ cols_g (Cg*K, L)`` for all groups at
    once.  Cost: ``N*O*Cg*K*L`` multiply-adds, memory ``chunk*C*K*L`` for the copied windows.
    """
    nd = w.ndim - 2
    kernel = w.shape[2:]
    win = _windows(xp, kernel, stride, dilation)
    out_sizes = win.shape[2 : 2 + nd]
    # (N, C, *out, *kernel) -> (N, C, *kernel, *out): rows of im2col in torch's unfold order.
    win = win.transpose(0, 1, *range(2 + nd, 2 + 2 * nd), *range(2, 2 + nd))
    batch, channels = xp.shape[:2]
    out_channels, channels_per_group = w.shape[:2]
    taps = math.prod(kernel)
    positions = math.prod(out_sizes)
    w_grouped = w.reshape(groups, out_channels // groups, channels_per_group * taps)
    out = np.empty((batch, groups, out_channels // groups, positions), dtype=np.result_type(xp, w))
    if taps == 1 and all(s == 1 for s in stride):
        # A pointwise conv needs no im2col: the input already is the matrix of columns.
        cols = xp.reshape(batch, groups, channels_per_group, positions)
        np.matmul(w_grouped, cols, out=out)
        return out.reshape(batch, out_channels, *out_sizes)
    chunk = max(1, min(batch, _CHUNK_ENTRIES // (channels * taps * positions)))
    # One buffer reused for every chunk: fresh allocations of this size would page-fault anew.
    buffer = np.empty((chunk, *win.shape[1:]), dtype=xp.dtype)
    for start in range(0, batch, chunk):
        stop = min(start + chunk, batch)
        np.copyto(buffer[: stop - start], win[start:stop])
        cols = buffer[: stop - start].reshape(-1, groups, channels_per_group * taps, positions)
        np.matmul(w_grouped, cols, out=out[start:stop])
    return out.reshape(batch, out_channels, *out_sizes)


def _depthwise(x: np.ndarray, w: np.ndarray, pads, stride, dilation, b: np.ndarray | None = None) -> np.ndarray:
    """Grouped conv2d of floating arrays with one input channel per group (``groups = C``,
    ``O = C*m``) and stride 1, plus the bias ``b`` if given::

        out[n, c*m + j, i1, i2] = b[c*m + j]
                                  + sum_{u, v} w[c*m + j, 0, u, v] * xpad[n, c, i1 + u*d_h, i2 + v*d_w]

    Each plane is stored in rows of ``G = max(W, W_out)`` entries (the input row, then zeros if
    ``G > W``) between ``top`` and ``bottom`` rows of zeros, planes end to end: the entry of tap
    ``(u, v)`` for output position ``q = i1*G + i2`` is then at ``q + u*d_h*G + v*d_w - left``, a
    *shift* of the flat run.
    A shift that leaves the input row on the left or right reads a neighbouring row; those taps
    are the zero padding, set to zero after the copy.  The work goes block by block, a block being
    a few of the ``N*C`` planes (or a few rows of one large plane), so that its buffers stay in
    cache and no whole-size temporary is made:

    1. the block's planes are copied into the zero-bordered buffer (the zeros are written once);
    2. one copy fills ``cols (planes, taps, positions)`` from a strided view of that buffer, and
       the taps that fall in the left/right padding are zeroed (a column range per tap);
    3. one batched matrix product ``W[c] (m, taps) @ cols[p]`` gives the block's outputs, written
       straight into the result when ``G = W_out`` (padding 'same' and wider); otherwise (less
       padding than 'same') the positions past each row's last window are dropped as the block is
       copied into the result.  The bias is added to the block while it is in cache.

    The arithmetic is the dtype's own: float32 stays float32 throughout, as in torch.  Exact
    (object) arrays keep the im2col path: NumPy's object matrix product makes fewer temporaries
    than tap-by-tap sums (measured 0.75x their time on Fractions).
    """
    batch, channels, height, width = x.shape
    out_channels, _, kh, kw = w.shape
    mult = out_channels // channels
    (top, bottom), (left, right) = pads
    hp = height + top + bottom
    dh, dw = dilation
    ho, wo = hp - dh * (kh - 1), width + left + right - dw * (kw - 1)
    row = max(width, wo)  # G: entries per stored row, and output positions per row
    dtype = np.result_type(x, w)
    result_dtype = dtype if b is None else np.result_type(dtype, b)
    planes, plane, taps = batch * channels, hp * row, kh * kw
    entries = _DEPTHWISE_BYTES // np.dtype(dtype).itemsize  # of the tap copies of one block
    rows = min(ho, max(1, entries // (taps * row)))  # output rows per block
    per_block = min(planes, max(1, entries // (taps * ho * row))) if rows == ho else 1  # planes per block
    weights = np.broadcast_to(w.astype(dtype, copy=False).reshape(1, channels, mult, taps),
                              (batch, channels, mult, taps)).reshape(planes, mult, taps)
    x_planes = x.reshape(planes, height, width)
    result = np.empty((batch, out_channels, ho, wo), dtype=result_dtype)
    # the reads reach `left` entries before a block's first plane and d_w*(k_w-1) - left past its last
    reach = max(0, dw * (kw - 1) - left)
    buf = np.zeros(left + per_block * plane + reach, dtype=dtype)
    stored = buf[left : left + per_block * plane].reshape(per_block, hp, row)[:, top : top + height, :width]
    item = buf.itemsize
    # view[p, u, v, q] = the entry of tap (u, v) at flat output position q of plane p
    view = as_strided(buf, shape=(per_block, kh, kw, ho * row),
                      strides=(plane * item, dh * row * item, dw * item, item), writeable=False)
    # output columns whose tap v reads left of the input row (i2 + v*d_w < left) or right of it
    padding_columns = []
    for v in range(kw):
        shift = v * dw - left
        if shift < 0:
            padding_columns.append((v, 0, min(row, -shift)))
        if width - shift < row:
            padding_columns.append((v, max(0, width - shift), row))
    direct = row == wo and result_dtype == dtype
    length = rows * row  # flat positions per block
    cols = np.empty((per_block, taps, length), dtype=dtype)
    cols_by_tap = cols.reshape(per_block, kh, kw, length)
    grid = cols_by_tap.reshape(per_block, kh, kw, rows, row)
    padding_taps = [grid[:, :, v, :, lo:hi] for v, lo, hi in padding_columns]  # of a whole block
    products = None if direct else np.empty((per_block, mult, length), dtype=dtype)
    out_planes = result.reshape(planes, mult, ho * wo)
    bias_planes = None if b is None else np.broadcast_to(
        b.reshape(1, channels, mult, 1), (batch, channels, mult, 1)).reshape(planes, mult, 1)
    for p0 in range(0, planes, per_block):
        p1 = min(p0 + per_block, planes)
        count = p1 - p0
        np.copyto(stored if count == per_block else stored[:count], x_planes[p0:p1])
        for i0 in range(0, ho, rows):
            i1 = min(i0 + rows, ho)
            if count == per_block and i1 - i0 == rows:  # a whole block: the views made above
                block, by_tap, zeros = cols, cols_by_tap, padding_taps
                np.copyto(by_tap, view if rows == ho else view[:, :, :, i0 * row : i1 * row])
            else:
                n = (i1 - i0) * row
                block, by_tap = cols[:count, :, :n], cols_by_tap[:count, :, :, :n]
                np.copyto(by_tap, view[:count, :, :, i0 * row : i1 * row])
                part = by_tap.reshape(count, kh, kw, i1 - i0, row)
                zeros = [part[:, :, v, :, lo:hi] for v, lo, hi in padding_columns]
            for beside in zeros:  # the taps beside the input row: its zero padding
                beside.fill(0)
            target = out_planes[p0:p1, :, i0 * wo : i1 * wo]
            if direct:
                np.matmul(weights[p0:p1], block, out=target)
                if bias_planes is not None:
                    np.add(target, bias_planes[p0:p1], out=target)
                continue
            block_out = products[:count, :, : block.shape[2]]
            np.matmul(weights[p0:p1], block, out=block_out)
            kept = block_out.reshape(count, mult, i1 - i0, row)[:, :, :, :wo]
            target = target.reshape(count, mult, i1 - i0, wo)
            if bias_planes is None:
                np.copyto(target, kept)
            else:
                np.add(kept, bias_planes[p0:p1, :, :, None], out=target)
    return result


def _add_bias(out: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    if b is None:
        return out
    return out + b.reshape((1, -1) + (1,) * (out.ndim - 2))


def _conv(op, x, w, b, stride, padding, dilation, groups, nd):
    x = _array(op, "input", x)
    w = _array(op, "weight", w)
    b = _optional_array(op, "bias", b)
    layout = {1: "(N, C, L)", 2: "(N, C, H, W)"}[nd]
    w_layout = {1: "(O, C/groups, k)", 2: "(O, C/groups, kh, kw)"}[nd]
    _rank(op, "input", x, nd + 2, layout)
    _rank(op, "weight", w, nd + 2, w_layout)
    if 0 in w.shape:
        raise ValueError(f"{op}: weight shape {w.shape} has a zero dimension")
    groups = _positive_int(op, "groups", groups)
    stride = _ints(op, "stride", stride, nd)
    dilation = _ints(op, "dilation", dilation, nd)
    _at_least(op, "stride", stride, 1)
    _at_least(op, "dilation", dilation, 1)
    kernel = w.shape[2:]
    pads = _conv_padding(op, padding, nd, kernel, stride, dilation)
    channels, out_channels = x.shape[1], w.shape[0]
    if channels != w.shape[1] * groups:
        raise ValueError(
            f"{op}: input has {channels} channels but weight expects {w.shape[1] * groups} "
            f"(weight.shape[1]={w.shape[1]} times groups={groups})"
        )
    if out_channels % groups:
        raise ValueError(f"{op}: groups={groups} must divide out_channels={out_channels}")
    _bias(op, b, out_channels)
    _check_kernel_fits(op, x.shape[2:], kernel, dilation, pads)
    x, w, b = _unify(x, w, b)
    if w.shape[1] == 1 and x.dtype != object and x.shape[0] > 0 and all(s == 1 for s in stride):
        # floats, one input channel per group (depthwise, with a channel multiplier O/C), stride 1
        # (the bias is added in the pass that drops the positions past each row's last window)
        if nd == 1:
            out = _depthwise(x[:, :, None, :], w[:, :, None, :], ((0, 0), *pads), (1, *stride), (1, *dilation), b)
            return out[:, :, 0, :]
        return _depthwise(x, w, pads, stride, dilation, b)
    return _add_bias(_conv_core(_pad(x, pads), w, stride, dilation, groups), b)


# --------------------------------------------------------------------------------------------
# convolutions


def conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """1-D cross-correlation, like ``torch.nn.functional.conv1d``.

    ``x`` has shape ``(N, C, L)``, ``w`` shape ``(O, C/groups, k)``, ``b`` shape ``(O,)``::

        out[n, o, i] = b[o] + sum_{c, u} w[o, c, u] * xpad[n, g(o)*C/groups + c, i*s + u*d]
        L_out = floor((L + p_low + p_high - d*(k-1) - 1) / s) + 1

    ``padding`` is an int, ``(p,)``, ``'same'``, ``'valid'`` or ``((p_low, p_high),)``.
    """
    return _conv("conv1d", x, w, b, stride, padding, dilation, groups, nd=1)


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """2-D cross-correlation, like ``torch.nn.functional.conv2d``.

    ``x`` has shape ``(N, C, H, W)``, ``w`` shape ``(O, C/groups, kh, kw)``, ``b`` shape ``(O,)``;
    output channel ``o`` sees input channels of group ``g(o) = o // (O/groups)``::

        out[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v]
                          * xpad[n, g(o)*C/groups + c, i*s_h + u*d_h, j*s_w + v*d_w]
        H_out = floor((H + 2p - d(k-1) - 1) / s) + 1   (per axis; 2p = p_low + p_high)

    ``stride``/``dilation``: int or pair.  ``padding``: int, pair, ``'valid'``, ``'same'``
    (stride 1; the extra row/column of an even dilated kernel goes bottom/right) or
    ``((top, bottom), (left, right))``.  Cost ``N*O*(C/groups)*kh*kw*H_out*W_out`` multiply-adds.
    """
    return _conv("conv2d", x, w, b, stride, padding, dilation, groups, nd=2)


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1) -> np.ndarray:
    """Transposed 2-D convolution (the adjoint of ``conv2d``), like ``conv_transpose2d``.

    ``x`` has shape ``(N, C, H, W)``, ``w`` shape ``(C, O/groups, kh, kw)``, ``b`` shape ``(O,)``::

        out[n, g*O/groups + o, y, z] = b[.] + sum w[g*C/groups + c, o, u, v]
                                       * x[n, g*C/groups + c, i, j]
            over all c, u, v, i, j with  y = i*s - p + u*d  and  z = j*s - p + v*d
        H_out = (H - 1)*s - 2p + d(k-1) + output_padding + 1

    PyTorch's rule: ``output_padding`` must be smaller than ``stride`` or than ``dilation`` on
    each axis.  Computed as a stride-1 convolution of the input with ``s - 1`` zeros between
    entries, padded by ``d(k-1) - p`` (plus ``output_padding`` at the bottom/right), with the
    kernel flipped and its in/out channels swapped per group.
    """
    op = "conv_transpose2d"
    x = _array(op, "input", x)
    w = _array(op, "weight", w)
    b = _optional_array(op, "bias", b)
    _rank(op, "input", x, 4, "(N, C, H, W)")
    _rank(op, "weight", w, 4, "(C, O/groups, kh, kw)")
    if 0 in w.shape:
        raise ValueError(f"{op}: weight shape {w.shape} has a zero dimension")
    groups = _positive_int(op, "groups", groups)
    stride = _ints(op, "stride", stride, 2)
    if isinstance(padding, str):
        raise TypeError(f"{op}: padding must be an int or a pair of ints, got {padding!r}")
    padding = _ints(op, "padding", padding, 2)
    output_padding = _ints(op, "output_padding", output_padding, 2)
    dilation = _ints(op, "dilation", dilation, 2)
    _at_least(op, "stride", stride, 1)
    _at_least(op, "padding", padding, 0)
    _at_least(op, "output_padding", output_padding, 0)
    _at_least(op, "dilation", dilation, 1)
    for axis, q, s, d in zip(_AXES[2], output_padding, stride, dilation, strict=True):
        if q >= s and q >= d:
            raise ValueError(f"{op}: output_padding={q} must be smaller than stride={s} or dilation={d} on axis {axis}")
    channels = x.shape[1]
    if channels != w.shape[0]:
        raise ValueError(
            f"{op}: input has {channels} channels but weight expects {w.shape[0]} (weight.shape[0]={w.shape[0]})"
        )
    if channels % groups:
        raise ValueError(f"{op}: groups={groups} must divide in_channels={channels}")
    out_channels = w.shape[1] * groups
    _bias(op, b, out_channels)
    kernel = w.shape[2:]
    for axis, n, k, s, p, q, d in zip(
        _AXES[2], x.shape[2:], kernel, stride, padding, output_padding, dilation, strict=True
    ):
        size = (n - 1) * s - 2 * p + d * (k - 1) + q + 1
        if size < 1:
            raise ValueError(
                f"{op}: output size (n-1)*s - 2p + d(k-1) + output_padding + 1 = {size} is not "
                f"positive on axis {axis} (n={n}, k={k}, s={s}, p={p}, output_padding={q}, d={d})"
            )
    x, w, b = _unify(x, w, b)

    batch, _, height, width = x.shape
    dilated = np.zeros((batch, channels, (height - 1) * stride[0] + 1, (width - 1) * stride[1] + 1), x.dtype)
    dilated[:, :, :: stride[0], :: stride[1]] = x
    # A negative border (p > d(k-1)) crops instead of padding.
    borders = [
        (d * (k - 1) - p, d * (k - 1) - p + q)
        for k, p, q, d in zip(kernel, padding, output_padding, dilation, strict=True)
    ]
    dilated = _pad(dilated, [(max(lo, 0), max(hi, 0)) for lo, hi in borders])
    crop = tuple(
        slice(max(-lo, 0), size - max(-hi, 0)) for (lo, hi), size in zip(borders, dilated.shape[2:], strict=True)
    )
    dilated = dilated[(slice(None), slice(None), *crop)]

    per_group = channels // groups
    flipped = w[:, :, ::-1, ::-1].reshape(groups, per_group, w.shape[1], *kernel)
    as_conv = flipped.transpose(0, 2, 1, 3, 4).reshape(out_channels, per_group, *kernel)
    out = _conv_core(dilated, as_conv, (1, 1), dilation, groups)
    return _add_bias(out, b)


def im2col(x, kernel_size, stride=1, padding=0, dilation=1) -> np.ndarray:
    """Sliding blocks as columns, like ``torch.nn.functional.unfold``.

    ``(N, C, H, W) -> (N, C*kh*kw, L)`` with ``L = H_out * W_out`` (sizes as in ``conv2d``)::

        out[n, c*kh*kw + u*kw + v, i*W_out + j] = xpad[n, c, i*s_h + u*d_h, j*s_w + v*d_w]

    so that ``conv2d(x, w)`` equals ``w.reshape(O, -1) @ im2col(x, ...)`` reshaped to
    ``(N, O, H_out, W_out)``.  The dtype is kept (zero padding only, no arithmetic).
    """
    op = "im2col"
    x = _array(op, "input", x, arithmetic=False)
    _rank(op, "input", x, 4, "(N, C, H, W)")
    kernel = _ints(op, "kernel_size", kernel_size, 2)
    stride = _ints(op, "stride", stride, 2)
    if isinstance(padding, str):
        raise TypeError(f"{op}: padding must be an int or a pair of ints, got {padding!r}")
    padding = _ints(op, "padding", padding, 2)
    dilation = _ints(op, "dilation", dilation, 2)
    _at_least(op, "kernel_size", kernel, 1)
    _at_least(op, "stride", stride, 1)
    _at_least(op, "padding", padding, 0)
    _at_least(op, "dilation", dilation, 1)
    pads = tuple((p, p) for p in padding)
    _check_kernel_fits(op, x.shape[2:], kernel, dilation, pads)
    win = _windows(_pad(x, pads), kernel, stride, dilation)  # (N, C, Ho, Wo, kh, kw)
    batch, channels, out_h, out_w = win.shape[:4]
    cols = win.transpose(0, 1, 4, 5, 2, 3)
    return cols.reshape(batch, channels * kernel[0] * kernel[1], out_h * out_w)
