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
    ops,
    sizes,
)
from convsym.proof import (
    defs as D,
)

FAMILY = EQUIVALENCES
SECTION = 3

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
    "For all window sizes k and strides s (no padding): average pooling equals the depthwise convolution "
    "(groups = C) with the constant kernel 1/k^2: so pooling acts per channel, output channel c reads input "
    "channel c only. (Max pooling acts per channel by its definition, max over the window of channel c; it is "
    "not a convolution: equivalences.maxpool-not-affine.)",
    lhs=D.avgpool(X, k, s_, c, i, j),
    rhs=D.dwconv(X, Kc_, k, s_, c, i, j),
    lets=[Kc_let],
    derivation=[
        Unfold("avgpool", ("u", "v")),
        Name(Kc_let, (c, u, v)),
        Fold(D.dwconv(X, Kc_, k, s_, c, i, j), ("u", "v")),
    ],
    instances=[{"k": 1, "s": 1}, {"k": 2, "s": 2}],
    check_source="""
def test_pooling_per_channel_and_depthwise():
    rng = np.random.default_rng(50)
    x = rng.integers(-9, 10, (2, 3, 7, 6)).astype(object)
    for k, s in [(2, 2), (3, 1), (3, 2)]:
        avg = ref.avg_pool2d(x, k, s)
        dw = ref.conv2d(x, np.full((3, 1, k, k), Fraction(1, k * k), dtype=object), stride=s, groups=3)
        assert (avg == dw).all()
        mx = ref.max_pool2d(x, k, s)
        for ch in range(3):   # per channel: pooling channel ch alone gives the same
            assert (ref.max_pool2d(x[:, ch:ch + 1], k, s)[:, 0] == mx[:, ch]).all()
            assert (ref.avg_pool2d(x[:, ch:ch + 1], k, s)[:, 0] == avg[:, ch]).all()
""",
)


def _pool_inputs(c, n, **_):
    return {"x": (c, n, n)}


def _depthwise_const(T, k, s, p, ceil=False, cip=True, extra=0, scale=1, **_):
    x = T["x"]
    ch = x.shape[0]
    kern = np.empty((ch, 1, k, k), dtype=object)
    kern[...] = Fraction(1, k * k)
    return ops.conv2d(x, x.constant_like(kern), stride=s, padding=((p, p + extra), (p, p + extra)), groups=ch) * scale


def _avgpool(T, k, s, p, ceil=False, cip=True, scale=1, **_):
    # ``scale`` (a common multiple of the divisors) keeps the refutations' coefficients integers
    return E.avg_pool2d(T["x"], k, s, p, ceil, cip) * scale


avgpool_padded = Identity(
    "equivalences.avgpool-depthwise-padded",
    "With padding counted, average pooling is still the depthwise convolution",
    "With count_include_pad=True (PyTorch's default) and ceil_mode=False, avg_pool2d(x, k, s, p) equals the "
    "depthwise convolution with the constant kernel 1/k^2 and zero padding p, as identical polynomials, for "
    "k <= 3, s <= 2, p <= k/2 (PyTorch's limit).",
    inputs=_pool_inputs,
    lhs=_avgpool,
    rhs=_depthwise_const,
    family=[dict(c=2, n=nn, k=kk, s=ss, p=pp) for kk in (1, 2, 3) for ss in (1, 2)
            for pp in range(0, kk // 2 + 1) for nn in (kk + 1, kk + 2)],
    check_source="""
def test_avgpool_padded_is_depthwise_exact():
    rng = np.random.default_rng(45)
    for k in (1, 2, 3):
        for s in (1, 2):
            for p in range(k // 2 + 1):
                for n in (k + 1, k + 2, 7):
                    x = np.array([Fraction(int(v), 7) for v in rng.integers(-20, 21, 2 * 2 * n * n)],
                                 dtype=object).reshape(2, 2, n, n)
                    kern = np.full((2, 1, k, k), Fraction(1, k * k), dtype=object)
                    pool = ref.avg_pool2d(x, k, s, p)
                    assert (pool == ref.conv2d(x, kern, stride=s, padding=p, groups=2)).all()
""",
)

POOL_WITNESS_HELPER = """
def _confirm_pool_witness(witness):
    sz = witness["sizes"]
    x = _witness_array(witness["inputs"]["x"])[None]
    k, s, p, extra = sz["k"], sz["s"], sz["p"], sz.get("extra", 0)
    pool = ref.avg_pool2d(x, k, s, p, ceil_mode=sz.get("ceil", False), count_include_pad=sz.get("cip", True))[0]
    kern = np.full((x.shape[1], 1, k, k), Fraction(1, k * k), dtype=object)
    xp = np.zeros((1, x.shape[1], x.shape[2] + 2 * p + extra, x.shape[3] + 2 * p + extra), dtype=object)
    xp[...] = 0
    xp[:, :, p:p + x.shape[2], p:p + x.shape[3]] = x
    conv = ref.conv2d(xp, kern, stride=s, groups=x.shape[1])[0]
    entry = tuple(witness["entry"])
    scale = sz.get("scale", 1)
    assert pool[entry] * scale == Fraction(witness["lhs"]) and conv[entry] * scale == Fraction(witness["rhs"])
    assert pool[entry] != conv[entry]
"""

POOL_WITNESS = "_confirm_pool_witness(witness)"

avgpool_exclude = Identity(
    "equivalences.avgpool-exclude-pad",
    "Excluding padding from the count breaks the equivalence",
    "Claim (false): with count_include_pad=False and padding p > 0, average pooling equals the depthwise "
    "convolution with the constant kernel 1/k^2. At a border window the divisor is the number of input "
    "pixels, not k^2.",
    expected="refuted",
    inputs=_pool_inputs,
    lhs=_avgpool,
    rhs=_depthwise_const,
    family=[dict(c=1, n=2, k=2, s=2, p=1, cip=False, scale=4)],
    witness_check=POOL_WITNESS,
    check_source=POOL_WITNESS_HELPER,
)

avgpool_ceil = Identity(
    "equivalences.avgpool-ceil-mode",
    "ceil_mode breaks the equivalence",
    "Claim (false): with ceil_mode=True (count_include_pad=True), average pooling equals the depthwise "
    "convolution with kernel 1/k^2 on the input zero-padded by p, plus the extra bottom/right rows the last "
    "window needs. PyTorch divides a window cut off by ceil mode by its clipped size.",
    expected="refuted",
    inputs=_pool_inputs,
    lhs=_avgpool,
    rhs=_depthwise_const,
    family=[dict(c=1, n=3, k=2, s=2, p=0, ceil=True, extra=1, scale=4)],
    witness_check=POOL_WITNESS,
)


def derive_maxpool_not_affine(P: Proof) -> None:
    from convsym import reference as ref

    M, cc = sympy.MatrixSymbol("M", 2, 2), sympy.MatrixSymbol("c", 2, 1)
    xs, ys = sympy.MatrixSymbol("x", 2, 1), sympy.MatrixSymbol("y", 2, 1)
    aff = (M * xs + cc) + (M * ys + cc) - ((M * (xs + ys) + cc) + (M * sympy.ZeroMatrix(2, 1) + cc))
    for entry in sympy.Matrix(aff.as_explicit()):
        P.zero("every convolution, and every stack of convolutions, is x -> Mx + c; such a map satisfies "
               "A(x) + A(y) = A(x + y) + A(0) (entrywise, symbolic M, c)", entry,
               shown=r"A(x) + A(y) - A(x+y) - A(0) = (Mx + c) + (My + c) - (M(x+y) + c) - c = 0")
    x = np.array([[[[1, 0]]]], dtype=object)
    y = np.array([[[[0, 1]]]], dtype=object)
    zero = np.zeros((1, 1, 1, 2), dtype=object)
    zero[...] = 0
    fx, fy, fxy, f0 = (ref.max_pool2d(t, (1, 2))[0, 0, 0, 0] for t in (x, y, x + y, zero))
    lhs, rhs = fx + fy, fxy + f0
    P.exact_counterexample(
        "max pooling with a 1x2 window on x = (1, 0), y = (0, 1), evaluated exactly", lhs, rhs,
        rf"f(x) + f(y) = {lhs} \ne {rhs} = f(x+y) + f(0)",
        witness=("f = max pooling with a 1 x 2 window on a 1 x 1 x 1 x 2 input; x = (1, 0), y = (0, 1): "
                 f"f(x) + f(y) = {lhs} but f(x + y) + f(0) = {rhs}, so f is not affine, and no convolution (any "
                 "weights, bias, stride, padding, dilation, groups) and no stack of convolutions equals max pooling."),
        assignment=(("x", "(1, 0)"), ("y", "(0, 1)")), where=r"f(x) + f(y) \text{ vs } f(x + y) + f(0)",
        data={"x": [[0, 0, 0, 0], 1], "y": [[0, 0, 0, 1], 1], "lhs": str(lhs), "rhs": str(rhs)})


maxpool_not_affine = Checked(
    "equivalences.maxpool-not-affine",
    "Max pooling is not affine, so it never merges into a convolution",
    "Claim (false): max pooling is an affine map x -> Mx + c (which it would be if some convolution, or stack "
    "of convolutions, computed it).",
    expected="refuted",
    derive=derive_maxpool_not_affine,
    witness_check="""
x = np.zeros((1, 1, 1, 2), dtype=object); x[...] = 0; x[0, 0, 0, 0] = 1
y = np.zeros((1, 1, 1, 2), dtype=object); y[...] = 0; y[0, 0, 0, 1] = 1
f = lambda t: ref.max_pool2d(t, (1, 2))[0, 0, 0, 0]
assert f(x) + f(y) == Fraction(witness["lhs"]) and f(x + y) + f(0 * x) == Fraction(witness["rhs"])
assert f(x) + f(y) != f(x + y) + f(0 * x)
rng = np.random.default_rng(51)
w, bias = rng.standard_normal((1, 1, 1, 2)), rng.standard_normal(1)
g = lambda t: ref.conv2d(t.astype(float), w, bias)[0, 0, 0, 0]
assert np.isclose(g(x) + g(y), g(x + y) + g(0 * x))   # any convolution is affine
""",
)


def derive_maxpool_homogeneous(P: Proof) -> None:
    a_, b_, s, m, ms, v = z3.Reals("a b s m ms v")
    mx = lambda p, q: z3.If(p >= q, p, q)  # noqa: E731
    P.real_valid("for real a, b and s > 0",
                 z3.ForAll([a_, b_, s], z3.Implies(s > 0, mx(s * a_, s * b_) == s * mx(a_, b_))),
                 r"\max(s a, s b) = s \max(a, b)", (r"s > 0",))
    P.real_valid("induction on the window size n (the max of n + 1 values is max(max of the first n, the last)): "
                 "a window of one value gives s v = s v, and if the scaled max of n values is s times their max, "
                 "so it is for n + 1", z3.ForAll([m, ms, v, s], z3.Implies(z3.And(s > 0, ms == s * m),
                                                                              mx(ms, s * v) == s * mx(m, v))),
                 r"M'_n = s M_n \implies \max(M'_n, s v_{n+1}) = s \max(M_n, v_{n+1})", (r"s > 0",))


maxpool_homogeneous = Checked(
    "equivalences.maxpool-positively-homogeneous",
    "Max pooling is positively homogeneous (only)",
    "For every window and every real s > 0: maxpool(s x) = s maxpool(x). This is why max pooling commutes with "
    "positive per-channel scales (equalization through ReLU), while it is not linear: s = -1 fails.",
    derive=derive_maxpool_homogeneous,
    remarks=("It is not linear: for s = -1, max(-0, -1) = 0 but -max(0, 1) = -1 (the emitted check tests it).",),
    check_source="""
def test_maxpool_positively_homogeneous():
    rng = np.random.default_rng(52)
    x = rng.integers(-9, 10, (1, 2, 6, 6)).astype(object)
    for s in (Fraction(1, 3), Fraction(5), Fraction(7, 2)):
        assert (ref.max_pool2d(x * s, 2) == ref.max_pool2d(x, 2) * s).all()
    assert not (ref.max_pool2d(-x, 2) == -ref.max_pool2d(x, 2)).all()
""",
)
