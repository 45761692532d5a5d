"""Equivalent forms of a convolution layer, and where the equivalences stop.

PyTorch semantics throughout: cross-correlation, NCHW, zero padding.  Eight groups of facts:

1. a 1x1 convolution is a fully connected layer at every pixel (cost ``C_o C_i H W`` MACs); a
   fully connected layer on the flattened ``C x H x W`` map is a convolution whose kernel covers
   the map;
2. im2col: a convolution is a matrix product of the unfolded input with the flattened kernel,
   and a product with one (block Toeplitz) matrix;
3. deep-learning "convolution" is cross-correlation; true convolution flips the kernel, is
   commutative and associative, cross-correlation is neither; two stacked cross-correlations are
   one whose kernel is the true convolution of the two;
4. the order of layers matters with several channels; merging is associative;
5. pooling acts per channel; average pooling is a depthwise convolution exactly when no padding
   is excluded from the count and no ceil-mode window is cut; max pooling is not affine;
6. space-to-depth (seed 003): a conv on the pixel-unshuffled map is a strided conv on the map
   with the pixel-shuffled weight, at the same cost;
7. padding in the second of two merged layers: the exact condition, the exact border error and
   the repair (pad the intermediate with the bias value);
8. the converse of the merge: not every kernel splits into two with one middle channel (the
   exact criterion), every kernel splits with enough middle channels.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import sympy
import z3
from sympy import IndexedBase

from convsym.errors import ProofError
from convsym.exact import ops
from convsym.exact import rewrites as E
from convsym.exact.poly import PolyTensor
from convsym.exact.pool import VariablePool
from convsym.proof import Checked, General, Identity, Proof, Theorem
from convsym.proof.verdict import Family
from convsym.render import figures
from convsym.symbolic import opdefs as D
from convsym.symbolic.rules import Collapse, Fold, GroupBy, Name, Reorder, Substitute, Unfold
from convsym.symbolic.sums import Let, OpDef, Range, SumExpr, Term, evaluate, index
from convsym.symbolic.symbols import sizes

FAMILY = Family(
    "equivalences",
    "Equivalent forms of a convolution",
    intro=(
        "A convolution layer has many faces: a fully connected layer at every pixel ($1\\times 1$), "
        "a matrix product (im2col, Toeplitz), a cross-correlation that hides a true convolution, a "
        "depthwise convolution (average pooling), a large strided convolution on a depth-to-space map. "
        "This chapter proves each equivalence (for all sizes where it is true), refutes the ones that "
        "fail with exact counterexamples (cross-correlation is neither commutative nor associative, "
        "max pooling is not affine, padding breaks merges), and answers the converse of the merge: "
        "which kernels split into two."
    ),
    order=20,
)


# =============================================================================================
# 1. 1x1 convolution and fully connected layers

C, H, W_ = sizes("C H W")
C_o, C_i = sizes("C_o C_i")
o, c, i, j = index("o c i j")
u, v, r, n = index("u v r n")
X, V, A = IndexedBase("x"), IndexedBase("w"), IndexedBase("A")


def _pixel_linear_body(x, A_, C_, o_, i_, j_):
    cc, = index("c")
    return SumExpr.of(Term(A_[o_, cc] * x[cc, i_, j_], (Range.of(cc, 0, C_ - 1),)))


pixel_linear = OpDef(
    "pixel_linear", _pixel_linear_body,
    lambda p, x, A_, C_, o_, i_, j_: (
        rf"\left({p._print(A_)}\, {p._print(x)}_{{:,{p._print(i_)},{p._print(j_)}}}\right)_{{{p._print(o_)}}}"),
    doc=r"(A x_{:,i,j})_o = \sum_c A_{o,c} x_{c,i,j}: a fully connected layer applied at pixel (i, j).",
)

A_1x1 = Let(A, lambda oo, cc: SumExpr.of(V[oo, cc, 0, 0]))

conv1x1_linear = General(
    "equivalences.conv1x1-linear",
    "A $1\\times 1$ convolution is a fully connected layer at every pixel",
    "For all channel counts: conv2d(x, w) with a 1x1 kernel equals, at every pixel (i, j), the fully "
    "connected layer A x[:, i, j] with A[o, c] = w[o, c, 0, 0] (channels are the features, pixels the "
    "samples).",
    lhs=D.conv2d(X, V, C, 1, 1, o, i, j),
    rhs=pixel_linear(X, A, C, o, i, j),
    lets=[A_1x1],
    derivation=[
        Unfold("conv2d", ("c", "u", "v")),
        Collapse("u", 0),
        Collapse("v", 0),
        Name(A_1x1, (o, c)),
        Fold(pixel_linear(X, A, C, o, i, j), ("c",)),
    ],
    instances=[{"C": 1}, {"C": 3}],
    check_source="""
def test_conv1x1_is_linear_numeric():
    rng = np.random.default_rng(10)
    for co, ci, h, w in [(1, 1, 1, 1), (2, 3, 3, 3), (5, 4, 2, 7)]:
        x, k, b = rng.standard_normal((2, ci, h, w)), rng.standard_normal((co, ci, 1, 1)), rng.standard_normal(co)
        conv = ref.conv2d(x, k, b)
        pixels = x.transpose(0, 2, 3, 1)                     # samples = pixels, features = channels
        fc = ref.linear(pixels, k[:, :, 0, 0], b).transpose(0, 3, 1, 2)
        np.testing.assert_allclose(conv, fc, rtol=1e-12, atol=1e-12)
        # the seed's corr2d_multi_in_out_1x1: Y = K.view(co, ci) @ X.view(ci, h*w)
        mm = (k.reshape(co, ci) @ x[0].reshape(ci, h * w)).reshape(co, h, w) + b[:, None, None]
        np.testing.assert_allclose(conv[0], mm, rtol=1e-12, atol=1e-12)
""",
)


def derive_conv1x1_cost(P: Proof) -> None:
    macs = P.summation("sum 1 over the output positions and the terms of the definition", 1,
                       [(c, 0, C_i - 1), (i, 0, H - 1), (j, 0, W_ - 1), (o, 0, C_o - 1)])
    P.equal("the closed form", macs, C_o * C_i * H * W_)
    P.cross_check("multiply-accumulates counted as the monomials w x of exact results",
                  [dict(C_o=1, C_i=1, H=1, W=1), dict(C_o=2, C_i=3, H=4, W=5), dict(C_o=4, C_i=2, H=3, W=3)],
                  lambda C_o, C_i, H, W: _count_conv_monomials(C_o, C_i, H, W),
                  lambda C_o, C_i, H, W: C_o * C_i * H * W)


def _count_conv_monomials(co, ci, h, w, k=1, s=1, p=0):
    pool = VariablePool()
    x = PolyTensor.variables(pool, "x", (ci, h, w))
    k_ = PolyTensor.variables(pool, "w", (co, ci, k, k))
    return ops.conv2d(x, k_, stride=s, padding=p).nnz


conv1x1_cost = Checked(
    "equivalences.conv1x1-cost",
    "A $1\\times 1$ convolution costs $C_o C_i H W$ multiply-accumulates",
    "For all sizes: a 1x1 convolution (stride 1, no padding) of a C_i x H x W input to C_o channels does "
    "C_o * C_i * H * W multiply-accumulates (one C_o x C_i matrix-vector product per pixel); without bias "
    "that is C_o (2 C_i - 1) H W floating point operations (the seed's answer to exercise 4).",
    derive=derive_conv1x1_cost,
    check_source="""
def test_conv1x1_cost_counts():
    rng = np.random.default_rng(11)
    for co, ci, h, w in [(1, 1, 1, 1), (3, 4, 5, 6)]:
        x, k = rng.integers(1, 5, (1, ci, h, w)).astype(object), np.ones((co, ci, 1, 1), dtype=object)
        # with all weights 1 every output entry is the sum of ci input values: ci MACs per output
        out = ref.conv2d(x, k)
        assert out.shape == (1, co, h, w)
        assert out.size * ci == co * ci * h * w
        assert (out == x.sum(axis=1, keepdims=True)).all()
""",
)


def _fc_flat_body(x, A_, C_, H_, W2, o_):
    cc, uu, vv = index("c u v")
    return SumExpr.of(Term(A_[o_, cc * H_ * W2 + uu * W2 + vv] * x[cc, uu, vv],
                           (Range.of(cc, 0, C_ - 1), Range.of(uu, 0, H_ - 1), Range.of(vv, 0, W2 - 1))))


fc_flat = OpDef(
    "fc_flat", _fc_flat_body,
    lambda p, x, A_, C_, H_, W2, o_: rf"\left({p._print(A_)}\, \mathrm{{vec}}\,{p._print(x)}\right)_{{{p._print(o_)}}}",
    doc=r"(A\,\mathrm{vec}\,x)_o = \sum_{c,u,v} A_{o, cHW + uW + v} x_{c,u,v}: a fully connected layer on the "
        r"row-major flattening of a C x H x W map.",
)
K_ = IndexedBase("K")
K_full = Let(K_, lambda oo, cc, uu, vv: SumExpr.of(A[oo, cc * H * W_ + uu * W_ + vv]))

fc_full_map = General(
    "equivalences.fc-full-map",
    "A fully connected layer on the flattened map is a convolution covering the map",
    "For all C, H, W: the fully connected layer A vec(x) on the row-major flattening of a C x H x W map "
    "equals the convolution of x with the H x W kernel K[o,c,u,v] = A[o, cHW + uW + v], whose single "
    "output position (0, 0) covers the whole map.",
    lhs=fc_flat(X, A, C, H, W_, o),
    rhs=D.conv2d(X, K_, C, H, W_, o, 0, 0),
    lets=[K_full],
    derivation=[
        Unfold("fc_flat", ("c", "u", "v")),
        Name(K_full, (o, c, u, v)),
        Fold(D.conv2d(X, K_, C, H, W_, o, 0, 0), ("c", "u", "v")),
    ],
    instances=[{"C": 1, "H": 2, "W": 1}, {"C": 2, "H": 1, "W": 2}],
    check_source="""
def test_fc_full_map_numeric():
    rng = np.random.default_rng(12)
    for o, c, h, w in [(1, 1, 1, 1), (3, 2, 4, 5), (2, 3, 3, 1)]:
        x, a, b = rng.standard_normal((2, c, h, w)), rng.standard_normal((o, c * h * w)), rng.standard_normal(o)
        fc = ref.linear(x.reshape(2, -1), a, b)
        conv = ref.conv2d(x, a.reshape(o, c, h, w), b)
        assert conv.shape == (2, o, 1, 1)
        np.testing.assert_allclose(conv[:, :, 0, 0], fc, rtol=1e-12, atol=1e-12)
""",
)


def _fc_inputs(o, c, h, w, **_):
    return {"x": (c, h, w), "A": (o, c * h * w), "b": (o,)}


fc_full_map_exact = Identity(
    "equivalences.fc-full-map-exact",
    "Exact check: flatten + linear = full-map convolution (and the $1\\times 1$ case)",
    "For O, C in {1, 2, 3} and H, W in {1, 2, 3}: A @ x.reshape(-1) + b equals conv2d(x, A.reshape(O, C, H, W), b) "
    "with PyTorch's row-major flattening, and conv2d with the 1x1 kernel A.reshape(O, CHW, 1, 1) of the map "
    "reshaped to CHW x 1 x 1, as identical polynomials.",
    inputs=_fc_inputs,
    lhs=lambda T, o, c, h, w: ops.matmul(T["A"], T["x"].reshape((c * h * w,))) + T["b"],
    rhs=lambda T, o, c, h, w: ops.conv2d(T["x"], T["A"].reshape((o, c, h, w)), T["b"]).reshape((o,)),
    family=[dict(o=oo, c=cc, h=hh, w=ww) for oo in (1, 3) for cc in (1, 2) for hh in (1, 3) for ww in (1, 2)],
    check_source="""
def test_fc_full_map_exact_fractions():
    rng = np.random.default_rng(13)
    for o, c, h, w in [(1, 1, 1, 1), (3, 2, 3, 2), (2, 3, 2, 4)]:
        x = np.array([Fraction(int(v), 5) for v in rng.integers(-9, 10, c * h * w)], dtype=object).reshape(1, c, h, w)
        a, b = rng.integers(-9, 10, (o, c * h * w)).astype(object), rng.integers(-9, 10, o).astype(object)
        # row-major flattening by hand: feature c*H*W + u*W + v is x[c, u, v]
        flat = [x[0, cc, u, v] for cc in range(c) for u in range(h) for v in range(w)]
        fc = [sum((a[oo, f] * flat[f] for f in range(c * h * w)), Fraction(0)) + b[oo] for oo in range(o)]
        conv = ref.conv2d(x, a.reshape(o, c, h, w), b)
        assert conv.shape == (1, o, 1, 1) and list(conv[0, :, 0, 0]) == fc
        one_by_one = ref.conv2d(x.reshape(1, c * h * w, 1, 1), a.reshape(o, c * h * w, 1, 1), b)
        assert list(one_by_one[0, :, 0, 0]) == fc
        assert list(ref.linear(x.reshape(1, -1), a, b)[0]) == fc
""",
)

# =============================================================================================
# 2. im2col and the Toeplitz matrix

s_, d_, kh, kw, k = sizes("s d k_h k_w k")
U_ = IndexedBase("U")


def _conv2d_sd_body(x, w, C_, kh_, kw_, s, d, o_, i_, j_):
    cc, uu, vv = index("c u v")
    return SumExpr.of(Term(w[o_, cc, uu, vv] * x[cc, s * i_ + d * uu, s * j_ + d * vv],
                           (Range.of(cc, 0, C_ - 1), Range.of(uu, 0, kh_ - 1), Range.of(vv, 0, kw_ - 1))))


conv2d_sd = OpDef(
    "conv2d_sd", _conv2d_sd_body,
    lambda p, x, w, C_, kh_, kw_, s, d, o_, i_, j_: (
        rf"\left({p._print(x)} \star_{{{p._print(s)},{p._print(d)}}} {p._print(w)}\right)"
        rf"_{{{p._print(o_)},{p._print(i_)},{p._print(j_)}}}"),
    doc=r"(x \star_{s,d} w)_{o,i,j} = \sum_{c,u,v} w_{o,c,u,v} x_{c, s i + d u, s j + d v}.",
)


def _colprod_body(w, U, C_, kh_, kw_, o_, i_, j_):
    cc, uu, vv = index("c u v")
    return SumExpr.of(Term(w[o_, cc, uu, vv] * U[cc, uu, vv, i_, j_],
                           (Range.of(cc, 0, C_ - 1), Range.of(uu, 0, kh_ - 1), Range.of(vv, 0, kw_ - 1))))


colprod = OpDef(
    "colprod", _colprod_body,
    lambda p, w, U, C_, kh_, kw_, o_, i_, j_: (
        rf"\left(\mathrm{{mat}}\,{p._print(w)} \cdot {p._print(U)}\right)"
        rf"_{{{p._print(o_)},({p._print(i_)},{p._print(j_)})}}"),
    doc=r"(\mathrm{mat}\,w \cdot U)_{o,(i,j)} = \sum_{(c,u,v)} w_{o,(c,u,v)} U_{(c,u,v),(i,j)}: row o of the "
        r"flattened kernel times column (i, j) of the unfolded input.",
)
U_let = Let(U_, lambda cc, uu, vv, ii, jj: SumExpr.of(X[cc, s_ * ii + d_ * uu, s_ * jj + d_ * vv]))

im2col_general = General(
    "equivalences.im2col",
    "im2col: a convolution is a matrix product",
    "For all channel counts, kernel sizes, strides s and dilations d: conv2d(x, w) at (o, i, j) is row o of the "
    "flattened kernel (rows indexed by (c, u, v)) times column (i, j) of the unfolded input "
    "U[(c,u,v),(i,j)] = x[c, s i + d u, s j + d v]. Flattening (c, u, v) and (i, j) row-major gives "
    "reference.im2col's layout; padding is a zero border of x and groups split the product into blocks "
    "(exact check below).",
    lhs=conv2d_sd(X, V, C, kh, kw, s_, d_, o, i, j),
    rhs=colprod(V, U_, C, kh, kw, o, i, j),
    lets=[U_let],
    derivation=[
        Unfold("conv2d_sd", ("c", "u", "v")),
        Name(U_let, (c, u, v, i, j)),
        Fold(colprod(V, U_, C, kh, kw, o, i, j), ("c", "u", "v")),
    ],
    instances=[{"C": 1, "k_h": 2, "k_w": 1, "s": 2, "d": 1}, {"C": 2, "k_h": 1, "k_w": 2, "s": 1, "d": 2}],
    check_source="""
def test_im2col_matmul_numeric():
    rng = np.random.default_rng(20)
    cases = [(1, 1, 1, 1, 0, 1, 1), (2, 3, 3, 1, 1, 1, 1), (4, 6, (3, 2), (2, 1), (1, 2), (1, 2), 2)]
    for (c, o, k, s, p, d, g) in cases:
        x = rng.standard_normal((2, c, 9, 8))
        kh, kw = (k, k) if isinstance(k, int) else k
        w, b = rng.standard_normal((o, c // g, kh, kw)), rng.standard_normal(o)
        want = ref.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=g)
        cols = ref.im2col(x, (kh, kw), stride=s, padding=p, dilation=d)   # (N, C*kh*kw, L)
        rows = c // g * kh * kw
        og = o // g
        got = np.concatenate([w[gi * og:(gi + 1) * og].reshape(og, rows) @ cols[:, gi * rows:(gi + 1) * rows]
                              for gi in range(g)], axis=1)
        np.testing.assert_allclose(got.reshape(want.shape) + b[:, None, None], want, rtol=1e-12, atol=1e-12)


def test_im2col_seed_corr2d_matmul():
    # the seed's corr2d_multi_in_out via matmul, single sample, no padding
    rng = np.random.default_rng(21)
    X = rng.integers(-5, 6, (2, 5, 4)).astype(object)
    K = rng.integers(-5, 6, (3, 2, 2, 3)).astype(object)
    cols = ref.im2col(X[None], (2, 3))[0]
    got = (K.reshape(3, -1).dot(cols)).reshape(3, 4, 2)
    assert (got == ref.conv2d(X[None], K)[0]).all()
""",
)


def _conv_inputs(ci, co, k, g=1, n=5, **_):
    kh_, kw_ = (k, k) if isinstance(k, int) else k
    return {"x": (ci, n, n + 1), "w": (co, ci // g, kh_, kw_), "b": (co,)}


im2col_exact = Identity(
    "equivalences.im2col-exact",
    "Exact check of im2col with stride, padding, dilation and groups",
    "For kernels 1x1 to 3x2, strides, paddings, dilations in {1, 2} / {0, 1} and groups in {1, 2}: the "
    "convolution equals, per group, the flattened kernel times the unfolded input (reference.im2col layout), "
    "as identical polynomials.",
    inputs=_conv_inputs,
    lhs=lambda T, s=1, p=0, d=1, g=1, **_: ops.conv2d(T["x"], T["w"], T["b"], stride=s, padding=p, dilation=d,
                                                      groups=g),
    rhs=lambda T, s=1, p=0, d=1, g=1, **_: E.conv2d_im2col(T["x"], T["w"], T["b"], s, p, d, g),
    family=[dict(ci=2, co=2, k=kk, s=ss, p=pp, d=dd, g=gg)
            for kk in (1, (3, 2)) for ss in (1, 2) for pp in (0, 1) for dd in (1, 2) for gg in (1, 2)],
    check_source="""
def test_im2col_exact_family_integers():
    # every size of the exact family, integers: per group, flattened kernel times columns, equality
    rng = np.random.default_rng(24)
    for (kh, kw) in ((1, 1), (3, 2)):
        for s in (1, 2):
            for p in (0, 1):
                for d in (1, 2):
                    for g in (1, 2):
                        x = rng.integers(-9, 10, (1, 2, 5, 6)).astype(object)
                        w = rng.integers(-9, 10, (2, 2 // g, kh, kw)).astype(object)
                        b = rng.integers(-9, 10, 2).astype(object)
                        want = ref.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=g)
                        cols = ref.im2col(x, (kh, kw), stride=s, padding=p, dilation=d)[0]
                        rows, og = (2 // g) * kh * kw, 2 // g
                        got = np.concatenate([w[gi * og:(gi + 1) * og].reshape(og, rows)
                                              .dot(cols[gi * rows:(gi + 1) * rows]) for gi in range(g)])
                        assert (got.reshape(want.shape[1:]) + b[:, None, None] == want[0]).all()
""",
)

band = OpDef(
    "band",
    lambda w, x, k_, s, i_: SumExpr.of(Term(w[index("n")[0] - s * i_] * x[index("n")[0]],
                                            (Range.of(index("n")[0], s * i_, s * i_ + k_ - 1),))),
    lambda p, w, x, k_, s, i_: rf"\left(T_{{{p._print(w)}}} {p._print(x)}\right)_{{{p._print(i_)}}}",
    doc=r"(T_w x)_i = \sum_{n = s i}^{s i + k - 1} w_{n - s i} x_n: row i of the banded (Toeplitz for s = 1) "
        r"matrix T_w, whose entry (i, n) is w_{n - s i}.",
)
x1, w1_, w2_, w3_ = IndexedBase("x"), IndexedBase("w"), IndexedBase("w^{(2)}"), IndexedBase("w^{(3)}")
a, b, t, e, f, p_ = index("a b t e f p")

toeplitz_general = General(
    "equivalences.toeplitz",
    "A convolution is a product with a banded Toeplitz matrix",
    "For all kernel sizes k and strides s: (x cross-correlated with w at stride s)_i = sum_n T[i, n] x[n] with "
    "T[i, n] = w[n - s i] on the band s i <= n <= s i + k - 1 and 0 elsewhere: for s = 1 a Toeplitz matrix "
    "(constant along diagonals); in 2-D, per row of kernels, a block Toeplitz matrix with Toeplitz blocks "
    "(exact check below).",
    lhs=D.conv1d(x1, w1_, k, s_, 1, i),
    rhs=band(w1_, x1, k, s_, i),
    derivation=[
        Unfold("conv1d", ("a",)),
        Substitute("a", "n", n - s_ * i, [("n", s_ * i, s_ * i + k - 1)]),
        Fold(band(w1_, x1, k, s_, i), ("n",)),
    ],
    instances=[{"k": 2, "s": 1, "i": 0}, {"k": 3, "s": 2, "i": 2}],
    check_source="""
def _toeplitz(w, h, wd, stride=1, padding=0):
    o, c, kh, kw = w.shape
    ho, wo = (h + 2 * padding - kh) // stride + 1, (wd + 2 * padding - kw) // stride + 1
    T = np.zeros((o * ho * wo, c * h * wd))
    for oo in range(o):
        for i in range(ho):
            for j in range(wo):
                for cc in range(c):
                    for uu in range(kh):
                        for vv in range(kw):
                            r, q = stride * i + uu - padding, stride * j + vv - padding
                            if 0 <= r < h and 0 <= q < wd:
                                T[(oo * ho + i) * wo + j, (cc * h + r) * wd + q] = w[oo, cc, uu, vv]
    return T


def test_toeplitz_numeric():
    rng = np.random.default_rng(22)
    for o, c, k, s, p in [(1, 1, 2, 1, 0), (2, 3, 3, 2, 1)]:
        x, w = rng.standard_normal((1, c, 6, 5)), rng.standard_normal((o, c, k, k))
        want = ref.conv2d(x, w, stride=s, padding=p)
        np.testing.assert_allclose(_toeplitz(w, 6, 5, s, p) @ x.reshape(-1), want.reshape(-1), rtol=1e-12, atol=1e-12)


def test_toeplitz_doubly_blocked():
    rng = np.random.default_rng(23)
    w = rng.standard_normal((1, 1, 2, 3))
    T = _toeplitz(w, 5, 6).reshape(4, 4, 5, 6)          # (i, j) x (i', j')
    for i in range(3):
        for j in range(3):
            for ii in range(4):
                for jj in range(5):
                    assert T[i + 1, j + 1, ii + 1, jj + 1] == T[i, j, ii, jj]
""",
)

toeplitz_exact = Identity(
    "equivalences.toeplitz-exact",
    "Exact check: a convolution is one matrix-vector product",
    "With T[(o,i,j), (c, s i + d u - p, s j + d v - p)] = w[o,c,u,v] (taps in the padding dropped, groups "
    "block-diagonal): conv2d(x, w).flat == T @ x.flat, as identical polynomials, for strides, dilations, "
    "paddings and groups up to 2.",
    inputs=_conv_inputs,
    lhs=lambda T, s=1, p=0, d=1, g=1, **_: ops.conv2d(T["x"], T["w"], stride=s, padding=p, dilation=d,
                                                      groups=g).reshape(-1),
    rhs=lambda T, s=1, p=0, d=1, g=1, **_: ops.matmul(
        E.toeplitz_matrix(T["w"], T["x"].shape[1:], s, p, d, g), T["x"].reshape((T["x"].size,))),
    family=[dict(ci=2, co=2, k=kk, s=ss, p=pp, d=dd, g=gg)
            for kk in (2, (1, 3)) for ss in (1, 2) for pp in (0, 1) for dd in (1, 2) for gg in (1, 2)],
    check_source="""
def _toeplitz_general(w, h, wd, s, p, d, g):
    # T[(o,i,j), (c, s i + d u - p, s j + d v - p)] = w[o, c mod C/g, u, v], taps in the padding dropped
    o_, cg, kh, kw = w.shape
    ho, wo = (h + 2 * p - d * (kh - 1) - 1) // s + 1, (wd + 2 * p - d * (kw - 1) - 1) // s + 1
    T = np.zeros((o_ * ho * wo, cg * g * h * wd), dtype=object)
    T[...] = 0
    for oo in range(o_):
        first = (oo // (o_ // g)) * cg
        for i in range(ho):
            for j in range(wo):
                for col in range(cg):
                    for uu in range(kh):
                        for vv in range(kw):
                            r, q = s * i + d * uu - p, s * j + d * vv - p
                            if 0 <= r < h and 0 <= q < wd:
                                T[(oo * ho + i) * wo + j, ((first + col) * h + r) * wd + q] += w[oo, col, uu, vv]
    return T


def test_toeplitz_exact_strided_dilated_grouped():
    rng = np.random.default_rng(25)
    for (kh, kw), s, p, d, g in [((2, 2), 1, 0, 1, 1), ((2, 2), 2, 1, 2, 2), ((1, 3), 2, 1, 1, 1), ((1, 3), 1, 0, 2, 2),
                                 ((2, 2), 1, 1, 2, 1)]:
        x = rng.integers(-9, 10, (1, 2, 5, 6)).astype(object)
        w = rng.integers(-9, 10, (2, 2 // g, kh, kw)).astype(object)
        want = ref.conv2d(x, w, stride=s, padding=p, dilation=d, groups=g).reshape(-1)
        assert (_toeplitz_general(w, 5, 6, s, p, d, g).dot(x.reshape(-1)) == want).all()
""",
)


def _toeplitz_shift(T, shift):
    t = E.toeplitz_matrix(T["w"], (5, 6)).reshape((4, 4, 5, 6))
    base = (0, 0, 0, 0) if not shift else (1, 1, 1, 1)
    return t[base[0]:base[0] + 3, base[1]:base[1] + 3, base[2]:base[2] + 4, base[3]:base[3] + 5]


toeplitz_blocks = Identity(
    "equivalences.toeplitz-doubly-blocked",
    "For one channel and stride 1 the matrix is block Toeplitz with Toeplitz blocks",
    "For a 2x3 kernel on a 5x6 input: T[(i+1, j+1), (i'+1, j'+1)] == T[(i, j), (i', j')] for every entry, "
    "as polynomials in the kernel entries: the blocks (fixed i, i') are Toeplitz and the block pattern is "
    "Toeplitz.",
    inputs=lambda **_: {"w": (1, 1, 2, 3)},
    lhs=lambda T: _toeplitz_shift(T, True),
    rhs=lambda T: _toeplitz_shift(T, False),
    family=[{}],
    check_source="""
def test_toeplitz_blocks_read_off_the_reference():
    # the matrix of x -> conv2d(x, w), column n read off the reference as the image of the n-th unit map
    rng = np.random.default_rng(26)
    w = rng.integers(-9, 10, (1, 1, 2, 3)).astype(object)
    T = np.zeros((4, 4, 5, 6), dtype=object)
    for r in range(5):
        for q in range(6):
            e = np.zeros((1, 1, 5, 6), dtype=object)
            e[...] = 0
            e[0, 0, r, q] = 1
            T[:, :, r, q] = ref.conv2d(e, w)[0, 0]
    assert (T[1:, 1:, 1:, 1:] == T[:3, :3, :4, :5]).all()   # block Toeplitz with Toeplitz blocks
    assert T[0, 0, 1, 2] == w[0, 0, 1, 2] and T[0, 0, 2, 0] == 0
""",
)

# =============================================================================================
# 3. convolution versus cross-correlation

k1, k2, k3 = sizes("k_1 k_2 k_3")
wf = IndexedBase(r"\bar{w}")

true_conv1d = OpDef(
    "true_conv1d",
    lambda x, w, k_, i_: SumExpr.of(Term(w[index("a")[0]] * x[i_ - index("a")[0]],
                                         (Range.of(index("a")[0], 0, k_ - 1),))),
    lambda p, x, w, k_, i_: rf"\left({p._print(x)} * {p._print(w)}\right)_{{{p._print(i_)}}}",
    doc=r"(x * w)_i = \sum_{a=0}^{k-1} w_a x_{i-a}: true convolution (the kernel runs backwards).",
)
flip_let = Let(wf, lambda bb: SumExpr.of(w1_[k - 1 - bb]))



def _kernel_taps(expr: SumExpr, env: dict) -> dict[int, str]:
    """``{input position: LaTeX of the kernel entry it is multiplied by}`` in ``expr`` evaluated
    at the sizes and position ``env`` (a sum of products ``w[.] x[.]``, intermediate signals kept)."""
    taps = {}
    for product in sympy.Add.make_args(evaluate(expr, env)):
        factors = sorted(product.atoms(sympy.Indexed), key=sympy.default_sort_key)
        inputs = [f for f in factors if f.base == x1]
        weights = [f for f in factors if f.base != x1]
        if len(inputs) != 1 or len(weights) != 1:
            raise ValueError(f"_kernel_taps: {product} is not one kernel entry times one input entry")
        taps[int(inputs[0].indices[0])] = sympy.latex(weights[0])
    return taps


def _flip_figure(fields):
    """The window of both sides at one output, each tap's kernel entry read off the definitions."""
    n_, k_, pos = 7, 3, 2
    env = {k: sympy.Integer(k_), i: sympy.Integer(pos)}
    xcorr, true = _kernel_taps(true_conv_flip.rhs, env), _kernel_taps(true_conv_flip.lhs, env)
    window = list(range(pos, pos + k_))
    if sorted(xcorr) != window or sorted(true) != window:
        raise ValueError(f"_flip_figure: the two sides read {sorted(xcorr)} and {sorted(true)}, not {window}")
    tikz = figures.sliding_window_1d(
        n_, k_, pos, [(r"\bar{w}", [xcorr[t] for t in window]), ("w", [true[t] for t in window])])
    caption = (
        f"The kernel over the input at output $i = {pos}$ ($n = {n_}$, $k = {k_}$). The cross-correlation "
        f"$(x \\star \\bar{{w}})_{{{pos}}}$ multiplies $x_{{{pos}+b}}$ by $\\bar{{w}}_b$; the true convolution "
        f"$(x * w)_{{{pos + k_ - 1}}}$ multiplies the same inputs by $w_{{{k_ - 1}-b}}$, reading the kernel "
        f"backwards. Both rows are read off the two sides of the theorem, evaluated at these sizes."
    )
    return tikz, caption


true_conv_flip = General(
    "equivalences.true-conv-flip",
    "True convolution is cross-correlation with the flipped kernel",
    "For every kernel size k: the true convolution (x * w) at position i + k - 1 equals the deep-learning "
    "convolution (cross-correlation) of x with the flipped kernel w[k-1-b] at position i. PyTorch's conv2d "
    "is cross-correlation; flipping the kernel in both axes turns it into true convolution.",
    lhs=true_conv1d(x1, w1_, k, i + k - 1),
    rhs=D.conv1d(x1, wf, k, 1, 1, i),
    lets=[flip_let],
    derivation=[
        Unfold("true_conv1d", ("a",)),
        Substitute("a", "b", -b + k - 1, [("b", 0, k - 1)]),
        Name(flip_let, (b,)),
        Fold(D.conv1d(x1, wf, k, 1, 1, i), ("b",)),
    ],
    instances=[{"k": 1}, {"k": 3}],
    figure=_flip_figure,
    check_source="""
def test_true_conv_is_flipped_xcorr():
    rng = np.random.default_rng(30)
    x, w = rng.standard_normal(12), rng.standard_normal(4)
    true = np.convolve(x, w, mode="valid")               # numpy's convolve flips the kernel
    xcorr = ref.conv1d(x[None, None], w[::-1].reshape(1, 1, -1))[0, 0]
    np.testing.assert_allclose(true, xcorr, rtol=1e-12, atol=1e-12)
    img, k2d = rng.standard_normal((1, 1, 6, 7)), rng.standard_normal((1, 1, 3, 2))
    flipped = ref.conv2d(img, k2d[:, :, ::-1, ::-1].copy())[0, 0]
    direct = np.array([[sum(k2d[0, 0, a, b] * img[0, 0, i + 2 - a, j + 1 - b] for a in range(3) for b in range(2))
                        for j in range(6)] for i in range(4)])
    np.testing.assert_allclose(flipped, direct, rtol=1e-12, atol=1e-12)
""",
)

true_conv_commutative = General(
    "equivalences.true-conv-commutative",
    "True convolution is commutative",
    "For all lengths k1, k2: (w1 * w2)_t = (w2 * w1)_t for every t (substitute a = t - b).",
    lhs=D.full_convolution(w1_, w2_, k1, k2, t),
    rhs=D.full_convolution(w2_, w1_, k2, k1, t),
    derivation=[
        Unfold("full_convolution", ("a",)),
        Substitute("a", "b", -b + t, [("b", (0, t - k1 + 1), (t, k2 - 1))]),
        Fold(D.full_convolution(w2_, w1_, k2, k1, t), ("b",)),
    ],
    instances=[{"k_1": 1, "k_2": 3, "t": 1}, {"k_1": 2, "k_2": 2, "t": 1}, {"k_1": 3, "k_2": 2, "t": 3}],
    check_source="""
def test_true_conv_commutative_associative():
    rng = np.random.default_rng(31)
    f, g, h = (rng.integers(-9, 10, n).astype(object) for n in (3, 4, 2))
    assert (np.convolve(f, g) == np.convolve(g, f)).all()
    assert (np.convolve(np.convolve(f, g), h) == np.convolve(f, np.convolve(g, h))).all()
""",
)

P_, Q_ = IndexedBase("P"), IndexedBase("Q")
P_let = Let(P_, lambda ee: SumExpr.of(D.full_convolution(w1_, w2_, k1, k2, ee)))
Q_let = Let(Q_, lambda ee: SumExpr.of(D.full_convolution(w2_, w3_, k2, k3, ee)))

true_conv_associative = General(
    "equivalences.true-conv-associative",
    "True convolution is associative",
    "For all lengths k1, k2, k3: ((w1 * w2) * w3)_t = (w1 * (w2 * w3))_t: unfold both products, exchange the "
    "sums, substitute e = p + f and fold the inner sum into w2 * w3.",
    lhs=D.full_convolution(P_, w3_, k1 + k2 - 1, k3, t),
    rhs=D.full_convolution(w1_, Q_, k1, k2 + k3 - 1, t),
    lets=[P_let, Q_let],
    derivation=[
        Unfold("full_convolution", ("e",)),
        Unfold("P"),
        Unfold("full_convolution", ("p",)),
        Reorder([("p", (0, t - k2 - k3 + 2), (t, k1 - 1)), ("e", (p_, t - k3 + 1), (p_ + k2 - 1, t))]),
        Substitute("e", "f", f + p_, [("p", (0, t - k2 - k3 + 2), (t, k1 - 1)),
                                      ("f", (0, t - p_ - k3 + 1), (k2 - 1, t - p_))]),
        Fold(D.full_convolution(w2_, w3_, k2, k3, t - p_), ("f",)),
        Name(Q_let, (t - p_,)),
        Fold(D.full_convolution(w1_, Q_, k1, k2 + k3 - 1, t), ("p",)),
    ],
    instances=[{"k_1": 2, "k_2": 1, "k_3": 2, "t": 1}, {"k_1": 2, "k_2": 2, "k_3": 2, "t": 2}],
    check_source="""
def _true_conv_by_reference(p, q):
    # full true convolution: cross-correlate p, zero padded by len(q) - 1, with the flipped q
    out = ref.conv1d(np.array(p, dtype=object).reshape(1, 1, -1), np.array(q[::-1], dtype=object).reshape(1, 1, -1),
                     padding=len(q) - 1)
    return list(out[0, 0])


def test_true_conv_associative_by_reference():
    rng = np.random.default_rng(32)
    for k1, k2, k3 in [(1, 1, 1), (2, 1, 2), (3, 4, 2), (5, 2, 3)]:
        f, g, h = ([Fraction(int(v), 3) for v in rng.integers(-9, 10, n)] for n in (k1, k2, k3))
        left = _true_conv_by_reference(_true_conv_by_reference(f, g), h)
        right = _true_conv_by_reference(f, _true_conv_by_reference(g, h))
        assert len(left) == k1 + k2 + k3 - 2 and left == right
        # entry t by hand: the sum over a + b + c = t of f_a g_b h_c
        assert left == [sum((f[a] * g[b] * h[t - a - b] for a in range(k1) for b in range(k2) if 0 <= t - a - b < k3),
                            Fraction(0)) for t in range(k1 + k2 + k3 - 2)]
""",
)

XCORR_WITNESS = """
f = [Fraction(v) for v in _vec(witness["inputs"]["f"])]
g = [Fraction(v) for v in _vec(witness["inputs"]["g"])]
def xcorr(p, q):   # (p cross-correlated with q)_t = sum_n p[n] q[n + t], t = -(len p - 1) .. len q - 1
    return [sum((p[m] * q[m + t] for m in range(len(p)) if 0 <= m + t < len(q)), Fraction(0))
            for t in range(-(len(p) - 1), len(q))]
lhs, rhs = xcorr(f, g), xcorr(g, f)
e = witness["entry"][0]
assert lhs[e] == Fraction(witness["lhs"]) and rhs[e] == Fraction(witness["rhs"]) and lhs[e] != rhs[e]
# numpy's correlate(q, p, 'full') is the same operation
assert [Fraction(int(v)) for v in np.correlate(np.array(g, dtype=object), np.array(f, dtype=object), "full")] == lhs
"""

VEC_HELPER = """
def _vec(spec):
    out = [0] * spec["shape"][0]
    for idx, val in spec["nonzero"]:
        out[idx[0]] = val
    return out
"""

xcorr_not_commutative = Identity(
    "equivalences.xcorr-not-commutative",
    "Cross-correlation is not commutative",
    "Claim (false): the full cross-correlation (f cross-correlated with g)_t = sum_n f[n] g[n+t] is commutative. "
    "It reverses instead: (f with g)_t = (g with f)_{-t}.",
    expected="refuted",
    inputs=lambda **_: {"f": (2,), "g": (2,)},
    lhs=lambda T: E.xcorr_full(T["f"], T["g"]),
    rhs=lambda T: E.xcorr_full(T["g"], T["f"]),
    family=[{}],
    check_source=VEC_HELPER,
    witness_check=XCORR_WITNESS,
)

XCORR_ASSOC_WITNESS = """
def xcorr(p, q):
    return [sum((p[m] * q[m + t] for m in range(len(p)) if 0 <= m + t < len(q)), Fraction(0))
            for t in range(-(len(p) - 1), len(q))]
f, g, h = ([Fraction(v) for v in _vec(witness["inputs"][name])] for name in ("f", "g", "h"))
lhs, rhs = xcorr(xcorr(f, g), h), xcorr(f, xcorr(g, h))
e = witness["entry"][0]
assert lhs[e] == Fraction(witness["lhs"]) and rhs[e] == Fraction(witness["rhs"]) and lhs[e] != rhs[e]
"""

xcorr_not_associative = Identity(
    "equivalences.xcorr-not-associative",
    "Cross-correlation is not associative",
    "Claim (false): ((f with g) with h) = (f with (g with h)) for the full cross-correlation. In terms of true "
    "convolution the left side is f * flip(g) * h, the right side flip(f) * flip(g) * h.",
    expected="refuted",
    inputs=lambda **_: {"f": (2,), "g": (2,), "h": (2,)},
    lhs=lambda T: E.xcorr_full(E.xcorr_full(T["f"], T["g"]), T["h"]),
    rhs=lambda T: E.xcorr_full(T["f"], E.xcorr_full(T["g"], T["h"])),
    family=[{}],
    witness_check=XCORR_ASSOC_WITNESS,
)

W_m = IndexedBase("W")
h_m = IndexedBase("h")
h_let = Let(h_m, lambda jj: SumExpr.of(D.conv1d(x1, w1_, k1, 1, 1, jj)))
Wm_let = Let(W_m, lambda tt: SumExpr.of(D.full_convolution(w1_, w2_, k1, k2, tt)))

xcorr_stack = General(
    "equivalences.xcorr-stack",
    "Two cross-correlations in a row are one, with the true convolution of the kernels",
    "For all k1, k2: ((x with w1) with w2)_i = (x with (w1 * w2))_i where * is the TRUE convolution (not the "
    "cross-correlation) of the kernels; with biases and channels see merge.sequential-1d/2d.",
    lhs=D.conv1d(h_m, w2_, k2, 1, 1, i),
    rhs=D.conv1d(x1, W_m, k1 + k2 - 1, 1, 1, i),
    lets=[h_let, Wm_let],
    derivation=[
        Unfold("conv1d", ("b",)),
        Unfold("h"),
        Unfold("conv1d", ("a",)),
        Reorder([("a", 0, k1 - 1), ("b", 0, k2 - 1)]),
        Substitute("b", "t", t - a, [("a", 0, k1 - 1), ("t", a, a + k2 - 1)]),
        Reorder([("t", 0, k1 + k2 - 2), ("a", (0, t - k2 + 1), (t, k1 - 1))]),
        Fold(D.full_convolution(w1_, w2_, k1, k2, t), ("a",)),
        Name(Wm_let, (t,)),
        Fold(D.conv1d(x1, W_m, k1 + k2 - 1, 1, 1, i), ("t",)),
    ],
    instances=[{"k_1": 1, "k_2": 2}, {"k_1": 2, "k_2": 2}],
    check_source="""
def test_xcorr_stack_true_convolution():
    rng = np.random.default_rng(32)
    x, w1, w2 = rng.standard_normal((1, 1, 15)), rng.standard_normal(3), rng.standard_normal(4)
    two = ref.conv1d(ref.conv1d(x, w1.reshape(1, 1, -1)), w2.reshape(1, 1, -1))
    one = ref.conv1d(x, np.convolve(w1, w2).reshape(1, 1, -1))
    np.testing.assert_allclose(two, one, rtol=1e-12, atol=1e-12)
    wrong = ref.conv1d(x, np.correlate(w2, w1, "full").reshape(1, 1, -1))
    assert not np.allclose(two, wrong)
""",
)

STACK_WITNESS = """
x, w1, w2 = (np.array(_vec(witness["inputs"][k]), dtype=object) for k in ("x", "w1", "w2"))
two = ref.conv1d(ref.conv1d(x[None, None], w1[None, None]), w2[None, None])[0, 0]
kernel = np.array([sum((w1[m] * w2[m + t] for m in range(len(w1)) if 0 <= m + t < len(w2)), 0)
                   for t in range(-(len(w1) - 1), len(w2))], dtype=object)
one = ref.conv1d(x[None, None], kernel[None, None])[0, 0]
e = witness["entry"][0]
assert two[e] == Fraction(witness["lhs"]) and one[e] == Fraction(witness["rhs"]) and two[e] != one[e]
"""

xcorr_stack_wrong = Identity(
    "equivalences.xcorr-stack-not-xcorr-kernel",
    "The merged kernel is not the cross-correlation of the kernels",
    "Claim (false): two cross-correlations in a row equal one cross-correlation whose kernel is the "
    "cross-correlation of the two kernels.",
    expected="refuted",
    inputs=lambda **_: {"x": (4,), "w1": (2,), "w2": (2,)},
    lhs=lambda T: ops.conv1d(ops.conv1d(T["x"].reshape((1, 4)), T["w1"].reshape((1, 1, 2))),
                             T["w2"].reshape((1, 1, 2))),
    rhs=lambda T: ops.conv1d(T["x"].reshape((1, 4)), E.xcorr_full(T["w1"], T["w2"]).reshape((1, 1, 3))),
    family=[{}],
    witness_check=STACK_WITNESS.replace('witness["entry"][0]', 'witness["entry"][1]'),
)

# =============================================================================================
# 4. order of layers and associativity of the merge

ORDER_WITNESS_HELPER = """
def _confirm_order_witness(witness):
    sz = witness["sizes"]
    x, w1, w2 = (_witness_array(witness["inputs"][k]) for k in ("x", "w1", "w2"))
    b1, b2 = (_witness_array(witness["inputs"][k]) if k in witness["inputs"] else None for k in ("b1", "b2"))
    lhs = ref.conv2d(ref.conv2d(x[None], w1, b1), w2, b2)[0]
    rhs = ref.conv2d(ref.conv2d(x[None], w2, b2), w1, b1)[0]
    entry = tuple(witness["entry"])
    assert lhs[entry] == Fraction(witness["lhs"]) and rhs[entry] == Fraction(witness["rhs"])
    assert lhs[entry] != rhs[entry]
"""

ORDER_WITNESS = "_confirm_order_witness(witness)"


def _order_inputs(c, k1, k2, n, bias=False, **_):
    out = {"x": (c, n, n), "w1": (c, c, k1, k1), "w2": (c, c, k2, k2)}
    if bias:
        out.update({"b1": (c,), "b2": (c,)})
    return out


def _stack(T, first, second, bias=False, **_):
    h = ops.conv2d(T["x"], T[first], T.get("b" + first[1]) if bias else None)
    return ops.conv2d(h, T[second], T.get("b" + second[1]) if bias else None)


order_not_commutative = Identity(
    "equivalences.order-not-commutative",
    "With several channels the order of two layers matters",
    "Claim (false): conv(conv(x, w1), w2) == conv(conv(x, w2), w1) for C -> C -> C layers. Already for "
    "1x1 kernels and C = 2 the merged weights are the matrix products w2 w1 and w1 w2, which differ.",
    expected="refuted",
    inputs=_order_inputs,
    lhs=lambda T, **s: _stack(T, "w1", "w2", **s),
    rhs=lambda T, **s: _stack(T, "w2", "w1", **s),
    family=[dict(c=2, k1=1, k2=1, n=1)],
    witness_check=ORDER_WITNESS,
    check_source=ORDER_WITNESS_HELPER,
)

order_single_channel = Identity(
    "equivalences.order-single-channel",
    "One channel, no bias: the order does not matter",
    "For C = 1 and no biases, conv(conv(x, w1), w2) == conv(conv(x, w2), w1) for every k1, k2 <= 3: the merged "
    "kernel is the true convolution w1 * w2, which is commutative (equivalences.true-conv-commutative).",
    inputs=_order_inputs,
    lhs=lambda T, **s: _stack(T, "w1", "w2", **s),
    rhs=lambda T, **s: _stack(T, "w2", "w1", **s),
    family=[dict(c=1, k1=p, k2=q, n=p + q + 1) for p in (1, 2, 3) for q in (1, 2, 3)],
    check_source="""
def test_order_single_channel_numeric():
    rng = np.random.default_rng(40)
    x, w1, w2 = rng.standard_normal((1, 1, 9, 9)), rng.standard_normal((1, 1, 3, 2)), rng.standard_normal((1, 1, 2, 4))
    one, two = ref.conv2d(ref.conv2d(x, w1), w2), ref.conv2d(ref.conv2d(x, w2), w1)
    np.testing.assert_allclose(one, two, rtol=1e-12, atol=1e-12)
    w3, w4 = rng.standard_normal((2, 2, 1, 1)), rng.standard_normal((2, 2, 1, 1))
    y = rng.standard_normal((1, 2, 3, 3))
    assert not np.allclose(ref.conv2d(ref.conv2d(y, w3), w4), ref.conv2d(ref.conv2d(y, w4), w3))
""",
)

order_bias = Identity(
    "equivalences.order-single-channel-bias",
    "With biases even one channel does not commute",
    "Claim (false): for C = 1 with biases, conv(conv(x, w1) + b1, w2) + b2 == conv(conv(x, w2) + b2, w1) + b1. "
    "The merged biases b2 + (sum w2) b1 and b1 + (sum w1) b2 differ.",
    expected="refuted",
    inputs=_order_inputs,
    lhs=lambda T, **s: _stack(T, "w1", "w2", **s),
    rhs=lambda T, **s: _stack(T, "w2", "w1", **s),
    family=[dict(c=1, k1=1, k2=1, n=1, bias=True)],
    witness_check=ORDER_WITNESS,
)


def _merge3_inputs(k1, k2, k3, **_):
    return {"w1": (2, 2, k1, k1), "b1": (2,), "w2": (2, 2, k2, k2), "b2": (2,), "w3": (2, 2, k3, k3), "b3": (2,)}


def _merge(w1, b1, w2, b2, s1=1, d1=1, d2=1):
    return ops.merge_kernels(w1, w2, stride1=s1, dilation1=d1, dilation2=d2), ops.merge_bias(w2, b1, b2)


def _flat_pair(wb):
    w, bias = wb
    return E.concat(w.reshape((w.size,)), bias)


def _merge_left(T, s1, s2, d1, d2, d3, **_):
    w12, b12 = _merge(T["w1"], T["b1"], T["w2"], T["b2"], s1, d1, d2)
    return _flat_pair(_merge(w12, b12, T["w3"], T["b3"], s1 * s2, 1, d3))


def _merge_right(T, s1, s2, d1, d2, d3, **_):
    w23, b23 = _merge(T["w2"], T["b2"], T["w3"], T["b3"], s2, d2, d3)
    return _flat_pair(_merge(T["w1"], T["b1"], w23, b23, s1, d1, 1))


merge_associative = Identity(
    "equivalences.merge-associative",
    "Merging is associative",
    "For three layers with 2 channels each, kernels in {1, 2}, strides s1, s2 and dilations in {1, 2}: "
    "merge(merge(a, b), c) and merge(a, merge(b, c)) have the same kernel (size d1(k1-1) + s1 d2(k2-1) + "
    "s1 s2 d3(k3-1) + 1, stride s1 s2 s3) and the same bias, as polynomials in all weights and biases. With "
    "stride and dilation 1 this is the associativity of true convolution (equivalences.true-conv-associative) "
    "with matrix products over the channels.",
    inputs=_merge3_inputs,
    lhs=_merge_left,
    rhs=_merge_right,
    family=[dict(k1=p, k2=q, k3=r_, s1=s1, s2=s2, d1=d1, d2=d2, d3=d3)
            for (p, q, r_) in ((1, 2, 2), (2, 1, 2), (2, 2, 2))
            for s1 in (1, 2) for s2 in (1, 2) for (d1, d2, d3) in ((1, 1, 1), (2, 1, 2), (1, 2, 1))],
    check_source="""
def test_merge_associative_layers():
    rng = np.random.default_rng(41)
    x = rng.integers(-3, 4, (1, 2, 12, 12)).astype(object)
    ws = [rng.integers(-3, 4, (2, 2, k, k)).astype(object) for k in (2, 3, 2)]
    bs = [rng.integers(-3, 4, 2).astype(object) for _ in range(3)]
    y = x
    for w, b in zip(ws, bs):
        y = ref.conv2d(y, w, b)
    def merged_kernel(w1, w2):
        size = (w1.shape[2] + w2.shape[2] - 1, w1.shape[3] + w2.shape[3] - 1)
        out = np.zeros((w2.shape[0], w1.shape[1]) + size, dtype=object)
        out[...] = 0
        for p in range(w2.shape[2]):
            for q in range(w2.shape[3]):
                out[:, :, p:p + w1.shape[2], q:q + w1.shape[3]] += np.tensordot(w2[:, :, p, q], w1, axes=(1, 0))
        return out
    left = merged_kernel(merged_kernel(ws[0], ws[1]), ws[2])
    right = merged_kernel(ws[0], merged_kernel(ws[1], ws[2]))
    assert (left == right).all()
    bias = bs[2] + ws[2].sum(axis=(2, 3)).dot(bs[1] + ws[1].sum(axis=(2, 3)).dot(bs[0]))
    assert (ref.conv2d(x, left, bias) == y).all()
""",
)

# =============================================================================================
# 5. pooling

avgpool_def = OpDef(
    "avgpool",
    lambda x, k_, s, c_, i_, j_: SumExpr.of(Term(
        x[c_, s * i_ + index("u")[0], s * j_ + index("v")[0]] / k_**2,
        (Range.of(index("u")[0], 0, k_ - 1), Range.of(index("v")[0], 0, k_ - 1)))),
    lambda p, x, k_, s, c_, i_, j_: (rf"\mathrm{{avg}}_{{{p._print(k_)},{p._print(s)}}}({p._print(x)})"
                                     rf"_{{{p._print(c_)},{p._print(i_)},{p._print(j_)}}}"),
    doc=r"\mathrm{avg}_{k,s}(x)_{c,i,j} = \frac{1}{k^2}\sum_{u,v=0}^{k-1} x_{c, s i + u, s j + v} (no padding).",
)
dwconv = OpDef(
    "dwconv",
    lambda x, Kc, k_, s, c_, i_, j_: SumExpr.of(Term(
        Kc[c_, index("u")[0], index("v")[0]] * x[c_, s * i_ + index("u")[0], s * j_ + index("v")[0]],
        (Range.of(index("u")[0], 0, k_ - 1), Range.of(index("v")[0], 0, k_ - 1)))),
    lambda p, x, Kc, k_, s, c_, i_, j_: (
        rf"\left({p._print(x)} \star_{{s}}^{{\mathrm{{dw}}}} {p._print(Kc)}\right)"
        rf"_{{{p._print(c_)},{p._print(i_)},{p._print(j_)}}}"),
    doc=r"(x \star^{dw}_s K)_{c,i,j} = \sum_{u,v} K_{c,u,v} x_{c, s i + u, s j + v}: depthwise (groups = C) "
        r"convolution; output channel c reads input channel c only.",
)
Kc_ = IndexedBase("K")
Kc_let = Let(Kc_, lambda cc, uu, vv: SumExpr.of(sympy.Integer(1) / k**2))

avgpool_depthwise = General(
    "equivalences.avgpool-depthwise",
    "Average pooling is a depthwise convolution with the constant kernel $1/k^2$",
    "For all window sizes k and strides s (no padding): average pooling equals the depthwise convolution "
    "(groups = C) with the constant kernel 1/k^2: so pooling acts per channel, output channel c reads input "
    "channel c only. (Max pooling acts per channel by its definition, max over the window of channel c; it is "
    "not a convolution: equivalences.maxpool-not-affine.)",
    lhs=avgpool_def(X, k, s_, c, i, j),
    rhs=dwconv(X, Kc_, k, s_, c, i, j),
    lets=[Kc_let],
    derivation=[
        Unfold("avgpool", ("u", "v")),
        Name(Kc_let, (c, u, v)),
        Fold(dwconv(X, Kc_, k, s_, c, i, j), ("u", "v")),
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

# =============================================================================================
# 6. space-to-depth (seed 003)

Cf, K_s, S_s = sizes("C K S")
Yb, Wb, Xb, Wp = IndexedBase("y"), IndexedBase("w"), IndexedBase("z"), IndexedBase("w'")
aa, bb, th, tw = index("a b t_h t_w")


def _conv_unshuffled_body(x, w, Cr, Kk, Ss, o_, i_, j_):
    a1, b1, u1, v1 = index("a b u v")
    return SumExpr.of(Term(w[o_, a1, b1, u1, v1] * x[a1, b1, Ss * i_ + u1, Ss * j_ + v1],
                           (Range.of(a1, 0, Cr - 1), Range.of(b1, 0, Cr - 1),
                            Range.of(u1, 0, Kk - 1), Range.of(v1, 0, Kk - 1))))


conv_unshuffled = OpDef(
    "conv_unshuffled", _conv_unshuffled_body,
    lambda p, x, w, Cr, Kk, Ss, o_, i_, j_: (
        rf"\left({p._print(x)} \star_{{{p._print(Ss)}}} {p._print(w)}\right)"
        rf"_{{{p._print(o_)},{p._print(i_)},{p._print(j_)}}}"),
    doc=r"(z \star_S w)_{o,i,j} = \sum_{a,b<C} \sum_{u,v<K} w_{o,(a,b),u,v} z_{(a,b), S i + u, S j + v}: "
        r"a K x K, stride-S conv on C^2 channels numbered (a, b) -> a C + b.",
)


def _s2d_kernel_body(w, Cr, Kk, o_, th_, tw_):
    a1, b1, u1, v1 = index("a b u v")
    return SumExpr.of(Term(w[o_, a1, b1, u1, v1],
                           (Range.of(a1, 0, Cr - 1), Range.of(b1, 0, Cr - 1),
                            Range.of(u1, 0, Kk - 1), Range.of(v1, 0, Kk - 1)),
                           (sympy.Eq(Cr * u1 + a1, th_), sympy.Eq(Cr * v1 + b1, tw_))))


s2d_kernel = OpDef(
    "s2d_kernel", _s2d_kernel_body,
    lambda p, w, Cr, Kk, o_, th_, tw_: (rf"\mathrm{{PS}}_{{{p._print(Cr)}}}({p._print(w)})"
                                        rf"_{{{p._print(o_)},{p._print(th_)},{p._print(tw_)}}}"),
    doc=r"\mathrm{PS}_C(w)_{o,t_h,t_w} = \sum_{C u + a = t_h,\ C v + b = t_w} w_{o,(a,b),u,v}: exactly one term "
        r"(division with remainder), i.e. w'_{o, C u + a, C v + b} = w_{o, aC + b, u, v} "
        r"(pixel_shuffle of the weight).",
)


def _conv_strided_body(y, w, kk, ss, o_, i_, j_):
    p1, q1 = index("t_h t_w")
    return SumExpr.of(Term(w[o_, p1, q1] * y[ss * i_ + p1, ss * j_ + q1],
                           (Range.of(p1, 0, kk - 1), Range.of(q1, 0, kk - 1))))


conv_strided = OpDef(
    "conv_strided", _conv_strided_body,
    lambda p, y, w, kk, ss, o_, i_, j_: (
        rf"\left({p._print(y)} \star_{{{p._print(ss)}}} {p._print(w)}\right)"
        rf"_{{{p._print(o_)},{p._print(i_)},{p._print(j_)}}}"),
    doc=r"(y \star_s w')_{o,i,j} = \sum_{t_h,t_w<k} w'_{o,t_h,t_w} y_{s i + t_h, s j + t_w}: one input channel.",
)

X_unsh = Let(Xb, lambda a1, b1, p1, q1: SumExpr.of(Yb[Cf * p1 + a1, Cf * q1 + b1]))
Wp_let = Let(Wp, lambda o_, p1, q1: SumExpr.of(s2d_kernel(Wb, Cf, K_s, o_, p1, q1)))



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
        f"convsym.transforms.reshape.unshuffled_conv_to_conv builds it: weight $(u, v)$ of channel $aC + b$ "
        f"lands at row $Cu + a$, column $Cv + b$."
    )
    return tikz, caption


space_to_depth = General(
    "equivalences.space-to-depth",
    "A convolution on the pixel-unshuffled map is a strided convolution on the map",
    "For all C, K, S: a K x K, stride-S conv of the C^2 x H x W map pixel_unshuffle(y, C) equals the CK x CK, "
    "stride-CS conv of the 1 x CH x CW map y with w'[o, 0, Cu + a, Cv + b] = w[o, aC + b, u, v], which is "
    "pixel_shuffle(w, C). Padding P becomes CP and D input channels stay D (exact check below).",
    lhs=conv_unshuffled(Xb, Wb, Cf, K_s, S_s, o, i, j),
    rhs=conv_strided(Yb, Wp, Cf * K_s, Cf * S_s, o, i, j),
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
        Fold(s2d_kernel(Wb, Cf, K_s, o, th, tw), ("a", "b", "u", "v")),
        Name(Wp_let, (o, th, tw)),
        Reorder([("t_h", 0, Cf * K_s - 1), ("t_w", 0, Cf * K_s - 1)]),
        Fold(conv_strided(Yb, Wp, Cf * K_s, Cf * S_s, o, i, j), ("t_h", "t_w")),
    ],
    instances=[{"C": 2, "K": 1, "S": 2}, {"C": 1, "K": 2, "S": 1}],
    figure=_s2d_figure,
    check_source="""
def test_space_to_depth_one_channel_exact():
    # w'[o, 0, C u + a, C v + b] = w[o, a C + b, u, v], built by hand (not with pixel_shuffle)
    rng = np.random.default_rng(61)
    for cr, kk, ss in [(1, 2, 1), (2, 1, 2), (2, 3, 1), (3, 2, 2)]:
        y = rng.integers(-9, 10, (1, 1, cr * 6, cr * 7)).astype(object)
        w = rng.integers(-9, 10, (2, cr * cr, kk, kk)).astype(object)
        z = ref.pixel_unshuffle(y, cr)                       # z[(a, b), p, q] = y[C p + a, C q + b]
        assert all((z[0, a * cr + b] == y[0, 0, a::cr, b::cr]).all() for a in range(cr) for b in range(cr))
        wp = np.zeros((2, 1, cr * kk, cr * kk), dtype=object)
        for a in range(cr):
            for b in range(cr):
                for u in range(kk):
                    for v in range(kk):
                        wp[:, 0, cr * u + a, cr * v + b] = w[:, a * cr + b, u, v]
        lhs = ref.conv2d(z, w, stride=ss)
        rhs = ref.conv2d(y, wp, stride=cr * ss)
        assert lhs.shape == rhs.shape and (lhs == rhs).all()
""",
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
    check_source="""
def test_space_to_depth_numeric():
    rng = np.random.default_rng(60)
    for cr, dd, kk, ss, pp in [(2, 1, 3, 1, 1), (3, 2, 2, 2, 0), (4, 1, 3, 1, 1)]:
        y = rng.standard_normal((1, dd, cr * 7, cr * 7))
        w, b = rng.standard_normal((3, dd * cr * cr, kk, kk)), rng.standard_normal(3)
        lhs = ref.conv2d(ref.pixel_unshuffle(y, cr), w, b, stride=ss, padding=pp)
        rhs = ref.conv2d(y, ref.pixel_shuffle(w, cr), b, stride=cr * ss, padding=cr * pp)
        np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)
        wp = ref.pixel_shuffle(w, cr)
        for a in range(cr):
            for bb in range(cr):
                assert (wp[:, :, a::cr, bb::cr] == w.reshape(3, dd, cr, cr, kk, kk)[:, :, a, bb]).all()
""",
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
    check_source="""
def test_space_to_depth_costs_equal():
    for cr, kk, ss, pp, h in [(16, 3, 1, 1, 8), (2, 3, 2, 0, 9), (3, 1, 1, 0, 4)]:
        small = (h + 2 * pp - kk) // ss + 1
        big = (cr * h + 2 * cr * pp - cr * kk) // (cr * ss) + 1
        assert small == big
        assert cr * cr * kk * kk == (cr * kk) ** 2
    x = np.ones((1, 256, 4, 4))
    w = np.ones((1, 256, 3, 3))
    y = ref.pixel_shuffle(x, 16)
    assert y.shape == (1, 1, 64, 64) and ref.pixel_shuffle(w, 16).shape == (1, 1, 48, 48)
    assert ref.conv2d(y, ref.pixel_shuffle(w, 16), stride=16).shape == ref.conv2d(x, w).shape == (1, 1, 2, 2)
""",
)

S2D_WITNESS_HELPER = """
def _confirm_s2d_witness(witness):
    sz = witness["sizes"]
    cr = sz["cr"]
    y, w = _witness_array(witness["inputs"]["y"]), _witness_array(witness["inputs"]["w"])
    lhs = ref.conv2d(ref.pixel_unshuffle(y[None], cr), w)[0]
    if sz.get("variant") == "literal":
        rhs = ref.conv2d(y[None], y[None], stride=cr)[0]           # the feature map used as the weight
        try:                                                       # the line as written: shuffle the shuffled map
            ref.pixel_shuffle(y[None], cr)
            raise AssertionError("pixel_shuffle of a 1-channel map should fail")
        except ValueError:
            pass
    else:
        wt = w.reshape(w.shape[0], -1, cr, cr, w.shape[2], w.shape[3]).transpose(0, 1, 3, 2, 4, 5).reshape(w.shape)
        rhs = ref.conv2d(y[None], ref.pixel_shuffle(wt, cr), stride=cr)[0]
    entry = tuple(witness["entry"])
    assert lhs[entry] == Fraction(witness["lhs"]) and rhs[entry] == Fraction(witness["rhs"])
    assert lhs[entry] != rhs[entry]
"""

S2D_WITNESS = "_confirm_s2d_witness(witness)"


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
    witness_check=S2D_WITNESS,
    check_source=S2D_WITNESS_HELPER,
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
    witness_check=S2D_WITNESS,
)

# =============================================================================================
# 7. padding in the second layer: exact condition, border error, repair


def _pad_inputs(k1, k2, n, c=2, **_):
    return {"x": (c, n, n), "w1": (c, c, k1, k1), "b1": (c,), "w2": (c, c, k2, k2), "b2": (c,)}


def _two_layers(T, s1=1, p1=0, p2=0, s2=1, mode="zeros", **_):
    h = ops.conv2d(T["x"], T["w1"], T["b1"], stride=s1, padding=p1)
    hp = E.pad2d(h, p2, T["b1"] if mode == "bias" else None)
    return ops.conv2d(hp, T["w2"], T["b2"], stride=s2)


def _merged(T, s1=1, p1=0, p2=0, s2=1, **_):
    W = ops.merge_kernels(T["w1"], T["w2"], stride1=s1)
    return ops.conv2d(T["x"], W, ops.merge_bias(T["w2"], T["b1"], T["b2"]), stride=s1 * s2, padding=p1 + s1 * p2)


def _ring_error(T, s1=1, p1=0, p2=0, s2=1, **_):
    """-(w2 applied to the first layer's virtual outputs on the ring)."""
    virt = ops.conv2d(T["x"], T["w1"], T["b1"], stride=s1, padding=p1 + s1 * p2)
    ring = np.ones(virt.shape[1:], dtype=object)
    ring[p2:virt.shape[1] - p2, p2:virt.shape[2] - p2] = 0
    masked = virt * virt.constant_like(ring.reshape((1,) + ring.shape))
    return -ops.conv2d(masked, T["w2"], stride=s2)


padded_ring_error = Identity(
    "equivalences.padded-ring-error",
    "The exact error of a padded merge",
    "With zero padding p2 in the second layer, (two layers) - (merged layer padded by p1 + s1 p2) = "
    "-conv(R * v, w2; stride s2), where v = conv(x, w1, b1; stride s1, padding p1 + s1 p2) are the first layer's "
    "outputs extended to the ring (positions j < 0 or j >= H_mid, each b1 plus the taps that reach the input) and "
    "R is the 0/1 mask of the ring of width p2. Exact for strides s1, s2 in {1, 2}, any k1, k2, p1, p2.",
    inputs=_pad_inputs,
    lhs=lambda T, **s: _two_layers(T, **s) - _merged(T, **s),
    rhs=_ring_error,
    family=[dict(k1=p, k2=q, n=nn, s1=s1, s2=s2, p1=p1, p2=p2)
            for p in (1, 3) for q in (3,) for s1 in (1, 2) for s2 in (1, 2) for p1 in (0, 1) for p2 in (1, 2)
            for nn in (5,)],
    check_source="""
def test_padded_ring_error_numeric():
    rng = np.random.default_rng(70)
    for k1, k2, s1, s2, p1, p2, n in [(3, 3, 1, 1, 1, 1, 8), (3, 2, 2, 1, 0, 1, 9), (2, 3, 2, 2, 1, 2, 10)]:
        x = rng.standard_normal((1, 2, n, n))
        w1, b1, w2, b2 = (rng.standard_normal(s) for s in ((2, 2, k1, k1), 2, (2, 2, k2, k2), 2))
        two = ref.conv2d(ref.conv2d(x, w1, b1, stride=s1, padding=p1), w2, b2, stride=s2, padding=p2)
        W = np.zeros((2, 2, k1 + s1 * (k2 - 1), k1 + s1 * (k2 - 1)))
        for bh in range(k2):
            for bw in range(k2):
                W[:, :, s1 * bh:s1 * bh + k1, s1 * bw:s1 * bw + k1] += np.tensordot(w2[:, :, bh, bw], w1, axes=(1, 0))
        merged = ref.conv2d(x, W, b2 + w2.sum(axis=(2, 3)) @ b1, stride=s1 * s2, padding=p1 + s1 * p2)
        virt = ref.conv2d(x, w1, b1, stride=s1, padding=p1 + s1 * p2)
        ring = np.ones(virt.shape[2:])
        ring[p2:-p2, p2:-p2] = 0
        np.testing.assert_allclose(two - merged, -ref.conv2d(virt * ring, w2, stride=s2), rtol=1e-10, atol=1e-10)
""",
)


def _predicted_exact(k1, s1, p1, n, b1_zero, mode):
    """The characterisation (s2 = d = 1, 1 <= p2 <= k2 - 1): exact iff the first layer's windows at the two
    nearest ring positions see only padding, and (zero padding) b1 = 0."""
    hm = (n + 2 * p1 - k1) // s1 + 1
    top = k1 - 1 <= p1 + s1 - 1
    bottom = s1 * hm >= n + p1
    return top and bottom and (mode == "bias" or b1_zero)


def _merge_is_exact(k1_, s1, p1, k2_, p2, n_, mode, b1_zero) -> bool:
    """Whether the merged layer equals the two layers as exact polynomials (PolyTensor)."""
    from convsym.exact.poly import PolyTensor as PT

    pool = VariablePool()
    T = {nm: PT.variables(pool, nm, shp) for nm, shp in
         {"x": (1, n_), "w1": (1, 1, k1_), "b1": (1,), "w2": (1, 1, k2_), "b2": (1,)}.items()}
    if b1_zero:
        T["b1"] = T["b1"] * 0
    h = ops.conv1d(T["x"], T["w1"], T["b1"], stride=s1, padding=p1)
    mid = h.shape[1]
    pad = T["b1"] if mode == "bias" else T["b1"] * 0
    hp = E.concat(*([pad] * p2), h.reshape((mid,)), *([pad] * p2)).reshape((1, mid + 2 * p2))
    two = ops.conv1d(hp, T["w2"], T["b2"])
    Wk = ops.merge_kernels(T["w1"], T["w2"], stride1=s1)
    one = ops.conv1d(T["x"], Wk, ops.merge_bias(T["w2"], T["b1"], T["b2"]), stride=s1, padding=p1 + s1 * p2)
    return two.equals(one)


def _characterisation_cases() -> list[dict]:
    out = []
    for k1_, s1, p1, k2_, n_, mode, b1_zero in itertools.product(
            (1, 2, 3), (1, 2), (0, 1), (2, 3), (4, 5), ("zeros", "bias"), (True, False)):
        if mode == "bias" and b1_zero:
            continue
        for p2 in range(1, k2_):
            if (n_ + 2 * p1 - k1_) // s1 + 1 >= 1:
                out.append(dict(k1_=k1_, s1=s1, p1=p1, k2_=k2_, p2=p2, n_=n_, mode=mode, b1_zero=b1_zero))
    return out


def derive_characterisation(P: Proof) -> None:
    P.family("the prediction (conditions (i)-(iii)) equals the exact polynomial check of the merge, for k1 <= 3, "
             "s1 <= 2, p1 <= 1, k2 <= 3, 1 <= p2 <= k2 - 1, n in {4, 5}, zero or bias padding, b1 = 0 or not",
             _characterisation_cases(), _merge_is_exact,
             lambda k1_, s1, p1, k2_, p2, n_, mode, b1_zero: _predicted_exact(k1_, s1, p1, n_, b1_zero, mode),
             shown=r"\text{exact} \iff k_1 - 1 \le p_1 + s_1 - 1 \wedge s_1 H_m \ge n + p_1 "
                   r"\wedge (b_1 = 0 \vee \text{bias padding})")


padded_characterisation = Checked(
    "equivalences.padded-exact-characterisation",
    "Exactly when a merge with padding in the second layer is exact",
    "With stride 1 and 1 <= p2 <= k2 - 1 in the second layer (per axis): the merged layer padded by p1 + s1 p2 "
    "equals the two layers for all weights iff (i) k1 - 1 <= p1 + s1 - 1 (the first layer's window at ring "
    "position -1 sees only padding), (ii) s1 H_mid >= n + p1 (the window at position H_mid starts beyond the "
    "input; for every n this is k1 - 1 <= p1) and (iii) b1 = 0 when the intermediate is zero padded (no "
    "condition when it is padded with b1). k2 and p2 do not matter; s1 and, for s1 > 1, the input size n do: "
    "a 2x2 stride-2 first layer without padding merges exactly for even n and not for odd n.",
    derive=derive_characterisation,
    remarks=("Why: by equivalences.padded-ring-error the merge is exact iff every ring value the second layer "
             "reads is the padding value (0, or b1 with bias padding); the window at ring position -1 sees only "
             "padding iff k1 - 1 <= p1 + s1 - 1, the one at H_mid starts beyond the input iff s1 H_mid >= n + p1 "
             "(for every n: k1 - 1 <= p1), and zero padding needs the ring value b1 + 0 to be 0.",),
    check_source="""
def test_padded_stride_parity_numeric():
    rng = np.random.default_rng(71)
    for n, exact in [(8, True), (9, False)]:
        x = rng.standard_normal((1, 1, n, n))
        w1, w2, b2 = rng.standard_normal((1, 1, 2, 2)), rng.standard_normal((1, 1, 3, 3)), rng.standard_normal(1)
        two = ref.conv2d(ref.conv2d(x, w1, stride=2), w2, b2, padding=1)
        W = np.zeros((1, 1, 6, 6))
        for bh in range(3):
            for bw in range(3):
                W[:, :, 2 * bh:2 * bh + 2, 2 * bw:2 * bw + 2] += w2[0, 0, bh, bw] * w1
        one = ref.conv2d(x, W, b2, stride=2, padding=2)
        assert np.allclose(two, one) == exact
""",
)

padded_bias_repair = Identity(
    "equivalences.padded-bias-repair",
    "Repair: pad the intermediate with the bias value",
    "If the intermediate map is padded with b1 (per channel) instead of zero, as re-parameterisation blocks do "
    "after a 1x1 conv + BN, the merged layer (kernel of merge_sequential, input padding p1 + s1 p2) is exact for "
    "every b1 whenever d1(k1-1) <= p1: then the first layer's output on an all-padding window is b1, which is "
    "what the ring holds. Checked with strides s1, s2 in {1, 2}, odd and even input sizes.",
    inputs=_pad_inputs,
    lhs=lambda T, **s: _two_layers(T, mode="bias", **s),
    rhs=_merged,
    family=[dict(k1=p, k2=q, n=nn, s1=s1, s2=s2, p1=p1, p2=p2)
            for p1 in (0, 1) for p in range(1, p1 + 2) for q in (3,) for s1 in (1, 2) for s2 in (1, 2)
            for p2 in (1, 2) for nn in (4, 5)],
    check_source="""
def test_padded_bias_repair_numeric():
    rng = np.random.default_rng(72)
    for k1, p1, k2, p2, s1, n in [(1, 0, 3, 1, 1, 7), (2, 1, 3, 1, 1, 8), (3, 2, 3, 2, 2, 9), (1, 0, 3, 1, 2, 6)]:
        x = rng.standard_normal((1, 2, n, n))
        w1, b1, w2, b2 = (rng.standard_normal(s) for s in ((3, 2, k1, k1), 3, (2, 3, k2, k2), 2))
        h = ref.conv2d(x, w1, b1, stride=s1, padding=p1)
        hp = np.empty((1, 3, h.shape[2] + 2 * p2, h.shape[3] + 2 * p2))
        hp[...] = b1[None, :, None, None]                  # pad with the bias value
        hp[:, :, p2:-p2, p2:-p2] = h
        two = ref.conv2d(hp, w2, b2)
        K = k1 + s1 * (k2 - 1)
        W = np.zeros((2, 2, K, K))
        for bh in range(k2):
            for bw in range(k2):
                W[:, :, s1 * bh:s1 * bh + k1, s1 * bw:s1 * bw + k1] += np.tensordot(w2[:, :, bh, bw], w1, axes=(1, 0))
        one = ref.conv2d(x, W, b2 + w2.sum(axis=(2, 3)) @ b1, stride=s1, padding=p1 + s1 * p2)
        np.testing.assert_allclose(two, one, rtol=1e-10, atol=1e-10)
""",
)

PAD_REPAIR_WITNESS = """
sz = witness["sizes"]
x, w1, b1, w2, b2 = (_witness_array(witness["inputs"][k]) for k in ("x", "w1", "b1", "w2", "b2"))
k1, k2, p1, p2 = sz["k1"], sz["k2"], sz["p1"], sz["p2"]
h = ref.conv2d(x[None], w1, b1, padding=p1)
hp = np.zeros((1, h.shape[1], h.shape[2] + 2 * p2, h.shape[3] + 2 * p2), dtype=object)
hp[...] = b1[None, :, None, None]
hp[:, :, p2:-p2, p2:-p2] = h
two = ref.conv2d(hp, w2, b2)[0]
K = k1 + k2 - 1
W = np.zeros((w2.shape[0], w1.shape[1], K, K), dtype=object)
W[...] = 0
for bh in range(k2):
    for bw in range(k2):
        W[:, :, bh:bh + k1, bw:bw + k1] += np.tensordot(w2[:, :, bh, bw], w1, axes=(1, 0))
one = ref.conv2d(x[None], W, b2 + w2.sum(axis=(2, 3)).dot(b1), padding=p1 + p2)[0]
entry = tuple(witness["entry"])
assert two[entry] == Fraction(witness["lhs"]) and one[entry] == Fraction(witness["rhs"]) and two[entry] != one[entry]
"""

padded_bias_repair_wide = Identity(
    "equivalences.padded-bias-repair-wide",
    "Bias padding does not repair a first kernel wider than its padding",
    "Claim (false): padding the intermediate with b1 makes the merge exact also when k1 - 1 > p1: the first layer's "
    "window at the ring then reaches the input, so the ring value is not b1.",
    expected="refuted",
    inputs=_pad_inputs,
    lhs=lambda T, **s: _two_layers(T, mode="bias", **s),
    rhs=_merged,
    family=[dict(k1=2, k2=2, n=2, c=1, p1=0, p2=1)],
    witness_check=PAD_REPAIR_WITNESS,
)

# =============================================================================================
# 8. the converse: which kernels split

poly_coeff = OpDef(
    "poly_coeff",
    lambda w1, w2, k1_, k2_, t_: SumExpr.of(Term(
        w1[index("a")[0]] * w2[index("b")[0]],
        (Range.of(index("a")[0], 0, k1_ - 1), Range.of(index("b")[0], 0, k2_ - 1)),
        (sympy.Eq(index("a")[0] + index("b")[0], t_),))),
    lambda p, w1, w2, k1_, k2_, t_: rf"[z^{{{p._print(t_)}}}]\, {p._print(w1)}(z)\, {p._print(w2)}(z)",
    doc=r"[z^t] W_1(z) W_2(z) = \sum_{a + b = t} w_{1,a} w_{2,b}, with W(z) = \sum_t w_t z^t the kernel polynomial.",
)

split_polynomial = General(
    "equivalences.split-polynomial",
    "Stacking kernels multiplies their polynomials",
    "For all k1, k2: the coefficient of z^t in W1(z) W2(z) is (w1 * w2)_t, the merged kernel of two layers "
    "(equivalences.xcorr-stack). So a one-channel kernel w splits into lengths k1, k2 exactly when its polynomial "
    "W(z) factors as W1 W2 over the reals with deg W1 <= k1 - 1, deg W2 <= k2 - 1.",
    lhs=poly_coeff(w1_, w2_, k1, k2, t),
    rhs=D.full_convolution(w1_, w2_, k1, k2, t),
    derivation=[
        Unfold("poly_coeff", ("a", "b")),
        Collapse("b", t - a),
        Fold(D.full_convolution(w1_, w2_, k1, k2, t), ("a",)),
    ],
    instances=[{"k_1": 2, "k_2": 2, "t": 1}, {"k_1": 1, "k_2": 3, "t": 2}, {"k_1": 3, "k_2": 2, "t": 0}],
    check_source="""
def test_split_polynomial_product_is_the_stacked_kernel():
    # the merged kernel of two stacked layers, read off the reference with unit inputs, is the
    # coefficient list of W1(z) W2(z)
    rng = np.random.default_rng(80)
    for k1, k2 in [(1, 1), (2, 2), (1, 3), (3, 2), (4, 3)]:
        w1, w2 = rng.integers(-9, 10, k1).astype(object), rng.integers(-9, 10, k2).astype(object)
        K = k1 + k2 - 1
        stacked = []
        for t in range(K):
            e = np.zeros((1, 1, K), dtype=object)
            e[...] = 0
            e[0, 0, t] = 1
            out = ref.conv1d(ref.conv1d(e, w1.reshape(1, 1, -1)), w2.reshape(1, 1, -1))
            assert out.shape == (1, 1, 1)
            stacked.append(out[0, 0, 0])
        product = [0] * K
        for a in range(k1):
            for b in range(k2):
                product[a + b] += w1[a] * w2[b]
        assert stacked == product
    # 1 + z^2 has no real root, so [1, 0, 1] is no product of two real kernels of length 2
    assert all(abs(z.imag) > 0.5 for z in np.roots([1, 0, 1]))
""",
)


def _z3_splits(w, k1_):
    k2_ = len(w) - k1_ + 1
    p = [z3.Real(f"u{q}") for q in range(k1_)]
    q_ = [z3.Real(f"v{q}") for q in range(k2_)]
    solver = z3.Solver()
    for tt in range(len(w)):
        solver.add(z3.Sum([p[aa_] * q_[tt - aa_] for aa_ in range(k1_) if 0 <= tt - aa_ < k2_] + [z3.RealVal(0)])
                   == z3.RealVal(str(w[tt])))
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
        "a split of [1, 0, 1] into two real length-2 kernels u, v solves the coefficient equations of "
        "(u_0 + u_1 z)(v_0 + v_1 z) = 1 + z^2; over the reals they have no solution",
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
    "Claim (false): every length-3 kernel is the composition of two length-2 kernels (one channel, real weights). "
    "The seed's answers 'the converse also holds' are wrong for one channel; with two middle channels it is true "
    "(equivalences.split-channels).",
    expected="refuted",
    derive=derive_split_counterexample,
    witness_check="""
w = witness["w"]
# (u0 + u1 z)(v0 + v1 z) = 1 + z^2 forces u0 v0 = u1 v1 = 1 and u0 v1 = -u1 v0, so
# (u0 v0)(u1 v1) = 1 > 0 but (u0 v1)(u1 v0) = -(u1 v0)^2 <= 0: the two products are the same number
assert w == [1, 0, 1]
disc = w[1] ** 2 - 4 * w[0] * w[2]
assert disc < 0                                        # 1 + z^2 has no real root
roots = np.roots([w[2], w[1], w[0]])
assert np.all(np.abs(roots.imag) > 0.5)
assert np.allclose(np.convolve([1, 1j], [1, -1j]), w)  # the complex split exists
""",
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
    P.family("the criterion (real roots counted exactly by Sturm sequences) equals z3's exact decision over the "
             "reals of the coefficient equations, for every kernel of {-1, 0, 1}^(K-1) x {0, 1} with (K, k1) in "
             "(3, 2), (3, 1), (4, 2), {-1, 0, 1}^4 x {1} for (5, 2), and 4 more",
             _split_kernels(), lambda w, k1_: _criterion(list(w), k1_), lambda w, k1_: _z3_splits(list(w), k1_),
             shown=r"\text{splits} \iff \neg\left(2 \mid k_1 \wedge 2 \mid k_2 \wedge w_{K-1} \ne 0 "
                   r"\wedge \#\{\rho \in \mathbb{R}: W(\rho) = 0\} = 0\right)")


split_criterion = Checked(
    "equivalences.split-criterion",
    "The exact criterion for a one-channel split",
    "A real kernel w of length K = k1 + k2 - 1 is the true convolution of real kernels of lengths k1 and k2 iff its "
    "polynomial W(z) = sum w_t z^t has a real factor F with deg F <= k1 - 1 and deg W - deg F <= k2 - 1; equivalently "
    "unless k1 and k2 are both even, w_{K-1} != 0 and W has no real root. "
    "convsym.transforms.sequential.factor_kernel_1d "
    "constructs the factors with exact real algebraic entries.",
    derive=derive_split_criterion,
    remarks=("Why: a split is a factorisation W = W_1 W_2 over the reals with deg W_1 <= k1 - 1, deg W_2 <= k2 - 1 "
             "(equivalences.split-polynomial); over the reals W is lc(W) times linear factors (its real roots) "
             "and quadratic factors (pairs of complex roots), so a real factor of degree d exists iff d = r' + 2c' "
             "with r' <= r real roots and c' <= c complex pairs.",),
    check_source="""
def test_split_criterion_examples():
    # 1 - 3z + 2z^2 = (1 - z)(1 - 2z): splits into [1, -1] and [1, -2]
    assert (np.convolve([1, -1], [1, -2]) == [1, -3, 2]).all()
    # 1 + 2z^2 + z^4 = (1 + z^2)^2 has no real root, yet splits (k1 = 3): quadratic factors
    assert (np.convolve([1, 0, 1], [1, 0, 1]) == [1, 0, 2, 0, 1]).all()
    # ... but not with k1 = 2 (a real linear factor would need a real root)
    assert np.all(np.abs(np.roots([1, 0, 2, 0, 1]).imag) > 0.5)
""",
)


def _split_channels_inputs(o, c, K, k1, **_):
    return {"w": (o, c, K, K)}


def _split_channels_rhs(T, o, c, K, k1, **_):
    w1, w2 = E.split_kernel(T["w"], k1)
    return ops.merge_kernels(w1, w2)


split_channels = Identity(
    "equivalences.split-channels",
    "With enough middle channels every kernel splits",
    "For every weight w (O, C, K, K) and 1 <= k1 <= K, k2 = K - k1 + 1: the first layer of impulses at the window "
    "starts a0 in {0, k2, 2 k2, ...} below k1 - 1 and k1 - 1 (per axis) and the second layer holding the chunks of w "
    "they own merge back to w exactly; it uses C n(k1, k2)^2 middle channels with n(k1, k2) = ceil((k1-1)/k2) + 1 "
    "(or O n(k2, k1)^2 with the roles swapped; split_kernel takes the smaller). For K = 3, k1 = k2 = 2: 2 channels "
    "per axis, so [1, 0, 1] splits with 2 middle channels in 1-D.",
    inputs=_split_channels_inputs,
    lhs=lambda T, **_: T["w"],
    rhs=_split_channels_rhs,
    family=[dict(o=oo, c=cc, K=KK, k1=kk1) for (oo, cc) in ((1, 1), (2, 1), (1, 2))
            for KK in (1, 2, 3, 4, 5) for kk1 in range(1, KK + 1)],
    check_source="""
def test_split_channels_kernel_101():
    # two middle channels: [1, 0, 1] = e_0 * [1, 0] + e_1 * [0, 1] (impulse, then the chunk it owns)
    w1 = np.array([[[1, 0]], [[0, 1]]], dtype=object)          # (M=2, C=1, 2): impulses at 0 and 1
    w2 = np.array([[[1, 0], [0, 1]]], dtype=object)            # (O=1, M=2, 2): chunks
    x = np.array([[[3, -1, 4, 1, -5, 9, 2]]], dtype=object)
    two = ref.conv1d(ref.conv1d(x, w1), w2)
    one = ref.conv1d(x, np.array([[[1, 0, 1]]], dtype=object))
    assert (two == one).all()
""",
)

__all__ = [name for name, value in list(globals().items()) if isinstance(value, Theorem)]


if __name__ == "__main__":
    from convsym.run.registry import run_script

    raise SystemExit(run_script(globals()))
