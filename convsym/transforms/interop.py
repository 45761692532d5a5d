"""Torch modules to and from convsym layers, and the adapter that lets every transform take them.

``torch`` is imported lazily: importing :mod:`convsym.transforms` never needs it; a function that
works on modules imports it on first use.  The user-facing entry point is :mod:`convsym.torch`.

Dtype: parameters come out as NumPy arrays of the module's dtype (the transforms compute in
float64) and go back in the dtype of ``like`` (default float32).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convsym.transforms.batchnorm import ConstantPadConv2d
from convsym.transforms.layers import BatchNorm2d, Conv2d, ConvTranspose2d, _pads

__all__ = ["ACTIVATIONS", "ChannelPadConv2d", "adapt", "from_convsym", "is_torch_module", "to_convsym"]

# torch activation class name -> the activation name convsym.transforms.equalize understands
ACTIVATIONS = {
    "ReLU": "relu",
    "LeakyReLU": "leaky_relu",
    "PReLU": "prelu",
    "Identity": "identity",
    "ReLU6": "relu6",
    "Hardswish": "hardswish",
    "Hardsigmoid": "hardsigmoid",
    "Hardtanh": "hardtanh",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "GELU": "gelu",
    "SiLU": "silu",
    "ELU": "elu",
    "SELU": "selu",
    "Softplus": "softplus",
    "Mish": "mish",
}


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("convsym.torch needs PyTorch: pip install 'convsym[models]'") from exc
    return torch


def is_torch_module(value: object) -> bool:
    """Whether ``value`` is a ``torch.nn.Module`` (checked without importing torch)."""
    for cls in type(value).__mro__:
        if cls.__name__ == "Module" and cls.__module__ == "torch.nn.modules.module":
            return True
    return False


def _numpy(tensor) -> np.ndarray | None:
    if tensor is None:
        return None
    return tensor.detach().cpu().numpy().copy()


# ---------------------------------------------------------------------------------------------
# torch -> convsym


def to_convsym(module: Any):
    """The convsym form of a torch module (see the module docstring for the table).

    ``ValueError`` for what convsym cannot represent exactly: a padding mode other than
    ``'zeros'``, a BatchNorm in training mode or without running statistics; ``TypeError`` for
    an unsupported module.
    """
    op = "to_convsym"
    torch = _torch()
    nn = torch.nn
    if isinstance(module, nn.Sequential) and len(module) == 2 and isinstance(module[0], nn.ZeroPad2d) \
            and isinstance(module[1], nn.Conv2d):
        left, right, top, bottom = module[0].padding
        conv = to_convsym(module[1])
        (t, b), (l, r) = _pads(conv.padding)
        padding = ((t + top, b + bottom), (l + left, r + right))
        return Conv2d(conv.weight, conv.bias, stride=conv.stride, padding=padding,
                      dilation=conv.dilation, groups=conv.groups)
    if _is_channel_pad(module):
        conv = to_convsym(module.conv)
        return ConstantPadConv2d(conv, module.pads, _numpy(module.value))
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        if module.padding_mode != "zeros":
            raise ValueError(
                f"{op}: {type(module).__name__} padding_mode={module.padding_mode!r} is not supported; "
                "convsym's convolutions pad with zeros"
            )
        weight, bias = _numpy(module.weight), _numpy(module.bias)
        if isinstance(module, nn.Conv1d):
            weight = weight[:, :, None, :]
            padding = module.padding if isinstance(module.padding, str) else (0, module.padding[0])
            if padding == "same":
                from convsym.shapes import same_padding

                left, right = same_padding(module.kernel_size[0], module.dilation[0])
                padding = ((0, 0), (left, right))
            return Conv2d(weight, bias, stride=(1, module.stride[0]), padding=padding,
                          dilation=(1, module.dilation[0]), groups=module.groups)
        return Conv2d(weight, bias, stride=module.stride, padding=module.padding, dilation=module.dilation,
                      groups=module.groups)
    if isinstance(module, nn.ConvTranspose2d):
        if module.padding_mode != "zeros":
            raise ValueError(f"{op}: ConvTranspose2d padding_mode={module.padding_mode!r} is not supported")
        return ConvTranspose2d(_numpy(module.weight), _numpy(module.bias), stride=module.stride,
                               padding=module.padding, output_padding=module.output_padding,
                               dilation=module.dilation, groups=module.groups)
    if isinstance(module, nn.BatchNorm2d):
        if module.training:
            raise ValueError(
                f"{op}: BatchNorm2d is in training mode, where it normalises with the batch's statistics, "
                "not running_mean/running_var; call model.eval() first"
            )
        if module.running_mean is None:
            raise ValueError(
                f"{op}: BatchNorm2d(track_running_stats=False) always uses batch statistics, so it is not "
                "an affine map and does not fold"
            )
        mean, var = _numpy(module.running_mean), _numpy(module.running_var)
        if module.affine:
            gamma, beta = _numpy(module.weight), _numpy(module.bias)
        else:
            gamma, beta = np.ones_like(mean), np.zeros_like(mean)
        return BatchNorm2d(mean, var, gamma, beta, eps=float(module.eps))
    if isinstance(module, nn.Linear):
        return _numpy(module.weight), _numpy(module.bias)
    name = type(module).__name__
    if name in ACTIVATIONS:
        return ACTIVATIONS[name]
    raise TypeError(
        f"{op}: {name} is not supported; expected nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d, "
        f"nn.Linear or an activation ({', '.join(sorted(ACTIVATIONS))})"
    )


# ---------------------------------------------------------------------------------------------
# convsym -> torch


def _tensor(array: np.ndarray, dtype):
    torch = _torch()
    return torch.from_numpy(np.asarray(array, dtype=np.float64).copy()).to(dtype)


def _dtype_of(like, default):
    if like is not None:
        for p in list(like.parameters()) + list(like.buffers()):
            if p.dtype.is_floating_point:
                return p.dtype
    return default


def _channel_pad_class():
    torch = _torch()

    class _ChannelPadConv2d(torch.nn.Module):
        """``conv(pad(x, value))``: channel ``c`` of ``x`` padded with ``value[c]`` (the exact form of
        ``conv(bn(x))`` for a zero-padded conv, :class:`convsym.transforms.ConstantPadConv2d`)."""

        def __init__(self, conv, pads, value):
            super().__init__()
            self.conv = conv
            self.pads = tuple(tuple(int(v) for v in side) for side in pads)
            self.register_buffer("value", value)

        def forward(self, x):
            (top, bottom), (left, right) = self.pads
            n, c, h, w = x.shape
            out = self.value.to(x.dtype).view(1, c, 1, 1).expand(n, c, h + top + bottom, w + left + right).clone()
            out[:, :, top : top + h, left : left + w] = x
            return self.conv(out)

    _ChannelPadConv2d.__name__ = _ChannelPadConv2d.__qualname__ = "ChannelPadConv2d"
    return _ChannelPadConv2d


_CHANNEL_PAD: list = []


def ChannelPadConv2d(*args, **kwargs):  # noqa: N802  (a class made on first use, torch is optional)
    """The torch module for :class:`convsym.transforms.ConstantPadConv2d` (created lazily)."""
    if not _CHANNEL_PAD:
        _CHANNEL_PAD.append(_channel_pad_class())
    return _CHANNEL_PAD[0](*args, **kwargs)


def _is_channel_pad(module) -> bool:
    return bool(_CHANNEL_PAD) and isinstance(module, _CHANNEL_PAD[0])


def from_convsym(layer: Any, like: Any = None, dtype=None):
    """The torch module computing ``layer``; ``like`` (the module it came from) fixes the dtype
    and the kind (a ``1 x k`` Conv2d goes back to ``nn.Conv1d`` when ``like`` is one).

    A ``Conv2d`` with asymmetric padding becomes ``nn.Sequential(nn.ZeroPad2d, nn.Conv2d)``
    unless it is PyTorch's ``'same'``; a ``ConstantPadConv2d`` becomes :func:`ChannelPadConv2d`;
    ``(w, b)`` becomes ``nn.Linear``.  Exact (Fraction) entries are rounded to the dtype.
    """
    op = "from_convsym"
    torch = _torch()
    nn = torch.nn
    dtype = dtype if dtype is not None else _dtype_of(like, torch.float32)

    def params(module, weight, bias):
        with torch.no_grad():
            module.weight.copy_(_tensor(weight, dtype))
            if bias is not None:
                module.bias.copy_(_tensor(bias, dtype))
        return module

    if isinstance(layer, Conv2d):
        (top, bottom), (left, right) = _pads(layer.padding)
        out_c, in_c = layer.out_channels, layer.in_channels
        kh, kw = layer.kernel_size
        if isinstance(like, nn.Conv1d):
            if kh != 1 or layer.stride[0] != 1 or top or bottom:
                raise ValueError(f"{op}: a Conv2d with kernel {layer.kernel_size}, padding {layer.padding} "
                                 f"and stride {layer.stride} is not a Conv1d")
            padding: Any = left if left == right else "same"
            if padding == "same":
                from convsym.shapes import same_padding

                if layer.stride[1] != 1 or same_padding(kw, layer.dilation[1]) != (left, right):
                    raise ValueError(f"{op}: padding ({left}, {right}) is asymmetric and not 'same'")
            module = nn.Conv1d(in_c, out_c, kw, stride=layer.stride[1], padding=padding,
                               dilation=layer.dilation[1], groups=layer.groups, bias=layer.bias is not None,
                               dtype=dtype)
            return params(module, layer.weight[:, :, 0, :], layer.bias)
        symmetric = top == bottom and left == right
        padding = (top, left)
        pad_module = None
        if not symmetric:
            from convsym.shapes import same_padding

            same = layer.stride == (1, 1) and same_padding(kh, layer.dilation[0]) == (top, bottom) \
                and same_padding(kw, layer.dilation[1]) == (left, right)
            if same:
                padding = "same"
            else:
                padding, pad_module = 0, nn.ZeroPad2d((left, right, top, bottom))
        module = nn.Conv2d(in_c, out_c, (kh, kw), stride=layer.stride, padding=padding, dilation=layer.dilation,
                           groups=layer.groups, bias=layer.bias is not None, dtype=dtype)
        module = params(module, layer.weight, layer.bias)
        return module if pad_module is None else nn.Sequential(pad_module, module)
    if isinstance(layer, ConvTranspose2d):
        module = nn.ConvTranspose2d(layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride,
                                    padding=layer.padding, output_padding=layer.output_padding,
                                    dilation=layer.dilation, groups=layer.groups, bias=layer.bias is not None,
                                    dtype=dtype)
        return params(module, layer.weight, layer.bias)
    if isinstance(layer, ConstantPadConv2d):
        conv = from_convsym(layer.conv, dtype=dtype)
        return ChannelPadConv2d(conv, layer.padding, _tensor(np.asarray(layer.value), dtype))
    if isinstance(layer, BatchNorm2d):
        affine = like.affine if isinstance(like, nn.BatchNorm2d) else True
        module = nn.BatchNorm2d(layer.num_features, eps=float(layer.eps), affine=affine, dtype=dtype).eval()
        with torch.no_grad():
            module.running_mean.copy_(_tensor(layer.mean, dtype))
            module.running_var.copy_(_tensor(layer.var, dtype))
            if affine:
                module.weight.copy_(_tensor(layer.gamma, dtype))
                module.bias.copy_(_tensor(layer.beta, dtype))
        return module
    if isinstance(layer, tuple) and len(layer) == 2 and isinstance(layer[0], np.ndarray):
        w, b = layer
        if w.ndim != 2:
            raise ValueError(f"{op}: a linear layer's w must be 2-D, got shape {w.shape}")
        module = nn.Linear(w.shape[1], w.shape[0], bias=b is not None, dtype=dtype)
        return params(module, w, b)
    raise TypeError(f"{op}: cannot turn a {type(layer).__name__} into a torch module")


def _activation(value):
    """An activation given as a module becomes its name; a PReLU/LeakyReLU keeps its meaning
    (both are positively homogeneous whatever their slopes)."""
    if is_torch_module(value):
        name = type(value).__name__
        if name not in ACTIVATIONS:
            raise ValueError(f"equalize: activation module {name} is not known; supported: "
                             + ", ".join(sorted(ACTIVATIONS)))
        return ACTIVATIONS[name]
    return value


def adapt(function):
    """Wrap a transform so that it also accepts torch modules and returns torch modules.

    When no argument is a torch module the transform runs unchanged.  Otherwise each module is
    converted by :func:`to_convsym` (an ``nn.Linear`` passed where the transform expects
    ``(w, b)`` is unpacked), the transform runs on NumPy float64, and each layer it returns is
    converted back by :func:`from_convsym` in the dtype (and kind) of the first module given.
    Scales and other arrays are returned as they are.
    """
    import functools

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        modules = [a for a in list(args) + list(kwargs.values()) if is_torch_module(a)]
        if not modules:
            return function(*args, **kwargs)
        torch = _torch()
        like = modules[0]
        if "activation" in kwargs:
            kwargs["activation"] = _activation(kwargs["activation"])
        new_args = []
        for i, a in enumerate(args):
            if function.__name__ == "equalize" and i == 2:
                new_args.append(_activation(a))
            elif isinstance(a, torch.nn.Linear):
                new_args.extend(to_convsym(a))
            elif is_torch_module(a):
                new_args.append(to_convsym(a))
            else:
                new_args.append(a)
        kwargs = {k: (to_convsym(v) if is_torch_module(v) else v) for k, v in kwargs.items()}
        result = function(*new_args, **kwargs)
        return _back(result, like)

    return wrapper


def _back(result, like):
    torch = _torch()
    if isinstance(result, (Conv2d, ConvTranspose2d, ConstantPadConv2d, BatchNorm2d)):
        kind_like = like if isinstance(like, (torch.nn.Conv1d, torch.nn.BatchNorm2d)) else None
        return from_convsym(result, like=kind_like, dtype=_dtype_of(like, torch.float32))
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], np.ndarray) \
            and (result[1] is None or isinstance(result[1], np.ndarray)) and result[0].ndim == 2:
        return from_convsym(result, dtype=_dtype_of(like, torch.float32))
    if isinstance(result, tuple):
        return tuple(_back(r, like) for r in result)
    return result
