"""Two convolutions in a row are one convolution.

PyTorch semantics throughout: cross-correlation, NCHW, one bias per output channel.  For
``y = conv(conv(x, w1) + b1, w2) + b2`` the merged layer has the kernel
``W = w1 * w2`` (the *true* convolution of the two kernels, summed over the middle channels),
of size ``k1 + k2 - 1`` (with strides and dilations ``d1(k1-1) + s1 d2 (k2-1) + 1``, stride
``s1 s2``, dilation 1) and the bias ``b2 + (sum of w2 over space) b1``.  It is exact when the
second convolution has no padding; with padding ``p2 > 0`` the naive merge is wrong on a border
ring of width ``p2``.
"""

from __future__ import annotations

import sympy
from sympy import IndexedBase

from convsym import opdefs as D
from convsym.proof import General
from convsym.rules import Distribute, Fold, GroupBy, Name, Reorder, Substitute, Unfold
from convsym.sums import Let, SumExpr, grid, index
from convsym.symbols import scalars, sizes
from convsym.verdict import Family

FAMILY = Family(
    "merge",
    "Two convolutions in a row",
    intro=(
        "Deep-learning convolution is cross-correlation: $(x \\star w)_i = \\sum_a w_a x_{i+a}$. "
        "Two such layers in a row are one layer whose kernel is the true convolution $w_1 * w_2$ "
        "of the two kernels, of size $k_1+k_2-1$, and whose bias is $b_2 + (\\Sigma w_2) b_1$. "
        "This chapter proves it for all sizes, with channels, strides and dilations, checks it "
        "exactly on every instance up to a bound, and shows where it breaks: padding in the second layer."
    ),
    order=10,
)

# ---------------------------------------------------------------------------------------------
# 1-D, one channel, all sizes

k1, k2 = sizes("k_1 k_2")
i, a, b, t = index("i a b t")
x, w1, w2, h, W = (IndexedBase(n) for n in ("x", "w^{(1)}", "w^{(2)}", "h", "W"))
b1, b2 = scalars("b_1 b_2")

h_1d = Let(h, lambda j: SumExpr.of(D.conv1d(x, w1, k1, 1, 1, j), b1),
           r"h_j := \left(x \star w^{(1)}\right)_j + b_1 \text{ (the first layer)}")
W_1d = Let(W, lambda j: SumExpr.of(D.full_convolution(w1, w2, k1, k2, j)),
           r"W_t := \left(w^{(1)} * w^{(2)}\right)_t \text{ (the merged kernel, size } k_1+k_2-1)")

sequential_1d = General(
    "merge.sequential-1d",
    "Two 1-D convolutions in a row are one of size $k_1+k_2-1$",
    "For all kernel sizes k1, k2 >= 1: conv(conv(x, w1) + b1, w2) + b2 == conv(x, w1 * w2) + "
    "(b2 + sum(w2) * b1), where w1 * w2 is the full (true) convolution, of length k1 + k2 - 1.",
    lhs=D.conv1d(h, w2, k2, 1, 1, i) + b2,
    rhs=D.conv1d(x, W, k1 + k2 - 1, 1, 1, i) + b2 + b1 * D.total(w2, k2),
    lets=[h_1d, W_1d],
    derivation=[
        Unfold("conv1d", ("b",)),
        Unfold("h"),
        Distribute(),
        Unfold("conv1d", ("a",)),
        Reorder([("a", 0, k1 - 1), ("b", 0, k2 - 1)]),
        Substitute("b", "t", t - a, [("a", 0, k1 - 1), ("t", a, a + k2 - 1)]),
        Reorder([("t", 0, k1 + k2 - 2), ("a", (0, t - k2 + 1), (t, k1 - 1))]),
        Fold(D.full_convolution(w1, w2, k1, k2, t), ("a",)),
        Name(W_1d, (t,)),
        Fold(D.conv1d(x, W, k1 + k2 - 1, 1, 1, i), ("t",)),
        Fold(D.total(w2, k2), ("b",)),
    ],
    instances=grid(k_1=range(1, 4), k_2=range(1, 4)),
)

# ---------------------------------------------------------------------------------------------
# 2-D, C_in -> C_mid -> C_out channels, rectangular kernels, all sizes

C_in, C_mid = sizes("C_{in} C_{mid}")
kh1, kw1, kh2, kw2 = sizes("k^h_1 k^w_1 k^h_2 k^w_2")
o, c, m, j = index("o c m j")
a_h, a_w, b_h, b_w, t_h, t_w = index("a_h a_w b_h b_w t_h t_w")
X, V1, V2, H, M = (IndexedBase(n) for n in ("x", "w^{(1)}", "w^{(2)}", "h", "W"))
B1, B2 = IndexedBase("b^{(1)}"), IndexedBase("b^{(2)}")

h_2d = Let(H, lambda mm, ii, jj: SumExpr.of(D.conv2d(X, V1, C_in, kh1, kw1, mm, ii, jj), B1[mm]),
           r"h_{m,i,j} := \left(x \star w^{(1)}\right)_{m,i,j} + b^{(1)}_m")
W_2d = Let(M, lambda oo, cc, th, tw: SumExpr.of(
    D.merge_kernels2d(V1, V2, C_mid, kh1, kw1, kh2, kw2, oo, cc, th, tw)),
    r"W_{o,c,t_h,t_w} := \left(w^{(2)} \circledast w^{(1)}\right)_{o,c,t_h,t_w}")

sequential_2d = General(
    "merge.sequential-2d",
    "Two multichannel 2-D convolutions in a row are one",
    "For all channel counts and kernel sizes: conv2d(conv2d(x, w1) + b1, w2) + b2 == conv2d(x, W) + B "
    "with W[o,c] = sum_m w1[m,c] * w2[o,m] (full 2-D convolution per channel pair, size "
    "(kh1+kh2-1) x (kw1+kw2-1)) and B[o] = b2[o] + sum_{m,u,v} w2[o,m,u,v] b1[m]: the index argument "
    "of the 1-D proof applied per spatial axis, the channel sums carried along.",
    lhs=D.conv2d(H, V2, C_mid, kh2, kw2, o, i, j) + B2[o],
    rhs=D.conv2d(X, M, C_in, kh1 + kh2 - 1, kw1 + kw2 - 1, o, i, j) + B2[o]
    + D.bias_through(V2, B1, C_mid, kh2, kw2, o),
    lets=[h_2d, W_2d],
    derivation=[
        Unfold("conv2d", ("m", "b_h", "b_w")),
        Unfold("h"),
        Distribute(),
        Unfold("conv2d", ("c", "a_h", "a_w")),
        Reorder([("c", 0, C_in - 1), ("m", 0, C_mid - 1), ("a_h", 0, kh1 - 1), ("a_w", 0, kw1 - 1),
                 ("b_h", 0, kh2 - 1), ("b_w", 0, kw2 - 1)]),
        Substitute("b_h", "t_h", t_h - a_h,
                   [("c", 0, C_in - 1), ("m", 0, C_mid - 1), ("a_h", 0, kh1 - 1), ("a_w", 0, kw1 - 1),
                    ("t_h", a_h, a_h + kh2 - 1), ("b_w", 0, kw2 - 1)]),
        Substitute("b_w", "t_w", t_w - a_w,
                   [("c", 0, C_in - 1), ("m", 0, C_mid - 1), ("a_h", 0, kh1 - 1), ("a_w", 0, kw1 - 1),
                    ("t_h", a_h, a_h + kh2 - 1), ("t_w", a_w, a_w + kw2 - 1)]),
        Reorder([("c", 0, C_in - 1), ("t_h", 0, kh1 + kh2 - 2), ("t_w", 0, kw1 + kw2 - 2),
                 ("m", 0, C_mid - 1), ("a_h", (0, t_h - kh2 + 1), (t_h, kh1 - 1)),
                 ("a_w", (0, t_w - kw2 + 1), (t_w, kw1 - 1))]),
        Fold(D.merge_kernels2d(V1, V2, C_mid, kh1, kw1, kh2, kw2, o, c, t_h, t_w), ("m", "a_h", "a_w")),
        Name(W_2d, (o, c, t_h, t_w)),
        Fold(D.conv2d(X, M, C_in, kh1 + kh2 - 1, kw1 + kw2 - 1, o, i, j), ("c", "t_h", "t_w")),
        Fold(D.bias_through(V2, B1, C_mid, kh2, kw2, o), ("m", "b_h", "b_w")),
    ],
    instances=[
        {"C_{in}": 1, "C_{mid}": 2, "k^h_1": 2, "k^w_1": 1, "k^h_2": 1, "k^w_2": 2},
        {"C_{in}": 2, "C_{mid}": 1, "k^h_1": 1, "k^w_1": 2, "k^h_2": 2, "k^w_2": 2},
        {"C_{in}": 2, "C_{mid}": 2, "k^h_1": 2, "k^w_1": 2, "k^h_2": 2, "k^w_2": 1},
    ],
)

# ---------------------------------------------------------------------------------------------
# strides and dilations (1-D; every spatial axis of a 2-D layer is the same argument)

s1, d1, s2, d2 = sizes("s_1 d_1 s_2 d_2")
K_sd = d1 * (k1 - 1) + s1 * d2 * (k2 - 1) + 1

h_sd = Let(h, lambda jj: SumExpr.of(D.conv1d(x, w1, k1, s1, d1, jj), b1),
           r"h_j := \left(x \star_{s_1,d_1} w^{(1)}\right)_j + b_1")
W_sd = Let(W, lambda tt: SumExpr.of(D.merge_kernel(w1, w2, k1, k2, s1, d1, d2, tt)),
           r"W_t := \left(w^{(1)} \circledast_{s_1,d_1,d_2} w^{(2)}\right)_t "
           r"= \sum_{a,b:\ d_1 a + s_1 d_2 b = t} w^{(1)}_a w^{(2)}_b")

strided_1d = General(
    "merge.strided-dilated",
    "Strided and dilated convolutions in a row",
    "For all sizes, strides and dilations: conv(conv(x, w1; s1, d1) + b1, w2; s2, d2) + b2 == "
    "conv(x, W; stride s1*s2, dilation 1) + b2 + sum(w2) b1 with W[t] = sum over d1*a + s1*d2*b = t of "
    "w1[a] w2[b], of size d1(k1-1) + s1*d2(k2-1) + 1.",
    lhs=D.conv1d(h, w2, k2, s2, d2, i) + b2,
    rhs=D.conv1d(x, W, K_sd, s1 * s2, 1, i) + b2 + b1 * D.total(w2, k2),
    lets=[h_sd, W_sd],
    derivation=[
        Unfold("conv1d", ("b",)),
        Unfold("h"),
        Distribute(),
        Unfold("conv1d", ("a",)),
        Reorder([("a", 0, k1 - 1), ("b", 0, k2 - 1)]),
        GroupBy("t", d1 * a + s1 * d2 * b, 0, K_sd - 1, w1[a] * w2[b] * x[s1 * s2 * i + t], ("a", "b")),
        Fold(D.merge_kernel(w1, w2, k1, k2, s1, d1, d2, t), ("a", "b")),
        Name(W_sd, (t,)),
        Fold(D.conv1d(x, W, K_sd, s1 * s2, 1, i), ("t",)),
        Fold(D.total(w2, k2), ("b",)),
    ],
    instances=[
        {"k_1": 2, "k_2": 2, "s_1": 2, "d_1": 1, "s_2": 1, "d_2": 2},
        {"k_1": 3, "k_2": 2, "s_1": 1, "d_1": 2, "s_2": 2, "d_2": 1},
        {"k_1": 1, "k_2": 3, "s_1": 3, "d_1": 2, "s_2": 2, "d_2": 2},
        {"k_1": 2, "k_2": 2, "s_1": 1, "d_1": 1, "s_2": 1, "d_2": 1},
    ],
)

__all__ = ["sequential_1d", "sequential_2d", "strided_1d", "sympy"]

if __name__ == "__main__":
    from convsym.registry import run_script

    raise SystemExit(run_script(globals()))
