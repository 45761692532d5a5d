r"""Tables of recorded data for the book: whole-model totals and a translation-validation report.

Both are measured, not proved: the data comes from committed JSON files that tools wrote
(``proofs/data/model_totals.json`` by ``benchmarks/model_totals.py``,
``proofs/data/validation_resnet18.json`` by ``convsym validate``), and the book prints it as
recorded.  These functions are pure: a mapping in (the parsed JSON), LaTeX out, deterministic;
building the book reads the files and needs neither torch nor onnx.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from convsym.render.figures import table
from convsym.render.prose import crossref_prose
from convsym.render.tex import escape_text

#: How the tools name what they count, as the book's column heads.
_QUANTITY = {"flops": "flops", "MACs": "MACs", "total_ops": "total\\_ops", "Mult-Adds": "Mult-Adds"}

#: Model names of tests/zoo.py as the literature writes them.
_MODEL_NAMES = {
    "resnet18": "ResNet-18", "resnet50": "ResNet-50", "mobilenet_v2": "MobileNetV2",
    "mobilenet_v3_small": "MobileNetV3-Small", "efficientnet_b0": "EfficientNet-B0",
    "regnet_y_400mf": "RegNetY-400MF", "vgg11": "VGG-11", "densenet121": "DenseNet-121",
    "vit_tiny": "ViT-Tiny",
}


def millions(value: int, decimals: int = 2) -> str:
    r"""``value / 10^6`` with ``decimals`` digits, thin spaces between thousands: ``1\,819.07``.

    >>> millions(1819065856)
    '1\\,819.07'
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"millions: value must be an int, got {type(value).__name__}")
    scaled = round(value / 10**6, decimals)
    return f"{scaled:,.{decimals}f}".replace(",", r"\,")


def model_name(key: str) -> str:
    """The name of a model of the zoo as the literature writes it (the key itself when unknown)."""
    return _MODEL_NAMES.get(key, escape_text(key))


def _require(data: Mapping[str, Any], keys: Sequence[str], what: str) -> None:
    missing = [k for k in keys if k not in data]
    if missing:
        raise ValueError(f"{what}: the recorded data lacks the keys {missing}")


def model_totals_table(data: Mapping[str, Any]) -> str:
    r"""The whole-model totals of ``model_totals.json`` as a booktabs table: a row per model, a
    column per tool; each cell is convsym's model of the tool's total in millions of the tool's
    unit, followed by ``=`` when the tool's own total (recorded by running it) is the same
    integer and by the tool's figure otherwise (``--`` where the tool cannot count the model)."""
    _require(data, ("architectures", "tools"), "model_totals_table")
    tools = list(data["tools"])
    rows = []
    for arch in data["architectures"]:
        _require(arch, ("name", "tools"), "model_totals_table")
        cells = [model_name(arch["name"])]
        for tool in tools:
            entry = arch["tools"].get(tool)
            if entry is None or entry.get("convsym") is None:
                cells.append(r"\text{--}")
                continue
            ours, theirs = entry["convsym"], entry.get("tool")
            if theirs is None:
                cells.append(f"${millions(ours)}$")
            elif entry.get("equal") and ours == theirs:
                cells.append(f"${millions(ours)}\\;{{=}}$")
            else:
                cells.append(f"${millions(ours)}$ vs ${millions(theirs)}$")
        rows.append(cells)
    quantities = {}
    for arch in data["architectures"]:
        for tool, entry in arch["tools"].items():
            quantities.setdefault(tool, entry.get("quantity"))
    header = ["model", *(rf"\shortstack[r]{{{escape_text(t)}\\ \textit{{{_QUANTITY.get(quantities.get(t), 'count')}}}}}"
                         for t in tools)]
    return table(header, rows, "l" + "r" * len(tools))


def tool_versions(versions: Mapping[str, str]) -> str:
    """``fvcore 0.1.5, ptflops 0.7.5, ...`` in the order given, escaped for prose."""
    return ", ".join(f"{escape_text(tool)} {escape_text(str(v))}" for tool, v in versions.items())


# ---------------------------------------------------------------------------------------------
# the translation-validation report

_BOUND_TOKEN = re.compile(r"\s+|<=|>=|gamma_(\d+)|\^(-?\d+)|[A-Za-z]{2,}(?:\s+[A-Za-z]{2,})*|[A-Za-z]|\d+|"
                          r"[|'()=,+\-*/]")


def bound_tex(bound: str) -> str:
    r"""A bound as ``convsym validate`` writes it (``|W' - W S| <= gamma_7 |W S| ...``) as inline
    math: ``<=`` is ``\le``, ``gamma_n`` is ``\gamma_{n}``, words are text.  Any other character
    raises ValueError (the text is data, it is never passed to LaTeX unread).

    >>> bound_tex("|b' - B| <= gamma_11 A (u = 2^-24)")
    "$|b' - B| \\le \\gamma_{11} A (u = 2^{-24})$"
    """
    out, pos = [], 0
    while pos < len(bound):
        match = _BOUND_TOKEN.match(bound, pos)
        if match is None:
            raise ValueError(f"bound_tex: unexpected character {bound[pos]!r} at {pos} in {bound!r}")
        token, pos = match.group(0), match.end()
        if token.isspace():
            # math mode drops spaces: keep the one before a parenthetical remark
            out.append(r"\ " if bound.startswith("(", pos) else " ")
        elif token == "<=":
            out.append(r"\le")
        elif token == ">=":
            out.append(r"\ge")
        elif match.group(1) is not None:
            out.append(rf"\gamma_{{{match.group(1)}}}")
        elif match.group(2) is not None:
            out.append(f"^{{{match.group(2)}}}")
        elif len(token) > 1 and token[:2].isalpha():
            out.append(rf"\text{{ {token} }}")
        else:
            out.append(token)
    return "$" + "".join(out).strip() + "$"


_OP_WORDS = {"Conv": "Conv", "BatchNormalization": "BatchNorm", "Relu": "ReLU", "Add": "Add",
             "MaxPool": "MaxPool", "GlobalAveragePool": "GlobalAvgPool", "Flatten": "Flatten",
             "Gemm": "Gemm"}


def _op(name: str) -> str:
    return escape_text(_OP_WORDS.get(name, name))


def _original_ops(node: Mapping[str, Any]) -> list[str]:
    """The operator types of the original nodes a node replaces (``/bn1/BatchNormalization``)."""
    return [path.rsplit("/", 1)[-1].split("_", 1)[0] for path in node["original"]]


def validation_groups(nodes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Nodes with the same operator, original operators, status, rule, theorem and bound, as one
    group ``{count, op, original, status, rule, theorem, bound}``; groups in order of first node."""
    groups: dict[tuple, dict[str, Any]] = {}
    for node in nodes:
        _require(node, ("op", "original", "status", "rule", "theorem", "bound"), "validation_groups")
        key = (node["op"], tuple(_original_ops(node)), node["status"], node["rule"], node["theorem"],
               node["bound"])
        if key not in groups:
            groups[key] = {"count": 0, "op": node["op"], "original": list(key[1]), "status": node["status"],
                           "rule": node["rule"], "theorem": node["theorem"], "bound": node["bound"]}
        groups[key]["count"] += 1
    return list(groups.values())


_MODEL = re.compile(r"^(?P<name>[a-z0-9_]+)\b.*?input (?P<shape>\d+(?: x \d+)+), ONNX opset (?P<opset>\d+)$")


def validation_appendix(data: Mapping[str, Any], label: str = "ch:validation") -> str:
    r"""The appendix *Validating an optimized network*: what ``convsym validate`` checked on the
    recorded report ``data`` (``validation_resnet18.json``), the nodes grouped (see
    :func:`validation_groups`) in a booktabs table, each rule's theorem linked, each bound once."""
    _require(data, ("model", "nodes", "counts", "optimizer", "original_nodes", "optimized_nodes", "versions"),
             "validation_appendix")
    model = _MODEL.match(data["model"])
    if model is None:
        raise ValueError(f"validation_appendix: model {data['model']!r} is not 'NAME ..., input N x C x H x W, "
                         "ONNX opset K'")
    shape = r"\times".join(model["shape"].split(" x "))
    counts = data["counts"]
    groups = validation_groups(data["nodes"])
    rows, bounds = [], []
    for g in groups:
        if g["theorem"]:
            why = crossref_prose(g["theorem"])
        elif g["rule"] == "unchanged":
            why = "unchanged"
        else:
            why = escape_text(g["rule"])
        if g["bound"] and g["bound"] not in bounds:
            bounds.append(g["bound"])
        replaces = " + ".join(_op(o) for o in g["original"])
        node = _op(g["op"]) if replaces == _op(g["op"]) else f"{_op(g['op'])} from {replaces}"
        mark = f", bound ({bounds.index(g['bound']) + 1})" if g["bound"] else ""
        rows.append([str(g["count"]), node, escape_text(g["status"]), why + mark])
    status = ", ".join(f"{counts[k]} {escape_text(k)}" for k in sorted(counts) if counts[k])
    body = table(["nodes", "optimized node", "status", "theorem"], rows, "rlll",
                 footer=[[str(len(data["nodes"])), "", status, ""]])
    optimizer = escape_text(data["optimizer"].split(",")[0])
    level = data["optimizer"].split(",")[1].strip().rsplit("_", 1)[-1].lower() if "," in data["optimizer"] else ""
    lines = [
        rf"\chapter{{Validating an optimized network}}\label{{{label}}}",
        r"Deployment tools rewrite a network before running it: they fold BatchNorm layers into the "
        r"convolutions before them, merge branches, drop no-ops.  \texttt{convsym validate ORIGINAL "
        r"OPTIMIZED} checks such a rewrite after the fact (translation validation): it matches every node "
        r"of the optimized ONNX graph to the subgraph of the original it replaces, recomputes exactly, in "
        r"rational arithmetic, the layer that subgraph equals (by the theorems of this book), and checks "
        r"that the optimized node's weights lie within a stated floating-point bound of it.  A node is "
        r"\emph{verified}, \emph{wrong} (a broken theorem or condition, with a witness input) or "
        r"\emph{unmatched}.",
        "",
        rf"This appendix prints one recorded report, \textbf{{measured data, not a proof of this book}}: "
        rf"{model_name(model['name'])} with fixed random weights, input ${shape}$, ONNX opset {model['opset']}, "
        rf"optimized by {optimizer}" + (f" at its {escape_text(level)} level" if level else "")
        + rf" ({tool_versions(data['versions'])}).  The original graph has {data['original_nodes']} "
        rf"nodes, the optimized one {data['optimized_nodes']}: "
        + ", ".join(f"{counts[k]} {escape_text(k)}" for k in sorted(counts))
        + r".  Table~\ref{tab:validation} groups the nodes that have the same operator, replace the same "
        r"operators and are justified the same way; an \emph{unchanged} node is the same operator as "
        r"its original node, on inputs already matched.",
        "",
        r"\begin{table}[htbp]",
        r"\centering\setlength{\tabcolsep}{4pt}",
        body,
        rf"\caption{{The optimized nodes of {model_name(model['name'])}, grouped: each with the original "
        r"nodes it replaces, the theorem that justifies it and the floating-point bound it is checked "
        r"against (listed below).}\label{tab:validation}",
        r"\end{table}",
        "",
        r"\noindent Bounds, with $u$ the unit roundoff of float32 and $\gamma_n = n u / (1 - n u)$ the "
        r"rounding constant of $n$ correctly rounded operations; $W'$, $b'$ are the optimized node's "
        r"weight and bias, $S$, $B$ the exact fold and $A$ the bias recomputed on the absolute values of "
        r"its terms:",
        r"\begin{enumerate}[label=(\arabic*)]",
        *(rf"\item {bound_tex(b)}" for b in bounds),
        r"\end{enumerate}",
    ]
    if "note" in data:
        lines += ["", rf"\noindent {escape_text(data['note'][:1].upper() + data['note'][1:])}."]
    lines += ["", *validation_nodes(data["nodes"], bounds)]
    return "\n".join(lines) + "\n"


def _node_name(name: str) -> str:
    """An ONNX node name (``/layer1/layer1.0/conv1/Conv``) set so that it breaks at its slashes."""
    return r"\texttt{" + r"/\allowbreak{}".join(escape_text(part) for part in name.split("/")) + "}"


def validation_nodes(nodes: Sequence[Mapping[str, Any]], bounds: Sequence[str]) -> list[str]:
    """The report node by node, as a ``longtable``: the optimized node, the original nodes it
    replaces, its status and what justifies it (a theorem and the number of its bound in
    ``bounds``, or *unchanged*)."""
    rows = []
    for k, node in enumerate(nodes, 1):
        _require(node, ("node", "op", "original", "status", "rule", "theorem", "bound"), "validation_nodes")
        if node["theorem"]:
            why = crossref_prose(node["theorem"])
            if node["bound"] in bounds:
                why += f", ({bounds.index(node['bound']) + 1})"
        else:
            why = escape_text(node["rule"])
        replaced = ", ".join(_node_name(o) for o in node["original"])
        rows.append(rf"{k} & {_node_name(node['node'])} & {replaced} & {escape_text(node['status'])} & {why} \\")
    return [
        r"\noindent Node by node (optimized node, the original nodes it computes the same tensor as, status, "
        r"justification and bound):",
        r"{\small\setlength{\tabcolsep}{3pt}",
        r"\begin{longtable}{@{}r>{\raggedright}p{0.27\linewidth}>{\raggedright}p{0.33\linewidth}l"
        r">{\raggedright\arraybackslash}p{0.22\linewidth}@{}}",
        r"\toprule",
        r"& optimized node & original nodes & status & justification \\",
        r"\midrule\endhead",
        *rows,
        r"\bottomrule",
        r"\end{longtable}}",
    ]
