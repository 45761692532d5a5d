"""Folding and quantization rewrites as NumPy weight transforms.

* :func:`merge_parallel` -- a sum of parallel convolution branches is one convolution
  (RepVGG, Diverse Branch Block);
* :func:`fold_batchnorm` -- ``bn(conv(x))`` is one convolution;
* :func:`fold_batchnorm_before` -- ``conv(bn(x))`` is one convolution without padding, and with
  padding when the input is padded with the value BN maps to 0 (:class:`ConstantPadConv2d`);
* :func:`equalize` -- cross-layer equalization of data-free quantization (DFQ).

Number kinds are those of :mod:`convsym.transforms`: exact object arrays of ``int`` /
``fractions.Fraction`` stay exact (a square root that is not rational is a ``ValueError``, never
rounded); float arrays give float64.  Each function raises a ``ValueError`` that names the rule
when the rewrite would not be exact.  The theorems behind them are in ``proofs/folding.py``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from convsym.transforms.layers import BatchNorm2d, Conv2d, ConvTranspose2d, _check_type, _input, _is_exact, _pads, _unify

__all__ = [
    "ConstantPadConv2d",
    "equalize",
    "fold_batchnorm",
    "fold_batchnorm_before",
    "merge_parallel",
    "merge_parallel_dense",
    "regroup",
    "undilate",
]


def _sqrt(op: str, value, what: str):
    """``sqrt(value)``: a Fraction for exact input (ValueError when irrational), else float."""
    if not isinstance(value, (int, Fraction)):
        return math.sqrt(value)
    q = Fraction(value)
    num, den = math.isqrt(q.numerator), math.isqrt(q.denominator)
    if num * num != q.numerator or den * den != q.denominator:
        raise ValueError(
            f"{op}: {what} = sqrt({q}) is irrational, so the exact result does not exist; "
            "use float64 arrays, or choose values whose product/sum is the square of a rational"
        )
    return Fraction(num, den)


def _batchnorm_scale(op: str, bn: BatchNorm2d, exact: bool) -> tuple[np.ndarray, ...]:
    """``(a, mean, beta)`` with ``a[c] = gamma[c] / sqrt(var[c] + eps)`` in the requested kind."""
    mean, var, gamma, beta = (getattr(bn, n) for n in ("mean", "var", "gamma", "beta"))
    if not exact:
        mean, var, gamma, beta = (np.asarray(a, dtype=np.float64) for a in (mean, var, gamma, beta))
        return gamma / np.sqrt(var + float(bn.eps)), mean, beta
    a = np.empty(bn.num_features, dtype=object)
    for c in range(bn.num_features):
        a[c] = gamma[c] / _sqrt(op, var[c] + bn.eps, f"sqrt(var[{c}] + eps)")
    return a, mean, beta


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


# ---------------------------------------------------------------------------------------------
# parallel branches


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


# ---------------------------------------------------------------------------------------------
# batch normalisation


def fold_batchnorm(conv: Conv2d | ConvTranspose2d, bn: BatchNorm2d) -> Conv2d | ConvTranspose2d:
    """One convolution equal to ``bn(conv(x))`` for every ``x`` (any padding, stride, groups).

    With ``a[o] = gamma[o] / sqrt(var[o] + eps)``:
    ``W'[o] = W[o] * a[o]`` and ``b'[o] = (b[o] - mean[o]) * a[o] + beta[o]`` (``b = 0`` when the
    conv has no bias).  For a :class:`ConvTranspose2d` (weight ``(C_in, C_out/g, kh, kw)``) the
    output channel is the weight's axis 1 within each group: ``W'[i, j] = W[i, j] * a[(i //
    (C_in/g)) * (C_out/g) + j]``, the same bias formula, and a ``ConvTranspose2d`` is returned.
    Exact arrays need every ``var[o] + eps`` to be the square of a rational (``ValueError``
    otherwise); ``eps > 0`` and ``var >= 0`` are checked by ``BatchNorm2d``.
    """
    op = "fold_batchnorm"
    if not isinstance(conv, ConvTranspose2d):  # a ConvTranspose2d is accepted too
        _check_type(op, "conv", conv, Conv2d)
    _check_type(op, "bn", bn, BatchNorm2d)
    if bn.num_features != conv.out_channels:
        raise ValueError(
            f"{op}: bn.num_features={bn.num_features} must equal conv.out_channels={conv.out_channels}"
        )
    exact = _kinds_exact(conv.weight, conv.bias, bn.mean)
    a, mean, beta = _batchnorm_scale(op, bn, exact)
    weight, bias = _unify(conv.weight, conv.bias)
    if not exact:
        weight = weight.astype(np.float64)
        bias = None if bias is None else bias.astype(np.float64)
    if bias is None:
        bias = _zeros((conv.out_channels,), exact)
    new_bias = (bias - mean) * a + beta
    if isinstance(conv, Conv2d):
        return Conv2d(weight * a[:, None, None, None], new_bias, stride=conv.stride,
                      padding=conv.padding, dilation=conv.dilation, groups=conv.groups)
    group_in, group_out = conv.in_channels // conv.groups, weight.shape[1]
    i = np.arange(conv.in_channels)[:, None]
    out_index = (i // group_in) * group_out + np.arange(group_out)[None, :]  # (C_in, C_out/g)
    return ConvTranspose2d(weight * a[out_index][:, :, None, None], new_bias, stride=conv.stride,
                           padding=conv.padding, output_padding=conv.output_padding,
                           dilation=conv.dilation, groups=conv.groups)


@dataclass(frozen=True, eq=False)
class ConstantPadConv2d:
    """``conv(pad(x, value))``: pad channel ``c`` of ``x`` with ``value[c]``, then run ``conv``.

    The exact form of ``conv(bn(x))`` when ``conv`` zero-pads (see :func:`fold_batchnorm_before`):
    zero padding of ``bn(x)`` is padding of ``x`` with the value ``q[c] = mean[c] - beta[c] *
    sqrt(var[c] + eps) / gamma[c]`` that BN maps to 0.  ``conv`` has padding 0; ``padding`` is
    ``((top, bottom), (left, right))``; ``value`` has shape ``(C,)``.  Its ``__call__`` is the
    whole computation, so it can replace the two layers; a runtime that pads with a per-channel
    constant (or a preceding layer that emits it) runs it natively.
    """

    conv: Conv2d
    padding: tuple[tuple[int, int], tuple[int, int]]
    value: np.ndarray

    def __post_init__(self) -> None:
        op = "ConstantPadConv2d"
        _check_type(op, "conv", self.conv, Conv2d)
        if self.conv.padding != (0, 0):
            raise ValueError(f"{op}: conv.padding={self.conv.padding} must be 0; the padding is done here")
        value = np.asarray(self.value)
        if value.shape != (self.conv.in_channels,):
            raise ValueError(
                f"{op}: value must have shape (in_channels,)=({self.conv.in_channels},), got {value.shape}"
            )
        (top, bottom), (left, right) = self.padding
        if min(top, bottom, left, right) < 0:
            raise ValueError(f"{op}: padding={self.padding} must be >= 0")

    def __repr__(self) -> str:
        """One line: the padding, the shape of the padding values and the convolution's repr."""
        value = np.asarray(self.value)
        kind = "exact" if value.dtype == object else str(value.dtype)
        return f"ConstantPadConv2d(padding={self.padding}, value={value.shape} {kind}, conv={self.conv!r})"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = _input("ConstantPadConv2d", x, self.conv.in_channels)
        x, value = _unify(x, self.value)
        (top, bottom), (left, right) = self.padding
        n, c, h, w = x.shape
        padded = np.empty((n, c, h + top + bottom, w + left + right), dtype=x.dtype)
        padded[...] = value[None, :, None, None]
        padded[:, :, top : top + h, left : left + w] = x
        return self.conv(padded)


def fold_batchnorm_before(bn: BatchNorm2d, conv: Conv2d, repair: bool = False) -> Conv2d | ConstantPadConv2d:
    """One convolution equal to ``conv(bn(x))``.

    With ``a[c] = gamma[c] / sqrt(var[c] + eps)`` and ``h[c] = beta[c] - a[c] * mean[c]``
    (so ``bn(x)[c] = a[c] x[c] + h[c]``), and ``c(o, k) = (o // (O/g)) * (C/g) + k`` the input
    channel of weight column ``k``:
    ``W'[o, k] = W[o, k] * a[c(o, k)]``, ``b'[o] = b[o] + sum_{k,u,v} W[o, k, u, v] * h[c(o, k)]``.

    Exact when ``conv`` has no padding.  With zero padding ``p``, ``conv`` pads ``bn(x)`` with
    zeros but ``W'`` would see ``x`` padded with zeros, i.e. ``bn`` padded with ``h``: wrong on a
    border ring of width ``p`` unless ``h = 0`` on every channel (then the fold is exact and a
    padded ``Conv2d`` is returned).  Otherwise ``ValueError``, or with ``repair=True`` the exact
    :class:`ConstantPadConv2d` that pads ``x`` with ``q[c] = mean[c] - beta[c] / a[c]`` (BN maps
    ``q`` to 0); a channel with ``gamma[c] = 0`` and ``beta[c] != 0`` has no such value
    (``ValueError``).  Exact arrays need exact square roots, as in :func:`fold_batchnorm`.
    """
    op = "fold_batchnorm_before"
    _check_type(op, "bn", bn, BatchNorm2d)
    _check_type(op, "conv", conv, Conv2d)
    if not isinstance(repair, bool):
        raise TypeError(f"{op}: repair must be a bool, got {type(repair).__name__}")
    if bn.num_features != conv.in_channels:
        raise ValueError(
            f"{op}: bn.num_features={bn.num_features} must equal conv.in_channels={conv.in_channels}"
        )
    exact = _kinds_exact(conv.weight, conv.bias, bn.mean)
    a, mean, beta = _batchnorm_scale(op, bn, exact)
    shift = beta - a * mean
    weight, bias = _unify(conv.weight, conv.bias)
    if not exact:
        weight = weight.astype(np.float64)
        bias = None if bias is None else bias.astype(np.float64)
    if bias is None:
        bias = _zeros((conv.out_channels,), exact)
    idx = _group_channel_index(conv)
    new_weight = weight * a[idx][:, :, None, None]
    new_bias = bias + (weight.sum(axis=(2, 3)) * shift[idx]).sum(axis=1)
    pads = _pads(conv.padding)
    moved = [c for c in range(bn.num_features) if shift[c] != 0]
    if pads == ((0, 0), (0, 0)) or not moved:
        return Conv2d(new_weight, new_bias, stride=conv.stride, padding=conv.padding,
                      dilation=conv.dilation, groups=conv.groups)
    if not repair:
        c = moved[0]
        raise ValueError(
            f"{op}: conv.padding={conv.padding} pads bn(x) with zeros, but the folded conv would pad x "
            f"with zeros, i.e. bn(x) with bn(0) = beta - gamma*mean/sqrt(var+eps), which is {shift[c]} "
            f"!= 0 on channel {c}: the output would be wrong on a border ring of width {conv.padding}; "
            "pass repair=True to pad x with the value bn maps to 0 instead"
        )
    value = _zeros((bn.num_features,), exact)
    for c in moved:
        if a[c] == 0:
            raise ValueError(
                f"{op}: gamma[{c}] = 0 makes bn constant beta[{c}] = {beta[c]} != 0 on channel {c}: no "
                "input value maps to 0, so no padding of x reproduces the zero padding of bn(x)"
            )
        value[c] = mean[c] - beta[c] / a[c]
    folded = Conv2d(new_weight, new_bias, stride=conv.stride, padding=0, dilation=conv.dilation,
                    groups=conv.groups)
    return ConstantPadConv2d(folded, pads, value)


# ---------------------------------------------------------------------------------------------
# cross-layer equalization

HOMOGENEOUS = ("relu", "leaky_relu", "prelu", "identity", None)

NOT_HOMOGENEOUS = {
    "relu6": "relu6(z) = min(max(z, 0), 6) clips at 6: relu6(2*6) = 6 != 2*relu6(6)",
    "hardswish": "hardswish(z) = z*relu6(z+3)/6: hardswish(2) = 5/3 != 2*hardswish(1) = 4/3",
    "hardsigmoid": "hardsigmoid(0) = 1/2 != 0: no nonzero f(0) is homogeneous",
    "hardtanh": "hardtanh clips at 1: hardtanh(2) = 1 != 2*hardtanh(1)",
    "sigmoid": "sigmoid(0) = 1/2 != 0: no nonzero f(0) is homogeneous",
    "tanh": "tanh(2) = 2*tanh(1)/(1 + tanh(1)^2) != 2*tanh(1)",
    "gelu": "gelu(z) = z*Phi(z): gelu(s*z) = s*z*Phi(s*z) != s*z*Phi(z)",
    "silu": "silu(z) = z*sigmoid(z): silu(s*z) != s*silu(z) (sigmoid is not constant)",
    "swish": "swish(z) = z*sigmoid(z): swish(s*z) != s*swish(z) (sigmoid is not constant)",
    "elu": "elu(z) = exp(z) - 1 for z < 0 is not linear in z",
    "selu": "selu(z) = lambda*alpha*(exp(z) - 1) for z < 0 is not linear in z",
    "softplus": "softplus(0) = log 2 != 0: no nonzero f(0) is homogeneous",
    "mish": "mish(z) = z*tanh(softplus(z)): mish(s*z) != s*mish(z)",
}


def _activation_key(name: str) -> str:
    """``'LeakyReLU'``, ``'leaky_relu'`` and ``'Leaky-ReLU'`` all read ``'leakyrelu'``: names are
    matched without case, ``_`` or ``-``, so PyTorch's class names are accepted like its
    functional names."""
    return name.lower().replace("_", "").replace("-", "")


_HOMOGENEOUS_KEYS = {_activation_key(a) for a in HOMOGENEOUS if a is not None}
_NOT_HOMOGENEOUS_KEYS = {_activation_key(a): a for a in NOT_HOMOGENEOUS}


def _check_activation(op: str, activation: object) -> None:
    if activation is None:
        return
    key = _activation_key(activation) if isinstance(activation, str) else None
    if key in _HOMOGENEOUS_KEYS:
        return
    if key in _NOT_HOMOGENEOUS_KEYS:
        reason = NOT_HOMOGENEOUS[_NOT_HOMOGENEOUS_KEYS[key]]
        raise ValueError(
            f"{op}: activation={activation!r} is not positively homogeneous ({reason}), so dividing "
            "channel i by s_i before it and multiplying by s_i after it changes the network; "
            "only relu, leaky_relu, prelu and identity (None) satisfy f(s*z) = s*f(z) for all s > 0"
        )
    raise ValueError(
        f"{op}: activation={activation!r} is not known; supported (positively homogeneous): "
        "'relu', 'leaky_relu', 'prelu', 'identity' or None; refused (not homogeneous): "
        + ", ".join(repr(a) for a in NOT_HOMOGENEOUS)
        + " (names match without case, '_' or '-': 'ReLU' and 'LeakyReLU' are accepted)"
    )


def _abs_max(block: np.ndarray):
    return max(abs(v) for v in block.reshape(-1).tolist())


def _float_scale(op: str, i: int, r1: float, r2: float) -> float:
    """``s = sqrt(r1 r2) / r2`` computed as ``sqrt(r1) / sqrt(r2)``: the product ``r1 r2``
    underflows to 0 or overflows to inf for weights near 1e-170 or 1e160, the square roots do
    not.  Refuses non-finite ranges and a scale outside the normal float range (precision lost)."""
    if not (math.isfinite(r1) and math.isfinite(r2)):
        raise ValueError(f"{op}: channel {i} has a non-finite weight range: r1_{i}={r1!r}, r2_{i}={r2!r}")
    s = math.sqrt(r1) / math.sqrt(r2)
    if not sys.float_info.min <= s <= sys.float_info.max:
        raise ValueError(
            f"{op}: the scale of channel {i}, sqrt(r1_{i}) / sqrt(r2_{i}) = sqrt({r1!r}) / sqrt({r2!r}) = {s!r}, "
            "is outside the normal float64 range, so the equalized weights would lose their precision"
        )
    return s


def equalize(first: Conv2d, second: Conv2d, activation: str | None = "relu") -> tuple[Conv2d, Conv2d, np.ndarray]:
    """Cross-layer equalization (DFQ): ``second(f(first(x)))`` with equalized weight ranges.

    Per intermediate channel ``i`` (an output channel of ``first``, an input channel of
    ``second``):

    * ``r1_i = max |first.weight[i]|`` (all its input channels and taps);
    * ``r2_i = max |W2[o, k]|`` over the output channels ``o`` of ``second`` that read channel
      ``i`` as their weight column ``k`` (``W2[:, i]`` when ``groups = 1``; for a depthwise
      ``second`` only ``W2[i, 0]``);
    * ``s_i = sqrt(r1_i * r2_i) / r2_i`` (``s_i = 1`` when ``r1_i = 0`` or ``r2_i = 0``: a dead
      channel has nothing to balance and any ``s_i > 0`` is exact); float arrays compute it as
      ``sqrt(r1_i) / sqrt(r2_i)``, which neither underflows nor overflows where ``r1_i * r2_i``
      would, and refuse (``ValueError``) non-finite ranges or a scale outside the normal float range;
    * ``first``'s output channel ``i`` (weights and bias) is divided by ``s_i``, ``second``'s
      weights reading channel ``i`` are multiplied by ``s_i``.

    Afterwards both ranges are ``sqrt(r1_i * r2_i)``.  Exact for every ``s_i > 0`` iff ``f`` is
    positively homogeneous (``f(s z) = s f(z)``): ``relu``, ``leaky_relu``, ``prelu`` (slopes
    per channel), ``identity``/``None`` (names match without case, ``_`` or ``-``, so
    ``'ReLU'``, ``'LeakyReLU'``, ``'PReLU'``, ``'Identity'`` are accepted); any kernel sizes,
    output channel counts, strides,
    padding and groups of the two layers.  Other activations raise ``ValueError`` saying why.
    Exact arrays need every ``r1_i * r2_i`` to be the square of a rational.

    Returns ``(first', second', s)`` with ``s`` of shape ``(C_mid,)``.
    """
    op = "equalize"
    _check_type(op, "first", first, Conv2d)
    _check_type(op, "second", second, Conv2d)
    _check_activation(op, activation)
    if second.in_channels != first.out_channels:
        raise ValueError(
            f"{op}: second.in_channels={second.in_channels} must equal first.out_channels={first.out_channels}"
        )
    w1, b1, w2, b2 = _unify(first.weight, first.bias, second.weight, second.bias)
    exact = _is_exact(w1)
    channels = first.out_channels
    group_in, group_out = w2.shape[1], second.out_channels // second.groups
    scales = np.empty(channels, dtype=object if exact else np.float64)
    new_w2 = w2.copy()
    for i in range(channels):
        g, k = divmod(i, group_in)
        rows = slice(g * group_out, (g + 1) * group_out)
        r1, r2 = _abs_max(w1[i]), _abs_max(w2[rows, k])
        if r1 == 0 or r2 == 0:
            s = Fraction(1) if exact else 1.0
        elif exact:
            s = _sqrt(op, r1 * r2, f"sqrt(r1_{i} * r2_{i}) for channel {i}") / r2
        else:
            s = _float_scale(op, i, r1, r2)
        scales[i] = s
        new_w2[rows, k] = w2[rows, k] * s
    new_w1 = w1 / scales[:, None, None, None]
    new_b1 = None if b1 is None else b1 / scales
    return (
        Conv2d(new_w1, new_b1, stride=first.stride, padding=first.padding, dilation=first.dilation,
               groups=first.groups),
        Conv2d(new_w2, b2, stride=second.stride, padding=second.padding, dilation=second.dilation,
               groups=second.groups),
        scales,
    )
