"""Graph rewrites on ONNX models for the validation tests: a correct Conv+BN fusion written
here (so ConvTranspose and grouped convs are covered whatever the real optimizers do), and
deliberately broken optimizers, each reproducing a bug reported against a real one."""

from __future__ import annotations

import copy

import numpy as np
import onnx
from onnx import helper, numpy_helper


def _const(model):
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def _set(model, name, array):
    for i, init in enumerate(model.graph.initializer):
        if init.name == name:
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(array), name))
            return
    model.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(array), name))


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def fuse_bn(model: onnx.ModelProto, mutation: str | None = None) -> onnx.ModelProto:
    """Fold every BatchNormalization that follows a Conv/ConvTranspose (sole consumer) into it,
    in float32 like the real optimizers: ``s = gamma / sqrt(var + eps)``, ``W' = W * s`` along the
    output-channel axis, ``b' = (b - mean) * s + beta``.  ``mutation``:

    * ``bias-not-scaled``: ``b' = b - mean + beta`` (reported against several inference engines);
    * ``eps-dropped``: ``s = gamma / sqrt(var)``;
    * ``group-permuted``: the first two output channels of group 0 swapped in ``W'``;
    * ``transposed-axis``: a ConvTranspose scaled along weight axis 0 instead of axis 1.
    """
    model = copy.deepcopy(model)
    g = model.graph
    const = _const(model)
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    remove = []
    for bn in list(g.node):
        if bn.op_type != "BatchNormalization":
            continue
        conv = next((n for n in g.node if bn.input[0] in n.output), None)
        if conv is None or conv.op_type not in ("Conv", "ConvTranspose") or len(consumers[bn.input[0]]) != 1:
            continue
        gamma, beta, mean, var = (const[n].astype(np.float32) for n in bn.input[1:5])
        eps = np.float32(_attr(bn, "epsilon", 1e-5))
        w = const[conv.input[1]].astype(np.float32)
        b = const[conv.input[2]].astype(np.float32) if len(conv.input) > 2 else np.zeros_like(beta)
        s = gamma / np.sqrt(var if mutation == "eps-dropped" else var + eps)
        group = _attr(conv, "group", 1)
        if conv.op_type == "Conv":
            w2 = w * s[:, None, None, None]
        elif mutation == "transposed-axis":
            w2 = w * s[: w.shape[0], None, None, None]
        else:
            gi, go = w.shape[0] // group, w.shape[1]
            idx = (np.arange(w.shape[0])[:, None] // gi) * go + np.arange(go)[None, :]
            w2 = w * s[idx][:, :, None, None]
        if mutation == "group-permuted":
            w2 = w2.copy()
            w2[[0, 1]] = w2[[1, 0]]
        b2 = (b - mean + beta) if mutation == "bias-not-scaled" else (b - mean) * s + beta
        wname, bname = conv.input[1] + "_fused", conv.name + "_fused_bias"
        _set(model, wname, w2.astype(np.float32))
        _set(model, bname, b2.astype(np.float32))
        del conv.input[1:]
        conv.input.extend([wname, bname])
        conv.output[0] = bn.output[0]
        remove.append(bn)
    for n in remove:
        g.node.remove(n)
    return model


def drop_pad(model: onnx.ModelProto) -> onnx.ModelProto:
    """fuse_pad_into_conv that forgets the Pad's amounts (the conv keeps its own pads)."""
    model = copy.deepcopy(model)
    g = model.graph
    for pad in list(g.node):
        if pad.op_type != "Pad":
            continue
        conv = next(n for n in g.node if pad.output[0] in n.input)
        conv.input[0] = pad.input[0]
        g.node.remove(pad)
    return model


def equalize_through(model: onnx.ModelProto, activation: str = "Clip") -> onnx.ModelProto:
    """Cross-layer equalization of every Conv -> ``activation`` -> Conv (DFQ scales, float32),
    whatever the activation: correct for Relu, the reported bug for Clip (ReLU6)."""
    model = copy.deepcopy(model)
    g = model.graph
    const = _const(model)
    for act in g.node:
        if act.op_type != activation:
            continue
        first = next((n for n in g.node if act.input[0] in n.output), None)
        second = [n for n in g.node if act.output[0] in n.input]
        if first is None or first.op_type != "Conv" or len(second) != 1 or second[0].op_type != "Conv":
            continue
        second = second[0]
        if _attr(second, "group", 1) != 1:
            continue
        w1, w2 = const[first.input[1]].astype(np.float32), const[second.input[1]].astype(np.float32)
        r1 = np.abs(w1).reshape(w1.shape[0], -1).max(axis=1)
        r2 = np.abs(w2).transpose(1, 0, 2, 3).reshape(w2.shape[1], -1).max(axis=1)
        s = (np.sqrt(r1 * r2) / r2).astype(np.float32)
        _set(model, first.input[1], (w1 / s[:, None, None, None]).astype(np.float32))
        if len(first.input) > 2:
            _set(model, first.input[2], (const[first.input[2]] / s).astype(np.float32))
        _set(model, second.input[1], (w2 * s[None, :, None, None]).astype(np.float32))
        const = _const(model)
    return model
