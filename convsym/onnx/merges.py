"""Branch merges and sequential merges: the exact layer an original subgraph computes.

An optimized ``Conv`` may compute the tensor of a whole subgraph of the original that reads one
tensor ``x``: parallel branches summed (RepVGG / Diverse Branch Block: ``conv-BN`` branches, an
identity ``BN(x)`` or ``x`` itself, dilated branches merged into a large kernel), convolutions in
a row with nothing between (``conv -> conv``), each followed by per-channel affine nodes
(``BatchNormalization``, ``Add`` / ``Mul`` of a per-channel constant).  :func:`enclose` walks the
original backwards from a tensor to ``x`` and recomputes the one convolution the subgraph equals,
with :mod:`convsym.transforms` on ``Fraction`` arrays:

* a ``Conv`` node (a preceding constant-zero ``Pad`` composed into its padding) is the exact
  :class:`~convsym.transforms.Conv2d` of its parameters (each float converted exactly);
* an affine node is :func:`~convsym.transforms.fold_batchnorm` with ``var = eps = 1/2`` (so
  ``sqrt(var + eps) = 1``) and the node's scale as ``gamma``: BN's ``gamma / sqrt(var + eps)``
  is ``gamma / m`` with ``m`` the midpoint of a rational enclosure of the square root of relative
  width ``2^-80``, rounded to a dyadic rational of 64 significant bits (so within ``2^-62``
  relative of the exact scale; theorem ``folding.bn-after-conv-exact``);
* an ``Add`` of two such subgraphs is :func:`~convsym.transforms.merge_parallel_dense` of their
  layers (``x`` itself is :func:`~convsym.transforms.identity_conv`; ``folding.repvgg``, with
  different dilations ``folding.dilated-kernel-sparse``);
* a ``Conv`` reading such a subgraph is :func:`~convsym.transforms.merge_sequential` of the two
  (``merge.exact-strided-grouped``); a second conv that pads (its ``pads`` or a ``Pad`` before
  it) is refuted (``merge.padded-second``): :class:`Refuted`.

**The bound.**  Alongside the exact centre each layer carries the same computation on absolute
values (``mag``: the sum of the absolute values of the terms of every entry) and two rounding
counts ``n_w``, ``n_b``: a floating-point evaluation in any order, each operation correctly
rounded, is within ``gamma_n * mag`` of the exact value (Higham, ``gamma_a + gamma_b +
gamma_a gamma_b <= gamma_{a+b}``).  Counts: BN ``+6`` on weights (5 for its scale, one product),
``+8`` on biases (scale, ``- mean``, ``* s``, ``+ beta``); ``Mul`` ``+1`` each; ``Add`` ``+1`` on
biases; a sum of ``m`` branches ``max + (m - 1)``; a sequential merge with ``K`` terms per entry
(the second conv's fan-in) ``n_w1 + n_w2 + K`` on weights and ``max(n_b2, n_w2 + n_b1 + 1) + K``
on biases; the final store ``+1``.  The rounded scales make the centre exact up to a relative
``rho = k 2^-61`` of ``mag`` (``k`` BN scales in a product), which the check subtracts.

**Two passes.**  :func:`enclose` runs once in float64 (``exact=False``: structure, ``mag`` and
the counts, cheap enough to try every candidate subgraph) and once in ``Fraction`` arithmetic for
the candidates whose structure matches the optimized node (the centre).  ``mag`` is a float64
sum of at most ``2^20`` non-negative terms, so within ``2^-30`` relative of its exact value; the
check uses ``mag (1 - 2^-30)`` where a lower bound is needed and ``mag (1 + 2^-30)`` for an
upper one.  Entries far from the bound are decided in float64 with a margin of ``2^-40``
relative (float64 conversions and subtractions err by a few ``2^-53``); the others in
``Fraction`` arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from convsym.onnx.bounds import _fraction_array, _per_channel, _sqrt_enclosure
from convsym.onnx.graph import _conv_attrs, _Graph, _pad_amounts

IDENTITY = "identity"
AFFINE = ("BatchNormalization", "Add", "Mul")


class Refuted(Exception):
    """The subgraph is a rewrite a theorem refutes (its condition fails): no exact merge exists."""

    def __init__(self, theorem: str, condition: str, values: str, nodes: list):
        super().__init__(f"{condition} fails ({values}): {theorem}")
        self.theorem, self.condition, self.values, self.nodes = theorem, condition, values, nodes


@dataclass
class Layer:
    """One exact convolution equal to an original subgraph, with its magnitudes and counts."""

    centre: object  # convsym Conv2d, Fraction arrays
    mag: object  # convsym Conv2d: the same computation on absolute values
    n_w: int
    n_b: int
    k: int  # BN scales (square-root enclosures) in one product term
    nodes: list = field(default_factory=list)
    theorems: list = field(default_factory=list)


def _zeros(n: int, exact: bool) -> np.ndarray:
    return np.array([Fraction(0)] * n, dtype=object) if exact else np.zeros(n)


def _num(values, exact: bool) -> np.ndarray:
    return _fraction_array(values) if exact else np.asarray(values, dtype=np.float64)


def _dyadic(q: Fraction, bits: int = 64) -> Fraction:
    """``q`` rounded to ``bits`` significant bits (relative error at most ``2^(1-bits)``)."""
    if q == 0:
        return q
    shift = bits - (abs(q.numerator).bit_length() - q.denominator.bit_length())
    scaled = round(q * Fraction(2) ** shift)
    return Fraction(scaled, 2**shift) if shift >= 0 else Fraction(scaled * 2**-shift)


def _identity(channels: int, exact: bool) -> Layer:
    from convsym.transforms import Conv2d, identity_conv

    eye = identity_conv(channels, 1, channels).weight
    conv = Conv2d(eye if exact else eye.astype(np.float64), _zeros(channels, exact), groups=channels)
    return Layer(conv, conv, 0, 0, 0, [], [])


def _conv_layer(graph: _Graph, node, pad, exact: bool) -> Layer | None:
    """The exact layer of a ``[Pad ->] Conv`` node (None when not a 2-D conv of constants)."""
    from convsym.transforms import Conv2d

    if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in graph.const:
        return None
    bias_name = node.input[2] if len(node.input) > 2 else ""
    if bias_name and bias_name not in graph.const:
        return None
    w = graph.const[node.input[1]]
    if w.ndim != 4:
        return None
    attrs = _conv_attrs(graph, node, w)
    if attrs["auto_pad"] not in ("NOTSET", ""):
        return None
    t, left, b, r = attrs["pads"]
    if pad is not None:
        pt, pl, pb, pr = _pad_amounts(graph, pad)
        t, left, b, r = t + pt, left + pl, b + pb, r + pr
    weight = _num(w, exact)
    bias = _num(graph.const[bias_name], exact) if bias_name else _zeros(w.shape[0], exact)
    kw = dict(stride=attrs["strides"], padding=((t, b), (left, r)), dilation=attrs["dilations"],
              groups=attrs["group"])
    centre = Conv2d(weight, bias, **kw)
    mag = None if exact else Conv2d(np.abs(weight), np.abs(bias), **kw)
    return Layer(centre, mag, 0, 0, 0, ([pad] if pad is not None else []) + [node], [])


def _affine(graph: _Graph, layer, node, exact: bool) -> Layer | None:
    """``layer`` followed by the per-channel affine ``node`` (None when it is not one)."""
    from convsym.transforms import BatchNorm2d, fold_batchnorm

    consts = [n for n in node.input if n in graph.const]
    if node.op_type == "BatchNormalization":
        if len(consts) != 4 or node.input[0] in graph.const or graph.attrs(node).get("training_mode", 0):
            return None
        gamma, beta, mean, var = (_num(graph.const[n], exact) for n in node.input[1:5])
        eps = float(np.float32(graph.attrs(node).get("epsilon", 1e-5)))
        channels = len(gamma)
        if exact:
            scale = np.empty(channels, dtype=object)
            for c in range(channels):
                lo, hi = _sqrt_enclosure(var[c] + Fraction(eps))
                scale[c] = _dyadic(gamma[c] / ((lo + hi) / 2))
        else:
            scale = gamma / np.sqrt(var + eps)
        dn_w, dn_b, dk = 6, 8, 1
    elif node.op_type in ("Add", "Mul") and len(node.input) == 2 and len(consts) == 1:
        channels = np.asarray(graph.const[consts[0]]).size if layer == IDENTITY else layer.centre.out_channels
        if channels == 1 and layer == IDENTITY:  # x + c with a scalar c: the channel count is unknown here
            return None
        vector = _per_channel(graph.const[consts[0]], channels)
        if vector is None:
            return None
        vector = _num(vector, exact)
        zero, one = _zeros(channels, exact), _num(np.ones(channels), exact)
        if node.op_type == "Add":
            scale, mean, beta, dn_w, dn_b = one, -vector, zero, 0, 1
        else:
            scale, mean, beta, dn_w, dn_b = vector, zero, zero, 1, 1
        dk = 0
    else:
        return None
    if layer == IDENTITY:
        layer = _identity(channels, exact)
    if layer.centre.out_channels != channels:
        return None
    half = _num(np.full(channels, 0.5), exact)
    centre = fold_batchnorm(layer.centre, BatchNorm2d(mean, half, scale, beta, eps=Fraction(1, 2)))
    mag = None if exact else fold_batchnorm(layer.mag, BatchNorm2d(-np.abs(mean), half, np.abs(scale),
                                                                   np.abs(beta), eps=0.5))
    theorems = layer.theorems + ["folding.bn-after-conv-exact"]
    return Layer(centre, mag, layer.n_w + dn_w, layer.n_b + dn_b, layer.k + dk, layer.nodes + [node], theorems)


def _parallel(branches: list, nodes: list, exact: bool) -> Layer | None:
    from convsym.transforms import merge_parallel_dense

    layers = [b for b in branches if b != IDENTITY]
    if not layers:
        return None
    channels = layers[0].centre.out_channels
    branches = [_identity(channels, exact) if b == IDENTITY else b for b in branches]
    try:
        centre = merge_parallel_dense(*[b.centre for b in branches])
        mag = None if exact else merge_parallel_dense(*[b.mag for b in branches])
    except ValueError:  # misaligned outputs, different strides or channels: not one conv
        return None
    m = len(branches)
    dilated = len({b.centre.dilation for b in branches}) > 1
    theorem = "folding.dilated-kernel-sparse" if dilated else "folding.repvgg"
    return Layer(centre, mag, max(b.n_w for b in branches) + m - 1, max(b.n_b for b in branches) + m - 1,
                 max(b.k for b in branches), [n for b in branches for n in b.nodes] + nodes,
                 [t for b in branches for t in b.theorems] + [theorem])


def _sequential(first: Layer, second: Layer) -> Layer:
    from convsym.transforms import merge_sequential

    conv = second.centre
    if conv.padding != (0, 0):
        raise Refuted("merge.padded-second", "second conv unpadded (no pads, no Pad before it)",
                      f"padding={conv.padding}", first.nodes + second.nodes)
    centre = merge_sequential(first.centre, second.centre)
    mag = None if first.mag is None else merge_sequential(first.mag, second.mag)
    terms = int(np.prod(conv.weight.shape[1:]))
    n_w = first.n_w + second.n_w + terms
    n_b = max(second.n_b, second.n_w + first.n_b + 1) + terms
    return Layer(centre, mag, n_w, n_b, first.k + second.k, first.nodes + second.nodes,
                 first.theorems + second.theorems + ["merge.exact-strided-grouped"])


def enclose(graph: _Graph, tensor: str, start: str, memo: dict, exact: bool, depth: int = 0):
    """The :class:`Layer` computing ``tensor`` from ``start`` in ``graph`` (``exact``: its centre
    in ``Fraction`` arithmetic, no ``mag``; else float64 with ``mag``): a Layer, ``IDENTITY``
    (``tensor`` is ``start``) or None (not a subgraph of convs, affine nodes and sums on
    ``start``).  :class:`Refuted` when it contains a refuted merge."""
    tensor = graph.resolve(tensor)
    if tensor == start:
        return IDENTITY
    key = (tensor, start, exact)
    if key in memo:
        if isinstance(memo[key], Refuted):
            raise memo[key]
        return memo[key]
    memo[key] = None  # a cycle (or a revisit while in progress) encloses nothing
    try:
        result = _enclose(graph, tensor, start, memo, exact, depth)
    except Refuted as refuted:
        memo[key] = refuted
        raise
    memo[key] = result
    return result


def _enclose(graph: _Graph, tensor: str, start: str, memo: dict, exact: bool, depth: int):
    node = graph.producer.get(tensor)
    result = None
    if node is not None and depth < 64 and node.domain in ("", "ai.onnx"):
        data = graph.data_inputs(node)
        if node.op_type in AFFINE and len(data) == 1:
            inner = enclose(graph, data[0], start, memo, exact, depth + 1)
            result = None if inner is None else _affine(graph, inner, node, exact)
        elif node.op_type == "Add" and len(data) == 2:
            branches = [enclose(graph, d, start, memo, exact, depth + 1) for d in data]
            result = None if None in branches else _parallel(branches, [node], exact)
        elif node.op_type == "Conv" and data:
            source, pad = data[0], None
            producer = graph.producer.get(source)
            if producer is not None and producer.op_type == "Pad" and _pad_amounts(graph, producer) is not None:
                pad, source = producer, graph.data_inputs(producer)[0]
            layer = _conv_layer(graph, node, pad, exact)
            if layer is not None:
                inner = enclose(graph, source, start, memo, exact, depth + 1)
                if inner == IDENTITY:
                    result = layer
                elif inner is not None:
                    result = _sequential(inner, layer)
    return result


def check(layer: Layer, centre, w_opt: np.ndarray, b_opt: np.ndarray | None, u: float, tiny: float):
    """``(ok_w, ok_b, ratio, allowed_w, allowed_b, bound)``: is every entry of the optimizer's
    weight and bias within ``gamma_n * mag + n * tiny`` of the exact value (``centre``, the
    exact pass's Conv2d; ``layer`` the float pass's, with ``mag``); ``ratio`` the largest
    ``|error| / bound`` (a float, for reporting)."""
    U, tiny_q = Fraction(u), Fraction(tiny)
    rho = Fraction(layer.k, 2**61)
    lower, upper = 1 - 2.0**-30, 1 + 2.0**-30
    out = []
    for exact, mag, opt, n in ((centre.weight, layer.mag.weight, w_opt, layer.n_w + 1),
                               (centre.bias, layer.mag.bias, b_opt, layer.n_b + 1)):
        g = n * U / (1 - n * U)
        opt64 = np.zeros(exact.shape) if opt is None else np.asarray(opt, dtype=np.float64)
        mag64 = np.asarray(mag, dtype=np.float64)
        centre64 = np.array([float(v) for v in exact.reshape(-1)]).reshape(exact.shape)
        # a lower bound of the allowed error (float64, rounded down by the 2^-40 margin below)
        lim64 = float(g) * mag64 * lower + n * tiny - float(rho) * mag64 * upper
        d64 = np.abs(opt64 - centre64)
        margin = 2.0**-40 * (np.abs(centre64) + np.abs(opt64) + np.abs(lim64)) + 1e-300
        ok_entries = d64 < lim64
        for pos in zip(*np.nonzero(np.abs(d64 - lim64) <= margin), strict=False):
            err = abs(Fraction(float(opt64[pos])) - exact[pos])
            m_lo, m_hi = Fraction(float(mag64[pos])) * Fraction(lower), Fraction(float(mag64[pos])) * Fraction(upper)
            ok_entries[pos] = err <= g * m_lo + n * tiny_q - rho * m_hi
        bound64 = float(g) * mag64 + n * tiny
        ratio = float(np.max(d64 / np.where(bound64 > 0, bound64, np.inf))) if d64.size else 0.0
        out.append((bool(ok_entries.all()), ratio, bound64, n))
    (ok_w, rw, allowed_w, n_w), (ok_b, rb, allowed_b, n_b) = out
    exp = int(np.log2(u))
    bound = (f"|W' - W| <= gamma_{n_w} sum|terms| and |b' - b| <= gamma_{n_b} sum|terms| (u = 2^{exp}), "
             "W, b the exact merge")
    return ok_w, ok_b, max(rw, rb), allowed_w, allowed_b, bound
