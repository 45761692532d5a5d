"""1x1 convolutions, fully connected layers, im2col and Toeplitz matrices.

Section 1 of the equivalences chapter (see ``_chapters.py``).
"""

from __future__ import annotations

import numpy as np
from _chapters import EQUIVALENCES
from sympy import IndexedBase

from convsym.exact import rewrites as E
from convsym.exact.poly import PolyTensor
from convsym.proof import (
    Checked,
    Collapse,
    Fold,
    General,
    Identity,
    Let,
    Name,
    Proof,
    Substitute,
    SumExpr,
    Unfold,
    VariablePool,
    figures,
    index,
    load_checks,
    ops,
    sizes,
)
from convsym.proof import defs as D

FAMILY = EQUIVALENCES
SECTION = 1

checks = load_checks(__file__)  # the emitted numeric checks: proofs/checks/forms.py

# =============================================================================================
# 1. 1x1 convolution and fully connected layers

C, H, W_ = sizes("C H W")
C_o, C_i = sizes("C_{out} C_{in}")
o, c, i, j = index("o c i j")
u, v, r, n = index("u v r n")
X, V, A = IndexedBase("x"), IndexedBase("w"), IndexedBase("A")


A_1x1 = Let(A, lambda oo, cc: SumExpr.of(V[oo, cc, 0, 0]))

conv1x1_linear = General(
    "equivalences.conv1x1-linear",
    "A $1\\times 1$ convolution is a fully connected layer at every pixel",
    "For all channel counts: the convolution $x \\star w$ with a $1 \\times 1$ kernel equals, at "
    "every pixel $(i, j)$, the fully connected layer $A\\, x_{\\cdot,i,j}$ with $A_{o,c} = "
    "w_{o,c,0,0}$ (channels are the features, pixels the samples).",
    idea="A $1 \\times 1$ kernel has one tap: the sums over $u$ and $v$ collapse to $u = v = 0$, "
         "and what is left is a matrix-vector product over the channels.",
    lhs=D.conv2d(X, V, C, 1, 1, o, i, j),
    rhs=D.pixel_linear(X, A, C, o, i, j),
    lets=[A_1x1],
    derivation=[
        Unfold("conv2d", ("c", "u", "v")),
        Collapse("u", 0),
        Collapse("v", 0),
        Name(A_1x1, (o, c)),
        Fold(D.pixel_linear(X, A, C, o, i, j), ("c",)),
    ],
    instances=[{"C": 1}, {"C": 3}],
    check_source=checks.test_conv1x1_is_linear_numeric,
)


def derive_conv1x1_cost(P: Proof) -> None:
    macs = P.summation("count the output positions times the terms of the definition", 1,
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
    "A $1\\times 1$ convolution costs $C_{\\mathrm{out}} C_{\\mathrm{in}} H W$ multiply-accumulates",
    "For all sizes: a $1 \\times 1$ convolution (stride 1, no padding) of a $C_{\\mathrm{in}} "
    "\\times H \\times W$ input to $C_{\\mathrm{out}}$ channels does $C_{\\mathrm{out}} "
    "C_{\\mathrm{in}} H W$ multiply-accumulates (one $C_{\\mathrm{out}} \\times C_{\\mathrm{in}}$ "
    "matrix-vector product per pixel); without bias that is $C_{\\mathrm{out}} (2 C_{\\mathrm{in}} "
    "- 1) H W$ floating point operations.",
    idea="Sum the loop nest: one multiply-accumulate per output channel, input channel and pixel; "
         "the additions of a dot product of length $C_{\\mathrm{in}}$ are one fewer than its "
         "products.",
    derive=derive_conv1x1_cost,
    check_source=checks.test_conv1x1_cost_counts,
)


K_ = IndexedBase("K")
K_full = Let(K_, lambda oo, cc, uu, vv: SumExpr.of(A[oo, cc * H * W_ + uu * W_ + vv]))

fc_full_map = General(
    "equivalences.fc-full-map",
    "A fully connected layer on the flattened map is a convolution covering the map",
    "For all $C, H, W$: the fully connected layer $A\\, \\mathrm{vec}(x)$ on the row-major "
    "flattening of a $C \\times H \\times W$ map equals the convolution of $x$ with the $H \\times "
    "W$ kernel $K_{o,c,u,v} = A_{o,\\, cHW + uW + v}$, whose single output position $(0, 0)$ covers "
    "the whole map.",
    idea="Write the flat index as $cHW + uW + v$: the matrix-vector product becomes a sum over $c, "
         "u, v$, which is the convolution at position $(0, 0)$ with the kernel read off $A$.",
    lhs=D.fc_flat(X, A, C, H, W_, o),
    rhs=D.conv2d(X, K_, C, H, W_, o, 0, 0),
    lets=[K_full],
    derivation=[
        Unfold("fc_flat", ("c", "u", "v")),
        Name(K_full, (o, c, u, v)),
        Fold(D.conv2d(X, K_, C, H, W_, o, 0, 0), ("c", "u", "v")),
    ],
    instances=[{"C": 1, "H": 2, "W": 1}, {"C": 2, "H": 1, "W": 2}],
    check_source=checks.test_fc_full_map_numeric,
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
    check_source=checks.test_fc_full_map_exact_fractions,
)

# =============================================================================================
# 2. im2col and the Toeplitz matrix

s_, d_, kh, kw, k = sizes("s d k_h k_w k")
U_ = IndexedBase("U")


U_let = Let(U_, lambda cc, uu, vv, ii, jj: SumExpr.of(X[cc, s_ * ii + d_ * uu, s_ * jj + d_ * vv]))

def _im2col_figure(fields):
    """The im2col matrix of a 3 x 3 input and a 2 x 2 kernel, as convsym.reference builds it."""
    import numpy as np

    import convsym.reference as reference

    n_, k_ = 3, 2
    labels = [[f"x_{{{r}{c}}}" for c in range(n_)] for r in range(n_)]
    matrix = reference.im2col(np.array([[labels]], dtype=object), k_)[0].T.tolist()
    window = (0, 1)
    row = window[0] * (n_ - k_ + 1) + window[1]
    kernel = [f"w_{{{u}{v}}}" for u in range(k_) for v in range(k_)]
    tikz = figures.im2col_picture(labels, window, k_, matrix, row, kernel)
    caption = (f"im2col for a ${n_} \\times {n_}$ input and a ${k_} \\times {k_}$ kernel (stride 1, no "
               f"padding), the matrix as the NumPy reference builds it: each of the ${(n_ - k_ + 1) ** 2}$ windows "
               f"becomes a row of ${k_ * k_}$ entries, so the output is the matrix times the flattened kernel; "
               f"the window at $(i, j) = {window}$ gives row ${row}$ and $y_{{{window[0]}{window[1]}}}$.")
    return tikz, caption


im2col_general = General(
    "equivalences.im2col",
    "im2col: a convolution is a matrix product",
    "For all channel counts, kernel sizes, strides $s$ and dilations $d$: the convolution $x "
    "\\star_{s,d} w$ at $(o, i, j)$ is row $o$ of the flattened kernel (rows indexed by $(c, u, "
    "v)$) times column $(i, j)$ of the unfolded input $U_{(c,u,v),(i,j)} = x_{c,\\, s i + d u,\\, s "
    "j + d v}$. Flattening $(c, u, v)$ and $(i, j)$ row-major gives the usual im2col layout; "
    "padding is a zero border of $x$ and groups split the product into blocks (exact check below).",
    idea="Name each input entry a window reads as an entry of $U$, indexed by the tap $(c, u, v)$ "
         "and the output $(i, j)$; the convolution's sum over taps is then a row times a column.",
    lhs=D.conv2d_sd(X, V, C, kh, kw, o, i, j, stride=s_, dilation=d_),
    rhs=D.colprod(V, U_, C, kh, kw, o, i, j),
    lets=[U_let],
    derivation=[
        Unfold("conv2d_sd", ("c", "u", "v")),
        Name(U_let, (c, u, v, i, j)),
        Fold(D.colprod(V, U_, C, kh, kw, o, i, j), ("c", "u", "v")),
    ],
    instances=[{"C": 1, "k_h": 2, "k_w": 1, "s": 2, "d": 1}, {"C": 2, "k_h": 1, "k_w": 2, "s": 1, "d": 2}],
    check_source=(checks.test_im2col_matmul_numeric, checks.test_im2col_seed_corr2d_matmul),
    figure=_im2col_figure,
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
    check_source=checks.test_im2col_exact_family_integers,
)

x1, w1_ = IndexedBase("x"), IndexedBase("w")
a, b, t, e, f, p_ = index("a b t e f p")

toeplitz_general = General(
    "equivalences.toeplitz",
    "A convolution is a product with a banded Toeplitz matrix",
    "For all kernel sizes $k$ and strides $s$: $(x \\star_{s,1} w)_i = \\sum_n T_{i,n}\\, x_n$ with "
    "$T_{i,n} = w_{n - s i}$ on the band $s i \\le n \\le s i + k - 1$ and 0 elsewhere: for $s = 1$ "
    "a Toeplitz matrix (constant along diagonals); in 2-D, per row of kernels, a block Toeplitz "
    "matrix with Toeplitz blocks (exact check below).",
    idea="Substitute the input position $n = s i + a$ for the tap $a$: the weight that meets $x_n$ "
         "in output $i$ is $w_{n - s i}$, nonzero only on the band.",
    lhs=D.conv1d(x1, w1_, k, i, stride=s_),
    rhs=D.band(w1_, x1, k, s_, i),
    derivation=[
        Unfold("conv1d", ("a",)),
        Substitute("a", "n", n - s_ * i, [("n", s_ * i, s_ * i + k - 1)]),
        Fold(D.band(w1_, x1, k, s_, i), ("n",)),
    ],
    instances=[{"k": 2, "s": 1, "i": 0}, {"k": 3, "s": 2, "i": 2}],
    check_source=(checks._toeplitz, checks.test_toeplitz_numeric, checks.test_toeplitz_doubly_blocked),
)

def _toeplitz_row(entry, ci, co, k, s=1, p=0, d=1, n=5, **_):
    """Row e of T (entry e of the flattened output) is the output entry (o, i, j), row-major."""
    from convsym.shapes import conv_output_size

    kh_, kw_ = (k, k) if isinstance(k, int) else k
    shape = (co, conv_output_size(n, kh_, s, p, d), conv_output_size(n + 1, kw_, s, p, d))
    o_, i_, j_ = (int(q) for q in np.unravel_index(entry[0], shape))
    return {"o": o_, "i": i_, "j": j_}


toeplitz_exact = Identity(
    "equivalences.toeplitz-exact",
    "Exact check: a convolution is one matrix-vector product",
    "With $T_{(o,i,j),\\,(c,\\, s i + d u - p,\\, s j + d v - p)} = w_{o,c,u,v}$ (taps in the "
    "padding dropped, groups block-diagonal): the flattened output of the convolution is $T$ times "
    "the flattened input, as identical polynomials, for strides, dilations, paddings and groups up "
    "to 2.",
    inputs=_conv_inputs,
    lhs=lambda T, s=1, p=0, d=1, g=1, **_: ops.conv2d(T["x"], T["w"], stride=s, padding=p, dilation=d,
                                                      groups=g).reshape(-1),
    rhs=lambda T, s=1, p=0, d=1, g=1, **_: ops.matmul(
        E.toeplitz_matrix(T["w"], T["x"].shape[1:], s, p, d, g), T["x"].reshape((T["x"].size,))),
    family=[dict(ci=2, co=2, k=kk, s=ss, p=pp, d=dd, g=gg)
            for kk in (2, (1, 3)) for ss in (1, 2) for pp in (0, 1) for dd in (1, 2) for gg in (1, 2)],
    coordinates=_toeplitz_row,
    check_source=(checks._toeplitz_general, checks.test_toeplitz_exact_strided_dilated_grouped),
)


def _toeplitz_shift(T, shift):
    t = E.toeplitz_matrix(T["w"], (5, 6)).reshape((4, 4, 5, 6))
    base = (0, 0, 0, 0) if not shift else (1, 1, 1, 1)
    return t[base[0]:base[0] + 3, base[1]:base[1] + 3, base[2]:base[2] + 4, base[3]:base[3] + 5]


toeplitz_blocks = Identity(
    "equivalences.toeplitz-doubly-blocked",
    "For one channel and stride 1 the matrix is block Toeplitz with Toeplitz blocks",
    "For a $2 \\times 3$ kernel on a $5 \\times 6$ input: $T_{(i+1, j+1),\\,(i'+1, j'+1)} = T_{(i, "
    "j),\\,(i', j')}$ for every entry, as polynomials in the kernel entries: the blocks (fixed $i, "
    "i'$) are Toeplitz and the block pattern is Toeplitz.",
    inputs=lambda **_: {"w": (1, 1, 2, 3)},
    lhs=lambda T: _toeplitz_shift(T, True),
    rhs=lambda T: _toeplitz_shift(T, False),
    family=[{}],
    check_source=checks.test_toeplitz_blocks_read_off_the_reference,
)
