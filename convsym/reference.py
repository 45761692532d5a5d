"""Independent NumPy reference ops with PyTorch semantics.

Every op here follows ``torch.nn.functional``: NCHW layout, cross-correlation (the kernel is not
flipped), zero padding.  The module imports only NumPy and the standard library: the numeric
checks compare convsym's symbolic results against it, so a bug cannot hide in shared code.

Numbers
-------
* Floating arrays stay floating and keep their precision (float32 in, float32 out); the work is
  vectorised (sliding windows, then one matrix product per chunk of the batch; a depthwise conv
  with stride 1, one input channel per group, as shifted flat planes and one matrix product per
  stretch).
* ``dtype=object`` arrays of Python ints and ``fractions.Fraction`` stay exact: no value is ever
  converted to float.  Averages divide by ``Fraction(1, count)``; ``batch_norm`` takes an exact
  square root or raises.
* Integer arrays (``int64``, ``uint8``, ...) are converted to object arrays of Python ints by every
  op that does arithmetic, so results never overflow; the result is an object array.  The pure
  rearrangements (``pixel_shuffle``, ``pixel_unshuffle``, ``im2col``) keep the dtype they get.
* If any operand is an object array, all operands are computed as object arrays.

Padding
-------
``conv1d``/``conv2d`` take ``padding`` as an int, one int per axis, ``'valid'`` (no padding),
``'same'`` (stride 1 only; total ``d*(k-1)``, ``left = total // 2``, the extra row/column of an
even dilated kernel goes to the bottom/right, as in PyTorch) or, beyond PyTorch, explicit
``(low, high)`` pairs per axis such as ``((top, bottom), (left, right))``.

Errors
------
Wrong input raises ``TypeError`` (not an array of numbers, a float stride, an unknown padding
string) or ``ValueError`` (ranks, shapes, ranges), with a message that names the op, the rule and
the values, e.g. ``conv2d: groups=3 must divide out_channels=8``.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

__all__ = [
    "avg_pool2d",
    "batch_norm",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "im2col",
    "linear",
    "max_pool2d",
    "pixel_shuffle",
    "pixel_unshuffle",
]

_AXES = {1: ("L",), 2: ("H", "W")}
_TUPLE_WORD = {1: "a 1-tuple", 2: "a pair"}

# The convolutions build the im2col matrix for a few samples at a time: a chunk of about this many
# entries keeps the copy in cache-friendly pieces without paying Python overhead per sample.
_CHUNK_ENTRIES = 1 << 21
# The depthwise path copies the taps of a stretch of flat positions into a (taps, positions)
# block of about this many entries (it stays in the L2 cache) before one matrix product.
_DEPTHWISE_ENTRIES = 1 << 17


# --------------------------------------------------------------------------------------------
# validation helpers


def _array(op: str, name: str, value, *, arithmetic: bool = True) -> np.ndarray:
    """Return ``value`` as an ndarray of a supported dtype.

    Arithmetic ops accept real floating, integer (converted to object: exact, no overflow) and
    object arrays whose entries are numbers; rearrangements also accept booleans and keep the
    dtype as it is.
    """
    if not (isinstance(value, (np.ndarray, list, tuple, numbers.Number)) or hasattr(value, "__array__")):
        raise TypeError(f"{op}: {name} must be a numpy array or an array-like of numbers, got {type(value).__name__}")
    try:
        array = np.asarray(value)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f"{op}: {name} is not a rectangular array: {error}") from None
    kind = array.dtype.kind
    allowed = "fiuO" if arithmetic else "fiuOb"
    if kind not in allowed:
        raise TypeError(
            f"{op}: {name} has dtype {array.dtype}; supported are real floating, integer and "
            f"object (int/Fraction) arrays" + ("" if arithmetic else " and booleans")
        )
    if not arithmetic:
        return array
    if kind in "iu":
        return array.astype(object)
    if kind == "O":
        converted = None
        for index, entry in np.ndenumerate(array):
            if isinstance(entry, np.integer):
                # a fixed-width integer inside an object array would still overflow
                if converted is None:
                    converted = array.copy()
                converted[index] = int(entry)
            elif not isinstance(entry, numbers.Number):
                raise TypeError(
                    f"{op}: {name} holds {type(entry).__name__} {entry!r} at index {index}; "
                    f"object arrays must hold numbers (int, Fraction)"
                )
        return array if converted is None else converted
    return array


def _optional_array(op: str, name: str, value) -> np.ndarray | None:
    return None if value is None else _array(op, name, value)


def _unify(*arrays: np.ndarray | None) -> list[np.ndarray | None]:
    """Make every operand an object array as soon as one of them is (exactness wins)."""
    if any(a is not None and a.dtype == object for a in arrays):
        return [None if a is None else a.astype(object, copy=False) for a in arrays]
    return list(arrays)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _ints(op: str, name: str, value, nd: int) -> tuple[int, ...]:
    """``value`` as a tuple of ``nd`` ints: an int is repeated, a sequence must have ``nd`` ints."""
    if _is_int(value):
        return (int(value),) * nd
    if isinstance(value, (tuple, list)) and len(value) == nd and all(_is_int(v) for v in value):
        return tuple(int(v) for v in value)
    raise TypeError(f"{op}: {name} must be an int or {_TUPLE_WORD[nd]} of ints, got {value!r}")


def _at_least(op: str, name: str, values: tuple[int, ...], minimum: int) -> None:
    if any(v < minimum for v in values):
        shown = values[0] if len(set(values)) == 1 else values
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {name}={shown}")


def _positive_int(op: str, name: str, value) -> int:
    if not _is_int(value):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{op}: {name} must be >= 1, got {name}={value}")
    return int(value)


def _rank(op: str, name: str, array: np.ndarray, rank: int, layout: str) -> None:
    if array.ndim != rank:
        raise ValueError(f"{op}: {name} must have {rank} dimensions {layout}, got shape {array.shape}")


def _bias(op: str, bias: np.ndarray | None, out_channels: int) -> None:
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"{op}: bias must have shape (out_channels,) = ({out_channels},), got {bias.shape}")


def _conv_padding(op, padding, nd, kernel, stride, dilation) -> tuple[tuple[int, int], ...]:
    """Resolve ``padding`` into one ``(low, high)`` pair per spatial axis."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' requires stride=1 on every axis, got stride={stride}")
            totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise TypeError(f"{op}: padding must be an int, {_TUPLE_WORD[nd]} of ints, 'same' or 'valid', got {padding!r}")
    explicit = (
        isinstance(padding, (tuple, list)) and len(padding) == nd and all(isinstance(p, (tuple, list)) for p in padding)
    )
    if explicit:
        if not all(len(p) == 2 and _is_int(p[0]) and _is_int(p[1]) for p in padding):
            raise TypeError(f"{op}: explicit padding must be {nd} (low, high) pairs of ints, got {padding!r}")
        pairs = tuple((int(lo), int(hi)) for lo, hi in padding)
        if any(v < 0 for pair in pairs for v in pair):
            raise ValueError(f"{op}: padding must be >= 0, got padding={pairs}")
        return pairs
    if isinstance(padding, (tuple, list)) and not all(_is_int(p) for p in padding):
        raise TypeError(
            f"{op}: padding must be an int, {_TUPLE_WORD[nd]} of ints, 'same', 'valid' or "
            f"{nd} (low, high) pairs, got {padding!r}"
        )
    symmetric = _ints(op, "padding", padding, nd)
    _at_least(op, "padding", symmetric, 0)
    return tuple((p, p) for p in symmetric)


def _check_kernel_fits(op, sizes, kernel, dilation, pads) -> None:
    for axis, n, k, d, (lo, hi) in zip(_AXES[len(sizes)], sizes, kernel, dilation, pads, strict=True):
        span = d * (k - 1) + 1
        if span > n + lo + hi:
            raise ValueError(f"{op}: dilated kernel size {span} exceeds padded input size {n + lo + hi} on axis {axis}")


# --------------------------------------------------------------------------------------------
# shared numerics (inputs already validated)


def _pad(x: np.ndarray, pads, fill=0) -> np.ndarray:
    """Pad the trailing ``len(pads)`` axes of ``x`` with ``fill``.

    Written out instead of ``np.pad``: on object arrays ``np.pad`` fills with ``np.int64(0)``,
    which would bring fixed-width integers into exact arithmetic.
    """
    if all(lo == 0 and hi == 0 for lo, hi in pads):
        return x
    lead = x.shape[: x.ndim - len(pads)]
    shape = lead + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[len(lead) :], pads, strict=True))
    padded = np.full(shape, fill, dtype=x.dtype)
    inner = tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape[len(lead) :], pads, strict=True))
    padded[(Ellipsis, *inner)] = x
    return padded


def _windows(xp: np.ndarray, kernel, stride, dilation) -> np.ndarray:
    """View of shape ``(N, C, *out, *kernel)``: ``view[n, c, *o, *u] = xp[n, c, *(o*s + u*d)]``.

    The last window starts at the largest ``o*s`` with ``o*s + d*(k-1) < padded size``, so
    ``out = floor((padded - d*(k-1) - 1) / s) + 1``.
    """
    nd = len(kernel)
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
    view = sliding_window_view(xp, spans, axis=tuple(range(2, 2 + nd)))
    steps = tuple(slice(None, None, s) for s in stride) + tuple(slice(None, None, d) for d in dilation)
    return view[(slice(None), slice(None), *steps)]


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


def _depthwise(x: np.ndarray, w: np.ndarray, pads, stride, dilation) -> np.ndarray:
    """Grouped conv2d of floating arrays with one input channel per group (``groups = C``,
    ``O = C*m``) and stride 1::

        out[n, c*m + j, i1, i2] = sum_{u, v} w[c*m + j, 0, u, v] * xpad[n, c, i1 + u*d_h, i2 + v*d_w]

    Each channel's padded planes are laid end to end (channel-major), so a tap is a *shift* of
    that flat run; the output is computed at every flat position (positions past a row's or a
    plane's last window are discarded): ``out[c] = W[c] (m, taps) @ cols (taps, positions)``, with
    ``cols`` filled by ``taps`` contiguous copies per cache-sized stretch.  Against the grouped
    im2col of :func:`_conv_core` this copies long contiguous runs instead of short window rows
    (float64 depthwise 3x3: about 0.75x the CPU time; float32: about the same).  Exact (object)
    arrays keep the im2col path: NumPy's object matrix product makes fewer temporaries than
    tap-by-tap sums (measured 0.75x their time on Fractions).
    """
    batch, channels, height, width = x.shape
    out_channels, _, kh, kw = w.shape
    mult = out_channels // channels
    (top, bottom), (left, right) = pads
    hp, wp = height + top + bottom, width + left + right
    dh, dw = dilation
    ho, wo = hp - dh * (kh - 1), wp - dw * (kw - 1)
    dtype = np.result_type(x, w)
    plane = hp * wp
    run = batch * plane  # one channel's planes, end to end
    # the last tap of the last position of the last channel reads dw*(kw-1) entries past the end
    buf = np.zeros(channels * run + dw * (kw - 1), dtype=dtype)
    buf[: channels * run].reshape(channels, batch, hp, wp)[:, :, top : top + height, left : left + width] = (
        x.transpose(1, 0, 2, 3)
    )
    taps = kh * kw
    offsets = [u * dh * wp + v * dw for u in range(kh) for v in range(kw)]
    weights = w.astype(dtype, copy=False).reshape(channels, mult, taps)
    span = (batch - 1) * plane + ho * wp  # flat positions computed per channel
    stretch = max(1, _DEPTHWISE_ENTRIES // taps)
    length = min(span, stretch)
    per_step = max(1, stretch // span)  # short runs: several channels per matrix product
    out = np.empty((channels, mult, run), dtype=dtype)
    cols = np.empty((per_step, taps, length), dtype=dtype)
    # row c: channel c's run and the dw*(kw-1) entries after it (the next channel's, or the tail)
    runs = as_strided(buf, shape=(channels, run + dw * (kw - 1)), strides=(run * buf.itemsize, buf.itemsize),
                      writeable=False)
    for c0 in range(0, channels, per_step):
        c1 = min(c0 + per_step, channels)
        for start in range(0, span, length):
            stop = min(start + length, span)
            block = cols[: c1 - c0, :, : stop - start]
            for t, offset in enumerate(offsets):
                block[:, t, :] = runs[c0:c1, start + offset : stop + offset]
            np.matmul(weights[c0:c1], block, out=out[c0:c1, :, start:stop])
    out = out.reshape(out_channels, batch, hp, wp)[:, :, :ho, :wo]
    return np.ascontiguousarray(out.transpose(1, 0, 2, 3))


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
        if nd == 1:
            out = _depthwise(x[:, :, None, :], w[:, :, None, :], ((0, 0), *pads), (1, *stride), (1, *dilation))
            out = out[:, :, 0, :]
        else:
            out = _depthwise(x, w, pads, stride, dilation)
    else:
        out = _conv_core(_pad(x, pads), w, stride, dilation, groups)
    return _add_bias(out, b)


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


# --------------------------------------------------------------------------------------------
# pooling


class _Padding:
    """A padded position for exact max pooling: below every number, so ``max`` never picks it."""

    __slots__ = ()

    def __lt__(self, other):
        return other is not self

    def __le__(self, other):
        return True

    def __gt__(self, other):
        return False

    def __ge__(self, other):
        return other is self

    def __repr__(self):
        return "<padding>"


_PADDING = _Padding()


def _pool_setup(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    """Validate a pooling call; return (x, kernel, stride, padding, dilation, out sizes)."""
    x = _array(op, "input", x)
    _rank(op, "input", x, 4, "(N, C, H, W)")
    kernel = _ints(op, "kernel_size", kernel_size, 2)
    stride = kernel if stride is None else _ints(op, "stride", stride, 2)
    if isinstance(padding, str):
        raise TypeError(f"{op}: padding must be an int or a pair of ints, got {padding!r}")
    padding = _ints(op, "padding", padding, 2)
    dilation = _ints(op, "dilation", dilation, 2)
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise TypeError(f"{op}: ceil_mode must be a bool, got {ceil_mode!r}")
    _at_least(op, "kernel_size", kernel, 1)
    _at_least(op, "stride", stride, 1)
    _at_least(op, "padding", padding, 0)
    _at_least(op, "dilation", dilation, 1)
    out_sizes = []
    for axis, n, k, s, p, d in zip(_AXES[2], x.shape[2:], kernel, stride, padding, dilation, strict=True):
        if 2 * p > k:
            raise ValueError(f"{op}: padding={p} must be at most half of kernel_size={k} on axis {axis}")
        out_sizes.append(_pool_output_size(n, k, s, p, d, ceil_mode))
        if out_sizes[-1] < 1:
            raise ValueError(
                f"{op}: output size {out_sizes[-1]} is not positive on axis {axis} "
                f"(n={n}, kernel_size={k}, stride={s}, padding={p}, dilation={d}, "
                f"ceil_mode={bool(ceil_mode)})"
            )
    return x, kernel, stride, padding, dilation, tuple(out_sizes)


def _pool_output_size(n, k, s, p, d, ceil_mode) -> int:
    """PyTorch's pooling size: ``floor`` or ``ceil`` of ``(n + 2p - d(k-1) - 1)/s`` plus one.

    In ceil mode a last window that would start at or beyond ``n + p`` (entirely in the right
    padding or past it) is dropped.
    """
    numerator = n + 2 * p - d * (k - 1) - 1
    out = (numerator + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _pool_windows(x, kernel, stride, padding, dilation, out_sizes, fill):
    """Windows ``(N, C, Ho, Wo, kh, kw)`` of ``x`` padded by ``fill``: ``padding`` on the left,
    and on the right as far as the last window reaches (ceil mode may reach past ``n + p``)."""
    pads = []
    for n, k, s, p, d, o in zip(x.shape[2:], kernel, stride, padding, dilation, out_sizes, strict=True):
        reach = (o - 1) * s + d * (k - 1) + 1
        pads.append((p, max(reach - n - p, 0)))
    win = _windows(_pad(x, pads, fill), kernel, stride, dilation)
    return win[:, :, : out_sizes[0], : out_sizes[1]]


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False) -> np.ndarray:
    """2-D max pooling, like ``torch.nn.functional.max_pool2d``.

    ``out[n, c, i, j] = max_{u, v} x[n, c, i*s_h - p_h + u*d_h, j*s_w - p_w + v*d_w]`` over the
    positions inside the input; ``stride`` defaults to ``kernel_size``::

        H_out = floor((H + 2p - d(k-1) - 1) / s) + 1          (ceil with ceil_mode=True, and a
                                                              last window starting at or beyond
                                                              H + p is dropped)

    PyTorch's rule ``2*padding <= kernel_size`` is enforced.  Float inputs are padded with
    ``-inf`` (a window that sees only padding gives ``-inf``, as in PyTorch); exact object
    inputs ignore padded positions and raise ``ValueError`` if a window sees nothing else.
    """
    op = "max_pool2d"
    x, kernel, stride, padding, dilation, out_sizes = _pool_setup(
        op, x, kernel_size, stride, padding, dilation, ceil_mode
    )
    exact = x.dtype == object
    fill = _PADDING if exact else -np.inf
    win = _pool_windows(x, kernel, stride, padding, dilation, out_sizes, fill)
    out = win.max(axis=(-2, -1))
    if exact:
        empty = np.frompyfunc(lambda v: v is _PADDING, 1, 1)(out).astype(bool)
        if empty.any():
            where = tuple(int(i) for i in np.argwhere(empty)[0])
            raise ValueError(
                f"{op}: the window of output {where} covers only padding; exact (object) arrays have no -inf to return"
            )
    return out


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True) -> np.ndarray:
    """2-D average pooling, like ``torch.nn.functional.avg_pool2d``.

    ``out[n, c, i, j] = (sum of x over the window's positions inside the input) / divisor``, the
    window starting at ``(i*s_h - p_h, j*s_w - p_w)``; output sizes as in ``max_pool2d`` (no
    dilation).  PyTorch's divisor, per axis and multiplied over the two axes:

    * ``count_include_pad=True``: the window clipped to the padded input ``[-p, n + p)``, so
      padded positions count but positions that ``ceil_mode`` adds beyond them do not;
    * ``count_include_pad=False``: the window clipped to the input ``[0, n)``.

    Exact object inputs stay exact: the sum is multiplied by ``Fraction(1, divisor)``.
    """
    op = "avg_pool2d"
    x, kernel, stride, padding, dilation, out_sizes = _pool_setup(op, x, kernel_size, stride, padding, 1, ceil_mode)
    if not isinstance(count_include_pad, (bool, np.bool_)):
        raise TypeError(f"{op}: count_include_pad must be a bool, got {count_include_pad!r}")
    win = _pool_windows(x, kernel, stride, padding, dilation, out_sizes, 0)
    total = win.sum(axis=(-2, -1))
    counts = []
    for n, k, s, p, o in zip(x.shape[2:], kernel, stride, padding, out_sizes, strict=True):
        starts = np.arange(o) * s - p
        if count_include_pad:
            counts.append(np.minimum(starts + k, n + p) - starts)
        else:
            counts.append(np.minimum(starts + k, n) - np.maximum(starts, 0))
    divisor = np.multiply.outer(counts[0], counts[1])
    if x.dtype == object:
        reciprocal = np.frompyfunc(lambda d: Fraction(1, int(d)), 1, 1)(divisor)
        return total * reciprocal
    return total / divisor.astype(total.dtype)


# --------------------------------------------------------------------------------------------
# dense layers and normalisation


def linear(x, w, b=None) -> np.ndarray:
    """Fully connected layer, like ``torch.nn.functional.linear``.

    ``x`` has shape ``(..., in)``, ``w`` shape ``(out, in)``, ``b`` shape ``(out,)``::

        out[..., o] = b[o] + sum_i x[..., i] * w[o, i]          (out = x @ w.T + b)
    """
    op = "linear"
    x = _array(op, "input", x)
    w = _array(op, "weight", w)
    b = _optional_array(op, "bias", b)
    if x.ndim < 1:
        raise ValueError(f"{op}: input must have at least 1 dimension (..., in), got shape ()")
    _rank(op, "weight", w, 2, "(out, in)")
    if x.shape[-1] != w.shape[1]:
        raise ValueError(
            f"{op}: input has {x.shape[-1]} features (input.shape[-1]) but weight expects "
            f"{w.shape[1]} (weight.shape[1])"
        )
    _bias(op, b, w.shape[0])
    x, w, b = _unify(x, w, b)
    out = np.matmul(x, w.T)
    return out if b is None else out + b


def _not_positive(op: str, channel: int, var, eps, total) -> ValueError:
    return ValueError(
        f"{op}: var + eps must be positive; channel {channel} has var = {var} and eps = {eps} "
        f"(var + eps = {total})"
    )


def _exact_sqrt(op: str, value: Fraction, channel: int) -> Fraction:
    num, den = value.numerator, value.denominator
    root_num, root_den = math.isqrt(num), math.isqrt(den)
    if root_num * root_num != num or root_den * root_den != den:
        raise ValueError(
            f"{op}: exact (object) arrays need var + eps to be the square of a fraction so that "
            f"sqrt stays exact; channel {channel} has var + eps = {value}"
        )
    return Fraction(root_num, root_den)


def batch_norm(x, mean, var, gamma, beta, eps=1e-5) -> np.ndarray:
    """Batch normalisation in inference mode, per channel on axis 1.

    ``x`` has shape ``(N, C, ...)``; ``mean``, ``var``, ``gamma``, ``beta`` shape ``(C,)``
    (``gamma=None`` means 1, ``beta=None`` means 0)::

        out[n, c, ...] = (x[n, c, ...] - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c]

    ``var[c] + eps`` must be positive (a ``ValueError`` names the first channel where it is not,
    NaN included), instead of the NaN or infinity a square root of it would give.

    Exact object inputs: a float ``eps`` is read as the shortest decimal that prints as it
    (``1e-05`` is ``Fraction(1, 100000)``, not the binary double ``5764607523034235/2**59``), as a
    user who types ``1e-5`` means; ``var[c] + eps`` must then be the square of a fraction (a
    ``ValueError`` says which channel is not), so no square root is ever rounded.
    """
    op = "batch_norm"
    x = _array(op, "input", x)
    if x.ndim < 2:
        raise ValueError(f"{op}: input must have at least 2 dimensions (N, C, ...), got shape {x.shape}")
    channels = x.shape[1]
    params = {}
    for name, value in (("mean", mean), ("var", var), ("gamma", gamma), ("beta", beta)):
        if value is None and name in ("mean", "var"):
            raise TypeError(f"{op}: {name} is required, got None")
        array = _optional_array(op, name, value)
        if array is not None and array.shape != (channels,):
            raise ValueError(f"{op}: {name} must have shape (C,) = ({channels},), got {array.shape}")
        params[name] = array
    if not isinstance(eps, numbers.Real) or isinstance(eps, bool):
        raise TypeError(f"{op}: eps must be a real number, got {eps!r}")
    x, mean, var, gamma, beta = _unify(x, params["mean"], params["var"], params["gamma"], params["beta"])
    shape = (1, channels) + (1,) * (x.ndim - 2)
    if x.dtype == object:
        if isinstance(eps, float) and not math.isfinite(eps):
            raise ValueError(f"{op}: eps must be finite for exact (object) arrays, got {eps!r}")
        exact_eps = Fraction(repr(eps)) if isinstance(eps, float) else Fraction(eps)
        roots = []
        for c, v in enumerate(var):
            total = Fraction(v) + exact_eps
            if total <= 0:
                raise _not_positive(op, c, v, eps, total)
            roots.append(_exact_sqrt(op, total, c))
        std = np.empty(channels, dtype=object)
        std[:] = roots
    else:
        total = var + float(eps)
        bad = np.flatnonzero(~(total > 0))
        if bad.size:
            c = int(bad[0])
            raise _not_positive(op, c, var[c], eps, total[c])
        std = np.sqrt(total)
    out = (x - mean.reshape(shape)) / std.reshape(shape)
    if gamma is not None:
        out = out * gamma.reshape(shape)
    if beta is not None:
        out = out + beta.reshape(shape)
    return out


# --------------------------------------------------------------------------------------------
# rearrangements


def _factor(op: str, r) -> int:
    if not _is_int(r):
        raise TypeError(f"{op}: r must be an int, got {r!r}")
    if r < 1:
        raise ValueError(f"{op}: r must be >= 1, got r={r}")
    return int(r)


def pixel_shuffle(x, r) -> np.ndarray:
    """Depth-to-space, like ``torch.nn.functional.pixel_shuffle``.

    ``(..., C*r*r, H, W) -> (..., C, H*r, W*r)`` with
    ``out[..., c, r*i + a, r*j + b] = x[..., c*r*r + a*r + b, i, j]``.
    """
    op = "pixel_shuffle"
    x = _array(op, "input", x, arithmetic=False)
    r = _factor(op, r)
    if x.ndim < 3:
        raise ValueError(f"{op}: input must have at least 3 dimensions (..., C, H, W), got shape {x.shape}")
    *lead, channels, height, width = x.shape
    if channels % (r * r):
        raise ValueError(f"{op}: channels={channels} must be divisible by r*r={r * r}")
    k = len(lead)
    split = x.reshape(*lead, channels // (r * r), r, r, height, width)
    moved = split.transpose(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return moved.reshape(*lead, channels // (r * r), height * r, width * r)


def pixel_unshuffle(x, r) -> np.ndarray:
    """Space-to-depth, like ``torch.nn.functional.pixel_unshuffle`` (inverse of pixel_shuffle).

    ``(..., C, H*r, W*r) -> (..., C*r*r, H, W)`` with
    ``out[..., c*r*r + a*r + b, i, j] = x[..., c, r*i + a, r*j + b]``.
    """
    op = "pixel_unshuffle"
    x = _array(op, "input", x, arithmetic=False)
    r = _factor(op, r)
    if x.ndim < 3:
        raise ValueError(f"{op}: input must have at least 3 dimensions (..., C, H, W), got shape {x.shape}")
    *lead, channels, height, width = x.shape
    for axis, size in (("H", height), ("W", width)):
        if size % r:
            raise ValueError(f"{op}: {axis}={size} must be divisible by r={r}")
    k = len(lead)
    split = x.reshape(*lead, channels, height // r, r, width // r, r)
    moved = split.transpose(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return moved.reshape(*lead, channels * r * r, height // r, width // r)


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
