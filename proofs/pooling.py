"""Pooling acts per channel; average pooling as a depthwise convolution; max pooling.

Section 3 of the equivalences chapter (see ``_chapters.py``).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import sympy
import z3
from _chapters import EQUIVALENCES
from sympy import IndexedBase

from convsym.exact import rewrites as E
from convsym.proof import (
    Checked,
    Fold,
    General,
    Identity,
    Let,
    Name,
    Proof,
    SumExpr,
    Unfold,
    index,
    load_checks,
    ops,
    sizes,
)
from convsym.proof import defs as D

FAMILY = EQUIVALENCES
SECTION = 3

checks = load_checks(__file__)  # the emitted numeric checks: proofs/checks/pooling.py

# symbols shared with the other sections (equal symbols: same name, same assumptions)
X, V, A = IndexedBase("x"), IndexedBase("w"), IndexedBase("A")
o, c, i, j = index("o c i j")
s_, d_, kh, kw, k = sizes("s d k_h k_w k")
u, v, r, n = index("u v r n")

# =============================================================================================
# 5. pooling

Kc_ = IndexedBase("K")
Kc_let = Let(Kc_, lambda cc, uu, vv: SumExpr.of(sympy.Integer(1) / k**2))

avgpool_depthwise = General(
    "equivalences.avgpool-depthwise",
    "Average pooling is a depthwise convolution with the constant kernel $1/k^2$",
    "For all window sizes $k$ and strides $s$ (no padding): average pooling equals the depthwise "
    "convolution ($C$ groups) with the constant kernel $1/k^2$: so pooling acts per channel, output "
    "channel $c$ reads input channel $c$ only. (Max pooling acts per channel by its definition, the "
    "maximum over the window of channel $c$; it is not a convolution: "
    "equivalences.maxpool-not-affine.)",
    idea="Unfold the average: it is the sum over the window of $x$ times $1/k^2$, which is the "
         "depthwise convolution with that constant kernel.",
    lhs=D.avgpool(X, k, s_, c, i, j),
    rhs=D.dwconv(X, Kc_, k, s_, c, i, j),
    lets=[Kc_let],
    derivation=[
        Unfold("avgpool", ("u", "v")),
        Name(Kc_let, (c, u, v)),
        Fold(D.dwconv(X, Kc_, k, s_, c, i, j), ("u", "v")),
    ],
    instances=[{"k": 1, "s": 1}, {"k": 2, "s": 2}],
    check_source=checks.test_pooling_per_channel_and_depthwise,
)


def _pool_inputs(c, n, **_):
    return {"x": (c, n, n)}


def _depthwise_const(T, k, s, p, ceil=False, cip=True, extra=0, scale=1, **_):
    """the depthwise convolution with a constant kernel"""
    x = T["x"]
    ch = x.shape[0]
    kern = np.empty((ch, 1, k, k), dtype=object)
    kern[...] = Fraction(1, k * k)
    return ops.conv2d(x, x.constant_like(kern), stride=s, padding=((p, p + extra), (p, p + extra)), groups=ch) * scale


def _avgpool(T, k, s, p, ceil=False, cip=True, scale=1, **_):
    """average pooling"""
    # ``scale`` (a common multiple of the divisors) keeps the refutations' coefficients integers
    return E.avg_pool2d(T["x"], k, s, p, ceil, cip) * scale


avgpool_padded = Identity(
    "equivalences.avgpool-depthwise-padded",
    "With padding counted, average pooling is still the depthwise convolution",
    "When the padding counts in the average (PyTorch's default) and the output size rounds down, "
    "average pooling with window $k$, stride $s$ and padding $p$ equals the depthwise convolution "
    "with the constant kernel $1/k^2$ and zero padding $p$, as identical polynomials, for $k \\le "
    "3$, $s \\le 2$, $p \\le k/2$ (PyTorch's limit).",
    inputs=_pool_inputs,
    lhs=_avgpool,
    rhs=_depthwise_const,
    family=[dict(c=2, n=nn, k=kk, s=ss, p=pp) for kk in (1, 2, 3) for ss in (1, 2)
            for pp in range(0, kk // 2 + 1) for nn in (kk + 1, kk + 2)],
    check_source=checks.test_avgpool_padded_is_depthwise_exact,
)


avgpool_exclude = Identity(
    "equivalences.avgpool-exclude-pad",
    "Excluding padding from the count breaks the equivalence",
    "Claim (false): when the padding does not count in the average and $p > 0$, average pooling equals "
    "the depthwise convolution with the constant kernel $1/k^2$. At a border window the divisor is the "
    "number of input pixels, not $k^2$.",
    expected="refuted",
    inputs=_pool_inputs,
    lhs=_avgpool,
    rhs=_depthwise_const,
    family=[dict(c=1, n=2, k=2, s=2, p=1, cip=False, scale=4)],
    witness_check=checks._confirm_pool_witness,
    check_source=checks._confirm_pool_witness,
)

avgpool_ceil = Identity(
    "equivalences.avgpool-ceil-mode",
    "Rounding the output size up breaks the equivalence",
    "Claim (false): when the output size rounds up (ceil mode; the padding counted in the average), "
    "average pooling equals the depthwise convolution with kernel $1/k^2$ on the input zero-padded by $p$, "
    "plus the extra bottom and right rows the last window needs. PyTorch divides a window cut off by ceil "
    "mode by its clipped size.",
    expected="refuted",
    inputs=_pool_inputs,
    lhs=_avgpool,
    rhs=_depthwise_const,
    family=[dict(c=1, n=3, k=2, s=2, p=0, ceil=True, extra=1, scale=4)],
    witness_check=checks._confirm_pool_witness,
)


def derive_maxpool_not_affine(P: Proof) -> None:
    from convsym import reference as ref

    M, cc = sympy.MatrixSymbol("M", 2, 2), sympy.MatrixSymbol("c", 2, 1)
    xs, ys = sympy.MatrixSymbol("x", 2, 1), sympy.MatrixSymbol("y", 2, 1)
    aff = (M * xs + cc) + (M * ys + cc) - ((M * (xs + ys) + cc) + (M * sympy.ZeroMatrix(2, 1) + cc))
    for entry in sympy.Matrix(aff.as_explicit()):
        P.zero("every convolution, and every stack of convolutions, is an affine map $A(x) = M x + c$; such a map "
               "satisfies $A(x) + A(y) = A(x + y) + A(0)$ (entrywise, with symbolic $M$ and $c$)", entry,
               shown=r"A(x) + A(y) - A(x+y) - A(0) = (Mx + c) + (My + c) - (M(x+y) + c) - c = 0")
    x = np.array([[[[1, 0]]]], dtype=object)
    y = np.array([[[[0, 1]]]], dtype=object)
    zero = np.zeros((1, 1, 1, 2), dtype=object)
    zero[...] = 0
    fx, fy, fxy, f0 = (ref.max_pool2d(t, (1, 2))[0, 0, 0, 0] for t in (x, y, x + y, zero))
    lhs, rhs = fx + fy, fxy + f0
    P.exact_counterexample(
        "max pooling with a $1 \\times 2$ window on $x = (1, 0)$ and $y = (0, 1)$, evaluated exactly", lhs, rhs,
        rf"f(x) + f(y) = {lhs} \ne {rhs} = f(x+y) + f(0)",
        witness=("f = max pooling with a 1 x 2 window on a 1 x 1 x 1 x 2 input; x = (1, 0), y = (0, 1): "
                 f"f(x) + f(y) = {lhs} but f(x + y) + f(0) = {rhs}, so f is not affine, and no convolution (any "
                 "weights, bias, stride, padding, dilation, groups) and no stack of convolutions equals max pooling."),
        assignment=(("x", "(1, 0)"), ("y", "(0, 1)")), where=r"f(x) + f(y) \text{ vs } f(x + y) + f(0)",
        data={"x": [[0, 0, 0, 0], 1], "y": [[0, 0, 0, 1], 1], "lhs": str(lhs), "rhs": str(rhs)})


maxpool_not_affine = Checked(
    "equivalences.maxpool-not-affine",
    "Max pooling is not affine, so it never merges into a convolution",
    "Claim (false): max pooling is an affine map $x \\mapsto M x + c$ (which it would be if some convolution, "
    "or stack of convolutions, computed it).",
    expected="refuted",
    idea="Every stack of convolutions is an affine map $A$, and every affine map satisfies $A(x) + "
         "A(y) = A(x + y) + A(0)$; max pooling breaks this identity on two small inputs.",
    derive=derive_maxpool_not_affine,
    check_source=checks._confirm_maxpool_not_affine_witness,
    witness_check=checks._confirm_maxpool_not_affine_witness,
)


def derive_maxpool_homogeneous(P: Proof) -> None:
    a_, b_, s, m, ms, v = z3.Reals("a b s m ms v")
    mx = lambda p, q: z3.If(p >= q, p, q)  # noqa: E731
    P.real_valid("for real $a, b$ and $s > 0$",
                 z3.ForAll([a_, b_, s], z3.Implies(s > 0, mx(s * a_, s * b_) == s * mx(a_, b_))),
                 r"\max(s a, s b) = s \max(a, b)", (r"s > 0",))
    P.real_valid("induction on the window size $n$ (the max of $n + 1$ values is the max of two: the max of the first "
                 "$n$ and the last): a window of one value gives $s v = s v$, and if the scaled max of $n$ values is "
                 "$s$ times their max, so it is for $n + 1$",
                 z3.ForAll([m, ms, v, s], z3.Implies(z3.And(s > 0, ms == s * m), mx(ms, s * v) == s * mx(m, v))),
                 r"M'_n = s M_n \implies \max(M'_n, s v_{n+1}) = s \max(M_n, v_{n+1})", (r"s > 0",))


maxpool_homogeneous = Checked(
    "equivalences.maxpool-positively-homogeneous",
    "Max pooling is positively homogeneous (only)",
    "For every window and every real $s > 0$: max pooling of $s x$ is $s$ times max pooling of $x$. "
    "This is why max pooling commutes with positive per-channel scales (equalization through ReLU), "
    "while it is not linear: $s = -1$ fails.",
    idea="The maximum of two numbers scaled by $s > 0$ is $s$ times their maximum (z3 decides it "
         "for all reals); a window's maximum is a chain of such maxima.",
    derive=derive_maxpool_homogeneous,
    remarks=("It is not linear: for s = -1, max(-0, -1) = 0 but -max(0, 1) = -1 (the emitted check tests it).",),
    check_source=checks.test_maxpool_positively_homogeneous,
)
