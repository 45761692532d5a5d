"""PyTorch interop (the optional ``models`` extra): torch modules to and from convsym layers.

``torch`` is imported lazily: importing :mod:`convsym` (or this module) never needs it; a
function that works on modules imports it on first use.

=================================  ==========================================================
``to_convsym(module)``             ``nn.Conv1d/2d`` -> :class:`~convsym.transforms.Conv2d`
                                   (a Conv1d is a ``1 x k`` Conv2d), ``nn.ConvTranspose2d`` ->
                                   ``ConvTranspose2d``, ``nn.BatchNorm2d`` (eval mode) ->
                                   ``BatchNorm2d``, ``nn.Linear`` -> ``(w, b)``, an activation
                                   module -> its name (``nn.ReLU()`` -> ``'relu'``)
``from_convsym(layer, like=None)``  and back; ``like`` (a module) fixes the kind and dtype
``optimize(model, example_input)``  fold / merge / equalize a traced model, with a certificate
``validate(original, optimized, example_input)``  translation validation through ONNX
=================================  ==========================================================

Dtype: parameters come out as NumPy arrays of the module's dtype (the transforms compute in
float64) and go back in the dtype of ``like`` (default float32).
"""

from __future__ import annotations

from convsym.transforms.interop import (
    ACTIVATIONS,
    ChannelPadConv2d,
    adapt,
    from_convsym,
    is_torch_module,
    to_convsym,
)

__all__ = [
    "ACTIVATIONS",
    "ChannelPadConv2d",
    "adapt",
    "from_convsym",
    "is_torch_module",
    "optimize",
    "to_convsym",
    "validate",
]


# ---------------------------------------------------------------------------------------------
# model rewriting and validation live in their own modules (they need torch.fx / onnx)


def optimize(model, example_input, rewrites=None, **options):
    """See :func:`convsym.torch_optimize.optimize`."""
    from convsym.torch_optimize import optimize as _optimize

    return _optimize(model, example_input, rewrites=rewrites, **options)


def validate(original, optimized, example_input, **options):
    """Translation validation of two torch modules: both are exported to ONNX (legacy exporter,
    opset 17) and compared node by node by :func:`convsym.onnx.validate_models`."""
    from convsym.onnx import validate_torch

    return validate_torch(original, optimized, example_input, **options)

