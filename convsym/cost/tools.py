r"""What each counting tool reports for a whole model, modelled from a recorded forward pass.

Each function here takes a :class:`~convsym.cost.trace.Trace` and returns a
:class:`ToolCount`: the tool's total, its parameter count and the contributions it adds up,
each attributed to the module event the tool would attribute it to.  The rules are read from
the tools' source at the versions in :data:`convsym.cost.TOOL_VERSIONS` and are checked
against the real tools on nine architectures (``tests/crosscheck/test_model_tools.py``).

How each tool sees a model (and where it is order- or mode-dependent):

``fvcore`` (``FlopCountAnalysis(model, x).total()``)
    a JIT trace; only the operators in ``_DEFAULT_SUPPORTED_OPS`` count: convolutions
    (``N prod(w) prod(out spatial)``, transposed: the input spatial), ``linear``
    (``numel(x) out``), ``matmul``/``mm``/``bmm``/``addmm``, ``batch_norm`` in eval
    (``numel (2 if affine else 1)``), ``layer_norm``/``group_norm`` (``numel (5 if affine else
    4)``), ``instance_norm``, ``adaptive_avg_pool2d`` (input elements), nearest/bilinear
    upsampling (1/4 per output).  Everything else (activations, adds, ``cat``, max/avg
    pooling, ``mean``, ``scaled_dot_product_attention``, a conv with string padding) counts 0
    with a warning.  Params: every parameter once (no buffers).
``ptflops`` (``get_model_complexity_info``, pytorch backend)
    module hooks on exact types (``MODULES_MAPPING``), summed over the module tree and divided
    by the batch size, *plus* patched functionals and tensor methods (``F.relu``, pooling,
    ``F.softmax``, ``F.interpolate``, ``torch.matmul``, ``torch.add``, ``Tensor.add``...)
    counted on every call, nested calls included, not divided.  ``nn.ReLU`` calls ``F.relu``
    and ``nn.MaxPool2d`` calls ``F.max_pool2d``, so these modules are counted twice;
    ``nn.ReLU6``, ``nn.Hardswish``, ``nn.Sigmoid``, ``nn.Hardsigmoid`` are not counted,
    ``nn.SiLU`` only through ``F.silu``.  ``x + y`` and ``x * y`` are not seen (only
    ``torch.add``/``Tensor.add`` calls are).  LayerNorm counts ``numel`` (its affine flag is
    named ``elementwise_affine``; ptflops looks for ``affine``).  Params: parameters with
    ``requires_grad``.
``thop`` (``profile``)
    module hooks on exact types (``register_hooks``); the model tree is walked from the root and
    stops at the first registered module that is not a ``Sequential``; a registered module's
    parameters count only if it ran, parameters of unregistered modules (a ViT's
    ``cls_token``, ``pos_embed``) are never counted.  Conv: ``numel(out) (C_in/g) k_h k_w``;
    BatchNorm/LayerNorm/InstanceNorm: ``2 numel``, doubled with an affine map; AvgPool:
    ``numel(out)``; AdaptiveAvgPool: ``int((prod(in/out) + 1) numel(out))`` in floating
    point; Linear: ``in_features numel(out)``; Softmax ``rows (3n - 1)``; ReLU, ReLU6,
    MaxPool, Dropout: 0; unregistered modules (Hardswish, SiLU, Sigmoid, GELU...) and every
    functional call: 0.
``torchinfo`` (``summary(...).total_mult_adds``)
    leaf modules only, per call, from their parameters: a parameter named ``weight``/``bias``
    adds ``numel(p) N H_out W_out`` in a class named ``*Conv*``, else ``numel(p)
    output_shape[0]`` (BatchNorm ``2 C N``, a Linear on ``(B, T, D)`` only ``B params``).
    Params: each module once (recursive calls not again), a non-leaf module's own parameters
    included.
``deepspeed`` (``get_model_profile``; ``value`` FLOPs, ``macs`` MACs)
    patched functionals and tensor methods only, every call inside the model, nested calls
    included: ``F.linear`` ``2 numel(x) out`` (bias ignored), conv ``2 macs + bias``,
    activations and pooling ``numel(x)``, batch norm in eval ``numel (2 if affine else 1)``,
    layer/group/instance norm ``numel (5 if affine else 4)``, softmax ``numel``,
    ``scaled_dot_product_attention`` ``2 (numel(q) S_k + numel(q)/d S_k d_v)``,
    matmul-family ``2 numel(a) b[-1]``, ``torch.add``/``mul`` and ``Tensor.add``/``mul`` the
    broadcast numel.  ``a @ b`` is counted twice (``Tensor.__matmul__`` and the
    ``torch.matmul`` it calls are both patched).  Params: every parameter once.
``torch`` (``FlopCounterMode``, CPU)
    ATen operators with a registered formula: ``mm``/``addmm``/``bmm``/``baddbmm`` ``2 n k m``
    (bias ignored), convolutions ``2 macs``; on CPU ``scaled_dot_product_attention`` runs
    ``_scaled_dot_product_flash_attention_for_cpu``, which has no formula: 0.  No params.

``nn.MultiheadAttention``: on CPU, in eval mode without grad, PyTorch runs it as one
``_native_multi_head_attention`` operator (its fast path; the meta device takes the slow path),
which fvcore, DeepSpeed and FlopCounterMode count as 0: :func:`count_tool` raises ValueError
for those three on such a model rather than give the slow path's figure; ptflops' module hook
(``multihead_attention_counter_hook``), thop and torchinfo are modelled.

Order and mode: every tool counts one forward pass of the model in eval mode (ptflops,
DeepSpeed and thop switch to eval themselves; fvcore, torchinfo and FlopCounterMode count
the mode they are given: BatchNorm in train mode costs fvcore and DeepSpeed ``5 numel``).
ptflops and DeepSpeed patch ``torch.nn.functional`` globally while they run: nested or
concurrent profiling in another thread changes their totals.  thop's parameter count depends
on which modules ran.  Totals are deterministic otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod

from convsym.cost.tools_common import (
    Contribution,
    ToolCount,
    _ancestors,
    _elementwise,
    _first_tensor,
    _interpolate,
    _nn,
    _numel,
    _params,
)
from convsym.cost.tools_profilers import deepspeed, torch, torchinfo
from convsym.cost.trace import CallEvent, ModuleEvent, TensorInfo, Trace

__all__ = ["TOOL_COUNTERS", "Contribution", "ToolCount", "count_tool"]


def _conv_jit(x: TensorInfo, w: TensorInfo, out: TensorInfo, transposed: bool) -> int:
    spatial = x.shape[2:] if transposed else out.shape[2:]
    return x.shape[0] * prod(w.shape) * prod(spatial)


def _fvcore_call(c: CallEvent) -> tuple[int, str] | None:
    name = c.name
    out = _first_tensor(c.output)
    if name in ("F.conv1d", "F.conv2d", "F.conv3d", "F.conv_transpose1d", "F.conv_transpose2d",
                "F.conv_transpose3d"):
        if isinstance(c.kwarg("padding", 4), str):
            return 0, "fvcore: padding given as a string traces to aten::_convolution_mode, not counted"
        return _conv_jit(c.args[0], c.args[1], out, "transpose" in name), ""
    if name == "F.linear":
        return _numel(c.args[0]) * c.args[1].shape[0], ""
    if name in ("torch.matmul", "Tensor.matmul", "Tensor.__matmul__", "torch.mm", "Tensor.mm"):
        return _numel(c.args[0]) * c.args[1].shape[-1], ""
    if name in ("torch.bmm", "Tensor.bmm"):
        a, b = c.args[0], c.args[1]
        return a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2], ""
    if name in ("torch.addmm", "Tensor.addmm"):
        a, b = c.args[1], c.args[2]
        return a.shape[0] * a.shape[1] * b.shape[1], ""
    if name == "F.batch_norm":
        x, weight, training = c.args[0], c.kwarg("weight", 3), c.kwarg("training", 5, False)
        if training:
            return _numel(x) * (5 if weight is not None else 4), "fvcore: batch norm in train mode"
        return _numel(x) * (2 if weight is not None else 1), ""
    if name in ("F.layer_norm", "F.group_norm"):
        return _numel(c.args[0]) * (5 if c.kwarg("weight", 2) is not None else 4), ""
    if name == "F.instance_norm":
        return _numel(c.args[0]) * (5 if c.kwarg("weight", 3) is not None else 4), ""
    if name == "F.adaptive_avg_pool2d":
        return _numel(c.args[0]), ""
    if name in ("F.interpolate", "F.upsample"):
        mode = c.kwarg("mode", 3, "nearest")
        if mode == "nearest":
            return _numel(out), ""
        if mode == "bilinear":
            return 4 * _numel(out), ""
        return 0, f"fvcore: upsampling mode {mode!r} is not counted"
    if name == "F.scaled_dot_product_attention":
        return 0, "fvcore: aten::scaled_dot_product_attention is unsupported, counted 0"
    return None


def fvcore(trace: Trace) -> ToolCount:
    has_child = {c.parent for c in trace.calls if c.parent is not None}
    out = []
    for c in trace.calls:
        if c.index in has_child:
            continue  # the traced graph records the innermost call (a @ b -> aten::matmul once)
        got = _fvcore_call(c)
        if got is not None:
            out.append(Contribution(c.module, c.name, got[0], note=got[1]))
    return ToolCount("fvcore", "flops", sum(int(x.value) for x in out), _params(trace), None, tuple(out))


_PTFLOPS_ACTIVATIONS = {"ReLU", "PReLU", "ELU", "LeakyReLU", "ReLU6", "GELU"}


_PTFLOPS_POOLS = {f"{kind}Pool{d}d" for kind in ("Max", "Avg", "AdaptiveMax", "AdaptiveAvg") for d in (1, 2, 3)}


_PTFLOPS_NORMS = {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d",
                  "InstanceNorm3d", "GroupNorm", "LayerNorm"}


_PTFLOPS_CONVS = {"Conv1d", "Conv2d", "Conv3d"}


_PTFLOPS_TCONVS = {"ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"}


_PTFLOPS_MODULES = (_PTFLOPS_ACTIVATIONS | _PTFLOPS_POOLS | _PTFLOPS_NORMS | _PTFLOPS_CONVS | _PTFLOPS_TCONVS
                    | {"Linear", "Upsample", "MultiheadAttention", "RNN", "GRU", "LSTM", "RNNCell", "LSTMCell",
                       "GRUCell"})


def _ptflops_module(m: ModuleEvent) -> tuple[int, str]:
    kind = _nn(m)
    x, y = _first_tensor(m.inputs), _first_tensor(m.output)
    if kind in _PTFLOPS_CONVS or kind in _PTFLOPS_TCONVS:
        k = prod(m.attr("kernel_size"))
        per_position = k * m.attr("in_channels") * (m.attr("out_channels") // m.attr("groups"))
        spatial = x.shape[2:] if kind in _PTFLOPS_TCONVS else y.shape[2:]
        bias = x.shape[0] * prod(y.shape[1:]) if m.attr("has_bias") else 0
        return per_position * x.shape[0] * prod(spatial) + bias, ""
    if kind in _PTFLOPS_ACTIVATIONS:
        twice = kind in ("ReLU", "GELU", "ELU", "PReLU")  # their forward calls a patched functional
        return _numel(y), "ptflops: counted by the module hook and again by the patched functional" if twice else ""
    if kind in _PTFLOPS_POOLS:
        return _numel(x), "ptflops: counted by the module hook and again by the patched functional"
    if kind in _PTFLOPS_NORMS:
        affine = bool(m.attr("affine", False))
        note = "ptflops: LayerNorm's affine map is not counted (it reads .affine)" if kind == "LayerNorm" else ""
        return _numel(x) * (2 if affine else 1), note
    if kind == "Linear":
        bias = y.shape[-1] if m.attr("has_bias") else 0
        return (x.shape[-1] * y.shape[-1] + bias) * prod(x.shape[:-1]), ""
    if kind == "Upsample":
        return prod(y.shape[1:]), "ptflops: nn.Upsample counts the elements of output[0], one sample"
    if kind == "MultiheadAttention":
        return _ptflops_attention(m), ""
    raise ValueError(f"ptflops: module type {kind} is not modelled by convsym")


def _ptflops_attention(m: ModuleEvent) -> int:
    # multihead_attention_counter_hook: projections, scaling, QK^T, softmax, AV, output
    # projection, for the (query, key, value) given positionally
    q, k, v = m.inputs[:3]
    batch_first = bool(m.attr("batch_first", False))
    batch, at = (q.shape[0], 1) if batch_first else (q.shape[1], 0)
    qdim, kdim, vdim = q.shape[2], k.shape[2], v.shape[2]
    qlen, klen, vlen = q.shape[at], k.shape[at], v.shape[at]
    heads = m.attr("num_heads")
    flops = qlen * qdim + qlen * qdim * qdim + klen * kdim * kdim + vlen * vdim * vdim
    if m.attr("has_in_proj_bias"):
        flops += (qlen + klen + vlen) * qdim
    flops += heads * (qlen * klen * (qdim // heads) + qlen * klen + qlen * klen * (vdim // heads))
    flops += qlen * vdim * (vdim + 1)
    return flops * batch


_PTFLOPS_NUMEL = {f"F.{n}" for n in ("relu", "prelu", "elu", "relu6", "gelu", "silu", "softmax")} | {
    f"F.{kind}_pool{d}d" for kind in ("avg", "max", "adaptive_avg", "adaptive_max") for d in (1, 2, 3)}


def _ptflops_call(c: CallEvent) -> int | None:
    if c.name in _PTFLOPS_NUMEL:
        return _numel(c.args[0])
    if c.name in ("F.upsample", "F.interpolate"):
        return _interpolate(c, per_channel=True)
    if c.name in ("torch.matmul", "Tensor.matmul", "torch.mm", "Tensor.mm", "torch.bmm", "Tensor.bmm"):
        return _numel(c.args[0]) * c.args[1].shape[-1]
    if c.name in ("torch.addmm", "torch.baddbmm", "Tensor.addmm"):
        mat1, mat2 = c.args[1], c.args[2]
        beta = c.kwarg("beta", None, 1)
        return _numel(mat1) * mat2.shape[-1] + (_numel(c.args[0]) if beta != 0 else 0)
    if c.name in ("torch.mul", "Tensor.mul", "torch.add", "Tensor.add"):
        return _elementwise(c.args[0], c.args[1] if len(c.args) > 1 else c.kwarg("other"))
    return None


def _supported_roots(trace: Trace, supported: Callable[[str | None], bool]) -> set[str]:
    """Paths of supported modules with no supported ancestor (the tools stop descending there)."""
    qualnames = dict(trace.structure)
    return {path for path, qualname in trace.structure
            if supported(qualname) and not any(supported(qualnames.get(a)) for a in _ancestors(path))}


def ptflops(trace: Trace) -> ToolCount:
    counted = _supported_roots(trace, lambda q: _nn(q) in _PTFLOPS_MODULES)
    batch = len(trace.input.shape) and trace.input.shape[0]
    modules = []
    for m in trace.modules:
        if m.path in counted:
            value, note = _ptflops_module(m)
            modules.append(Contribution(m.index, _nn(m), value, note=note))
    calls = []
    for c in trace.calls:
        value = _ptflops_call(c)
        if value is not None:
            calls.append(Contribution(c.module, c.name, value))
    module_total = sum(x.value for x in modules)
    # module figures are divided by the batch counter, functional ones are not
    scaled = tuple(Contribution(x.module, x.source, x.value / batch, note=x.note) for x in modules)
    total = int(module_total / batch + sum(x.value for x in calls))
    return ToolCount("ptflops", "MACs", total, _params(trace, grad_only=True), None, scaled + tuple(calls))


_THOP_ZERO = {"ZeroPad2d", "ReLU", "ReLU6", "LeakyReLU", "MaxPool1d", "MaxPool2d", "MaxPool3d",
              "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "Dropout", "Sequential",
              "PixelShuffle"}


_THOP_NORMS = {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "InstanceNorm1d", "InstanceNorm2d",
               "InstanceNorm3d", "SyncBatchNorm"}


_THOP_MODULES = (_THOP_ZERO | _THOP_NORMS | _PTFLOPS_CONVS | _PTFLOPS_TCONVS
                 | {"PReLU", "Softmax", "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d",
                    "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "Linear", "Upsample", "UpsamplingBilinear2d",
                    "UpsamplingNearest2d", "RNNCell", "GRUCell", "LSTMCell", "RNN", "GRU", "LSTM"})


def _thop_module(m: ModuleEvent) -> int | float:
    """What thop's hook adds for one call of ``m`` (see the module docstring)."""
    kind = _nn(m)
    x, y = _first_tensor(m.inputs), _first_tensor(m.output)
    if kind in _THOP_ZERO:
        return 0
    if kind in _PTFLOPS_CONVS or kind in _PTFLOPS_TCONVS:
        k = prod(m.attr("kernel_size"))
        return y.numel * (x.shape[1] // m.attr("groups")) * k
    if kind in _THOP_NORMS:
        affine = bool(m.attr("affine", False) or m.attr("elementwise_affine", False))
        return 2 * x.numel * (2 if affine else 1)
    if kind == "PReLU":
        return x.numel
    if kind == "Softmax":
        n = x.shape[m.attr("dim")]
        return (x.numel // n) * (3 * n - 1)
    if kind in ("AvgPool1d", "AvgPool2d", "AvgPool3d"):
        return y.numel
    if kind.startswith("AdaptiveAvgPool"):
        kernel = 1.0
        for a, b in zip(x.shape[2:], y.shape[2:], strict=True):
            kernel *= float(a) / float(b)
        return int((kernel + 1) * y.numel)
    if kind == "Linear":
        return m.attr("in_features") * y.numel
    if kind in ("Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"):
        factor = {"nearest": 1, "linear": 5, "bilinear": 11, "bicubic": 224 + 35, "trilinear": 13 * 2 + 5}
        return y.numel * factor.get(m.attr("mode"), 0) if m.attr("mode") != "trilinear" else 0
    raise ValueError(f"thop: module type {kind} is not modelled by convsym")


def thop(trace: Trace) -> ToolCount:
    # dfs_count walks named_children from the root: it takes a registered module's figures and
    # stops there, unless it is a Sequential (registered with zero ops), which it descends
    stops = {p for p, q in trace.structure if p and _nn(q) in _THOP_MODULES and _nn(q) != "Sequential"}
    counted = {p for p in stops if not any(a in stops for a in _ancestors(p))}
    if _nn(dict(trace.structure).get("")) in _THOP_MODULES:
        counted.add("")
    out, ran = [], set()
    for m in trace.modules:
        if m.path in counted:
            ran.add(m.path)
            note = "thop: a transposed conv is counted with the forward-conv formula on its output" \
                if _nn(m) in _PTFLOPS_TCONVS else ""
            out.append(Contribution(m.index, _nn(m), _thop_module(m), note=note))
    params = sum(trace.params_under(p) for p in ran if p)
    lost = _params(trace) - params
    contributions = tuple(out)
    if lost:
        contributions += (Contribution(None, "parameters", 0, note=f"thop: {lost:,} parameters of "
                                       "unregistered modules (or of modules that did not run) are not counted"),)
    return ToolCount("thop", "total_ops", int(sum(x.value for x in out)), params, None, contributions)


TOOL_COUNTERS: dict[str, Callable[[Trace], ToolCount]] = {
    "fvcore": fvcore, "ptflops": ptflops, "thop": thop, "torchinfo": torchinfo, "deepspeed": deepspeed,
    "torch": torch,
}


def count_tool(trace: Trace, tool: str) -> ToolCount:
    """``tool``'s figures for the traced model.

    ValueError for an unknown tool, or for a model this module cannot model the tool on: an
    ``nn.MultiheadAttention`` for fvcore, DeepSpeed and FlopCounterMode (on CPU, in eval mode
    without grad, PyTorch may run it as one ``_native_multi_head_attention`` operator, its fast
    path, which the meta device never takes), a module or function whose rule is not modelled.
    """
    if tool not in TOOL_COUNTERS:
        raise ValueError(f"total_reported_by: unknown tool {tool!r}; valid tools: {', '.join(TOOL_COUNTERS)}")
    if tool in ("fvcore", "deepspeed", "torch") and any(_nn(m) == "MultiheadAttention" for m in trace.modules):
        raise ValueError(f"{tool}: nn.MultiheadAttention is not modelled (on CPU, in eval mode without grad, "
                         "PyTorch may run it as one _native_multi_head_attention operator, which the meta "
                         "device never takes)")
    return TOOL_COUNTERS[tool](trace)
