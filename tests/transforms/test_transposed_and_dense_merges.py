"""ConvTranspose2d as a transform layer, BN folding into it, and the dense merges of branches with
different dilations or groups (undilate, regroup): exact checks with Fractions, NumPy only."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from convsym import reference
from convsym.transforms import BatchNorm2d, Conv2d, ConvTranspose2d, fold_batchnorm, merge_parallel_dense
from convsym.transforms.parallel import regroup, undilate


def ints(rng, shape, lo=-3, hi=4):
    return rng.integers(lo, hi, size=shape).astype(object)


@pytest.mark.parametrize("groups, stride, padding, output_padding, dilation",
                         [(1, 1, 0, 0, 1), (2, 2, 1, 1, 1), (2, 2, 0, 1, 2), (4, 3, 1, 2, 1)])
def test_fold_batchnorm_into_transposed_conv_is_exact(groups, stride, padding, output_padding, dilation):
    rng = np.random.default_rng(groups * 7 + stride)
    c_in, c_out = 4, 8
    tconv = ConvTranspose2d(ints(rng, (c_in, c_out // groups, 3, 2)), ints(rng, (c_out,)), stride=stride,
                            padding=padding, output_padding=output_padding, dilation=dilation, groups=groups)
    # var + eps a square of a rational, so the exact fold exists
    roots = [Fraction(int(v), 2) for v in rng.integers(1, 5, size=c_out)]
    eps = Fraction(1, 4)
    bn = BatchNorm2d(ints(rng, (c_out,)), np.array([r * r - eps for r in roots], dtype=object),
                     ints(rng, (c_out,)), ints(rng, (c_out,)), eps=eps)
    fused = fold_batchnorm(tconv, bn)
    assert isinstance(fused, ConvTranspose2d) and fused.weight.dtype == object
    x = ints(rng, (2, c_in, 4, 5))
    assert np.array_equal(fused(x), bn(tconv(x)))


def test_scaling_the_transposed_weight_along_axis_0_is_wrong():
    rng = np.random.default_rng(3)
    tconv = ConvTranspose2d(ints(rng, (4, 4, 3, 3)), stride=2)
    bn = BatchNorm2d(np.zeros(4, dtype=object), np.array([Fraction(3, 4)] * 4, dtype=object),
                     np.array([1, 2, 3, 4], dtype=object), np.zeros(4, dtype=object), eps=Fraction(1, 4))
    right = fold_batchnorm(tconv, bn)
    wrong = ConvTranspose2d(tconv.weight * np.array([1, 2, 3, 4], dtype=object)[:, None, None, None], stride=2)
    x = ints(rng, (1, 4, 3, 3))
    assert np.array_equal(right(x), bn(tconv(x)))
    assert not np.array_equal(wrong(x), bn(tconv(x)))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"weight": np.ones((4, 2, 3))}, ValueError, r"ConvTranspose2d: weight must be 4-D"),
        ({"weight": np.ones((3, 2, 3, 3)), "groups": 2}, ValueError,
         r"ConvTranspose2d: groups=2 must divide in_channels=3"),
        ({"weight": np.ones((4, 2, 3, 3)), "stride": 2, "output_padding": 2}, ValueError,
         r"output_padding=2 must be smaller than stride=2 or dilation=1 on axis H"),
        ({"weight": np.ones((4, 2, 3, 3)), "padding": "same"}, TypeError,
         r"ConvTranspose2d: padding must be an int or a pair of ints, got 'same'"),
        ({"weight": np.ones((4, 2, 3, 3)), "bias": np.ones(3)}, ValueError,
         r"bias must have shape \(out_channels,\)=\(2,\), got \(3,\)"),
    ],
)
def test_transposed_layer_validates_once(kwargs, error, match):
    with pytest.raises(error, match=match):
        ConvTranspose2d(**kwargs)


def test_transposed_layer_runs_the_reference():
    rng = np.random.default_rng(5)
    w, b, x = ints(rng, (4, 3, 2, 3)), ints(rng, (6,)), ints(rng, (1, 4, 3, 3))
    layer = ConvTranspose2d(w, b, stride=(2, 1), padding=(1, 0), groups=2)
    assert np.array_equal(layer(x), reference.conv_transpose2d(x, w, b, stride=(2, 1), padding=(1, 0), groups=2))
    assert layer.in_channels == 4 and layer.out_channels == 6 and layer.kernel_size == (2, 3)


@pytest.mark.parametrize("k, d, padding, stride", [(3, 2, 2, 1), (3, 3, 3, 1), (2, 2, 0, 2), (5, 1, 2, 1),
                                                   ((3, 2), (2, 3), (1, 2), (1, 2))])
def test_a_dilated_kernel_is_a_sparse_dense_kernel_exactly(k, d, padding, stride):
    """The dilated-kernel-as-sparse-kernel identity, on integer inputs (exact)."""
    rng = np.random.default_rng(11)
    kh, kw = (k, k) if isinstance(k, int) else k
    conv = Conv2d(ints(rng, (4, 2, kh, kw)), ints(rng, (4,)), stride=stride, padding=padding, dilation=d, groups=2)
    dense = undilate(conv)
    assert dense.dilation == (1, 1)
    assert dense.kernel_size == (conv.dilation[0] * (kh - 1) + 1, conv.dilation[1] * (kw - 1) + 1)
    x = ints(rng, (2, 4, 11, 12))
    assert np.array_equal(dense(x), conv(x))


@pytest.mark.parametrize("old, new", [(4, 2), (4, 1), (2, 1), (4, 4)])
def test_regroup_keeps_the_map(old, new):
    rng = np.random.default_rng(old + new)
    conv = Conv2d(ints(rng, (8, 8 // old, 3, 3)), padding=1, groups=old)
    again = regroup(conv, new)
    assert again.groups == new
    x = ints(rng, (1, 8, 6, 6))
    assert np.array_equal(again(x), conv(x))


def test_regroup_refuses_a_count_that_does_not_divide():
    conv = Conv2d(np.ones((4, 2, 1, 1)), groups=2)
    with pytest.raises(ValueError, match=r"regroup: groups=3 must divide conv.groups=2"):
        regroup(conv, 3)


def test_merge_parallel_dense_merges_dilated_and_grouped_branches_exactly():
    rng = np.random.default_rng(2)
    branches = [
        Conv2d(ints(rng, (8, 1, 7, 7)), ints(rng, (8,)), padding=3, groups=8),
        Conv2d(ints(rng, (8, 1, 3, 3)), ints(rng, (8,)), padding=3, dilation=3, groups=8),
        Conv2d(ints(rng, (8, 4, 5, 5)), padding=2, groups=2),
        Conv2d(ints(rng, (8, 2, 3, 3)), padding=2, dilation=2, groups=4),
    ]
    merged = merge_parallel_dense(*branches)
    assert merged.kernel_size == (7, 7) and merged.groups == 2 and merged.dilation == (1, 1)
    x = ints(rng, (1, 8, 9, 10))
    assert np.array_equal(merged(x), sum(b(x) for b in branches))
