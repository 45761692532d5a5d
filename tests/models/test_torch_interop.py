"""convsym.torch: torch modules to and from convsym layers, and transforms on torch modules."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import convsym.transforms as T
from convsym.torch import from_convsym, to_convsym

torch = pytest.importorskip("torch")
nn = torch.nn
pytestmark = pytest.mark.models


def bn(c, affine=True, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    m = nn.BatchNorm2d(c, affine=affine, dtype=dtype).eval()
    m.running_mean.copy_(torch.randn(c, generator=g))
    m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
    if affine:
        m.weight.data.copy_(torch.randn(c, generator=g))
        m.bias.data.copy_(torch.randn(c, generator=g))
    return m


def close(a, b, tol=1e-5):
    a, b = (t.detach().numpy() if hasattr(t, "detach") else t for t in (a, b))
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, float(np.abs(b).max())))


CONVS = [
    lambda: nn.Conv2d(4, 6, 3, padding=1),
    lambda: nn.Conv2d(4, 6, (3, 2), stride=2, padding=(1, 0), dilation=(1, 2), groups=2, bias=False),
    lambda: nn.Conv2d(4, 4, 4, padding="same", groups=4),
    lambda: nn.Conv2d(4, 6, 3, padding="valid", dtype=torch.float64),
    lambda: nn.Conv1d(4, 6, 3, padding=2, dilation=2, groups=2),
    lambda: nn.Conv1d(4, 6, 4, padding="same"),
    lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
    lambda: nn.ConvTranspose2d(4, 2, (2, 3), stride=(2, 1), dilation=(1, 2), dtype=torch.float64),
]


@pytest.mark.parametrize("make", CONVS)
def test_conv_round_trip_computes_the_same_map(make):
    torch.manual_seed(0)
    module = make()
    layer = to_convsym(module)
    back = from_convsym(layer, like=module)
    assert type(back) is type(module) and back.weight.dtype == module.weight.dtype
    shape = (2, 4, 9) if isinstance(module, nn.Conv1d) else (2, 4, 9, 8)
    x = torch.randn(shape, dtype=module.weight.dtype)
    close(back(x), module(x))
    x4 = x.double().numpy()[:, :, None, :] if isinstance(module, nn.Conv1d) else x.double().numpy()
    ours = layer(x4)
    close(ours[:, :, 0, :] if isinstance(module, nn.Conv1d) else ours, module.double()(x.double()), 1e-10)


@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_round_trip(affine):
    module = bn(5, affine)
    layer = to_convsym(module)
    back = from_convsym(layer, like=module)
    x = torch.randn(2, 5, 3, 3)
    close(back(x), module(x))
    close(layer(x.double().numpy()), module.double()(x.double()), 1e-10)


def test_linear_round_trip_and_dtype():
    module = nn.Linear(5, 3, dtype=torch.float64)
    w, b = to_convsym(module)
    assert w.dtype == np.float64 and w.shape == (3, 5)
    back = from_convsym((w, b), like=module)
    assert isinstance(back, nn.Linear) and back.weight.dtype == torch.float64
    x = torch.randn(4, 5, dtype=torch.float64)
    close(back(x), module(x), 1e-12)


@pytest.mark.parametrize(
    "module, error, match",
    [
        (nn.BatchNorm2d(3).train(), ValueError, r"to_convsym: BatchNorm2d is in training mode.*model\.eval\(\)"),
        (nn.BatchNorm2d(3, track_running_stats=False).eval(), ValueError, r"track_running_stats=False"),
        (nn.Conv2d(3, 3, 3, padding=1, padding_mode="reflect"), ValueError, r"padding_mode='reflect'"),
        (nn.MaxPool2d(2), TypeError, r"to_convsym: MaxPool2d is not supported"),
    ],
)
def test_bad_modules_get_clear_errors(module, error, match):
    with pytest.raises(error, match=match):
        to_convsym(module)


def test_fold_batchnorm_on_torch_modules_returns_torch_modules():
    conv, norm = nn.Conv2d(3, 4, 3, padding=1).eval(), bn(4)
    fused = T.fold_batchnorm(conv, norm)
    assert isinstance(fused, nn.Conv2d) and fused.weight.dtype == torch.float32
    x = torch.randn(2, 3, 7, 7)
    close(fused(x), norm(conv(x)))
    ref = torch.nn.utils.fusion.fuse_conv_bn_eval(conv, norm)
    close(fused.weight, ref.weight, 1e-6)
    with pytest.raises(ValueError, match="training mode"):
        T.fold_batchnorm(conv, norm.train())


@pytest.mark.parametrize("groups", [1, 2])
def test_fold_batchnorm_into_transposed_conv_against_torch(groups):
    torch.manual_seed(groups)
    tconv = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=groups, dtype=torch.float64)
    norm = bn(6, dtype=torch.float64, seed=groups)
    fused = T.fold_batchnorm(tconv, norm)
    assert isinstance(fused, nn.ConvTranspose2d)
    x = torch.randn(2, 4, 5, 5, dtype=torch.float64)
    close(fused(x), norm(tconv(x)), 1e-12)
    # the output channel is the weight's axis 1: scaling axis 0 instead is wrong
    layer = T.fold_batchnorm(to_convsym(tconv), to_convsym(norm))
    a = (norm.weight / (norm.running_var + norm.eps).sqrt()).detach().numpy()
    gi, go = 4 // groups, 6 // groups
    for i in range(4):
        for j in range(go):
            o = (i // gi) * go + j
            np.testing.assert_allclose(layer.weight[i, j], tconv.weight[i, j].detach().numpy() * a[o], rtol=1e-14)


def test_transforms_take_torch_modules_and_activation_modules():
    torch.manual_seed(1)
    x = torch.randn(2, 3, 9, 9)
    a, b = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 5, 3)
    merged = T.merge_sequential(a, b)
    close(merged(x), b(a(x)))
    branches = [nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 4, 1), nn.Conv2d(3, 4, 3, padding=2, dilation=2)]
    merged = T.merge_parallel_dense(*branches)
    close(merged(x), sum(m(x) for m in branches))
    for act in (nn.ReLU(), nn.LeakyReLU(0.1), nn.PReLU()):
        p, q, s = T.equalize(a, b, act)
        close(q(act(p(x))), b(act(a(x))))
        assert isinstance(p, nn.Conv2d) and s.shape == (4,)
    with pytest.raises(ValueError, match=r"equalize: activation='relu6' is not positively homogeneous"):
        T.equalize(a, b, nn.ReLU6())
    lin = T.conv1x1_to_linear(nn.Conv2d(3, 4, 1))
    assert isinstance(lin, nn.Linear)
    conv = T.linear_to_conv1x1(nn.Linear(3, 4))
    assert isinstance(conv, nn.Conv2d) and conv.kernel_size == (1, 1)


def test_bn_before_padded_conv_repair_is_a_torch_module():
    norm, conv = bn(3), nn.Conv2d(3, 2, 3, padding=1)
    with pytest.raises(ValueError, match=r"fold_batchnorm_before: conv\.padding=\(1, 1\) pads bn\(x\) with zeros"):
        T.fold_batchnorm_before(norm, conv)
    fixed = T.fold_batchnorm_before(norm, conv, repair=True)
    x = torch.randn(2, 3, 6, 6)
    close(fixed(x), conv(norm(x)))


def test_asymmetric_padding_goes_back_as_zeropad_and_conv():
    layer = T.Conv2d(np.random.default_rng(0).standard_normal((2, 3, 3, 3)), padding=((0, 2), (1, 0)))
    module = from_convsym(layer, dtype=torch.float64)
    assert isinstance(module, nn.Sequential) and isinstance(module[0], nn.ZeroPad2d)
    x = np.random.default_rng(1).standard_normal((1, 3, 5, 5))
    close(module(torch.from_numpy(x)), layer(x), 1e-12)
    assert to_convsym(module).padding == ((0, 2), (1, 0))


def test_base_package_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None; import convsym.transforms, convsym.torch, convsym.cli; "
            "import numpy as np; c = convsym.transforms.Conv2d(np.ones((1, 1, 1, 1)));"
            "print(convsym.transforms.merge_sequential(c, c).weight.sum())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=".")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1.0"
