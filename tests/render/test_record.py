"""The machine record appendix and the per-axis folding of derivations (convsym.render.record).

The record is printed from what the proofs keep: the z3 queries of each step (as they were put
to z3), and the instance lists on which each step and each claim were evaluated exactly.  An
instance list is printed as disjoint boxes, which must hold exactly the instances evaluated.  A
derivation whose steps for the second axis are those for the first renamed shows the first axis
and says the rest in a sentence, with links to the records of every step it stands for.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sympy

from convsym.errors import RenderError
from convsym.proof.verdict import Instances, StepRecord
from convsym.render.latex import render_chapter, render_record
from convsym.render.record import (
    axis_repeats,
    box_tex,
    fold_repeats,
    instance_boxes,
    instances_view,
    query_view,
    record_view,
    renaming,
    shaped_boxes,
    value_set_tex,
)
from convsym.symbolic import decide

ROOT = Path(__file__).resolve().parents[2]


def _expand(boxes):
    return {row for box in boxes for row in itertools.product(*box)}


# ---------------------------------------------------------------------------------------------
# instance lists


def test_boxes_hold_exactly_the_instances():
    rows = [(str(k), str(s), str(p)) for k in range(1, 5) for s in range(1, 3) for p in range(0, 3) if p < k]
    rows += rows[:3]  # an instance evaluated twice is one instance of the set
    boxes = instance_boxes(rows)
    assert _expand(boxes) == set(rows)
    # disjoint, and fewer boxes than instances
    assert sum(len(list(itertools.product(*b))) for b in boxes) == len(set(rows))
    assert len(boxes) < len(set(rows))
    # a full product is one box
    product = [(str(a), str(b)) for a in range(1, 8) for b in (0, 1)]
    assert instance_boxes(product) == [(tuple(str(a) for a in range(1, 8)), ("0", "1"))]
    assert instance_boxes([]) == []
    with pytest.raises(RenderError, match="instance_boxes: the rows have different lengths"):
        instance_boxes([("1",), ("1", "2")])


def test_boxes_do_not_depend_on_the_order_of_the_instances():
    rows = [(str(a), str(b)) for a in range(4) for b in range(a, 4)]
    assert instance_boxes(rows) == instance_boxes(list(reversed(rows)))


def test_tuple_values_are_boxed_leaf_by_leaf():
    stacks = [(str(tuple((k, s, 1) for k, s in layers)),)
              for n in (1, 2) for layers in itertools.product(itertools.product((1, 2, 3), (1, 2)), repeat=n)]
    groups = shaped_boxes(stacks)
    assert [t for t, _ in groups] == [("(({}, {}, {}),)",), ("(({}, {}, {}), ({}, {}, {}))",)]
    # every stack of one or two layers is one box per length
    assert [len(boxes) for _, boxes in groups] == [1, 1]
    assert box_tex(*[(t, b[0]) for t, b in groups][1]) == (
        r"((\{1,\allowbreak\ 2,\allowbreak\ 3\},\allowbreak\ \{1,\allowbreak\ 2\},\allowbreak\ 1),"
        r"\allowbreak\ (\{1,\allowbreak\ 2,\allowbreak\ 3\},\allowbreak\ \{1,\allowbreak\ 2\},\allowbreak\ 1))")


def test_value_sets():
    assert value_set_tex(["1", "2", "3", "4", "6"]) == r"\{1, \dots, 4, 6\}"
    assert value_set_tex(["1", "2", "3"]) == r"\{1, 2, 3\}"
    assert value_set_tex(["-1"]) == "-1"
    assert value_set_tex(["relu", "relu6"]) == r"\{\text{relu}, \text{relu6}\}"


def test_instances_view_counts_and_names():
    view = instances_view(Instances("the claim", ("k_{1}", "i"), (("1", "0"), ("1", "1"), ("1", "1"))))
    assert view["count"] == 3 and view["distinct"] == 2
    assert view["names"] == "(k_{1}, i)"
    assert view["boxes"] == [r"(1,\allowbreak\ \{0,\allowbreak\ 1\})"]
    assert instances_view(None) is None
    with pytest.raises(RenderError, match="instances_view"):
        instances_view(Instances("x", ("k_{1",), (("1",),)))


# ---------------------------------------------------------------------------------------------
# z3 queries


def test_a_query_is_recorded_as_it_was_put():
    k = sympy.Symbol("k_1", integer=True, positive=True)
    a = sympy.Symbol("a", integer=True)
    with decide.recording() as log:
        d = decide.implies([a >= 0, a <= k - 1], [a < k], bound=[a])
    assert d.holds and log == [d.query]
    q = d.query
    assert q.kind == "implies" and q.outcome == "z3: no counterexample exists (unsat)"
    assert q.variables == (("a", ()), ("k_{1}", (r"k_{1} \ge 1",)))
    view = query_view(q)
    assert view["unknowns"] == [r"a \in \mathbb{Z}", r"k_{1} \ge 1"]
    assert [(r["head"], r["conjuncts"]) for r in view["rows"]] == [
        ("hypotheses", [r"a \geq 0", r"a \leq k_{1} - 1"]), ("goal", [r"a < k_{1}"])]
    assert view["answer"] == "no counterexample exists (unsat)"
    # a query outside a recording is kept on the decision only; a failed one keeps its counterexample
    d = decide.implies([a >= 0], [a <= k])
    assert not d.holds and dict(d.query.counterexample) == d.counterexample


def test_a_recording_keeps_its_own_queries():
    a = sympy.Symbol("a", integer=True)
    with decide.recording() as outer:
        decide.satisfiable([a >= 2])
        with decide.recording() as inner:
            decide.equivalent([a >= 1], [a > 0])
    assert [q.kind for q in outer] == ["satisfiable"] and [q.kind for q in inner] == ["equivalent"]


def test_a_formula_over_the_reals_is_recorded_in_math():
    import z3

    x, s = z3.Reals("x s")
    q = decide.formula_query("valid", [z3.ForAll([x, s], z3.Implies(s > 0, z3.If(x >= 0, s * x, 0) >= 0))],
                             "z3: no counterexample exists (unsat)")
    assert q.goal == (r"\forall\, x, s \in \mathbb{R}\colon\ (s > 0) \Rightarrow "
                      r"(\left(s \cdot x \text{ if } x \ge 0 \text{ else } 0\right) \ge 0)",)
    assert not re.search(r"==|>=|<=|If\(", q.goal[0])


# ---------------------------------------------------------------------------------------------
# axes


def _fact(description: str, expression: str, rule: str = "algebra") -> StepRecord:
    return StepRecord(rule, description, expression, (), ("the difference reduces to 0 (SymPy)",), "", "general")


HEIGHT_WIDTH = (
    _fact("the output height", r"H_{out} = \left\lfloor \frac{H + 2 p_{h} - k_{h}}{s_{h}} \right\rfloor + 1"),
    _fact("its rows", r"r_{h} = H_{out} k_{h}"),
    _fact("the output width", r"W_{out} = \left\lfloor \frac{W + 2 p_{w} - k_{w}}{s_{w}} \right\rfloor + 1"),
    _fact("its columns", r"r_{w} = W_{out} k_{w}"),
    _fact("together", r"M = r_{h} r_{w}"),
)


def test_the_second_axis_is_found_by_renaming():
    assert axis_repeats(HEIGHT_WIDTH) == [(2, 2, {"H": "W", "h": "w", "height": "width", "rows": "columns"})]
    # not an axis: two layers, or different rules, or a different formula
    layers = (_fact("layer one", "k_{1} + 1"), _fact("layer two", "k_{2} + 1"))
    assert renaming(layers[:1], layers[1:]) is None  # digits are not symbols
    letters = (_fact("layer a", "k_{a} + 1"), _fact("layer b", "k_{b} + 1"))
    assert renaming(letters[:1], letters[1:]) == {"a": "b"} and axis_repeats(letters) == []
    assert axis_repeats((_fact("h", "h + 1"), _fact("w", "w + 2"))) == []
    assert axis_repeats((_fact("h", "h + 1"), _fact("w", "w + 1", rule="sign"))) == []
    # a symbol renamed two ways is no renaming
    assert axis_repeats((_fact("h", "h + h"), _fact("w", "w + h"))) == []


def test_a_chapter_shows_the_first_axis_and_links_every_record(verdict_factory, toy_family):
    v = verdict_factory(steps=HEIGHT_WIDTH)
    text = render_chapter(toy_family, [v])
    assert text.count(r"\item \textbf{algebra}") == 3
    assert ("The same steps with $H$, $h$ replaced by $W$, $w$ prove the width axis; "
            rf"\csrec{{{v.name}}}{{3}}, \csrec{{{v.name}}}{{4}}.") in text
    assert r"\item[3--4.]" in text and r"\setcounter{enumi}{4}" in text
    # every step has its label in the chapter and its entry in the record, the folded ones too
    record = render_record([(toy_family, [v])])
    for n in range(1, 6):
        assert rf"\label{{step:{v.name}:{n}}}" in text
        assert rf"\csrecentry{{{v.name}}}{{{n}}}" in record
    views = fold_repeats(v.name, [{"number": n} for n in range(1, 6)], HEIGHT_WIDTH)
    assert [view.get("number", (view.get("first"), view.get("last"))) for view in views] == [1, 2, (3, 4), 5]


# ---------------------------------------------------------------------------------------------
# the record of real proofs


@pytest.fixture(scope="module")
def proved():
    from convsym.run.build import run_all

    return run_all(names=["merge.sequential-1d", "equivalences.conv1x1-linear", "costs.conv-output-size"])


def test_one_section_per_chapter_with_steps(proved):
    chapters = [(family, [v for v, _ in entries]) for family, entries in proved]
    sections = record_view(chapters)
    assert [s["name"] for s in sections] == [family.name for family, _ in proved]
    text = render_record(chapters)
    assert text.count(r"\section{Machine record for Chapter ") == len(proved)
    # every step of every theorem has its entry, and every chapter step links to one that exists
    entries = set(re.findall(r"\\csrecentry\{([^}]+)\}\{(\d+)\}", text))
    for family, verdicts in chapters:
        chapter = render_chapter(family, verdicts)
        links = set(re.findall(r"\\csrec(?:mark)?\{([^}]+)\}\{(\d+)\}", chapter))
        assert links and links <= entries
        for v in verdicts:
            assert {(v.name, str(n)) for n in range(1, len(v.steps) + 1)} <= links
    assert len(entries) == sum(len(v.steps) for _, vs in chapters for v in vs)


def test_the_record_lists_the_instances_of_the_merge(proved):
    [v] = [v for family, entries in proved for v, _ in entries if v.name == "merge.sequential-1d"]
    assert v.verdict == "proved" and v.strength == "general"
    [claim] = v.evaluated
    assert claim.names == ("k_{1}", "k_{2}", "i") and len(claim.rows) > 8
    # every step was evaluated on the same instances, recorded with it; each rewrite kept its queries
    steps = [s for s in v.steps if s.rule != "conclusion"]
    assert all(s.instances == steps[0].instances for s in steps)
    assert steps[0].instances.rows and set(steps[0].instances.rows) <= set(claim.rows)
    assert [len(s.queries) for s in v.steps if s.rule in ("exchange of sums", "substitution", "fold")] == [
        1, 1, 1, 1, 1, 1]
    # the record prints the claim's instances as boxes that hold exactly them
    view = record_view([(proved[0][0], [v])])[0]["theorems"][0]
    assert view["evaluated"][0]["count"] == len(claim.rows)
    assert _expand(instance_boxes(claim.rows)) == set(claim.rows)
    text = render_record([(proved[0][0], [v])])
    head = (r"\csrecinstances{the claim: both sides evaluated exactly, independently of the derivation}"
            rf"{{{len(claim.rows)}}}{{(k_{{1}}, k_{{2}}, i)}}{{%")
    assert head in text
    listed = text[text.index(head) + len(head):].split("\n}", 1)[0].strip().splitlines()
    assert listed == [f"${b}$" + (";" if k < len(listed) - 1 else "")
                      for k, b in enumerate(view["evaluated"][0]["boxes"])]
    assert r"z3: same set" in text and r"\item[left]" in text and r"\item[right]" in text


def test_the_record_is_the_same_under_any_hash_seed(tmp_path):
    script = (
        "import sys\n"
        "from convsym.run.build import run_all\n"
        "from convsym.render.latex import render_record, render_chapter\n"
        "r = run_all(names=['equivalences.conv1x1-linear', 'tutorial.linear-in-input'])\n"
        "ch = [(f, [v for v, _ in e]) for f, e in r]\n"
        "sys.stdout.write(render_record(ch) + ''.join(render_chapter(f, vs) for f, vs in ch))\n"
    )
    outputs = []
    for seed in ("0", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1] and r"\csrecentry" in outputs[0]
