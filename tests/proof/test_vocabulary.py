"""The vocabulary of a proof script: one import, emitted checks as real functions, operations
called with keyword arguments, instances keyed by the sizes' Python names."""

from __future__ import annotations

import ast
import importlib
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy
from sympy import IndexedBase

import convsym.reference as ref
from convsym.errors import RenderError
from convsym.proof import (
    Checked,
    Distribute,
    Family,
    Fold,
    General,
    Let,
    OpDef,
    Range,
    Refutation,
    SumExpr,
    Term,
    Unfold,
    check_text,
    defs,
    figures,
    index,
    load_checks,
    ops,
    sizes,
)
from convsym.proof.verdict import Verdict
from convsym.render.checks import render_checks

ROOT = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------------------------------------
# one import


def test_one_import_gives_the_operation_modules():
    assert defs is importlib.import_module("convsym.symbolic.opdefs")
    assert ops is importlib.import_module("convsym.exact.ops")
    assert figures is importlib.import_module("convsym.render.figures")
    with pytest.raises(AttributeError, match="module 'convsym.proof' has no attribute 'nonsense'"):
        importlib.import_module("convsym.proof").nonsense  # noqa: B018


@pytest.mark.parametrize(("old", "new"), [
    ("convsym.symbolic.rules", "convsym.symbolic.rules"), ("convsym.symbolic.sums", "convsym.symbolic.sums"),
    ("convsym.symbolic.opdefs", "convsym.symbolic.opdefs"), ("convsym.exact.ops", "convsym.exact.ops"),
    ("convsym.proof.verdict", "convsym.proof.verdict"), ("convsym.symbolic.symbols", "convsym.symbolic.symbols"),
])
def test_old_import_paths_still_resolve(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)


def test_every_op_definition_lives_in_opdefs():
    # the scripts apply operations; none defines one (and none calls a printer's private _print)
    for path in sorted((ROOT / "proofs").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert "OpDef(" not in text and "_print(" not in text, path.name
    assert len([v for v in vars(defs).values() if isinstance(v, OpDef)]) == 22


# ---------------------------------------------------------------------------------------------
# check_source as functions


CHECKS_MODULE = '''\
"""Checks of a toy script."""

import numpy as np

import convsym.reference as ref


def _double(v):
    return 2 * v


def test_double_is_a_sum():
    x = np.arange(4)
    assert (_double(x) == x + x).all()
    assert ref.conv1d(x[None, None], np.ones((1, 1, 1)))[0, 0].tolist() == x.tolist()


def _confirm_toy_witness(witness):
    a, b = witness["inputs"]["a"], witness["inputs"]["b"]
    assert a - b == witness["lhs"] and b - a == witness["rhs"] and a - b != b - a


def test_imports_inside():
    import os  # not allowed in an emitted check
    assert os
'''


@pytest.fixture
def toy_checks(tmp_path):
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "toy.py").write_text(CHECKS_MODULE, encoding="utf-8")
    script = tmp_path / "toy.py"
    script.write_text("", encoding="utf-8")
    return load_checks(script)


def _derive(P):
    a, b = sympy.symbols("a b", integer=True)
    P.equal("swap", a + b, b + a, rule="commute")


def test_functions_are_emitted_as_their_source_and_run(toy_checks):
    theorem = Checked("toy.double", "t", "s", derive=_derive,
                      check_source=(toy_checks._double, toy_checks.test_double_is_a_sum))
    text = theorem.check_source
    assert text.index("def _double(v):") < text.index("def test_double_is_a_sum():")
    emitted = render_checks(Family("toy", "Toy"), [theorem])
    namespace: dict = {}
    exec(compile(emitted, "test_toy.py", "exec"), namespace)  # noqa: S102 - the emitted file, as pytest runs it
    namespace["test_double_is_a_sum"]()
    assert namespace["np"] is np and namespace["ref"] is ref and namespace["Fraction"] is Fraction


def test_source_text_and_generated_parts_mix(toy_checks):
    text = check_text("toy.x", ("TABLE = [1, 2]", toy_checks.test_double_is_a_sum))
    assert text.strip().startswith("TABLE = [1, 2]\n\n\ndef test_double_is_a_sum():")


@pytest.mark.parametrize(("source", "message"), [
    (lambda: None, "check_source of toy.x: a lambda has no name to emit"),
    (3, "check_source of toy.x: got int"),
    ((), "check_source of toy.x: an empty sequence of functions checks nothing"),
    ((print,), "check_source of toy.x: <built-in function print> is a builtin_function_or_method"),
])
def test_check_source_rejects_what_has_no_source(source, message):
    with pytest.raises(TypeError, match=message):
        Checked("toy.x", "t", "s", derive=_derive, check_source=source)


def test_check_source_is_read_when_first_needed(toy_checks):
    namespace: dict = {}
    exec(compile("def test_made_here():\n    assert True\n", "<nowhere>", "exec"), namespace)  # noqa: S102
    # no file holds this function's source: the theorem is made, the error comes on reading
    theorem = Checked("toy.late", "t", "s", derive=_derive, check_source=namespace["test_made_here"])
    with pytest.raises(TypeError, match="check_source of toy.late: cannot read the source of test_made_here"):
        theorem.check_source  # noqa: B018
    read = Checked("toy.read", "t", "s", derive=_derive, check_source=toy_checks.test_double_is_a_sum)
    assert read.check_source == check_text("toy.read", toy_checks.test_double_is_a_sum)
    read.check_source = ""
    assert read.check_source == ""
    with pytest.raises(TypeError, match="check_source can be set to source text only, got function"):
        read.check_source = toy_checks.test_double_is_a_sum


def test_a_function_that_imports_is_refused_when_emitted(toy_checks):
    theorem = Checked("toy.imports", "t", "s", derive=_derive, check_source=toy_checks.test_imports_inside)
    with pytest.raises(RenderError, match="the check of toy.imports imports at line 2"):
        render_checks(Family("toy", "Toy"), [theorem])


def test_load_checks_names_the_missing_module(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"load_checks: no checks module .*checks/alone\.py"):
        load_checks(tmp_path / "alone.py")


def test_a_witness_check_may_be_a_function(toy_checks):
    theorem = Refutation("toy.sub-commutes", "t", "s", lhs=lambda a, b: a - b, rhs=lambda a, b: b - a,
                         witness={"a": 1, "b": 0}, check_source=toy_checks._confirm_toy_witness,
                         witness_check=toy_checks._confirm_toy_witness)
    verdict = theorem.prove()
    assert isinstance(verdict, Verdict) and verdict.verdict == "refuted"
    text = theorem.check_source_for(verdict)
    assert "def _confirm_toy_witness(witness):" in text
    assert text.rstrip().endswith("_confirm_toy_witness(witness)")
    namespace = {"np": np, "ref": ref, "Fraction": Fraction}
    exec(compile(text, "<check>", "exec"), namespace)  # noqa: S102 - the emitted check
    namespace["test_witness_sub_commutes"]()


def test_shipped_checks_modules_import_only_what_the_emitted_file_provides():
    modules = sorted((ROOT / "proofs" / "checks").glob("*.py"))
    assert len(modules) >= 15
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {(alias.name, alias.asname) for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported |= {(f"{node.module}.{alias.name}", alias.asname) for alias in node.names}
        assert imported <= {("numpy", "np"), ("convsym.reference", "ref"), ("fractions.Fraction", None)}, path.name
        # no top-level import inside a function either: the emitted block would be refused
        for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
            assert not any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(fn)), (path.name, fn.name)


def test_no_check_source_string_is_left_in_the_section_scripts():
    # the tutorial keeps its checks as text (it is the file a user copies alone); the others load theirs
    for path in sorted((ROOT / "proofs").glob("*.py")):
        if path.name.startswith("_") or path.name == "tutorial.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert "def test_" not in text, path.name
        assert "load_checks(__file__)" in text or "check_source" not in text, path.name


# ---------------------------------------------------------------------------------------------
# operations with keyword arguments


k, s = sizes("k s")
i, a = index("i a")
x, w = IndexedBase("x"), IndexedBase("w")


def test_stride_and_dilation_by_keyword():
    assert defs.conv1d(x, w, k, i, stride=s) == defs.conv1d(x, w, k, i, s, 1)
    assert defs.conv1d(x, w, k, i) == defs.conv1d(x, w, k, i, stride=1, dilation=1)
    assert defs.conv1d(x, w, k, i, dilation=2).args[-2:] == (1, 2)
    assert sympy.sstr(defs.conv1d(x, w, k, i)) == "conv1d(x, w, k, i)"
    assert sympy.sstr(defs.conv1d(x, w, k, i, dilation=2)) == "conv1d(x, w, k, i, 1, 2)"
    assert sympy.latex(defs.conv1d(x, w, k, i, stride=s)) == r"\left(x \star_{s,1} w\right)_{i}"
    with pytest.raises(TypeError, match=r"conv1d\(x: .*stride=1, dilation=1\) -> .*: got an unexpected "
                                        r"keyword argument 'strides'"):
        defs.conv1d(x, w, k, i, strides=2)
    with pytest.raises(TypeError, match=r"conv1d.*missing a required argument: 'i'"):
        defs.conv1d(x, w, k)


def test_the_latex_callback_receives_printed_arguments():
    seen = []

    def latex(v, n):
        seen.append((v, n))
        return rf"\Sigma_{{{n}}} {v}"

    total = OpDef("total_n", lambda v, n: SumExpr.of(Term(v[a], (Range.of(a, 0, n - 1),))), latex)
    assert sympy.latex(total(IndexedBase("w^{(1)}"), k + 1)) == r"\Sigma_{k + 1} w^{(1)}"
    assert seen == [("w^{(1)}", "k + 1")]


# ---------------------------------------------------------------------------------------------
# instances by the sizes' Python names


def _linear(instances):
    (kin,) = sizes("k_{in}")
    y, z = IndexedBase("y"), IndexedBase("z")
    z_def = Let(z, lambda j: SumExpr.of(x[j], y[j]))
    return General(
        "toy.linear", "t", "s",
        lhs=defs.conv1d(z, w, kin, i), rhs=defs.conv1d(x, w, kin, i) + defs.conv1d(y, w, kin, i), lets=[z_def],
        derivation=[Unfold("conv1d", ("a",)), Unfold("z"), Distribute(),
                    Fold(defs.conv1d(x, w, kin, i), ("a",)), Fold(defs.conv1d(y, w, kin, i), ("a",))],
        instances=instances,
    )


def test_instances_may_name_sizes_in_python():
    assert _linear([{"k_in": 2}, {"k_{in}": 3}]).prove().verdict == "proved"


def test_an_unknown_instance_name_lists_the_python_names():
    verdict = _linear([{"k_out": 2}]).prove()
    assert verdict.verdict == "failed"
    assert "names 'k_out', which is not a size or position of the statement (i, k_in)" in verdict.error


def test_the_readme_import_lines_import():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Writing your own proof"):readme.index("## Installing")]
    lines = [line.strip() for line in section.splitlines() if line.strip().startswith("from convsym.proof import")]
    assert len(lines) == 2
    namespace: dict = {}
    exec("\n".join(lines), namespace)  # noqa: S102 - the README's own import lines
    assert namespace["D"] is defs and namespace["ops"] is ops and namespace["General"] is General
    # every `convsym.<path>` the section names still imports
    for dotted in sorted(set(re.findall(r"`(convsym(?:\.\w+)+)`", section))):
        importlib.import_module(dotted)
