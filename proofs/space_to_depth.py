"""Space-to-depth: a convolution on the pixel-unshuffled map.

Section 4 of the equivalences chapter (see ``_chapters.py``).
"""

from __future__ import annotations

import numpy as np
import sympy
from _chapters import EQUIVALENCES
from sympy import IndexedBase

from convsym.exact import rewrites as E
from convsym.proof import (
    Checked,
    Fold,
    General,
    GroupBy,
    Identity,
    Let,
    Name,
    Proof,
    Reorder,
    SumExpr,
    Unfold,
    figures,
    index,
    load_checks,
    ops,
    sizes,
)
from convsym.proof import defs as D

FAMILY = EQUIVALENCES
SECTION = 4

checks = load_checks(__file__)  # the emitted numeric checks: proofs/checks/space_to_depth.py

# symbols shared with the other sections (equal symbols: same name, same assumptions)
o, c, i, j = index("o c i j")
u, v, n = index("u v n")

# =============================================================================================
# 6. space-to-depth

Cf, K_s, S_s = sizes("r K S")
Yb, Wb, Xb, Wp = IndexedBase("y"), IndexedBase("w"), IndexedBase("z"), IndexedBase("w'")
aa, bb, th, tw = index("a b t_h t_w")


X_unsh = Let(Xb, lambda a1, b1, p1, q1: SumExpr.of(Yb[Cf * p1 + a1, Cf * q1 + b1]))
Wp_let = Let(Wp, lambda o_, p1, q1: SumExpr.of(D.s2d_kernel(Wb, Cf, K_s, o_, p1, q1)))


def _s2d_figure(fields):
    """The weight map drawn from :func:`convsym.transforms.reshape.unshuffled_conv_to_conv` itself: each
    weight of the K x K kernel of channel c carries the code 1 + c K^2 + u K + v, and the codes
    are read back off the CK x CK kernel the transform returns."""
    from convsym.transforms import Conv2d
    from convsym.transforms.reshape import unshuffled_conv_to_conv

    cr, kk = 2, 3
    codes = np.arange(1, cr * cr * kk * kk + 1, dtype=np.int64).astype(object).reshape(1, cr * cr, kk, kk)
    big = unshuffled_conv_to_conv(Conv2d(codes), cr).weight
    if big.shape != (1, 1, cr * kk, cr * kk):
        raise ValueError(f"_s2d_figure: the transform gave a weight of shape {big.shape}")
    merged = []
    for row in big[0, 0]:
        cells = []
        for code in row:
            ch, rest = divmod(int(code) - 1, kk * kk)
            cells.append((ch, f"{rest // kk}{rest % kk}"))
        merged.append(cells)
    sources = [[[f"{uu}{vv}" for vv in range(kk)] for uu in range(kk)] for _ in range(cr * cr)]
    titles = [f"$c = {ch}$\\\\$(a, b) = ({ch // cr}, {ch % cr})$" for ch in range(cr * cr)]
    tikz = figures.weight_map(sources, merged, titles, r"$w'_{ru+a,\,rv+b} = w_{ar+b,\,u,v}$")
    caption = (
        f"The weight map of space-to-depth for $r = {cr}$, $K = {kk}$: the ${cr * cr}$ channel kernels of size "
        f"${kk} \\times {kk}$ (left, a colour per channel $c = ar + b$, each weight labelled $uv$) and the "
        f"${cr * kk} \\times {cr * kk}$ kernel of the stride-$rS$ convolution (right), as the rewrite builds it: "
        f"weight $(u, v)$ of channel $ar + b$ lands at row $ru + a$, column $rv + b$."
    )
    return tikz, caption


space_to_depth = General(
    "equivalences.space-to-depth",
    "A convolution on the pixel-unshuffled map is a strided convolution on the map",
    "For all $r, K, S$: a $K \\times K$, stride-$S$ convolution of the $r^2 \\times H \\times W$ "
    "map $y$ unshuffled by $r$ equals the $rK \\times rK$, stride-$rS$ convolution of the $1 \\times "
    "rH \\times rW$ map $y$ with $w'_{o,0,ru + a,rv + b} = w_{o,ar + b,u,v}$, which is "
    "$\\mathrm{PS}_r(w)$. Padding $P$ becomes $rP$ and $D$ input channels stay $D$ (exact check "
    "below).",
    idea="Each weight $w_{o,ar+b,u,v}$ of the small convolution meets the input pixel at offset "
         "$(ru + a, rv + b)$: group the terms by these two offsets $t_h, t_w$; the group of each "
         "offset is one weight of $w'$.",
    lhs=D.conv_unshuffled(Xb, Wb, Cf, K_s, S_s, o, i, j),
    rhs=D.conv_strided(Yb, Wp, Cf * K_s, Cf * S_s, o, i, j),
    lets=[X_unsh, Wp_let],
    derivation=[
        Unfold("conv_unshuffled", ("a", "b", "u", "v")),
        Unfold("z"),
        GroupBy(
            "t_h", Cf * u + aa, 0, Cf * K_s - 1,
            Wb[o, aa, bb, u, v] * Yb[Cf * S_s * i + th, Cf * (S_s * j + v) + bb], ("a", "b", "u", "v")),
        GroupBy(
            "t_w", Cf * v + bb, 0, Cf * K_s - 1,
            Wb[o, aa, bb, u, v] * Yb[Cf * S_s * i + th, Cf * S_s * j + tw], ("t_h", "a", "b", "u", "v")),
        Fold(D.s2d_kernel(Wb, Cf, K_s, o, th, tw), ("a", "b", "u", "v")),
        Name(Wp_let, (o, th, tw)),
        Reorder([("t_h", 0, Cf * K_s - 1), ("t_w", 0, Cf * K_s - 1)]),
        Fold(D.conv_strided(Yb, Wp, Cf * K_s, Cf * S_s, o, i, j), ("t_h", "t_w")),
    ],
    instances=[{"r": 2, "K": 1, "S": 2}, {"r": 1, "K": 2, "S": 1}],
    figure=_s2d_figure,
    check_source=checks.test_space_to_depth_one_channel_exact,
)


def _s2d_inputs(r, D, K, n, **_):
    return {"y": (D, r * n, r * n), "w": (2, D * r * r, K, K), "b": (2,)}


def _s2d_lhs(T, r, K, S, P, **_):
    """the convolution of the pixel unshuffle of y"""
    return ops.conv2d(E.pixel_unshuffle(T["y"], r), T["w"], T["b"], stride=S, padding=P)


def _s2d_rhs(T, r, K, S, P, **_):
    """the strided convolution of y with the pixel shuffle of w"""
    return ops.conv2d(T["y"], E.pixel_shuffle(T["w"], r), T["b"], stride=r * S, padding=r * P)


space_to_depth_exact = Identity(
    "equivalences.space-to-depth-exact",
    "Exact check of space-to-depth with padding and several channels",
    "For $r \\in \\{2, 3\\}$, $K \\le 3$, $S \\le 2$, $P \\le 1$ and $D \\in \\{1, 2\\}$ input "
    "channels: the convolution of the pixel unshuffle of $y$ (factor $r$) with $w$, $b$, stride $S$ and padding $P$ "
    "equals the convolution of $y$ with $\\mathrm{PS}_r(w)$, $b$, stride $rS$ and padding $rP$, as "
    "identical polynomials, where $\\mathrm{PS}_r(w)_{o,d,ru + a,rv + b} = w_{o,dr^2 + ar + "
    "b,u,v}$.",
    inputs=_s2d_inputs,
    lhs=_s2d_lhs,
    rhs=_s2d_rhs,
    family=[dict(r=cr, D=dd, K=kk, S=ss, P=pp, n=kk + ss)
            for cr in (2, 3) for kk in (1, 2, 3) for ss in (1, 2) for pp in (0, 1) for dd in (1, 2)
            if not (cr == 3 and dd == 2 and kk == 3)],
    check_source=checks.test_space_to_depth_numeric,
)


Hh, Ww, Pp, Oo, Dd = sizes("H W P O D")


def derive_s2d_cost(P: Proof) -> None:
    out_small = sympy.floor((Hh + 2 * Pp - K_s) / S_s) + 1
    out_big = sympy.floor((Cf * Hh + 2 * Cf * Pp - Cf * K_s) / (Cf * S_s)) + 1
    P.equal("the output height $H_{out}$ of both convolutions (the argument of the floor cancels $r$)",
            out_big, out_small)
    P.equal("weights of both sides", Oo * Dd * Cf**2 * K_s**2, Oo * Dd * (Cf * K_s) ** 2)
    P.equal("multiply-accumulates of both sides", Oo * Dd * Cf**2 * K_s**2 * out_small**2,
            Oo * Dd * (Cf * K_s) ** 2 * out_big**2)
    P.cross_check("256 = 16^2 channels and a 3 x 3 kernel are a 48 x 48 kernel at stride 16",
                  [dict(r=16, K=3)], lambda r, K: r * r * K * K, lambda r, K: 48 * 48)


space_to_depth_cost = Checked(
    "equivalences.space-to-depth-cost",
    "Both sides of space-to-depth cost the same",
    "For all sizes: the two convolutions of equivalences.space-to-depth have the same output size, "
    "the same number of weights $O D r^2 K^2 = O D (rK)^2$ and the same multiply-accumulates. A $48 "
    "\\times 48$ convolution at stride 16 on a $1 \\times 16H \\times 16W$ map is the ordinary "
    "256-channel $3 \\times 3$ convolution rewritten: $48^2 = 256 \\cdot 9$ multiply-accumulates "
    "per output in both, and its output is $H \\times W$. The big kernel is not a larger receptive "
    "field: a $48 \\times 48$ window of the shuffled map holds exactly the $3 \\times 3 \\times "
    "256$ values of the original window.",
    idea="Write out both output sizes, weight counts and multiply-accumulate counts; the factor $r$ "
         "cancels inside the floor of the output size, and the rest is algebra.",
    derive=derive_s2d_cost,
    check_source=checks.test_space_to_depth_costs_equal,
)


def _conv_of_the_unshuffled_map(T, r, **_):
    """the convolution of the unshuffled map"""
    return ops.conv2d(E.pixel_unshuffle(T["y"], r), T["w"])


def _strided_conv_by_the_recipe(T, r, K, variant, **_):
    """the strided convolution by the recipe"""
    y = T["y"]
    if variant == "literal":  # conv_weight = pixelshuffle(f_map): the (shuffled) feature map y becomes the weight
        weight = y.reshape((1,) + y.shape)
    else:  # sub-pixel order transposed: channel b C + a instead of a C + b
        w = T["w"]
        weight = E.pixel_shuffle(w.reshape((w.shape[0], 1, r, r, K, K)).transpose(0, 1, 3, 2, 4, 5)
                                 .reshape(w.shape), r)
    return ops.conv2d(y, weight, stride=r)


space_to_depth_literal = Identity(
    "equivalences.space-to-depth-literal",
    "Shuffling the feature map into the weight is wrong",
    'Claim (false): the recipe "shuffle the feature map by $r$; take as convolution weight the '
    'pixel shuffle of the feature map; convolve the map at stride $r$" computes the convolution of '
    "the unshuffled map. As written, the second shuffle gets the already shuffled 1-channel map and "
    "fails ($r^2$ does not divide 1); read as shuffling the original map, the weight is the input "
    "$y$ itself and the result is quadratic in the input (refuted below, with the map the size of "
    "the kernel); the layer it calls was built before from the unshuffled $r^2$-channel weight, "
    "which does not even accept the 1-channel map. The intended recipe, the pixel shuffle of the "
    "weight, is right (equivalences.space-to-depth-exact).",
    expected="refuted",
    inputs=lambda r, K, **_: {"y": (1, r * K, r * K), "w": (1, r * r, K, K)},
    lhs=_conv_of_the_unshuffled_map,
    rhs=_strided_conv_by_the_recipe,
    family=[dict(r=2, K=1, variant="literal")],
    witness_check=checks._confirm_s2d_witness,
    check_source=checks._confirm_s2d_witness,
)

space_to_depth_transposed = Identity(
    "equivalences.space-to-depth-transposed-order",
    "The sub-pixel order matters: channel $ar+b$, not $br+a$",
    "Claim (false): $w'_{o,0,ru + a,rv + b} = w_{o,br + a,u,v}$ (rows and columns of the sub-pixel "
    "grid swapped) also works.",
    expected="refuted",
    inputs=lambda r, K, **_: {"y": (1, r * K, r * K), "w": (1, r * r, K, K)},
    lhs=_conv_of_the_unshuffled_map,
    rhs=_strided_conv_by_the_recipe,
    family=[dict(r=2, K=1, variant="transposed")],
    witness_check=checks._confirm_s2d_witness,
)
