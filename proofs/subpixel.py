"""Sub-pixel convolution (Shi et al., 2016) is a stride-r transposed convolution, and conversely.

``pixel_shuffle(conv(x, W; padding P), r)`` with ``W`` of shape ``(r^2 C, C_in, K, K)`` equals
``conv_transpose(x, V; stride r, padding r (K - 1 - P))`` with the ``r K x r K`` kernel
``V[c_i, c, phi_h + r (K-1-a_h), phi_w + r (K-1-a_w)] = W[c r^2 + phi_h r + phi_w, c_i, a_h, a_w]``,
when the padding is the same on both sides, ``P <= K - 1`` and the ``r^2`` phases of a channel
share one bias.  Every stride-``r`` transposed convolution whose output length is a multiple of
``r`` is a sub-pixel convolution.  The transforms are :mod:`convsym.transforms.subpixel`.
"""

from __future__ import annotations

import numpy as np
import sympy
from _transposed import _retest, source_of
from sympy import IndexedBase

from convsym.exact import ops
from convsym.exact import transposed as OT
from convsym.proof import Checked, General, Identity, Proof, Refutation, load_checks
from convsym.proof.verdict import Family
from convsym.render import figures
from convsym.symbolic import opdefs_subpixel as S
from convsym.symbolic import opdefs_transposed as T
from convsym.symbolic.rules import Collapse, Fold, Substitute, Unfold
from convsym.symbolic.sums import Let, SumExpr, index
from convsym.symbolic.symbols import sizes
from convsym.transforms.layers import Conv2d, ConvTranspose2d
from convsym.transforms.subpixel import subpixel_to_transposed, transposed_to_subpixel

CHECKS = load_checks(__file__)  # the emitted numeric checks: proofs/checks/subpixel.py
_src = source_of(CHECKS)

FAMILY = Family(
    "subpixel",
    "Sub-pixel convolution and transposed convolution",
    intro=(
        "Shi et al. (2016) upsample with a stride-1 convolution that computes $r^2$ channels per output "
        "channel, interleaved by pixel shuffle (depth-to-space). This chapter proves that it is a "
        "transposed convolution with stride $r$ and an $rK \\times rK$ kernel built by a weight map, states "
        "the border conditions under which the two agree and refutes the rest with exact witnesses, and "
        "proves the converse: every stride-$r$ transposed convolution whose output length is a multiple "
        "of $r$ is a sub-pixel convolution."
    ),
    order=36,
)


def _obj(values, shape) -> np.ndarray:
    return np.array(values, dtype=object).reshape(shape)


# =============================================================================================
# 1. the weight map, 1-D, all sizes

n, K, r = sizes("n K r")
(P,) = index("P")
i, a, b, j, m_, phi = index("i a b j m phi")
x, W, V = (IndexedBase(q) for q in ("x", "W", "V"))
V_def = Let(V, lambda tt: SumExpr.of(T.subpixel_kernel(W, K, r, tt)))
p_t = sympy.expand(r * (K - 1 - P))

weight_map_1d = General(
    "subpixel.weight-map-1d",
    "A sub-pixel convolution is a stride-r transposed convolution",
    "For all lengths $n$, kernel sizes $K$, factors $r$ and paddings $0 \\le P \\le K - 1$, at "
    "every output $i \\ge 0$: the transposed convolution with stride $r$, padding $r(K - 1 - P)$ "
    "and the kernel $V$ of size $r K$ with $V_{\\phi + r(K-1-a)} = W_{\\phi, a}$ equals the 1-D "
    "pixel shuffle of the $r$ phases $\\phi$ of the stride-1 convolution of $x$ with $W_\\phi$ "
    "(padding $P$). ($P \\le K - 1$ makes the transposed padding $\\ge 0$; subpixel.output-length "
    "shows both have $r(n + 2P - K + 1)$ outputs.)",
    idea="Write output $i$ as $r j + \\phi$: the transposed convolution at stride $r$ reads only "
         "the taps of $V$ in phase $\\phi$, which are $W_\\phi$ flipped, so substituting the tap "
         "index turns it into the stride-1 convolution of phase $\\phi$.",
    lhs=T.conv_transpose1d(x, V, n, r * K, r, p_t, 1, i),
    rhs=T.subpixel1d(x, W, n, K, P, r, i),
    lets=[V_def],
    size_hypotheses=[sympy.Ge(P, 0), sympy.Le(P, K - 1), sympy.Ge(i, 0)],
    derivation=[
        Unfold("conv_transpose1d", ("m", "b")),
        Unfold("V"),
        Unfold("subpixel_kernel", ("phi", "a")),
        Collapse("b", phi + r * (K - 1 - a)),
        Substitute("m", "j", j + a - P, [("phi", 0, r - 1), ("a", 0, K - 1), ("j", P - a, n - 1 + P - a)]),
        Fold(T.subpixel1d(x, W, n, K, P, r, i), ("j", "phi", "a")),
    ],
    instances=[dict(n=3, K=2, r=2, P=1)],
    check_source=_src("test_subpixel_1d_phases_exact"),
)

n2, K2, r2 = sizes("n K r")
(P2,) = index("P")


def derive_length(P_: Proof) -> None:
    sub = r2 * (n2 + 2 * P2 - K2 + 1)
    tr = (n2 - 1) * r2 - 2 * r2 * (K2 - 1 - P2) + (r2 * K2 - 1) + 0 + 1
    P_.equal("the sub-pixel output, $r$ times the convolution's $n + 2P - K + 1$ outputs, has the transposed "
             "convolution's length $(n-1) r - 2 r(K-1-P) + (rK - 1) + 1$ with output padding 0", sub, tr)
    P_.implies("its padding $r(K - 1 - P)$ is a valid (nonnegative) padding exactly when $P \\le K "
               "- 1$",
               [P2 >= 0, P2 <= K2 - 1], [r2 * (K2 - 1 - P2) >= 0])
    P_.implies("and negative for $P \\ge K$ (subpixel.border-padding-too-large)", [P2 >= K2], [r2 * (K2 - 1 - P2) < 0])


output_length = Checked(
    "subpixel.output-length",
    "Both sides have the same length, and the padding condition",
    "For all $n, K, r$ and $P$: $r(n + 2P - K + 1) = (n-1) r - 2 r (K-1-P) + r K$, so the output "
    "padding is 0; the transposed padding $r(K-1-P)$ is nonnegative exactly when $P \\le K - 1$.",
    idea="Expand both lengths and compare them as polynomials; the padding $r(K-1-P)$ is "
         "nonnegative exactly when $P \\le K - 1$ because $r > 0$.",
    derive=derive_length,
    check_source=_src("test_subpixel_output_length"),
)

# =============================================================================================
# 2. the weight map in 2-D with channels, all sizes (groups and bias through the transform itself)


def _index_array(shape) -> np.ndarray:
    return (np.arange(int(np.prod(shape))) + 1).reshape(shape).astype(object)


def _take(src, mapped) -> object:
    """A tensor whose entries are those of src named by mapped (flat index + 1; 0 is a zero)."""
    flat = np.array(mapped, dtype=np.int64).reshape(-1)
    nz = np.flatnonzero(flat)
    return OT.place(src, tuple(np.shape(mapped)), nz, flat[nz] - 1)


def _sp_inputs(c, ci, K, r, g, n, **_):
    return {"x": (1, ci, n, n), "W": (r * r * c, ci // g, K, K), "b": (c,)}


def _subpixel_side(T_, r, P, g, c, **_):
    """the pixel shuffle by r of the convolution of x with W (padding P), the phases of a channel sharing its bias"""
    bias = T_["b"].gather(np.repeat(np.arange(c), r * r))
    return OT.pixel_shuffle(ops.conv2d(T_["x"], T_["W"], bias, padding=P, groups=g), r)


def _transposed_side(T_, r, P, g, c, **_):
    """the transposed convolution with the weights and bias the rewrite maps them to"""
    idx = _index_array(T_["W"].shape)
    bias_idx = np.repeat(np.arange(c) + 1, r * r).astype(object)
    t = subpixel_to_transposed(Conv2d(idx, bias_idx, padding=P, groups=g), r)
    V_ = _take(T_["W"], t.weight)
    return OT.conv_transpose2d(T_["x"], V_, _take(T_["b"], t.bias), stride=t.stride, padding=t.padding,
                               output_padding=t.output_padding, groups=g)


def _weight_map_figure(fields):
    rr, kk = 2, 2
    t = subpixel_to_transposed(Conv2d(_index_array((rr * rr, 1, kk, kk)), padding=1), rr)
    sources = [[[f"W^{{{ph}}}_{{{ah}{aw}}}" for aw in range(kk)] for ah in range(kk)] for ph in range(rr * rr)]
    merged = []
    for row in np.array(t.weight[0, 0], dtype=np.int64):
        cells = []
        for v in row:
            ph, rest = divmod(int(v) - 1, kk * kk)
            ah, aw = divmod(rest, kk)
            cells.append((ph, f"W^{{{ph}}}_{{{ah}{aw}}}"))
        merged.append(cells)
    titles = [f"phase ${ph} = ({ph // rr}, {ph % rr})$" for ph in range(rr * rr)]
    caption = (f"The weight map from a sub-pixel convolution to a transposed one for $r = {rr}$, $K = {kk}$ (drawn "
               "from the transform's output, a colour per phase): tap $(a_h, a_w)$ of phase "
               "$(\\phi_h, \\phi_w)$ goes to $(\\phi_h + r(K-1-a_h),\\ \\phi_w + r(K-1-a_w))$ "
               f"of the ${rr * kk} \\times {rr * kk}$ kernel; each phase's kernel is flipped and spread with "
               "stride $r$.")
    return figures.weight_map(sources, merged, titles, "transposed kernel"), caption


_WEIGHT_MAP_TRANSFORM = [Identity(
    "subpixel.weight-map-2d-transform",
    "The rewrite's weight map with groups and bias",
    "For $r \\in \\{2, 3\\}$, kernels 1 to 3, every padding $P \\le K - 1$ and groups 1, 2: the "
    "pixel shuffle by $r$ of the convolution of $x$ with $W$ and $b$, and the transposed "
    "convolution the rewrite returns (its weight map and bias read back from the rewrite), are the "
    "same polynomials in $x$, $W$ and $b$.",
    inputs=_sp_inputs,
    lhs=_subpixel_side,
    rhs=_transposed_side,
    family=[dict(c=2, ci=2, K=kk, r=rr, g=g, n=2, P=pp)
            for rr in (2, 3) for kk in (1, 2, 3) for pp in range(kk) for g in (1, 2) if 2 + 2 * pp - kk + 1 >= 1],
)]

C_in, n_h, n_w, K_h, K_w = sizes("C_{in} n_h n_w K_h K_w")
P_h, P_w, c2, i_h, i_w = index("P_h P_w c i_h i_w")
j_h, j_w, a_h, a_w, phi_h, phi_w = index("j_h j_w a_h a_w phi_h phi_w")
V2_def = Let(V, lambda c_i, cc, t_h, t_w: SumExpr.of(S.subpixel_kernel2d(W, K_h, K_w, r, c_i, cc, t_h, t_w)))

weight_map_2d = General(
    "subpixel.weight-map-2d",
    "The 2-D weight map with channels",
    "For all channel counts $C_{\\mathrm{in}}$ (and any number $C$ of output channels), sizes $n_h \\times "
    "n_w$, kernels $K_h \\times K_w$, factors $r$ and paddings $0 \\le P_h \\le K_h - 1$, $0 \\le P_w "
    "\\le K_w - 1$, at every output channel $c$ and position $(i_h, i_w) \\ge 0$: the transposed "
    "convolution with stride $r$, padding $(r(K_h - 1 - P_h), r(K_w - 1 - P_w))$ and the $r K_h \\times "
    "r K_w$ kernel $V_{c_i, c, \\varphi_h + r(K_h-1-a_h), \\varphi_w + r(K_w-1-a_w)} = "
    "W_{c r^2 + \\varphi_h r + \\varphi_w, c_i, a_h, a_w}$ equals PyTorch's pixel shuffle by $r$ of the "
    "stride-1 convolution of $x$ with $W$ (padding $(P_h, P_w)$, $r^2 C$ output channels). Groups and a "
    "bias shared by the $r^2$ phases of a channel are cross-checked exactly through the rewrite itself "
    "(subpixel.phase-bias: other biases are no transposed convolution).",
    idea="Per axis as in 1-D: write the output row as $r j_h + \\varphi_h$ and the column as $r j_w + "
         "\\varphi_w$; the transposed convolution reads only the taps of $V$ in phase $(\\varphi_h, "
         "\\varphi_w)$, which are the flipped kernel of channel $c r^2 + \\varphi_h r + \\varphi_w$, so "
         "substituting the two tap indices turns it into that channel's stride-1 convolution, which the "
         "pixel shuffle puts at $(r j_h + \\varphi_h, r j_w + \\varphi_w)$.",
    lhs=T.conv_transpose2d_dilated(x, V, C_in, n_h, n_w, r * K_h, r * K_w, r, r, sympy.expand(r * (K_h - 1 - P_h)),
                                   sympy.expand(r * (K_w - 1 - P_w)), 1, 1, c2, i_h, i_w),
    rhs=S.subpixel2d(x, W, C_in, n_h, n_w, K_h, K_w, P_h, P_w, r, c2, i_h, i_w),
    lets=[V2_def],
    size_hypotheses=[sympy.Ge(P_h, 0), sympy.Le(P_h, K_h - 1), sympy.Ge(P_w, 0), sympy.Le(P_w, K_w - 1),
                     sympy.Ge(i_h, 0), sympy.Ge(i_w, 0)],
    derivation=[
        Unfold("conv_transpose2d_dilated", ("c_i", "m_h", "m_w", "b_h", "b_w")),
        Unfold("V"),
        Unfold("subpixel_kernel2d", ("phi_h", "phi_w", "a_h", "a_w")),
        Collapse("b_h", phi_h + r * (K_h - 1 - a_h)),
        Collapse("b_w", phi_w + r * (K_w - 1 - a_w)),
        Substitute("m_h", "j_h", j_h + a_h - P_h,
                   [("c_i", 0, C_in - 1), ("m_w", 0, n_w - 1), ("phi_h", 0, r - 1), ("phi_w", 0, r - 1),
                    ("a_h", 0, K_h - 1), ("a_w", 0, K_w - 1), ("j_h", P_h - a_h, n_h - 1 + P_h - a_h)]),
        Substitute("m_w", "j_w", j_w + a_w - P_w,
                   [("c_i", 0, C_in - 1), ("phi_h", 0, r - 1), ("phi_w", 0, r - 1),
                    ("a_h", 0, K_h - 1), ("a_w", 0, K_w - 1), ("j_h", P_h - a_h, n_h - 1 + P_h - a_h),
                    ("j_w", P_w - a_w, n_w - 1 + P_w - a_w)]),
        Fold(S.subpixel2d(x, W, C_in, n_h, n_w, K_h, K_w, P_h, P_w, r, c2, i_h, i_w),
             ("c_i", "j_h", "j_w", "phi_h", "phi_w", "a_h", "a_w")),
    ],
    instances=[dict(C_in=2, n_h=2, n_w=1, K_h=2, K_w=1, r=2, P_h=1, P_w=0)],
    cross_checks=_WEIGHT_MAP_TRANSFORM,
    figure=_weight_map_figure,
    check_source=_src("_sub_weight_map", "test_transposed_subpixel_exact"),
)

# =============================================================================================
# 3. borders: where the two differ

padding_too_large = Refutation(
    "subpixel.border-padding-too-large",
    "With padding $P \\ge K$ the sub-pixel convolution is no transposed convolution",
    "Claim (false): the weight map works for every padding, with the transposed padding clipped at "
    "0. For $P \\ge K$ the sub-pixel output has border entries that read only padding (the bias), "
    "which a transposed convolution cannot produce: $r(K - 1 - P)$ would be negative.",
    lhs=lambda x, W, r, P_before, P_after: CHECKS._sub_border_sides(x, W, r, P_before, P_after)[0],
    rhs=lambda x, W, r, P_before, P_after: CHECKS._sub_border_sides(x, W, r, P_before, P_after)[1],
    witness=dict(x=_obj([1, 1], (1, 1, 2, 1)), W=_obj([1, 1, 1, 1], (4, 1, 1, 1)), r=2, P_before=1, P_after=1),
    check_source=_src("_sub_border_sides", "test_transposed_subpixel_border_numeric"),
    witness_check=_retest("_sub_border_sides"),
)

asymmetric = Refutation(
    "subpixel.border-asymmetric",
    'With asymmetric padding ("same" with an even kernel) the borders differ',
    'Claim (false): a sub-pixel convolution with "same" padding and an even kernel $K$ (padding $K/2 - 1$ '
    "before, $K/2$ after) is the mapped transposed convolution. A transposed convolution crops the same on both "
    "sides, so it can match one border, not both: here the lengths differ.",
    lhs=lambda x, W, r: CHECKS._sub_asym_sides(x, W, r)[0],
    rhs=lambda x, W, r: CHECKS._sub_asym_sides(x, W, r)[1],
    witness=dict(x=_obj([1, 1, 1], (1, 1, 3, 1)), W=_obj([1] * 8, (4, 1, 2, 1)), r=2),
    check_source=_src("_sub_asym_sides"),
    witness_check=_retest("_sub_asym_sides"),
)

def _position_and_phase(entry, r, **_):
    """Output position (i, j) of the pixel-shuffled map and its phase (i mod r, j mod r)."""
    i, j = entry[2], entry[3]
    return {"i": i, "j": j, r"\phi_h": i % r, r"\phi_w": j % r}


phase_bias = Refutation(
    "subpixel.phase-bias",
    "Phases with different biases are no transposed convolution",
    "Claim (false): any bias of the $r^2 C$ channels maps to a bias of the transposed convolution. The "
    "transposed convolution has one bias per output channel; the sub-pixel output's bias varies with the "
    "phase when the $r^2$ biases of a channel differ.",
    lhs=lambda x, W, b, r: CHECKS._sub_bias_sides(x, W, b, r)[0],
    rhs=lambda x, W, b, r: CHECKS._sub_bias_sides(x, W, b, r)[1],
    witness=dict(x=_obj([0], (1, 1, 1, 1)), W=_obj([0, 0, 0, 0], (4, 1, 1, 1)), b=_obj([0, 1, 0, 0], (4,)), r=2),
    coordinates=_position_and_phase,
    check_source=_src("_sub_bias_sides"),
    witness_check=_retest("_sub_bias_sides"),
)

# =============================================================================================
# 4. the converse, 2-D with channels, all sizes: a stride-r transposed convolution is a sub-pixel convolution


def _cv_inputs(c, o, g, k, n, **_):
    return {"x": (1, c, n, n), "w": (c, o // g, k, k), "b": (o,)}


def _transposed(T_, s, p, q, d, g, **_):
    """the transposed convolution with stride r"""
    return OT.conv_transpose2d(T_["x"], T_["w"], T_["b"], stride=s, padding=p, output_padding=q, dilation=d,
                               groups=g)


def _as_subpixel(T_, s, p, q, d, g, **_):
    """the pixel shuffle of the convolution the rewrite returns"""
    tc = ConvTranspose2d(_index_array(T_["w"].shape), _index_array(T_["b"].shape), stride=s, padding=p,
                         output_padding=q, dilation=d, groups=g)
    conv, rr = transposed_to_subpixel(tc)
    y_ = ops.conv2d(T_["x"], _take(T_["w"], conv.weight), _take(T_["b"], conv.bias), padding=conv.padding,
                    groups=g)
    return OT.pixel_shuffle(y_, rr)


_CONVERSE_TRANSFORM = [Identity(
    "subpixel.converse-transform",
    "The rewrite's sub-pixel convolution with dilation, output padding, groups and bias",
    "The rewrite's construction (output $r j + \\varphi$ reads input $j + (\\varphi + p - d b)/r$ through tap $b$ "
    "whenever that is an integer; zero padding (before, after) chosen so that its output has $L/r$ entries), "
    "exactly: strides 2, 3, kernels 1 to 4, paddings 0 to 2, output paddings below $\\max(s, d)$, dilations "
    "1, 2, groups 1, 2, whenever $d(k-1) - 2p + q + 1$ is a multiple of $r$.",
    inputs=_cv_inputs,
    lhs=_transposed,
    rhs=_as_subpixel,
    family=[dict(c=2, o=2, g=g, k=kk, n=2, s=s_, p=p_, q=q_, d=d_)
            for s_ in (2, 3) for d_ in (1, 2) for kk in (1, 2, 3, 4) for p_ in (0, 1, 2) for q_ in range(max(s_, d_))
            for g in (1, 2)
            if (d_ * (kk - 1) - 2 * p_ + q_ + 1) % s_ == 0 and s_ + d_ * (kk - 1) - 2 * p_ + q_ + 1 >= 1],
    coordinates=lambda entry, s, **_: {"o": entry[1], **_position_and_phase(entry, s)},
)]

k_h, k_w, d_h, d_w = sizes("k_h k_w d_h d_w")
c_out = sympy.Symbol("c", integer=True, nonnegative=True)  # an output channel
p_h, p_w, J_h, J_w, Phi_h, Phi_w = index("p_h p_w J_h J_w Phi_h Phi_w")
m_h, m_w, b_h, b_w = index("m_h m_w b_h b_w")
W_def = Let(W, lambda o, c_i, t_h, t_w: SumExpr.of(
    S.transposed_subpixel_kernel2d(V, k_h, k_w, r, p_h, p_w, d_h, d_w, P_h, P_w, o, c_i, t_h, t_w)))
out_h, out_w = r * J_h + Phi_h, r * J_w + Phi_w


def _tap_ranges(first: str) -> list:
    """the ranges after substituting the tap ``a_h`` (then ``a_w``) of the sub-pixel kernel by the input row
    (column) ``m`` it reads: the output row (column) ``j`` then runs over the taps of the kernel"""
    h = [("m_h", 0, n_h - 1), ("j_h", m_h + P_h - K_h + 1, m_h + P_h), ("phi_h", 0, r - 1)]
    if first == "h":
        w = [("j_w", 0, out_w), ("phi_w", 0, r - 1), ("a_w", 0, K_w - 1)]
    else:
        w = [("m_w", 0, n_w - 1), ("j_w", m_w + P_w - K_w + 1, m_w + P_w), ("phi_w", 0, r - 1)]
    return [("c_i", 0, C_in - 1), *h, *w]


converse = General(
    "subpixel.converse",
    "Every stride-r transposed convolution is a sub-pixel convolution at every output",
    "Construction: for a transposed convolution with stride $r$, padding $(p_h, p_w)$, dilation "
    "$(d_h, d_w)$ and a $k_h \\times k_w$ kernel $V$ (weight $(C_{\\mathrm{in}}, C, k_h, k_w)$), output $r j + "
    "\\varphi$ reads input $j + (\\varphi + p - d b)/r$ through tap $b$ whenever that is an integer; so tap $b$ "
    "goes to tap $a = P + (\\varphi + p - d b)/r$ of phase $\\varphi$ of a stride-1 convolution with padding $P$: "
    "$W_{c r^2 + \\varphi_h r + \\varphi_w, c_i, a_h, a_w} = V_{c_i, c, b_h, b_w}$ where $\\varphi + p - d b = "
    "r (a - P)$ on both axes, and 0 where no tap lands. Every tap lands exactly when $r P + p + r - 1 \\ge "
    "d(k-1)$ (tap $k - 1$) and $p \\le r(K - 1 - P)$ (tap 0) on each axis; then the pixel shuffle by $r$ of the "
    "convolution of $x$ with $W$ equals the transposed convolution at every output channel $c \\ge 0$ and every "
    "output position $(r J_h + \\Phi_h, r J_w + \\Phi_w)$ with $J \\ge 0$ and phase $0 \\le \\Phi \\le r - 1$, "
    "that is at every output. The rewrite takes $P = \\max(0, \\lfloor (d(k-1) - p)/r \\rfloor)$ and $K - 1 - P "
    "\\ge \\lceil p / r \\rceil$, so both hold, and pads after so that the convolution has $L/r$ outputs; when "
    "$d(k-1) - 2p + q + 1$ is no multiple of $r$ no sub-pixel convolution has the length $L$ "
    "(subpixel.converse-length). Groups, output padding and bias are cross-checked exactly through the rewrite.",
    idea="Write out the sub-pixel convolution and substitute each tap $a$ by the input row $m = j + a - P$ it "
         "reads; then write out $W$: each term is a tap $b$ of $V$. The channel and phases of $W$ decode uniquely "
         "(digits in base $r$), and the tap condition $\\varphi + p - d b = r(m - j)$ fixes the phase; the row $j$ "
         "of the output $r J + \\Phi$ is then $J$, and what remains is the scatter condition $r m + d b - p = r J + "
         "\\Phi$ of the transposed convolution.",
    lhs=S.subpixel2d(x, W, C_in, n_h, n_w, K_h, K_w, P_h, P_w, r, c_out, out_h, out_w),
    rhs=T.conv_transpose2d_dilated(x, V, C_in, n_h, n_w, k_h, k_w, r, r, p_h, p_w, d_h, d_w, c_out, out_h, out_w),
    lets=[W_def],
    size_hypotheses=[sympy.Ge(c_out, 0, evaluate=False), sympy.Ge(J_h, 0), sympy.Ge(J_w, 0),
                     sympy.Ge(Phi_h, 0), sympy.Le(Phi_h, r - 1),
                     sympy.Ge(Phi_w, 0), sympy.Le(Phi_w, r - 1),
                     sympy.Ge(r * P_h + p_h + r - 1, d_h * (k_h - 1)), sympy.Le(p_h, r * (K_h - 1 - P_h)),
                     sympy.Ge(r * P_w + p_w + r - 1, d_w * (k_w - 1)), sympy.Le(p_w, r * (K_w - 1 - P_w))],
    derivation=[
        Unfold("subpixel2d", ("c_i", "j_h", "j_w", "phi_h", "phi_w", "a_h", "a_w")),
        Substitute("a_h", "m_h", m_h - j_h + P_h, _tap_ranges("h")),
        Substitute("a_w", "m_w", m_w - j_w + P_w, _tap_ranges("w")),
        Unfold("W"),
        Unfold("transposed_subpixel_kernel2d", ("c'", "psi_h", "psi_w", "b_h", "b_w")),
        Collapse("c'", c_out),
        Collapse("psi_h", phi_h),
        Collapse("psi_w", phi_w),
        Collapse("phi_h", r * (m_h - j_h) + d_h * b_h - p_h),
        Collapse("phi_w", r * (m_w - j_w) + d_w * b_w - p_w),
        Collapse("j_h", J_h),
        Collapse("j_w", J_w),
        Fold(T.conv_transpose2d_dilated(x, V, C_in, n_h, n_w, k_h, k_w, r, r, p_h, p_w, d_h, d_w, c_out, out_h, out_w),
             ("c_i", "m_h", "m_w", "b_h", "b_w")),
    ],
    instances=[dict(C_in=2, n_h=1, n_w=1, k_h=3, k_w=1, K_h=2, K_w=1, r=2, d_h=1, d_w=1, p_h=0, p_w=0,
                    P_h=1, P_w=0, J_h=0, J_w=0, Phi_h=1, Phi_w=0),
               dict(C_in=1, n_h=1, n_w=3, k_h=1, k_w=2, K_h=1, K_w=2, r=2, d_h=1, d_w=2, p_h=0, p_w=1,
                    P_h=0, P_w=0, J_h=0, J_w=1, Phi_h=0, Phi_w=1, c=1)],
    cross_checks=_CONVERSE_TRANSFORM,
    check_source=_src("_conv_from_transposed", "test_transposed_converse_exact", "_conv_from_transposed_at",
                      "test_transposed_converse_any_subpixel_padding"),
)


def _length_mod_r(n, k, s, p, q, d):
    """the output length of the transposed convolution, modulo r = s"""
    return ((n - 1) * s - 2 * p + d * (k - 1) + q + 1) % s


def _zero(n, k, s, p, q, d):
    """0 (the length of a pixel-shuffled output is a multiple of r)"""
    return 0


converse_length = Refutation(
    "subpixel.converse-length",
    "Not every stride-r transposed convolution is a sub-pixel convolution",
    "Claim (false): every stride-$r$ transposed convolution is a convolution followed by a pixel shuffle by "
    "$r$. A pixel shuffle by $r$ outputs a multiple of $r$ entries per axis; with stride 2, kernel 3 and no "
    "padding the transposed convolution has $2n + 1$.",
    lhs=_length_mod_r, rhs=_zero,
    witness=dict(n=1, k=3, s=2, p=0, q=0, d=1),
    describe="n = 1, k = 3, s = 2, p = q = 0, d = 1: 3 outputs, not a multiple of r = 2",
    witness_check="""
n, k, s, p, q, d = (witness["inputs"][key] for key in ("n", "k", "s", "p", "q", "d"))
y = ref.conv_transpose2d(np.ones((1, 1, n, 1)), np.ones((1, 1, k, 1)), stride=(s, 1), padding=(p, 0),
                         output_padding=(q, 0), dilation=(d, 1))
assert y.shape[2] % s == witness["lhs"] != witness["rhs"] == 0
""",
)

__all__ = ["weight_map_1d", "output_length", "weight_map_2d", "padding_too_large", "asymmetric", "phase_bias",
           "converse", "converse_length"]

if __name__ == "__main__":
    from convsym.run.registry import run_script

    raise SystemExit(run_script(globals()))
