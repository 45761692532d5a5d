"""Translation validation of ONNX graph optimizers (the optional ``models`` extra).

``validate_models(original, optimized)`` matches every node of the optimized graph to the
subgraph of the original graph that computes the same tensor and decides whether the
optimizer's parameters are the exact rewrite, up to a floating-point error bound derived from
the formula and the dtype.  Each node is ``verified``, ``wrong`` (the theorem or condition it
breaks, and a witness input on which the two subgraphs differ beyond the bound, run in
float64) or ``unmatched`` (not validated, and said so).

Matching, in the optimized graph's topological order; a map sends optimized tensors to the
original tensors they equal (graph inputs to graph inputs, by position):

* ``unchanged``: same op, same attributes, data inputs mapped to the original node's inputs,
  constant inputs equal bit for bit;
* ``conv-chain`` (``Conv`` / ``ConvTranspose``): an original ``[Pad ->] Conv`` on the mapped input
  followed by a chain of per-channel affine nodes whose intermediate tensors have one consumer
  (``BatchNormalization``, ``Add`` / ``Mul`` of a constant broadcast per channel).  The longest
  chain whose fused parameters match is taken.  Theorems: ``folding.bn-after-conv-exact``
  (BN, and ``Add``/``Mul`` as per-channel affine maps), padding composes (``Pad`` zeros then
  ``pads`` zeros is ``pads + Pad`` zeros);
* ``equalized`` (cross-layer equalization): a ``Conv`` equal to the original's with output
  channel ``i`` divided by ``s_i > 0`` maps to the original tensor scaled by ``1/s``; an
  activation passes the scale only when positively homogeneous (``folding.cle-relu``,
  ``folding.cle-leaky-relu``, ``folding.cle-prelu``; ``Clip``/ReLU6 is ``folding.cle-relu6``:
  wrong), and the next ``Conv`` must multiply input channel ``i`` by ``s_i``.

Constant subgraphs (nodes whose inputs are all constants, as onnxoptimizer's
``fuse_bn_into_conv`` emits: ``Add, Sqrt, Div, Mul`` on the initializers) are evaluated first
with ONNX's reference evaluator in the graph's own dtype: those are the values the runtime uses.

**Exact recomputation.**  The fused per-channel scale ``S[o]`` and bias ``B[o]`` are computed
by :func:`convsym.transforms.fold_batchnorm` on ``Fraction`` arrays (each float converted
exactly): the chain of per-channel affine maps ``y = s_j x + t_j`` is composed exactly, and
``sqrt(var + eps)`` (irrational in general) is enclosed in a rational interval of relative
width ``2^-80``; the BN is then passed to ``fold_batchnorm`` as
``BatchNorm2d(mean, var=1/2, gamma=s_hat, beta, eps=1/2)`` (``sqrt(var+eps) = 1``) applied to
a probe conv of ones, whose folded weight is ``S`` and folded bias ``B``.  The fused weight
``W'[o,...] = W[o,...] * S[o]`` is decided entry by entry: a float64 evaluation with a
certified margin (``10^-12`` relative, far above its ``4 * 2^-53`` rounding) decides every
entry whose distance to the bound exceeds the margin, and the others are recomputed in
``Fraction`` arithmetic.

**The bound.**  With ``u`` the unit roundoff of the dtype (``2^-24`` for float32) and
Higham's ``gamma_N = N u / (1 - N u)``: a value computed with ``N`` roundings (each ``+ - * /
sqrt`` correctly rounded, ``(1 + delta)`` with ``|delta| <= u``) from exact inputs is within
``gamma_N * (sum of the absolute values of its terms)`` of the exact value.  Counting per
affine node: BN's scale ``gamma / sqrt(var + eps)`` takes 5 roundings (the sum, the square
root counted twice since an ``rsqrt`` may be off by one ulp, the division, one spare), its
shift ``beta - mean * s`` 3 more; ``Add``/``Mul`` one each; the product ``W * S`` and the
final store one each.  Hence weight entries: ``|W'_opt - W S| <= gamma_Nw |W S|`` with
``N_w = 5 * (#BN) + (#Mul) + 2``; biases: ``|B_opt - B| <= gamma_Nb * A`` with
``A = |b||S| + sum_j (|mean_j| |s_j| + |beta_j|) |S_after_j|`` (the terms' magnitudes) and
``N_b = 8 * (#BN) + (#Add) + (#Mul) + 3``; both plus ``N`` times the smallest subnormal
(underflow).  A witness is checked against the bound carried to the output:
``sum |x| * bound_W + bound_B`` plus float64 evaluation error.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["NodeResult", "Report", "validate_models", "validate_torch"]

SUBNORMAL = {np.dtype(np.float32): 2.0**-149, np.dtype(np.float64): 2.0**-1074, np.dtype(np.float16): 2.0**-24}
HOMOGENEOUS = {"Relu": "folding.cle-relu", "LeakyRelu": "folding.cle-leaky-relu", "PRelu": "folding.cle-prelu"}
NOT_HOMOGENEOUS = {"Clip": "folding.cle-relu6", "HardSwish": "folding.cle-hardswish",
                   "Sigmoid": "folding.cle-sigmoid", "HardSigmoid": "folding.cle-relu6"}
ALIASES = ("Identity", "Dropout")


def _onnx():
    try:
        import onnx
        import onnx.numpy_helper
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("convsym.onnx needs onnx: pip install 'convsym[models]'") from exc
    return onnx


# ---------------------------------------------------------------------------------------------
# results


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

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "op": self.op, "status": self.status, "rule": self.rule,
                "original": self.original, "theorem": self.theorem, "conditions": self.conditions,
                "max_error_ratio": self.max_error_ratio, "witness": self.witness, "reason": self.reason}


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


# ---------------------------------------------------------------------------------------------
# graphs


class _Graph:
    """An ONNX graph with its constants folded and its tensors indexed."""

    def __init__(self, model):
        _onnx()
        from onnx import numpy_helper

        graph = model.graph
        self.model = model
        self.opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=17)
        self.const: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        init = set(self.const)
        self.inputs = [i.name for i in graph.input if i.name not in init]
        self.outputs = [o.name for o in graph.output]
        self._shapes: dict[str, tuple[int, ...]] | None = None
        self._attrs: dict[int, dict[str, Any]] = {}
        self.nodes = []
        for i, node in enumerate(graph.node):
            if not node.name:
                node.name = f"{node.op_type}_{i}"
            if node.domain not in ("", "ai.onnx"):
                self.nodes.append(node)
                continue
            if node.op_type == "Constant":
                self.const[node.output[0]] = _constant_value(node)
            elif node.input and all(name in self.const or name == "" for name in node.input):
                folded = _evaluate(node, [self.const.get(name) for name in node.input], self.opset)
                if folded is None:
                    self.nodes.append(node)
                else:
                    self.const.update(zip(node.output, folded, strict=False))
            else:
                self.nodes.append(node)
        self.alias: dict[str, str] = {}
        self.producer: dict[str, Any] = {}
        self.consumers: dict[str, list] = {}
        for node in self.nodes:
            if node.op_type in ALIASES and node.input[0] not in self.const:
                self.alias[node.output[0]] = self.resolve(node.input[0])
                continue
            for out in node.output:
                self.producer[out] = node
            for name in node.input:
                if name and name not in self.const:
                    self.consumers.setdefault(self.resolve(name), []).append(node)

    def resolve(self, name: str) -> str:
        while name in self.alias:
            name = self.alias[name]
        return name

    def data_inputs(self, node) -> list[str]:
        return [self.resolve(n) for n in node.input if n and n not in self.const]

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Static tensor shapes by ONNX shape inference (computed on first use: witnesses only)."""
        if self._shapes is None:
            onnx = _onnx()
            try:
                graph = onnx.shape_inference.infer_shapes(self.model).graph
            except Exception:  # shape inference is an aid for witnesses; without it they use defaults
                graph = self.model.graph
            self._shapes = {}
            for vi in list(graph.value_info) + list(graph.input) + list(graph.output):
                dims = vi.type.tensor_type.shape.dim
                if dims and all(d.HasField("dim_value") for d in dims):
                    self._shapes[vi.name] = tuple(d.dim_value for d in dims)
        return self._shapes

    def attrs(self, node) -> dict[str, Any]:
        """The node's attributes, without those equal to the schema's default (so an optimizer
        that writes a default explicitly, or drops it, does not change the node)."""
        key = id(node)
        if key not in self._attrs:
            from onnx import defs, helper

            try:
                schema = defs.get_schema(node.op_type, self.opset, node.domain)
                defaults = {name: helper.get_attribute_value(a.default_value)
                            for name, a in schema.attributes.items() if a.default_value.name}
            except Exception:  # an op without a schema keeps all its attributes
                defaults = {}
            values = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            self._attrs[key] = {k: v for k, v in values.items() if k not in defaults or defaults[k] != v}
        return self._attrs[key]


def _constant_value(node) -> np.ndarray:
    from onnx import helper, numpy_helper

    for a in node.attribute:
        if a.name == "value":
            return numpy_helper.to_array(a.t)
        value = helper.get_attribute_value(a)
        return np.asarray(value)
    raise ValueError(f"validate: Constant node {node.name} has no value")


def _evaluate(node, inputs, opset):
    """The outputs of a node on constant inputs, by ONNX's reference evaluator (None if it cannot)."""
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    names = [f"c{i}" if name else "" for i, name in enumerate(node.input)]
    inits = [numpy_helper.from_array(np.asarray(a), f"c{i}") for i, a in enumerate(inputs) if a is not None]
    copy = helper.make_node(node.op_type, names, [f"o{i}" for i in range(len(node.output))], domain=node.domain)
    copy.attribute.extend(node.attribute)
    outs = [helper.make_tensor_value_info(f"o{i}", 0, None) for i in range(len(node.output))]
    graph = helper.make_graph([copy], "fold", [], outs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    try:
        return ReferenceEvaluator(model).run(None, {})
    except Exception:  # an op the evaluator lacks stays a node (and is matched like any other)
        return None


# ---------------------------------------------------------------------------------------------
# exact per-channel affine chains


def _fraction_array(values: np.ndarray) -> np.ndarray:
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    return np.array([Fraction(v) for v in flat.tolist()], dtype=object).reshape(np.shape(values))


def _sqrt_enclosure(q: Fraction, bits: int = 80) -> tuple[Fraction, Fraction]:
    """``lo <= sqrt(q) <= hi`` with ``hi - lo <= 2^-bits * sqrt(q)`` (rationals)."""
    num, den = q.numerator, q.denominator
    scale = 1 << (bits + 1)
    root = math.isqrt(num * den * scale * scale)  # floor(sqrt(q) * den * scale)
    lo, hi = Fraction(root, den * scale), Fraction(root + 1, den * scale)
    return lo, hi


@dataclass
class _Affine:
    """``y[o] = S[o] x[o] + T[o]`` composed exactly, with the bias magnitude ``A`` and counts."""

    S: np.ndarray
    T: np.ndarray
    A: np.ndarray
    radius: np.ndarray  # |S - S_exact| <= radius (from the sqrt enclosures)
    n_weight: int = 2
    n_bias: int = 3
    steps: list[str] = field(default_factory=list)


def _per_channel(value: np.ndarray, channels: int) -> np.ndarray | None:
    """A constant that broadcasts along the channel axis of NCHW (shape ``()``, ``(1,)``,
    ``(C, 1, 1)`` or ``(1, C, 1, 1)``) as a vector of length ``C``; None for anything else (a
    constant that varies over space or batch is not a per-channel affine map)."""
    v = np.asarray(value)
    if v.size == 1 and v.ndim <= 4:
        return np.full(channels, v.reshape(()).item(), dtype=v.dtype)
    if v.shape in ((channels, 1, 1), (1, channels, 1, 1)):
        return v.reshape(channels)
    return None


def _start(bias: np.ndarray | None, channels: int) -> _Affine:
    T = _fraction_array(bias) if bias is not None else np.array([Fraction(0)] * channels, dtype=object)
    S = np.array([Fraction(1)] * channels, dtype=object)
    return _Affine(S, T, np.abs(T), np.array([Fraction(0)] * channels, dtype=object))


def _apply_bn(chain: _Affine, node, graph: _Graph) -> _Affine:
    """Compose ``bn`` after the chain with :func:`convsym.transforms.fold_batchnorm`, exactly."""
    from convsym.transforms import BatchNorm2d, Conv2d, fold_batchnorm

    gamma, beta, mean, var = (_fraction_array(graph.const[n]) for n in node.input[1:5])
    eps = Fraction(float(np.float32(graph.attrs(node).get("epsilon", 1e-5))))
    channels = len(gamma)
    s_hat = np.empty(channels, dtype=object)
    radius = np.empty(channels, dtype=object)
    for c in range(channels):
        lo, hi = _sqrt_enclosure(var[c] + eps)
        mid = (lo + hi) / 2
        s_hat[c] = gamma[c] / mid
        radius[c] = abs(gamma[c]) * (1 / lo - 1 / hi)
    half = np.array([Fraction(1, 2)] * channels, dtype=object)
    # a probe conv: weight S (so the folded weight is S * s) and bias T
    probe = Conv2d(chain.S.reshape(channels, 1, 1, 1), chain.T)
    folded = fold_batchnorm(probe, BatchNorm2d(mean, half, s_hat, beta, eps=Fraction(1, 2)))
    S, T = folded.weight.reshape(channels), folded.bias
    A = (chain.A + np.abs(mean)) * np.abs(s_hat) + np.abs(beta)
    new_radius = chain.radius * np.abs(s_hat) + np.abs(chain.S) * radius
    return _Affine(np.array(S, dtype=object), np.array(T, dtype=object), A, new_radius, chain.n_weight + 5,
                   chain.n_bias + 8, chain.steps + [node.name])


def _apply_add(chain: _Affine, c: np.ndarray, node) -> _Affine:
    c = _fraction_array(c)
    return _Affine(chain.S, chain.T + c, chain.A + np.abs(c), chain.radius, chain.n_weight, chain.n_bias + 1,
                   chain.steps + [node.name])


def _apply_mul(chain: _Affine, c: np.ndarray, node) -> _Affine:
    c = _fraction_array(c)
    return _Affine(chain.S * c, chain.T * c, chain.A * np.abs(c), chain.radius * np.abs(c), chain.n_weight + 1,
                   chain.n_bias + 1, chain.steps + [node.name])


def _gamma(n: int, u: float) -> float:
    return n * u / (1 - n * u)


def _out_index(weight_shape, group: int, transposed: bool) -> np.ndarray:
    """For each weight entry (as a broadcastable array) the output channel it writes."""
    if not transposed:
        return np.arange(weight_shape[0])[:, None, None, None]
    cin, cout_g = weight_shape[0], weight_shape[1]
    gi = cin // group
    i = np.arange(cin)[:, None]
    return ((i // gi) * cout_g + np.arange(cout_g)[None, :])[:, :, None, None]


def _check_weights(w: np.ndarray, w_opt: np.ndarray, chain: _Affine, idx: np.ndarray, u: float, tiny: float):
    """``(ok, ratio, allowed)``: is every ``|w_opt - w*S| <= gamma_Nw |w*S| + N*tiny``, decided exactly."""
    n = chain.n_weight
    g = _gamma(n, u)
    S64 = np.array([float(s) for s in chain.S])[idx]
    # the enclosure of sqrt is 2^-80 relative: far inside the margin below
    assert all(r <= abs(s) * Fraction(1, 10**15) for r, s in zip(chain.radius, chain.S, strict=True))
    w64, o64 = w.astype(np.float64), w_opt.astype(np.float64)
    ref = w64 * S64
    allowed = g * np.abs(ref) + n * tiny
    d = np.abs(o64 - ref)
    undecided = np.abs(d - allowed) <= 2e-12 * (np.abs(ref) + allowed) + 1e-300
    ok_entries = d < allowed
    for pos in zip(*np.nonzero(undecided), strict=False):
        o = int(np.broadcast_to(idx, w.shape)[pos])
        exact = Fraction(float(w[pos])) * chain.S[o]
        err = abs(Fraction(float(w_opt[pos])) - exact)
        lim = Fraction(g) * abs(exact) + n * Fraction(tiny) - abs(Fraction(float(w[pos]))) * chain.radius[o]
        ok_entries[pos] = err <= lim
    ratio = float(np.max(d / allowed)) if d.size else 0.0
    return bool(ok_entries.all()), ratio, allowed


def _check_bias(b_opt: np.ndarray | None, chain: _Affine, u: float, tiny: float, channels: int):
    n = chain.n_bias
    g = _gamma(n, u)
    b_opt = np.zeros(channels) if b_opt is None else b_opt
    ok, ratio, allowed = True, 0.0, np.empty(channels)
    for o in range(channels):
        exact = chain.T[o]
        # T was composed with s_hat, within 2^-80 relative of the exact scale: |T - T_exact| is at
        # most A * 2^-78, far below gamma_N * A, and added so that the decision stays rigorous
        lim = Fraction(g) * chain.A[o] + n * Fraction(tiny) + chain.A[o] / 2**78
        err = abs(Fraction(float(b_opt[o])) - exact)
        allowed[o] = float(lim)
        ok = ok and err <= lim
        ratio = max(ratio, float(err / lim) if lim else (0.0 if err == 0 else math.inf))
    return ok, ratio, allowed


# ---------------------------------------------------------------------------------------------
# conv attributes and the float64 evaluation of witnesses


def _conv_attrs(graph: _Graph, node, weight: np.ndarray) -> dict[str, Any]:
    a = graph.attrs(node)
    k = weight.shape[2:]
    nd = len(k)
    out = {
        "kernel_shape": tuple(a.get("kernel_shape", k)),
        "strides": tuple(a.get("strides", (1,) * nd)),
        "dilations": tuple(a.get("dilations", (1,) * nd)),
        "group": int(a.get("group", 1)),
        "pads": tuple(a.get("pads", (0,) * (2 * nd))),
        "auto_pad": a.get("auto_pad", b"NOTSET"),
    }
    if node.op_type == "ConvTranspose":
        out["output_padding"] = tuple(a.get("output_padding", (0,) * nd))
        if "output_shape" in a:
            out["output_shape"] = tuple(a["output_shape"])
    if isinstance(out["auto_pad"], bytes):
        out["auto_pad"] = out["auto_pad"].decode()
    return out


def _pad_amounts(graph: _Graph, node) -> tuple[int, ...] | None:
    """Spatial (top, left, bottom, right) zeros of a constant-mode ``Pad`` on NCHW, else None."""
    a = graph.attrs(node)
    mode = a.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode != "constant":
        return None
    pads = graph.const.get(node.input[1]) if len(node.input) > 1 else a.get("pads")
    if pads is None:
        return None
    value = graph.const.get(node.input[2]) if len(node.input) > 2 and node.input[2] else 0
    if value is None or np.any(np.asarray(value) != 0) or (len(node.input) > 3 and node.input[3]):
        return None
    pads = [int(p) for p in np.asarray(pads).reshape(-1)]
    if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)) or min(pads) < 0:
        return None
    return (pads[2], pads[3], pads[6], pads[7])


def _run_conv(x, w, b, attrs, transposed: bool):
    from convsym import reference

    top, left, bottom, right = attrs["pads"]
    if transposed:
        if top != bottom or left != right:
            raise ValueError("validate: asymmetric ConvTranspose pads are not supported for witnesses")
        return reference.conv_transpose2d(x, w, b, stride=attrs["strides"], padding=(top, left),
                                          output_padding=attrs.get("output_padding", (0, 0)),
                                          dilation=attrs["dilations"], groups=attrs["group"])
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    return reference.conv2d(xp, w, b, stride=attrs["strides"], padding=0, dilation=attrs["dilations"],
                            groups=attrs["group"])


def _run_chain(graph: _Graph, chain_nodes, x, absolute: bool = False):
    """A chain of nodes (Pad, Conv/ConvTranspose, BN/Add/Mul, activations) on ``x`` in float64;
    ``absolute``: every conv parameter replaced by its absolute value and activations by the
    identity (a bound on the magnitudes, for 1-Lipschitz activations)."""
    from convsym import reference

    y = x
    for node in chain_nodes:
        op = node.op_type
        if op == "Pad":
            t, l, b_, r = _pad_amounts(graph, node)
            y = np.pad(y, ((0, 0), (0, 0), (t, b_), (l, r)))
        elif op in ("Conv", "ConvTranspose"):
            w = graph.const[node.input[1]].astype(np.float64)
            b = graph.const[node.input[2]].astype(np.float64) if len(node.input) > 2 and node.input[2] else None
            if absolute:
                w, b = np.abs(w), None if b is None else np.abs(b)
            y = _run_conv(y, w, b, _conv_attrs(graph, node, w), op == "ConvTranspose")
        elif op == "BatchNormalization":
            gamma, beta, mean, var = (graph.const[n].astype(np.float64) for n in node.input[1:5])
            eps = float(np.float32(graph.attrs(node).get("epsilon", 1e-5)))
            y = reference.batch_norm(y, mean, var, gamma, beta, eps)
        elif op in ("Add", "Mul"):
            c = next(graph.const[n] for n in node.input if n in graph.const).astype(np.float64)
            y = y + c if op == "Add" else y * c
        elif op in ("Relu", "Clip", "LeakyRelu", "PRelu"):
            y = y if absolute else _activation(graph, node, y)
        else:
            raise ValueError(f"validate: cannot evaluate {op} for a witness")
    return y


def _activation(graph: _Graph, node, y):
    op = node.op_type
    if op == "Relu":
        return np.maximum(y, 0)
    if op == "LeakyRelu":
        alpha = graph.attrs(node).get("alpha", 0.01)
        return np.where(y >= 0, y, alpha * y)
    if op == "Clip":
        lo = graph.const.get(node.input[1]) if len(node.input) > 1 and node.input[1] else None
        hi = graph.const.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        a = graph.attrs(node)
        lo = a.get("min", -np.inf) if lo is None else float(lo)
        hi = a.get("max", np.inf) if hi is None else float(hi)
        return np.clip(y, lo, hi)
    if op == "PRelu":
        slope = graph.const[node.input[1]].astype(np.float64)
        return np.where(y >= 0, y, slope * y)
    raise ValueError(f"validate: cannot evaluate {op} for a witness")


def _cle_scales(w: np.ndarray, w_opt: np.ndarray) -> np.ndarray | None:
    """``s`` with ``w_opt[o] ~ w[o] / s[o]`` read off each channel's largest entry, when every
    ``s[o] > 0`` and some ``s[o]`` is not 1; else None."""
    flat = w.reshape(w.shape[0], -1).astype(np.float64)
    flat_opt = w_opt.reshape(w_opt.shape[0], -1).astype(np.float64)
    if flat.shape != flat_opt.shape:
        return None
    k = np.argmax(np.abs(flat), axis=1)
    rows = np.arange(w.shape[0])
    top, top_opt = flat[rows, k], flat_opt[rows, k]
    if np.any(top == 0) or np.any(top_opt == 0):
        return None
    s = top / top_opt
    if np.any(s <= 0) or np.all(np.abs(s - 1) < 1e-5):
        return None
    return s


# ---------------------------------------------------------------------------------------------
# the validator


class _Validator:
    def __init__(self, original, optimized):
        self.a = _Graph(original)
        self.b = _Graph(optimized)
        self.map: dict[str, str] = {}
        self.scaled: dict[str, tuple[str, np.ndarray, list, Any]] = {}  # CLE: tensor -> (orig, s, nodes, act)
        self.results: list[NodeResult] = []
        self._chains_done: dict[tuple, _Affine] = {}
        if len(self.a.inputs) != len(self.b.inputs):
            raise ValueError(f"validate: the graphs have {len(self.a.inputs)} and {len(self.b.inputs)} inputs")
        for x, y in zip(self.a.inputs, self.b.inputs, strict=True):
            self.map[y] = x

    def run(self) -> list[NodeResult]:
        for node in self.b.nodes:
            try:
                self.results.append(self.node(node))
            except (ValueError, TypeError, KeyError, IndexError, ArithmeticError) as exc:
                # a node this validator cannot analyse is reported, never passed silently
                self.results.append(NodeResult(node.name, node.op_type, "unmatched", "",
                                               reason=f"not analysed: {type(exc).__name__}: {exc}"))
        for i, out in enumerate(self.b.outputs):
            mapped = self.map.get(self.b.resolve(out))
            want = self.a.resolve(self.a.outputs[i]) if i < len(self.a.outputs) else None
            if mapped != want:
                self.results.append(NodeResult(f"output:{out}", "Output", "unmatched", "output",
                                               reason=f"graph output {i} maps to {mapped!r}, "
                                                      f"the original's is {want!r}"))
        return self.results

    # -- rules
    def node(self, node) -> NodeResult:
        ins = self.b.data_inputs(node)
        if node.op_type in ALIASES and ins:
            if ins[0] in self.map:
                self.map[node.output[0]] = self.map[ins[0]]
                return NodeResult(node.name, node.op_type, "verified", "alias", [], None, reason="identity")
        if any(i in self.scaled for i in ins):
            return self.through_scaled(node, ins)
        missing = [i for i in ins if i not in self.map]
        if missing:
            return NodeResult(node.name, node.op_type, "unmatched", "", reason=f"inputs {missing} are not matched "
                              "to tensors of the original graph")
        same = self.unchanged(node, ins)
        if same is not None:
            return same
        if node.op_type in ("Conv", "ConvTranspose"):
            return self.conv(node, ins)
        return NodeResult(node.name, node.op_type, "unmatched", "",
                          reason=f"no node of the original graph computes {node.op_type} of the matched inputs "
                                 "with these attributes and constants")

    def unchanged(self, node, ins) -> NodeResult | None:
        first = self.map[ins[0]] if ins else None
        candidates = self.a.consumers.get(first, []) if first is not None else self.a.nodes
        for cand in candidates:
            if cand.op_type != node.op_type or cand.domain != node.domain or len(cand.input) != len(node.input):
                continue
            if self.a.attrs(cand) != self.b.attrs(node):
                continue
            if all(self._same_input(x, y) for x, y in zip(cand.input, node.input, strict=True)):
                for x, y in zip(cand.output, node.output, strict=False):
                    self.map[y] = self.a.resolve(x)
                return NodeResult(node.name, node.op_type, "verified", "unchanged", [cand.name], None,
                                  reason="same op, attributes, inputs and constants")
        return None

    def _same_input(self, x: str, y: str) -> bool:
        if (x == "") != (y == ""):
            return False
        if x == "":
            return True
        if y in self.b.const or x in self.a.const:
            if x not in self.a.const or y not in self.b.const:
                return False
            p, q = self.a.const[x], self.b.const[y]
            return p.shape == q.shape and p.dtype == q.dtype and np.array_equal(p, q)
        return self.map.get(self.b.resolve(y)) == self.a.resolve(x)

    def _chains(self, start: str, transposed: bool):
        """Original ``[Pad ->] Conv -> affine*`` chains reading ``start``: (pad node, conv node, affine nodes)."""
        want = "ConvTranspose" if transposed else "Conv"
        heads = []
        for cand in self.a.consumers.get(start, []):
            if cand.op_type == want:
                heads.append((None, cand))
            elif cand.op_type == "Pad" and _pad_amounts(self.a, cand) is not None:
                out = cand.output[0]
                for c2 in self.a.consumers.get(out, []):
                    if c2.op_type == want and len(self.a.consumers.get(out, [])) == 1:
                        heads.append((cand, c2))
        for pad, conv in heads:
            if conv.input[1] not in self.a.const:
                continue
            tail = []
            tensor = conv.output[0]
            while True:
                users = self.a.consumers.get(self.a.resolve(tensor), [])
                if len(users) != 1 or tensor in self.a.outputs:
                    break
                nxt = users[0]
                channels = self._channels(conv)
                if nxt.op_type == "BatchNormalization" and all(n in self.a.const for n in nxt.input[1:5]):
                    tail.append(nxt)
                elif nxt.op_type in ("Add", "Mul") and len(nxt.input) == 2:
                    consts = [n for n in nxt.input if n in self.a.const]
                    if len(consts) != 1 or _per_channel(self.a.const[consts[0]], channels) is None:
                        break
                    tail.append(nxt)
                else:
                    break
                tensor = nxt.output[0]
            yield pad, conv, tail

    def _channels(self, conv) -> int:
        w = self.a.const[conv.input[1]]
        if conv.op_type == "Conv":
            return w.shape[0]
        return w.shape[1] * int(self.a.attrs(conv).get("group", 1))

    def conv(self, node, ins) -> NodeResult:
        b = self.b
        transposed = node.op_type == "ConvTranspose"
        if node.input[1] not in b.const or (len(node.input) > 2 and node.input[2] and node.input[2] not in b.const):
            return NodeResult(node.name, node.op_type, "unmatched", "conv-chain",
                              reason="the weight or bias is not a constant")
        w_opt = b.const[node.input[1]]
        bias_opt = b.const[node.input[2]] if len(node.input) > 2 and node.input[2] else None
        attrs_opt = _conv_attrs(b, node, w_opt)
        start = self.map[ins[0]]
        best = None
        for pad, conv, tail in self._chains(start, transposed):
            w = self.a.const[conv.input[1]]
            if w.shape != w_opt.shape:
                continue  # another layer reading the same tensor (a sibling branch), not this one
            attrs = _conv_attrs(self.a, conv, w)
            for length in range(len(tail), -1, -1):
                verdict, witness = self._compare(node, w_opt, bias_opt, attrs_opt, pad, conv, attrs, tail[:length],
                                                 transposed)
                if verdict.status == "verified":
                    return verdict
                # the closest wrong candidate: structure kept first, then the longest chain
                rank = (verdict.max_error_ratio is not None, len(verdict.original))
                end = (tail[length - 1] if length else conv).output[0]
                if best is None or rank > best[0]:
                    best = (rank, verdict, witness, end)
        for pad, conv, _ in self._chains(start, transposed):
            w = self.a.const[conv.input[1]]
            if pad is None and not transposed and w.shape == w_opt.shape and _cle_scales(w, w_opt) is not None \
                    and _conv_attrs(self.a, conv, w) == attrs_opt:
                # no fold explains the weights: the first conv of an equalized pair?
                u = float(np.finfo(w_opt.dtype).eps) / 2
                verdict = self._cle_first(node, conv, w, w_opt, [conv.name], [], u)
                if verdict.status == "verified":
                    return verdict
        if best is not None:
            _, verdict, witness, end = best
            if verdict.status == "wrong" and witness is not None:
                verdict.witness = witness()
            # the node claims to compute that tensor: its consumers are checked against it
            self.map[node.output[0]] = self.a.resolve(end)
            return verdict
        return NodeResult(node.name, node.op_type, "unmatched", "conv-chain",
                          reason=f"no {node.op_type} of the original graph reads the matched input {start!r}")

    def _compare(self, node, w_opt, bias_opt, attrs_opt, pad, conv, attrs, tail, transposed) -> NodeResult:
        a = self.a
        w = a.const[conv.input[1]]
        bias = a.const[conv.input[2]] if len(conv.input) > 2 and conv.input[2] else None
        chain_nodes = ([pad] if pad is not None else []) + [conv] + list(tail)
        names = [n.name for n in chain_nodes]
        channels = self._channels(conv)
        pads = list(attrs["pads"])
        if pad is not None:
            t, l, b_, r = _pad_amounts(a, pad)
            pads = [pads[0] + t, pads[1] + l, pads[2] + b_, pads[3] + r]
        conditions = []

        def cond(name, holds, values):
            conditions.append({"name": name, "holds": bool(holds), "values": values})
            return holds

        structural = True
        for key in ("kernel_shape", "strides", "dilations", "group", "auto_pad", "output_padding", "output_shape"):
            if key in attrs or key in attrs_opt:
                structural &= cond(f"{key} kept", attrs.get(key) == attrs_opt.get(key),
                                   f"{attrs.get(key)} -> {attrs_opt.get(key)}")
        structural &= cond("padding: conv pads + Pad zeros", tuple(pads) == tuple(attrs_opt["pads"]),
                           f"{tuple(pads)} -> {tuple(attrs_opt['pads'])}")
        structural &= cond("weight shape kept", w.shape == w_opt.shape, f"{w.shape} -> {w_opt.shape}")
        dtype = np.dtype(w_opt.dtype)
        u = float(np.finfo(dtype).eps) / 2
        tiny = SUBNORMAL.get(dtype, 0.0)
        chain = self._chain(conv, bias, channels, tuple(tail))
        theorem = "folding.bn-after-conv-exact" if tail else None
        rule = "conv-chain" if tail else ("pad-into-conv" if pad is not None else "conv (parameters re-rounded)")
        ratio = None
        if structural:
            idx = _out_index(w.shape, attrs["group"], transposed)
            ok_w, rw, allowed_w = _check_weights(w, w_opt, chain, idx, u, tiny)
            ok_b, rb, allowed_b = _check_bias(bias_opt, chain, u, tiny, channels)
            ratio = max(rw, rb)
            cond(f"weights within gamma_{chain.n_weight} |W S| (u = 2^{int(math.log2(u))})", ok_w,
                 f"max error/bound {rw:.3g}")
            cond(f"bias within gamma_{chain.n_bias} A", ok_b, f"max error/bound {rb:.3g}")
            if ok_w and ok_b:
                self.map[node.output[0]] = a.resolve(chain_nodes[-1].output[0])
                return NodeResult(node.name, node.op_type, "verified", rule, names, theorem, conditions, ratio), None
        else:
            allowed_w, allowed_b = None, None
        broken = next(c["name"] for c in conditions if not c["holds"])

        def witness():
            return self._witness(chain_nodes, w_opt, bias_opt, attrs_opt, transposed, allowed_w, allowed_b, w)

        return NodeResult(node.name, node.op_type, "wrong", rule, names, theorem, conditions, ratio, None,
                          reason=f"condition broken: {broken}"), witness

    def _chain(self, conv, bias, channels: int, tail: tuple) -> _Affine:
        """The exact per-channel affine map of ``tail`` after ``conv``'s bias (memoised)."""
        key = (conv.name, *[t.name for t in tail])
        if key not in self._chains_done:
            if not tail:
                chain = _start(bias, channels)
            else:
                chain, t = self._chain(conv, bias, channels, tail[:-1]), tail[-1]
                if t.op_type == "BatchNormalization":
                    chain = _apply_bn(chain, t, self.a)
                else:
                    c = _per_channel(next(self.a.const[n] for n in t.input if n in self.a.const), channels)
                    chain = _apply_add(chain, c, t) if t.op_type == "Add" else _apply_mul(chain, c, t)
            self._chains_done[key] = chain
        return self._chains_done[key]

    # -- cross-layer equalization
    def _cle_first(self, node, conv, w, w_opt, names, conditions, u) -> NodeResult:
        """The first conv of an equalized pair: ``W' = W / s``, ``b' = b / s`` for some ``s > 0``.

        ``s`` is read off the largest entry of each output channel (a float64 ratio within
        ``2u`` of the optimizer's own ``s``), so each entry is checked against ``gamma_3 |W/s|``.
        """
        s = _cle_scales(w, w_opt)
        b = self.b
        expected = w.astype(np.float64) / s[:, None, None, None]
        allowed = _gamma(3, u) * np.abs(expected) + 1e-300
        ratio = float(np.max(np.abs(w_opt.astype(np.float64) - expected) / allowed))
        bias = self.a.const[conv.input[2]].astype(np.float64) if len(conv.input) > 2 and conv.input[2] else None
        bias_opt = b.const[node.input[2]].astype(np.float64) if len(node.input) > 2 and node.input[2] else None
        if (bias is None) != (bias_opt is None):
            ratio = math.inf
        elif bias is not None:
            want = bias / s
            ratio = max(ratio, float(np.max(np.abs(bias_opt - want) / (_gamma(3, u) * np.abs(want) + 1e-300))))
        ok = ratio <= 1
        conditions = [c for c in conditions if not c["name"].startswith("bias")]
        conditions.append({"name": "first conv of an equalized pair: W' = W / s, b' = b / s, s > 0", "holds": ok,
                           "values": f"s in [{s.min():.3g}, {s.max():.3g}], max error/bound {ratio:.3g}"})
        if not ok:
            return NodeResult(node.name, node.op_type, "wrong", "equalized", names, "folding.cle-scale-out",
                              conditions, ratio, reason="weights are not W / s for one s per output channel")
        self.scaled[node.output[0]] = {"orig": self.a.resolve(conv.output[0]), "s": s, "orig_nodes": [conv],
                                       "opt_nodes": [node], "broken": None, "results": []}
        result = NodeResult(node.name, node.op_type, "verified", "equalized", names, "folding.cle-scale-out",
                            conditions, ratio, reason="output channel i divided by s_i; its consumers must undo it")
        self.scaled[node.output[0]]["results"].append(result)
        return result

    def through_scaled(self, node, ins) -> NodeResult:
        source = next(i for i in ins if i in self.scaled)
        entry = self.scaled.pop(source)
        orig = entry["orig"]
        op = node.op_type
        if op in HOMOGENEOUS or op in NOT_HOMOGENEOUS:
            cands = [c for c in self.a.consumers.get(orig, []) if c.op_type == op and self.a.attrs(c) ==
                     self.b.attrs(node) and all(self._same_input(x, y) for x, y in
                                               zip(c.input[1:], node.input[1:], strict=False))]
            if not cands:
                return NodeResult(node.name, op, "unmatched", "equalized",
                                  reason=f"no {op} with these attributes reads the original tensor {orig!r}")
            cand = cands[0]
            homogeneous = op in HOMOGENEOUS
            theorem = HOMOGENEOUS[op] if homogeneous else NOT_HOMOGENEOUS[op]
            result = NodeResult(node.name, op, "verified" if homogeneous else "wrong", "equalized", [cand.name],
                                theorem, [{"name": "activation positively homogeneous: f(z/s) = f(z)/s for s > 0",
                                           "holds": homogeneous, "values": op}])
            if not homogeneous:
                result.reason = (f"{op} is not positively homogeneous, so scaling its input by 1/s and the next "
                                 f"layer by s changes the network ({theorem})")
            self.scaled[node.output[0]] = {
                "orig": self.a.resolve(cand.output[0]), "s": entry["s"], "orig_nodes": entry["orig_nodes"] + [cand],
                "opt_nodes": entry["opt_nodes"] + [node],
                "broken": entry["broken"] or (None if homogeneous else theorem),
                "results": entry["results"] + [result]}
            return result
        if op == "Conv" and node.input[1] in self.b.const:
            for cand in self.a.consumers.get(orig, []):
                if cand.op_type != "Conv" or cand.input[1] not in self.a.const:
                    continue
                result = self._cle_second(node, cand, entry)
                if result is not None:
                    return result
        return NodeResult(node.name, op, "wrong", "equalized", [], "folding.cle-scale-out",
                          reason=f"the tensor scaled by equalization reaches {op}, which does not undo the scale")

    def _cle_second(self, node, cand, entry) -> NodeResult | None:
        """The second conv of an equalized pair: input channel ``i`` multiplied by ``s_i``."""
        w, w_opt = self.a.const[cand.input[1]], self.b.const[node.input[1]]
        attrs, attrs_opt = _conv_attrs(self.a, cand, w), _conv_attrs(self.b, node, w_opt)
        if attrs != attrs_opt or w.shape != w_opt.shape:
            return None
        s, u = entry["s"], float(np.finfo(w_opt.dtype).eps) / 2
        gi, go = w.shape[1], w.shape[0] // attrs["group"]
        o = np.arange(w.shape[0])[:, None]
        channel = (o // go) * gi + np.arange(gi)[None, :]
        expected = w.astype(np.float64) * s[channel][:, :, None, None]
        ratio = float(np.max(np.abs(w_opt.astype(np.float64) - expected) / (_gamma(3, u) * np.abs(expected) + 1e-300)))
        same_bias = self._same_input(cand.input[2] if len(cand.input) > 2 else "",
                                     node.input[2] if len(node.input) > 2 else "")
        ok = ratio <= 1 and same_bias
        conditions = [{"name": "second conv: input channel i multiplied by s_i, bias kept", "holds": ok,
                       "values": f"max error/bound {ratio:.3g}, bias kept: {same_bias}"}]
        self.map[node.output[0]] = self.a.resolve(cand.output[0])
        broken = entry["broken"]
        if ok and broken is None:
            return NodeResult(node.name, node.op_type, "verified", "equalized", [cand.name], "folding.cle-scale-in",
                              conditions, ratio)
        orig_nodes, opt_nodes = entry["orig_nodes"] + [cand], entry["opt_nodes"] + [node]
        witness = self._pair_witness(orig_nodes, opt_nodes, u)
        for result in entry["results"]:
            if result.status == "wrong":
                result.witness = witness
        theorem = broken or "folding.cle-scale-in"
        reason = (f"equalization through a non-homogeneous activation ({broken})" if broken
                  else "input channels are not multiplied by the scales of the first conv")
        return NodeResult(node.name, node.op_type, "wrong", "equalized", [n.name for n in orig_nodes], theorem,
                          conditions, ratio, witness, reason)

    def _pair_witness(self, orig_nodes, opt_nodes, u) -> dict[str, Any] | None:
        """Random inputs (scaled by 1, 10, 100 so that clipping activations clip) on which the
        equalized pair and the original pair differ by more than ``2 gamma_3`` times the
        pair's absolute-value evaluation plus float64 error."""
        a = self.a
        shape = a.shapes.get(a.resolve(orig_nodes[0].input[0]))
        w = a.const[orig_nodes[0].input[1]]
        shape = (1, *shape[1:]) if shape else (1, w.shape[1] * int(a.attrs(orig_nodes[0]).get("group", 1)), 16, 16)
        rng = np.random.default_rng(0)
        for scale in (1.0, 10.0, 100.0):
            x = scale * rng.standard_normal(shape)
            want, got = _run_chain(a, orig_nodes, x), _run_chain(self.b, opt_nodes, x)
            magnitude = _run_chain(self.b, opt_nodes, np.abs(x), absolute=True)
            n = int(np.prod(w.shape[1:])) + 2
            bound = (2 * _gamma(3, u) + 4 * n * 2.0**-53) * magnitude
            excess = np.abs(want - got) - bound
            if float(excess.max()) > 0:
                pos = np.unravel_index(int(np.argmax(excess)), excess.shape)
                return {"input": f"random normal x {scale:g}", "shape": list(shape), "seed": 0,
                        "at": [int(p) for p in pos], "original": float(want[pos]), "optimized": float(got[pos]),
                        "difference": float(abs(want[pos] - got[pos])), "bound": float(bound[pos])}
        return None

    # -- witnesses
    def _witness(self, chain_nodes, w_opt, bias_opt, attrs_opt, transposed, allowed_w, allowed_b, w):
        """An input on which the original chain and the optimized node differ beyond the bound."""
        a = self.a
        head = chain_nodes[0]
        shape = a.shapes.get(a.resolve(head.input[0]))
        if shape is None:  # no static shape: a 16 x 16 map of the conv's input channels
            conv = next(n for n in chain_nodes if n.op_type in ("Conv", "ConvTranspose"))
            channels = w.shape[0] if transposed else w.shape[1] * int(a.attrs(conv).get("group", 1))
            shape = (1, channels, 16, 16)
        shape = (1, *shape[1:])
        w64 = w_opt.astype(np.float64)
        b64 = None if bias_opt is None else bias_opt.astype(np.float64)
        if allowed_w is None:
            allowed_w = np.zeros_like(w64)
        if allowed_b is None:
            allowed_b = np.zeros(w64.shape[1] * attrs_opt["group"] if transposed else w64.shape[0])
        rng = np.random.default_rng(0)
        candidates = [("random normal", rng.standard_normal(shape)), ("zeros", np.zeros(shape))]
        candidates += [("random normal x 100", 100 * rng.standard_normal(shape))]
        for label, x in candidates:
            try:
                want = _run_chain(a, chain_nodes, x)
                got = _run_conv(x, w64, b64, attrs_opt, transposed)
            except ValueError:
                continue
            if want.shape != got.shape:
                return {"input": label, "shape": list(shape), "seed": 0,
                        "detail": f"output shapes differ: {list(want.shape)} vs {list(got.shape)}"}
            bound_out = _run_conv(np.abs(x), allowed_w, allowed_b, attrs_opt, transposed)
            n = int(np.prod(w64.shape[1:])) + 2
            slack = 4 * n * 2.0**-53 * _run_conv(np.abs(x), np.abs(w64), None if b64 is None else np.abs(b64),
                                                 attrs_opt, transposed)
            excess = np.abs(want - got) - bound_out - slack
            if float(excess.max()) > 0:
                pos = np.unravel_index(int(np.argmax(excess)), excess.shape)
                return {"input": label, "shape": list(shape), "seed": 0, "at": [int(p) for p in pos],
                        "original": float(want[pos]), "optimized": float(got[pos]),
                        "difference": float(abs(want[pos] - got[pos])),
                        "bound": float(bound_out[pos] + slack[pos])}
        return None


def validate_models(original, optimized) -> Report:
    """Validate ``optimized`` against ``original`` (ONNX ``ModelProto`` or file paths)."""
    onnx = _onnx()
    start = time.perf_counter()
    models = []
    for label, m in (("ORIGINAL", original), ("OPTIMIZED", optimized)):
        if isinstance(m, (str, Path)):
            path = Path(m)
            if not path.is_file():
                raise ValueError(f"validate_models: {label} {str(path)!r} is not a file")
            try:
                m = onnx.load(str(path))
            except Exception as exc:  # protobuf raises DecodeError and friends
                raise ValueError(f"validate_models: {label} {str(path)!r} is not an ONNX model: {exc}") from exc
        if not isinstance(m, onnx.ModelProto):
            raise TypeError(f"validate_models: {label} must be an onnx.ModelProto or a path, got {type(m).__name__}")
        models.append(m)
    results = _Validator(*models).run()
    return Report(results, time.perf_counter() - start)


def validate_torch(original, optimized, example_input, opset: int = 17) -> Report:
    """Export both modules to ONNX (legacy exporter, no constant folding) and validate."""
    import io
    import warnings

    import torch

    onnx = _onnx()
    models = []
    for module in (original, optimized):
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module.eval(), example_input, buffer, dynamo=False, opset_version=opset,
                              do_constant_folding=False)
        models.append(onnx.load_from_string(buffer.getvalue()))
    return validate_models(*models)
