"""``convsym cost --model PACKAGE.MODULE:CALLABLE --input N,C,H,W`` (needs torch)."""

from __future__ import annotations

import csv
import io
import json

import pytest

pytest.importorskip("torch")

from convsym.cli import main  # noqa: E402


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_table_with_totals_and_the_tool_comparison():
    code, out, err = run("cost", "--model", "tests.zoo:resnet18", "--input", "1,3,32,32")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["name", "type", "output", "MACs"]
    assert any(line.startswith("layer4.1.conv2") for line in lines)
    total = next(line for line in lines if line.startswith("total"))
    assert "37,523,456" in total  # convsym's dense MACs at 32x32
    assert "uncounted operators: none" in out
    comparison = {line.split()[0]: line for line in lines[lines.index(next(
        line for line in lines if line.startswith("tool "))):]}
    assert comparison["torch"].split()[-1] == "-" and " = " in comparison["torch"] + " "
    assert "+0.27%" in comparison["fvcore"]
    assert err.startswith("counted 90 operators of tests.zoo:resnet18 in ")


def test_json_by_block():
    code, out, _ = run("cost", "--model", "tests.zoo:vgg11", "--input", "1,3,32,32", "--json", "--by", "block",
                       "--depth", "1")
    assert code == 0
    data = json.loads(out)
    assert [r["name"] for r in data["rows"]] == ["features", "avgpool", "classifier"]
    assert data["totals"]["params"] == 132_863_336
    assert data["input_shape"] == [1, 3, 32, 32]


def test_csv_with_one_tool():
    code, out, _ = run("cost", "--model", "tests.zoo:mixed", "--input", "2,3,8,8", "--csv", "--tool", "thop")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert "thop" in rows[0] and "fvcore" not in rows[0]
    assert rows[-1]["name"] == "total" and rows[-1]["thop"] == "115264"


@pytest.mark.parametrize("argv, message", [
    (["--model", "tests.zoo"], "convsym cost: --model 'tests.zoo' must be PACKAGE.MODULE:CALLABLE (dotted names)"),
    (["--model", "os.system('x'):y"], "must be PACKAGE.MODULE:CALLABLE"),
    (["--model", "no_such_package_16:f"], "cannot import 'no_such_package_16'"),
    (["--model", "tests.zoo:nothing"], "'tests.zoo' has no attribute 'nothing'"),
    (["--model", "tests.zoo:ARCHITECTURES"], "'ARCHITECTURES' is not callable"),
    (["--model", "tests.zoo:_make_divisible"], "_make_divisible() missing"),
    (["conv2d", "--model", "tests.zoo:resnet18"], "give a LAYER or --model, not both"),
    ([], "give a LAYER (conv2d, conv_transpose2d, max_pool2d, avg_pool2d, linear) or --model"),
    (["conv2d", "--out-channels", "4", "--csv"], "--csv, --tool and --by apply to --model only"),
    (["--model", "tests.zoo:resnet18", "--json", "--csv"], "--json and --csv exclude each other"),
    (["--model", "tests.zoo:resnet18", "--input", "1,4,32,32"], "does not run on an input (1, 4, 32, 32)"),
])
def test_usage_errors(argv, message):
    if "--input" not in argv:
        argv = [*argv, "--input", "1,3,32,32"]
    code, out, err = run("cost", *argv)
    assert code == 2 and out == ""
    assert message in err
