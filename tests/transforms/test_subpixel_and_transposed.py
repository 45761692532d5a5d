"""The sub-pixel <-> transposed transforms (exact on Fractions, float64 to 1e-12, ValueError naming
the rule), BatchNorm folding into a grouped transposed layer, and the exact transposed ops."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from convsym import reference as ref
from convsym.exact import transposed as OT
from convsym.exact.poly import PolyTensor
from convsym.transforms import (
    BatchNorm2d,
    Conv2d,
    ConvTranspose2d,
    fold_batchnorm,
    subpixel_to_transposed,
    transposed_to_subpixel,
)


def fractions(rng, shape):
    return np.array([Fraction(int(v), int(d)) for v, d in zip(rng.integers(-9, 10, int(np.prod(shape))),
                                                             rng.integers(1, 5, int(np.prod(shape))),
                                                             strict=True)], dtype=object).reshape(shape)


SUBPIXEL_CASES = [  # r, C, C_in, K, P, groups
    (2, 1, 1, 3, 1, 1), (2, 2, 3, 1, 0, 1), (3, 2, 2, 2, 1, 2), (2, 4, 4, 3, 2, 2), (4, 1, 2, 2, 0, 1),
    (1, 2, 2, 3, 1, 1), (2, 3, 3, 3, 0, 3),
]


@pytest.mark.parametrize("r, C, C_in, K, P, g", SUBPIXEL_CASES)
def test_subpixel_to_transposed_is_exact_on_fractions(r, C, C_in, K, P, g):
    rng = np.random.default_rng(r * 100 + K * 10 + P)
    w = fractions(rng, (r * r * C, C_in // g, K, K + 1))
    b = np.repeat(fractions(rng, (C,)), r * r)
    conv = Conv2d(w, b, padding=(P, min(P, K)), groups=g)
    t = subpixel_to_transposed(conv, r)
    assert isinstance(t, ConvTranspose2d) and t.weight.dtype == object
    assert t.weight.shape == (C_in, C // g, r * K, r * (K + 1)) and t.stride == (r, r)
    assert t.padding == (r * (K - 1 - P), r * (K - min(P, K)))
    x = fractions(rng, (2, C_in, 3, 4))
    assert np.array_equal(ref.pixel_shuffle(conv(x), r), t(x))


@pytest.mark.parametrize("r, C, C_in, K, P, g", SUBPIXEL_CASES)
def test_subpixel_to_transposed_float64(r, C, C_in, K, P, g):
    rng = np.random.default_rng(7 + r + K)
    conv = Conv2d(rng.standard_normal((r * r * C, C_in // g, K, K)), np.repeat(rng.standard_normal(C), r * r),
                  padding=P, groups=g)
    t = subpixel_to_transposed(conv, r)
    assert t.weight.dtype == np.float64
    x = rng.standard_normal((1, C_in, 5, 4))
    np.testing.assert_allclose(t(x), ref.pixel_shuffle(conv(x), r), rtol=1e-12, atol=1e-12)


TRANSPOSED_CASES = [  # stride, kernel, padding, output_padding, dilation, groups, C_in, C_out
    (2, 4, 1, 0, 1, 1, 2, 3), (2, 3, 0, 1, 1, 2, 4, 2), (3, 3, 0, 0, 1, 1, 1, 1), (2, 3, 1, 1, 2, 1, 2, 2),
    (3, 5, 2, 2, 1, 1, 2, 1), (2, 2, 0, 0, 3, 2, 2, 4), (1, 3, 1, 0, 1, 1, 2, 2), (4, 8, 2, 0, 1, 1, 1, 2),
]


@pytest.mark.parametrize("s, k, p, q, d, g, ci, co", TRANSPOSED_CASES)
def test_transposed_to_subpixel_is_exact_on_fractions(s, k, p, q, d, g, ci, co):
    rng = np.random.default_rng(s * 1000 + k * 100 + p * 10 + q)
    tconv = ConvTranspose2d(fractions(rng, (ci, co // g, k, k)), fractions(rng, (co,)), stride=s, padding=p,
                            output_padding=q, dilation=d, groups=g)
    conv, r = transposed_to_subpixel(tconv)
    assert r == s and isinstance(conv, Conv2d) and conv.weight.dtype == object
    assert conv.stride == (1, 1) and conv.dilation == (1, 1) and conv.weight.shape[0] == r * r * co
    x = fractions(rng, (1, ci, 3, 2))
    assert np.array_equal(ref.pixel_shuffle(conv(x), r), tconv(x))


@pytest.mark.parametrize("s, k, p, q, d, g, ci, co", TRANSPOSED_CASES)
def test_transposed_to_subpixel_float64(s, k, p, q, d, g, ci, co):
    rng = np.random.default_rng(3 + s + k)
    tconv = ConvTranspose2d(rng.standard_normal((ci, co // g, k, k)), rng.standard_normal(co), stride=s, padding=p,
                            output_padding=q, dilation=d, groups=g)
    conv, r = transposed_to_subpixel(tconv)
    x = rng.standard_normal((2, ci, 4, 3))
    np.testing.assert_allclose(ref.pixel_shuffle(conv(x), r), tconv(x), rtol=1e-12, atol=1e-12)


def test_round_trip_sub_pixel_transposed_sub_pixel():
    rng = np.random.default_rng(5)
    conv = Conv2d(fractions(rng, (8, 3, 3, 3)), None, padding=1)
    t = subpixel_to_transposed(conv, 2)
    back, r = transposed_to_subpixel(t)
    assert r == 2 and _pads_equal(back.padding, conv.padding)
    assert np.array_equal(back.weight, conv.weight)  # the map and its construction are inverse here


def _pads_equal(a, b):
    def norm(p):
        return p if isinstance(p[0], tuple) else ((p[0], p[0]), (p[1], p[1]))
    return norm(a) == norm(b)


@pytest.mark.parametrize("conv, r, match", [
    (Conv2d(np.ones((4, 1, 3, 3)), stride=2), 2, "subpixel_to_transposed: rule 'stride 1'"),
    (Conv2d(np.ones((4, 1, 3, 3)), dilation=2), 2, "rule 'dilation 1'"),
    (Conv2d(np.ones((6, 1, 3, 3))), 2, r"rule 'r\^2 C channels': out_channels=6 is not a multiple of r\^2=4"),
    (Conv2d(np.ones((4, 1, 3, 3)), padding=((0, 1), (1, 1))), 2, "rule 'symmetric padding'.*pads \\(0, 1\\) on axis H"),
    (Conv2d(np.ones((4, 1, 2, 2)), padding="same"), 2, "rule 'symmetric padding'"),
    (Conv2d(np.ones((4, 1, 3, 3)), padding=3), 2, r"rule 'padding <= K - 1': padding 3 > K - 1 = 2 on axis H"),
    (Conv2d(np.ones((4, 1, 1, 1)), np.array([1.0, 2.0, 1.0, 1.0])), 2, "rule 'one bias per shuffled channel'"),
])
def test_subpixel_to_transposed_names_the_rule(conv, r, match):
    with pytest.raises(ValueError, match=match):
        subpixel_to_transposed(conv, r)


def test_subpixel_groups_that_split_a_shuffled_channel_give_a_dense_layer():
    rng = np.random.default_rng(9)
    conv = Conv2d(fractions(rng, (4, 1, 3, 3)), padding=1, groups=2)  # C = 1 channel made of both groups
    t = subpixel_to_transposed(conv, 2)
    assert t.groups == 1 and t.weight.shape == (2, 1, 6, 6)
    x = fractions(rng, (1, 2, 3, 3))
    assert np.array_equal(t(x), ref.pixel_shuffle(conv(x), 2))


def test_subpixel_to_transposed_rejects_bad_arguments():
    with pytest.raises(TypeError, match="subpixel_to_transposed: conv must be a convsym Conv2d"):
        subpixel_to_transposed(np.ones((4, 1, 3, 3)), 2)
    with pytest.raises(ValueError, match="subpixel_to_transposed: r=0 must be >= 1"):
        subpixel_to_transposed(Conv2d(np.ones((4, 1, 3, 3))), 0)
    with pytest.raises(TypeError, match="r must be an int"):
        subpixel_to_transposed(Conv2d(np.ones((4, 1, 3, 3))), 2.0)


@pytest.mark.parametrize("tconv, match", [
    (ConvTranspose2d(np.ones((1, 1, 3, 3)), stride=(2, 3)), r"rule 'one factor r'.*stride is \(2, 3\)"),
    (ConvTranspose2d(np.ones((1, 1, 3, 3)), stride=2),
     r"rule 'output length a multiple of r': on axis H .* = 3, not a multiple of r=2"),
    (ConvTranspose2d(np.ones((1, 1, 4, 3)), stride=2, padding=1),
     r"rule 'output length a multiple of r': on axis W .* = 1, not a multiple of r=2"),
])
def test_transposed_to_subpixel_names_the_rule(tconv, match):
    with pytest.raises(ValueError, match=match):
        transposed_to_subpixel(tconv)
    with pytest.raises(TypeError, match="transposed_to_subpixel: tconv must be a convsym ConvTranspose2d"):
        transposed_to_subpixel(Conv2d(np.ones((1, 1, 3, 3))))


# ---------------------------------------------------------------------------------------------
# BatchNorm after a grouped transposed convolution: fold_batchnorm scales axis 1 per group


@pytest.mark.parametrize("groups", [1, 2, 3, 6])
def test_fold_batchnorm_scales_axis1_per_group(groups):
    rng = np.random.default_rng(groups)
    c_in, c_out = 6, 6
    w = rng.integers(-4, 5, (c_in, c_out // groups, 2, 3)).astype(object)
    tconv = ConvTranspose2d(w, rng.integers(-4, 5, c_out).astype(object), stride=2, padding=1, groups=groups)
    roots = [Fraction(int(v), 3) for v in rng.integers(1, 7, c_out)]
    eps = Fraction(1, 9)
    gamma, beta, mean = (rng.integers(-4, 5, c_out).astype(object) for _ in range(3))
    bn = BatchNorm2d(mean, np.array([q * q - eps for q in roots], dtype=object), gamma, beta, eps=eps)
    fused = fold_batchnorm(tconv, bn)
    scale = np.array([g_ / q for g_, q in zip(gamma, roots, strict=True)], dtype=object)
    per_in, per_out = c_in // groups, c_out // groups
    for c in range(c_in):
        group = c // per_in
        expected = w[c] * scale[group * per_out:(group + 1) * per_out][:, None, None]
        assert np.array_equal(fused.weight[c], expected)  # row c: its group's slice of the output channels
    x = rng.integers(-4, 5, (1, c_in, 3, 3)).astype(object)
    assert np.array_equal(fused(x), bn(tconv(x)))


def test_fold_batchnorm_transposed_float64():
    rng = np.random.default_rng(11)
    tconv = ConvTranspose2d(rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(6), stride=2, groups=2,
                            output_padding=1)
    bn = BatchNorm2d(rng.standard_normal(6), rng.random(6) + 0.5, rng.standard_normal(6), rng.standard_normal(6))
    x = rng.standard_normal((2, 4, 5, 5))
    np.testing.assert_allclose(fold_batchnorm(tconv, bn)(x), bn(tconv(x)), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# the exact ops on constants against the reference


def values(t):
    return t.evaluate({})


@pytest.mark.parametrize("s, p, q, d, g", [(1, 0, 0, 1, 1), (2, 1, 1, 1, 2), (3, 0, 2, 2, 1), (2, 2, 1, 3, 2)])
def test_exact_transposed_ops_match_the_reference(s, p, q, d, g):
    rng = np.random.default_rng(s + p + q + d)
    x = rng.integers(-5, 6, (1, 2 * g, 3, 4))
    w = rng.integers(-5, 6, (2 * g, 2, 3, 2))
    b = rng.integers(-5, 6, 2 * g)
    X, Wt, B = (PolyTensor.constant(v.astype(object)) for v in (x, w, b))
    got = values(OT.conv_transpose2d(X, Wt, B, stride=s, padding=p, output_padding=q, dilation=d, groups=g))
    want = ref.conv_transpose2d(x.astype(object), w.astype(object), b.astype(object), stride=s, padding=p,
                                output_padding=q, dilation=d, groups=g)
    assert got.shape == want.shape and (got == want).all()
    y = rng.integers(-5, 6, (1, 8, 2, 3))
    assert (values(OT.pixel_shuffle(PolyTensor.constant(y.astype(object)), 2)) == ref.pixel_shuffle(y, 2)).all()


def test_exact_transposed_op_rejects_output_padding_at_least_max_stride_dilation():
    X, Wt = PolyTensor.constant(np.ones((1, 1, 2, 2), dtype=object)), PolyTensor.constant(
        np.ones((1, 1, 2, 2), dtype=object))
    with pytest.raises(ValueError, match="conv_transpose2d: output_padding=2 must be smaller than stride=2"):
        OT.conv_transpose2d(X, Wt, stride=2, output_padding=2)
