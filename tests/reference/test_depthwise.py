"""The depthwise path of convsym.reference (one input channel per group) against the general path.

``conv2d``/``conv1d`` send a floating convolution with ``weight.shape[1] == 1`` and stride 1 to
``_depthwise`` (shifted flat planes, one matrix product per stretch); exact (object) arrays and
strides > 1 keep the grouped im2col path ``_conv_core``.  Here the depthwise path is compared
with ``_conv_core`` on random shapes, dilations, paddings ('same', asymmetric pairs), channel
multipliers and biases, and every depthwise conv (exact ones included, any stride) with the same
conv written as a dense (groups=1) conv whose weight is zero off each output's own channel.
Exact inputs must give exactly equal results; floats agree to rounding and keep their dtype.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from convsym import reference as R
from convsym.reference import _common as RC
from convsym.reference import conv as RV


def fractions(rng: np.random.Generator, shape) -> np.ndarray:
    numerators = rng.integers(-9, 10, size=shape)
    denominators = rng.integers(1, 7, size=shape)
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        out[index] = Fraction(int(numerators[index]), int(denominators[index]))
    return out


def operands(rng, kind, x_shape, w_shape, bias):
    """(x, w, b) of the given kind: 'fraction', 'int', 'float32', 'float64' or 'mixed'."""
    if kind == "fraction":
        x, w = fractions(rng, x_shape), fractions(rng, w_shape)
        b = fractions(rng, (w_shape[0],)) if bias else None
    elif kind == "int":
        x = rng.integers(-5, 6, size=x_shape)  # int64: the reference converts to Python ints
        w = rng.integers(-5, 6, size=w_shape).astype(object)
        b = rng.integers(-5, 6, size=(w_shape[0],)).astype(object) if bias else None
    else:
        x_dtype = np.float32 if kind in ("float32", "mixed") else np.float64
        w_dtype = np.float64 if kind == "mixed" else x_dtype
        x = rng.standard_normal(x_shape).astype(x_dtype)
        w = rng.standard_normal(w_shape).astype(w_dtype)
        b = rng.standard_normal(w_shape[0]).astype(w_dtype) if bias else None
    return x, w, b


def random_case(seed: int, nd: int, kind: str, stride_one: bool = False):
    """A random depthwise conv: shapes, stride, dilation, padding (every accepted form)."""
    rng = np.random.default_rng(seed)
    batch, channels, mult = int(rng.integers(1, 4)), int(rng.integers(1, 5)), int(rng.integers(1, 4))
    kernel = tuple(int(k) for k in rng.integers(1, 5, size=nd))
    dilation = tuple(int(d) for d in rng.integers(1, 3, size=nd))
    strided = not stride_one and rng.random() < 0.5
    stride = tuple(int(s) for s in rng.integers(1, 4, size=nd)) if strided else (1,) * nd
    form = rng.integers(0, 4)
    if form == 0 and all(s == 1 for s in stride):
        padding = "same"
    elif form == 1:
        padding = tuple((int(lo), int(hi)) for lo, hi in rng.integers(0, 4, size=(nd, 2)))
    elif form == 2:
        padding = "valid"
    else:
        padding = tuple(int(p) for p in rng.integers(0, 3, size=nd))
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    sizes = tuple(int(rng.integers(s, s + 6)) for s in spans)  # the kernel fits even unpadded
    x_shape = (batch, channels, *sizes)
    w_shape = (channels * mult, 1, *kernel)
    x, w, b = operands(rng, kind, x_shape, w_shape, bias=bool(rng.integers(0, 2)))
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation, groups=channels)


def general_path(x, w, b, stride, padding, dilation, groups):
    """The grouped im2col path on the same operands (what conv2d used before the depthwise path)."""
    x, w, b = RC._unify(RC._array("t", "x", x), RC._array("t", "w", w), RC._optional_array("t", "b", b))
    nd = w.ndim - 2
    stride, dilation = RC._ints("t", "s", stride, nd), RC._ints("t", "d", dilation, nd)
    pads = RC._conv_padding("t", padding, nd, w.shape[2:], stride, dilation)
    return RV._add_bias(RV._conv_core(RC._pad(x, pads), w, stride, dilation, groups), b)


def dense_equivalent(w, groups):
    """The groups=1 weight (O, C, *k) of a depthwise weight: zero off each output's own channel."""
    out_channels = w.shape[0]
    mult = out_channels // groups
    dense = np.zeros((out_channels, groups, *w.shape[2:]), dtype=w.dtype)
    if w.dtype == object:
        dense = np.full(dense.shape, 0, dtype=object)
    for o in range(out_channels):
        dense[o, o // mult] = w[o, 0]
    return dense


def assert_same(actual, expected, kind):
    assert actual.shape == expected.shape
    if kind in ("fraction", "int"):
        assert actual.dtype == object
        for a, e in zip(actual.flat, expected.flat, strict=True):
            assert isinstance(a, (int, Fraction)), f"inexact entry {a!r}"
            assert a == e, f"{a} != {e}"
    else:
        assert actual.dtype == expected.dtype
        tolerance = 1e-5 if actual.dtype == np.float32 else 1e-12
        scale = max(1.0, float(np.abs(expected).max()) if expected.size else 1.0)
        assert np.allclose(actual, expected, rtol=tolerance, atol=tolerance * scale)


KINDS = ["fraction", "int", "float32", "float64", "mixed"]
FLOATS = ["float32", "float64", "mixed"]


@pytest.mark.parametrize("kind", FLOATS)
@pytest.mark.parametrize("seed", range(16))
def test_depthwise_conv2d_equals_the_general_path(seed, kind):
    x, w, b, kwargs = random_case(seed, 2, kind, stride_one=True)
    ours = R.conv2d(x, w, b, **kwargs)
    assert_same(ours, general_path(x, w, b, **kwargs), kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(10))
def test_depthwise_conv2d_equals_the_dense_conv_with_a_block_diagonal_weight(seed, kind):
    x, w, b, kwargs = random_case(100 + seed, 2, kind)
    groups = kwargs.pop("groups")
    ours = R.conv2d(x, w, b, groups=groups, **kwargs)
    dense = dense_equivalent(np.asarray(w), groups)
    if groups == 1:  # a 1-channel dense conv would be depthwise again: add a channel of zeros
        x = np.concatenate([x, np.zeros_like(x)], axis=1)
        dense = np.concatenate([dense, np.zeros_like(dense)], axis=1)
    theirs = R.conv2d(x, dense, b, groups=1, **kwargs)
    assert_same(ours, theirs, kind)


@pytest.mark.parametrize("kind", FLOATS)
@pytest.mark.parametrize("seed", range(8))
def test_depthwise_conv1d_equals_the_general_path(seed, kind):
    x, w, b, kwargs = random_case(200 + seed, 1, kind, stride_one=True)
    ours = R.conv1d(x, w, b, **kwargs)
    assert_same(ours, general_path(x, w, b, **kwargs), kind)


def test_depthwise_by_hand_with_channel_multiplier_and_asymmetric_padding():
    # C=1, m=2: two 1x2 kernels on the same 2x2 image, padded one column on the right only
    x = np.array([[[[1, 2], [3, 4]]]], dtype=object)
    w = np.array([[[[1, 10]]], [[[Fraction(1, 2), -1]]]], dtype=object)
    out = R.conv2d(x, w, [0, 1], padding=((0, 0), (0, 1)), groups=1)
    expected = [[[[1 + 20, 2], [3 + 40, 4]], [[Fraction(1, 2) - 2 + 1, 1 + 1], [Fraction(3, 2) - 4 + 1, 2 + 1]]]]
    assert out.tolist() == expected
    assert all(type(v) in (int, Fraction) for v in out.flat)


def test_depthwise_float_path_is_used_and_keeps_float32():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    w = rng.standard_normal((6, 1, 3, 3)).astype(np.float32)
    out = R.conv2d(x, w, padding="same", dilation=2, groups=3)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    assert_same(out, general_path(x, w, None, stride=1, padding="same", dilation=2, groups=3), "float32")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_depthwise_float_path_in_blocks_of_every_size(monkeypatch, dtype):
    """Blocks of rows of one plane (the last one short), blocks of several planes (the last one
    short) and one block for all give the general path's result, bias included."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 5, 11, 7)).astype(dtype)
    w = rng.standard_normal((10, 1, 3, 2)).astype(dtype)
    b = rng.standard_normal(10).astype(dtype)
    kwargs = dict(padding=((2, 0), (1, 3)), dilation=(1, 2), groups=5)
    expected = general_path(x, w, b, stride=1, **kwargs)
    # padded planes 13 x 11, 11 output rows, 6 taps: a row's taps are 66 entries, a plane's 726;
    # blocks of 1 row, of 4 rows (4 + 4 + 3), of 2 planes (7 x 2 + 1), of all 15 planes
    for entries in (6, 264, 2000, 1 << 20):
        monkeypatch.setattr(RV, "_DEPTHWISE_BYTES", entries * x.itemsize)
        out = R.conv2d(x, w, b, **kwargs)
        assert out.flags.c_contiguous
        assert_same(out, expected, np.dtype(dtype).name)


def test_only_floating_stride_one_depthwise_convs_take_the_depthwise_path(monkeypatch):
    taken = []
    original = RV._depthwise

    def spy(*args):
        taken.append(args[0].dtype)
        return original(*args)

    monkeypatch.setattr(RV, "_depthwise", spy)
    x = np.arange(2 * 3 * 5 * 5).reshape(2, 3, 5, 5)
    w = np.ones((3, 1, 2, 2), dtype=np.int64)
    R.conv2d(x.astype(np.float32), w.astype(np.float32), groups=3)
    R.conv1d(x[:, :, 0].astype(np.float64), w[:, :, 0].astype(np.float64), groups=3)
    assert taken == [np.float32, np.float64]
    R.conv2d(x, w, groups=3)  # exact: im2col
    R.conv2d(x.astype(np.float64), w.astype(np.float64), groups=3, stride=2)  # strided: im2col
    R.conv2d(x.astype(np.float64), np.ones((3, 3, 2, 2)))  # dense
    assert taken == [np.float32, np.float64]


@pytest.mark.parametrize("padding", ["same", 2, ((0, 3), (2, 1)), "valid"])
def test_depthwise_padding_taps_never_read_a_neighbouring_row(padding):
    """A tap left or right of the input row reads the neighbouring row's entry in the flat
    layout: it must count as the zero padding.  Infinities at both ends of every row show it:
    an output sees one (inf or nan) exactly when the general path's window does."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, 6, 7))
    x[:, :, :, 0] = np.inf
    x[:, :, :, -1] = -np.inf
    w = rng.standard_normal((3, 1, 3, 3))
    with np.errstate(invalid="ignore"):  # inf - inf where a window holds both ends of a row
        ours = R.conv2d(x, w, padding=padding, groups=3)
        expected = general_path(x, w, None, stride=1, padding=padding, dilation=1, groups=3)
    assert ours.shape == expected.shape
    assert np.array_equal(np.isfinite(ours), np.isfinite(expected))
    finite = np.isfinite(expected)
    assert finite.any() and not finite.all()
    assert np.allclose(ours[finite], expected[finite], rtol=1e-12, atol=1e-12)


def test_depthwise_float32_with_a_float64_bias_gives_float64_as_before():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4, 5, 6)).astype(np.float32)
    w = rng.standard_normal((8, 1, 3, 3)).astype(np.float32)
    b = rng.standard_normal(8)
    for padding in ("same", "valid"):
        out = R.conv2d(x, w, b, padding=padding, groups=4)
        expected = general_path(x, w, b, stride=1, padding=padding, dilation=1, groups=4)
        assert out.dtype == np.float64 == expected.dtype
        assert np.allclose(out, expected, rtol=1e-5, atol=1e-5)
