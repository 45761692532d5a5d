"""Bias absorption (DFQ).

Section 4 of the folding chapter (see ``_chapters.py``).
"""

from __future__ import annotations

from fractions import Fraction

import bias_bn  # the lemma folding.bias-through-conv (section 1)
import numpy as np
import z3
from _chapters import FOLDING
from _layers import _witnessed

from convsym import reference as ref
from convsym.proof import (
    Checked,
    Proof,
    load_checks,
)

FAMILY = FOLDING
SECTION = 4

checks = load_checks(__file__)  # the emitted numeric checks: proofs/checks/absorption.py

# =============================================================================================
# 6. bias absorption (DFQ)


def derive_absorb_condition(P: Proof) -> None:
    zz, cc = z3.Reals("z c")

    def relu(e):
        return z3.If(e >= 0, e, 0)

    formula = z3.ForAll([zz, cc], (relu(zz - cc) + cc == relu(zz)) == z3.Or(cc == 0, zz >= z3.If(cc >= 0, cc, 0)))
    P.real_valid("when $\\mathrm{relu}(z - c) + c = \\mathrm{relu}(z)$ holds, as a statement over all real "
                 "$z$ and $c$", formula,
                 r"\mathrm{relu}(z - c) + c = \mathrm{relu}(z) \iff c = 0 \lor z \ge \max(c, 0)")
    P.lemma("the constant $-c$ through layer 2 (no padding) is the bias $-(\\Sigma w_2)\\, "
            "c$", bias_bn.bias_through_conv,
            r"w_2 \star (\mathrm{relu}(z) - c) = w_2 \star \mathrm{relu}(z) - (\Sigma w_2)\, c")


absorb_condition = Checked(
    "folding.absorb-condition",
    "Bias absorption across ReLU: exactly when the pre-activation stays above c",
    "Moving $c_i$ from layer 1's bias into layer 2 ($b'_1 = b_1 - c$, $b'_2 = b_2 + (\\Sigma "
    "w_{2,\\cdot,i})\\, c_i$, no padding in layer 2) is exact at a position when $\\mathrm{relu}(z "
    "- c) + c = \\mathrm{relu}(z)$ for the pre-activation $z$ there, which holds iff $c = 0$ or $z "
    "\\ge \\max(c, 0)$; for DFQ's $c \\ge 0$: iff $z \\ge c$. If every pre-activation of channel "
    "$i$ (at every position layer 2 reads) meets it, the network is unchanged: layer 2 then sees "
    "$\\mathrm{relu}(z) - c$, and a constant through a convolution without padding is the bias "
    "$(\\Sigma w_2)\\, c$ (folding.bias-through-conv).",
    idea="Decide for all reals $z, c$ when $\\mathrm{relu}(z - c) + c = \\mathrm{relu}(z)$; where "
         "it holds, the moved constant passes through layer 2 as a bias "
         "(folding.bias-through-conv).",
    derive=derive_absorb_condition,
    check_source=checks.test_folding_absorb_condition_numeric,
)


def _absorb_witness(x, w1, c, w2_size, padding):
    def build():
        X1 = np.array([[[[Fraction(x)]]]], dtype=object)
        W1 = np.array([[[[Fraction(w1)]]]], dtype=object)
        W2 = np.ones((1, 1, w2_size, w2_size), dtype=object)
        cc = np.array([Fraction(c)], dtype=object)
        zero = np.array([Fraction(0)], dtype=object)
        relu = np.frompyfunc(lambda t: max(t, Fraction(0)), 1, 1)
        lhs = ref.conv2d(relu(ref.conv2d(X1, W1, zero)), W2, zero, padding=padding)[0, 0, 0, 0]
        b2 = W2.sum(axis=(2, 3)).dot(cc)
        rhs = ref.conv2d(relu(ref.conv2d(X1, W1, zero - cc)), W2, b2, padding=padding)[0, 0, 0, 0]
        return {
            "lhs": lhs, "rhs": rhs, "where": "y_{0,0,0,0}",
            "description": (f"one channel, one pixel: $x = {x}$, $w_1 = {w1}$, $b_1 = 0$, $c_i = {c}$, $w_2$ the "
                            f"${w2_size} \\times {w2_size}$ kernel of ones, $b_2 = 0$, layer 2 padded by ${padding}$: "
                            f"the pre-activation is ${Fraction(x) * Fraction(w1)}$."),
            "assignment": [("x", Fraction(x)), ("w1", Fraction(w1)), ("c_i", Fraction(c)), ("w2", W2[0, 0])],
            "data": {"x": str(x), "w1": str(w1), "c": str(c), "k2": w2_size, "p2": padding,
                     "lhs": str(lhs), "rhs": str(rhs)},
        }
    return build


absorb_below = _witnessed(
    "folding.absorb-below-threshold",
    "Bias absorption is wrong where the pre-activation is below c",
    "Claim (false): absorbing $c > 0$ across the ReLU is exact for every input. Where $0 < z < c$ "
    "(or $z \\le 0$) the ReLU clips $z - c$ at 0 and the added $c$ is not removed.",
    build=_absorb_witness(1, 1, 2, 1, 0),
    witness_check=checks._confirm_absorb_witness,
    check_source=checks._confirm_absorb_witness,
)
absorb_padded = _witnessed(
    "folding.absorb-padded",
    "Bias absorption is wrong on the border when layer 2 pads",
    "Claim (false): if every pre-activation is $\\ge c$, absorption is exact even when layer 2 "
    "zero-pads. The zero ring is not $\\mathrm{relu}(z) - c = -c$ shifted, so windows over it "
    "receive $(\\Sigma w_2)\\, c$ but lose less.",
    build=_absorb_witness(3, 1, 1, 3, 1),
    witness_check=checks._confirm_absorb_witness,
)
