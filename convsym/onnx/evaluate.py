"""Float64 evaluation of original subgraphs and optimized nodes, for witnesses."""

from __future__ import annotations

import numpy as np

from convsym.onnx.graph import _conv_attrs, _Graph, _pad_amounts


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


def _run_subgraph(graph: _Graph, nodes, start: str, target: str, x, absolute: bool = False):
    """The original subgraph ``nodes`` (Pad, Conv, BN, Add/Mul of a constant, Add of two tensors)
    on ``x`` given for tensor ``start``, in float64, returning tensor ``target``.  ``absolute``:
    every term replaced by its absolute value (parameters, BN's scale and shift), a bound on the
    magnitudes that float64 evaluation errors are relative to."""
    from convsym import reference

    env = {start: x}
    order = {id(n): i for i, n in enumerate(graph.nodes)}
    for node in sorted(nodes, key=lambda n: order[id(n)]):
        data = [env[t] for t in graph.data_inputs(node)]
        op = node.op_type
        if op == "Add" and len(data) == 2:
            y = data[0] + data[1]
        elif op == "BatchNormalization" and absolute:
            gamma, beta, mean, var = (graph.const[n].astype(np.float64) for n in node.input[1:5])
            s = gamma / np.sqrt(var + float(np.float32(graph.attrs(node).get("epsilon", 1e-5))))
            y = data[0] * np.abs(s)[None, :, None, None] + (np.abs(mean * s) + np.abs(beta))[None, :, None, None]
        elif op in ("Add", "Mul") and absolute:
            c = np.abs(next(graph.const[n] for n in node.input if n in graph.const).astype(np.float64))
            y = data[0] + c if op == "Add" else data[0] * c
        elif op == "BatchNormalization":
            gamma, beta, mean, var = (graph.const[n].astype(np.float64) for n in node.input[1:5])
            eps = float(np.float32(graph.attrs(node).get("epsilon", 1e-5)))
            y = reference.batch_norm(data[0], mean, var, gamma, beta, eps)
        else:
            y = _run_chain(graph, [node], data[0], absolute=absolute)
        env[graph.resolve(node.output[0])] = y
    return env[graph.resolve(target)]


def _merge_witness(a: _Graph, nodes, start, target, w_opt, bias_opt, attrs_opt, allowed_w, allowed_b):
    """An input on which the original subgraph and the optimized conv differ by more than the
    bound carried to the output plus both float64 evaluation errors (``gamma`` of the
    operation counts, 2^-53, times the absolute-value evaluations)."""
    shape = a.shapes.get(start)
    channels = w_opt.shape[1] * attrs_opt["group"]
    shape = (1, *shape[1:]) if shape and len(shape) == 4 else (1, channels, 16, 16)
    w64 = w_opt.astype(np.float64)
    b64 = None if bias_opt is None else bias_opt.astype(np.float64)
    n64 = sum(int(np.prod(a.const[n.input[1]].shape[1:])) + 2 for n in nodes if n.op_type == "Conv")
    n64 += 8 * len(nodes) + int(np.prod(w64.shape[1:])) + 2
    g64 = n64 * 2.0**-53 / (1 - n64 * 2.0**-53)
    rng = np.random.default_rng(0)
    for label, x in (("random normal", rng.standard_normal(shape)), ("random normal x 100",
                                                                      100 * rng.standard_normal(shape))):
        try:
            want = _run_subgraph(a, nodes, start, target, x)
            got = _run_conv(x, w64, b64, attrs_opt, False)
        except ValueError:
            continue
        if want.shape != got.shape:
            return {"input": label, "shape": list(shape), "seed": 0,
                    "detail": f"output shapes differ: {list(want.shape)} vs {list(got.shape)}"}
        ax = np.abs(x)
        bound = _run_conv(ax, allowed_w, allowed_b, attrs_opt, False)
        bound = bound + g64 * (_run_subgraph(a, nodes, start, target, ax, absolute=True)
                               + _run_conv(ax, np.abs(w64), None if b64 is None else np.abs(b64), attrs_opt,
                                           False))
        excess = np.abs(want - got) - bound
        if float(excess.max()) > 0:
            pos = np.unravel_index(int(np.argmax(excess)), excess.shape)
            return {"input": label, "shape": list(shape), "seed": 0, "at": [int(p) for p in pos],
                    "original": float(want[pos]), "optimized": float(got[pos]),
                    "difference": float(abs(want[pos] - got[pos])), "bound": float(bound[pos])}
    return None
