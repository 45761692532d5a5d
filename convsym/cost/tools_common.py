"""The records every tool model returns, and the helpers they share (module names, tensors, parameters)."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from convsym.cost.trace import CallEvent, ModuleEvent, TensorInfo, Trace

__all__ = ["Contribution", "ToolCount"]


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
