"""The committed validation report of resnet18 after onnxruntime (proofs/data/
validation_resnet18.json, data for the book) is current: regenerated here and compared."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.models


def generator():
    spec = importlib.util.spec_from_file_location("convsym_models_validation_report",
                                                  Path(__file__).parent / "validation_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_validation_report_is_current():
    gen = generator()
    data, seconds = gen.build()
    assert gen.OUTPUT.is_file(), f"{gen.OUTPUT} is missing: run `{gen.REFRESH}`"
    committed = json.loads(gen.OUTPUT.read_text())
    assert committed == json.loads(gen.render(data)), (
        f"{gen.OUTPUT.relative_to(gen.ROOT)} is not current: run `{gen.REFRESH}` and commit it")
    assert gen.OUTPUT.read_text() == gen.render(data), f"not in canonical form: run `{gen.REFRESH}`"
    # what the book says of it
    assert data["ok"] and data["counts"] == {"verified": 49, "wrong": 0, "unmatched": 0}
    folds = [n for n in data["nodes"] if n["rule"] == "conv-chain"]
    assert len(folds) == 20 and all(n["theorem"] == "folding.bn-after-conv-exact" for n in folds)
    assert all("gamma_" in n["bound"] for n in folds)
    assert "max_error_ratio" not in json.dumps(data)  # measurements are not stored (not deterministic)
    assert seconds < 60, f"validating resnet18 took {seconds:.1f} s"
