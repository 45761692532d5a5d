"""Transposed convolutions, second section: two in a row, a convolution after one, and BatchNorm
folded into one (along the weight's axis 1).  The family and the shared helpers are in
``_transposed.py``."""

from __future__ import annotations

import sympy
from _transposed import TRANSPOSED, _obj, _retest, output_position, source_of
from sympy import IndexedBase

from convsym.exact import ops
from convsym.exact import transposed as OT
from convsym.proof import General, Identity, Refutation, load_checks
from convsym.symbolic import opdefs_transposed as T
from convsym.symbolic.rules import Fold, Name, Unfold
from convsym.symbolic.sums import Let, SumExpr, index
from convsym.symbolic.symbols import sizes

CHECKS = load_checks(__file__)  # the emitted numeric checks: proofs/checks/transposed_merge.py
_src = source_of(CHECKS)

FAMILY = TRANSPOSED
SECTION = 2


# =============================================================================================
# 5. merging: two transposed convolutions, a convolution after a transposed one


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


merge_two = Identity(
    "transposed.merge-two",
    "Two transposed convolutions in a row are one",
    "With no padding and no bias in the first layer: two transposed convolutions in a row, the first "
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
    check_source=_src("_tt_kernel", "test_transposed_merge_two_exact"),
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


conv_after = Identity(
    "transposed.conv-after",
    "A convolution after a transposed convolution is a transposed convolution",
    "With no padding and no bias in the transposed layer and a stride-1 convolution with padding "
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
    check_source=_src("_ct_kernel", "test_transposed_conv_after_exact"),
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


Cg7, Og7, nh7, nw7, kh7, kw7, s7, d7 = sizes("C_g O_g n_h n_w k_h k_w s d")
ph7, pw7 = index("p_h p_w")
g7, o7, c7, ih7, iw7, ah7, aw7 = index("g o c i_h i_w a_h a_w")
V7 = IndexedBase("V")
V7_def = Let(V7, lambda gg, cc, oo, a_h, a_w: SumExpr.of(gam[gg * Og7 + oo] * ww[gg * Cg7 + cc, oo, a_h, a_w]))
_ct7 = dict(Cg=Cg7, nh=nh7, nw=nw7, kh=kh7, kw=kw7, sh=s7, sw=s7, ph=ph7, pw=pw7, dh=d7, dw=d7, g=g7, o=o7,
            ih=ih7, iw=iw7)
_bn7 = gam[g7 * Og7 + o7] * bias6[g7 * Og7 + o7] + bet[g7 * Og7 + o7]

bn_fold_groups = General(
    "transposed.bn-fold-groups",
    "With groups, the output channels of group g are a slice of axis 1",
    "For all numbers of channels per group $C_g$ (input) and $O_g$ (output), input sizes $n_h \\times n_w$, "
    "kernel sizes $k_h \\times k_w$, strides $s$, dilations $d$ and paddings $p_h, p_w \\ge 0$: BatchNorm "
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
    instances=[dict(C_g=2, O_g=2, n_h=2, n_w=1, k_h=2, k_w=1, s=2, d=2, p_h=1, p_w=0, g=1)],
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
