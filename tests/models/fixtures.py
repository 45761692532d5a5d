"""Plain-torch fixture networks, faithful to the published definitions (torchvision is a CUDA
build here and cannot be imported next to the CPU torch wheel).

* :func:`resnet18` -- He et al. 2016, torchvision's ``resnet18`` (BasicBlock, [2, 2, 2, 2]);
* :func:`mobilenet_v2` -- Sandler et al. 2018, torchvision's ``mobilenet_v2`` (inverted
  residuals, ReLU6, width 1.0);
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


def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, layers=(2, 2, 2, 2), num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [BasicBlock(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(seed: int = 0) -> ResNet:
    torch.manual_seed(seed)
    return randomize_bn(ResNet(), seed)


# --------------------------------------------------------------------------------------------- mobilenet_v2


def _make_divisible(v, divisor=8, min_value=None):
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class ConvBNReLU(nn.Sequential):
    def __init__(self, in_planes, out_planes, kernel_size=3, stride=1, groups=1):
        padding = (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_planes, out_planes, kernel_size, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(out_planes),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU(inp, hidden_dim, kernel_size=1))
        layers += [
            ConvBNReLU(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim),
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes=1000, width_mult=1.0):
        super().__init__()
        input_channel, last_channel = 32, 1280
        settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2],
                    [6, 320, 1, 1]]
        input_channel = _make_divisible(input_channel * width_mult)
        self.last_channel = _make_divisible(last_channel * max(1.0, width_mult))
        features = [ConvBNReLU(3, input_channel, stride=2)]
        for t, c, n, s in settings:
            output_channel = _make_divisible(c * width_mult)
            for i in range(n):
                features.append(InvertedResidual(input_channel, output_channel, s if i == 0 else 1, t))
                input_channel = output_channel
        features.append(ConvBNReLU(input_channel, self.last_channel, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(self.last_channel, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        return self.classifier(torch.flatten(x, 1))


def mobilenet_v2(seed: int = 0) -> MobileNetV2:
    torch.manual_seed(seed)
    return randomize_bn(MobileNetV2(), seed)


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
