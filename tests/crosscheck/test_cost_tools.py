"""``Cost.as_reported_by(tool)`` against the real counting tools, layer by layer.

Each tool runs on a real ``torch.nn`` layer; convsym computes the same figure from its closed
formulas and the tool's documented convention.  The table has every ResNet-18 convolution at
224 (the model is written out here, no torchvision), a MobileNetV2 inverted-residual block,
dilated, 1x7/7x1, even-kernel, 'same'/'valid', grouped, batched, bias on/off, transposed,
pooling (ceil mode, count_include_pad) and linear layers.  A tool that does not count a layer
(reports nothing for it) must match a ValueError from ``as_reported_by``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from convsym.cost import (  # noqa: E402
    TOOL_VERSIONS,
    TOOLS,
    conv2d_cost,
    conv_transpose2d_cost,
    count_module,
    linear_cost,
    pool2d_cost,
    resnet18_convs,
)

pytestmark = pytest.mark.crosscheck


@pytest.fixture(autouse=True)
def _quiet():
    torch.set_num_threads(1)
    logging.disable(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
    logging.disable(logging.NOTSET)


def _silent():
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
    return stack


# ---------------------------------------------------------------------------------------------
# running the tools: (value, params) or None when the tool does not count the layer


def run_fvcore(m, x):
    from fvcore.nn import FlopCountAnalysis, parameter_count

    analysis = FlopCountAnalysis(m, x)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    total = analysis.total()
    if total == 0 and analysis.unsupported_ops():
        return None
    return total, parameter_count(m)[""]


def run_ptflops(m, x):
    from ptflops import get_model_complexity_info

    with _silent():
        macs, params = get_model_complexity_info(
            nn.Sequential(m), tuple(x.shape[1:]), as_strings=False, print_per_layer_stat=False,
            input_constructor=lambda _: x,
        )
    return macs, params


def run_thop(m, x):
    import thop

    with _silent():
        ops, params = thop.profile(nn.Sequential(m), inputs=(x,), verbose=False)
    assert ops == int(ops) and params == int(params)
    return int(ops), int(params)


def run_torchinfo(m, x):
    import torchinfo

    stats = torchinfo.summary(m, input_data=x, verbose=0)
    macs = stats.summary_list[0].macs
    if macs == 0 and stats.total_params == 0:
        return None  # printed as "--"
    return macs, stats.total_params


def run_deepspeed(m, x):
    from deepspeed.profiling.flops_profiler import get_model_profile

    with _silent():
        flops, macs, params = get_model_profile(m, args=[x], print_profile=False, as_string=False,
                                                warm_up=0)
    return (flops, macs), params


def run_torch(m, x):
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        m(x)
    total = counter.get_total_flops()
    return None if total == 0 else (total, None)


RUNNERS = {
    "fvcore": run_fvcore,
    "ptflops": run_ptflops,
    "thop": run_thop,
    "torchinfo": run_torchinfo,
    "deepspeed": run_deepspeed,
    "torch": run_torch,
}


def test_runners_cover_every_tool_at_the_documented_versions():
    from importlib.metadata import version

    from packaging.version import Version

    assert set(RUNNERS) == set(TOOLS) == set(TOOL_MODULES)
    for tool in TOOLS:
        pytest.importorskip(TOOL_MODULES[tool])
        assert Version(version(tool)).public == Version(TOOL_VERSIONS[tool]).public, tool


# ---------------------------------------------------------------------------------------------
# the layer table: (id, torch module factory, input shape, convsym cost)


def conv(shape, c_out, k, stride=1, padding=0, dilation=1, groups=1, bias=True):
    module = nn.Conv2d(shape[1], c_out, k, stride, padding, dilation, groups, bias)
    return module, conv2d_cost(shape, c_out, k, stride, padding, dilation, groups, bias)


def tconv(shape, c_out, k, stride=1, padding=0, output_padding=0, dilation=1, groups=1, bias=True):
    module = nn.ConvTranspose2d(shape[1], c_out, k, stride, padding, output_padding, groups, bias,
                                dilation)
    return module, conv_transpose2d_cost(shape, c_out, k, stride, padding, output_padding, dilation,
                                         groups, bias)


def maxpool(shape, k, stride=None, padding=0, dilation=1, ceil_mode=False):
    module = nn.MaxPool2d(k, stride, padding, dilation, ceil_mode=ceil_mode)
    return module, pool2d_cost(shape, k, stride, padding, dilation, ceil_mode, "max")


def avgpool(shape, k, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    module = nn.AvgPool2d(k, stride, padding, ceil_mode, count_include_pad)
    return module, pool2d_cost(shape, k, stride, padding, 1, ceil_mode, "avg", count_include_pad)


def linear(shape, out, bias=True):
    return nn.Linear(shape[-1], out, bias), linear_cost(shape, out, bias)


def mobilenet_v2_block(c_in, c_out, stride, size, t=6):
    hidden = c_in * t
    return [
        (f"mbv2-{c_in}-{c_out}-s{stride}.expand", conv((1, c_in, size, size), hidden, 1, bias=False)),
        (f"mbv2-{c_in}-{c_out}-s{stride}.depthwise",
         conv((1, hidden, size, size), hidden, 3, stride, 1, groups=hidden, bias=False)),
        (f"mbv2-{c_in}-{c_out}-s{stride}.project",
         conv((1, hidden, (size - 1) // stride + 1, (size - 1) // stride + 1), c_out, 1, bias=False)),
    ]


OTHER_LAYERS = [
    *mobilenet_v2_block(24, 24, 1, 56),
    *mobilenet_v2_block(16, 24, 2, 112),
    ("dilated-3x3-d2", conv((1, 8, 20, 20), 8, 3, padding=2, dilation=2)),
    ("dilated-3x3-d3-narrow", conv((1, 4, 20, 18), 6, 3, padding=1, dilation=3)),
    ("dilated-3x5-d(2,1)", conv((1, 4, 15, 15), 4, (3, 5), padding=(2, 0), dilation=(2, 1))),
    ("1x7", conv((1, 16, 17, 17), 16, (1, 7), padding=(0, 3))),
    ("7x1", conv((1, 16, 17, 17), 16, (7, 1), padding=(3, 0), bias=False)),
    ("even-2x2-s2", conv((1, 3, 32, 32), 8, 2, stride=2)),
    ("even-4x4-s2-p1", conv((1, 3, 32, 32), 8, 4, stride=2, padding=1)),
    ("same-3x3", conv((1, 4, 13, 13), 8, 3, padding="same")),
    ("same-even-4x4", conv((1, 4, 13, 13), 8, 4, padding="same")),
    ("same-even-2x3-d(1,2)", conv((2, 4, 11, 12), 8, (2, 3), padding="same", dilation=(1, 2))),
    ("valid-3x3", conv((1, 4, 13, 13), 8, 3, padding="valid")),
    ("groups-4", conv((1, 8, 16, 16), 16, 3, padding=1, groups=4)),
    ("groups-3-s2-nobias", conv((1, 12, 15, 15), 6, 3, stride=2, groups=3, bias=False)),
    ("batch-4", conv((4, 3, 16, 16), 8, 3, padding=1)),
    ("stride-(2,1)", conv((2, 4, 15, 9), 6, 3, stride=(2, 1), padding=(1, 0))),
    ("tconv-4x4-s2-p1", tconv((1, 8, 8, 8), 4, 4, stride=2, padding=1)),
    ("tconv-3x3-s2-op1", tconv((1, 8, 7, 7), 4, 3, stride=2, padding=1, output_padding=1)),
    ("tconv-groups-3-nobias", tconv((2, 6, 5, 5), 6, 3, stride=2, padding=1, output_padding=1,
                                    groups=3, bias=False)),
    ("tconv-dilated", tconv((1, 4, 9, 9), 4, 3, padding=2, dilation=2)),
    ("tconv-2x2-s2-batch-3", tconv((3, 4, 6, 6), 2, 2, stride=2)),
    ("maxpool-2", maxpool((1, 4, 16, 16), 2)),
    ("maxpool-3-s2-p1-ceil", maxpool((2, 4, 10, 10), 3, 2, 1, ceil_mode=True)),
    ("maxpool-2-ceil-odd", maxpool((1, 3, 7, 7), 2, ceil_mode=True)),
    ("maxpool-3-d2-ceil", maxpool((1, 2, 12, 12), 3, 2, 0, dilation=2, ceil_mode=True)),
    ("avgpool-3-s2-p1-ceil", avgpool((1, 4, 10, 10), 3, 2, 1, ceil_mode=True)),
    ("avgpool-3-s2-p1-exclude-pad", avgpool((2, 4, 9, 9), 3, 2, 1, count_include_pad=False)),
    ("avgpool-2", avgpool((1, 8, 8, 8), 2)),
    ("linear-512-1000", linear((1, 512), 1000)),
    ("linear-3d-nobias", linear((2, 3, 9), 5, bias=False)),
    ("linear-3d-bias", linear((2, 3, 9), 5)),
]


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                            nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths, c = (64, 128, 256, 512), 64
        for stage, width in enumerate(widths, start=1):
            stride = 1 if stage == 1 else 2
            setattr(self, f"layer{stage}", nn.Sequential(BasicBlock(c, width, stride),
                                                         BasicBlock(width, width, 1)))
            c = width
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, 1000)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


@pytest.fixture(scope="module")
def resnet18():
    torch.manual_seed(0)
    model = ResNet18().eval()
    return model, count_module(model, (1, 3, 224, 224))


def test_count_module_resnet18_matches_the_hand_list(resnet18):
    _, counted = resnet18
    by_hand = dict(resnet18_convs(224))
    counted_layers = [(name, cost) for name, cost in counted.layers if name in by_hand]
    assert [name for name, _ in counted_layers] == list(by_hand)
    for name, cost in counted_layers:
        assert cost == by_hand[name], name
    assert [name for name, _ in counted.layers if name not in by_hand] == ["fc"]
    assert counted.total("macs") == sum(c.macs for c in by_hand.values()) + 512 * 1000
    assert round(counted.total("macs") / 1e8) == 18  # "1.8 x 10^9 FLOPs" (multiply-adds), He et al.
    assert {t for _, t in counted.skipped} == {"BatchNorm2d", "ReLU", "AdaptiveAvgPool2d"}
    table = counted.table()
    assert "layer4.1.conv2" in table and "not counted:" in table


RESNET_NAMES = [name for name, _ in resnet18_convs(224)]


TOOL_MODULES = {"fvcore": "fvcore.nn", "ptflops": "ptflops", "thop": "thop", "torchinfo": "torchinfo",
                "deepspeed": "deepspeed.profiling.flops_profiler", "torch": "torch.utils.flop_counter"}


def _check(tool, module, x, cost):
    pytest.importorskip(TOOL_MODULES[tool], reason=f"{tool} is not installed (pip install -e '.[crosscheck]')")
    module.eval()
    with torch.no_grad():
        got = RUNNERS[tool](module, x)
    if got is None:
        with pytest.raises(ValueError, match=rf"as_reported_by: {tool} does not count"):
            cost.as_reported_by(tool)
        return
    value, params = got
    reported = cost.as_reported_by(tool)
    if tool == "deepspeed":
        assert (reported.value, reported.macs) == value
    else:
        assert reported.value == value
    assert reported.params == params


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("name", RESNET_NAMES)
def test_resnet18_layer(resnet18, name, tool):
    model, counted = resnet18
    cost = dict(counted.layers)[name]
    _check(tool, model.get_submodule(name), torch.zeros(cost.input_shape), cost)


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("case", OTHER_LAYERS, ids=[case[0] for case in OTHER_LAYERS])
def test_layer(case, tool):
    _, (module, cost) = case
    torch.manual_seed(0)
    _check(tool, module, torch.zeros(cost.input_shape), cost)


def test_table_has_at_least_forty_layers():
    assert len(RESNET_NAMES) + len(OTHER_LAYERS) >= 40


# ---------------------------------------------------------------------------------------------
# shapes, backward and the padding-free count against torch itself


@pytest.mark.parametrize("case", OTHER_LAYERS, ids=[case[0] for case in OTHER_LAYERS])
def test_output_shape_is_torchs(case):
    _, (module, cost) = case
    with torch.no_grad():
        out = module(torch.zeros(cost.input_shape))
    assert tuple(out.shape) == cost.output_shape


@pytest.mark.parametrize(
    "case", [c for c in OTHER_LAYERS if c[1][1].layer.op in ("conv2d", "conv_transpose2d", "linear")],
    ids=lambda c: c[0],
)
def test_backward_flops_are_torchs(case):
    from torch.utils.flop_counter import FlopCounterMode

    _, (module, cost) = case
    x = torch.zeros(cost.input_shape, requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        module(x).sum().backward()
    forward = cost.as_reported_by("torch").value
    # FlopCounterMode counts 2 flops per MAC of grad wrt input and of grad wrt weight; its
    # weight-gradient formula ignores groups, so a grouped layer's is counted g times
    g = cost.layer.groups if cost.layer.op != "linear" else 1
    backward = 2 * cost.backward_input_macs + 2 * g * cost.backward_weight_macs
    assert counter.get_total_flops() - forward == backward


@pytest.mark.parametrize(
    "case", [c for c in OTHER_LAYERS if c[1][1].layer.op in ("conv2d", "conv_transpose2d")],
    ids=lambda c: c[0],
)
def test_macs_without_padding_counts_real_products(case):
    # ones in, ones as weights, no bias: each output (of a conv) counts the products of two
    # real numbers that reach it, so the sum over the output is the padding-free MAC count
    _, (module, cost) = case
    with torch.no_grad():
        module.weight.fill_(1.0)
        if module.bias is not None:
            module.bias.zero_()
        out = module(torch.ones(cost.input_shape, dtype=torch.float32))
    assert int(out.double().sum().item()) == cost.macs_without_padding


# ---------------------------------------------------------------------------------------------
# the hand-derived figures of tests/test_cost.py (issue 10), from the real tools


def _run(tool, module, shape):
    pytest.importorskip(TOOL_MODULES[tool], reason=f"{tool} is not installed (pip install -e '.[crosscheck]')")
    torch.manual_seed(0)
    module.eval()
    with torch.no_grad():
        return RUNNERS[tool](module, torch.zeros(shape))


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_thop_avg_pool_with_ceil_mode_and_padding(count_include_pad):
    module = nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=count_include_pad)
    assert _run("thop", module, (1, 4, 10, 10)) == (1 * 4 * 6 * 6, 0)
    cost = pool2d_cost((1, 4, 10, 10), 3, 2, 1, ceil_mode=True, kind="avg", count_include_pad=count_include_pad)
    assert cost.as_reported_by("thop").value == 144


def test_thop_grouped_transposed_conv():
    module = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, bias=False)
    assert _run("thop", module, (2, 4, 5, 5)) == (21600, 108)
    cost = conv_transpose2d_cost((2, 4, 5, 5), 6, 3, stride=2, padding=1, output_padding=1, groups=2, bias=False)
    assert (cost.as_reported_by("thop").value, cost.as_reported_by("thop").params) == (21600, 108)


def test_torch_transposed_conv_with_bias():
    module = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1, bias=True)
    assert _run("torch", module, (1, 8, 7, 7)) == (2 * 14112, None)
    cost = conv_transpose2d_cost((1, 8, 7, 7), 4, 3, stride=2, padding=1, output_padding=1, bias=True)
    assert cost.as_reported_by("torch").value == 2 * 14112
