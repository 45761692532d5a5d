"""convsym.transforms (BatchNorm folding, parallel merges, equalization), its rule and its proofs."""

from __future__ import annotations

import sys
from fractions import Fraction

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy import IndexedBase

from convsym import reference as ref
from convsym.errors import ProofError
from convsym.run.registry import proof_files
from convsym.symbolic.rules import Context, Name
from convsym.symbolic.sums import Let, Range, SumExpr, Term, index
from convsym.transforms import BatchNorm2d, Conv2d, identity_conv, merge_sequential
from convsym.transforms.batchnorm import ConstantPadConv2d, fold_batchnorm, fold_batchnorm_before
from convsym.transforms.equalize import equalize
from convsym.transforms.parallel import merge_parallel

PROPS = settings(max_examples=25, deadline=None)
SEEDS = st.integers(0, 2**32 - 1)


def assert_close(ours, theirs):
    """Equal to 1e-10 relative to the size of the result."""
    scale = max(1.0, float(np.abs(theirs).max()))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10 * scale)


def random_bn(rng, channels):
    return BatchNorm2d(rng.standard_normal(channels), rng.random(channels) + 0.1,
                       rng.standard_normal(channels), rng.standard_normal(channels), eps=1e-5)


def exact(*values):
    return np.array([Fraction(v) for v in values], dtype=object)


# layer hyper-parameters that Hypothesis draws: (in, out, k, groups, stride, padding, dilation)
LAYERS = st.tuples(
    st.sampled_from([(2, 4, 1), (4, 4, 2), (3, 6, 3), (6, 6, 6), (4, 2, 1)]),  # (C_in, C_out, groups)
    st.integers(1, 3), st.integers(1, 2), st.integers(0, 2), st.integers(1, 2),
)


def layer(rng, spec, bias=True):
    (cin, cout, groups), k, stride, padding, dilation = spec
    w = rng.standard_normal((cout, cin // groups, k, k))
    b = rng.standard_normal(cout) if bias else None
    return Conv2d(w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)


# ---------------------------------------------------------------------------------------------
# fold_batchnorm


@PROPS
@given(SEEDS, LAYERS, st.booleans())
def test_fold_batchnorm_matches_bn_of_conv(seed, spec, bias):
    rng = np.random.default_rng(seed)
    conv = layer(rng, spec, bias)
    bn = random_bn(rng, conv.out_channels)
    x = rng.standard_normal((2, conv.in_channels, 7, 6))
    folded = fold_batchnorm(conv, bn)
    assert folded.weight.dtype == np.float64
    assert (folded.stride, folded.padding, folded.dilation, folded.groups) == (
        conv.stride, conv.padding, conv.dilation, conv.groups)
    assert_close(folded(x), bn(conv(x)))


def test_fold_batchnorm_exact():
    rng = np.random.default_rng(1)
    conv = Conv2d(rng.integers(-4, 5, size=(3, 2, 3, 3)), exact(1, -2, Fraction(1, 3)), padding=1)
    # var + eps = 4, 9/4, 1/4: squares of rationals, so the fold is exact
    bn = BatchNorm2d(exact(1, Fraction(1, 2), 0), exact(Fraction(15, 4), 2, 0), exact(2, -3, 1),
                     exact(0, 1, Fraction(-5, 7)), eps=Fraction(1, 4))
    x = rng.integers(-5, 6, size=(1, 2, 4, 5)).astype(object)
    folded = fold_batchnorm(conv, bn)
    assert folded.weight.dtype == object and all(isinstance(v, (int, Fraction)) for v in folded.weight.flat)
    assert (folded(x) == bn(conv(x))).all()
    # (b - mean) * gamma / sqrt(var + eps) + beta by hand: a = 1, -2, 2
    assert list(folded.bias) == [0, 6, Fraction(-1, 21)]


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: fold_batchnorm(Conv2d(np.ones((3, 2, 1, 1))), BatchNorm2d(*[np.ones(2)] * 4)),
         r"fold_batchnorm: bn.num_features=2 must equal conv.out_channels=3"),
        (lambda: fold_batchnorm(Conv2d(np.ones((1, 1, 1, 1), dtype=int)), BatchNorm2d(*[exact(1)] * 4, eps=1)),
         r"fold_batchnorm: sqrt\(var\[0\] \+ eps\) = sqrt\(2\) is irrational"),
        (lambda: fold_batchnorm(np.ones((1, 1, 1, 1)), BatchNorm2d(*[np.ones(1)] * 4)),
         r"^fold_batchnorm: conv must be a convsym\.transforms\.Conv2d, got numpy\.ndarray$"),
        (lambda: BatchNorm2d(np.zeros(2), np.array([1.0, -0.5]), np.ones(2), np.zeros(2)),
         r"BatchNorm2d: var must be >= 0, got var\[1\]=-0.5"),
        (lambda: BatchNorm2d(np.zeros(2), np.ones(2), np.ones(2), np.zeros(2), eps=0.0),
         r"BatchNorm2d: eps=0.0 must be > 0"),
        (lambda: BatchNorm2d(np.zeros(2), np.ones(2), np.ones(2), np.zeros(2), eps=-1e-5),
         r"BatchNorm2d: eps=-1e-05 must be > 0"),
    ],
)
def test_fold_batchnorm_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


# ---------------------------------------------------------------------------------------------
# fold_batchnorm_before


@PROPS
@given(SEEDS, LAYERS)
def test_fold_batchnorm_before_without_padding(seed, spec):
    rng = np.random.default_rng(seed)
    (channels, k, stride, _, dilation) = spec
    conv = layer(rng, (channels, k, stride, 0, dilation))
    bn = random_bn(rng, conv.in_channels)
    x = rng.standard_normal((2, conv.in_channels, 7, 8))
    folded = fold_batchnorm_before(bn, conv)
    assert isinstance(folded, Conv2d)
    assert_close(folded(x), conv(bn(x)))


@PROPS
@given(SEEDS, LAYERS)
def test_fold_batchnorm_before_repair_is_exact_with_padding(seed, spec):
    rng = np.random.default_rng(seed)
    (channels, k, stride, padding, dilation) = spec
    conv = layer(rng, (channels, k, stride, max(padding, 1), dilation))
    bn = random_bn(rng, conv.in_channels)
    x = rng.standard_normal((2, conv.in_channels, 6, 7))
    repaired = fold_batchnorm_before(bn, conv, repair=True)
    assert isinstance(repaired, ConstantPadConv2d)
    assert_close(repaired(x), conv(bn(x)))
    # the padding value is what bn maps to 0
    q = repaired.value[None, :, None, None] * np.ones((1, 1, 1, 1))
    assert_close(bn(q), np.zeros_like(q))


def test_fold_batchnorm_before_exact_repair():
    rng = np.random.default_rng(3)
    conv = Conv2d(rng.integers(-3, 4, size=(2, 2, 3, 3)), exact(1, 2), padding=((1, 2), (0, 1)))
    bn = BatchNorm2d(exact(1, -2), exact(3, 0), exact(2, Fraction(1, 2)), exact(5, 1), eps=1)  # roots 2, 1
    x = rng.integers(-5, 6, size=(1, 2, 5, 4)).astype(object)
    repaired = fold_batchnorm_before(bn, conv, repair=True)
    # q = mean - beta * sqrt(var + eps) / gamma by hand: 1 - 5*2/2, -2 - 1*1/(1/2)
    assert list(repaired.value) == [-4, -4]
    assert (repaired(x) == conv(bn(x))).all()
    irrational = BatchNorm2d(exact(1, -2), exact(3, 0), exact(2, 1), exact(5, 1), eps=2)
    with pytest.raises(ValueError, match=r"fold_batchnorm_before: sqrt\(var\[0\] \+ eps\) = sqrt\(5\) is irrational"):
        fold_batchnorm_before(irrational, conv, repair=True)


def test_fold_batchnorm_before_padding_exact_when_bn_maps_zero_to_zero():
    rng = np.random.default_rng(4)
    conv = Conv2d(rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3), padding=1)
    bn = BatchNorm2d(np.zeros(2), rng.random(2) + 0.5, rng.standard_normal(2), np.zeros(2))
    folded = fold_batchnorm_before(bn, conv)
    assert isinstance(folded, Conv2d) and folded.padding == (1, 1)
    x = rng.standard_normal((1, 2, 5, 5))
    assert_close(folded(x), conv(bn(x)))


def test_fold_batchnorm_before_padding_is_wrong_on_the_ring():
    # what the ValueError protects against: the unrepaired fold differs exactly on the border
    rng = np.random.default_rng(5)
    conv = Conv2d(rng.standard_normal((2, 2, 3, 3)), None, padding=1)
    bn = random_bn(rng, 2)
    unpadded = fold_batchnorm_before(bn, Conv2d(conv.weight, None))
    naive = Conv2d(unpadded.weight, unpadded.bias, padding=1)
    x = rng.standard_normal((1, 2, 6, 6))
    diff = np.abs(naive(x) - conv(bn(x)))
    assert diff[:, :, 1:-1, 1:-1].max() < 1e-10 and diff[:, :, 0, :].min() > 1e-6


@pytest.mark.parametrize(
    "bn, conv, repair, match",
    [
        (BatchNorm2d(np.ones(2), np.ones(2), np.ones(2), np.zeros(2)), Conv2d(np.ones((1, 2, 3, 3)), padding=1), False,
         r"fold_batchnorm_before: conv.padding=\(1, 1\) pads bn\(x\) with zeros.*!= 0 on channel 0.*repair=True"),
        (BatchNorm2d(np.zeros(2), np.ones(2), np.array([1.0, 0.0]), np.array([0.0, 2.0])),
         Conv2d(np.ones((1, 2, 3, 3)), padding=1), True,
         r"fold_batchnorm_before: gamma\[1\] = 0 makes bn constant beta\[1\] = 2.0 != 0 on channel 1"),
        (BatchNorm2d(*[np.ones(3)] * 4), Conv2d(np.ones((1, 2, 1, 1))), False,
         r"fold_batchnorm_before: bn.num_features=3 must equal conv.in_channels=2"),
    ],
)
def test_fold_batchnorm_before_errors(bn, conv, repair, match):
    with pytest.raises(ValueError, match=match):
        fold_batchnorm_before(bn, conv, repair=repair)


def test_constant_pad_conv_validates():
    with pytest.raises(ValueError, match=r"ConstantPadConv2d: conv.padding=\(1, 1\) must be 0"):
        ConstantPadConv2d(Conv2d(np.ones((1, 1, 3, 3)), padding=1), ((1, 1), (1, 1)), np.zeros(1))
    with pytest.raises(ValueError, match=r"ConstantPadConv2d: value must have shape \(in_channels,\)=\(2,\)"):
        ConstantPadConv2d(Conv2d(np.ones((1, 2, 3, 3))), ((1, 1), (1, 1)), np.zeros(3))


# ---------------------------------------------------------------------------------------------
# merge_parallel


def test_merge_parallel_repvgg_block_with_batchnorms():
    rng = np.random.default_rng(6)
    C = 4
    big = Conv2d(rng.standard_normal((C, C, 3, 3)), padding=1)
    small = Conv2d(rng.standard_normal((C, C, 1, 1)))
    bns = [random_bn(rng, C) for _ in range(3)]
    x = rng.standard_normal((2, C, 7, 7))
    block = bns[0](big(x)) + bns[1](small(x)) + bns[2](x)
    merged = merge_parallel(fold_batchnorm(big, bns[0]), fold_batchnorm(small, bns[1]),
                            fold_batchnorm(identity_conv(C), bns[2]))
    assert merged.kernel_size == (3, 3) and merged.padding == (1, 1)
    assert_close(merged(x), block)


def test_merge_parallel_dbb_branches_exact():
    # k x k, 1x1 -> k x k (with the intermediate padded by b1, via merge onto padding 0), avg pool
    rng = np.random.default_rng(7)
    C = 2
    x = rng.integers(-4, 5, size=(1, C, 5, 5)).astype(object)
    big = Conv2d(rng.integers(-3, 4, size=(C, C, 3, 3)), exact(1, -1), padding=1)
    avg = Conv2d(np.full((C, 1, 3, 3), Fraction(1, 9), dtype=object), padding=1, groups=C)
    assert (avg(x) == ref.avg_pool2d(x, 3, 1, 1)).all()
    dense_avg = Conv2d(np.einsum("oc,uv->ocuv", np.eye(C, dtype=int), np.ones((3, 3), dtype=int)).astype(object)
                       * Fraction(1, 9), padding=1)
    merged = merge_parallel(big, dense_avg, identity_conv(C))
    assert (merged(x) == big(x) + avg(x) + x).all()


def test_dbb_block_with_a_sequential_branch():
    # kxk branch + (1x1 -> kxk, the intermediate padded with b1 as DBB's BNAndPad does): one kxk conv
    rng = np.random.default_rng(13)
    C, M, k, p = 3, 4, 3, 1
    big = Conv2d(rng.standard_normal((C, C, k, k)), rng.standard_normal(C), padding=p)
    w1, b1 = rng.standard_normal((M, C, 1, 1)), rng.standard_normal(M)
    w2, b2 = rng.standard_normal((C, M, k, k)), rng.standard_normal(C)
    x = rng.standard_normal((2, C, 6, 6))
    h = ref.conv2d(x, w1, b1)
    hp = np.empty((2, M, 6 + 2 * p, 6 + 2 * p))
    hp[...] = b1[None, :, None, None]
    hp[:, :, p:-p, p:-p] = h
    branch = ref.conv2d(hp, w2, b2)
    # the padding moves to the bias-free 1x1 (it maps zero padding to zero), b1 moves through w2
    sequential = merge_sequential(Conv2d(w1, None, padding=p), Conv2d(w2, b2 + w2.sum(axis=(2, 3)) @ b1))
    merged = merge_parallel(big, sequential)
    assert merged.kernel_size == (k, k) and merged.padding == (p, p)
    assert_close(merged(x), big(x) + branch)


@PROPS
@given(SEEDS, st.lists(st.sampled_from([1, 2, 3, 4, 5]), min_size=1, max_size=4), st.integers(1, 2),
       st.integers(1, 2), st.sampled_from([1, 2]))
def test_merge_parallel_same_padded_branches(seed, kernels, stride, dilation, groups):
    rng = np.random.default_rng(seed)
    C = 4
    # 'same'-style padding d*(k-1) split as PyTorch does: every branch keeps the input size
    convs = []
    for k in kernels:
        total = dilation * (k - 1)
        convs.append(Conv2d(rng.standard_normal((C, C // groups, k, k)), rng.standard_normal(C), stride=stride,
                            padding=((total // 2, total - total // 2),) * 2, dilation=dilation, groups=groups))
    x = rng.standard_normal((2, C, 9, 8))
    merged = merge_parallel(*convs)
    assert_close(merged(x), sum(conv(x) for conv in convs))


def test_merge_parallel_taps_off_the_dilated_grid_merge_with_dilation_1():
    rng = np.random.default_rng(12)
    a = Conv2d(rng.standard_normal((2, 2, 3, 3)), padding=2, dilation=2)          # taps -2, 0, 2
    b = Conv2d(rng.standard_normal((2, 2, 2, 2)), padding=((1, 1), (1, 1)), dilation=2)  # taps -1, 1
    merged = merge_parallel(a, b)
    assert merged.dilation == (1, 1) and merged.kernel_size == (5, 5) and merged.padding == (2, 2)
    x = rng.standard_normal((1, 2, 7, 6))
    assert_close(merged(x), a(x) + b(x))


def test_merge_parallel_asymmetric_alignment():
    rng = np.random.default_rng(8)
    a = Conv2d(rng.standard_normal((2, 3, 2, 3)), padding=((0, 1), (1, 1)))
    x = rng.standard_normal((1, 3, 5, 6))
    c = Conv2d(rng.standard_normal((2, 3, 2, 3)), padding=((1, 0), (1, 1)))
    merged = merge_parallel(a, c)
    assert merged.kernel_size == (3, 3) and merged.padding == (1, 1)
    assert_close(merged(x), a(x) + c(x))


@pytest.mark.parametrize(
    "convs, match",
    [
        ((), r"merge_parallel: needs at least one Conv2d branch"),
        ((Conv2d(np.ones((2, 2, 3, 3)), padding=1), Conv2d(np.ones((2, 2, 1, 1)), stride=2)),
         r"merge_parallel: convs\[1\].stride=\(2, 2\) differs from convs\[0\].stride=\(1, 1\)"),
        ((Conv2d(np.ones((2, 2, 3, 3))), Conv2d(np.ones((3, 2, 3, 3)))),
         r"merge_parallel: convs\[1\].out_channels=3 differs from convs\[0\].out_channels=2"),
        ((Conv2d(np.ones((2, 2, 3, 3))), Conv2d(np.ones((2, 1, 3, 3)), groups=2)),
         r"merge_parallel: convs\[1\].groups=2 differs"),
        ((Conv2d(np.ones((2, 2, 3, 3)), padding=1), Conv2d(np.ones((2, 2, 1, 1)), padding=1)),
         r"merge_parallel: the branches give different output sizes along axis H"),
    ],
)
def test_merge_parallel_errors(convs, match):
    with pytest.raises(ValueError, match=match):
        merge_parallel(*convs)


# ---------------------------------------------------------------------------------------------
# equalize


def run_pair(first, second, x, activation):
    return second(activation(first(x)))


ACTS = {
    "relu": lambda h: np.maximum(h, 0),
    "leaky_relu": lambda h: np.where(h >= 0, h, 0.01 * h),
    "prelu": lambda h: np.where(h >= 0, h, np.linspace(-1, 1, h.shape[1])[None, :, None, None] * h),
    "identity": lambda h: h,
    None: lambda h: h,
}


@PROPS
@given(SEEDS, st.sampled_from(sorted(ACTS, key=str)), st.sampled_from([(1, 1), (1, 6), (2, 3), (3, 1)]),
       st.integers(1, 3), st.integers(0, 1), st.integers(1, 5))
def test_equalize_keeps_the_network_and_equalizes(seed, activation, groups, k2, p2, out2):
    g1, g2 = groups
    rng = np.random.default_rng(seed)
    mid = 6
    out = mid if g2 == mid else out2 * g2
    first = Conv2d(rng.standard_normal((mid, 6 // g1, 3, 3)) * np.exp(3 * rng.standard_normal((mid, 1, 1, 1))),
                   rng.standard_normal(mid), padding=1, groups=g1)
    second = Conv2d(rng.standard_normal((out, mid // g2, k2, k2)), rng.standard_normal(out), padding=p2, groups=g2)
    x = rng.standard_normal((2, 6, 6, 6))
    f1, f2, s = equalize(first, second, activation)
    assert (s > 0).all() and s.shape == (mid,)
    assert_close(run_pair(f1, f2, x, ACTS[activation]), run_pair(first, second, x, ACTS[activation]))
    r1 = np.abs(f1.weight).max(axis=(1, 2, 3))
    cols = (np.arange(out)[:, None] // (out // g2)) * (mid // g2) + np.arange(mid // g2)[None, :]
    r2 = np.array([np.abs(f2.weight[cols == i]).max() for i in range(mid)])
    np.testing.assert_allclose(r1, r2, rtol=1e-12)


def test_equalize_exact_and_the_dfq_scale():
    w1 = np.array([[[[4]]], [[[-1]]], [[[0]]]], dtype=object)       # r1 = 4, 1, 0
    w2 = np.array([[[[1]], [[9]], [[5]]], [[[-1]], [[2]], [[3]]]], dtype=object)  # r2 = 1, 9, 5
    first, second = Conv2d(w1, exact(2, 3, 7)), Conv2d(w2, exact(0, 1))
    f1, f2, s = equalize(first, second)
    assert list(s) == [Fraction(2), Fraction(1, 3), Fraction(1)]  # sqrt(r1 r2)/r2; a dead channel keeps 1
    assert list(f1.bias) == [1, 9, 7]
    x = np.array([[[[Fraction(1, 2), -3, 5]]]], dtype=object)
    relu = np.frompyfunc(lambda t: max(t, 0), 1, 1)
    assert (f2(relu(f1(x))) == second(relu(first(x)))).all()


@pytest.mark.parametrize(
    "activation, match",
    [
        ("relu6", r"equalize: activation='relu6' is not positively homogeneous \(relu6\(z\) = min\(max\(z, 0\), 6\)"),
        ("hardswish", r"equalize: activation='hardswish' is not positively homogeneous"),
        ("sigmoid", r"equalize: activation='sigmoid' is not positively homogeneous \(sigmoid\(0\) = 1/2 != 0"),
        ("tanh", r"equalize: activation='tanh' is not positively homogeneous"),
        ("gelu", r"equalize: activation='gelu' is not positively homogeneous"),
        ("silu", r"equalize: activation='silu' is not positively homogeneous"),
        ("softmax", r"equalize: activation='softmax' is not known; supported"),
        (3, r"equalize: activation=3 is not known"),
    ],
)
def test_equalize_rejects_activations(activation, match):
    conv = Conv2d(np.ones((2, 2, 1, 1)))
    with pytest.raises(ValueError, match=match):
        equalize(conv, conv, activation)


@pytest.mark.parametrize(
    "scale1, scale2",
    [(1e-170, 1e-170), (1e160, 1e160), (1e-170, 1e160), (1e160, 1e-170), (1e-300, 1e-10)],
)
def test_equalize_does_not_form_the_product_of_the_ranges(scale1, scale2):
    # r1 * r2 underflows to 0 (1e-340) or overflows to inf (1e320): s would be 0 or inf and the layers NaN
    rng = np.random.default_rng(5)
    w1, w2 = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal((4, 3, 1, 1))
    # inputs and bias of a size that keeps the network's output (about scale1 * scale2 * x) finite
    x_scale = 1 / (np.sqrt(scale1) * np.sqrt(scale2))
    first = Conv2d(w1 * scale1, rng.standard_normal(3) * scale1 * x_scale, padding=1)
    second = Conv2d(w2 * scale2)
    f1, f2, s = equalize(first, second)
    assert np.isfinite(s).all() and (s > 0).all()
    r1, r2 = np.abs(f1.weight).max(axis=(1, 2, 3)), np.abs(f2.weight).max(axis=(0, 2, 3))
    np.testing.assert_allclose(r1, r2, rtol=1e-12)
    np.testing.assert_allclose(r1, np.sqrt(np.abs(w1).max(axis=(1, 2, 3)) * scale1)
                               * np.sqrt(np.abs(w2).max(axis=(0, 2, 3)) * scale2), rtol=1e-12)
    x = rng.standard_normal((1, 2, 5, 5)) * x_scale
    relu = ACTS["relu"]
    want = run_pair(first, second, x, relu)
    assert np.isfinite(want).all() and np.abs(want).max() > 0
    np.testing.assert_allclose(run_pair(f1, f2, x, relu), want, rtol=1e-10, atol=1e-10 * np.abs(want).max())


@pytest.mark.parametrize("kind", ["float", "exact"])
def test_equalize_keeps_s_1_for_a_zero_column_of_second(kind):
    w1 = np.array([[[[4]]], [[[-1]]]])
    w2 = np.array([[[[0]], [[9]]], [[[0]], [[2]]]])                       # channel 0 is never read
    if kind == "exact":
        w1, w2 = w1.astype(object), w2.astype(object)
    else:
        w1, w2 = w1.astype(float), w2.astype(float)
    first, second = Conv2d(w1, w1[:, 0, 0, 0] + 1), Conv2d(w2)
    f1, f2, s = equalize(first, second)
    assert list(s) == pytest.approx([1, Fraction(1, 3)], rel=1e-15)      # sqrt(1 * 9) / 9 for channel 1
    assert list(s) == [1, Fraction(1, 3)] or kind == "float"
    assert (f1.weight[0] == w1[0]).all() and (f2.weight[:, 0] == 0).all()
    x = np.array([[[[2, -3, 5]]]]).astype(w1.dtype)
    before, after = run_pair(first, second, x, ACTS["relu"]), run_pair(f1, f2, x, ACTS["relu"])
    assert np.allclose(after.astype(float), before.astype(float))


def test_equalize_refuses_ranges_it_cannot_scale():
    tiny = Conv2d(np.full((1, 1, 1, 1), 5e-324))                       # sqrt(5e-324) / sqrt(1e300) is subnormal
    with pytest.raises(ValueError, match=r"^equalize: the scale of channel 0, sqrt\(r1_0\) / sqrt\(r2_0\) = "
                                         r"sqrt\(5e-324\) / sqrt\(1e\+300\) = .* is outside the normal float64 range"):
        equalize(tiny, Conv2d(np.full((1, 1, 1, 1), 1e300)))
    with pytest.raises(ValueError, match=r"^equalize: channel 0 has a non-finite weight range: r1_0=inf, r2_0=1.0$"):
        equalize(Conv2d(np.full((1, 1, 1, 1), np.inf)), Conv2d(np.ones((1, 1, 1, 1))))


@pytest.mark.parametrize("name", ["ReLU", "RELU", "LeakyReLU", "leaky-relu", "Leaky_ReLU", "PReLU", "Identity", "relu"])
def test_equalize_matches_activation_names_without_case(name):
    conv = Conv2d(np.array([[[[4.0]]]]))
    _, _, s = equalize(conv, Conv2d(np.array([[[[1.0]]]])), name)
    assert s.tolist() == [2.0]


@pytest.mark.parametrize("name", ["ReLU6", "Hardswish", "SiLU", "GELU", "Tanh"])
def test_equalize_refuses_torch_class_names_of_non_homogeneous_activations(name):
    conv = Conv2d(np.ones((1, 1, 1, 1)))
    with pytest.raises(ValueError, match=rf"^equalize: activation='{name}' is not positively homogeneous \("):
        equalize(conv, conv, name)


def test_equalize_unknown_activation_lists_the_known_ones():
    conv = Conv2d(np.ones((1, 1, 1, 1)))
    with pytest.raises(ValueError, match=r"^equalize: activation='Softmax' is not known; supported \(positively "
                                         r"homogeneous\): 'relu', 'leaky_relu', 'prelu', 'identity' or None; refused "
                                         r"\(not homogeneous\): 'relu6', 'hardswish', .*'mish' \(names match without "
                                         r"case"):
        equalize(conv, conv, "Softmax")


def test_equalize_errors():
    with pytest.raises(ValueError, match=r"equalize: second.in_channels=3 must equal first.out_channels=2"):
        equalize(Conv2d(np.ones((2, 2, 1, 1))), Conv2d(np.ones((1, 3, 1, 1))))
    exact_first = Conv2d(np.array([[[[2]]]], dtype=object))
    with pytest.raises(ValueError, match=r"equalize: sqrt\(r1_0 \* r2_0\) for channel 0 = sqrt\(2\) is irrational"):
        equalize(exact_first, Conv2d(np.array([[[[1]]]], dtype=object)))
    with pytest.raises(TypeError, match=r"^equalize: second must be a convsym\.transforms\.Conv2d, got str$"):
        equalize(exact_first, "conv")


# ---------------------------------------------------------------------------------------------
# a real small network: three conv-BN-ReLU blocks


def test_three_block_network_folded_and_equalized():
    rng = np.random.default_rng(9)
    specs = [(3, 8, 3, 1, 1), (8, 8, 3, 8, 1), (8, 5, 1, 1, 2)]  # (C_in, C_out, k, groups, stride)
    convs = [Conv2d(rng.standard_normal((co, ci // g, k, k)) * np.exp(rng.standard_normal((co, 1, 1, 1))),
                    rng.standard_normal(co), stride=s, padding=k // 2, groups=g) for ci, co, k, g, s in specs]
    bns = [random_bn(rng, conv.out_channels) for conv in convs]
    x = rng.standard_normal((2, 3, 12, 12))

    def run(blocks):
        h = x
        for block in blocks:
            h = np.maximum(block(h), 0)
        return h

    original = run([lambda h, c=c, b=b: b(c(h)) for c, b in zip(convs, bns, strict=True)])
    folded = [fold_batchnorm(c, b) for c, b in zip(convs, bns, strict=True)]
    assert_close(run(folded), original)
    for _ in range(3):
        for k in range(2):
            folded[k], folded[k + 1], _s = equalize(folded[k], folded[k + 1], "relu")
    assert_close(run(folded), original)
    # the middle layer is balanced against its successor after the last sweep
    r1 = np.abs(folded[1].weight).max(axis=(1, 2, 3))
    r2 = np.abs(folded[2].weight).max(axis=(0, 2, 3))
    np.testing.assert_allclose(r1, r2, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Name (a factor of a product)


I, J = index("o c")
Wb, Gb, Xb, Yb = (IndexedBase(n) for n in ("w", "g", "x", "y"))
SCALED = Let(Yb, lambda o, c: SumExpr.of(Gb[o] * Wb[o, c]))


@pytest.mark.parametrize(
    "summand, expected",
    [
        (Gb[I] * Wb[I, J] * Xb[J], Yb[I, J] * Xb[J]),
        (-3 * Gb[I] * Wb[I, J], -3 * Yb[I, J]),
        (Gb[I] * Wb[I, J] * (Xb[J] + 1), Yb[I, J] * (Xb[J] + 1)),
    ],
)
def test_name_product_names_a_factor(summand, expected):
    expr = SumExpr.of(Term(summand, (Range.of(J, 0, 3),)), Gb[I])
    out = Name(SCALED, (I, J)).apply(expr, Context(lets=(SCALED,))).expr
    assert sympy.expand(out.terms[0].summand - expected) == 0
    assert out.terms[1].summand == Gb[I]  # a term the factor does not divide is left alone


@pytest.mark.parametrize("summand", [Gb[I] * Xb[J], Wb[I, J] / Gb[I], Gb[I] * Wb[I, I]])
def test_name_product_refuses_non_factors(summand):
    with pytest.raises(ProofError, match="divides no summand"):
        Name(SCALED, (I, J)).apply(SumExpr.of(Term(summand, (Range.of(J, 0, 3),))), Context(lets=(SCALED,)))


def test_name_only_by_the_theorems_own_definitions():
    with pytest.raises(ProofError, match="is not defined by this theorem's lets"):
        Name(SCALED, (I, J)).apply(SumExpr.of(Term(Gb[I] * Wb[I, J], (Range.of(J, 0, 3),))), Context())


# ---------------------------------------------------------------------------------------------
# the proof script: verdicts as declared, and the checks are able to fail


@pytest.fixture(scope="module")
def proofs():
    [chapter] = [pf for pf in proof_files() if pf.family.name == "folding"]
    return {t.name: t for t in chapter.theorems}


def test_every_folding_verdict_is_as_declared(proofs):
    strengths = {}
    for name, theorem in proofs.items():
        verdict = theorem.prove()
        assert verdict.ok, (name, verdict.verdict, verdict.error)
        strengths[name] = verdict.strength
        if verdict.verdict == "refuted":
            assert verdict.witness is not None and verdict.witness.lhs != verdict.witness.rhs
    assert strengths["folding.cle-iterated"] == "numeric"  # and so its verdict is observed, never proved
    assert {strengths[n] for n in ("folding.bn-after-conv", "folding.cle-relu", "folding.absorb-condition")} == {
        "general"}


def test_homogeneity_step_fails_for_relu6(proofs):
    script = sys.modules[proofs["folding.cle-relu"].derive.__module__]
    script.ACTIVATIONS["relu6_test"] = (lambda z: sympy.Min(sympy.Max(z, 0), 6), r"\min(\max(z,0),6)")
    try:
        verdict = script._cle_theorem("relu6_test", "").prove()
    finally:
        del script.ACTIVATIONS["relu6_test"]
    assert (verdict.verdict, verdict.failed_step, verdict.failed_rule) == ("failed", 1, "case analysis")
    assert "for z nonnegative it reduces to" in verdict.error


def test_a_wrong_fold_does_not_prove(proofs):
    from convsym.proof import General

    right = proofs["folding.bn-after-conv"]
    gam, rr, bb = (IndexedBase(n) for n in (r"\gamma", "r", "b"))
    o = index("o")[0]
    # claim the bias b' = gamma r b + beta (mu forgotten): the derivation must not reach it
    wrong_rhs = SumExpr(right.rhs.sum_terms() + (Term(gam[o] * rr[o] * bb[o] + IndexedBase(r"\beta")[o]),))
    wrong = General(right.name, right.title, right.statement, lhs=right.lhs, rhs=wrong_rhs,
                    derivation=right.derivation, lets=right.lets, instances=right.user_instances)
    verdict = wrong.prove()
    # the claim itself is false, so the kernel refutes it on an instance before looking at the derivation
    assert verdict.verdict == "refuted" and verdict.witness.lhs != verdict.witness.rhs
