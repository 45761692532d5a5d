"""Parallel branches (RepVGG, Diverse Branch Block) and dilated kernels as sparse kernels.

Section 2 of the folding chapter (see ``_chapters.py``).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from _chapters import FOLDING
from _layers import _batchnorm, _embed, _identity_kernel, _pad_with, _zero_pad
from sympy import IndexedBase

from convsym.proof import (
    Fold,
    General,
    GroupBy,
    Identity,
    Let,
    Name,
    SumExpr,
    Unfold,
    figures,
    index,
    load_checks,
    ops,
    sizes,
)
from convsym.proof import defs as D

FAMILY = FOLDING
SECTION = 2

checks = load_checks(__file__)  # the emitted numeric checks: proofs/checks/parallel.py

# =============================================================================================
# 4. parallel branches: RepVGG and the Diverse Branch Block


def _repvgg_inputs(C, k, n, groups=1, **_):
    shapes = {"x": (C, n, n), "w3": (C, C // groups, k, k), "w1": (C, C // groups, 1, 1)}
    for br in ("3", "1", "0"):
        for nm in ("mu", "gamma", "r", "beta"):
            shapes[nm + br] = (C,)
    return shapes


def _bn_of(T, br, y):
    return _batchnorm(y, T["mu" + br], T["gamma" + br], T["r" + br], T["beta" + br])


def _repvgg_branches(T, k, groups=1, **_):
    """the sum of the three branches"""
    x = T["x"]
    big = _bn_of(T, "3", ops.conv2d(x, T["w3"], padding=k // 2, groups=groups))
    one = _bn_of(T, "1", ops.conv2d(x, T["w1"], groups=groups))
    return big + one + _bn_of(T, "0", x)


def _repvgg_merged(T, k, groups=1, **_):
    """the one merged convolution"""
    C = T["x"].shape[0]
    weight = None
    bias = None
    for br, w in (("3", T["w3"]), ("1", T["w1"]), ("0", _identity_kernel(T["x"], C, groups))):
        a = T["gamma" + br] * T["r" + br]
        folded = _embed(w * a.reshape((C, 1, 1, 1)), k)
        shift = T["beta" + br] - a * T["mu" + br]
        weight = folded if weight is None else weight + folded
        bias = shift if bias is None else bias + shift
    return ops.conv2d(T["x"], weight, bias, padding=k // 2, groups=groups)


def _repvgg_figure(fields):
    """Where each branch lands in the merged 3 x 3 kernel, checked with convsym.transforms.merge_parallel
    on distinct integers (each BatchNorm already folded into its branch)."""
    from convsym.transforms import Conv2d, identity_conv, merge_parallel

    k_ = 3
    w3 = np.array([[[[10 + k_ * u + v for v in range(k_)] for u in range(k_)]]], dtype=object)
    merged = merge_parallel(Conv2d(w3, padding=k_ // 2), Conv2d(np.array([[[[100]]]], dtype=object)),
                            identity_conv(1, k_)).weight[0, 0]
    c_ = k_ // 2
    expected = w3[0, 0].copy()
    expected[c_, c_] += 100 + 1
    if not (merged == expected).all():
        raise ValueError(f"_repvgg_figure: merge_parallel gave {merged.tolist()}, expected {expected.tolist()}")

    def kernel(centre_kind, centre, rest_kind, rest):
        return [[(centre_kind, centre) if (u, v) == (c_, c_) else (rest_kind, rest(u, v)) for v in range(k_)]
                for u in range(k_)]

    terms = [
        ("$3 \\times 3$ branch", kernel("kernel", "w_{11}", "kernel", lambda u, v: f"w_{{{u}{v}}}")),
        ("$1 \\times 1$ branch,\\\\ centred", kernel("in", "v", "", lambda u, v: "0")),
        ("identity", kernel("hi", "1", "", lambda u, v: "0")),
    ]
    result = ("merged $3 \\times 3$", kernel("out", "w'_{11}", "kernel", lambda u, v: f"w_{{{u}{v}}}"))
    caption = ("RepVGG branch merging for one channel, each BatchNorm already folded into its branch: the "
               "$1 \\times 1$ kernel is padded with zeros to $3 \\times 3$ (centred), the identity is the "
               "$3 \\times 3$ kernel with a $1$ at the centre, and the three kernels (and biases) add: only the centre "
               "changes, $w'_{11} = w_{11} + v + 1$. With $C$ "
               "channels the identity puts the $1$ at $(o, o, 1, 1)$.")
    return figures.kernel_sum(terms, result), caption


repvgg = Identity(
    "folding.repvgg",
    "RepVGG: k x k + 1 x 1 + identity, each with BatchNorm, is one k x k conv",
    "The sum of three branches, BatchNorm after a $k \\times k$ convolution with padding $\\lfloor "
    "k/2 \\rfloor$, BatchNorm after a $1 \\times 1$ convolution and BatchNorm of the identity, "
    "equals one $k \\times k$ convolution with kernel $W$, bias $B$ and padding $\\lfloor k/2 "
    "\\rfloor$, with $W$ the sum of the three BatchNorm-folded kernels, the $1 \\times 1$ and the "
    "identity kernel centred in $k \\times k$, and $B$ the sum of the folded biases $\\beta - "
    "\\gamma r \\mu$. Every entry symbolic (three independent BatchNorms).",
    inputs=_repvgg_inputs,
    lhs=_repvgg_branches,
    rhs=_repvgg_merged,
    family=[dict(C=1, k=3, n=3), dict(C=2, k=3, n=3), dict(C=2, k=3, n=3, groups=2), dict(C=2, k=5, n=3),
            dict(C=3, k=3, n=4, groups=3)],
    check_source=checks.test_folding_repvgg_numeric,
    figure=_repvgg_figure,
)


def _dbb_inputs(C, M, O, k, n, **_):
    return {"x": (C, n, n), "w1": (M, C, 1, 1), "b1": (M,), "w2": (O, M, k, k), "b2": (O,)}


def _dbb_branch(T, p, **_):
    """the 1 x 1 convolution, then the k x k one"""
    h = ops.conv2d(T["x"], T["w1"], T["b1"])
    return ops.conv2d(_pad_with(h, T["b1"], p), T["w2"], T["b2"])


def _dbb_merged(T, p, **_):
    """the one merged convolution"""
    W = ops.merge_kernels(T["w1"], T["w2"])
    return ops.conv2d(T["x"], W, ops.merge_bias(T["w2"], T["b1"], T["b2"]), padding=p)


dbb_1x1_kxk = Identity(
    "folding.dbb-1x1-kxk",
    "Diverse Branch Block: a 1x1 then k x k branch is one k x k conv",
    "A $1 \\times 1$ convolution ($w_1$, $b_1$) whose output is padded by $p$ with $b_1$ (not 0: "
    "the padded ring of the $1 \\times 1$'s output is what the $1 \\times 1$ computes on zero "
    "input), then a $k \\times k$ convolution ($w_2$, $b_2$) without padding, equals one $k \\times "
    "k$ convolution with padding $p$, kernel $W_{o,c} = \\sum_m w_{1,m,c}\\, w_{2,o,m}$ and bias "
    "$b_2 + (\\Sigma w_2)\\, b_1$. (Zero padding of the intermediate instead breaks it on the ring "
    "unless $b_1 = 0$: merge.padded-second.)",
    inputs=_dbb_inputs,
    lhs=_dbb_branch,
    rhs=_dbb_merged,
    family=[dict(C=c_, M=m_, O=2, k=k, n=2, p=p) for k in (1, 3) for p in (1, 2) for c_ in (1, 2) for m_ in (1, 2)],
    check_source=checks.test_folding_dbb_1x1_kxk_numeric,
)


def _avg_inputs(C, n, **_):
    return {"x": (C, n, n)}


def _avg_pool(T, k, s, p, **_):
    """average pooling"""
    xp = _zero_pad(T["x"], p)
    out = (xp.shape[1] - k) // s + 1
    total = None
    for du in range(k):
        for dv in range(k):
            window = xp[:, du : du + s * (out - 1) + 1 : s, dv : dv + s * (out - 1) + 1 : s]
            total = window if total is None else total + window
    return total * Fraction(1, k * k)


def _avg_as_conv(T, k, s, p, **_):
    """the depthwise convolution with a constant kernel"""
    C = T["x"].shape[0]
    kernel = np.empty((C, 1, k, k), dtype=object)
    kernel[...] = Fraction(1, k * k)
    return ops.conv2d(T["x"], T["x"].constant_like(kernel), stride=s, padding=p, groups=C)


avgpool_is_conv = Identity(
    "folding.avgpool-is-conv",
    "An average-pooling branch is a depthwise conv",
    "Average pooling with window $k$, stride $s$ and padding $p$ (the padding counted in the "
    "average) equals the convolution with stride $s$, padding $p$ and $C$ groups whose kernel "
    "$K_{c,0}$ is $1/k^2$ everywhere; so an average-pooling branch merges like any other (a dense "
    "form with one group has $K_{o,c} = \\delta_{o,c}/k^2$).",
    inputs=_avg_inputs,
    lhs=_avg_pool,
    rhs=_avg_as_conv,
    family=[dict(C=2, n=5, k=k, s=s, p=p) for k in (2, 3) for s in (1, 2) for p in range(k // 2 + 1)],
    check_source=(checks.test_folding_avgpool_is_conv_numeric, checks.test_folding_avgpool_is_conv_exact),
)

# ---------------------------------------------------------------------------------------------
# 4b. a dilated kernel is a sparse dense kernel (what dilated re-parameterisation rests on)

dk_k, dk_s, dk_d = sizes("k s d")
dk_i, dk_a, dk_t, dk_u = index("i a t u")
dk_x, dk_w, dk_W = IndexedBase("x"), IndexedBase("w"), IndexedBase("W")


W_sparse = Let(dk_W, lambda tt: SumExpr.of(D.sparse_kernel(dk_w, dk_k, dk_d, tt)))


dilated_sparse = General(
    "folding.dilated-kernel-sparse",
    "A dilated kernel is a sparse kernel",
    "For all kernel sizes $k$, strides $s$ and dilations $d$: a convolution with dilation $d$ "
    "equals the convolution with dilation 1 whose kernel of size $d(k-1)+1$ holds $w_u$ at tap $d "
    "u$ and zeros in between. Per axis, so it holds for 2-D kernels, with any padding and groups; "
    "it is what lets parallel branches with different dilations merge into one large kernel "
    "(dilated re-parameterisation).",
    idea="Group the terms by the offset $t = d a$ each tap reads; offsets that are not multiples of "
         "$d$ get no term, which is the zero of the sparse kernel.",
    lhs=D.conv1d(dk_x, dk_w, dk_k, dk_i, stride=dk_s, dilation=dk_d),
    rhs=D.conv1d(dk_x, dk_W, dk_d * (dk_k - 1) + 1, dk_i, stride=dk_s),
    lets=[W_sparse],
    derivation=[
        Unfold("conv1d", ("a",)),
        GroupBy("t", dk_d * dk_a, 0, dk_d * (dk_k - 1), dk_w[dk_a] * dk_x[dk_s * dk_i + dk_t], ("a",)),
        Fold(D.sparse_kernel(dk_w, dk_k, dk_d, dk_t), ("a",)),
        Name(W_sparse, (dk_t,)),
        Fold(D.conv1d(dk_x, dk_W, dk_d * (dk_k - 1) + 1, dk_i, stride=dk_s), ("t",)),
    ],
    instances=[{"k": 3, "s": 1, "d": 2}, {"k": 2, "s": 2, "d": 3}, {"k": 1, "s": 1, "d": 4}],
    check_source=checks.test_folding_dilated_kernel_is_a_sparse_kernel_numeric,
)
