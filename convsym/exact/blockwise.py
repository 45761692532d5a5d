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

from convsym.exact.engine import _Engine
from convsym.exact.keys import _KeyPlan, _pad, _sort_packed, _trim
from convsym.exact.modp import ZippelResult, schwartz_zippel
from convsym.exact.poly import PolyTensor, TermDifference, TermStats
from convsym.exact.pool import VariablePool
from convsym.exact.tensor import DEFAULT_PRIME, TensorAlgebra, _as_shape, _to_object
from convsym.exact.trace import DEFAULT_BUDGET, SMALL_BLOCK, TraceTensor, _Graph

__all__ = [
    "BatchCheck", "BlockwiseCheck", "TraceTensor", "TracedPair", "compare_batch", "compare_blockwise",
    "compare_traced", "trace_pair",
]


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
    pairs = sum(total for kind, total in zip(g.kinds, engine.totals, strict=True) if kind == "contract")
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
    return compare_traced(trace_pair(lhs_fn, rhs_fn, shapes, budget), shapes, budget=budget,
                          precheck=precheck, trials=trials, seed=seed, p=p)


@dataclass(frozen=True)
class TracedPair:
    """The two sides of an identity traced on one graph (:func:`trace_pair`), with the engine
    that evaluates them (its bounds say how many terms each entry can have)."""

    pool: VariablePool
    graph: _Graph
    lhs: TraceTensor
    rhs: TraceTensor
    engine: _Engine
    lhs_fn: Callable = field(repr=False, compare=False)
    rhs_fn: Callable = field(repr=False, compare=False)


def trace_pair(
    lhs_fn: Callable[[dict[str, TensorAlgebra]], TensorAlgebra],
    rhs_fn: Callable[[dict[str, TensorAlgebra]], TensorAlgebra],
    shapes: Mapping[str, Sequence[int]],
    budget: int = DEFAULT_BUDGET,
) -> TracedPair:
    """Trace both sides on fresh variables (named as in :func:`compare_blockwise`), checking
    that they are built from the given inputs and have one shape."""
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
    return TracedPair(pool, graph, lhs, rhs, engine, lhs_fn, rhs_fn)


def precheck_runs(traced: TracedPair, precheck: bool | str = "auto", trials: int = 1) -> bool:
    """Whether :func:`compare_blockwise` runs the Schwartz-Zippel pre-check on ``traced``."""
    return precheck is True or (precheck == "auto" and _precheck_pays(traced.engine, trials))


def compare_traced(
    traced: TracedPair, shapes: Mapping[str, Sequence[int]], *, budget: int = DEFAULT_BUDGET,
    precheck: bool | str = "auto", trials: int = 1, seed: int = 0, p: int = DEFAULT_PRIME,
) -> BlockwiseCheck:
    """:func:`compare_blockwise` on sides already traced by :func:`trace_pair` (with ``budget``)."""
    lhs_fn, rhs_fn = traced.lhs_fn, traced.rhs_fn
    pool, lhs, rhs, engine = traced.pool, traced.lhs, traced.rhs, traced.engine
    zippel = None
    if precheck_runs(traced, precheck, trials):
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


# --------------------------------------------------------------------------------------------
# many small instances at once

#: Largest bound on the terms of every node of a batch together (see :func:`compare_batch`).
BATCH_TERMS = 1 << 20


def graph_signature(traced: TracedPair) -> tuple:
    """The structure of a traced pair: its nodes' kinds and operands (not their index arrays,
    constants or sizes) and its two roots.  Pairs with the same signature can be evaluated as one
    (:func:`compare_batch`)."""
    g, nodes = traced.graph, []
    for kind, args in zip(g.kinds, g.args, strict=True):
        if kind in ("var", "const"):
            nodes.append((kind,))
        elif kind == "gather":
            nodes.append((kind, args[0]))
        elif kind == "add":
            nodes.append((kind, args[0], args[1]))
        elif kind == "scale":
            nodes.append((kind, args[0], type(args[1]).__name__, args[1]))
        else:
            nodes.append((kind, args[0], args[1]))
    return (tuple(nodes), traced.lhs._node, traced.rhs._node)


#: Traces an Identity keeps for instances it checks alone later (beyond this, they are traced again).
KEPT_TRACE_BYTES = 1 << 27


def trace_bytes(traced: TracedPair) -> int:
    """The memory of the index arrays and constants a trace holds."""
    return sum(a.nbytes for args in traced.graph.args for a in args if isinstance(a, np.ndarray))


def batch_cost(traced: TracedPair) -> int:
    """A bound on the terms of every node of ``traced`` together (what a batch holds)."""
    return int(sum(traced.engine.totals))


@dataclass(frozen=True)
class BatchCheck:
    """Outcome of :func:`compare_batch`: ``first_unequal`` is the index of the first pair whose
    sides differ (None when every pair is an identity); ``most[i]`` is the largest number of
    terms of an entry of the left side of pair ``i`` for every pair before it (as
    ``BlockwiseCheck.terms_per_entry.max``)."""

    first_unequal: int | None
    most: tuple[int, ...]


def _stacked(pairs: Sequence[TracedPair]) -> tuple[PolyTensor, PolyTensor, np.ndarray]:
    """Both sides of ``pairs`` (one signature) evaluated as one stacked graph (see
    :func:`compare_batch`), and where each pair's output entries start (plus the end)."""
    signature = graph_signature(pairs[0])
    if any(graph_signature(t) != signature for t in pairs[1:]):
        raise ValueError("compare_batch: the traced pairs do not have one structure")
    first = pairs[0]
    kinds = first.graph.kinds
    roots = (first.lhs._node, first.rhs._node)
    for t in pairs:
        if math.prod(t.lhs.shape) == 0:
            raise ValueError("compare_batch: a pair has an empty output")
    needed = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node in needed:
            continue
        needed.add(node)
        kind, args = kinds[node], first.graph.args[node]
        if kind in ("gather", "scale"):
            stack.append(args[0])
        elif kind in ("add", "contract"):
            stack += [args[0], args[1]]
    # offsets[node][j]: where pair j's entries of node start in the stacked node
    sizes = np.array([t.graph.sizes for t in pairs], dtype=np.int64)  # (pairs, nodes)
    offsets = np.zeros_like(sizes)
    np.cumsum(sizes[:-1], axis=0, out=offsets[1:])
    var_offsets = np.cumsum([0] + [len(t.pool) for t in pairs[:-1]])

    def shifted(node: int, arg: int, by: int) -> np.ndarray:
        arrays = [t.graph.args[node][arg] for t in pairs]
        out = np.concatenate(arrays).astype(np.int64, copy=False)
        out += np.repeat(offsets[:, by], [a.size for a in arrays])
        return out

    values: dict[int, PolyTensor] = {}
    for node in sorted(needed):
        kind, args = kinds[node], first.graph.args[node]
        n = int(sizes[:, node].sum())
        if kind == "var":
            arrays = [t.graph.args[node][0] for t in pairs]
            ids = np.concatenate(arrays) + np.repeat(var_offsets, [a.size for a in arrays])
            values[node] = PolyTensor((n,), np.arange(n, dtype=np.int64), ids.astype(np.int32).reshape(n, 1),
                                      np.ones(n, dtype=np.int64), None, canonical=True)
        elif kind == "const":
            # the instances' exact coefficient arrays joined (int64 when every one is: those hold
            # ints below 2**62, which PolyTensor.constant takes as they are)
            values[node] = PolyTensor.constant(np.concatenate([t.graph.args[node][0] for t in pairs]))
        elif kind == "gather":
            values[node] = values[args[0]].gather(shifted(node, 1, args[0]))
        elif kind == "add":
            values[node] = values[args[0]]._add(values[args[1]])
        elif kind == "scale":
            values[node] = values[args[0]]._scale(args[1])
        else:
            a, b = args[0], args[1]
            values[node] = values[a].contract(values[b], shifted(node, 2, node), shifted(node, 3, a),
                                              shifted(node, 4, b), (n,))
    bounds = np.append(offsets[:, roots[0]], int(sizes[:, roots[0]].sum()))
    return values[roots[0]], values[roots[1]], bounds


def _pair_equal(left: PolyTensor, right: PolyTensor, bounds: np.ndarray, j: int) -> bool:
    """Whether the terms of pair ``j`` (its output entries ``bounds[j]:bounds[j+1]``) agree."""
    width = max(left.degree, right.degree)
    lo, hi = left.offsets()[bounds[j:j + 2]], right.offsets()[bounds[j:j + 2]]
    ls, rs = slice(lo[0], lo[1]), slice(hi[0], hi[1])
    return bool(lo[1] - lo[0] == hi[1] - hi[0]
                and np.array_equal(left.entry[ls], right.entry[rs])
                and np.array_equal(_pad(left.mono[ls], width), _pad(right.mono[rs], width))
                and np.all(left.coef[ls] == right.coef[rs]))


def compare_batch(pairs: Sequence[TracedPair]) -> BatchCheck:
    """Exact identity check of several traced pairs of one :func:`graph_signature` at once.

    The pairs are stacked into one graph: node ``i`` of the stack holds node ``i`` of every pair,
    one after the other, its index arrays shifted by the offsets of the pairs before, and the
    variables of pair ``j`` renamed to ids after those of the pairs before (an increasing
    renaming, so each entry is the same polynomial in renamed variables, in the same canonical
    order).  The stack is evaluated whole with :class:`PolyTensor`, so the NumPy calls are made
    once for all the pairs instead of once per pair; the entries of pair ``j`` are a contiguous
    range of the output, compared term by term.  Used for many small instances, where the cost
    of an instance is in the calls, not in the terms.
    """
    if not pairs:
        return BatchCheck(None, ())
    left, right, bounds = _stacked(pairs)
    counts = np.diff(left.offsets())
    most = np.maximum.reduceat(counts, bounds[:-1]) if counts.size else np.zeros(len(pairs), dtype=np.int64)
    if left.equals(right):
        return BatchCheck(None, tuple(int(m) for m in most))
    for j in range(len(pairs)):
        if not _pair_equal(left, right, bounds, j):
            return BatchCheck(j, tuple(int(m) for m in most[:j]))
    raise AssertionError("compare_batch: the stacked sides differ but no pair does")  # pragma: no cover


def equal_each(pairs: Sequence[TracedPair]) -> tuple[bool, ...]:
    """Per traced pair (one signature), whether its two sides are the same polynomials: the
    comparison of :func:`compare_batch` for every pair, not only up to the first that differs."""
    if not pairs:
        return ()
    left, right, bounds = _stacked(pairs)
    if left.equals(right):
        return (True,) * len(pairs)
    return tuple(_pair_equal(left, right, bounds, j) for j in range(len(pairs)))
