"""Each counting tool's convention for one layer: ``op -> (cost -> (quantity, value, params,
macs))``, read from the tools' source (see :meth:`convsym.cost.Cost.as_reported_by`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from convsym.cost.units import Size
from convsym.cost.units import is_symbolic as _symbolic
from convsym.cost.units import numel as _numel

if TYPE_CHECKING:  # annotations only: the record looks these conventions up
    from convsym.cost.record import Cost

# ---------------------------------------------------------------------------------------------
# tool conventions: op -> (cost -> (quantity, value, params, macs))


def _spatial_positions(c: Cost) -> Size:
    return c.output_shape[0] * c.output_shape[2] * c.output_shape[3]


def _input_positions(c: Cost) -> Size:
    return c.input_shape[0] * c.input_shape[2] * c.input_shape[3]


def _fvcore_conv(c: Cost):
    if c.layer.padding_string is not None:
        return ("flops", None, f"padding={c.layer.padding_string!r} traces to aten::_convolution_mode, "
                "which fvcore does not handle", None)
    return "flops", c.macs, c.params, None


def _deepspeed_conv(c: Cost):
    spec = c.layer
    kh, kw = spec.kernel_size
    ho, wo = c._deepspeed_spatial or c.output_shape[2:]
    n = c.input_shape[0]
    per = _group_fraction(spec.in_channels, spec.groups) * kh * kw
    macs = n * spec.out_channels * ho * wo * per
    bias = n * spec.out_channels * ho * wo if spec.bias else 0
    return "flops", 2 * macs + bias, c.params, macs


def _per_sample(c: Cost, value: Size) -> Size:
    # ptflops divides its module-hook total by the batch counter, the first input dimension
    return _group_fraction(value, c.input_shape[0])


def _group_fraction(channels: Size, groups: Size) -> Size:
    return channels / groups if _symbolic(channels, groups) else channels // groups


def _thop_transposed(c: Cost):
    spec = c.layer
    kh, kw = spec.kernel_size
    return ("total_ops", _numel(c.output_shape) * _group_fraction(spec.in_channels, spec.groups) * kh * kw,
            c.params, None)


def _torchinfo_conv(c: Cost):
    return "Mult-Adds", c.params * _spatial_positions(c), c.params, None


def _deepspeed_transposed(c: Cost):
    macs = c.macs
    return "flops", 2 * macs + c.bias_adds, c.params, macs


_TOOL_RULES: dict[str, dict[str, Any]] = {
    "fvcore": {
        "conv2d": _fvcore_conv,
        "conv_transpose2d": _fvcore_conv,
        "linear": lambda c: ("flops", c.macs, c.params, None),
    },
    "ptflops": {
        "conv2d": lambda c: ("MACs", _per_sample(c, c.macs + c.bias_adds), c.params, None),
        "conv_transpose2d": lambda c: ("MACs", _per_sample(c, c.macs + c.bias_adds), c.params, None),
        "linear": lambda c: ("MACs", _per_sample(c, c.macs + c.bias_adds), c.params, None),
        "max_pool2d": lambda c: ("MACs", _per_sample(c, c.input_elements) + c.input_elements, 0, None),
        "avg_pool2d": lambda c: ("MACs", _per_sample(c, c.input_elements) + c.input_elements, 0, None),
    },
    "thop": {
        "conv2d": lambda c: ("total_ops", c.macs, c.params, None),
        "conv_transpose2d": _thop_transposed,
        "linear": lambda c: ("total_ops", c.macs, c.params, None),
        "max_pool2d": lambda c: ("total_ops", 0, 0, None),
        "avg_pool2d": lambda c: ("total_ops", c.output_elements, 0, None),
    },
    "torchinfo": {
        "conv2d": _torchinfo_conv,
        "conv_transpose2d": _torchinfo_conv,
        "linear": lambda c: ("Mult-Adds", c.input_shape[0] * c.params, c.params, None),
    },
    "deepspeed": {
        "conv2d": _deepspeed_conv,
        "conv_transpose2d": _deepspeed_transposed,
        "linear": lambda c: ("flops", 2 * c.macs, c.params, c.macs),
        "max_pool2d": lambda c: ("flops", c.input_elements, 0, 0),
        "avg_pool2d": lambda c: ("flops", c.input_elements, 0, 0),
    },
    "torch": {
        "conv2d": lambda c: ("flops", 2 * c.macs, None, None),
        "conv_transpose2d": lambda c: ("flops", 2 * c.macs, None, None),
        "linear": lambda c: ("flops", 2 * c.macs, None, None),
    },
}

_UNCOUNTED_WHY = {
    "fvcore": "aten::max_pool2d and aten::avg_pool2d are unsupported operators: counted as 0 with a warning",
    "ptflops": "no hook for it",
    "thop": "no hook for it",
    "torchinfo": "it has no parameters, so torchinfo prints '--' for its Mult-Adds",
    "deepspeed": "no hook for it",
    "torch": "FlopCounterMode has no formula for pooling",
}


