"""The validator's results: one :class:`NodeResult` per node of the optimized graph, and the
:class:`Report` of a whole graph."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class NodeResult:
    """The verdict on one node of the optimized graph."""

    node: str
    op: str
    status: str  # verified | wrong | unmatched
    rule: str = ""
    original: list[str] = field(default_factory=list)
    theorem: str | None = None
    conditions: list[dict[str, Any]] = field(default_factory=list)
    max_error_ratio: float | None = None  # max |optimizer - exact| / bound over the entries
    witness: dict[str, Any] | None = None
    reason: str = ""
    bound: str = ""  # the error bound the parameters were checked against, as a formula

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "op": self.op, "status": self.status, "rule": self.rule,
                "original": self.original, "theorem": self.theorem, "conditions": self.conditions,
                "max_error_ratio": self.max_error_ratio, "witness": self.witness, "reason": self.reason,
                "bound": self.bound}


@dataclass
class Report:
    """Every node's verdict; ``ok`` iff every node is verified and every output matched."""

    nodes: list[NodeResult]
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(n.status == "verified" for n in self.nodes)

    def counts(self) -> dict[str, int]:
        out = {"verified": 0, "wrong": 0, "unmatched": 0}
        for n in self.nodes:
            out[n.status] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "counts": self.counts(), "nodes": [n.to_json() for n in self.nodes]}

    def to_data(self) -> dict[str, Any]:
        """The report without its measurements (error ratios, witness values, timing), which
        depend on the optimizer's floating-point arithmetic and the machine: only what is the same
        on every run -- each node's status, rule, theorem, matched original nodes and bound as a
        formula, and the reason of every node that is not verified.  For data files (the book's
        validation report)."""
        nodes = []
        for n in self.nodes:
            entry = {"node": n.node, "op": n.op, "status": n.status, "rule": n.rule, "theorem": n.theorem,
                     "original": list(n.original), "bound": n.bound or None}
            if n.status != "verified":
                entry["reason"] = n.reason
                entry["witness"] = None if n.witness is None else {
                    k: v for k, v in n.witness.items() if k in ("input", "shape", "seed", "detail")}
            nodes.append(entry)
        return {"ok": self.ok, "counts": self.counts(), "nodes": nodes}

    def table(self) -> str:
        rows = [("node", "op", "status", "rule", "theorem", "error/bound", "original")]
        for n in self.nodes:
            ratio = "" if n.max_error_ratio is None else f"{n.max_error_ratio:.3f}"
            rows.append((n.node, n.op, n.status, n.rule, n.theorem or "", ratio, " + ".join(n.original)))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        for n in self.nodes:
            if n.status != "verified":
                lines.append(f"{n.status}: {n.node}: {n.reason}")
                if n.witness:
                    lines.append(f"  witness: {json.dumps(n.witness, sort_keys=True)}")
        c = self.counts()
        lines.append(f"{len(self.nodes)} nodes: {c['verified']} verified, {c['wrong']} wrong, "
                     f"{c['unmatched']} unmatched")
        return "\n".join(lines) + "\n"
