r"""The machine record: an appendix section per chapter with everything the kernel checked.

The chapters print each step in a short human form and leave out the side conditions that are
true whatever the sizes.  The record keeps all of it, from the proof objects themselves
(:class:`~convsym.proof.verdict.StepRecord` and :class:`~convsym.proof.verdict.Verdict`):

* per theorem, the instances on which the claim (or a cross-check of it) was evaluated exactly;
* per step, its rule, every side condition in full: one that z3 decided as the question put to
  z3, as it was put (the unknowns with the ranges z3 was told, the hypotheses, the goal) with z3's
  answer, any other as the rule stated it; and the instances on which the step was evaluated
  exactly.

Each step of a chapter links to its entry (``\csrec{theorem}{step}``, printed ``record 2.7.3``:
theorem 2.7, step 3) and each entry links back to its step.  An instance list is printed as a
union of disjoint boxes (products of value sets) that holds exactly the instances evaluated:
the decomposition (:func:`instance_boxes`) loses nothing, it only groups.

The same module finds the derivations that repeat one axis' reasoning for the next
(:func:`axis_repeats`): the steps of the second axis are those of the first with the axis'
symbols renamed (``h`` to ``w``, ``H`` to ``W``...).  The chapter shows the first axis and says
the rest in one sentence; the record keeps every step.  Everything here is a pure function of the
verdicts: no set or dict order leaks into the output, so the LaTeX is the same under any
``PYTHONHASHSEED``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from convsym.errors import RenderError
from convsym.proof.verdict import Family, Instances, StepRecord, Verdict
from convsym.render.breaking import breakable_inline
from convsym.render.prose import checked_prose, step_prose
from convsym.render.tex import check_braces, escape_text, tex

# ---------------------------------------------------------------------------------------------
# labels


def record_label(name: str, step: int) -> str:
    """The label of the record entry of step ``step`` of theorem ``name``."""
    return f"rec:{name}:{step}"


def step_label(name: str, step: int) -> str:
    """The label of step ``step`` of theorem ``name`` in its chapter."""
    return f"step:{name}:{step}"


# ---------------------------------------------------------------------------------------------
# instance lists


_INTEGER = re.compile(r"-?\d+")


def _value_key(value: str) -> tuple:
    return (0, int(value), "") if _INTEGER.fullmatch(value) else (1, 0, value)


def instance_boxes(rows: Sequence[Sequence[str]]) -> list[tuple[tuple[str, ...], ...]]:
    """The distinct ``rows`` as a union of disjoint boxes: each box is one tuple of values per
    column, and stands for every row whose value in each column is one of that column's values.

    Lossless: the rows of the boxes are exactly the distinct rows.  Rows are grouped by their
    first value; the boxes of the rest of each group are found the same way, and values whose
    groups have the same box are merged into one.  Values are sorted (integers numerically).

    >>> instance_boxes([("1", "0"), ("1", "1"), ("2", "0"), ("2", "1"), ("3", "0")])
    [(('1', '2'), ('0', '1')), (('3',), ('0',))]
    """
    distinct = sorted({tuple(r) for r in rows}, key=lambda r: [_value_key(v) for v in r])
    if not distinct:
        return []
    if any(len(r) != len(distinct[0]) for r in distinct):
        raise RenderError("instance_boxes: the rows have different lengths")

    def rec(part: list[tuple[str, ...]]) -> list[tuple[tuple[str, ...], ...]]:
        if not part[0]:
            return [()]
        groups: dict[str, list[tuple[str, ...]]] = {}
        for row in part:
            groups.setdefault(row[0], []).append(row[1:])
        merged: dict[tuple[tuple[str, ...], ...], list[str]] = {}
        for value in sorted(groups, key=_value_key):
            for box in rec(groups[value]):
                merged.setdefault(box, []).append(value)
        return [(tuple(values),) + box for box, values in merged.items()]

    return sorted(rec(distinct), key=lambda box: [[_value_key(v) for v in col] for col in box])


def _value_tex(value: str) -> str:
    if re.fullmatch(r"-?\d+(/\d+)?", value):
        return value
    return r"\text{" + escape_text(value) + "}"


def value_set_tex(values: Sequence[str]) -> str:
    r"""One value as LaTeX math, or a set of values: runs of at least four consecutive integers
    as ``a, \dots, b``.

    >>> value_set_tex(["1", "2", "3", "4", "6"])
    '\\{1, \\dots, 4, 6\\}'
    >>> value_set_tex(["4"])
    '4'
    """
    if len(values) == 1:
        return _value_tex(values[0])
    parts: list[str] = []
    ints = [int(v) for v in values] if all(_INTEGER.fullmatch(v) for v in values) else None
    if ints is not None:
        k = 0
        while k < len(ints):
            j = k
            while j + 1 < len(ints) and ints[j + 1] == ints[j] + 1:
                j += 1
            if j - k >= 3:
                parts.append(rf"{ints[k]}, \dots, {ints[j]}")
            else:
                parts.extend(str(n) for n in ints[k:j + 1])
            k = j + 1
    else:
        parts = [_value_tex(v) for v in values]
    return r"\{" + ", ".join(parts) + r"\}"


#: A value of an instance is a number, a word, or a tuple or list of values (``((1, 2), (3, 1))``):
#: its leaves are what lies between brackets and commas.
_LEAF = re.compile(r"[^\s(),\[\]]+")


def _shape(value: str) -> tuple[str, list[str]]:
    """``value`` as a template with one ``{}`` per leaf, and its leaves (read, never evaluated)."""
    leaves = _LEAF.findall(value)
    template = _LEAF.sub("\0", value).replace("{", "{{").replace("}", "}}").replace("\0", "{}")
    return template, leaves


def shaped_boxes(rows: Sequence[Sequence[str]]) -> list[tuple[tuple[str, ...], list[tuple[tuple[str, ...], ...]]]]:
    """The rows grouped by the shape of their values (a tuple of two pairs, a number...), each
    group's leaves as :func:`instance_boxes`: ``[(templates, boxes)]``, every box one value set
    per leaf, in the order of the templates' leaves.  Lossless, like :func:`instance_boxes`."""
    groups: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for row in rows:
        shapes = [_shape(v) for v in row]
        templates = tuple(t for t, _ in shapes)
        groups.setdefault(templates, []).append(tuple(leaf for _, leaves in shapes for leaf in leaves))
    return [(templates, instance_boxes(groups[templates]))
            for templates in sorted(groups, key=lambda t: (sum(x.count("{}") for x in t), t))]


def box_tex(templates: Sequence[str], box: Sequence[Sequence[str]]) -> str:
    r"""One box as LaTeX math: the instance's tuple with a value or a set of values in each place
    (``(1, \{2, 3\}, 0)``: two instances)."""
    sets = [value_set_tex(col) for col in box]
    parts = []
    k = 0
    for template in templates:
        n = template.count("{}")
        filled = template.format(*sets[k:k + n]) if n else template
        k += n
        parts.append(filled)
    whole = f"({', '.join(parts)})" if len(parts) > 1 else parts[0]
    return whole.replace(", ", r",\allowbreak\ ")


def instances_view(inst: Instances | None) -> dict[str, Any] | None:
    """An instance list as the record prints it: what was evaluated, how many instances, the
    tuple of names and the boxes (LaTeX math each)."""
    if inst is None or not inst.rows:
        return None
    for name in inst.names:
        check_braces(name, "instances_view")
    names = list(inst.names)
    boxes = [box_tex(templates, box) for templates, found in shaped_boxes(inst.rows) for box in found]
    head = ", ".join(names)
    return {
        "what": inst.what,
        "count": len(inst.rows),
        "distinct": len({tuple(r) for r in inst.rows}),
        "names": f"({head})" if len(names) > 1 else head,
        "boxes": boxes,
    }


# ---------------------------------------------------------------------------------------------
# z3 queries


_MEMBER = re.compile(r"^(?P<name>.+?) \\in (?P<set>\\mathbb\{[A-Z]\}|\\\{0, 1\\\})$")

#: The row that opens a query in the record, by kind: an implication (the hypotheses imply the
#: goal for all values of the unknowns), the same set (under the hypotheses the left and the right
#: conditions hold for the same values), satisfiable (some values satisfy the conditions), valid
#: (a closed formula holds) or solvable (some values satisfy every equation).
QUERY_HEADS = {"implies": "z3: implication", "equivalent": "z3: same set", "satisfiable": "z3: satisfiable?",
               "valid": "z3: valid?", "unsatisfiable": "z3: solvable?"}


def _conjuncts(items: Sequence[str]) -> list[str]:
    """Each condition as breakable inline math (``\\left``/``\\right`` fixed)."""
    out = []
    for item in items:
        text = tex(item)
        out.append(breakable_inline(text))
    return out


def unknowns_tex(variables: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    r"""The unknowns of a query as inline math pieces: those z3 was told nothing about together
    (``a, b, i \in \mathbb{Z}``), then members of one set together, then every other range."""
    free = [name for name, conds in variables if not conds]
    members: dict[str, list[str]] = {}
    told: list[str] = []
    for _, conds in variables:
        for cond in conds:
            match = _MEMBER.match(cond)
            if match:
                members.setdefault(match["set"], []).append(match["name"])
            else:
                told.append(cond)
    out = []
    if free:
        out.append(", ".join(free) + r" \in \mathbb{Z}")
    for domain in sorted(members):
        out.append(", ".join(members[domain]) + rf" \in {domain}")
    out.extend(told)
    return [breakable_inline(tex(piece)) for piece in out]


def query_view(query: Any) -> dict[str, Any]:
    """One z3 query in the record's terms (see :class:`convsym.symbolic.decide.Query`)."""
    kind = getattr(query, "kind", None)
    if kind not in QUERY_HEADS:
        raise RenderError(f"query_view: a query of kind {kind!r}; known kinds are {sorted(QUERY_HEADS)}")
    rows: list[tuple[str, list[str]]] = []
    if query.hypotheses:
        rows.append(("hypotheses", _conjuncts(query.hypotheses)))
    if kind == "equivalent":
        rows.append(("left", _conjuncts(query.goal) or [r"\mathrm{true}"]))
        rows.append(("right", _conjuncts(query.other) or [r"\mathrm{true}"]))
    elif kind == "implies":
        rows.append(("goal", _conjuncts(query.goal) or [r"\mathrm{true}"]))
    elif kind == "valid":
        rows.append(("formula", _conjuncts(query.goal)))
    else:
        rows.append(("conditions", _conjuncts(query.goal)))
    answer = query.outcome
    if query.counterexample:
        values = ", ".join(f"{escape_text(str(k))} = {v}" for k, v in query.counterexample)
        answer += f" at {values}"
    return {"kind": kind, "head": QUERY_HEADS[kind],
            "unknowns": unknowns_tex(query.variables),
            "rows": [{"head": head, "conjuncts": items} for head, items in rows],
            "answer": escape_text(answer[len("z3: "):] if answer.startswith("z3: ") else answer)}


# ---------------------------------------------------------------------------------------------
# the record of a theorem


#: How the record names a theorem by its expected verdict (as its chapter does).
KINDS = {"proved": "Theorem", "refuted": "Claim", "observed": "Observation"}


def _full_stop(text: str) -> str:
    text = text.rstrip()
    return text if text.endswith((".", "?", "!")) else text + "."


#: The check a general derivation reports for every step: the record lists the instances instead.
_REEVALUATED = re.compile(r"re-evaluated exactly on \d+ instance\(s\)")


def _step_entry(name: str, number: int, step: StepRecord, shared: Instances | None) -> dict[str, Any]:
    same = step.instances is not None and shared is not None and step.instances == shared
    answers = {q.outcome for q in step.queries}
    # what the queries and the instance list say in full is not said again
    checked = [checked_prose(c) for c in step.checked_by if c not in answers and not _REEVALUATED.fullmatch(c)]
    queries = [query_view(q) for q in step.queries]
    return {
        "number": number,
        "label": record_label(name, number),
        "step_label": step_label(name, number),
        "rule": step.rule,
        "description": _full_stop(step_prose(step.description)),
        # a condition decided by z3 is printed as it was put to z3 (its query), once
        "conditions": [] if queries and len(queries) == len(step.side_conditions)
        else [breakable_inline(tex(c)) for c in step.side_conditions],
        "checked_by": checked,
        "queries": queries,
        "instances": None if same else instances_view(step.instances),
        "shared": same,
        "listed": bool(step.side_conditions or queries),
    }


def shared_step_instances(v: Verdict) -> Instances | None:
    """The instance list that two or more steps of ``v`` were evaluated on, printed once per
    theorem (a general derivation re-evaluates every step on the same instances)."""
    seen: list[Instances] = [s.instances for s in v.steps if s.instances is not None]
    for inst in seen:
        if sum(1 for other in seen if other == inst) > 1:
            return inst
    return None


def theorem_record_view(v: Verdict) -> dict[str, Any]:
    """The record of one theorem: its instance lists and one entry per step."""
    shared = shared_step_instances(v)
    return {
        "name": v.name,
        "kind": KINDS.get(v.expected, "Theorem"),
        "label": "thm:" + v.name,
        "title": v.title,
        "evaluated": [view for view in (instances_view(i) for i in v.evaluated) if view],
        "shared": instances_view(shared),
        "shared_label": f"recinst:{v.name}",
        "steps": [_step_entry(v.name, n, s, shared) for n, s in enumerate(v.steps, start=1)],
    }


def has_record(v: Verdict) -> bool:
    """Whether the record holds an entry for ``v``: every theorem with derivation steps."""
    return bool(v.steps)


def record_view(chapters: Sequence[tuple[Family, Sequence[Verdict]]]) -> list[dict[str, Any]]:
    """One section per chapter that has theorems with steps, numbered as the chapters are."""
    out = []
    for number, (family, verdicts) in enumerate(chapters, start=1):
        theorems = [theorem_record_view(v) for v in verdicts if has_record(v)]
        if theorems:
            out.append({"number": number, "name": family.name, "title": family.title, "theorems": theorems})
    return out


# ---------------------------------------------------------------------------------------------
# one axis shown, the next said in a sentence

#: The names of the first and the second spatial axis as the proofs and the notation write them
#: (height and width, output row $i$ and column $j$, kernel row $u$ and column $v$): a renaming of
#: the steps counts as an axis repetition when it maps at least one of these pairs.
AXIS_PAIRS = (("h", "w"), ("H", "W"), ("height", "width"), ("row", "column"), ("rows", "columns"),
              ("i", "j"), ("u", "v"))
_WORD = re.compile(r"\\[A-Za-z]+|[A-Za-z]+|\d+|\s+|.", re.DOTALL)


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def step_signature(step: StepRecord) -> tuple[str, ...]:
    """What must agree, up to renaming, for a step to repeat another: the rule, the description
    and, for a fact (not a rewrite of a whole expression), the expression and side conditions."""
    from convsym.render.prose import REWRITE_RULES

    parts = [step.rule, step.description]
    if step.rule not in REWRITE_RULES:
        parts.extend([step.expression, *step.side_conditions])
    return tuple(parts)


def renaming(first: Sequence[StepRecord], second: Sequence[StepRecord]) -> dict[str, str] | None:
    """The renaming of words that turns the steps ``first`` into ``second`` (None when there is
    none): the same rules, and texts that differ only in letter words (symbols), each word of
    ``first`` always becoming the same word; control words, digits and punctuation stay."""
    if len(first) != len(second) or not first:
        return None
    mapping: dict[str, str] = {}
    for a, b in zip(first, second, strict=True):
        if a.rule != b.rule or a.evidence != b.evidence:
            return None
        sa, sb = step_signature(a), step_signature(b)
        if len(sa) != len(sb):
            return None
        for ta, tb in zip(sa, sb, strict=True):
            wa, wb = _words(ta), _words(tb)
            if len(wa) != len(wb):
                return None
            for x, y in zip(wa, wb, strict=True):
                if x == y:
                    if mapping.setdefault(x, y) != y:
                        return None
                    continue
                if not (x.isalpha() and y.isalpha()) or mapping.setdefault(x, y) != y:
                    return None
    changed = {x: y for x, y in mapping.items() if x != y}
    return changed or None


def axis_repeats(steps: Sequence[StepRecord]) -> list[tuple[int, int, dict[str, str]]]:
    """The blocks of ``steps`` that repeat the block just before them for the next axis:
    ``(start, length, renaming)`` with steps ``start .. start + length - 1`` (0-based) the
    repetition of the ``length`` steps before ``start``.  Blocks do not overlap; at each place the
    longest block wins.  A renaming counts only when it maps an axis name (:data:`AXIS_PAIRS`)."""
    found = []
    i = 0
    n = len(steps)
    while i < n:
        hit = None
        for length in range((n - i) // 2, 0, -1):
            first, second = steps[i:i + length], steps[i + length:i + 2 * length]
            if any(s.rule == "conclusion" for s in second):
                continue
            mapping = renaming(first, second)
            if mapping and any(mapping.get(a) == b for a, b in AXIS_PAIRS):
                hit = (i + length, length, mapping)
                break
        if hit:
            found.append(hit)
            i = hit[0] + hit[1]
        else:
            i += 1
    return found


def renaming_prose(mapping: Mapping[str, str]) -> str:
    """``$h$, $H$ replaced by $w$, $W$``: the symbols a renaming changes (single letters, sorted
    lower case first); the words (height, width) go without saying."""
    symbols = sorted(((a, b) for a, b in mapping.items() if len(a) == 1 and len(b) == 1),
                     key=lambda ab: (ab[0].lower(), ab[0]))
    if not symbols:
        symbols = sorted(mapping.items())
    left = ", ".join(f"${a}$" for a, _ in symbols)
    right = ", ".join(f"${b}$" for _, b in symbols)
    return f"{left} replaced by {right}"


def axis_name(mapping: Mapping[str, str]) -> str:
    """The axis the repeated steps prove: the width axis for ``h -> w``, else the next axis."""
    if any(mapping.get(a) == b for a, b in AXIS_PAIRS):
        return "the width axis"
    return "the next axis"


def fold_repeats(name: str, views: list[dict[str, Any]], steps: Sequence[StepRecord]) -> list[dict[str, Any]]:
    """The step views of a chapter with each axis repetition replaced by one item: a sentence
    (``The same steps with $h$ replaced by $w$ prove the width axis``) and the records of the
    steps it stands for.  Views keep their ``number``; the folded item has ``first``/``last``."""
    repeats = {start: (length, mapping) for start, length, mapping in axis_repeats(steps)}
    out: list[dict[str, Any]] = []
    k = 0
    while k < len(views):
        if k in repeats:
            length, mapping = repeats[k]
            first, last = k + 1, k + length
            what = "step" if length == 1 else "steps"
            same = f"The same {what} with {renaming_prose(mapping)} {'proves' if length == 1 else 'prove'} " \
                   f"{axis_name(mapping)}"
            out.append({"repeat": True, "first": first, "last": last, "sentence": same,
                        "records": [{"name": name, "number": n} for n in range(first, last + 1)],
                        "labels": [step_label(name, n) for n in range(first, last + 1)]})
            k += length
            continue
        out.append(views[k])
        k += 1
    return out


def hidden_steps(steps: Sequence[StepRecord]) -> set[int]:
    """The (0-based) indices of the steps a chapter says in a sentence (see :func:`axis_repeats`)."""
    return {start + k for start, length, _ in axis_repeats(steps) for k in range(length)}
