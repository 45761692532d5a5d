"""Output tensors of common operators on the ``meta`` device, without torch's Python meta kernels.

On the meta device PyTorch computes the outputs of ``native_batch_norm``, ``addmm``,
``mean.dim``, ``cat`` and the activations through Python reference kernels wrapped in
``torch._disable_dynamo``; the first such call imports ``torch._dynamo`` (about 2.5 s of CPU
on a small machine, more than the whole count of a ResNet-50), and the batch-norm
decomposition alone is the slowest part of a recorded pass.  Counting needs only each output's
shape, dtype and layout, so :func:`meta_outputs` builds them directly for the common cases:

* ``native_batch_norm(x, w, b, mean, var, training, momentum, eps)``: ``x``'s shape and dtype,
  and two ``(C,)`` tensors in the accumulation dtype (float32 for float16/bfloat16 inputs);
* ``addmm(bias, m1, m2)``: ``(m1.shape[0], m2.shape[1])``;
* ``mean.dim(x, dim, keepdim, dtype)``: ``x``'s shape without (or with size 1 at) ``dim``;
* ``cat(tensors, dim)``: the sizes along ``dim`` summed;
* ``native_layer_norm(x, shape, w, b, eps)``: ``x``'s shape and dtype, and mean and rstd of
  ``x``'s leading dims with size 1 for the normalised ones, in the accumulation dtype;
* ``_safe_softmax(x, dim, dtype)``: ``x``'s shape, in ``dtype`` if given;
* ``add``, ``sub``, ``mul``, ``div`` of two tensors of one dtype (the broadcast shape) or of a
  tensor and a number (``.Scalar``);
* ``convolution(x, w, b, stride, padding, dilation, transposed, output_padding, groups)``,
  1-D to 3-D: ``(N, C_out, *out)`` with ``out = floor((n + 2p - d(k - 1) - 1) / s) + 1`` per
  axis, or ``(n - 1) s - 2p + d(k - 1) + q + 1`` when transposed (torch's conv meta kernel
  imports SymPy through ``torch.fx``, 0.8 s);
* ``max_pool2d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode)``: the
  output of :func:`convsym.shapes.pool_output_size` per axis, and int64 indices of that shape;
* activations (``relu``, ``hardtanh``, ``hardswish``, ``hardsigmoid``, ``silu``, ``gelu``,
  ``sigmoid``): ``x``'s shape and dtype;

and ``x`` itself for the in-place forms (``relu_``, ``add_``...).

Each rule applies only when every input is contiguous (row-major, so the output is too) and
the call is one torch accepts (shapes that fit, one floating dtype); otherwise it returns
``None`` and the caller runs torch's own kernel, which also raises torch's own error for a bad
call.  ``tests/crosscheck/test_cost_fastmeta.py`` compares every rule with torch's kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from convsym.shapes import pool_output_size

__all__ = ["meta_outputs"]

_FLOATS = ("float16", "bfloat16", "float32", "float64")
_UNARY = ("relu", "hardtanh", "hardswish", "hardsigmoid", "silu", "gelu", "sigmoid")


def _plain(t: Any, torch) -> bool:
    """A meta tensor of a floating dtype in row-major (contiguous) layout."""
    return (isinstance(t, torch.Tensor) and t.device.type == "meta" and t.is_contiguous()
            and str(t.dtype).removeprefix("torch.") in _FLOATS)


def _batch_norm(torch, x, weight, bias, mean, var, training, momentum, eps):
    if not _plain(x, torch) or x.dim() < 2:
        return None
    c = x.shape[1]
    for v in (weight, bias, mean, var):
        if v is not None and not (isinstance(v, torch.Tensor) and v.device.type == "meta"
                                  and v.dim() == 1 and v.shape[0] == c):
            return None
    if not training and (mean is None or var is None):
        return None
    acc = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    return (torch.empty(x.shape, dtype=x.dtype, device="meta"), torch.empty((c,), dtype=acc, device="meta"),
            torch.empty((c,), dtype=acc, device="meta"))


def _addmm(torch, bias, m1, m2, *, beta=1, alpha=1):
    if not (isinstance(m1, torch.Tensor) and isinstance(m2, torch.Tensor) and isinstance(bias, torch.Tensor)):
        return None
    if m1.device.type != "meta" or m2.device.type != "meta" or bias.device.type != "meta":
        return None
    if m1.dim() != 2 or m2.dim() != 2 or m1.shape[1] != m2.shape[0]:
        return None
    if not (m1.dtype == m2.dtype == bias.dtype) or str(m1.dtype).removeprefix("torch.") not in _FLOATS:
        return None
    out = (m1.shape[0], m2.shape[1])
    if bias.dim() > 2 or any(b not in (1, o) for b, o in zip(reversed(bias.shape), reversed(out), strict=False)):
        return None
    return torch.empty(out, dtype=m1.dtype, device="meta")


def _mean_dim(torch, x, dim, keepdim=False, *, dtype=None):
    if not _plain(x, torch) or x.dim() == 0:
        return None
    if dtype is not None and str(dtype).removeprefix("torch.") not in _FLOATS:
        return None
    dims = [dim] if isinstance(dim, int) else list(dim) if dim is not None else []
    if not dims or not all(isinstance(d, int) and -x.dim() <= d < x.dim() for d in dims):
        return None
    reduced = {d % x.dim() for d in dims}
    if len(reduced) != len(dims):
        return None
    shape = [1 if i in reduced else n for i, n in enumerate(x.shape) if keepdim or i not in reduced]
    return torch.empty(shape, dtype=dtype if dtype is not None else x.dtype, device="meta")


def _cat(torch, tensors, dim=0):
    tensors = list(tensors)
    if not tensors or not all(_plain(t, torch) for t in tensors):
        return None
    first = tensors[0]
    if first.dim() == 0 or not isinstance(dim, int) or not -first.dim() <= dim < first.dim():
        return None
    d = dim % first.dim()
    for t in tensors[1:]:
        if t.dtype != first.dtype or t.dim() != first.dim() \
                or any(a != b for i, (a, b) in enumerate(zip(t.shape, first.shape, strict=True)) if i != d):
            return None
    shape = list(first.shape)
    shape[d] = sum(t.shape[d] for t in tensors)
    return torch.empty(shape, dtype=first.dtype, device="meta")


def _layer_norm(torch, x, normalized_shape, weight=None, bias=None, eps=1e-5):
    shape = tuple(normalized_shape)
    k = len(shape)
    if not _plain(x, torch) or not 0 < k <= x.dim() or tuple(x.shape[x.dim() - k:]) != shape:
        return None
    for v in (weight, bias):
        if v is not None and not (isinstance(v, torch.Tensor) and v.device.type == "meta" and tuple(v.shape) == shape):
            return None
    acc = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    stats = (*x.shape[:x.dim() - k], *(1,) * k)
    return (torch.empty(x.shape, dtype=x.dtype, device="meta"), torch.empty(stats, dtype=acc, device="meta"),
            torch.empty(stats, dtype=acc, device="meta"))


def _softmax(torch, x, dim, dtype=None):
    if not _plain(x, torch) or not isinstance(dim, int) or not -max(x.dim(), 1) <= dim < max(x.dim(), 1):
        return None
    if dtype is not None and str(dtype).removeprefix("torch.") not in _FLOATS:
        return None
    return torch.empty(x.shape, dtype=x.dtype if dtype is None else dtype, device="meta")


def _broadcast(a: tuple, b: tuple) -> tuple | None:
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x != y and 1 not in (x, y):
            return None
        out.append(y if x == 1 else x)
    return tuple(reversed(out))


def _binary(inplace: bool, scalar: bool) -> Callable:
    def rule(torch, x, other, *, alpha=1):
        if not _plain(x, torch) or isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
            return None
        if scalar:
            if isinstance(other, bool) or not isinstance(other, (int, float)):
                return None
            shape = tuple(x.shape)
        else:
            if not _plain(other, torch) or other.dtype != x.dtype:
                return None
            shape = _broadcast(tuple(x.shape), tuple(other.shape))
            if shape is None or (inplace and shape != tuple(x.shape)):
                return None
        return x if inplace else torch.empty(shape, dtype=x.dtype, device="meta")

    return rule


def _int_list(value: Any, n: int) -> tuple[int, ...] | None:
    if not isinstance(value, (list, tuple)) or len(value) != n:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return None
    return tuple(value)


def _convolution(torch, x, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    if not (_plain(x, torch) and _plain(weight, torch)) or x.dtype != weight.dtype:
        return None
    spatial = x.dim() - 2
    if not 1 <= spatial <= 3 or weight.dim() != x.dim() or not isinstance(transposed, bool):
        return None
    lists = [_int_list(v, spatial) for v in (stride, padding, dilation, output_padding)]
    if any(v is None for v in lists) or not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
        return None
    s, p, d, q = lists
    if min(s) < 1 or min(d) < 1 or min(p) < 0 or min(q) < 0 or min(x.shape) < 1 or min(weight.shape) < 1:
        return None
    if transposed:
        if x.shape[1] != weight.shape[0] or weight.shape[0] % groups:
            return None
        if any(qi >= max(si, di) for qi, si, di in zip(q, s, d, strict=True)):
            return None
        c_out = weight.shape[1] * groups
        out = [(n - 1) * si - 2 * pi + di * (k - 1) + qi + 1
               for n, k, si, pi, di, qi in zip(x.shape[2:], weight.shape[2:], s, p, d, q, strict=True)]
    else:
        if x.shape[1] != weight.shape[1] * groups or weight.shape[0] % groups or any(q):
            return None
        c_out = weight.shape[0]
        out = [(n + 2 * pi - di * (k - 1) - 1) // si + 1
               for n, k, si, pi, di in zip(x.shape[2:], weight.shape[2:], s, p, d, strict=True)]
    if min(out) < 1:
        return None
    if bias is not None and not (isinstance(bias, torch.Tensor) and bias.device.type == "meta"
                                 and bias.dim() == 1 and bias.shape[0] == c_out and bias.dtype == x.dtype):
        return None
    return torch.empty((x.shape[0], c_out, *out), dtype=x.dtype, device="meta")


def _pair_list(value: Any, default: tuple[int, int] | None = None) -> tuple[int, int] | None:
    if isinstance(value, (list, tuple)) and len(value) == 0 and default is not None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 1:
        return _pair_list(value[0])
    return _int_list(value, 2)


def _max_pool2d(torch, x, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    if not _plain(x, torch) or x.dim() != 4 or min(x.shape) < 1 or not isinstance(ceil_mode, bool):
        return None
    k = _pair_list(kernel_size)
    s = _pair_list(stride, default=k) if k is not None else None
    p, d = _pair_list(padding), _pair_list(dilation)
    if k is None or s is None or p is None or d is None:
        return None
    try:
        out = [pool_output_size(n, ki, si, pi, di, ceil_mode)
               for n, ki, si, pi, di in zip(x.shape[2:], k, s, p, d, strict=True)]
    except (ValueError, TypeError):  # torch's kernel raises its own error
        return None
    shape = (*x.shape[:2], *out)
    return (torch.empty(shape, dtype=x.dtype, device="meta"), torch.empty(shape, dtype=torch.int64, device="meta"))


def _unary(inplace: bool) -> Callable:
    def rule(torch, x, *args, **kwargs):
        if not _plain(x, torch):
            return None
        return x if inplace else torch.empty(x.shape, dtype=x.dtype, device="meta")

    return rule


def _rules(torch) -> dict[Any, Callable]:
    aten = torch.ops.aten
    rules: dict[Any, Callable] = {
        aten.native_batch_norm.default: _batch_norm,
        aten.convolution.default: _convolution,
        aten.max_pool2d_with_indices.default: _max_pool2d,
        aten.addmm.default: _addmm,
        aten.mean.dim: _mean_dim,
        aten.cat.default: _cat,
        aten.native_layer_norm.default: _layer_norm,
        aten._safe_softmax.default: _softmax,
        aten._softmax.default: lambda torch, x, dim, half_to_float: None if half_to_float else _softmax(torch, x, dim),
    }
    for name in ("add", "sub", "mul", "div"):
        for inplace in (False, True):
            packet = getattr(aten, f"{name}_" if inplace else name)
            rules[packet.Tensor] = _binary(inplace, False)
            rules[packet.Scalar] = _binary(inplace, True)
    for name in _UNARY:
        rules[getattr(aten, name).default] = _unary(False)
        rules[getattr(aten, f"{name}_").default] = _unary(True)
    return rules


_CACHE: dict[str, dict[Any, Callable]] = {}


def meta_outputs(func: Any, args: tuple, kwargs: dict, torch) -> Any:
    """What ``func(*args, **kwargs)`` returns on meta tensors, or ``None`` when no rule applies
    (then run ``func``).  ``func`` is an ATen ``OpOverload``."""
    rules = _CACHE.get("rules")
    if rules is None:
        rules = _CACHE["rules"] = _rules(torch)
    rule = rules.get(func)
    if rule is None:
        return None
    try:
        return rule(torch, *args, **kwargs)
    except TypeError:  # an argument list the rule does not read: torch's kernel decides
        return None
