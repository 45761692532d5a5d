"""Padding in the second of two merged layers: the exact condition, the border error, the repair.

Section 5 of the equivalences chapter (see ``_chapters.py``).
"""

from __future__ import annotations

import itertools

import numpy as np
from _chapters import EQUIVALENCES

from convsym.exact import rewrites as E
from convsym.proof import (
    Checked,
    Identity,
    Proof,
    VariablePool,
    load_checks,
    ops,
)

FAMILY = EQUIVALENCES
SECTION = 5

checks = load_checks(__file__)  # the emitted numeric checks: proofs/checks/padding.py

# =============================================================================================
# 7. padding in the second layer: exact condition, border error, repair


def _pad_inputs(k1, k2, n, c=2, **_):
    return {"x": (c, n, n), "w1": (c, c, k1, k1), "b1": (c,), "w2": (c, c, k2, k2), "b2": (c,)}


def _two_layers(T, s1=1, p1=0, p2=0, s2=1, mode="zeros", **_):
    h = ops.conv2d(T["x"], T["w1"], T["b1"], stride=s1, padding=p1)
    hp = E.pad2d(h, p2, T["b1"] if mode == "bias" else None)
    return ops.conv2d(hp, T["w2"], T["b2"], stride=s2)


def _merged(T, s1=1, p1=0, p2=0, s2=1, **_):
    W = ops.merge_kernels(T["w1"], T["w2"], stride1=s1)
    return ops.conv2d(T["x"], W, ops.merge_bias(T["w2"], T["b1"], T["b2"]), stride=s1 * s2, padding=p1 + s1 * p2)


def _ring_error(T, s1=1, p1=0, p2=0, s2=1, **_):
    """-(w2 applied to the first layer's virtual outputs on the ring)."""
    virt = ops.conv2d(T["x"], T["w1"], T["b1"], stride=s1, padding=p1 + s1 * p2)
    ring = np.ones(virt.shape[1:], dtype=object)
    ring[p2:virt.shape[1] - p2, p2:virt.shape[2] - p2] = 0
    masked = virt * virt.constant_like(ring.reshape((1,) + ring.shape))
    return -ops.conv2d(masked, T["w2"], stride=s2)


padded_ring_error = Identity(
    "equivalences.padded-ring-error",
    "The exact error of a padded merge",
    "With zero padding $p_2$ in the second layer, (two layers) $-$ (merged layer padded by $p_1 + "
    "s_1 p_2$) $= -(R \\odot v) \\star_{s_2,1} w_2$, where $v = x \\star_{s_1,1} w_1 + b_1$ "
    "(padding $p_1 + s_1 p_2$) are the first layer's outputs extended to the ring (positions $j < "
    "0$ or $j \\ge H_{\\mathrm{mid}}$, each $b_1$ plus the taps that reach the input) and $R$ is "
    "the 0/1 mask of the ring of width $p_2$. Exact for strides $s_1, s_2 \\in \\{1, 2\\}$, any "
    "$k_1, k_2, p_1, p_2$.",
    inputs=_pad_inputs,
    lhs=lambda T, **s: _two_layers(T, **s) - _merged(T, **s),
    rhs=_ring_error,
    family=[dict(k1=p, k2=q, n=nn, s1=s1, s2=s2, p1=p1, p2=p2)
            for p in (1, 3) for q in (3,) for s1 in (1, 2) for s2 in (1, 2) for p1 in (0, 1) for p2 in (1, 2)
            for nn in (5,)],
    check_source=checks.test_padded_ring_error_numeric,
)


def _predicted_exact(k1, s1, p1, n, b1_zero, mode):
    """The characterisation (s2 = d = 1, 1 <= p2 <= k2 - 1): exact iff the first layer's windows at the two
    nearest ring positions see only padding, and (zero padding) b1 = 0."""
    hm = (n + 2 * p1 - k1) // s1 + 1
    top = k1 - 1 <= p1 + s1 - 1
    bottom = s1 * hm >= n + p1
    return top and bottom and (mode == "bias" or b1_zero)


def _merge_sides(k1_, s1, p1, k2_, p2, n_, mode, b1_zero):
    """The two layers (intermediate padded by ``p2`` with zeros or ``b1``) and the merged layer,
    as builders of the input tensors, and the inputs' shapes."""
    shapes = {"x": (1, n_), "w1": (1, 1, k1_), "b1": (1,), "w2": (1, 1, k2_), "b2": (1,)}

    def b1(T):
        return T["b1"] * 0 if b1_zero else T["b1"]

    def two_layers(T):
        h = ops.conv1d(T["x"], T["w1"], b1(T), stride=s1, padding=p1)
        mid = h.shape[1]
        pad = b1(T) if mode == "bias" else b1(T) * 0
        hp = E.concat(*([pad] * p2), h.reshape((mid,)), *([pad] * p2)).reshape((1, mid + 2 * p2))
        return ops.conv1d(hp, T["w2"], T["b2"])

    def merged(T):
        Wk = ops.merge_kernels(T["w1"], T["w2"], stride1=s1)
        return ops.conv1d(T["x"], Wk, ops.merge_bias(T["w2"], b1(T), T["b2"]), stride=s1, padding=p1 + s1 * p2)

    return two_layers, merged, shapes


#: merge_is_exact_by_polynomials of the cases derive_characterisation checks, computed together
_EXACT_BY_POLYNOMIALS: dict[tuple, bool] = {}


def _case_key(case) -> tuple:
    return tuple(sorted(case.items()))


def _compute_together(cases) -> None:
    """merge_is_exact_by_polynomials of every case, the cases of one traced structure compared as
    one stacked exact polynomial check (convsym.exact.blockwise.equal_each)."""
    from convsym.exact import blockwise

    groups: dict[tuple, list] = {}
    for case in cases:
        traced = blockwise.trace_pair(*_merge_sides(**case))
        groups.setdefault(blockwise.graph_signature(traced), []).append((case, traced))
    for members in groups.values():
        for (case, _), equal in zip(members, blockwise.equal_each([t for _, t in members]), strict=True):
            _EXACT_BY_POLYNOMIALS[_case_key(case)] = equal


def merge_is_exact_by_polynomials(k1_, s1, p1, k2_, p2, n_, mode, b1_zero) -> bool:
    """whether the merge is exact (the two sides as exact polynomials)

    The merged layer against the two layers, every entry a symbol (PolyTensor)."""
    case = dict(k1_=k1_, s1=s1, p1=p1, k2_=k2_, p2=p2, n_=n_, mode=mode, b1_zero=b1_zero)
    known = _EXACT_BY_POLYNOMIALS.get(_case_key(case))
    if known is not None:
        return known
    from convsym.exact.poly import PolyTensor as PT

    two_layers, merged, shapes = _merge_sides(**case)
    pool = VariablePool()
    T = {nm: PT.variables(pool, nm, shp) for nm, shp in shapes.items()}
    return two_layers(T).equals(merged(T))


def _characterisation_cases() -> list[dict]:
    out = []
    for k1_, s1, p1, k2_, n_, mode, b1_zero in itertools.product(
            (1, 2, 3), (1, 2), (0, 1), (2, 3), (4, 5), ("zeros", "bias"), (True, False)):
        if mode == "bias" and b1_zero:
            continue
        for p2 in range(1, k2_):
            if (n_ + 2 * p1 - k1_) // s1 + 1 >= 1:
                out.append(dict(k1_=k1_, s1=s1, p1=p1, k2_=k2_, p2=p2, n_=n_, mode=mode, b1_zero=b1_zero))
    return out


def merge_is_exact_by_conditions(k1_, s1, p1, k2_, p2, n_, mode, b1_zero) -> bool:
    """whether conditions (i)-(iii) hold

    Conditions (i)-(iii) of equivalences.padded-exact-characterisation."""
    return _predicted_exact(k1_, s1, p1, n_, b1_zero, mode)


def derive_characterisation(P: Proof) -> None:
    cases = _characterisation_cases()
    _compute_together(cases)
    P.family("the prediction (conditions (i)--(iii)) equals the exact polynomial check of the "
             "merge, for $k_1 \\le 3$, $s_1 \\le 2$, $p_1 \\le 1$, $k_2 \\le 3$, $1 \\le p_2 \\le "
             "k_2 - 1$, $n \\in \\{4, 5\\}$, zero or bias padding, $b_1 = 0$ or not",
             cases, merge_is_exact_by_polynomials, merge_is_exact_by_conditions,
             shown=r"\text{exact} \iff k_1 - 1 \le p_1 + s_1 - 1 \wedge s_1 H_m \ge n + p_1 "
                   r"\wedge (b_1 = 0 \vee \text{bias padding})")


padded_characterisation = Checked(
    "equivalences.padded-exact-characterisation",
    "Exactly when a merge with padding in the second layer is exact",
    "With stride 1 and $1 \\le p_2 \\le k_2 - 1$ in the second layer (per axis): the merged layer "
    "padded by $p_1 + s_1 p_2$ equals the two layers for all weights iff (i) $k_1 - 1 \\le p_1 + "
    "s_1 - 1$ (the first layer's window at ring position $-1$ sees only padding), (ii) $s_1 "
    "H_{\\mathrm{mid}} \\ge n + p_1$ (the window at position $H_{\\mathrm{mid}}$ starts beyond the "
    "input; for every $n$ this is $k_1 - 1 \\le p_1$) and (iii) $b_1 = 0$ when the intermediate is "
    "zero padded (no condition when it is padded with $b_1$). $k_2$ and $p_2$ do not matter; $s_1$ "
    "and, for $s_1 > 1$, the input size $n$ do: a $2 \\times 2$ stride-2 first layer without "
    "padding merges exactly for even $n$ and not for odd $n$.",
    idea="Predict from conditions (i)--(iii) whether the merge is exact, and compare the "
         "prediction with the exact polynomial check of the merge on every case of the grid.",
    derive=derive_characterisation,
    remarks=("Why: by equivalences.padded-ring-error the merge is exact iff every ring value the "
             "second layer reads is the padding value (0, or $b_1$ with bias padding); the window "
             "at ring position $-1$ sees only padding iff $k_1 - 1 \\le p_1 + s_1 - 1$, the one at "
             "$H_{\\mathrm{mid}}$ starts beyond the input iff $s_1 H_{\\mathrm{mid}} \\ge n + p_1$ "
             "(for every $n$: $k_1 - 1 \\le p_1$), and zero padding needs the ring value $b_1 + 0$ "
             "to be 0.",),
    check_source=checks.test_padded_stride_parity_numeric,
)

padded_bias_repair = Identity(
    "equivalences.padded-bias-repair",
    "Repair: pad the intermediate with the bias value",
    "If the intermediate map is padded with $b_1$ (per channel) instead of zero, as "
    "re-parameterisation blocks do after a $1 \\times 1$ convolution and BatchNorm, the merged "
    "layer (kernel and bias of merge.strided-dilated, input padding $p_1 + s_1 p_2$) is exact for "
    "every $b_1$ whenever $d_1(k_1-1) \\le p_1$: then the first layer's output on an all-padding "
    "window is $b_1$, which is what the ring holds. Checked with strides $s_1, s_2 \\in \\{1, "
    "2\\}$, odd and even input sizes.",
    inputs=_pad_inputs,
    lhs=lambda T, **s: _two_layers(T, mode="bias", **s),
    rhs=_merged,
    family=[dict(k1=p, k2=q, n=nn, s1=s1, s2=s2, p1=p1, p2=p2)
            for p1 in (0, 1) for p in range(1, p1 + 2) for q in (3,) for s1 in (1, 2) for s2 in (1, 2)
            for p2 in (1, 2) for nn in (4, 5)],
    check_source=checks.test_padded_bias_repair_numeric,
)


padded_bias_repair_wide = Identity(
    "equivalences.padded-bias-repair-wide",
    "Bias padding does not repair a first kernel wider than its padding",
    "Claim (false): padding the intermediate with $b_1$ makes the merge exact also when $k_1 - 1 > "
    "p_1$: the first layer's window at the ring then reaches the input, so the ring value is not "
    "$b_1$.",
    expected="refuted",
    inputs=_pad_inputs,
    lhs=lambda T, **s: _two_layers(T, mode="bias", **s),
    rhs=_merged,
    family=[dict(k1=2, k2=2, n=2, c=1, p1=0, p2=1)],
    check_source=checks._confirm_pad_repair_witness,
    witness_check=checks._confirm_pad_repair_witness,
)
