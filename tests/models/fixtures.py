"""Plain-torch fixture networks, faithful to the published definitions (torchvision is a CUDA
build here and cannot be imported next to the CPU torch wheel).

* :func:`resnet18`, :func:`mobilenet_v2` -- the architectures of ``tests/zoo.py`` (He et al. 2016,
  Sandler et al. 2018, as torchvision defines them) with non-trivial BatchNorm statistics;
* :class:`RepVGGBlock` -- Ding et al. 2021: 3x3 conv-BN + 1x1 conv-BN + identity BN, then ReLU,
  with the authors' ``get_equivalent_kernel_bias`` re-parameterisation;
* :class:`DilatedReparamBlock` -- UniRepLKNet (Ding et al. 2024): a large depthwise kernel and
  small dilated depthwise kernels in parallel, each with BN, merged into one large kernel.

:func:`randomize_bn` gives every BatchNorm non-trivial statistics (a fresh BN is the identity
up to eps, which would hide folding bugs).
"""

from __future__ import annotations

import torch
from torch import nn

from tests import zoo


def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.25)
            if m.affine:
                m.weight.data.copy_(torch.randn(c, generator=g) * 0.5 + 1.0)
                m.bias.data.copy_(torch.randn(c, generator=g) * 0.5)
    return model.eval()


# --------------------------------------------------------------------------------------------- resnet18


def resnet18(seed: int = 0) -> nn.Module:
    """torchvision's resnet18 (tests/zoo.py), random weights and BN statistics from ``seed``."""
    torch.manual_seed(seed)
    return randomize_bn(zoo.resnet18(), seed)


def mobilenet_v2(seed: int = 0) -> nn.Module:
    """torchvision's mobilenet_v2 (tests/zoo.py), random weights and BN statistics from ``seed``."""
    torch.manual_seed(seed)
    return randomize_bn(zoo.mobilenet_v2(), seed)


# --------------------------------------------------------------------------------------------- RepVGG


def conv_bn(in_channels, out_channels, kernel_size, stride, padding, groups=1, dilation=1):
    result = nn.Sequential()
    result.add_module("conv", nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation=dilation,
                                        groups=groups, bias=False))
    result.add_module("bn", nn.BatchNorm2d(out_channels))
    return result


class RepVGGBlock(nn.Module):
    """RepVGG's training-time block (DingXiaoH/RepVGG ``repvgg.py``): 3x3 conv-BN + 1x1 conv-BN
    + identity BN (when shapes allow), summed, then ReLU.  ``reparameterize()`` is the authors'
    conversion to one 3x3 conv with bias."""

    def __init__(self, in_channels, out_channels, stride=1, groups=1):
        super().__init__()
        self.groups, self.in_channels = groups, in_channels
        self.nonlinearity = nn.ReLU()
        self.rbr_identity = nn.BatchNorm2d(in_channels) if out_channels == in_channels and stride == 1 else None
        self.rbr_dense = conv_bn(in_channels, out_channels, 3, stride, 1, groups)
        self.rbr_1x1 = conv_bn(in_channels, out_channels, 1, stride, 0, groups)
        self.rbr_reparam = None

    def forward(self, x):
        if self.rbr_reparam is not None:
            return self.nonlinearity(self.rbr_reparam(x))
        id_out = 0 if self.rbr_identity is None else self.rbr_identity(x)
        return self.nonlinearity(self.rbr_dense(x) + self.rbr_1x1(x) + id_out)

    def _fuse_bn_tensor(self, branch):
        if branch is None:
            return 0, 0
        if isinstance(branch, nn.Sequential):
            kernel, bn = branch.conv.weight, branch.bn
        else:
            input_dim = self.in_channels // self.groups
            kernel = torch.zeros((self.in_channels, input_dim, 3, 3), dtype=branch.weight.dtype)
            for i in range(self.in_channels):
                kernel[i, i % input_dim, 1, 1] = 1
            bn = branch
        std = (bn.running_var + bn.eps).sqrt()
        t = (bn.weight / std).reshape(-1, 1, 1, 1)
        return kernel * t, bn.bias - bn.running_mean * bn.weight / std

    def reparameterize(self):
        k3, b3 = self._fuse_bn_tensor(self.rbr_dense)
        k1, b1 = self._fuse_bn_tensor(self.rbr_1x1)
        kid, bid = self._fuse_bn_tensor(self.rbr_identity)
        conv = self.rbr_dense.conv
        self.rbr_reparam = nn.Conv2d(conv.in_channels, conv.out_channels, 3, conv.stride, 1, groups=conv.groups,
                                     dtype=conv.weight.dtype)
        with torch.no_grad():
            self.rbr_reparam.weight.copy_(k3 + nn.functional.pad(k1, [1, 1, 1, 1]) + kid)
            self.rbr_reparam.bias.copy_(b3 + b1 + bid)
        for name in ("rbr_dense", "rbr_1x1", "rbr_identity"):
            delattr(self, name)
            setattr(self, name, None)
        return self


class RepVGGNet(nn.Module):
    """A small RepVGG-A style stack: stride-2 stem block, then blocks with identity branches."""

    def __init__(self, widths=(16, 32), depth=2, groups=1, num_classes=10):
        super().__init__()
        blocks, cin = [], 3
        for w in widths:
            blocks.append(RepVGGBlock(cin, w, stride=2))
            blocks += [RepVGGBlock(w, w, groups=groups) for _ in range(depth - 1)]
            cin = w
        self.stages = nn.Sequential(*blocks)
        self.head = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.stages(x)
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def repvgg(seed: int = 0, groups: int = 1) -> RepVGGNet:
    torch.manual_seed(seed)
    return randomize_bn(RepVGGNet(groups=groups), seed)


class DilatedReparamBlock(nn.Module):
    """UniRepLKNet's dilated re-parameterisation block (depthwise): a ``k x k`` conv-BN plus
    small dilated conv-BN branches (kernel ``r``, dilation ``d``) whose receptive fields fit in
    ``k``; merged, each dilated kernel is a sparse ``d(r-1)+1`` kernel added into the large one."""

    def __init__(self, channels, kernel_size=7, branches=((5, 1), (3, 2), (3, 3))):
        super().__init__()
        self.lk_origin = conv_bn(channels, channels, kernel_size, 1, kernel_size // 2, groups=channels)
        self.dils = nn.ModuleList(
            conv_bn(channels, channels, r, 1, (d * (r - 1) + 1) // 2, groups=channels, dilation=d)
            for r, d in branches
        )

    def forward(self, x):
        out = self.lk_origin(x)
        for branch in self.dils:
            out = out + branch(x)
        return out
