"""Biases and BatchNorm folded into a neighbouring convolution.

Section 1 of the folding chapter (see ``_chapters.py``).
"""

from __future__ import annotations

from _chapters import FOLDING
from _layers import _batchnorm, _hyper, _on_columns, _pad_with, _per_channel
from sympy import IndexedBase

from convsym.proof import (
    Distribute,
    Fold,
    General,
    Identity,
    Let,
    Name,
    SumExpr,
    Unfold,
    figures,
    index,
    load_checks,
    ops,
    sizes,
)
from convsym.proof import defs as D

FAMILY = FOLDING
SECTION = 1

checks = load_checks(__file__)  # the emitted numeric checks: proofs/checks/bias_bn.py

# =============================================================================================
# 1. biases: a constant map through a convolution

_c, _u, _v = index("c u v")


Cg, Og, kh, kw = sizes("C_g O_g k_h k_w")
g, o, i, j = index("g o i j")
c, u, v = _c, _u, _v
X, Wt, Hb = IndexedBase("x"), IndexedBase("w"), IndexedBase("h")
B1 = IndexedBase("b_1")

h_bias = Let(Hb, lambda mm, ii, jj: SumExpr.of(X[mm, ii, jj], B1[mm]))


bias_through_conv = General(
    "folding.bias-through-conv",
    "A bias through a convolution is a bias",
    "For all group sizes $C_g$ (input channels per group), $O_g$ (output channels per group), any "
    "number of groups and all kernel sizes: a convolution without padding of $x + b_1$ ($b_1$ added "
    "to every position of its channel) equals the convolution of $x$ plus the constant "
    "$\\sum_{c,u,v} w_{g O_g + o,c,u,v}\\, b_{1,g C_g + c}$: the bias is summed over the kernel's "
    "taps and its group's channels.",
    idea="Unfold the convolution of $x + b_1$ and distribute: the part with $x$ folds back into the "
         "convolution of $x$, and the part with $b_1$ does not depend on the position, so it folds "
         "into a constant bias.",
    lhs=D.conv2d_grouped(Hb, Wt, Cg, Og, kh, kw, g, o, i, j),
    rhs=D.conv2d_grouped(X, Wt, Cg, Og, kh, kw, g, o, i, j) + D.bias_through_grouped(Wt, B1, Cg, Og, kh, kw, g, o),
    lets=[h_bias],
    derivation=[
        Unfold("conv2d_grouped", ("c", "u", "v")),
        Unfold("h"),
        Distribute(),
        Fold(D.conv2d_grouped(X, Wt, Cg, Og, kh, kw, g, o, i, j), ("c", "u", "v")),
        Fold(D.bias_through_grouped(Wt, B1, Cg, Og, kh, kw, g, o), ("c", "u", "v")),
    ],
    instances=[{"C_g": 1, "O_g": 2, "k_h": 2, "k_w": 1}, {"C_g": 2, "O_g": 1, "k_h": 1, "k_w": 2}],
    check_source=(checks.test_folding_bias_through_conv_numeric, checks.test_folding_bias_through_conv_exact),
)


def _bias_inputs(C, O, k, n, **_):
    return {"x": (C, n, n), "w": (O, C, k, k), "b1": (C,)}


bias_padded = Identity(
    "folding.bias-padded",
    "Through zero padding a bias is not a constant",
    "Claim (false): $(x + b_1) \\star w$ with padding $p$ equals $x \\star w$ with padding $p$ plus "
    "$(\\Sigma w)\\, b_1$. The zero ring is added after the bias, so windows that overlap it see "
    "fewer copies of $b_1$.",
    expected="refuted",
    inputs=_bias_inputs,
    lhs=lambda T, p, **_: ops.conv2d(T["x"] + _per_channel(T["b1"]), T["w"], padding=p),
    rhs=lambda T, p, **_: ops.add_bias(ops.conv2d(T["x"], T["w"], padding=p), ops.merge_bias(T["w"], T["b1"])),
    family=[dict(C=1, O=1, k=1, n=1, p=1)],
    witness_check=checks._confirm_bias_pad_witness,
    check_source=(checks.test_folding_bias_padded_ring_numeric, checks._confirm_bias_pad_witness),
)

# =============================================================================================
# 2. BatchNorm after a convolution

C = sizes("C")[0]
gam, rr, mu, bet, bb = (IndexedBase(n) for n in (r"\gamma", "r", r"\mu", r"\beta", "b"))
Wf = IndexedBase("w'")
W_after = Let(Wf, lambda oo, cc, uu, vv: SumExpr.of(gam[oo] * rr[oo] * Wt[oo, cc, uu, vv]))
R_HYP = r"In BatchNorm $r_o = 1/\sqrt{\sigma^2_o + \epsilon}$; the identity holds for every $r_o$."


def _bn_fold_figure(fields):
    """BatchNorm folding per output channel, with the folded numbers of a small example computed by
    convsym.transforms.fold_batchnorm in exact arithmetic."""
    from fractions import Fraction

    import numpy as np

    from convsym.transforms import BatchNorm2d, Conv2d, fold_batchnorm

    def arr(values):
        return np.array([Fraction(v) for v in values], dtype=object)

    w = np.array([[[[Fraction(2)]]], [[[Fraction(3)]]]], dtype=object)
    mean, var, gamma, beta, bias = arr([1, 2]), arr([3, 8]), arr([4, 6]), arr([7, 9]), arr([1, 5])
    folded = fold_batchnorm(Conv2d(w, bias), BatchNorm2d(mean, var, gamma, beta, eps=Fraction(1)))
    rows = []
    for o_ in range(2):
        rows.append((f"channel $o = {o_}$", 0, [
            ("in", f"w_{{{o_},c,u,v}}"), ("op", r"$\times$"), ("hi", f"\\gamma_{o_} r_{o_}"), ("op", "$=$"),
            ("out", f"w'_{{{o_},c,u,v}}"), None,
            ("in", f"b_{o_}"), ("op", r"$\mapsto$"), ("out", f"b'_{o_}"),
        ]))
    tikz = figures.strip_rows(rows, key=[("in", "convolution"), ("hi", "BatchNorm scale"),
                                         ("out", "folded layer")], cell=1.15)
    ws = ", ".join(str(v) for v in folded.weight.ravel())
    bs = ", ".join(str(v) for v in folded.bias)
    caption = ("BatchNorm after a convolution, folded: output channel $o$ of the kernel (all its "
               "$c, u, v$) is multiplied by the scale $\\gamma_o r_o$ with $r_o = 1/\\sqrt{\\sigma^2_o + "
               "\\epsilon}$, and the shift goes into the bias, $b'_o = \\gamma_o r_o (b_o - \\mu_o) + "
               "\\beta_o$. Example ($1 \\times 1$ kernels $w = (2, 3)$, $b = (1, 5)$, $\\mu = (1, 2)$, "
               "$\\sigma^2 = (3, 8)$, $\\epsilon = 1$, $\\gamma = (4, 6)$, $\\beta = (7, 9)$, folded exactly): "
               f"$w' = ({ws})$, $b' = ({bs})$.")
    return tikz, caption


bn_after = General(
    "folding.bn-after-conv",
    "BatchNorm after a convolution folds into it",
    "For all channel counts and kernel sizes: BatchNorm of $x \\star w + b$ equals $x \\star w' + "
    "b'$ with $w'_o = \\gamma_o r_o w_o$ and $b'_o = \\gamma_o r_o (b_o - \\mu_o) + "
    "\\beta_o$, $r_o = 1/\\sqrt{\\sigma^2_o + \\epsilon}$. The identity is linear in $r$, "
    "so no property of the square root is used; $\\epsilon > 0$ and $\\sigma^2 \\ge 0$ only make "
    "$r$ exist. With padding, stride, dilation and groups: folding.bn-after-conv-exact.",
    idea="Unfold BatchNorm and the convolution and distribute the scale $\\gamma_o r_o$ over "
         "the sum: it lands on each weight of output channel $o$, and the constants collect into "
         "the new bias.",
    lhs=gam[o] * rr[o] * (D.conv2d(X, Wt, C, kh, kw, o, i, j) + bb[o] - mu[o]) + bet[o],
    rhs=D.conv2d(X, Wf, C, kh, kw, o, i, j) + gam[o] * rr[o] * (bb[o] - mu[o]) + bet[o],
    lets=[W_after],
    derivation=[
        Unfold("conv2d", ("c", "u", "v")),
        Name(W_after, (o, c, u, v)),
        Fold(D.conv2d(X, Wf, C, kh, kw, o, i, j), ("c", "u", "v")),
    ],
    remarks=(R_HYP,),
    instances=[{"C": 1, "k_h": 2, "k_w": 1}, {"C": 2, "k_h": 1, "k_w": 2}],
    check_source=(checks.test_folding_bn_after_conv_numeric, checks.test_folding_bn_after_conv_exact),
    figure=_bn_fold_figure,
)


def _conv_bn_inputs(C, O, k, n, groups=1, **_):
    return {"x": (C, n, n), "w": (O, C // groups, k, k), "b": (O,),
            "mu": (O,), "gamma": (O,), "r": (O,), "beta": (O,)}


def _conv_then_bn(T, **sz):
    """BatchNorm after the convolution"""
    y = ops.conv2d(T["x"], T["w"], T["b"], **_hyper(**sz))
    return _batchnorm(y, T["mu"], T["gamma"], T["r"], T["beta"])


def _folded_after(T, **sz):
    """the convolution with BatchNorm folded in"""
    a = T["gamma"] * T["r"]
    w = T["w"] * a.reshape((a.shape[0], 1, 1, 1))
    return ops.conv2d(T["x"], w, (T["b"] - T["mu"]) * a + T["beta"], **_hyper(**sz))


bn_after_exact = Identity(
    "folding.bn-after-conv-exact",
    "BatchNorm after a convolution: padding, stride, dilation, groups",
    "For kernel sizes 1..3, stride and dilation in {1, 2}, zero padding in {0, 2} and groups in {1, 2}: "
    "bn(conv(x)) and the folded conv are identical polynomials in every input, weight, bias and BatchNorm "
    "entry (r symbolic). BatchNorm acts on the output, so the border is no exception.",
    inputs=_conv_bn_inputs,
    lhs=_conv_then_bn,
    rhs=_folded_after,
    family=[dict(C=2, O=2, k=k, n=4, s=s, p=p, d=d, groups=gr)
            for k in (1, 2, 3) for s in (1, 2) for d in (1, 2) for p in (0, 2) for gr in (1, 2)
            if d * (k - 1) + 1 <= 4 + 2 * p],
    check_source=checks.test_folding_bn_after_conv_exact_strided_grouped,
)

# =============================================================================================
# 3. BatchNorm before a convolution

Zb, Wb, Mb = IndexedBase("z"), IndexedBase(r"\hat{w}"), IndexedBase("m")
z_before = Let(Zb, lambda cc, ii, jj: SumExpr.of(gam[cc] * rr[cc] * X[cc, ii, jj], -gam[cc] * rr[cc] * mu[cc], bet[cc]))
W_before = Let(Wb, lambda oo, cc, uu, vv: SumExpr.of(Wt[oo, cc, uu, vv] * gam[cc] * rr[cc]))
m_before = Let(Mb, lambda cc: SumExpr.of(gam[cc] * rr[cc] * mu[cc]))


bn_before = General(
    "folding.bn-before-conv",
    "BatchNorm before a convolution without padding folds into it",
    "For all channel counts and kernel sizes, without padding: the convolution of BatchNorm of $x$ "
    "with $w$, plus $b$, equals $x \\star w' + b'$ with $w'_{o,c} = w_{o,c}\\, \\gamma_c r_c$ "
    "(the input channel's scale) and $b'_o = b_o + \\sum_{c,u,v} w_{o,c,u,v} (\\beta_c - \\gamma_c "
    "r_c \\mu_c)$ (the last two terms of the right side: a bias through the convolution). "
    "Strides, dilation and groups: folding.bn-before-conv-exact.",
    idea="Unfold BatchNorm inside the convolution and distribute: the scale $\\gamma_c r_c$ "
         "goes onto the weights of input channel $c$, and the shift, constant over positions, "
         "passes through the convolution as a bias.",
    lhs=D.conv2d(Zb, Wt, C, kh, kw, o, i, j) + bb[o],
    rhs=D.conv2d(X, Wb, C, kh, kw, o, i, j) + bb[o] + D.bias_through(Wt, bet, C, kh, kw, o)
    - D.bias_through(Wt, Mb, C, kh, kw, o),
    lets=[z_before, W_before, m_before],
    derivation=[
        Unfold("conv2d", ("c", "u", "v")),
        Unfold("z"),
        Distribute(),
        Name(m_before, (c,)),
        Name(W_before, (o, c, u, v)),
        Fold(D.conv2d(X, Wb, C, kh, kw, o, i, j), ("c", "u", "v")),
        Fold(D.bias_through(Wt, bet, C, kh, kw, o), ("c", "u", "v")),
        Fold(D.bias_through(Wt, Mb, C, kh, kw, o), ("c", "u", "v")),
    ],
    remarks=(R_HYP.replace("_o", "_c"),),
    instances=[{"C": 1, "k_h": 2, "k_w": 1}, {"C": 2, "k_h": 1, "k_w": 2}],
    check_source=(checks._bn_before_fold, checks.test_folding_bn_before_conv_numeric),
)


def _bn_conv_inputs(C, O, k, n, groups=1, **_):
    return {"x": (C, n, n), "w": (O, C // groups, k, k), "b": (O,),
            "mu": (C,), "gamma": (C,), "r": (C,), "beta": (C,)}


def _bn_then_conv(T, **sz):
    """the convolution after BatchNorm"""
    return ops.conv2d(_batchnorm(T["x"], T["mu"], T["gamma"], T["r"], T["beta"]), T["w"], T["b"], **_hyper(**sz))


def _folded_before_parts(T, groups=1, **_):
    a = T["gamma"] * T["r"]
    shift = T["beta"] - a * T["mu"]
    O, C = T["w"].shape[0], T["x"].shape[0]
    w = T["w"] * _on_columns(a, O, C, groups)
    b = T["b"] + (T["w"] * _on_columns(shift, O, C, groups)).sum((1, 2, 3))
    return w, b


def _folded_before(T, **sz):
    """the convolution with BatchNorm folded in"""
    w, b = _folded_before_parts(T, **sz)
    return ops.conv2d(T["x"], w, b, **_hyper(**sz))


bn_before_exact = Identity(
    "folding.bn-before-conv-exact",
    "BatchNorm before a convolution: stride, dilation, groups",
    "Without padding, for kernel sizes 1..3, stride and dilation in {1, 2} and groups in {1, 2}: "
    "conv(bn(x)) equals the folded conv (w' scaled per input channel, b' = b + sum w (beta - gamma r mu)) "
    "as polynomials in every entry.",
    inputs=_bn_conv_inputs,
    lhs=_bn_then_conv,
    rhs=_folded_before,
    family=[dict(C=2, O=2, k=k, n=5, s=s, d=d, groups=gr)
            for k in (1, 2, 3) for s in (1, 2) for d in (1, 2) for gr in (1, 2)],
    check_source=checks.test_folding_bn_before_conv_exact_strided_grouped,
)


bn_before_padded = Identity(
    "folding.bn-before-padded",
    "BatchNorm before a zero-padded convolution does not fold",
    "Claim (false): with zero padding p the folded conv (padded by p) equals conv(bn(x)). The conv pads "
    "bn(x) with 0; the folded conv pads x with 0, which is bn(x) padded with bn(0) = beta - gamma r mu.",
    expected="refuted",
    inputs=_bn_conv_inputs,
    lhs=_bn_then_conv,
    rhs=_folded_before,
    family=[dict(C=1, O=1, k=1, n=1, p=1)],
    witness_check=checks._confirm_bn_pad_witness,
    check_source=(checks.test_folding_bn_before_padded_ring_numeric, checks._confirm_bn_pad_witness),
)


def _repair_inputs(C, O, k, n, groups=1, **_):
    return {"x": (C, n, n), "w": (O, C // groups, k, k), "b": (O,),
            "mu": (C,), "gamma": (C,), "r": (C,), "q": (C,)}


def _repair_beta(T):
    """beta eliminated: bn(q) = 0 means beta = (mu - q) gamma r (the padding value q is what BN maps to 0)."""
    T = dict(T)
    T["beta"] = (T["mu"] - T["q"]) * T["gamma"] * T["r"]
    return T


def _repair_lhs(T, **sz):
    """the zero-padded convolution after BatchNorm"""
    return _bn_then_conv(_repair_beta(T), **sz)


def _repair_rhs(T, p=0, **sz):
    """the folded convolution of x padded with q"""
    T = _repair_beta(T)
    w, b = _folded_before_parts(T, **sz)
    return ops.conv2d(_pad_with(T["x"], T["q"], p), w, b, **_hyper(p=0, **sz))


bn_before_repair = Identity(
    "folding.bn-before-repair",
    "The exact repair: pad the input with the value BatchNorm maps to 0",
    "With zero padding $p$: the convolution of BatchNorm of $x$ with padding $p$ equals the folded "
    "convolution without padding applied to $x$ padded by $p$ with $q_c$, where $q_c$ is the value "
    "BatchNorm maps to 0 ($q = \\mu - \\beta/(\\gamma r)$ when $\\gamma \\ne 0$). Proved as "
    "polynomials after eliminating $\\beta = (\\mu - q) \\gamma r$, for kernel sizes 1 to 3, $p "
    "\\in \\{1, 2\\}$, stride in $\\{1, 2\\}$ and groups in $\\{1, 2\\}$. A channel with $\\gamma = "
    "0$ and $\\beta \\ne 0$ has no such $q$ (BatchNorm is a nonzero constant there).",
    inputs=_repair_inputs,
    lhs=_repair_lhs,
    rhs=_repair_rhs,
    family=[dict(C=2, O=2, k=k, n=3, p=p, s=s, groups=gr)
            for k in (1, 2, 3) for p in (1, 2) for s in (1, 2) for gr in (1, 2)],
    notes=("With $q = 0$ ($\\beta = \\gamma r \\mu$, e.g. $\\mu = \\beta = 0$) BatchNorm maps 0 to 0 and the "
           "zero-padded fold is exact: the fold then returns a padded convolution.",),
    check_source=checks.test_folding_bn_before_repair_numeric,
)
