"""The shortcuts of the exact backend give what the general code gives: broadcast shapes, reshapes,
the terms of a contraction of one term per triple, remembered index arrays, family sizes."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from convsym.exact import ops
from convsym.exact.keys import product_indices
from convsym.exact.pool import VariablePool
from convsym.exact.tensor import _broadcast_shapes, _known_range, _remember_range, _reshape_target
from convsym.exact.trace import _Graph
from convsym.proof.identity import family_latex, family_text
from convsym.proof.statement import family_quantifiers

SHAPES = [(), (1,), (2,), (3,), (0,), (1, 2), (2, 1), (2, 2), (3, 2), (0, 1), (1, 0), (2, 0), (1, 1, 2), (2, 3, 1)]


@pytest.mark.parametrize(("a", "b"), list(itertools.product(SHAPES, repeat=2)))
def test_broadcast_shapes_as_numpy(a, b):
    try:
        expected = np.broadcast_shapes(a, b)
    except ValueError:
        with pytest.raises(ValueError):
            _broadcast_shapes(a, b)
        return
    assert _broadcast_shapes(a, b) == expected


@pytest.mark.parametrize(("shape", "target"), [((2, 3), (3, 2)), ((2, 3), (6,)), ((2, 3), (-1,)), ((2, 3), (1, -1, 2)),
                                               ((0, 3), (0, 5)), ((2, 3), (2, 3)), ((4,), np.array([2, 2]))])
def test_reshape_target_as_numpy(shape, target):
    assert _reshape_target("reshape", shape, target) == np.empty(shape).reshape(tuple(target)).shape


@pytest.mark.parametrize("target", [(4,), (2, 2, 2), (-1, 4), (-1, -1)])
def test_reshape_target_refuses_what_numpy_refuses(target):
    with pytest.raises(ValueError, match="cannot reshape"):
        _reshape_target("reshape", (2, 3), target)


def _product_indices_by_loop(a_ptr, b_ptr, oi, ai, bi):
    entry, ia, ib = [], [], []
    for o, a, b in zip(oi.tolist(), ai.tolist(), bi.tolist(), strict=True):
        for s in range(a_ptr[a], a_ptr[a + 1]):
            for t in range(b_ptr[b], b_ptr[b + 1]):
                entry.append(o)
                ia.append(s)
                ib.append(t)
    return entry, ia, ib


@pytest.mark.parametrize("seed", range(12))
def test_product_indices_against_a_loop(seed):
    rng = np.random.default_rng(seed)
    # every entry with one term (the shortcut), or some with none or several (the general path)
    counts_a = np.ones(6, dtype=np.int64) if seed % 2 else rng.integers(0, 3, 6)
    counts_b = np.ones(5, dtype=np.int64) if seed % 3 else rng.integers(0, 3, 5)
    a_ptr = np.concatenate([[0], np.cumsum(counts_a)]).astype(np.int64)
    b_ptr = np.concatenate([[0], np.cumsum(counts_b)]).astype(np.int64)
    n = 9
    oi, ai, bi = (np.sort(rng.integers(0, 4, n)), rng.integers(0, 6, n), rng.integers(0, 5, n))
    found = product_indices(a_ptr, b_ptr, oi, ai, bi)
    entry, ia, ib = _product_indices_by_loop(a_ptr, b_ptr, oi, ai, bi)
    if found is None:
        assert not entry
        return
    got_entry, got_a, got_b, single_a, single_b, pairs = found
    got_a = np.repeat(single_a, pairs) if got_a is None else got_a
    got_b = np.repeat(single_b, pairs) if got_b is None else got_b
    assert got_entry.tolist() == entry and got_a.tolist() == ia and got_b.tolist() == ib


def _traced(shape):
    g, pool = _Graph(), VariablePool()
    return g.add("var", shape, pool.create_tensor_ids("x", shape).reshape(-1))


def test_remembered_index_array_range_still_checked():
    index = np.arange(5, dtype=np.int64)
    _remember_range(index)
    assert _known_range(index) == (0, 4)
    assert not index.flags.writeable
    assert _traced((5,)).gather(index).shape == (5,)
    with pytest.raises(ValueError, match=r"gather: indices must lie in \[0, 4\)"):
        _traced((4,)).gather(index)
    t = _traced((4,))
    with pytest.raises(ValueError, match=r"contract: out_index must lie in \[0, 3\)"):
        t.contract(t, index, np.zeros(5, dtype=np.int64), np.zeros(5, dtype=np.int64), (3,))


def test_an_array_made_writable_again_is_scanned():
    index = np.arange(5, dtype=np.int64)
    _remember_range(index)
    index.flags.writeable = True
    index[4] = 9
    assert _known_range(index) is None
    with pytest.raises(ValueError, match="gather"):
        _traced((5,)).gather(index)


def test_traced_layers_share_their_small_index_copies():
    x, w = _traced((2, 5, 5)), None
    g = x._graph
    w = g.add("var", (3, 2, 2, 2), np.arange(50, 74))
    first, second = ops.conv2d(x, w), ops.conv2d(x, w)
    a, b = g.args[first._node], g.args[second._node]
    for i in (2, 3, 4):
        assert a[i] is b[i] and a[i].dtype == np.int32 and not a[i].flags.writeable


def _family_text_by_product(cases):
    keys = list(cases[0])
    values = {k: sorted({c[k] for c in cases}) for k in keys}
    return {tuple(c[k] for k in keys) for c in cases} == set(itertools.product(*(values[k] for k in keys)))


@pytest.mark.parametrize("seed", range(20))
def test_family_descriptions_see_products(seed):
    rnd = random.Random(seed)
    full = [dict(a=a, b=b, c=c) for a in (1, 2, 3) for b in (1, 2) for c in (0, 5)]
    cases = rnd.sample(full, rnd.randint(1, len(full))) if seed % 4 else full
    product = _family_text_by_product(cases)
    if len(cases) > 1:
        assert family_text(cases).startswith("every ") == product
        assert family_latex(cases).startswith("every ") == product
        assert family_quantifiers(cases)[0][1].startswith("every size ") == product
