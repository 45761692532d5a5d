"""The converse of the merge: which kernels split into two.

Section 6 of the equivalences chapter (see ``_chapters.py``).
"""

from __future__ import annotations

import itertools

import sympy
import z3
from _chapters import EQUIVALENCES
from sympy import IndexedBase

from convsym.exact import rewrites as E
from convsym.proof import (
    Checked,
    Collapse,
    Fold,
    General,
    Identity,
    Proof,
    ProofError,
    Unfold,
    index,
    load_checks,
    ops,
    sizes,
)
from convsym.proof import defs as D

FAMILY = EQUIVALENCES
SECTION = 6

checks = load_checks(__file__)  # the emitted numeric checks: proofs/checks/converse.py

# symbols shared with the other sections (equal symbols: same name, same assumptions)
a, b, t, e, f, p_ = index("a b t e f p")
k1, k2, k3 = sizes("k_1 k_2 k_3")
x1, w1_, w2_ = IndexedBase("x"), IndexedBase("w_1"), IndexedBase("w_2")

# =============================================================================================
# 8. the converse: which kernels split


split_polynomial = General(
    "equivalences.split-polynomial",
    "Stacking kernels multiplies their polynomials",
    "For all $k_1, k_2$: the coefficient of $z^t$ in $W_1(z) W_2(z)$ is $(w_1 * w_2)_t$, the merged "
    "kernel of two layers (equivalences.xcorr-stack). So a one-channel kernel $w$ splits into "
    "lengths $k_1, k_2$ exactly when its polynomial $W(z)$ factors as $W_1 W_2$ over the reals with "
    "$\\deg W_1 \\le k_1 - 1$ and $\\deg W_2 \\le k_2 - 1$.",
    idea="Multiply out $W_1(z) W_2(z)$, substitute $t = a + b$ for the exponent and collect the "
         "coefficient of $z^t$: it is the sum that defines $(w_1 * w_2)_t$.",
    lhs=D.poly_coeff(w1_, w2_, k1, k2, t),
    rhs=D.full_convolution(w1_, w2_, k1, k2, t),
    derivation=[
        Unfold("poly_coeff", ("a", "b")),
        Collapse("b", t - a),
        Fold(D.full_convolution(w1_, w2_, k1, k2, t), ("a",)),
    ],
    instances=[{"k_1": 2, "k_2": 2, "t": 1}, {"k_1": 1, "k_2": 3, "t": 2}, {"k_1": 3, "k_2": 2, "t": 0}],
    check_source=checks.test_split_polynomial_product_is_the_stacked_kernel,
)


_SPLIT_SIDES: dict[tuple[int, int], list] = {}


def _split_sides(K, k1_):
    """The left sides of the coefficient equations of a split of a length-``K`` kernel into lengths
    ``k1_`` and ``K - k1_ + 1`` (z3 terms in the entries ``u``, ``v`` of the factors), made once
    per pair of lengths: only the right sides, the kernel's entries, change from kernel to kernel."""
    sides = _SPLIT_SIDES.get((K, k1_))
    if sides is None:
        k2_ = K - k1_ + 1
        p = [z3.Real(f"u{q}") for q in range(k1_)]
        q_ = [z3.Real(f"v{q}") for q in range(k2_)]
        sides = _SPLIT_SIDES[(K, k1_)] = [
            z3.Sum([p[aa_] * q_[tt - aa_] for aa_ in range(k1_) if 0 <= tt - aa_ < k2_] + [z3.RealVal(0)])
            for tt in range(K)]
    return sides


def _z3_splits(w, k1_):
    equations = [side == z3.RealVal(str(w[tt])) for tt, side in enumerate(_split_sides(len(w), k1_))]
    # nlsat, z3's complete decision procedure for polynomial real arithmetic, run directly (the
    # default solver reaches the same answers after trying its general strategies first); the
    # tactic is applied to the equations as they are (no solver around it): it decides them when
    # it leaves no goal (satisfiable) or the goal False (unsatisfiable)
    goal = z3.Goal()
    goal.add(*equations)
    decided = z3.Then("simplify", "nlsat")(goal)
    if len(decided) == 1 and len(decided[0]) == 0:
        return True
    if len(decided) == 1 and decided[0].inconsistent():
        return False
    # anything else is decided by the solver made of the same tactic
    solver = z3.Then("simplify", "nlsat").solver()
    solver.add(*equations)
    res = solver.check()
    if res == z3.unknown:
        raise ProofError(f"z3 could not decide the split of {w}")
    return res == z3.sat


def _criterion(w, k1_):
    """One channel: fails iff k1, k2 both even, w_{K-1} != 0 and W(z) has no real root (Sturm count)."""
    k2_ = len(w) - k1_ + 1
    z = sympy.Symbol("z")
    poly = sympy.Poly(list(reversed([sympy.Rational(str(x)) for x in w])), z)
    if poly.is_zero or w[-1] == 0 or k1_ % 2 == 1 or k2_ % 2 == 1:
        return True
    return poly.count_roots() > 0


def derive_split_counterexample(P: Proof) -> None:
    z = sympy.Symbol("z")
    u0, u1, v0, v1 = z3.Reals("u0 u1 v0 v1")
    P.zero("over the complex numbers the split exists, so the obstruction is the reals",
           sympy.expand((1 + sympy.I * z) * (1 - sympy.I * z)) - (1 + z**2), shown=r"1 + z^2 = (1 + i z)(1 - i z)")
    P.no_solution(
        "a split of $[1, 0, 1]$ into two real kernels $u, v$ of length 2 solves the coefficient equations of "
        "$(u_0 + u_1 z)(v_0 + v_1 z) = 1 + z^2$; over the reals they have no solution",
        [u0 * v0 == 1, u0 * v1 + u1 * v0 == 0, u1 * v1 == 1],
        r"u_0 v_0 = 1,\ u_0 v_1 + u_1 v_0 = 0,\ u_1 v_1 = 1 \text{ has no real solution}",
        witness=("the kernel w = [1, 0, 1] (polynomial 1 + z^2) is not the true convolution of two real length-2 "
                 "kernels: z3 finds the coefficient equations unsatisfiable over the reals (1 + z^2 has no real "
                 "root)."),
        assignment=(("w", "[1, 0, 1]"),), where=r"w = u * v", lhs="[1, 0, 1]", rhs=r"\text{no real } u, v",
        data={"w": [1, 0, 1], "k1": 2, "k2": 2, "lhs": "[1, 0, 1]", "rhs": "none"})


split_counterexample = Checked(
    "equivalences.split-counterexample",
    "Not every kernel splits: $[1, 0, 1]$ over the reals",
    "Claim (false): every length-3 kernel is the composition of two length-2 kernels (one channel, "
    "real weights). The converse of the merge fails for one channel; with two middle channels it "
    "holds (equivalences.split-channels).",
    expected="refuted",
    idea="A split of a kernel is a factorisation of its polynomial $W(z) = \\sum_t w_t z^t$; here "
         "$W(z) = 1 + z^2$, which has no real root and so no real factor of degree 1.",
    derive=derive_split_counterexample,
    check_source=checks._confirm_split_counterexample_witness,
    witness_check=checks._confirm_split_counterexample_witness,
)


def _split_kernels() -> list[dict]:
    cases = []
    for K, k1_ in [(3, 2), (3, 1), (4, 2), (5, 2)]:
        # w and -w split alike, so the leading entry is 0 or 1; for K = 5, k1 = 2 a zero leading entry leaves
        # degree <= 3 = k2 - 1, which always splits (degree-0 first factor), so only 1 is tried there
        for w in itertools.product(*([(-1, 0, 1)] * (K - 1) + [(1,) if K == 5 else (0, 1)])):
            cases.append(dict(w=tuple(w), k1_=k1_))
    for w, k1_ in [([1, 0, 2, 0, 1], 2), ([1, 0, 2, 0, 1], 3), ([2, -3, 1, 5], 2), ([1, 2, 3, 4, 5, 6], 2)]:
        cases.append(dict(w=tuple(w), k1_=k1_))
    return cases


def derive_split_criterion(P: Proof) -> None:
    P.family("the criterion (real roots counted exactly by Sturm sequences) equals z3's exact "
             "decision over the reals of the coefficient equations, for every kernel of $\\{-1, 0, "
             "1\\}^{K-1} \\times \\{0, 1\\}$ with $(K, k_1) \\in \\{(3, 2), (3, 1), (4, 2)\\}$, "
             "$\\{-1, 0, 1\\}^4 \\times \\{1\\}$ for $(5, 2)$, and 4 more",
             _split_kernels(), lambda w, k1_: _criterion(list(w), k1_), lambda w, k1_: _z3_splits(list(w), k1_),
             shown=r"\text{splits} \iff \neg\left(2 \mid k_1 \wedge 2 \mid k_2 \wedge w_{K-1} \ne 0 "
                   r"\wedge \#\{\rho \in \mathbb{R}: W(\rho) = 0\} = 0\right)")


split_criterion = Checked(
    "equivalences.split-criterion",
    "The exact criterion for a one-channel split",
    "A real kernel $w$ of length $K = k_1 + k_2 - 1$ is the true convolution of real kernels of "
    "lengths $k_1$ and $k_2$ iff its polynomial $W(z) = \\sum_t w_t z^t$ has a real factor $F$ with "
    "$\\deg F \\le k_1 - 1$ and $\\deg W - \\deg F \\le k_2 - 1$; equivalently unless $k_1$ and "
    "$k_2$ are both even, $w_{K-1} \\ne 0$ and $W$ has no real root. The factors can be constructed "
    "with exact real algebraic entries.",
    idea="A split is a factorisation $W = F G$ of the kernel's polynomial with bounded degrees; "
         "real factors exist exactly when the real roots of $W$ allow them, which Sturm sequences "
         "count exactly, and z3 decides each case of the grid independently over the reals.",
    derive=derive_split_criterion,
    remarks=("Why: a split is a factorisation $W = W_1 W_2$ over the reals with $\\deg W_1 \\le k_1 "
             "- 1$, $\\deg W_2 \\le k_2 - 1$ (equivalences.split-polynomial); over the reals $W$ is "
             "its leading coefficient times linear factors (its real roots) and quadratic factors "
             "(pairs of complex roots), so a real factor of degree $d$ exists iff $d = r' + 2c'$ "
             "with $r' \\le r$ real roots and $c' \\le c$ complex pairs.",),
    check_source=checks.test_split_criterion_examples,
)


def _split_channels_inputs(o, c, K, k1, **_):
    return {"w": (o, c, K, K)}


def _split_channels_rhs(T, o, c, K, k1, **_):
    w1, w2 = E.split_kernel(T["w"], k1)
    return ops.merge_kernels(w1, w2)


split_channels = Identity(
    "equivalences.split-channels",
    "With enough middle channels every kernel splits",
    "For every weight $w$ of shape $(O, C, K, K)$ and $1 \\le k_1 \\le K$, $k_2 = K - k_1 + 1$: the "
    "first layer of impulses at the window starts $a_0 \\in \\{0, k_2, 2 k_2, \\dots\\}$ below $k_1 "
    "- 1$ and $k_1 - 1$ (per axis) and the second layer holding the chunks of $w$ they own merge "
    "back to $w$ exactly; it uses $C\\, n(k_1, k_2)^2$ middle channels with $n(k_1, k_2) = \\lceil "
    "(k_1-1)/k_2 \\rceil + 1$ (or $O\\, n(k_2, k_1)^2$ with the roles swapped; the split takes the "
    "smaller). For $K = 3$, $k_1 = k_2 = 2$: 2 channels per axis, so $[1, 0, 1]$ splits with 2 "
    "middle channels in 1-D.",
    inputs=_split_channels_inputs,
    lhs=lambda T, **_: T["w"],
    rhs=_split_channels_rhs,
    family=[dict(o=oo, c=cc, K=KK, k1=kk1) for (oo, cc) in ((1, 1), (2, 1), (1, 2))
            for KK in (1, 2, 3, 4, 5) for kk1 in range(1, KK + 1)],
    check_source=checks.test_split_channels_kernel_101,
)
