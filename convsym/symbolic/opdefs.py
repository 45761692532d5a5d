"""The operations as index-sum definitions, for general (all sizes) derivations: all of them.

Each definition is the textbook formula with PyTorch's conventions (cross-correlation, zero-based
indices, output position ``i`` reads input ``s*i + d*a``); ``convsym.exact.ops`` implements the same
operations on concrete tensors, independently, and the proofs cross-check the two on instances.
"""

from __future__ import annotations

import sympy
from sympy import IndexedBase

from convsym.symbolic.sums import OpDef, Range, SumExpr, Term, index

a, b, c, m, n, u, v = index("a b c m n u v")
a_h, a_w, t_h, t_w = index("a_h a_w t_h t_w")


def _conv1d_body(x: IndexedBase, w: IndexedBase, k, i, stride=1, dilation=1) -> SumExpr:
    return SumExpr.of(Term(w[a] * x[stride * i + dilation * a], (Range.of(a, 0, k - 1),)))


def _conv1d_latex(x, w, k, i, stride, dilation) -> str:
    sub = "" if (stride == "1" and dilation == "1") else rf"_{{{stride},{dilation}}}"
    return rf"\left({x} \star{sub} {w}\right)_{{{i}}}"


conv1d = OpDef(
    "conv1d",
    _conv1d_body,
    _conv1d_latex,
    doc=(r"(x \star_{s,d} w)_i = \sum_{a=0}^{k-1} w_a x_{s i + d a}: cross-correlation, "
         r"length-k kernel, stride s, dilation d: conv1d(x, w, k, i, stride=s, dilation=d)."),
)


def _full_body(w1: IndexedBase, w2: IndexedBase, k1, k2, t) -> SumExpr:
    return SumExpr.of(
        Term(w1[a] * w2[t - a], (Range.of(a, (0, t - k2 + 1), (t, k1 - 1)),))
    )


full_convolution = OpDef(
    "full_convolution",
    _full_body,
    lambda w1, w2, k1, k2, t: rf"\left({w1} * {w2}\right)_{{{t}}}",
    doc=(r"(w_1 * w_2)_t = \sum_{a=\max(0,t-k_2+1)}^{\min(t,k_1-1)} w_{1,a} w_{2,t-a}: "
         r"true (full) convolution, length k_1+k_2-1."),
)


def _total_body(w: IndexedBase, k) -> SumExpr:
    return SumExpr.of(Term(w[b], (Range.of(b, 0, k - 1),)))


total = OpDef(
    "total",
    _total_body,
    lambda w, k: rf"\Sigma {w}",
    doc=r"\Sigma w = \sum_{b=0}^{k-1} w_b.",
)


def _merge_kernel_body(w1, w2, k1, k2, t, stride1=1, dilation1=1, dilation2=1) -> SumExpr:
    s1, d1, d2 = stride1, dilation1, dilation2
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
    lambda w1, w2, k1, k2, t, s1, d1, d2: rf"\left({w1} \circledast_{{{s1},{d1},{d2}}} {w2}\right)_{{{t}}}",
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
    lambda x, w, C, kh, kw, o, i, j: rf"\left({x} \star {w}\right)_{{{o},{i},{j}}}",
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
    lambda w1, w2, Cm, kh1, kw1, kh2, kw2, o, cc, th, tw: rf"\left({w2} \circledast {w1}\right)_{{{o},{cc},{th},{tw}}}",
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
    lambda w2, b1, Cm, kh2, kw2, o: rf"\left(\Sigma {w2}\, {b1}\right)_{{{o}}}",
    doc=r"(\Sigma w_2\, b_1)_o = \sum_m \sum_u \sum_v w_{2,o,m,u,v} b_{1,m}: a constant map through a convolution.",
)


# ---------------------------------------------------------------------------------------------
# equivalent forms: 1x1 and fully connected layers, im2col, Toeplitz, true convolution


def _pixel_linear_body(x, A, C, o, i, j) -> SumExpr:
    return SumExpr.of(Term(A[o, c] * x[c, i, j], (Range.of(c, 0, C - 1),)))


pixel_linear = OpDef(
    "pixel_linear", _pixel_linear_body,
    lambda x, A, C, o, i, j: rf"\left({A}\, {x}_{{:,{i},{j}}}\right)_{{{o}}}",
    doc=r"(A x_{:,i,j})_o = \sum_c A_{o,c} x_{c,i,j}: a fully connected layer applied at pixel (i, j).",
)


def _fc_flat_body(x, A, C, H, W, o) -> SumExpr:
    return SumExpr.of(Term(A[o, c * H * W + u * W + v] * x[c, u, v],
                           (Range.of(c, 0, C - 1), Range.of(u, 0, H - 1), Range.of(v, 0, W - 1))))


fc_flat = OpDef(
    "fc_flat", _fc_flat_body,
    lambda x, A, C, H, W, o: rf"\left({A}\, \mathrm{{vec}}\,{x}\right)_{{{o}}}",
    doc=r"(A\,\mathrm{vec}\,x)_o = \sum_{c,u,v} A_{o, cHW + uW + v} x_{c,u,v}: a fully connected layer on the "
        r"row-major flattening of a C x H x W map.",
)


def _conv2d_sd_body(x, w, C, kh, kw, o, i, j, stride=1, dilation=1) -> SumExpr:
    s, d = stride, dilation
    return SumExpr.of(Term(w[o, c, u, v] * x[c, s * i + d * u, s * j + d * v],
                           (Range.of(c, 0, C - 1), Range.of(u, 0, kh - 1), Range.of(v, 0, kw - 1))))


conv2d_sd = OpDef(
    "conv2d_sd", _conv2d_sd_body,
    lambda x, w, C, kh, kw, o, i, j, s, d: rf"\left({x} \star_{{{s},{d}}} {w}\right)_{{{o},{i},{j}}}",
    doc=r"(x \star_{s,d} w)_{o,i,j} = \sum_{c,u,v} w_{o,c,u,v} x_{c, s i + d u, s j + d v}: "
        r"conv2d_sd(x, w, C, kh, kw, o, i, j, stride=s, dilation=d).",
)


def _colprod_body(w, U, C, kh, kw, o, i, j) -> SumExpr:
    return SumExpr.of(Term(w[o, c, u, v] * U[c, u, v, i, j],
                           (Range.of(c, 0, C - 1), Range.of(u, 0, kh - 1), Range.of(v, 0, kw - 1))))


colprod = OpDef(
    "colprod", _colprod_body,
    lambda w, U, C, kh, kw, o, i, j: rf"\left(\mathrm{{mat}}\,{w} \cdot {U}\right)_{{{o},({i},{j})}}",
    doc=r"(\mathrm{mat}\,w \cdot U)_{o,(i,j)} = \sum_{(c,u,v)} w_{o,(c,u,v)} U_{(c,u,v),(i,j)}: row o of the "
        r"flattened kernel times column (i, j) of the unfolded input.",
)


def _band_body(w, x, k, s, i) -> SumExpr:
    return SumExpr.of(Term(w[n - s * i] * x[n], (Range.of(n, s * i, s * i + k - 1),)))


band = OpDef(
    "band", _band_body,
    lambda w, x, k, s, i: rf"\left(T_{{{w}}} {x}\right)_{{{i}}}",
    doc=r"(T_w x)_i = \sum_{n = s i}^{s i + k - 1} w_{n - s i} x_n: row i of the banded (Toeplitz for s = 1) "
        r"matrix T_w, whose entry (i, n) is w_{n - s i}.",
)


def _true_conv1d_body(x, w, k, i) -> SumExpr:
    return SumExpr.of(Term(w[a] * x[i - a], (Range.of(a, 0, k - 1),)))


true_conv1d = OpDef(
    "true_conv1d", _true_conv1d_body,
    lambda x, w, k, i: rf"\left({x} * {w}\right)_{{{i}}}",
    doc=r"(x * w)_i = \sum_{a=0}^{k-1} w_a x_{i-a}: true convolution (the kernel runs backwards).",
)


# ---------------------------------------------------------------------------------------------
# pooling


def _avgpool_body(x, k, s, cc, i, j) -> SumExpr:
    return SumExpr.of(Term(x[cc, s * i + u, s * j + v] / k**2, (Range.of(u, 0, k - 1), Range.of(v, 0, k - 1))))


avgpool = OpDef(
    "avgpool", _avgpool_body,
    lambda x, k, s, cc, i, j: rf"\mathrm{{avg}}_{{{k},{s}}}({x})_{{{cc},{i},{j}}}",
    doc=r"\mathrm{avg}_{k,s}(x)_{c,i,j} = \frac{1}{k^2}\sum_{u,v=0}^{k-1} x_{c, s i + u, s j + v} (no padding).",
)


def _dwconv_body(x, K, k, s, cc, i, j) -> SumExpr:
    return SumExpr.of(Term(K[cc, u, v] * x[cc, s * i + u, s * j + v],
                           (Range.of(u, 0, k - 1), Range.of(v, 0, k - 1))))


dwconv = OpDef(
    "dwconv", _dwconv_body,
    lambda x, K, k, s, cc, i, j: rf"\left({x} \star_{{s}}^{{\mathrm{{dw}}}} {K}\right)_{{{cc},{i},{j}}}",
    doc=r"(x \star^{dw}_s K)_{c,i,j} = \sum_{u,v} K_{c,u,v} x_{c, s i + u, s j + v}: depthwise (groups = C) "
        r"convolution; output channel c reads input channel c only.",
)


# ---------------------------------------------------------------------------------------------
# space-to-depth


def _conv_unshuffled_body(x, w, C, K, S, o, i, j) -> SumExpr:
    return SumExpr.of(Term(w[o, a, b, u, v] * x[a, b, S * i + u, S * j + v],
                           (Range.of(a, 0, C - 1), Range.of(b, 0, C - 1),
                            Range.of(u, 0, K - 1), Range.of(v, 0, K - 1))))


conv_unshuffled = OpDef(
    "conv_unshuffled", _conv_unshuffled_body,
    lambda x, w, C, K, S, o, i, j: rf"\left({x} \star_{{{S}}} {w}\right)_{{{o},{i},{j}}}",
    doc=r"(z \star_S w)_{o,i,j} = \sum_{a,b<C} \sum_{u,v<K} w_{o,(a,b),u,v} z_{(a,b), S i + u, S j + v}: "
        r"a K x K, stride-S conv on C^2 channels numbered (a, b) -> a C + b.",
)


def _s2d_kernel_body(w, C, K, o, th, tw) -> SumExpr:
    return SumExpr.of(Term(w[o, a, b, u, v],
                           (Range.of(a, 0, C - 1), Range.of(b, 0, C - 1),
                            Range.of(u, 0, K - 1), Range.of(v, 0, K - 1)),
                           (sympy.Eq(C * u + a, th), sympy.Eq(C * v + b, tw))))


s2d_kernel = OpDef(
    "s2d_kernel", _s2d_kernel_body,
    lambda w, C, K, o, th, tw: rf"\mathrm{{PS}}_{{{C}}}({w})_{{{o},{th},{tw}}}",
    doc=r"\mathrm{PS}_C(w)_{o,t_h,t_w} = \sum_{C u + a = t_h,\ C v + b = t_w} w_{o,(a,b),u,v}: exactly one term "
        r"(division with remainder), i.e. w'_{o, C u + a, C v + b} = w_{o, aC + b, u, v} "
        r"(pixel_shuffle of the weight).",
)


def _conv_strided_body(y, w, k, s, o, i, j) -> SumExpr:
    return SumExpr.of(Term(w[o, t_h, t_w] * y[s * i + t_h, s * j + t_w],
                           (Range.of(t_h, 0, k - 1), Range.of(t_w, 0, k - 1))))


conv_strided = OpDef(
    "conv_strided", _conv_strided_body,
    lambda y, w, k, s, o, i, j: rf"\left({y} \star_{{{s}}} {w}\right)_{{{o},{i},{j}}}",
    doc=r"(y \star_s w')_{o,i,j} = \sum_{t_h,t_w<k} w'_{o,t_h,t_w} y_{s i + t_h, s j + t_w}: one input channel.",
)


# ---------------------------------------------------------------------------------------------
# splitting kernels


def _poly_coeff_body(w1, w2, k1, k2, t) -> SumExpr:
    return SumExpr.of(Term(w1[a] * w2[b], (Range.of(a, 0, k1 - 1), Range.of(b, 0, k2 - 1)), (sympy.Eq(a + b, t),)))


poly_coeff = OpDef(
    "poly_coeff", _poly_coeff_body,
    lambda w1, w2, k1, k2, t: rf"[z^{{{t}}}]\, {w1}(z)\, {w2}(z)",
    doc=r"[z^t] W_1(z) W_2(z) = \sum_{a + b = t} w_{1,a} w_{2,b}, with W(z) = \sum_t w_t z^t the kernel polynomial.",
)


# ---------------------------------------------------------------------------------------------
# grouped convolutions and dilated kernels (folding)


def _conv2d_grouped_body(x, w, Cg, Og, kh, kw, g, o, i, j) -> SumExpr:
    return SumExpr.of(Term(
        w[g * Og + o, c, u, v] * x[g * Cg + c, i + u, j + v],
        (Range.of(c, 0, Cg - 1), Range.of(u, 0, kh - 1), Range.of(v, 0, kw - 1)),
    ))


conv2d_grouped = OpDef(
    "conv2d_grouped", _conv2d_grouped_body,
    lambda x, w, Cg, Og, kh, kw, g, o, i, j: rf"\left({x} \star_{{G}} {w}\right)_{{{g} {Og} + {o},{i},{j}}}",
    doc=(r"(x \star_G w)_{g O_g + o,i,j} = \sum_{c<C_g} \sum_{u,v} w_{g O_g + o,c,u,v} x_{g C_g + c,i+u,j+v}: "
         r"output channel o of group g reads only the C_g input channels of its group."),
)


def _bias_through_grouped_body(w, bias, Cg, Og, kh, kw, g, o) -> SumExpr:
    return SumExpr.of(Term(
        w[g * Og + o, c, u, v] * bias[g * Cg + c],
        (Range.of(c, 0, Cg - 1), Range.of(u, 0, kh - 1), Range.of(v, 0, kw - 1)),
    ))


bias_through_grouped = OpDef(
    "bias_through_grouped", _bias_through_grouped_body,
    lambda w, bias, Cg, Og, kh, kw, g, o: rf"\left(\Sigma_G {w}\, {bias}\right)_{{{g} {Og} + {o}}}",
    doc=r"(\Sigma_G w\, b)_{g O_g + o} = \sum_{c<C_g} \sum_{u,v} w_{g O_g + o,c,u,v} b_{g C_g + c}.",
)


def _sparse_kernel_body(w, k, d, t) -> SumExpr:
    return SumExpr.of(Term(w[u], (Range.of(u, 0, k - 1),), (sympy.Eq(d * u, t),)))


sparse_kernel = OpDef(
    "sparse_kernel", _sparse_kernel_body,
    lambda w, k, d, t: rf"\left({w}^{{\uparrow {d}}}\right)_{{{t}}}",
    doc=r"(w^{\uparrow d})_t = \sum_{u=0,\ d u = t}^{k-1} w_u: the kernel with d - 1 zeros between taps.",
)
