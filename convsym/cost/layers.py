r"""What a layer costs: MACs, parameters, FLOPs, memory, backward work, and how tools count them.

Every cost function works "both with numbers and symbols", like :mod:`convsym.shapes`: Python
ints in give exact ``int`` figures; any ``sympy.Expr`` among the sizes gives SymPy expressions
(``sympy.floor``, ``sympy.Min``...) that substitute to the integer figures.  The closed formulas
below are the ones ``proofs/costs.py`` derives by summing the loop nest of each layer and proves
equal; ``convsym build`` exports them (``generated/formulas/``).

For ``conv2d`` with input ``(N, C_in, H, W)``, ``C_out`` filters of ``k_h x k_w``, ``g`` groups,
output ``(N, C_out, H_out, W_out)`` (:func:`convsym.shapes.conv_output_size` per axis) and
``K = (C_in/g) k_h k_w`` products per output element:

=======================  ==================================================================
``macs``                 ``N C_out H_out W_out (C_in/g) k_h k_w``: every tap, padding included,
                         bias excluded, whole batch (what an im2col GEMM multiplies)
``params``               ``C_out (C_in/g) k_h k_w + C_out`` (the last term with a bias)
``bias_adds``            ``N C_out H_out W_out`` with a bias, else 0
``flops``                multiplications + additions of the direct algorithm: each output sums
                         its ``K`` products with ``K - 1`` additions, plus one for the bias:
                         ``N C_out H_out W_out (2K - 1) + bias_adds`` (``= 2 macs`` with a bias)
``macs_without_padding`` products whose input tap is a real input element, not zero padding:
                         ``N C_out (C_in/g) T_h T_w``, ``T = M k - Z(p_l) - Z(e_r)`` per axis
                         (see :func:`real_taps`)
``input/output/weight``  element counts of the tensors; ``im2col_elements`` is the unfolded
``_elements``            input matrix ``N H_out W_out x C_in k_h k_w``
``backward_*``           grad wrt input and grad wrt weights each take ``macs`` MACs; the bias
                         gradient ``bias_adds`` additions; ``activations_kept`` is what the
                         backward pass must keep from the forward pass (the conv input)
=======================  ==================================================================

``Cost.as_reported_by(tool)`` gives the figure a counting tool reports for the same layer;
see :meth:`Cost.as_reported_by` for each tool's convention and quirks.

Bad input raises ``ValueError``/``TypeError`` naming the function, the rule and the values,
e.g. ``conv2d_cost: groups=3 must divide in_channels=8``.
"""


from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from convsym.cost.record import Cost, LayerSpec, _clean
from convsym.cost.units import Size
from convsym.cost.units import numel as _numel
from convsym.lazy_sympy import sympy
from convsym.shapes import (
    _floor_div,
    _require,
    _size,
    _symbolic,
    conv_output_size,
    conv_transpose_output_size,
    pool_output_size,
    same_padding,
)

# ---------------------------------------------------------------------------------------------
# validation helpers


def _pair(op: str, name: str, value: object) -> tuple[Size, Size]:
    """An int/expression or a pair of them, as a pair."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{op}: {name} must be a size or a pair (height, width), got {value!r}")
        return _size(op, f"{name}[0]", value[0]), _size(op, f"{name}[1]", value[1])
    v = _size(op, name, value)
    return v, v


def _at_least(op: str, name: str, value: Size, low: int) -> None:
    _require(value >= low, op, f"{name}={value} must be >= {low}")


def _divides(op: str, g: Size, name: str, c: Size) -> Size:
    """``c / g`` after checking that ``g`` divides ``c`` (decided cases only for symbols)."""
    if _symbolic(g, c):
        q = sympy.sympify(c) / g
        if q.is_integer is False:
            raise ValueError(f"{op}: groups={g} must divide {name}={c}")
        return q
    if c % g:
        raise ValueError(f"{op}: groups={g} must divide {name}={c}")
    return c // g


def _shape(op: str, shape: object, rank: int | None, name: str = "input_shape") -> tuple[Size, ...]:
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence):
        raise TypeError(f"{op}: {name} must be a tuple of sizes, got {type(shape).__name__}")
    if rank is not None and len(shape) != rank:
        raise ValueError(
            f"{op}: {name} must have {rank} entries (N, C, H, W), got {len(shape)}: {tuple(shape)!r}"
        )
    if rank is None and len(shape) < 1:
        raise ValueError(f"{op}: {name} must have at least one entry")
    out = tuple(_size(op, f"{name}[{i}]", v) for i, v in enumerate(shape))
    for i, v in enumerate(out):
        _at_least(op, f"{name}[{i}]", v, 1)
    return out


def _bool(op: str, name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be a bool, got {type(value).__name__} {value!r}")
    return value


def _min(a: Size, b: Size) -> Size:
    return sympy.Min(a, b) if _symbolic(a, b) else min(a, b)


def _max(a: Size, b: Size) -> Size:
    return sympy.Max(a, b) if _symbolic(a, b) else max(a, b)



# ---------------------------------------------------------------------------------------------
# taps that fall on real input elements


def padding_taps(e: Size, k: Size, s: Size = 1, d: Size = 1, m: Size | None = None) -> Size:
    r"""``Z(e) = #{(i, a) : 0 <= i < m, 0 <= a < k, s i + d a < e}``.

    The number of (window, tap) pairs of the first ``m`` windows (stride ``s``, dilation ``d``,
    ``k`` taps) that fall in the first ``e`` positions: with ``e = p_l`` these are the taps on
    the left zero padding.  For ``e <= 0`` it is 0.  Closed form for ``d = 1``, with
    ``E = max(e, 0)``, ``q = min(m, ceil(E/s))`` windows that reach into the first ``E``
    positions and ``r = min(q, max(0, floor((E - k)/s) + 1))`` of them lying there entirely:

    ``Z = r k + (q - r) E - s (q(q-1) - r(r-1)) / 2``.

    For ``d > 1`` it is ``sum_{i<q} min(k, ceil((E - s i)/d))`` (a finite sum: exact for ints,
    an unevaluated ``sympy.Sum`` for symbols).  ``m = None`` means "enough windows" (no bound).
    """
    if type(e) is int and type(k) is int and type(s) is int and type(d) is int and (m is None or type(m) is int) \
            and k >= 1 and s >= 1 and d >= 1 and (m is None or m >= 0):
        return _padding_taps_int(e, k, s, d, m)  # valid ints (the common case): no check can fail
    op = "padding_taps"
    e, k = _size(op, "e", e), _size(op, "k", k)
    s, d = _size(op, "s", s), _size(op, "d", d)
    _at_least(op, "k", k, 1)
    _at_least(op, "s", s, 1)
    _at_least(op, "d", d, 1)
    if m is not None:
        m = _size(op, "m", m)
        _at_least(op, "m", m, 0)
    if not _symbolic(e, k, s, d, m):
        return _padding_taps_int(e, k, s, d, m)
    # symbolic: Min/Max unevaluated, since SymPy's attempts to order their arguments are slow
    # and decide nothing here
    E = sympy.Max(e, 0, evaluate=False)
    reach = sympy.ceiling(E / s)
    q = reach if m is None else sympy.Min(m, reach, evaluate=False)
    if d == 1:
        r = sympy.Min(q, sympy.Max(0, sympy.floor((E - k) / s) + 1, evaluate=False), evaluate=False)
        return r * k + (q - r) * E - s * (q * (q - 1) - r * (r - 1)) / 2
    i = sympy.Dummy("i", integer=True, nonnegative=True)
    return sympy.Sum(sympy.Min(k, sympy.ceiling((E - s * i) / d), evaluate=False), (i, 0, q - 1))


def _padding_taps_int(e: int, k: int, s: int, d: int, m: int | None) -> int:
    """:func:`padding_taps` for valid ints: ``sum_{i<q} min(k, ceil((E - s i)/d))``."""
    E = max(e, 0)
    q = -(-E // s) if m is None else min(m, -(-E // s))
    return sum(min(k, -(-(E - s * i) // d)) for i in range(q))


def evaluate_sums(expr):
    """Evaluate every finite ``sympy.Sum`` in ``expr`` term by term (its limits must be integers
    once the sizes are substituted).

    ``Sum.doit`` of ``ceiling``/``Min`` summands is not reliable (SymPy may answer by a wrong
    closed form), so a symbolic count is turned into a number by adding its terms.
    """
    def expand(total):
        (index, lo, hi), = total.limits
        lo, hi = sympy.sympify(lo).doit(), sympy.sympify(hi).doit()
        if not (lo.is_Integer and hi.is_Integer):
            raise ValueError(f"evaluate_sums: the limits {lo}, {hi} of {total} are not integers")
        return sympy.Add(*[total.function.xreplace({index: sympy.Integer(v)}) for v in range(int(lo), int(hi) + 1)])

    return sympy.sympify(expr).replace(lambda e: isinstance(e, sympy.Sum), expand).doit()


def real_taps(n: Size, k: Size, s: Size, p_l: Size, d: Size, m: Size) -> Size:
    r"""``T = #{(i, a) : 0 <= i < m, 0 <= a < k, 0 <= s i + d a - p_l <= n - 1}``.

    The (window, tap) pairs of one axis whose tap reads a real input element (not padding),
    for ``m`` windows of a length-``n`` input padded by ``p_l`` on the left:

    ``T = m k - Z(p_l) - Z(e_r)``  with  ``e_r = s (m - 1) + d (k - 1) + 1 - n - p_l``,

    where ``Z`` is :func:`padding_taps` (bounded by ``m`` windows): taps left of the input are
    ``Z(p_l)``; taps right of it are, read from the last window backwards
    (``(i, a) -> (m-1-i, k-1-a)``), ``Z(e_r)``; the two sets are disjoint since ``n >= 1``.
    """
    e_r = s * (m - 1) + d * (k - 1) + 1 - n - p_l
    return m * k - padding_taps(p_l, k, s, d, m) - padding_taps(e_r, k, s, d, m)


# ---------------------------------------------------------------------------------------------
# the layers


def _conv_padding(op: str, padding: object, kernel: tuple[Size, Size], dilation: tuple[Size, Size],
                  stride: tuple[Size, Size]):
    """Canonical ``((top, bottom), (left, right))`` and the string form if one was given."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0)), "valid"
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(
                    f"{op}: padding='same' needs stride 1 (PyTorch rule), got stride={stride}"
                )
            return (same_padding(kernel[0], dilation[0]), same_padding(kernel[1], dilation[1])), "same"
        raise ValueError(f"{op}: padding={padding!r} must be a size, a pair, 'same' or 'valid'")
    if (isinstance(padding, (tuple, list)) and len(padding) == 2
            and all(isinstance(p, (tuple, list)) for p in padding)):
        (t, b), (left, r) = (_pair(op, "padding[0]", padding[0]), _pair(op, "padding[1]", padding[1]))
        pads = ((t, b), (left, r))
    else:
        ph, pw = _pair(op, "padding", padding)
        pads = ((ph, ph), (pw, pw))
    for axis, pair in zip(("height", "width"), pads, strict=True):
        for v in pair:
            _require(v >= 0, op, f"padding={v} must be >= 0 ({axis})")
    return pads, None


def _axis_size(op: str, axis: str, n, k, s, pad, d) -> Size:
    span = d * (k - 1) + 1
    padded = n + pad[0] + pad[1]
    _require(span <= padded, op,
             f"dilated kernel size {span} exceeds padded input size {padded} ({axis}: "
             f"d(k-1)+1 with k={k}, d={d}; n + padding with n={n}, padding={pad})")
    return conv_output_size(n, k, s, pad, d)


def conv2d_cost(
    input_shape: Sequence[Size],
    out_channels: Size,
    kernel_size: Size | tuple[Size, Size],
    stride: Size | tuple[Size, Size] = 1,
    padding: object = 0,
    dilation: Size | tuple[Size, Size] = 1,
    groups: Size = 1,
    bias: bool = True,
) -> Cost:
    r"""The cost of ``torch.nn.Conv2d`` on an input of shape ``(N, C_in, H, W)``.

    ``padding`` is a size, a pair ``(p_h, p_w)``, ``((top, bottom), (left, right))``, ``'same'``
    (stride 1; an even kernel's extra row/column goes bottom/right) or ``'valid'``.

    Formulas (module docstring): ``macs = N C_out H_out W_out (C_in/g) k_h k_w``, ``params =
    C_out (C_in/g) k_h k_w + C_out [bias]``, ``flops = N C_out H_out W_out (2K - 1) +
    bias_adds``, ``macs_without_padding = N C_out (C_in/g) T_h T_w``.

    >>> conv2d_cost((1, 64, 56, 56), 64, 3, padding=1).macs
    115605504
    """
    op = "conv2d_cost"
    n, c_in, h, w = _shape(op, input_shape, 4)
    c_out, g = _size(op, "out_channels", out_channels), _size(op, "groups", groups)
    _at_least(op, "out_channels", c_out, 1)
    _at_least(op, "groups", g, 1)
    kh, kw = _pair(op, "kernel_size", kernel_size)
    sh, sw = _pair(op, "stride", stride)
    dh, dw = _pair(op, "dilation", dilation)
    for name, v in (("kernel_size", kh), ("kernel_size", kw), ("stride", sh), ("stride", sw),
                    ("dilation", dh), ("dilation", dw)):
        _at_least(op, name, v, 1)
    bias = _bool(op, "bias", bias)
    per_group_in = _divides(op, g, "in_channels", c_in)
    _divides(op, g, "out_channels", c_out)
    pads, padding_string = _conv_padding(op, padding, (kh, kw), (dh, dw), (sh, sw))
    ho = _axis_size(op, "height", h, kh, sh, pads[0], dh)
    wo = _axis_size(op, "width", w, kw, sw, pads[1], dw)
    positions = n * ho * wo
    outputs = c_out * positions
    taps = per_group_in * kh * kw
    macs = outputs * taps
    weights = c_out * taps
    params = weights + (c_out if bias else 0)
    bias_adds = outputs if bias else 0
    th = real_taps(h, kh, sh, pads[0][0], dh, ho)
    tw = real_taps(w, kw, sw, pads[1][0], dw, wo)
    deepspeed: tuple[Size, ...] = ()
    if padding_string == "same":
        # DeepSpeed pads floor(d(k-1)/2) on both sides (see as_reported_by)
        deepspeed = tuple(
            size + 2 * _floor_div(d * (k - 1), 2) - d * (k - 1) for size, k, d in ((h, kh, dh), (w, kw, dw))
        )
    spec = LayerSpec("conv2d", c_in, c_out, (kh, kw), (sh, sw), pads, (dh, dw), g, bias,
                     padding_string)
    return _make(
        spec, (n, c_in, h, w), (n, c_out, ho, wo),
        macs=macs,
        macs_without_padding=c_out * per_group_in * n * th * tw,
        params=params,
        bias_adds=bias_adds,
        flops=outputs * (2 * taps - 1) + bias_adds,
        input_elements=n * c_in * h * w,
        output_elements=outputs,
        weight_elements=params,
        im2col_elements=positions * c_in * kh * kw,
        backward_input_macs=macs,
        backward_weight_macs=macs,
        backward_bias_adds=bias_adds,
        activations_kept=n * c_in * h * w,
        _deepspeed_spatial=deepspeed,
    )


def conv_transpose2d_cost(
    input_shape: Sequence[Size],
    out_channels: Size,
    kernel_size: Size | tuple[Size, Size],
    stride: Size | tuple[Size, Size] = 1,
    padding: Size | tuple[Size, Size] = 0,
    output_padding: Size | tuple[Size, Size] = 0,
    dilation: Size | tuple[Size, Size] = 1,
    groups: Size = 1,
    bias: bool = True,
) -> Cost:
    r"""The cost of ``torch.nn.ConvTranspose2d`` on an input ``(N, C_in, H, W)``.

    The weight is ``(C_in, C_out/g, k_h, k_w)``; the output size per axis is
    ``(n-1)s - 2p + d(k-1) + output_padding + 1``.  Every input element is multiplied by every
    weight of its group and scattered into the output:

    ``macs = N C_in H W (C_out/g) k_h k_w`` (the cost of the convolution it transposes),
    ``params = C_in (C_out/g) k_h k_w + C_out [bias]``, ``flops = 2 macs + bias_adds`` (each
    product is accumulated into the zero-initialised output, one addition per MAC),
    ``macs_without_padding`` = the products that land in the kept output (not in the ``p``
    rows/columns cropped on each side): ``N C_in (C_out/g) T_h T_w`` with
    ``T = n k - Z(p) - Z(p - output_padding)``.  ``im2col_elements`` is the column buffer
    ``N H W x (C_out/g) k_h k_w g`` that col2im folds into the output.
    """
    op = "conv_transpose2d_cost"
    n, c_in, h, w = _shape(op, input_shape, 4)
    c_out, g = _size(op, "out_channels", out_channels), _size(op, "groups", groups)
    _at_least(op, "out_channels", c_out, 1)
    _at_least(op, "groups", g, 1)
    kh, kw = _pair(op, "kernel_size", kernel_size)
    sh, sw = _pair(op, "stride", stride)
    dh, dw = _pair(op, "dilation", dilation)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding={padding!r} must be a size or a pair (PyTorch has no "
                         "string padding for transposed convolutions)")
    ph, pw = _pair(op, "padding", padding)
    oph, opw = _pair(op, "output_padding", output_padding)
    for name, v in (("kernel_size", kh), ("kernel_size", kw), ("stride", sh), ("stride", sw),
                    ("dilation", dh), ("dilation", dw)):
        _at_least(op, name, v, 1)
    bias = _bool(op, "bias", bias)
    _divides(op, g, "in_channels", c_in)
    per_group_out = _divides(op, g, "out_channels", c_out)
    sizes = []
    for axis, size, k, s, p, o, d in (("height", h, kh, sh, ph, oph, dh), ("width", w, kw, sw, pw, opw, dw)):
        try:
            sizes.append(conv_transpose_output_size(size, k, s, p, o, d))
        except ValueError as exc:
            raise ValueError(f"{op}: {axis}: {exc}") from None
    ho, wo = sizes
    taps = per_group_out * kh * kw
    macs = n * c_in * h * w * taps
    outputs = n * c_out * ho * wo
    bias_adds = outputs if bias else 0
    params = c_in * taps + (c_out if bias else 0)

    def kept(size, k, s, p, o, d):
        # products landing in the output: the scatter of n inputs, cropped by p on the left and
        # p - output_padding on the right of the full length (n-1)s + d(k-1) + 1
        return size * k - padding_taps(p, k, s, d, size) - padding_taps(p - o, k, s, d, size)

    spec = LayerSpec("conv_transpose2d", c_in, c_out, (kh, kw), (sh, sw), ((ph, ph), (pw, pw)),
                     (dh, dw), g, bias, None, (oph, opw))
    return _make(
        spec, (n, c_in, h, w), (n, c_out, ho, wo),
        macs=macs,
        macs_without_padding=n * c_in * per_group_out * kept(h, kh, sh, ph, oph, dh)
        * kept(w, kw, sw, pw, opw, dw),
        params=params,
        bias_adds=bias_adds,
        flops=2 * macs + bias_adds,
        input_elements=n * c_in * h * w,
        output_elements=outputs,
        weight_elements=params,
        im2col_elements=n * h * w * c_out * kh * kw,
        backward_input_macs=macs,
        backward_weight_macs=macs,
        backward_bias_adds=bias_adds,
        activations_kept=n * c_in * h * w,
    )


def pool2d_cost(
    input_shape: Sequence[Size],
    kernel_size: Size | tuple[Size, Size],
    stride: Size | tuple[Size, Size] | None = None,
    padding: Size | tuple[Size, Size] = 0,
    dilation: Size | tuple[Size, Size] = 1,
    ceil_mode: bool = False,
    kind: str = "max",
    count_include_pad: bool = True,
) -> Cost:
    r"""The cost of ``MaxPool2d`` (``kind='max'``) or ``AvgPool2d`` (``kind='avg'``).

    Pooling works per channel: output ``(N, C, H_out, W_out)`` with
    :func:`convsym.shapes.pool_output_size` per axis (stride defaults to the kernel; ceil mode
    drops a last window starting in the right padding).  There are no multiplications
    (``macs = 0``) and no parameters.  ``flops``: max pooling makes ``k_h k_w - 1`` comparisons
    per output; average pooling ``k_h k_w - 1`` additions and one division, ``k_h k_w`` per
    output (as many operations as the MACs of the equivalent depthwise convolution).  The
    backward pass of max pooling keeps the argmax of each window (``activations_kept`` =
    output elements); average pooling keeps nothing but shapes.
    """
    op = "pool2d_cost"
    if kind not in ("max", "avg"):
        raise ValueError(f"{op}: kind={kind!r} must be 'max' or 'avg'")
    n, c, h, w = _shape(op, input_shape, 4)
    kh, kw = _pair(op, "kernel_size", kernel_size)
    sh, sw = (kh, kw) if stride is None else _pair(op, "stride", stride)
    ph, pw = _pair(op, "padding", padding)
    dh, dw = _pair(op, "dilation", dilation)
    ceil_mode = _bool(op, "ceil_mode", ceil_mode)
    count_include_pad = _bool(op, "count_include_pad", count_include_pad)
    if kind == "avg" and (dh, dw) != (1, 1):
        raise ValueError(f"{op}: average pooling has no dilation, got dilation={(dh, dw)}")
    sizes = []
    for axis, size, k, s, p, d in (("height", h, kh, sh, ph, dh), ("width", w, kw, sw, pw, dw)):
        try:
            sizes.append(pool_output_size(size, k, s, p, d, ceil_mode))
        except ValueError as exc:
            raise ValueError(f"{op}: {axis}: {exc}") from None
    ho, wo = sizes
    outputs = n * c * ho * wo
    window = kh * kw
    spec = LayerSpec(f"{kind}_pool2d", c, c, (kh, kw), (sh, sw), ((ph, ph), (pw, pw)), (dh, dw), c,
                     False, None, (0, 0), ceil_mode, count_include_pad)
    return _make(
        spec, (n, c, h, w), (n, c, ho, wo),
        macs=0,
        macs_without_padding=0,
        params=0,
        bias_adds=0,
        flops=outputs * (window - 1) if kind == "max" else outputs * window,
        input_elements=n * c * h * w,
        output_elements=outputs,
        weight_elements=0,
        im2col_elements=0,
        backward_input_macs=0,
        backward_weight_macs=0,
        backward_bias_adds=0,
        activations_kept=outputs if kind == "max" else 0,
    )


def linear_cost(input_shape: Sequence[Size], out_features: Size, bias: bool = True) -> Cost:
    r"""The cost of ``torch.nn.Linear`` on an input ``(..., in_features)``.

    With ``R`` = the product of the leading dimensions (rows): ``macs = R in out``,
    ``params = in out + out [bias]``, ``flops = R out (2 in - 1) + bias_adds``,
    ``bias_adds = R out [bias]``; grad wrt input and weights ``macs`` each.  A ``1 x 1``
    convolution on ``(N, C, H, W)`` costs what this costs on ``N H W`` rows of ``C``.
    """
    op = "linear_cost"
    shape = _shape(op, input_shape, None)
    c_out = _size(op, "out_features", out_features)
    _at_least(op, "out_features", c_out, 1)
    bias = _bool(op, "bias", bias)
    c_in = shape[-1]
    rows = _numel(shape[:-1])
    macs = rows * c_in * c_out
    outputs = rows * c_out
    bias_adds = outputs if bias else 0
    params = c_in * c_out + (c_out if bias else 0)
    spec = LayerSpec("linear", c_in, c_out, bias=bias)
    return _make(
        spec, shape, (*shape[:-1], c_out),
        macs=macs,
        macs_without_padding=macs,
        params=params,
        bias_adds=bias_adds,
        flops=outputs * (2 * c_in - 1) + bias_adds,
        input_elements=rows * c_in,
        output_elements=outputs,
        weight_elements=params,
        im2col_elements=0,
        backward_input_macs=macs,
        backward_weight_macs=macs,
        backward_bias_adds=bias_adds,
        activations_kept=rows * c_in,
    )


def _make(spec: LayerSpec, input_shape, output_shape, **figures) -> Cost:
    def tidy(v):
        if isinstance(v, tuple):
            return tuple(tidy(x) for x in v)
        return _clean(v)

    return Cost(spec, tidy(tuple(input_shape)), tidy(tuple(output_shape)),
                **{k: tidy(v) for k, v in figures.items()})



def cost_from_options(options: Mapping[str, Any]) -> Cost:
    """The :class:`Cost` of one layer described by CLI-style options (see ``convsym cost``)."""
    layer = options["layer"]
    shape = tuple(options["input"])
    if layer == "conv2d":
        return conv2d_cost(shape, options["out_channels"], options["kernel"], options["stride"],
                           options["padding"], options["dilation"], options["groups"], options["bias"])
    if layer == "conv_transpose2d":
        return conv_transpose2d_cost(shape, options["out_channels"], options["kernel"], options["stride"],
                                     options["padding"], options["output_padding"], options["dilation"],
                                     options["groups"], options["bias"])
    if layer in ("max_pool2d", "avg_pool2d"):
        return pool2d_cost(shape, options["kernel"], options.get("pool_stride"), options["padding"],
                           options["dilation"], options["ceil_mode"], layer.split("_", 1)[0],
                           options["count_include_pad"])
    if layer == "linear":
        return linear_cost(shape, options["out_channels"], options["bias"])
    raise ValueError(
        f"cost: unknown layer {layer!r}; valid layers: conv2d, conv_transpose2d, max_pool2d, "
        "avg_pool2d, linear"
    )



# ---------------------------------------------------------------------------------------------
# ResNet-18, by hand (no torchvision): its convolutions and pooling layers


def resnet18_convs(size: int = 224, batch: int = 1) -> list[tuple[str, Cost]]:
    """Every convolution and pooling layer of ResNet-18 (He et al. 2016, torchvision layout)
    at ``size x size``, with the input shape each one sees; names follow torchvision.

    Stem: conv1 7x7/2 pad 3 (3 -> 64, no bias), maxpool 3x3/2 pad 1; four stages of two basic
    blocks (3x3 convs, no bias), stages 2-4 start with stride 2 and a 1x1/2 downsample conv.
    The final average pooling is adaptive (not a fixed-kernel pool) and is left out.
    """
    layers: list[tuple[str, Cost]] = []
    n = batch
    layers.append(("conv1", conv2d_cost((n, 3, size, size), 64, 7, 2, 3, bias=False)))
    h = layers[-1][1].output_shape[2]
    layers.append(("maxpool", pool2d_cost((n, 64, h, h), 3, 2, 1)))
    h = layers[-1][1].output_shape[2]
    c = 64
    for stage, width in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            stride = 2 if stage > 1 and block == 0 else 1
            prefix = f"layer{stage}.{block}"
            first = conv2d_cost((n, c, h, h), width, 3, stride, 1, bias=False)
            layers.append((f"{prefix}.conv1", first))
            h_out = first.output_shape[2]
            layers.append((f"{prefix}.conv2", conv2d_cost((n, width, h_out, h_out), width, 3, 1, 1,
                                                          bias=False)))
            if stride != 1 or c != width:
                layers.append((f"{prefix}.downsample.0",
                               conv2d_cost((n, c, h, h), width, 1, stride, 0, bias=False)))
            c, h = width, h_out
    return layers


