"""The matcher: each node of the optimized graph against the subgraph of the original that
computes the same tensor (see the package docstring for the rules)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convsym.onnx.bounds import (
    _Affine,
    _apply_add,
    _apply_bn,
    _apply_mul,
    _check_bias,
    _check_weights,
    _gamma,
    _out_index,
    _per_channel,
    _start,
)
from convsym.onnx.evaluate import _cle_scales, _merge_witness, _run_chain, _run_conv
from convsym.onnx.graph import ALIASES, HOMOGENEOUS, NOT_HOMOGENEOUS, SUBNORMAL, _conv_attrs, _Graph, _pad_amounts
from convsym.onnx.merges import Layer, Refuted, check, enclose
from convsym.onnx.report import NodeResult
from convsym.transforms.layers import _pads

MERGE_THEOREMS = {"folding.repvgg", "folding.dilated-kernel-sparse", "merge.exact-strided-grouped"}


class _Validator:
    def __init__(self, original, optimized):
        self.a = _Graph(original, "ORIGINAL")
        self.b = _Graph(optimized, "OPTIMIZED")
        self.map: dict[str, str] = {}
        self.scaled: dict[str, tuple[str, np.ndarray, list, Any]] = {}  # CLE: tensor -> (orig, s, nodes, act)
        self.results: list[NodeResult] = []
        self._chains_done: dict[tuple, _Affine] = {}
        self._training_bn: dict[str, str] = {}  # conv name -> the training-mode BN after it
        self._memo: dict = {}  # merges: (tensor, start) -> Layer | None
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
                if nxt.op_type == "BatchNormalization" and self.a.attrs(nxt).get("training_mode", 0):
                    self._training_bn[conv.name] = nxt.name  # batch statistics: not a per-channel affine map
                    break
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
        if w_opt.ndim != 4:
            return NodeResult(node.name, node.op_type, "unmatched", "conv-chain",
                              reason=f"only 2-D convolutions (4-D weights) are validated; this weight has shape "
                                     f"{list(w_opt.shape)}")
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
                    if transposed or self._consistent(node, self.map[node.output[0]]):
                        return verdict
                    # the chain's tensor is not what the node's consumers read: a merge may be
                    merged = self._merge(node, w_opt, bias_opt, attrs_opt, start, require_consistent=True)
                    if merged is None:
                        return verdict
                    self.map[node.output[0]] = merged[1]
                    return merged[0]
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
        merged = None if transposed else self._merge(node, w_opt, bias_opt, attrs_opt, start)
        # a wrong merge is reported only when no chain of the same structure fits the node's consumers
        # (a wrong fold of one branch is a wrong fold, not a wrong merge)
        chain_fits = best is not None and best[0][0] and self._consistent(node, self.a.resolve(best[3]))
        if merged is not None and (merged[0].status == "verified" or not chain_fits):
            self.map[node.output[0]] = merged[1]
            return merged[0]
        if best is not None and best[1].status != "verified" and best[1].original \
                and self._training_bn.get(best[1].original[-1]):
            bn = self._training_bn[best[1].original[-1]]
            return NodeResult(node.name, node.op_type, "unmatched", "conv-chain", best[1].original, None,
                              reason=f"the original BatchNormalization {bn!r} has training_mode=1: it normalises "
                                     "with the batch's statistics, not a per-channel affine map, so no fold of it "
                                     "can be validated (export the model in eval mode)")
        if best is not None:
            _, verdict, witness, end = best
            if verdict.status == "wrong" and witness is not None:
                verdict.witness = witness()
            # the node claims to compute that tensor: its consumers are checked against it
            self.map[node.output[0]] = self.a.resolve(end)
            return verdict
        return NodeResult(node.name, node.op_type, "unmatched", "conv-chain",
                          reason=f"no {node.op_type} of the original graph reads the matched input {start!r}")

    # -- branch merges and sequential merges (convsym.onnx.merges)
    def _consistent(self, node, tensor: str) -> bool:
        """Do the node's consumers (op types) and output status fit the original ``tensor``?"""
        out = self.b.resolve(node.output[0])
        ops_b = {c.op_type for c in self.b.consumers.get(out, [])}
        ops_a = {c.op_type for c in self.a.consumers.get(tensor, [])}
        is_out_b = out in {self.b.resolve(o) for o in self.b.outputs}
        is_out_a = tensor in {self.a.resolve(o) for o in self.a.outputs}
        return ops_b <= ops_a and is_out_b == is_out_a

    def _merge_targets(self, start: str) -> list[str]:
        """Tensors of the original reachable from ``start`` through Conv, Pad, affine and Add nodes."""
        seen, frontier, out = {start}, [start], []
        while frontier and len(seen) < 256:
            tensor = frontier.pop(0)
            for c in self.a.consumers.get(tensor, []):
                if c.op_type not in ("Conv", "Pad", "BatchNormalization", "Add", "Mul") or not c.output:
                    continue
                o = self.a.resolve(c.output[0])
                if o not in seen:
                    seen.add(o)
                    frontier.append(o)
                    if c.op_type != "Pad":
                        out.append(o)
        return out

    def _merge(self, node, w_opt, bias_opt, attrs_opt, start, require_consistent=False):
        """``(verdict, original tensor)``: the node as a branch merge or a sequential merge of an
        original subgraph on ``start``: consistent targets first (their consumers fit the node's),
        verified before wrong, then the largest subgraph.  None when no such subgraph has the
        node's structure."""
        u = float(np.finfo(w_opt.dtype).eps) / 2
        tiny = SUBNORMAL.get(np.dtype(w_opt.dtype), 0.0)
        pads = attrs_opt["pads"]
        want = (w_opt.shape, attrs_opt["strides"], attrs_opt["dilations"], attrs_opt["group"],
                ((pads[0], pads[2]), (pads[1], pads[3])))
        found = []
        for target in self._merge_targets(start):
            try:
                layer = enclose(self.a, target, start, self._memo, exact=False)
            except Refuted as refuted:
                layer = refuted
            if not isinstance(layer, (Layer, Refuted)):
                continue
            if isinstance(layer, Layer):
                if not set(layer.theorems) & MERGE_THEOREMS:
                    continue  # a plain conv chain: the conv-chain rule decides those
                c = layer.centre
                if attrs_opt["auto_pad"] not in ("NOTSET", "") or want != (c.weight.shape, c.stride, c.dilation,
                                                                            c.groups, _pads(c.padding)):
                    continue
            consistent = self._consistent(node, target)
            if require_consistent and not consistent:
                continue
            found.append((consistent, target, layer))
        verdicts = []
        for consistent, target, layer in found:
            verdict = self._merge_verdict(node, w_opt, bias_opt, attrs_opt, start, target, layer, u, tiny)
            verdicts.append(((consistent, verdict.status == "verified", len(verdict.original)), target, verdict))
            if consistent and verdict.status == "verified":
                break
        if not verdicts:
            return None
        _, target, verdict = max(verdicts, key=lambda v: v[0])
        if require_consistent and verdict.status != "verified" and verdict.witness is None:
            return None  # the chain verified and no input shows the merge differs: keep the chain
        return verdict, target

    def _merge_verdict(self, node, w_opt, bias_opt, attrs_opt, start, target, layer, u, tiny) -> NodeResult:
        nodes = layer.nodes
        names = [n.name for n in nodes]
        if isinstance(layer, Refuted):
            conditions = [{"name": layer.condition, "holds": False, "values": layer.values}]
            n = int(np.prod(w_opt.shape[1:])) + 1
            g = _gamma(n, u)
            allowed_w = g * np.abs(w_opt.astype(np.float64))
            allowed_b = None if bias_opt is None else g * np.abs(bias_opt.astype(np.float64))
            witness = _merge_witness(self.a, nodes, start, target, w_opt, bias_opt, attrs_opt, allowed_w, allowed_b)
            return NodeResult(node.name, node.op_type, "wrong", "conv-merge", names, layer.theorem, conditions, None,
                              witness, reason=f"condition broken: {layer.condition} ({layer.theorem})",
                              bound=f"no exact merge exists; witness bound gamma_{n} |W'| (u = 2^{int(np.log2(u))})")
        centre = enclose(self.a, target, start, self._memo, exact=True).centre
        ok_w, ok_b, ratio, allowed_w, allowed_b, bound = check(layer, centre, w_opt, bias_opt, u, tiny)
        theorem = layer.theorems[-1]
        rule = "branch-merge" if theorem in ("folding.repvgg", "folding.dilated-kernel-sparse") else "conv-merge"
        used = list(dict.fromkeys(layer.theorems))
        conditions = [
            {"name": "every branch and layer reads the matched input", "holds": True, "values": start},
            {"name": "rewrites composed (exact, convsym.transforms in Fraction arithmetic)", "holds": True,
             "values": ", ".join(used)},
            {"name": f"weights within gamma_{layer.n_w + 1} sum|terms| (u = 2^{int(np.log2(u))})", "holds": ok_w,
             "values": f"max error/bound {ratio:.3g}"},
            {"name": f"bias within gamma_{layer.n_b + 1} sum|terms|", "holds": ok_b, "values": ""},
        ]
        if ok_w and ok_b:
            return NodeResult(node.name, node.op_type, "verified", rule, names, theorem, conditions, ratio,
                              bound=bound)
        broken = next(c["name"] for c in conditions if not c["holds"])
        witness = _merge_witness(self.a, nodes, start, target, w_opt, bias_opt, attrs_opt, allowed_w, allowed_b)
        return NodeResult(node.name, node.op_type, "wrong", rule, names, theorem, conditions, ratio, witness,
                          reason=f"condition broken: {broken}", bound=bound)

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
            bound = (f"|W' - W S| <= gamma_{chain.n_weight} |W S| and |b' - B| <= gamma_{chain.n_bias} A "
                     f"(u = 2^{int(math.log2(u))}), S, B the exact fold")
            if ok_w and ok_b:
                self.map[node.output[0]] = a.resolve(chain_nodes[-1].output[0])
                return NodeResult(node.name, node.op_type, "verified", rule, names, theorem, conditions, ratio,
                                  bound=bound), None
        else:
            allowed_w, allowed_b, bound = None, None, "none: the structure differs"
        broken = next(c["name"] for c in conditions if not c["holds"])

        def witness():
            return self._witness(chain_nodes, w_opt, bias_opt, attrs_opt, transposed, allowed_w, allowed_b, w)

        return NodeResult(node.name, node.op_type, "wrong", rule, names, theorem, conditions, ratio, None,
                          reason=f"condition broken: {broken}", bound=bound), witness

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
