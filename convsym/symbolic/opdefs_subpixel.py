"""Sub-pixel convolution and stride-r transposed convolution in 2-D with channels, as index sums.

The conventions of :mod:`convsym.symbolic.opdefs_transposed` (PyTorch's, zero-based), on two spatial
axes ``h`` and ``w``.  An input ``x`` has ``C_in`` channels and ``n_h x n_w`` pixels; entries outside
``0 .. n-1`` are never read (zero padding is a range condition).  PyTorch's ``pixel_shuffle(r)``
puts channel ``c r^2 + phi_h r + phi_w`` at row ``i // r = j_h`` of phase ``phi_h = i mod r``
(likewise for columns) of output channel ``c``; a sum over ``j_h, phi_h`` with ``r j_h + phi_h =
i_h`` says exactly that.  A transposed convolution's weight is ``(C_in, C_out, k_h, k_w)``, a
convolution's ``(C_out, C_in, K_h, K_w)``; the transposed convolution itself is
:data:`convsym.symbolic.opdefs_transposed.conv_transpose2d_dilated`.
"""

from __future__ import annotations

import sympy

from convsym.symbolic.sums import OpDef, Range, SumExpr, Term, index

ci, cc, m_h, m_w, b_h, b_w = index("c_i c' m_h m_w b_h b_w")
j_h, j_w, ph_h, ph_w, a_h, a_w = index("j_h j_w phi_h phi_w a_h a_w")


def _sp2_body(x, W, C_in, n_h, n_w, K_h, K_w, P_h, P_w, r, c, i_h, i_w) -> SumExpr:
    rows, cols = j_h + a_h - P_h, j_w + a_w - P_w
    return SumExpr.of(Term(
        W[c * r**2 + ph_h * r + ph_w, ci, a_h, a_w] * x[ci, rows, cols],
        (Range.of(ci, 0, C_in - 1), Range.of(j_h, 0, i_h), Range.of(j_w, 0, i_w),
         Range.of(ph_h, 0, r - 1), Range.of(ph_w, 0, r - 1),
         Range.of(a_h, 0, K_h - 1), Range.of(a_w, 0, K_w - 1)),
        (sympy.Eq(r * j_h + ph_h, i_h), sympy.Eq(r * j_w + ph_w, i_w),
         sympy.Ge(rows, 0), sympy.Le(rows, n_h - 1), sympy.Ge(cols, 0), sympy.Le(cols, n_w - 1)),
    ))


subpixel2d = OpDef(
    "subpixel2d",
    _sp2_body,
    lambda x, W, C_in, n_h, n_w, K_h, K_w, P_h, P_w, r, c, i_h, i_w: (
        rf"\mathrm{{PS}}_{{{r}}}\left({x} \star_{{1,({P_h},{P_w}),1}} {W}\right)_{{{c},{i_h},{i_w}}}"),
    doc=(r"\mathrm{PS}_r(x \star_P W)_{c,i_h,i_w} = \sum_{c_i} \sum_{j_h, \varphi_h:\ r j_h + \varphi_h = i_h} "
         r"\sum_{j_w, \varphi_w:\ r j_w + \varphi_w = i_w} \sum_{a_h, a_w} "
         r"W_{c r^2 + \varphi_h r + \varphi_w, c_i, a_h, a_w}\, x_{c_i, j_h + a_h - P_h, j_w + a_w - P_w}: "
         r"the stride-1 convolution with r^2 C output channels (padding (P_h, P_w), kernel K_h x K_w) "
         r"followed by PyTorch's pixel_shuffle(r)."),
)


def _spk2_body(W, K_h, K_w, r, c_in, c, t_h, t_w) -> SumExpr:
    return SumExpr.of(Term(
        W[c * r**2 + ph_h * r + ph_w, c_in, a_h, a_w],
        (Range.of(ph_h, 0, r - 1), Range.of(ph_w, 0, r - 1), Range.of(a_h, 0, K_h - 1), Range.of(a_w, 0, K_w - 1)),
        (sympy.Eq(ph_h + r * (K_h - 1 - a_h), t_h), sympy.Eq(ph_w + r * (K_w - 1 - a_w), t_w)),
    ))


subpixel_kernel2d = OpDef(
    "subpixel_kernel2d",
    _spk2_body,
    lambda W, K_h, K_w, r, c_in, c, t_h, t_w: rf"\mathcal{{S}}_{{{r}}}({W})_{{{c_in},{c},{t_h},{t_w}}}",
    doc=(r"\mathcal{S}_r(W)_{c_i,c,t_h,t_w} = \sum_{\varphi_h + r(K_h-1-a_h) = t_h,\ \varphi_w + r(K_w-1-a_w) = t_w} "
         r"W_{c r^2 + \varphi_h r + \varphi_w, c_i, a_h, a_w}: tap (a_h, a_w) of phase (\varphi_h, \varphi_w) of "
         r"output channel c goes to tap (\varphi_h + r(K_h-1-a_h), \varphi_w + r(K_w-1-a_w)) of the "
         r"(C_in, C, r K_h, r K_w) transposed kernel."),
)


def _tsk2_body(V, k_h, k_w, r, p_h, p_w, d_h, d_w, P_h, P_w, o, c_in, t_h, t_w) -> SumExpr:
    # c' = o // r^2 is at most o: the range 0 .. o holds it for every number of channels
    return SumExpr.of(Term(
        V[c_in, cc, b_h, b_w],
        (Range.of(cc, 0, o), Range.of(ph_h, 0, r - 1), Range.of(ph_w, 0, r - 1),
         Range.of(b_h, 0, k_h - 1), Range.of(b_w, 0, k_w - 1)),
        (sympy.Eq(cc * r**2 + ph_h * r + ph_w, o),
         sympy.Eq(ph_h + p_h - d_h * b_h, r * (t_h - P_h)), sympy.Eq(ph_w + p_w - d_w * b_w, r * (t_w - P_w))),
    ))


transposed_subpixel_kernel2d = OpDef(
    "transposed_subpixel_kernel2d",
    _tsk2_body,
    lambda V, k_h, k_w, r, p_h, p_w, d_h, d_w, P_h, P_w, o, c_in, t_h, t_w: (
        rf"\mathcal{{T}}_{{{r}}}({V})_{{{o},{c_in},{t_h},{t_w}}}"),
    doc=(r"\mathcal{T}_r(V)_{o,c_i,a_h,a_w} = \sum_{c' r^2 + \varphi_h r + \varphi_w = o} "
         r"\sum_{b_h:\ \varphi_h + p_h - d_h b_h = r(a_h - P_h)} \sum_{b_w:\ \varphi_w + p_w - d_w b_w = r(a_w - P_w)} "
         r"V_{c_i,c',b_h,b_w}: tap b of the transposed kernel (stride r, padding p, dilation d) goes to tap "
         r"a = P + (\varphi + p - d b)/r of phase \varphi, where that is an integer; channel "
         r"c' r^2 + \varphi_h r + \varphi_w of the sub-pixel weight (r^2 C, C_in, K_h, K_w) for o \ge 0 (the "
         r"sum over 0 \le c' \le o finds c' = \lfloor o / r^2 \rfloor), zero where no tap lands."),
)
