"""The validation appendix lists every node of the recorded report, each with its justification."""

from __future__ import annotations

import json

import pytest

from convsym.render.reports import validation_appendix, validation_nodes
from convsym.run.registry import default_proof_dir

DATA = json.loads((default_proof_dir() / "data" / "validation_resnet18.json").read_text())


def test_every_node_has_a_row_in_order():
    rows = [line for line in validation_nodes(DATA["nodes"], []) if line.rstrip().endswith(r"\\")][1:]
    assert len(rows) == len(DATA["nodes"]) == 49
    for k, (row, node) in enumerate(zip(rows, DATA["nodes"], strict=True), 1):
        assert row.startswith(f"{k} & ")
        assert node["status"] in row


def test_a_fold_names_its_theorem_and_bound():
    bound = DATA["nodes"][0]["bound"]
    rows = validation_nodes(DATA["nodes"][:1], [bound])
    assert "folding.bn-after-conv-exact" in rows[-3] and ", (1)" in rows[-3]


def test_the_appendix_carries_the_node_table():
    text = validation_appendix(DATA)
    assert text.count(r"\begin{longtable}") == 1 and "Node by node" in text


def test_a_node_without_its_fields_is_an_error():
    with pytest.raises(ValueError, match="validation_nodes"):
        validation_nodes([{"node": "/x/Conv"}], [])
