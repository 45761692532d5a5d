"""Record one forward pass of a ``torch.nn.Module`` on the ``meta`` device, at three levels.

* **modules**: every module call (global forward pre/post hooks), with its input and output
  shapes: what module-hook tools (thop, torchinfo, ptflops) see;
* **calls**: every call of a public torch function that a counting tool patches
  (``F.relu``, ``torch.matmul``, ``Tensor.add``...; :data:`PROBED`), nested calls included:
  what function-patching tools (ptflops, DeepSpeed) see, and the entry points fvcore's trace
  records;
* **ops**: every ATen operator (a ``TorchDispatchMode``), after PyTorch's own decompositions:
  what ``FlopCounterMode`` sees and what convsym counts.

Each call and op remembers the innermost module running it and the innermost probed call
around it.  Nothing is computed: parameters, buffers and the input live on the ``meta``
device, so any dtype works and a large model costs only its Python overhead.  The model given
is not modified (a copy whose tensors are ``meta`` tensors is traced; no data is copied).

Like ptflops and DeepSpeed, the probes replace the public functions in ``torch``,
``torch.nn.functional`` and ``torch.Tensor`` while the model runs (restored afterwards): do
not trace in two threads at once.  Calls made by PyTorch's own Python meta kernels (the meta
device's implementation of an operator) are not recorded, since they do not happen on a real
device.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from convsym.cost.fastmeta import meta_outputs

__all__ = ["PROBED", "CallEvent", "ModuleEvent", "OpEvent", "TensorInfo", "Trace", "trace_module"]


@dataclass(frozen=True)
class TensorInfo:
    """A tensor's shape and dtype (all the counters need)."""

    shape: tuple[int, ...]
    dtype: str

    @property
    def numel(self) -> int:
        out = 1
        for v in self.shape:
            out *= v
        return out


@dataclass(frozen=True)
class ModuleEvent:
    """One module call: ``path`` (``named_modules`` name, ``""`` for the model), class name and
    qualified class name, input/output summaries (tensors as :class:`TensorInfo`), its direct
    parameter and buffer sizes, whether it has child modules, and its index in call order."""

    index: int
    path: str
    type: str
    qualname: str
    inputs: tuple
    output: Any
    is_leaf: bool
    parent: int | None
    attributes: tuple[tuple[str, Any], ...] = ()

    def attr(self, name: str, default: Any = None) -> Any:
        return dict(self.attributes).get(name, default)


@dataclass(frozen=True)
class CallEvent:
    """One call of a probed public function (``F.relu``, ``torch.add``, ``Tensor.matmul``...)."""

    index: int
    name: str
    args: tuple
    kwargs: tuple[tuple[str, Any], ...]
    module: int | None
    parent: int | None
    output: Any = None

    def kwarg(self, name: str, position: int | None = None, default: Any = None) -> Any:
        """The argument ``name`` (keyword) or at ``position`` (positional)."""
        kw = dict(self.kwargs)
        if name in kw:
            return kw[name]
        if position is not None and position < len(self.args):
            return self.args[position]
        return default


@dataclass(frozen=True)
class OpEvent:
    """One ATen operator call: ``op`` is ``namespace::name`` (e.g. ``aten::convolution``),
    ``overload`` its overload name, ``args``/``kwargs`` summarised, ``outputs`` the tensors it
    returned, ``view`` whether its output aliases its input."""

    index: int
    op: str
    overload: str
    args: tuple
    kwargs: tuple[tuple[str, Any], ...]
    outputs: tuple[TensorInfo, ...]
    module: int | None
    call: int | None
    view: bool

    def tensor_args(self) -> list[TensorInfo]:
        return [a for a in _flatten(self.args) if isinstance(a, TensorInfo)]


@dataclass(frozen=True)
class Parameter:
    """A parameter or buffer: its full name, owning module path, element count, dtype,
    ``requires_grad`` (parameters) and whether it is a buffer."""

    name: str
    owner: str
    numel: int
    dtype: str
    requires_grad: bool
    buffer: bool
    persistent: bool = True


@dataclass(frozen=True)
class Trace:
    """A recorded forward pass (see the module docstring)."""

    input: TensorInfo
    modules: tuple[ModuleEvent, ...]
    calls: tuple[CallEvent, ...]
    ops: tuple[OpEvent, ...]
    parameters: tuple[Parameter, ...]
    saved_elements: int
    saved_bytes: int
    model_type: str
    structure: tuple[tuple[str, str], ...] = ()
    saved_by_module: tuple[tuple[int, int], ...] = ()

    def module_qualname(self, path: str) -> str | None:
        """The qualified class name of the module at ``path`` (called or not)."""
        return dict(self.structure).get(path)

    def params_under(self, path: str, buffers: bool = False) -> int:
        """Elements of the parameters (and buffers if asked) of the module at ``path`` and its
        descendants."""
        return self._under[1 if buffers else 0].get(path, 0)

    @cached_property
    def _under(self) -> tuple[dict[str, int], dict[str, int]]:
        """``(parameters, parameters and buffers)`` per module path, descendants included."""
        params: dict[str, int] = {}
        both: dict[str, int] = {}
        for p in self.parameters:
            parts = p.owner.split(".") if p.owner else []
            for depth in range(len(parts) + 1):
                path = ".".join(parts[:depth])
                both[path] = both.get(path, 0) + p.numel
                if not p.buffer:
                    params[path] = params.get(path, 0) + p.numel
        return params, both


#: The public functions the tools patch (ptflops 0.7.5 ``patch_functional``/``patch_tensor_ops``
#: and DeepSpeed 0.19.8 ``_patch_functionals``/``_patch_tensor_methods``): ``(namespace, name)``.
PROBED = (
    *(("F", name) for name in (
        "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
        "conv_transpose3d", "relu", "prelu", "elu", "leaky_relu", "relu6", "silu", "gelu",
        "batch_norm", "layer_norm", "instance_norm", "group_norm", "avg_pool1d", "avg_pool2d",
        "avg_pool3d", "max_pool1d", "max_pool2d", "max_pool3d", "adaptive_avg_pool1d",
        "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
        "adaptive_max_pool3d", "upsample", "interpolate", "softmax", "embedding",
        "scaled_dot_product_attention")),
    *(("torch", name) for name in ("matmul", "mm", "bmm", "addmm", "baddbmm", "mul", "add", "einsum")),
    *(("Tensor", name) for name in ("matmul", "__matmul__", "mm", "bmm", "addmm", "mul", "add")),
)


def _flatten(value):
    if isinstance(value, (tuple, list)):
        for v in value:
            yield from _flatten(v)
    else:
        yield value


def _summary(value: Any, torch) -> Any:
    if isinstance(value, torch.Tensor):
        return TensorInfo(tuple(int(v) for v in value.shape), str(value.dtype).removeprefix("torch."))
    if isinstance(value, (tuple, list)):
        return tuple(_summary(v, torch) for v in value)
    if isinstance(value, (int, float, bool, str)) or value is None:
        return value
    if isinstance(value, (torch.dtype, torch.device, torch.memory_format, torch.layout)):
        return str(value)
    return f"<{type(value).__name__}>"


def _meta_copy(module, torch):
    """A deep copy of ``module`` whose parameters and buffers are ``meta`` tensors (no data
    copied: the memo maps every tensor to its meta twin before ``deepcopy`` runs)."""
    memo: dict[int, Any] = {}

    def twin(t):
        # empty_strided, not empty_like: on meta tensors empty_like runs torch's Python reference,
        # which imports SymPy (0.8 s); the strides are kept the same way.
        return torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device="meta")

    for p in module.parameters(recurse=True):
        memo[id(p)] = torch.nn.Parameter(twin(p), requires_grad=p.requires_grad)
    for b in module.buffers(recurse=True):
        memo[id(b)] = twin(b)
    return copy.deepcopy(module, memo)


_MODULE_ATTRIBUTES = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
                      "groups", "in_features", "out_features", "affine", "elementwise_affine",
                      "mode", "dim", "num_heads", "batch_first", "inplace", "output_size",
                      "ceil_mode", "count_include_pad", "output_padding", "padding_mode",
                      "track_running_stats", "scale_factor", "size")


def trace_module(module: Any, input_shape: Sequence[int], dtype: Any = None,
                 progress: Callable[[int], None] | None = None, saved_for_backward: bool = True) -> Trace:
    """Run ``module`` once on a ``meta`` input of ``input_shape`` in eval mode and record it.

    ``dtype`` defaults to the dtype of the model's first floating parameter (float32 without
    one).  ``progress(n)`` is called with 1 whenever a child of the model finishes.  The
    recorded pass runs under ``torch.no_grad()`` (as the tools run); with
    ``saved_for_backward`` a second pass with autograd on measures what autograd keeps for the
    backward pass (``Trace.saved_elements``/``saved_bytes``: each saved storage once, parameters
    and buffers excluded).
    """
    import torch
    import torch.nn.functional as F
    from torch.utils._python_dispatch import TorchDispatchMode

    op = "count_module"
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"{op}: module must be a torch.nn.Module, got {type(module).__name__}")
    shape = tuple(input_shape)
    if not shape or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in shape):
        raise ValueError(f"{op}: input_shape must be positive ints, got {tuple(input_shape)!r}")
    if dtype is None:
        dtype = next((p.dtype for p in module.parameters() if p.is_floating_point()), torch.float32)

    parameters = []
    owners = {}
    for path, sub in module.named_modules():
        for name, p in sub.named_parameters(recurse=False):
            if id(p) in owners:
                continue
            owners[id(p)] = path
            full = f"{path}.{name}" if path else name
            parameters.append(Parameter(full, path, p.numel(), str(p.dtype).removeprefix("torch."),
                                        p.requires_grad, False))
        for name, b in sub.named_buffers(recurse=False):
            if b is None or id(b) in owners:
                continue
            owners[id(b)] = path
            full = f"{path}.{name}" if path else name
            parameters.append(Parameter(full, path, b.numel(), str(b.dtype).removeprefix("torch."), False,
                                        True, name not in sub._non_persistent_buffers_set))

    structure = tuple((path, f"{type(m).__module__}.{type(m).__qualname__}") for path, m in module.named_modules())
    model = _meta_copy(module, torch)
    model.eval()
    names = {id(m): path for path, m in model.named_modules()}
    modules: list[ModuleEvent] = []
    pending: list[dict[str, Any]] = []
    calls: list[CallEvent] = []
    call_stack: list[int] = []
    ops: list[OpEvent] = []
    dispatching: list[Any] = []

    def current_module() -> int | None:
        return pending[-1]["index"] if pending else None

    def pre_hook(mod, args, kwargs=None):
        index = len(modules) + len(pending)
        pending.append({"index": index, "module": mod, "inputs": _summary(tuple(args), torch),
                        "parent": current_module()})

    def post_hook(mod, args, output):
        if not pending or pending[-1]["module"] is not mod:
            return  # a hook registered while this module ran; its pre-hook did not fire
        frame = pending.pop()
        path = names.get(id(mod), f"<{type(mod).__name__} not in the model>")
        attributes = tuple((a, _summary(getattr(mod, a), torch)) for a in _MODULE_ATTRIBUTES if hasattr(mod, a))
        attributes += (("has_bias", getattr(mod, "bias", None) is not None),
                       ("has_in_proj_bias", getattr(mod, "in_proj_bias", None) is not None))
        modules.append(ModuleEvent(frame["index"], path, type(mod).__name__,
                                   f"{type(mod).__module__}.{type(mod).__qualname__}", frame["inputs"],
                                   _summary(output, torch), not any(True for _ in mod.children()),
                                   frame["parent"], attributes))
        if progress is not None and frame["parent"] == 0:
            progress(1)

    def probe(namespace: str, name: str, original):
        label = f"{namespace}.{name}"

        def wrapper(*args, **kwargs):
            if dispatching:
                # a Python meta kernel calling the public API: not a call of the model's
                return original(*args, **kwargs)
            index = len(calls)
            calls.append(CallEvent(index, label, _summary(args, torch),
                                   tuple((k, _summary(v, torch)) for k, v in kwargs.items()),
                                   current_module(), call_stack[-1] if call_stack else None))
            call_stack.append(index)
            try:
                out = original(*args, **kwargs)
            finally:
                call_stack.pop()
            calls[index] = replace(calls[index], output=_summary(out, torch))
            return out

        return wrapper

    class Recorder(TorchDispatchMode):
        @classmethod
        def _should_skip_dynamo(cls) -> bool:
            # False keeps __torch_dispatch__ unwrapped: torch wraps it in torch._dynamo.disable
            # otherwise, whose first call imports torch._dynamo (about 2 s) for a mode that is
            # never compiled
            return False

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            dispatching.append(func)
            try:
                out = meta_outputs(func, args, kwargs, torch)
                if out is None:
                    out = func(*args, **kwargs)
            finally:
                dispatching.pop()
            outputs = tuple(v for v in _flatten(_summary(out if isinstance(out, (tuple, list)) else (out,),
                                                         torch)) if isinstance(v, TensorInfo))
            schema = func._schema
            view = any(r.alias_info is not None and not r.alias_info.is_write for r in schema.returns)
            ops.append(OpEvent(len(ops), schema.name, func._overloadname, _summary(args, torch),
                               tuple((k, _summary(v, torch)) for k, v in kwargs.items()), outputs,
                               current_module(), call_stack[-1] if call_stack else None, view))
            return out

    class Shortcuts(TorchDispatchMode):
        """The second pass: torch's kernels, or :func:`meta_outputs` where it applies."""

        @classmethod
        def _should_skip_dynamo(cls) -> bool:
            return False

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = meta_outputs(func, args, kwargs, torch)
            return func(*args, **kwargs) if out is None else out

    namespaces = {"F": F, "torch": torch, "Tensor": torch.Tensor}
    originals = [(namespaces[ns], name, namespaces[ns].__dict__.get(name, None), getattr(namespaces[ns], name))
                 for ns, name in PROBED]
    saved = {"elements": 0, "bytes": 0, "storages": set()}
    param_ids = {id(p) for p in model.parameters()} | {id(b) for b in model.buffers()}

    # a saved view of a weight (addmm saves weight.t()) shares the weight's storage
    param_storages = {t.untyped_storage()._cdata for t in (*model.parameters(), *model.buffers())}

    def pack(t):
        if id(t) not in param_ids and not isinstance(t, torch.nn.Parameter):
            storage = t.untyped_storage()
            key = storage._cdata
            if key not in saved["storages"] and key not in param_storages:
                saved["storages"].add(key)
                saved["bytes"] += storage.nbytes()
                saved["elements"] += storage.nbytes() // max(t.element_size(), 1)
                where = again[-1] if again else None
                by_module[where] = by_module.get(where, 0) + storage.nbytes()
        return t

    # the second pass numbers module calls as the first did (same pre-order), so what autograd
    # saves is attributed to the module event that was running
    again: list[int] = []
    counter = [0]
    by_module: dict[int | None, int] = {}

    def pre_again(mod, args, kwargs=None):
        again.append(counter[0])
        counter[0] += 1

    def post_again(mod, args, output):
        if again:
            again.pop()

    x = torch.zeros(shape, dtype=dtype, device="meta")
    handles = [torch.nn.modules.module.register_module_forward_pre_hook(pre_hook),
               torch.nn.modules.module.register_module_forward_hook(post_hook)]
    try:
        for (target, name, _, current), (ns, _) in zip(originals, PROBED, strict=True):
            setattr(target, name, probe(ns, name, current))
        with torch.no_grad(), Recorder():
            model(x)
    finally:
        for h in handles:
            h.remove()
        for target, name, own, current in originals:
            if own is None and target is torch.Tensor:
                delattr(target, name)
            else:
                setattr(target, name, current)
    if saved_for_backward:
        # a second pass with autograd on: every tensor autograd saves for the backward pass,
        # once per storage, parameters and buffers excluded
        handles = [torch.nn.modules.module.register_module_forward_pre_hook(pre_again),
                   torch.nn.modules.module.register_module_forward_hook(post_again)]
        try:
            with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), Shortcuts():
                model(x)
        finally:
            for h in handles:
                h.remove()
    return Trace(_summary(x, torch), tuple(sorted(modules, key=lambda m: m.index)), tuple(calls),
                 tuple(ops), tuple(parameters), saved["elements"], saved["bytes"],
                 type(module).__name__, structure,
                 tuple(sorted(((k, v) for k, v in by_module.items() if k is not None)))
                 + (((-1, by_module[None]),) if None in by_module else ()))
