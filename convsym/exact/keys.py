"""The canonical form of a term list: sorting and merging ``(entry, monomial)`` keys.

Internally a monomial array is handled as a list of int32 columns (column j = j-th smallest id of
every term), so that sorting networks and key packing run on contiguous vectors.  The packing
scheme is described in :mod:`convsym.exact.poly`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from convsym.exact.tensor import _KEY_BITS, _LIMIT, _max_abs, _normalize_coef, _to_object

if TYPE_CHECKING:  # annotations only
    from convsym.exact.poly import PolyTensor


def _columns(mono: np.ndarray) -> list[np.ndarray]:
    return [mono[:, j] for j in range(mono.shape[1])]


def _stack(cols: list[np.ndarray], n: int) -> np.ndarray:
    """Columns -> an ``(n, width)`` int32 array in Fortran order (columns stay contiguous)."""
    out = np.empty((n, len(cols)), dtype=np.int32, order="F")
    for j, col in enumerate(cols):
        out[:, j] = col
    return out


def _sort_columns(cols: list[np.ndarray]) -> list[np.ndarray]:
    """Sort every row ascending with the ``-1`` padding last.

    Viewed as uint32, ``-1`` is the largest value, so plain min/max put it at the end.
    """
    width = len(cols)
    if width <= 1:
        return cols
    u = [np.ascontiguousarray(c, dtype=np.int32).view(np.uint32) for c in cols]
    if width <= 8:
        # odd-even transposition network: `width` rounds of vectorised compare-exchange
        for rnd in range(width):
            for i in range(rnd % 2, width - 1, 2):
                low = np.minimum(u[i], u[i + 1])
                np.maximum(u[i], u[i + 1], out=u[i + 1])
                u[i] = low
    else:
        block = np.sort(np.stack(u, axis=1), axis=1)
        u = [block[:, j] for j in range(width)]
    return [c.view(np.int32) for c in u]


def _merge_sorted_columns(a: list[np.ndarray], b: list[np.ndarray]) -> list[np.ndarray]:
    """Rows of ``a`` and of ``b`` each sorted (``-1`` padding last) -> rows of ``a + b`` sorted.

    With one column in ``b`` (a product by a variable) the new id is bubbled into place, ``len(a)``
    compare-exchanges instead of the ``len(a) + 1`` rounds of the general network.
    """
    if len(b) != 1:
        return _sort_columns(a + b)
    u = [np.ascontiguousarray(c, dtype=np.int32).view(np.uint32) for c in a + b]
    for i in range(len(u) - 1, 0, -1):
        low = np.minimum(u[i - 1], u[i])
        np.maximum(u[i - 1], u[i], out=u[i])
        u[i - 1] = low
    return [c.view(np.int32) for c in u]


@dataclass(frozen=True)
class _KeyPlan:
    """How ``(entry, monomial)`` is packed into one int64 key.

    ``key = entry << (width*bits) | code_0 << ((width-1)*bits) | ... | code_{width-1}`` where
    ``code = id + 1`` (0 = padding), or, when the plain ids would need too many bits, the rank of
    the id among the ids present (``present`` holds them sorted, -1 for padding first).
    Lexicographic order of ``(entry, ids)`` with padding first is the numeric order of keys.
    """

    width: int
    bits: int
    total_bits: int
    present: np.ndarray | None = None

    def encode(self, entry: np.ndarray, cols: list[np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
        """The keys of the terms (written into ``out`` when given)."""
        if self.present is None:
            # key = entry << (width*bits) + sum_j (id_j + 1) << shift_j; a padding id -1 adds 0
            key = np.left_shift(entry, self.width * self.bits, dtype=np.int64, out=out)
            shifts = [(self.width - 1 - j) * self.bits for j in range(min(self.width, len(cols)))]
            key += sum(1 << sh for sh in shifts)
            if shifts:
                code = np.empty(key.size, dtype=np.int64)
                for col, sh in zip(cols[: len(shifts)], shifts, strict=True):
                    np.left_shift(col, sh, dtype=np.int64, out=code)
                    key += code
            return key
        if out is None:
            key = entry.astype(np.int64, copy=True)
        else:
            key = out
            key[:] = entry
        code = np.empty(key.size, dtype=np.int64)
        for j in range(self.width):
            key <<= self.bits
            if j < len(cols):
                if self.present is None:
                    np.add(cols[j], 1, out=code)
                else:
                    code[:] = np.searchsorted(self.present, cols[j])
                key |= code
        return key

    def decode(self, key: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Inverse of :meth:`encode` (consumes ``key``): entries and monomial columns."""
        mask = (1 << self.bits) - 1
        cols: list[np.ndarray] = [np.empty(0)] * self.width
        code = np.empty(key.size, dtype=np.int64)
        for j in range(self.width - 1, -1, -1):
            np.bitwise_and(key, mask, out=code)
            key >>= self.bits
            if self.present is None:
                cols[j] = np.empty(key.size, dtype=np.int32)
                np.subtract(code, 1, out=cols[j], casting="unsafe")
            else:
                cols[j] = self.present[code]
        return key, cols


def _plan_key(size: int, width: int, groups: list[list[np.ndarray]]) -> _KeyPlan | None:
    """A key layout for the columns in ``groups`` fitting 62 bits, or None."""
    entry_bits = max(size - 1, 0).bit_length()
    top = max((int(c.max()) for cols in groups for c in cols if c.size), default=-1)
    bits = (top + 1).bit_length()
    if entry_bits + width * bits <= _KEY_BITS:
        return _KeyPlan(width, bits, entry_bits + width * bits)
    present = np.unique(np.concatenate([np.array([-1], dtype=np.int32), *(c for g in groups for c in g)]))
    bits = (present.size - 1).bit_length()
    if entry_bits + width * bits <= _KEY_BITS:
        return _KeyPlan(width, bits, entry_bits + width * bits, present)
    return None


def _reduce_runs(coef: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    """Sum the runs of ``coef`` beginning at ``starts``, switching to Python ints if needed."""
    if starts.size == n:
        return coef
    if coef.dtype != object:
        longest = int(np.diff(np.append(starts, n)).max())
        if _max_abs(coef) * longest >= _LIMIT:
            coef = _to_object(coef)
    return np.add.reduceat(coef, starts)


def _merge_sorted_keys(key: np.ndarray, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge equal adjacent keys, drop zero coefficients."""
    n = key.size
    if n and not (key[1:] == key[:-1]).any():
        # no two terms share a key: nothing to merge
        if coef.dtype != object and coef.strides == (0,) and int(coef[0]) != 0:
            return key, coef  # a broadcast nonzero constant
        if coef.dtype != object and (int(coef.min()) > 0 or int(coef.max()) < 0):
            return key, coef
        keep = coef != 0
        if not keep.all():
            key, coef = key[keep], coef[keep]
        return key, _normalize_coef(coef)
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    coef = _reduce_runs(coef, starts, n)
    if starts.size != n:
        key = key[starts]
    keep = coef != 0
    if not keep.all():
        key, coef = key[keep], coef[keep]
    return key, _normalize_coef(coef)


def _trim(entry: np.ndarray, cols: list[np.ndarray], coef: np.ndarray):
    """Drop padding-only trailing columns; the canonical ``(entry, mono, coef)`` triple."""
    width = len(cols)
    while width and not (cols[width - 1] >= 0).any():
        width -= 1
    return entry, _stack(cols[:width], entry.size), coef


def _canonicalize(size: int, entry: np.ndarray, cols: list[np.ndarray], coef: np.ndarray):
    """Sort terms by (entry, monomial), merge equal ones, drop zeros; each row of ``cols`` sorted.

    Returns ``(entry, mono, coef)`` with ``mono`` an ``(n, degree)`` int32 array.
    """
    n, width = entry.size, len(cols)
    if n == 0:
        return entry.astype(np.int64), np.zeros((0, 0), dtype=np.int32), np.zeros(0, dtype=np.int64)
    plan = _plan_key(size, width, [cols])
    if plan is None:
        return _canonicalize_lexsort(size, entry.astype(np.int64), cols, coef)
    key, coef = _sorted_keys(plan, entry, cols, coef)
    entry, cols = plan.decode(key)
    return _trim(entry, cols, coef)


def _sorted_keys(plan: _KeyPlan, entry: np.ndarray, cols: list[np.ndarray], coef: np.ndarray):
    """Packed keys of the terms, sorted, equal ones merged, zeros dropped; with their coefficients."""
    return _sort_packed(plan.total_bits, plan.encode(entry, cols), coef)


def _sort_packed(total_bits: int, key: np.ndarray, coef: np.ndarray):
    """Sort packed keys of ``total_bits`` bits (in place) with their coefficients, merge equal
    keys, drop zeros."""
    n = key.size
    if coef.dtype == object:
        span = None
    elif coef.strides == (0,):  # a broadcast constant
        span = 0
    else:
        span = int(coef.max()) - int(coef.min())
    index_bits = max(n - 1, 1).bit_length()
    if span == 0:
        # one coefficient for every term (products of variables): only the keys need sorting
        key.sort()
        return _merge_sorted_keys(key, coef)
    if span is not None and total_bits + span.bit_length() <= _KEY_BITS:
        # the coefficient rides in the low bits: one SIMD sort orders everything
        shift, low = span.bit_length(), int(coef.min())
        key <<= shift
        key |= coef - low
        key.sort()
        coef = (key & ((1 << shift) - 1)) + low
        key >>= shift
    elif total_bits + index_bits <= _KEY_BITS:
        key <<= index_bits
        key |= np.arange(n, dtype=np.int64)
        key.sort()
        coef = coef[key & ((1 << index_bits) - 1)]
        key >>= index_bits
    else:
        order = np.argsort(key, kind="stable")
        key, coef = key[order], coef[order]
    return _merge_sorted_keys(key, coef)


def _canonicalize_lexsort(size: int, entry: np.ndarray, cols: list[np.ndarray], coef: np.ndarray):
    """The same as :func:`_canonicalize` for keys that would not fit in 62 bits."""
    n = entry.size
    order = np.lexsort(tuple(reversed(cols)) + (entry,))
    entry, cols, coef = entry[order], [c[order] for c in cols], coef[order]
    change = entry[1:] != entry[:-1]
    for c in cols:
        change |= c[1:] != c[:-1]
    starts = np.flatnonzero(np.concatenate(([True], change)))
    coef = _reduce_runs(coef, starts, n)
    if starts.size != n:
        entry, cols = entry[starts], [c[starts] for c in cols]
    keep = coef != 0
    if not keep.all():
        entry, cols, coef = entry[keep], [c[keep] for c in cols], coef[keep]
    return _trim(entry, cols, _normalize_coef(coef))


def _merge_canonical(size: int, a: PolyTensor, b: PolyTensor):
    """Canonical terms of ``a + b`` for canonical ``a``, ``b``: a linear merge, no full sort."""
    width = max(a.degree, b.degree)
    cols_a, cols_b = _columns(a.mono), _columns(b.mono)
    if a.coef.dtype == object or b.coef.dtype == object:
        ca, cb = _to_object(a.coef), _to_object(b.coef)
    else:
        ca, cb = a.coef, b.coef
    plan = _plan_key(size, width, [cols_a, cols_b])
    if plan is None:
        pad_a = cols_a + [np.full(a.nnz, -1, dtype=np.int32)] * (width - a.degree)
        pad_b = cols_b + [np.full(b.nnz, -1, dtype=np.int32)] * (width - b.degree)
        cols = [np.concatenate([x, y]) for x, y in zip(pad_a, pad_b, strict=True)]
        return _canonicalize_lexsort(
            size, np.concatenate([a.entry, b.entry]), cols, np.concatenate([ca, cb])
        )
    key_a, key_b = plan.encode(a.entry, cols_a), plan.encode(b.entry, cols_b)
    from_b = np.zeros(a.nnz + b.nnz, dtype=bool)
    from_b[np.searchsorted(key_a, key_b, side="right") + np.arange(b.nnz)] = True
    key = np.empty(from_b.size, dtype=np.int64)
    key[~from_b], key[from_b] = key_a, key_b
    coef = np.empty(from_b.size, dtype=ca.dtype)
    coef[~from_b], coef[from_b] = ca, cb
    key, coef = _merge_sorted_keys(key, coef)
    entry, cols = plan.decode(key)
    return _trim(entry, cols, coef)


def _pad(mono: np.ndarray, width: int) -> np.ndarray:
    if mono.shape[1] == width:
        return mono
    pad = np.full((mono.shape[0], width - mono.shape[1]), -1, dtype=np.int32)
    return np.concatenate([mono, pad], axis=1)


def product_indices(a_ptr: np.ndarray, b_ptr: np.ndarray, oi, ai, bi):
    """Where the terms of the products ``a[ai[k]] * b[bi[k]]`` (for entry ``oi[k]``) come from.

    ``a_ptr``/``b_ptr`` are the entries' term offsets.  Term ``t`` of triple ``k`` pairs term
    ``t // nb[k]`` of ``a[ai[k]]`` with term ``t % nb[k]`` of ``b[bi[k]]``.  Returns None when
    there is no term, else ``(entry, ia, ib, single_a, single_b, pairs)``: the entry of every term
    and the index of its factor in each operand's term list.  With one term per entry on a side
    (a tensor of variables, say), that side's term is a plain repeat per triple: its index is
    None and ``single_*`` holds the one term of each triple instead (no gather needed).
    """
    a_lo, b_lo = a_ptr[ai], b_ptr[bi]  # where each triple's factors' terms start
    na = a_ptr[ai + 1] - a_lo
    nb = b_ptr[bi + 1] - b_lo
    pairs = na * nb
    total = int(pairs.sum())
    if total == 0:
        return None
    if int(pairs.min()) == 0:  # triples with an empty factor make no term
        keep = pairs > 0
        oi, a_lo, b_lo, na, nb, pairs = oi[keep], a_lo[keep], b_lo[keep], na[keep], nb[keep], pairs[keep]
    ia = ib = single_a = single_b = None
    if total == pairs.size:
        # every triple makes one term (each makes at least one), so each side has one term per
        # entry: the terms are the triples themselves, in order (what the repeats below give)
        return oi.copy(), a_lo, None, None, b_lo, pairs
    first = np.cumsum(pairs) - pairs  # where the terms of triple k start
    if int(nb.max()) == 1:
        ia = np.repeat(a_lo - first, pairs)
        ia += np.arange(total, dtype=np.int64)
        single_b = b_lo
    elif int(na.max()) == 1:
        ib = np.repeat(b_lo - first, pairs)
        ib += np.arange(total, dtype=np.int64)
        single_a = a_lo
    else:
        local = np.arange(total, dtype=np.int64) - np.repeat(first, pairs)
        q, r = np.divmod(local, np.repeat(nb, pairs))
        del local
        ia = np.repeat(a_lo, pairs) + q
        ib = np.repeat(b_lo, pairs) + r
    return np.repeat(oi, pairs), ia, ib, single_a, single_b, pairs
