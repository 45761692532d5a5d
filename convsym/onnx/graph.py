"""ONNX graphs as the validator reads them: constants folded, aliases resolved, tensors indexed;
convolution and padding attributes normalised."""

from __future__ import annotations

from typing import Any

import numpy as np

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




class _Graph:
    """An ONNX graph with its constants folded and its tensors indexed."""

    def __init__(self, model, label: str = "the"):
        _onnx()
        from onnx import numpy_helper

        graph = model.graph
        _check_dag(graph, label)
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


def _check_dag(graph, label: str) -> None:
    """``ValueError`` unless every node reads only graph inputs, initializers and tensors of
    earlier nodes, and no tensor is produced twice: ONNX's rule, which makes the graph a DAG (a
    cycle, or a node out of order, could not be matched to anything)."""
    known = {i.name for i in graph.initializer} | {i.name for i in graph.input}
    for i, node in enumerate(graph.node):
        name = node.name or f"{node.op_type}_{i}"
        for tensor in node.input:
            if tensor and tensor not in known:
                raise ValueError(
                    f"validate: {label} graph is not a DAG of nodes in topological order (ONNX's rule): node "
                    f"{name!r} ({node.op_type}) reads {tensor!r}, which no graph input, initializer or earlier "
                    "node produces")
        for tensor in node.output:
            if tensor and tensor in known:
                raise ValueError(f"validate: {label} graph is not a DAG (ONNX's rule): node {name!r} "
                                 f"({node.op_type}) produces {tensor!r}, which is already defined")
            known.add(tensor)


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
