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
    index,
    ops,
    sizes,
)
from convsym.proof import (
    defs as D,
)

FAMILY = FOLDING
SECTION = 1

# =============================================================================================
# 1. biases: a constant map through a convolution

_c, _u, _v = index("c u v")


Cg, Og, kh, kw = sizes("C_g O_g k_h k_w")
g, o, i, j = index("g o i j")
c, u, v = _c, _u, _v
X, Wt, Hb = IndexedBase("x"), IndexedBase("w"), IndexedBase("h")
B1 = IndexedBase("b^{(1)}")

h_bias = Let(Hb, lambda mm, ii, jj: SumExpr.of(X[mm, ii, jj], B1[mm]))

CHECK_BIAS = """
def test_folding_bias_through_conv_numeric():
    rng = np.random.default_rng(10)
    for C, O, k, groups, stride in [(1, 1, 1, 1, 1), (4, 6, 3, 2, 1), (6, 6, 3, 6, 2), (4, 2, 2, 1, 1)]:
        x = rng.standard_normal((2, C, 7, 8))
        w, b1 = rng.standard_normal((O, C // groups, k, k)), rng.standard_normal(C)
        lhs = ref.conv2d(x + b1[None, :, None, None], w, stride=stride, groups=groups)
        # column k of output o reads input channel (o // (O/g)) * (C/g) + k
        cols = (np.arange(O)[:, None] // (O // groups)) * (C // groups) + np.arange(C // groups)[None, :]
        through = (w.sum(axis=(2, 3)) * b1[cols]).sum(axis=1)
        np.testing.assert_allclose(lhs, ref.conv2d(x, w, through, stride=stride, groups=groups),
                                   rtol=1e-10, atol=1e-10)


def test_folding_bias_through_conv_exact():
    rng = np.random.default_rng(11)
    x = rng.integers(-9, 10, size=(1, 4, 5, 5)).astype(object)
    w = rng.integers(-9, 10, size=(4, 2, 3, 3)).astype(object)
    b1 = np.array([Fraction(1, 3), -2, 5, Fraction(7, 2)], dtype=object)
    cols = (np.arange(4)[:, None] // 2) * 2 + np.arange(2)[None, :]
    through = (w.sum(axis=(2, 3)) * b1[cols]).sum(axis=1)
    assert (ref.conv2d(x + b1[None, :, None, None], w, groups=2) == ref.conv2d(x, w, through, groups=2)).all()
"""

bias_through_conv = General(
    "folding.bias-through-conv",
    "A bias through a convolution is a bias",
    "For all group sizes C_g (input channels per group), O_g (output channels per group), any number of "
    "groups and all kernel sizes: a convolution without padding of x + b1 (b1 added to every position of "
    "its channel) equals the convolution of x plus the constant sum over c, u, v of "
    "w[g O_g + o, c, u, v] b1[g C_g + c]: the bias is summed over the kernel's taps and its group's channels.",
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
    check_source=CHECK_BIAS,
)


def _bias_inputs(C, O, k, n, **_):
    return {"x": (C, n, n), "w": (O, C, k, k), "b1": (C,)}


BIAS_PAD_WITNESS = """
x, w, b1 = (_witness_array(witness["inputs"][k]) for k in ("x", "w", "b1"))
p = witness["sizes"]["p"]
lhs = ref.conv2d((x + b1[:, None, None])[None], w, padding=p)[0]
rhs = ref.conv2d(x[None], w, w.sum(axis=(2, 3)).dot(b1), padding=p)[0]
entry = tuple(witness["entry"])
assert lhs[entry] == Fraction(witness["lhs"]) and rhs[entry] == Fraction(witness["rhs"])
assert lhs[entry] != rhs[entry]
"""

CHECK_BIAS_PAD = """
def test_folding_bias_padded_ring_numeric():
    rng = np.random.default_rng(12)
    x, w, b1 = rng.standard_normal((1, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(2)
    lhs = ref.conv2d(x + b1[None, :, None, None], w, padding=1)
    rhs = ref.conv2d(x, w, w.sum(axis=(2, 3)).dot(b1), padding=1)
    np.testing.assert_allclose(lhs[:, :, 1:-1, 1:-1], rhs[:, :, 1:-1, 1:-1], rtol=1e-10, atol=1e-10)
    assert np.abs(lhs - rhs)[:, :, 0, :].max() > 1e-8  # the ring is wrong
"""

bias_padded = Identity(
    "folding.bias-padded",
    "Through zero padding a bias is not a constant",
    "Claim (false): conv(x + b1, w, padding p) == conv(x, w, padding p) + sum(w) b1. The zero ring is "
    "added after the bias, so windows that overlap it see fewer copies of b1.",
    expected="refuted",
    inputs=_bias_inputs,
    lhs=lambda T, p, **_: ops.conv2d(T["x"] + _per_channel(T["b1"]), T["w"], padding=p),
    rhs=lambda T, p, **_: ops.add_bias(ops.conv2d(T["x"], T["w"], padding=p), ops.merge_bias(T["w"], T["b1"])),
    family=[dict(C=1, O=1, k=1, n=1, p=1)],
    witness_check=BIAS_PAD_WITNESS,
    check_source=CHECK_BIAS_PAD,
)

# =============================================================================================
# 2. BatchNorm after a convolution

C = sizes("C")[0]
gam, rr, mu, bet, bb = (IndexedBase(n) for n in (r"\gamma", "r", r"\mu", r"\beta", "b"))
Wf = IndexedBase("w'")
W_after = Let(Wf, lambda oo, cc, uu, vv: SumExpr.of(gam[oo] * rr[oo] * Wt[oo, cc, uu, vv]))
R_HYP = r"In BatchNorm $r_o = 1/\sqrt{\sigma^2_o + \epsilon}$; the identity holds for every $r_o$."

CHECK_BN_AFTER = """
def test_folding_bn_after_conv_numeric():
    rng = np.random.default_rng(20)
    for C, O, k, groups, stride, pad, dil in [(3, 4, 3, 1, 1, 1, 1), (4, 4, 3, 4, 2, 1, 1), (2, 6, 2, 2, 1, 0, 2)]:
        x = rng.standard_normal((2, C, 9, 9))
        w, b = rng.standard_normal((O, C // groups, k, k)), rng.standard_normal(O)
        mean, var = rng.standard_normal(O), rng.random(O) + 0.1
        gamma, beta, eps = rng.standard_normal(O), rng.standard_normal(O), 1e-5
        lhs = ref.batch_norm(ref.conv2d(x, w, b, stride, pad, dil, groups), mean, var, gamma, beta, eps)
        a = gamma / np.sqrt(var + eps)
        rhs = ref.conv2d(x, w * a[:, None, None, None], (b - mean) * a + beta, stride, pad, dil, groups)
        np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)


def test_folding_bn_after_conv_exact():
    rng = np.random.default_rng(21)
    x = rng.integers(-5, 6, size=(1, 2, 5, 5)).astype(object)
    w = rng.integers(-5, 6, size=(3, 2, 3, 3)).astype(object)
    b, mean = np.array([1, -2, 3], dtype=object), np.array([Fraction(1, 2), 0, -1], dtype=object)
    gamma, beta = np.array([2, -1, 3], dtype=object), np.array([0, 5, Fraction(-1, 3)], dtype=object)
    # var + eps must be squares of rationals for exact arithmetic: 4, 9/4 and 1/4
    var, eps = np.array([Fraction(15, 4), 2, 0], dtype=object), Fraction(1, 4)
    root = np.array([2, Fraction(3, 2), Fraction(1, 2)], dtype=object)
    lhs = ref.batch_norm(ref.conv2d(x, w, b, padding=1), mean, var, gamma, beta, eps)
    a = gamma / root
    assert (lhs == ref.conv2d(x, w * a[:, None, None, None], (b - mean) * a + beta, padding=1)).all()
"""

bn_after = General(
    "folding.bn-after-conv",
    "BatchNorm after a convolution folds into it",
    "For all channel counts and kernel sizes: bn(conv(x, w) + b) == conv(x, w') + b' with "
    "w'[o] = gamma[o] r[o] w[o] and b'[o] = gamma[o] r[o] (b[o] - mu[o]) + beta[o], r[o] = 1/sqrt(var[o] + eps). "
    "The identity is linear in r, so no property of the square root is used; eps > 0 and var >= 0 only make r "
    "exist. With padding, stride, dilation and groups: folding.bn-after-conv-exact.",
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
    check_source=CHECK_BN_AFTER,
)


CHECK_BN_AFTER_EXACT = """
def test_folding_bn_after_conv_exact_strided_grouped():
    # var + eps is a square of a fraction for every channel, so the fold is checked with equality
    rng = np.random.default_rng(22)
    roots = np.array([Fraction(1, 2), Fraction(2), Fraction(5, 3), Fraction(1)], dtype=object)
    eps = Fraction(1, 100000)
    var = roots * roots - eps
    for k, s, p, d, groups in [(1, 2, 2, 1, 2), (3, 1, 2, 2, 1), (2, 2, 0, 2, 2), (3, 2, 2, 1, 4)]:
        x = rng.integers(-5, 6, (1, 4, 5, 5)).astype(object)
        w, b = rng.integers(-5, 6, (4, 4 // groups, k, k)).astype(object), rng.integers(-5, 6, 4).astype(object)
        mean = np.array([Fraction(int(v), 3) for v in rng.integers(-6, 7, 4)], dtype=object)
        gamma, beta = rng.integers(-4, 5, 4).astype(object), rng.integers(-4, 5, 4).astype(object)
        lhs = ref.batch_norm(ref.conv2d(x, w, b, s, p, d, groups), mean, var, gamma, beta, eps)
        a = gamma / roots
        rhs = ref.conv2d(x, w * a[:, None, None, None], (b - mean) * a + beta, s, p, d, groups)
        assert (lhs == rhs).all()
"""


def _conv_bn_inputs(C, O, k, n, groups=1, **_):
    return {"x": (C, n, n), "w": (O, C // groups, k, k), "b": (O,),
            "mu": (O,), "gamma": (O,), "r": (O,), "beta": (O,)}


def _conv_then_bn(T, **sz):
    y = ops.conv2d(T["x"], T["w"], T["b"], **_hyper(**sz))
    return _batchnorm(y, T["mu"], T["gamma"], T["r"], T["beta"])


def _folded_after(T, **sz):
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
    check_source=CHECK_BN_AFTER_EXACT,
)

# =============================================================================================
# 3. BatchNorm before a convolution

Zb, Wb, Mb = IndexedBase("z"), IndexedBase(r"\hat{w}"), IndexedBase("m")
z_before = Let(Zb, lambda cc, ii, jj: SumExpr.of(gam[cc] * rr[cc] * X[cc, ii, jj], -gam[cc] * rr[cc] * mu[cc], bet[cc]))
W_before = Let(Wb, lambda oo, cc, uu, vv: SumExpr.of(Wt[oo, cc, uu, vv] * gam[cc] * rr[cc]))
m_before = Let(Mb, lambda cc: SumExpr.of(gam[cc] * rr[cc] * mu[cc]))

CHECK_BN_BEFORE = """
def _bn_before_fold(w, b, mean, var, gamma, beta, eps, groups=1):
    a = gamma / np.sqrt(var + eps)
    h = beta - a * mean
    O, Cg = w.shape[:2]
    cols = (np.arange(O)[:, None] // (O // groups)) * Cg + np.arange(Cg)[None, :]
    return w * a[cols][:, :, None, None], b + (w.sum(axis=(2, 3)) * h[cols]).sum(axis=1)


def test_folding_bn_before_conv_numeric():
    rng = np.random.default_rng(30)
    for C, O, k, groups, stride, dil in [(3, 4, 3, 1, 1, 1), (4, 4, 3, 4, 2, 1), (4, 6, 2, 2, 1, 2)]:
        x = rng.standard_normal((2, C, 9, 9))
        w, b = rng.standard_normal((O, C // groups, k, k)), rng.standard_normal(O)
        mean, var = rng.standard_normal(C), rng.random(C) + 0.1
        gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
        lhs = ref.conv2d(ref.batch_norm(x, mean, var, gamma, beta, 1e-3), w, b, stride, 0, dil, groups)
        w2, b2 = _bn_before_fold(w, b, mean, var, gamma, beta, 1e-3, groups)
        np.testing.assert_allclose(lhs, ref.conv2d(x, w2, b2, stride, 0, dil, groups), rtol=1e-10, atol=1e-10)
"""

bn_before = General(
    "folding.bn-before-conv",
    "BatchNorm before a convolution without padding folds into it",
    "For all channel counts and kernel sizes, without padding: conv(bn(x), w) + b == conv(x, w') + b' with "
    "w'[o, c] = w[o, c] gamma[c] r[c] (the input channel's scale) and b'[o] = b[o] + sum over c, u, v of "
    "w[o, c, u, v] (beta[c] - gamma[c] r[c] mu[c]) (the last two terms of the right side: a bias through the "
    "convolution). Strides, dilation and groups: folding.bn-before-conv-exact.",
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
    check_source=CHECK_BN_BEFORE,
)


CHECK_BN_BEFORE_EXACT = """
def test_folding_bn_before_conv_exact_strided_grouped():
    # no padding; the folded weight scales input channel c (the column a weight reads) by gamma_c / root_c
    rng = np.random.default_rng(31)
    roots = np.array([Fraction(1, 2), Fraction(3), Fraction(7, 4), Fraction(1)], dtype=object)
    var, eps = roots * roots - Fraction(1, 1000), Fraction(1, 1000)
    for k, s, d, groups, O in [(1, 2, 1, 2, 2), (3, 1, 2, 1, 3), (2, 2, 2, 2, 4), (3, 2, 1, 4, 4)]:
        x = rng.integers(-5, 6, (1, 4, 7, 7)).astype(object)
        w, b = rng.integers(-5, 6, (O, 4 // groups, k, k)).astype(object), rng.integers(-5, 6, O).astype(object)
        mean = np.array([Fraction(int(v), 5) for v in rng.integers(-9, 10, 4)], dtype=object)
        gamma, beta = rng.integers(-4, 5, 4).astype(object), rng.integers(-4, 5, 4).astype(object)
        lhs = ref.conv2d(ref.batch_norm(x, mean, var, gamma, beta, eps), w, b, s, 0, d, groups)
        a, shift = gamma / roots, beta - gamma / roots * mean
        wf, bf = w.copy(), b.copy()
        for o in range(O):
            first = (o // (O // groups)) * (4 // groups)     # the first input channel output o reads
            for col in range(4 // groups):
                wf[o, col] = w[o, col] * a[first + col]
                bf[o] += w[o, col].sum() * shift[first + col]
        assert (lhs == ref.conv2d(x, wf, bf, s, 0, d, groups)).all()
"""


def _bn_conv_inputs(C, O, k, n, groups=1, **_):
    return {"x": (C, n, n), "w": (O, C // groups, k, k), "b": (O,),
            "mu": (C,), "gamma": (C,), "r": (C,), "beta": (C,)}


def _bn_then_conv(T, **sz):
    return ops.conv2d(_batchnorm(T["x"], T["mu"], T["gamma"], T["r"], T["beta"]), T["w"], T["b"], **_hyper(**sz))


def _folded_before_parts(T, groups=1, **_):
    a = T["gamma"] * T["r"]
    shift = T["beta"] - a * T["mu"]
    O, C = T["w"].shape[0], T["x"].shape[0]
    w = T["w"] * _on_columns(a, O, C, groups)
    b = T["b"] + (T["w"] * _on_columns(shift, O, C, groups)).sum((1, 2, 3))
    return w, b


def _folded_before(T, **sz):
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
    check_source=CHECK_BN_BEFORE_EXACT,
)

BN_PAD_WITNESS = """
T = {k: _witness_array(s) for k, s in witness["inputs"].items()}
p = witness["sizes"]["p"]
z = (T["x"] - T["mu"][:, None, None]) * (T["gamma"] * T["r"])[:, None, None] + T["beta"][:, None, None]
lhs = ref.conv2d(z[None], T["w"], T["b"], padding=p)[0]
a = T["gamma"] * T["r"]
w2 = T["w"] * a[None, :, None, None]
b2 = T["b"] + T["w"].sum(axis=(2, 3)).dot(T["beta"] - a * T["mu"])
rhs = ref.conv2d(T["x"][None], w2, b2, padding=p)[0]
entry = tuple(witness["entry"])
assert lhs[entry] == Fraction(witness["lhs"]) and rhs[entry] == Fraction(witness["rhs"])
assert lhs[entry] != rhs[entry]
"""

CHECK_BN_PAD = """
def test_folding_bn_before_padded_ring_numeric():
    rng = np.random.default_rng(31)
    x, w, b = rng.standard_normal((1, 2, 7, 7)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    mean, var, gamma, beta = rng.standard_normal(2), rng.random(2) + 0.5, rng.standard_normal(2), rng.standard_normal(2)
    lhs = ref.conv2d(ref.batch_norm(x, mean, var, gamma, beta), w, b, padding=1)
    a = gamma / np.sqrt(var + 1e-5)
    w2, b2 = w * a[None, :, None, None], b + w.sum(axis=(2, 3)).dot(beta - a * mean)
    rhs = ref.conv2d(x, w2, b2, padding=1)
    np.testing.assert_allclose(lhs[:, :, 1:-1, 1:-1], rhs[:, :, 1:-1, 1:-1], rtol=1e-10, atol=1e-10)
    assert np.abs(lhs - rhs).max() > 1e-6  # the ring is wrong
"""

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
    witness_check=BN_PAD_WITNESS,
    check_source=CHECK_BN_PAD,
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
    return _bn_then_conv(_repair_beta(T), **sz)


def _repair_rhs(T, p=0, **sz):
    T = _repair_beta(T)
    w, b = _folded_before_parts(T, **sz)
    return ops.conv2d(_pad_with(T["x"], T["q"], p), w, b, **_hyper(p=0, **sz))


CHECK_REPAIR = """
def test_folding_bn_before_repair_numeric():
    rng = np.random.default_rng(32)
    for C, O, k, p, stride, groups in [(2, 3, 3, 1, 1, 1), (4, 4, 3, 2, 2, 2), (3, 3, 5, 2, 1, 3)]:
        x, w, b = rng.standard_normal((2, C, 8, 8)), rng.standard_normal((O, C // groups, k, k)), rng.standard_normal(O)
        mean, var = rng.standard_normal(C), rng.random(C) + 0.5
        gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
        lhs = ref.conv2d(ref.batch_norm(x, mean, var, gamma, beta), w, b, stride, p, 1, groups)
        a = gamma / np.sqrt(var + 1e-5)
        q = mean - beta / a                      # bn(q) = 0
        xq = np.empty((2, C, 8 + 2 * p, 8 + 2 * p))
        xq[...] = q[None, :, None, None]
        xq[:, :, p:-p, p:-p] = x
        cols = (np.arange(O)[:, None] // (O // groups)) * (C // groups) + np.arange(C // groups)[None, :]
        w2 = w * a[cols][:, :, None, None]
        b2 = b + (w.sum(axis=(2, 3)) * (beta - a * mean)[cols]).sum(axis=1)
        np.testing.assert_allclose(lhs, ref.conv2d(xq, w2, b2, stride, 0, 1, groups), rtol=1e-9, atol=1e-9)
"""

bn_before_repair = Identity(
    "folding.bn-before-repair",
    "The exact repair: pad the input with the value BatchNorm maps to 0",
    "With zero padding p: conv(bn(x), padding p) == conv'(x padded by p with q[c]) where q[c] is the value bn "
    "maps to 0 (q = mu - beta/(gamma r) when gamma != 0) and conv' is the folded conv without padding. Proved as "
    "polynomials after eliminating beta = (mu - q) gamma r, for kernel sizes 1..3, p in {1, 2}, stride in "
    "{1, 2} and groups in {1, 2}. A channel with gamma = 0 and beta != 0 has no such q (bn is a nonzero "
    "constant there).",
    inputs=_repair_inputs,
    lhs=_repair_lhs,
    rhs=_repair_rhs,
    family=[dict(C=2, O=2, k=k, n=3, p=p, s=s, groups=gr)
            for k in (1, 2, 3) for p in (1, 2) for s in (1, 2) for gr in (1, 2)],
    notes=("With q = 0 (beta = gamma r mu, e.g. mu = beta = 0) bn maps 0 to 0 and the zero-padded fold is exact: "
           "fold_batchnorm_before then returns a padded Conv2d.",),
    check_source=CHECK_REPAIR,
)
