"""Layers as frozen, validated records: :class:`Conv2d` and :class:`BatchNorm2d`.

Layout and semantics are PyTorch's: NCHW, cross-correlation, zero padding.  Number kinds are
those of :mod:`convsym.transforms` (exact object arrays of ints/Fractions, or float64).  The
rewrites themselves live in :mod:`convsym.transforms` and :mod:`convsym.transforms`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from convsym.spec import as_int, int_tuple, padding_pairs

__all__ = ["BatchNorm2d", "Conv2d", "ConvTranspose2d"]

Pair = tuple[int, int]
Padding = Pair | tuple[Pair, Pair]


# ---------------------------------------------------------------------------------------------
# Validation helpers: every public entry point normalises its arguments through these once.


# How to turn a torch object into what convsym expects, by the name of the expected kind.
_TORCH_CONVERSIONS = {
    "Conv2d": "convsym.transforms.Conv2d(m.weight.detach().numpy(), None if m.bias is None else "
    "m.bias.detach().numpy(), m.stride, m.padding, m.dilation, m.groups)",
    "BatchNorm2d": "convsym.transforms.BatchNorm2d(m.running_mean.numpy(), m.running_var.numpy(), "
    "m.weight.detach().numpy(), m.bias.detach().numpy(), m.eps)",
    "ndarray": "t.detach().numpy()",
}


def kind_name(kind: type) -> str:
    """The fully qualified name of the class ``kind`` as users import it.

    Builtins keep their short name (``str``, ``NoneType``); torch modules drop the private
    submodule (``torch.nn.modules.conv.Conv2d`` -> ``torch.nn.Conv2d``); convsym's layers are
    named where they are exported (``convsym.transforms.Conv2d``); ``numpy.ndarray``.
    """
    module, name = kind.__module__, kind.__qualname__
    if module == "builtins":
        return name
    if module.startswith("torch.nn.modules."):
        return f"torch.nn.{name}"
    if module in ("convsym.transforms.layers", "convsym.transforms"):
        return f"convsym.transforms.{name}"
    return f"{module}.{name}"


def _torch_hint(value: object, expected: type) -> str:
    """``; convert it with ...`` for a torch object (PyTorch's classes or subclasses of them)."""
    torch_bases = [base.__name__ for base in type(value).__mro__ if base.__module__.split(".")[0] == "torch"]
    if not torch_bases:
        return ""
    # torch.nn.Conv2d for a Conv2d, torch.Tensor (or Parameter) for an ndarray
    wanted = "Tensor" if expected is np.ndarray else expected.__name__
    if expected.__name__ in _TORCH_CONVERSIONS and wanted in torch_bases:
        return f"; convert it with {_TORCH_CONVERSIONS[expected.__name__]}"
    return (
        f"; convsym works on NumPy arrays, not torch objects: build a {kind_name(expected)} "
        "from the module's tensors (t.detach().numpy())"
    )


def _check_type(op: str, name: str, value: object, kind: type) -> None:
    """``TypeError`` unless ``value`` is a ``kind``, naming both types in full and, for a torch
    object, how to convert it: ``merge_sequential: first must be a convsym.transforms.Conv2d,
    got torch.nn.Conv2d; convert it with convsym.transforms.Conv2d(m.weight.detach().numpy(), ...)``.
    """
    if not isinstance(value, kind):
        raise TypeError(
            f"{op}: {name} must be a {kind_name(kind)}, got {kind_name(type(value))}"
            f"{_torch_hint(value, kind)}"
        )


def _int(op: str, name: str, value: object) -> int:
    return as_int(op, name, value)


def _pair(op: str, name: str, value: object, minimum: int) -> Pair:
    """An int or a pair of ints as a pair, each ``>= minimum``."""
    return int_tuple(op, name, value, 2, minimum)  # type: ignore[return-value]


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
    _check_type(op, name, value, np.ndarray)
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


def _kind(array: np.ndarray) -> str:
    """``exact`` or ``float64``: the number kind of a layer array, for reprs."""
    return "exact" if _is_exact(array) else str(array.dtype)


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
    (top, bottom), (left, right) = padding_pairs(op, padding, 2, kernel_size, stride, dilation)
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

    def __repr__(self) -> str:
        """One line: the shapes and hyper-parameters, never the weights."""
        bias = "None" if self.bias is None else str(self.bias.shape)
        return (
            f"Conv2d(weight={self.weight.shape} {_kind(self.weight)}, bias={bias}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation}, groups={self.groups})"
        )

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


@dataclass(frozen=True, eq=False)
class ConvTranspose2d:
    """A 2-D transposed convolution layer (PyTorch semantics), validated and normalised once.

    ``weight`` has shape ``(C_in, C_out/g, kh, kw)`` (in and out swapped with respect to
    :class:`Conv2d`), ``bias`` shape ``(C_out,)`` or ``None``; ``groups = g`` divides ``C_in``.
    ``stride``, ``padding``, ``output_padding`` and ``dilation`` become pairs (padding is
    symmetric, as in PyTorch); ``output_padding`` must be smaller than ``stride`` or
    ``dilation`` on each axis.  Output size per axis: ``(n-1)*s - 2p + d(k-1) + output_padding + 1``.
    Input channel ``i`` of group ``i // (C_in/g)`` writes output channel
    ``(i // (C_in/g)) * (C_out/g) + j`` through ``weight[i, j]``.  ``eq=False`` as for
    :class:`Conv2d`.
    """

    weight: np.ndarray
    bias: np.ndarray | None = None
    stride: int | Pair = 1
    padding: int | Pair = 0
    output_padding: int | Pair = 0
    dilation: int | Pair = 1
    groups: int = 1

    def __post_init__(self) -> None:
        op = "ConvTranspose2d"
        weight = _array(op, "weight", self.weight)
        if weight.ndim != 4:
            raise ValueError(
                f"{op}: weight must be 4-D (in_channels, out_channels/groups, kh, kw), got shape {weight.shape}"
            )
        if 0 in weight.shape:
            raise ValueError(f"{op}: weight shape {weight.shape} has a zero dimension")
        groups = _int(op, "groups", self.groups)
        if groups < 1:
            raise ValueError(f"{op}: groups={groups} must be >= 1")
        if weight.shape[0] % groups:
            raise ValueError(f"{op}: groups={groups} must divide in_channels={weight.shape[0]}")
        out_channels = weight.shape[1] * groups
        bias = None if self.bias is None else _array(op, "bias", self.bias)
        if bias is not None and bias.shape != (out_channels,):
            raise ValueError(f"{op}: bias must have shape (out_channels,)=({out_channels},), got {bias.shape}")
        weight, bias = _unify(weight, bias)
        if isinstance(self.padding, str):
            raise TypeError(f"{op}: padding must be an int or a pair of ints, got {self.padding!r}")
        stride = _pair(op, "stride", self.stride, 1)
        padding = _pair(op, "padding", self.padding, 0)
        output_padding = _pair(op, "output_padding", self.output_padding, 0)
        dilation = _pair(op, "dilation", self.dilation, 1)
        for axis in range(2):
            q, s, d = output_padding[axis], stride[axis], dilation[axis]
            if q >= s and q >= d:
                raise ValueError(
                    f"{op}: output_padding={q} must be smaller than stride={s} or dilation={d} on axis {'HW'[axis]}"
                )
        for name, value in (
            ("weight", _frozen(weight)),
            ("bias", _frozen(bias)),
            ("stride", stride),
            ("padding", padding),
            ("output_padding", output_padding),
            ("dilation", dilation),
            ("groups", groups),
        ):
            object.__setattr__(self, name, value)

    @property
    def in_channels(self) -> int:
        return self.weight.shape[0]

    @property
    def out_channels(self) -> int:
        return self.weight.shape[1] * self.groups

    @property
    def kernel_size(self) -> Pair:
        return (self.weight.shape[2], self.weight.shape[3])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``conv_transpose2d(x)`` by ``convsym.reference.conv_transpose2d``."""
        x = _input("ConvTranspose2d", x, self.in_channels)
        from convsym import reference

        x, weight, bias = _unify(x, self.weight, self.bias)
        return reference.conv_transpose2d(
            x, weight, bias, stride=self.stride, padding=self.padding, output_padding=self.output_padding,
            dilation=self.dilation, groups=self.groups,
        )


def rational_sqrt(op: str, value, what: str):
    """``sqrt(value)``: a Fraction for exact input (ValueError when it is irrational), else a float.

    The one exact square root of the transforms (BatchNorm's ``sqrt(var + eps)``, equalization's
    ``sqrt(r1 r2)``); ``what`` names the quantity in the message."""
    if not isinstance(value, (int, Fraction)):
        return math.sqrt(value)
    q = Fraction(value)
    num, den = math.isqrt(q.numerator), math.isqrt(q.denominator)
    if num * num != q.numerator or den * den != q.denominator:
        raise ValueError(
            f"{op}: {what} = sqrt({q}) is irrational, so the exact result does not exist; use float64 "
            f"arrays or choose values that make {what} rational"
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

    def __repr__(self) -> str:
        """One line: the channel count, eps and the number kind, never the statistics."""
        return f"BatchNorm2d(channels={self.num_features}, eps={self.eps}, {_kind(self.mean)})"

    @property
    def num_features(self) -> int:
        return self.mean.shape[0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = _input("BatchNorm2d", x, self.num_features)
        x, mean, var, gamma, beta = _unify(x, self.mean, self.var, self.gamma, self.beta)
        if _is_exact(x):
            eps = self.eps
            root = np.array(
                [rational_sqrt("BatchNorm2d", v + eps, f"sqrt(var[{c}] + eps)") for c, v in enumerate(var)],
                dtype=object,
            )
        else:
            root = np.sqrt(var + float(self.eps))
        per_channel = (slice(None), None, None)
        return (x - mean[per_channel]) / root[per_channel] * gamma[per_channel] + beta[per_channel]


def _dense(weight: np.ndarray, groups: int) -> np.ndarray:
    """The grouped weight ``(O, C/g, kh, kw)`` as the block-diagonal dense ``(O, C, kh, kw)``."""
    out_channels, group_in = weight.shape[:2]
    group_out = out_channels // groups
    dense = np.zeros((out_channels, group_in * groups, *weight.shape[2:]), dtype=weight.dtype)
    for j in range(groups):
        rows = slice(j * group_out, (j + 1) * group_out)
        dense[rows, j * group_in : (j + 1) * group_in] = weight[rows]
    return dense
