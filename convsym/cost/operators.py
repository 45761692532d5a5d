r"""convsym's own count of one ATen operator, from its recorded shapes and arguments.

Conventions (stated once, used for every model):

``macs``
    multiply-accumulates of the dense algorithm: convolutions (every tap, padding included;
    :func:`convsym.cost.conv2d_cost`), ``mm``/``addmm``/``bmm``/``baddbmm`` (``n k m`` per
    matrix).  Bias additions are not MACs.
``macs_without_padding``
    the same without the products whose input tap is zero padding (convolutions); equal to
    ``macs`` for every other operator.
``flops``
    multiplications + additions of the direct algorithm, one FLOP each: a convolution or
    matrix product costs ``2K - 1`` per output for ``K`` products, plus one per bias addition;
    an elementwise operator (``add``, ``mul``, ``relu``, ``sigmoid``, ``silu``, ``gelu``,
    ``hardswish``, ...) costs one FLOP per output element, whatever the function; inference
    batch norm two per element (scale and shift with the folded statistics); layer norm five
    per element (mean, centre, square, variance, normalise) plus two with an affine map;
    softmax five per element (max, subtract, exp, sum, divide); ``mean``/``sum`` one per input
    element; max pooling ``window - 1`` comparisons and average pooling ``window`` additions
    and divisions per output (:func:`convsym.cost.pool2d_cost`); adaptive average pooling the
    size of each output's window; bilinear upsampling seven per output (four products, three
    sums).
``movement``
    views, copies, concatenation, slicing, padding and allocation cost no arithmetic: counted
    with zero FLOPs (their outputs still count as activation memory unless they are views).
``backward_macs``
    grad wrt the input plus grad wrt the weights of convolutions and matrix products: twice
    the forward MACs.

Any other operator is *uncounted*: :func:`op_cost` returns None and the model lists it with its
call count.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from convsym.cost.layers import conv2d_cost, conv_transpose2d_cost, pool2d_cost
from convsym.cost.trace import OpEvent

__all__ = ["ELEMENTWISE", "MOVEMENT", "OpCost", "op_cost"]


@dataclass(frozen=True)
class OpCost:
    """The figures of one operator call (see the module docstring); ``kind`` is one of
    ``conv``, ``matmul``, ``elementwise``, ``normalization``, ``softmax``, ``reduction``,
    ``pooling``, ``upsampling``, ``movement``."""

    kind: str
    macs: int
    macs_without_padding: int
    flops: int
    backward_macs: int = 0


#: Elementwise operators, one FLOP per output element (in-place variants included).
ELEMENTWISE = frozenset({
    "add", "sub", "mul", "div", "rsub", "neg", "relu", "relu6", "hardtanh", "clamp", "clamp_min",
    "clamp_max", "sigmoid", "hardsigmoid", "silu", "hardswish", "gelu", "tanh", "exp", "log",
    "sqrt", "rsqrt", "pow", "leaky_relu", "elu", "mish", "softplus", "abs", "maximum", "minimum",
    "where", "square", "reciprocal", "erf", "sin", "cos", "addcmul", "lerp", "threshold",
})

#: Operators that move or allocate data without arithmetic.
MOVEMENT = frozenset({
    "view", "_unsafe_view", "reshape", "t", "transpose", "permute", "expand", "unbind", "select",
    "slice", "cat", "stack", "clone", "contiguous", "copy", "copy_", "empty", "empty_like",
    "zeros", "zeros_like", "ones", "ones_like", "full", "fill", "fill_", "zero_", "flatten", "squeeze",
    "unsqueeze", "split", "split_with_sizes", "chunk", "detach", "alias", "_to_copy", "index_select",
    "constant_pad_nd", "pixel_shuffle", "pixel_unshuffle", "upsample_nearest2d", "as_strided",
    "new_empty", "new_zeros", "lift_fresh", "narrow", "roll", "repeat", "unfold", "_reshape_alias",
    "expand_as", "view_as", "masked_fill", "arange", "scalar_tensor", "_local_scalar_dense",
})


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _conv(ev: OpEvent) -> OpCost | None:
    x, w = ev.args[0], ev.args[1]
    bias = ev.args[2] is not None
    stride, padding, dilation, transposed, output_padding, groups = ev.args[3:9]
    if len(x.shape) != 4:
        return None
    if transposed:
        c = conv_transpose2d_cost(x.shape, w.shape[1] * groups, tuple(w.shape[2:]), _pair(stride),
                                  _pair(padding), _pair(output_padding), _pair(dilation), groups, bias)
    else:
        c = conv2d_cost(x.shape, w.shape[0], tuple(w.shape[2:]), _pair(stride), _pair(padding),
                        _pair(dilation), groups, bias)
    return OpCost("conv", c.macs, c.macs_without_padding, c.flops, c.backward_macs)


def _matmul(ev: OpEvent) -> OpCost:
    name = ev.op.split("::")[1]
    if name in ("addmm", "baddbmm"):
        bias, a, b = ev.args[0], ev.args[1], ev.args[2]
    else:
        bias, a, b = None, ev.args[0], ev.args[1]
    k = a.shape[-1]
    out = prod(a.shape[:-1]) * b.shape[-1]
    macs = out * k
    flops = out * (2 * k - 1) + (out if bias is not None else 0)
    return OpCost("matmul", macs, macs, flops, 2 * macs)


def _adaptive_windows(n: int, m: int) -> int:
    # PyTorch's adaptive pooling: window i spans [floor(i n/m), ceil((i+1) n/m))
    return sum(-(-(i + 1) * n // m) - (i * n // m) for i in range(m))


def op_cost(ev: OpEvent) -> OpCost | None:
    """convsym's figures for one recorded operator, or None when it is not modelled."""
    name = ev.op.split("::")[1].rstrip("_") if ev.op.startswith("aten::") else None
    if name is None:
        return None
    out = ev.outputs[0].numel if ev.outputs else 0
    if name in ("convolution", "_convolution"):
        return _conv(ev)
    if name in ("mm", "addmm", "bmm", "baddbmm"):
        return _matmul(ev)
    if name in MOVEMENT or ev.view:
        return OpCost("movement", 0, 0, 0)
    if name in ELEMENTWISE:
        return OpCost("elementwise", 0, 0, out)
    if name in ("native_batch_norm", "_native_batch_norm_legit_no_training", "_native_batch_norm_legit"):
        return OpCost("normalization", 0, 0, 2 * out)
    if name == "native_layer_norm":
        affine = len(ev.args) > 2 and ev.args[2] is not None
        return OpCost("normalization", 0, 0, (7 if affine else 5) * out)
    if name in ("_softmax", "_safe_softmax", "softmax", "_log_softmax"):
        return OpCost("softmax", 0, 0, 5 * out)
    if name in ("mean", "sum"):
        return OpCost("reduction", 0, 0, ev.args[0].numel)
    if name in ("max_pool2d_with_indices", "avg_pool2d"):
        x = ev.args[0]
        if len(x.shape) != 4:
            return None
        kernel = _pair(ev.args[1])
        stride = _pair(ev.args[2]) if len(ev.args) > 2 and ev.args[2] else kernel
        padding = _pair(ev.args[3]) if len(ev.args) > 3 else (0, 0)
        if name == "avg_pool2d":
            ceil_mode = bool(ev.args[4]) if len(ev.args) > 4 else False
            include = bool(ev.args[5]) if len(ev.args) > 5 else True
            c = pool2d_cost(x.shape, kernel, stride, padding, 1, ceil_mode, "avg", include)
        else:
            dilation = _pair(ev.args[4]) if len(ev.args) > 4 else (1, 1)
            ceil_mode = bool(ev.args[5]) if len(ev.args) > 5 else False
            c = pool2d_cost(x.shape, kernel, stride, padding, dilation, ceil_mode, "max")
        return OpCost("pooling", 0, 0, c.flops)
    if name == "_adaptive_avg_pool2d":
        x, y = ev.args[0], ev.outputs[0]
        windows = _adaptive_windows(x.shape[-2], y.shape[-2]) * _adaptive_windows(x.shape[-1], y.shape[-1])
        return OpCost("pooling", 0, 0, prod(y.shape[:-2]) * windows)
    if name == "upsample_bilinear2d":
        return OpCost("upsampling", 0, 0, 7 * out)
    return None
