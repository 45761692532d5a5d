"""``count_module``: every operator counted or listed, convsym's own figures, rows and output.

Needs torch (collected only when it imports); runs on the meta device, nothing is computed."""

from __future__ import annotations

import csv
import io
import json

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from convsym.cost import ModelCost, conv2d_cost, count_module, linear_cost, pool2d_cost  # noqa: E402
from convsym.cost.models import FIGURES  # noqa: E402
from tests.zoo import ARCHITECTURES, mixed, quirks  # noqa: E402


@pytest.fixture(scope="module")
def counted_mixed() -> ModelCost:
    return count_module(mixed(), (2, 3, 8, 8))


@pytest.fixture(scope="module")
def counted_resnet18() -> ModelCost:
    return count_module(ARCHITECTURES["resnet18"][0](), (1, 3, 64, 64))


def test_every_operator_of_a_functional_model_is_counted(counted_mixed):
    trace = counted_mixed.trace
    ops = {ev.op for ev in trace.ops}
    # the operators a leaf-module count missed are all there, and all counted
    for op in ("aten::convolution", "aten::cat", "aten::mul", "aten::add", "aten::bmm", "aten::_softmax",
               "aten::native_layer_norm", "aten::max_pool2d_with_indices", "aten::gelu", "aten::mean",
               "aten::upsample_nearest2d", "aten::sigmoid", "aten::addmm"):
        assert op in ops, op
    assert counted_mixed.uncounted == ()
    assert len(counted_mixed.ops) == len(trace.ops)
    sdpa = [c for c in trace.calls if c.name == "F.scaled_dot_product_attention"]
    assert len(sdpa) == 1 and any(ev.call == sdpa[0].index and ev.op == "aten::bmm" for ev in trace.ops)


class Cumulative(nn.Module):
    def forward(self, x):
        return torch.cumsum(F.relu(x), 1).flip(1)


def test_an_operator_without_a_formula_is_listed_with_its_call_count():
    counted = count_module(nn.Sequential(Cumulative(), Cumulative()), (1, 4))
    assert counted.uncounted == (("aten::cumsum", 2), ("aten::flip", 2))
    assert counted.total("flops") == 2 * 4  # the two relu, nothing invented for the others
    # every recorded operator is either counted or listed: none is dropped
    assert len(counted.ops) + sum(n for _, n in counted.uncounted) == len(counted.trace.ops) == 6
    assert "uncounted operators: aten::cumsum x2, aten::flip x2" in counted.table()
    assert json.loads(counted.to_json())["uncounted"] == [{"op": "aten::cumsum", "calls": 2},
                                                          {"op": "aten::flip", "calls": 2}]


def test_mixed_model_figures_by_hand(counted_mixed):
    c = counted_mixed
    conv = conv2d_cost((2, 3, 8, 8), 8, 3, padding=1, bias=False)
    se = conv2d_cost((2, 16, 1, 1), 4, 1).macs + conv2d_cost((2, 4, 1, 1), 16, 1).macs
    qkv = linear_cost((2, 64, 16), 48).macs
    attention = 2 * (2 * 64 * 64 * 16)          # q k^T and (.) v, explicit and fused
    bmm = 2 * 64 * 16 * 16
    head = linear_cost((2, 16), 10).macs
    assert c.total("macs") == conv.macs + se + qkv + 2 * attention + bmm + head
    assert c.total("macs_without_padding") == c.total("macs") - conv.macs + conv.macs_without_padding
    assert c.total("params") == 8 * 27 + 16 + (16 * 4 + 4) + (4 * 16 + 16) + (16 * 48 + 48) + 32 + 16 * 10 + 10
    assert c.total("buffers") == 8 + 8 + 1 + 1  # running mean, var, num_batches_tracked, scale


def test_op_level_totals_equal_the_closed_form_layers(counted_resnet18):
    c = counted_resnet18
    names = [name for name, _ in c.layers]
    assert names[:2] == ["conv1", "maxpool"] and names[-1] == "fc"
    convs = [cost for _, cost in c.layers if cost.layer.op in ("conv2d", "linear")]
    assert c.total("macs") == sum(cost.macs for cost in convs)
    assert c.total("macs_without_padding") == sum(cost.macs_without_padding for cost in convs)
    assert c.total("params") == ARCHITECTURES["resnet18"][1]
    # 20 BatchNorms over 4,800 channels: running mean and variance, and num_batches_tracked
    assert c.total("buffers") == 2 * 4_800 + 20
    assert {t for _, t in c.skipped} == {"BatchNorm2d", "ReLU", "AdaptiveAvgPool2d"}
    pool = pool2d_cost((1, 64, 32, 32), 3, 2, 1)
    assert dict(c.layers)["maxpool"] == pool


def test_resnet18_at_224_is_the_published_count():
    # "1.8 x 10^9 FLOPs" (multiply-adds), He et al. 2016; 11,689,512 parameters with BatchNorm
    with torch.device("meta"):
        model = ARCHITECTURES["resnet18"][0]()
    c = count_module(model, (1, 3, 224, 224))
    assert c.total("macs") == 1_814_073_344
    assert c.total("params") == 11_689_512


@pytest.mark.parametrize("by", ["layer", "block"])
def test_rows_add_up_to_the_totals(counted_resnet18, by):
    c = counted_resnet18
    rows = c.rows(by)
    for figure in FIGURES:
        assert sum(r[figure] for r in rows) == c.total(figure), figure
    for tool in ("fvcore", "thop", "torchinfo", "deepspeed", "torch"):
        assert sum(r[tool] for r in rows) == c.total_reported_by(tool), tool
    assert sum(r["params"] for r in rows) == c.total("params")
    if by == "block":
        assert [r["name"] for r in rows][:6] == ["conv1", "bn1", "relu", "maxpool", "layer1.0", "layer1.1"]


def test_what_autograd_keeps_is_attributed_to_rows(counted_resnet18):
    c = counted_resnet18
    rows = {r["name"]: r for r in c.rows("block", 1)}
    assert sum(r["saved_bytes"] for r in rows.values()) == c.total("saved_bytes") > 0
    assert rows["fc"]["saved_bytes"] == 512 * 4  # the flattened input; weight.t() is the weight
    assert rows["conv1"]["saved_bytes"] == 3 * 64 * 64 * 4  # the image the first conv saves


def test_known_tool_deviations_are_flagged_per_row(counted_mixed, counted_resnet18):
    notes = {r["name"]: r["notes"] for r in counted_resnet18.rows()}
    assert any("ptflops: counted by the module hook and again" in n for n in notes["relu"])
    mixed_notes = [n for r in counted_mixed.rows() for n in r["notes"]]
    for expected in ("fvcore: aten::scaled_dot_product_attention is unsupported",
                     "torch: scaled_dot_product_attention on CPU has no FlopCounterMode formula",
                     "deepspeed: a @ b is counted twice",
                     "torchinfo: a Linear on a >2-D input counts only output_shape[0] rows",
                     "ptflops: LayerNorm's affine map is not counted",
                     "thop: 216 parameters of unregistered modules"):
        assert any(n.startswith(expected) for n in mixed_notes), expected


def test_the_known_per_layer_deviations_are_flagged():
    rows = count_module(quirks(), (1, 3, 8, 8)).rows()
    notes = {r["name"]: r["notes"] for r in rows}
    assert notes["0"] == ["fvcore: padding given as a string traces to aten::_convolution_mode, not counted",
                          "deepspeed: padding='same' with an odd d(k-1) is counted one output row/column short"]
    assert notes["1"] == ["torch: the backward weight gradient of a grouped conv is counted groups times"]
    assert notes["2"] == ["thop: a transposed conv is counted with the forward-conv formula on its output",
                          "torchinfo: a transposed conv counts its weights at every output position"]
    assert notes["3"] == ["ptflops: counted by the module hook and again by the patched functional"]
    assert notes["5"] == ["torchinfo: a Linear on a >2-D input counts only output_shape[0] rows"]


def test_float64_model_counts_like_float32_with_twice_the_bytes():
    model = ARCHITECTURES["mobilenet_v3_small"][0]()
    single = count_module(model, (1, 3, 32, 32))
    double = count_module(model.double(), (1, 3, 32, 32))
    for figure in ("macs", "macs_without_padding", "flops", "params"):
        assert double.total(figure) == single.total(figure)
    assert double.total("activation_bytes") == 2 * single.total("activation_bytes")
    convs = [ev for ev in double.trace.ops if ev.op == "aten::convolution"]
    assert convs and all(ev.outputs[0].dtype == "float64" for ev in convs)


def test_the_model_given_is_left_alone():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    count_module(model, (1, 3, 8, 8))
    assert model.training and all(p.device.type == "cpu" for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model[0].weight.grad is None


def test_progress_reports_each_top_level_module():
    seen = []
    count_module(ARCHITECTURES["vgg11"][0](), (1, 3, 32, 32), progress=seen.append)
    assert seen == [1, 1, 1]  # features, avgpool, classifier


def test_json_and_csv(counted_mixed):
    data = json.loads(counted_mixed.to_json(by="block", depth=1))
    assert data["totals"]["macs"] == counted_mixed.total("macs")
    assert {t["tool"] for t in data["tools"]} == {"fvcore", "ptflops", "thop", "torchinfo", "deepspeed", "torch"}
    assert data["conventions"]["flops"].startswith("FLOPs")
    rows = list(csv.DictReader(io.StringIO(counted_mixed.to_csv(tools=("torch",)))))
    assert rows[-1]["name"] == "total" and int(rows[-1]["torch"]) == counted_mixed.total_reported_by("torch")
    assert "fvcore" not in rows[0]


@pytest.mark.parametrize("args, error, match", [
    (("not a model", (1, 3, 8, 8)), TypeError, r"count_module: module must be a torch.nn.Module, got str"),
    ((nn.ReLU(), (1, 0, 8)), ValueError, r"count_module: input_shape must be positive ints, got \(1, 0, 8\)"),
])
def test_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        count_module(*args)


def test_unknown_tool_and_figure(counted_mixed):
    with pytest.raises(ValueError, match=r"total_reported_by: unknown tool 'flopz'; valid tools: fvcore, "):
        counted_mixed.total_reported_by("flopz")
    with pytest.raises(ValueError, match=r"total: unknown figure 'mac'; valid figures: macs, "):
        counted_mixed.total("mac")
    with pytest.raises(ValueError, match=r"rows: by='stage' must be 'layer' or 'block'"):
        counted_mixed.rows("stage")
