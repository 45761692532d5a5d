"""Output sizes and receptive fields of convolution and pooling layers.

Every function is pure and works "both with numbers and symbols": Python ints in give an exact
``int`` out; any ``sympy.Expr`` among the arguments gives a SymPy expression out (built with
``sympy.floor``, ``sympy.ceiling``, ``sympy.Max`` and ``sympy.Piecewise``, never the built-in
``max``), which substitutes to the integer result.

Validation follows PyTorch.  For ints every rule is checked.  For symbols a rule is checked only
when SymPy can decide it from the symbols' assumptions (a size declared
``Symbol("n", integer=True, positive=True)`` passes ``n >= 1``; ``n - 10 >= 1`` is undecided and
skipped).  Floats, bools and strings raise ``TypeError``; broken rules raise ``ValueError``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

from convsym.lazy_sympy import is_sympy, is_sympy_false, sympy

__all__ = [
    "conv_output_size",
    "conv_transpose_output_size",
    "pool_output_size",
    "receptive_field",
    "same_padding",
]

if TYPE_CHECKING:
    import sympy as _sympy

    Size = int | _sympy.Expr
else:
    Size = Union[int, "sympy.Expr"]


def _size(op: str, name: str, value: object) -> Size:
    """``value`` as an ``int`` or an integer-valued ``sympy.Expr``; ``TypeError`` otherwise."""
    if type(value) is int:  # the common case first (a bool is not of type int)
        return value
    # sympy.Symbol is also a logic Boolean, so only Python bools and sympy.true/false are bools.
    if isinstance(value, bool) or is_sympy(value) and isinstance(value, sympy.logic.boolalg.BooleanAtom):
        raise TypeError(f"{op}: {name} must be an int or a sympy expression, got bool {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if is_sympy(value) and isinstance(value, sympy.Expr):
        # sympy.Float(2.0).is_integer is None, so floats are rejected by their atoms instead.
        if value.atoms(sympy.Float) or value.is_integer is False:
            raise TypeError(f"{op}: {name} must be integer-valued, got {value}")
        return value
    raise TypeError(
        f"{op}: {name} must be an int or a sympy expression, got {type(value).__name__} {value!r}"
    )


def _require(condition: object, op: str, message: str) -> None:
    """Raise ``ValueError`` when ``condition`` is decided false (Python or SymPy ``False``).

    An undecided SymPy relational (a symbol without enough assumptions) passes.
    """
    if condition is True:
        return
    if condition is False or is_sympy_false(condition):
        raise ValueError(f"{op}: {message}")


def _symbolic(*values: object) -> bool:
    return is_sympy(*values)


def _max(a: Size, b: Size) -> Size:
    return sympy.Max(a, b) if _symbolic(a, b) else max(a, b)


def _floor_div(a: Size, b: Size) -> Size:
    return sympy.floor(sympy.sympify(a) / b) if _symbolic(a, b) else a // b


def _ceil_div(a: Size, b: Size) -> Size:
    return sympy.ceiling(sympy.sympify(a) / b) if _symbolic(a, b) else -(-a // b)


def _padding_pair(op: str, padding: object) -> tuple[Size, Size]:
    """``padding`` (an int/expression, or a pair ``(left, right)``) as ``(left, right)``."""
    if isinstance(padding, (tuple, list)):
        if len(padding) != 2:
            raise ValueError(
                f"{op}: padding must be a size or a pair (left, right), got {padding!r}"
            )
        return _size(op, "padding[0]", padding[0]), _size(op, "padding[1]", padding[1])
    p = _size(op, "padding", padding)
    return p, p


def conv_output_size(
    n: Size,
    k: Size,
    stride: Size = 1,
    padding: Size | tuple[Size, Size] = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
) -> Size:
    r"""Number of window positions of a convolution or pooling along one axis.

    ``out = floor((n + p_l + p_r - d(k-1) - 1) / s) + 1``, with ``p_l = p_r = p`` for an int
    ``padding`` (``floor((n + 2p - d(k-1) - 1)/s) + 1``) and ``(p_l, p_r) = padding`` for a pair.

    ``ceil_mode=True`` (pooling) takes ``ceil`` instead of ``floor`` and then applies PyTorch's
    rule: if ``(out - 1) s >= n + p_l`` then ``out -= 1``, i.e. a last window that would start in
    the right padding is dropped.  Symbolically that rule is a ``sympy.Piecewise``.

    Rules: ``n, k >= 1``, ``s, d >= 1``, ``p_l, p_r >= 0`` and the dilated kernel
    ``d(k-1) + 1`` no larger than the padded input ``n + p_l + p_r``.
    """
    op = "conv_output_size"
    n, k = _size(op, "n", n), _size(op, "k", k)
    stride, dilation = _size(op, "stride", stride), _size(op, "dilation", dilation)
    left, right = _padding_pair(op, padding)
    if not isinstance(ceil_mode, bool):
        raise TypeError(f"{op}: ceil_mode must be a bool, got {type(ceil_mode).__name__}")
    _require(n >= 1, op, f"input size n={n} must be >= 1")
    _require(k >= 1, op, f"kernel size k={k} must be >= 1")
    _require(stride >= 1, op, f"stride={stride} must be >= 1")
    _require(dilation >= 1, op, f"dilation={dilation} must be >= 1")
    _require(left >= 0, op, f"padding={left} must be >= 0")
    _require(right >= 0, op, f"padding={right} must be >= 0")
    span = dilation * (k - 1) + 1
    padded = n + left + right
    _require(span <= padded, op, f"dilated kernel size {span} exceeds padded input size {padded}")
    if not ceil_mode:
        return _floor_div(padded - span, stride) + 1
    out = _ceil_div(padded - span, stride) + 1
    if _symbolic(out, stride, n, left):
        return sympy.Piecewise((out - 1, (out - 1) * stride >= n + left), (out, True))
    return out - 1 if (out - 1) * stride >= n + left else out


def conv_transpose_output_size(
    n: Size,
    k: Size,
    stride: Size = 1,
    padding: Size = 0,
    output_padding: Size = 0,
    dilation: Size = 1,
) -> Size:
    r"""Output size of a transposed convolution along one axis.

    ``out = (n - 1) s - 2p + d(k - 1) + output_padding + 1``.

    Rules (PyTorch): ``n, k >= 1``, ``s, d >= 1``, ``p, output_padding >= 0``,
    ``output_padding < max(s, d)`` ("smaller than either stride or dilation") and ``out >= 1``.
    """
    op = "conv_transpose_output_size"
    n, k = _size(op, "n", n), _size(op, "k", k)
    stride, dilation = _size(op, "stride", stride), _size(op, "dilation", dilation)
    padding = _size(op, "padding", padding)
    output_padding = _size(op, "output_padding", output_padding)
    _require(n >= 1, op, f"input size n={n} must be >= 1")
    _require(k >= 1, op, f"kernel size k={k} must be >= 1")
    _require(stride >= 1, op, f"stride={stride} must be >= 1")
    _require(dilation >= 1, op, f"dilation={dilation} must be >= 1")
    _require(padding >= 0, op, f"padding={padding} must be >= 0")
    _require(output_padding >= 0, op, f"output_padding={output_padding} must be >= 0")
    _require(
        output_padding < _max(stride, dilation),
        op,
        f"output_padding={output_padding} must be smaller than either "
        f"stride={stride} or dilation={dilation}",
    )
    out = (n - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1
    _require(
        out >= 1,
        op,
        f"output size (n-1)s - 2p + d(k-1) + output_padding + 1 = {out} must be >= 1 "
        f"(padding={padding} crops the whole output)",
    )
    return out


def pool_output_size(
    n: Size,
    k: Size,
    stride: Size | None = None,
    padding: Size = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
) -> Size:
    r"""Output size of PyTorch's max or average pooling along one axis.

    The window rule of :func:`conv_output_size`, with PyTorch's pooling defaults and checks:
    ``stride`` defaults to ``k``; ``out = floor((n + 2p - d(k-1) - 1 + c)/s) + 1`` with
    ``c = s - 1`` in ceil mode (``c = 0`` otherwise), then in ceil mode a last window that would
    start at or beyond ``n + p`` (in the right padding) is dropped.

    Rules (PyTorch): ``n, k, s, d >= 1``, ``0 <= 2p <= k`` ("pad should be at most half of
    kernel size") and ``out >= 1``.  In ceil mode the dilated kernel may be larger than the
    padded input (a single window hanging over the end), as in PyTorch.
    """
    op = "pool_output_size"
    n, k = _size(op, "n", n), _size(op, "k", k)
    stride = k if stride is None else _size(op, "stride", stride)
    padding, dilation = _size(op, "padding", padding), _size(op, "dilation", dilation)
    if not isinstance(ceil_mode, bool):
        raise TypeError(f"{op}: ceil_mode must be a bool, got {type(ceil_mode).__name__}")
    _require(n >= 1, op, f"input size n={n} must be >= 1")
    _require(k >= 1, op, f"kernel size k={k} must be >= 1")
    _require(stride >= 1, op, f"stride={stride} must be >= 1")
    _require(dilation >= 1, op, f"dilation={dilation} must be >= 1")
    _require(padding >= 0, op, f"padding={padding} must be >= 0")
    _require(2 * padding <= k, op, f"padding={padding} must be at most half of kernel size k={k}")
    span = dilation * (k - 1) + 1
    padded = n + 2 * padding
    over = span <= padded
    if over is False or is_sympy_false(over):
        out = _floor_div(padded - span + (stride - 1 if ceil_mode else 0), stride) + 1
        _require(
            out >= 1, op, f"dilated kernel size {span} exceeds padded input size {padded}"
        )
        # here the one window starts at 0, inside the input: the drop rule cannot apply
        return out
    return conv_output_size(n, k, stride, padding, dilation, ceil_mode=ceil_mode)


def same_padding(k: Size, dilation: Size = 1) -> tuple[Size, Size]:
    r"""PyTorch's ``padding='same'`` along one axis, as ``(left, right)``.

    The total ``d(k - 1)`` is split as ``left = floor(d(k-1)/2)``, ``right = d(k-1) - left``:
    an even kernel puts the extra row/column on the right/bottom.  Output size equals input size
    at stride 1.
    """
    op = "same_padding"
    k, dilation = _size(op, "k", k), _size(op, "dilation", dilation)
    _require(k >= 1, op, f"kernel size k={k} must be >= 1")
    _require(dilation >= 1, op, f"dilation={dilation} must be >= 1")
    total = dilation * (k - 1)
    left = _floor_div(total, 2)
    return left, total - left


def _size_list(op: str, name: str, values: object) -> list[Size]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(
            f"{op}: {name} must be a list or tuple of sizes, got {type(values).__name__}"
        )
    return [_size(op, f"{name}[{i}]", v) for i, v in enumerate(values)]


def receptive_field(
    kernel_sizes: Sequence[Size],
    strides: Sequence[Size],
    dilations: Sequence[Size] | None = None,
) -> tuple[Size, Size]:
    r"""Receptive field ``r`` and jump (input distance between neighbouring outputs) of a stack.

    For layers ``l = 1..L`` with kernel ``k_l``, stride ``s_l`` and dilation ``d_l``
    (default 1):

    ``r = 1 + sum_l d_l (k_l - 1) prod_{i<l} s_i``  and  ``jump = prod_l s_l``.

    An empty stack gives ``(1, 1)``.  Padding does not change either number.
    """
    op = "receptive_field"
    ks = _size_list(op, "kernel_sizes", kernel_sizes)
    ss = _size_list(op, "strides", strides)
    ds = [1] * len(ks) if dilations is None else _size_list(op, "dilations", dilations)
    if len(ss) != len(ks):
        raise ValueError(f"{op}: kernel_sizes has {len(ks)} entries but strides has {len(ss)}")
    if len(ds) != len(ks):
        raise ValueError(f"{op}: kernel_sizes has {len(ks)} entries but dilations has {len(ds)}")
    r: Size = 1
    jump: Size = 1
    for i, (k, s, d) in enumerate(zip(ks, ss, ds, strict=True)):
        _require(k >= 1, op, f"kernel_sizes[{i}]={k} must be >= 1")
        _require(s >= 1, op, f"strides[{i}]={s} must be >= 1")
        _require(d >= 1, op, f"dilations[{i}]={d} must be >= 1")
        r = r + d * (k - 1) * jump
        jump = jump * s
    if _symbolic(*ks, *ss, *ds):
        return sympy.sympify(r), sympy.sympify(jump)
    return r, jump
