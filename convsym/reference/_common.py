"""Validation and padding helpers shared by the reference ops (NumPy and the standard library only)."""

from __future__ import annotations

import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

_AXES = {1: ("L",), 2: ("H", "W")}


_TUPLE_WORD = {1: "a 1-tuple", 2: "a pair"}




# --------------------------------------------------------------------------------------------
# validation helpers


def _array(op: str, name: str, value, *, arithmetic: bool = True) -> np.ndarray:
    """Return ``value`` as an ndarray of a supported dtype.

    Arithmetic ops accept real floating, integer (converted to object: exact, no overflow) and
    object arrays whose entries are numbers; rearrangements also accept booleans and keep the
    dtype as it is.
    """
    if not (isinstance(value, (np.ndarray, list, tuple, numbers.Number)) or hasattr(value, "__array__")):
        raise TypeError(f"{op}: {name} must be a numpy array or an array-like of numbers, got {type(value).__name__}")
    try:
        array = np.asarray(value)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f"{op}: {name} is not a rectangular array: {error}") from None
    kind = array.dtype.kind
    allowed = "fiuO" if arithmetic else "fiuOb"
    if kind not in allowed:
        raise TypeError(
            f"{op}: {name} has dtype {array.dtype}; supported are real floating, integer and "
            f"object (int/Fraction) arrays" + ("" if arithmetic else " and booleans")
        )
    if not arithmetic:
        return array
    if kind in "iu":
        return array.astype(object)
    if kind == "O":
        converted = None
        for index, entry in np.ndenumerate(array):
            if isinstance(entry, np.integer):
                # a fixed-width integer inside an object array would still overflow
                if converted is None:
                    converted = array.copy()
                converted[index] = int(entry)
            elif not isinstance(entry, numbers.Number):
                raise TypeError(
                    f"{op}: {name} holds {type(entry).__name__} {entry!r} at index {index}; "
                    f"object arrays must hold numbers (int, Fraction)"
                )
        return array if converted is None else converted
    return array


def _optional_array(op: str, name: str, value) -> np.ndarray | None:
    return None if value is None else _array(op, name, value)


def _unify(*arrays: np.ndarray | None) -> list[np.ndarray | None]:
    """Make every operand an object array as soon as one of them is (exactness wins)."""
    if any(a is not None and a.dtype == object for a in arrays):
        return [None if a is None else a.astype(object, copy=False) for a in arrays]
    return list(arrays)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _ints(op: str, name: str, value, nd: int) -> tuple[int, ...]:
    """``value`` as a tuple of ``nd`` ints: an int is repeated, a sequence must have ``nd`` ints."""
    if _is_int(value):
        return (int(value),) * nd
    if isinstance(value, (tuple, list)) and len(value) == nd and all(_is_int(v) for v in value):
        return tuple(int(v) for v in value)
    raise TypeError(f"{op}: {name} must be an int or {_TUPLE_WORD[nd]} of ints, got {value!r}")


def _at_least(op: str, name: str, values: tuple[int, ...], minimum: int) -> None:
    if any(v < minimum for v in values):
        shown = values[0] if len(set(values)) == 1 else values
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {name}={shown}")


def _positive_int(op: str, name: str, value) -> int:
    if not _is_int(value):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{op}: {name} must be >= 1, got {name}={value}")
    return int(value)


def _rank(op: str, name: str, array: np.ndarray, rank: int, layout: str) -> None:
    if array.ndim != rank:
        raise ValueError(f"{op}: {name} must have {rank} dimensions {layout}, got shape {array.shape}")


def _bias(op: str, bias: np.ndarray | None, out_channels: int) -> None:
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"{op}: bias must have shape (out_channels,) = ({out_channels},), got {bias.shape}")


def _conv_padding(op, padding, nd, kernel, stride, dilation) -> tuple[tuple[int, int], ...]:
    """Resolve ``padding`` into one ``(low, high)`` pair per spatial axis."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' requires stride=1 on every axis, got stride={stride}")
            totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise TypeError(f"{op}: padding must be an int, {_TUPLE_WORD[nd]} of ints, 'same' or 'valid', got {padding!r}")
    explicit = (
        isinstance(padding, (tuple, list)) and len(padding) == nd and all(isinstance(p, (tuple, list)) for p in padding)
    )
    if explicit:
        if not all(len(p) == 2 and _is_int(p[0]) and _is_int(p[1]) for p in padding):
            raise TypeError(f"{op}: explicit padding must be {nd} (low, high) pairs of ints, got {padding!r}")
        pairs = tuple((int(lo), int(hi)) for lo, hi in padding)
        if any(v < 0 for pair in pairs for v in pair):
            raise ValueError(f"{op}: padding must be >= 0, got padding={pairs}")
        return pairs
    if isinstance(padding, (tuple, list)) and not all(_is_int(p) for p in padding):
        raise TypeError(
            f"{op}: padding must be an int, {_TUPLE_WORD[nd]} of ints, 'same', 'valid' or "
            f"{nd} (low, high) pairs, got {padding!r}"
        )
    symmetric = _ints(op, "padding", padding, nd)
    _at_least(op, "padding", symmetric, 0)
    return tuple((p, p) for p in symmetric)


def _check_kernel_fits(op, sizes, kernel, dilation, pads) -> None:
    for axis, n, k, d, (lo, hi) in zip(_AXES[len(sizes)], sizes, kernel, dilation, pads, strict=True):
        span = d * (k - 1) + 1
        if span > n + lo + hi:
            raise ValueError(f"{op}: dilated kernel size {span} exceeds padded input size {n + lo + hi} on axis {axis}")


# --------------------------------------------------------------------------------------------
# shared numerics (inputs already validated)


def _pad(x: np.ndarray, pads, fill=0) -> np.ndarray:
    """Pad the trailing ``len(pads)`` axes of ``x`` with ``fill``.

    Written out instead of ``np.pad``: on object arrays ``np.pad`` fills with ``np.int64(0)``,
    which would bring fixed-width integers into exact arithmetic.
    """
    if all(lo == 0 and hi == 0 for lo, hi in pads):
        return x
    lead = x.shape[: x.ndim - len(pads)]
    shape = lead + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[len(lead) :], pads, strict=True))
    padded = np.full(shape, fill, dtype=x.dtype)
    inner = tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape[len(lead) :], pads, strict=True))
    padded[(Ellipsis, *inner)] = x
    return padded


def _windows(xp: np.ndarray, kernel, stride, dilation) -> np.ndarray:
    """View of shape ``(N, C, *out, *kernel)``: ``view[n, c, *o, *u] = xp[n, c, *(o*s + u*d)]``.

    The last window starts at the largest ``o*s`` with ``o*s + d*(k-1) < padded size``, so
    ``out = floor((padded - d*(k-1) - 1) / s) + 1``.
    """
    nd = len(kernel)
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
    view = sliding_window_view(xp, spans, axis=tuple(range(2, 2 + nd)))
    steps = tuple(slice(None, None, s) for s in stride) + tuple(slice(None, None, d) for d in dilation)
    return view[(slice(None), slice(None), *steps)]
