"""What padding and channels cost: doubling, taps on the padding, MACs without them.

Section 3 of the costs chapter (see ``_chapters.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import sympy
from _chapters import COSTS
from _counting import (
    CONV_ARGS,
    FORMULA,
    C_in,
    C_out,
    H,
    H_out,
    N,
    W,
    W_out,
    args_of,
    b_,
    c2,
    conv_cases,
    d_h,
    d_w,
    ev,
    exported,
    formula_name,
    g,
    k_h,
    k_w,
    o_,
    p_h,
    p_w,
    s_h,
    s_w,
    windows_that_fit,
)
from sympy import Symbol

from convsym.cost import (
    conv2d_cost,
    conv_transpose2d_cost,
    padding_taps,
    real_taps,
)
from convsym.proof import (
    Checked,
    Proof,
    load_checks,
)
from convsym.shapes import conv_output_size

FAMILY = COSTS
SECTION = 3

checks = load_checks(__file__)  # the emitted numeric checks: proofs/checks/padding_costs.py

i_ = Symbol("i", integer=True)
a_ = Symbol("a", integer=True)

# =============================================================================================
# 11. doubling the channels (seed)


def derive_double_channels(P: Proof) -> None:
    macs = FORMULA["conv2d_macs"].expression
    doubled = macs.subs({C_in: 2 * C_in, C_out: 2 * C_out}, simultaneous=True)
    P.equal("doubling $C_{in}$ and $C_{out}$ (groups fixed) multiplies the MACs by 4",
            doubled, 4 * macs, shown=r"\mathrm{MACs}(2C_{in}, 2C_{out}) = 4\,\mathrm{MACs}(C_{in}, C_{out})")
    weights = FORMULA["conv2d_params_no_bias"].expression
    P.equal("and the weights by 4", weights.subs({C_in: 2 * C_in, C_out: 2 * C_out}, simultaneous=True),
            4 * weights)
    P.equal("doubling only one of them doubles the MACs", macs.subs(C_in, 2 * C_in), 2 * macs,
            shown=r"\mathrm{MACs}(2C_{in}, C_{out}) = 2\,\mathrm{MACs}(C_{in}, C_{out})")
    depthwise = macs.subs({g: C_in, C_out: C_in}, simultaneous=True)
    P.equal("a depthwise conv ($g = C_{in} = C_{out}$) doubles: its groups double with the channels",
            depthwise.subs(C_in, 2 * C_in), 2 * depthwise,
            shown=r"\mathrm{MACs}_{\mathrm{dw}}(2C) = 2\,\mathrm{MACs}_{\mathrm{dw}}(C)")


double_channels = Checked(
    "costs.doubling-channels",
    "Doubling input and output channels multiplies the MACs by 4",
    "For all sizes: doubling $C_{\\mathrm{in}}$ and $C_{\\mathrm{out}}$ (groups fixed) multiplies "
    "the multiply-accumulates and the weights by 4; doubling one of them doubles the "
    "multiply-accumulates; a depthwise convolution, whose groups double with its channels, only "
    "doubles.",
    idea="The multiply-accumulate count is linear in $C_{\\mathrm{out}}$ and in "
         "$C_{\\mathrm{in}}/g$: substitute the doubled sizes and compare.",
    derive=derive_double_channels,
    check_source=(
        checks._costs_count_taps,
        checks.test_costs_doubling_channels_quadruples_the_macs,
    ),
)

# =============================================================================================
# 12. doubling the padding (seed): the exact change


def derive_double_padding(P: Proof) -> None:
    macs = FORMULA["conv2d_macs"].expression
    at_p = macs.subs({s_h: 1, s_w: 1})
    at_2p = at_p.subs({p_h: 2 * p_h, p_w: 2 * p_w}, simultaneous=True)
    Ho1 = conv_output_size(H, k_h, 1, p_h, d_h)
    Wo1 = conv_output_size(W, k_w, 1, p_w, d_w)
    P.equal("at stride 1 the output grows by $2p$ per axis when the padding doubles",
            conv_output_size(H, k_h, 1, 2 * p_h, d_h), Ho1 + 2 * p_h,
            shown=r"H_{out}(2p_h) = H + 4p_h - d_h(k_h - 1) = H_{out}(p_h) + 2p_h")
    delta = N * C_out * (C_in / g) * k_h * k_w * (2 * p_h * W_out + 2 * p_w * H_out + 4 * p_h * p_w)
    P.equal("so the MACs grow by exactly this (stride 1; $H_{out}, W_{out}$ at padding $p$)",
            at_2p - at_p, delta.xreplace({H_out: Ho1, W_out: Wo1}),
            shown=r"\Delta\mathrm{MACs} = " + sympy.latex(delta))
    X = H + 2 * p_h - d_h * (k_h - 1) - 1
    q1, q2, t = (Symbol(name, integer=True) for name in ("q_1", "q_2", "t"))
    char = [X >= 0, q1 * s_h <= X, X < (q1 + 1) * s_h, q2 * s_h <= X + 2 * p_h, X + 2 * p_h < (q2 + 1) * s_h]
    P.implies("with stride $s$: when $s$ divides $2p$ ($2p = s t$) the output grows by exactly $t = 2p/s$ rows",
              [*char, p_h >= 0, sympy.Eq(2 * p_h, s_h * t)], [sympy.Eq(q2 - q1, t)])
    P.implies("in general by $\\lfloor 2p/s \\rfloor$ or $\\lceil 2p/s \\rceil$ rows",
              [*char, p_h >= 0, t * s_h <= 2 * p_h, 2 * p_h < (t + 1) * s_h], [q2 - q1 >= t, q2 - q1 <= t + 1])


double_padding = Checked(
    "costs.doubling-padding",
    "Doubling the padding: the exact change in MACs",
    "For all sizes at stride 1: doubling the padding adds $N C_{\\mathrm{out}} "
    "(C_{\\mathrm{in}}/g)\\, k_h k_w (2 p_h W_{\\mathrm{out}} + 2 p_w H_{\\mathrm{out}} + 4 p_h "
    "p_w)$ multiply-accumulates ($H_{\\mathrm{out}}, W_{\\mathrm{out}}$ at the original padding), "
    "all of them on the new border windows; at stride $s$ each axis gains $\\lfloor 2p/s \\rfloor$ "
    "or $\\lceil 2p/s \\rceil$ outputs, exactly $2p/s$ when $s$ divides $2p$.",
    idea="Substitute the doubled padding into the output sizes and take the difference of the two "
         "counts; the new outputs lie on the border.",
    derive=derive_double_padding,
    check_source=(
        checks._costs_dense_macs,
        checks.test_costs_doubling_the_padding_adds_the_exact_ring,
    ),
)

# =============================================================================================
# 13. taps on the padding: a closed form

e13, k13, s13, m13 = args_of("padding_taps")
E13 = sympy.Max(e13, 0, evaluate=False)
q13, r13, c13, f13 = (Symbol(name, integer=True) for name in ("q", "r", "c", "f"))


def derive_padding_taps(P: Proof) -> None:
    f = FORMULA["padding_taps"]
    P.define("the (window, tap) pairs of the first $m$ windows that fall in the first $e$ positions "
             "(dilation 1); only $E = \\max(e, 0)$ matters",
             r"Z(e) = \#\{(i, a) : 0 \le i \le m-1,\ 0 \le a \le k-1,\ s i + a < e\}")
    c_def = [c13 * s13 >= E13, (c13 - 1) * s13 < E13, c13 >= 0]
    f_def = [f13 * s13 <= E13 - k13, E13 - k13 < (f13 + 1) * s13]
    qv = sympy.Min(m13, c13, evaluate=False)
    rv = sympy.Min(qv, sympy.Max(0, f13 + 1, evaluate=False), evaluate=False)
    defs = [*c_def, *f_def, sympy.Eq(q13, qv), sympy.Eq(r13, rv)]
    taps = [a_ >= 0, a_ <= k13 - 1, s13 * i_ + a_ < e13]
    P.same_set("windows $i < r$, $r = \\min(q, \\max(0, \\lfloor (E-k)/s \\rfloor + 1))$, lie in the first "
               "$E$ positions entirely: all $k$ taps", taps, [a_ >= 0, a_ <= k13 - 1],
               [*defs, i_ >= 0, i_ <= r13 - 1])
    P.same_set("windows $r \\le i < q$, $q = \\min(m, \\lceil E/s \\rceil)$, have their first $E - s i$ taps there",
               taps, [a_ >= 0, a_ <= E13 - s13 * i_ - 1], [*defs, i_ >= r13, i_ <= q13 - 1])
    P.same_set("windows $q \\le i < m$ have none", taps, [a_ >= 0, a_ <= -1],
               [*defs, i_ >= q13, i_ <= m13 - 1])
    P.implies("the three groups partition the windows $0, \\dots, m-1$: $0 \\le r \\le q \\le m$",
              [*defs, m13 >= 0, E13 >= 0, s13 >= 1, k13 >= 1], [r13 >= 0, r13 <= q13, q13 <= m13])
    groups = [*defs, m13 >= 0, E13 >= 0, s13 >= 1, k13 >= 1]
    full = P.summation("sum the first group", k13, [(i_, 0, r13 - 1)], hypotheses=groups)
    part = P.summation("sum the second group", E13 - s13 * i_, [(i_, r13, q13 - 1)], hypotheses=groups)
    # the sub-expressions q and r of the exported formula, built as convsym.cost builds them
    q_node = sympy.Min(m13, sympy.ceiling(E13 / s13), evaluate=False)
    r_node = sympy.Min(q_node, sympy.Max(0, sympy.floor((E13 - k13) / s13) + 1, evaluate=False),
                       evaluate=False)
    got = f.expression.xreplace({r_node: r13, q_node: q13})
    if got.has(sympy.Min):
        P._fail("algebra", f"the exported padding_taps does not have the expected q and r: {got}")
    P.equal("the exported formula " + formula_name("padding_taps") + " ($q, r$ written out)", full + part, got,
            shown=r"Z(e) = r k + (q - r) E - \frac{s}{2}\left(q(q-1) - r(r-1)\right)")
    cases = [dict(e=e, k=k, s=s, d=d, m=m) for e in range(-1, 8) for k in range(1, 6) for s in range(1, 4)
             for d in range(1, 4) for m in range(0, 5)]
    brute = lambda e, k, s, d, m: sum(1 for i in range(m) for a in range(k) if s * i + d * a < e)  # noqa: E731
    P.cross_check("the exported closed form (dilation 1) against enumeration", [c for c in cases if c["d"] == 1],
             brute, lambda e, k, s, d, m: ev(f.expression, {e13: e, k13: k, s13: s, m13: m}) if m else 0)
    P.cross_check("the count of padding taps with dilation (a finite sum of ceilings) against "
                  "enumeration",
             cases, brute, lambda e, k, s, d, m: padding_taps(e, k, s, d, m))


padding_taps_thm = Checked(
    "costs.padding-taps",
    "Taps on the zero padding: a closed form",
    "For all $e$, kernels $k$, strides $s$ and window counts $m$ (dilation 1): the number of "
    "(window, tap) pairs of the first $m$ windows that fall in the first $e$ positions is $r k + (q "
    "- r) E - s (q(q-1) - r(r-1))/2$ with $E = \\max(e, 0)$, $q = \\min(m, \\lceil E/s \\rceil)$, "
    "$r = \\min(q, \\max(0, \\lfloor (E-k)/s \\rfloor + 1))$.",
    idea="The first $r$ windows lie wholly in the first $e$ positions and count $k$ taps each; the "
         "next $q - r$ count $E - s j$ taps; sum that arithmetic series in closed form.",
    derive=derive_padding_taps,
    check_source=(
        exported("_costs_padding_taps", "padding_taps"),
        checks.test_costs_padding_taps_counted_by_a_convolution_of_ones,
    ),
)
# =============================================================================================
# 14. MACs without the taps on zero padding

n14, k14, s14, pl14, d14, m14 = (Symbol(name, integer=True, positive=True) for name in ("n", "k", "s", "p_l", "d", "m"))
pl14 = Symbol("p_l", integer=True, nonnegative=True)
e_r = s14 * (m14 - 1) + d14 * (k14 - 1) + 1 - n14 - pl14
T_h, T_w = sympy.symbols("T_h T_w", integer=True, nonnegative=True)


def brute_real_products(c: Mapping[str, int]) -> int:
    rows = windows_that_fit(c["H"], c["k_h"], c["s_h"], c["p_t"], c["p_b"], c["d_h"])
    cols = windows_that_fit(c["W"], c["k_w"], c["s_w"], c["p_w"], c["p_w"], c["d_w"])
    real = 0
    for i, j, u, v in itertools.product(rows, cols, range(c["k_h"]), range(c["k_w"])):
        row = c["s_h"] * i + c["d_h"] * u - c["p_t"]
        col = c["s_w"] * j + c["d_w"] * v - c["p_w"]
        real += 0 <= row < c["H"] and 0 <= col < c["W"]
    return real * c["N"] * c["C_out"] * (c["C_in"] // c["g"])


def derive_no_padding(P: Proof) -> None:
    f = FORMULA["conv2d_macs_without_padding"]
    P.define("per axis, the (window, tap) pairs of $m$ windows whose tap $s i + d a - p_l$ is a real "
             "input position of $0, \\dots, n-1$",
             r"T = \#\{(i, a) \in [0, m-1] \times [0, k-1] : 0 \le s i + d a - p_l \le n - 1\}")
    box = [i_ >= 0, i_ <= m14 - 1, a_ >= 0, a_ <= k14 - 1]
    left = s14 * i_ + d14 * a_ < pl14
    right = s14 * i_ + d14 * a_ > n14 - 1 + pl14
    P.implies("the taps left of the input and those right of it are disjoint (the input is not empty)",
              [*box, left, right], [sympy.false], shown=r"L \cap R = \emptyset")
    P.same_set("the rest of the box is exactly the real taps", [*box, sympy.Not(left), sympy.Not(right)],
               [*box, s14 * i_ + d14 * a_ - pl14 >= 0, s14 * i_ + d14 * a_ - pl14 <= n14 - 1], [],
               shown=r"T = m k - |L| - |R|")
    jv, bv = Symbol("j", integer=True), Symbol("b", integer=True)
    mirrored = [cond.subs({i_: m14 - 1 - jv, a_: k14 - 1 - bv}, simultaneous=True) for cond in [*box, right]]
    P.same_set("reading the windows backwards, $(i, a) \\mapsto (m-1-i, k-1-a)$ (a bijection of the box), "
               "the right taps are those of $Z(e_r)$, $e_r = s(m-1) + d(k-1) + 1 - n - p_l$",
               mirrored, [jv >= 0, jv <= m14 - 1, bv >= 0, bv <= k14 - 1, s14 * jv + d14 * bv < e_r], [],
               shown=r"|R| = Z(e_r),\quad |L| = Z(p_l)")
    e_r1 = e_r.subs(d14, 1)
    P.equal("so $T = m k - Z(p_l) - Z(e_r)$: the count of real taps, here for dilation 1 with the "
            "closed form of costs.padding-taps (for $d > 1$ it sums the finite form, checked on the "
            "family below)",
            real_taps(n14, k14, s14, pl14, 1, m14),
            m14 * k14 - padding_taps(pl14, k14, s14, 1, m14) - padding_taps(e_r1, k14, s14, 1, m14),
            shown=r"T = m k - Z(p_l) - Z(e_r)")
    nest = P.summation("the real products of the loop nest: the spatial domain is the product of the two "
                       "axes' real pairs", T_h * T_w, [(c2, 0, C_in / g - 1), (o_, 0, C_out - 1), (b_, 0, N - 1)])
    Ho1, Wo1 = conv_output_size(H, k_h, s_h, p_h), conv_output_size(W, k_w, s_w, p_w)
    per_axis = {T_h: real_taps(H, k_h, s_h, p_h, 1, Ho1), T_w: real_taps(W, k_w, s_w, p_w, 1, Wo1)}
    P.equal("with costs.padding-taps for $Z$ (dilation 1) this is the exported formula "
            + formula_name("conv2d_macs_without_padding"),
            nest.xreplace(per_axis), f.expression,
            shown=sympy.latex(nest) + r",\quad T = m k - Z(p) - Z(e_r)")
    cases = []
    for case in conv_cases(30):
        for p_b in (case["p_h"], case["p_h"] + 1):
            cases.append({**case, "p_t": case["p_h"], "p_b": p_b})
    P.cross_check("products of two real numbers enumerated (asymmetric padding, dilation, groups)", cases,
             lambda **c: brute_real_products(c),
             lambda **c: conv2d_cost((c["N"], c["C_in"], c["H"], c["W"]), c["C_out"], (c["k_h"], c["k_w"]),
                                     (c["s_h"], c["s_w"]), ((c["p_t"], c["p_b"]), (c["p_w"], c["p_w"])),
                                     (c["d_h"], c["d_w"]), c["g"]).macs_without_padding)
    sym = dict(zip(CONV_ARGS, args_of("conv2d_macs"), strict=True))
    P.cross_check("the exported formula (dilation 1) against the same enumeration",
             [c for c in cases if c["d_h"] == 1 and c["p_t"] == c["p_b"]], lambda **c: brute_real_products(c),
             lambda **c: ev(f.expression, {sym[k]: c[k] for k in ("N", "C_in", "H", "W", "C_out", "k_h", "k_w",
                                                                  "s_h", "s_w", "p_h", "p_w", "g")}))
    tcases = [dict(n=n, k=k, s=s, p=p, o=o) for n in (1, 3, 4) for k in (1, 2, 3, 4) for s in (1, 2, 3)
              for o in range(s) for p in range(3) if (n - 1) * s + k + o - 2 * p >= 1]
    P.cross_check("transposed convolutions: scattered products landing in the kept output", tcases,
             lambda n, k, s, p, o: sum(1 for i in range(n) for a in range(k)
                                       if 0 <= s * i + a - p <= (n - 1) * s + k - 1 + o - 2 * p) ** 2,
             lambda n, k, s, p, o: conv_transpose2d_cost((1, 1, n, n), 1, k, s, p, o).macs_without_padding)


no_padding = Checked(
    "costs.macs-without-padding",
    "MACs without the taps on zero padding",
    "For all sizes: the products of a 2-D convolution whose input tap is a real input element "
    "number $N C_{\\mathrm{out}} (C_{\\mathrm{in}}/g)\\, T_h T_w$ with $T = m k - Z(p_l) - Z(e_r)$ "
    "per axis ($m$ windows, $Z$ of costs.padding-taps, $e_r = s(m-1) + d(k-1) + 1 - n - p_l$ the "
    "overhang of the last window); for ResNet-18's stem (224, $7 \\times 7$, stride 2, padding 3) "
    "$T = 112 \\cdot 7 - 4 - 2 = 778$.",
    idea="Per axis, subtract from the $m k$ taps of all windows those on the left padding and those "
         "beyond the input on the right, each given by costs.padding-taps.",
    derive=derive_no_padding,
    check_source=(
        exported("_costs_macs_without_padding", "conv2d_macs_without_padding"),
        checks.test_costs_macs_without_padding_counted_by_a_convolution_of_ones,
        checks.test_costs_resnet18_stem_without_padding,
    ),
)
