"""Transposed convolutions, second section: two in a row, a convolution after one, and BatchNorm
folded into one (along the weight's axis 1).  The family and the shared helpers are in
``_transposed.py``."""

from __future__ import annotations

import sympy
from _transposed import TRANSPOSED, _obj, _retest, output_position, source_of
from sympy import IndexedBase

from convsym.exact import ops
from convsym.exact import transposed as OT
from convsym.proof import Checked, General, Identity, Proof, Refutation, load_checks
from convsym.symbolic import opdefs_transposed as T
from convsym.symbolic.rules import Collapse, Fold, GroupBy, Name, Restate, Unfold
from convsym.symbolic.sums import Let, SumExpr, index
from convsym.symbolic.symbols import sizes

CHECKS = load_checks(__file__)  # the emitted numeric checks: proofs/checks/transposed_merge.py
_src = source_of(CHECKS)

FAMILY = TRANSPOSED
SECTION = 2


# =============================================================================================
# 5. merging: two transposed convolutions, a convolution after a transposed one


(n5h, n5w, C5, M5, k1h, k1w, k2h, k2w, s1h, s1w, s2h, s2w, d1h, d1w, d2h, d2w) = sizes(
    "n_h n_w C M k^h_1 k^w_1 k^h_2 k^w_2 s^h_1 s^w_1 s^h_2 s^w_2 d^h_1 d^w_1 d^h_2 d^w_2")
p2h, p2w, q1h, q1w = index("p^h_2 p^w_2 q^h_1 q^w_1")  # paddings and output paddings may be 0
i5, j5, o5, c5, mu5, th5, tw5 = index("i j o c mu t_h t_w")
ah5, aw5, bh5, bw5, jh5, jw5 = index("a_h a_w b_h b_w j_h j_w")
x5, w51, w52, h5, W5, V5 = (IndexedBase(q) for q in ("x", "w_1", "w_2", "h", "W", "V"))
#: the first layer's output size (no padding, output padding q_1) and the merged kernel's, per axis
n5mh = sympy.expand((n5h - 1) * s1h + d1h * (k1h - 1) + 1 + q1h)
n5mw = sympy.expand((n5w - 1) * s1w + d1w * (k1w - 1) + 1 + q1w)
K5h = sympy.expand(s2h * d1h * (k1h - 1) + d2h * (k2h - 1) + 1)
K5w = sympy.expand(s2w * d1w * (k1w - 1) + d2w * (k2w - 1) + 1)
h5_def = Let(h5, lambda mm, ii, jj: SumExpr.of(
    T.conv_transpose2d_dilated(x5, w51, C5, n5h, n5w, k1h, k1w, s1h, s1w, 0, 0, d1h, d1w, mm, ii, jj)))
W5_def = Let(W5, lambda cc, oo, t_h, t_w: SumExpr.of(
    T.transposed_merge2d(w51, w52, M5, k1h, k1w, k2h, k2w, s2h, s2w, d1h, d1w, d2h, d2w, cc, oo, t_h, t_w)))
_tt_summand = w51[c5, mu5, ah5, aw5] * w52[mu5, o5, bh5, bw5] * x5[c5, jh5, jw5]
_tt_all = ("mu", "b_h", "b_w", "c", "j_h", "j_w", "a_h", "a_w")

def _tt_inputs(c, m, o, k1, k2, n, **_):
    return {"x": (1, c, n, n), "w1": (c, m, k1, k1), "w2": (m, o, k2, k2)}


def _two_transposed(T_, s1, s2, d1, d2, p2, q1, q2, **_):
    """Two transposed convolutions in a row"""
    h = OT.conv_transpose2d(T_["x"], T_["w1"], stride=s1, output_padding=q1, dilation=d1)
    return OT.conv_transpose2d(h, T_["w2"], stride=s2, padding=p2, output_padding=q2, dilation=d2)


def _one_transposed(T_, s1, s2, d1, d2, p2, q1, q2, **_):
    """One transposed convolution with the merged kernel $W$, stride $s_1 s_2$, output padding $s_2 q_1 + q_2$"""
    W = ops.merge_kernels(T_["w2"], T_["w1"], stride1=s2, dilation1=d2, dilation2=d1)
    return OT.conv_transpose2d(T_["x"], W, stride=s1 * s2, padding=p2, output_padding=s2 * q1 + q2)


_MERGE_TWO_LIBRARY = [Identity(
    "transposed.merge-two-exact",
    "The merge as the library computes it, output padding included",
    "transposed.merge-two derives the merge at every position for all sizes; this family checks the "
    "library's own arithmetic for it (the exact layers of convsym.exact and the kernel merge the "
    "transforms use), whole outputs with their sizes. With no padding and no bias in the first layer: "
    "two transposed convolutions in a row, the first "
    "with $w_1$, stride $s_1$, output padding $q_1$, dilation $d_1$, the second with $w_2$, stride $s_2$, "
    "padding $p_2$, output padding $q_2$, dilation $d_2$, equal one transposed convolution with kernel "
    "$W$, stride $s_1 s_2$, padding $p_2$ and output padding $s_2 q_1 + q_2$, where $W_{c,o,t} = \\sum_m "
    "\\sum_{s_2 d_1 a + d_2 b = t} w_{1,c,m,a}\\, w_{2,m,o,b}$, of size $s_2 d_1 (k_1-1) + d_2 (k_2-1) + 1$ "
    "($s_2 (k_1-1) + k_2$ without dilation). Conditions: $p_1 = 0$ (transposed.merge-padded-first), no "
    "first bias, $q_1 < s_1$ and $s_2 q_1 + q_2 < s_1 s_2$ (a valid output padding). Exact family: strides "
    "1 to 3, dilations 1, 2, kernels 1 to 3, $(p_2, q_1, q_2) \\in \\{(0,0,0), (1,1,0), (0,1,1), (1,0,1)\\}$ "
    "where allowed, 2 channels each; an exact family, not a derivation for all sizes.",
    inputs=_tt_inputs,
    lhs=_two_transposed,
    rhs=_one_transposed,
    family=[dict(c=2, m=2, o=2, k1=k1_, k2=k2_, n=2, s1=s1_, s2=s2_, d1=d1_, d2=d2_, p2=p2_, q1=q1_, q2=q2_)
            for s1_, s2_ in ((1, 2), (2, 2), (3, 2), (2, 3)) for d1_, d2_ in ((1, 1), (2, 1), (1, 2))
            for k1_, k2_ in ((2, 2), (1, 3), (3, 2))
            for p2_, q1_, q2_ in ((0, 0, 0), (1, 1, 0), (0, 1, 1), (1, 0, 1))
            if q1_ < s1_ and q2_ < max(s2_, d2_) and s2_ * q1_ + q2_ < s1_ * s2_],
)]

merge_two = General(
    "transposed.merge-two",
    "Two transposed convolutions in a row are one",
    "For all channel counts $C, M$, sizes $n_h \\times n_w$, kernel sizes, strides, dilations (each "
    "axis its own), output paddings $q_1 \\ge 0$ and paddings $p_2 \\ge 0$, at every output channel $o$ "
    "and position $(i, j)$: the transposed convolution $h$ of $x$ with $w_1$ (weight $C \\times M \\times "
    "k^h_1 \\times k^w_1$, stride $s_1$, dilation $d_1$, no padding, output padding $q_1$) followed by "
    "the transposed convolution with $w_2$ ($M \\times O \\times k^h_2 \\times k^w_2$, stride $s_2$, "
    "padding $p_2$, dilation $d_2$) is the transposed convolution of $x$ with the kernel $W_{c,o,t_h,t_w} "
    "= \\sum_m \\sum w_{1,c,m,a_h,a_w}\\, w_{2,m,o,b_h,b_w}$ over the taps with $s_2 d_1 a + d_2 b = t$ "
    "on each axis, of size $K = s_2 d_1 (k_1-1) + d_2 (k_2-1) + 1$ per axis ($s_2 (k_1 - 1) + k_2$ "
    "without dilation), stride $s_1 s_2$, padding $p_2$ and dilation 1. transposed.merge-two-length "
    "gives the output padding $s_2 q_1 + q_2$ that keeps the size; with padding in the first layer it "
    "fails (transposed.merge-padded-first).",
    idea="Write out both layers: the first scatters $x_{c,j_h,j_w}$ to $m_h = s_1 j_h + d_1 a_h$, which "
         "fixes the intermediate position, and the second sends it on to $s_2 m_h + d_2 b_h - p_2$ (the "
         "same on the other axis). Group the pairs of taps by $t_h = s_2 d_1 a_h + d_2 b_h$: the output "
         "is then $s_1 s_2 j_h + t_h - p_2$, and the sum over the pairs with the same $t$ is the merged "
         "kernel.",
    lhs=T.conv_transpose2d_dilated(h5, w52, M5, n5mh, n5mw, k2h, k2w, s2h, s2w, p2h, p2w, d2h, d2w, o5, i5, j5),
    rhs=T.conv_transpose2d_dilated(x5, W5, C5, n5h, n5w, K5h, K5w, s1h * s2h, s1w * s2w, p2h, p2w, 1, 1,
                                   o5, i5, j5),
    lets=[h5_def, W5_def],
    size_hypotheses=[sympy.Ge(p2h, 0), sympy.Ge(p2w, 0), sympy.Ge(q1h, 0), sympy.Ge(q1w, 0)],
    derivation=[
        Unfold("conv_transpose2d_dilated", ("mu", "m_h", "m_w", "b_h", "b_w")),
        Unfold("h"),
        Unfold("conv_transpose2d_dilated", ("c", "j_h", "j_w", "a_h", "a_w")),
        Collapse("m_h", s1h * jh5 + d1h * ah5),
        Collapse("m_w", s1w * jw5 + d1w * aw5),
        GroupBy("t_h", s2h * d1h * ah5 + d2h * bh5, 0, K5h - 1, _tt_summand, _tt_all),
        GroupBy("t_w", s2w * d1w * aw5 + d2w * bw5, 0, K5w - 1, _tt_summand, ("t_h",) + _tt_all),
        Restate(("t_w", "t_h") + _tt_all,
                [sympy.Eq(s1h * s2h * jh5 + th5 - p2h, i5), sympy.Eq(s1w * s2w * jw5 + tw5 - p2w, j5),
                 sympy.Eq(s2h * d1h * ah5 + d2h * bh5, th5), sympy.Eq(s2w * d1w * aw5 + d2w * bw5, tw5)]),
        Fold(T.transposed_merge2d(w51, w52, M5, k1h, k1w, k2h, k2w, s2h, s2w, d1h, d1w, d2h, d2w, c5, o5, th5, tw5),
             ("mu", "a_h", "a_w", "b_h", "b_w")),
        Name(W5_def, (c5, o5, th5, tw5)),
        Fold(T.conv_transpose2d_dilated(x5, W5, C5, n5h, n5w, K5h, K5w, s1h * s2h, s1w * s2w, p2h, p2w, 1, 1,
                                        o5, i5, j5), ("c", "j_h", "j_w", "t_h", "t_w")),
    ],
    instances=[{"n_h": 2, "n_w": 1, "C": 2, "M": 1, "k^h_1": 2, "k^w_1": 1, "k^h_2": 2, "k^w_2": 2, "s^h_1": 2,
                "s^w_1": 1, "s^h_2": 1, "s^w_2": 2, "d^h_1": 1, "d^w_1": 2, "d^h_2": 2, "d^w_2": 1, "q^h_1": 1,
                "q^w_1": 0}],
    cross_checks=_MERGE_TWO_LIBRARY,
    check_source=_src("_tt_kernel", "test_transposed_merge_two_exact", "test_transposed_merge_two_float"),
)

# the length, one axis (the other is the same with its own sizes)
n5, k51, k52, s51, s52, d51, d52 = sizes("n k_1 k_2 s_1 s_2 d_1 d_2")
p52, q51, q52 = index("p_2 q_1 q_2")
K5 = sympy.expand(s52 * d51 * (k51 - 1) + d52 * (k52 - 1) + 1)


def derive_merge_length(P: Proof) -> None:
    mid = (n5 - 1) * s51 + d51 * (k51 - 1) + 1 + q51
    two = (mid - 1) * s52 - 2 * p52 + d52 * (k52 - 1) + q52 + 1
    one = (n5 - 1) * s51 * s52 - 2 * p52 + (K5 - 1) + (s52 * q51 + q52) + 1
    P.equal("the second layer's output length, from the first layer's $(n-1)s_1 + d_1(k_1-1) + 1 + q_1$, "
            "equals the merged layer's with output padding $s_2 q_1 + q_2$ (transposed.output-size)", two, one)
    P.implies("with $q_1 < s_1$ and $q_2 < s_2$ that output padding is below the merged stride $s_1 s_2$, "
              "so PyTorch accepts it",
              [q51 >= 0, q51 <= s51 - 1, q52 >= 0, q52 <= s52 - 1], [s52 * q51 + q52 <= s51 * s52 - 1])
    P.implies("with $q_2 \\ge s_2$ (allowed when $d_2 > s_2$) and $q_1 = s_1 - 1$ it is not: the merged "
              "layer then needs an explicit crop",
              [sympy.Eq(q51, s51 - 1), q52 >= s52], [s52 * q51 + q52 >= s51 * s52])


merge_two_length = Checked(
    "transposed.merge-two-length",
    "The merged layer keeps the length with output padding $s_2 q_1 + q_2$",
    "For all sizes: two transposed convolutions in a row (the first without padding, output padding "
    "$q_1$; the second with padding $p_2$ and output padding $q_2$) have as many outputs as the merged "
    "layer of transposed.merge-two with output padding $s_2 q_1 + q_2$; that output padding is valid "
    "(below $s_1 s_2$) when $q_1 < s_1$ and $q_2 < s_2$, and can exceed it when $q_2 \\ge s_2$.",
    idea="Expand both lengths of transposed.output-size as polynomials in the sizes; z3 bounds the "
         "output padding.",
    derive=derive_merge_length,
    check_source=_src("test_transposed_merge_two_length"),
)


merge_padded_first = Refutation(
    "transposed.merge-padded-first",
    "With padding in the first transposed convolution the naive merge is wrong",
    "Claim (false): with the first layer cropping $p_1 > 0$, the merged layer with padding $s_2 "
    "p_1$ still equals the two layers. The crop removes entries of the intermediate map that the "
    "second layer would scatter into the kept outputs.",
    lhs=lambda x, w1, w2, s1, s2, p1: CHECKS._tt_padded_sides(x, w1, w2, s1, s2, p1)[0],
    rhs=lambda x, w1, w2, s1, s2, p1: CHECKS._tt_padded_sides(x, w1, w2, s1, s2, p1)[1],
    witness=dict(x=_obj([1, 1], (1, 1, 2, 1)), w1=_obj([1, 1], (1, 1, 2, 1)), w2=_obj([1, 1], (1, 1, 2, 1)),
                 s1=2, s2=1, p1=1),
    coordinates=output_position,
    check_source=_src("_tt_padded_sides"),
    witness_check=_retest("_tt_padded_sides"),
)


(s5,) = sizes("s")
p2h5, p2w5 = index("p^h_2 p^w_2")
n5ch = sympy.expand((n5h - 1) * s5 + k1h)  # the transposed layer's size (stride s, no padding)
n5cw = sympy.expand((n5w - 1) * s5 + k1w)
h5c_def = Let(h5, lambda mm, ii, jj: SumExpr.of(
    T.conv_transpose2d_dilated(x5, w51, C5, n5h, n5w, k1h, k1w, s5, s5, 0, 0, 1, 1, mm, ii, jj)))
V5_def = Let(V5, lambda cc, oo, t_h, t_w: SumExpr.of(
    T.conv_after_kernel2d(w51, w52, M5, k1h, k1w, k2h, k2w, cc, oo, t_h, t_w)))
_ca_summand = w51[c5, mu5, ah5, aw5] * w52[o5, mu5, bh5, bw5] * x5[c5, jh5, jw5]

def _ca_inputs(c, m, o, k1, k2, n, **_):
    return {"x": (1, c, n, n), "w1": (c, m, k1, k1), "w2": (o, m, k2, k2)}


def _conv_after(T_, s, p2, **_):
    """A stride-1 convolution after a transposed convolution"""
    return ops.conv2d(OT.conv_transpose2d(T_["x"], T_["w1"], stride=s), T_["w2"], padding=p2)


def _conv_after_merged(T_, s, p2, k2, **_):
    """One transposed convolution with the correlated kernel, padding $k_2 - 1 - p_2$"""
    flipped = T_["w2"][:, :, ::-1, ::-1]
    W = ops.merge_kernels(T_["w1"].transpose(1, 0, 2, 3), flipped)  # (O, C, k1 + k2 - 1)
    return OT.conv_transpose2d(T_["x"], W.transpose(1, 0, 2, 3), stride=s, padding=k2 - 1 - p2)


_CONV_AFTER_LIBRARY = [Identity(
    "transposed.conv-after-exact",
    "The convolution after a transposed one as the library computes it",
    "transposed.conv-after derives it at every position for all sizes; this family checks the library's "
    "own arithmetic for it (the exact layers of convsym.exact and the kernel the transforms use), whole "
    "outputs with their sizes. With no padding and no bias in the transposed layer and a stride-1 "
    "convolution with padding "
    "$p_2 \\le k_2 - 1$: the convolution (with $w_2$, padding $p_2$) of the transposed convolution "
    "of $x$ (with $w_1$, stride $s$) equals the transposed convolution of $x$ with $V$, stride $s$ "
    "and padding $k_2 - 1 - p_2$, where $V_{c,o,t} = \\sum_m \\sum_{a - b + k_2 - 1 = t} "
    "w_{1,c,m,a}\\, w_{2,o,m,b}$ (of size $k_1 + k_2 - 1$). Exact family over strides 1 to 3, "
    "kernels 1 to 3, $p_2 \\le k_2 - 1$. (transposed.conv-after-padded: with $p_1 > 0$ the border "
    "is wrong.)",
    inputs=_ca_inputs,
    lhs=_conv_after,
    rhs=_conv_after_merged,
    family=[dict(c=2, m=2, o=2, k1=k1_, k2=k2_, n=2, s=s_, p2=p2_)
            for s_ in (1, 2, 3) for k1_ in (1, 2, 3) for k2_ in (1, 2, 3) for p2_ in range(k2_)
            if (s_ + k1_) + 2 * p2_ - k2_ + 1 >= 1],
)]

conv_after = General(
    "transposed.conv-after",
    "A convolution after a transposed convolution is a transposed convolution",
    "For all channel counts $C, M$, sizes $n_h \\times n_w$, kernel sizes $k_1, k_2$ (each axis its "
    "own), strides $s$ and paddings $0 \\le p_2 \\le k_2 - 1$ per axis, at every output channel $o$ and "
    "position $(i, j)$: the stride-1 convolution with $w_2$ (weight $O \\times M \\times k^h_2 \\times "
    "k^w_2$, zero padding $p_2$) of the transposed convolution $h$ of $x$ with $w_1$ ($C \\times M \\times "
    "k^h_1 \\times k^w_1$, stride $s$, no padding) is the transposed convolution of $x$ with $V_{c,o,t_h,"
    "t_w} = \\sum_m \\sum w_{1,c,m,a_h,a_w}\\, w_{2,o,m,b_h,b_w}$ over the taps with $a - b + k_2 - 1 = t$ "
    "on each axis (size $k_1 + k_2 - 1$), stride $s$ and padding $k_2 - 1 - p_2$. With padding in the "
    "transposed layer it fails (transposed.conv-after-padded).",
    idea="Write out both layers: output $i$ reads $h$ at $i + b_h - p_2$, which $x_{c,j_h,j_w}$ reaches "
         "through tap $a_h$ when $s j_h + a_h = i + b_h - p_2$. Group the pairs of taps by $t_h = a_h - b_h "
         "+ k_2 - 1$: the condition becomes $s j_h + t_h - (k_2 - 1 - p_2) = i$, and the convolution's zero "
         "padding is never read, because every scattered position lies inside $h$.",
    lhs=T.padded_conv2d_channels(h5, w52, M5, n5ch, n5cw, k2h, k2w, p2h5, p2w5, o5, i5, j5),
    rhs=T.conv_transpose2d_dilated(x5, V5, C5, n5h, n5w, k1h + k2h - 1, k1w + k2w - 1, s5, s5,
                                   k2h - 1 - p2h5, k2w - 1 - p2w5, 1, 1, o5, i5, j5),
    lets=[h5c_def, V5_def],
    size_hypotheses=[sympy.Ge(p2h5, 0), sympy.Le(p2h5, k2h - 1), sympy.Ge(p2w5, 0), sympy.Le(p2w5, k2w - 1)],
    derivation=[
        Unfold("padded_conv2d_channels", ("mu", "b_h", "b_w")),
        Unfold("h"),
        Unfold("conv_transpose2d_dilated", ("c", "j_h", "j_w", "a_h", "a_w")),
        GroupBy("t_h", ah5 - bh5 + k2h - 1, 0, k1h + k2h - 2, _ca_summand, _tt_all),
        GroupBy("t_w", aw5 - bw5 + k2w - 1, 0, k1w + k2w - 2, _ca_summand, ("t_h",) + _tt_all),
        Restate(("t_w", "t_h") + _tt_all,
                [sympy.Eq(s5 * jh5 + th5 - (k2h - 1 - p2h5), i5), sympy.Eq(s5 * jw5 + tw5 - (k2w - 1 - p2w5), j5),
                 sympy.Eq(ah5 - bh5 + k2h - 1, th5), sympy.Eq(aw5 - bw5 + k2w - 1, tw5)]),
        Fold(T.conv_after_kernel2d(w51, w52, M5, k1h, k1w, k2h, k2w, c5, o5, th5, tw5),
             ("mu", "a_h", "a_w", "b_h", "b_w")),
        Name(V5_def, (c5, o5, th5, tw5)),
        Fold(T.conv_transpose2d_dilated(x5, V5, C5, n5h, n5w, k1h + k2h - 1, k1w + k2w - 1, s5, s5,
                                        k2h - 1 - p2h5, k2w - 1 - p2w5, 1, 1, o5, i5, j5),
             ("c", "j_h", "j_w", "t_h", "t_w")),
    ],
    instances=[{"n_h": 2, "n_w": 1, "C": 2, "M": 1, "k^h_1": 2, "k^w_1": 1, "k^h_2": 3, "k^w_2": 2, "s": 2}],
    cross_checks=_CONV_AFTER_LIBRARY,
    check_source=_src("_ct_kernel", "test_transposed_conv_after_exact", "test_transposed_conv_after_float"),
)


conv_after_padded = Refutation(
    "transposed.conv-after-padded",
    "With padding in the transposed convolution the convolution after it does not merge",
    "Claim (false): with the transposed layer cropping $p_1 > 0$, the convolution (padding $k_2 - "
    "1$) after it equals the transposed convolution with the correlated kernel and padding $p_1$. "
    "The convolution's zero padding stands where the transposed layer cropped real values.",
    lhs=lambda x, w1, w2, s, p1: CHECKS._ct_padded_sides(x, w1, w2, s, p1)[0],
    rhs=lambda x, w1, w2, s, p1: CHECKS._ct_padded_sides(x, w1, w2, s, p1)[1],
    witness=dict(x=_obj([1, 1], (1, 1, 2, 1)), w1=_obj([1, 1, 1], (1, 1, 3, 1)), w2=_obj([1, 1], (1, 1, 2, 1)),
                 s=2, p1=1),
    coordinates=output_position,
    check_source=_src("_ct_padded_sides"),
    witness_check=_retest("_ct_padded_sides"),
)

# =============================================================================================
# 6. BatchNorm after a transposed convolution folds along axis 1

(C6, n6, k6, s6) = sizes("C n k s")
(p6,) = index("p")
o6, i6, c6, j6, a6 = index("o i c j a")
xw, ww, V6, gam, bet, bias6 = (IndexedBase(q) for q in ("x", "w", "V", "gamma", "beta", "b"))
V6_def = Let(V6, lambda cc, oo, aa: SumExpr.of(gam[oo] * ww[cc, oo, aa]))

bn_fold = General(
    "transposed.bn-fold-axis1",
    "BatchNorm after a transposed convolution folds along the weight's axis 1",
    "For all channel counts, sizes, strides and paddings: an inference BatchNorm ($y \\mapsto "
    "\\gamma_o y + \\beta_o$ per output channel $o$, with $\\gamma$ the weight over "
    "$\\sqrt{\\sigma^2 + \\epsilon}$ and $\\beta$ the bias minus $\\gamma \\mu$) after a transposed "
    "convolution with weight $w_{c,o,a}$ and bias $b$ is the transposed convolution with weight "
    "$\\gamma_o w_{c,o,a}$ (axis 1: the output channel) and bias $\\gamma_o b_o + \\beta_o$.",
    idea="Unfold the transposed convolution and distribute $\\gamma_o$ over its sum: every term of "
         "output $o$ carries a weight $w_{c,o,a}$, which takes the factor.",
    lhs=gam[o6] * T.conv_transpose_channels(xw, ww, C6, n6, k6, s6, p6, o6, i6) + gam[o6] * bias6[o6] + bet[o6],
    rhs=T.conv_transpose_channels(xw, V6, C6, n6, k6, s6, p6, o6, i6) + gam[o6] * bias6[o6] + bet[o6],
    lets=[V6_def],
    size_hypotheses=[sympy.Ge(p6, 0)],
    derivation=[
        Unfold("conv_transpose_channels", ("c", "j", "a")),
        Name(V6_def, (c6, o6, a6)),
        Fold(T.conv_transpose_channels(xw, V6, C6, n6, k6, s6, p6, o6, i6), ("c", "j", "a")),
    ],
    instances=[dict(C=2, n=2, k=2, s=2, p=1)],
    check_source=_src("test_transposed_bn_fold_dense_float"),
)


Cg7, Og7, nh7, nw7, kh7, kw7, sh7, sw7, dh7, dw7 = sizes("C_g O_g n_h n_w k_h k_w s_h s_w d_h d_w")
ph7, pw7 = index("p_h p_w")
g7, o7, c7, ih7, iw7, ah7, aw7 = index("g o c i_h i_w a_h a_w")
V7 = IndexedBase("V")
V7_def = Let(V7, lambda gg, cc, oo, a_h, a_w: SumExpr.of(gam[gg * Og7 + oo] * ww[gg * Cg7 + cc, oo, a_h, a_w]))
_ct7 = dict(Cg=Cg7, nh=nh7, nw=nw7, kh=kh7, kw=kw7, sh=sh7, sw=sw7, ph=ph7, pw=pw7, dh=dh7, dw=dw7, g=g7, o=o7,
            ih=ih7, iw=iw7)
_bn7 = gam[g7 * Og7 + o7] * bias6[g7 * Og7 + o7] + bet[g7 * Og7 + o7]

bn_fold_groups = General(
    "transposed.bn-fold-groups",
    "With groups, the output channels of group g are a slice of axis 1",
    "For all numbers of channels per group $C_g$ (input) and $O_g$ (output), input sizes $n_h \\times n_w$, "
    "kernel sizes $k_h \\times k_w$, strides $s_h, s_w$, dilations $d_h, d_w$ and paddings $p_h, p_w \\ge 0$: "
    "BatchNorm "
    "($y \\mapsto \\gamma y + \\beta$ per output channel) after a grouped transposed convolution with "
    "weight $w$ (shape $(C_{\\mathrm{in}}, C_{\\mathrm{out}}/g, k_h, k_w)$) and bias $b$ is the transposed "
    "convolution whose weight has row $g C_g + c$ (input channel $c$ of group $g$), column $o$ equal to "
    "$\\gamma_{g O_g + o}\\, w_{g C_g + c,o}$, and bias $\\gamma b + \\beta$: column $o$ of the rows of "
    "group $g$ is output channel $g O_g + o$, so the scale of the rows of group $g$ is the slice $g O_g, "
    "\\dots, g O_g + O_g - 1$ of $\\gamma$.",
    idea="Unfold the transposed convolution at output channel $o$ of group $g$: every term carries a "
         "weight $w_{g C_g + c,o,a_h,a_w}$ of a row of group $g$ and column $o$, which takes the factor "
         "$\\gamma_{g O_g + o}$.",
    lhs=gam[g7 * Og7 + o7] * T.conv_transpose2d(xw, ww, **_ct7) + _bn7,
    rhs=T.conv_transpose2d_per_group(xw, V7, **_ct7) + _bn7,
    lets=[V7_def],
    size_hypotheses=[sympy.Ge(ph7, 0), sympy.Ge(pw7, 0)],
    derivation=[
        Unfold("conv_transpose2d", ("c", "j_h", "j_w", "a_h", "a_w")),
        Name(V7_def, (g7, c7, o7, ah7, aw7)),
        Fold(T.conv_transpose2d_per_group(xw, V7, **_ct7), ("c", "j_h", "j_w", "a_h", "a_w")),
    ],
    instances=[dict(C_g=2, O_g=2, n_h=2, n_w=1, k_h=2, k_w=1, s_h=2, s_w=1, d_h=2, d_w=1, p_h=1, p_w=0, g=1)],
    check_source=_src("test_transposed_bn_fold_axis1_exact"),
)

bn_fold_axis0 = Refutation(
    "transposed.bn-fold-axis0",
    "Folding BatchNorm along axis 0 of a transposed weight is wrong",
    "Claim (false): BatchNorm's per-channel scale folds into axis 0 of the transposed weight, as it "
    "does for a convolution. Axis 0 of a transposed weight is the input channel; the shapes agree "
    "whenever $C_{\\mathrm{in}} = C_{\\mathrm{out}}$, so the bug passes shape checks.",
    lhs=lambda x, w, scale: CHECKS._bn_axis0_sides(x, w, scale)[0],
    rhs=lambda x, w, scale: CHECKS._bn_axis0_sides(x, w, scale)[1],
    witness=dict(x=_obj([1, 0], (1, 2, 1, 1)), w=_obj([0, 1, 0, 0], (2, 2, 1, 1)), scale=_obj([1, 2], (2,))),
    coordinates=lambda entry, **_: {"o": entry[1]},  # one pixel: the output channel o
    check_source=_src("_bn_axis0_sides"),
    witness_check=_retest("_bn_axis0_sides"),
)
