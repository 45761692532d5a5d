"""The validation report of resnet18 after onnxruntime's basic-level optimization, as data for
the book: ``proofs/data/validation_resnet18.json`` (committed; ``test_validation_report.py``
checks that it is current).  Refresh with::

    python -m tests.models.validation_report

The model is the plain-torch fixture of torchvision's resnet18 (``fixtures.resnet18()``, seed 0,
non-trivial BatchNorm statistics), exported to ONNX (opset 17, no constant folding) with a
1 x 3 x 64 x 64 input, then optimized by onnxruntime (``ORT_ENABLE_BASIC``, saved optimized
model).  The file holds only what is deterministic (``Report.to_data``): no measured errors.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "proofs" / "data" / "validation_resnet18.json"
REFRESH = "python -m tests.models.validation_report"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"convsym_models_{name}", Path(__file__).parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build() -> tuple[dict, float]:
    """``(data, seconds)``: the report's data and the validation's wall time (not stored)."""
    import onnx
    import onnxruntime
    import torch

    from convsym.onnx import validate_models

    helpers, nets = _load("conftest"), _load("fixtures")
    torch.manual_seed(0)
    model = nets.resnet18()
    original = helpers.export(model, torch.randn(1, 3, 64, 64))
    with tempfile.TemporaryDirectory() as tmp:
        optimized = helpers.optimized(original, "onnxruntime", Path(tmp))
    report = validate_models(original, optimized)
    data = {
        "model": "resnet18 (tests/models/fixtures.py, seed 0), input 1 x 3 x 64 x 64, ONNX opset 17",
        "optimizer": "onnxruntime, GraphOptimizationLevel.ORT_ENABLE_BASIC, saved optimized model",
        "versions": {"onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__,
                     "torch": torch.__version__},
        "original_nodes": len(original.graph.node),
        "optimized_nodes": len(optimized.graph.node),
        "note": "measured errors (|optimizer - exact| / bound) depend on the optimizer's floating-point "
                "arithmetic and are left out; every verified node is within its bound",
        **report.to_data(),
    }
    return data, report.seconds


def render(data: dict) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def main() -> None:
    data, seconds = build()
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(render(data))
    c = data["counts"]
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {c['verified']} verified, {c['wrong']} wrong, "
          f"{c['unmatched']} unmatched (validation {seconds:.2f} s)")


if __name__ == "__main__":
    main()
