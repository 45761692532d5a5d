"""The equivalences family: transforms, exact ops, the Collapse rule and the proof script."""

from __future__ import annotations

import itertools
import math
import sys
from fractions import Fraction

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from convsym import reference as ref
from convsym.errors import ProofError
from convsym.exact import ops
from convsym.exact import rewrites as E
from convsym.exact.oracle import DictPolyTensor
from convsym.exact.poly import PolyTensor
from convsym.exact.pool import VariablePool
from convsym.run.registry import proof_files
from convsym.symbolic.rules import Collapse, Context, Unfold
from convsym.symbolic.sums import Range, SumExpr, Term, evaluate, index
from convsym.symbolic.symbols import sizes
from convsym.transforms import Conv2d, merge_sequential
from convsym.transforms.reshape import (
    conv1x1_to_linear,
    full_map_conv_to_linear,
    linear_to_conv1x1,
    linear_to_full_map_conv,
    unshuffled_conv_to_conv,
)
from convsym.transforms.sequential import (
    factor_kernel_1d,
    merge_sequential_padded,
    split_kernel,
    split_offsets,
    split_owner,
)

FAST = settings(max_examples=25, deadline=None)


def ints(rng, *shape, low=-4, high=5):
    return rng.integers(low, high, shape).astype(object)


def const(a):
    return PolyTensor.constant(np.asarray(a, dtype=object))


def value(t):
    return t.evaluate({})


# ---------------------------------------------------------------------------------------------
# 1x1 convolution and fully connected layers


@pytest.mark.parametrize("groups", [1, 2, 4])
@pytest.mark.parametrize("exact", [True, False])
def test_conv1x1_to_linear_per_pixel(groups, exact):
    rng = np.random.default_rng(groups)
    w = ints(rng, 8, 4 // groups * 1, 1, 1) if exact else rng.standard_normal((8, 4 // groups, 1, 1))
    b = ints(rng, 8) if exact else rng.standard_normal(8)
    conv = Conv2d(w, b, groups=groups)
    x = ints(rng, 2, 4, 3, 5) if exact else rng.standard_normal((2, 4, 3, 5))
    lw, lb = conv1x1_to_linear(conv)
    assert lw.shape == (8, 4) and lw.dtype == (object if exact else np.float64)
    per_pixel = ref.linear(x.transpose(0, 2, 3, 1), lw, lb).transpose(0, 3, 1, 2)
    if exact:
        assert (per_pixel == conv(x)).all()
    else:
        np.testing.assert_allclose(per_pixel, conv(x), rtol=1e-12, atol=1e-12)
    back = linear_to_conv1x1(lw, lb)
    assert (back(x) == conv(x)).all() if exact else np.allclose(back(x), conv(x))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(weight=np.ones((2, 2, 3, 3))), r"conv1x1_to_linear: kernel_size=\(3, 3\) must be \(1, 1\)"),
        (dict(weight=np.ones((2, 2, 1, 1)), stride=2), r"stride=\(2, 2\) must be \(1, 1\)"),
        (dict(weight=np.ones((2, 2, 1, 1)), padding=1), r"padding=\(1, 1\) must be 0"),
    ],
)
def test_conv1x1_to_linear_rules(kwargs, match):
    with pytest.raises(ValueError, match=match):
        conv1x1_to_linear(Conv2d(**kwargs))


def test_linear_converters_reject_bad_input():
    with pytest.raises(TypeError, match="linear_to_conv1x1: w must be a numpy.ndarray"):
        linear_to_conv1x1([[1, 2]])
    with pytest.raises(ValueError, match=r"linear_to_conv1x1: w must be 2-D"):
        linear_to_conv1x1(np.ones((2, 2, 1)))
    with pytest.raises(TypeError,
                       match=r"^conv1x1_to_linear: conv must be a convsym\.transforms\.Conv2d, got numpy\.ndarray$"):
        conv1x1_to_linear(np.ones((1, 1, 1, 1)))


@pytest.mark.parametrize("o, c, h, w, groups", [(1, 1, 1, 1, 1), (3, 2, 4, 5, 1), (4, 2, 2, 3, 2)])
def test_full_map_round_trip(o, c, h, w, groups):
    rng = np.random.default_rng(o * 100 + h)
    a, b = ints(rng, o, c * h * w), ints(rng, o)
    conv = linear_to_full_map_conv(a, b, (c, h, w))
    x = ints(rng, 3, c, h, w)
    assert conv(x).shape == (3, o, 1, 1)
    assert (conv(x)[:, :, 0, 0] == ref.linear(x.reshape(3, -1), a, b)).all()
    a2, b2 = full_map_conv_to_linear(conv)
    assert (a2 == a).all() and (b2 == b).all()
    grouped = Conv2d(ints(rng, o, c // groups, h, w), b, groups=groups)
    a3, b3 = full_map_conv_to_linear(grouped)
    assert (ref.linear(x.reshape(3, -1), a3, b3) == grouped(x)[:, :, 0, 0]).all()


def test_full_map_rules():
    with pytest.raises(ValueError, match=r"w has 5 input features but the flattened map has C\*H\*W = 1\*2\*2 = 4"):
        linear_to_full_map_conv(np.ones((2, 5)), None, (1, 2, 2))
    with pytest.raises(ValueError, match=r"input_shape must be \(C, H, W\)"):
        linear_to_full_map_conv(np.ones((2, 4)), None, (2, 2))
    with pytest.raises(ValueError, match=r"full_map_conv_to_linear: padding=\(1, 1\) must be 0"):
        full_map_conv_to_linear(Conv2d(np.ones((1, 1, 2, 2)), padding=1))
    with pytest.raises(ValueError, match=r"full_map_conv_to_linear: dilation=\(2, 2\) must be 1"):
        full_map_conv_to_linear(Conv2d(np.ones((1, 1, 2, 2)), dilation=2))


# ---------------------------------------------------------------------------------------------
# space-to-depth


@pytest.mark.parametrize(
    "r, depth, k, stride, padding, dilation, groups",
    [
        (2, 1, 3, 1, 1, 1, 1),
        (3, 2, 2, 2, 0, 1, 2),
        (2, 2, 3, 2, 1, 2, 1),
        (2, 3, 2, 1, ((1, 0), (0, 2)), 1, 3),
        (2, 2, 1, 1, 0, 1, 4),
        (2, 3, 2, 1, 0, 1, 2),
        (1, 2, 3, 1, 1, 1, 1),
    ],
)
def test_unshuffled_conv_to_conv_table(r, depth, k, stride, padding, dilation, groups):
    rng = np.random.default_rng(r * 7 + depth)
    conv = Conv2d(ints(rng, 12, depth * r * r // groups, k, k), ints(rng, 12), stride=stride, padding=padding,
                  dilation=dilation, groups=groups)
    y = ints(rng, 2, depth, r * 5, r * 6)
    out = unshuffled_conv_to_conv(conv, r)
    want = conv(ref.pixel_unshuffle(y, r))
    got = out(y)
    assert got.shape == want.shape and (got == want).all()
    assert out.stride == (r * conv.stride[0], r * conv.stride[1]) and out.dilation == (1, 1)
    # same MACs when the kernel is not dilated: (rK)^2 * D = K^2 * D r^2
    if dilation == 1:
        assert np.count_nonzero(out.weight.astype(float)) <= conv.weight.size * (1 if out.groups == groups else groups)


def test_unshuffled_weight_is_pixel_shuffle():
    rng = np.random.default_rng(3)
    w = ints(rng, 3, 8, 3, 3)
    out = unshuffled_conv_to_conv(Conv2d(w), 2)
    assert (out.weight == ref.pixel_shuffle(w, 2)).all()
    for a, b, u, v in itertools.product(range(2), range(2), range(3), range(3)):
        assert (out.weight[:, 1, 2 * u + a, 2 * v + b] == w[:, 4 + a * 2 + b, u, v]).all()


@given(r=st.integers(1, 3), depth=st.integers(1, 2), k=st.integers(1, 3), s=st.integers(1, 2), p=st.integers(0, 1),
       seed=st.integers(0, 2**16))
@FAST
def test_unshuffled_conv_property(r, depth, k, s, p, seed):
    rng = np.random.default_rng(seed)
    conv = Conv2d(rng.standard_normal((2, depth * r * r, k, k)), rng.standard_normal(2), stride=s, padding=p)
    y = rng.standard_normal((1, depth, r * (k + 2), r * (k + 1)))
    np.testing.assert_allclose(unshuffled_conv_to_conv(conv, r)(y), conv(ref.pixel_unshuffle(y, r)),
                               rtol=1e-10, atol=1e-10)


def test_unshuffled_conv_rules():
    with pytest.raises(ValueError, match=r"in_channels=6 must be divisible by r\*r=4"):
        unshuffled_conv_to_conv(Conv2d(np.ones((1, 6, 1, 1))), 2)
    with pytest.raises(ValueError, match=r"r=0 must be a positive int"):
        unshuffled_conv_to_conv(Conv2d(np.ones((1, 4, 1, 1))), 0)


# ---------------------------------------------------------------------------------------------
# the converse of the merge


@pytest.mark.parametrize("k1, k2", [(1, 1), (1, 4), (2, 2), (3, 2), (5, 2), (2, 5), (4, 4)])
def test_split_offsets_cover_once(k1, k2):
    starts = split_offsets(k1, k2)
    assert len(starts) == math.ceil((k1 - 1) / k2) + 1
    for t in range(k1 + k2 - 1):
        owner = split_owner(t, k1, k2)
        assert owner in starts and 0 <= t - owner <= k2 - 1


@pytest.mark.parametrize(
    "o, c, shape, k1",
    [(1, 1, (3, 3), 2), (1, 1, (5, 5), 3), (2, 3, (4, 4), 2), (3, 1, (5, 3), (2, 3)), (1, 2, (7, 7), 1),
     (2, 2, (6, 6), 6), (4, 1, (3, 1), (2, 1))],
)
def test_split_kernel_table(o, c, shape, k1):
    rng = np.random.default_rng(sum(shape) + o)
    w, b = ints(rng, o, c, *shape), ints(rng, o)
    first, second = split_kernel(w, k1, b)
    merged = merge_sequential(first, second)
    assert (merged.weight == w).all() and (merged.bias == b).all()
    k1p = (k1, k1) if isinstance(k1, int) else k1
    n = [len(split_offsets(a, s - a + 1)) for a, s in zip(k1p, shape, strict=True)]
    m = [len(split_offsets(s - a + 1, a)) for a, s in zip(k1p, shape, strict=True)]
    assert first.out_channels == min(c * n[0] * n[1], o * m[0] * m[1])
    x = ints(rng, 1, c, 9, 8)
    assert (second(first(x)) == ref.conv2d(x, w, b)).all()


def test_split_kernel_101_needs_two_channels():
    first, second = split_kernel(np.array([[[[1, 0, 1]]]], dtype=object), (1, 2))
    assert first.out_channels == 2
    assert (merge_sequential(first, second).weight == np.array([[[[1, 0, 1]]]])).all()


@given(o=st.integers(1, 3), c=st.integers(1, 3), kh=st.integers(1, 5), kw=st.integers(1, 5), data=st.data())
@FAST
def test_split_kernel_property(o, c, kh, kw, data):
    k1 = (data.draw(st.integers(1, kh)), data.draw(st.integers(1, kw)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    w = rng.standard_normal((o, c, kh, kw))
    first, second = split_kernel(w, k1)
    assert first.weight.dtype == np.float64
    np.testing.assert_array_equal(merge_sequential(first, second).weight, w)


def test_split_kernel_rules():
    with pytest.raises(ValueError, match=r"split_kernel: k1=4 must lie in \[1, K=3\] on axis H"):
        split_kernel(np.ones((1, 1, 3, 3)), 4)
    with pytest.raises(ValueError, match=r"split_kernel: w must be 4-D"):
        split_kernel(np.ones((3, 3)), 2)
    with pytest.raises(TypeError, match=r"split_kernel: k1 must be an int or a pair"):
        split_kernel(np.ones((1, 1, 3, 3)), 1.5)


def _convolve(u, v):
    out = [sympy.Integer(0)] * (len(u) + len(v) - 1)
    for a, x in enumerate(u):
        for b, y in enumerate(v):
            out[a + b] += x * y
    return out


@pytest.mark.parametrize(
    "w, k1",
    [([1, -3, 2], 2), ([1, 0, -2], 2), ([1, 0, 1], 1), ([1, 0, 1], 3), ([1, 0, 2, 0, 1], 3), ([0, 0, 1], 2),
     ([2, -3, 1, 5], 2), ([0, 0, 0], 2), ([Fraction(1, 2), 1, Fraction(1, 2)], 2)],
)
def test_factor_kernel_1d_exact(w, k1):
    u, v = factor_kernel_1d(w, k1)
    assert len(u) == k1 and len(v) == len(w) - k1 + 1
    assert all(sympy.sympify(x).is_real for x in u + v)
    prod = _convolve(u, v)
    if any(sympy.sympify(x).has(sympy.CRootOf) for x in u + v):
        # exact algebraic numbers sympy cannot simplify together: compare to 50 digits
        diffs = [sympy.N(p - sympy.Rational(str(q)), 50) for p, q in zip(prod, w, strict=True)]
        assert all(abs(complex(d)) < 1e-40 for d in diffs)
    else:
        assert all(sympy.simplify(p - sympy.Rational(str(q))) == 0 for p, q in zip(prod, w, strict=True))


@pytest.mark.parametrize("w, k1", [([1, 0, 1], 2), ([1, 0, 2, 0, 1], 2), ([1, 2, 3, 2, 1], 2)])
def test_factor_kernel_1d_no_real_split(w, k1):
    with pytest.raises(ValueError, match=r"factor_kernel_1d: the kernel polynomial .* has no real factor"):
        factor_kernel_1d(w, k1)


# ---------------------------------------------------------------------------------------------
# merges with padding in the second layer


def _two_layers_padded(first, second, x, mode):
    h = first(x)
    (top, bottom), (left, right) = (
        second.padding if isinstance(second.padding[0], tuple)
        else ((second.padding[0],) * 2, (second.padding[1],) * 2))
    hp = np.zeros((h.shape[0], h.shape[1], h.shape[2] + top + bottom, h.shape[3] + left + right), dtype=h.dtype)
    if mode == "bias" and first.bias is not None:
        hp[...] = first.bias[None, :, None, None]
    hp[:, :, top:top + h.shape[2], left:left + h.shape[3]] = h
    inner = Conv2d(second.weight, second.bias, stride=second.stride, dilation=second.dilation, groups=second.groups)
    return inner(hp)


@pytest.mark.parametrize("mode", ["bias", "zeros"])
@pytest.mark.parametrize(
    "k1, s1, p1, k2, s2, p2",
    [(1, 1, 0, 3, 1, 1), (3, 1, 2, 3, 1, 1), (2, 2, 1, 3, 2, 2), (3, 2, 2, 2, 1, 1), (1, 2, 0, 3, 1, (1, 0))],
)
def test_merge_sequential_padded_exact(mode, k1, s1, p1, k2, s2, p2):
    rng = np.random.default_rng(k1 + 10 * k2)
    first = Conv2d(ints(rng, 3, 2, k1, k1), ints(rng, 3) if mode == "bias" else None, stride=s1, padding=p1)
    second = Conv2d(ints(rng, 2, 3, k2, k2), ints(rng, 2), stride=s2, padding=p2)
    merged = merge_sequential_padded(first, second, mode)
    for n in (7, 8, 9):
        x = ints(rng, 1, 2, n, n)
        want = _two_layers_padded(first, second, x, mode)
        assert merged(x).shape == want.shape and (merged(x) == want).all()


def test_merge_sequential_padded_delegates_without_padding():
    rng = np.random.default_rng(5)
    first, second = Conv2d(ints(rng, 2, 2, 3, 3), ints(rng, 2)), Conv2d(ints(rng, 2, 2, 3, 3), ints(rng, 2))
    a, b = merge_sequential_padded(first, second), merge_sequential(first, second)
    assert (a.weight == b.weight).all() and a.padding == b.padding


@pytest.mark.parametrize(
    "first, second, mode, match",
    [
        (Conv2d(np.ones((1, 1, 3, 3)), padding=1), Conv2d(np.ones((1, 1, 3, 3)), padding=1), "bias",
         r"on axis H the first layer's window at the ring before the map reaches the input: d1\*\(k1-1\)=2 must be "
         r"<= p1_before \+ s1 - 1 = 1 \+ 1 - 1 = 1"),
        (Conv2d(np.ones((1, 1, 3, 3)), stride=2, padding=((1, 1), (2, 2))),
         Conv2d(np.ones((1, 1, 3, 3)), padding=((0, 1), (0, 0))), "bias",
         r"on axis H the first layer's window at the ring after the map reaches the input for some input sizes: "
         r"d1\*\(k1-1\)=2 must be <= p1_after=1"),
        (Conv2d(np.ones((1, 1, 1, 1)), np.array([2.0])), Conv2d(np.ones((1, 1, 3, 3)), padding=1), "zeros",
         r"padding_mode='zeros' needs first.bias = 0"),
        (Conv2d(np.ones((1, 1, 1, 1))), Conv2d(np.ones((1, 1, 3, 3)), padding=1), "reflect",
         r"padding_mode='reflect' must be one of \('bias', 'zeros'\)"),
    ],
)
def test_merge_sequential_padded_rules(first, second, mode, match):
    with pytest.raises(ValueError, match=match):
        merge_sequential_padded(first, second, mode)


def test_merge_sequential_padded_zero_bias_is_fine_in_zero_mode():
    first = Conv2d(np.ones((1, 1, 1, 1), dtype=np.int64), np.zeros(1, dtype=np.int64))
    second = Conv2d(np.ones((1, 1, 3, 3), dtype=np.int64), padding=1)
    merged = merge_sequential_padded(first, second, "zeros")
    x = np.arange(16).reshape(1, 1, 4, 4)
    assert (merged(x) == second(first(x))).all()


# ---------------------------------------------------------------------------------------------
# exact ops against the reference


CONV_CASES = [(1, 0, 1, 2), (2, 1, 1, 2), ((1, 2), (2, 1), (2, 1), 2), (1, ((1, 0), (2, 1)), 1, 1)]


@pytest.mark.parametrize("stride, padding, dilation, groups", CONV_CASES)
def test_conv2d_im2col_and_toeplitz_match_conv(stride, padding, dilation, groups):
    rng = np.random.default_rng(11)
    x, w, b = ints(rng, 4, 7, 6), ints(rng, 6, 4 // groups, 3, 2), ints(rng, 6)
    want = value(ops.conv2d(const(x), const(w), const(b), stride=stride, padding=padding, dilation=dilation,
                            groups=groups))
    got = value(E.conv2d_im2col(const(x), const(w), const(b), stride, padding, dilation, groups))
    assert (got == want).all()
    T = E.toeplitz_matrix(const(w), (7, 6), stride, padding, dilation, groups)
    flat = value(ops.matmul(T, const(x).reshape((x.size,))))
    assert (flat.reshape(want.shape) + b[:, None, None] == want).all()


def test_im2col_matches_reference():
    rng = np.random.default_rng(12)
    x = ints(rng, 3, 7, 6)
    got = value(E.im2col(const(x), (3, 2), 2, 1, (1, 2)))
    assert (got == ref.im2col(x[None], (3, 2), 2, 1, (1, 2))[0]).all()


@pytest.mark.parametrize("k, s, p, ceil, cip", [(2, 2, 0, False, True), (3, 2, 1, True, True), (3, 2, 1, True, False),
                                                (2, 1, 1, False, False), (3, 3, 1, True, True)])
def test_avg_pool2d_matches_reference(k, s, p, ceil, cip):
    rng = np.random.default_rng(13)
    x = ints(rng, 2, 7, 6)
    got = value(E.avg_pool2d(const(x), k, s, p, ceil, cip))
    want = ref.avg_pool2d(x[None], k, s, p, ceil, cip)[0]
    assert got.shape == want.shape and (got == want).all()
    assert E.pool_output_size(7, k, s, p, ceil) == want.shape[1]


def test_rearrangements_match_reference():
    rng = np.random.default_rng(14)
    y = ints(rng, 2, 6, 4)
    assert (value(E.pixel_unshuffle(const(y), 2)) == ref.pixel_unshuffle(y, 2)).all()
    w = ints(rng, 3, 8, 2, 2)
    assert (value(E.pixel_shuffle(const(w), 2)) == ref.pixel_shuffle(w, 2)).all()
    assert list(value(E.flip(const(np.array([1, 2, 3], dtype=object))))) == [3, 2, 1]
    f, g = np.array([1, 2, 3]), np.array([5, 7])
    assert list(value(E.xcorr_full(const(f), const(g)))) == list(np.correlate(g, f, "full"))
    cat = value(E.concat(const(np.array([1, 2])), const(np.array([[3], [4]]))))
    assert list(cat) == [1, 2, 3, 4]
    padded = value(E.pad2d(const(y), ((1, 0), (2, 1)), const(np.array([7, 9], dtype=object))))
    assert padded.shape == (2, 7, 7) and (padded[:, 1:, 2:6] == y).all()
    assert (padded[0, 0] == 7).all() and (padded[1, :, 0] == 9).all()


def test_ops_work_on_other_backends():
    pool = VariablePool()
    x = DictPolyTensor.variables(pool, "x", (1, 4, 4))
    poly = PolyTensor.variables(VariablePool(), "x", (1, 4, 4))
    a = PolyTensor.from_dicts((1, 2, 2), E.avg_pool2d(x, 2).to_dicts(), poly.pool)
    assert a.equals(E.avg_pool2d(poly, 2))


def test_split_kernel_tensors_merge_back():
    pool = VariablePool()
    w = PolyTensor.variables(pool, "w", (2, 1, 5, 4))
    w1, w2 = E.split_kernel(w, (2, 3))
    assert ops.merge_kernels(w1, w2).equals(w)


def test_ops_reject_bad_input():
    with pytest.raises(TypeError, match="im2col: x must be a PolyTensor"):
        E.im2col(np.ones((1, 2, 2)), 1)
    with pytest.raises(ValueError, match=r"pixel_unshuffle: H=3 and W=4 must be divisible by r=2"):
        E.pixel_unshuffle(const(np.ones((1, 3, 4), dtype=object)), 2)
    with pytest.raises(ValueError, match="concat: need at least one tensor"):
        E.concat()
    with pytest.raises(ValueError, match=r"pad2d: value must have shape \(2,\)"):
        E.pad2d(const(np.ones((2, 2, 2), dtype=object)), 1, const(np.ones(3, dtype=object)))


# ---------------------------------------------------------------------------------------------
# the Collapse rule


def test_collapse_fixes_an_index():
    a, b, t = index("a b t")
    k1, k2 = sizes("k_1 k_2")
    w1, w2 = sympy.IndexedBase("u"), sympy.IndexedBase("v")
    expr = SumExpr.of(Term(w1[a] * w2[b], (Range.of(a, 0, k1 - 1), Range.of(b, 0, k2 - 1)), (sympy.Eq(a + b, t),)))
    out = Collapse("b", t - a).apply(expr, Context())
    (term,) = out.expr.terms
    assert term.indices == (a,) and term.summand == w1[a] * w2[t - a]
    assert "unsat" in out.checked_by[0]
    env = {k1: 2, k2: 3, t: 2}
    assert sympy.expand(evaluate(expr, env) - evaluate(out.expr, env)) == 0


def test_collapse_singleton_range_and_failures():
    u, c = index("u c")
    C, = sizes("C")
    x = sympy.IndexedBase("x")
    expr = SumExpr.of(Term(x[c, u], (Range.of(c, 0, C - 1), Range.of(u, 0, 0))))
    (term,) = Collapse("u", 0).apply(expr, Context()).expr.terms
    assert term.summand == x[c, 0] and not term.where
    with pytest.raises(ProofError, match="the domain does not force c = 0"):
        Collapse("c", 0).apply(expr, Context())
    with pytest.raises(ProofError, match="no sum over v to collapse"):
        Collapse("v", 0).apply(expr, Context())
    with pytest.raises(ProofError, match="must not mention u"):
        Collapse("u", u + 1).apply(expr, Context())


def test_collapse_after_unfold_in_a_derivation():
    from convsym.symbolic import opdefs as D

    o, i, j = index("o i j")
    C, = sizes("C")
    X, W = sympy.IndexedBase("x"), sympy.IndexedBase("w")
    expr = SumExpr.of(D.conv2d(X, W, C, 1, 1, o, i, j))
    unfolded = Unfold("conv2d", ("c", "u", "v")).apply(expr, Context()).expr
    once = Collapse("u", 0).apply(unfolded, Context()).expr
    twice = Collapse("v", 0).apply(once, Context()).expr
    assert [str(s) for s in twice.terms[0].indices] == ["c"]


# ---------------------------------------------------------------------------------------------
# the proof script


def _load_chapter():
    """The equivalences chapter: its Family and its theorems by name, from all its sections."""
    [pf] = [pf for pf in proof_files() if pf.family.name == "equivalences"]
    return pf, {t.name: t for t in pf.theorems}


CHAPTER, THEOREMS = _load_chapter()


def _section(theorem_name: str):
    """The module of the section script that defines a ``Checked`` theorem (its helpers live there)."""
    return sys.modules[THEOREMS[theorem_name].derive.__module__]


@pytest.mark.parametrize(
    "name, verdict, strength",
    [
        ("conv1x1-linear", "proved", "general"),
        ("true-conv-flip", "proved", "general"),
        ("true-conv-commutative", "proved", "general"),
        ("maxpool-not-affine", "refuted", "exact-instance"),
        ("maxpool-positively-homogeneous", "proved", "general"),
        ("split-counterexample", "refuted", "exact-instance"),
        ("order-not-commutative", "refuted", "exact-instance"),
        ("avgpool-ceil-mode", "refuted", "exact-instance"),
        ("space-to-depth-literal", "refuted", "exact-instance"),
    ],
)
def test_quick_theorems(name, verdict, strength):
    theorem = THEOREMS["equivalences." + name]
    v = theorem.prove()
    assert (v.verdict, v.strength, v.ok) == (verdict, strength, True), v.error


def test_family_lists_every_topic():
    names = set(THEOREMS)
    for topic in ("conv1x1-linear", "fc-full-map", "im2col", "toeplitz", "true-conv-flip", "true-conv-associative",
                  "xcorr-not-commutative", "xcorr-stack", "order-not-commutative", "merge-associative",
                  "avgpool-depthwise", "avgpool-exclude-pad", "maxpool-not-affine", "space-to-depth",
                  "space-to-depth-cost", "space-to-depth-literal", "padded-ring-error",
                  "padded-exact-characterisation", "padded-bias-repair", "split-counterexample", "split-criterion",
                  "split-channels"):
        assert "equivalences." + topic in names
    assert CHAPTER.family.name == "equivalences" and CHAPTER.family.order == 20
    # one chapter, six section scripts, in the order of their SECTION numbers
    assert [p.name for p in CHAPTER.sources] == [
        "forms.py", "correlation.py", "pooling.py", "space_to_depth.py", "padding.py", "converse.py"]


def test_procedure_emits_its_witness_check():
    theorem = THEOREMS["equivalences.maxpool-not-affine"]
    v = theorem.prove()
    src = theorem.check_source_for(v)
    assert "def test_witness_maxpool_not_affine():" in src
    namespace = {"np": np, "ref": ref, "Fraction": Fraction}
    exec(compile(src, "<check>", "exec"), namespace)  # noqa: S102 - the emitted check, run as pytest would
    namespace["test_witness_maxpool_not_affine"]()


def test_split_criterion_helpers_agree_on_examples():
    for w, k1 in [([1, 0, 1], 2), ([1, 0, 1], 1), ([1, 2, 1], 2), ([1, 0, 2, 0, 1], 2), ([1, 0, 2, 0, 1], 3)]:
        converse = _section("equivalences.split-criterion")
        assert converse._criterion(w, k1) == converse._z3_splits(w, k1)
