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
u, v, r, n = index("u v r n")

# =============================================================================================
# 6. space-to-depth (seed 003)

Cf, K_s, S_s = sizes("C K S")
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
    tikz = figures.weight_map(sources, merged, titles, r"$w'_{Cu+a,\,Cv+b} = w_{aC+b,\,u,v}$")
    caption = (
        f"The weight map of space-to-depth for $C = {cr}$, $K = {kk}$: the ${cr * cr}$ channel kernels of size "
        f"${kk} \\times {kk}$ (left, a colour per channel $c = aC + b$, each weight labelled $uv$) and the "
        f"${cr * kk} \\times {cr * kk}$ kernel of the stride-$CS$ convolution (right) as "
        f"the space-to-depth weight transform builds it: weight $(u, v)$ of channel $aC + b$ "
        f"lands at row $Cu + a$, column $Cv + b$."
    )
    return tikz, caption


space_to_depth = General(
    "equivalences.space-to-depth",
    "A convolution on the pixel-unshuffled map is a strided convolution on the map",
    "For all C, K, S: a K x K, stride-S conv of the C^2 x H x W map pixel_unshuffle(y, C) equals the CK x CK, "
    "stride-CS conv of the 1 x CH x CW map y with w'[o, 0, Cu + a, Cv + b] = w[o, aC + b, u, v], which is "
    "pixel_shuffle(w, C). Padding P becomes CP and D input channels stay D (exact check below).",
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
    instances=[{"C": 2, "K": 1, "S": 2}, {"C": 1, "K": 2, "S": 1}],
    figure=_s2d_figure,
    check_source=checks.test_space_to_depth_one_channel_exact,
)


def _s2d_inputs(cr, dd, kk, n, **_):
    return {"y": (dd, cr * n, cr * n), "w": (2, dd * cr * cr, kk, kk), "b": (2,)}


def _s2d_lhs(T, cr, kk, ss, pp, **_):
    return ops.conv2d(E.pixel_unshuffle(T["y"], cr), T["w"], T["b"], stride=ss, padding=pp)


def _s2d_rhs(T, cr, kk, ss, pp, **_):
    return ops.conv2d(T["y"], E.pixel_shuffle(T["w"], cr), T["b"], stride=cr * ss, padding=cr * pp)


space_to_depth_exact = Identity(
    "equivalences.space-to-depth-exact",
    "Exact check of space-to-depth with padding and several channels",
    "For C in {2, 3}, K <= 3, S <= 2, P <= 1 and D in {1, 2} input channels: conv2d(pixel_unshuffle(y, C), w, b, "
    "stride S, padding P) == conv2d(y, pixel_shuffle(w, C), b, stride CS, padding CP), as identical polynomials; "
    "pixel_shuffle(w, C)[o, d, Cu + a, Cv + b] = w[o, dC^2 + aC + b, u, v].",
    inputs=_s2d_inputs,
    lhs=_s2d_lhs,
    rhs=_s2d_rhs,
    family=[dict(cr=cr, dd=dd, kk=kk, ss=ss, pp=pp, n=kk + ss)
            for cr in (2, 3) for kk in (1, 2, 3) for ss in (1, 2) for pp in (0, 1) for dd in (1, 2)
            if not (cr == 3 and dd == 2 and kk == 3)],
    check_source=checks.test_space_to_depth_numeric,
)


Hh, Ww, Pp, Oo, Dd = sizes("H W P O D")


def derive_s2d_cost(P: Proof) -> None:
    out_small = sympy.floor((Hh + 2 * Pp - K_s) / S_s) + 1
    out_big = sympy.floor((Cf * Hh + 2 * Cf * Pp - Cf * K_s) / (Cf * S_s)) + 1
    P.equal("H_out of both convolutions (the argument of the floor cancels C)", out_big, out_small)
    P.equal("weights of both sides", Oo * Dd * Cf**2 * K_s**2, Oo * Dd * (Cf * K_s) ** 2)
    P.equal("multiply-accumulates of both sides", Oo * Dd * Cf**2 * K_s**2 * out_small**2,
            Oo * Dd * (Cf * K_s) ** 2 * out_big**2)
    P.cross_check("256 = 16^2 channels and a 3 x 3 kernel are a 48 x 48 kernel at stride 16",
                  [dict(C=16, K=3)], lambda C, K: C * C * K * K, lambda C, K: 48 * 48)


space_to_depth_cost = Checked(
    "equivalences.space-to-depth-cost",
    "Both sides of space-to-depth cost the same",
    "For all sizes: the two convolutions of equivalences.space-to-depth have the same output size, the same "
    "number of weights O D C^2 K^2 = O D (CK)^2 and the same MACs. The seed's 'HUUUGE 48x48 conv' on a "
    "1 x 16H x 16W map is the ordinary 256-channel 3x3 conv rewritten: 48^2 = 256 * 9 MACs per output in both, "
    "and it runs at stride 16, so its output is H x W. The big kernel is not a larger receptive field: a 48 x 48 "
    "window of the shuffled map holds exactly the 3 x 3 x 256 values of the original window.",
    derive=derive_s2d_cost,
    check_source=checks.test_space_to_depth_costs_equal,
)


def _s2d_seed_rhs(T, cr, kk, variant, **_):
    y = T["y"]
    if variant == "literal":  # conv_weight = pixelshuffle(f_map): the (shuffled) feature map y becomes the weight
        weight = y.reshape((1,) + y.shape)
    else:  # sub-pixel order transposed: channel b C + a instead of a C + b
        w = T["w"]
        weight = E.pixel_shuffle(w.reshape((w.shape[0], 1, cr, cr, kk, kk)).transpose(0, 1, 3, 2, 4, 5)
                                 .reshape(w.shape), cr)
    return ops.conv2d(y, weight, stride=cr)


space_to_depth_literal = Identity(
    "equivalences.space-to-depth-seed-literal",
    "The seed's literal recipe is wrong: it shuffles the feature map into the weight",
    "Claim (false): the seed's code 'f_map = pixelshuffle(f_map, C); conv_weight = pixelshuffle(f_map, C); "
    "conv(f_map, stride=C)' computes case 1. As written, the second pixelshuffle gets the already shuffled 1-channel "
    "map and fails (C^2 does not divide 1); read as shuffling the original map, the 'weight' is the input y itself "
    "and the result is quadratic in the input (refuted below, with the map the size of the kernel); "
    "the layer it calls was built before from the unshuffled "
    "C^2-channel weight, which does not even accept the 1-channel map. The intended recipe, pixel_shuffle of the "
    "weight, is right (equivalences.space-to-depth-exact).",
    expected="refuted",
    inputs=lambda cr, kk, **_: {"y": (1, cr * kk, cr * kk), "w": (1, cr * cr, kk, kk)},
    lhs=lambda T, cr, **_: ops.conv2d(E.pixel_unshuffle(T["y"], cr), T["w"]),
    rhs=_s2d_seed_rhs,
    family=[dict(cr=2, kk=1, variant="literal")],
    witness_check=checks._confirm_s2d_witness,
    check_source=checks._confirm_s2d_witness,
)

space_to_depth_transposed = Identity(
    "equivalences.space-to-depth-transposed-order",
    "The sub-pixel order matters: channel $aC+b$, not $bC+a$",
    "Claim (false): w'[o, 0, Cu + a, Cv + b] = w[o, bC + a, u, v] (rows and columns of the sub-pixel grid "
    "swapped) also works.",
    expected="refuted",
    inputs=lambda cr, kk, **_: {"y": (1, cr * kk, cr * kk), "w": (1, cr * cr, kk, kk)},
    lhs=lambda T, cr, **_: ops.conv2d(E.pixel_unshuffle(T["y"], cr), T["w"]),
    rhs=_s2d_seed_rhs,
    family=[dict(cr=2, kk=1, variant="transposed")],
    witness_check=checks._confirm_s2d_witness,
)
