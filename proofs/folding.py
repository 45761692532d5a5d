"""Folding and quantization rewrites: biases, BatchNorm, parallel branches, equalization.

PyTorch semantics throughout (cross-correlation, NCHW, zero padding).  Inference BatchNorm is
``bn(y)_c = (y_c - mu_c) r_c gamma_c + beta_c`` with ``r_c = 1/sqrt(var_c + eps)``; every identity
below is polynomial in ``r``, so it holds for *every* value of ``r`` and in particular for that one
(no relation ``r^2 (var + eps) = 1`` is ever needed).  Statements about activations (ReLU, ReLU6,
sigmoid...) are not polynomial: they are proved by exact case analysis (SymPy on each piece, z3
over the reals) and refuted with exact rational witnesses evaluated by ``convsym.reference``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import sympy
import z3
from sympy import IndexedBase

from convsym import reference as ref
from convsym.errors import ProofError
from convsym.exact import ops
from convsym.exact.tensor import contract
from convsym.proof import Checked, General, Identity, Proof, Refutation
from convsym.proof.verdict import Family
from convsym.render import figures
from convsym.symbolic import opdefs as D
from convsym.symbolic.rules import Distribute, Fold, GroupBy, Name, Unfold
from convsym.symbolic.sums import Let, OpDef, Range, SumExpr, Term, index
from convsym.symbolic.symbols import sizes

FAMILY = Family(
    "folding",
    "Folding and quantization rewrites",
    intro=(
        "Inference graphs are simplified before deployment: biases and BatchNorm layers are folded "
        "into the neighbouring convolution, parallel branches (RepVGG, Diverse Branch Block) are "
        "summed into one kernel, and data-free quantization (DFQ) rescales channels so that adjacent "
        "layers have equal weight ranges. This chapter proves each rewrite exactly, for all sizes "
        "where it is true, and shows with exact counterexamples where it is not: zero padding after "
        "a constant shift, activations that are not positively homogeneous (ReLU6, hard-swish, "
        "sigmoid), negative scales, and bias absorption below the threshold."
    ),
    order=30,
)

# =============================================================================================
# helpers: exact builders over convsym.exact.ops (unbatched tensors (C, H, W)), shared by the identities


def _per_channel(v, ndim=3):
    """A (C,) tensor shaped to broadcast over the channel axis of a (C, ...) tensor."""
    return v.reshape((v.shape[0],) + (1,) * (ndim - 1))


def _batchnorm(y, mu, gamma, r, beta):
    """``(y - mu) * gamma * r + beta`` per channel; ``r`` stands for ``1/sqrt(var + eps)``."""
    return (y - _per_channel(mu)) * _per_channel(gamma * r) + _per_channel(beta)


def _zero_pad(x, p):
    """``x`` (C, H, W) with ``p`` zero rows/columns on every side."""
    C, Hh, Ww = x.shape
    out_shape = (C, Hh + 2 * p, Ww + 2 * p)
    cc, ii, jj = np.indices(x.shape).reshape(3, -1)
    out_index = np.ravel_multi_index((cc, ii + p, jj + p), out_shape)
    one = x.constant_like(np.ones((1,), dtype=object))
    return contract(x, one, out_index, np.arange(x.size), np.zeros(x.size, dtype=np.int64), out_shape)


def _pad_with(x, value, p):
    """``x`` (C, H, W) padded by ``p`` on every side with ``value[c]`` on channel ``c``."""
    C, Hh, Ww = x.shape
    ring = np.ones((1, Hh + 2 * p, Ww + 2 * p), dtype=object)
    ring[:, p : p + Hh, p : p + Ww] = 0
    return _zero_pad(x, p) + _per_channel(value) * x.constant_like(ring)


def _embed(w, size):
    """Kernel ``w`` (O, C, k, k) centred in a ``size x size`` kernel of zeros."""
    O, Cg, k, _ = w.shape
    e = (size - k) // 2
    out_shape = (O, Cg, size, size)
    oo, cc, uu, vv = np.indices(w.shape).reshape(4, -1)
    out_index = np.ravel_multi_index((oo, cc, uu + e, vv + e), out_shape)
    one = w.constant_like(np.ones((1,), dtype=object))
    return contract(w, one, out_index, np.arange(w.size), np.zeros(w.size, dtype=np.int64), out_shape)


def _column_channels(O, C, groups):
    """``idx[o, k]``: the input channel weight column ``k`` of output ``o`` reads."""
    Og, Cg = O // groups, C // groups
    return (np.arange(O)[:, None] // Og) * Cg + np.arange(Cg)[None, :]


def _on_columns(v, O, C, groups):
    """A (C,) per-input-channel tensor laid out on the weight columns: shape (O, C/groups, 1, 1)."""
    idx = _column_channels(O, C, groups)
    return v[idx].reshape(idx.shape + (1, 1))


def _identity_kernel(T, C, groups):
    Cg = C // groups
    eye = np.zeros((C, Cg, 1, 1), dtype=object)
    for o in range(C):
        eye[o, o % Cg, 0, 0] = 1
    return T.constant_like(eye)


def _unpack(spec):
    a = np.zeros(spec["shape"], dtype=object)
    a[...] = 0
    for idx, val in spec["nonzero"]:
        a[tuple(idx)] = Fraction(val)
    return a


# =============================================================================================
# 1. biases: a constant map through a convolution

_c, _u, _v = index("c u v")


def _gconv_body(x, w, Cg, Og, kh, kw, g, o, i, j):
    return SumExpr.of(Term(
        w[g * Og + o, _c, _u, _v] * x[g * Cg + _c, i + _u, j + _v],
        (Range.of(_c, 0, Cg - 1), Range.of(_u, 0, kh - 1), Range.of(_v, 0, kw - 1)),
    ))


def _gbias_body(w, b, Cg, Og, kh, kw, g, o):
    return SumExpr.of(Term(
        w[g * Og + o, _c, _u, _v] * b[g * Cg + _c],
        (Range.of(_c, 0, Cg - 1), Range.of(_u, 0, kh - 1), Range.of(_v, 0, kw - 1)),
    ))


def _l(p, e):
    return p._print(e)


conv2d_grouped = OpDef(
    "conv2d_grouped",
    _gconv_body,
    lambda p, x, w, Cg, Og, kh, kw, g, o, i, j: (
        rf"\left({_l(p, x)} \star_{{G}} {_l(p, w)}\right)_{{{_l(p, g)} {_l(p, Og)} + {_l(p, o)},{_l(p, i)},{_l(p, j)}}}"
    ),
    doc=(r"(x \star_G w)_{g O_g + o,i,j} = \sum_{c<C_g} \sum_{u,v} w_{g O_g + o,c,u,v} x_{g C_g + c,i+u,j+v}: "
         r"output channel o of group g reads only the C_g input channels of its group."),
)
bias_through_grouped = OpDef(
    "bias_through_grouped",
    _gbias_body,
    lambda p, w, b, Cg, Og, kh, kw, g, o: (
        rf"\left(\Sigma_G {_l(p, w)}\, {_l(p, b)}\right)_{{{_l(p, g)} {_l(p, Og)} + {_l(p, o)}}}"
    ),
    doc=r"(\Sigma_G w\, b)_{g O_g + o} = \sum_{c<C_g} \sum_{u,v} w_{g O_g + o,c,u,v} b_{g C_g + c}.",
)

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
    lhs=conv2d_grouped(Hb, Wt, Cg, Og, kh, kw, g, o, i, j),
    rhs=conv2d_grouped(X, Wt, Cg, Og, kh, kw, g, o, i, j) + bias_through_grouped(Wt, B1, Cg, Og, kh, kw, g, o),
    lets=[h_bias],
    derivation=[
        Unfold("conv2d_grouped", ("c", "u", "v")),
        Unfold("h"),
        Distribute(),
        Fold(conv2d_grouped(X, Wt, Cg, Og, kh, kw, g, o, i, j), ("c", "u", "v")),
        Fold(bias_through_grouped(Wt, B1, Cg, Og, kh, kw, g, o), ("c", "u", "v")),
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


def _hyper(s=1, p=0, d=1, groups=1, **_):
    return dict(stride=s, padding=p, dilation=d, groups=groups)


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

# =============================================================================================
# 4. parallel branches: RepVGG and the Diverse Branch Block


def _repvgg_inputs(C, k, n, groups=1, **_):
    shapes = {"x": (C, n, n), "w3": (C, C // groups, k, k), "w1": (C, C // groups, 1, 1)}
    for br in ("3", "1", "0"):
        for nm in ("mu", "gamma", "r", "beta"):
            shapes[nm + br] = (C,)
    return shapes


def _bn_of(T, br, y):
    return _batchnorm(y, T["mu" + br], T["gamma" + br], T["r" + br], T["beta" + br])


def _repvgg_branches(T, k, groups=1, **_):
    x = T["x"]
    big = _bn_of(T, "3", ops.conv2d(x, T["w3"], padding=k // 2, groups=groups))
    one = _bn_of(T, "1", ops.conv2d(x, T["w1"], groups=groups))
    return big + one + _bn_of(T, "0", x)


def _repvgg_merged(T, k, groups=1, **_):
    C = T["x"].shape[0]
    weight = None
    bias = None
    for br, w in (("3", T["w3"]), ("1", T["w1"]), ("0", _identity_kernel(T["x"], C, groups))):
        a = T["gamma" + br] * T["r" + br]
        folded = _embed(w * a.reshape((C, 1, 1, 1)), k)
        shift = T["beta" + br] - a * T["mu" + br]
        weight = folded if weight is None else weight + folded
        bias = shift if bias is None else bias + shift
    return ops.conv2d(T["x"], weight, bias, padding=k // 2, groups=groups)


CHECK_REPVGG = """
def test_folding_repvgg_numeric():
    rng = np.random.default_rng(40)
    for C, k, groups in [(3, 3, 1), (4, 3, 2), (2, 5, 1)]:
        x = rng.standard_normal((2, C, 8, 8))
        w3, w1 = rng.standard_normal((C, C // groups, k, k)), rng.standard_normal((C, C // groups, 1, 1))
        eye = np.zeros((C, C // groups, 1, 1))
        eye[np.arange(C), np.arange(C) % (C // groups)] = 1
        bns = [(rng.standard_normal(C), rng.random(C) + 0.5, rng.standard_normal(C), rng.standard_normal(C))
               for _ in range(3)]
        lhs = (ref.batch_norm(ref.conv2d(x, w3, padding=k // 2, groups=groups), *bns[0])
               + ref.batch_norm(ref.conv2d(x, w1, groups=groups), *bns[1]) + ref.batch_norm(x, *bns[2]))
        W, B = np.zeros((C, C // groups, k, k)), np.zeros(C)
        for w, (mean, var, gamma, beta) in zip((w3, w1, eye), bns):
            a = gamma / np.sqrt(var + 1e-5)
            e = (k - w.shape[2]) // 2
            W[:, :, e:e + w.shape[2], e:e + w.shape[3]] += w * a[:, None, None, None]
            B += beta - a * mean
        np.testing.assert_allclose(lhs, ref.conv2d(x, W, B, padding=k // 2, groups=groups), rtol=1e-10, atol=1e-10)
"""

repvgg = Identity(
    "folding.repvgg",
    "RepVGG: k x k + 1 x 1 + identity, each with BatchNorm, is one k x k conv",
    "bn3(conv(x, w3, padding k//2)) + bn1(conv(x, w1)) + bn0(x) == conv(x, W, B, padding k//2) with W the sum "
    "of the three BatchNorm-folded kernels, the 1x1 and the identity kernel centred in k x k, and B the sum of "
    "the folded biases beta - gamma r mu. Every entry symbolic (three independent BatchNorms).",
    inputs=_repvgg_inputs,
    lhs=_repvgg_branches,
    rhs=_repvgg_merged,
    family=[dict(C=1, k=3, n=3), dict(C=2, k=3, n=3), dict(C=2, k=3, n=3, groups=2), dict(C=2, k=5, n=3),
            dict(C=3, k=3, n=4, groups=3)],
    check_source=CHECK_REPVGG,
)


def _dbb_inputs(C, M, O, k, n, **_):
    return {"x": (C, n, n), "w1": (M, C, 1, 1), "b1": (M,), "w2": (O, M, k, k), "b2": (O,)}


def _dbb_branch(T, p, **_):
    h = ops.conv2d(T["x"], T["w1"], T["b1"])
    return ops.conv2d(_pad_with(h, T["b1"], p), T["w2"], T["b2"])


def _dbb_merged(T, p, **_):
    W = ops.merge_kernels(T["w1"], T["w2"])
    return ops.conv2d(T["x"], W, ops.merge_bias(T["w2"], T["b1"], T["b2"]), padding=p)


CHECK_DBB = """
def test_folding_dbb_1x1_kxk_numeric():
    rng = np.random.default_rng(41)
    for C, M, O, k, p in [(2, 3, 4, 3, 1), (3, 2, 2, 5, 2), (1, 4, 2, 3, 0)]:
        x = rng.standard_normal((2, C, 7, 7))
        w1, b1 = rng.standard_normal((M, C, 1, 1)), rng.standard_normal(M)
        w2, b2 = rng.standard_normal((O, M, k, k)), rng.standard_normal(O)
        h = ref.conv2d(x, w1, b1)
        hp = np.empty((2, M, 7 + 2 * p, 7 + 2 * p))
        hp[...] = b1[None, :, None, None]        # the intermediate is padded with b1 (BNAndPad)
        hp[:, :, p:p + 7, p:p + 7] = h
        lhs = ref.conv2d(hp, w2, b2)
        W = np.einsum("mc,omuv->ocuv", w1[:, :, 0, 0], w2)
        rhs = ref.conv2d(x, W, b2 + w2.sum(axis=(2, 3)).dot(b1), padding=p)
        np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)
"""

dbb_1x1_kxk = Identity(
    "folding.dbb-1x1-kxk",
    "Diverse Branch Block: a 1x1 then k x k branch is one k x k conv",
    "A 1x1 conv (w1, b1) whose output is padded by p with b1 (not 0: the padded ring of the 1x1's output is "
    "what the 1x1 computes on zero input), then a k x k conv (w2, b2) without padding, equals one k x k conv "
    "with padding p, kernel W[o,c] = sum_m w1[m,c] w2[o,m] and bias b2 + sum(w2) b1. (Zero padding of the "
    "intermediate instead breaks it on the ring unless b1 = 0: merge.padded-second.)",
    inputs=_dbb_inputs,
    lhs=_dbb_branch,
    rhs=_dbb_merged,
    family=[dict(C=c_, M=m_, O=2, k=k, n=2, p=p) for k in (1, 3) for p in (1, 2) for c_ in (1, 2) for m_ in (1, 2)],
    check_source=CHECK_DBB,
)


def _avg_inputs(C, n, **_):
    return {"x": (C, n, n)}


def _avg_pool(T, k, s, p, **_):
    xp = _zero_pad(T["x"], p)
    out = (xp.shape[1] - k) // s + 1
    total = None
    for du in range(k):
        for dv in range(k):
            window = xp[:, du : du + s * (out - 1) + 1 : s, dv : dv + s * (out - 1) + 1 : s]
            total = window if total is None else total + window
    return total * Fraction(1, k * k)


def _avg_as_conv(T, k, s, p, **_):
    C = T["x"].shape[0]
    kernel = np.empty((C, 1, k, k), dtype=object)
    kernel[...] = Fraction(1, k * k)
    return ops.conv2d(T["x"], T["x"].constant_like(kernel), stride=s, padding=p, groups=C)


CHECK_AVG = """
def test_folding_avgpool_is_conv_numeric():
    rng = np.random.default_rng(42)
    for C, k, s, p in [(3, 2, 2, 0), (2, 3, 1, 1), (4, 3, 2, 1), (1, 5, 1, 2)]:
        x = rng.standard_normal((2, C, 9, 9))
        kernel = np.full((C, 1, k, k), 1.0 / (k * k))
        lhs = ref.avg_pool2d(x, k, s, p, count_include_pad=True)
        np.testing.assert_allclose(lhs, ref.conv2d(x, kernel, stride=s, padding=p, groups=C), rtol=1e-12, atol=1e-12)


def test_folding_avgpool_is_conv_exact():
    x = np.arange(2 * 5 * 5).reshape(1, 2, 5, 5).astype(object)
    kernel = np.full((2, 1, 3, 3), Fraction(1, 9), dtype=object)
    assert (ref.avg_pool2d(x, 3, 1, 1) == ref.conv2d(x, kernel, padding=1, groups=2)).all()
"""

avgpool_is_conv = Identity(
    "folding.avgpool-is-conv",
    "An average-pooling branch is a depthwise conv",
    "avg_pool2d(x, k, stride s, padding p, count_include_pad=True) == conv(x, K, stride s, padding p, "
    "groups C) with K[c, 0] = 1/k^2 everywhere; so an average-pooling branch merges like any other "
    "(merge_parallel; a dense groups=1 form has K[o, c] = delta(o, c)/k^2).",
    inputs=_avg_inputs,
    lhs=_avg_pool,
    rhs=_avg_as_conv,
    family=[dict(C=2, n=5, k=k, s=s, p=p) for k in (2, 3) for s in (1, 2) for p in range(k // 2 + 1)],
    check_source=CHECK_AVG,
)

# ---------------------------------------------------------------------------------------------
# 4b. a dilated kernel is a sparse dense kernel (what dilated re-parameterisation rests on)

dk_k, dk_s, dk_d = sizes("k s d")
dk_i, dk_a, dk_t, dk_u = index("i a t u")
dk_x, dk_w, dk_W = IndexedBase("x"), IndexedBase("w"), IndexedBase("W")


def _sparse_body(w, k, d, t):
    return SumExpr.of(Term(w[dk_u], (Range.of(dk_u, 0, k - 1),), (sympy.Eq(d * dk_u, t),)))


sparse_kernel = OpDef(
    "sparse_kernel",
    _sparse_body,
    lambda p, w, k, d, t: rf"\left({_l(p, w)}^{{\uparrow {_l(p, d)}}}\right)_{{{_l(p, t)}}}",
    doc=r"(w^{\uparrow d})_t = \sum_{u=0,\ d u = t}^{k-1} w_u: the kernel with d - 1 zeros between taps.",
)
W_sparse = Let(dk_W, lambda tt: SumExpr.of(sparse_kernel(dk_w, dk_k, dk_d, tt)))

CHECK_DILATED_SPARSE = """
def test_folding_dilated_kernel_is_a_sparse_kernel_numeric():
    rng = np.random.default_rng(61)
    cases = [(2, 4, 3, 2, 1, 2, 1), (4, 4, 3, 3, 2, 3, 4), (3, 6, 2, 2, 1, 0, 3), (2, 2, 1, 4, 1, 0, 1)]
    for C, O, k, d, s, p, g in cases:
        x = rng.integers(-5, 6, (1, C, 11, 12)).astype(object)
        w = rng.integers(-5, 6, (O, C // g, k, k)).astype(object)
        sparse = np.zeros((O, C // g, d * (k - 1) + 1, d * (k - 1) + 1), dtype=object)
        sparse[...] = 0
        sparse[:, :, ::d, ::d] = w
        lhs = ref.conv2d(x, w, stride=s, padding=p, dilation=d, groups=g)
        rhs = ref.conv2d(x, sparse, stride=s, padding=p, groups=g)
        assert (lhs == rhs).all()
"""

dilated_sparse = General(
    "folding.dilated-kernel-sparse",
    "A dilated kernel is a sparse kernel",
    "For all kernel sizes k, strides s and dilations d: a convolution with dilation d equals the convolution "
    "with dilation 1 whose kernel of size d(k-1)+1 holds w_u at tap d u and zeros in between. Per axis, so it "
    "holds for 2-D kernels, with any padding and groups; it is what lets parallel branches with different "
    "dilations merge into one large kernel (dilated re-parameterisation).",
    lhs=D.conv1d(dk_x, dk_w, dk_k, dk_s, dk_d, dk_i),
    rhs=D.conv1d(dk_x, dk_W, dk_d * (dk_k - 1) + 1, dk_s, 1, dk_i),
    lets=[W_sparse],
    derivation=[
        Unfold("conv1d", ("a",)),
        GroupBy("t", dk_d * dk_a, 0, dk_d * (dk_k - 1), dk_w[dk_a] * dk_x[dk_s * dk_i + dk_t], ("a",)),
        Fold(sparse_kernel(dk_w, dk_k, dk_d, dk_t), ("a",)),
        Name(W_sparse, (dk_t,)),
        Fold(D.conv1d(dk_x, dk_W, dk_d * (dk_k - 1) + 1, dk_s, 1, dk_i), ("t",)),
    ],
    instances=[{"k": 3, "s": 1, "d": 2}, {"k": 2, "s": 2, "d": 3}, {"k": 1, "s": 1, "d": 4}],
    check_source=CHECK_DILATED_SPARSE,
)

# =============================================================================================
# 5. cross-layer equalization (DFQ)
# 5a. the two linear lemmas, for all sizes

tt, ss = IndexedBase("t"), IndexedBase("s")
U, V, Wt2 = IndexedBase("u"), IndexedBase("y"), IndexedBase(r"\tilde{w}")
W_out = Let(Wt2, lambda oo, cc, uu, vv: SumExpr.of(tt[oo] * Wt[oo, cc, uu, vv]))
W_in = Let(Wt2, lambda oo, cc, uu, vv: SumExpr.of(Wt[oo, cc, uu, vv] * ss[cc]))
y_in = Let(V, lambda cc, ii, jj: SumExpr.of(ss[cc] * U[cc, ii, jj]))


CHECK_SCALE_OUT = """
def test_cle_scale_out_exact():
    # t w, t b per output channel scales that output channel by t, border and groups included
    rng = np.random.default_rng(40)
    for k, s, p, d, groups in [(1, 1, 0, 1, 1), (3, 2, 1, 1, 2), (3, 1, 2, 2, 4), (2, 2, 1, 2, 1)]:
        x = rng.integers(-5, 6, (2, 4, 6, 6)).astype(object)
        w, b = rng.integers(-5, 6, (4, 4 // groups, k, k)).astype(object), rng.integers(-5, 6, 4).astype(object)
        t = np.array([Fraction(int(v), 3) for v in rng.integers(1, 9, 4)], dtype=object)
        lhs = ref.conv2d(x, w * t[:, None, None, None], b * t, s, p, d, groups)
        assert (lhs == ref.conv2d(x, w, b, s, p, d, groups) * t[None, :, None, None]).all()
"""


def _scale_out_inputs(C, O, k, n, groups=1, **_):
    return {"x": (C, n, n), "w": (O, C // groups, k, k), "b": (O,), "t": (O,)}


# a list, so that the cross-check is not collected as a theorem of its own
_SCALE_OUT_EXACT = [Identity(
    "folding.cle-scale-out-exact",
    "Scaling output channels: padding, stride, dilation, groups",
    "conv(x, t w, t b) == t conv(x, w, b) per output channel, exactly, with padding, stride, dilation, groups.",
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
    "For all channel counts and kernel sizes: conv(x, w~) + t[o] b[o] == t[o] (conv(x, w) + b[o]) where "
    "w~[o] = t[o] w[o]. In equalization t[o] = 1/s[o]. Cross-checked with padding, strides, dilation and groups.",
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
    check_source=CHECK_SCALE_OUT,
)


CHECK_SCALE_IN = """
def test_cle_scale_in_exact():
    # weight column col of output o reads input channel (o // (O / groups)) * (C / groups) + col
    rng = np.random.default_rng(41)
    for k, s, p, d, groups, O in [(1, 1, 0, 1, 1, 2), (3, 2, 1, 1, 2, 4), (3, 1, 2, 2, 4, 4), (2, 2, 1, 2, 2, 6)]:
        u = rng.integers(-5, 6, (2, 4, 6, 6)).astype(object)
        w = rng.integers(-5, 6, (O, 4 // groups, k, k)).astype(object)
        sc = np.array([Fraction(int(v), 4) for v in rng.integers(1, 9, 4)], dtype=object)
        ws = w.copy()
        for o in range(O):
            for col in range(4 // groups):
                ws[o, col] = w[o, col] * sc[(o // (O // groups)) * (4 // groups) + col]
        lhs = ref.conv2d(u, ws, None, s, p, d, groups)
        assert (lhs == ref.conv2d(u * sc[None, :, None, None], w, None, s, p, d, groups)).all()
"""


def _scale_in_inputs(C, O, k, n, groups=1, **_):
    return {"u": (C, n, n), "w": (O, C // groups, k, k), "s": (C,)}


_SCALE_IN_EXACT = [Identity(
    "folding.cle-scale-in-exact",
    "Scaling input channels: padding, stride, dilation, groups",
    "conv(u, w s[c]) == conv(s u, w) exactly, with zero padding (s 0 = 0), stride, dilation and groups "
    "(weight column k of output o carries the scale of the input channel it reads).",
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
    "For all channel counts and kernel sizes: conv(u, w~) == conv(y, w) where w~[o, c] = w[o, c] s[c] and "
    "y[c] = s[c] u[c]. Cross-checked with padding, strides, dilation and groups (depthwise included).",
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
    check_source=CHECK_SCALE_IN,
)

# ---------------------------------------------------------------------------------------------
# 5b. exact arguments that are not polynomial identities

def _witnessed(name, title, gloss, build, **kw) -> Refutation:
    """A refutation at the exact witness ``build()`` describes: the kernel evaluates the two sides
    (``build()["lhs"]`` and ``["rhs"]``, exact Fractions computed with convsym.reference) itself."""
    w = build()
    return Refutation(name, title, gloss, lhs=lambda **_: build()["lhs"], rhs=lambda **_: build()["rhs"],
                      witness=dict(w["assignment"]), where=w["where"], describe=w["description"], data=w["data"],
                      **kw)


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

CHECK_CLE_TEMPLATE = """
def test_folding_cle_{fn}_numeric():
    rng = np.random.default_rng({seed})
    act = {act}
    for C, M, O, k1, k2, p1, p2, g2 in [(3, 4, 5, 3, 3, 1, 1, 1), (2, 6, 6, 1, 3, 0, 1, 6), (4, 3, 2, 3, 1, 2, 0, 1)]:
        x = rng.standard_normal((2, C, 7, 7))
        w1, b1 = rng.standard_normal((M, C, k1, k1)), rng.standard_normal(M)
        w2, b2 = rng.standard_normal((O, M // g2, k2, k2)), rng.standard_normal(O)
        lhs = ref.conv2d(act(ref.conv2d(x, w1, b1, padding=p1)), w2, b2, padding=p2, groups=g2)
        s = np.exp(rng.standard_normal(M))           # any positive scales
        cols = (np.arange(O)[:, None] // (O // g2)) * (M // g2) + np.arange(M // g2)[None, :]
        w1s, b1s, w2s = w1 / s[:, None, None, None], b1 / s, w2 * s[cols][:, :, None, None]
        rhs = ref.conv2d(act(ref.conv2d(x, w1s, b1s, padding=p1)), w2s, b2, padding=p2, groups=g2)
        np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)
"""

ACT_NUMPY = {
    "relu": "lambda h: np.maximum(h, 0)",
    "leaky_relu": "lambda h: np.where(h >= 0, h, 0.1 * h)",
    "prelu": "lambda h: np.where(h >= 0, h, np.linspace(-0.5, 0.5, h.shape[1])[None, :, None, None] * h)",
    "identity": "lambda h: h",
}


def _cle_derivation(name: str):
    f, tex = ACTIVATIONS[name]
    z, w = sympy.Symbol("z", real=True), sympy.Symbol("w", real=True)

    def derive(P: Proof) -> None:
        homogeneity = f(s_pos * z) - s_pos * f(z)
        if homogeneity == 0:  # a linear f: no cases needed
            P.zero(f"f(z) = {name}: positive homogeneity", homogeneity,
                   shown=rf"f(s z) = s f(z) \quad (s > 0),\ f(z) = {tex}")
        else:
            P.cases(f"f(z) = {name}: positive homogeneity, on each sign of z", homogeneity, z,
                    rf"f(s z) = s f(z) \quad (s > 0),\ f(z) = {tex}")
        P.lemma("first layer: output channel i (weights and bias) divided by s_i divides channel i of its output",
                scale_out, r"\tilde{w}_1 \star x + \tilde{b}_1 = \tfrac{1}{s} \odot (w_1 \star x + b_1)")
        P.lemma("second layer: input channel i's weights multiplied by s_i multiply input channel i by s_i",
                scale_in, r"(w_2 \odot s) \star u = w_2 \star (s \odot u)")
        undo = w * s_pos * f(z / s_pos) - w * f(z)
        text = ("so each weight w of layer 2 that reads channel i, multiplied by s_i, undoes the scale through f: "
                "(w s_i) f(h_i / s_i) = w f(h_i) for every pre-activation h_i")
        shown = r"(w s_i)\, f\!\left(\tfrac{h_i}{s_i}\right) = w f(h_i)"
        if undo == 0:
            P.zero(text, undo, shown=shown)
        else:
            P.cases(text, undo, z, shown)

    return derive


def _cle_theorem(name: str, seed: int) -> Checked:
    fn = name.replace("_", "-")
    return Checked(
        f"folding.cle-{fn}",
        f"Cross-layer equalization is exact through {name}",
        f"For every s_i > 0: dividing output channel i of layer 1 (weights and bias) by s_i and multiplying the "
        f"weights of layer 2 that read channel i by s_i leaves layer2({name}(layer1(x))) unchanged, because "
        f"{name} is positively homogeneous: f(s z) = s f(z) for s > 0"
        + (" (PReLU: the slope alpha_i belongs to channel i, as s_i does)." if name == "prelu" else ".")
        + " It holds per intermediate channel i, whatever the kernel sizes, paddings, strides and output channel "
        "counts of the two layers: only layer 1's output channel i and layer 2's input channel i are touched "
        "(layers with different numbers of kernels equalize; what is balanced are the C_mid channels "
        "between them, r1_i over the kernel i of layer 1 and r2_i over slice [:, i] of layer 2).",
        derive=_cle_derivation(name),
        check_source=CHECK_CLE_TEMPLATE.format(fn=name, seed=seed, act=ACT_NUMPY[name]),
    )


cle_relu = _cle_theorem("relu", 50)
cle_leaky = _cle_theorem("leaky_relu", 51)
cle_prelu = _cle_theorem("prelu", 52)
cle_identity = _cle_theorem("identity", 53)


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
        how = "the DFQ scale s = sqrt(r1 r2)/r2" if scale is None else "the scale s"
        return {
            "lhs": lhs, "rhs": rhs, "where": "y_{0,0,0,0}",
            "description": (f"one channel, 1x1 kernels, one pixel: w1 = {w1}, w2 = {w2}, x = {x}, {how} = {s}; "
                            f"layer2({activation}(layer1(x))) = {lhs} but after scaling it is {rhs}."),
            "assignment": [("w^{(1)}", Fraction(w1)), ("w^{(2)}", Fraction(w2)), ("x", Fraction(x)), ("s", s)],
            "data": {"activation": activation, "w1": str(w1), "w2": str(w2), "x": str(x), "s": str(s),
                     "lhs": str(lhs), "rhs": str(rhs)},
        }
    return build


SCALING_WITNESS_HELPER = """
def _confirm_scaling_witness(witness):
    # one channel, 1x1 kernels, one pixel: both sides exactly, through the activation
    acts = {
        "relu": lambda h: np.maximum(h, 0),
        "relu6": lambda h: np.minimum(np.maximum(h, 0), 6),
        "hardswish": lambda h: h * np.minimum(np.maximum(h + 3, 0), 6) / 6,
        "sigmoid": lambda h: 1 / (1 + np.exp(-h.astype(float))),
    }
    act = acts[witness["activation"]]
    w1, w2, x, s = (Fraction(witness[k]) for k in ("w1", "w2", "x", "s"))
    W1, W2 = np.full((1, 1, 1, 1), w1, dtype=object), np.full((1, 1, 1, 1), w2, dtype=object)
    xx = np.full((1, 1, 1, 1), x, dtype=object)
    lhs = ref.conv2d(act(ref.conv2d(xx, W1)), W2)[0, 0, 0, 0]
    rhs = ref.conv2d(act(ref.conv2d(xx, W1 / s)), W2 * s)[0, 0, 0, 0]
    assert abs(float(lhs) - float(Fraction(witness["lhs"]))) < 1e-12
    assert abs(float(rhs) - float(Fraction(witness["rhs"]))) < 1e-12
    assert abs(float(lhs) - float(rhs)) > 1e-3
"""

SCALING_WITNESS_CHECK = "_confirm_scaling_witness(witness)"

CHECK_NOT_HOMOGENEOUS = """
def test_folding_cle_not_homogeneous_numeric():
    # on random networks equalization changes the output through relu6, hard-swish and sigmoid
    rng = np.random.default_rng(55)
    x = 4 * rng.standard_normal((1, 3, 6, 6))
    w1, w2 = 3 * rng.standard_normal((4, 3, 3, 3)), rng.standard_normal((2, 4, 1, 1))
    s = np.array([0.25, 4.0, 0.5, 3.0])
    for act in (lambda h: np.clip(h, 0, 6), lambda h: h * np.clip(h + 3, 0, 6) / 6, lambda h: 1 / (1 + np.exp(-h))):
        lhs = ref.conv2d(act(ref.conv2d(x, w1)), w2)
        rhs = ref.conv2d(act(ref.conv2d(x, w1 / s[:, None, None, None])), w2 * s[None, :, None, None])
        assert np.abs(lhs - rhs).max() > 1e-3
"""

cle_relu6 = _witnessed(
    "folding.cle-relu6",
    "Equalization is not exact through ReLU6",
    "Claim (false): equalization with the DFQ scales leaves layer2(relu6(layer1(x))) unchanged. relu6 clips "
    "at 6, so relu6(z/s) s != relu6(z) once z/s or z exceeds 6: it is not positively homogeneous.",
    build=_scaling_witness("relu6", 4, 1, 2),
    witness_check=SCALING_WITNESS_CHECK,
    check_source=CHECK_NOT_HOMOGENEOUS + "\n" + SCALING_WITNESS_HELPER,
)
cle_hardswish = _witnessed(
    "folding.cle-hardswish",
    "Equalization is not exact through hard-swish",
    "Claim (false): equalization leaves layer2(hardswish(layer1(x))) unchanged; hardswish(z) = z relu6(z+3)/6 "
    "is quadratic on [-3, 3].",
    build=_scaling_witness("hardswish", 4, 1, Fraction(1, 2)),
    witness_check=SCALING_WITNESS_CHECK,
)
cle_sigmoid = _witnessed(
    "folding.cle-sigmoid",
    "Equalization is not exact through the sigmoid",
    "Claim (false): equalization leaves layer2(sigmoid(layer1(x))) unchanged. At a zero pre-activation the "
    "sigmoid is exactly 1/2 before and after scaling, so the second layer's factor s_i is not undone.",
    build=_scaling_witness("sigmoid", 4, 1, 0),
    witness_check=SCALING_WITNESS_CHECK,
)
cle_negative = _witnessed(
    "folding.cle-relu-negative-scale",
    "Equalization through ReLU needs s_i > 0",
    "Claim (false): the rescaling is exact through ReLU for every nonzero s_i. For s_i < 0 the sign flips "
    "before the ReLU: relu(-z) (-1) != relu(z).",
    build=_scaling_witness("relu", 1, 1, 1, scale=-1),
    witness_check=SCALING_WITNESS_CHECK,
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
    P.positive("s is positive for positive ranges (so equalization is exact through ReLU)", S_DFQ,
               r"s = \frac{\sqrt{r_1 r_2}}{r_2} > 0")
    P.real_valid("a positive factor leaves the arg-max in place: max(|a x|, |a y|) = a max(|x|, |y|) for a > 0, "
                 "so max_j |a w_j| = a max_j |w_j| (max over more entries is iterated max)",
                 _max_scales_formula(), r"\max_j |a w_j| = a \max_j |w_j| \quad (a > 0)", (r"a > 0",))
    P.zero("range of layer 1: r1' = max |w1[i] / s| = r1 / s = sqrt(r1 r2)", r1s / S_DFQ - sympy.sqrt(r1s * r2s),
           shown=r"\frac{r_1}{s} = \sqrt{r_1 r_2}")
    P.zero("range of layer 2: r2' = max |w2[:, i] s| = r2 s = sqrt(r1 r2)", r2s * S_DFQ - sympy.sqrt(r1s * r2s),
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
        "Per-channel weight ranges of two layers before and after cross-layer equalization, computed by "
        "convsym.transforms.equalize on small integer weights (layer 1: 4 output channels of 2 x 1 x 2 "
        f"weights; layer 2: 3 x 4 x 1 x 1). The scales are $s = ({shown})$; afterwards both ranges of "
        "channel $i$ are $\\sqrt{r_{1,i} r_{2,i}}$."
    )
    return tikz, caption


equalized_ranges = Checked(
    "folding.cle-equalized-ranges",
    "The DFQ scale makes both ranges $\\sqrt{r_1 r_2}$",
    "With r1_i = max |first.weight[i]| > 0 and r2_i = max |second.weight[:, i]| > 0 (per intermediate channel i; "
    "the two layers may have any kernel sizes and output channel counts), s_i = sqrt(r1_i r2_i)/r2_i is positive "
    "and after equalization the ranges are r1_i/s_i = r2_i s_i = sqrt(r1_i r2_i). Channels with r1_i = 0 or "
    "r2_i = 0 keep s_i = 1 (any positive s_i is exact there; nothing is balanced).",
    derive=derive_equalized_ranges,
    figure=_equalization_figure,
    check_source="""
def test_folding_cle_equalized_ranges_numeric():
    rng = np.random.default_rng(56)
    w1, w2 = rng.standard_normal((6, 3, 3, 3)), rng.standard_normal((5, 6, 1, 1))
    r1, r2 = np.abs(w1).max(axis=(1, 2, 3)), np.abs(w2).max(axis=(0, 2, 3))
    s = np.sqrt(r1 * r2) / r2
    np.testing.assert_allclose(np.abs(w1 / s[:, None, None, None]).max(axis=(1, 2, 3)), np.sqrt(r1 * r2), rtol=1e-12)
    np.testing.assert_allclose(np.abs(w2 * s[None, :, None, None]).max(axis=(0, 2, 3)), np.sqrt(r1 * r2), rtol=1e-12)
""",
)


def derive_optimal(P: Proof) -> None:
    s_, c1 = sympy.symbols("s c_1", positive=True)
    a1, b1, R1s, R2s = sympy.symbols("a b R_1 R_2", positive=True)
    R1, R2, p1, p2, q1, q2 = z3.Reals("R1 R2 p1 p2 q1 q2")
    lower = z3.ForAll([R1, R2, p1, p2], z3.Implies(z3.And(p1 > 0, p2 > 0, R1 >= p1, R2 >= p2), R1 * R2 >= p1 * p2))
    zmax = z3.If(q1 >= q2, q1, q2)
    zmax_sq = z3.If(q1 * q1 >= q2 * q2, q1 * q1, q2 * q2)
    monotone = z3.ForAll([q1, q2], z3.Implies(z3.And(q1 > 0, q2 > 0), zmax * zmax == zmax_sq))
    P.zero("the product of the two ranges of a channel does not depend on s_i", r1s / s_ * (r2s * s_) - r1s * r2s,
           shown=r"\frac{r_{1,i}}{s_i}\, r_{2,i} s_i = r_{1,i} r_{2,i} =: c_i")
    P.zero("each term of DFQ's objective sum_i p1_i p2_i, with precisions p_k,i = r_k,i'/R_k', is the channel's "
           "invariant over R1' R2', so maximising the (finite) sum is minimising R1' R2'",
           (a1 / R1s) * (b1 / R2s) - (a1 * b1) / (R1s * R2s),
           shown=r"\frac{r'_{1,i}}{R'_1}\frac{r'_{2,i}}{R'_2} = \frac{c_i}{R'_1 R'_2}")
    P.real_valid("for every choice of s > 0 and every channel i: R1' R2' >= r1_i' r2_i' = c_i, so R1' R2' >= "
                 "max_i c_i", lower, r"R'_1 R'_2 \ge \max_i c_i", (r"R'_k \ge r'_{k,i} > 0",))
    P.real_valid("the equalized scales give r1_i' = r2_i' = sqrt(c_i), so R1' = R2' = max_i sqrt(c_i), and "
                 "(max_i sqrt c_i)^2 = max_i c_i: max(q1, q2)^2 = max(q1^2, q2^2) for q1, q2 > 0", monotone,
                 r"\left(\max_i \sqrt{c_i}\right)^2 = \max_i c_i")
    P.zero("with q_i = sqrt(c_i)", sympy.sqrt(c1) ** 2 - c1, shown=r"\sqrt{c_i}^{\,2} = c_i")


equalized_optimal = Checked(
    "folding.cle-optimal",
    "The equalized scales maximise DFQ's precision objective",
    "Let r1_i' = r1_i/s_i and r2_i' = r2_i s_i be the ranges after scaling, R_k' = max_i r_k,i' and p_k,i = "
    "r_k,i'/R_k' (the precision of channel i in layer k under per-tensor quantization). Over all s > 0, "
    "sum_i p1_i p2_i is at most sum_i c_i / max_i c_i with c_i = r1_i r2_i, and s_i = sqrt(r1_i r2_i)/r2_i attains "
    "it. The maximiser is not unique: any s with max_i r1_i/s_i times max_i r2_i s_i equal to max_i c_i is "
    "optimal too; the equalized one is the one with equal per-channel ranges r1_i' = r2_i'.",
    derive=derive_optimal,
    remarks=(r"The ranges $r_{1,i}, r_{2,i}$ and the scales $s_i$ are positive (declared so in the proof).",),
    check_source="""
def test_folding_cle_optimal_numeric():
    rng = np.random.default_rng(57)
    r1, r2 = rng.random(8) + 0.01, rng.random(8) + 0.01

    def objective(s):
        a, b = r1 / s, r2 * s
        return ((a / a.max()) * (b / b.max())).sum()

    best = objective(np.sqrt(r1 * r2) / r2)
    np.testing.assert_allclose(best, (r1 * r2).sum() / (r1 * r2).max(), rtol=1e-12)
    for _ in range(200):
        assert objective(np.exp(2 * rng.standard_normal(8))) <= best * (1 + 1e-12)
""",
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
    P.numeric("equalize layer pairs (1, 2), (2, 3) in sweeps until every scale is 1 to 1e-12 (float64, a fixed "
              "seed): convergence is observed, not proved", observe, r"\max_i |\log s_i| < 10^{-12}")


iterated = Checked(
    "folding.cle-iterated",
    "Chains of layers: iterated equalization reaches a fixed point (numeric)",
    "For a conv - depthwise conv - conv chain with ReLUs, repeatedly equalizing adjacent pairs converges: the "
    "scales tend to 1, at which point the middle layer's input and output ranges are balanced with both "
    "neighbours, and the network output is unchanged throughout (each step is exact, by folding.cle-relu). "
    "The convergence is observed in float64, not proved.",
    expected="observed",
    derive=derive_iterated,
    check_source="""
def test_folding_cle_iterated_fixed_point_numeric():
    rng = np.random.default_rng(59)
    w = [rng.standard_normal((6, 3, 3, 3)), rng.standard_normal((6, 1, 3, 3)), rng.standard_normal((4, 6, 1, 1))]
    for _ in range(500):
        r1, r2 = np.abs(w[0]).max(axis=(1, 2, 3)), np.abs(w[1]).max(axis=(1, 2, 3))
        s = np.sqrt(r1 * r2) / r2
        w[0], w[1] = w[0] / s[:, None, None, None], w[1] * s[:, None, None, None]
        r2b, r3 = np.abs(w[1]).max(axis=(1, 2, 3)), np.abs(w[2]).max(axis=(0, 2, 3))
        t = np.sqrt(r2b * r3) / r3
        w[1], w[2] = w[1] / t[:, None, None, None], w[2] * t[None, :, None, None]
        if max(np.abs(np.log(s)).max(), np.abs(np.log(t)).max()) < 1e-12:
            break
    else:
        raise AssertionError("no fixed point")
""",
)

# =============================================================================================
# 6. bias absorption (DFQ)


def derive_absorb_condition(P: Proof) -> None:
    zz, cc = z3.Reals("z c")

    def relu(e):
        return z3.If(e >= 0, e, 0)

    formula = z3.ForAll([zz, cc], (relu(zz - cc) + cc == relu(zz)) == z3.Or(cc == 0, zz >= z3.If(cc >= 0, cc, 0)))
    P.real_valid("relu(z - c) + c = relu(z) as a statement over all real z, c", formula,
                 r"\mathrm{relu}(z - c) + c = \mathrm{relu}(z) \iff c = 0 \lor z \ge \max(c, 0)")
    P.lemma("the constant -c through layer 2 (no padding) is the bias -sum(w2) c", bias_through_conv,
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

__all__ = [
    "bias_through_conv", "bias_padded", "bn_after", "bn_after_exact", "bn_before", "bn_before_exact",
    "bn_before_padded", "bn_before_repair", "repvgg", "dbb_1x1_kxk", "avgpool_is_conv", "scale_out", "scale_in",
    "cle_relu", "cle_leaky", "cle_prelu", "cle_identity", "cle_relu6", "cle_hardswish", "cle_sigmoid",
    "cle_negative", "equalized_ranges", "equalized_optimal", "iterated", "absorb_condition", "absorb_below",
    "absorb_padded", "dilated_sparse",
]

if __name__ == "__main__":
    from convsym.run.registry import run_script

    raise SystemExit(run_script(globals()))
