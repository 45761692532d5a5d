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
import numbers
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from convsym.shapes import same_padding

__all__ = [
    "BatchNorm2d",
    "Conv2d",
    "identity_conv",
    "merge_sequential",
]

Pair = tuple[int, int]
Padding = Pair | tuple[Pair, Pair]


# ---------------------------------------------------------------------------------------------
# Validation helpers: every public entry point normalises its arguments through these once.


def _int(op: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{op}: {name} must be an int, got {type(value).__name__} {value!r}")
    return int(value)


def _pair(op: str, name: str, value: object, minimum: int) -> Pair:
    """An int or a pair of ints as a pair, each ``>= minimum``."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
        pair = (_int(op, name, value[0]), _int(op, name, value[1]))
    else:
        pair = (_int(op, name, value),) * 2
    if min(pair) < minimum:
        raise ValueError(f"{op}: {name}={value!r} must be >= {minimum}")
    return pair


def _exact_entry(op: str, name: str, index: tuple[int, ...], value: object) -> int | Fraction:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {name}{list(index)} is a bool; exact entries are int or Fraction")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, Fraction):
        return value
    if isinstance(value, numbers.Rational):
        return Fraction(value.numerator, value.denominator)
    raise TypeError(
        f"{op}: {name}{list(index)}={value!r} is a {type(value).__name__}; an object array "
        "must hold only int or fractions.Fraction (use a float64 array for floats)"
    )


def _array(op: str, name: str, value: object) -> np.ndarray:
    """A fresh array of one of the two kinds: exact (object) or float64."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy.ndarray, got {type(value).__name__}")
    kind = value.dtype.kind
    if kind == "f":
        return value.astype(np.float64)
    if kind in "iu":
        return value.astype(object)  # NumPy turns each entry into a Python int
    if kind == "O":
        out = np.empty(value.shape, dtype=object)
        for index, entry in np.ndenumerate(value):
            out[index] = _exact_entry(op, name, index, entry)
        return out
    raise TypeError(
        f"{op}: {name} has dtype {value.dtype}; expected a float, integer or object array "
        "of int/Fraction"
    )


def _is_exact(array: np.ndarray) -> bool:
    return array.dtype == object


def _unify(*arrays: np.ndarray | None) -> list[np.ndarray | None]:
    """The arrays in one kind: exact if all are exact, otherwise all float64."""
    if all(a is None or _is_exact(a) for a in arrays):
        return list(arrays)
    return [None if a is None else a.astype(np.float64) for a in arrays]


def _frozen(array: np.ndarray | None) -> np.ndarray | None:
    if array is not None:
        array.flags.writeable = False
    return array


def _canonical_padding(top: int, bottom: int, left: int, right: int) -> Padding:
    if top == bottom and left == right:
        return (top, left)
    return ((top, bottom), (left, right))


def _pads(padding: Padding) -> tuple[Pair, Pair]:
    """A normalised padding as ``((top, bottom), (left, right))``."""
    first, second = padding
    if isinstance(first, tuple):
        return padding  # type: ignore[return-value]
    return (first, first), (second, second)


def _padding(op: str, padding: object, kernel_size: Pair, stride: Pair, dilation: Pair) -> Padding:
    usage = "an int, a pair, ((top, bottom), (left, right)), 'same' or 'valid'"
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(
                    f"{op}: padding='same' needs stride=1 (as in PyTorch), got stride={stride}"
                )
            top, bottom = same_padding(kernel_size[0], dilation[0])
            left, right = same_padding(kernel_size[1], dilation[1])
            return _canonical_padding(top, bottom, left, right)
        raise ValueError(f"{op}: padding must be {usage}, got {padding!r}")
    if isinstance(padding, (tuple, list)):
        if len(padding) != 2:
            raise ValueError(f"{op}: padding must be {usage}, got {padding!r}")
        nested = [isinstance(p, (tuple, list)) for p in padding]
        if all(nested):
            (top, bottom), (left, right) = (_pair(op, "padding", p, 0) for p in padding)
        elif not any(nested):
            (top, left) = _pair(op, "padding", padding, 0)
            bottom, right = top, left
        else:
            raise ValueError(f"{op}: padding must be {usage}, got {padding!r}")
    else:
        top = bottom = left = right = _int(op, "padding", padding)
    if min(top, bottom, left, right) < 0:
        raise ValueError(f"{op}: padding={padding!r} must be >= 0")
    return _canonical_padding(top, bottom, left, right)


def _input(op: str, x: object, channels: int) -> np.ndarray:
    x = _array(op, "x", x)
    if x.ndim != 4:
        raise ValueError(f"{op}: x must be 4-D (N, C, H, W), got shape {x.shape}")
    if x.shape[1] != channels:
        raise ValueError(f"{op}: x has {x.shape[1]} channels, the layer expects {channels}")
    return x


def _zero_pad(x: np.ndarray, pads: tuple[Pair, Pair]) -> np.ndarray:
    """``x`` zero-padded on H and W; exact zeros are Python ints (``np.pad`` would put
    ``np.int64(0)`` into object arrays, which overflows in products)."""
    (top, bottom), (left, right) = pads
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + top + bottom, w + left + right), dtype=x.dtype)
    out[:, :, top : top + h, left : left + w] = x
    return out


# ---------------------------------------------------------------------------------------------
# Layers


@dataclass(frozen=True, eq=False)
class Conv2d:
    """A 2-D convolution layer (PyTorch semantics), validated and normalised once.

    ``weight`` has shape ``(O, C/g, kh, kw)``, ``bias`` shape ``(O,)`` or is ``None``;
    ``groups = g`` divides ``O`` (and ``C = g * weight.shape[1]`` by construction).  After
    ``__post_init__``: ``stride`` and ``dilation`` are pairs of ints ``>= 1``; ``padding`` is a
    pair ``(ph, pw)`` when symmetric, else ``((top, bottom), (left, right))``; ``'valid'`` and
    ``'same'`` (stride 1 only; the extra row/column of an even kernel goes bottom/right) are
    made explicit.  ``weight`` and ``bias`` are fresh read-only arrays of one kind (see module
    docstring).

    ``eq=False``: arrays have no single truth value, so equality is identity and instances hash
    by identity (usable as dict keys, never equal to a copy).
    """

    weight: np.ndarray
    bias: np.ndarray | None = None
    stride: int | Pair = 1
    padding: int | Pair | tuple[Pair, Pair] | str = 0
    dilation: int | Pair = 1
    groups: int = 1

    def __post_init__(self) -> None:
        op = "Conv2d"
        weight = _array(op, "weight", self.weight)
        if weight.ndim != 4:
            raise ValueError(
                f"{op}: weight must be 4-D (out_channels, in_channels/groups, kh, kw), "
                f"got shape {weight.shape}"
            )
        if 0 in weight.shape:
            raise ValueError(f"{op}: weight shape {weight.shape} has a zero dimension")
        out_channels = weight.shape[0]
        bias = None if self.bias is None else _array(op, "bias", self.bias)
        if bias is not None and bias.shape != (out_channels,):
            raise ValueError(
                f"{op}: bias must have shape (out_channels,)=({out_channels},), got {bias.shape}"
            )
        weight, bias = _unify(weight, bias)
        stride = _pair(op, "stride", self.stride, 1)
        dilation = _pair(op, "dilation", self.dilation, 1)
        groups = _int(op, "groups", self.groups)
        if groups < 1:
            raise ValueError(f"{op}: groups={groups} must be >= 1")
        if out_channels % groups:
            raise ValueError(f"{op}: groups={groups} must divide out_channels={out_channels}")
        padding = _padding(op, self.padding, weight.shape[2:], stride, dilation)
        for name, value in (
            ("weight", _frozen(weight)),
            ("bias", _frozen(bias)),
            ("stride", stride),
            ("padding", padding),
            ("dilation", dilation),
            ("groups", groups),
        ):
            object.__setattr__(self, name, value)

    @property
    def out_channels(self) -> int:
        return self.weight.shape[0]

    @property
    def in_channels(self) -> int:
        return self.weight.shape[1] * self.groups

    @property
    def kernel_size(self) -> Pair:
        return (self.weight.shape[2], self.weight.shape[3])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``conv2d(x)`` by ``convsym.reference.conv2d``; ``x`` has shape ``(N, C, H, W)``.

        Asymmetric padding is applied to ``x`` explicitly and the reference runs unpadded.
        """
        x = _input("Conv2d", x, self.in_channels)
        # Imported here: the reference is an independent module that transforms only calls.
        from convsym import reference

        x, weight, bias = _unify(x, self.weight, self.bias)
        (top, bottom), (left, right) = _pads(self.padding)
        if top == bottom and left == right:
            padding: int | Pair = (top, left)
        else:
            x, padding = _zero_pad(x, ((top, bottom), (left, right))), 0
        return reference.conv2d(
            x,
            weight,
            bias,
            stride=self.stride,
            padding=padding,
            dilation=self.dilation,
            groups=self.groups,
        )


def _exact_sqrt(value: int | Fraction, channel: int) -> Fraction:
    q = Fraction(value)
    num, den = math.isqrt(q.numerator), math.isqrt(q.denominator)
    if num * num != q.numerator or den * den != q.denominator:
        raise ValueError(
            f"BatchNorm2d: sqrt(var[{channel}] + eps) = sqrt({q}) is irrational, so the exact "
            "result does not exist; use float64 arrays or make var + eps a square of a rational"
        )
    return Fraction(num, den)


@dataclass(frozen=True, eq=False)
class BatchNorm2d:
    """Inference batch normalisation over the channel axis of NCHW.

    ``y[n,c,i,j] = (x[n,c,i,j] - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c]``.

    ``mean``, ``var``, ``gamma``, ``beta`` are 1-D of one length ``C``; ``var >= 0``;
    ``eps > 0``.  With exact arrays a float ``eps`` is read as the decimal it prints as
    (``1e-5`` -> ``Fraction(1, 100000)``) and ``__call__`` needs every ``var[c] + eps`` to be
    the square of a rational (else ``ValueError``).  ``eq=False`` as for :class:`Conv2d`.
    """

    mean: np.ndarray
    var: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    eps: float | int | Fraction = 1e-5

    def __post_init__(self) -> None:
        op = "BatchNorm2d"
        names = ("mean", "var", "gamma", "beta")
        arrays = [_array(op, name, getattr(self, name)) for name in names]
        shapes = [a.shape for a in arrays]
        if any(len(s) != 1 for s in shapes) or len(set(shapes)) != 1:
            raise ValueError(
                f"{op}: mean, var, gamma, beta must be 1-D of one length, got shapes "
                + ", ".join(str(s) for s in shapes)
            )
        arrays = _unify(*arrays)
        eps = self.eps
        if isinstance(eps, bool) or not isinstance(eps, (numbers.Rational, float)):
            raise TypeError(f"{op}: eps must be a number, got {type(eps).__name__} {eps!r}")
        if _is_exact(arrays[0]):
            eps = Fraction(repr(eps)) if isinstance(eps, float) else Fraction(eps)
        else:
            eps = float(eps)
        if not eps > 0:
            raise ValueError(f"{op}: eps={self.eps!r} must be > 0")
        var = arrays[1]
        for (c,), v in np.ndenumerate(var):
            if not v >= 0:
                raise ValueError(f"{op}: var must be >= 0, got var[{c}]={v}")
        for name, value in zip(names, arrays, strict=True):
            object.__setattr__(self, name, _frozen(value))
        object.__setattr__(self, "eps", eps)

    @property
    def num_features(self) -> int:
        return self.mean.shape[0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = _input("BatchNorm2d", x, self.num_features)
        x, mean, var, gamma, beta = _unify(x, self.mean, self.var, self.gamma, self.beta)
        if _is_exact(x):
            eps = self.eps
            root = np.array([_exact_sqrt(v + eps, c) for c, v in enumerate(var)], dtype=object)
        else:
            root = np.sqrt(var + float(self.eps))
        per_channel = (slice(None), None, None)
        return (x - mean[per_channel]) / root[per_channel] * gamma[per_channel] + beta[per_channel]


# ---------------------------------------------------------------------------------------------
# Rewrites


def _dense(weight: np.ndarray, groups: int) -> np.ndarray:
    """The grouped weight ``(O, C/g, kh, kw)`` as the block-diagonal dense ``(O, C, kh, kw)``."""
    out_channels, group_in = weight.shape[:2]
    group_out = out_channels // groups
    dense = np.zeros((out_channels, group_in * groups, *weight.shape[2:]), dtype=weight.dtype)
    for j in range(groups):
        rows = slice(j * group_out, (j + 1) * group_out)
        dense[rows, j * group_in : (j + 1) * group_in] = weight[rows]
    return dense


def merge_sequential(first: Conv2d, second: Conv2d) -> Conv2d:
    r"""One convolution equal to ``second(first(x))`` for every input ``x``.

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
    for name, layer in (("first", first), ("second", second)):
        if not isinstance(layer, Conv2d):
            raise TypeError(f"{op}: {name} must be a Conv2d, got {type(layer).__name__}")
    if second.in_channels != first.out_channels:
        raise ValueError(
            f"{op}: second.in_channels={second.in_channels} must equal "
            f"first.out_channels={first.out_channels}"
        )
    if second.padding != (0, 0):
        raise ValueError(
            f"{op}: second.padding={second.padding} must be 0: zero padding of the "
            "intermediate is not zero padding of the input, so the merged conv would be wrong "
            f"on a border ring of width p2={second.padding}"
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
