"""Pooling: ``max_pool2d`` and ``avg_pool2d`` with PyTorch's ceil-mode and padding rules."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from convsym.reference._common import _AXES, _array, _at_least, _ints, _pad, _rank, _windows

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
