"""Evaluation of a traced graph restricted to one block of output entries, with exact
:class:`~convsym.exact.poly.PolyTensor` arithmetic (see :mod:`convsym.exact.blockwise`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from convsym.exact.keys import _columns, _merge_sorted_columns, product_indices
from convsym.exact.poly import PolyTensor
from convsym.exact.pool import VariablePool
from convsym.exact.tensor import _LIMIT, _max_abs, _to_object
from convsym.exact.trace import _Graph

# --------------------------------------------------------------------------------------------
# restricted evaluation

#: Product terms made at once inside a block (their temporaries are ~60 bytes a term).
CHUNK_TERMS = 1 << 18


class _Engine:
    """Evaluates nodes of a traced graph with PolyTensor, restricted to the entries asked for."""

    def __init__(self, graph: _Graph, pool: VariablePool, cache_terms: int) -> None:
        self.graph, self.pool = graph, pool
        self.bounds = self._bounds()
        #: per node, the sum of its bounds (a bound on all its terms)
        self.totals = [int(np.add.reduce(b)) for b in self.bounds]
        self._cache_terms = cache_terms
        # made when first asked for (a trace checked in a batch never evaluates with its engine)
        self._degrees_made: list[int] | None = None
        self._cacheable: list[bool] | None = None
        self._kept_out: list[int] = []  # roots kept out of the cache before it was made
        self.cache: dict[int, PolyTensor] = {}
        self.spans: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def degrees(self) -> list[int]:
        """Per node, an upper bound on the degree of its terms."""
        if self._degrees_made is None:
            self._degrees_made = self._degrees()
        return self._degrees_made

    @property
    def cacheable(self) -> list[bool]:
        """Per node, whether it is computed whole once and shared by every block."""
        if self._cacheable is None:
            self._cacheable = [total <= self._cache_terms for total in self.totals]
            for root in self._kept_out:
                self._keep_out(root)
        return self._cacheable

    def _bounds(self) -> list[np.ndarray]:
        """Per node, an upper bound on the number of terms of each entry (int64)."""
        g, out = self.graph, []
        ones: list[bool] = []  # per node, whether every entry's bound is 1 (a tensor of variables)
        for kind, size, args in zip(g.kinds, g.sizes, g.args, strict=True):
            one = False
            if kind == "var":
                bound, one = np.ones(size, dtype=np.int64), True
            elif kind == "const":
                bound = (args[0] != 0).astype(np.int64)
            elif kind == "gather":
                bound, one = out[args[0]][args[1]], ones[args[0]]
            elif kind == "add":
                bound = out[args[0]] + out[args[1]]
            elif kind == "scale":
                if args[1] != 0:
                    bound, one = out[args[0]], ones[args[0]]
                else:
                    bound = np.zeros(size, dtype=np.int64)
            else:  # contract
                a, b, oi, ai, bi = args
                if ones[a] and ones[b]:  # one term per triple: the count of the triples of each entry
                    bound = np.bincount(oi, minlength=size).astype(np.int64, copy=False)
                else:
                    pairs = out[a][ai] if ones[b] else out[b][bi] if ones[a] else out[a][ai] * out[b][bi]
                    bound = np.bincount(oi, weights=pairs, minlength=size).astype(np.int64)
            out.append(bound)
            ones.append(one)
        return out

    def keep_out_of_cache(self, root: int) -> None:
        """Never cache ``root`` nor the sums, scalings and contractions right under it: they are
        made block by block as raw terms (each block needs its own entries of them only)."""
        if self._cacheable is None:
            self._kept_out.append(root)  # applied when the cacheable nodes are first asked for
        else:
            self._keep_out(root)

    def _keep_out(self, root: int) -> None:
        g, stack = self.graph, [root]
        while stack:
            node = stack.pop()
            if g.kinds[node] not in ("add", "scale", "contract") or not self.cacheable[node]:
                continue
            self.cacheable[node] = False
            if g.kinds[node] in ("add", "scale"):
                stack.append(g.args[node][0])
                if g.kinds[node] == "add":
                    stack.append(g.args[node][1])

    def _degrees(self) -> list[int]:
        """Per node, an upper bound on the degree of its terms."""
        out: list[int] = []
        for kind, args in zip(self.graph.kinds, self.graph.args, strict=True):
            if kind == "var":
                out.append(1)
            elif kind == "const":
                out.append(0)
            elif kind in ("gather", "scale"):
                out.append(out[args[0]])
            elif kind == "add":
                out.append(max(out[args[0]], out[args[1]]))
            else:
                out.append(out[args[0]] + out[args[1]])
        return out

    def needs(self, root: int, entries: np.ndarray) -> dict[int, np.ndarray | None]:
        """Sorted entries each node must provide for ``root[entries]`` (None: computed whole)."""
        g = self.graph
        masks: dict[int, np.ndarray] = {}
        whole: set[int] = set()

        def want(node: int, idx: np.ndarray) -> None:
            if self.cacheable[node]:
                whole.add(node)
                if node in self.cache or node in masks:
                    return
                idx = slice(None)  # computed whole once: its operands are needed whole
            mask = masks.get(node)
            if mask is None:
                mask = masks[node] = np.zeros(g.sizes[node], dtype=bool)
            mask[idx] = True

        want(root, entries)
        for node in range(root, -1, -1):
            if node not in masks:
                continue
            kind, args, mask = g.kinds[node], g.args[node], masks[node]
            if kind == "gather":
                want(args[0], args[1][mask])
            elif kind == "add":
                idx = np.flatnonzero(mask)
                want(args[0], idx)
                want(args[1], idx)
            elif kind == "scale":
                want(args[0], np.flatnonzero(mask))
            elif kind == "contract":
                a, b, oi, ai, bi = args
                lo, hi = self._triple_range(node, np.flatnonzero(mask))
                sel = mask[oi[lo:hi]]
                want(a, ai[lo:hi][sel])
                want(b, bi[lo:hi][sel])
        out: dict[int, np.ndarray | None] = {
            n: np.flatnonzero(m) for n, m in masks.items() if n not in whole
        }
        out.update((n, None) for n in whole)
        return out

    def _top(self, root: int, need: dict[int, np.ndarray | None]) -> set[int]:
        """Nodes evaluated as raw terms for ``root``: the root and the sums/scalings above the
        contractions that only feed it (they are sorted once, with the root, instead of each)."""
        g = self.graph
        top: set[int] = set()
        stack = [root]
        while stack:
            node = stack.pop()
            if need.get(node, 0) is None or node in top or g.kinds[node] not in ("add", "scale", "contract"):
                continue
            top.add(node)
            if g.kinds[node] in ("add", "scale"):
                stack.append(g.args[node][0])
                if g.kinds[node] == "add":
                    stack.append(g.args[node][1])
        consumers: dict[int, set[int]] = {}
        for node in need:
            kind, args = g.kinds[node], g.args[node]
            if kind in ("add", "contract"):
                inputs = (args[0], args[1])
            else:
                inputs = (args[0],) if kind in ("gather", "scale") else ()
            for arg in inputs:
                consumers.setdefault(arg, set()).add(node)
        changed = True
        while changed:  # a node also read by something outside the chain is computed normally
            changed = False
            for node in list(top):
                if node != root and not consumers.get(node, set()) <= top:
                    top.discard(node)
                    changed = True
        return top

    def warm(self, root: int, entries: np.ndarray) -> None:
        """Compute and cache the shared (whole) nodes ``root[entries]`` needs, now.

        Called for both sides before either side's block is built, so that the transient memory
        of building a shared node (a merged kernel, say) never adds to a block's keys.  Nothing
        is done when a shared node reads a node that is made per block (it is then built with the
        block, as before)."""
        need = self.needs(root, entries)
        whole = {n for n, wanted in need.items() if wanted is None}
        if whole <= self.cache.keys():
            return
        g = self.graph
        for node in whole - self.cache.keys():
            kind, args = g.kinds[node], g.args[node]
            if kind in ("add", "contract"):
                inputs = (args[0], args[1])
            else:
                inputs = (args[0],) if kind in ("gather", "scale") else ()
            if any(arg not in whole for arg in inputs):
                return
        self._forward(dict.fromkeys(whole), set())

    def evaluate(self, root: int, entries: np.ndarray) -> PolyTensor:
        """``root`` restricted to ``entries`` (sorted, unique): a PolyTensor of shape ``(len,)``."""
        need = self.needs(root, entries)
        view = self._forward(need, set())
        tensor, local = view(root, entries)
        if _is_identity(local, tensor.size):
            return tensor  # the root was computed on exactly `entries`, in order
        return tensor.gather(local)

    def raw_terms(self, root: int, entries: np.ndarray) -> list[tuple[int, Callable]]:
        """The terms of ``root[entries]`` (entry = position in ``entries``), not yet sorted or
        merged, as parts ``(count, chunks)``: ``chunks()`` yields ``(entry, columns, coef)``
        pieces (every row of the columns sorted) of ``count`` terms in all, a piece of at most
        about ``CHUNK_TERMS`` terms at a time for a contraction."""
        need = self.needs(root, entries)
        top = self._top(root, need)
        view = self._forward(need, top)
        return self._raw(root, entries, top, view)

    def _raw(self, node: int, idx: np.ndarray, top: set[int], view) -> list[tuple[int, Callable]]:
        g = self.graph
        kind, args = g.kinds[node], g.args[node]
        if node not in top:
            tensor, local = view(node, idx)
            part = tensor if _is_identity(local, tensor.size) else tensor.gather(local)
            if not part.nnz:
                return []
            return [(part.nnz, lambda: iter([(part.entry, _columns(part.mono), part.coef)]))]
        if kind == "scale":
            scalar = args[1]
            if scalar == 0:
                return []
            return [(count, _scaled(chunks, scalar)) for count, chunks in self._raw(args[0], idx, top, view)]
        if kind == "add":
            return self._raw(args[0], idx, top, view) + self._raw(args[1], idx, top, view)
        # a contraction, produced in pieces so that its temporaries stay small
        out_local, la, lb, ta, tb = self._select(node, idx, view)
        a_ptr, b_ptr = ta.offsets(), tb.offsets()
        pairs = (a_ptr[la + 1] - a_ptr[la]) * (b_ptr[lb + 1] - b_ptr[lb])
        ends = np.cumsum(pairs)
        total = int(ends[-1]) if ends.size else 0
        if total == 0:
            return []
        cuts = np.searchsorted(ends, np.arange(CHUNK_TERMS, total, CHUNK_TERMS), side="left") + 1
        bounds = [0, *sorted(set(cuts.tolist()) - {0, ends.size}), ends.size]

        coefficients = _CoefficientPlan(ta.coef, tb.coef)  # once, not once per piece

        def chunks():
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
                terms = _product_terms(ta, tb, out_local[lo:hi], la[lo:hi], lb[lo:hi], coefficients)
                if terms is not None:
                    yield terms

        return [(total, chunks)]

    def _forward(self, need: dict[int, np.ndarray | None], skip: set[int]):
        """Compute every needed node but those in ``skip``; return ``view(node, idx)``."""
        done: dict[int, tuple[PolyTensor, np.ndarray | None]] = {}

        def view(node: int, idx: np.ndarray) -> tuple[PolyTensor, np.ndarray]:
            """The tensor holding ``node`` and the positions of the node entries ``idx`` in it."""
            tensor, pos = done[node]
            return tensor, (idx if pos is None else pos[idx])

        for node in sorted(need):
            if node in skip:
                continue
            wanted = need[node]
            if wanted is None:
                if node not in self.cache:
                    self.cache[node] = self._compute(node, None, view)
                done[node] = (self.cache[node], None)
                continue
            tensor = self._compute(node, wanted, view)
            pos = np.full(self.graph.sizes[node], -1, dtype=np.int64)
            pos[wanted] = np.arange(wanted.size, dtype=np.int64)
            done[node] = (tensor, pos)
        return view

    def _compute(self, node: int, wanted: np.ndarray | None, view) -> PolyTensor:
        g, pool = self.graph, self.pool
        kind, args = g.kinds[node], g.args[node]
        idx = np.arange(g.sizes[node], dtype=np.int64) if wanted is None else wanted
        n = idx.size
        if kind == "var":
            ids = args[0][idx]
            return PolyTensor(
                (n,), np.arange(n, dtype=np.int64), ids.astype(np.int32).reshape(n, 1),
                np.ones(n, dtype=np.int64), pool, canonical=True,
            )
        if kind == "const":
            return PolyTensor.constant(args[0][idx], pool)
        if kind == "gather":
            tensor, local = view(args[0], args[1][idx])
            return tensor.gather(local)
        if kind in ("add", "scale"):
            tensor, local = view(args[0], idx)
            first = tensor if _is_identity(local, tensor.size) else tensor.gather(local)
            if kind == "scale":
                return first._scale(args[1])
            tensor, local = view(args[1], idx)
            second = tensor if _is_identity(local, tensor.size) else tensor.gather(local)
            return first._add(second)
        if wanted is None:
            a, b, oi, ai, bi = args
            ta, la = view(a, ai)
            tb, lb = view(b, bi)
            return ta.contract(tb, oi, la, lb, (n,))
        out_local, la, lb, ta, tb = self._select(node, wanted, view)
        return ta.contract(tb, out_local, la, lb, (n,))

    def _triple_range(self, node: int, entries: np.ndarray) -> tuple[int, int]:
        """The slice of the triples of contraction ``node`` holding every triple whose output
        is one of ``entries`` (the ops emit triples grouped by output, so this is tight)."""
        span = self.spans.get(node)
        if span is None:
            oi = self.graph.args[node][2]
            order = np.arange(oi.size, dtype=np.int64)
            first = np.full(self.graph.sizes[node], oi.size, dtype=np.int64)
            np.minimum.at(first, oi, order)
            last = np.full(self.graph.sizes[node], -1, dtype=np.int64)
            np.maximum.at(last, oi, order)
            span = self.spans[node] = (first, last)
        if entries.size == 0:
            return 0, 0
        lo, hi = int(span[0][entries].min()), int(span[1][entries].max()) + 1
        return (lo, hi) if lo < hi else (0, 0)

    def _select(self, node: int, wanted: np.ndarray, view):
        """The triples of contraction ``node`` whose output is in ``wanted``, in local indices:
        ``(out, a, b, tensor a, tensor b)``."""
        a, b, oi, ai, bi = self.graph.args[node]
        lo, hi = self._triple_range(node, wanted)
        pos = np.full(self.graph.sizes[node], -1, dtype=np.int64)
        pos[wanted] = np.arange(wanted.size, dtype=np.int64)
        mapped = pos[oi[lo:hi]]
        sel = np.flatnonzero(mapped >= 0)
        ta, la = view(a, ai[lo:hi][sel])
        tb, lb = view(b, bi[lo:hi][sel])
        return mapped[sel], la, lb, ta, tb


class _CoefficientPlan:
    """How the coefficients of the products of two tensors' terms are made, decided once per
    contraction (deciding it per piece would scan both operands' coefficients for every piece):
    ``constant`` (every product has the same int64 coefficient, given as a broadcast view),
    int64 products (no overflow: ``max|a| * max|b| < 2**62``), or exact Python numbers."""

    __slots__ = ("exact", "constant")

    def __init__(self, ca: np.ndarray, cb: np.ndarray) -> None:
        self.constant: np.int64 | None = None
        self.exact: tuple[np.ndarray, np.ndarray] | None = None  # both as Python numbers
        if ca.dtype == object or cb.dtype == object or _max_abs(ca) * _max_abs(cb) >= _LIMIT:
            self.exact = (_to_object(ca), _to_object(cb))
        elif ca.size and cb.size and ca.min() == ca.max() and cb.min() == cb.max():
            self.constant = np.int64(int(ca[0]) * int(cb[0]))


def _product_terms(ta: PolyTensor, tb: PolyTensor, oi, ai, bi, plan: _CoefficientPlan):
    """The raw terms ``(entry, columns, coef)`` of the products ``ta[ai[k]] * tb[bi[k]]`` for
    entry ``oi[k]`` (every row of the columns sorted), or None when there is none: the terms
    :meth:`PolyTensor.contract` would sort and merge, with the coefficient rule of ``plan``."""
    found = product_indices(ta.offsets(), tb.offsets(), oi, ai, bi)
    if found is None:
        return None
    entry, ia, ib, single_a, single_b, pairs = found
    total = len(entry)

    once = total == pairs.size  # one term per triple: a repeat would copy

    def side(values: np.ndarray, index, single) -> np.ndarray:
        if index is None:
            return values[single] if once else np.repeat(values[single], pairs, axis=0)
        return values[index]

    cols_a = [side(c, ia, single_a) for c in _columns(ta.mono)]
    cols_b = [side(c, ib, single_b) for c in _columns(tb.mono)]
    cols = _merge_sorted_columns(cols_a, cols_b) if ta.degree and tb.degree else cols_a + cols_b
    if plan.constant is not None:
        coef = np.broadcast_to(plan.constant, (total,))
    elif plan.exact is not None:
        coef = side(plan.exact[0], ia, single_a) * side(plan.exact[1], ib, single_b)
    else:
        coef = side(ta.coef, ia, single_a) * side(tb.coef, ib, single_b)
    return entry, cols, coef


def _is_identity(local: np.ndarray, size: int) -> bool:
    return local.size == size and (size == 0 or (int(local[0]) == 0 and int(local[-1]) == size - 1
                                                 and bool(np.all(np.diff(local) == 1))))


def _scaled(chunks: Callable, scalar: Any) -> Callable:
    def scaled():
        for entry, cols, coef in chunks():
            if type(scalar) is int and coef.dtype != object and _max_abs(coef) * abs(scalar) < _LIMIT:
                yield entry, cols, coef * scalar
            else:
                yield entry, cols, _to_object(coef) * scalar
    return scaled
