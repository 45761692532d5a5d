"""The equivalences transforms and the facts behind them, against PyTorch in float64."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convsym import reference as R
from convsym.transforms import Conv2d
from convsym.transforms.reshape import (
    conv1x1_to_linear,
    full_map_conv_to_linear,
    linear_to_full_map_conv,
    unshuffled_conv_to_conv,
)
from convsym.transforms.sequential import merge_sequential_padded, split_kernel

torch = pytest.importorskip("torch")
F = torch.nn.functional

pytestmark = pytest.mark.crosscheck
CROSS = settings(max_examples=30, deadline=None)
SEEDS = st.integers(0, 2**32 - 1)


def t(a):
    return None if a is None else torch.from_numpy(np.array(a))  # a writable copy


def torch_conv(layer: Conv2d, x):
    (top, bottom), (left, right) = (
        layer.padding if isinstance(layer.padding[0], tuple) else ((layer.padding[0],) * 2, (layer.padding[1],) * 2))
    xp = F.pad(t(x), (left, right, top, bottom))
    return F.conv2d(xp, t(layer.weight), t(layer.bias), stride=layer.stride, dilation=layer.dilation,
                    groups=layer.groups).numpy()


def test_conv1x1_is_torch_linear_per_pixel():
    rng = np.random.default_rng(0)
    conv = Conv2d(rng.standard_normal((6, 4, 1, 1)), rng.standard_normal(6))
    x = rng.standard_normal((2, 4, 5, 3))
    w, b = conv1x1_to_linear(conv)
    fc = F.linear(t(x).permute(0, 2, 3, 1), t(w), t(b)).permute(0, 3, 1, 2).numpy()
    np.testing.assert_allclose(fc, F.conv2d(t(x), t(conv.weight), t(conv.bias)).numpy(), rtol=1e-12, atol=1e-12)


def test_full_map_conv_is_torch_flatten_linear():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((5, 3 * 4 * 2)), rng.standard_normal(5)
    conv = linear_to_full_map_conv(a, b, (3, 4, 2))
    x = rng.standard_normal((2, 3, 4, 2))
    fc = F.linear(torch.flatten(t(x), 1), t(a), t(b)).numpy()
    np.testing.assert_allclose(torch_conv(conv, x)[:, :, 0, 0], fc, rtol=1e-12, atol=1e-12)
    a2, b2 = full_map_conv_to_linear(conv)
    np.testing.assert_array_equal(a2, a)


@given(r=st.integers(1, 3), depth=st.integers(1, 2), k=st.integers(1, 3), s=st.integers(1, 2), p=st.integers(0, 1),
       d=st.integers(1, 2), seed=SEEDS)
@CROSS
def test_unshuffled_conv_matches_torch(r, depth, k, s, p, d, seed):
    rng = np.random.default_rng(seed)
    conv = Conv2d(rng.standard_normal((3, depth * r * r, k, k)), rng.standard_normal(3), stride=s, padding=p,
                  dilation=d)
    y = rng.standard_normal((1, depth, r * (d * k + 3), r * (d * k + 2)))
    theirs = F.conv2d(F.pixel_unshuffle(t(y), r), t(conv.weight), t(conv.bias), stride=s, padding=p, dilation=d)
    np.testing.assert_allclose(torch_conv(unshuffled_conv_to_conv(conv, r), y), theirs.numpy(), rtol=1e-10,
                               atol=1e-10)


def test_seed_003_weight_is_torch_pixel_shuffle():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((4, 9, 3, 3))
    out = unshuffled_conv_to_conv(Conv2d(w), 3)
    np.testing.assert_array_equal(out.weight, F.pixel_shuffle(t(w), 3).numpy())


@given(o=st.integers(1, 3), c=st.integers(1, 3), kh=st.integers(1, 5), kw=st.integers(1, 5), data=st.data())
@CROSS
def test_split_kernel_matches_torch(o, c, kh, kw, data):
    k1 = (data.draw(st.integers(1, kh)), data.draw(st.integers(1, kw)))
    rng = np.random.default_rng(data.draw(SEEDS))
    w, b = rng.standard_normal((o, c, kh, kw)), rng.standard_normal(o)
    first, second = split_kernel(w, k1, b)
    x = rng.standard_normal((1, c, kh + 4, kw + 3))
    two = F.conv2d(F.conv2d(t(x), t(first.weight)), t(second.weight), t(second.bias)).numpy()
    np.testing.assert_allclose(two, F.conv2d(t(x), t(w), t(b)).numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("k1, s1, p1, k2, p2", [(1, 1, 0, 3, 1), (3, 1, 2, 3, 1), (2, 2, 1, 3, 2), (3, 2, 2, 2, 1)])
def test_merge_padded_bias_mode_matches_torch(k1, s1, p1, k2, p2):
    rng = np.random.default_rng(k1 * 10 + k2)
    first = Conv2d(rng.standard_normal((3, 2, k1, k1)), rng.standard_normal(3), stride=s1, padding=p1)
    second = Conv2d(rng.standard_normal((2, 3, k2, k2)), rng.standard_normal(2), padding=p2)
    merged = merge_sequential_padded(first, second, "bias")
    for n in (8, 9):
        x = rng.standard_normal((1, 2, n, n))
        h = F.conv2d(t(x), t(first.weight), t(first.bias), stride=s1, padding=p1)
        ring = F.pad(torch.zeros_like(h), (p2,) * 4, value=1.0)
        hp = F.pad(h, (p2,) * 4) + ring * t(first.bias)[None, :, None, None]   # pad with the bias value
        two = F.conv2d(hp, t(second.weight), t(second.bias)).numpy()
        np.testing.assert_allclose(torch_conv(merged, x), two, rtol=1e-10, atol=1e-10)


def test_avg_pool_is_depthwise_conv_in_torch_and_ceil_mode_is_not():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 3, 7, 7))
    kern = torch.full((3, 1, 3, 3), 1 / 9, dtype=torch.float64)
    pool = F.avg_pool2d(t(x), 3, 2, 1)
    conv = F.conv2d(t(x), kern, stride=2, padding=1, groups=3)
    np.testing.assert_allclose(pool.numpy(), conv.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pool.numpy(), R.avg_pool2d(x, 3, 2, 1), rtol=1e-12, atol=1e-12)
    excl = F.avg_pool2d(t(x), 3, 2, 1, count_include_pad=False)
    assert not np.allclose(excl.numpy(), conv.numpy())
    y = rng.standard_normal((1, 1, 3, 3))
    ceil = F.avg_pool2d(t(y), 2, 2, ceil_mode=True)
    padded = F.conv2d(F.pad(t(y), (0, 1, 0, 1)), torch.full((1, 1, 2, 2), 0.25, dtype=torch.float64), stride=2)
    assert ceil.shape == padded.shape and not np.allclose(ceil.numpy(), padded.numpy())


def test_im2col_is_torch_unfold():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 7, 6))
    ours = R.im2col(x, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2))
    theirs = F.unfold(t(x), (3, 2), dilation=(1, 2), padding=1, stride=(2, 1)).numpy()
    np.testing.assert_array_equal(ours, theirs)


def test_true_convolution_is_flipped_torch_conv():
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal(20), rng.standard_normal(5)
    flipped = F.conv1d(t(x)[None, None], t(w[::-1].copy())[None, None]).numpy()[0, 0]
    np.testing.assert_allclose(flipped, np.convolve(x, w, mode="valid"), rtol=1e-12, atol=1e-12)
