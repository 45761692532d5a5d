"""Bad input to the validator gets a clear error or an ``unmatched`` entry, never a crash or a
silent pass: a BatchNorm in training mode, a layer the validator or the exporter does not
support, a graph that is not a DAG of nodes in ONNX's topological order."""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from convsym.cli import main
from convsym.onnx import validate_models, validate_torch

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
nn = torch.nn
pytestmark = pytest.mark.models


def helpers():
    import importlib.util

    spec = importlib.util.spec_from_file_location("convsym_models_conftest", Path(__file__).parent / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H = helpers()


def test_inside_the_package_onnx_is_the_top_level_onnx():
    from convsym.onnx.graph import _onnx

    assert _onnx() is sys.modules["onnx"]
    assert "convsym" not in Path(_onnx().__file__).parts


def conv_bn_graph(training_mode: int):
    """Conv -> BatchNormalization written in ONNX, the BN with ``training_mode``."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    inits = {"w": rng.standard_normal((4, 3, 3, 3)), "b": rng.standard_normal(4),
             "gamma": rng.standard_normal(4) + 1, "beta": rng.standard_normal(4),
             "mean": rng.standard_normal(4), "var": rng.random(4) + 0.5}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["y", "gamma", "beta", "mean", "var"], ["z"], name="bn",
                              training_mode=training_mode)]
    graph = helper.make_graph(
        nodes, "convbn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_training_mode_batchnorm_is_not_folded_silently(mutants):
    good = validate_models(conv_bn_graph(0), mutants.fuse_bn(conv_bn_graph(0)))
    assert good.ok, good.table()
    original = conv_bn_graph(1)
    report = validate_models(original, mutants.fuse_bn(original))  # a fold that ignores training_mode
    assert not report.ok
    conv = report.nodes[0]
    assert conv.status == "unmatched" and "training_mode=1" in conv.reason and "'bn'" in conv.reason


def test_validate_torch_refuses_a_module_in_training_mode(nets):
    model = nets.resnet18()
    model.layer1[0].bn1.train()
    with pytest.raises(ValueError, match=r"validate_torch: BatchNorm2d 'layer1.0.bn1' of ORIGINAL is in training mode"):
        validate_torch(model, nets.resnet18(), torch.randn(1, 3, 32, 32))
    assert model.layer1[0].bn1.training  # the user's module is not switched silently


def test_validate_torch_refuses_a_layer_the_exporter_cannot_export():
    class Eigen(nn.Module):
        def forward(self, x):
            return torch.linalg.eigvals(x[0, 0]).real

    with pytest.raises(ValueError, match=r"validate_torch: torch.onnx.export cannot export ORIGINAL \(Eigen\): "
                                         r"UnsupportedOperatorError"):
        validate_torch(Eigen(), Eigen(), torch.randn(1, 1, 3, 3))
    with pytest.raises(TypeError, match="validate_torch: OPTIMIZED must be a torch.nn.Module, got str"):
        validate_torch(Eigen(), "model.onnx", torch.randn(1, 1, 3, 3))


def test_a_conv1d_fold_is_unmatched_with_its_reason():
    model = nn.Sequential(nn.Conv1d(3, 4, 3, padding=1), nn.BatchNorm1d(4)).eval()
    with torch.no_grad():
        model[1].running_mean.normal_()
        model[1].running_var.uniform_(0.5, 2)
    original = H.export(model, torch.randn(1, 3, 10))
    optimized = H.optimized(original, "onnxruntime", Path(tempfile.mkdtemp()))
    assert [n.op_type for n in optimized.graph.node] == ["Conv"]  # onnxruntime folded the BN
    report = validate_models(original, optimized)
    assert not report.ok
    assert report.nodes[0].status == "unmatched"
    assert report.nodes[0].reason.startswith("only 2-D convolutions (4-D weights) are validated")


def test_a_graph_that_is_not_a_dag_is_refused(tmp_path):
    original = conv_bn_graph(0)
    cyclic = onnx.ModelProto()
    cyclic.CopyFrom(original)
    conv = cyclic.graph.node[0]
    conv.input[0] = "z"  # the conv reads the BN's output: a cycle (and a node out of order)
    with pytest.raises(ValueError, match=r"validate: OPTIMIZED graph is not a DAG of nodes in topological order "
                                         r"\(ONNX's rule\): node 'conv' \(Conv\) reads 'z'"):
        validate_models(original, cyclic)
    twice = onnx.ModelProto()
    twice.CopyFrom(original)
    twice.graph.node[1].output[0] = "y"  # the BN overwrites the conv's output
    with pytest.raises(ValueError, match=r"validate: ORIGINAL graph is not a DAG .*node 'bn' .*produces 'y', "
                                         r"which is already defined"):
        validate_models(twice, original)
    onnx.save(original, str(tmp_path / "a.onnx"))
    onnx.save(cyclic, str(tmp_path / "b.onnx"))
    err = io.StringIO()
    assert main(["validate", str(tmp_path / "a.onnx"), str(tmp_path / "b.onnx")], io.StringIO(), err) == 2
    assert "is not a DAG" in err.getvalue()
