"""The models tests need the ``models`` extra (torch, onnx, onnxruntime, onnxoptimizer); without
it every module here is skipped at collection (as in tests/crosscheck).

Session fixtures export the fixture networks to ONNX once and run each real optimizer once.
"""

from __future__ import annotations

import importlib.util
import io
import warnings
from pathlib import Path

import pytest

HERE = Path(__file__).parent
REASON = "the models tests need the models extra: pip install -e '.[models]'"


class ModelsModule(pytest.Module):
    """A test module collected only when torch and onnx import."""

    def collect(self):
        for name in ("torch", "onnx", "onnxruntime", "onnxoptimizer"):
            pytest.importorskip(name, reason=REASON)
        return super().collect()


def pytest_pycollect_makemodule(module_path, parent):
    if module_path.name.startswith("test_"):
        return ModelsModule.from_parent(parent, path=module_path)
    return None


def load(name: str):
    """A helper module of this folder (fixtures.py, onnx_mutants.py) by path."""
    spec = importlib.util.spec_from_file_location(f"convsym_models_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def nets():
    return load("fixtures")


@pytest.fixture(scope="session")
def mutants():
    return load("onnx_mutants")


def export(module, example):
    import onnx
    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), example, buffer, dynamo=False, opset_version=17, do_constant_folding=False)
    return onnx.load_from_string(buffer.getvalue())


def optimized(model, optimizer: str, tmp: Path):
    """``model`` after a real optimizer: onnxoptimizer's three fusions, onnxruntime's saved
    basic-level model, or onnxsim."""
    import onnx

    if optimizer == "onnxoptimizer":
        import onnxoptimizer

        return onnxoptimizer.optimize(model, ["fuse_bn_into_conv", "fuse_add_bias_into_conv", "fuse_pad_into_conv"])
    if optimizer == "onnxruntime":
        import onnxruntime as ort

        src, dst = tmp / "in.onnx", tmp / "ort.onnx"
        onnx.save(model, str(src))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(dst)
        ort.InferenceSession(str(src), options, providers=["CPUExecutionProvider"])
        return onnx.load(str(dst))
    if optimizer == "onnxsim":
        onnxsim = pytest.importorskip("onnxsim")
        simplified, ok = onnxsim.simplify(model)
        assert ok
        return simplified
    raise ValueError(optimizer)


@pytest.fixture(scope="session")
def onnx_models(nets):
    """name -> (torch module, example input, exported ONNX model)."""
    import torch

    torch.manual_seed(0)
    out = {}
    for name, module, shape in (
        ("resnet18", nets.resnet18(), (1, 3, 64, 64)),
        ("mobilenet_v2", nets.mobilenet_v2(), (1, 3, 64, 64)),
        ("repvgg", nets.repvgg(), (1, 3, 32, 32)),
    ):
        x = torch.randn(shape)
        out[name] = (module, x, export(module, x))
    return out
