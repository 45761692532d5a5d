"""Two convolutions in a row are one convolution.

PyTorch semantics throughout: cross-correlation, NCHW, one bias per output channel.  For
``y = conv(conv(x, w1) + b1, w2) + b2`` the merged layer has the kernel
``W = w1 * w2`` (the *true* convolution of the two kernels, summed over the middle channels),
of size ``k1 + k2 - 1`` (with strides and dilations ``d1(k1-1) + s1 d2 (k2-1) + 1``, stride
``s1 s2``, dilation 1) and the bias ``b2 + (sum of w2 over space) b1``.  It is exact when the
second convolution has no padding; with padding ``p2 > 0`` the naive merge is wrong on a border
ring of width ``p2``.
"""

from __future__ import annotations

import numpy as np
from sympy import IndexedBase

from convsym.exact.ops import remembered_triples
from convsym.exact.tensor import contract
from convsym.proof import (
    Distribute,
    Family,
    Fold,
    General,
    GroupBy,
    Identity,
    Let,
    Name,
    Reorder,
    Substitute,
    SumExpr,
    Unfold,
    figures,
    grid,
    index,
    load_checks,
    ops,
    scalars,
    sizes,
)
from convsym.proof import defs as D

FAMILY = Family(
    "merge",
    "Two convolutions in a row",
    intro=(
        "Deep-learning convolution is cross-correlation: $(x \\star w)_i = \\sum_a w_a x_{i+a}$. "
        "Two such layers in a row are one layer whose kernel is the true convolution $w_1 * w_2$ "
        "of the two kernels, of size $k_1+k_2-1$, and whose bias is $b_2 + (\\Sigma w_2) b_1$. "
        "This chapter proves it for all sizes, with channels, strides and dilations, checks it "
        "exactly on every instance up to a bound, and shows where it breaks: padding in the second layer."
    ),
    order=10,
)

checks = load_checks(__file__)  # the emitted numeric checks: proofs/checks/merge.py

# ---------------------------------------------------------------------------------------------
# numeric re-tests emitted to generated/checks (numpy and convsym.reference only)


# ---------------------------------------------------------------------------------------------
# 1-D, one channel, all sizes

k1, k2 = sizes("k_1 k_2")
i, a, b, t = index("i a b t")
x, w1, w2, h, W = (IndexedBase(n) for n in ("x", "w_1", "w_2", "h", "W"))
b1, b2 = scalars("b_1 b_2")

h_1d = Let(h, lambda j: SumExpr.of(D.conv1d(x, w1, k1, j), b1))
W_1d = Let(W, lambda j: SumExpr.of(D.full_convolution(w1, w2, k1, k2, j)))

def _stack_figure(kernels, strides, n):
    """The receptive field of output 0 of two layers, drawn and counted (convsym.shapes agrees)."""
    from convsym.shapes import receptive_field

    field, _ = receptive_field(list(kernels), list(strides))
    (ka, kb), (sa, sb) = kernels, strides
    if sa == 1:
        caption = (f"Two convolutions in a row with $k_1 = {ka}$, $k_2 = {kb}$: the output $y_0$ reads ${kb}$ "
                   f"entries of $h$, which read ${field}$ entries of $x$, so the merged kernel has "
                   f"$k_1 + k_2 - 1 = {field}$ taps.")
    else:
        caption = (f"A stride-${sa}$ layer ($k_1 = {ka}$) followed by a layer with $k_2 = {kb}$, $s_2 = {sb}$: "
                   f"neighbouring entries of $h$ are ${sa}$ inputs apart, so $y_0$ reads "
                   f"$(k_1 - 1) + s_1 (k_2 - 1) + 1 = {field}$ entries of $x$, the size of the merged kernel "
                   f"(dilations $d_1 = d_2 = 1$).")
    return figures.receptive_field_stack(kernels, strides, n), caption


sequential_1d = General(
    "merge.sequential-1d",
    "Two 1-D convolutions in a row are one of size $k_1+k_2-1$",
    "For all kernel sizes $k_1, k_2 \\ge 1$: $(x \\star w_1 + b_1) \\star w_2 + b_2 = x \\star (w_1 * w_2) "
    "+ b_2 + (\\Sigma w_2)\\, b_1$, where $w_1 * w_2$ is the full (true) convolution, of length $k_1 + k_2 - 1$.",
    idea="Write both sums out, substitute $t = a + b$ for the tap of the second kernel, and sum $a$ over "
    "$\\max(0, t-k_2+1) \\le a \\le \\min(t, k_1-1)$: that inner sum is $(w_1 * w_2)_t$; the bias "
    "passes through the second layer as $(\\Sigma w_2)\\, b_1$.",
    lhs=D.conv1d(h, w2, k2, i) + b2,
    rhs=D.conv1d(x, W, k1 + k2 - 1, i) + b2 + b1 * D.total(w2, k2),
    lets=[h_1d, W_1d],
    derivation=[
        Unfold("conv1d", ("b",)),
        Unfold("h"),
        Distribute(),
        Unfold("conv1d", ("a",)),
        Reorder([("a", 0, k1 - 1), ("b", 0, k2 - 1)]),
        Substitute("b", "t", t - a, [("a", 0, k1 - 1), ("t", a, a + k2 - 1)]),
        Reorder([("t", 0, k1 + k2 - 2), ("a", (0, t - k2 + 1), (t, k1 - 1))]),
        Fold(D.full_convolution(w1, w2, k1, k2, t), ("a",)),
        Name(W_1d, (t,)),
        Fold(D.conv1d(x, W, k1 + k2 - 1, i), ("t",)),
        Fold(D.total(w2, k2), ("b",)),
    ],
    instances=grid(k_1=range(1, 4), k_2=range(1, 4)),
    check_source=checks.test_merge_sequential_1d_numeric,
    figure=lambda fields: _stack_figure((3, 3), (1, 1), 7),
)

# ---------------------------------------------------------------------------------------------
# 2-D, C_in -> C_mid -> C_out channels, rectangular kernels, all sizes

C_in, C_mid = sizes("C_{in} C_{mid}")
kh1, kw1, kh2, kw2 = sizes("k^h_1 k^w_1 k^h_2 k^w_2")
o, c, m, j = index("o c m j")
a_h, a_w, b_h, b_w, t_h, t_w = index("a_h a_w b_h b_w t_h t_w")
X, V1, V2, H, M = (IndexedBase(n) for n in ("x", "w_1", "w_2", "h", "W"))
B1, B2 = IndexedBase("b_1"), IndexedBase("b_2")

h_2d = Let(H, lambda mm, ii, jj: SumExpr.of(D.conv2d(X, V1, C_in, kh1, kw1, mm, ii, jj), B1[mm]))
W_2d = Let(M, lambda oo, cc, th, tw: SumExpr.of(
    D.merge_kernels2d(V1, V2, C_mid, kh1, kw1, kh2, kw2, oo, cc, th, tw)))

sequential_2d = General(
    "merge.sequential-2d",
    "Two multichannel 2-D convolutions in a row are one",
    "For all channel counts $C_{\\mathrm{in}}, C_{\\mathrm{mid}}, C_{\\mathrm{out}}$ and kernel sizes: "
    "$(x \\star w_1 + b_1) \\star w_2 + b_2 = x \\star W + B$ with "
    "$W_{o,c} = \\sum_m w_{1,m,c} * w_{2,o,m}$ (the full 2-D convolution of each pair of channel "
    "kernels, of size $(k^h_1+k^h_2-1) \\times (k^w_1+k^w_2-1)$) and "
    "$B_o = b_{2,o} + \\sum_{m,u,v} w_{2,o,m,u,v}\\, b_{1,m}$.",
    idea="Per spatial axis, as in merge.sequential-1d: substitute $t_h = a_h + b_h$ and $t_w = a_w + b_w$ "
    "and restrict $a_h, a_w$ to the taps that reach them; the sum over the middle channels $m$ "
    "is carried along into the merged kernel.",
    lhs=D.conv2d(H, V2, C_mid, kh2, kw2, o, i, j) + B2[o],
    rhs=D.conv2d(X, M, C_in, kh1 + kh2 - 1, kw1 + kw2 - 1, o, i, j) + B2[o]
    + D.bias_through(V2, B1, C_mid, kh2, kw2, o),
    lets=[h_2d, W_2d],
    derivation=[
        Unfold("conv2d", ("m", "b_h", "b_w")),
        Unfold("h"),
        Distribute(),
        Unfold("conv2d", ("c", "a_h", "a_w")),
        Reorder([("c", 0, C_in - 1), ("m", 0, C_mid - 1), ("a_h", 0, kh1 - 1), ("a_w", 0, kw1 - 1),
                 ("b_h", 0, kh2 - 1), ("b_w", 0, kw2 - 1)]),
        Substitute("b_h", "t_h", t_h - a_h,
                   [("c", 0, C_in - 1), ("m", 0, C_mid - 1), ("a_h", 0, kh1 - 1), ("a_w", 0, kw1 - 1),
                    ("t_h", a_h, a_h + kh2 - 1), ("b_w", 0, kw2 - 1)]),
        Substitute("b_w", "t_w", t_w - a_w,
                   [("c", 0, C_in - 1), ("m", 0, C_mid - 1), ("a_h", 0, kh1 - 1), ("a_w", 0, kw1 - 1),
                    ("t_h", a_h, a_h + kh2 - 1), ("t_w", a_w, a_w + kw2 - 1)]),
        Reorder([("c", 0, C_in - 1), ("t_h", 0, kh1 + kh2 - 2), ("t_w", 0, kw1 + kw2 - 2),
                 ("m", 0, C_mid - 1), ("a_h", (0, t_h - kh2 + 1), (t_h, kh1 - 1)),
                 ("a_w", (0, t_w - kw2 + 1), (t_w, kw1 - 1))]),
        Fold(D.merge_kernels2d(V1, V2, C_mid, kh1, kw1, kh2, kw2, o, c, t_h, t_w), ("m", "a_h", "a_w")),
        Name(W_2d, (o, c, t_h, t_w)),
        Fold(D.conv2d(X, M, C_in, kh1 + kh2 - 1, kw1 + kw2 - 1, o, i, j), ("c", "t_h", "t_w")),
        Fold(D.bias_through(V2, B1, C_mid, kh2, kw2, o), ("m", "b_h", "b_w")),
    ],
    instances=[
        dict(C_in=1, C_mid=2, kh_1=2, kw_1=1, kh_2=1, kw_2=2),
        dict(C_in=2, C_mid=1, kh_1=1, kw_1=2, kh_2=2, kw_2=2),
        dict(C_in=2, C_mid=2, kh_1=2, kw_1=2, kh_2=2, kw_2=1),
    ],
    check_source=(checks._merged_kernel, checks._merged_bias, checks.test_merge_sequential_2d_numeric),
)

# ---------------------------------------------------------------------------------------------
# strides and dilations (1-D; every spatial axis of a 2-D layer is the same argument)

s1, d1, s2, d2 = sizes("s_1 d_1 s_2 d_2")
K_sd = d1 * (k1 - 1) + s1 * d2 * (k2 - 1) + 1

h_sd = Let(h, lambda jj: SumExpr.of(D.conv1d(x, w1, k1, jj, stride=s1, dilation=d1), b1))
W_sd = Let(W, lambda tt: SumExpr.of(D.merge_kernel(w1, w2, k1, k2, tt, stride1=s1, dilation1=d1, dilation2=d2)))

strided_1d = General(
    "merge.strided-dilated",
    "Strided and dilated convolutions in a row",
    "For all sizes, strides and dilations: $(x \\star_{s_1,d_1} w_1 + b_1) \\star_{s_2,d_2} w_2 + b_2 = "
    "x \\star_{s_1 s_2, 1} W + b_2 + (\\Sigma w_2)\\, b_1$ with "
    "$W_t = \\sum_{d_1 a + s_1 d_2 b = t} w_{1,a}\\, w_{2,b}$, of size $d_1(k_1-1) + s_1 d_2(k_2-1) + 1$.",
    idea="Tap $a$ of the first kernel and tap $b$ of the second read the input at offset "
    "$d_1 a + s_1 d_2 b$ from $s_1 s_2 i$: group the terms by that offset $t$; each group is $W_t$.",
    lhs=D.conv1d(h, w2, k2, i, stride=s2, dilation=d2) + b2,
    rhs=D.conv1d(x, W, K_sd, i, stride=s1 * s2) + b2 + b1 * D.total(w2, k2),
    lets=[h_sd, W_sd],
    derivation=[
        Unfold("conv1d", ("b",)),
        Unfold("h"),
        Distribute(),
        Unfold("conv1d", ("a",)),
        Reorder([("a", 0, k1 - 1), ("b", 0, k2 - 1)]),
        GroupBy("t", d1 * a + s1 * d2 * b, 0, K_sd - 1, w1[a] * w2[b] * x[s1 * s2 * i + t], ("a", "b")),
        Fold(D.merge_kernel(w1, w2, k1, k2, t, stride1=s1, dilation1=d1, dilation2=d2), ("a", "b")),
        Name(W_sd, (t,)),
        Fold(D.conv1d(x, W, K_sd, i, stride=s1 * s2), ("t",)),
        Fold(D.total(w2, k2), ("b",)),
    ],
    instances=[
        {"k_1": 2, "k_2": 2, "s_1": 2, "d_1": 1, "s_2": 1, "d_2": 2},
        {"k_1": 3, "k_2": 2, "s_1": 1, "d_1": 2, "s_2": 2, "d_2": 1},
        {"k_1": 1, "k_2": 3, "s_1": 3, "d_1": 2, "s_2": 2, "d_2": 2},
        {"k_1": 2, "k_2": 2, "s_1": 1, "d_1": 1, "s_2": 1, "d_2": 1},
    ],
    check_source=checks.test_merge_strided_dilated_numeric,
    figure=lambda fields: _stack_figure((3, 3), (2, 1), 9),
)

# ---------------------------------------------------------------------------------------------
# exact instances: every weight, bias and input entry a distinct symbol (convsym.exact.ops + algebra)


def layer_inputs(k1, k2, ci, cm, co, n, g1=1, g2=1, **_):
    return {"x": (ci, n, n), "w1": (cm, ci // g1, k1, k1), "b1": (cm,),
            "w2": (co, cm // g2, k2, k2), "b2": (co,)}


def two_layers(T, s1=1, d1=1, s2=1, d2=1, p1=0, p2=0, g1=1, g2=1, **_):
    """the two layers"""
    h = ops.conv2d(T["x"], T["w1"], T["b1"], stride=s1, dilation=d1, padding=p1, groups=g1)
    return ops.conv2d(h, T["w2"], T["b2"], stride=s2, dilation=d2, padding=p2, groups=g2)


def merged_layer(T, s1=1, d1=1, s2=1, d2=1, p1=0, p2=0, g1=1, g2=1, **_):
    """the naive merge: kernel and bias as in the theorems, input padded by $p_1 + s_1 p_2$"""
    W = ops.merge_kernels(expand_groups(T["w1"], g1), expand_groups(T["w2"], g2),
                          stride1=s1, dilation1=d1, dilation2=d2)
    B = ops.merge_bias(expand_groups(T["w2"], g2), T["b1"], T["b2"])
    return ops.conv2d(T["x"], W, B, stride=s1 * s2, padding=p1 + s1 * p2)


def expand_groups(w, g):
    """The dense (groups=1) weight of a grouped convolution: zero outside the diagonal blocks."""
    if g == 1:
        return w
    O, Cg = w.shape[0], w.shape[1]
    k = w.shape[2:]
    kk = int(np.prod(k))

    def make():
        Og = O // g
        rows, cols = [], []
        for o in range(O):
            for c in range(Cg):
                rows.append(o * (Cg * g) + (o // Og) * Cg + c)
                cols.append(o * Cg + c)
        dense_idx = (np.array(rows)[:, None] * kk + np.arange(kk)[None, :]).reshape(-1)
        src_idx = (np.array(cols)[:, None] * kk + np.arange(kk)[None, :]).reshape(-1)
        return dense_idx, src_idx, np.zeros_like(dense_idx)

    # the index arrays depend on the shapes only: made once per shape (read-only)
    dense_idx, src_idx, zeros = remembered_triples(("expand_groups", O, Cg, g, kk), make)
    one = w.constant_like(np.ones((1,), dtype=np.int64))
    return contract(w.reshape((O * Cg * kk,)), one, dense_idx, src_idx, zeros, (O, Cg * g) + tuple(k))


exact_2d = Identity(
    "merge.exact-family-2d",
    "Exact check of the 2-D merge for every small size",
    "For every square kernel size $k_1, k_2 \\le 5$ and channel counts $C_{\\mathrm{in}}, C_{\\mathrm{mid}}, "
    "C_{\\mathrm{out}} \\in \\{1, 2\\}$: the "
    "two layers and the merged layer are the same polynomials in every input, weight and bias entry.",
    inputs=layer_inputs,
    lhs=two_layers,
    rhs=merged_layer,
    family=[dict(k1=p, k2=q, ci=ci, cm=cm, co=co, n=p + q)
            for p in range(1, 6) for q in range(1, 6)
            for ci in (1, 2) for cm in (1, 2) for co in (1, 2)],
    check_source=checks.test_merge_exact_integers,
)

exact_large = Identity(
    "merge.exact-7x7-c8",
    "Exact check of the 2-D merge at 7x7 kernels and 8 channels",
    "For $7 \\times 7$ kernels and $C_{\\mathrm{in}} = C_{\\mathrm{mid}} = C_{\\mathrm{out}} = 8$ the two layers "
    "and the merged $13 \\times 13$ layer are "
    "identical polynomials (about 150000 monomials per output entry).",
    inputs=layer_inputs,
    lhs=two_layers,
    rhs=merged_layer,
    family=[dict(k1=7, k2=7, ci=8, cm=8, co=8, n=14)],
    check_source=checks.test_merge_7x7_c8_numeric,
)

strided_exact = Identity(
    "merge.exact-strided-grouped",
    "Exact check with strides, dilations and groups",
    "For strides $s_1, s_2$ and dilations $d_1, d_2$ in $\\{1, 2\\}$, kernel sizes in $\\{1, 2, 3\\}$ and groups "
    "$(g_1, g_2) \\in \\{(1, 1), (2, 2), (1, 2), (2, 1)\\}$: the merged layer (kernel $d_1(k_1-1) + "
    "s_1 d_2 (k_2-1) + 1$, "
    "stride $s_1 s_2$, dilation 1, groups expanded to a dense weight) equals the two layers exactly.",
    inputs=layer_inputs,
    lhs=two_layers,
    rhs=merged_layer,
    family=[dict(k1=p, k2=q, ci=2, cm=2, co=2, n=d1 * (p - 1) + s1 * d2 * (q - 1) + 1 + s1 * s2,
                 s1=s1, d1=d1, s2=s2, d2=d2, g1=g1, g2=g2)
            for (p, q) in ((1, 2), (2, 1), (3, 2), (2, 3))
            for s1 in (1, 2) for d1 in (1, 2) for s2 in (1, 2) for d2 in (1, 2)
            for (g1, g2) in ((1, 1), (2, 2), (1, 2), (2, 1))],
    check_source=(checks._dense_weight, checks.test_merge_strided_grouped_exact_integers),
)

# ---------------------------------------------------------------------------------------------
# padding: where the naive merge breaks


def _why_ring_figure(fields):
    """Why the padded merge fails, in 1-D: the padded ring of the intermediate versus what the
    merged layer computes there (the first layer on the padded input), entry by entry."""
    import sympy

    ka, n, p2 = 2, 4, 1
    xs = sympy.symbols(f"x_0:{n}")
    ws = [sympy.Symbol(f"w_{{1,{a_}}}") for a_ in range(ka)]
    bb = sympy.Symbol("b_1")

    def x_at(j):
        return xs[j] if 0 <= j < n else 0

    inner = n - ka + 1
    seen = [sum(ws[a_] * x_at(j + a_) for a_ in range(ka)) + bb for j in range(-p2, inner + p2)]
    used = [seen[j + p2] if 0 <= j < inner else sympy.Integer(0) for j in range(-p2, inner + p2)]
    bad = [sympy.expand(u - v) != 0 for u, v in zip(used, seen, strict=True)]
    if bad != [not 0 <= j < inner for j in range(-p2, inner + p2)]:
        raise ValueError(f"_why_ring_figure: the entries that differ are {bad}, not the ring")
    rows = [
        ("input $x$, padded by $p_1 + p_2$", 0,
         [("pad", "0")] + [("in", f"x_{{{j}}}") for j in range(n)] + [("pad", "0")]),
        ("$h$ padded by $p_2$ (two layers)", 0,
         [("pad" if not 0 <= j < inner else "out", "0" if not 0 <= j < inner else f"h_{{{j}}}")
          for j in range(-p2, inner + p2)]),
        ("what the merged layer uses", 0,
         [("bad" if wrong else "out", sympy.latex(v).replace(" + ", "{+}") if wrong else f"h_{{{j - p2}}}")
          for j, (v, wrong) in enumerate(zip(seen, bad, strict=True))]),
    ]
    tikz = figures.strip_rows(rows, key=[("pad", "zero padding"), ("out", "the same on both sides"),
                                         ("bad", "different: the ring")], cell=1.65)
    caption = (f"Why padding in the second layer breaks the merge ($k_1 = {ka}$, $p_1 = 0$, $p_2 = {p2}$, "
               f"$n = {n}$, computed symbolically): the second layer reads the intermediate "
               "$h_j = b_1 + \\sum_a w_{1,a} x_{j+a}$ with a ring of zeros around it, but the merged layer "
               "sees through to the padded input, as if the ring held the first layer applied there: $b_1$ "
               "plus the taps that still reach $x$. The two agree inside and differ on a ring of width $p_2$.")
    return tikz, caption


padded = Identity(
    "merge.padded-second",
    "With padding in the second layer the naive merge is wrong",
    "Claim (false): if the second convolution pads by $p_2 > 0$, the merged layer padded by $p_1 + p_2$ "
    "still equals the two layers. The zero ring around the intermediate map is not what the first "
    "layer computes there ($b_1$ plus the taps that still reach the input).",
    expected="refuted",
    inputs=layer_inputs,
    lhs=two_layers,
    rhs=merged_layer,
    family=[dict(k1=p, k2=q, ci=1, cm=1, co=1, n=1, p1=0, p2=1) for p in (1, 2) for q in (1, 2)],
    check_source=checks._confirm_padded_merge_witness,
    witness_check=checks._confirm_padded_merge_witness,
    figure=_why_ring_figure,
)


def _interior(y, p2):
    return y if p2 == 0 else y[:, p2:-p2, p2:-p2]


def _interior_position(entry, p2, **_):
    """Entry (o, i, j) of the interior is output position (o, i + p_2, j + p_2) of the two layers."""
    return {"o": entry[0], "i": entry[1] + p2, "j": entry[2] + p2}


def _ring_figure(fields):
    """Which outputs of the naive padded merge are wrong, computed exactly (every entry a symbol)."""
    from convsym.exact.poly import PolyTensor
    from convsym.proof import VariablePool

    sz = dict(k1=3, k2=3, ci=1, cm=1, co=1, n=6, p1=1, p2=1)
    pool = VariablePool()
    T = {k: PolyTensor.variables(pool, k, shape) for k, shape in layer_inputs(**sz).items()}
    diff = (two_layers(T, **sz) - merged_layer(T, **sz)).canonical()
    shape = diff.shape[1:]
    wrong = set(int(e) for e in np.unique(diff.entry))
    cells = [["bad" if r * shape[1] + c in wrong else "out" for c in range(shape[1])] for r in range(shape[0])]
    caption = (f"Outputs of the padded merge for $k_1 = k_2 = 3$, $p_1 = p_2 = 1$ on a $6 \\times 6$ input, "
               f"computed exactly: {len(wrong)} of {shape[0] * shape[1]} entries (hatched) differ from the two "
               "layers; they form the ring of width $p_2 = 1$.")
    return figures.grid(cells, size=0.45, key=[("out", "equal"), ("bad", "different")]), caption


padded_interior = Identity(
    "merge.padded-interior",
    "Off a border ring of width $p_2$ the padded merge is exact",
    "With zero padding $p_1, p_2$ (stride 1) the merged layer padded by $p_1 + p_2$ equals the two layers at "
    "every output position at distance $\\ge p_2$ from the border: the error is confined to a ring of width $p_2$.",
    inputs=layer_inputs,
    lhs=lambda T, p2, **s: _interior(two_layers(T, p2=p2, **s), p2),
    rhs=lambda T, p2, **s: _interior(merged_layer(T, p2=p2, **s), p2),
    family=[dict(k1=p, k2=q, ci=2, cm=1, co=2, n=p + q + 1, p1=p1, p2=p2)
            for p in (1, 2, 3) for q in (1, 2, 3) for p1 in (0, 1, 2) for p2 in (1, 2)],
    coordinates=_interior_position,
    check_source=checks.test_merge_padded_ring_numeric,
    figure=_ring_figure,
)


def _no_first_bias(builder):
    def build(T, **s):
        T = dict(T)
        T["b1"] = T["b1"] * 0
        return builder(T, **s)

    first = (builder.__doc__ or builder.__name__).strip().splitlines()[0].rstrip(".")
    build.__doc__ = f"{first}, without a first bias"
    return build


padded_exact = Identity(
    "merge.padded-exact-condition",
    "When a merge with padding is still exact",
    "With stride 1, the merged layer padded by $p_1 + p_2$ equals the two layers everywhere (ring "
    "included) when $b_1 = 0$ and $k_1 \\le p_1 + 1$: then every value the first layer would compute on the "
    "ring reads only zero padding, so it is the zero the second layer pads with.",
    inputs=layer_inputs,
    lhs=_no_first_bias(two_layers),
    rhs=_no_first_bias(merged_layer),
    family=[dict(k1=p, k2=q, ci=2, cm=2, co=1, n=3, p1=p1, p2=p2)
            for p1 in (0, 1, 2) for p in range(1, p1 + 2) for q in (1, 2, 3) for p2 in (1, 2)],
    check_source=checks.test_merge_padded_exact_condition_numeric,
)

padded_wide = Identity(
    "merge.padded-wide-first-kernel",
    "Without a first bias the padded merge still fails once $k_1 > p_1 + 1$",
    "Claim (false): with $b_1 = 0$ the merged layer padded by $p_1 + p_2$ equals the two layers. Once "
    "$k_1 \\ge p_1 + 2$ the first layer's window at the ring reaches real input.",
    expected="refuted",
    inputs=layer_inputs,
    lhs=_no_first_bias(two_layers),
    rhs=_no_first_bias(merged_layer),
    family=[dict(k1=p1 + 2, k2=1, ci=1, cm=1, co=1, n=p1 + 2, p1=p1, p2=1) for p1 in (0, 1)],
    witness_check=checks._confirm_padded_merge_witness,
)
