"""Layer parameters, normalised once: what every integer layer description means.

The NumPy transforms (:mod:`convsym.transforms.layers`) and the exact ops (:mod:`convsym.exact`)
read ``stride``, ``dilation`` and ``padding`` through these functions, so a layer means the same
in both.  (The reference, :mod:`convsym.reference`, keeps its own reading on purpose: numeric
checks compare it with the rest, and a shared bug could not show.  The cost formulas accept SymPy
sizes and read theirs in :mod:`convsym.cost.layers`.)

PyTorch's conventions: ``padding='same'`` needs stride 1 and splits ``d (k - 1)`` as
``floor/ceil`` with the extra row or column after; ``'valid'`` is no padding.

Also here: the index maps of a kernel split (:func:`split_offsets`, :func:`split_owner`), which the
NumPy split and its exact twin both follow.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

Pair = tuple[int, int]

__all__ = ["Pair", "as_int", "int_tuple", "padding_pairs", "same_padding", "split_offsets", "split_owner"]

PADDING_USAGE = "an int, a pair, ((top, bottom), (left, right)), 'same' or 'valid'"


def as_int(op: str, name: str, value: object) -> int:
    """``value`` as a Python int (NumPy integers accepted; bools and floats refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{op}: {name} must be an int, got {type(value).__name__} {value!r}")
    return int(value)


def int_tuple(op: str, name: str, value: object, nd: int, minimum: int) -> tuple[int, ...]:
    """An int or a length-``nd`` sequence of ints as an ``nd``-tuple, each ``>= minimum``."""
    if isinstance(value, (tuple, list)):
        if len(value) != nd:
            shape = "a pair" if nd == 2 else f"a {nd}-tuple"
            raise ValueError(f"{op}: {name} must be an int or {shape} of ints, got {value!r}")
        values = tuple(as_int(op, name, v) for v in value)
    else:
        values = (as_int(op, name, value),) * nd
    if min(values) < minimum:
        raise ValueError(f"{op}: {name}={value!r} must be >= {minimum}")
    return values


def same_padding(k: int, dilation: int = 1) -> Pair:
    """PyTorch's ``padding='same'`` along one axis as ``(before, after)``: ``d (k - 1)`` split with
    the odd one after."""
    total = dilation * (k - 1)
    return total // 2, total - total // 2


def padding_pairs(
    op: str,
    padding: object,
    nd: int,
    kernel: Sequence[int] | None = None,
    stride: Sequence[int] | None = None,
    dilation: Sequence[int] | None = None,
) -> tuple[Pair, ...]:
    """Explicit ``(before, after)`` zero padding per spatial axis.

    Accepted: an int; ``nd`` ints (symmetric per axis); ``nd`` pairs ``(before, after)``;
    ``'valid'``; ``'same'`` (needs ``kernel``, stride 1).  ``kernel=None`` means the caller does not
    accept strings.
    """
    if isinstance(padding, str):
        if kernel is None:
            raise ValueError(f"{op}: padding must be an int or a pair of ints, got {padding!r}")
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            stride = tuple(stride or (1,) * nd)
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' needs stride=1 (as in PyTorch), got stride={stride}")
            dilation = tuple(dilation or (1,) * nd)
            return tuple(same_padding(k, d) for k, d in zip(kernel, dilation, strict=True))
        raise ValueError(f"{op}: padding must be {PADDING_USAGE}, got {padding!r}")
    if isinstance(padding, (tuple, list)):
        if len(padding) != nd:
            raise ValueError(f"{op}: padding must be {PADDING_USAGE}, got {padding!r}")
        nested = [isinstance(p, (tuple, list)) for p in padding]
        if all(nested):
            pairs = tuple(int_tuple(op, "padding", p, 2, 0) for p in padding)
        elif not any(nested):
            pairs = tuple((p, p) for p in int_tuple(op, "padding", padding, nd, 0))
        else:
            raise ValueError(f"{op}: padding must be {PADDING_USAGE}, got {padding!r}")
    else:
        p = as_int(op, "padding", padding)
        pairs = ((p, p),) * nd
    if min(min(pair) for pair in pairs) < 0:
        raise ValueError(f"{op}: padding={padding!r} must be >= 0")
    return pairs


def split_offsets(k1: int, k2: int) -> list[int]:
    """Window starts that cover ``0 .. k1 + k2 - 2`` with windows of width ``k2`` starting in
    ``0 .. k1 - 1``: ``{0, k2, 2 k2, ...} below k1 - 1``, then ``k1 - 1``; there are
    ``ceil((k1 - 1) / k2) + 1`` of them.  Position ``t`` belongs to window ``min(k2*(t // k2), k1 - 1)``."""
    return sorted({j * k2 for j in range(-(-(k1 - 1) // k2))} | {k1 - 1})


def split_owner(t: int, k1: int, k2: int) -> int:
    """The start of the window (:func:`split_offsets`) that owns merged position ``t``."""
    return min(k2 * (t // k2), k1 - 1)
