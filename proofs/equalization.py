"""Cross-layer equalization (DFQ): scaling lemmas, activations, the equalizing scale.

Section 3 of the folding chapter (see ``_chapters.py``).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import sympy
import z3
from _chapters import FOLDING
from _layers import _hyper, _on_columns, _per_channel, _witnessed
from sympy import IndexedBase

from convsym import reference as ref
from convsym.proof import (
    Checked,
    Fold,
    General,
    Identity,
    Let,
    Name,
    Proof,
    ProofError,
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
SECTION = 3

checks = load_checks(__file__)  # the emitted numeric checks: proofs/checks/equalization.py

c, u, v = index("c u v")

# symbols shared with the other sections (equal symbols: same name, same assumptions)
C = sizes("C")[0]
X, Wt, Hb = IndexedBase("x"), IndexedBase("w"), IndexedBase("h")
gam, rr, mu, bet, bb = (IndexedBase(n) for n in (r"\gamma", "r", r"\mu", r"\beta", "b"))
g, o, i, j = index("g o i j")
Cg, Og, kh, kw = sizes("C_g O_g k_h k_w")

# =============================================================================================
# 5. cross-layer equalization (DFQ)
# 5a. the two linear lemmas, for all sizes

tt, ss = IndexedBase("t"), IndexedBase("s")
U, V, Wt2 = IndexedBase("u"), IndexedBase("y"), IndexedBase(r"\tilde{w}")
W_out = Let(Wt2, lambda oo, cc, uu, vv: SumExpr.of(tt[oo] * Wt[oo, cc, uu, vv]))
W_in = Let(Wt2, lambda oo, cc, uu, vv: SumExpr.of(Wt[oo, cc, uu, vv] * ss[cc]))
y_in = Let(V, lambda cc, ii, jj: SumExpr.of(ss[cc] * U[cc, ii, jj]))


def _scale_out_inputs(C, O, k, n, groups=1, **_):
    return {"x": (C, n, n), "w": (O, C // groups, k, k), "b": (O,), "t": (O,)}


# a list, so that the cross-check is not collected as a theorem of its own
_SCALE_OUT_EXACT = [Identity(
    "folding.cle-scale-out-exact",
    "Scaling output channels: padding, stride, dilation, groups",
    "$x \\star (t w) + t b = t\\,(x \\star w + b)$ per output channel, exactly, with padding, "
    "stride, dilation, groups.",
    inputs=_scale_out_inputs,
    lhs=lambda T, **sz: ops.conv2d(T["x"], T["w"] * T["t"].reshape((T["t"].shape[0], 1, 1, 1)),
                                   T["b"] * T["t"], **_hyper(**sz)),
    rhs=lambda T, **sz: ops.conv2d(T["x"], T["w"], T["b"], **_hyper(**sz)) * _per_channel(T["t"]),
    family=[dict(C=2, O=2, k=k, n=4, s=s, p=p, groups=gr) for k in (1, 3) for s in (1, 2) for p in (0, 1)
            for gr in (1, 2)],
)]

scale_out = General(
    "folding.cle-scale-out",
    "Scaling an output channel of a conv scales that channel of its output",
    "For all channel counts and kernel sizes: $x \\star \\tilde w + t_o b_o = t_o (x \\star w + "
    "b_o)$ where $\\tilde w_o = t_o w_o$. In equalization $t_o = 1/s_o$. Cross-checked with "
    "padding, strides, dilation and groups.",
    idea="Unfold the convolution and factor the scale $t_o$ out of the sum over channels and taps: "
         "it is the same for every term of output channel $o$.",
    lhs=D.conv2d(X, Wt2, C, kh, kw, o, i, j) + tt[o] * bb[o],
    rhs=tt[o] * (D.conv2d(X, Wt, C, kh, kw, o, i, j) + bb[o]),
    lets=[W_out],
    derivation=[
        Unfold("conv2d", ("c", "u", "v")),
        Unfold(r"\tilde{w}"),
        Fold(D.conv2d(X, Wt, C, kh, kw, o, i, j), ("c", "u", "v")),
    ],
    instances=[{"C": 1, "k_h": 2, "k_w": 1}, {"C": 2, "k_h": 1, "k_w": 2}],
    cross_checks=_SCALE_OUT_EXACT,
    check_source=checks.test_cle_scale_out_exact,
)


def _scale_in_inputs(C, O, k, n, groups=1, **_):
    return {"u": (C, n, n), "w": (O, C // groups, k, k), "s": (C,)}


_SCALE_IN_EXACT = [Identity(
    "folding.cle-scale-in-exact",
    "Scaling input channels: padding, stride, dilation, groups",
    "$u \\star (w s) = (s u) \\star w$ exactly, with zero padding ($s \\cdot 0 = 0$), stride, "
    "dilation and groups (weight column $c$ of output $o$ carries the scale of the input channel it "
    "reads).",
    inputs=_scale_in_inputs,
    lhs=lambda T, groups=1, **sz: ops.conv2d(
        T["u"], T["w"] * _on_columns(T["s"], T["w"].shape[0], T["u"].shape[0], groups), **_hyper(groups=groups, **sz)),
    rhs=lambda T, **sz: ops.conv2d(T["u"] * _per_channel(T["s"]), T["w"], **_hyper(**sz)),
    family=[dict(C=2, O=o_, k=k, n=4, s=s, p=p, groups=gr) for k in (1, 3) for s in (1, 2) for p in (0, 1)
            for gr in (1, 2) for o_ in (2, 4)],
)]

scale_in = General(
    "folding.cle-scale-in",
    "Scaling an input channel's weights is scaling that input channel",
    "For all channel counts and kernel sizes: $u \\star \\tilde w = y \\star w$ where $\\tilde "
    "w_{o,c} = w_{o,c}\\, s_c$ and $y_c = s_c u_c$. Cross-checked with padding, strides, dilation "
    "and groups (depthwise included).",
    idea="Unfold both convolutions: each term reads input channel $c$ once, so the scale $s_c$ "
         "moves between the weight and the input term by term.",
    lhs=D.conv2d(U, Wt2, C, kh, kw, o, i, j),
    rhs=D.conv2d(V, Wt, C, kh, kw, o, i, j),
    lets=[W_in, y_in],
    derivation=[
        Unfold("conv2d", ("c", "u", "v")),
        Unfold(r"\tilde{w}"),
        Name(y_in, (c, i + u, j + v)),
        Fold(D.conv2d(V, Wt, C, kh, kw, o, i, j), ("c", "u", "v")),
    ],
    instances=[{"C": 1, "k_h": 2, "k_w": 1}, {"C": 2, "k_h": 1, "k_w": 2}],
    cross_checks=_SCALE_IN_EXACT,
    check_source=checks.test_cle_scale_in_exact,
)

# ---------------------------------------------------------------------------------------------
# 5b. exact arguments that are not polynomial identities

# ---------------------------------------------------------------------------------------------
# 5c. activations: positive homogeneity (proved) and its failures (refuted)

s_pos = sympy.Symbol("s", positive=True)
z_nonneg = sympy.Symbol("z", nonnegative=True)
z_neg = sympy.Symbol("z", negative=True)
slope = sympy.Symbol("alpha", real=True)
slope_i = sympy.Symbol("alpha_i", real=True)

ACTIVATIONS = {
    "relu": (lambda z: sympy.Max(z, 0), r"\max(z, 0)"),
    "leaky_relu": (lambda z: sympy.Piecewise((z, z >= 0), (slope * z, True)),
                   r"z \text{ if } z \ge 0 \text{ else } \alpha z"),
    "prelu": (lambda z: sympy.Piecewise((z, z >= 0), (slope_i * z, True)),
              r"z \text{ if } z \ge 0 \text{ else } \alpha_i z \text{ (slope of channel } i)"),
    "identity": (lambda z: z, "z"),
}

CLE_CHAIN = (
    r"w_2 \star f\!\left(\tfrac{1}{s} \odot (w_1 \star x + b_1)\right) \cdot s"
    r" = w_2 \star f(w_1 \star x + b_1)"
)




def _cle_derivation(name: str):
    f, tex = ACTIVATIONS[name]
    z, w = sympy.Symbol("z", real=True), sympy.Symbol("w", real=True)

    def derive(P: Proof) -> None:
        homogeneity = f(s_pos * z) - s_pos * f(z)
        if homogeneity == 0:  # a linear f: no cases needed
            P.zero(f"$f(z) = {tex}$ is positively homogeneous", homogeneity,
                   shown=rf"f(s z) = s f(z) \quad (s > 0),\ f(z) = {tex}")
        else:
            P.cases(f"$f(z) = {tex}$ is positively homogeneous: checked on each sign of $z$", homogeneity, z,
                    rf"f(s z) = s f(z) \quad (s > 0),\ f(z) = {tex}")
        P.lemma("first layer: output channel $i$ (weights and bias) divided by $s_i$ divides channel $i$ of its output",
                scale_out, r"\tilde{w}_1 \star x + \tilde{b}_1 = \tfrac{1}{s} \odot (w_1 \star x + b_1)")
        P.lemma("second layer: input channel $i$'s weights multiplied by $s_i$ multiply input channel $i$ by $s_i$",
                scale_in, r"(w_2 \odot s) \star u = w_2 \star (s \odot u)")
        undo = w * s_pos * f(z / s_pos) - w * f(z)
        text = ("so each weight $w$ of layer 2 that reads channel $i$, multiplied by $s_i$, undoes the scale through "
                "$f$: $(w s_i)\\, f(h_i / s_i) = w f(h_i)$ for every pre-activation $h_i$")
        shown = r"(w s_i)\, f\!\left(\tfrac{h_i}{s_i}\right) = w f(h_i)"
        if undo == 0:
            P.zero(text, undo, shown=shown)
        else:
            P.cases(text, undo, z, shown)

    return derive


def _cle_theorem(name: str, check) -> Checked:
    fn = name.replace("_", "-")
    return Checked(
        f"folding.cle-{fn}",
        f"Cross-layer equalization is exact through {name.replace('_', ' ')}",
        f"For every $s_i > 0$: dividing output channel $i$ of layer 1 (weights and bias) by $s_i$ and multiplying "
        f"the weights of layer 2 that read channel $i$ by $s_i$ leaves layer 2 after {name.replace('_', ' ')} after "
        f"layer 1 unchanged, because {name.replace('_', ' ')} is positively homogeneous: $f(s z) = s f(z)$ for $s > 0$"
        + (" (PReLU: the slope $\\alpha_i$ belongs to channel $i$, as $s_i$ does)." if name == "prelu" else ".")
        + " It holds per intermediate channel $i$, whatever the kernel sizes, paddings, strides and output "
        "channel counts of the two layers: only layer 1's output channel $i$ and layer 2's input channel $i$ are "
        "touched (layers with different numbers of kernels equalize; what is balanced are the "
        "$C_{\\mathrm{mid}}$ channels between them, $r_{1,i}$ over the kernel $i$ of layer 1 and $r_{2,i}$ over "
        "the weights of layer 2 that read channel $i$).",
        derive=_cle_derivation(name),
        check_source=check,
        idea="Layer 1 scaled by $1/s_i$ gives $z/s_i$ in channel $i$; the activation passes the factor through "
        "($f(z/s_i) = f(z)/s_i$ for $s_i > 0$, decided for all reals), and layer 2 scaled by $s_i$ takes it "
        "back (folding.cle-scale-out, folding.cle-scale-in).",
    )


cle_relu = _cle_theorem("relu", (checks._cle_rescaling_is_exact, checks.test_folding_cle_relu_numeric))
cle_leaky = _cle_theorem("leaky_relu", checks.test_folding_cle_leaky_relu_numeric)
cle_prelu = _cle_theorem("prelu", checks.test_folding_cle_prelu_numeric)
cle_identity = _cle_theorem("identity", checks.test_folding_cle_identity_numeric)


def _exact_activation(name):
    if name == "relu":
        return lambda z: max(z, Fraction(0))
    if name == "relu6":
        return lambda z: min(max(z, Fraction(0)), Fraction(6))
    if name == "hardswish":
        return lambda z: z * min(max(z + 3, Fraction(0)), Fraction(6)) / 6

    def sigmoid(z):
        value = 1 / (1 + sympy.exp(-sympy.Rational(z.numerator, z.denominator)))
        if not value.is_Rational:
            raise ProofError(f"sigmoid({z}) = {value} is not rational; pick another witness")
        return Fraction(int(value.p), int(value.q))

    return sigmoid


#: the activations of the witnesses as the book names them
_ACTIVATION_NAMES = {"relu": r"$\mathrm{ReLU}$", "relu6": r"$\mathrm{ReLU6}$", "hardswish": "hard-swish",
                     "sigmoid": "the sigmoid"}


def _tex(value) -> str:
    """An exact number as LaTeX: ``1/2`` as ``\\frac{1}{2}``."""
    value = Fraction(value)
    return sympy.latex(sympy.Rational(value.numerator, value.denominator))


def _scaling_witness(activation, w1, w2, x, scale=None):
    """Layer 1: 1x1 conv, weight w1, no bias; layer 2: 1x1 conv, weight w2; one pixel x."""
    def build():
        f = _exact_activation(activation)
        W1 = np.array([[[[Fraction(w1)]]]], dtype=object)
        W2 = np.array([[[[Fraction(w2)]]]], dtype=object)
        xx = np.array([[[[Fraction(x)]]]], dtype=object)
        if scale is None:
            r1, r2 = abs(Fraction(w1)), abs(Fraction(w2))
            root = sympy.sqrt(sympy.Rational(r1 * r2))
            if not root.is_Rational:
                raise ProofError(f"sqrt(r1 r2) = {root} is irrational; pick another witness")
            s = Fraction(int(root.p), int(root.q)) / r2
        else:
            s = Fraction(scale)
        act = np.frompyfunc(f, 1, 1)
        lhs = ref.conv2d(act(ref.conv2d(xx, W1)), W2)[0, 0, 0, 0]
        rhs = ref.conv2d(act(ref.conv2d(xx, W1 / s)), W2 * s)[0, 0, 0, 0]
        how = "the DFQ scale $s = \\sqrt{r_1 r_2}/r_2" if scale is None else "the scale $s"
        name = _ACTIVATION_NAMES.get(activation, activation)
        return {
            "lhs": lhs, "rhs": rhs, "where": "y_{0,0,0,0}",
            "description": (f"one channel, $1 \\times 1$ kernels, one pixel: $w_1 = {_tex(w1)}$, $w_2 = {_tex(w2)}$, "
                            f"$x = {_tex(x)}$, {how} = {_tex(s)}$; the two layers with {name} between them give "
                            f"${_tex(lhs)}$, the scaled layers ${_tex(rhs)}$."),
            "assignment": [("w1", Fraction(w1)), ("w2", Fraction(w2)), ("x", Fraction(x)), ("s", s)],
            "data": {"activation": activation, "w1": str(w1), "w2": str(w2), "x": str(x), "s": str(s),
                     "lhs": str(lhs), "rhs": str(rhs)},
        }
    return build


cle_relu6 = _witnessed(
    "folding.cle-relu6",
    "Equalization is not exact through ReLU6",
    "Claim (false): equalization with the DFQ scales leaves layer 2 after ReLU6 after layer 1 "
    "unchanged. ReLU6 clips at 6, so $\\mathrm{relu6}(z/s)\\, s \\ne \\mathrm{relu6}(z)$ once $z/s$ "
    "or $z$ exceeds 6: it is not positively homogeneous.",
    build=_scaling_witness("relu6", 4, 1, 2),
    witness_check=checks._confirm_scaling_witness,
    check_source=(checks.test_folding_cle_not_homogeneous_numeric, checks._confirm_scaling_witness),
)
cle_hardswish = _witnessed(
    "folding.cle-hardswish",
    "Equalization is not exact through hard-swish",
    "Claim (false): equalization leaves layer 2 after hard-swish after layer 1 unchanged; hard-swish, "
    "$z\\, \\mathrm{relu6}(z+3)/6$, is quadratic on $[-3, 3]$.",
    build=_scaling_witness("hardswish", 4, 1, Fraction(1, 2)),
    witness_check=checks._confirm_scaling_witness,
)
cle_sigmoid = _witnessed(
    "folding.cle-sigmoid",
    "Equalization is not exact through the sigmoid",
    "Claim (false): equalization leaves layer 2 after the sigmoid after layer 1 unchanged. At a zero "
    "pre-activation the sigmoid is exactly 1/2 before and after scaling, so the second layer's factor $s_i$ is "
    "not undone.",
    build=_scaling_witness("sigmoid", 4, 1, 0),
    witness_check=checks._confirm_scaling_witness,
)
cle_negative = _witnessed(
    "folding.cle-relu-negative-scale",
    "Equalization through ReLU needs $s_i > 0$",
    "Claim (false): the rescaling is exact through ReLU for every nonzero $s_i$. For $s_i < 0$ the "
    "sign flips before the ReLU: $\\mathrm{relu}(-z)\\,(-1) \\ne \\mathrm{relu}(z)$.",
    build=_scaling_witness("relu", 1, 1, 1, scale=-1),
    witness_check=checks._confirm_scaling_witness,
)

# ---------------------------------------------------------------------------------------------
# 5d. the equalizing scale and in what sense it is optimal

r1s, r2s = sympy.symbols("r_1 r_2", positive=True)
S_DFQ = sympy.sqrt(r1s * r2s) / r2s


def _max_scales_formula():
    a_, x_, y_ = z3.Reals("a x y")

    def zabs(e):
        return z3.If(e >= 0, e, -e)

    def zmax(p, q):
        return z3.If(p >= q, p, q)

    scaled = zmax(zabs(a_ * x_), zabs(a_ * y_))
    return z3.ForAll([a_, x_, y_], z3.Implies(a_ > 0, scaled == a_ * zmax(zabs(x_), zabs(y_))))


def derive_equalized_ranges(P: Proof) -> None:
    P.positive("$s$ is positive for positive ranges (so equalization is exact through ReLU)", S_DFQ,
               r"s = \frac{\sqrt{r_1 r_2}}{r_2} > 0")
    P.real_valid("a positive factor leaves the arg-max in place: $\\max(|a x|, |a y|) = a \\max(|x|, |y|)$ for "
                 "$a > 0$, so $\\max_j |a w_j| = a \\max_j |w_j|$ (a maximum over more entries is an iterated maximum)",
                 _max_scales_formula(), r"\max_j |a w_j| = a \max_j |w_j| \quad (a > 0)", (r"a > 0",))
    P.zero("range of layer 1: $r'_1 = \\max |w_{1,i} / s| = r_1 / s = \\sqrt{r_1 "
           "r_2}$", r1s / S_DFQ - sympy.sqrt(r1s * r2s),
           shown=r"\frac{r_1}{s} = \sqrt{r_1 r_2}")
    P.zero("range of layer 2: $r'_2 = \\max |w_{2,\\cdot,i}\\, s| = r_2 s = \\sqrt{r_1 "
           "r_2}$", r2s * S_DFQ - sympy.sqrt(r1s * r2s),
           shown=r"r_2 s = \sqrt{r_1 r_2}")


def _ranges(w1, w2) -> tuple[list, list]:
    """Per intermediate channel i: r1_i = max |w1[i]| and r2_i = max |w2[:, i]|."""
    r1 = [np.abs(w1[i]).max() for i in range(w1.shape[0])]
    r2 = [np.abs(w2[:, i]).max() for i in range(w2.shape[1])]
    return r1, r2


def _equalization_figure(fields):
    """Ranges before and after :func:`convsym.transforms.equalize` on fixed small integer weights
    (exact: every r1_i r2_i is a square, so every scale is rational)."""
    from convsym.transforms import Conv2d, equalize

    w1 = np.array([[[[4, -1]], [[2, 0]]], [[[1, 0]], [[-1, 1]]], [[[-9, 3]], [[6, 0]]], [[[2, -2]], [[1, 1]]]],
                  dtype=object)
    w2 = np.array([[1, 2, 0, -8], [-1, -4, 1, 3], [0, 1, 1, 5]], dtype=object).reshape(3, 4, 1, 1)
    first, second, scales = equalize(Conv2d(w1), Conv2d(w2), activation="relu")
    before, after = _ranges(w1, w2), _ranges(first.weight, second.weight)
    top = max(max(before[0]), max(before[1]))
    channels = [f"$i = {i}$" for i in range(w1.shape[0])]
    tikz = figures.side_by_side(
        figures.grouped_bars(list(zip(*before, strict=True)), [r"$r_{1,i}$", r"$r_{2,i}$"], channels,
                             "before", unit=0.25, top=top),
        figures.grouped_bars(list(zip(*after, strict=True)), [r"$r_{1,i}/s_i$", r"$r_{2,i} s_i$"], channels,
                             "after", unit=0.25, top=top),
    )
    shown = ", ".join(figures.exact_label(Fraction(x)) for x in scales)
    caption = (
        "Per-channel weight ranges of two layers before and after cross-layer equalization, "
        "computed by the library's equalization on small integer weights (layer 1: 4 output "
        "channels of $2 \\times 1 \\times 2$ weights; layer 2: $3 \\times 4 \\times 1 \\times 1$). "
        f"The scales are $s = ({shown})$; afterwards both ranges of "
        "channel $i$ are $\\sqrt{r_{1,i} r_{2,i}}$."
    )
    return tikz, caption


equalized_ranges = Checked(
    "folding.cle-equalized-ranges",
    "The DFQ scale makes both ranges $\\sqrt{r_1 r_2}$",
    "With $r_{1,i} > 0$ the largest absolute weight of output channel $i$ of the first layer and "
    "$r_{2,i} > 0$ the largest absolute weight of the second layer that reads channel $i$ (the two "
    "layers may have any kernel sizes and output channel counts), $s_i = \\sqrt{r_{1,i} "
    "r_{2,i}}/r_{2,i}$ is positive and after equalization the ranges are $r_{1,i}/s_i = r_{2,i} s_i "
    "= \\sqrt{r_{1,i} r_{2,i}}$. Channels with $r_{1,i} = 0$ or $r_{2,i} = 0$ keep $s_i = 1$ (any "
    "positive $s_i$ is exact there; nothing is balanced).",
    idea="Scaling a channel by $s > 0$ scales its largest absolute weight by $s$; substitute the "
         "DFQ scale and simplify both ranges to $\\sqrt{r_{1,i} r_{2,i}}$.",
    derive=derive_equalized_ranges,
    figure=_equalization_figure,
    check_source=checks.test_folding_cle_equalized_ranges_numeric,
)


def derive_optimal(P: Proof) -> None:
    s_, c1 = sympy.symbols("s c_1", positive=True)
    a1, b1, R1s, R2s = sympy.symbols("a b R_1 R_2", positive=True)
    R1, R2, p1, p2, q1, q2 = z3.Reals("R1 R2 p1 p2 q1 q2")
    lower = z3.ForAll([R1, R2, p1, p2], z3.Implies(z3.And(p1 > 0, p2 > 0, R1 >= p1, R2 >= p2), R1 * R2 >= p1 * p2))
    zmax = z3.If(q1 >= q2, q1, q2)
    zmax_sq = z3.If(q1 * q1 >= q2 * q2, q1 * q1, q2 * q2)
    monotone = z3.ForAll([q1, q2], z3.Implies(z3.And(q1 > 0, q2 > 0), zmax * zmax == zmax_sq))
    P.zero("the product of the two ranges of a channel does not depend on $s_i$", r1s / s_ * (r2s * s_) - r1s * r2s,
           shown=r"\frac{r_{1,i}}{s_i}\, r_{2,i} s_i = r_{1,i} r_{2,i} =: c_i")
    P.zero("each term of DFQ's objective $\\sum_i p_{1,i} p_{2,i}$, with precisions $p_{k,i} = "
           "r'_{k,i}/R'_k$, is the channel's invariant over $R'_1 R'_2$, so maximising the (finite) "
           "sum is minimising $R'_1 R'_2$",
           (a1 / R1s) * (b1 / R2s) - (a1 * b1) / (R1s * R2s),
           shown=r"\frac{r'_{1,i}}{R'_1}\frac{r'_{2,i}}{R'_2} = \frac{c_i}{R'_1 R'_2}")
    P.real_valid("for every choice of $s > 0$ and every channel $i$: $R'_1 R'_2 \\ge r'_{1,i} "
                 "r'_{2,i} = c_i$, so $R'_1 R'_2 \\ge \\max_i "
                 "c_i$", lower, r"R'_1 R'_2 \ge \max_i c_i", (r"R'_k \ge r'_{k,i} > 0",))
    P.real_valid("the equalized scales give $r'_{1,i} = r'_{2,i} = \\sqrt{c_i}$, so $R'_1 = R'_2 = \\max_i "
                 "\\sqrt{c_i}$, and $(\\max_i \\sqrt{c_i})^2 = \\max_i c_i$: $\\max(q_1, q_2)^2 = \\max(q_1^2, "
                 "q_2^2)$ for $q_1, q_2 > 0$", monotone,
                 r"\left(\max_i \sqrt{c_i}\right)^2 = \max_i c_i")
    P.zero("with $q_i = \\sqrt{c_i}$", sympy.sqrt(c1) ** 2 - c1, shown=r"\sqrt{c_i}^{\,2} = c_i")


equalized_optimal = Checked(
    "folding.cle-optimal",
    "The equalized scales maximise DFQ's precision objective",
    "Let $r'_{1,i} = r_{1,i}/s_i$ and $r'_{2,i} = r_{2,i} s_i$ be the ranges after scaling, $R'_k = "
    "\\max_i r'_{k,i}$ and $p_{k,i} = r'_{k,i}/R'_k$ (the precision of channel $i$ in layer $k$ "
    "under per-tensor quantization). Over all $s > 0$, $\\sum_i p_{1,i} p_{2,i}$ is at most "
    "$\\sum_i c_i / \\max_i c_i$ with $c_i = r_{1,i} r_{2,i}$, and $s_i = \\sqrt{r_{1,i} "
    "r_{2,i}}/r_{2,i}$ attains it. The maximiser is not unique: any $s$ with $\\max_i r_{1,i}/s_i$ "
    "times $\\max_i r_{2,i} s_i$ equal to $\\max_i c_i$ is optimal too; the equalized one is the "
    "one with equal per-channel ranges $r'_{1,i} = r'_{2,i}$.",
    idea="Each channel's product of ranges $c_i = r_{1,i} r_{2,i}$ does not depend on $s$, so the "
         "objective is at most $\\sum_i c_i$ over the largest $c_i$; the equalized scales make the "
         "largest ranges meet that bound.",
    derive=derive_optimal,
    remarks=(r"The ranges $r_{1,i}, r_{2,i}$ and the scales $s_i$ are positive (declared so in the proof).",),
    check_source=checks.test_folding_cle_optimal_numeric,
)

# ---------------------------------------------------------------------------------------------
# 5e. chains: iterate to a fixed point (numeric)


def _iterate_chain():
    from convsym.transforms import Conv2d
    from convsym.transforms.equalize import equalize

    rng = np.random.default_rng(58)
    layers = [
        Conv2d(rng.standard_normal((6, 3, 3, 3)) * np.exp(rng.standard_normal((6, 1, 1, 1))), rng.standard_normal(6),
               padding=1),
        Conv2d(rng.standard_normal((6, 1, 3, 3)) * np.exp(rng.standard_normal((6, 1, 1, 1))), rng.standard_normal(6),
               padding=1, groups=6),
        Conv2d(rng.standard_normal((4, 6, 1, 1)), rng.standard_normal(4)),
    ]
    x = rng.standard_normal((2, 3, 8, 8))

    def run(ls):
        h = x
        for n, layer in enumerate(ls):
            h = layer(h)
            if n < len(ls) - 1:
                h = np.maximum(h, 0)
        return h

    before = run(layers)
    sweeps, largest = 0, float("inf")
    while largest >= 1e-12:
        if sweeps == 500:
            raise ProofError(f"no fixed point after {sweeps} sweeps (last max |log s| = {largest:.3g})")
        sweeps, largest = sweeps + 1, 0.0
        for k in range(len(layers) - 1):
            layers[k], layers[k + 1], s = equalize(layers[k], layers[k + 1], "relu")
            largest = max(largest, float(np.abs(np.log(s)).max()))
    after = run(layers)
    error = float(np.abs(after - before).max() / np.abs(before).max())
    if error > 1e-10:
        raise ProofError(f"the equalized chain changed the output by {error:.3g} (relative)")
    return sweeps, largest, error  # error <= 1e-10 was checked above


def derive_iterated(P: Proof) -> None:
    def observe() -> str:
        sweeps, _, error = _iterate_chain()
        return (f"fixed point after {sweeps} sweeps (every |log s_i| < 1e-12); the output is unchanged to "
                f"{error:.1e} relative (float64)")

    P.lemma("each equalization of a pair is exact through ReLU", cle_relu, r"\text{folding.cle-relu}")
    P.numeric("equalize layer pairs (1, 2), (2, 3) in sweeps until every scale is 1 to $10^{-12}$ "
              "(float64, fixed random weights): convergence is observed, not "
              "proved", observe, r"\max_i |\log s_i| < 10^{-12}")


iterated = Checked(
    "folding.cle-iterated",
    "Chains of layers: iterated equalization reaches a fixed point (numeric)",
    "For a conv - depthwise conv - conv chain with ReLUs, repeatedly equalizing adjacent pairs converges: the "
    "scales tend to 1, at which point the middle layer's input and output ranges are balanced with both "
    "neighbours, and the network output is unchanged throughout (each step is exact, by folding.cle-relu). "
    "The convergence is observed in float64, not proved.",
    expected="observed",
    idea="Each sweep equalizes every adjacent pair exactly (folding.cle-relu), so the network's "
         "function never changes; the scales are iterated in floating point until they stop "
         "moving.",
    derive=derive_iterated,
    check_source=checks.test_folding_cle_iterated_fixed_point_numeric,
)
