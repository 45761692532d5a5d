"""The cost records: :class:`LayerSpec`, :class:`Cost` (every figure of one layer),
:class:`Reported` (one tool's figure), the dtypes and tool versions, and their text forms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from convsym.cost.units import Size
from convsym.cost.units import is_symbolic as _symbolic
from convsym.dtypes import DTYPE_SIZES, TOOL_VERSIONS, TOOLS  # noqa: F401  (re-exported)
from convsym.lazy_sympy import sympy


def _clean(value: Size) -> Size:
    """Python ints stay ints; SymPy integers become ints; other expressions stay."""
    if _symbolic(value) and isinstance(value, sympy.Integer):
        return int(value)
    return value






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
        from convsym.cost.conventions import _TOOL_RULES, _UNCOUNTED_WHY

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


