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
from dataclasses import dataclass
from math import prod

from convsym.cost.trace import CallEvent, ModuleEvent, OpEvent, TensorInfo, Trace

__all__ = ["TOOL_COUNTERS", "Contribution", "ToolCount", "count_tool"]


@dataclass(frozen=True)
class Contribution:
    """One figure a tool adds: attributed to module event ``module``, from ``source`` (a
    module type, a patched function or an ATen operator); ``note`` names a known deviation."""

    module: int | None
    source: str
    value: int | float
    macs: int | None = None
    note: str = ""


@dataclass(frozen=True)
class ToolCount:
    """A tool's figures for a whole model (``value`` is what its API returns)."""

    tool: str
    quantity: str
    value: int
    params: int | None
    macs: int | None
    contributions: tuple[Contribution, ...]


def _nn(ev: ModuleEvent | str | None) -> str | None:
    """The class name of a ``torch.nn`` module (None for other classes)."""
    qualname = ev.qualname if isinstance(ev, ModuleEvent) else ev
    if qualname and qualname.startswith("torch.nn.modules."):
        return qualname.rsplit(".", 1)[1]
    return None


def _first_tensor(value) -> TensorInfo | None:
    if isinstance(value, TensorInfo):
        return value
    if isinstance(value, tuple):
        for v in value:
            t = _first_tensor(v)
            if t is not None:
                return t
    return None


def _numel(t) -> int:
    return t.numel if isinstance(t, TensorInfo) else 0


def _params(trace: Trace, grad_only: bool = False) -> int:
    return sum(p.numel for p in trace.parameters if not p.buffer and (p.requires_grad or not grad_only))


def _children_of(trace: Trace) -> dict[int | None, list[ModuleEvent]]:
    out: dict[int | None, list[ModuleEvent]] = {}
    for m in trace.modules:
        out.setdefault(m.parent, []).append(m)
    return out


def _ancestors(path: str) -> list[str]:
    parts = path.split(".") if path else []
    return [""] + [".".join(parts[:i]) for i in range(1, len(parts))] if parts else []


# ---------------------------------------------------------------------------------------------
# fvcore


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


# ---------------------------------------------------------------------------------------------
# ptflops


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


def _elementwise(a, b) -> int:
    if not isinstance(a, TensorInfo):
        return b.numel if isinstance(b, TensorInfo) else 1
    if not isinstance(b, TensorInfo):
        return a.numel
    n = max(len(a.shape), len(b.shape))
    # ptflops lines the shapes up from the first dimension (not numpy's trailing alignment)
    shape = [max(a.shape[i] if i < len(a.shape) else 1, b.shape[i] if i < len(b.shape) else 1) for i in range(n)]
    return prod(shape)


def _interpolate(c: CallEvent, per_channel: bool) -> int:
    x = c.args[0]
    size = c.kwarg("size", 1)
    spatial = len(x.shape) - 2
    if size is not None:
        flops = prod(size) if isinstance(size, tuple) else size ** spatial
        return flops * (prod(x.shape[:2]) if per_channel else 1)
    scale = c.kwarg("scale_factor", 2)
    if isinstance(scale, tuple):
        return int(x.numel * prod(scale))
    return int(x.numel * scale ** spatial)


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


# ---------------------------------------------------------------------------------------------
# thop


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


# ---------------------------------------------------------------------------------------------
# torchinfo


def _own_parameters(trace: Trace, path: str) -> list:
    return [p for p in trace.parameters if not p.buffer and p.owner == path]


def torchinfo(trace: Trace) -> ToolCount:
    out = []
    events = {m.index: m for m in trace.modules}
    repeated = set()
    seen_paths: set[str] = set()
    for m in trace.modules:
        if m.path in seen_paths:
            repeated.add(m.index)  # LayerInfo.is_recursive: the module ran before
        seen_paths.add(m.path)
    descendants: dict[int, list[ModuleEvent]] = {m.index: [] for m in trace.modules}
    for m in trace.modules:
        parent = m.parent
        while parent is not None:
            descendants[parent].append(m)
            parent = events[parent].parent
    leftover: dict[int, int] = {}

    def rest(m: ModuleEvent) -> int:
        # LayerInfo.leftover_params: its parameters minus those of every layer listed below it
        # (all descendants, not only children; recursive ones skipped)
        if m.index not in leftover:
            held = sum(trace.params_under(d.path) if d.is_leaf else rest(d)
                       for d in descendants[m.index] if d.index not in repeated)
            leftover[m.index] = trace.params_under(m.path) - held
        return leftover[m.index]

    seen: set[str] = set()
    params = 0
    for m in trace.modules:
        recursive = m.path in seen
        seen.add(m.path)
        y = _first_tensor(m.output)
        if m.is_leaf:
            total, note = 0, ""
            for p in _own_parameters(trace, m.path):
                name = p.name.rsplit(".", 1)[-1]
                if name in ("weight", "bias"):
                    if "Conv" in m.type:
                        total += p.numel * y.shape[0] * prod(y.shape[2:])
                        if "Transpose" in m.type:
                            note = "torchinfo: a transposed conv counts its weights at every output position"
                    else:
                        total += y.shape[0] * p.numel
                        if len(y.shape) > 2 and m.type == "Linear":
                            note = "torchinfo: a Linear on a >2-D input counts only output_shape[0] rows"
                elif "weight" in name or "bias" in name:
                    total += prod(y.shape[:2]) * p.numel
            out.append(Contribution(m.index, m.type, total, note=note))
            if not recursive:
                params += trace.params_under(m.path)
        elif not recursive:
            params += max(rest(m), 0)
    return ToolCount("torchinfo", "Mult-Adds", sum(int(x.value) for x in out), params, None, tuple(out))


# ---------------------------------------------------------------------------------------------
# DeepSpeed


def _deepspeed_conv(c: CallEvent) -> tuple[int, int]:
    x, w = c.args[0], c.args[1]
    bias = c.kwarg("bias", 2)
    stride, padding, dilation = c.kwarg("stride", 3, 1), c.kwarg("padding", 4, 0), c.kwarg("dilation", 5, 1)
    groups = c.kwarg("groups", 6, 1)
    n = len(x.shape) - 2
    strides = stride if isinstance(stride, tuple) else (stride,) * n
    dilations = dilation if isinstance(dilation, tuple) else (dilation,) * n
    kernel = w.shape[2:]
    if isinstance(padding, str):
        pads = (0,) * n if padding == "valid" else tuple(d * (k - 1) // 2
                                                         for d, k in zip(dilations, kernel, strict=True))
    else:
        pads = padding if isinstance(padding, tuple) else (padding,) * n
    out = [(size + 2 * p - (d * (k - 1) + 1)) // s + 1
           for size, p, d, k, s in zip(x.shape[2:], pads, dilations, kernel, strides, strict=True)]
    active = x.shape[0] * prod(out)
    macs = prod(kernel) * x.shape[1] * (w.shape[0] // groups) * active
    return 2 * macs + (w.shape[0] * active if bias is not None else 0), macs


def _deepspeed_tconv(c: CallEvent) -> tuple[int, int]:
    x, w = c.args[0], c.args[1]
    bias = c.kwarg("bias", 2)
    groups = c.kwarg("groups", 6, 1)
    out = _first_tensor(c.output)
    macs = prod(w.shape[2:]) * x.shape[1] * w.shape[1] * x.shape[0] * prod(x.shape[2:])
    return 2 * macs + (w.shape[1] * groups * x.shape[0] * prod(out.shape[2:]) if bias is not None else 0), macs


_DEEPSPEED_NUMEL = {f"F.{n}" for n in ("relu", "prelu", "elu", "leaky_relu", "relu6", "silu", "gelu", "softmax")} | {
    f"F.{kind}_pool{d}d" for kind in ("avg", "max", "adaptive_avg", "adaptive_max") for d in (1, 2, 3)}


def _deepspeed_call(c: CallEvent) -> tuple[int, int, str] | None:
    name = c.name
    if name in _DEEPSPEED_NUMEL:
        return _numel(c.args[0]), 0, ""
    if name == "F.linear":
        macs = _numel(c.args[0]) * c.args[1].shape[0]
        return 2 * macs, macs, ""
    if name in ("F.conv1d", "F.conv2d", "F.conv3d"):
        flops, macs = _deepspeed_conv(c)
        odd = c.kwarg("padding", 4) == "same" and any(
            d * (k - 1) % 2 for d, k in zip(_tuple(c.kwarg("dilation", 5, 1), len(c.args[1].shape) - 2),
                                            c.args[1].shape[2:], strict=True))
        return flops, macs, "deepspeed: padding='same' with an odd d(k-1) is counted one output row/column short" \
            if odd else ""
    if name in ("F.conv_transpose1d", "F.conv_transpose2d", "F.conv_transpose3d"):
        flops, macs = _deepspeed_tconv(c)
        return flops, macs, ""
    if name == "F.batch_norm":
        affine = c.kwarg("weight", 3) is not None
        if c.kwarg("training", 5, False):
            return _numel(c.args[0]) * (5 if affine else 4), 0, "deepspeed: batch norm in train mode"
        return _numel(c.args[0]) * (2 if affine else 1), 0, ""
    if name in ("F.layer_norm", "F.group_norm"):
        return _numel(c.args[0]) * (5 if c.kwarg("weight", 2) is not None else 4), 0, ""
    if name == "F.instance_norm":
        return _numel(c.args[0]) * (5 if c.kwarg("weight", 3) is not None else 4), 0, ""
    if name in ("F.upsample", "F.interpolate"):
        return _interpolate(c, per_channel=False), 0, ""
    if name == "F.embedding":
        return 0, 0, ""
    if name == "F.scaled_dot_product_attention":
        q, k, v = c.args[0], c.args[1], c.args[2]
        macs = q.numel * k.shape[-2] + prod(q.shape[:-1]) * k.shape[-2] * v.shape[-1]
        return 2 * macs, macs, ""
    if name in ("torch.matmul", "Tensor.matmul", "Tensor.__matmul__", "torch.mm", "Tensor.mm", "torch.bmm",
                "Tensor.bmm"):
        macs = _numel(c.args[0]) * c.args[1].shape[-1]
        note = "deepspeed: a @ b is counted twice (Tensor.__matmul__ and torch.matmul)" \
            if name == "Tensor.__matmul__" else ""
        return 2 * macs, macs, note
    if name in ("torch.addmm", "Tensor.addmm", "torch.baddbmm"):
        macs = _numel(c.args[1]) * c.args[2].shape[-1]
        return 2 * macs + _numel(c.args[0]), macs, ""
    if name in ("torch.mul", "Tensor.mul", "torch.add", "Tensor.add"):
        a, b = c.args[0], c.args[1] if len(c.args) > 1 else c.kwarg("other")
        if isinstance(a, TensorInfo) and isinstance(b, TensorInfo):
            return _broadcast_numel(a, b), 0, ""
        return _elementwise(a, b), 0, ""
    if name == "torch.einsum":
        raise ValueError("deepspeed: torch.einsum is counted by numpy.einsum_path, which convsym does not model")
    return None


def _tuple(value, n: int) -> tuple:
    return value if isinstance(value, tuple) else (value,) * n


def _broadcast_numel(a: TensorInfo, b: TensorInfo) -> int:
    n = max(len(a.shape), len(b.shape))
    sa, sb = (1,) * (n - len(a.shape)) + a.shape, (1,) * (n - len(b.shape)) + b.shape
    return prod(max(x, y) for x, y in zip(sa, sb, strict=True))


def deepspeed(trace: Trace) -> ToolCount:
    out = []
    for c in trace.calls:
        if c.module is None:
            continue  # outside every module: no frame to add it to
        got = _deepspeed_call(c)
        if got is not None:
            out.append(Contribution(c.module, c.name, got[0], got[1], got[2]))
    return ToolCount("deepspeed", "flops", sum(x.value for x in out), _params(trace),
                     sum(x.macs or 0 for x in out), tuple(out))


# ---------------------------------------------------------------------------------------------
# torch.utils.flop_counter.FlopCounterMode


def _torch_op(ev: OpEvent) -> int | None:
    name = ev.op.split("::")[-1]
    if name in ("mm", "bmm"):
        a, b = ev.args[0], ev.args[1]
        return 2 * prod(a.shape) * b.shape[-1]
    if name in ("addmm", "baddbmm"):
        a, b = ev.args[1], ev.args[2]
        return 2 * prod(a.shape) * b.shape[-1]
    if name in ("convolution", "_convolution"):
        x, w, transposed = ev.args[0], ev.args[1], ev.args[6]
        out = ev.outputs[0]
        spatial = x.shape[2:] if transposed else out.shape[2:]
        return 2 * x.shape[0] * prod(w.shape) * prod(spatial)
    return None


def torch(trace: Trace) -> ToolCount:
    sdpa = {c.index for c in trace.calls if c.name == "F.scaled_dot_product_attention"}
    out = []
    for ev in trace.ops:
        value = _torch_op(ev)
        if value is None:
            continue
        if ev.call in sdpa:
            # on CPU the call runs _scaled_dot_product_flash_attention_for_cpu (no formula);
            # the bmm seen here are the meta device's decomposition of it
            out.append(Contribution(ev.module, ev.op, 0, note="torch: scaled_dot_product_attention on CPU "
                                    "has no FlopCounterMode formula, counted 0"))
            continue
        grouped = ev.op.endswith("convolution") and ev.args[8] != 1
        out.append(Contribution(ev.module, ev.op, value, note="torch: the backward weight gradient of a grouped "
                                "conv is counted groups times" if grouped else ""))
    return ToolCount("torch", "flops", sum(x.value for x in out), None, None, tuple(out))


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
