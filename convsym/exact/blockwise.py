"""Exact identity checks one block of output entries at a time, so memory is bounded by a block.

:func:`~convsym.exact.modp.exact_check` builds both sides whole: at a 9x9 two-layer merge with 16
channels that is 107.6M terms per side, and the sort that puts them in canonical form needs
several times that in temporaries.  But the entries of the output are independent polynomials:
comparing them a block at a time gives the same answer with the memory of one block.

How: the two sides are first *traced*.  :class:`TraceTensor` implements the backend interface of
:mod:`convsym.exact` (``gather``, ``contract``, ``_add``, ``_scale``, ``reshape``,
``constant_like``), so the unchanged ops of :mod:`convsym.exact.ops` record a small graph of index
arrays instead of computing.  A pass over the graph bounds the number of terms of every entry
of every node (products of term counts, never an underestimate).  The output entries are then
cut into blocks of at most ``budget`` terms (whole slabs of the leading axes when they fit, so a
block is typically one output channel), and for each block the graph is evaluated with
:class:`~convsym.exact.poly.PolyTensor` *restricted to the entries the block needs*: a contraction
keeps only the triples whose output is needed, and asks its operands for only the entries those
triples read.  Nodes whose whole result is small (at most ``budget // 4`` terms) are computed once
and shared by every block.  Each block of the left side is compared with the same block of the
right side; the first difference reported is exactly the one
:meth:`PolyTensor.first_difference` would report on the whole tensors (least degree, first in
canonical order), because blocks are disjoint ranges of entries in ascending order.

Everything stays exact: the blocks are ordinary canonical PolyTensors (int64 coefficients with
the overflow policy of :mod:`convsym.exact`, Python ints / Fractions beyond it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from convsym.exact.keys import _columns, _KeyPlan, _merge_sorted_columns, _sort_packed, _trim
from convsym.exact.modp import ZippelResult, schwartz_zippel
from convsym.exact.poly import PolyTensor, TermDifference, TermStats
from convsym.exact.pool import VariablePool
from convsym.exact.tensor import (
    _LIMIT,
    DEFAULT_PRIME,
    TensorAlgebra,
    _as_shape,
    _check_triples,
    _coef_array,
    _exact_scalar,
    _max_abs,
    _reshape_target,
    _to_object,
)

__all__ = ["BlockwiseCheck", "TraceTensor", "compare_blockwise"]

#: Default largest number of terms (upper bound, both sides together) in one block.
DEFAULT_BUDGET = 1 << 25
#: Blocks of at most this many terms are compared as PolyTensors (fewer NumPy calls).
SMALL_BLOCK = 1 << 14
#: Product terms made at once inside a block (their temporaries are ~60 bytes a term).
CHUNK_TERMS = 1 << 18


# --------------------------------------------------------------------------------------------
# tracing


class _Graph:
    """Nodes in creation (so topological) order: ``kinds[i]``, ``sizes[i]`` (flat), ``args[i]``."""

    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.sizes: list[int] = []
        self.args: list[tuple] = []

    def add(self, kind: str, shape: tuple[int, ...], *args: Any) -> TraceTensor:
        self.kinds.append(kind)
        self.sizes.append(math.prod(shape))
        self.args.append(args)
        return TraceTensor(self, len(self.kinds) - 1, shape)


def _small_ints(index: np.ndarray) -> np.ndarray:
    """int32 when the values fit (halves the memory of the large triple arrays)."""
    if index.size and int(index.max()) < 2**31:
        return index.astype(np.int32)
    return index


class TraceTensor(TensorAlgebra):
    """A tensor that records how it is built (see the module doc); it holds no terms.

    Made by :func:`compare_blockwise` for the inputs; the ops of :mod:`convsym.exact.ops` run on it
    unchanged and return TraceTensors.
    """

    __slots__ = ("_graph", "_node", "shape")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, graph: _Graph, node: int, shape: tuple[int, ...]) -> None:
        self._graph, self._node, self.shape = graph, node, shape

    def _same_graph(self, op: str, other: TraceTensor) -> None:
        if not isinstance(other, TraceTensor) or other._graph is not self._graph:
            raise TypeError(f"{op}: cannot combine TraceTensor with {type(other).__name__} or another trace")

    def constant_like(self, values: Any) -> TraceTensor:
        arr = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
        return self._graph.add("const", arr.shape, _coef_array("constant", arr))

    def reshape(self, *shape: Any) -> TraceTensor:
        target = shape[0] if len(shape) == 1 else shape
        return TraceTensor(self._graph, self._node, _reshape_target("reshape", self.shape, target))

    def gather(self, flat_index: Any) -> TraceTensor:
        index = np.asarray(flat_index)
        if index.size and index.dtype.kind not in "iu":
            raise TypeError(f"gather: indices must be integers, got dtype {index.dtype}")
        flat = index.reshape(-1).astype(np.int64)
        if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= self.size):
            raise ValueError(f"gather: indices must lie in [0, {self.size}) for shape {self.shape}")
        return self._graph.add("gather", index.shape, self._node, flat)

    def _add(self, other: TraceTensor) -> TraceTensor:
        self._same_graph("add", other)
        return self._graph.add("add", self.shape, self._node, other._node)

    def __neg__(self) -> TraceTensor:
        return self._graph.add("scale", self.shape, self._node, -1)

    def _scale(self, scalar: Any) -> TraceTensor:
        return self._graph.add("scale", self.shape, self._node, _exact_scalar("mul", scalar))

    def contract(self, other, out_index, a_index, b_index, out_shape) -> TraceTensor:
        self._same_graph("contract", other)
        out_shape = _as_shape("contract", out_shape)
        oi, ai, bi = _check_triples(
            "contract", out_index, a_index, b_index, math.prod(out_shape), self.size, other.size
        )
        return self._graph.add(
            "contract", out_shape, self._node, other._node, _small_ints(oi), _small_ints(ai), _small_ints(bi)
        )

    def __repr__(self) -> str:
        return f"TraceTensor(shape={self.shape}, node={self._node})"


# --------------------------------------------------------------------------------------------
# restricted evaluation


class _Engine:
    """Evaluates nodes of a traced graph with PolyTensor, restricted to the entries asked for."""

    def __init__(self, graph: _Graph, pool: VariablePool, cache_terms: int) -> None:
        self.graph, self.pool = graph, pool
        self.bounds = self._bounds()
        self.degrees = self._degrees()
        self.cacheable = [int(b.sum()) <= cache_terms for b in self.bounds]
        self.cache: dict[int, PolyTensor] = {}
        self.spans: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _bounds(self) -> list[np.ndarray]:
        """Per node, an upper bound on the number of terms of each entry (int64)."""
        g, out = self.graph, []
        for kind, size, args in zip(g.kinds, g.sizes, g.args, strict=True):
            if kind == "var":
                bound = np.ones(size, dtype=np.int64)
            elif kind == "const":
                bound = (args[0] != 0).astype(np.int64)
            elif kind == "gather":
                bound = out[args[0]][args[1]]
            elif kind == "add":
                bound = out[args[0]] + out[args[1]]
            elif kind == "scale":
                bound = out[args[0]] if args[1] != 0 else np.zeros(size, dtype=np.int64)
            else:  # contract
                a, b, oi, ai, bi = args
                pairs = out[a][ai] * out[b][bi]
                bound = np.bincount(oi, weights=pairs, minlength=size).astype(np.int64)
            out.append(bound)
        return out

    def keep_out_of_cache(self, root: int) -> None:
        """Never cache ``root`` nor the sums, scalings and contractions right under it: they are
        made block by block as raw terms (each block needs its own entries of them only)."""
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
    a_ptr, b_ptr = ta.offsets(), tb.offsets()
    na = a_ptr[ai + 1] - a_ptr[ai]
    nb = b_ptr[bi + 1] - b_ptr[bi]
    pairs = na * nb
    total = int(pairs.sum())
    if total == 0:
        return None
    if int(pairs.min()) == 0:  # triples with an empty factor make no term
        keep = pairs > 0
        oi, ai, bi, na, nb, pairs = oi[keep], ai[keep], bi[keep], na[keep], nb[keep], pairs[keep]
    # term t of triple k pairs term t // nb[k] of a[ai[k]] with term t % nb[k] of b[bi[k]]
    first = np.cumsum(pairs) - pairs
    ia = ib = single_a = single_b = None
    if int(nb.max()) == 1:  # one term per entry of b: b's side is a plain repeat per triple
        ia = np.repeat(a_ptr[ai] - first, pairs)
        ia += np.arange(total, dtype=np.int64)
        single_b = b_ptr[bi]
    elif int(na.max()) == 1:
        ib = np.repeat(b_ptr[bi] - first, pairs)
        ib += np.arange(total, dtype=np.int64)
        single_a = a_ptr[ai]
    else:
        local = np.arange(total, dtype=np.int64) - np.repeat(first, pairs)
        q, r = np.divmod(local, np.repeat(nb, pairs))
        del local
        ia = np.repeat(a_ptr[ai], pairs) + q
        ib = np.repeat(b_ptr[bi], pairs) + r
    entry = np.repeat(oi, pairs)

    def side(values: np.ndarray, index, single) -> np.ndarray:
        return np.repeat(values[single], pairs, axis=0) if index is None else values[index]

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


# --------------------------------------------------------------------------------------------
# blocks


def _blocks(shape: tuple[int, ...], cost: np.ndarray, budget: int) -> list[np.ndarray]:
    """Cut the flat entries of ``shape`` into ascending ranges of total ``cost`` <= ``budget``.

    A range is made of whole slabs (fixed leading indices) of the shallowest depth whose every
    slab fits the budget, so blocks follow the leading axes (an output channel, say); an entry
    larger than the budget is a block of its own.
    """
    size = math.prod(shape)
    if size == 0:
        return []
    depth, slab = len(shape), 1
    for d in range(len(shape) + 1):
        slab = math.prod(shape[d:])
        if int(cost.reshape(-1, slab).sum(axis=1).max()) <= budget:
            depth = d
            break
    slab = math.prod(shape[depth:])
    unit_cost = cost.reshape(-1, slab).sum(axis=1)
    blocks, start, total = [], 0, 0
    for unit, c in enumerate(unit_cost.tolist()):
        if unit > start and total + c > budget:
            blocks.append(np.arange(start * slab, unit * slab, dtype=np.int64))
            start, total = unit, 0
        total += c
    blocks.append(np.arange(start * slab, unit_cost.size * slab, dtype=np.int64))
    return blocks


# --------------------------------------------------------------------------------------------
# the comparison


@dataclass(frozen=True)
class BlockwiseCheck:
    """Outcome of :func:`compare_blockwise`.

    ``equal`` is a proof, ``difference`` (else) the refuting term, the same one
    ``lhs.first_difference(rhs)`` gives on the whole tensors.  ``terms_per_entry`` and ``nnz``
    describe the left side exactly (as :meth:`PolyTensor.terms_per_entry` and ``.nnz``);
    ``pool`` holds the variables (named as in :func:`~convsym.exact.modp.exact_check`);
    ``blocks`` is the number of blocks and ``largest_block`` the most terms (both sides) held at
    once; ``zippel`` is the Schwartz-Zippel pre-check when it ran (None otherwise).
    """

    equal: bool
    difference: TermDifference | None
    terms_per_entry: TermStats
    nnz: int
    pool: VariablePool
    shape: tuple[int, ...]
    blocks: int
    largest_block: int
    zippel: ZippelResult | None
    _engine: Any = field(repr=False, compare=False)
    _roots: tuple[int, int] = field(repr=False, compare=False)

    def evaluate(self, side: str, values: Mapping[int, Any], index: Sequence[int]) -> Any:
        """Exact value of entry ``index`` of ``side`` (``"lhs"`` or ``"rhs"``) with
        ``values[var_id]`` (unassigned variables are 0), computing that one entry only."""
        if side not in ("lhs", "rhs"):
            raise ValueError(f"BlockwiseCheck.evaluate: side must be 'lhs' or 'rhs', got {side!r}")
        flat = int(np.ravel_multi_index(tuple(int(i) for i in index), self.shape))
        root = self._roots[0 if side == "lhs" else 1]
        entry = self._engine.evaluate(root, np.array([flat], dtype=np.int64))
        return entry.evaluate(values)[0]


def _scaled(chunks: Callable, scalar: Any) -> Callable:
    def scaled():
        for entry, cols, coef in chunks():
            if type(scalar) is int and coef.dtype != object and _max_abs(coef) * abs(scalar) < _LIMIT:
                yield entry, cols, coef * scalar
            else:
                yield entry, cols, _to_object(coef) * scalar
    return scaled


def _block_keys(engine: _Engine, root: int, entries: np.ndarray, plan: _KeyPlan, buffers: dict):
    """Sorted packed keys (``plan``) and coefficients of ``root[entries]``, zero terms dropped.

    Only the keys (8 bytes a term) and, when the terms do not all share one coefficient, the
    coefficients are held for the whole block; the product terms come a piece at a time.  The
    keys live in ``buffers[root]``, reused from block to block (fresh memory costs page faults).
    """
    parts = engine.raw_terms(root, entries)
    total = sum(count for count, _ in parts)
    if total == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if buffers.get(root) is None or buffers[root].size < total:
        buffers[root] = None  # let the old one go first
        buffers[root] = np.empty(total, dtype=np.int64)
    key = buffers[root][:total]
    coef: np.ndarray | None = None  # allocated at the first piece with another coefficient
    constant: int | None = None
    start = 0
    for _, chunks in parts:
        for entry, cols, piece in chunks():
            stop = start + entry.size
            plan.encode(entry, cols, out=key[start:stop])
            value = _constant_of(piece)
            if coef is None and value is not None and constant in (None, value):
                constant = value
            else:
                if coef is None:
                    coef = np.empty(total, dtype=np.int64)
                    coef[:start] = constant if constant is not None else 0
                if piece.dtype == object and coef.dtype != object:
                    coef = _to_object(coef)
                coef[start:stop] = piece
            start = stop
    if start != total:  # pragma: no cover - the counts are exact
        raise AssertionError(f"_block_keys: {start} terms produced, {total} counted")
    if coef is None:
        coef = np.broadcast_to(np.int64(constant), (total,))
    return _sort_packed(plan.total_bits, key, coef)


def _constant_of(coef: np.ndarray) -> int | None:
    """The value of an int64 coefficient array whose entries are all equal (a broadcast, or a
    piece such as a bias's terms, each of coefficient 1), else None.  Such a block stores no
    coefficients at all: its keys alone describe it (8 bytes a term instead of 16)."""
    if coef.dtype == object or coef.ndim != 1 or not coef.size:
        return None
    if coef.strides == (0,):
        return int(coef[0])
    first = int(coef[0])
    return first if bool(np.all(coef == first)) else None


def _same_coefficients(a: np.ndarray, b: np.ndarray) -> bool:
    ca, cb = _constant_of(a), _constant_of(b)
    if ca is not None and cb is not None:
        return ca == cb
    return bool(np.all(a == b))


def _unpack(plan: _KeyPlan, n: int, key: np.ndarray, coef: np.ndarray, pool: VariablePool) -> PolyTensor:
    coef = np.array(coef)  # a broadcast constant becomes a real array
    entry, cols = plan.decode(key.copy())
    return PolyTensor((n,), *_trim(entry, cols, coef), pool, canonical=True)


def _precheck_pays(engine: _Engine, trials: int) -> bool:
    """Whether ``trials`` Schwartz-Zippel points cost at most a quarter of the exact check.

    Estimated from the graph with costs measured on this project's merge statements (CPU time):
    a mod-p point costs about 90 us per op plus 0.063 us per contraction triple (``np.add.at``),
    the exact check 300 us per op plus 0.175 us per pair of terms multiplied.  So the
    pre-check runs where an entry has many terms per triple (large kernels, many channels) and
    is skipped on small statements, where it would add a large share to the time.
    """
    g = engine.graph
    triples = sum(int(args[2].size) for kind, args in zip(g.kinds, g.args, strict=True) if kind == "contract")
    pairs = sum(int(b.sum()) for kind, b in zip(g.kinds, engine.bounds, strict=True) if kind == "contract")
    ops = len(g.kinds)
    zippel = trials * (90 * ops + 0.063 * triples)
    exact = 300 * ops + 0.175 * pairs
    return zippel <= exact / 4


def compare_blockwise(
    lhs_fn: Callable[[dict[str, TensorAlgebra]], TensorAlgebra],
    rhs_fn: Callable[[dict[str, TensorAlgebra]], TensorAlgebra],
    shapes: Mapping[str, Sequence[int]],
    *,
    budget: int = DEFAULT_BUDGET,
    precheck: bool | str = "auto",
    trials: int = 1,
    seed: int = 0,
    p: int = DEFAULT_PRIME,
) -> BlockwiseCheck:
    """Exact identity check of ``lhs_fn(T) == rhs_fn(T)``, every input entry a variable, by blocks.

    ``shapes`` maps input names to shapes; variables are created in that order (``x_{i,j}``),
    as in :func:`~convsym.exact.modp.exact_check`, and each function receives ``{name: tensor}``
    and builds its side with :mod:`convsym.exact.ops`.  The two sides are compared a block of output
    entries at a time, each block holding at most about ``budget`` terms (an entry larger than
    that is a block of its own), so peak memory is that of one block plus the shared small
    intermediates.  ``precheck``: ``True`` runs ``trials`` Schwartz-Zippel points first, ``False``
    none, ``"auto"`` only when they are estimated to cost at most a quarter of the exact check.

    For a refutation, ``check.evaluate("lhs", {var_id: value}, check.difference.index)``
    re-evaluates one entry exactly (a witness), without building either side whole.
    """
    if budget < 1:
        raise ValueError(f"compare_blockwise: budget={budget} must be positive")
    if precheck not in (True, False, "auto"):
        raise ValueError(f"compare_blockwise: precheck must be True, False or 'auto', got {precheck!r}")
    pool, graph = VariablePool(), _Graph()
    inputs = {}
    for name, shape in shapes.items():
        shape = _as_shape("compare_blockwise", shape)
        inputs[name] = graph.add("var", shape, pool.create_tensor_ids(name, shape).reshape(-1))
    lhs, rhs = lhs_fn(dict(inputs)), rhs_fn(dict(inputs))
    for side, t in (("lhs", lhs), ("rhs", rhs)):
        if not isinstance(t, TraceTensor) or t._graph is not graph:
            raise TypeError(f"compare_blockwise: {side} must be built from the given inputs, got {type(t).__name__}")
    if lhs.shape != rhs.shape:
        raise ValueError(f"compare_blockwise: lhs has shape {lhs.shape} but rhs has shape {rhs.shape}")
    engine = _Engine(graph, pool, cache_terms=budget // 4)
    engine.keep_out_of_cache(lhs._node)
    engine.keep_out_of_cache(rhs._node)
    zippel = None
    if precheck is True or (precheck == "auto" and _precheck_pays(engine, trials)):
        zippel = schwartz_zippel(lhs_fn, rhs_fn, shapes, trials=trials, seed=seed, p=p)
    cost = engine.bounds[lhs._node] + engine.bounds[rhs._node]
    blocks = _blocks(lhs.shape, cost, budget)
    width = max(engine.degrees[lhs._node], engine.degrees[rhs._node])
    best: TermDifference | None = None
    nnz, most = 0, 0
    buffers: dict[int, np.ndarray | None] = {}
    for entries in blocks:
        n = entries.size
        plan = _KeyPlan(width, len(pool).bit_length(), max(n - 1, 0).bit_length() + width * len(pool).bit_length())
        if plan.total_bits <= 62 and int(cost[entries].sum()) > SMALL_BLOCK:
            # the fast path: both sides as sorted packed keys, compared without unpacking
            engine.warm(lhs._node, entries)
            engine.warm(rhs._node, entries)
            kl, cl = _block_keys(engine, lhs._node, entries, plan, buffers)
            # terms per entry: the keys are sorted with the entry in the high bits
            firsts = np.arange(n + 1, dtype=np.int64) << (width * plan.bits)
            counts = np.diff(np.searchsorted(kl, firsts))
            nnz += int(kl.size)
            most = max(most, int(counts.max()) if n else 0)
            if best is not None and best.degree == 0:
                continue
            kr, cr = _block_keys(engine, rhs._node, entries, plan, buffers)
            if kl.size == kr.size and np.array_equal(kl, kr) and _same_coefficients(cl, cr):
                continue
            left, right = _unpack(plan, n, kl, cl, pool), _unpack(plan, n, kr, cr, pool)
        else:
            left = engine.evaluate(lhs._node, entries)
            nnz += left.nnz
            counts = np.diff(left.offsets())
            most = max(most, int(counts.max()) if counts.size else 0)
            if best is not None and best.degree == 0:
                continue
            right = engine.evaluate(rhs._node, entries)
            if left.equals(right):
                continue
        diff = left.first_difference(right)
        if diff is not None and (best is None or diff.degree < best.degree):
            flat = int(entries[diff.index[0]])
            best = TermDifference(
                index=tuple(int(i) for i in np.unravel_index(flat, lhs.shape)),
                monomial=diff.monomial, lhs=diff.lhs, rhs=diff.rhs, degree=diff.degree,
            )
    size = math.prod(lhs.shape)
    stats = TermStats(most, nnz / size) if size else TermStats(0, 0.0)
    largest = max((int(cost[e].sum()) for e in blocks), default=0)
    return BlockwiseCheck(
        equal=best is None, difference=best, terms_per_entry=stats, nnz=nnz, pool=pool,
        shape=lhs.shape, blocks=len(blocks), largest_block=largest, zippel=zippel,
        _engine=engine, _roots=(lhs._node, rhs._node),
    )
