"""convsym.transforms against PyTorch in float64: fuse_conv_bn_eval, and the rewritten networks run by torch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convsym.transforms import BatchNorm2d, Conv2d, identity_conv
from convsym.transforms.batchnorm import fold_batchnorm, fold_batchnorm_before
from convsym.transforms.equalize import equalize
from convsym.transforms.parallel import merge_parallel

torch = pytest.importorskip("torch")
F = torch.nn.functional

pytestmark = pytest.mark.crosscheck
CROSS = settings(max_examples=30, deadline=None)
SEEDS = st.integers(0, 2**32 - 1)


def close(ours: np.ndarray, theirs) -> None:
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    assert ours.shape == theirs.shape
    scale = max(1.0, float(np.abs(theirs).max()))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10 * scale)


def torch_conv(conv: Conv2d) -> torch.nn.Conv2d:
    """A float64 torch layer with the weights of ``conv`` (symmetric padding only)."""
    out_c, group_in, kh, kw = conv.weight.shape
    module = torch.nn.Conv2d(group_in * conv.groups, out_c, (kh, kw), stride=conv.stride, padding=conv.padding,
                             dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None,
                             dtype=torch.float64)
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(np.array(conv.weight, dtype=np.float64)))
        if conv.bias is not None:
            module.bias.copy_(torch.from_numpy(np.array(conv.bias, dtype=np.float64)))
    return module.eval().requires_grad_(False)


def torch_bn(bn: BatchNorm2d) -> torch.nn.BatchNorm2d:
    module = torch.nn.BatchNorm2d(bn.num_features, eps=float(bn.eps), dtype=torch.float64)
    with torch.no_grad():
        module.running_mean.copy_(torch.from_numpy(np.array(bn.mean)))
        module.running_var.copy_(torch.from_numpy(np.array(bn.var)))
        module.weight.copy_(torch.from_numpy(np.array(bn.gamma)))
        module.bias.copy_(torch.from_numpy(np.array(bn.beta)))
    return module.eval().requires_grad_(False)


def random_bn(rng, channels, eps=1e-5):
    return BatchNorm2d(rng.standard_normal(channels), rng.random(channels) + 0.1, rng.standard_normal(channels),
                       rng.standard_normal(channels), eps=eps)


LAYER = st.tuples(st.sampled_from([(2, 4, 1), (4, 4, 2), (6, 6, 6), (3, 5, 1)]), st.integers(1, 3),
                  st.integers(1, 2), st.integers(0, 2), st.integers(1, 2), st.booleans())


def make_conv(rng, spec):
    (cin, cout, groups), k, stride, padding, dilation, bias = spec
    return Conv2d(rng.standard_normal((cout, cin // groups, k, k)), rng.standard_normal(cout) if bias else None,
                  stride=stride, padding=padding, dilation=dilation, groups=groups)


@CROSS
@given(SEEDS, LAYER, st.sampled_from([1e-5, 1e-3, 0.1]))
def test_fold_batchnorm_equals_fuse_conv_bn_eval(seed, spec, eps):
    rng = np.random.default_rng(seed)
    conv = make_conv(rng, spec)
    bn = random_bn(rng, conv.out_channels, eps)
    fused = torch.nn.utils.fusion.fuse_conv_bn_eval(torch_conv(conv), torch_bn(bn))
    ours = fold_batchnorm(conv, bn)
    close(ours.weight, fused.weight)
    close(ours.bias, fused.bias)
    x = rng.standard_normal((2, conv.in_channels, 7, 7))
    close(ours(x), fused(torch.from_numpy(x)))


@CROSS
@given(SEEDS, LAYER)
def test_fold_batchnorm_before_against_torch(seed, spec):
    rng = np.random.default_rng(seed)
    conv = make_conv(rng, spec)
    bn = random_bn(rng, conv.in_channels)
    x = rng.standard_normal((2, conv.in_channels, 7, 6))
    expected = torch_conv(conv)(torch_bn(bn)(torch.from_numpy(x)))
    close(fold_batchnorm_before(bn, conv, repair=True)(x), expected)


@CROSS
@given(SEEDS, st.sampled_from([1, 2, 4]))
def test_repvgg_merge_against_torch(seed, groups):
    rng = np.random.default_rng(seed)
    C = 4
    big = Conv2d(rng.standard_normal((C, C // groups, 3, 3)), padding=1, groups=groups)
    small = Conv2d(rng.standard_normal((C, C // groups, 1, 1)), groups=groups)
    bns = [random_bn(rng, C) for _ in range(3)]
    x = torch.from_numpy(rng.standard_normal((2, C, 6, 7)))
    block = (torch_bn(bns[0])(torch_conv(big)(x)) + torch_bn(bns[1])(torch_conv(small)(x)) + torch_bn(bns[2])(x))
    merged = merge_parallel(fold_batchnorm(big, bns[0]), fold_batchnorm(small, bns[1]),
                            fold_batchnorm(identity_conv(C, groups=groups), bns[2]))
    close(torch_conv(merged)(x).detach().numpy(), block)


@CROSS
@given(SEEDS, st.sampled_from(["relu", "leaky_relu", "identity"]))
def test_equalized_network_against_torch(seed, activation):
    rng = np.random.default_rng(seed)
    act = {"relu": F.relu, "leaky_relu": lambda h: F.leaky_relu(h, 0.2), "identity": lambda h: h}[activation]
    first = Conv2d(rng.standard_normal((6, 3, 3, 3)) * np.exp(2 * rng.standard_normal((6, 1, 1, 1))),
                   rng.standard_normal(6), padding=1)
    second = Conv2d(rng.standard_normal((6, 1, 3, 3)), rng.standard_normal(6), padding=1, groups=6)
    x = torch.from_numpy(rng.standard_normal((2, 3, 8, 8)))
    f1, f2, _ = equalize(first, second, activation)
    close(torch_conv(f2)(act(torch_conv(f1)(x))).detach().numpy(), torch_conv(second)(act(torch_conv(first)(x))))


def test_equalization_through_relu6_changes_torch_output():
    rng = np.random.default_rng(3)
    first = Conv2d(4 * rng.standard_normal((4, 3, 3, 3)), padding=1)
    second = Conv2d(rng.standard_normal((2, 4, 1, 1)))
    f1, f2, _ = equalize(first, second, "relu")  # the scales are exact for relu, not for relu6
    x = torch.from_numpy(3 * rng.standard_normal((1, 3, 6, 6)))
    lhs = torch_conv(second)(F.relu6(torch_conv(first)(x)))
    rhs = torch_conv(f2)(F.relu6(torch_conv(f1)(x)))
    assert float((lhs - rhs).abs().max().detach()) > 1e-3


def test_torch_modules_where_convsym_layers_are_expected_say_how_to_convert_them():
    m = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1, groups=1).double()
    bn = torch.nn.BatchNorm2d(4).double().eval()
    with pytest.raises(TypeError, match=r"^fold_batchnorm: conv must be a convsym\.transforms\.Conv2d, got "
                                        r"torch\.nn\.Conv2d; convert it with convsym\.transforms\.Conv2d\("):
        fold_batchnorm(m, bn)
    with pytest.raises(TypeError, match=r"^Conv2d: weight must be a numpy\.ndarray, got torch\.nn\.parameter\."
                                        r"Parameter; convert it with t\.detach\(\)\.numpy\(\)$"):
        Conv2d(m.weight)
    # and the advice works: the converted layers compute what torch computes
    conv = Conv2d(m.weight.detach().numpy(), None if m.bias is None else m.bias.detach().numpy(), m.stride,
                  m.padding, m.dilation, m.groups)
    with pytest.raises(TypeError, match=r"got torch\.nn\.BatchNorm2d; convert it with "
                                        r"convsym\.transforms\.BatchNorm2d\(m\.running_mean\.numpy\(\)"):
        fold_batchnorm(conv, bn)
    norm = BatchNorm2d(bn.running_mean.numpy(), bn.running_var.numpy(), bn.weight.detach().numpy(),
                       bn.bias.detach().numpy(), bn.eps)
    x = np.random.default_rng(0).standard_normal((1, 3, 7, 7))
    close(fold_batchnorm(conv, norm)(x), bn(m(torch.from_numpy(x))))
