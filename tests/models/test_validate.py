"""Translation validation (convsym.onnx, ``convsym validate``) on real optimizers and on
deliberately broken ones: every real fusion is verified, every mutant is caught as wrong with a
witness input."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest

from convsym.cli import main
from convsym.onnx import validate_models

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
nn = torch.nn
pytestmark = pytest.mark.models

OPTIMIZERS = ["onnxoptimizer", "onnxruntime", "onnxsim"]


def helpers():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("convsym_models_conftest", Path(__file__).parent / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H = helpers()


@pytest.fixture(scope="module")
def reports(onnx_models, tmp_path_factory):
    """(model, optimizer) -> (optimized model, report, seconds)."""
    out = {}
    for name, (_, _, model) in onnx_models.items():
        for optimizer in OPTIMIZERS:
            opt = H.optimized(model, optimizer, tmp_path_factory.mktemp(f"{name}-{optimizer}"))
            start = time.perf_counter()
            report = validate_models(model, opt)
            out[name, optimizer] = (opt, report, time.perf_counter() - start)
    return out


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "repvgg"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_node_after_a_real_optimizer_is_verified(reports, name, optimizer):
    opt, report, _ = reports[name, optimizer]
    assert report.ok, report.table()
    ops = [n.op_type for n in opt.graph.node]
    assert "BatchNormalization" not in ops or name == "repvgg"  # repvgg keeps its identity-branch BNs
    folds = [n for n in report.nodes if n.rule == "conv-chain"]
    expected = {"resnet18": 20, "mobilenet_v2": 52, "repvgg": 8}[name]
    assert len(folds) == expected
    assert all(n.theorem == "folding.bn-after-conv-exact" and n.max_error_ratio <= 1 for n in folds)


def test_resnet18_validation_takes_seconds(reports):
    _, report, seconds = reports["resnet18", "onnxruntime"]
    assert report.counts() == {"verified": 49, "wrong": 0, "unmatched": 0}
    assert seconds < 30, seconds


def test_fx_fuse_is_verified(nets):
    from torch.fx.experimental.optimization import fuse

    from convsym.torch import validate

    for model, shape in ((nets.resnet18(), (1, 3, 64, 64)), (nets.mobilenet_v2(), (1, 3, 64, 64))):
        fused = fuse(model)
        report = validate(model, fused, torch.randn(shape))
        assert report.ok, report.table()
        assert sum(n.rule == "conv-chain" for n in report.nodes) in (20, 52)


def test_convsym_optimize_output_is_verified(nets):
    from convsym.torch import optimize, validate

    model = nets.resnet18()
    x = torch.randn(1, 3, 64, 64)
    new, _ = optimize(model, x, trials=1)
    report = validate(model, new, x)
    assert report.ok, report.table()


def pad_model():
    """Pad (asymmetric, constant pads) -> Conv, written directly in ONNX so that
    onnxoptimizer's fuse_pad_into_conv applies."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    pads = np.array([0, 0, 1, 2, 0, 0, 2, 1], dtype=np.int64)
    nodes = [helper.make_node("Pad", ["x", "pads"], ["p"], name="pad"),
             helper.make_node("Conv", ["p", "w", "b"], ["y"], name="conv", pads=[1, 0, 1, 0])]
    graph = helper.make_graph(
        nodes, "pad", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 9, 9])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"),
                     numpy_helper.from_array(pads, "pads")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_fuse_pad_into_conv_is_verified(tmp_path):
    model = pad_model()
    opt = H.optimized(model, "onnxoptimizer", tmp_path)
    assert [n.op_type for n in opt.graph.node] == ["Conv"]
    report = validate_models(model, opt)
    assert report.ok and report.nodes[0].rule == "pad-into-conv", report.table()


def small_nets(nets):
    torch.manual_seed(3)
    tconv = nets.randomize_bn(nn.Sequential(
        nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1, groups=2), nn.BatchNorm2d(4)), 3)
    relu6 = nets.randomize_bn(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU6(),
                                            nn.Conv2d(8, 5, 3, padding=1)), 4)
    relu = nets.randomize_bn(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                           nn.Conv2d(8, 5, 3, padding=1)), 5)
    return {
        "repvgg-g2": H.export(nets.repvgg(groups=2), torch.randn(1, 3, 32, 32)),
        "tconv": H.export(tconv, torch.randn(1, 4, 8, 8)),
        "relu6": H.export(relu6, torch.randn(1, 3, 12, 12)),
        "relu": H.export(relu, torch.randn(1, 3, 12, 12)),
    }


@pytest.fixture(scope="module")
def small(nets, tmp_path_factory):
    models = small_nets(nets)
    for name in ("relu6", "relu"):  # BN folded first, so the pair is conv -> act -> conv
        models[name] = H.optimized(models[name], "onnxruntime", tmp_path_factory.mktemp(name))
    return models


@pytest.mark.parametrize("name", ["repvgg-g2", "tconv"])
def test_a_correct_fusion_of_grouped_and_transposed_convs_is_verified(small, mutants, name):
    report = validate_models(small[name], mutants.fuse_bn(small[name]))
    assert report.ok, report.table()


def test_equalization_through_relu_is_verified(small, mutants):
    report = validate_models(small["relu"], mutants.equalize_through(small["relu"], "Relu"))
    assert report.ok, report.table()
    assert [n.theorem for n in report.nodes] == ["folding.cle-scale-out", "folding.cle-relu", "folding.cle-scale-in"]


MUTANTS = [
    ("bias-not-scaled", "repvgg-g2", "bias within gamma", "folding.bn-after-conv-exact"),
    ("eps-dropped", "repvgg-g2", "weights within gamma", "folding.bn-after-conv-exact"),
    ("group-permuted", "repvgg-g2", "weights within gamma", "folding.bn-after-conv-exact"),
    ("transposed-axis", "tconv", "weights within gamma", "folding.bn-after-conv-exact"),
    ("padding-dropped", "pad", "padding: conv pads + Pad zeros", None),
    ("cle-through-relu6", "relu6", None, "folding.cle-relu6"),
]


@pytest.mark.parametrize("mutation, net, condition, theorem", MUTANTS)
def test_every_mutant_is_caught_with_a_witness(small, mutants, mutation, net, condition, theorem):
    if mutation == "padding-dropped":
        original, broken = pad_model(), mutants.drop_pad(pad_model())
    elif mutation == "cle-through-relu6":
        original = small[net]
        broken = mutants.equalize_through(original, "Clip")
    else:
        original = small[net]
        broken = mutants.fuse_bn(original, mutation)
    report = validate_models(original, broken)
    assert not report.ok
    wrong = [n for n in report.nodes if n.status == "wrong"]
    assert wrong, report.table()
    for n in wrong:
        assert n.theorem == theorem
        if condition is not None:
            assert any(c["name"].startswith(condition) and not c["holds"] for c in n.conditions), n.conditions
        witness = n.witness
        assert witness is not None, n
        if "detail" in witness:  # the padding changed the output size: the graphs cannot agree
            assert witness["detail"].startswith("output shapes differ")
        else:
            assert witness["difference"] > witness["bound"]
    assert report.counts()["unmatched"] == 0


def test_cli_validate_exit_codes_and_json(tmp_path, small, mutants):
    good, bad = tmp_path / "good.onnx", tmp_path / "bad.onnx"
    orig = tmp_path / "orig.onnx"
    onnx.save(small["repvgg-g2"], str(orig))
    onnx.save(mutants.fuse_bn(small["repvgg-g2"]), str(good))
    onnx.save(mutants.fuse_bn(small["repvgg-g2"], "bias-not-scaled"), str(bad))
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(orig), str(good)], out, err) == 0
    assert "23 nodes: 23 verified, 0 wrong, 0 unmatched" in out.getvalue()
    out = io.StringIO()
    assert main(["validate", str(orig), str(bad), "--json"], out, err) == 1
    data = json.loads(out.getvalue())
    assert data["ok"] is False and data["counts"]["wrong"] == 8
    err = io.StringIO()
    assert main(["validate", str(tmp_path / "missing.onnx"), str(good)], io.StringIO(), err) == 2
    assert "validate_models: ORIGINAL" in err.getvalue() and "is not a file" in err.getvalue()
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    err = io.StringIO()
    assert main(["validate", str(tmp_path / "junk.onnx"), str(good)], io.StringIO(), err) == 2
    assert "is not an ONNX model" in err.getvalue()


def test_unknown_ops_are_unmatched_not_crashes(small):
    from onnx import helper

    model = onnx.ModelProto()
    model.CopyFrom(small["relu"])
    node = model.graph.node[1]  # the Relu becomes an op the validator knows nothing about
    weird = helper.make_node("MyCustomOp", list(node.input), list(node.output), name="custom", domain="my.domain")
    model.graph.node.remove(node)
    model.graph.node.insert(1, weird)
    report = validate_models(small["relu"], model)
    statuses = {n.node: n.status for n in report.nodes}
    assert statuses["custom"] == "unmatched" and not report.ok


def add_bias_model(group: int):
    """Conv (no bias, ``group`` groups) -> Add of a per-channel constant, written in ONNX."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(group)
    w = rng.standard_normal((6, 6 // group, 3, 3)).astype(np.float32)
    c = rng.standard_normal((1, 6, 1, 1)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1], group=group),
             helper.make_node("Add", ["y", "c"], ["z"], name="add")]
    graph = helper.make_graph(
        nodes, "addbias", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6, 7, 7])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(c, "c")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("group", [1, 2, 6])
@pytest.mark.parametrize("optimizer", ["onnxoptimizer", "onnxruntime"])
def test_fuse_add_bias_into_grouped_conv_is_verified(tmp_path, group, optimizer):
    model = add_bias_model(group)
    opt = H.optimized(model, optimizer, tmp_path)
    assert "Add" not in [n.op_type for n in opt.graph.node]  # onnxoptimizer leaves a Squeeze of the constant
    report = validate_models(model, opt)
    assert report.ok and [n.original for n in report.nodes] == [["conv", "add"]], report.table()


def test_add_bias_with_group_channels_permuted_is_wrong(tmp_path):
    """The reported Conv+Add-with-group bug: the bias of one group lands on another's channels."""
    from onnx import numpy_helper

    model = add_bias_model(2)
    opt = H.optimized(model, "onnxruntime", tmp_path)
    (conv,) = opt.graph.node
    const = {i.name: numpy_helper.to_array(i) for i in opt.graph.initializer}
    bias = const[conv.input[2]]
    swapped = np.concatenate([bias[3:], bias[:3]])
    for i, init in enumerate(opt.graph.initializer):
        if init.name == conv.input[2]:
            opt.graph.initializer[i].CopyFrom(numpy_helper.from_array(swapped, init.name))
    report = validate_models(model, opt)
    (node,) = report.nodes
    assert node.status == "wrong" and node.witness["difference"] > node.witness["bound"]
