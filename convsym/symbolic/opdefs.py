"""The operations as index-sum definitions, for general (all sizes) derivations.

Each definition is the textbook formula with PyTorch's conventions (cross-correlation, zero-based
indices, output position ``i`` reads input ``s*i + d*a``); ``convsym.exact.ops`` implements the same
operations on concrete tensors, independently, and the proofs cross-check the two on instances.
"""

from __future__ import annotations

import sympy
from sympy import IndexedBase

from convsym.symbolic.sums import OpDef, Range, SumExpr, Term, index

a, b, c, m, u, v = index("a b c m u v")
a_h, a_w = index("a_h a_w")


def _l(printer, e) -> str:
    return printer._print(e)


def _conv1d_body(x: IndexedBase, w: IndexedBase, k, s, d, i) -> SumExpr:
    return SumExpr.of(Term(w[a] * x[s * i + d * a], (Range.of(a, 0, k - 1),)))


def _conv1d_latex(p, x, w, k, s, d, i) -> str:
    sub = "" if (s == 1 and d == 1) else rf"_{{{_l(p, s)},{_l(p, d)}}}"
    return rf"\left({_l(p, x)} \star{sub} {_l(p, w)}\right)_{{{_l(p, i)}}}"


conv1d = OpDef(
    "conv1d",
    _conv1d_body,
    _conv1d_latex,
    doc=(r"(x \star_{s,d} w)_i = \sum_{a=0}^{k-1} w_a x_{s i + d a}: cross-correlation, "
         r"length-k kernel, stride s, dilation d."),
)


def _full_body(w1: IndexedBase, w2: IndexedBase, k1, k2, t) -> SumExpr:
    return SumExpr.of(
        Term(w1[a] * w2[t - a], (Range.of(a, (0, t - k2 + 1), (t, k1 - 1)),))
    )


full_convolution = OpDef(
    "full_convolution",
    _full_body,
    lambda p, w1, w2, k1, k2, t: rf"\left({_l(p, w1)} * {_l(p, w2)}\right)_{{{_l(p, t)}}}",
    doc=(r"(w_1 * w_2)_t = \sum_{a=\max(0,t-k_2+1)}^{\min(t,k_1-1)} w_{1,a} w_{2,t-a}: "
         r"true (full) convolution, length k_1+k_2-1."),
)


def _total_body(w: IndexedBase, k) -> SumExpr:
    return SumExpr.of(Term(w[b], (Range.of(b, 0, k - 1),)))


total = OpDef(
    "total",
    _total_body,
    lambda p, w, k: rf"\Sigma {_l(p, w)}",
    doc=r"\Sigma w = \sum_{b=0}^{k-1} w_b.",
)


def _merge_kernel_body(w1, w2, k1, k2, s1, d1, d2, t) -> SumExpr:
    return SumExpr.of(
        Term(
            w1[a] * w2[b],
            (Range.of(a, 0, k1 - 1), Range.of(b, 0, k2 - 1)),
            (sympy.Eq(d1 * a + s1 * d2 * b, t),),
        )
    )


merge_kernel = OpDef(
    "merge_kernel",
    _merge_kernel_body,
    lambda p, w1, w2, k1, k2, s1, d1, d2, t: (
        rf"\left({_l(p, w1)} \circledast_{{{_l(p, s1)},{_l(p, d1)},{_l(p, d2)}}} {_l(p, w2)}\right)_{{{_l(p, t)}}}"
    ),
    doc=(r"(w_1 \circledast_{s_1,d_1,d_2} w_2)_t = \sum_{a,b:\ d_1 a + s_1 d_2 b = t} w_{1,a} w_{2,b}: "
         r"the kernel of two strided, dilated convolutions in a row."),
)


def _conv2d_body(x, w, C, kh, kw, o, i, j) -> SumExpr:
    return SumExpr.of(
        Term(
            w[o, c, u, v] * x[c, i + u, j + v],
            (Range.of(c, 0, C - 1), Range.of(u, 0, kh - 1), Range.of(v, 0, kw - 1)),
        )
    )


conv2d = OpDef(
    "conv2d",
    _conv2d_body,
    lambda p, x, w, C, kh, kw, o, i, j: (
        rf"\left({_l(p, x)} \star {_l(p, w)}\right)_{{{_l(p, o)},{_l(p, i)},{_l(p, j)}}}"
    ),
    doc=r"(x \star w)_{o,i,j} = \sum_c \sum_{u=0}^{k_h-1} \sum_{v=0}^{k_w-1} w_{o,c,u,v} x_{c,i+u,j+v}.",
)


def _merge2d_body(w1, w2, Cm, kh1, kw1, kh2, kw2, o, cc, th, tw) -> SumExpr:
    return SumExpr.of(
        Term(
            w1[m, cc, a_h, a_w] * w2[o, m, th - a_h, tw - a_w],
            (
                Range.of(m, 0, Cm - 1),
                Range.of(a_h, (0, th - kh2 + 1), (th, kh1 - 1)),
                Range.of(a_w, (0, tw - kw2 + 1), (tw, kw1 - 1)),
            ),
        )
    )


merge_kernels2d = OpDef(
    "merge_kernels2d",
    _merge2d_body,
    lambda p, w1, w2, Cm, kh1, kw1, kh2, kw2, o, cc, th, tw: (
        rf"\left({_l(p, w2)} \circledast {_l(p, w1)}\right)_{{{_l(p, o)},{_l(p, cc)},{_l(p, th)},{_l(p, tw)}}}"
    ),
    doc=(r"(w_2 \circledast w_1)_{o,c,t_h,t_w} = \sum_m \sum_{a_h} \sum_{a_w} w_{1,m,c,a_h,a_w} "
         r"w_{2,o,m,t_h-a_h,t_w-a_w}: per-channel-pair full convolution, summed over the middle channels."),
)


def _bias_through_body(w2, b1, Cm, kh2, kw2, o) -> SumExpr:
    return SumExpr.of(
        Term(
            w2[o, m, u, v] * b1[m],
            (Range.of(m, 0, Cm - 1), Range.of(u, 0, kh2 - 1), Range.of(v, 0, kw2 - 1)),
        )
    )


bias_through = OpDef(
    "bias_through",
    _bias_through_body,
    lambda p, w2, b1, Cm, kh2, kw2, o: (
        rf"\left(\Sigma {_l(p, w2)}\, {_l(p, b1)}\right)_{{{_l(p, o)}}}"
    ),
    doc=r"(\Sigma w_2\, b_1)_o = \sum_m \sum_u \sum_v w_{2,o,m,u,v} b_{1,m}: a constant map through a convolution.",
)
