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
)

FAMILY = FOLDING
SECTION = 4

# =============================================================================================
# 6. bias absorption (DFQ)


def derive_absorb_condition(P: Proof) -> None:
    zz, cc = z3.Reals("z c")

    def relu(e):
        return z3.If(e >= 0, e, 0)

    formula = z3.ForAll([zz, cc], (relu(zz - cc) + cc == relu(zz)) == z3.Or(cc == 0, zz >= z3.If(cc >= 0, cc, 0)))
    P.real_valid("relu(z - c) + c = relu(z) as a statement over all real z, c", formula,
                 r"\mathrm{relu}(z - c) + c = \mathrm{relu}(z) \iff c = 0 \lor z \ge \max(c, 0)")
    P.lemma("the constant -c through layer 2 (no padding) is the bias -sum(w2) c", bias_bn.bias_through_conv,
            r"w_2 \star (\mathrm{relu}(z) - c) = w_2 \star \mathrm{relu}(z) - (\Sigma w_2)\, c")


absorb_condition = Checked(
    "folding.absorb-condition",
    "Bias absorption across ReLU: exactly when the pre-activation stays above c",
    "Moving c_i from layer 1's bias into layer 2 (b1' = b1 - c, b2' = b2 + sum(w2[:, i]) c_i, no padding in "
    "layer 2) is exact at a position when relu(z - c) + c = relu(z) for the pre-activation z there, which holds "
    "iff c = 0 or z >= max(c, 0); for DFQ's c >= 0: iff z >= c. If every pre-activation of channel i (at every "
    "position layer 2 reads) meets it, the network is unchanged: layer 2 then sees relu(z) - c, and a constant "
    "through a convolution without padding is the bias sum(w2) c (folding.bias-through-conv).",
    derive=derive_absorb_condition,
    check_source="""
def test_folding_absorb_condition_numeric():
    rng = np.random.default_rng(60)
    x = rng.standard_normal((2, 3, 8, 8))
    w1, b1 = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4) + 20.0   # pre-activations well above c
    w2, b2 = rng.standard_normal((5, 4, 3, 3)), rng.standard_normal(5)
    z = ref.conv2d(x, w1, b1)
    c = np.maximum(z.min(axis=(0, 2, 3)) - 1.0, 0.0)
    assert (z >= c[None, :, None, None]).all()
    lhs = ref.conv2d(np.maximum(z, 0), w2, b2)
    rhs = ref.conv2d(np.maximum(ref.conv2d(x, w1, b1 - c), 0), w2, b2 + w2.sum(axis=(2, 3)).dot(c))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-9)
""",
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
            "description": (f"one channel, one pixel x = {x}, w1 = {w1}, b1 = 0, c = {c}, "
                            f"w2 = ones({w2_size}x{w2_size}), b2 = 0, layer 2 padding {padding}: the pre-activation "
                            f"is {Fraction(x) * Fraction(w1)}."),
            "assignment": [("x", Fraction(x)), ("w^{(1)}", Fraction(w1)), ("c", Fraction(c)),
                           (rf"w^{{(2)}} \text{{ (every entry, {w2_size}x{w2_size})}}", 1)],
            "data": {"x": str(x), "w1": str(w1), "c": str(c), "k2": w2_size, "p2": padding,
                     "lhs": str(lhs), "rhs": str(rhs)},
        }
    return build


ABSORB_WITNESS_HELPER = """
def _confirm_absorb_witness(witness):
    # the absorbed network against the original, exactly, at the witness
    x, w1, c = (Fraction(witness[k]) for k in ("x", "w1", "c"))
    k2, p2 = witness["k2"], witness["p2"]
    X1, W1 = np.full((1, 1, 1, 1), x, dtype=object), np.full((1, 1, 1, 1), w1, dtype=object)
    W2, cc = np.ones((1, 1, k2, k2), dtype=object), np.array([c], dtype=object)
    lhs = ref.conv2d(np.maximum(ref.conv2d(X1, W1), 0), W2, padding=p2)[0, 0, 0, 0]
    rhs = ref.conv2d(np.maximum(ref.conv2d(X1, W1, -cc), 0), W2, W2.sum(axis=(2, 3)).dot(cc), padding=p2)[0, 0, 0, 0]
    assert lhs == Fraction(witness["lhs"]) and rhs == Fraction(witness["rhs"]) and lhs != rhs
"""

ABSORB_WITNESS_CHECK = "_confirm_absorb_witness(witness)"

absorb_below = _witnessed(
    "folding.absorb-below-threshold",
    "Bias absorption is wrong where the pre-activation is below c",
    "Claim (false): absorbing c > 0 across the ReLU is exact for every input. Where 0 < z < c (or z <= 0) the "
    "ReLU clips z - c at 0 and the added c is not removed.",
    build=_absorb_witness(1, 1, 2, 1, 0),
    witness_check=ABSORB_WITNESS_CHECK,
    check_source=ABSORB_WITNESS_HELPER,
)
absorb_padded = _witnessed(
    "folding.absorb-padded",
    "Bias absorption is wrong on the border when layer 2 pads",
    "Claim (false): if every pre-activation is >= c, absorption is exact even when layer 2 zero-pads. The "
    "zero ring is not relu(z) - c = -c shifted, so windows over it receive sum(w2) c but lose less.",
    build=_absorb_witness(3, 1, 1, 3, 1),
    witness_check=ABSORB_WITNESS_CHECK,
)
