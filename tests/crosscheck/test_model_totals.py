"""``proofs/data/model_totals.json`` (the whole-model table of the book) is what the installed
tools and convsym give today: recomputed here with the real tools on every architecture of
the file at the file's input size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from convsym.cost import TOOLS  # noqa: E402
from tests.crosscheck.model_tools import REFRESH, TOTALS_FIELDS, TOTALS_PATH, model_totals  # noqa: E402

pytestmark = [pytest.mark.crosscheck, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
TOOL_MODULES = ("fvcore.nn", "ptflops", "thop", "torchinfo", "deepspeed.profiling.flops_profiler")


def _differences(old, new, path="") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            out += _differences(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            label = a.get("name", a.get("path", i)) if isinstance(a, dict) else i
            out += _differences(a, b, f"{path}[{label}]")
        return out
    return [] if old == new else [f"{path}: committed {old!r}, now {new!r}"]


@pytest.fixture(scope="module")
def committed():
    return json.loads((ROOT / TOTALS_PATH).read_text())


def test_the_committed_table_is_up_to_date(committed):
    for module in TOOL_MODULES:
        pytest.importorskip(module, reason="the table needs every counting tool (pip install -e '.[crosscheck]')")
    fresh = model_totals(committed["size"], [a["name"] for a in committed["architectures"]])
    differences = _differences(committed, json.loads(json.dumps(fresh)))
    assert not differences, (f"{TOTALS_PATH} is stale ({len(differences)} differences, first: "
                             f"{'; '.join(differences[:5])}); run: {REFRESH}")


def test_every_cell_is_equal_or_says_why(committed):
    assert committed["fields"] == TOTALS_FIELDS, f"the field descriptions changed; run: {REFRESH}"
    assert committed["tools"] == list(TOOLS)
    assert len(committed["architectures"]) >= 8
    for entry in committed["architectures"]:
        assert sorted(entry["tools"]) == sorted(TOOLS), entry["name"]
        for tool, cell in entry["tools"].items():
            assert cell["equal"] == (cell["reason"] is None), (entry["name"], tool)
            if cell["equal"]:
                assert cell["convsym"] == cell["tool"] and cell["params_convsym"] == cell["params_tool"]
                assert cell["convsym_macs"] == cell["tool_macs"]
        assert entry["convsym"]["uncounted"] == [], entry["name"]
    assert committed["layer_shapes"]["model"] == "resnet18"
    convs = [layer for layer in committed["layer_shapes"]["layers"] if layer["op"] == "conv2d"]
    assert len(convs) == 20 and convs[0]["output_shape"] == [1, 64, committed["size"] // 2, committed["size"] // 2]
