"""compare_batch (several small instances of one structure checked as one stacked graph) against
compare_blockwise on each instance: the same verdict per instance, the same first unequal one,
the same terms per entry; and Identity families settled in their own order when batched."""

from __future__ import annotations

import importlib.util
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from convsym.exact import blockwise
from convsym.exact.blockwise import compare_batch, compare_blockwise, graph_signature, trace_pair
from convsym.exact.ops import conv1d, conv2d, merge_bias, merge_kernels
from convsym.proof import Identity

# the statements of the blockwise tests (the suite runs with --import-mode=importlib)
_spec = importlib.util.spec_from_file_location("_blockwise_cases", Path(__file__).with_name("test_blockwise.py"))
_cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cases)
CASES, merge_statement = _cases.CASES, _cases.merge_statement


def _expected(statements):
    """Per statement, compare_blockwise's verdict and most terms per entry of the left side."""
    out = []
    for lhs, rhs, shapes in statements:
        check = compare_blockwise(lhs, rhs, shapes, precheck=False)
        out.append((check.equal, check.terms_per_entry.max))
    return out


def _batch(statements):
    return compare_batch([trace_pair(lhs, rhs, shapes) for lhs, rhs, shapes in statements])


def _agrees(statements):
    expected = _expected(statements)
    got = _batch(statements)
    first = next((i for i, (equal, _) in enumerate(expected) if not equal), None)
    assert got.first_unequal == first
    stop = len(statements) if first is None else first
    assert list(got.most) == [most for _, most in expected[:stop]]


@pytest.mark.parametrize(("name", "lhs", "rhs", "shapes"), CASES, ids=[c[0] for c in CASES])
def test_copies_of_one_statement(name, lhs, rhs, shapes):
    _agrees([(lhs, rhs, shapes)] * 3)


def _merge(k1, k2, c, extra):
    """The two-layer merge with ``extra`` added to the merged bias (a constant node, so every
    value of ``extra`` traces the same structure)."""
    lhs, _, shapes = merge_statement(k1, k2, c)

    def rhs(v):
        bias = merge_bias(v["w2"], v["b1"], v["b2"])
        return conv2d(v["x"], merge_kernels(v["w1"], v["w2"]),
                      bias + bias.constant_like(np.array([extra] * c, dtype=object)))

    return lhs, rhs, shapes


def test_merges_of_several_sizes_with_a_wrong_bias_at_each_place():
    sizes = [(1, 2, 1), (2, 2, 2), (3, 1, 2), (2, 3, 1)]
    _agrees([merge_statement(*s) for s in sizes])
    _agrees([_merge(*s, 0) for s in sizes])
    for wrong in range(len(sizes)):
        statements = [_merge(*s, Fraction(1, 2) if i == wrong else 0) for i, s in enumerate(sizes)]
        assert len({graph_signature(trace_pair(*st)) for st in statements}) == 1
        _agrees(statements)
        _agrees(statements[::-1])


def _conv_statement(n, k, scale):
    def lhs(v):
        return conv1d(v["x"], v["w"]) * 2

    def rhs(v):
        return conv1d(v["x"], v["w"]) + conv1d(v["x"], v["w"] * scale)

    return lhs, rhs, {"x": (2, n), "w": (3, 2, k)}


def test_a_difference_in_one_entry_of_one_instance():
    # x[n-1] * w[k-1] is added in the last instance only, in the last entry
    def statement(n, k, extra):
        def lhs(v):
            return conv1d(v["x"], v["w"])

        def rhs(v):
            y = conv1d(v["x"], v["w"])
            bump = np.zeros(y.size, dtype=object)
            bump[-1] = extra
            return y + y.constant_like(bump.reshape(y.shape))

        return lhs, rhs, {"x": (2, n), "w": (3, 2, k)}

    _agrees([statement(n, k, 0) for n, k in [(3, 2), (4, 2), (5, 3)]] + [statement(6, 2, Fraction(1, 3))])
    _agrees([statement(n, k, 0) for n, k in [(3, 2), (4, 2), (5, 3)]])


def _plus(t, extra):
    return t + t.constant_like(np.array([extra] * t.size, dtype=object).reshape(t.shape))


def test_coefficients_beyond_int64_and_fractions():
    big = 2**62 - 1
    # the constant added on the right is 0 but in the last instance, where it is 2**64 or 1/3
    for extra in (2**64, Fraction(1, 3), 0):
        statements = [(lambda v: v["x"] * big + v["x"] * big,
                       lambda v, e=(extra if n == 3 else 0): _plus(v["x"] * (2 * big), e), {"x": (n,)})
                      for n in (1, 2, 3)]
        _agrees(statements)
        _agrees([(lambda v: v["x"] / 3 * big, lambda v, e=(extra if n == 2 else 0): _plus(v["x"] * Fraction(big, 3), e),
                  {"x": (n,)}) for n in (1, 2)])


def test_scalings_by_different_factors_are_not_one_structure():
    a = trace_pair(*_conv_statement(3, 2, 1))
    b = trace_pair(*_conv_statement(3, 2, 2))
    assert graph_signature(a) != graph_signature(b)
    with pytest.raises(ValueError, match="compare_batch: the traced pairs do not have one structure"):
        compare_batch([a, b])


def _family(cases, *, wrong=lambda sz: False, broken=lambda sz: False):
    """conv1d twice equals conv1d of a doubled kernel; ``groups`` changes the traced structure."""
    def lhs(T, n, g):
        if broken(dict(n=n, g=g)):
            raise ValueError("builder broke")
        y = conv1d(T["x"], T["w"], groups=g)
        return y + y + (T["x"][:1, :1] if wrong(dict(n=n, g=g)) else y * 0)

    return Identity("batch.family", "batch family", inputs=lambda n, g: {"x": (2, n), "w": (2, 2 // g, 2)},
                    lhs=lhs, rhs=lambda T, n, g: conv1d(T["x"], T["w"] * 2, groups=g), family=cases)


CASES_G = [{"n": n, "g": g} for n in (2, 3, 4) for g in (1, 2)]


def test_a_batched_family_is_proved_with_the_records_of_single_checks(monkeypatch):
    batched = _family(CASES_G).prove()
    monkeypatch.setattr(blockwise, "BATCH_TERMS", 0)  # every instance checked alone
    alone = _family(CASES_G).prove()
    assert batched.verdict == alone.verdict == "proved"
    assert batched.instances == alone.instances


@pytest.mark.parametrize("wrong_at", range(len(CASES_G)))
def test_the_first_wrong_instance_in_the_familys_order_is_reported(wrong_at, monkeypatch):
    # instances of two structures (g = 1, 2) interleave: the batches are not in the family's order
    wrong = {wrong_at, len(CASES_G) - 1}

    def is_wrong(sz):
        return CASES_G.index(sz) in wrong

    batched = _family(CASES_G, wrong=is_wrong).prove()
    monkeypatch.setattr(blockwise, "BATCH_TERMS", 0)
    alone = _family(CASES_G, wrong=is_wrong).prove()
    assert batched.verdict == alone.verdict == "refuted"
    assert batched.witness.data == alone.witness.data
    assert batched.witness.data["sizes"] == CASES_G[wrong_at]
    assert batched.instances == alone.instances
    assert batched.steps == alone.steps


def test_an_error_after_a_refuted_instance_does_not_hide_it():
    v = _family(CASES_G, wrong=lambda sz: CASES_G.index(sz) == 1, broken=lambda sz: CASES_G.index(sz) == 3).prove()
    assert v.verdict == "refuted" and v.witness.data["sizes"] == CASES_G[1]


def test_an_error_before_a_refuted_instance_fails_the_proof():
    v = _family(CASES_G, wrong=lambda sz: CASES_G.index(sz) == 4, broken=lambda sz: CASES_G.index(sz) == 2).prove()
    assert v.verdict == "failed" and "builder broke" in v.error


def test_conv2d_instances_of_one_structure_share_a_batch(monkeypatch):
    sizes = [(1, 1, 1), (2, 1, 2), (1, 2, 2), (2, 2, 1)]
    calls = []
    original = blockwise.compare_batch

    def spy(pairs):
        calls.append(len(pairs))
        return original(pairs)

    monkeypatch.setattr(blockwise, "compare_batch", spy)
    v = Identity("batch.merge", "merge", inputs=lambda k1, k2, c: merge_statement(k1, k2, c)[2],
                 lhs=lambda T, k1, k2, c: merge_statement(k1, k2, c)[0](T),
                 rhs=lambda T, k1, k2, c: merge_statement(k1, k2, c)[1](T),
                 family=[{"k1": a, "k2": b, "c": c} for a, b, c in sizes]).prove()
    assert v.verdict == "proved"
    assert calls == [len(sizes)]


def test_equal_each_decides_every_pair():
    sizes = [(1, 2, 1), (2, 2, 2), (3, 1, 2), (2, 3, 1), (1, 1, 1)]
    for wrong in ({0}, {1, 3}, {4}, set(), {0, 1, 2, 3, 4}):
        statements = [_merge(*s, Fraction(1, 2) if i in wrong else 0) for i, s in enumerate(sizes)]
        expected = tuple(equal for equal, _ in _expected(statements))
        assert expected == tuple(i not in wrong for i in range(len(sizes)))
        assert blockwise.equal_each([trace_pair(*st) for st in statements]) == expected
    assert blockwise.equal_each([]) == ()


def test_a_batch_that_raises_leaves_its_instances_to_be_checked_alone(monkeypatch):
    expected = _family(CASES_G, wrong=lambda sz: CASES_G.index(sz) == 3).prove()
    expected_proved = _family(CASES_G).prove()

    def broken(pairs):
        raise MemoryError("no room for the batch")

    monkeypatch.setattr(blockwise, "compare_batch", broken)
    v = _family(CASES_G, wrong=lambda sz: CASES_G.index(sz) == 3).prove()
    assert v.verdict == expected.verdict == "refuted"
    assert v.witness.data == expected.witness.data and v.instances == expected.instances
    proved = _family(CASES_G).prove()
    assert proved.verdict == expected_proved.verdict == "proved" and proved.instances == expected_proved.instances
