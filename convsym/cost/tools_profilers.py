"""What torchinfo, DeepSpeed's flops profiler and torch's FlopCounterMode report (see :mod:`convsym.cost.tools`)."""

from __future__ import annotations

from math import prod

from convsym.cost.tools_common import (
    Contribution,
    ToolCount,
    _elementwise,
    _first_tensor,
    _interpolate,
    _numel,
    _params,
)
from convsym.cost.trace import CallEvent, ModuleEvent, OpEvent, TensorInfo, Trace

__all__ = ["deepspeed", "torch", "torchinfo"]


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
