"""Transposed convolutions: what they are, their sizes and costs, merging and folding.

PyTorch semantics: ``conv_transpose2d(y, w, stride s, padding p, output_padding q, dilation d,
groups g)`` with ``w`` of shape ``(C_in, C_out/g, k_h, k_w)`` scatters ``w[c, o, u, v] y[c, i, j]``
to output ``(s i + d u - p, s j + d v - p)``.  It is a stride-1 convolution of ``y`` upsampled by
``s`` and padded by ``d(k-1) - p`` (``q`` more at the end), with the kernel flipped and the
channel axes swapped; it is the adjoint of the convolution with the same weight.  Sub-pixel
convolution is in ``proofs/subpixel.py`` (family ``subpixel``).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import sympy
from _transposed import TRANSPOSED, source_of
from sympy import IndexedBase

from convsym.cost import conv_transpose2d_cost
from convsym.proof import Checked, General, Proof, Refutation, load_checks
from convsym.render import figures
from convsym.symbolic import opdefs as D
from convsym.symbolic import opdefs_transposed as T
from convsym.symbolic.rules import Fold, GroupBy, Reorder, Substitute, Unfold
from convsym.symbolic.sums import Let, Range, SumExpr, Term, index
from convsym.symbolic.symbols import sizes

CHECKS = load_checks(__file__)  # the emitted numeric checks: proofs/checks/transposed.py
_src = source_of(CHECKS)

FAMILY = TRANSPOSED
SECTION = 1


# =============================================================================================
# 1. what it is: upsample, pad, flip, convolve (1-D, all sizes)

n, k, s, d = sizes("n k s d")
(p,) = index("p")
i, a, b, j, t = index("i a b j t")
y, w, u, f = (IndexedBase(q) for q in ("y", "w", "u", "f"))
u_def = Let(u, lambda tt: SumExpr.of(Term(y[j], (Range.of(j, 0, n - 1),),
                                          (sympy.Eq(s * j + d * (k - 1) - p, tt),))))
f_def = Let(f, lambda bb: SumExpr.of(w[k - 1 - bb]))

definition_1d = General(
    "transposed.definition-1d",
    "A transposed convolution is an upsampled, padded convolution with the flipped kernel",
    "For all lengths $n$, kernel sizes $k$, strides $s$, dilations $d$ and paddings $p \\ge 0$: the "
    "transposed convolution of $y$ at output $i$ equals the stride-1 convolution (dilation $d$) of "
    "$u$ with the flipped kernel $f_b = w_{k-1-b}$, where $u$ holds $y_j$ at position $s j + d(k-1) "
    "- p$ and 0 elsewhere: $y$ with $s - 1$ zeros between entries, $d(k-1) - p$ zeros in front (a "
    "negative number crops). The end padding $d(k-1) - p + q$ only decides how many outputs are "
    "kept (transposed.output-size).",
    idea="Each input $y_j$ is scattered to the outputs $s j + d b - p$: substitute the output index "
         "for the tap, so that output $i$ gathers from $u$ at $i + d b$ with the flipped kernel, "
         "and the entries of $u$ off the stride grid are zero.",
    lhs=D.conv1d(u, f, k, i, dilation=d),
    rhs=T.conv_transpose1d(y, w, n, k, s, p, d, i),
    lets=[u_def, f_def],
    size_hypotheses=[sympy.Ge(p, 0)],
    derivation=[
        Unfold("conv1d", ("b",)),
        Unfold("f"),
        Unfold("u", ("j",)),
        Substitute("b", "a", k - 1 - a, [("j", 0, n - 1), ("a", 0, k - 1)]),
        Fold(T.conv_transpose1d(y, w, n, k, s, p, d, i), ("j", "a")),
    ],
    instances=[dict(n=2, k=3, s=2, d=1, p=1)],
    check_source=_src("_def_scatter", "test_transposed_definition_scatter_exact"),
)


def _upsample_figure(fields):
    """The upsampled, padded input of a transposed convolution, with the first window of the
    stride-1 convolution that follows; sizes from convsym.shapes."""
    from convsym.shapes import conv_transpose_output_size

    n_, s_, k_, p_, q_ = 3, 2, 3, 1, 1
    lo = k_ - 1 - p_
    size = (n_ - 1) * s_ + 1 + 2 * lo + q_
    cells, labels = [], []
    for r in range(size):
        row, lab = [], []
        for c in range(size):
            ri, ci = r - lo, c - lo
            real = 0 <= ri < (n_ - 1) * s_ + 1 and 0 <= ci < (n_ - 1) * s_ + 1
            window = r < k_ and c < k_
            if real and ri % s_ == 0 and ci % s_ == 0:
                row.append("hi" if window else "in")
                lab.append(f"y_{{{ri // s_}{ci // s_}}}")
            else:
                row.append("kernel" if window else ("" if real else "pad"))
                lab.append("")
        cells.append(row)
        labels.append(lab)
    out = size - k_ + 1
    if out != conv_transpose_output_size(n_, k_, s_, p_, q_):
        raise ValueError(f"_upsample_figure: {out} outputs, convsym.shapes says "
                         f"{conv_transpose_output_size(n_, k_, s_, p_, q_)}")
    key = [("in", "input entry"), ("", "zero between entries"), ("pad", "zero border"),
           ("kernel", "first window")]
    caption = (f"The input of a transposed convolution, $n = {n_}$, $s = {s_}$, $k = {k_}$, $p = {p_}$, output "
               f"padding $q = {q_}$, as the stride-1 convolution that computes it sees it: $s - 1 = {s_ - 1}$ zero "
               f"between entries, $d(k-1) - p = {lo}$ zero row and column in front and ${lo + q_}$ behind. A "
               f"${k_} \\times {k_}$ convolution with the flipped kernel (first window shaded) gives the "
               f"${out} \\times {out}$ output, $(n-1)s - 2p + d(k-1) + q + 1 = {out}$.")
    return figures.grid(cells, labels, size=0.5, key=key), caption


Cg2, nh2, nw2, kh2, kw2, sh2, sw2, dh2, dw2 = sizes("C_g n_h n_w k_h k_w s_h s_w d_h d_w")
ph2, pw2 = index("p_h p_w")
g2, o2, ih2, iw2, c2, jh2, jw2, ah2, aw2 = index("g o i_h i_w c j_h j_w a_h a_w")
u2, f2 = IndexedBase("u"), IndexedBase("f")
u2_def = Let(u2, lambda cc, t_h, t_w: SumExpr.of(Term(
    y[cc, jh2, jw2], (Range.of(jh2, 0, nh2 - 1), Range.of(jw2, 0, nw2 - 1)),
    (sympy.Eq(sh2 * jh2 + dh2 * (kh2 - 1) - ph2, t_h), sympy.Eq(sw2 * jw2 + dw2 * (kw2 - 1) - pw2, t_w)))))
f2_def = Let(f2, lambda gg, oo, cc, b_h, b_w: SumExpr.of(w[gg * Cg2 + cc, oo, kh2 - 1 - b_h, kw2 - 1 - b_w]))
_ct2 = T.conv_transpose2d(y, w, Cg2, nh2, nw2, kh2, kw2, sh2, sw2, ph2, pw2, dh2, dw2, g2, o2, ih2, iw2)

definition_2d = General(
    "transposed.definition-2d",
    "Upsample, pad, flip and swap: the 2-D form with groups",
    "For all numbers $C_g$ of input channels per group, input sizes $n_h \\times n_w$, kernel sizes "
    "$k_h \\times k_w$, strides $s_h, s_w$, dilations $d_h, d_w$ and paddings $p_h, p_w \\ge 0$: the "
    "grouped transposed convolution of $y$ (PyTorch's weight $w$ of shape $(C_{\\mathrm{in}}, "
    "C_{\\mathrm{out}}/g, k_h, k_w)$) at output channel $o$ of group $g$ and position $(i_h, i_w)$ equals "
    "the stride-1 grouped convolution (dilations $d_h, d_w$) of $u$ with the kernel $f_{g,o,c,b_h,b_w} = "
    "w_{g C_g + c,o,k_h-1-b_h,k_w-1-b_w}$: flipped on both axes, and with the two channel axes swapped "
    "within each group. $u$ holds $y_{c,j_h,j_w}$ at $(s_h j_h + d_h(k_h-1) - p_h, s_w j_w + d_w(k_w-1) - "
    "p_w)$ and 0 elsewhere: $s - 1$ zeros between entries, $d(k-1) - p$ zeros in front on each axis (a "
    "negative number crops). The end padding, with the output padding $q$, only decides how many outputs "
    "are kept (transposed.output-size).",
    idea="As in 1-D, per axis: each input $y_{c,j_h,j_w}$ reaches output $(i_h, i_w)$ through the taps "
         "with $s j + d a - p = i$; substitute the flipped taps $b = k - 1 - a$ on both axes, and the "
         "convolution's window at $(i_h, i_w)$ reads exactly those entries of $u$. Input channel $c$ of "
         "group $g$ meets output channel $o$ of the same group through $w_{g C_g + c,o}$ on both sides.",
    lhs=T.conv2d_grouped_dilated(u2, f2, Cg2, kh2, kw2, dh2, dw2, g2, o2, ih2, iw2),
    rhs=_ct2,
    lets=[u2_def, f2_def],
    size_hypotheses=[sympy.Ge(ph2, 0), sympy.Ge(pw2, 0)],
    derivation=[
        Unfold("conv2d_grouped_dilated", ("c", "b_h", "b_w")),
        Unfold("f"),
        Unfold("u", ("j_h", "j_w")),
        Substitute("b_h", "a_h", kh2 - 1 - ah2,
                   [("c", 0, Cg2 - 1), ("a_h", 0, kh2 - 1), ("b_w", 0, kw2 - 1),
                    ("j_h", 0, nh2 - 1), ("j_w", 0, nw2 - 1)]),
        Substitute("b_w", "a_w", kw2 - 1 - aw2,
                   [("c", 0, Cg2 - 1), ("j_h", 0, nh2 - 1), ("j_w", 0, nw2 - 1),
                    ("a_h", 0, kh2 - 1), ("a_w", 0, kw2 - 1)]),
        Fold(_ct2, ("c", "j_h", "j_w", "a_h", "a_w")),
    ],
    instances=[dict(C_g=2, n_h=2, n_w=1, k_h=3, k_w=2, s_h=2, s_w=1, d_h=1, d_w=2, p_h=1, p_w=0, g=1),
               dict(C_g=1, n_h=2, n_w=2, k_h=2, k_w=2, s_h=1, s_w=2, d_h=2, d_w=1, p_h=0, p_w=2, g=1)],
    figure=_upsample_figure,
    check_source=_src("_def_upsample_conv", "test_transposed_definition_upsampled_exact"),
)

# =============================================================================================
# 2. the adjoint: <conv(x, w), y> = <x, conv_transpose(y, w)>

(m,) = sizes("m")
x = IndexedBase("x")

adjoint_1d = General(
    "transposed.adjoint-1d",
    "The transposed convolution is the adjoint of the convolution",
    "For all lengths $n$ (input) and $m$ (outputs kept), kernel sizes, strides, dilations and paddings: "
    "$\\sum_i y_i\\, (x \\star w)_i = \\sum_t x_t\\, u_t$, where $u$ is the transposed convolution of $y$ "
    "with $w$, with zero padding $p$ on $x$ and the transposed convolution cropping $p$. "
    "This is why it is called the transpose: as "
    "matrices, the transposed convolution is the transpose of the convolution.",
    idea="Unfold both sides into double sums over output and tap; substitute the input position $t = s i + "
    "d a - p$ on the left, and both become the same sum of $y_i\\, w_a\\, x_t$ over the pairs that meet.",
    lhs=SumExpr.of(Term(y[i] * T.padded_conv1d(x, w, n, k, s, p, d, i), (Range.of(i, 0, m - 1),))),
    rhs=SumExpr.of(Term(x[t] * T.conv_transpose1d(y, w, m, k, s, p, d, t), (Range.of(t, 0, n - 1),))),
    size_hypotheses=[sympy.Ge(p, 0)],
    derivation=[
        Unfold("padded_conv1d", ("a",)),
        GroupBy("t", s * i + d * a - p, 0, n - 1, w[a] * y[i] * x[t], ("i", "a")),
        Fold(T.conv_transpose1d(y, w, m, k, s, p, d, t), ("i", "a")),
    ],
    instances=[dict(n=3, m=2, k=2, s=2, d=1, p=1)],
    check_source=_src("test_transposed_adjoint_exact"),
)


Ga, Cga, Oga, nha, nwa, mha, mwa, kha, kwa, sha, swa, dha, dwa = sizes(
    "G C_g O_g n_h n_w m_h m_w k_h k_w s_h s_w d_h d_w")
pha, pwa = index("p_h p_w")
ga, oa, ca, iha, iwa, tha, twa, aha, awa = index("g o c i_h i_w t_h t_w a_h a_w")
_conv2 = T.padded_conv2d_grouped(x, w, Cga, nha, nwa, kha, kwa, sha, swa, pha, pwa, dha, dwa, ga, Oga, oa, iha, iwa)
_back2 = T.conv_transpose2d(y, w, Oga, mha, mwa, kha, kwa, sha, swa, pha, pwa, dha, dwa, ga, ca, tha, twa)

adjoint_2d = General(
    "transposed.adjoint-2d",
    "The adjoint with channels, groups and both spatial axes",
    "For all numbers of groups $G$, channels per group $C_g$ (input) and $O_g$ (output), input sizes $n_h "
    "\\times n_w$, numbers of outputs kept $m_h \\times m_w$, kernel sizes $k_h, k_w$, strides $s_h, s_w$, "
    "dilations $d_h, d_w$ and paddings $p_h, p_w \\ge 0$: $\\langle x \\star w, y \\rangle = \\langle x, "
    "y \\star^{\\top} w \\rangle$, both inner products summed over every channel $g O_g + o$, resp. $g C_g + c$, "
    "and every position. The transposed convolution uses the convolution's weight as it is: the "
    "convolution's $(C_{\\mathrm{out}}, C_{\\mathrm{in}}/g)$ is the transposed convolution's "
    "$(C_{\\mathrm{in}}, C_{\\mathrm{out}}/g)$.",
    idea="As in 1-D, on each axis: unfold the padded convolution into a sum over groups, channels, "
         "outputs and taps, then group the terms by the input position $t_h = s_h i_h + d_h a_h - p_h$, "
         "$t_w = s_w i_w + d_w a_w - p_w$ that each product reads. For fixed $g, c, t_h, t_w$ the remaining "
         "sum over $o, i_h, i_w, a_h, a_w$ is the scatter definition of the transposed convolution at "
         "input channel $c$ of group $g$.",
    lhs=SumExpr.of(Term(y[ga * Oga + oa, iha, iwa] * _conv2,
                        (Range.of(ga, 0, Ga - 1), Range.of(oa, 0, Oga - 1),
                         Range.of(iha, 0, mha - 1), Range.of(iwa, 0, mwa - 1)))),
    rhs=SumExpr.of(Term(x[ga * Cga + ca, tha, twa] * _back2,
                        (Range.of(ga, 0, Ga - 1), Range.of(ca, 0, Cga - 1),
                         Range.of(tha, 0, nha - 1), Range.of(twa, 0, nwa - 1)))),
    size_hypotheses=[sympy.Ge(pha, 0), sympy.Ge(pwa, 0)],
    derivation=[
        Unfold("padded_conv2d_grouped", ("c", "a_h", "a_w")),
        GroupBy("t_h", sha * iha + dha * aha - pha, 0, nha - 1,
                w[ga * Oga + oa, ca, aha, awa] * y[ga * Oga + oa, iha, iwa]
                * x[ga * Cga + ca, tha, swa * iwa + dwa * awa - pwa],
                ("g", "o", "i_h", "i_w", "c", "a_h", "a_w")),
        GroupBy("t_w", swa * iwa + dwa * awa - pwa, 0, nwa - 1,
                w[ga * Oga + oa, ca, aha, awa] * y[ga * Oga + oa, iha, iwa] * x[ga * Cga + ca, tha, twa],
                ("t_h", "g", "o", "i_h", "i_w", "c", "a_h", "a_w")),
        Fold(_back2, ("o", "i_h", "i_w", "a_h", "a_w")),
        Reorder([("g", 0, Ga - 1), ("c", 0, Cga - 1), ("t_h", 0, nha - 1), ("t_w", 0, nwa - 1)]),
    ],
    instances=[dict(G=2, C_g=1, O_g=2, n_h=3, n_w=2, m_h=2, m_w=2, k_h=2, k_w=1, s_h=2, s_w=1, d_h=1, d_w=1,
                    p_h=1, p_w=0),
               dict(G=1, C_g=2, O_g=1, n_h=3, n_w=3, m_h=2, m_w=1, k_h=2, k_w=2, s_h=1, s_w=2, d_h=2, d_w=1,
                    p_h=0, p_w=1)],
    check_source=_src("test_transposed_adjoint_grouped_float"),
)

# =============================================================================================
# 3. output size and the output padding

n3, k3, s3, d3, q3 = sizes("n k s d q")
(p3,) = index("p")
i3, a3, M3 = index("i a M")


def derive_output_size(P: Proof) -> None:
    top = (n3 - 1) * s3 + d3 * (k3 - 1)
    P.define("entry $i$ of the input is scattered to the positions $s i + d a - p$, $0 \\le a \\le k-1$; "
             "PyTorch keeps the positions $0 .. L-1$",
             r"L = (n-1)s - 2p + d(k-1) + q + 1")
    P.implies("before cropping, every scattered position lies in $[0, (n-1)s + d(k-1)]$",
              [i3 >= 0, i3 <= n3 - 1, a3 >= 0, a3 <= k3 - 1],
              [s3 * i3 + d3 * a3 >= 0, s3 * i3 + d3 * a3 <= top])
    P.implies("both ends are reached ($i = a = 0$ and $i = n-1$, $a = k-1$)", [],
              [sympy.Eq(s3 * 0 + d3 * 0, 0), sympy.Eq(s3 * (n3 - 1) + d3 * (k3 - 1), top)])
    P.equal("counted: the full extent $(n-1)s + d(k-1) + 1$, minus $p$ on each side, plus $q$ at the end",
            top + 1 - 2 * p3 + q3, (n3 - 1) * s3 - 2 * p3 + d3 * (k3 - 1) + q3 + 1)
    P.implies("products land at output positions at most $(n-1)s + d(k-1) - p$, so the $q$ added positions "
              "$(n-1)s + d(k-1) - 2p + 1, \\dots, (n-1)s + d(k-1) - 2p + q$ re-admit $\\min(p, q)$ of the "
              "positions cropped at the end",
              [i3 >= 0, i3 <= n3 - 1, a3 >= 0, a3 <= k3 - 1, p3 >= 0],
              [s3 * i3 + d3 * a3 - p3 <= top - p3])
    P.implies("without padding ($p = 0$) the $q$ added positions receive no product: they hold the bias only",
              [i3 >= 0, i3 <= n3 - 1, a3 >= 0, a3 <= k3 - 1, sympy.Eq(p3, 0)],
              [s3 * i3 + d3 * a3 - p3 < top - 2 * p3 + 1])
    L = (n3 - 1) * s3 - 2 * p3 + d3 * (k3 - 1) + q3 + 1
    back = L + 2 * p3 - d3 * (k3 - 1) - 1
    floor_def = [M3 * s3 <= back, back < (M3 + 1) * s3]
    P.implies("with $q < s$ the forward rule maps $L$ back to $n$: "
              "$\\lfloor (L + 2p - d(k-1) - 1)/s \\rfloor + 1 = n$, so the two layers map between the same sizes "
              "and are adjoint (transposed.adjoint-1d)",
              [p3 >= 0, q3 < s3, *floor_def], [sympy.Eq(M3 + 1, n3)])
    P.implies("with $q \\ge s$ the forward rule gives more than $n$: the convolution of that size "
              "is not the one this layer is the adjoint of", [p3 >= 0, q3 >= s3, *floor_def], [M3 + 1 >= n3 + 1])
    cases = [dict(n=nn, k=kk, s=ss, p=pp, q=qq, d=dd)
             for nn, kk, ss, dd in itertools.product(range(1, 5), range(1, 4), range(1, 4), range(1, 3))
             for qq in range(max(ss, dd)) for pp in range(3) if (nn - 1) * ss + dd * (kk - 1) + 1 + qq - 2 * pp >= 1]
    P.cross_check("scattered positions enumerated: last position + 1, cropped by p on each side, plus q", cases,
                  lambda n, k, s, p, q, d: max(s * i_ + d * a_ for i_ in range(n) for a_ in range(k)) + 1 - 2 * p + q,
                  lambda n, k, s, p, q, d: (n - 1) * s - 2 * p + d * (k - 1) + q + 1)


output_size = Checked(
    "transposed.output-size",
    "Output size by counting, and which output padding keeps the layer an adjoint",
    "For all sizes: $L = (n-1)s - 2p + d(k-1) + q + 1$ outputs; without padding the last $q$ hold "
    "the bias only; the forward rule maps $L$ back to $n$ exactly when $q < s$. PyTorch accepts $q "
    "< \\max(s, d)$: for $s \\le q < d$ the layer runs but is not the adjoint of the convolution of "
    "its output size (transposed.output-padding-dilation).",
    idea="Count the positions the scatter reaches, crop $p$ on each side and add $q$; then let z3 "
         "decide, for all integers, when the convolution's output-size rule maps that length back "
         "to $n$.",
    derive=derive_output_size,
    check_source=_src("_size_roundtrip_sides", "test_transposed_output_size_counted"),
)


def _roundtrip(n, k, s, p, q, d):
    """forward output size of the transposed output size"""
    return CHECKS._size_roundtrip_sides(n, k, s, p, q, d)[0]


def _input_length(n, k, s, p, q, d):
    """the input length n"""
    return n


SIZE_RETEST = """
n, k, s, p, q, d = (witness["inputs"][key] for key in ("n", "k", "s", "p", "q", "d"))
out = (n - 1) * s - 2 * p + d * (k - 1) + q + 1
assert (out + 2 * p - d * (k - 1) - 1) // s + 1 == witness["lhs"]
assert n == witness["rhs"] != witness["lhs"]
"""

padding_too_large = Refutation(
    "transposed.output-padding-too-large",
    "Output padding of at least max(s, d) breaks the adjoint",
    "Claim (false): any output padding $q$ keeps the transposed convolution the adjoint of the "
    "convolution of its output size. With $q \\ge \\max(s, d)$ (which PyTorch rejects) the forward "
    "rule gives back more than $n$ outputs.",
    lhs=_roundtrip, rhs=_input_length,
    witness=dict(n=1, k=1, s=1, p=0, q=1, d=1),
    describe="n = k = s = d = 1, p = 0, q = 1: the transposed output has 2 entries, whose convolution has 2 "
             "outputs, not 1",
    witness_check=SIZE_RETEST,
)

padding_dilation = Refutation(
    "transposed.output-padding-dilation",
    "PyTorch's rule q < max(s, d) is weaker than the adjoint needs (q < s)",
    "Claim (false): every output padding PyTorch accepts (q < max(s, d)) keeps the transposed "
    "convolution the adjoint of the convolution of its output size. With stride 1, dilation 2 and q = 1 "
    "PyTorch runs the layer, but the forward rule maps its output size to n + 1.",
    lhs=_roundtrip, rhs=_input_length,
    witness=dict(n=2, k=2, s=1, p=0, q=1, d=2),
    describe="n = 2, k = 2, s = 1, p = 0, q = 1, d = 2: 5 outputs, whose convolution has 3 outputs, not 2",
    witness_check=SIZE_RETEST,
    check_source=CHECKS.test_transposed_output_padding_dilation_accepted_by_reference,
)

# =============================================================================================
# 4. costs: the loop nest, the upsampled convolution and its zero taps

Nc, Gc, ci_, co_, Hc, Wc, khc, kwc, shc, swc, dhc, dwc, qhc, qwc = sizes(
    "N g c_i c_o H W k_h k_w s_h s_w d_h d_w q_h q_w")
(pc,) = index("p")
nb, gm, cc_, oc_, ic, jc, uc, vc, yc, zc = index("n_b gamma c o i j u v y z")
Ho = (Hc - 1) * shc + dhc * (khc - 1) + qhc + 1
Wo = (Wc - 1) * swc + dwc * (kwc - 1) + qwc + 1


def _count_taps(n, c_in, h, w, c_out, k, s, d, q, g):
    """(products of the scatter loop that land in the output, taps of the upsampled convolution), counted"""
    Ho_, Wo_ = (h - 1) * s + d * (k - 1) + q + 1, (w - 1) * s + d * (k - 1) + q + 1
    landed = sum(1 for i_ in range(h) for j_ in range(w) for u_ in range(k) for v_ in range(k)
                 if s * i_ + d * u_ < Ho_ and s * j_ + d * v_ < Wo_) * n * c_in * (c_out // g)
    taps = Ho_ * Wo_ * k * k * n * c_out * (c_in // g)
    return landed, taps


def derive_costs(P: Proof) -> None:
    P.define("the scatter loop nest: batch, group, input channel of the group, input row and column, output "
             "channel of the group, kernel row and column; one MAC each",
             r"y_{n, \gamma c_o + o, s i + d u - p, s j + d v - p} \mathrel{+}= "
             r"x_{n, \gamma c_i + c, i, j}\, w_{\gamma c_i + c, o, u, v}")
    spatial = P.summation("the four spatial loops (input row, column, kernel row, column) of one pair of "
                          "input and output channels", 1,
                          [(vc, 0, kwc - 1), (uc, 0, khc - 1), (jc, 0, Wc - 1), (ic, 0, Hc - 1)])
    loop = Nc * Gc * ci_ * co_ * spatial
    P.equal("times the $N g\\, c_i c_o$ (batch, group, channel pair) iterations of the outer loops, "
            "whose bounds do not depend on the inner ones: $N C_{\\mathrm{in}} H W "
            "(C_{\\mathrm{out}}/g)\\, k_h k_w$ multiply-accumulates, with $C_{\\mathrm{in}} = g "
            "c_i$, $C_{\\mathrm{out}} = g c_o$",
            loop, Nc * (Gc * ci_) * Hc * Wc * co_ * khc * kwc)
    taps = P.summation("the equivalent stride-1 convolution over the upsampled input (no padding $p$): every output "
                       "position of one channel pair times $k_h k_w$ taps", 1,
                       [(vc, 0, kwc - 1), (uc, 0, khc - 1), (zc, 0, Wo - 1), (yc, 0, Ho - 1)])
    up = Nc * Gc * co_ * ci_ * taps
    P.equal("times $N g\\, c_o c_i$: $N C_{\\mathrm{out}} H_{\\mathrm{out}} W_{\\mathrm{out}} "
            "(C_{\\mathrm{in}}/g)\\, k_h k_w$ taps", up,
            Nc * (Gc * co_) * Ho * Wo * ci_ * khc * kwc)
    P.implies("without padding every product lands inside the output (rows; the columns alike)",
              [ic >= 0, ic <= Hc - 1, uc >= 0, uc <= khc - 1, qhc >= 0],
              [shc * ic + dhc * uc >= 0, shc * ic + dhc * uc <= Ho - 1])
    P.define("so the upsampled convolution reads a real input entry exactly once per product of the loop nest, "
             "and a zero (inserted between entries, or padding) at every other tap", r"Z = U - M")
    P.equal("the zero taps it skips: $N C_{\\mathrm{out}} (C_{\\mathrm{in}}/g)\\, k_h k_w "
            "(H_{\\mathrm{out}} W_{\\mathrm{out}} - H W)$", up - loop,
            Nc * Gc * co_ * ci_ * khc * kwc * (Ho * Wo - Hc * Wc))
    cases = [dict(n=nn, c_in=ci, h=h, w=ww, c_out=co, k=kk, s=ss, d=dd, q=qq, g=gg)
             for nn, ci, co, gg in ((1, 2, 2, 1), (2, 4, 2, 2)) for h, ww in ((2, 3), (3, 3))
             for kk in (1, 2, 3) for ss in (1, 2, 3) for dd in (1, 2) for qq in range(max(ss, dd))]
    P.cross_check("products that land and taps of the upsampled convolution, counted one by one", cases,
                  lambda **c: _count_taps(**c),
                  lambda n, c_in, h, w, c_out, k, s, d, q, g: (
                      n * c_in * h * w * (c_out // g) * k * k,
                      n * c_out * (c_in // g) * k * k * ((h - 1) * s + d * (k - 1) + q + 1)
                      * ((w - 1) * s + d * (k - 1) + q + 1)))
    P.cross_check("thop's count for a transposed convolution is the upsampled convolution's, zero taps included",
                  [c for c in cases if c["q"] == 0],
                  lambda n, c_in, h, w, c_out, k, s, d, q, g: conv_transpose2d_cost(
                      (n, c_in, h, w), c_out, k, stride=s, dilation=d, groups=g).as_reported_by("thop").value,
                  lambda **c: _count_taps(**c)[1])


def _tool_remarks() -> tuple[str, ...]:
    shape, out, kk, ss, pp = (1, 64, 32, 32), 32, 4, 2, 1
    cost = conv_transpose2d_cost(shape, out, kk, stride=ss, padding=pp)
    Ho_, Wo_ = cost.output_shape[2:]
    upsampled = cost.output_shape[0] * out * Ho_ * Wo_ * shape[1] * kk * kk
    lines = [f"Example: input {shape}, {out} output channels, kernel {kk}, stride {ss}, padding {pp} (output "
             f"{Ho_} x {Wo_}): true MACs {cost.macs}; the upsampled convolution has {upsampled} taps, "
             f"{upsampled - cost.macs} more (the zero taps, plus the {pp}-wide crop)."]
    for tool in ("fvcore", "ptflops", "thop", "torchinfo", "deepspeed", "torch"):
        r = cost.as_reported_by(tool)
        lines.append(f"{tool} {r.version} prints {r.quantity} = {r.value} ({Fraction(r.value, cost.macs)} x the true "
                     f"MACs).")
    return (" ".join(lines),)


costs = Checked(
    "transposed.costs",
    "MACs of a transposed convolution, of its upsampled form, and the zero taps",
    "For all sizes: the scatter loop makes $N C_{\\mathrm{in}} H W (C_{\\mathrm{out}}/g)\\, k_h "
    "k_w$ multiply-accumulates; the stride-1 convolution over the upsampled input makes $N "
    "C_{\\mathrm{out}} H_{\\mathrm{out}} W_{\\mathrm{out}} (C_{\\mathrm{in}}/g)\\, k_h k_w$, and "
    "without padding the difference, $N C_{\\mathrm{out}} (C_{\\mathrm{in}}/g)\\, k_h k_w "
    "(H_{\\mathrm{out}} W_{\\mathrm{out}} - H W)$, are the taps that read a zero (inserted between "
    "entries or padded around). thop reports the upsampled count (cross-checked below); the remarks "
    "list each tool.",
    idea="Sum each loop nest with SymPy: the scatter loop runs over inputs and taps, the upsampled "
         "convolution over outputs and taps; their difference counts the taps that read an inserted "
         "or padded zero.",
    derive=derive_costs,
    check_source=_src("test_transposed_zero_taps_counted"),
    remarks=_tool_remarks(),
)
