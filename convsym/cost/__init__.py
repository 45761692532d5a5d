r"""What a layer or a whole model costs: MACs, parameters, FLOPs, memory, backward work, and
how each counting tool counts them.

* :mod:`convsym.cost.layers`: the closed formulas of one layer (``conv2d_cost``...), exact for
  ints and SymPy expressions for symbols;
* :mod:`convsym.cost.record`: the :class:`Cost` record and ``Cost.as_reported_by(tool)``;
* :mod:`convsym.cost.conventions`: each tool's convention for one layer;
* :mod:`convsym.cost.formulas`: the formulas ``convsym build`` exports;
* :mod:`convsym.cost.trace`: one forward pass of a torch model on the meta device, recorded
  at the module, function and ATen-operator levels;
* :mod:`convsym.cost.fastmeta`: the outputs of common operators on the meta device, built
  without torch's Python meta kernels (which import ``torch._dynamo``);
* :mod:`convsym.cost.operators`: convsym's own figures for each ATen operator;
* :mod:`convsym.cost.tools`: each tool's convention on whole models;
* :mod:`convsym.cost.models`: whole models (``count_module``, :class:`ModelCost`).
"""

from __future__ import annotations

import importlib
from typing import Any

# Each public name and the submodule that defines it.  The submodules are imported on first
# use (PEP 562), so counting a model with ints never imports SymPy (``convsym.cost.formulas``
# builds SymPy expressions).
_HOMES = {
    "Formula": "formulas",
    "exported_formulas": "formulas",
    "conv2d_cost": "layers",
    "conv_transpose2d_cost": "layers",
    "cost_from_options": "layers",
    "evaluate_sums": "layers",
    "linear_cost": "layers",
    "padding_taps": "layers",
    "pool2d_cost": "layers",
    "real_taps": "layers",
    "resnet18_convs": "layers",
    "ModelCost": "models",
    "OpRecord": "models",
    "count_module": "models",
    "DTYPE_SIZES": "record",
    "TOOL_VERSIONS": "record",
    "TOOLS": "record",
    "Cost": "record",
    "LayerSpec": "record",
    "Reported": "record",
    "ToolCount": "tools",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'convsym.cost' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"convsym.cost.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))


__all__ = [
    "DTYPE_SIZES",
    "TOOLS",
    "TOOL_VERSIONS",
    "Cost",
    "Formula",
    "LayerSpec",
    "ModelCost",
    "OpRecord",
    "Reported",
    "ToolCount",
    "conv2d_cost",
    "conv_transpose2d_cost",
    "cost_from_options",
    "count_module",
    "evaluate_sums",
    "exported_formulas",
    "linear_cost",
    "padding_taps",
    "pool2d_cost",
    "real_taps",
    "resnet18_convs",
]
