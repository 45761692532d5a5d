"""Tests of convsym.reference: hand-computed tables, exactness, error messages, properties.

The oracles below are deliberately naive loops written from the definitions, on exact numbers,
so that they share no code (and no vectorisation trick) with the module under test.
"""

from __future__ import annotations

import ast
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convsym import reference as R

PROPERTY = settings(max_examples=40, deadline=None)


def exact(values) -> np.ndarray:
    """An object array of Python ints / Fractions (np.array would pick int64)."""
    return np.array(values, dtype=object)


def ints(rng: np.random.Generator, shape, low=-4, high=5) -> np.ndarray:
    return rng.integers(low, high, size=shape).astype(object)


def fractions(rng: np.random.Generator, shape) -> np.ndarray:
    numerators = rng.integers(-9, 10, size=shape)
    denominators = rng.integers(1, 7, size=shape)
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        out[index] = Fraction(int(numerators[index]), int(denominators[index]))
    return out


def assert_exact_equal(actual: np.ndarray, expected) -> None:
    expected = np.asarray(expected, dtype=object)
    assert actual.shape == expected.shape
    assert actual.dtype == object
    for a, e in zip(actual.flat, expected.flat, strict=True):
        assert isinstance(a, (int, Fraction)), f"inexact entry {a!r} of type {type(a).__name__}"
        assert a == e, f"{a} != {e}"


# --------------------------------------------------------------------------------------------
# naive oracles


def naive_conv2d(x, w, b, stride, pads, dilation, groups):
    n_batch, channels, height, width = x.shape
    out_channels, per_group, kh, kw = w.shape
    (top, bottom), (left, right) = pads
    (sh, sw), (dh, dw) = stride, dilation
    out_h = (height + top + bottom - dh * (kh - 1) - 1) // sh + 1
    out_w = (width + left + right - dw * (kw - 1) - 1) // sw + 1
    out_per_group = out_channels // groups
    out = np.empty((n_batch, out_channels, out_h, out_w), dtype=object)
    for n in range(n_batch):
        for o in range(out_channels):
            group = o // out_per_group
            for i in range(out_h):
                for j in range(out_w):
                    acc = 0 if b is None else b[o]
                    for c in range(per_group):
                        for u in range(kh):
                            for v in range(kw):
                                r, q = i * sh - top + u * dh, j * sw - left + v * dw
                                if 0 <= r < height and 0 <= q < width:
                                    acc += w[o, c, u, v] * x[n, group * per_group + c, r, q]
                    out[n, o, i, j] = acc
    return out


def naive_conv_transpose2d(x, w, b, stride, padding, output_padding, dilation, groups):
    n_batch, channels, height, width = x.shape
    _, out_per_group, kh, kw = w.shape
    (sh, sw), (ph, pw), (qh, qw), (dh, dw) = stride, padding, output_padding, dilation
    out_h = (height - 1) * sh - 2 * ph + dh * (kh - 1) + qh + 1
    out_w = (width - 1) * sw - 2 * pw + dw * (kw - 1) + qw + 1
    out_channels = out_per_group * groups
    in_per_group = channels // groups
    out = np.zeros((n_batch, out_channels, out_h, out_w), dtype=object)
    for n in range(n_batch):
        for c in range(channels):
            group = c // in_per_group
            for i in range(height):
                for j in range(width):
                    for o in range(out_per_group):
                        for u in range(kh):
                            for v in range(kw):
                                y, z = i * sh - ph + u * dh, j * sw - pw + v * dw
                                if 0 <= y < out_h and 0 <= z < out_w:
                                    out[n, group * out_per_group + o, y, z] += w[c, o, u, v] * x[n, c, i, j]
    if b is not None:
        for o in range(out_channels):
            out[:, o] += b[o]
    return out


def naive_pool_size(n, k, s, p, d, ceil_mode):
    numerator = n + 2 * p - d * (k - 1) - 1
    size = -(-numerator // s) + 1 if ceil_mode else numerator // s + 1
    if ceil_mode and (size - 1) * s >= n + p:
        size -= 1
    return size


def naive_pool(x, kind, kernel, stride, padding, dilation, ceil_mode, count_include_pad):
    n_batch, channels, height, width = x.shape
    out_h = naive_pool_size(height, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    out_w = naive_pool_size(width, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    out = np.empty((n_batch, channels, out_h, out_w), dtype=object)
    for n in range(n_batch):
        for c in range(channels):
            for i in range(out_h):
                for j in range(out_w):
                    top, left = i * stride[0] - padding[0], j * stride[1] - padding[1]
                    seen = [
                        x[n, c, top + u * dilation[0], left + v * dilation[1]]
                        for u in range(kernel[0])
                        for v in range(kernel[1])
                        if 0 <= top + u * dilation[0] < height and 0 <= left + v * dilation[1] < width
                    ]
                    if kind == "max":
                        out[n, c, i, j] = max(seen)
                        continue
                    if count_include_pad:
                        rows = min(top + kernel[0], height + padding[0]) - top
                        cols = min(left + kernel[1], width + padding[1]) - left
                    else:
                        rows = min(top + kernel[0], height) - max(top, 0)
                        cols = min(left + kernel[1], width) - max(left, 0)
                    out[n, c, i, j] = Fraction(sum(seen), rows * cols)
    return out


# --------------------------------------------------------------------------------------------
# the module stands apart


def test_reference_imports_only_numpy_and_the_standard_library():
    allowed = set(sys.stdlib_module_names) | {"numpy", "__future__"}
    imported = []
    files = sorted(Path(R.__file__).parent.glob("*.py"))
    assert len(files) >= 2, "the reference package has no modules: the scan is broken"
    nodes = [node for path in files for node in ast.walk(ast.parse(path.read_text()))]
    for node in nodes:
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"relative import of {node.module!r}"
            imported.append(node.module)
    assert imported, "found no imports at all: the scan is broken"
    assert "numpy" in {name.split(".")[0] for name in imported}
    for name in imported:
        if name.startswith("convsym.reference."):
            continue  # the package's own modules
        assert name.split(".")[0] in allowed, f"convsym.reference imports {name}"
        assert not name.startswith(("sympy", "convsym")), name


def test_public_names():
    assert sorted(R.__all__) == sorted(
        [
            "conv1d",
            "conv2d",
            "conv_transpose2d",
            "max_pool2d",
            "avg_pool2d",
            "linear",
            "batch_norm",
            "pixel_shuffle",
            "pixel_unshuffle",
            "im2col",
        ]
    )


# --------------------------------------------------------------------------------------------
# hand-computed tables

X44 = np.arange(16).reshape(1, 1, 4, 4)  # x[i, j] = 4i + j
W22 = np.array([[[[1, 2], [3, 4]]]])

CONV2D_TABLE = [
    # out[i, j] = x[i,j] + 2x[i,j+1] + 3x[i+1,j] + 4x[i+1,j+1] = 40i + 10j + 34
    ("valid 2x2", dict(), [[34, 44, 54], [74, 84, 94], [114, 124, 134]]),
    ("stride 2", dict(stride=2), [[34, 54], [114, 134]]),
    ("stride (1, 2)", dict(stride=(1, 2)), [[34, 54], [74, 94], [114, 134]]),
    # dilation 2: x[i,j] + 2x[i,j+2] + 3x[i+2,j] + 4x[i+2,j+2] = 40i + 10j + 68
    ("dilation 2", dict(dilation=2), [[68, 78], [108, 118]]),
    # 'same' with an even kernel pads only bottom/right: the last row/column sees zeros.
    (
        "same even kernel",
        dict(padding="same"),
        [[34, 44, 54, 24], [74, 84, 94, 40], [114, 124, 134, 56], [38, 41, 44, 15]],
    ),
    (
        "padding 1 stride 3",
        dict(padding=1, stride=3),
        [[0, 18], [64, 134]],
    ),
    (
        "explicit ((0, 1), (1, 0))",
        dict(padding=((0, 1), (1, 0))),
        [[16, 34, 44, 54], [40, 74, 84, 94], [64, 114, 124, 134], [24, 38, 41, 44]],
    ),
]


@pytest.mark.parametrize("case, kwargs, expected", CONV2D_TABLE, ids=[c[0] for c in CONV2D_TABLE])
def test_conv2d_table(case, kwargs, expected):
    assert_exact_equal(R.conv2d(X44, W22, **kwargs)[0, 0], expected)


def test_conv2d_groups_and_bias_table():
    x = exact([[[[1, 2]], [[3, 4]]]])  # (1, 2, 1, 2)
    w = exact([2, 3]).reshape(2, 1, 1, 1)
    out = R.conv2d(x, w, b=exact([Fraction(1, 2), 10]), groups=2)
    assert_exact_equal(out, [[[[Fraction(5, 2), Fraction(9, 2)]], [[19, 22]]]])


CONV1D_TABLE = [
    # out[i] = xpad[i] - xpad[i + 2d]
    ("valid", [1, 2, 3, 4], dict(), [-2, -2]),
    ("padding 1", [1, 2, 3, 4], dict(padding=1), [-2, -2, -2, 3]),
    ("padding 1 stride 2", [1, 2, 3, 4], dict(padding=1, stride=2), [-2, -2]),
    ("dilation 2", [1, 2, 3, 4, 5], dict(dilation=2), [-4]),
    ("same", [1, 2, 3, 4], dict(padding="same"), [-2, -2, -2, 3]),
    ("explicit ((2, 0),)", [1, 2, 3, 4], dict(padding=((2, 0),)), [-1, -2, -2, -2]),
]


@pytest.mark.parametrize("case, signal, kwargs, expected", CONV1D_TABLE, ids=[c[0] for c in CONV1D_TABLE])
def test_conv1d_table(case, signal, kwargs, expected):
    out = R.conv1d(exact([[signal]]), exact([[[1, 0, -1]]]), **kwargs)
    assert_exact_equal(out[0, 0], expected)


CONV_TRANSPOSE_TABLE = [
    # every input entry stamps the 2x2 kernel of ones at (i*s - p, j*s - p)
    ("stride 1", dict(), [[1, 3, 2], [4, 10, 6], [3, 7, 4]]),
    ("stride 2", dict(stride=2), [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]),
    (
        "stride 2, output_padding 1",
        dict(stride=2, output_padding=1),
        [[1, 1, 2, 2, 0], [1, 1, 2, 2, 0], [3, 3, 4, 4, 0], [3, 3, 4, 4, 0], [0, 0, 0, 0, 0]],
    ),
    ("stride 2, padding 1", dict(stride=2, padding=1), [[1, 2], [3, 4]]),
    ("dilation 2", dict(dilation=2), [[1, 2, 1, 2], [3, 4, 3, 4], [1, 2, 1, 2], [3, 4, 3, 4]]),
    ("padding 1 crops", dict(padding=1), [[10]]),
]


@pytest.mark.parametrize("case, kwargs, expected", CONV_TRANSPOSE_TABLE, ids=[c[0] for c in CONV_TRANSPOSE_TABLE])
def test_conv_transpose2d_table(case, kwargs, expected):
    x = exact([[[[1, 2], [3, 4]]]])
    w = exact(np.ones((1, 1, 2, 2), dtype=int))
    assert_exact_equal(R.conv_transpose2d(x, w, **kwargs)[0, 0], expected)


POOL_TABLE = [
    ("max 2x2", R.max_pool2d, np.arange(16).reshape(4, 4), dict(kernel_size=2), [[5, 7], [13, 15]]),
    # 5x5 with ceil_mode: a third, partial window per axis
    (
        "max ceil",
        R.max_pool2d,
        np.arange(25).reshape(5, 5),
        dict(kernel_size=2, ceil_mode=True),
        [[6, 8, 9], [16, 18, 19], [21, 23, 24]],
    ),
    (
        "max padding ignores padding",
        R.max_pool2d,
        -np.arange(4).reshape(2, 2) - 1,
        dict(kernel_size=2, stride=1, padding=1),
        [[-1, -1, -2], [-1, -1, -2], [-3, -3, -4]],
    ),
    (
        "max dilation",
        R.max_pool2d,
        np.arange(16).reshape(4, 4) % 7,
        dict(kernel_size=2, stride=1, dilation=2),
        [[3, 4], [6, 6]],
    ),
    (
        "avg 2x2",
        R.avg_pool2d,
        np.arange(16).reshape(4, 4),
        dict(kernel_size=2),
        [[Fraction(5, 2), Fraction(9, 2)], [Fraction(21, 2), Fraction(25, 2)]],
    ),
    (
        "avg padding counted",
        R.avg_pool2d,
        [[1, 2], [3, 4]],
        dict(kernel_size=2, padding=1),
        [[Fraction(1, 4), Fraction(2, 4)], [Fraction(3, 4), 1]],
    ),
    (
        "avg padding not counted",
        R.avg_pool2d,
        [[1, 2], [3, 4]],
        dict(kernel_size=2, padding=1, count_include_pad=False),
        [[1, 2], [3, 4]],
    ),
    # ceil mode: the partial last windows divide by the positions they really cover
    (
        "avg ceil",
        R.avg_pool2d,
        np.arange(9).reshape(3, 3),
        dict(kernel_size=2, ceil_mode=True),
        [[2, Fraction(7, 2)], [Fraction(13, 2), 8]],
    ),
    # H: n=1, p=1, k=3 -> window [-1, 2), divisor 3 (padded) or 1 (real).  W: n=4, s=2 ->
    # windows at -1, 1, 3; the last is clipped to n + p = 5, so it counts 2 (padded) or 1 (real).
    (
        "avg ceil beyond padding, counted",
        R.avg_pool2d,
        [[1, 2, 3, 4]],
        dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
        [[Fraction(1, 3), 1, Fraction(2, 3)]],
    ),
    (
        "avg ceil beyond padding, not counted",
        R.avg_pool2d,
        [[1, 2, 3, 4]],
        dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
        [[Fraction(3, 2), 3, 4]],
    ),
]


@pytest.mark.parametrize("case, pool, image, kwargs, expected", POOL_TABLE, ids=[c[0] for c in POOL_TABLE])
def test_pool_table(case, pool, image, kwargs, expected):
    x = exact(np.asarray(image, dtype=object)[None, None])
    assert_exact_equal(pool(x, **kwargs)[0, 0], expected)


def test_linear_table():
    out = R.linear(exact([1, 2]), exact([[1, 0], [0, 1], [1, 1]]), exact([0, 0, Fraction(1, 2)]))
    assert_exact_equal(out, [1, 2, Fraction(7, 2)])
    batched = R.linear(exact([[[1, 2]], [[3, 4]]]), exact([[1, -1]]))
    assert_exact_equal(batched, [[[-1]], [[-1]]])


def test_batch_norm_table():
    # channel 0: (5 - 1)/sqrt(4) * 2 + 0 = 4;  channel 1: (3 - 0)/sqrt(9/4) * 1 + 1 = 3
    x = exact([[[5, 5]], [[3, 3]]]).reshape(1, 2, 2)
    out = R.batch_norm(x, exact([1, 0]), exact([4, Fraction(9, 4)]), exact([2, 1]), exact([0, 1]), eps=0)
    assert_exact_equal(out, [[[4, 4], [3, 3]]])


def test_batch_norm_reads_float_eps_as_its_decimal():
    # var + 1e-5 = 99999/100000 + 1/100000 = 1 exactly
    x = exact([[7, -2]]).reshape(1, 2)
    var = exact([Fraction(99999, 100000), Fraction(99999, 100000)])
    out = R.batch_norm(x, exact([1, 1]), var, None, None)
    assert_exact_equal(out, [[6, -3]])


def test_pixel_shuffle_table():
    x = exact(np.arange(8).reshape(1, 8, 1, 1))
    shuffled = R.pixel_shuffle(x, 2)
    assert_exact_equal(shuffled, [[[[0, 1], [2, 3]], [[4, 5], [6, 7]]]])
    assert_exact_equal(R.pixel_unshuffle(shuffled, 2), x)
    # out channel c*r*r + a*r + b takes x[c, r*i + a, r*j + b]
    image = np.arange(16).reshape(1, 1, 4, 4)
    unshuffled = R.pixel_unshuffle(image, 2)
    assert unshuffled.shape == (1, 4, 2, 2)
    assert unshuffled[0, 1].tolist() == [[1, 3], [9, 11]]
    assert unshuffled[0, 2].tolist() == [[4, 6], [12, 14]]
    assert unshuffled.dtype == image.dtype


def test_im2col_table():
    cols = R.im2col(np.arange(9).reshape(1, 1, 3, 3), 2)
    assert cols.tolist() == [[[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]]]
    padded = R.im2col(np.arange(1, 3).reshape(1, 1, 1, 2), (1, 2), padding=(0, 1), stride=2)
    assert padded.tolist() == [[[0, 2], [1, 0]]]


# --------------------------------------------------------------------------------------------
# numbers: exactness, dtypes


def test_fraction_inputs_stay_exact():
    rng = np.random.default_rng(0)
    x, w, b = fractions(rng, (2, 4, 5, 5)), fractions(rng, (6, 2, 3, 2)), fractions(rng, (6,))
    out = R.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
    expected = naive_conv2d(x, w, b, (2, 1), ((1, 1), (1, 1)), (1, 2), 2)
    assert_exact_equal(out, expected)
    wt = fractions(rng, (4, 3, 2, 2))
    t = R.conv_transpose2d(x, wt, stride=2, padding=1, output_padding=1, groups=2)
    assert_exact_equal(t, naive_conv_transpose2d(x, wt, None, (2, 2), (1, 1), (1, 1), (1, 1), 2))
    assert_exact_equal(
        R.avg_pool2d(x, 3, 2, 1, ceil_mode=True), naive_pool(x, "avg", (3, 3), (2, 2), (1, 1), (1, 1), True, True)
    )


def test_integer_arrays_become_exact_python_ints():
    big = 2**40
    x = np.full((1, 1, 2, 2), big, dtype=np.int64)
    w = np.full((1, 1, 2, 2), big, dtype=np.int64)
    out = R.conv2d(x, w)
    assert out.dtype == object
    assert out[0, 0, 0, 0] == 4 * big * big  # overflows int64
    assert type(out[0, 0, 0, 0]) is int
    pooled = R.avg_pool2d(np.array([[[[1, 2]]]], dtype=np.int32), (1, 2))
    assert_exact_equal(pooled, [[[[Fraction(3, 2)]]]])


def test_fixed_width_integers_inside_object_arrays_become_python_ints():
    x = np.array([[[np.int64(2**62), np.int64(3)]]], dtype=object)
    out = R.conv1d(x, np.array([[[np.int64(4)]]], dtype=object))
    assert_exact_equal(out, [[[2**64, 12]]])
    assert type(x[0, 0, 0]) is np.int64  # the caller's array is left alone


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_precision_is_kept(dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 2, 5, 5)).astype(dtype)
    w = rng.standard_normal((2, 1, 3, 3)).astype(dtype)
    results = [
        R.conv2d(x, w, w[:, 0, 0, 0], padding="same", groups=2),
        R.conv1d(x[:, :, 0], w[:, :, 0], groups=2),
        R.conv_transpose2d(x, w, stride=2),
        R.max_pool2d(x, 3, padding=1),
        R.avg_pool2d(x, 2, ceil_mode=True),
        R.linear(x, np.ones((3, 5), dtype=dtype)),
        R.batch_norm(x, x[0, :, 0, 0], np.abs(x[0, :, 1, 1]), None, None),
        R.im2col(x, 2),
        R.pixel_unshuffle(x[:, :, :4, :4], 2),
    ]
    for out in results:
        assert out.dtype == dtype


@given(seed=st.integers(0, 2**32 - 1))
@PROPERTY
def test_float_path_agrees_with_exact_path(seed):
    rng = np.random.default_rng(seed)
    x, w = fractions(rng, (1, 2, 5, 4)), fractions(rng, (3, 2, 2, 3))
    exact_out = R.conv2d(x, w, padding="same", dilation=(2, 1))
    float_out = R.conv2d(x.astype(float), w.astype(float), padding="same", dilation=(2, 1))
    assert float_out.dtype == np.float64
    np.testing.assert_allclose(float_out, exact_out.astype(float), rtol=1e-12, atol=1e-12)


def test_mixed_object_and_float_operands_compute_as_objects():
    out = R.conv2d(exact([[[[1, 2]]]]), np.array([[[[0.5]]]]))
    assert out.dtype == object
    assert out[0, 0, 0].tolist() == [0.5, 1.0]


def test_max_pool_float_window_of_padding_only_is_minus_infinity():
    out = R.max_pool2d(np.ones((1, 1, 2, 2)), 2, stride=1, padding=1, dilation=3)
    assert out.tolist() == [[[[-np.inf]]]]


def test_empty_batch():
    out = R.conv2d(np.zeros((0, 2, 4, 4)), np.zeros((3, 2, 3, 3)))
    assert out.shape == (0, 3, 2, 2)


# --------------------------------------------------------------------------------------------
# cases a wrong reference could pass the tables above with (issue 10): values computed by hand


def test_grouped_transposed_conv_with_several_channels_per_group_by_hand():
    # x = [1, 2, 3, 4] (1x1 maps), w[c, j, 0, v] = 4c + 2j + v, groups 2: group g sums its two
    # input channels c into its outputs o = 2g + j.
    # group 0: 1*(2j + v) + 2*(4 + 2j + v) = 8 + 6j + 3v;  group 1: 3*(8 + 2j + v) + 4*(12 + 2j + v) = 72 + 14j + 7v
    x = exact([1, 2, 3, 4]).reshape(1, 4, 1, 1)
    w = exact(np.arange(16).reshape(4, 2, 1, 2))
    out = R.conv_transpose2d(x, w, groups=2)
    assert_exact_equal(out[0, :, 0], [[8, 11], [14, 17], [72, 79], [86, 93]])


def test_grouped_transposed_conv_with_strides_padding_dilation_equals_a_scatter_loop():
    # C_in = 4, C_out = 6, groups 2: two input and three output channels per group, distinct weights
    rng = np.random.default_rng(11)
    x, w, b = ints(rng, (2, 4, 3, 2)), ints(rng, (4, 3, 2, 3), -9, 10), ints(rng, (6,))
    (sh, sw), (ph, pw), (qh, qw), (dh, dw) = (2, 1), (1, 0), (1, 0), (1, 2)
    out = R.conv_transpose2d(x, w, b, stride=(sh, sw), padding=(ph, pw), output_padding=(qh, qw),
                             dilation=(dh, dw), groups=2)
    out_h, out_w = (3 - 1) * sh - 2 * ph + dh * (2 - 1) + qh + 1, (2 - 1) * sw - 2 * pw + dw * (3 - 1) + qw + 1
    want = np.zeros((2, 6, out_h, out_w), dtype=object)
    want += b.reshape(1, 6, 1, 1)
    for n in range(2):
        for c in range(4):
            for o in range(3):
                for i in range(3):
                    for j in range(2):
                        for u in range(2):
                            for v in range(3):
                                y, z = i * sh - ph + u * dh, j * sw - pw + v * dw
                                if 0 <= y < out_h and 0 <= z < out_w:
                                    want[n, (c // 2) * 3 + o, y, z] += x[n, c, i, j] * w[c, o, u, v]
    assert_exact_equal(out, want)


def test_max_pool_padding_on_negative_data_by_hand():
    # windows of 3 at stride 2 from -1: rows/cols {0, 1} and {1, 2}; padding never wins
    x = -exact(np.arange(1, 10).reshape(1, 1, 3, 3))
    assert_exact_equal(R.max_pool2d(x, 3, stride=2, padding=1)[0, 0], [[-1, -2], [-4, -5]])
    floats = R.max_pool2d(x.astype(float), 3, stride=2, padding=1)[0, 0]
    assert floats.tolist() == [[-1.0, -2.0], [-4.0, -5.0]]


DILATED = [[3, -1, 4, 1], [-5, 9, -2, 6], [5, -3, 5, -8], [9, 7, -9, 3]]


@pytest.mark.parametrize(
    "image, kwargs, expected",
    [
        # out[i, j] = max(x[i, j], x[i, j+2], x[i+2, j], x[i+2, j+2])
        (DILATED, dict(kernel_size=2, stride=1, dilation=2), [[5, 1], [9, 9]]),
        # windows from -1 at stride 2, taps 2 apart: rows/cols {1} and {1, 3}; on -x padding would win
        (-np.array(DILATED), dict(kernel_size=2, stride=2, padding=1, dilation=2), [[-9, -6], [-7, -3]]),
    ],
    ids=["dilated", "dilated padded negative"],
)
def test_dilated_max_pool_values_by_hand(image, kwargs, expected):
    x = exact(np.asarray(image, dtype=object)[None, None])
    assert_exact_equal(R.max_pool2d(x, **kwargs)[0, 0], expected)
    assert R.max_pool2d(x.astype(float), **kwargs)[0, 0].tolist() == expected


# x[r, c] = 4r + c on 4x4, kernel 3, stride 2, padding 1, ceil mode: windows from -1, 1, 3 per axis cover
# the rows {0, 1}, {1, 2, 3}, {3}; the last is cut at n + p = 5, so it counts 2 positions, not 3.
AVG_CEIL_PAD = {
    True: [[Fraction(10, 9), Fraction(8, 3), Fraction(5, 3)], [Fraction(17, 3), 10, Fraction(11, 2)],
           [Fraction(25, 6), 7, Fraction(15, 4)]],
    False: [[Fraction(5, 2), 4, 5], [Fraction(17, 2), 10, 11], [Fraction(25, 2), 14, 15]],
}


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool_ceil_mode_with_padding_by_hand(count_include_pad):
    x = exact(np.arange(16).reshape(1, 1, 4, 4))
    out = R.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=count_include_pad)
    assert_exact_equal(out[0, 0], AVG_CEIL_PAD[count_include_pad])


def test_exact_batch_norm_with_float_eps_1e_5_by_hand():
    # eps=1e-5 is read as 1/100000, so var + eps = 4 and 9/4: std 2 and 3/2
    x = exact([[[[6, -2]], [[3, 0]]]])
    mean, gamma, beta = exact([2, 0]), exact([1, 3]), exact([0, Fraction(1, 2)])
    var = exact([4 - Fraction(1, 100000), Fraction(9, 4) - Fraction(1, 100000)])
    # channel 0: (6 - 2)/2, (-2 - 2)/2;  channel 1: 3 (3 - 0)/(3/2) + 1/2, 3 (0 - 0)/(3/2) + 1/2
    want = [[[[2, -2]], [[Fraction(13, 2), Fraction(1, 2)]]]]
    assert_exact_equal(R.batch_norm(x, mean, var, gamma, beta, eps=1e-5), want)
    assert_exact_equal(R.batch_norm(x, mean, var, gamma, beta, eps=Fraction(1, 100000)), want)
    floats = R.batch_norm(x.astype(float), mean.astype(float), var.astype(float), gamma.astype(float),
                          beta.astype(float), eps=1e-5)
    np.testing.assert_allclose(floats, np.array(want, dtype=float), rtol=1e-12)
    # the binary double nearest 1e-5 is not 1/100000: read exactly, var + eps would be no square
    assert Fraction(1e-5) != Fraction(1, 100000)


# --------------------------------------------------------------------------------------------
# error messages

ONE = np.ones((1, 1, 4, 4))
K3 = np.ones((1, 1, 3, 3))
OBJ = exact(np.ones((1, 1, 2, 2), dtype=int))

ERRORS = [
    # conv2d: ranks, channels, groups
    (
        lambda: R.conv2d(np.ones((1, 4, 4)), K3),
        ValueError,
        r"conv2d: input must have 4 dimensions \(N, C, H, W\), got shape \(1, 4, 4\)",
    ),
    (
        lambda: R.conv2d(ONE, np.ones((1, 3, 3))),
        ValueError,
        r"conv2d: weight must have 4 dimensions \(O, C/groups, kh, kw\), got shape \(1, 3, 3\)",
    ),
    (
        lambda: R.conv2d(np.ones((1, 3, 5, 5)), np.ones((4, 2, 3, 3)), groups=2),
        ValueError,
        r"conv2d: input has 3 channels but weight expects 4 \(weight.shape\[1\]=2 times groups=2\)",
    ),
    (
        lambda: R.conv2d(np.ones((1, 6, 5, 5)), np.ones((8, 2, 3, 3)), groups=3),
        ValueError,
        r"conv2d: groups=3 must divide out_channels=8",
    ),
    (lambda: R.conv2d(ONE, K3, groups=0), ValueError, r"conv2d: groups must be >= 1, got groups=0"),
    (lambda: R.conv2d(ONE, K3, groups=1.0), TypeError, r"conv2d: groups must be an int, got 1.0"),
    (
        lambda: R.conv2d(ONE, np.ones((1, 0, 3, 3))),
        ValueError,
        r"conv2d: weight shape \(1, 0, 3, 3\) has a zero dimension",
    ),
    # hyper-parameters
    (lambda: R.conv2d(ONE, K3, stride=0), ValueError, r"conv2d: stride must be >= 1, got stride=0"),
    (lambda: R.conv2d(ONE, K3, stride=(1, 0)), ValueError, r"conv2d: stride must be >= 1, got stride=\(1, 0\)"),
    (lambda: R.conv2d(ONE, K3, dilation=0), ValueError, r"conv2d: dilation must be >= 1, got dilation=0"),
    (lambda: R.conv2d(ONE, K3, padding=-1), ValueError, r"conv2d: padding must be >= 0, got padding=-1"),
    (
        lambda: R.conv2d(ONE, K3, padding=((0, -1), (0, 0))),
        ValueError,
        r"conv2d: padding must be >= 0, got padding=\(\(0, -1\), \(0, 0\)\)",
    ),
    (lambda: R.conv2d(ONE, K3, stride=1.5), TypeError, r"conv2d: stride must be an int or a pair of ints, got 1.5"),
    (
        lambda: R.conv2d(ONE, K3, stride=(1, 1, 1)),
        TypeError,
        r"conv2d: stride must be an int or a pair of ints, got \(1, 1, 1\)",
    ),
    (
        lambda: R.conv1d(np.ones((1, 1, 4)), np.ones((1, 1, 3)), dilation=(1, 1)),
        TypeError,
        r"conv1d: dilation must be an int or a 1-tuple of ints, got \(1, 1\)",
    ),
    (
        lambda: R.conv2d(ONE, K3, padding="full"),
        TypeError,
        r"conv2d: padding must be an int, a pair of ints, 'same' or 'valid', got 'full'",
    ),
    (
        lambda: R.conv2d(ONE, K3, padding=(1.5, 1)),
        TypeError,
        r"conv2d: padding must be an int, a pair of ints, 'same', 'valid' or 2 \(low, high\) pairs",
    ),
    (
        lambda: R.conv2d(ONE, K3, padding=((1, 1), (1,))),
        TypeError,
        r"conv2d: explicit padding must be 2 \(low, high\) pairs of ints",
    ),
    (
        lambda: R.conv2d(ONE, K3, padding="same", stride=2),
        ValueError,
        r"conv2d: padding='same' requires stride=1 on every axis, got stride=\(2, 2\)",
    ),
    (
        lambda: R.conv2d(np.ones((1, 1, 2, 5)), K3, padding=1, dilation=2),
        ValueError,
        r"conv2d: dilated kernel size 5 exceeds padded input size 4 on axis H",
    ),
    (
        lambda: R.conv2d(np.ones((1, 1, 5, 2)), K3),
        ValueError,
        r"conv2d: dilated kernel size 3 exceeds padded input size 2 on axis W",
    ),
    (
        lambda: R.conv1d(np.ones((1, 1, 2)), np.ones((1, 1, 3))),
        ValueError,
        r"conv1d: dilated kernel size 3 exceeds padded input size 2 on axis L",
    ),
    (
        lambda: R.conv2d(ONE, K3, b=np.ones(2)),
        ValueError,
        r"conv2d: bias must have shape \(out_channels,\) = \(1,\), got \(2,\)",
    ),
    # types of arrays
    (
        lambda: R.conv2d("abc", K3),
        TypeError,
        r"conv2d: input must be a numpy array or an array-like of numbers, got str",
    ),
    (
        lambda: R.conv2d(None, K3),
        TypeError,
        r"conv2d: input must be a numpy array or an array-like of numbers, got NoneType",
    ),
    (
        lambda: R.conv2d(ONE, np.ones((1, 1, 3, 3), dtype=bool)),
        TypeError,
        r"conv2d: weight has dtype bool; supported are real floating, integer and object",
    ),
    (lambda: R.conv2d(ONE, K3 + 0j), TypeError, r"conv2d: weight has dtype complex128"),
    (
        lambda: R.conv2d(exact([[[["1", 2]]]]), np.ones((1, 1, 1, 1))),
        TypeError,
        r"conv2d: input holds str '1' at index \(0, 0, 0, 0\); object arrays must hold numbers",
    ),
    (lambda: R.conv2d([[[[1, 2]], [[3]]]], K3), ValueError, r"conv2d: input is not a rectangular"),
    (
        lambda: R.conv1d(np.ones((1, 2, 4)), np.ones((1, 3, 3))),
        ValueError,
        r"conv1d: input has 2 channels but weight expects 3 \(weight.shape\[1\]=3 times groups=1\)",
    ),
    # conv_transpose2d
    (
        lambda: R.conv_transpose2d(ONE, K3, stride=2, output_padding=2),
        ValueError,
        r"conv_transpose2d: output_padding=2 must be smaller than stride=2 or dilation=1 on axis H",
    ),
    (
        lambda: R.conv_transpose2d(ONE, K3, output_padding=(0, 1)),
        ValueError,
        r"conv_transpose2d: output_padding=1 must be smaller than stride=1 or dilation=1 on axis W",
    ),
    (
        lambda: R.conv_transpose2d(np.ones((1, 3, 4, 4)), np.ones((4, 1, 3, 3))),
        ValueError,
        r"conv_transpose2d: input has 3 channels but weight expects 4 \(weight.shape\[0\]=4\)",
    ),
    (
        lambda: R.conv_transpose2d(np.ones((1, 8, 4, 4)), np.ones((8, 1, 3, 3)), groups=3),
        ValueError,
        r"conv_transpose2d: groups=3 must divide in_channels=8",
    ),
    (
        lambda: R.conv_transpose2d(np.ones((1, 1, 1, 1)), K3, padding=2),
        ValueError,
        r"conv_transpose2d: output size \(n-1\)\*s - 2p \+ d\(k-1\) \+ output_padding \+ 1 = -1 "
        r"is not positive on axis H",
    ),
    (
        lambda: R.conv_transpose2d(ONE, K3, padding="same"),
        TypeError,
        r"conv_transpose2d: padding must be an int or a pair of ints, got 'same'",
    ),
    (
        lambda: R.conv_transpose2d(ONE, np.ones((1, 2, 3, 3)), b=np.ones(1)),
        ValueError,
        r"conv_transpose2d: bias must have shape \(out_channels,\) = \(2,\), got \(1,\)",
    ),
    # pooling
    (
        lambda: R.max_pool2d(ONE, 3, padding=2),
        ValueError,
        r"max_pool2d: padding=2 must be at most half of kernel_size=3 on axis H",
    ),
    (
        lambda: R.avg_pool2d(ONE, (3, 2), padding=(1, 2)),
        ValueError,
        r"avg_pool2d: padding=2 must be at most half of kernel_size=2 on axis W",
    ),
    (
        lambda: R.max_pool2d(ONE, 5),
        ValueError,
        r"max_pool2d: output size 0 is not positive on axis H \(n=4, kernel_size=5",
    ),
    (lambda: R.max_pool2d(ONE, 2, stride=0), ValueError, r"max_pool2d: stride must be >= 1, got stride=0"),
    (lambda: R.max_pool2d(ONE, 2, ceil_mode=1), TypeError, r"max_pool2d: ceil_mode must be a bool, got 1"),
    (
        lambda: R.avg_pool2d(ONE, 2, count_include_pad="yes"),
        TypeError,
        r"avg_pool2d: count_include_pad must be a bool, got 'yes'",
    ),
    (
        lambda: R.avg_pool2d(np.ones((4, 4)), 2),
        ValueError,
        r"avg_pool2d: input must have 4 dimensions \(N, C, H, W\), got shape \(4, 4\)",
    ),
    (
        lambda: R.max_pool2d(OBJ, 2, stride=1, padding=1, dilation=3),
        ValueError,
        r"max_pool2d: the window of output \(0, 0, 0, 0\) covers only padding; exact \(object\)",
    ),
    # linear
    (
        lambda: R.linear(np.ones((2, 5)), np.ones((3, 4))),
        ValueError,
        r"linear: input has 5 features \(input.shape\[-1\]\) but weight expects 4",
    ),
    (
        lambda: R.linear(np.ones(4), np.ones(4)),
        ValueError,
        r"linear: weight must have 2 dimensions \(out, in\), got shape \(4,\)",
    ),
    (
        lambda: R.linear(np.ones(4), np.ones((3, 4)), np.ones(4)),
        ValueError,
        r"linear: bias must have shape \(out_channels,\) = \(3,\), got \(4,\)",
    ),
    # batch_norm
    (
        lambda: R.batch_norm(exact([[1, 1]]), exact([0, 0]), exact([1, 2]), None, None, eps=0),
        ValueError,
        r"batch_norm: exact \(object\) arrays need var \+ eps to be the square of a "
        r"fraction so that sqrt stays exact; channel 1 has var \+ eps = 2",
    ),
    (
        lambda: R.batch_norm(exact([[1]]), exact([0]), exact([-1]), None, None, eps=1),
        ValueError,
        r"batch_norm: var \+ eps must be positive; channel 0 has var = -1 and eps = 1 \(var \+ eps = 0\)",
    ),
    (
        lambda: R.batch_norm(np.ones((1, 3)), np.zeros(3), np.array([1.0, -2.0, 1.0]), None, None, eps=1e-5),
        ValueError,
        r"batch_norm: var \+ eps must be positive; channel 1 has var = -2.0 and eps = 1e-05 "
        r"\(var \+ eps = -1.99999\)",
    ),
    (
        lambda: R.batch_norm(np.ones((1, 2)), np.zeros(2), np.array([np.nan, 1.0]), None, None),
        ValueError,
        r"batch_norm: var \+ eps must be positive; channel 0 has var = nan and eps = 1e-05",
    ),
    (
        lambda: R.batch_norm(np.ones((1, 2)), np.zeros(2), np.array([1.0, 0.0]), None, None, eps=0.0),
        ValueError,
        r"batch_norm: var \+ eps must be positive; channel 1 has var = 0.0 and eps = 0.0",
    ),
    (
        lambda: R.batch_norm(exact([[1, 1]]), exact([0, 0]), exact([Fraction(3, 4), Fraction(-1, 2)]), None, None,
                             eps=0.25),
        ValueError,
        r"batch_norm: var \+ eps must be positive; channel 1 has var = -1/2 and eps = 0.25 \(var \+ eps = -1/4\)",
    ),
    (
        lambda: R.batch_norm(exact([[1]]), exact([0]), exact([1]), None, None, eps=float("inf")),
        ValueError,
        r"batch_norm: eps must be finite for exact \(object\) arrays, got inf",
    ),
    (
        lambda: R.batch_norm(np.ones((2, 3)), np.ones(2), np.ones(3), None, None),
        ValueError,
        r"batch_norm: mean must have shape \(C,\) = \(3,\), got \(2,\)",
    ),
    (
        lambda: R.batch_norm(np.ones(3), np.ones(3), np.ones(3), None, None),
        ValueError,
        r"batch_norm: input must have at least 2 dimensions \(N, C, ...\), got shape \(3,\)",
    ),
    (
        lambda: R.batch_norm(np.ones((1, 3)), np.ones(3), np.ones(3), None, None, eps="0"),
        TypeError,
        r"batch_norm: eps must be a real number, got '0'",
    ),
    (
        lambda: R.batch_norm(np.ones((1, 3)), np.ones(3), None, None, None),
        TypeError,
        r"batch_norm: var is required, got None",
    ),
    # rearrangements
    (
        lambda: R.pixel_shuffle(np.ones((1, 5, 2, 2)), 2),
        ValueError,
        r"pixel_shuffle: channels=5 must be divisible by r\*r=4",
    ),
    (lambda: R.pixel_shuffle(np.ones((1, 4, 2, 2)), 0), ValueError, r"pixel_shuffle: r must be >= 1, got r=0"),
    (lambda: R.pixel_shuffle(np.ones((1, 4, 2, 2)), 2.0), TypeError, r"pixel_shuffle: r must be an int, got 2.0"),
    (
        lambda: R.pixel_shuffle(np.ones((4, 2)), 2),
        ValueError,
        r"pixel_shuffle: input must have at least 3 dimensions \(..., C, H, W\), got shape \(4, 2\)",
    ),
    (lambda: R.pixel_unshuffle(np.ones((1, 1, 4, 3)), 2), ValueError, r"pixel_unshuffle: W=3 must be divisible by r=2"),
    (lambda: R.im2col(ONE, (2, 5)), ValueError, r"im2col: dilated kernel size 5 exceeds padded input size 4 on axis W"),
    (
        lambda: R.im2col(ONE, 2, padding="same"),
        TypeError,
        r"im2col: padding must be an int or a pair of ints, got 'same'",
    ),
]


@pytest.mark.parametrize("call, error, message", ERRORS, ids=[e[2][:60] for e in ERRORS])
def test_error_messages(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --------------------------------------------------------------------------------------------
# properties


ALL_PADDINGS = ("int", "tuple", "explicit", "same", "valid")


@st.composite
def conv_configs(draw, nd=2, modes=ALL_PADDINGS):
    groups = draw(st.integers(1, 3))
    per_group, out_per_group = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    mode = draw(st.sampled_from(modes))
    stride = (1,) * nd if mode == "same" else tuple(draw(st.integers(1, 3)) for _ in range(nd))
    if mode == "int":
        padding = draw(st.integers(0, 2))
        pads = ((padding, padding),) * nd
    elif mode == "tuple":
        padding = tuple(draw(st.integers(0, 2)) for _ in range(nd))
        pads = tuple((p, p) for p in padding)
    elif mode == "explicit":
        pads = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(nd))
        padding = pads
    elif mode == "same":
        padding = "same"
        totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
        pads = tuple((t // 2, t - t // 2) for t in totals)
    else:
        padding, pads = "valid", ((0, 0),) * nd
    sizes = tuple(
        draw(st.integers(max(1, d * (k - 1) + 1 - lo - hi), d * (k - 1) + 4))
        for k, d, (lo, hi) in zip(kernel, dilation, pads, strict=True)
    )
    return dict(
        batch=draw(st.integers(1, 2)),
        groups=groups,
        per_group=per_group,
        out_per_group=out_per_group,
        kernel=kernel,
        stride=stride,
        dilation=dilation,
        padding=padding,
        pads=pads,
        sizes=sizes,
        bias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def conv_operands(cfg):
    rng = np.random.default_rng(cfg["seed"])
    channels = cfg["groups"] * cfg["per_group"]
    out_channels = cfg["groups"] * cfg["out_per_group"]
    x = ints(rng, (cfg["batch"], channels, *cfg["sizes"]))
    w = ints(rng, (out_channels, cfg["per_group"], *cfg["kernel"]))
    b = ints(rng, (out_channels,)) if cfg["bias"] else None
    return x, w, b


@given(conv_configs())
@PROPERTY
def test_conv2d_equals_naive_loops(cfg):
    x, w, b = conv_operands(cfg)
    out = R.conv2d(x, w, b, cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"])
    expected = naive_conv2d(x, w, b, cfg["stride"], cfg["pads"], cfg["dilation"], cfg["groups"])
    assert_exact_equal(out, expected)


@given(conv_configs(nd=1))
@PROPERTY
def test_conv1d_is_conv2d_on_one_row(cfg):
    x, w, b = conv_operands(cfg)
    out = R.conv1d(x, w, b, cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"])
    padding = cfg["padding"]
    if isinstance(padding, tuple) and isinstance(padding[0], tuple):
        padding = ((0, 0), padding[0])
    elif isinstance(padding, tuple):
        padding = (0, padding[0])
    elif isinstance(padding, int):
        padding = (0, padding)
    as_2d = R.conv2d(
        x[:, :, None], w[:, :, None], b, (1, cfg["stride"][0]), padding, (1, cfg["dilation"][0]), cfg["groups"]
    )
    assert_exact_equal(out, as_2d[:, :, 0])


@given(conv_configs(modes=("int", "tuple")), st.data())
@PROPERTY
def test_conv_transpose2d_is_the_adjoint_of_conv2d(cfg, data):
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)>, exactly, for matching shapes."""
    x, w, _ = conv_operands(cfg)
    padding = cfg["padding"]
    forward = R.conv2d(x, w, None, cfg["stride"], padding, cfg["dilation"], cfg["groups"])
    # output_padding recovers the rows/columns that the forward stride dropped
    output_padding = tuple(
        (n + lo + hi - d * (k - 1) - 1) % s
        for n, (lo, hi), k, d, s in zip(
            cfg["sizes"], cfg["pads"], cfg["kernel"], cfg["dilation"], cfg["stride"], strict=True
        )
    )
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    y = ints(rng, forward.shape)
    backward = R.conv_transpose2d(y, w, None, cfg["stride"], padding, output_padding, cfg["dilation"], cfg["groups"])
    assert backward.shape == x.shape
    assert np.sum(forward * y) == np.sum(x * backward)


@given(conv_configs(modes=("int", "tuple")), st.data())
@PROPERTY
def test_conv_transpose2d_equals_naive_scatter(cfg, data):
    padding = cfg["padding"] if isinstance(cfg["padding"], tuple) else (cfg["padding"],) * 2
    _, w, _ = conv_operands(cfg)
    groups = cfg["groups"]
    # the transposed weight is (C_in, O/groups, kh, kw): reuse w with its roles swapped
    rng = np.random.default_rng(cfg["seed"] + 1)
    xt = ints(rng, (cfg["batch"], w.shape[0], *cfg["sizes"]))
    b = ints(rng, (w.shape[1] * groups,)) if cfg["bias"] else None
    output_padding = tuple(
        data.draw(st.integers(0, max(s, d) - 1)) for s, d in zip(cfg["stride"], cfg["dilation"], strict=True)
    )
    sizes = [
        (n - 1) * s - 2 * p + d * (k - 1) + q + 1
        for n, s, p, d, k, q in zip(
            cfg["sizes"], cfg["stride"], padding, cfg["dilation"], cfg["kernel"], output_padding, strict=True
        )
    ]
    if min(sizes) < 1:
        padding = (0, 0)
    out = R.conv_transpose2d(xt, w, b, cfg["stride"], padding, output_padding, cfg["dilation"], groups)
    expected = naive_conv_transpose2d(xt, w, b, cfg["stride"], padding, output_padding, cfg["dilation"], groups)
    assert_exact_equal(out, expected)


@st.composite
def pool_configs(draw, dilated=True):
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(2))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(2)) if dilated else (1, 1)
    ceil_mode = draw(st.booleans())
    sizes = tuple(
        draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), d * (k - 1) + 5))
        for k, d, p in zip(kernel, dilation, padding, strict=True)
    )
    return dict(
        kernel=kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        ceil_mode=ceil_mode,
        sizes=sizes,
        count_include_pad=draw(st.booleans()),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def windows_see_input(cfg):
    """True when every max-pool window covers at least one input position."""
    for n, k, p, d, s in zip(
        cfg["sizes"], cfg["kernel"], cfg["padding"], cfg["dilation"], cfg["stride"] or cfg["kernel"], strict=True
    ):
        size = naive_pool_size(n, k, s, p, d, cfg["ceil_mode"])
        for o in range(size):
            if not any(0 <= o * s - p + u * d < n for u in range(k)):
                return False
    return True


@given(pool_configs())
@PROPERTY
def test_max_pool2d_equals_naive_loops(cfg):
    x = ints(np.random.default_rng(cfg["seed"]), (2, 2, *cfg["sizes"]))
    stride = cfg["stride"] or cfg["kernel"]
    if not windows_see_input(cfg):
        with pytest.raises(ValueError, match="covers only padding"):
            R.max_pool2d(x, cfg["kernel"], cfg["stride"], cfg["padding"], cfg["dilation"], cfg["ceil_mode"])
        return
    out = R.max_pool2d(x, cfg["kernel"], cfg["stride"], cfg["padding"], cfg["dilation"], cfg["ceil_mode"])
    expected = naive_pool(x, "max", cfg["kernel"], stride, cfg["padding"], cfg["dilation"], cfg["ceil_mode"], True)
    assert_exact_equal(out, expected)


@given(pool_configs(dilated=False))
@PROPERTY
def test_avg_pool2d_equals_naive_loops(cfg):
    x = ints(np.random.default_rng(cfg["seed"]), (1, 2, *cfg["sizes"]))
    out = R.avg_pool2d(x, cfg["kernel"], cfg["stride"], cfg["padding"], cfg["ceil_mode"], cfg["count_include_pad"])
    expected = naive_pool(
        x,
        "avg",
        cfg["kernel"],
        cfg["stride"] or cfg["kernel"],
        cfg["padding"],
        (1, 1),
        cfg["ceil_mode"],
        cfg["count_include_pad"],
    )
    assert_exact_equal(out, expected)


@given(pool_configs(dilated=False))
@PROPERTY
def test_avg_pool2d_is_a_depthwise_conv_with_a_constant_kernel(cfg):
    """Without ceil mode and counting padding, every window divides by kh*kw."""
    x = ints(np.random.default_rng(cfg["seed"]), (2, 3, *cfg["sizes"]))
    kh, kw = cfg["kernel"]
    stride = cfg["stride"] or cfg["kernel"]
    pooled = R.avg_pool2d(x, cfg["kernel"], cfg["stride"], cfg["padding"])
    constant = np.full((3, 1, kh, kw), Fraction(1, kh * kw), dtype=object)
    assert_exact_equal(pooled, R.conv2d(x, constant, None, stride, cfg["padding"], groups=3))
    if all(n >= k for n, k in zip(cfg["sizes"], cfg["kernel"], strict=True)):
        unpadded = R.avg_pool2d(x, cfg["kernel"], cfg["stride"])
        assert_exact_equal(unpadded, R.conv2d(x, constant, None, stride, 0, groups=3))


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**32 - 1))
@PROPERTY
def test_pixel_shuffle_and_unshuffle_are_inverse(r, channels, height, width, seed):
    rng = np.random.default_rng(seed)
    deep = rng.integers(0, 100, (2, channels * r * r, height, width))
    wide = rng.integers(0, 100, (1, 2, channels, height * r, width * r))
    assert np.array_equal(R.pixel_unshuffle(R.pixel_shuffle(deep, r), r), deep)
    assert np.array_equal(R.pixel_shuffle(R.pixel_unshuffle(wide, r), r), wide)
    shuffled = R.pixel_shuffle(deep, r)
    c, a, b = channels - 1, r - 1, 0
    assert shuffled[1, c, r * (height - 1) + a, r * 0 + b] == deep[1, c * r * r + a * r + b, height - 1, 0]


@given(conv_configs(modes=("int", "tuple")))
@PROPERTY
def test_im2col_matmul_equals_conv2d(cfg):
    cfg = {**cfg, "groups": 1, "per_group": cfg["per_group"] * cfg["groups"]}
    x, w, _ = conv_operands(cfg)
    cols = R.im2col(x, cfg["kernel"], cfg["stride"], cfg["padding"], cfg["dilation"])
    out = R.conv2d(x, w, None, cfg["stride"], cfg["padding"], cfg["dilation"])
    product = np.matmul(w.reshape(w.shape[0], -1), cols)
    assert_exact_equal(product.reshape(out.shape), out)


@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 2), st.integers(0, 2**32 - 1))
@PROPERTY
def test_linear_equals_naive_sums(features, outputs, extra_dims, seed):
    rng = np.random.default_rng(seed)
    x = fractions(rng, (2,) * extra_dims + (features,))
    w, b = fractions(rng, (outputs, features)), fractions(rng, (outputs,))
    out = R.linear(x, w, b)
    expected = np.empty(x.shape[:-1] + (outputs,), dtype=object)
    for index in np.ndindex(*x.shape[:-1]):
        for o in range(outputs):
            expected[index + (o,)] = b[o] + sum(x[index + (i,)] * w[o, i] for i in range(features))
    assert_exact_equal(out, expected)


@given(st.integers(1, 3), st.integers(0, 2**32 - 1))
@PROPERTY
def test_batch_norm_inverts_exactly(channels, seed):
    """With var + eps = std**2, undoing the affine map (out - beta) / gamma * std + mean gives x."""
    rng = np.random.default_rng(seed)
    x = fractions(rng, (2, channels, 3))
    std = np.array([Fraction(int(rng.integers(1, 9)), int(rng.integers(1, 9))) for _ in range(channels)], dtype=object)
    eps = Fraction(1, 7)
    mean, gamma, beta = (fractions(rng, (channels,)) for _ in range(3))
    gamma = np.where(gamma == 0, 1, gamma)
    out = R.batch_norm(x, mean, std * std - eps, gamma, beta, eps=eps)
    view = (1, channels, 1)
    recovered = (out - beta.reshape(view)) / gamma.reshape(view) * std.reshape(view) + mean.reshape(view)
    assert_exact_equal(recovered, x)
