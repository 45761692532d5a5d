"""Whole models: count every operator of a ``torch.nn.Module`` and what each tool reports.

:func:`count_module` records one forward pass on the ``meta`` device
(:mod:`convsym.cost.trace`), gives every ATen operator convsym's figures
(:mod:`convsym.cost.operators`), lists every operator it has no formula for with its call
count, and models each counting tool's total (:mod:`convsym.cost.tools`).
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from convsym.cost.layers import conv2d_cost, conv_transpose2d_cost, linear_cost, pool2d_cost
from convsym.cost.operators import op_cost
from convsym.cost.record import TOOLS, Cost
from convsym.cost.tools import ToolCount, count_tool
from convsym.cost.trace import ModuleEvent, TensorInfo, Trace, trace_module

__all__ = ["FIGURES", "ModelCost", "OpRecord", "count_module"]

_BYTES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "int16": 2,
          "int8": 1, "uint8": 1, "bool": 1, "complex64": 8, "complex128": 16}

#: The figures of a row and of :meth:`ModelCost.total`, with their meaning.
FIGURES = {
    "macs": "MACs, dense (every tap, padding included)",
    "macs_without_padding": "MACs without the products on zero padding",
    "flops": "FLOPs (multiplications + additions, one each; elementwise 1 per element)",
    "backward_macs": "backward MACs (grad wrt input + grad wrt weights)",
    "activation_bytes": "bytes of every tensor an operator creates (views excluded)",
}


@dataclass(frozen=True)
class OpRecord:
    """One counted operator call: the module event it ran in, its kind and figures."""

    index: int
    op: str
    module: int | None
    kind: str
    macs: int
    macs_without_padding: int
    flops: int
    backward_macs: int
    activation_bytes: int


@dataclass(frozen=True)
class ModelCost:
    """The cost of one forward pass of a model.

    ``ops`` are the counted operators in call order; ``uncounted`` lists ``(operator, calls)``
    for every operator without a formula (nothing is dropped silently); ``layers`` keeps the
    closed-form :class:`Cost` of each ``Conv2d``, ``ConvTranspose2d``, ``MaxPool2d``,
    ``AvgPool2d`` and ``Linear`` call, and ``skipped`` the ``(name, type)`` of the other leaf
    modules (their operators are counted in ``ops``).
    """

    layers: tuple[tuple[str, Cost], ...]
    skipped: tuple[tuple[str, str], ...] = ()
    ops: tuple[OpRecord, ...] = ()
    uncounted: tuple[tuple[str, int], ...] = ()
    trace: Trace | None = field(default=None, repr=False, compare=False)
    _tools: dict = field(default_factory=dict, repr=False, compare=False)

    # -- totals -------------------------------------------------------------------------------

    def total(self, figure: str = "macs") -> int:
        """The model's total of ``figure``: one of :data:`FIGURES`, ``params`` (every
        parameter once), ``buffers`` (buffer elements) or ``saved_bytes`` (what autograd keeps
        for the backward pass)."""
        if figure in FIGURES:
            return sum(getattr(r, figure) for r in self.ops)
        if figure in ("params", "buffers"):
            if self.trace is None:
                return sum(int(c.params) for _, c in self.layers) if figure == "params" else 0
            return sum(p.numel for p in self.trace.parameters if p.buffer == (figure == "buffers"))
        if figure == "saved_bytes":
            return self.trace.saved_bytes if self.trace is not None else 0
        raise ValueError(f"total: unknown figure {figure!r}; valid figures: "
                         f"{', '.join([*FIGURES, 'params', 'buffers', 'saved_bytes'])}")

    def tool(self, tool: str) -> ToolCount:
        """``tool``'s modelled figures for this model (see :mod:`convsym.cost.tools`)."""
        if self.trace is None:
            raise ValueError("tool: this ModelCost has no trace (build it with count_module)")
        if tool not in self._tools:
            self._tools[tool] = count_tool(self.trace, tool)
        return self._tools[tool]

    def modelled(self, tools: Sequence[str] = TOOLS) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
        """``(tools convsym models on this model, ((tool, why not), ...))``."""
        ok, missing = [], []
        for tool in tools:
            try:
                self.tool(tool)
            except ValueError as exc:
                if "unknown tool" in str(exc):
                    raise
                missing.append((tool, str(exc)))
            else:
                ok.append(tool)
        return tuple(ok), tuple(missing)

    def total_reported_by(self, tool: str) -> int:
        """The total ``tool`` reports for the model (DeepSpeed: FLOPs; its MACs are
        ``tool('deepspeed').macs``)."""
        return self.tool(tool).value

    def params_reported_by(self, tool: str) -> int | None:
        """The parameter count ``tool`` reports (None for FlopCounterMode)."""
        return self.tool(tool).params

    # -- rows ---------------------------------------------------------------------------------

    def _group(self, by: str, depth: int) -> Callable[[int | None], str]:
        if by not in ("layer", "block"):
            raise ValueError(f"rows: by={by!r} must be 'layer' or 'block'")
        events = {m.index: m for m in self.trace.modules}

        def key(index: int | None) -> str:
            if index is None:
                return "(outside modules)"
            m = events[index]
            if by == "block":
                parts = m.path.split(".") if m.path else []
                return ".".join(parts[:depth]) or "(model)"
            return f"{m.path or '(model)'}#{index}"

        return key

    def rows(self, by: str = "layer", depth: int = 2, tools: Sequence[str] = TOOLS) -> list[dict[str, Any]]:
        """One dict per layer (module call, operators run directly in it) or per block (module
        path cut to ``depth`` components), in call order: ``name``, ``type``, ``output_shape``,
        each figure of :data:`FIGURES`, ``saved_bytes`` (what autograd keeps for the backward
        pass, attributed to the module that saved it), ``params`` (parameters of the modules in
        the row), each tool's figure and ``notes`` (each tool's known deviations in the row)."""
        key = self._group(by, depth)
        events = {m.index: m for m in self.trace.modules}
        rows: dict[str, dict[str, Any]] = {}

        def row(index: int | None) -> dict[str, Any]:
            k = key(index)
            if k not in rows:
                m = events.get(index)
                name = k.split("#")[0]
                rows[k] = {"name": name, "type": m.type if m is not None and by == "layer" else "",
                           "output_shape": _shape(m.output) if m is not None and by == "layer" else "",
                           **{f: 0 for f in FIGURES}, "saved_bytes": 0, "params": 0, **{t: 0 for t in tools},
                           "notes": [],
                           "_paths": set()}
            return rows[k]

        for m in self.trace.modules:
            if m.is_leaf or by == "layer":
                row(m.index)["_paths"].add(m.path)
        for r in self.ops:
            target = row(r.module)
            for f in FIGURES:
                target[f] += getattr(r, f)
        for index, size in self.trace.saved_by_module:
            row(None if index < 0 else index)["saved_bytes"] += size
        for tool in tools:
            for c in self.tool(tool).contributions:
                target = row(c.module)
                target[tool] += c.value
                if c.note and c.note not in target["notes"]:
                    target["notes"].append(c.note)
        owners = {}
        for p in self.trace.parameters:
            if not p.buffer:
                owners[p.owner] = owners.get(p.owner, 0) + p.numel
        out = []
        for r in rows.values():
            r["params"] = sum(owners.get(path, 0) for path in r.pop("_paths"))
            for tool in tools:
                r[tool] = int(r[tool]) if float(r[tool]).is_integer() else r[tool]
            if any(r[f] for f in FIGURES) or any(r[t] for t in tools) or r["params"] or r["notes"] \
                    or r["saved_bytes"]:
                out.append(r)
        return out

    def comparison(self, tools: Sequence[str] = TOOLS) -> list[dict[str, Any]]:
        """Per tool: its quantity, total, parameter count, and convsym's figure in the same
        unit (MACs for MAC-counting tools, FLOPs for FLOP-counting ones)."""
        out = []
        tools, missing = self.modelled(tools)
        for tool in tools:
            t = self.tool(tool)
            out.append({"tool": tool, "quantity": t.quantity, "total": t.value, "params": t.params,
                        "macs": t.macs, "not_modelled": None})
        for tool, why in missing:
            out.append({"tool": tool, "quantity": None, "total": None, "params": None, "macs": None,
                        "not_modelled": why})
        return out

    def summary(self, tools: Sequence[str] = TOOLS) -> str:
        """Each tool's total next to convsym's dense MACs, in MACs (FLOP-counting tools, which
        count a multiply-add as 2, are halved), with the difference and the tool's parameter
        count next to convsym's."""
        macs, params = self.total("macs"), self.total("params")
        tools, missing = self.modelled(tools)
        head = ["tool", "reports", "total", "as MACs", "vs convsym MACs", "params", "vs convsym params"]
        body = [["convsym", "MACs", f"{macs:,}", f"{macs:,}", "", f"{params:,}", ""]]
        for tool in tools:
            t = self.tool(tool)
            as_macs = t.value / _PER_MAC[tool]
            diff = as_macs - macs
            rel = f" ({diff / macs:+.2%})" if macs else ""
            body.append([tool, t.quantity, _num(t.value), _num(as_macs),
                         "=" if diff == 0 else f"{_num(diff) if diff < 0 else '+' + _num(diff)}{rel}",
                         "-" if t.params is None else f"{t.params:,}",
                         "" if t.params is None else "=" if t.params == params else f"{t.params - params:+,}"])
        widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
        lines = ["  ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(r)).rstrip()
                 for r in [head, *body]]
        lines += [f"{tool}: not modelled: {why}" for tool, why in missing]
        return "\n".join(lines) + "\n"

    # -- output -------------------------------------------------------------------------------

    def table(self, by: str = "layer", depth: int = 2, tools: Sequence[str] = TOOLS) -> str:
        """A text table: one row per layer or block, the figures, each tool's figure, totals,
        the tools' parameter counts and the uncounted operators."""
        tools, _ = self.modelled(tools)
        rows = self.rows(by, depth, tools)
        figures = ("macs", "macs_without_padding", "flops", "backward_macs", "params", "activation_bytes",
                   "saved_bytes")
        head = ["name", "type", "output", "MACs", "no-pad MACs", "FLOPs", "bwd MACs", "params", "act. bytes",
                "bwd bytes", *tools, "notes"]
        body = [[r["name"], r["type"], r["output_shape"], *(f"{r[k]:,}" for k in figures),
                 *(_num(r[t]) for t in tools), "; ".join(r["notes"])] for r in rows]
        body.append(["total", "", "", *(f"{self.total(k):,}" for k in figures),
                     *(_num(self.total_reported_by(t)) for t in tools), ""])
        body.append(["params", "", "", "", "", "", "", "", "", "",
                     *("-" if self.params_reported_by(t) is None else f"{self.params_reported_by(t):,}"
                       for t in tools), ""])
        widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
        lines = ["  ".join(c.ljust(widths[i]) if i < 3 or i == len(head) - 1 else c.rjust(widths[i])
                           for i, c in enumerate(r)).rstrip() for r in [head, *body]]
        lines.append(f"buffers {self.total('buffers'):,}; act. bytes: tensors the forward pass creates; "
                     "bwd bytes: what autograd keeps for the backward pass")
        lines.append("uncounted operators: " + (", ".join(f"{op} x{n}" for op, n in self.uncounted) or "none"))
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.table()

    def to_json(self, by: str = "layer", depth: int = 2, tools: Sequence[str] = TOOLS) -> str:
        """The rows, totals, each tool's total and parameters, and the uncounted operators."""
        data = {
            "model": self.trace.model_type if self.trace else None,
            "input_shape": list(self.trace.input.shape) if self.trace else None,
            "conventions": FIGURES,
            "rows": self.rows(by, depth, tools),
            "totals": {f: self.total(f) for f in (*FIGURES, "params", "buffers", "saved_bytes")},
            "tools": self.comparison(tools),
            "uncounted": [{"op": op, "calls": n} for op, n in self.uncounted],
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def to_csv(self, by: str = "layer", depth: int = 2, tools: Sequence[str] = TOOLS) -> str:
        """The rows as CSV (notes joined by '; '), then a ``total`` row."""
        tools, _ = self.modelled(tools)
        buf = io.StringIO()
        cols = ["name", "type", "output_shape", *FIGURES, "saved_bytes", "params", *tools, "notes"]
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(cols)
        for r in self.rows(by, depth, tools):
            writer.writerow([("; ".join(r[c]) if c == "notes" else r[c]) for c in cols])
        writer.writerow(["total", "", "", *(self.total(f) for f in FIGURES), self.total("saved_bytes"),
                         self.total("params"),
                         *(self.total_reported_by(t) for t in tools), ""])
        return buf.getvalue()


#: How many of a tool's units one multiply-add is (FLOP counters count 2).
_PER_MAC = {"fvcore": 1, "ptflops": 1, "thop": 1, "torchinfo": 1, "deepspeed": 2, "torch": 2}


def _num(v) -> str:
    return f"{int(v):,}" if float(v).is_integer() else f"{v:,.2f}"


def _shape(value) -> str:
    t = value if isinstance(value, TensorInfo) else next(
        (v for v in (value if isinstance(value, tuple) else ()) if isinstance(v, TensorInfo)), None)
    return "x".join(str(v) for v in t.shape) if t is not None else ""


def _layer_cost(m: ModuleEvent) -> Cost | None:
    """The closed-form :class:`Cost` of a recorded ``torch.nn`` layer call, if there is one."""
    x = m.inputs[0] if m.inputs and isinstance(m.inputs[0], TensorInfo) else None
    if x is None or not m.qualname.startswith("torch.nn.modules."):
        return None
    a = m.attr
    if m.type == "Conv2d" and len(x.shape) == 4:
        if a("padding_mode") != "zeros":
            raise ValueError(f"count_module: {m.path}: Conv2d with padding_mode={a('padding_mode')!r}: "
                             "only zero padding is modelled")
        return conv2d_cost(x.shape, a("out_channels"), a("kernel_size"), a("stride"), a("padding"),
                           a("dilation"), a("groups"), a("has_bias"))
    if m.type == "ConvTranspose2d" and len(x.shape) == 4:
        return conv_transpose2d_cost(x.shape, a("out_channels"), a("kernel_size"), a("stride"), a("padding"),
                                     a("output_padding"), a("dilation"), a("groups"), a("has_bias"))
    if m.type in ("MaxPool2d", "AvgPool2d") and len(x.shape) == 4:
        kind = "max" if m.type == "MaxPool2d" else "avg"
        return pool2d_cost(x.shape, a("kernel_size"), a("stride") or a("kernel_size"), a("padding"),
                           a("dilation", 1), bool(a("ceil_mode")), kind, bool(a("count_include_pad", True)))
    if m.type == "Linear":
        return linear_cost(x.shape, a("out_features"), a("has_bias"))
    return None


def _bytes(t: TensorInfo) -> int:
    return t.numel * _BYTES.get(t.dtype, 4)


def count_module(module: Any, input_shape: Sequence[int], dtype: Any = None,
                 progress: Callable[[int], None] | None = None) -> ModelCost:
    """Count a ``torch.nn.Module`` on an input of ``input_shape``, operator by operator.

    The model runs once on the ``meta`` device in eval mode (nothing is computed, any dtype
    works; ``dtype`` defaults to the model's).  Every ATen operator gets convsym's figures
    (:mod:`convsym.cost.operators`) or is listed in ``uncounted`` with its call count; each
    tool's total is modelled from the same pass (:meth:`ModelCost.total_reported_by`).  A
    module called twice appears twice.  Needs torch.
    """
    try:
        import torch  # noqa: F401
    except ImportError as exc:  # pragma: no cover - torch is optional
        raise ImportError("count_module needs torch (pip install -e '.[crosscheck]')") from exc
    trace = trace_module(module, tuple(int(v) for v in input_shape), dtype, progress)
    ops, missing = [], Counter()
    for ev in trace.ops:
        cost = op_cost(ev)
        if cost is None:
            missing[ev.op] += 1
            continue
        created = 0 if ev.view else sum(_bytes(t) for t in ev.outputs)
        ops.append(OpRecord(ev.index, ev.op, ev.module, cost.kind, int(cost.macs), int(cost.macs_without_padding),
                            int(cost.flops), int(cost.backward_macs), created))
    layers, skipped = [], []
    for m in trace.modules:
        if not m.is_leaf:
            continue
        cost = _layer_cost(m)
        if cost is None:
            skipped.append((m.path, m.type))
        else:
            layers.append((m.path, cost))
    return ModelCost(tuple(layers), tuple(skipped), tuple(ops), tuple(sorted(missing.items())), trace)
