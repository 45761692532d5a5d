"""Whole models: count a ``torch.nn.Module`` layer by layer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConvsymError
from .layers import conv2d_cost, conv_transpose2d_cost, linear_cost, pool2d_cost
from .record import TOOLS, Cost

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

