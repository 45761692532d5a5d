"""True convolution and cross-correlation; the order of layers; the merge is associative.

Section 2 of the equivalences chapter (see ``_chapters.py``).
"""

from __future__ import annotations

import numpy as np
import sympy
from _chapters import EQUIVALENCES
from sympy import IndexedBase

from convsym.exact import rewrites as E
from convsym.proof import (
    Fold,
    General,
    Identity,
    Let,
    Name,
    Reorder,
    Substitute,
    SumExpr,
    Unfold,
    evaluate,
    figures,
    index,
    load_checks,
    ops,
    sizes,
)
from convsym.proof import defs as D

FAMILY = EQUIVALENCES
SECTION = 2

checks = load_checks(__file__)  # the emitted numeric checks: proofs/checks/correlation.py

# symbols shared with the other sections (equal symbols: same name, same assumptions)
a, b, t, e, f, p_ = index("a b t e f p")
o, c, i, j = index("o c i j")
s_, d_, kh, kw, k = sizes("s d k_h k_w k")
x1, w0_ = IndexedBase("x"), IndexedBase("w")
w1_, w2_, w3_ = IndexedBase("w_1"), IndexedBase("w_2"), IndexedBase("w_3")

# =============================================================================================
# 3. convolution versus cross-correlation

k1, k2, k3 = sizes("k_1 k_2 k_3")
wf = IndexedBase(r"\bar{w}")

flip_let = Let(wf, lambda bb: SumExpr.of(w0_[k - 1 - bb]))


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
    "For every kernel size $k$: the true convolution $(x * w)_{i + k - 1}$ equals the deep-learning "
    "convolution (cross-correlation) of $x$ with the flipped kernel $w_{k-1-b}$ at position $i$. "
    "PyTorch's 2-D convolution is cross-correlation; flipping the kernel in both axes turns it into "
    "true convolution.",
    idea="Substitute $a = k - 1 - b$: tap $b$ of the flipped kernel is tap $k - 1 - b$ of $w$, and "
         "the sum runs over the same taps.",
    lhs=D.true_conv1d(x1, w0_, k, i + k - 1),
    rhs=D.conv1d(x1, wf, k, i),
    lets=[flip_let],
    derivation=[
        Unfold("true_conv1d", ("a",)),
        Substitute("a", "b", -b + k - 1, [("b", 0, k - 1)]),
        Name(flip_let, (b,)),
        Fold(D.conv1d(x1, wf, k, i), ("b",)),
    ],
    instances=[{"k": 1}, {"k": 3}],
    figure=_flip_figure,
    check_source=checks.test_true_conv_is_flipped_xcorr,
)

true_conv_commutative = General(
    "equivalences.true-conv-commutative",
    "True convolution is commutative",
    "For all lengths $k_1, k_2$: $(w_1 * w_2)_t = (w_2 * w_1)_t$ for every $t$.",
    idea="Substitute $a = t - b$: the sum over the taps of $w_1$ becomes the sum over the taps of "
         "$w_2$, term by term.",
    lhs=D.full_convolution(w1_, w2_, k1, k2, t),
    rhs=D.full_convolution(w2_, w1_, k2, k1, t),
    derivation=[
        Unfold("full_convolution", ("a",)),
        Substitute("a", "b", -b + t, [("b", (0, t - k1 + 1), (t, k2 - 1))]),
        Fold(D.full_convolution(w2_, w1_, k2, k1, t), ("b",)),
    ],
    instances=[{"k_1": 1, "k_2": 3, "t": 1}, {"k_1": 2, "k_2": 2, "t": 1}, {"k_1": 3, "k_2": 2, "t": 3}],
    check_source=checks.test_true_conv_commutative_associative,
)

P_, Q_ = IndexedBase("P"), IndexedBase("Q")
P_let = Let(P_, lambda ee: SumExpr.of(D.full_convolution(w1_, w2_, k1, k2, ee)))
Q_let = Let(Q_, lambda ee: SumExpr.of(D.full_convolution(w2_, w3_, k2, k3, ee)))

true_conv_associative = General(
    "equivalences.true-conv-associative",
    "True convolution is associative",
    "For all lengths $k_1, k_2, k_3$: $((w_1 * w_2) * w_3)_t = (w_1 * (w_2 * w_3))_t$ for every "
    "$t$.",
    idea="Unfold both products, exchange the sums, substitute $e = p + f$ and fold the inner sum "
         "into $w_2 * w_3$.",
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
    check_source=(checks._true_conv_by_reference, checks.test_true_conv_associative_by_reference),
)


#: the length of the vectors f, g, h of the cross-correlation refutations
XCORR_LENGTH = 2


def _xcorr_t(entry, **_):
    """The index t of (f star g)_t stored at array entry e: the full cross-correlation of two
    vectors of length L holds t = -(L - 1), ..., L - 1 in this order."""
    return {"t": entry[0] - (XCORR_LENGTH - 1)}


xcorr_not_commutative = Identity(
    "equivalences.xcorr-not-commutative",
    "Cross-correlation is not commutative",
    "Claim (false): the full cross-correlation $(f \\star g)_t = \\sum_n f_n\\, g_{n+t}$ is commutative. "
    "It reverses instead: $(f \\star g)_t = (g \\star f)_{-t}$.",
    expected="refuted",
    inputs=lambda **_: {"f": (XCORR_LENGTH,), "g": (XCORR_LENGTH,)},
    lhs=lambda T: E.xcorr_full(T["f"], T["g"]),
    rhs=lambda T: E.xcorr_full(T["g"], T["f"]),
    family=[{}],
    coordinates=_xcorr_t,
    check_source=(checks._vec, checks._xcorr_on_integers, checks._confirm_xcorr_witness),
    witness_check=checks._confirm_xcorr_witness,
)


def _zeros(like, count):
    return like.constant_like(np.zeros((count,), dtype=np.int64))


def _xcorr_nested(T, side):
    # both sides on t = -2(L - 1), ..., 2(L - 1): the left side's array holds t = -(L - 1), ..., 2(L - 1)
    # (its intermediate f star g starts at its own t = -(L - 1)), the right side's t = -2(L - 1), ..., L - 1
    if side == "left":
        out = E.xcorr_full(E.xcorr_full(T["f"], T["g"]), T["h"])
        return E.concat(_zeros(out, XCORR_LENGTH - 1), out)
    out = E.xcorr_full(T["f"], E.xcorr_full(T["g"], T["h"]))
    return E.concat(out, _zeros(out, XCORR_LENGTH - 1))


def _xcorr_nested_t(entry, **_):
    """The index t at array entry e of both nested sides: t = -2(L - 1), ..., 2(L - 1) in this order."""
    return {"t": entry[0] - 2 * (XCORR_LENGTH - 1)}


xcorr_not_associative = Identity(
    "equivalences.xcorr-not-associative",
    "Cross-correlation is not associative",
    "Claim (false): $((f \\star g) \\star h)_t = (f \\star (g \\star h))_t$ for every $t$, for the full "
    "cross-correlation $(f \\star g)_t = \\sum_n f_n\\, g_{n+t}$. In terms of true convolution the left side "
    "is $f * \\bar{g} * h$, the right side $\\bar{f} * \\bar{g} * h$, with $\\bar{f}_n = f_{-n}$ the reversed "
    "vector.",
    expected="refuted",
    inputs=lambda **_: {"f": (XCORR_LENGTH,), "g": (XCORR_LENGTH,), "h": (XCORR_LENGTH,)},
    lhs=lambda T: _xcorr_nested(T, "left"),
    rhs=lambda T: _xcorr_nested(T, "right"),
    family=[{}],
    coordinates=_xcorr_nested_t,
    check_source=checks._confirm_xcorr_assoc_witness,
    witness_check=checks._confirm_xcorr_assoc_witness,
)

W_m = IndexedBase("W")
h_m = IndexedBase("h")
h_let = Let(h_m, lambda jj: SumExpr.of(D.conv1d(x1, w1_, k1, jj)))
Wm_let = Let(W_m, lambda tt: SumExpr.of(D.full_convolution(w1_, w2_, k1, k2, tt)))

xcorr_stack = General(
    "equivalences.xcorr-stack",
    "Two cross-correlations in a row are one, with the true convolution of the kernels",
    "For all $k_1, k_2$: $((x \\star w_1) \\star w_2)_i = (x \\star (w_1 * w_2))_i$ where $*$ is "
    "the true convolution (not the cross-correlation) of the kernels; with biases and channels see "
    "merge.sequential-1d and merge.sequential-2d.",
    idea="As in merge.sequential-1d without biases: substitute $t = a + b$ and sum $a$ over the "
         "taps that reach $t$.",
    lhs=D.conv1d(h_m, w2_, k2, i),
    rhs=D.conv1d(x1, W_m, k1 + k2 - 1, i),
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
        Fold(D.conv1d(x1, W_m, k1 + k2 - 1, i), ("t",)),
    ],
    instances=[{"k_1": 1, "k_2": 2}, {"k_1": 2, "k_2": 2}],
    check_source=checks.test_xcorr_stack_true_convolution,
)


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
    coordinates=lambda entry, **_: {"i": entry[1]},  # the output (one channel) at position i
    check_source=checks._confirm_stack_witness,
    witness_check=checks._confirm_stack_witness,
)

# =============================================================================================
# 4. order of layers and associativity of the merge


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
    "Claim (false): $(x \\star w_1) \\star w_2 = (x \\star w_2) \\star w_1$ for layers with $C$ "
    "channels each. Already for $1 \\times 1$ kernels and $C = 2$ the merged weights are the matrix "
    "products $w_2 w_1$ and $w_1 w_2$, which differ.",
    expected="refuted",
    inputs=_order_inputs,
    lhs=lambda T, **s: _stack(T, "w1", "w2", **s),
    rhs=lambda T, **s: _stack(T, "w2", "w1", **s),
    family=[dict(c=2, k1=1, k2=1, n=1)],
    witness_check=checks._confirm_order_witness,
    check_source=checks._confirm_order_witness,
)

order_single_channel = Identity(
    "equivalences.order-single-channel",
    "One channel, no bias: the order does not matter",
    "For $C = 1$ and no biases, $(x \\star w_1) \\star w_2 = (x \\star w_2) \\star w_1$ for every "
    "$k_1, k_2 \\le 3$: the merged kernel is the true convolution $w_1 * w_2$, which is commutative "
    "(equivalences.true-conv-commutative).",
    inputs=_order_inputs,
    lhs=lambda T, **s: _stack(T, "w1", "w2", **s),
    rhs=lambda T, **s: _stack(T, "w2", "w1", **s),
    family=[dict(c=1, k1=p, k2=q, n=p + q + 1) for p in (1, 2, 3) for q in (1, 2, 3)],
    check_source=checks.test_order_single_channel_numeric,
)

order_bias = Identity(
    "equivalences.order-single-channel-bias",
    "With biases even one channel does not commute",
    "Claim (false): for $C = 1$ with biases, $(x \\star w_1 + b_1) \\star w_2 + b_2 = (x \\star w_2 "
    "+ b_2) \\star w_1 + b_1$. The merged biases $b_2 + (\\Sigma w_2)\\, b_1$ and $b_1 + (\\Sigma "
    "w_1)\\, b_2$ differ.",
    expected="refuted",
    inputs=_order_inputs,
    lhs=lambda T, **s: _stack(T, "w1", "w2", **s),
    rhs=lambda T, **s: _stack(T, "w2", "w1", **s),
    family=[dict(c=1, k1=1, k2=1, n=1, bias=True)],
    witness_check=checks._confirm_order_witness,
)


def _merge3_inputs(k1, k2, k3, **_):
    return {"w1": (2, 2, k1, k1), "b1": (2,), "w2": (2, 2, k2, k2), "b2": (2,), "w3": (2, 2, k3, k3), "b3": (2,)}


def _merge(w1, b1, w2, b2, s1=1, d1=1, d2=1):
    return ops.merge_kernels(w1, w2, stride1=s1, dilation1=d1, dilation2=d2), ops.merge_bias(w2, b1, b2)


def _flat_pair(wb):
    w, bias = wb
    return E.concat(w.reshape((w.size,)), bias)


def _merge_left(T, s1, s2, d1, d2, d3, **_):
    """the first two layers merged, then the third"""
    w12, b12 = _merge(T["w1"], T["b1"], T["w2"], T["b2"], s1, d1, d2)
    return _flat_pair(_merge(w12, b12, T["w3"], T["b3"], s1 * s2, 1, d3))


def _merge_right(T, s1, s2, d1, d2, d3, **_):
    """the first layer merged with the merge of the last two"""
    w23, b23 = _merge(T["w2"], T["b2"], T["w3"], T["b3"], s2, d2, d3)
    return _flat_pair(_merge(T["w1"], T["b1"], w23, b23, s1, d1, 1))


merge_associative = Identity(
    "equivalences.merge-associative",
    "Merging is associative",
    "For three layers with 2 channels each, kernels in $\\{1, 2\\}$, strides $s_1, s_2$ and "
    "dilations in $\\{1, 2\\}$: merging the first two layers and then the third, and merging the "
    "first with the merge of the last two, give the same kernel (of size $d_1(k_1-1) + s_1 "
    "d_2(k_2-1) + s_1 s_2 d_3(k_3-1) + 1$, stride $s_1 s_2 s_3$) and the same bias, as polynomials "
    "in all weights and biases. With stride and dilation 1 this is the associativity of true "
    "convolution (equivalences.true-conv-associative) with matrix products over the channels.",
    inputs=_merge3_inputs,
    lhs=_merge_left,
    rhs=_merge_right,
    family=[dict(k1=p, k2=q, k3=r_, s1=s1, s2=s2, d1=d1, d2=d2, d3=d3)
            for (p, q, r_) in ((1, 2, 2), (2, 1, 2), (2, 2, 2))
            for s1 in (1, 2) for s2 in (1, 2) for (d1, d2, d3) in ((1, 1, 1), (2, 1, 2), (1, 2, 1))],
    check_source=checks.test_merge_associative_layers,
)
