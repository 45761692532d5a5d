"""Transposed and sub-pixel convolutions as index-sum definitions (for general derivations).

The same conventions as :mod:`convsym.symbolic.opdefs` (PyTorch's, zero-based indices).  A 1-D signal of
length ``n`` is ``y_0 .. y_{n-1}``; the transposed convolution *scatters* ``w_a y_j`` to output
position ``s j + d a - p``, so output ``i`` is the sum over the pairs ``(j, a)`` that land on it.
Entries outside ``0 .. n-1`` are never read (zero padding is a range condition, never a symbol).
"""

from __future__ import annotations

import sympy

from convsym.symbolic.sums import OpDef, Range, SumExpr, Term, index

a, b, c, j, u, ph = index("a b c j u phi")



def _ct_body(y, w, n, k, s, p, d, i) -> SumExpr:
    return SumExpr.of(Term(w[a] * y[j], (Range.of(j, 0, n - 1), Range.of(a, 0, k - 1)),
                           (sympy.Eq(s * j + d * a - p, i),)))


conv_transpose1d = OpDef(
    "conv_transpose1d",
    _ct_body,
    lambda y, w, n, k, s, p, d, i: (
        rf"\left({y} \mathbin{{\star^{{\top}}_{{{s},{p},{d}}}}} "
        rf"{w}\right)_{{{i}}}"),
    doc=(r"(y \star^\top_{s,p,d} w)_i = \sum_{j=0}^{n-1} \sum_{a=0}^{k-1} [s j + d a - p = i]\, w_a y_j: "
         r"the transposed convolution (scatter form)."),
)


def _pconv_body(x, w, n, k, s, p, d, i) -> SumExpr:
    pos = s * i + d * a - p
    return SumExpr.of(Term(w[a] * x[pos], (Range.of(a, 0, k - 1),),
                           (sympy.Ge(pos, 0), sympy.Le(pos, n - 1))))


padded_conv1d = OpDef(
    "padded_conv1d",
    _pconv_body,
    lambda x, w, n, k, s, p, d, i: (
        rf"\left({x} \star_{{{s},{p},{d}}} {w}\right)_{{{i}}}"),
    doc=(r"(x \star_{s,p,d} w)_i = \sum_{a=0}^{k-1} [0 \le s i + d a - p \le n-1]\, w_a x_{s i + d a - p}: "
         r"convolution of a length-n signal with zero padding p."),
)


def _subpixel_body(x, W, n, K, P, r, i) -> SumExpr:
    return SumExpr.of(Term(
        W[ph, a] * x[j + a - P],
        (Range.of(j, 0, i), Range.of(ph, 0, r - 1), Range.of(a, 0, K - 1)),
        (sympy.Eq(r * j + ph, i), sympy.Ge(j + a - P, 0), sympy.Le(j + a - P, n - 1)),
    ))


subpixel1d = OpDef(
    "subpixel1d",
    _subpixel_body,
    lambda x, W, n, K, P, r, i: (
        rf"\mathrm{{PS}}_{{{r}}}\left({x} \star_{{1,{P},1}} {W}\right)"
        rf"_{{{i}}}"),
    doc=(r"\mathrm{PS}_r(x \star_P W)_i = \sum_{j, \varphi, a:\ r j + \varphi = i} W_{\varphi,a} x_{j+a-P}: "
         r"r phases of a stride-1 convolution (padding P, kernel K), interleaved by the 1-D pixel shuffle."),
)


def _subpixel_kernel_body(W, K, r, t) -> SumExpr:
    return SumExpr.of(Term(W[ph, a], (Range.of(ph, 0, r - 1), Range.of(a, 0, K - 1)),
                           (sympy.Eq(ph + r * (K - 1 - a), t),)))


subpixel_kernel = OpDef(
    "subpixel_kernel",
    _subpixel_kernel_body,
    lambda W, K, r, t: rf"\mathcal{{S}}_{{{r}}}({W})_{{{t}}}",
    doc=(r"\mathcal{S}_r(W)_t = \sum_{\varphi, a:\ \varphi + r(K-1-a) = t} W_{\varphi,a}: phase \varphi, tap a "
         r"of the sub-pixel convolution goes to tap \varphi + r(K-1-a) of the transposed kernel of size rK."),
)


def _ctc_body(x, w, C, n, k, s, p, o, i) -> SumExpr:
    return SumExpr.of(Term(w[c, o, a] * x[c, j],
                           (Range.of(c, 0, C - 1), Range.of(j, 0, n - 1), Range.of(a, 0, k - 1)),
                           (sympy.Eq(s * j + a - p, i),)))


conv_transpose_channels = OpDef(
    "conv_transpose_channels",
    _ctc_body,
    lambda x, w, C, n, k, s, p, o, i: (
        rf"\left({x} \mathbin{{\star^{{\top}}_{{{s},{p}}}}} "
        rf"{w}\right)_{{{o},{i}}}"),
    doc=(r"(x \star^\top w)_{o,i} = \sum_c \sum_j \sum_a [s j + a - p = i]\, w_{c,o,a} x_{c,j}: weight "
         r"(C_{in}, C_{out}, k), the output channel on axis 1."),
)


# ---------------------------------------------------------------------------------------------
# merging, 2-D with channels and dilation (two transposed convolutions in a row, a convolution after
# one); every spatial size has its own symbol per axis

cm, mm, jh, jw, ah, aw, bh, bw = index("c m j_h j_w a_h a_w b_h b_w")


def _ct2_body(y, w, C, nh, nw, kh, kw, sh, sw, ph, pw, dh, dw, o, i, j) -> SumExpr:
    return SumExpr.of(Term(
        w[cm, o, ah, aw] * y[cm, jh, jw],
        (Range.of(cm, 0, C - 1), Range.of(jh, 0, nh - 1), Range.of(jw, 0, nw - 1),
         Range.of(ah, 0, kh - 1), Range.of(aw, 0, kw - 1)),
        (sympy.Eq(sh * jh + dh * ah - ph, i), sympy.Eq(sw * jw + dw * aw - pw, j))))


conv_transpose2d_dilated = OpDef(
    "conv_transpose2d_dilated",
    _ct2_body,
    lambda y, w, C, nh, nw, kh, kw, sh, sw, ph, pw, dh, dw, o, i, j: (
        rf"\left({y} \mathbin{{\star^{{\top}}_{{({sh},{sw}),({ph},{pw}),({dh},{dw})}}}} "
        rf"{w}\right)_{{{o},{i},{j}}}"),
    doc=(r"(y \star^\top_{s,p,d} w)_{o,i,j} = \sum_{c<C} \sum_{j_h<n_h,\, j_w<n_w} \sum_{a_h<k_h,\, a_w<k_w} "
         r"[s_h j_h + d_h a_h - p_h = i]\, [s_w j_w + d_w a_w - p_w = j]\, w_{c,o,a_h,a_w} y_{c,j_h,j_w}: the "
         r"2-D transposed convolution, weight (C_{in}, C_{out}, k_h, k_w)."),
)


def _tm2_body(w1, w2, M, k1h, k1w, k2h, k2w, s2h, s2w, d1h, d1w, d2h, d2w, c, o, th, tw) -> SumExpr:
    return SumExpr.of(Term(
        w1[c, mm, ah, aw] * w2[mm, o, bh, bw],
        (Range.of(mm, 0, M - 1), Range.of(ah, 0, k1h - 1), Range.of(aw, 0, k1w - 1),
         Range.of(bh, 0, k2h - 1), Range.of(bw, 0, k2w - 1)),
        (sympy.Eq(s2h * d1h * ah + d2h * bh, th), sympy.Eq(s2w * d1w * aw + d2w * bw, tw))))


transposed_merge2d = OpDef(
    "transposed_merge2d",
    _tm2_body,
    lambda w1, w2, M, k1h, k1w, k2h, k2w, s2h, s2w, d1h, d1w, d2h, d2w, c, o, th, tw: (
        rf"\left({w1} \circledast^{{\top}} {w2}\right)_{{{c},{o},{th},{tw}}}"),
    doc=(r"(w_1 \circledast^\top w_2)_{c,o,t_h,t_w} = \sum_{m<M} \sum_{s_2 d_1 a + d_2 b = t \text{ per axis}} "
         r"w_{1,c,m,a_h,a_w} w_{2,m,o,b_h,b_w}: the kernel of two transposed convolutions in a row."),
)


def _pconv2_body(x, w, C, nh, nw, kh, kw, ph, pw, o, i, j) -> SumExpr:
    ph_, pw_ = i + bh - ph, j + bw - pw
    return SumExpr.of(Term(
        w[o, cm, bh, bw] * x[cm, ph_, pw_],
        (Range.of(cm, 0, C - 1), Range.of(bh, 0, kh - 1), Range.of(bw, 0, kw - 1)),
        (sympy.Ge(ph_, 0), sympy.Le(ph_, nh - 1), sympy.Ge(pw_, 0), sympy.Le(pw_, nw - 1))))


padded_conv2d_channels = OpDef(
    "padded_conv2d_channels",
    _pconv2_body,
    lambda x, w, C, nh, nw, kh, kw, ph, pw, o, i, j: (
        rf"\left({x} \star_{{1,({ph},{pw}),1}} {w}\right)_{{{o},{i},{j}}}"),
    doc=(r"(x \star_{1,p,1} w)_{o,i,j} = \sum_{c<C} \sum_{b_h<k_h,\, b_w<k_w} [\text{inside}]\, "
         r"w_{o,c,b_h,b_w} x_{c,i+b_h-p_h,j+b_w-p_w}: a stride-1 2-D convolution with zero padding."),
)


def _ca2_body(w1, w2, M, k1h, k1w, k2h, k2w, c, o, th, tw) -> SumExpr:
    return SumExpr.of(Term(
        w1[c, mm, ah, aw] * w2[o, mm, bh, bw],
        (Range.of(mm, 0, M - 1), Range.of(ah, 0, k1h - 1), Range.of(aw, 0, k1w - 1),
         Range.of(bh, 0, k2h - 1), Range.of(bw, 0, k2w - 1)),
        (sympy.Eq(ah - bh + k2h - 1, th), sympy.Eq(aw - bw + k2w - 1, tw))))


conv_after_kernel2d = OpDef(
    "conv_after_kernel2d",
    _ca2_body,
    lambda w1, w2, M, k1h, k1w, k2h, k2w, c, o, th, tw: (
        rf"\left({w1} \mathbin{{\star^{{\top}}}} {w2}\right)_{{{c},{o},{th},{tw}}}"),
    doc=(r"(w_1 \star^\top w_2)_{c,o,t_h,t_w} = \sum_{m<M} \sum_{a - b + k_2 - 1 = t \text{ per axis}} "
         r"w_{1,c,m,a_h,a_w} w_{2,o,m,b_h,b_w}: the kernel of a convolution after a transposed convolution."),
)


# ---------------------------------------------------------------------------------------------
# 2-D, with channels and groups: the transposed convolution, the padded convolution it is the
# adjoint of, and the stride-1 dilated convolution that computes it.  Per spatial axis a stride,
# a padding and a dilation (``s_h, s_w`` ...); the output channel ``o`` of group ``g`` is
# channel ``g O_g + o`` (``O_g`` output channels per group), input channel ``c`` of group ``g``
# is ``g C_g + c``.

c2, jh2, jw2, ah2, aw2 = index("c j_h j_w a_h a_w")


def _ct2d_body(y, w, Cg, nh, nw, kh, kw, sh, sw, ph, pw, dh, dw, g, o, ih, iw) -> SumExpr:
    return SumExpr.of(Term(
        w[g * Cg + c2, o, ah2, aw2] * y[g * Cg + c2, jh2, jw2],
        (Range.of(c2, 0, Cg - 1), Range.of(jh2, 0, nh - 1), Range.of(jw2, 0, nw - 1),
         Range.of(ah2, 0, kh - 1), Range.of(aw2, 0, kw - 1)),
        (sympy.Eq(sh * jh2 + dh * ah2 - ph, ih), sympy.Eq(sw * jw2 + dw * aw2 - pw, iw)),
    ))


conv_transpose2d = OpDef(
    "conv_transpose2d",
    _ct2d_body,
    lambda y, w, Cg, nh, nw, kh, kw, sh, sw, ph, pw, dh, dw, g, o, ih, iw: (
        rf"\left({y} \mathbin{{\star^{{\top}}_{{G,({sh},{sw}),({ph},{pw}),({dh},{dw})}}}} {w}\right)"
        rf"_{{({g},{o}),{ih},{iw}}}"),
    doc=(r"(y \star^\top_G w)_{(g,o),i_h,i_w} = \sum_{c<C_g} \sum_{j_h<n_h} \sum_{j_w<n_w} \sum_{a_h<k_h} "
         r"\sum_{a_w<k_w} [s_h j_h + d_h a_h - p_h = i_h]\, [s_w j_w + d_w a_w - p_w = i_w]\, "
         r"w_{g C_g + c,o,a_h,a_w}\, y_{g C_g + c,j_h,j_w}: the grouped 2-D transposed convolution "
         r"(PyTorch's weight, shape (C_{in}, C_{out}/g, k_h, k_w)) at output channel o of group g."),
)


def _ct2d_per_group_body(y, V, Cg, nh, nw, kh, kw, sh, sw, ph, pw, dh, dw, g, o, ih, iw) -> SumExpr:
    return SumExpr.of(Term(
        V[g, c2, o, ah2, aw2] * y[g * Cg + c2, jh2, jw2],
        (Range.of(c2, 0, Cg - 1), Range.of(jh2, 0, nh - 1), Range.of(jw2, 0, nw - 1),
         Range.of(ah2, 0, kh - 1), Range.of(aw2, 0, kw - 1)),
        (sympy.Eq(sh * jh2 + dh * ah2 - ph, ih), sympy.Eq(sw * jw2 + dw * aw2 - pw, iw)),
    ))


conv_transpose2d_per_group = OpDef(
    "conv_transpose2d_per_group",
    _ct2d_per_group_body,
    lambda y, V, Cg, nh, nw, kh, kw, sh, sw, ph, pw, dh, dw, g, o, ih, iw: (
        rf"\left({y} \mathbin{{\star^{{\top}}_{{G,({sh},{sw}),({ph},{pw}),({dh},{dw})}}}} {V}\right)"
        rf"_{{({g},{o}),{ih},{iw}}}"),
    doc=(r"(y \star^\top_G V)_{(g,o),i_h,i_w} = \sum_{c,j_h,j_w,a_h,a_w} [s_h j_h + d_h a_h - p_h = i_h]\, "
         r"[s_w j_w + d_w a_w - p_w = i_w]\, V_{g,c,o,a_h,a_w}\, y_{g C_g + c,j_h,j_w}: the grouped 2-D "
         r"transposed convolution with the weight given per group, V_{g,c,o} being row g C_g + c, column o "
         r"of PyTorch's weight (the weight reshaped to (g, C_{in}/g, C_{out}/g, k_h, k_w))."),
)


def _pconv2d_body(x, w, Cg, nh, nw, kh, kw, sh, sw, ph, pw, dh, dw, g, Og, o, ih, iw) -> SumExpr:
    rh, rw = sh * ih + dh * ah2 - ph, sw * iw + dw * aw2 - pw
    return SumExpr.of(Term(
        w[g * Og + o, c2, ah2, aw2] * x[g * Cg + c2, rh, rw],
        (Range.of(c2, 0, Cg - 1), Range.of(ah2, 0, kh - 1), Range.of(aw2, 0, kw - 1)),
        (sympy.Ge(rh, 0), sympy.Le(rh, nh - 1), sympy.Ge(rw, 0), sympy.Le(rw, nw - 1)),
    ))


padded_conv2d_grouped = OpDef(
    "padded_conv2d_grouped",
    _pconv2d_body,
    lambda x, w, Cg, nh, nw, kh, kw, sh, sw, ph, pw, dh, dw, g, Og, o, ih, iw: (
        rf"\left({x} \star_{{G,({sh},{sw}),({ph},{pw}),({dh},{dw})}} {w}\right)_{{{g} {Og} + {o},{ih},{iw}}}"),
    doc=(r"(x \star_G w)_{g O_g + o,i_h,i_w} = \sum_{c<C_g} \sum_{a_h<k_h} \sum_{a_w<k_w} "
         r"[0 \le s_h i_h + d_h a_h - p_h \le n_h - 1]\, [0 \le s_w i_w + d_w a_w - p_w \le n_w - 1]\, "
         r"w_{g O_g + o,c,a_h,a_w}\, x_{g C_g + c,s_h i_h + d_h a_h - p_h,s_w i_w + d_w a_w - p_w}: the grouped "
         r"2-D convolution of an n_h x n_w map with zero padding (p_h, p_w), strides (s_h, s_w), dilations "
         r"(d_h, d_w) (PyTorch's weight, shape (C_{out}, C_{in}/g, k_h, k_w))."),
)


def _conv2d_gd_body(u, f, Cg, kh, kw, dh, dw, g, o, ih, iw) -> SumExpr:
    return SumExpr.of(Term(
        f[g, o, c2, ah2, aw2] * u[g * Cg + c2, ih + dh * ah2, iw + dw * aw2],
        (Range.of(c2, 0, Cg - 1), Range.of(ah2, 0, kh - 1), Range.of(aw2, 0, kw - 1)),
    ))


conv2d_grouped_dilated = OpDef(
    "conv2d_grouped_dilated",
    _conv2d_gd_body,
    lambda u, f, Cg, kh, kw, dh, dw, g, o, ih, iw: (
        rf"\left({u} \star_{{G,1,({dh},{dw})}} {f}\right)_{{({g},{o}),{ih},{iw}}}"),
    doc=(r"(u \star_{G,1,d} f)_{(g,o),i_h,i_w} = \sum_{c<C_g} \sum_{a_h<k_h} \sum_{a_w<k_w} f_{g,o,c,a_h,a_w}\, "
         r"u_{g C_g + c,i_h + d_h a_h,i_w + d_w a_w}: a stride-1 grouped 2-D convolution with dilations "
         r"(d_h, d_w), no padding, the kernel given per group (f_{g,o,c} is row g O_g + o, column c of "
         r"PyTorch's weight)."),
)
