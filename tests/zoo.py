"""Nine reference architectures in plain torch (torchvision and timm do not import here: their
wheels are CUDA builds), written after the published definitions and torchvision's/timm's
layouts so that module names, module types and functional calls are the ones the counting
tools see on the originals.  Each builder takes ``num_classes`` and returns a model in eval
mode; the parameter counts equal torchvision's (checked in ``tests/test_models.py``).

* ``resnet18``, ``resnet50``: He et al. 2016, torchvision v1.5 (stride on the 3x3 conv);
* ``mobilenet_v2``: Sandler et al. 2018; ``mobilenet_v3_small``: Howard et al. 2019;
* ``efficientnet_b0``: Tan & Le 2019 (torchvision: SiLU, SE with SiLU/Sigmoid, stochastic
  depth as identity in eval);
* ``regnet_y_400mf``: Radosavovic et al. 2020, RegNetY-400MF (depths 1, 3, 6, 6; widths 48,
  104, 208, 440; group width 8; SE ratio 0.25);
* ``vgg11``: Simonyan & Zisserman 2015, configuration A;
* ``densenet121``: Huang et al. 2017 (growth 32, blocks 6, 12, 24, 16);
* ``vit_tiny``: Dosovitskiy et al. 2021 in timm's layout (``vit_tiny_patch16_224``: width 192,
  depth 12, 3 heads, MLP 768; attention through ``F.scaled_dot_product_attention``).

Sizes: the ResNets, MobileNets, EfficientNet, RegNet, VGG and ViT accept 32x32 inputs
(DenseNet needs 32 too: five halvings); the ViT's position embedding is sized for
``img_size`` (224 by default; pass ``img_size=32`` for a 32x32 input).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ARCHITECTURES", "densenet121", "efficientnet_b0", "mixed", "mobilenet_v2", "mobilenet_v3_small",
           "quirks", "regnet_y_400mf", "resnet18", "resnet50", "self_attention", "vgg11", "vit_tiny"]


def _make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class Conv2dNormActivation(nn.Sequential):
    """torchvision.ops.Conv2dNormActivation: conv (no bias), BatchNorm, activation."""

    def __init__(self, c_in, c_out, kernel_size=3, stride=1, groups=1, activation=nn.ReLU, dilation=1):
        padding = (kernel_size - 1) // 2 * dilation
        layers = [nn.Conv2d(c_in, c_out, kernel_size, stride, padding, dilation=dilation, groups=groups,
                            bias=False), nn.BatchNorm2d(c_out)]
        if activation is not None:
            layers.append(activation(inplace=True) if activation in (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.SiLU)
                          else activation())
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation: scale = sigma(fc2(act(fc1(avgpool(x))))); x * scale."""

    def __init__(self, c_in, c_squeeze, activation=nn.ReLU, scale_activation=nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c_in, c_squeeze, 1)
        self.fc2 = nn.Conv2d(c_squeeze, c_in, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, x):
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x


# ---------------------------------------------------------------------------------------------
# ResNet


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, c_in, width, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, c_in, width, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], 2)
        self.layer3 = self._make_layer(block, 256, layers[2], 2)
        self.layer4 = self._make_layer(block, 512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, width, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != width * block.expansion:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, width * block.expansion, 1, stride, bias=False),
                                       nn.BatchNorm2d(width * block.expansion))
        layers = [block(self.inplanes, width, stride, downsample)]
        self.inplanes = width * block.expansion
        layers += [block(self.inplanes, width) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes=1000):
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes).eval()


def resnet50(num_classes=1000):
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes).eval()


# ---------------------------------------------------------------------------------------------
# MobileNetV2


class InvertedResidual(nn.Module):
    def __init__(self, c_in, c_out, stride, expand_ratio):
        super().__init__()
        hidden = int(round(c_in * expand_ratio))
        self.use_res_connect = stride == 1 and c_in == c_out
        layers = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(c_in, hidden, 1, activation=nn.ReLU6))
        layers += [Conv2dNormActivation(hidden, hidden, 3, stride, groups=hidden, activation=nn.ReLU6),
                   nn.Conv2d(hidden, c_out, 1, 1, 0, bias=False), nn.BatchNorm2d(c_out)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1],
                    [6, 160, 3, 2], [6, 320, 1, 1]]
        c_in, last = 32, 1280
        features = [Conv2dNormActivation(3, c_in, stride=2, activation=nn.ReLU6)]
        for t, c, n, s in settings:
            for i in range(n):
                features.append(InvertedResidual(c_in, c, s if i == 0 else 1, t))
                c_in = c
        features.append(Conv2dNormActivation(c_in, last, 1, activation=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, num_classes))

    def forward(self, x):
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        return self.classifier(torch.flatten(x, 1))


def mobilenet_v2(num_classes=1000):
    return MobileNetV2(num_classes).eval()


# ---------------------------------------------------------------------------------------------
# MobileNetV3-Small


class InvertedResidualV3(nn.Module):
    def __init__(self, c_in, kernel, expanded, c_out, use_se, use_hs, stride):
        super().__init__()
        self.use_res_connect = stride == 1 and c_in == c_out
        act = nn.Hardswish if use_hs else nn.ReLU
        layers = []
        if expanded != c_in:
            layers.append(Conv2dNormActivation(c_in, expanded, 1, activation=act))
        layers.append(Conv2dNormActivation(expanded, expanded, kernel, stride, groups=expanded, activation=act))
        if use_se:
            layers.append(SqueezeExcitation(expanded, _make_divisible(expanded // 4, 8),
                                            scale_activation=nn.Hardsigmoid))
        layers.append(Conv2dNormActivation(expanded, c_out, 1, activation=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        result = self.block(x)
        if self.use_res_connect:
            result += x
        return result


class MobileNetV3(nn.Module):
    def __init__(self, settings, last_channel, num_classes=1000):
        super().__init__()
        layers = [Conv2dNormActivation(3, settings[0][0], 3, 2, activation=nn.Hardswish)]
        for c_in, k, exp, c_out, se, hs, s in settings:
            layers.append(InvertedResidualV3(c_in, k, exp, c_out, se, hs, s))
        last_in = settings[-1][3]
        layers.append(Conv2dNormActivation(last_in, 6 * last_in, 1, activation=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(6 * last_in, last_channel), nn.Hardswish(inplace=True),
                                        nn.Dropout(0.2, inplace=True), nn.Linear(last_channel, num_classes))

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def mobilenet_v3_small(num_classes=1000):
    # (input, kernel, expanded, output, SE, hard-swish, stride): torchvision's table
    settings = [(16, 3, 16, 16, True, False, 2), (16, 3, 72, 24, False, False, 2),
                (24, 3, 88, 24, False, False, 1), (24, 5, 96, 40, True, True, 2),
                (40, 5, 240, 40, True, True, 1), (40, 5, 240, 40, True, True, 1),
                (40, 5, 120, 48, True, True, 1), (48, 5, 144, 48, True, True, 1),
                (48, 5, 288, 96, True, True, 2), (96, 5, 576, 96, True, True, 1),
                (96, 5, 576, 96, True, True, 1)]
    return MobileNetV3(settings, 1024, num_classes).eval()


# ---------------------------------------------------------------------------------------------
# EfficientNet-B0


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth: the identity in eval mode."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = torch.empty((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device)
        return x * keep.bernoulli_(1.0 - self.p).div_(1.0 - self.p)


class MBConv(nn.Module):
    def __init__(self, c_in, c_out, kernel, stride, expand_ratio, sd_prob):
        super().__init__()
        self.use_res_connect = stride == 1 and c_in == c_out
        expanded = _make_divisible(c_in * expand_ratio, 8)
        layers = []
        if expanded != c_in:
            layers.append(Conv2dNormActivation(c_in, expanded, 1, activation=nn.SiLU))
        layers.append(Conv2dNormActivation(expanded, expanded, kernel, stride, groups=expanded, activation=nn.SiLU))
        layers.append(SqueezeExcitation(expanded, max(1, c_in // 4), activation=lambda: nn.SiLU(inplace=True)))
        layers.append(Conv2dNormActivation(expanded, c_out, 1, activation=None))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(sd_prob)

    def forward(self, x):
        result = self.block(x)
        if self.use_res_connect:
            result = self.stochastic_depth(result)
            result += x
        return result


class EfficientNet(nn.Module):
    def __init__(self, settings, last_channel=1280, num_classes=1000, sd_prob=0.2):
        super().__init__()
        layers = [Conv2dNormActivation(3, settings[0][3], 3, 2, activation=nn.SiLU)]
        total = sum(s[5] for s in settings)
        done = 0
        for expand, kernel, stride, c_in, c_out, n in settings:
            stage = []
            for i in range(n):
                stage.append(MBConv(c_in if i == 0 else c_out, c_out, kernel, stride if i == 0 else 1, expand,
                                    sd_prob * done / total))
                done += 1
            layers.append(nn.Sequential(*stage))
        layers.append(Conv2dNormActivation(settings[-1][4], last_channel, 1, activation=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2, inplace=True), nn.Linear(last_channel, num_classes))

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def efficientnet_b0(num_classes=1000):
    # (expand ratio, kernel, stride, input, output, layers): B0, width and depth multipliers 1
    settings = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
                (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]
    return EfficientNet(settings, num_classes=num_classes).eval()


# ---------------------------------------------------------------------------------------------
# RegNetY-400MF


class BottleneckTransform(nn.Sequential):
    def __init__(self, c_in, c_out, stride, group_width, se_ratio):
        groups = c_out // group_width
        layers = {"a": Conv2dNormActivation(c_in, c_out, 1),
                  "b": Conv2dNormActivation(c_out, c_out, 3, stride, groups=groups)}
        if se_ratio:
            layers["se"] = SqueezeExcitation(c_out, int(round(se_ratio * c_in)))
        layers["c"] = Conv2dNormActivation(c_out, c_out, 1, activation=None)
        super().__init__()
        for name, layer in layers.items():
            self.add_module(name, layer)


class ResBottleneckBlock(nn.Module):
    def __init__(self, c_in, c_out, stride, group_width, se_ratio):
        super().__init__()
        self.proj = None
        if c_in != c_out or stride != 1:
            self.proj = Conv2dNormActivation(c_in, c_out, 1, stride, activation=None)
        self.f = BottleneckTransform(c_in, c_out, stride, group_width, se_ratio)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x):
        if self.proj is not None:
            x = self.proj(x) + self.f(x)
        else:
            x = x + self.f(x)
        return self.activation(x)


class RegNet(nn.Module):
    def __init__(self, depths, widths, group_width, se_ratio, num_classes=1000):
        super().__init__()
        self.stem = Conv2dNormActivation(3, 32, 3, 2)
        stages, c_in = [], 32
        for i, (depth, width) in enumerate(zip(depths, widths, strict=True)):
            blocks = nn.Sequential()
            for j in range(depth):
                blocks.add_module(f"block{i + 1}-{j}", ResBottleneckBlock(c_in if j == 0 else width, width,
                                                                        2 if j == 0 else 1, group_width, se_ratio))
            stages.append((f"block{i + 1}", blocks))
            c_in = width
        self.trunk_output = nn.Sequential()
        for name, stage in stages:
            self.trunk_output.add_module(name, stage)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x):
        x = self.avgpool(self.trunk_output(self.stem(x)))
        return self.fc(x.flatten(start_dim=1))


def regnet_y_400mf(num_classes=1000):
    return RegNet([1, 3, 6, 6], [48, 104, 208, 440], 8, 0.25, num_classes).eval()


# ---------------------------------------------------------------------------------------------
# VGG-11


class VGG(nn.Module):
    def __init__(self, cfg, num_classes=1000):
        super().__init__()
        layers, c_in = [], 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c_in, v, 3, padding=1), nn.ReLU(inplace=True)]
                c_in = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(0.5),
                                        nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(0.5),
                                        nn.Linear(4096, num_classes))

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def vgg11(num_classes=1000):
    return VGG([64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"], num_classes).eval()


# ---------------------------------------------------------------------------------------------
# DenseNet-121


class _DenseLayer(nn.Module):
    def __init__(self, c_in, growth, bn_size):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(c_in)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(c_in, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, inputs):
        prev = [inputs] if isinstance(inputs, torch.Tensor) else inputs
        concatenated = torch.cat(prev, 1)
        bottleneck = self.conv1(self.relu1(self.norm1(concatenated)))
        return self.conv2(self.relu2(self.norm2(bottleneck)))


class _DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers, c_in, bn_size, growth):
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}", _DenseLayer(c_in + i * growth, growth, bn_size))

    def forward(self, init):
        features = [init]
        for _, layer in self.items():
            features.append(layer(features))
        return torch.cat(features, 1)


class _Transition(nn.Sequential):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.norm = nn.BatchNorm2d(c_in)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.pool = nn.AvgPool2d(2, 2)


class DenseNet(nn.Module):
    def __init__(self, growth=32, blocks=(6, 12, 24, 16), init=64, bn_size=4, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential()
        self.features.add_module("conv0", nn.Conv2d(3, init, 7, 2, 3, bias=False))
        self.features.add_module("norm0", nn.BatchNorm2d(init))
        self.features.add_module("relu0", nn.ReLU(inplace=True))
        self.features.add_module("pool0", nn.MaxPool2d(3, 2, 1))
        c = init
        for i, n in enumerate(blocks):
            self.features.add_module(f"denseblock{i + 1}", _DenseBlock(n, c, bn_size, growth))
            c += n * growth
            if i != len(blocks) - 1:
                self.features.add_module(f"transition{i + 1}", _Transition(c, c // 2))
                c //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(c))
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x):
        out = F.relu(self.features(x), inplace=True)
        out = F.adaptive_avg_pool2d(out, (1, 1))
        return self.classifier(torch.flatten(out, 1))


def densenet121(num_classes=1000):
    return DenseNet(num_classes=num_classes).eval()


# ---------------------------------------------------------------------------------------------
# ViT (timm layout)


class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch, dim):
        super().__init__()
        self.num_patches = (img_size // patch) ** 2
        self.proj = nn.Conv2d(3, dim, patch, patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(B, N, C))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, dim * mlp_ratio)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    def __init__(self, img_size=224, patch=16, dim=192, depth=12, num_heads=3, mlp_ratio=4, num_classes=1000):
        super().__init__()
        self.patch_embed = PatchEmbed(img_size, patch, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 1, dim))
        self.blocks = nn.Sequential(*[Block(dim, num_heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


def vit_tiny(num_classes=1000, img_size=224):
    return VisionTransformer(img_size=img_size, num_classes=num_classes).eval()


# ---------------------------------------------------------------------------------------------
# a small model made of everything that is not a leaf module


class Mixed(nn.Module):
    """Functional conv, BN and pooling, ``torch.cat``, nearest upsampling, a squeeze-excitation
    multiply, ``torch.add``/``Tensor.mul``, layer norm, explicit attention (``q @ k^T``,
    softmax, ``@ v``), ``F.scaled_dot_product_attention``, ``torch.bmm``, GELU and a mean:
    the operators a leaf-module count misses.  Input ``(N, 3, H, W)``, H and W even."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.w = nn.Parameter(torch.randn(8, 3, 3, 3) * 0.1)
        self.bn = nn.BatchNorm2d(8)
        self.se1 = nn.Conv2d(16, 4, 1)
        self.se2 = nn.Conv2d(4, 16, 1)
        self.qkv = nn.Linear(16, 48)
        self.norm = nn.LayerNorm(16)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.head = nn.Linear(16, num_classes)
        self.register_buffer("scale", torch.ones(1))

    def forward(self, x):
        y = F.relu(self.bn(F.conv2d(x, self.w, padding=1)))
        y = torch.cat([y, F.max_pool2d(self.up(y), 2)], 1)
        s = torch.sigmoid(self.se2(F.relu(self.se1(F.adaptive_avg_pool2d(y, 1)))))
        y = y * s
        y = torch.add(y, y.mul(self.scale))
        t = self.norm(y.flatten(2).transpose(1, 2))
        q, k, v = self.qkv(t).chunk(3, -1)
        a = F.softmax(q @ k.transpose(1, 2) / 4.0, -1) @ v
        b = F.scaled_dot_product_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1)).squeeze(1)
        t = t + a + torch.bmm(b, torch.ones(b.shape[0], 16, 16, dtype=b.dtype, device=b.device))
        return self.head(F.gelu(t).mean(1))


def mixed(num_classes=10):
    return Mixed(num_classes).eval()


class Quirks(nn.Sequential):
    """The layers whose counts differ between tools: 'same' padding with an even kernel, a
    grouped conv, a transposed conv, average pooling in ceil mode and a Linear on a 3-D input."""

    def __init__(self):
        super().__init__(nn.Conv2d(3, 8, 4, padding="same"), nn.Conv2d(8, 8, 3, padding=1, groups=4),
                         nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1), nn.AvgPool2d(3, 2, 1, ceil_mode=True),
                         nn.Flatten(2), nn.Linear(81, 10))


def quirks():
    return Quirks().eval()


class SelfAttention(nn.Module):
    """``nn.MultiheadAttention`` (batch first) and a Linear: input ``(N, T, 16)``."""

    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(16, 2, batch_first=True)
        self.out = nn.Linear(16, 4)

    def forward(self, x):
        return self.out(self.mha(x, x, x, need_weights=False)[0])


def self_attention():
    return SelfAttention().eval()


#: name -> (builder, parameter count of the torchvision/timm original at 1000 classes)
ARCHITECTURES = {
    "resnet18": (resnet18, 11_689_512),
    "resnet50": (resnet50, 25_557_032),
    "mobilenet_v2": (mobilenet_v2, 3_504_872),
    "mobilenet_v3_small": (mobilenet_v3_small, 2_542_856),
    "efficientnet_b0": (efficientnet_b0, 5_288_548),
    "regnet_y_400mf": (regnet_y_400mf, 4_344_144),
    "vgg11": (vgg11, 132_863_336),
    "densenet121": (densenet121, 7_978_856),
    "vit_tiny": (vit_tiny, 5_717_416),
}
