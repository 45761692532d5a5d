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

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import sympy

from .dtypes import DTYPE_SIZES
from .errors import ConvsymError
from .shapes import (
    _floor_div,
    _require,
    _size,
    _symbolic,
    conv_output_size,
    conv_transpose_output_size,
    pool_output_size,
    same_padding,
)

__all__ = [
    "DTYPE_SIZES",
    "TOOLS",
    "TOOL_VERSIONS",
    "Cost",
    "Formula",
    "LayerSpec",
    "ModelCost",
    "Reported",
    "conv2d_cost",
    "conv_transpose2d_cost",
    "count_module",
    "exported_formulas",
    "linear_cost",
    "padding_taps",
    "pool2d_cost",
    "real_taps",
    "resnet18_convs",
]

Size = int | sympy.Expr


#: The counting tools ``Cost.as_reported_by`` knows, and the versions whose source was read and
#: whose figures the crosscheck tests compare against on this project's layer table.
TOOL_VERSIONS = {
    "fvcore": "0.1.5.post20221221",
    "ptflops": "0.7.5",
    "thop": "0.1.1.post2209072238",
    "torchinfo": "1.8.0",
    "deepspeed": "0.19.8",
    "torch": "2.13.0",
}
TOOLS = tuple(TOOL_VERSIONS)


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


def _clean(value: Size) -> Size:
    """Python ints stay ints; SymPy integers become ints; other expressions stay."""
    if isinstance(value, sympy.Integer):
        return int(value)
    return value


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
        E = max(e, 0)
        q = -(-E // s) if m is None else min(m, -(-E // s))
        return sum(min(k, -(-(E - s * i) // d)) for i in range(q))
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
# the records


@dataclass(frozen=True)
class LayerSpec:
    """The hyper-parameters of one layer, canonical (pairs; padding as ``((top, bottom), (left,
    right))``).  ``padding_string`` keeps ``'same'``/``'valid'`` when the layer was given so,
    because some tools treat those layers differently."""

    op: str
    in_channels: Size
    out_channels: Size
    kernel_size: tuple[Size, Size] = (1, 1)
    stride: tuple[Size, Size] = (1, 1)
    padding: tuple[tuple[Size, Size], tuple[Size, Size]] = ((0, 0), (0, 0))
    dilation: tuple[Size, Size] = (1, 1)
    groups: Size = 1
    bias: bool = False
    padding_string: str | None = None
    output_padding: tuple[Size, Size] = (0, 0)
    ceil_mode: bool = False
    count_include_pad: bool = True


@dataclass(frozen=True)
class Reported:
    """One tool's figure for one layer: ``value`` is what the tool returns (or prints) under its
    name ``quantity``; ``params`` is its parameter count (None when it reports none); ``macs`` is
    the second figure of tools that report two (DeepSpeed: FLOPs and MACs)."""

    tool: str
    quantity: str
    value: Size
    params: Size | None
    macs: Size | None = None
    version: str = ""

    def __int__(self) -> int:
        return int(self.value)


_ORDER = (
    "macs", "macs_without_padding", "params", "bias_adds", "flops",
    "input_elements", "output_elements", "weight_elements", "im2col_elements",
    "backward_input_macs", "backward_weight_macs", "backward_bias_adds", "activations_kept",
)

_LABELS = {
    "macs": "MACs (dense, every tap)",
    "macs_without_padding": "MACs without padding taps",
    "params": "parameters",
    "bias_adds": "bias additions",
    "flops": "FLOPs (multiplications + additions)",
    "input_elements": "input",
    "output_elements": "output",
    "weight_elements": "weights and bias",
    "im2col_elements": "im2col buffer",
    "backward_input_macs": "grad wrt input, MACs",
    "backward_weight_macs": "grad wrt weights, MACs",
    "backward_bias_adds": "grad wrt bias, additions",
    "activations_kept": "activations kept for backward",
}


@dataclass(frozen=True)
class Cost:
    """The cost of one layer for one input shape (see the module docstring for each formula).

    Figures are exact ints for int sizes and SymPy expressions for symbolic sizes.  Memory
    figures are element counts; :meth:`memory_bytes` converts them for a dtype.
    """

    layer: LayerSpec
    input_shape: tuple[Size, ...]
    output_shape: tuple[Size, ...]
    macs: Size
    macs_without_padding: Size
    params: Size
    bias_adds: Size
    flops: Size
    input_elements: Size
    output_elements: Size
    weight_elements: Size
    im2col_elements: Size
    backward_input_macs: Size
    backward_weight_macs: Size
    backward_bias_adds: Size
    activations_kept: Size
    # the output size of each spatial axis as DeepSpeed computes it for padding='same'
    _deepspeed_spatial: tuple[Size, ...] = field(default=(), repr=False, compare=False)

    # -- derived figures ----------------------------------------------------------------------

    @property
    def backward_macs(self) -> Size:
        """``backward_input_macs + backward_weight_macs`` (``2 macs`` for a conv)."""
        return self.backward_input_macs + self.backward_weight_macs

    @property
    def forward_memory(self) -> Size:
        """Elements of input + output + weights + im2col buffer."""
        return self.input_elements + self.output_elements + self.weight_elements + self.im2col_elements

    def memory_bytes(self, dtype: str = "float32") -> dict[str, Size]:
        """Bytes of each forward tensor (``input``, ``output``, ``weights``, ``im2col``,
        ``total``) and of the ``activations_kept`` for backward, for ``dtype``."""
        if dtype not in DTYPE_SIZES:
            raise ValueError(
                f"memory_bytes: unknown dtype {dtype!r}; valid dtypes: {', '.join(DTYPE_SIZES)}"
            )
        size = DTYPE_SIZES[dtype]
        out = {
            "input": self.input_elements * size,
            "output": self.output_elements * size,
            "weights": self.weight_elements * size,
            "im2col": self.im2col_elements * size,
            "activations_kept": self.activations_kept * size,
        }
        out["total"] = out["input"] + out["output"] + out["weights"] + out["im2col"]
        return {k: _clean(sympy.expand(v)) if _symbolic(v) else v for k, v in out.items()}

    # -- tools --------------------------------------------------------------------------------

    def as_reported_by(self, tool: str) -> Reported:
        r"""The figure ``tool`` reports for this layer, by its own convention.

        Checked against the real tools (``tests/crosscheck/test_cost_tools.py``) at the versions
        in :data:`TOOL_VERSIONS`: fvcore 0.1.5.post20221221, ptflops 0.7.5 (default ``pytorch``
        backend, module hooks), thop 0.1.1.post2209072238, torchinfo 1.8.0, DeepSpeed 0.19.8
        (flops profiler, CPU) and torch 2.13.0 (``torch.utils.flop_counter.FlopCounterMode``).
        Notation: ``macs`` = this object's dense MACs, ``b`` = its bias additions, ``N`` the
        batch size.

        ``fvcore`` (``FlopCountAnalysis(...).total()``, "one FLOP = one multiply-add"):
            conv: ``macs``; transposed conv: ``N H_in W_in C_in (C_out/g) k_h k_w`` (= ``macs``);
            linear: ``macs`` (bias ignored).  Quirk: a conv given ``padding='same'`` or
            ``'valid'`` traces to ``aten::_convolution_mode``, which fvcore does not handle: it
            counts 0 and warns, so this raises ValueError.  Pooling: ``aten::max_pool2d`` and
            ``aten::avg_pool2d`` are unsupported operators (ValueError).  Params: fvcore's
            ``parameter_count``.
        ``ptflops`` (``get_model_complexity_info``; the number it calls MACs):
            conv and transposed conv: ``(macs + b) / N`` (bias adds counted over the output);
            linear: ``(macs + b) / input_shape[0]``.  Quirk: ptflops reports "per image", the
            module-hook total divided by its batch counter (the first input dimension; 1 when
            it builds the input itself from ``input_res``).  Max and avg pooling: the input
            element count per image from the module hook *plus* the whole input element count
            again from its patched ``F.max_pool2d``/``F.avg_pool2d`` (counted twice, the second
            time not divided by the batch).
        ``thop`` (``profile`` total_ops, a float; returned here as an int):
            conv: ``macs`` (no bias).  Quirk: a transposed conv is counted with the forward-conv
            formula on its *output*: ``N C_out H_out W_out (C_in/g) k_h k_w``.  Max pooling: 0
            (registered as zero ops); avg pooling: the *output* element count; linear:
            ``macs``.
        ``torchinfo`` (``summary(...)``, the "Mult-Adds" column):
            conv: ``(weights + bias) * N H_out W_out`` = ``macs + b``.  Quirk: the transposed
            conv gets the same formula on its output positions,
            ``N H_out W_out (C_in (C_out/g) k_h k_w + C_out)``.  Linear:
            ``input_shape[0] * params``: only the *first* input dimension multiplies, so a
            ``(B, T, in)`` input is undercounted by ``T``.  Pooling has no parameters and is
            printed as ``--`` (ValueError).
        ``deepspeed`` (flops profiler; ``value`` is its FLOPs, ``macs`` its MACs):
            conv: FLOPs ``2 macs + b``, MACs ``macs``.  Quirk: for ``padding='same'`` it pads
            ``floor(d(k-1)/2)`` on *both* sides, so an even ``d(k-1)`` is right but an odd one
            (even kernel, dilation 1) gives ``H_out = H - 1``: both figures use that size.
            Transposed conv: MACs ``N H_in W_in C_in (C_out/g) k_h k_w``, FLOPs ``2 MACs + b``.
            Linear: FLOPs ``2 macs``, bias ignored.  Max and avg pooling: FLOPs = input element
            count, MACs 0.
        ``torch`` (``FlopCounterMode.get_total_flops()``):
            conv and transposed conv: ``2 macs`` (bias ignored); linear: ``2 macs``.  There is
            no formula for pooling (ValueError).  No parameter count (``params`` is None).
            Its backward formula (not reported here) counts ``2 backward_input_macs +
            2 g backward_weight_macs``: the weight gradient of a grouped conv ``g`` times.

        Raises ValueError for an unknown tool (listing the valid ones) or a layer the tool does
        not count.
        """
        if tool not in TOOL_VERSIONS:
            raise ValueError(
                f"as_reported_by: unknown tool {tool!r}; valid tools: {', '.join(TOOLS)}"
            )
        spec = self.layer
        counter = _TOOL_RULES[tool].get(spec.op)
        if counter is None:
            raise ValueError(
                f"as_reported_by: {tool} does not count {spec.op} layers "
                f"({_UNCOUNTED_WHY[tool]})"
            )
        quantity, value, params, macs = counter(self)
        if value is None:
            raise ValueError(f"as_reported_by: {tool} does not count this {spec.op} layer ({params})")
        return Reported(tool, quantity, _clean(value), _clean(params) if params is not None else None,
                        _clean(macs) if macs is not None else None, TOOL_VERSIONS[tool])

    # -- output -------------------------------------------------------------------------------

    def figures(self) -> dict[str, Size]:
        """The figures by name, in report order."""
        return {name: getattr(self, name) for name in _ORDER}

    def to_json(self, dtype: str = "float32") -> dict[str, Any]:
        """A JSON-able dict: layer, shapes, figures, bytes for ``dtype`` and each tool's figure
        (ints, or strings for symbolic expressions; a tool that does not count the layer maps to
        ``None``)."""

        def js(v):
            if isinstance(v, (tuple, list)):
                return [js(x) for x in v]
            if isinstance(v, bool) or v is None or isinstance(v, str):
                return v
            v = _clean(v)
            return v if isinstance(v, int) else sympy.sstr(v)

        layer = {f.name: js(getattr(self.layer, f.name)) for f in fields(self.layer)}
        tools: dict[str, Any] = {}
        for tool in TOOLS:
            try:
                r = self.as_reported_by(tool)
            except ValueError:
                tools[tool] = None
            else:
                tools[tool] = {"quantity": r.quantity, "value": js(r.value), "params": js(r.params),
                               "macs": js(r.macs), "version": r.version}
        return {
            "layer": layer,
            "input_shape": js(self.input_shape),
            "output_shape": js(self.output_shape),
            "figures": {k: js(v) for k, v in self.figures().items()},
            "bytes": {"dtype": dtype, **{k: js(v) for k, v in self.memory_bytes(dtype).items()}},
            "tools": tools,
        }

    def __str__(self) -> str:
        return self.report()

    def report(self, dtype: str = "float32") -> str:
        """A readable report: the layer, every figure, memory in bytes, each tool's figure."""
        spec = self.layer
        head = f"{spec.op}: input {_fmt_shape(self.input_shape)} -> output {_fmt_shape(self.output_shape)}"
        desc = _describe(spec)
        rows: list[tuple[str, str]] = []
        for name in ("params", "macs", "macs_without_padding", "bias_adds", "flops"):
            rows.append((_LABELS[name], _fmt(getattr(self, name))))
        mem = self.memory_bytes(dtype)
        rows.append((f"forward memory (elements, {dtype} bytes)", ""))
        for name, key in (("input_elements", "input"), ("output_elements", "output"),
                          ("weight_elements", "weights"), ("im2col_elements", "im2col")):
            rows.append(("  " + _LABELS[name], f"{_fmt(getattr(self, name))}  ({_fmt(mem[key])} B)"))
        rows.append(("backward", ""))
        for name in ("backward_input_macs", "backward_weight_macs", "backward_bias_adds"):
            rows.append(("  " + _LABELS[name], _fmt(getattr(self, name))))
        rows.append(("  " + _LABELS["activations_kept"],
                     f"{_fmt(self.activations_kept)}  ({_fmt(mem['activations_kept'])} B)"))
        rows.append(("as reported by", ""))
        for tool in TOOLS:
            try:
                r = self.as_reported_by(tool)
            except ValueError:
                rows.append((f"  {tool} {TOOL_VERSIONS[tool]}", "not counted"))
                continue
            extra = f", MACs {_fmt(r.macs)}" if r.macs is not None else ""
            rows.append((f"  {tool} {r.version}", f"{_fmt(r.value)} ({r.quantity}{extra})"))
        width = max(len(label) for label, _ in rows)
        lines = [head, "  " + desc]
        lines += [f"  {label.ljust(width)}  {value}".rstrip() for label, value in rows]
        return "\n".join(lines) + "\n"


def _fmt(v: Size | None) -> str:
    if v is None:
        return "-"
    v = _clean(v)
    return f"{v:,}" if isinstance(v, int) else sympy.sstr(v)


def _fmt_shape(shape: Sequence[Size]) -> str:
    return "(" + ", ".join(sympy.sstr(_clean(v)) for v in shape) + ")"


def _describe(spec: LayerSpec) -> str:
    if spec.op == "linear":
        return f"in_features {spec.in_channels}, out_features {spec.out_channels}, bias {spec.bias}"
    kh, kw = spec.kernel_size
    parts = [f"kernel {kh}x{kw}", f"stride {spec.stride}",
             f"padding {spec.padding_string!r}" if spec.padding_string else f"padding {spec.padding}",
             f"dilation {spec.dilation}"]
    if spec.op in ("conv2d", "conv_transpose2d"):
        parts += [f"groups {spec.groups}", f"bias {spec.bias}"]
    if spec.op == "conv_transpose2d":
        parts.append(f"output_padding {spec.output_padding}")
    if spec.op in ("max_pool2d", "avg_pool2d"):
        parts.append(f"ceil_mode {spec.ceil_mode}")
    if spec.op == "avg_pool2d":
        parts.append(f"count_include_pad {spec.count_include_pad}")
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# tool conventions: op -> (cost -> (quantity, value, params, macs))


def _spatial_positions(c: Cost) -> Size:
    return c.output_shape[0] * c.output_shape[2] * c.output_shape[3]


def _input_positions(c: Cost) -> Size:
    return c.input_shape[0] * c.input_shape[2] * c.input_shape[3]


def _numel(shape: Sequence[Size]) -> Size:
    out: Size = 1
    for v in shape:
        out = out * v
    return out


def _fvcore_conv(c: Cost):
    if c.layer.padding_string is not None:
        return ("flops", None, f"padding={c.layer.padding_string!r} traces to aten::_convolution_mode, "
                "which fvcore does not handle", None)
    return "flops", c.macs, c.params, None


def _deepspeed_conv(c: Cost):
    spec = c.layer
    kh, kw = spec.kernel_size
    ho, wo = c._deepspeed_spatial or c.output_shape[2:]
    n = c.input_shape[0]
    per = _group_fraction(spec.in_channels, spec.groups) * kh * kw
    macs = n * spec.out_channels * ho * wo * per
    bias = n * spec.out_channels * ho * wo if spec.bias else 0
    return "flops", 2 * macs + bias, c.params, macs


def _per_sample(c: Cost, value: Size) -> Size:
    # ptflops divides its module-hook total by the batch counter, the first input dimension
    return _group_fraction(value, c.input_shape[0])


def _group_fraction(channels: Size, groups: Size) -> Size:
    return channels / groups if _symbolic(channels, groups) else channels // groups


def _thop_transposed(c: Cost):
    spec = c.layer
    kh, kw = spec.kernel_size
    return ("total_ops", _numel(c.output_shape) * _group_fraction(spec.in_channels, spec.groups) * kh * kw,
            c.params, None)


def _torchinfo_conv(c: Cost):
    return "Mult-Adds", c.params * _spatial_positions(c), c.params, None


def _deepspeed_transposed(c: Cost):
    macs = c.macs
    return "flops", 2 * macs + c.bias_adds, c.params, macs


_TOOL_RULES: dict[str, dict[str, Any]] = {
    "fvcore": {
        "conv2d": _fvcore_conv,
        "conv_transpose2d": _fvcore_conv,
        "linear": lambda c: ("flops", c.macs, c.params, None),
    },
    "ptflops": {
        "conv2d": lambda c: ("MACs", _per_sample(c, c.macs + c.bias_adds), c.params, None),
        "conv_transpose2d": lambda c: ("MACs", _per_sample(c, c.macs + c.bias_adds), c.params, None),
        "linear": lambda c: ("MACs", _per_sample(c, c.macs + c.bias_adds), c.params, None),
        "max_pool2d": lambda c: ("MACs", _per_sample(c, c.input_elements) + c.input_elements, 0, None),
        "avg_pool2d": lambda c: ("MACs", _per_sample(c, c.input_elements) + c.input_elements, 0, None),
    },
    "thop": {
        "conv2d": lambda c: ("total_ops", c.macs, c.params, None),
        "conv_transpose2d": _thop_transposed,
        "linear": lambda c: ("total_ops", c.macs, c.params, None),
        "max_pool2d": lambda c: ("total_ops", 0, 0, None),
        "avg_pool2d": lambda c: ("total_ops", c.output_elements, 0, None),
    },
    "torchinfo": {
        "conv2d": _torchinfo_conv,
        "conv_transpose2d": _torchinfo_conv,
        "linear": lambda c: ("Mult-Adds", c.input_shape[0] * c.params, c.params, None),
    },
    "deepspeed": {
        "conv2d": _deepspeed_conv,
        "conv_transpose2d": _deepspeed_transposed,
        "linear": lambda c: ("flops", 2 * c.macs, c.params, c.macs),
        "max_pool2d": lambda c: ("flops", c.input_elements, 0, 0),
        "avg_pool2d": lambda c: ("flops", c.input_elements, 0, 0),
    },
    "torch": {
        "conv2d": lambda c: ("flops", 2 * c.macs, None, None),
        "conv_transpose2d": lambda c: ("flops", 2 * c.macs, None, None),
        "linear": lambda c: ("flops", 2 * c.macs, None, None),
    },
}

_UNCOUNTED_WHY = {
    "fvcore": "aten::max_pool2d and aten::avg_pool2d are unsupported operators: counted as 0 with a warning",
    "ptflops": "no hook for it",
    "thop": "no hook for it",
    "torchinfo": "it has no parameters, so torchinfo prints '--' for its Mult-Adds",
    "deepspeed": "no hook for it",
    "torch": "FlopCounterMode has no formula for pooling",
}


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


# ---------------------------------------------------------------------------------------------
# whole models (torch)


@dataclass(frozen=True)
class ModelCost:
    """The counted layers of a model, in call order: ``layers = ((name, Cost), ...)``;
    ``skipped`` lists ``(name, type)`` of leaf modules that no formula here covers."""

    layers: tuple[tuple[str, Cost], ...]
    skipped: tuple[tuple[str, str], ...] = ()

    def total(self, figure: str = "macs") -> int:
        """The sum of one figure (``macs``, ``params``, ``macs_without_padding``...)."""
        return sum(int(getattr(cost, figure)) for _, cost in self.layers)

    def total_reported_by(self, tool: str) -> int:
        """What ``tool`` adds up over the counted layers (layers it does not count add 0)."""
        out = 0
        for _, cost in self.layers:
            try:
                out += int(cost.as_reported_by(tool).value)
            except ValueError as exc:
                if "unknown tool" in str(exc):
                    raise
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One dict per layer: name, op, output shape, MACs, MACs without padding, params and
        each tool's figure (None where the tool does not count the layer)."""
        out = []
        for name, cost in self.layers:
            row: dict[str, Any] = {
                "name": name, "op": cost.layer.op, "output_shape": list(cost.output_shape),
                "macs": cost.macs, "macs_without_padding": cost.macs_without_padding,
                "params": cost.params,
            }
            for tool in TOOLS:
                try:
                    row[tool] = int(cost.as_reported_by(tool).value)
                except ValueError:
                    row[tool] = None
            out.append(row)
        return out

    def table(self) -> str:
        """A text table: one row per layer, one column per figure and per tool, then totals."""
        head = ["layer", "op", "output", "MACs", "no-pad MACs", "params", *TOOLS]
        body = []
        for row in self.rows():
            body.append([row["name"], row["op"], "x".join(str(v) for v in row["output_shape"]),
                         *(f"{row[k]:,}" for k in ("macs", "macs_without_padding", "params")),
                         *("-" if row[t] is None else f"{row[t]:,}" for t in TOOLS)])
        body.append(["total", "", "", f"{self.total('macs'):,}",
                     f"{self.total('macs_without_padding'):,}", f"{self.total('params'):,}",
                     *(f"{self.total_reported_by(t):,}" for t in TOOLS)])
        widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
        lines = []
        for r in [head, *body]:
            cells = [c.ljust(widths[i]) if i < 3 else c.rjust(widths[i]) for i, c in enumerate(r)]
            lines.append("  ".join(cells).rstrip())
        if self.skipped:
            lines.append("not counted: " + ", ".join(f"{n} ({t})" for n, t in self.skipped))
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.table()

    def to_json(self) -> str:
        return json.dumps({"layers": self.rows(), "skipped": [list(s) for s in self.skipped]},
                          indent=2, sort_keys=True) + "\n"


def _module_cost(module: Any, shape: tuple[int, ...]) -> Cost | None:
    import torch.nn as nn

    def pair(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v, v)

    if isinstance(module, nn.Conv2d):
        if module.padding_mode != "zeros":
            raise ValueError(
                f"count_module: {type(module).__name__} with padding_mode={module.padding_mode!r}: "
                "only zero padding is modelled"
            )
        padding = module.padding if isinstance(module.padding, str) else pair(module.padding)
        return conv2d_cost(shape, module.out_channels, pair(module.kernel_size), pair(module.stride),
                           padding, pair(module.dilation), module.groups, module.bias is not None)
    if isinstance(module, nn.ConvTranspose2d):
        return conv_transpose2d_cost(shape, module.out_channels, pair(module.kernel_size),
                                     pair(module.stride), pair(module.padding),
                                     pair(module.output_padding), pair(module.dilation),
                                     module.groups, module.bias is not None)
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        kind = "max" if isinstance(module, nn.MaxPool2d) else "avg"
        if kind == "avg" and module.divisor_override is not None:
            raise ValueError("count_module: AvgPool2d with divisor_override is not modelled")
        return pool2d_cost(shape, pair(module.kernel_size), pair(module.stride or module.kernel_size),
                           pair(module.padding), pair(getattr(module, "dilation", 1)),
                           bool(module.ceil_mode), kind,
                           bool(getattr(module, "count_include_pad", True)))
    if isinstance(module, nn.Linear):
        return linear_cost(shape, module.out_features, module.bias is not None)
    return None


def count_module(module: Any, input_shape: Sequence[int]) -> ModelCost:
    """Count a ``torch.nn.Module`` layer by layer, on a zero input of ``input_shape``.

    A forward hook on every leaf module records the input shape it sees; ``Conv2d``,
    ``ConvTranspose2d``, ``MaxPool2d``, ``AvgPool2d`` and ``Linear`` get their :class:`Cost`
    (each output shape is compared with the one torch produced), other leaf modules with
    parameters or work (BatchNorm, activations...) are listed as skipped.  A module called
    twice appears twice.  Needs torch.
    """
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is optional
        raise ImportError("count_module needs torch (pip install -e '.[crosscheck]')") from exc
    shape = tuple(int(v) for v in input_shape)
    seen: list[tuple[str, Any, tuple[int, ...], tuple[int, ...]]] = []
    handles = []
    for name, sub in module.named_modules():
        if any(True for _ in sub.children()):
            continue

        def hook(mod, args, output, name=name):
            x = args[0] if args else None
            if isinstance(x, torch.Tensor) and isinstance(output, torch.Tensor):
                seen.append((name, mod, tuple(x.shape), tuple(output.shape)))

        handles.append(sub.register_forward_hook(hook))
    try:
        with torch.no_grad():
            module(torch.zeros(shape))
    finally:
        for h in handles:
            h.remove()
    layers: list[tuple[str, Cost]] = []
    skipped: list[tuple[str, str]] = []
    for name, mod, in_shape, out_shape in seen:
        cost = _module_cost(mod, in_shape)
        if cost is None:
            skipped.append((name, type(mod).__name__))
            continue
        if tuple(int(v) for v in cost.output_shape) != out_shape:
            raise ConvsymError(
                f"count_module: {name}: computed output shape {cost.output_shape} but torch "
                f"produced {out_shape}"
            )
        layers.append((name, cost))
    return ModelCost(tuple(layers), tuple(skipped))


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
# the exported formulas: the closed forms above, built once from symbols


@dataclass(frozen=True)
class Formula:
    """One exported closed formula: ``expression`` over ``arguments`` (``(symbol, meaning)``
    pairs, in call order), proved by the theorem named ``theorem`` (``proofs/costs.py``)."""

    name: str
    description: str
    arguments: tuple[tuple[sympy.Symbol, str], ...]
    expression: sympy.Expr
    theorem: str
    conditions: tuple[str, ...] = ()


def _pos(names: str) -> tuple[sympy.Symbol, ...]:
    return sympy.symbols(names, integer=True, positive=True)


def _nonneg(names: str) -> tuple[sympy.Symbol, ...]:
    return sympy.symbols(names, integer=True, nonnegative=True)


_FORMULAS: tuple[Formula, ...] | None = None


def exported_formulas() -> tuple[Formula, ...]:
    """The formulas ``convsym build`` exports to ``generated/formulas/``, each built by calling
    the functions of this module (and :mod:`convsym.shapes`) on symbols, so the exported text is
    printed from the very expression the named theorem proves."""
    global _FORMULAS
    if _FORMULAS is not None:
        return _FORMULAS
    n, k, s, d = _pos("n k s d")
    p, p_l, p_r, o_p = _nonneg("p p_l p_r o_p")
    N, C_in, C_out, H, W, g = _pos("N C_in C_out H W g")
    k_h, k_w, s_h, s_w, d_h, d_w = _pos("k_h k_w s_h s_w d_h d_w")
    p_h, p_w = _nonneg("p_h p_w")
    e = sympy.Symbol("e", integer=True)
    m, R = _pos("m R")
    meaning = {
        n: "input size along the axis", k: "kernel size", s: "stride", d: "dilation",
        p: "padding on each side", p_l: "left (top) padding", p_r: "right (bottom) padding",
        o_p: "output_padding", N: "batch size", C_in: "input channels", C_out: "output channels",
        H: "input height", W: "input width", g: "groups (divides C_in and C_out)",
        k_h: "kernel height", k_w: "kernel width", s_h: "vertical stride", s_w: "horizontal stride",
        d_h: "vertical dilation", d_w: "horizontal dilation", p_h: "vertical padding (each side)",
        p_w: "horizontal padding (each side)", e: "number of leading positions (padding)",
        m: "number of windows", R: "rows (product of the leading input dimensions)",
    }

    def args(*syms):
        return tuple((sym, meaning[sym]) for sym in syms)

    conv_syms = (N, C_in, H, W, C_out, k_h, k_w, s_h, s_w, p_h, p_w, d_h, d_w, g)
    conv = conv2d_cost((N, C_in, H, W), C_out, (k_h, k_w), (s_h, s_w), (p_h, p_w), (d_h, d_w), g)
    conv_nb = conv2d_cost((N, C_in, H, W), C_out, (k_h, k_w), (s_h, s_w), (p_h, p_w), (d_h, d_w), g,
                          bias=False)
    conv_d1 = conv2d_cost((N, C_in, H, W), C_out, (k_h, k_w), (s_h, s_w), (p_h, p_w), 1, g)
    tconv = conv_transpose2d_cost((N, C_in, H, W), C_out, (k_h, k_w), (s_h, s_w), (p_h, p_w), 0, 1, g)
    avg = pool2d_cost((N, C_in, H, W), (k_h, k_w), (s_h, s_w), (p_h, p_w), kind="avg")
    left, right = same_padding(k, d)
    fit = ("the dilated kernel fits the padded input: d(k-1)+1 <= n + padding",)
    _FORMULAS = (
        Formula("conv_output_size", "Output size of a convolution along one axis (floor mode)",
                args(n, k, s, p_l, p_r, d), conv_output_size(n, k, s, (p_l, p_r), d),
                "costs.conv-output-size", fit),
        Formula("pool_output_size_ceil", "Output size of ceil-mode pooling along one axis "
                "(PyTorch drops a last window starting in the right padding)",
                args(n, k, s, p, d), conv_output_size(n, k, s, p, d, ceil_mode=True),
                "costs.ceil-mode", fit + ("2p <= k (PyTorch's pooling rule)",)),
        Formula("same_padding_left", "Padding='same': left (top) padding", args(k, d), left,
                "costs.same-padding"),
        Formula("same_padding_right", "Padding='same': right (bottom) padding, one more than the "
                "left when d(k-1) is odd", args(k, d), right, "costs.same-padding"),
        Formula("conv_transpose_output_size", "Output size of a transposed convolution along one axis",
                args(n, k, s, p, o_p, d), conv_transpose_output_size(n, k, s, p, o_p, d),
                "costs.transposed-output-size", ("o_p < max(s, d)",)),
        Formula("padding_taps", "(window, tap) pairs of m windows (dilation 1) that fall in the "
                "first e positions", args(e, k, s, m), padding_taps(e, k, s, 1, m),
                "costs.padding-taps"),
        Formula("conv2d_macs", "Conv2d MACs: every tap, bias excluded, whole batch",
                args(*conv_syms), conv.macs, "costs.conv2d-macs", fit),
        Formula("conv2d_params", "Conv2d parameters with a bias", args(C_in, C_out, k_h, k_w, g),
                conv.params, "costs.conv2d-params-flops"),
        Formula("conv2d_params_no_bias", "Conv2d parameters without a bias",
                args(C_in, C_out, k_h, k_w, g), conv_nb.params, "costs.conv2d-params-flops"),
        Formula("conv2d_flops", "Conv2d multiplications + additions with a bias (= 2 MACs)",
                args(*conv_syms), conv.flops, "costs.conv2d-params-flops", fit),
        Formula("conv2d_macs_without_padding", "Conv2d MACs whose input tap is not zero padding "
                "(dilation 1)", args(N, C_in, H, W, C_out, k_h, k_w, s_h, s_w, p_h, p_w, g),
                conv_d1.macs_without_padding, "costs.macs-without-padding", fit),
        Formula("conv2d_im2col_elements", "Elements of the im2col matrix N H_out W_out x C_in k_h k_w",
                args(N, C_in, H, W, k_h, k_w, s_h, s_w, p_h, p_w, d_h, d_w), conv.im2col_elements,
                "costs.memory", fit),
        Formula("conv2d_output_elements", "Elements of the conv2d output",
                args(N, H, W, C_out, k_h, k_w, s_h, s_w, p_h, p_w, d_h, d_w), conv.output_elements,
                "costs.memory", fit),
        Formula("conv2d_backward_macs", "Conv2d backward MACs: grad wrt input + grad wrt weights",
                args(*conv_syms), conv.backward_macs, "costs.backward", fit),
        Formula("conv_transpose2d_macs", "Transposed conv MACs (every input times every weight of "
                "its group)", args(N, C_in, H, W, C_out, k_h, k_w, g), tconv.macs,
                "costs.conv-transpose-macs"),
        Formula("avg_pool2d_flops", "Average pooling additions and divisions (floor mode), equal to "
                "the MACs of the depthwise conv it is",
                args(N, C_in, H, W, k_h, k_w, s_h, s_w, p_h, p_w), avg.flops, "costs.pooling",
                ("2p <= k (PyTorch's pooling rule)",)),
        Formula("linear_macs", "Linear layer MACs", args(R, C_in, C_out),
                linear_cost((R, C_in), C_out).macs, "costs.linear-and-1x1"),
    )
    return _FORMULAS
