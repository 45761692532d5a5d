"""convsym.transforms: layers, merge_sequential and identity_conv against a naive conv2d."""

from __future__ import annotations

import importlib.util
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convsym.transforms import BatchNorm2d, Conv2d, identity_conv, merge_sequential

HAVE_REFERENCE = importlib.util.find_spec("convsym.reference") is not None
needs_reference = pytest.mark.skipif(not HAVE_REFERENCE, reason="convsym.reference not present")

# ---------------------------------------------------------------------------------------------
# The oracle: the definition of a (grouped, strided, dilated, zero-padded) conv2d, one output
# entry at a time.  Independent of convsym.reference and of convsym.transforms.


def pads_of(padding):
    """Conv2d's normalised padding as ((top, bottom), (left, right))."""
    if isinstance(padding[0], tuple):
        return padding
    return (padding[0], padding[0]), (padding[1], padding[1])


def naive_conv2d(x, w, b, stride, pads, dilation, groups):
    (top, bottom), (left, right) = pads
    n_batch, channels, height, width = x.shape
    out_channels, group_in, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    xp = np.zeros((n_batch, channels, height + top + bottom, width + left + right), x.dtype)
    xp[:, :, top : top + height, left : left + width] = x
    out_h = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    out_w = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    group_out = out_channels // groups
    out = np.empty((n_batch, out_channels, out_h, out_w), dtype=x.dtype)
    for n in range(n_batch):
        for o in range(out_channels):
            first = (o // group_out) * group_in
            for i in range(out_h):
                for j in range(out_w):
                    window = xp[
                        n,
                        first : first + group_in,
                        i * sh : i * sh + dh * (kh - 1) + 1 : dh,
                        j * sw : j * sw + dw * (kw - 1) + 1 : dw,
                    ]
                    acc = (window * w[o]).sum()
                    out[n, o, i, j] = acc if b is None else acc + b[o]
    return out


def run(conv, x):
    return naive_conv2d(
        x, conv.weight, conv.bias, conv.stride, pads_of(conv.padding), conv.dilation, conv.groups
    )


def exact_array(rng, shape, low=-3, high=4):
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        out[index] = int(rng.integers(low, high))
    return out


# ---------------------------------------------------------------------------------------------
# Strategies


@st.composite
def sequential_cases(draw):
    """Hyper-parameters of two convs in a row and an input size that both accept."""
    g1, g2 = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    lcm = g1 * g2 // math.gcd(g1, g2)
    middle = lcm * draw(st.integers(1, max(1, 4 // lcm)))
    in_channels = g1 * draw(st.integers(1, 2))
    out_channels = g2 * draw(st.integers(1, 2))
    symmetric = draw(st.booleans())
    axes = []
    for _ in range(2):
        k1, k2 = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        s1, s2 = draw(st.integers(1, 2)), draw(st.integers(1, 2))
        d1, d2 = draw(st.integers(1, 2)), draw(st.integers(1, 2))
        before = draw(st.integers(0, 2))
        after = before if symmetric else draw(st.integers(0, 2))
        # the padded input must hold the first kernel plus s1*d2(k2-1) for the second
        minimum = max(1, d1 * (k1 - 1) + 1 + s1 * d2 * (k2 - 1) - before - after)
        size = minimum + draw(st.integers(0, 3))
        axes.append((k1, k2, s1, s2, d1, d2, before, after, size))
    (k1h, k2h, s1h, s2h, d1h, d2h, t, b, height) = axes[0]
    (k1w, k2w, s1w, s2w, d1w, d2w, left, right, width) = axes[1]
    padding = (t, left) if symmetric else ((t, b), (left, right))
    return {
        "first": dict(
            shape=(middle, in_channels // g1, k1h, k1w),
            stride=(s1h, s1w),
            padding=padding,
            dilation=(d1h, d1w),
            groups=g1,
            bias=draw(st.booleans()),
        ),
        "second": dict(
            shape=(out_channels, middle // g2, k2h, k2w),
            stride=(s2h, s2w),
            dilation=(d2h, d2w),
            groups=g2,
            bias=draw(st.booleans()),
        ),
        "x": (draw(st.integers(1, 2)), in_channels, height, width),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def build(spec, rng, exact):
    spec = dict(spec)
    shape, has_bias = spec.pop("shape"), spec.pop("bias")
    if exact:
        weight = exact_array(rng, shape)
        bias = exact_array(rng, shape[:1]) if has_bias else None
    else:
        weight = rng.standard_normal(shape)
        bias = rng.standard_normal(shape[0]) if has_bias else None
    return Conv2d(weight, bias, **spec)


def build_case(case, exact):
    rng = np.random.default_rng(case["seed"])
    first, second = build(case["first"], rng, exact), build(case["second"], rng, exact)
    x = exact_array(rng, case["x"]) if exact else rng.standard_normal(case["x"])
    return first, second, x


def check_merged_layout(first, second, merged):
    (k1h, k1w), (k2h, k2w) = first.kernel_size, second.kernel_size
    (s1h, s1w), (d1h, d1w), (d2h, d2w) = first.stride, first.dilation, second.dilation
    assert merged.kernel_size == (
        d1h * (k1h - 1) + s1h * d2h * (k2h - 1) + 1,
        d1w * (k1w - 1) + s1w * d2w * (k2w - 1) + 1,
    )
    assert merged.stride == (s1h * second.stride[0], s1w * second.stride[1])
    assert merged.dilation == (1, 1)
    assert merged.padding == first.padding
    assert merged.groups == math.gcd(first.groups, second.groups)
    assert (merged.in_channels, merged.out_channels) == (first.in_channels, second.out_channels)
    assert (merged.bias is None) == (first.bias is None and second.bias is None)


# ---------------------------------------------------------------------------------------------
# merge_sequential


@settings(max_examples=150, deadline=None)
@given(sequential_cases())
def test_merge_sequential_is_exact_on_integers(case):
    first, second, x = build_case(case, exact=True)
    merged = merge_sequential(first, second)
    check_merged_layout(first, second, merged)
    assert merged.weight.dtype == object
    expected = run(second, run(first, x))
    got = run(merged, x)
    assert got.shape == expected.shape
    assert all(type(v) is int for v in got.flat)
    assert np.array_equal(got, expected)


@settings(max_examples=150, deadline=None)
@given(sequential_cases())
def test_merge_sequential_float64_to_1e12(case):
    first, second, x = build_case(case, exact=False)
    merged = merge_sequential(first, second)
    check_merged_layout(first, second, merged)
    assert merged.weight.dtype == np.float64
    expected = run(second, run(first, x))
    got = run(merged, x)
    assert got.shape == expected.shape
    assert np.max(np.abs(got - expected)) <= 1e-12 * np.max(np.abs(expected))


def test_merge_sequential_exact_with_fractions():
    rng = np.random.default_rng(7)

    def fractions(shape):
        out = np.empty(shape, dtype=object)
        for index in np.ndindex(*shape):
            out[index] = Fraction(int(rng.integers(-9, 10)), int(rng.integers(1, 7)))
        return out

    first = Conv2d(fractions((4, 1, 3, 2)), fractions((4,)), stride=2, padding=(1, 0), groups=2)
    second = Conv2d(fractions((2, 4, 2, 2)), fractions((2,)), dilation=(2, 1))
    x = fractions((1, 2, 9, 8))
    merged = merge_sequential(first, second)
    got, expected = run(merged, x), run(second, run(first, x))
    assert all(isinstance(v, Fraction) for v in got.flat)
    assert np.array_equal(got, expected)


@pytest.mark.parametrize(
    "g1, g2, in_channels, middle, out_channels, groups",
    [
        (1, 1, 3, 4, 2, 1),
        (4, 4, 4, 4, 4, 4),  # depthwise after depthwise stays depthwise
        (4, 4, 4, 8, 8, 4),  # grouped after grouped, same groups
        (4, 1, 4, 4, 6, 1),  # depthwise then pointwise (MobileNet block): dense
        (1, 2, 3, 4, 2, 1),
        (2, 3, 2, 6, 3, 1),  # the channel graph is connected: gcd(2, 3) = 1
        (4, 6, 4, 12, 6, 2),  # two connected blocks
        (6, 4, 6, 12, 4, 2),
    ],
)
def test_merge_sequential_groups_table(g1, g2, in_channels, middle, out_channels, groups):
    rng = np.random.default_rng(g1 * 10 + g2)
    first = Conv2d(exact_array(rng, (middle, in_channels // g1, 2, 1)), groups=g1, padding=1)
    second = Conv2d(exact_array(rng, (out_channels, middle // g2, 1, 2)), groups=g2)
    merged = merge_sequential(first, second)
    assert merged.groups == groups
    assert merged.weight.shape == (out_channels, in_channels // groups, 2, 2)
    x = exact_array(rng, (1, in_channels, 4, 5))
    assert np.array_equal(run(merged, x), run(second, run(first, x)))


@pytest.mark.parametrize("k1, k2", [(1, 1), (2, 3), (3, 3), (4, 2), (1, 5)])
def test_merged_kernel_is_the_true_convolution(k1, k2):
    """One channel, stride and dilation 1: W = w1 * w2 (convolution, not correlation)."""
    rng = np.random.default_rng(k1 * 7 + k2)
    w1, w2 = rng.integers(-5, 6, size=k1), rng.integers(-5, 6, size=k2)
    first = Conv2d(w1.reshape(1, 1, 1, k1))
    second = Conv2d(w2.reshape(1, 1, 1, k2))
    merged = merge_sequential(first, second)
    assert list(merged.weight.reshape(-1)) == list(np.convolve(w1, w2))


def test_merged_bias_formula():
    first = Conv2d(np.ones((2, 1, 1, 1), dtype=int), np.array([1, 2]), groups=1)
    second = Conv2d(np.arange(12).reshape(3, 2, 1, 2), np.array([10, 20, 30]))
    merged = merge_sequential(first, second)
    # b2[o] + sum_{m,u,v} W2[o,m,u,v] * b1[m]: W2 sums per (o, m) are (1, 5), (9, 13), (17, 21)
    assert list(merged.bias) == [10 + 1 + 10, 20 + 9 + 26, 30 + 17 + 42]


def test_second_padding_ring_is_really_wrong():
    """Why the p2 rule exists: padding the input by p1 + s1*p2 agrees in the interior only."""
    first = Conv2d(np.ones((1, 1, 3, 3), dtype=int), np.array([1]), padding=1)
    second = Conv2d(np.ones((1, 1, 3, 3), dtype=int), padding=1)
    x = np.ones((1, 1, 6, 6), dtype=int).astype(object)
    truth = run(second, run(first, x))
    unpadded = Conv2d(second.weight)
    naive = merge_sequential(Conv2d(first.weight, first.bias, padding=2), unpadded)
    guess = run(naive, x)
    assert guess.shape == truth.shape
    assert np.array_equal(guess[..., 1:-1, 1:-1], truth[..., 1:-1, 1:-1])
    ring = np.ones(truth.shape, dtype=bool)
    ring[..., 1:-1, 1:-1] = False
    assert np.all(guess[ring] != truth[ring])


# ---------------------------------------------------------------------------------------------
# identity_conv


@pytest.mark.parametrize("channels, kernel_size, groups", [(1, 1, 1), (3, 3, 1), (4, 5, 2),
                                                           (4, 3, 4), (6, 1, 3)])  # fmt: skip
def test_identity_conv_is_identity(channels, kernel_size, groups):
    conv = identity_conv(channels, kernel_size, groups)
    assert conv.padding == (kernel_size // 2,) * 2
    assert conv.weight.dtype == object and conv.groups == groups and conv.bias is None
    x = exact_array(np.random.default_rng(channels), (2, channels, 5, 4), -50, 50)
    assert np.array_equal(run(conv, x), x)


@settings(max_examples=30, deadline=None)
@given(sequential_cases(), st.sampled_from([1, 3, 5]))
def test_merging_with_identity_changes_nothing(case, kernel_size):
    first, _, x = build_case(case, exact=True)
    after = merge_sequential(first, identity_conv(first.out_channels, 1, first.groups))
    assert after.groups == first.groups
    assert np.array_equal(run(after, x), run(first, x))
    # a padded identity can only come first, before a conv without padding
    unpadded = Conv2d(first.weight, first.bias, first.stride, 0, first.dilation, first.groups)
    before = merge_sequential(identity_conv(first.in_channels, kernel_size), unpadded)
    assert before.padding == (kernel_size // 2,) * 2
    padded_x = naive_conv2d(
        x, identity_conv(first.in_channels).weight, None, (1, 1), pads_of(first.padding), (1, 1), 1
    )
    assert np.array_equal(run(before, padded_x), run(first, x))


# ---------------------------------------------------------------------------------------------
# Conv2d: normalisation


@pytest.mark.parametrize(
    "padding, kernel, dilation, expected",
    [
        (0, (3, 3), 1, (0, 0)),
        (2, (3, 3), 1, (2, 2)),
        ((1, 2), (3, 3), 1, (1, 2)),
        ([1, 2], (3, 3), 1, (1, 2)),
        (((1, 1), (2, 2)), (3, 3), 1, (1, 2)),
        (((0, 1), (2, 2)), (3, 3), 1, ((0, 1), (2, 2))),
        ("valid", (3, 3), 1, (0, 0)),
        ("same", (3, 5), 1, (1, 2)),
        ("same", (4, 3), 1, ((1, 2), (1, 1))),  # PyTorch: the extra row goes to the bottom
        ("same", (2, 3), (2, 3), (1, 3)),
        ("same", (4, 2), (1, 3), ((1, 2), (1, 2))),
    ],
)
def test_padding_normalisation(padding, kernel, dilation, expected):
    conv = Conv2d(np.zeros((1, 1, *kernel)), padding=padding, dilation=dilation)
    assert conv.padding == expected


@pytest.mark.parametrize("kernel, dilation", [((4, 3), (1, 1)), ((2, 5), (3, 1)), ((1, 6), 2)])
def test_same_padding_keeps_the_size(kernel, dilation):
    conv = Conv2d(np.ones((1, 1, *kernel)), padding="same", dilation=dilation)
    x = np.random.default_rng(0).standard_normal((1, 1, 7, 8))
    assert run(conv, x).shape == x.shape


def test_hyper_parameters_become_pairs():
    conv = Conv2d(np.zeros((4, 2, 3, 1)), stride=2, dilation=[1, 3], groups=2)
    assert conv.stride == (2, 2) and conv.dilation == (1, 3)
    assert (conv.in_channels, conv.out_channels, conv.kernel_size) == (4, 4, (3, 1))


@pytest.mark.parametrize(
    "weight, bias, dtype",
    [
        (np.ones((1, 1, 1, 1), dtype=np.int64), None, object),
        (np.ones((1, 1, 1, 1), dtype=np.uint8), np.array([1], dtype=np.int32), object),
        (np.ones((1, 1, 1, 1), dtype=np.float32), None, np.float64),
        (np.ones((1, 1, 1, 1), dtype=object), np.array([0.5]), np.float64),  # float wins
        (np.ones((1, 1, 1, 1), dtype=np.float64), np.array([1], dtype=object), np.float64),
    ],
)
def test_number_kinds(weight, bias, dtype):
    conv = Conv2d(weight, bias)
    assert conv.weight.dtype == dtype
    assert conv.bias is None or conv.bias.dtype == dtype
    if conv.weight.dtype == object:
        assert all(type(v) is int for v in conv.weight.flat)


def test_integer_weights_do_not_overflow():
    big = np.full((1, 1, 1, 1), 2**62, dtype=np.int64)
    merged = merge_sequential(Conv2d(big), Conv2d(big))
    assert merged.weight[0, 0, 0, 0] == 2**124


def test_conv2d_is_frozen_copied_and_hashes_by_identity():
    weight = np.ones((1, 1, 1, 1))
    conv = Conv2d(weight)
    weight[0, 0, 0, 0] = 5.0
    assert conv.weight[0, 0, 0, 0] == 1.0
    with pytest.raises(ValueError, match="read-only"):
        conv.weight[0, 0, 0, 0] = 2.0
    with pytest.raises(AttributeError):
        conv.groups = 2
    twin = Conv2d(np.ones((1, 1, 1, 1)))
    assert conv != twin and len({conv, twin, conv}) == 2


def test_object_entries_are_normalised():
    weight = np.array([np.int64(3), Fraction(1, 2), 4], dtype=object).reshape(1, 1, 1, 3)
    conv = Conv2d(weight)
    assert [type(v) for v in conv.weight.flat] == [int, Fraction, int]


# ---------------------------------------------------------------------------------------------
# BatchNorm2d


def bn_by_definition(x, mean, var, gamma, beta, root):
    out = np.empty_like(x)
    for index in np.ndindex(*x.shape):
        c = index[1]
        out[index] = (x[index] - mean[c]) / root(var[c]) * gamma[c] + beta[c]
    return out


def test_batchnorm_exact():
    rng = np.random.default_rng(3)
    eps = Fraction(1, 4)
    roots = [Fraction(int(rng.integers(2, 9)), int(rng.integers(1, 4))) for _ in range(3)]
    var = np.array([r * r - eps for r in roots], dtype=object)
    mean, gamma, beta = (exact_array(rng, (3,)) for _ in range(3))
    bn = BatchNorm2d(mean, var, gamma, beta, eps=eps)
    x = exact_array(rng, (2, 3, 2, 3))
    got = bn(x)
    root_of = dict(zip(list(var), roots, strict=True))
    assert np.array_equal(got, bn_by_definition(x, mean, var, gamma, beta, root_of.__getitem__))
    assert all(isinstance(v, (int, Fraction)) for v in got.flat)


def test_batchnorm_float():
    rng = np.random.default_rng(4)
    mean, gamma, beta = (rng.standard_normal(4) for _ in range(3))
    var = rng.uniform(0.1, 2.0, 4)
    x = rng.standard_normal((2, 4, 3, 3))
    got = BatchNorm2d(mean, var, gamma, beta)(x)
    expected = bn_by_definition(x, mean, var, gamma, beta, lambda v: np.sqrt(v + 1e-5))
    assert np.max(np.abs(got - expected)) <= 1e-12 * np.max(np.abs(expected))


def test_batchnorm_float_eps_is_read_as_its_decimal_when_exact():
    ones = np.ones(1, dtype=int)
    bn = BatchNorm2d(ones - 1, ones - 1, ones, ones - 1)
    assert bn.eps == Fraction(1, 100000)
    exact = BatchNorm2d(ones - 1, ones * 0, ones, ones - 1, eps=Fraction(1, 9))
    assert exact(np.full((1, 1, 1, 1), 2))[0, 0, 0, 0] == 6


# ---------------------------------------------------------------------------------------------
# Errors

W = np.zeros((4, 2, 3, 3))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"weight": [[1.0]]}, TypeError, r"^Conv2d: weight must be a numpy.ndarray, got list$"),
        ({"weight": np.zeros((2, 3, 3))}, ValueError,
         r"^Conv2d: weight must be 4-D \(out_channels, in_channels/groups, kh, kw\), "
         r"got shape \(2, 3, 3\)$"),
        ({"weight": np.zeros((0, 1, 3, 3))}, ValueError,
         r"Conv2d: weight shape \(0, 1, 3, 3\) has a zero dimension"),
        ({"weight": np.zeros((1, 1, 1, 1), dtype=bool)}, TypeError,
         r"Conv2d: weight has dtype bool; expected a float, integer or object array"),
        ({"weight": np.zeros((1, 1, 1, 1), dtype=complex)}, TypeError,
         r"Conv2d: weight has dtype complex128"),
        ({"weight": np.array([1, 0.5], dtype=object).reshape(1, 1, 1, 2)}, TypeError,
         r"Conv2d: weight\[0, 0, 0, 1\]=0.5 is a float; an object array must hold only int "
         r"or fractions.Fraction"),
        ({"weight": np.array([True], dtype=object).reshape(1, 1, 1, 1)}, TypeError,
         r"Conv2d: weight\[0, 0, 0, 0\] is a bool"),
        ({"weight": W, "bias": np.zeros(3)}, ValueError,
         r"^Conv2d: bias must have shape \(out_channels,\)=\(4,\), got \(3,\)$"),
        ({"weight": W, "bias": 1.0}, TypeError, r"Conv2d: bias must be a numpy.ndarray, got float"),
        ({"weight": W, "stride": 0}, ValueError, r"^Conv2d: stride=0 must be >= 1$"),
        ({"weight": W, "stride": (1, 0)}, ValueError, r"Conv2d: stride=\(1, 0\) must be >= 1"),
        ({"weight": W, "stride": 1.5}, TypeError, r"Conv2d: stride must be an int, got float 1.5"),
        ({"weight": W, "stride": True}, TypeError, r"Conv2d: stride must be an int, got bool"),
        ({"weight": W, "stride": (1, 2, 3)}, ValueError,
         r"Conv2d: stride must be an int or a pair of ints, got \(1, 2, 3\)"),
        ({"weight": W, "dilation": 0}, ValueError, r"Conv2d: dilation=0 must be >= 1"),
        ({"weight": W, "groups": 0}, ValueError, r"^Conv2d: groups=0 must be >= 1$"),
        ({"weight": W, "groups": 3}, ValueError, r"^Conv2d: groups=3 must divide out_channels=4$"),
        ({"weight": W, "groups": 2.0}, TypeError, r"Conv2d: groups must be an int, got float"),
        ({"weight": W, "padding": -1}, ValueError, r"^Conv2d: padding=-1 must be >= 0$"),
        ({"weight": W, "padding": ((0, -1), (0, 0))}, ValueError,
         r"Conv2d: padding=\(0, -1\) must be >= 0"),
        ({"weight": W, "padding": "full"}, ValueError,
         r"Conv2d: padding must be an int, a pair, \(\(top, bottom\), \(left, right\)\), "
         r"'same' or 'valid', got 'full'"),
        ({"weight": W, "padding": ((1, 1), 2)}, ValueError,
         r"Conv2d: padding must be an int, a pair, .* got \(\(1, 1\), 2\)"),
        ({"weight": W, "padding": (1, 1, 1)}, ValueError, r"Conv2d: padding must be an int"),
        ({"weight": W, "padding": 1.0}, TypeError, r"Conv2d: padding must be an int, got float"),
        ({"weight": W, "padding": "same", "stride": 2}, ValueError,
         r"^Conv2d: padding='same' needs stride=1 \(as in PyTorch\), got stride=\(2, 2\)$"),
    ],
)  # fmt: skip
def test_conv2d_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        Conv2d(**kwargs)


ONE = np.ones(3)


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        ((ONE, ONE, ONE, np.ones(2)), {}, ValueError,
         r"^BatchNorm2d: mean, var, gamma, beta must be 1-D of one length, got shapes "
         r"\(3,\), \(3,\), \(3,\), \(2,\)$"),
        ((ONE, np.ones((3, 1)), ONE, ONE), {}, ValueError, r"must be 1-D of one length"),
        ((ONE, np.array([1.0, -0.5, 1.0]), ONE, ONE), {}, ValueError,
         r"^BatchNorm2d: var must be >= 0, got var\[1\]=-0.5$"),
        ((ONE, ONE, ONE, ONE), {"eps": 0}, ValueError, r"^BatchNorm2d: eps=0 must be > 0$"),
        ((ONE, ONE, ONE, ONE), {"eps": float("nan")}, ValueError, r"eps=nan must be > 0"),
        ((ONE, ONE, ONE, ONE), {"eps": True}, TypeError,
         r"^BatchNorm2d: eps must be a number, got bool True$"),
        ((ONE, ONE, ONE, ONE), {"eps": "1e-5"}, TypeError, r"eps must be a number, got str"),
        (([0.0], ONE, ONE, ONE), {}, TypeError, r"BatchNorm2d: mean must be a numpy.ndarray"),
    ],
)  # fmt: skip
def test_batchnorm_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        BatchNorm2d(*args, **kwargs)


def test_batchnorm_irrational_root_is_refused_exactly():
    ints = np.array([0, 1], dtype=object)
    bn = BatchNorm2d(ints, np.array([3, 1], dtype=object), ints, ints, eps=Fraction(1, 2))
    with pytest.raises(
        ValueError,
        match=r"^BatchNorm2d: sqrt\(var\[0\] \+ eps\) = sqrt\(7/2\) is irrational, so the exact "
        r"result does not exist; use float64 arrays or choose values that make sqrt\(var\[0\] \+ eps\) rational$",
    ):
        bn(np.ones((1, 2, 1, 1), dtype=int))
    assert bn(np.ones((1, 2, 1, 1)))[0, 0, 0, 0] == 0.0  # float input: float path


@pytest.mark.parametrize(
    "layer, x, match",
    [
        (Conv2d(W, groups=2), np.zeros((1, 4, 5)), r"^Conv2d: x must be 4-D \(N, C, H, W\), "
                                                    r"got shape \(1, 4, 5\)$"),
        (Conv2d(W, groups=2), np.zeros((1, 3, 5, 5)), r"^Conv2d: x has 3 channels, "
                                                       r"the layer expects 4$"),
        (BatchNorm2d(ONE, ONE, ONE, ONE), np.zeros((1, 2, 1, 1)),
         r"^BatchNorm2d: x has 2 channels, the layer expects 3$"),
    ],
)  # fmt: skip
def test_call_input_errors(layer, x, match):
    with pytest.raises(ValueError, match=match):
        layer(x)


C1 = Conv2d(np.zeros((4, 3, 3, 3)))


@pytest.mark.parametrize(
    "first, second, error, match",
    [
        (W, C1, TypeError, r"^merge_sequential: first must be a convsym\.transforms\.Conv2d, got numpy\.ndarray$"),
        (C1, None, TypeError, r"^merge_sequential: second must be a convsym\.transforms\.Conv2d, got NoneType$"),
        (C1, Conv2d(np.zeros((2, 3, 1, 1))), ValueError,
         r"^merge_sequential: second.in_channels=3 must equal first.out_channels=4$"),
        (C1, Conv2d(np.zeros((2, 1, 1, 1)), groups=2), ValueError,
         r"second.in_channels=2 must equal first.out_channels=4"),
        (C1, Conv2d(np.zeros((2, 4, 3, 3)), padding=1), ValueError,
         r"^merge_sequential: second.padding=\(1, 1\) must be 0: zero padding of the "
         r"intermediate is not zero padding of the input, so the merged conv would be wrong "
         r"on a border ring of width p2=\(1, 1\) \(pass padding_mode='bias' to pad the "
         r"intermediate with the first bias, an exact repair under the conditions it checks\)$"),
        (C1, Conv2d(np.zeros((2, 4, 3, 3)), padding=((0, 1), (0, 0))), ValueError,
         r"second.padding=\(\(0, 1\), \(0, 0\)\) must be 0: .* ring of width "
         r"p2=\(\(0, 1\), \(0, 0\)\) \(pass padding_mode='bias'"),
    ],
)  # fmt: skip
def test_merge_sequential_errors(first, second, error, match):
    with pytest.raises(error, match=match):
        merge_sequential(first, second)


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((3, 2), ValueError,
         r"^identity_conv: kernel_size=2 must be odd: an even kernel has no centre tap that "
         r"padding kernel_size//2 keeps in place$"),
        ((4, 3, 3), ValueError, r"^identity_conv: groups=3 must divide channels=4$"),
        ((0,), ValueError, r"^identity_conv: channels=0 must be >= 1$"),
        ((3, 0), ValueError, r"^identity_conv: kernel_size=0 must be >= 1$"),
        ((3, 1, 0), ValueError, r"^identity_conv: groups=0 must be >= 1$"),
        ((3.0,), TypeError, r"^identity_conv: channels must be an int, got float 3.0$"),
        ((3, True), TypeError, r"identity_conv: kernel_size must be an int, got bool"),
    ],
)  # fmt: skip
def test_identity_conv_errors(args, error, match):
    with pytest.raises(error, match=match):
        identity_conv(*args)


# ---------------------------------------------------------------------------------------------
# Conv2d.__call__ runs convsym.reference.conv2d


@needs_reference
@settings(max_examples=50, deadline=None)
@given(sequential_cases(), st.booleans())
def test_call_matches_the_oracle_and_merge_holds_through_call(case, exact):
    first, second, x = build_case(case, exact)
    for conv, inp in ((first, x), (second, run(first, x))):
        got, expected = conv(inp), run(conv, inp)
        assert got.shape == expected.shape
        if exact:
            assert np.array_equal(got, expected)
        else:
            assert np.allclose(got, expected, rtol=1e-12, atol=1e-12)
    merged = merge_sequential(first, second)
    if exact:
        assert np.array_equal(merged(x), second(first(x)))
    else:
        assert np.allclose(merged(x), second(first(x)), rtol=1e-12, atol=1e-12)


@needs_reference
def test_call_of_identity_conv():
    x = exact_array(np.random.default_rng(1), (1, 4, 5, 5))
    assert np.array_equal(identity_conv(4, 3, 2)(x), x)


def _pad_intermediate(h, p, values):
    """Pad an NCHW map by p with channel c's ring holding values[c] (the 'bias' repair)."""
    out = np.empty((h.shape[0], h.shape[1], h.shape[2] + 2 * p, h.shape[3] + 2 * p), dtype=h.dtype)
    for c in range(h.shape[1]):
        out[:, c] = values[c]
    out[:, :, p:-p, p:-p] = h
    return out


def test_merge_sequential_with_bias_padding_repairs_the_border_exactly():
    rng = np.random.default_rng(7)
    ints = lambda *s: rng.integers(-5, 6, size=s).astype(object)  # noqa: E731
    # the Diverse Branch Block's 1x1 -> kxk branch: the 1x1 layer sees only padding on the ring
    first = Conv2d(ints(3, 2, 1, 1), ints(3))
    second = Conv2d(ints(4, 3, 3, 3), ints(4), padding=1)
    merged = merge_sequential(first, second, padding_mode="bias")
    x = ints(1, 2, 6, 6)
    h = _pad_intermediate(first(x), 1, first.bias)
    expected = Conv2d(second.weight, second.bias)(h)
    assert (merged(x) == expected).all()
    assert not (merged(x) == second(first(x))).all()  # zero padding of h is a different map


def test_merge_sequential_padding_mode_is_validated():
    first = Conv2d(np.ones((1, 1, 3, 3)), np.ones(1), padding=1)
    second = Conv2d(np.ones((1, 1, 3, 3)), padding=1)
    with pytest.raises(ValueError, match="padding_mode='zeros' needs first.bias = 0"):
        merge_sequential(first, second, padding_mode="zeros")
    with pytest.raises(ValueError, match="padding_mode='ring' must be one of"):
        merge_sequential(first, second, padding_mode="ring")


# ---------------------------------------------------------------------------------------------
# one-line reprs and the words for a torch object where a convsym layer is expected


def test_reprs_are_one_line_without_weights():
    conv = Conv2d(np.ones((8, 4, 3, 3)), np.zeros(8), stride=2, padding=1, dilation=1, groups=2)
    assert repr(conv) == ("Conv2d(weight=(8, 4, 3, 3) float64, bias=(8,), stride=(2, 2), padding=(1, 1), "
                          "dilation=(1, 1), groups=2)")
    exact = Conv2d(np.ones((2, 2, 2, 1), dtype=int), padding="same")
    assert repr(exact) == ("Conv2d(weight=(2, 2, 2, 1) exact, bias=None, stride=(1, 1), padding=((0, 1), (0, 0)), "
                           "dilation=(1, 1), groups=1)")
    assert repr(BatchNorm2d(*[np.ones(3)] * 4)) == "BatchNorm2d(channels=3, eps=1e-05, float64)"
    assert repr(BatchNorm2d(*[np.ones(3, dtype=int)] * 4)) == "BatchNorm2d(channels=3, eps=1/100000, exact)"
    big = Conv2d(np.ones((64, 64, 7, 7)))
    assert "\n" not in repr(big) and len(repr(big)) < 120


def test_constant_pad_conv_repr():
    from convsym.transforms import ConstantPadConv2d

    layer = ConstantPadConv2d(Conv2d(np.ones((2, 3, 3, 3))), ((1, 1), (0, 2)), np.zeros(3))
    assert repr(layer) == ("ConstantPadConv2d(padding=((1, 1), (0, 2)), value=(3,) float64, conv=Conv2d("
                           "weight=(2, 3, 3, 3) float64, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), "
                           "groups=1))")


def _torch_like(module: str, name: str, *bases: type) -> object:
    """An instance of a class that says it is torch's ``module.name`` (torch need not be installed)."""
    return type(name, bases or (object,), {"__module__": module})()


def test_a_torch_conv_where_a_conv2d_is_expected_says_how_to_convert_it():
    torch_conv = _torch_like("torch.nn.modules.conv", "Conv2d")
    with pytest.raises(TypeError, match=r"^merge_sequential: first must be a convsym\.transforms\.Conv2d, got "
                                        r"torch\.nn\.Conv2d; convert it with convsym\.transforms\.Conv2d\("
                                        r"m\.weight\.detach\(\)\.numpy\(\), None if m\.bias is None else "
                                        r"m\.bias\.detach\(\)\.numpy\(\), m\.stride, m\.padding, m\.dilation, "
                                        r"m\.groups\)$"):
        merge_sequential(torch_conv, Conv2d(np.ones((1, 1, 1, 1))))


def test_a_subclass_of_a_torch_conv_gets_the_same_advice():
    base = type("Conv2d", (), {"__module__": "torch.nn.modules.conv"})
    mine = type("MyConv", (base,), {"__module__": "mymodel"})()
    with pytest.raises(TypeError, match=r"got mymodel\.MyConv; convert it with convsym\.transforms\.Conv2d\("):
        merge_sequential(Conv2d(np.ones((1, 1, 1, 1))), mine)


def test_torch_batchnorm_tensor_and_other_modules():
    from convsym.transforms import fold_batchnorm

    conv = Conv2d(np.ones((1, 1, 1, 1)))
    with pytest.raises(TypeError, match=r"^fold_batchnorm: bn must be a convsym\.transforms\.BatchNorm2d, got "
                                        r"torch\.nn\.BatchNorm2d; convert it with convsym\.transforms\.BatchNorm2d\("
                                        r"m\.running_mean\.numpy\(\), m\.running_var\.numpy\(\)"):
        fold_batchnorm(conv, _torch_like("torch.nn.modules.batchnorm", "BatchNorm2d"))
    with pytest.raises(TypeError, match=r"^Conv2d: weight must be a numpy\.ndarray, got torch\.Tensor; "
                                        r"convert it with t\.detach\(\)\.numpy\(\)$"):
        Conv2d(_torch_like("torch", "Tensor"))
    with pytest.raises(TypeError, match=r"^fold_batchnorm: conv must be a convsym\.transforms\.Conv2d, got "
                                        r"torch\.nn\.Linear; convsym works on NumPy arrays, not torch objects: build "
                                        r"a convsym\.transforms\.Conv2d from the module's tensors"):
        fold_batchnorm(_torch_like("torch.nn.modules.linear", "Linear"), BatchNorm2d(*[np.ones(1)] * 4))
