"""compare_blockwise against the whole-tensor exact check: same verdict, same first difference."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from convsym.exact import blockwise, engine
from convsym.exact.blockwise import TraceTensor, compare_blockwise
from convsym.exact.modp import exact_check
from convsym.exact.ops import conv2d, full_convolution, matmul, merge_bias, merge_kernels
from convsym.exact.poly import PolyTensor
from convsym.exact.pool import VariablePool

BIG = 2**62 - 1  # products and sums of these leave int64 (the storage switches to Python ints)


def merge_statement(k1, k2, c, wrong_bias=False):
    n = k1 + k2
    shapes = {"x": (c, n, n), "w1": (c, c, k1, k1), "b1": (c,), "w2": (c, c, k2, k2), "b2": (c,)}

    def lhs(v):
        return conv2d(conv2d(v["x"], v["w1"], v["b1"]), v["w2"], v["b2"])

    def rhs(v):
        bias = v["b2"] if wrong_bias else merge_bias(v["w2"], v["b1"], v["b2"])
        return conv2d(v["x"], merge_kernels(v["w1"], v["w2"]), bias)

    return lhs, rhs, shapes


def _entrywise(v):
    return v["x"] * v["y"]


# (name, lhs, rhs, shapes); refuted cases differ in several blocks, with differences of several
# degrees, so the blockwise search must pick the least degree, first in canonical order.
CASES = [
    ("merge", *merge_statement(2, 3, 2)),
    ("merge-wrong-bias", *merge_statement(2, 2, 2, wrong_bias=True)),
    ("square-of-sum", lambda v: (v["x"] + v["y"]) * (v["x"] + v["y"]),
     lambda v: v["x"] * v["x"] + v["y"] * v["y"] + v["x"] * v["y"] * 2, {"x": (3, 2), "y": (3, 2)}),
    ("square-of-sum-wrong", lambda v: (v["x"] + v["y"]) * (v["x"] + v["y"]),
     lambda v: v["x"] * v["x"] + v["y"] * v["y"] + v["x"] * v["y"], {"x": (3, 2), "y": (3, 2)}),
    # the degree-2 difference is in entry 0, the constant one in entry 3: entry 3 is reported
    ("least-degree-later", lambda v: _entrywise(v) + v["x"].constant_like(np.array([0, 0, 0, 5], dtype=object)),
     lambda v: _entrywise(v) * v["x"].constant_like(np.array([2, 1, 1, 1], dtype=object)),
     {"x": (4,), "y": (4,)}),
    # int64 overflow: 2*(2**62 - 1) needs Python ints, on both sides and in the difference
    ("near-2**63", lambda v: v["x"] * BIG + v["x"] * BIG, lambda v: v["x"] * (2 * BIG), {"x": (5,)}),
    ("near-2**63-wrong", lambda v: v["x"] * BIG + v["x"] * BIG + v["y"] * BIG,
     lambda v: v["x"] * (2 * BIG + 1) + v["y"] * BIG, {"x": (2, 3), "y": (2, 3)}),
    ("big-products", lambda v: _entrywise(v) * BIG * BIG, lambda v: _entrywise(v) * (BIG * BIG - 1),
     {"x": (3,), "y": (3,)}),
    ("fractions", lambda v: v["x"] / 3 + v["y"] * Fraction(2, 7),
     lambda v: v["y"] * Fraction(2, 7) + v["x"] * Fraction(1, 3), {"x": (2, 2), "y": (2, 2)}),
    ("fractions-wrong", lambda v: v["x"] / 3 - v["y"] * Fraction(2, 7),
     lambda v: v["x"] * Fraction(1, 3) + v["y"] * Fraction(2, 7), {"x": (2, 2), "y": (2, 2)}),
    # gathers, transposes, sums and a node read twice (y feeds the root twice, once inside a product)
    ("shared-node", lambda v: (lambda y: y + y * y)(matmul(v["a"], v["b"])).T.sum(0),
     lambda v: (lambda y: y * y + y)(matmul(v["a"], v["b"]).T).sum(0), {"a": (2, 3), "b": (3, 4)}),
    ("shared-node-wrong", lambda v: (lambda y: y + y * y)(matmul(v["a"], v["b"])).sum(0),
     lambda v: (lambda y: y * y - y)(matmul(v["a"], v["b"])).sum(0), {"a": (2, 3), "b": (3, 4)}),
    ("full-convolution-flip", lambda v: full_convolution(v["u"], v["w"]),
     lambda v: full_convolution(v["w"], v["u"])[::-1, :], {"u": (2, 3), "w": (3, 2)}),
]


@pytest.fixture(params=["packed-keys", "polytensors"])
def block_path(request, monkeypatch):
    """Blocks compared as packed keys (the path of large blocks) or as PolyTensors (small ones)."""
    if request.param == "packed-keys":
        monkeypatch.setattr(blockwise, "SMALL_BLOCK", 0)
    return request.param


@pytest.mark.parametrize("budget", [1, 7, 60, 1 << 23])
@pytest.mark.parametrize(("name", "lhs", "rhs", "shapes"), CASES, ids=[c[0] for c in CASES])
def test_blockwise_finds_what_the_whole_tensor_check_finds(name, lhs, rhs, shapes, budget, block_path):
    whole = exact_check(lhs, rhs, shapes)
    blocks = compare_blockwise(lhs, rhs, shapes, budget=budget, precheck=False)
    assert blocks.equal is whole.equal
    assert blocks.difference == whole.difference
    assert blocks.terms_per_entry == whole.terms_per_entry
    assert blocks.nnz == whole.nnz
    assert [blocks.pool.name(i) for i in range(len(blocks.pool))] == [
        whole.pool.name(i) for i in range(len(whole.pool))
    ]
    if budget == 1:
        assert blocks.blocks == int(np.prod(blocks.shape))  # one entry per block


@pytest.mark.parametrize(("name", "lhs", "rhs", "shapes"), CASES, ids=[c[0] for c in CASES])
def test_products_made_in_small_pieces_give_the_same_answer(name, lhs, rhs, shapes, monkeypatch):
    monkeypatch.setattr(engine, "CHUNK_TERMS", 3)
    monkeypatch.setattr(blockwise, "SMALL_BLOCK", 0)
    whole = exact_check(lhs, rhs, shapes)
    for budget in (5, 1 << 23):
        pieces = compare_blockwise(lhs, rhs, shapes, budget=budget, precheck=False)
        assert (pieces.equal, pieces.difference, pieces.terms_per_entry, pieces.nnz) == (
            whole.equal, whole.difference, whole.terms_per_entry, whole.nnz
        )


def test_the_cases_cover_refutations_of_several_kinds():
    refuted = {c[0]: exact_check(*c[1:]).difference for c in CASES if c[0].endswith("wrong") or "later" in c[0]}
    assert all(d is not None for d in refuted.values())
    assert refuted["least-degree-later"].index == (3,) and refuted["least-degree-later"].degree == 0
    assert refuted["near-2**63-wrong"].lhs == 2 * BIG  # beyond int64
    assert refuted["fractions-wrong"].lhs == Fraction(-2, 7)
    assert exact_check(*CASES[7][1:]).difference.lhs == BIG * BIG


def test_blocks_follow_the_leading_axis_and_respect_the_budget():
    lhs, rhs, shapes = merge_statement(2, 2, 3)
    whole = exact_check(lhs, rhs, shapes)
    per_entry = whole.terms_per_entry.max  # every entry has the same number of terms here
    one_channel = 4 * 2 * per_entry  # 2 x 2 entries, both sides (bounds are exact here: no merging)
    check = compare_blockwise(lhs, rhs, shapes, budget=one_channel, precheck=False)
    assert check.equal and check.blocks == 3 and check.largest_block <= one_channel


def test_evaluate_one_entry_equals_the_whole_tensor_evaluation(block_path):
    lhs, rhs, shapes = merge_statement(2, 2, 2, wrong_bias=True)
    check = compare_blockwise(lhs, rhs, shapes, budget=5, precheck=False)
    ids = [check.pool.id(name) for name in check.difference.monomial]
    values = {i: 3 for i in ids}
    pool = VariablePool()
    inputs = {k: PolyTensor.variables(pool, k, s) for k, s in shapes.items()}
    left, right = lhs(inputs), rhs(inputs)
    where = check.difference.index
    assert check.evaluate("lhs", values, where) == left.evaluate(values)[where]
    assert check.evaluate("rhs", values, where) == right.evaluate(values)[where]
    assert check.evaluate("lhs", values, where) != check.evaluate("rhs", values, where)


def test_precheck_runs_when_asked_or_when_it_pays():
    lhs, rhs, shapes = merge_statement(3, 3, 2)
    assert compare_blockwise(lhs, rhs, shapes, precheck=False).zippel is None
    forced = compare_blockwise(lhs, rhs, shapes, precheck=True, trials=2)
    assert forced.zippel is not None and forced.zippel.equal and forced.zippel.trials == 2
    # a product of two vectors: as many mod-p multiply-adds as exact terms, so it does not pay
    cheap = compare_blockwise(_entrywise, lambda v: v["y"] * v["x"], {"x": (3,), "y": (3,)})
    assert cheap.equal and cheap.zippel is None
    # small kernels: per-op overhead dominates, the pre-check would double it
    assert compare_blockwise(lhs, rhs, shapes).zippel is None
    # larger kernels: one triple of the mod-p twin stands for many exact terms
    assert compare_blockwise(*merge_statement(5, 5, 4)).zippel.equal


def test_errors_name_the_function_and_the_values():
    with pytest.raises(ValueError, match=r"compare_blockwise: lhs has shape \(2,\) but rhs has shape \(\)"):
        compare_blockwise(lambda v: v["x"], lambda v: v["x"].sum(), {"x": (2,)})
    with pytest.raises(ValueError, match=r"compare_blockwise: budget=0 must be positive"):
        compare_blockwise(lambda v: v["x"], lambda v: v["x"], {"x": (2,)}, budget=0)
    with pytest.raises(TypeError, match=r"compare_blockwise: lhs must be built from the given inputs"):
        compare_blockwise(lambda v: PolyTensor.zeros((2,)), lambda v: v["x"], {"x": (2,)})
    with pytest.raises(TypeError, match=r"add: cannot combine TraceTensor with PolyTensor"):
        compare_blockwise(lambda v: v["x"] + PolyTensor.zeros((2,)), lambda v: v["x"], {"x": (2,)})


def test_trace_tensors_record_instead_of_computing():
    check = compare_blockwise(lambda v: v["x"].reshape((2, 2)).T, lambda v: v["x"].reshape((2, 2)), {"x": (4,)},
                              precheck=False)
    assert not check.equal and check.difference.index == (0, 1)
    assert isinstance(check, object) and TraceTensor.__name__ == "TraceTensor"


def _polynomials(pool, seed, coefficients):
    """4 polynomials of degree <= 2 over 3 variables; every coefficient 1, then scaled per entry
    by ``coefficients``: 'ones', 'ints', 'big' (near 2**62) or 'fractions'."""
    rng = np.random.default_rng(seed)
    x = PolyTensor.variables(pool, f"v{seed}", (3,))
    entries = [x[0] * x[1] + x[2], x[0], x[1] * x[1] + x[0] + x[2], x[2]]
    out = PolyTensor.zeros((4,), pool)
    for i, e in enumerate(entries):
        one_hot = np.zeros(4, dtype=object)
        one_hot[i] = 1
        out = out + e.reshape((1,)) * x.constant_like(one_hot)
    scale = {"ones": [1] * 4, "ints": [int(v) or 1 for v in rng.integers(-3, 4, size=4)], "big": [BIG] * 4,
             "fractions": [Fraction(1, 3), Fraction(-2, 5), 2, 7]}[coefficients]
    return out * x.constant_like(np.array(scale, dtype=object))


@pytest.mark.parametrize("kinds", [("ones", "ones"), ("ints", "ones"), ("big", "big"), ("fractions", "ints"),
                                   ("ones", "big")])
def test_product_terms_equal_those_of_polytensor_contract(kinds):
    """The blockwise products (coefficient rule decided once) are the terms contract() sorts."""
    pool = VariablePool()
    a, b = _polynomials(pool, 1, kinds[0]), _polynomials(pool, 2, kinds[1])
    rng = np.random.default_rng(5)
    ai, bi = rng.integers(0, 4, size=9), rng.integers(0, 4, size=9)
    oi = np.sort(rng.integers(0, 3, size=9))
    plan = engine._CoefficientPlan(a.coef, b.coef)
    ours = engine._product_terms(a, b, oi, ai, bi, plan)
    theirs = a._product_terms(b, oi, ai, bi)
    assert np.array_equal(ours[0], theirs[0])
    assert all(np.array_equal(c, d) for c, d in zip(ours[1], theirs[1], strict=True))
    assert list(ours[2]) == list(theirs[2])
    assert (plan.exact is not None) == (theirs[2].dtype == object)
    if kinds == ("ones", "ones"):
        assert plan.constant == 1 and ours[2].strides == (0,)  # no memory for the coefficients
    expected = a.contract(b, oi, ai, bi, (3,))
    got = PolyTensor((3,), *algebra_canonicalize(3, *ours), pool, canonical=True)
    assert got.equals(expected)


def algebra_canonicalize(size, entry, cols, coef):
    from convsym.exact.keys import _canonicalize

    return _canonicalize(size, entry, cols, np.array(coef))


def test_a_block_of_one_shared_coefficient_stores_keys_only():
    assert blockwise._constant_of(np.ones(5, dtype=np.int64)) == 1
    assert blockwise._constant_of(np.broadcast_to(np.int64(-3), (4,))) == -3
    assert blockwise._constant_of(np.array([1, 2], dtype=np.int64)) is None
    assert blockwise._constant_of(np.array([1, 1], dtype=object)) is None
    # a bias (coefficient 1 in a filled array) plus products (a broadcast 1): keys only
    lhs, rhs, shapes = merge_statement(3, 3, 2)
    kept = {}
    original = blockwise._block_keys

    def spy(engine, root, entries, plan, buffers):
        key, coef = original(engine, root, entries, plan, buffers)
        kept[root] = coef
        return key, coef

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(blockwise, "_block_keys", spy)
        patch.setattr(blockwise, "SMALL_BLOCK", 0)
        assert compare_blockwise(lhs, rhs, shapes, precheck=False).equal
    assert kept and all(coef.strides == (0,) for coef in kept.values())


def test_shared_nodes_are_built_before_either_side_of_a_block():
    lhs, rhs, shapes = merge_statement(3, 3, 2)
    order = []
    original_warm, original_keys = blockwise._Engine.warm, blockwise._block_keys

    def warm(engine, root, entries):
        original_warm(engine, root, entries)
        order.append(("warm", root, len(engine.cache)))

    def keys(engine, root, entries, plan, buffers):
        order.append(("keys", root, len(engine.cache)))
        return original_keys(engine, root, entries, plan, buffers)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(blockwise._Engine, "warm", warm)
        patch.setattr(blockwise, "_block_keys", keys)
        patch.setattr(blockwise, "SMALL_BLOCK", 0)
        assert compare_blockwise(lhs, rhs, shapes, precheck=False).equal
    kinds = [step[0] for step in order]
    assert kinds == ["warm", "warm", "keys", "keys"]
    cached = order[1][2]
    assert cached > 0 and order[2][2] == cached and order[3][2] == cached  # nothing built later
