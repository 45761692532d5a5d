"""Output sizes by counting windows; ceil mode, 'same' padding, transposed sizes; receptive field.

Section 1 of the costs chapter (see ``_chapters.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import sympy
from _chapters import COSTS
from _counting import FORMULA, args_of, ceil_windows, ev, exported, formula_name, scatter_positions, windows_that_fit
from sympy import Symbol

from convsym.proof import (
    Checked,
    Proof,
    load_checks,
)
from convsym.shapes import conv_output_size, pool_output_size, receptive_field

FAMILY = COSTS
SECTION = 1

checks = load_checks(__file__)  # the emitted numeric checks: proofs/checks/shapes.py

# =============================================================================================
# 1. output size: counting the windows that fit

n_, k_, s_, p_l_, p_r_, d_ = args_of("conv_output_size")
i_, q_, c_, j_ = (Symbol(name, integer=True) for name in ("i", "q", "c", "j"))
X_conv = n_ + p_l_ + p_r_ - d_ * (k_ - 1) - 1


def derive_output_size(P: Proof) -> None:
    f = FORMULA["conv_output_size"]
    P.define(
        "window $i$ reads the padded positions $s i + d a$, $a = 0, \\dots, k-1$; it fits when its "
        "last tap is inside the padded input of length $n + p_l + p_r$",
        r"n_{out} = \#\{i \ge 0 : s i + d (k-1) \le n + p_l + p_r - 1\}",
    )
    fits = [X_conv >= 0]
    q_def = [q_ * s_ <= X_conv, X_conv < (q_ + 1) * s_]
    P.same_set(
        "with $q = \\lfloor (n + p_l + p_r - d(k-1) - 1)/s \\rfloor$ (the integer with "
        "$q s \\le X < (q+1) s$) the windows that fit are $i = 0, \\dots, q$",
        [i_ >= 0, s_ * i_ + d_ * (k_ - 1) <= n_ + p_l_ + p_r_ - 1], [i_ >= 0, i_ <= q_],
        [p_l_ >= 0, p_r_ >= 0, *fits, *q_def],
    )
    count = P.summation("count them", 1, [(i_, 0, q_)], hypotheses=[p_l_ >= 0, p_r_ >= 0, *fits, *q_def])
    P.equal("the closed formula (exported as " + formula_name("conv_output_size") + ")",
            count.subs(q_, sympy.floor(X_conv / s_)), f.expression)
    cases = [dict(n=n, k=k, s=s, p_l=a, p_r=b, d=d)
             for n, k, s, a, b, d in itertools.product(range(1, 9), range(1, 4), range(1, 4), range(3),
                                                       range(3), range(1, 3))
             if d * (k - 1) + 1 <= n + a + b]
    P.cross_check("windows enumerated one by one", cases,
             lambda **c: len(windows_that_fit(**c)),
             lambda **c: ev(f.expression, {n_: c["n"], k_: c["k"], s_: c["s"], p_l_: c["p_l"],
                                           p_r_: c["p_r"], d_: c["d"]}))


output_size = Checked(
    "costs.conv-output-size",
    "Output size: the number of windows that fit",
    "For all sizes $n, k$, strides $s$, dilations $d$ and paddings $p_l, p_r$ with $d(k-1)+1 \\le n "
    "+ p_l + p_r$: the number of window positions $i \\ge 0$ whose last tap $s i + d(k-1)$ lies in "
    "the padded input is $\\lfloor (n + p_l + p_r - d(k-1) - 1)/s \\rfloor + 1$.",
    idea="Window $i$ fits when its last tap $s i + d(k-1)$ is inside the padded input; z3 decides, "
         "for all sizes, that the windows that fit are exactly $0, \\dots, q$ with $q$ the floor.",
    derive=derive_output_size,
    check_source=(
        exported("_costs_conv_output_size", "conv_output_size"),
        checks.test_costs_conv_output_size_is_the_references,
    ),
)

# =============================================================================================
# 2. ceil mode (pooling)

n2, k2, s2, p2, d2 = args_of("pool_output_size_ceil")
X_pool = n2 + 2 * p2 - d2 * (k2 - 1) - 1


def derive_ceil(P: Proof) -> None:
    f = FORMULA["pool_output_size_ceil"]
    P.define(
        "in ceil mode windows are added until one reaches the end of the padded input (window "
        "$i$ is needed when $i = 0$ or window $i-1$ ends before the last position, "
        "$s(i-1) < X$ with $X = n + 2p - d(k-1) - 1$), and a window must start inside the input "
        "or its left padding",
        r"n_{out} = \#\{i \ge 0 : s(i-1) < X,\ s i < n + p\}",
    )
    c_def = [c_ * s2 >= X_pool, (c_ - 1) * s2 < X_pool]
    hyps = [p2 >= 0, 2 * p2 <= k2, X_pool >= 0, *c_def]
    needed = [i_ >= 0, s2 * (i_ - 1) < X_pool, s2 * i_ < n2 + p2]
    P.same_set(
        "with $c = \\lceil X/s \\rceil$: when window $c$ would start at or beyond $n + p$ "
        "(PyTorch's drop rule) the windows are $0, \\dots, c-1$ (PyTorch's pooling rule $2p \\le k$ "
        "makes this the only window that can start in the right padding)",
        needed, [i_ >= 0, i_ <= c_ - 1], [*hyps, c_ * s2 >= n2 + p2])
    P.same_set("otherwise they are $0, \\dots, c$", needed, [i_ >= 0, i_ <= c_],
               [*hyps, c_ * s2 < n2 + p2])
    dropped = P.summation("count the first case", 1, [(i_, 0, c_ - 1)], hypotheses=hyps)
    kept = P.summation("count the second case", 1, [(i_, 0, c_)], hypotheses=hyps)
    expected = sympy.Piecewise((dropped, n2 + p2 <= s2 * c_), (kept, True))
    P.identical("the closed formula (exported as " + formula_name("pool_output_size_ceil") + "), $c$ written out",
                f.expression.xreplace({sympy.ceiling(X_pool / s2): c_}), expected)
    cases = [dict(n=n, k=k, s=s, p=p, d=d)
             for n, k, s, d in itertools.product(range(1, 11), range(1, 5), range(1, 4), range(1, 3))
             for p in range(k // 2 + 1) if d * (k - 1) + 1 <= n + 2 * p]
    P.cross_check("windows enumerated one by one", cases, lambda **c: len(ceil_windows(**c)),
             lambda **c: ev(f.expression, {n2: c["n"], k2: c["k"], s2: c["s"], p2: c["p"], d2: c["d"]}))
    P.cross_check("PyTorch's rule for the output size of pooling", cases,
             lambda **c: len(ceil_windows(**c)),
             lambda **c: pool_output_size(c["n"], c["k"], c["s"], c["p"], c["d"], ceil_mode=True))


ceil_mode = Checked(
    "costs.ceil-mode",
    "Ceil mode: PyTorch's drop rule counts the windows that start inside",
    "For all sizes with PyTorch's pooling rule $2p \\le k$: PyTorch's ceil-mode output size "
    "$\\lceil X/s \\rceil + 1$, minus one when window $\\lceil X/s \\rceil$ would start at or "
    "beyond $n + p$, is the number of windows needed to reach the end of the padded input that "
    "start inside the input or its left padding.",
    idea="Count the windows that start inside the input or its left padding and the windows needed "
         "to cover the padded input; z3 decides, for all sizes, that PyTorch's rule with its drop "
         "gives that count.",
    derive=derive_ceil,
    check_source=(
        exported("_costs_pool_output_size_ceil", "pool_output_size_ceil"),
        checks.test_costs_ceil_mode_is_the_references,
    ),
)

# =============================================================================================
# 3. 'same' padding with even kernels

k3, d3 = args_of("same_padding_left")
l3 = Symbol("l", integer=True)
jj = Symbol("j", integer=True)


def derive_same(P: Proof) -> None:
    left, right = FORMULA["same_padding_left"].expression, FORMULA["same_padding_right"].expression
    n3 = Symbol("n", integer=True, positive=True)
    P.equal("the two sides add up to the dilated kernel's extent", left + right, d3 * (k3 - 1))
    P.equal("so the output size at stride 1 is the input size",
            conv_output_size(n3, k3, 1, (left, right), d3), n3,
            shown=sympy.latex(conv_output_size(n3, k3, 1, (left, right), d3)) + " = n")
    t = d3 * (k3 - 1)
    l_def = [2 * l3 <= t, t < 2 * l3 + 2]
    P.implies("with $l = \\lfloor d(k-1)/2 \\rfloor$ the right side gets $0$ or $1$ more",
              l_def, [t - 2 * l3 >= 0, t - 2 * l3 <= 1], shown=r"0 \le (d(k-1) - l) - l \le 1")
    P.implies("an even kernel at dilation 1 puts the extra row/column at the bottom/right",
              [*[v.subs(d3, 1) for v in l_def], sympy.Eq(k3, 2 * jj)], [sympy.Eq(k3 - 1 - 2 * l3, 1)],
              shown=r"k = 2j \Rightarrow \mathrm{right} - \mathrm{left} = 1")
    P.implies("an odd kernel at dilation 1 pads both sides alike",
              [*[v.subs(d3, 1) for v in l_def], sympy.Eq(k3, 2 * jj + 1)], [sympy.Eq(k3 - 1 - 2 * l3, 0)],
              shown=r"k = 2j + 1 \Rightarrow \mathrm{right} = \mathrm{left}")
    cases = [dict(n=n, k=k, d=d) for n in range(1, 8) for k in range(1, 9) for d in range(1, 4)]
    P.cross_check("output size counted with the exported paddings", cases,
             lambda n, k, d: len(windows_that_fit(n, k, 1, ev(left, {k3: k, d3: d}),
                                                  ev(right, {k3: k, d3: d}), d)),
             lambda n, k, d: n)


same_padding = Checked(
    "costs.same-padding",
    "'same' padding with even kernels",
    "For all kernel sizes and dilations, 'same' padding pads $\\lfloor d(k-1)/2 \\rfloor$ on the "
    "left (top) and the rest, $d(k-1) - \\lfloor d(k-1)/2 \\rfloor$, on the right (bottom); the "
    "output has the input's size at stride 1, and an even kernel (dilation 1) puts its extra row or "
    "column at the bottom or right.",
    idea="The two paddings add up to $d(k-1)$, so the output-size rule at stride 1 gives back $n$; "
         "the floor puts the odd one out on the right.",
    derive=derive_same,
    check_source=(
        exported("_costs_same_left", "same_padding_left", (k3, d3)),
        exported("_costs_same_right", "same_padding_right", (k3, d3)),
        checks.test_costs_same_padding_puts_the_extra_row_last,
    ),
)

# =============================================================================================
# 4. transposed convolution

n4, k4, s4, p4, o4, d4 = args_of("conv_transpose_output_size")
a_ = Symbol("a", integer=True)


def derive_transposed(P: Proof) -> None:
    f = FORMULA["conv_transpose_output_size"]
    P.define("input element $i$ is scattered to positions $s i + d a$, $a = 0, \\dots, k-1$, of "
             "the full output; $p$ positions are cropped on each side and $o_p$ added at the end",
             r"\{s i + d a : 0 \le i \le n-1,\ 0 \le a \le k-1\}")
    top = (n4 - 1) * s4 + d4 * (k4 - 1)
    P.implies("every scattered position lies in $[0, (n-1)s + d(k-1)]$",
              [i_ >= 0, i_ <= n4 - 1, a_ >= 0, a_ <= k4 - 1],
              [s4 * i_ + d4 * a_ >= 0, s4 * i_ + d4 * a_ <= top])
    P.implies("and both ends are reached ($i = a = 0$ and $i = n-1$, $a = k-1$)", [],
              [sympy.Eq(s4 * 0 + d4 * 0, 0), sympy.Eq(s4 * (n4 - 1) + d4 * (k4 - 1), top)])
    P.equal("the full length, cropped and padded (exported as " + formula_name("conv_transpose_output_size") + ")",
            top + 1 - 2 * p4 + o4, f.expression)
    out = f.expression
    back = out + 2 * p4 - d4 * (k4 - 1) - 1
    q_def = [q_ * s4 <= back, back < (q_ + 1) * s4]
    P.implies("it inverts the forward rule, $\\lfloor (n_{out} + 2p - d(k-1) - 1)/s \\rfloor + 1 = n$, "
              "exactly when $o_p < s$", [p4 >= 0, o4 >= 0, o4 < s4, *q_def], [sympy.Eq(q_ + 1, n4)])
    P.implies("with $o_p \\ge s$ (allowed when $d > s$) the forward rule gives more than $n$",
              [p4 >= 0, o4 >= s4, *q_def], [q_ + 1 >= n4 + 1])
    cases = [dict(n=n, k=k, s=s, p=p, o=o, d=d)
             for n, k, s, d in itertools.product(range(1, 6), range(1, 5), range(1, 4), range(1, 3))
             for o in range(max(s, d)) for p in range(3)
             if (n - 1) * s + d * (k - 1) + 1 + o - 2 * p >= 1]
    P.cross_check("scattered positions enumerated", cases,
             lambda n, k, s, p, o, d: max(scatter_positions(n, k, s, d)) + 1 - 2 * p + o,
             lambda n, k, s, p, o, d: ev(f.expression, {n4: n, k4: k, s4: s, p4: p, o4: o, d4: d}))


transposed_size = Checked(
    "costs.transposed-output-size",
    "Transposed convolution: output size and the inverse of the forward rule",
    "For all sizes: a transposed convolution's output has $(n-1)s - 2p + d(k-1) + q + 1$ positions "
    "(the scatter extent, cropped by $p$ on each side, plus the output padding $q$), and the "
    "forward rule maps it back to $n$ exactly when $q < s$.",
    idea="The last input scatters to $(n-1)s + d(k-1)$; crop and pad, then let z3 decide when the "
         "forward floor returns $n$.",
    derive=derive_transposed,
    check_source=(
        exported("_costs_transposed_size", "conv_transpose_output_size"),
        checks.test_costs_transposed_size_is_the_references,
    ),
)

# =============================================================================================
# 5. receptive field and jump of a stack

r_, J_, x_ = (Symbol(name, integer=True) for name in ("r", "J", "x"))
k5, s5, d5 = (Symbol(name, integer=True, positive=True) for name in ("k", "s", "d"))


def trace(kernels: Sequence[int], strides: Sequence[int], dilations: Sequence[int]) -> tuple[int, int]:
    def inputs_of(position: int) -> set[int]:
        positions = {position}
        for k, s, d in reversed(list(zip(kernels, strides, dilations, strict=True))):
            positions = {q * s + d * a for q in positions for a in range(k)}
        return positions

    zero, one = inputs_of(0), inputs_of(1)
    return max(zero) - min(zero) + 1, min(one) - min(zero)


def derive_receptive(P: Proof) -> None:
    P.define(
        "output $0$ of a stack of $L$ layers reads the input positions $S_L$; output $y$ of the first "
        "$L-1$ layers reads $y J_{L-1} + S_{L-1}$ with the jump $J_{L-1} = \\prod_{l<L} s_l$, so "
        "$S_L = \\{d_L a J_{L-1} + x : 0 \\le a \\le k_L - 1,\\ x \\in S_{L-1}\\}$, $S_0 = \\{0\\}$, "
        "$J_0 = 1$, $J_L = J_{L-1} s_L$; the receptive field is $r_L = \\max S_L - \\min S_L + 1$",
        r"S_L = d_L [0, k_L - 1] J_{L-1} + S_{L-1}",
    )
    hyps = [J_ >= 1, r_ >= 1, a_ >= 0, a_ <= k5 - 1, x_ >= 0, x_ <= r_ - 1]
    P.implies("induction step: if $S_{L-1} \\subseteq [0, r-1]$ then every new position lies in "
              "$[0, r - 1 + d(k-1) J]$", hyps,
              [d5 * a_ * J_ + x_ >= 0, d5 * a_ * J_ + x_ <= r_ - 1 + d5 * (k5 - 1) * J_])
    P.implies("and if $0, r-1 \\in S_{L-1}$ both ends are reached: $a = 0, x = 0$ gives $0$",
              [J_ >= 1, r_ >= 1, sympy.Eq(a_, 0), sympy.Eq(x_, 0)], [sympy.Eq(d5 * a_ * J_ + x_, 0)])
    P.implies("and $a = k-1$, $x = r-1$ gives $r - 1 + d(k-1)J$, so $r_L = r_{L-1} + d_L(k_L-1)J_{L-1}$",
              [J_ >= 1, r_ >= 1, sympy.Eq(a_, k5 - 1), sympy.Eq(x_, r_ - 1)],
              [sympy.Eq(d5 * a_ * J_ + x_, r_ - 1 + d5 * (k5 - 1) * J_)])
    Ls, l_, i_rf = Symbol("L", integer=True, nonnegative=True), Symbol("l", integer=True), Symbol("i", integer=True)
    kk, ss, dd = sympy.IndexedBase("k"), sympy.IndexedBase("s"), sympy.IndexedBase("d")
    P.induction("by induction on the number of layers $L$, from $r_0 = J_0 = 1$ and the recurrences above",
                Ls,
                closed={"r": lambda n: 1 + sympy.Sum(dd[l_] * (kk[l_] - 1) * sympy.Product(ss[i_rf], (i_rf, 1, l_ - 1)),
                                                     (l_, 1, n)),
                        "J": lambda n: sympy.Product(ss[i_rf], (i_rf, 1, n))},
                base={"r": 1, "J": 1},
                step={"r": lambda prev, n: prev["r"] + dd[n] * (kk[n] - 1) * prev["J"],
                      "J": lambda prev, n: prev["J"] * ss[n]},
                shown=r"r_L = 1 + \sum_{l=1}^{L} d_l (k_l - 1) \prod_{i<l} s_i,\quad J_L = \prod_{l=1}^{L} s_l")
    P.cross_check("the closed form is what the library's receptive-field function computes, for "
                  "stacks of 1 to 5 layers with every size symbolic", [dict(L=L) for L in range(1, 6)],
                  lambda L: sympy.expand(_rf_closed(L)), lambda L: sympy.expand(receptive_field(*_rf_symbols(L))[0]))
    cases = [dict(layers=layers) for L in (1, 2, 3)
             for layers in itertools.product(itertools.product((1, 2, 3), (1, 2), (1, 2)), repeat=L)]
    P.cross_check("every stack of up to 3 layers with $k \\le 3$ and $s, d \\le 2$, traced position "
                  "by position",
             cases, lambda layers: trace(*zip(*layers, strict=True)),
             lambda layers: receptive_field(*zip(*layers, strict=True)))


def _rf_symbols(L: int):
    ks = sympy.symbols(f"k_1:{L + 1}", integer=True, positive=True)
    ss = sympy.symbols(f"s_1:{L + 1}", integer=True, positive=True)
    ds = sympy.symbols(f"d_1:{L + 1}", integer=True, positive=True)
    return list(ks), list(ss), list(ds)


def _rf_closed(L: int) -> sympy.Expr:
    ks, ss, ds = _rf_symbols(L)
    return 1 + sum(ds[l] * (ks[l] - 1) * sympy.Mul(*ss[:l]) for l in range(L))


receptive = Checked(
    "costs.receptive-field",
    "Receptive field and jump of a stack",
    "For every stack of layers $(k_l, s_l, d_l)$, by induction on the number of layers: the "
    "receptive field is $1 + \\sum_l d_l (k_l - 1) \\prod_{i<l} s_i$ and the jump between "
    "neighbouring outputs is $\\prod_l s_l$.",
    idea="A new layer on top widens the field by $d(k-1)$ steps of the current jump and multiplies "
         "the jump by its stride: induction on the number of layers.",
    derive=derive_receptive,
    check_source=(
        checks._costs_stack_response,
        checks.test_costs_receptive_field_by_impulses,
    ),
)
