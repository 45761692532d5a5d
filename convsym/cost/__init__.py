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

from convsym.cost.formulas import Formula, exported_formulas
from convsym.cost.layers import (
    conv2d_cost,
    conv_transpose2d_cost,
    cost_from_options,
    evaluate_sums,
    linear_cost,
    padding_taps,
    pool2d_cost,
    real_taps,
    resnet18_convs,
)
from convsym.cost.models import ModelCost, OpRecord, count_module
from convsym.cost.record import DTYPE_SIZES, TOOL_VERSIONS, TOOLS, Cost, LayerSpec, Reported
from convsym.cost.tools import ToolCount

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
