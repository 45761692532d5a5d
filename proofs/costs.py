"""Shapes and costs: output sizes by counting windows, MACs by summing the loop nest.

Every shape rule is proved by counting the valid window positions: the set of window indices is
described by linear integer conditions, z3 decides for all sizes that it is an interval
``0..q`` (``q`` characterised by the inequalities of a floor or a ceiling), and its size is
summed.  Every cost is the number of points of a loop nest, summed by ``sympy.summation`` from
the ranges of the loops (not typed in) and shown equal to the closed formula that
``convsym.cost`` computes and ``convsym build`` exports (``generated/formulas/``): the formulas
this chapter proves are the very SymPy expressions that are printed there.  Each general proof
is cross-checked on an exact family by brute-force enumeration, and each theorem's emitted check
re-counts with the NumPy reference (a convolution of ones counts its own taps).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence

import sympy
from sympy import Integer, Symbol

from convsym.cost import (
    TOOLS,
    conv2d_cost,
    conv_transpose2d_cost,
    exported_formulas,
    linear_cost,
    padding_taps,
    pool2d_cost,
    real_taps,
    resnet18_convs,
)
from convsym.errors import ProofError
from convsym.proof import Checked, Proof
from convsym.proof.verdict import Family
from convsym.render.export import python_function
from convsym.shapes import conv_output_size, pool_output_size, receptive_field

FAMILY = Family(
    "costs",
    "Shapes and costs",
    intro=(
        "How large is the output of a convolution, and what does it cost? Each shape rule is "
        "proved by counting the window positions (z3 decides, for all sizes, that the valid "
        "windows are exactly $0, \\dots, q$), each cost by summing the loop nest of the layer with "
        "SymPy, and both are checked against brute-force enumeration. The closed formulas proved "
        "here are the ones exported to generated/formulas (Python, C, LaTeX, JSON). The chapter "
        "ends with ResNet-18 at 224 x 224, layer by layer: dense MACs, MACs without the taps on "
        "zero padding, and the figure each counting tool reports. Whole models are counted "
        "operator by operator on PyTorch's meta device (convsym cost --model); the README lists "
        "what fvcore, ptflops, thop, torchinfo, DeepSpeed and FlopCounterMode report on nine "
        "architectures, each total modelled by convsym and equal to the tool's own."
    ),
    order=40,
)

FORMULA = {f.name: f for f in exported_formulas()}


def args_of(name: str) -> tuple[Symbol, ...]:
    return tuple(sym for sym, _ in FORMULA[name].arguments)


def ev(expr: sympy.Expr, values: Mapping[Symbol, int]) -> int:
    """The exact value of ``expr`` at integer ``values``."""
    out = sympy.sympify(expr).xreplace({s: Integer(v) for s, v in values.items()})
    if not out.is_Integer:
        raise ProofError(f"{expr} does not evaluate to an integer at {dict(values)}: {out}")
    return int(out)


def _tex(e) -> str:
    return e if isinstance(e, str) else sympy.latex(e)


def _conj(conds: Iterable) -> str:
    return r" \wedge ".join(_tex(c) for c in conds) or r"\mathrm{true}"


def grid(**ranges: Iterable[int]) -> list[dict[str, int]]:
    names = list(ranges)
    return [dict(zip(names, values, strict=True))
            for values in itertools.product(*(list(ranges[n]) for n in names))]


# ---------------------------------------------------------------------------------------------
# brute-force counts (enumeration; no closed formula inside)


def windows_that_fit(n: int, k: int, s: int, p_l: int, p_r: int, d: int) -> list[int]:
    """Window indices i >= 0 whose last tap s i + d(k-1) lies in the padded input."""
    out, i = [], 0
    while s * i + d * (k - 1) <= n + p_l + p_r - 1:
        out.append(i)
        i += 1
    return out


def ceil_windows(n: int, k: int, s: int, p: int, d: int) -> list[int]:
    """Windows needed to reach the end of the padded input (each starts where the previous one
    left the end uncovered) that start inside the input or its left padding."""
    out, i = [], 0
    while i == 0 or s * (i - 1) + d * (k - 1) < n + 2 * p - 1:
        if s * i < n + p:
            out.append(i)
        i += 1
    return out


def real_pairs(n: int, k: int, s: int, p_l: int, d: int, m: int) -> int:
    return sum(1 for i in range(m) for a in range(k) if 0 <= s * i + d * a - p_l <= n - 1)


def scatter_positions(n: int, k: int, s: int, d: int) -> set[int]:
    return {s * i + d * a for i in range(n) for a in range(k)}


class Counter:
    """A number that counts the multiplications and additions made with it."""

    def __init__(self, ops: list[int]) -> None:
        self.ops = ops

    def __mul__(self, other: Counter) -> Counter:
        self.ops[0] += 1
        return Counter(self.ops)

    def __add__(self, other: Counter) -> Counter:
        self.ops[1] += 1
        return Counter(self.ops)


def direct_conv_ops(n: int, c_in: int, h: int, w: int, c_out: int, k_h: int, k_w: int, s_h: int,
                    s_w: int, p_h: int, p_w: int, d_h: int, d_w: int, g: int,
                    bias: bool) -> tuple[int, int]:
    """(multiplications, additions) of a direct conv loop written out on counting numbers: each
    output starts from the bias (or from its first product) and adds its products one by one."""
    ops = [0, 0]
    one = Counter(ops)
    rows = windows_that_fit(h, k_h, s_h, p_h, p_h, d_h)
    cols = windows_that_fit(w, k_w, s_w, p_w, p_w, d_w)
    per_in = c_in // g
    for _n, _o, _i, _j in itertools.product(range(n), range(c_out), rows, cols):
        acc = one if bias else None
        for _c, _u, _v in itertools.product(range(per_in), range(k_h), range(k_w)):
            term = one * one
            acc = term if acc is None else acc + term
    return ops[0], ops[1]


# =============================================================================================
# 1. output size: counting the windows that fit

n_, k_, s_, p_l_, p_r_, d_ = args_of("conv_output_size")
i_, q_, c_, j_ = (Symbol(name, integer=True) for name in ("i", "q", "c", "j"))
X_conv = n_ + p_l_ + p_r_ - d_ * (k_ - 1) - 1

CHECK_OUTPUT_SIZE = python_function("_costs_conv_output_size", args_of("conv_output_size"),
                                    FORMULA["conv_output_size"].expression) + """

def test_costs_conv_output_size_is_the_references():
    rng = np.random.default_rng(40)
    for _ in range(60):
        k, s, d = (int(v) for v in rng.integers(1, 4, size=3))
        p_l, p_r = (int(v) for v in rng.integers(0, 3, size=2))
        n = int(rng.integers(max(1, d * (k - 1) + 1 - p_l - p_r), 12))
        x = np.zeros((1, 1, n, 2))
        w = np.zeros((1, 1, k, 1))
        out = ref.conv2d(x, w, padding=((p_l, p_r), (0, 0)), stride=(s, 1), dilation=(d, 1))
        assert out.shape[2] == _costs_conv_output_size(n, k, s, p_l, p_r, d)
"""


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
    P.equal("the closed formula (exported as conv_output_size)",
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
    "For all sizes n, k, strides s, dilations d and paddings p_l, p_r with d(k-1)+1 <= n + p_l + p_r: "
    "the number of window positions i >= 0 whose last tap s i + d(k-1) lies in the padded input is "
    "floor((n + p_l + p_r - d(k-1) - 1)/s) + 1.",
    derive=derive_output_size,
    check_source=CHECK_OUTPUT_SIZE,
)

# =============================================================================================
# 2. ceil mode (pooling)

n2, k2, s2, p2, d2 = args_of("pool_output_size_ceil")
X_pool = n2 + 2 * p2 - d2 * (k2 - 1) - 1

CHECK_CEIL = python_function("_costs_pool_output_size_ceil", args_of("pool_output_size_ceil"),
                             FORMULA["pool_output_size_ceil"].expression) + """

def test_costs_ceil_mode_is_the_references():
    rng = np.random.default_rng(41)
    for _ in range(60):
        k, s, d = (int(v) for v in rng.integers(1, 5, size=3))
        p = int(rng.integers(0, k // 2 + 1))
        n = int(rng.integers(max(1, d * (k - 1) + 1 - 2 * p), 14))
        x = np.zeros((1, 1, n, 1))
        out = ref.max_pool2d(x, (k, 1), (s, 1), (p, 0), (d, 1), ceil_mode=True)
        assert out.shape[2] == _costs_pool_output_size_ceil(n, k, s, p, d)
"""


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
    P.identical("the closed formula (exported as pool_output_size_ceil), $c$ written out",
                f.expression.xreplace({sympy.ceiling(X_pool / s2): c_}), expected)
    cases = [dict(n=n, k=k, s=s, p=p, d=d)
             for n, k, s, d in itertools.product(range(1, 11), range(1, 5), range(1, 4), range(1, 3))
             for p in range(k // 2 + 1) if d * (k - 1) + 1 <= n + 2 * p]
    P.cross_check("windows enumerated one by one", cases, lambda **c: len(ceil_windows(**c)),
             lambda **c: ev(f.expression, {n2: c["n"], k2: c["k"], s2: c["s"], p2: c["p"], d2: c["d"]}))
    P.cross_check("PyTorch's rule as implemented by convsym.shapes.pool_output_size", cases,
             lambda **c: len(ceil_windows(**c)),
             lambda **c: pool_output_size(c["n"], c["k"], c["s"], c["p"], c["d"], ceil_mode=True))


ceil_mode = Checked(
    "costs.ceil-mode",
    "Ceil mode: PyTorch's drop rule counts the windows that start inside",
    "For all sizes with PyTorch's pooling rule 2p <= k: PyTorch's ceil-mode output size "
    "ceil(X/s) + 1, minus one when window ceil(X/s) would start at or beyond n + p, is the number of "
    "windows needed to reach the end of the padded input that start inside the input or its left padding.",
    derive=derive_ceil,
    check_source=CHECK_CEIL,
)

# =============================================================================================
# 3. 'same' padding with even kernels

k3, d3 = args_of("same_padding_left")
l3 = Symbol("l", integer=True)
jj = Symbol("j", integer=True)

CHECK_SAME = (python_function("_costs_same_left", (k3, d3), FORMULA["same_padding_left"].expression)
              + "\n\n" + python_function("_costs_same_right", (k3, d3),
                                         FORMULA["same_padding_right"].expression) + """

def test_costs_same_padding_puts_the_extra_row_last():
    rng = np.random.default_rng(42)
    for k in range(1, 7):
        for d in (1, 2, 3):
            x = rng.standard_normal((1, 2, 9, 8))
            w = rng.standard_normal((3, 2, k, k))
            left, right = _costs_same_left(k, d), _costs_same_right(k, d)
            same = ref.conv2d(x, w, padding="same", dilation=d)
            explicit = ref.conv2d(x, w, padding=((left, right), (left, right)), dilation=d)
            assert same.shape == (1, 3, 9, 8)
            np.testing.assert_allclose(same, explicit, rtol=1e-12, atol=1e-12)
"""
)


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
    "For all kernel sizes and dilations, padding='same' pads floor(d(k-1)/2) on the left (top) and "
    "the rest, d(k-1) - floor(d(k-1)/2), on the right (bottom); the output has the input's size at "
    "stride 1, and an even kernel (dilation 1) puts its extra row/column at the bottom/right.",
    derive=derive_same,
    check_source=CHECK_SAME,
)

# =============================================================================================
# 4. transposed convolution

n4, k4, s4, p4, o4, d4 = args_of("conv_transpose_output_size")
a_ = Symbol("a", integer=True)

CHECK_TRANSPOSED = python_function("_costs_transposed_size", args_of("conv_transpose_output_size"),
                                   FORMULA["conv_transpose_output_size"].expression) + """

def test_costs_transposed_size_is_the_references():
    rng = np.random.default_rng(43)
    for _ in range(60):
        n, k, s, d = (int(v) for v in rng.integers(1, 5, size=4))
        op = int(rng.integers(0, max(s, d)))
        full = (n - 1) * s + d * (k - 1) + 1 + op
        p = int(rng.integers(0, (full - 1) // 2 + 1))
        x, w = np.zeros((1, 1, n, 1)), np.zeros((1, 1, k, 1))
        out = ref.conv_transpose2d(x, w, None, (s, 1), (p, 0), (op, 0), (d, 1))
        assert out.shape[2] == _costs_transposed_size(n, k, s, p, op, d)
"""


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
    P.equal("the full length, cropped and padded (exported as conv_transpose_output_size)",
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
    "For all sizes: a transposed convolution's output has (n-1)s - 2p + d(k-1) + output_padding + 1 "
    "positions (the scatter extent, cropped by p on each side, plus output_padding), and the forward "
    "rule maps it back to n exactly when output_padding < s.",
    derive=derive_transposed,
    check_source=CHECK_TRANSPOSED,
)

# =============================================================================================
# 5. receptive field and jump of a stack

r_, J_, x_ = (Symbol(name, integer=True) for name in ("r", "J", "x"))
k5, s5, d5 = (Symbol(name, integer=True, positive=True) for name in ("k", "s", "d"))

CHECK_RECEPTIVE = """
def _costs_stack_response(x, layers):
    for k, s, d in layers:
        x = ref.conv2d(x, np.ones((1, 1, k, 1)), stride=(s, 1), dilation=(d, 1))
    return x


def test_costs_receptive_field_by_impulses():
    for layers in [[(3, 1, 1), (3, 1, 1)], [(7, 2, 1), (3, 2, 1), (3, 1, 1)], [(3, 1, 2), (2, 2, 3)],
                   [(2, 2, 1), (2, 2, 1), (2, 2, 1)], [(5, 3, 1), (3, 1, 2)]]:
        r, jump = 1, 1
        for k, s, d in layers:
            r, jump = r + d * (k - 1) * jump, jump * s
        n = r + 2 * jump + 1
        reached_0, reached_1 = [], []
        for pos in range(n):
            x = np.zeros((1, 1, n, 1))
            x[0, 0, pos, 0] = 1.0
            y = _costs_stack_response(x, layers)
            if y[0, 0, 0, 0] != 0:
                reached_0.append(pos)
            if y.shape[2] > 1 and y[0, 0, 1, 0] != 0:
                reached_1.append(pos)
        assert max(reached_0) - min(reached_0) + 1 == r
        assert min(reached_1) - min(reached_0) == jump
"""


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
    P.cross_check("the closed form is what convsym.shapes.receptive_field computes, for stacks of 1 to 5 "
                  "layers with every size symbolic", [dict(L=L) for L in range(1, 6)],
                  lambda L: sympy.expand(_rf_closed(L)), lambda L: sympy.expand(receptive_field(*_rf_symbols(L))[0]))
    cases = [dict(layers=layers) for L in (1, 2, 3)
             for layers in itertools.product(itertools.product((1, 2, 3), (1, 2), (1, 2)), repeat=L)]
    P.cross_check("every stack of up to 3 layers with k <= 3, s, d <= 2, traced position by position",
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
    "For every stack of layers (k_l, s_l, d_l), by induction on the number of layers: the receptive "
    "field is 1 + sum_l d_l (k_l - 1) prod_{i<l} s_i and the jump between neighbouring outputs is "
    "prod_l s_l.",
    derive=derive_receptive,
    check_source=CHECK_RECEPTIVE,
)

# =============================================================================================
# 6. conv2d MACs: summing the loop nest

(N, C_in, H, W, C_out, k_h, k_w, s_h, s_w, p_h, p_w, d_h, d_w, g) = args_of("conv2d_macs")
H_out, W_out = sympy.symbols("H_out W_out", integer=True, positive=True)
b_, o_, i2, j2, c2, u_, v_, gamma_ = (Symbol(name, integer=True) for name in
                                      ("n", "o", "i", "j", "c", "u", "v", "gamma"))
OUT_SIZES = {H_out: conv_output_size(H, k_h, s_h, p_h, d_h), W_out: conv_output_size(W, k_w, s_w, p_w, d_w)}

CONV_ARGS = ("N", "C_in", "H", "W", "C_out", "k_h", "k_w", "s_h", "s_w", "p_h", "p_w", "d_h", "d_w", "g")

CHECK_MACS = python_function("_costs_conv2d_macs", args_of("conv2d_macs"), FORMULA["conv2d_macs"].expression) + """

def test_costs_conv2d_macs_counted_by_a_convolution_of_ones():
    # pad with ones (not zeros) and convolve ones with ones: every output is the number of its
    # products, C_in/g k_h k_w, so the sum of the output is the number of MACs
    rng = np.random.default_rng(44)
    for _ in range(25):
        g = int(rng.integers(1, 4))
        c_in, c_out = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
        k_h, k_w, s_h, s_w, d_h, d_w = (int(v) for v in rng.integers(1, 4, size=6))
        p_h, p_w = (int(v) for v in rng.integers(0, 3, size=2))
        n = int(rng.integers(1, 3))
        h = int(rng.integers(max(1, d_h * (k_h - 1) + 1 - 2 * p_h), 10))
        w = int(rng.integers(max(1, d_w * (k_w - 1) + 1 - 2 * p_w), 10))
        x = np.pad(np.ones((n, c_in, h, w)), ((0, 0), (0, 0), (p_h, p_h), (p_w, p_w)), constant_values=1)
        y = ref.conv2d(x, np.ones((c_out, c_in // g, k_h, k_w)), stride=(s_h, s_w), dilation=(d_h, d_w), groups=g)
        assert y.sum() == _costs_conv2d_macs(n, c_in, h, w, c_out, k_h, k_w, s_h, s_w, p_h, p_w, d_h, d_w, g)
"""


def conv_cases(limit: int = 40) -> list[dict[str, int]]:
    """A deterministic spread of small conv layers: groups, strides, dilations, paddings."""
    out = []
    for g_, ci, co, kh, kw, sh, sw, ph, pw, dh, dw, h, w in itertools.product(
            (1, 2), (1, 2), (1, 2), (1, 2, 3), (1, 3), (1, 2), (1, 3), (0, 1), (0, 2), (1, 2), (1,), (4, 7), (5,)):
        if dh * (kh - 1) + 1 > h + 2 * ph or dw * (kw - 1) + 1 > w + 2 * pw:
            continue
        out.append(dict(N=1 + (kh == 2), C_in=g_ * ci, H=h, W=w, C_out=g_ * co, k_h=kh, k_w=kw, s_h=sh,
                        s_w=sw, p_h=ph, p_w=pw, d_h=dh, d_w=dw, g=g_))
    step = max(1, len(out) // limit)
    return out[::step]


def _conv_values(case: Mapping[str, int]) -> dict[Symbol, int]:
    syms = dict(zip(CONV_ARGS, args_of("conv2d_macs"), strict=True))
    return {syms[k]: v for k, v in case.items() if k in syms}


def derive_macs(P: Proof) -> None:
    f = FORMULA["conv2d_macs"]
    P.define(
        "output channel $o$ of group $\\gamma$ sums $C_{in}/g$ input channels times $k_h k_w$ taps "
        "at every output position: one multiply-accumulate per point of the loop nest "
        "($H_{out}, W_{out}$: the window counts of costs.conv-output-size)",
        r"y_{n,\gamma C_{out}/g + o,i,j} = \sum_{c=0}^{C_{in}/g-1} \sum_{u=0}^{k_h-1} \sum_{v=0}^{k_w-1} "
        r"w_{\gamma C_{out}/g + o,c,u,v}\, x_{n,\gamma C_{in}/g + c,\, s_h i + d_h u - p_h,\, s_w j + d_w v - p_w}",
    )
    nest = [(v_, 0, k_w - 1), (u_, 0, k_h - 1), (c2, 0, C_in / g - 1), (j2, 0, W_out - 1),
            (i2, 0, H_out - 1), (o_, 0, C_out / g - 1), (gamma_, 0, g - 1), (b_, 0, N - 1)]
    macs = P.summation("sum 1 over the loop nest", 1, nest)
    P.equal("with the output sizes of costs.conv-output-size this is the exported conv2d_macs",
            macs.xreplace(OUT_SIZES), f.expression,
            shown=sympy.latex(macs) + " = " + sympy.latex(f.expression))
    m = Symbol("m", integer=True, positive=True)
    P.equal("depthwise ($g = C_{in}$, $C_{out} = m C_{in}$): $C_{in}$ times fewer MACs than the dense "
            "conv with the same channels", f.expression.subs({C_out: m * C_in}).subs(g, C_in) * C_in,
            f.expression.subs({C_out: m * C_in}).subs(g, 1),
            shown=r"\mathrm{MACs}_{g=C_{in}} = N m C_{in} H_{out} W_{out} k_h k_w "
                  r"= \mathrm{MACs}_{g=1} / C_{in}")
    P.cross_check("direct conv loops run on counting numbers (multiplications)", conv_cases(),
             lambda **c: direct_conv_ops(**_direct_args(c), bias=False)[0],
             lambda **c: ev(f.expression, _conv_values(c)))


def _direct_args(c: Mapping[str, int]) -> dict[str, int]:
    return dict(n=c["N"], c_in=c["C_in"], h=c["H"], w=c["W"], c_out=c["C_out"], k_h=c["k_h"], k_w=c["k_w"],
                s_h=c["s_h"], s_w=c["s_w"], p_h=c["p_h"], p_w=c["p_w"], d_h=c["d_h"], d_w=c["d_w"], g=c["g"])


conv2d_macs = Checked(
    "costs.conv2d-macs",
    "Convolution MACs: the loop nest summed",
    "For all sizes, strides, paddings, dilations and groups g dividing C_in and C_out: a conv2d makes "
    "N C_out H_out W_out (C_in/g) k_h k_w multiply-accumulates (every tap, padding included, bias "
    "excluded, whole batch); a depthwise conv (g = C_in) makes C_in times fewer than the dense one.",
    derive=derive_macs,
    check_source=CHECK_MACS,
)

# =============================================================================================
# 7. parameters, bias additions and FLOPs

CHECK_PARAMS = (python_function("_costs_conv2d_params", args_of("conv2d_params"), FORMULA["conv2d_params"].expression)
                + "\n\n" + python_function("_costs_conv2d_flops", args_of("conv2d_flops"),
                                           FORMULA["conv2d_flops"].expression) + """

def test_costs_params_are_the_array_sizes():
    for c_in, c_out, k_h, k_w, g in [(3, 64, 7, 7, 1), (32, 32, 3, 3, 32), (8, 12, 1, 3, 4), (6, 4, 2, 2, 2)]:
        weight, bias = np.zeros((c_out, c_in // g, k_h, k_w)), np.zeros(c_out)
        assert weight.size + bias.size == _costs_conv2d_params(c_in, c_out, k_h, k_w, g)


def test_costs_flops_count_the_products_and_sums():
    # with Fraction entries the reference computes every product; the flops with a bias are
    # two per MAC: the products, the K - 1 additions of each sum and the bias addition
    rng = np.random.default_rng(45)
    for c_in, c_out, k, g, n in [(2, 2, 3, 1, 5), (4, 2, 2, 2, 4), (3, 3, 1, 3, 3)]:
        x = np.array([[[[Fraction(int(v)) for v in row] for row in ch] for ch in img]
                      for img in rng.integers(-3, 4, size=(1, c_in, n, n))], dtype=object)
        w = rng.integers(-3, 4, size=(c_out, c_in // g, k, k)).astype(object)
        y = ref.conv2d(x, w, np.zeros(c_out, dtype=object), groups=g)
        products = y.size * (c_in // g) * k * k
        assert _costs_conv2d_flops(1, c_in, n, n, c_out, k, k, 1, 1, 0, 0, 1, 1, g) == 2 * products
"""
)


def derive_params(P: Proof) -> None:
    params, no_bias, flops = (FORMULA[name].expression for name in
                              ("conv2d_params", "conv2d_params_no_bias", "conv2d_flops"))
    weights = P.summation("the weight tensor $(C_{out}, C_{in}/g, k_h, k_w)$: sum 1 over its indices", 1,
                          [(v_, 0, k_w - 1), (u_, 0, k_h - 1), (c2, 0, C_in / g - 1), (o_, 0, C_out - 1)])
    P.equal("without a bias (exported as conv2d_params_no_bias)", weights, no_bias)
    biases = P.summation("one bias per output channel", 1, [(o_, 0, C_out - 1)])
    P.equal("with a bias (exported as conv2d_params)", weights + biases, params)
    adds = P.summation("bias additions: one per output element", 1,
                       [(j2, 0, W_out - 1), (i2, 0, H_out - 1), (o_, 0, C_out - 1), (b_, 0, N - 1)])
    P.equal("convsym.cost: bias_adds", adds.xreplace(OUT_SIZES),
            conv2d_cost((N, C_in, H, W), C_out, (k_h, k_w), (s_h, s_w), (p_h, p_w), (d_h, d_w), g).bias_adds,
            shown=r"\mathrm{bias\ adds} = N C_{out} H_{out} W_{out}")
    K = C_in / g * k_h * k_w
    P.define("each output sums its $K = (C_{in}/g) k_h k_w$ products with $K - 1$ additions and "
             "adds its bias: $2K$ operations", r"\mathrm{ops}(y_{n,o,i,j}) = K + (K - 1) + 1")
    total = P.summation("sum over the outputs", 2 * K, [(j2, 0, W_out - 1), (i2, 0, H_out - 1),
                                                        (o_, 0, C_out - 1), (b_, 0, N - 1)])
    P.equal("the exported conv2d_flops", total.xreplace(OUT_SIZES), flops,
            shown=sympy.latex(total) + " = " + sympy.latex(flops))
    P.equal("with a bias the FLOPs are exactly twice the MACs", flops, 2 * FORMULA["conv2d_macs"].expression,
            shown=r"\mathrm{FLOPs} = 2\,\mathrm{MACs}")
    P.cross_check("direct conv loops on counting numbers: multiplications + additions, with a bias",
             conv_cases(24), lambda **c: sum(direct_conv_ops(**_direct_args(c), bias=True)),
             lambda **c: ev(flops, _conv_values(c)))
    P.cross_check("and without a bias: one addition fewer per output",
             conv_cases(24), lambda **c: sum(direct_conv_ops(**_direct_args(c), bias=False)),
             lambda **c: conv2d_cost((c["N"], c["C_in"], c["H"], c["W"]), c["C_out"], (c["k_h"], c["k_w"]),
                                     (c["s_h"], c["s_w"]), (c["p_h"], c["p_w"]), (c["d_h"], c["d_w"]), c["g"],
                                     bias=False).flops)


conv2d_params = Checked(
    "costs.conv2d-params-flops",
    "Parameters, bias additions and FLOPs",
    "For all sizes: a conv2d has C_out (C_in/g) k_h k_w weights plus C_out biases; each output takes "
    "K = (C_in/g) k_h k_w multiplications, K - 1 additions and one bias addition, so with a bias the "
    "FLOPs (multiplications + additions) are exactly 2 MACs.",
    derive=derive_params,
    check_source=CHECK_PARAMS,
)

# =============================================================================================
# 8. transposed convolution MACs

CHECK_TRANSPOSED_MACS = python_function("_costs_conv_transpose2d_macs", args_of("conv_transpose2d_macs"),
                                        FORMULA["conv_transpose2d_macs"].expression) + """

def test_costs_transposed_macs_counted_by_ones():
    # every product of an input element with a weight lands somewhere in the uncropped output:
    # scattering ones with ones and no cropping sums to the number of MACs
    for n, c_in, h, w, c_out, k, s, g in [(1, 4, 5, 5, 2, 3, 2, 1), (2, 6, 4, 3, 6, 2, 2, 3), (1, 2, 3, 3, 4, 4, 1, 2)]:
        x = np.ones((n, c_in, h, w))
        y = ref.conv_transpose2d(x, np.ones((c_in, c_out // g, k, k)), stride=s, groups=g)
        assert y.sum() == _costs_conv_transpose2d_macs(n, c_in, h, w, c_out, k, k, g)
"""


def derive_transposed_macs(P: Proof) -> None:
    f = FORMULA["conv_transpose2d_macs"]
    Nt, Ci, Ht, Wt, Co, kh, kw, gt = args_of("conv_transpose2d_macs")
    P.define("every input element is multiplied by every weight of its group, $w$ of shape "
             "$(C_{in}, C_{out}/g, k_h, k_w)$, and the product is added at output position "
             "$(s_h i + d_h u - p_h, s_w j + d_w v - p_w)$",
             r"y_{n,\gamma C_{out}/g + o,\, s_h i + d_h u - p_h,\, s_w j + d_w v - p_w} \mathrel{+}= "
             r"x_{n,\gamma C_{in}/g + c,i,j}\, w_{\gamma C_{in}/g + c,o,u,v}")
    macs = P.summation("sum 1 over the scatter loop nest", 1,
                       [(v_, 0, kw - 1), (u_, 0, kh - 1), (o_, 0, Co / gt - 1), (j2, 0, Wt - 1),
                        (i2, 0, Ht - 1), (c2, 0, Ci / gt - 1), (gamma_, 0, gt - 1), (b_, 0, Nt - 1)])
    P.equal("the exported conv_transpose2d_macs", macs, f.expression)
    forward = FORMULA["conv2d_macs"].expression.xreplace(OUT_SIZES) if False else (
        Nt * Ci * Ht * Wt * (Co / gt) * kh * kw)
    P.equal("the convolution it transposes (from $C_{out}$ to $C_{in}$ channels, output $H \\times W$ "
            "by costs.transposed-output-size when $o_p < s$) has the same loop nest with the roles of "
            "the channels exchanged, hence the same count", f.expression, forward,
            shown=r"\mathrm{MACs}_{\mathrm{transposed}}(C_{in} \to C_{out}) = "
                  r"\mathrm{MACs}_{\mathrm{conv}}(C_{out} \to C_{in},\ H_{out} = H)")
    cases = [dict(n=n, c_in=ci, h=h, w=w, c_out=co, k=k, s=s, g=gg)
             for n, ci, co, gg in ((1, 2, 2, 1), (2, 4, 2, 2), (1, 3, 6, 3)) for h, w in ((2, 3), (4, 4))
             for k in (1, 2, 3) for s in (1, 2)]
    P.cross_check("scatter loops run on counting numbers", cases,
             lambda n, c_in, h, w, c_out, k, s, g: _scatter_products(n, c_in, h, w, c_out, k, s, g),
             lambda n, c_in, h, w, c_out, k, s, g: ev(f.expression, {Nt: n, Ci: c_in, Ht: h, Wt: w, Co: c_out,
                                                                      kh: k, kw: k, gt: g}))


def _scatter_products(n, c_in, h, w, c_out, k, s, g) -> int:
    ops = [0, 0]
    one = Counter(ops)
    for _ in itertools.product(range(n), range(c_in), range(h), range(w), range(c_out // g), range(k), range(k)):
        one * one
    return ops[0]


transposed_macs = Checked(
    "costs.conv-transpose-macs",
    "Transposed convolution MACs",
    "For all sizes: a transposed convolution makes N C_in H W (C_out/g) k_h k_w MACs (every input "
    "element times every weight of its group), the MACs of the convolution it transposes.",
    derive=derive_transposed_macs,
    check_source=CHECK_TRANSPOSED_MACS,
)

# =============================================================================================
# 9. pooling

CHECK_POOL = python_function("_costs_avg_pool2d_flops", args_of("avg_pool2d_flops"),
                             FORMULA["avg_pool2d_flops"].expression) + """

def test_costs_avg_pooling_is_a_depthwise_conv():
    rng = np.random.default_rng(46)
    for c, h, w, k_h, k_w, s_h, s_w, p_h, p_w in [(3, 9, 8, 3, 3, 2, 2, 1, 1), (2, 7, 7, 2, 3, 2, 1, 1, 0),
                                                  (4, 6, 6, 2, 2, 2, 2, 0, 0)]:
        x = rng.standard_normal((2, c, h, w))
        pooled = ref.avg_pool2d(x, (k_h, k_w), (s_h, s_w), (p_h, p_w))
        kernel = np.full((c, 1, k_h, k_w), 1.0 / (k_h * k_w))
        conv = ref.conv2d(x, kernel, stride=(s_h, s_w), padding=(p_h, p_w), groups=c)
        np.testing.assert_allclose(pooled, conv, rtol=1e-12, atol=1e-12)
        assert pooled.size * k_h * k_w == _costs_avg_pool2d_flops(2, c, h, w, k_h, k_w, s_h, s_w, p_h, p_w)
"""


def derive_pooling(P: Proof) -> None:
    f = FORMULA["avg_pool2d_flops"]
    Np, Cp, Hp, Wp, khp, kwp, shp, swp, php, pwp = args_of("avg_pool2d_flops")
    P.define("pooling works per channel: output $(n, c, i, j)$ reduces its own window of "
             "$k_h k_w$ taps; average pooling makes $k_h k_w - 1$ additions and one division, "
             "max pooling $k_h k_w - 1$ comparisons",
             r"y_{n,c,i,j} = \frac{1}{k_h k_w} \sum_{u,v} x_{n,c,\, s_h i + u - p_h,\, s_w j + v - p_w}")
    Ho_p, Wo_p = (conv_output_size(Hp, khp, shp, php), conv_output_size(Wp, kwp, swp, pwp))
    sizes_p = {H_out: Ho_p, W_out: Wo_p}
    avg = P.summation("average pooling: sum the operations over the outputs", khp * kwp,
                      [(j2, 0, W_out - 1), (i2, 0, H_out - 1), (c2, 0, Cp - 1), (b_, 0, Np - 1)])
    P.equal("the exported avg_pool2d_flops", avg.xreplace(sizes_p), f.expression)
    depthwise = conv2d_cost((Np, Cp, Hp, Wp), Cp, (khp, kwp), (shp, swp), (php, pwp), 1, Cp, bias=False)
    P.equal("the MACs of the depthwise conv with weights $1/(k_h k_w)$ that it is (same window rule, "
            "one filter per channel)", f.expression, depthwise.macs,
            shown=r"\mathrm{ops}_{\mathrm{avg}} = \mathrm{MACs}_{\mathrm{depthwise}} = N C H_{out} W_{out} k_h k_w")
    mx = P.summation("max pooling: comparisons", khp * kwp - 1,
                     [(j2, 0, W_out - 1), (i2, 0, H_out - 1), (c2, 0, Cp - 1), (b_, 0, Np - 1)])
    P.equal("convsym.cost.pool2d_cost(kind='max').flops", mx.xreplace(sizes_p),
            pool2d_cost((Np, Cp, Hp, Wp), (khp, kwp), (shp, swp), (php, pwp)).flops,
            shown=r"\mathrm{ops}_{\max} = N C H_{out} W_{out} (k_h k_w - 1)")
    cases = [dict(c=c, h=h, k=k, s=s, p=p, ceil=ceil) for c in (1, 3) for h in (4, 7) for k in (1, 2, 3)
             for s in (1, 2) for p in range(k // 2 + 1) for ceil in (False, True) if k <= h + 2 * p]
    P.cross_check("max pooling: comparisons counted window by window (ceil mode too)", cases,
             lambda c, h, k, s, p, ceil: c * len(ceil_windows(h, k, s, p, 1) if ceil else
                                                  windows_that_fit(h, k, s, p, p, 1)) ** 2 * (k * k - 1),
             lambda c, h, k, s, p, ceil: pool2d_cost((1, c, h, h), k, s, p, ceil_mode=ceil).flops)


pooling = Checked(
    "costs.pooling",
    "Pooling costs; average pooling is a depthwise convolution",
    "For all sizes (PyTorch's rule 2p <= k): average pooling makes N C H_out W_out k_h k_w additions "
    "and divisions, the MACs of the depthwise convolution with weights 1/(k_h k_w) that it equals; "
    "max pooling makes N C H_out W_out (k_h k_w - 1) comparisons.",
    derive=derive_pooling,
    check_source=CHECK_POOL,
)

# =============================================================================================
# 10. linear layers and 1x1 convolutions (seed: the 1x1 cost c_o c_i h w)

CHECK_LINEAR = python_function("_costs_linear_macs", args_of("linear_macs"), FORMULA["linear_macs"].expression) + """

def test_costs_conv1x1_is_a_linear_layer_per_pixel():
    rng = np.random.default_rng(47)
    for n, c_in, c_out, h, w in [(1, 3, 5, 4, 4), (2, 8, 2, 3, 5)]:
        x = rng.integers(-5, 6, size=(n, c_in, h, w)).astype(object)
        weight = rng.integers(-5, 6, size=(c_out, c_in)).astype(object)
        conv = ref.conv2d(x, weight.reshape(c_out, c_in, 1, 1))
        rows = x.transpose(0, 2, 3, 1).reshape(n * h * w, c_in)
        lin = ref.linear(rows, weight).reshape(n, h, w, c_out).transpose(0, 3, 1, 2)
        assert (conv == lin).all()
        assert conv.size * c_in == _costs_linear_macs(n * h * w, c_in, c_out)
"""


def derive_linear(P: Proof) -> None:
    f = FORMULA["linear_macs"]
    R, Ci, Co = args_of("linear_macs")
    P.define("row $r$ of the output is $y_{r,o} = \\sum_c w_{o,c} x_{r,c} + b_o$",
             r"y_{r,o} = \sum_{c=0}^{C_{in}-1} w_{o,c}\, x_{r,c} + b_o")
    macs = P.summation("sum 1 over the loop nest", 1, [(c2, 0, Ci - 1), (o_, 0, Co - 1), (i2, 0, R - 1)])
    P.equal("the exported linear_macs", macs, f.expression)
    one = conv2d_cost((N, C_in, H, W), C_out, 1, bias=False)
    P.equal("a $1 \\times 1$ convolution (stride 1, no padding) costs a linear layer on its "
            "$N H W$ pixels", one.macs, f.expression.subs({R: N * H * W, Ci: C_in, Co: C_out}))
    h_, w_ = sympy.symbols("h w", integer=True, positive=True)
    c_i, c_o = sympy.symbols("c_i c_o", integer=True, positive=True)
    seed = conv2d_cost((1, c_i, h_, w_), c_o, 1).macs
    P.equal("for one image of $c_i \\times h \\times w$ that is $c_o c_i h w$", seed, c_o * c_i * h_ * w_)
    P.equal("and its parameters are the linear layer's", one.params, linear_cost((N, C_in), C_out, False).params)


linear_1x1 = Checked(
    "costs.linear-and-1x1",
    "Linear layers; the 1x1 convolution costs c_o c_i h w",
    "For all sizes: a linear layer on R rows makes R C_in C_out MACs; a 1x1 convolution (stride 1, no "
    "padding) is that layer applied at each of its N H W pixels, so for one c_i x h x w image it costs "
    "c_o c_i h w.",
    derive=derive_linear,
    check_source=CHECK_LINEAR,
)

# =============================================================================================
# 11. doubling the channels (seed)

CHECK_DOUBLE_CHANNELS = """
def _costs_count_taps(c_in, c_out, g, k=3, n=6, p=1):
    x = np.pad(np.ones((1, c_in, n, n)), ((0, 0), (0, 0), (p, p), (p, p)), constant_values=1)
    return ref.conv2d(x, np.ones((c_out, c_in // g, k, k)), groups=g).sum()


def test_costs_doubling_channels_quadruples_the_macs():
    for c_in, c_out, g in [(1, 1, 1), (3, 5, 1), (4, 6, 2)]:
        assert _costs_count_taps(2 * c_in, 2 * c_out, g) == 4 * _costs_count_taps(c_in, c_out, g)
    for c in (1, 3, 4):  # depthwise: the groups double too
        assert _costs_count_taps(2 * c, 2 * c, 2 * c) == 2 * _costs_count_taps(c, c, c)
"""


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
    "For all sizes: doubling C_in and C_out (groups fixed) multiplies the MACs and the weights by 4; "
    "doubling one of them doubles the MACs; a depthwise conv, whose groups double with its channels, "
    "only doubles.",
    derive=derive_double_channels,
    check_source=CHECK_DOUBLE_CHANNELS,
)

# =============================================================================================
# 12. doubling the padding (seed): the exact change

CHECK_DOUBLE_PADDING = """
def _costs_dense_macs(h, w, k, p, s=1, c_in=2, c_out=3):
    x = np.pad(np.ones((1, c_in, h, w)), ((0, 0), (0, 0), (p, p), (p, p)), constant_values=1)
    return ref.conv2d(x, np.ones((c_out, c_in, k, k)), stride=s).sum()


def test_costs_doubling_the_padding_adds_the_exact_ring():
    for h, w, k, p in [(8, 8, 3, 1), (7, 5, 3, 2), (6, 9, 5, 1), (5, 5, 1, 1)]:
        h_out, w_out = h + 2 * p - k + 1, w + 2 * p - k + 1
        delta = 2 * 3 * k * k * (2 * p * w_out + 2 * p * h_out + 4 * p * p)
        assert _costs_dense_macs(h, w, k, 2 * p) - _costs_dense_macs(h, w, k, p) == delta
    for h, k, p, s in [(9, 3, 1, 2), (10, 3, 2, 4), (11, 5, 3, 3)]:  # stride s dividing 2p: 2p/s more rows
        ratio_rows = (h + 4 * p - k) // s + 1 - ((h + 2 * p - k) // s + 1)
        assert ratio_rows == 2 * p // s or 2 * p % s
"""


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
    "For all sizes at stride 1: doubling the padding adds N C_out (C_in/g) k_h k_w (2 p_h W_out + "
    "2 p_w H_out + 4 p_h p_w) MACs (H_out, W_out at the original padding), all of them on the new "
    "border windows; at stride s each axis gains floor(2p/s) or ceil(2p/s) outputs, exactly 2p/s when "
    "s divides 2p.",
    derive=derive_double_padding,
    check_source=CHECK_DOUBLE_PADDING,
)

# =============================================================================================
# 13. taps on the padding: a closed form

e13, k13, s13, m13 = args_of("padding_taps")
E13 = sympy.Max(e13, 0, evaluate=False)
q13, r13, c13, f13 = (Symbol(name, integer=True) for name in ("q", "r", "c", "f"))

CHECK_PADDING_TAPS = python_function("_costs_padding_taps", args_of("padding_taps"),
                                     FORMULA["padding_taps"].expression) + """

def test_costs_padding_taps_counted_by_a_convolution_of_ones():
    # a one-channel conv of ones with ones, padded on the left only: the taps of the first m
    # windows that read the left padding are the ones missing from the sum
    for e, k, s, n in [(1, 3, 1, 6), (3, 7, 2, 12), (2, 2, 2, 5), (4, 3, 1, 8), (5, 3, 2, 9)]:
        y = ref.conv2d(np.ones((1, 1, n, 1)), np.ones((1, 1, k, 1)), stride=(s, 1), padding=((e, 0), (0, 0)))
        m = y.shape[2]
        assert m * k - y.sum() == _costs_padding_taps(e, k, s, m)
"""


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
    P.equal("the exported padding_taps ($q, r$ written out)", full + part, got,
            shown=r"Z(e) = r k + (q - r) E - \frac{s}{2}\left(q(q-1) - r(r-1)\right)")
    cases = [dict(e=e, k=k, s=s, d=d, m=m) for e in range(-1, 8) for k in range(1, 6) for s in range(1, 4)
             for d in range(1, 4) for m in range(0, 5)]
    brute = lambda e, k, s, d, m: sum(1 for i in range(m) for a in range(k) if s * i + d * a < e)  # noqa: E731
    P.cross_check("the exported closed form (dilation 1) against enumeration", [c for c in cases if c["d"] == 1],
             brute, lambda e, k, s, d, m: ev(f.expression, {e13: e, k13: k, s13: s, m13: m}) if m else 0)
    P.cross_check("convsym.cost.padding_taps with dilation (a finite sum of ceilings) against enumeration",
             cases, brute, lambda e, k, s, d, m: padding_taps(e, k, s, d, m))


padding_taps_thm = Checked(
    "costs.padding-taps",
    "Taps on the zero padding: a closed form",
    "For all e, kernels k, strides s and window counts m (dilation 1): the number of (window, tap) "
    "pairs of the first m windows that fall in the first e positions is r k + (q - r) E - s (q(q-1) - "
    "r(r-1))/2 with E = max(e, 0), q = min(m, ceil(E/s)), r = min(q, max(0, floor((E-k)/s) + 1)).",
    derive=derive_padding_taps,
    check_source=CHECK_PADDING_TAPS,
)
# =============================================================================================
# 14. MACs without the taps on zero padding

n14, k14, s14, pl14, d14, m14 = (Symbol(name, integer=True, positive=True) for name in ("n", "k", "s", "p_l", "d", "m"))
pl14 = Symbol("p_l", integer=True, nonnegative=True)
e_r = s14 * (m14 - 1) + d14 * (k14 - 1) + 1 - n14 - pl14
T_h, T_w = sympy.symbols("T_h T_w", integer=True, nonnegative=True)

CHECK_NO_PADDING = python_function("_costs_macs_without_padding", args_of("conv2d_macs_without_padding"),
                                   FORMULA["conv2d_macs_without_padding"].expression) + """

def test_costs_macs_without_padding_counted_by_a_convolution_of_ones():
    # zero padding, ones in, ones as weights: each output is the number of its products of two
    # real numbers, so the sum is the padding-free MAC count
    rng = np.random.default_rng(48)
    for _ in range(25):
        g = int(rng.integers(1, 3))
        c_in, c_out = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
        k_h, k_w, s_h, s_w = (int(v) for v in rng.integers(1, 5, size=4))
        p_h, p_w = (int(v) for v in rng.integers(0, 4, size=2))
        h = int(rng.integers(max(1, k_h - 2 * p_h), 12))
        w = int(rng.integers(max(1, k_w - 2 * p_w), 12))
        y = ref.conv2d(np.ones((2, c_in, h, w)), np.ones((c_out, c_in // g, k_h, k_w)), stride=(s_h, s_w),
                       padding=(p_h, p_w), groups=g)
        assert y.sum() == _costs_macs_without_padding(2, c_in, h, w, c_out, k_h, k_w, s_h, s_w, p_h, p_w, g)


def test_costs_resnet18_stem_without_padding():
    y = ref.conv2d(np.ones((1, 1, 224, 224)), np.ones((1, 1, 7, 7)), stride=2, padding=3)
    assert y.sum() == 778 * 778  # 112 windows x 7 taps per axis, minus 4 + 2 on the padding
    assert 64 * 3 * y.sum() == _costs_macs_without_padding(1, 3, 224, 224, 64, 7, 7, 2, 2, 3, 3, 1)
"""


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
    P.equal("so $T = m k - Z(p_l) - Z(e_r)$: convsym.cost.real_taps, here for dilation 1 with the closed "
            "form of costs.padding-taps (for $d > 1$ it sums the finite form, checked on the family below)",
            real_taps(n14, k14, s14, pl14, 1, m14),
            m14 * k14 - padding_taps(pl14, k14, s14, 1, m14) - padding_taps(e_r1, k14, s14, 1, m14),
            shown=r"T = m k - Z(p_l) - Z(e_r)")
    nest = P.summation("the real products of the loop nest: the spatial domain is the product of the two "
                       "axes' real pairs", T_h * T_w, [(c2, 0, C_in / g - 1), (o_, 0, C_out - 1), (b_, 0, N - 1)])
    Ho1, Wo1 = conv_output_size(H, k_h, s_h, p_h), conv_output_size(W, k_w, s_w, p_w)
    per_axis = {T_h: real_taps(H, k_h, s_h, p_h, 1, Ho1), T_w: real_taps(W, k_w, s_w, p_w, 1, Wo1)}
    P.equal("with costs.padding-taps for $Z$ (dilation 1) this is the exported conv2d_macs_without_padding",
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
    "For all sizes: the products of a conv2d whose input tap is a real input element number "
    "N C_out (C_in/g) T_h T_w with T = m k - Z(p_l) - Z(e_r) per axis (m windows, Z of costs.padding-taps, "
    "e_r = s(m-1) + d(k-1) + 1 - n - p_l the overhang of the last window); for ResNet-18's stem "
    "(224, 7x7, stride 2, padding 3) T = 112*7 - 4 - 2 = 778.",
    derive=derive_no_padding,
    check_source=CHECK_NO_PADDING,
)

# =============================================================================================
# 15. memory

CHECK_MEMORY = python_function("_costs_im2col_elements", args_of("conv2d_im2col_elements"),
                               FORMULA["conv2d_im2col_elements"].expression) + """

def test_costs_im2col_matrix_multiplies_to_the_conv():
    rng = np.random.default_rng(49)
    for n, c_in, h, w, c_out, k, s, p in [(2, 3, 7, 6, 4, 3, 2, 1), (1, 2, 5, 5, 3, 2, 1, 0), (1, 4, 6, 4, 2, 1, 1, 0)]:
        x = rng.standard_normal((n, c_in, h, w))
        wt = rng.standard_normal((c_out, c_in, k, k))
        padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(2, 3))[:, :, ::s, ::s]
        cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(-1, c_in * k * k)
        assert cols.size == _costs_im2col_elements(n, c_in, h, w, k, k, s, s, p, p, 1, 1)
        y = (cols @ wt.reshape(c_out, -1).T).reshape(n, windows.shape[2], windows.shape[3], c_out)
        np.testing.assert_allclose(y.transpose(0, 3, 1, 2), ref.conv2d(x, wt, stride=s, padding=p),
                                   rtol=1e-10, atol=1e-10)
"""


def derive_memory(P: Proof) -> None:
    im2col = P.summation("the im2col matrix: a row per output position $(n, i, j)$, a column per "
                         "$(c, u, v)$", 1, [(v_, 0, k_w - 1), (u_, 0, k_h - 1), (c2, 0, C_in - 1),
                                            (j2, 0, W_out - 1), (i2, 0, H_out - 1), (b_, 0, N - 1)])
    P.equal("the exported conv2d_im2col_elements", im2col.xreplace(OUT_SIZES),
            FORMULA["conv2d_im2col_elements"].expression)
    out = P.summation("the output tensor", 1, [(j2, 0, W_out - 1), (i2, 0, H_out - 1), (o_, 0, C_out - 1),
                                               (b_, 0, N - 1)])
    P.equal("the exported conv2d_output_elements", out.xreplace(OUT_SIZES),
            FORMULA["conv2d_output_elements"].expression)
    cost = conv2d_cost((N, C_in, H, W), C_out, (k_h, k_w), (s_h, s_w), (p_h, p_w), (d_h, d_w), g)
    P.equal("the forward memory: input, output, weights and bias, im2col buffer (in elements; bytes "
            "are elements times the size of the dtype)", cost.forward_memory,
            N * C_in * H * W + out.xreplace(OUT_SIZES) + FORMULA["conv2d_params"].expression
            + im2col.xreplace(OUT_SIZES))
    P.cross_check("im2col matrices built by enumeration", conv_cases(20),
             lambda **c: c["N"] * len(windows_that_fit(c["H"], c["k_h"], c["s_h"], c["p_h"], c["p_h"], c["d_h"]))
             * len(windows_that_fit(c["W"], c["k_w"], c["s_w"], c["p_w"], c["p_w"], c["d_w"]))
             * c["C_in"] * c["k_h"] * c["k_w"],
             lambda **c: ev(FORMULA["conv2d_im2col_elements"].expression, _conv_values(c)))


memory = Checked(
    "costs.memory",
    "Forward memory: input, output, weights, im2col buffer",
    "For all sizes: the output has N C_out H_out W_out elements and the im2col matrix "
    "N H_out W_out x C_in k_h k_w; with the input N C_in H W and the parameters this is the forward "
    "memory in elements (times the dtype's size in bytes).",
    derive=derive_memory,
    check_source=CHECK_MEMORY,
)

# =============================================================================================
# 16. backward

CHECK_BACKWARD = """
def test_costs_grad_input_is_the_transposed_conv_exactly():
    # <dy, conv(x)> = <conv_transpose(dy), x> on integers: the input gradient is the transposed
    # convolution, whose MACs (every dy times every weight) are the forward MACs
    rng = np.random.default_rng(50)
    for n, c_in, h, c_out, k, s, p, g in [(1, 2, 7, 3, 3, 2, 1, 1), (2, 4, 6, 2, 2, 1, 0, 2), (1, 3, 9, 3, 3, 3, 1, 3)]:
        x = rng.integers(-4, 5, size=(n, c_in, h, h)).astype(object)
        w = rng.integers(-4, 5, size=(c_out, c_in // g, k, k)).astype(object)
        y = ref.conv2d(x, w, stride=s, padding=p, groups=g)
        dy = rng.integers(-4, 5, size=y.shape).astype(object)
        op = h + 2 * p - k - (y.shape[2] - 1) * s
        dx = ref.conv_transpose2d(dy, w, stride=s, padding=p, output_padding=op, groups=g)
        assert dx.shape == x.shape
        assert (dy * y).sum() == (dx * x).sum()


def test_costs_grad_weight_makes_the_forward_products():
    rng = np.random.default_rng(51)
    n, c_in, h, c_out, k, p = 2, 2, 5, 3, 3, 1
    x = rng.integers(-4, 5, size=(n, c_in, h, h)).astype(object)
    w = rng.integers(-4, 5, size=(c_out, c_in, k, k)).astype(object)
    y = ref.conv2d(x, w, padding=p)
    dy = rng.integers(-4, 5, size=y.shape).astype(object)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dw = np.zeros(w.shape, dtype=object)
    products = 0
    for b, o, i, j, c, u, v in np.ndindex(n, c_out, y.shape[2], y.shape[3], c_in, k, k):
        dw[o, c, u, v] += dy[b, o, i, j] * xp[b, c, i + u, j + v]
        products += 1
    assert (dy * y).sum() == (dw * w).sum()
    assert products == y.size * c_in * k * k
"""


def derive_backward(P: Proof) -> None:
    f = FORMULA["conv2d_backward_macs"]
    nest = [(v_, 0, k_w - 1), (u_, 0, k_h - 1), (c2, 0, C_in / g - 1), (j2, 0, W_out - 1),
            (i2, 0, H_out - 1), (o_, 0, C_out / g - 1), (gamma_, 0, g - 1), (b_, 0, N - 1)]
    P.define("the gradients run over the forward loop nest: each forward product $w\\,x$ gives one "
             "product $\\delta y\\, w$ added to $\\delta x$ and one $\\delta y\\, x$ added to $\\delta w$",
             r"\delta x_{n,c,s_h i + d_h u - p_h,\dots} \mathrel{+}= \delta y_{n,o,i,j} w_{o,c,u,v},\quad "
             r"\delta w_{o,c,u,v} \mathrel{+}= \delta y_{n,o,i,j}\, x_{n,c,s_h i + d_h u - p_h,\dots}")
    grad_x = P.summation("grad wrt input", 1, nest)
    grad_w = P.summation("grad wrt weights", 1, nest)
    P.equal("together: twice the forward MACs (the exported conv2d_backward_macs)",
            (grad_x + grad_w).xreplace(OUT_SIZES), f.expression)
    P.equal("which is $2\\,\\mathrm{MACs}$", f.expression, 2 * FORMULA["conv2d_macs"].expression)
    bias = P.summation("grad wrt bias: one addition per output element", 1,
                       [(j2, 0, W_out - 1), (i2, 0, H_out - 1), (o_, 0, C_out - 1), (b_, 0, N - 1)])
    cost = conv2d_cost((N, C_in, H, W), C_out, (k_h, k_w), (s_h, s_w), (p_h, p_w), (d_h, d_w), g)
    P.equal("convsym.cost: backward_bias_adds, and the activations kept are the input (for $\\delta w$)",
            bias.xreplace(OUT_SIZES) + N * C_in * H * W, cost.backward_bias_adds + cost.activations_kept,
            shown=r"\mathrm{bias\ adds} = N C_{out} H_{out} W_{out},\quad \mathrm{kept} = N C_{in} H W")


backward = Checked(
    "costs.backward",
    "Backward pass: twice the forward MACs",
    "For all sizes: the gradient wrt the input (a transposed convolution) and the gradient wrt the "
    "weights each make the forward number of MACs, so backward costs 2 N C_out H_out W_out (C_in/g) "
    "k_h k_w MACs plus N C_out H_out W_out bias-gradient additions, and must keep the input.",
    derive=derive_backward,
    check_source=CHECK_BACKWARD,
)

# =============================================================================================
# 17. ResNet-18 at 224, layer by layer

RESNET_CHECK = """
def test_costs_resnet18_per_axis_counts():
    # every distinct (size, kernel, stride, padding) of ResNet-18 at 224: the dense taps per axis
    # (ones padded with ones) and the real taps (zero padding), from the reference
    for n, k, s, p, dense, real in RESNET18_AXES:
        ones = np.ones((1, 1, n, 1))
        padded = np.pad(ones, ((0, 0), (0, 0), (p, p), (0, 0)), constant_values=1)
        assert ref.conv2d(padded, np.ones((1, 1, k, 1)), stride=(s, 1)).sum() == dense
        assert ref.conv2d(ones, np.ones((1, 1, k, 1)), stride=(s, 1), padding=(p, 0)).sum() == real
"""


def resnet18_table() -> list[tuple[str, object]]:
    layers = resnet18_convs(224)
    return layers + [("fc", linear_cost((1, 512), 1000))]


def _axes() -> list[tuple[int, int, int, int]]:
    seen = []
    for _, cost in resnet18_convs(224):
        if cost.layer.op != "conv2d":
            continue
        item = (cost.input_shape[2], cost.layer.kernel_size[0], cost.layer.stride[0], cost.layer.padding[0][0])
        if item not in seen:
            seen.append(item)
    return seen


def _resnet_check_source() -> str:
    rows = []
    for n, k, s, p in _axes():
        m = len(windows_that_fit(n, k, s, p, p, 1))
        rows.append((n, k, s, p, m * k, real_pairs(n, k, s, p, 1, m)))
    return f"RESNET18_AXES = {rows!r}\n" + RESNET_CHECK


def _num(v: int) -> str:
    return f"{v:,}".replace(",", r"\,")


def _layer_counts(name: str, cost) -> tuple[int, int, int]:
    """(windows, dense MACs, MACs without padding) of one ResNet-18 convolution, by enumeration."""
    spec = cost.layer
    n, k, s, p = cost.input_shape[2], spec.kernel_size[0], spec.stride[0], spec.padding[0][0]
    m = len(windows_that_fit(n, k, s, p, p, 1))
    per_filter = spec.in_channels * spec.out_channels
    return m, per_filter * (m * k) ** 2, per_filter * real_pairs(n, k, s, p, 1, m) ** 2


def derive_resnet18(P: Proof) -> None:
    convs = [(name, cost) for name, cost in resnet18_table() if cost.layer.op == "conv2d"]
    P.family("every convolution of ResNet-18 at 224: windows and taps of both axes enumerated, against the "
             "closed formulas of convsym.cost (windows, dense MACs, MACs without padding)",
             [dict(name=name) for name, _ in convs],
             lambda name: _layer_counts(name, dict(convs)[name]),
             lambda name: (int(dict(convs)[name].output_shape[2]), int(dict(convs)[name].macs),
                           int(dict(convs)[name].macs_without_padding)),
             shown=r"\mathrm{MACs} = C_{in} C_{out} (m k)^2,\quad "
                   r"\mathrm{MACs}_{\neg\mathrm{pad}} = C_{in} C_{out} T^2")


def _tool_figure(cost, tool: str) -> int | None:
    try:
        return int(cost.as_reported_by(tool).value)
    except ValueError:
        return None


def _resnet_table(fields) -> tuple[str, str]:
    """The table, computed from convsym.cost (every conv row checked by the theorem's family)."""
    rows, table = [], resnet18_table()
    for name, cost in table:
        tools = [_tool_figure(cost, tool) for tool in TOOLS]
        label = name.replace("layer", "L").replace(".downsample.0", ".ds").replace("_", r"\_")
        rows.append(r"\text{" + label + "} & " + " & ".join(
            [_num(int(cost.macs)), _num(int(cost.macs_without_padding))]
            + [r"\text{--}" if t is None else _num(t) for t in tools]) + r" \\")
    totals = [sum(int(c.macs) for _, c in table), sum(int(c.macs_without_padding) for _, c in table)]
    tool_totals = [sum(t for t in (_tool_figure(c, tool) for _, c in table) if t is not None) for tool in TOOLS]
    head = (r"\text{layer} & \text{MACs} & \text{no-pad MACs} & "
            + " & ".join(r"\text{" + t + "}" for t in TOOLS) + r" \\ \hline")
    foot = r"\hline \text{total} & " + " & ".join(_num(v) for v in totals + tool_totals) + r" \\"
    # narrow column gaps: the nine columns of numbers then need less scaling to fit the line
    latex = (r"\resizebox{\linewidth}{!}{\setlength{\arraycolsep}{2.5pt}$\begin{array}{l"
             + "r" * (2 + len(TOOLS)) + "}\n" + head + "\n" + "\n".join(rows) + "\n" + foot + r"\end{array}$}")
    caption = (f"ResNet-18 at $224 \\times 224$, batch 1: {len(rows)} layers; dense total {totals[0]:,} MACs, "
               f"of which {totals[0] - totals[1]:,} on zero padding; the tool columns are convsym's model of "
               "each tool's convention (convsym.cost), compared with the real tools by the crosscheck tests.")
    return latex, caption


resnet18 = Checked(
    "costs.resnet18",
    "ResNet-18 at 224 x 224, layer by layer",
    "Per layer of ResNet-18 (batch 1, 224 x 224): dense MACs, MACs without the taps on zero padding, "
    "and the figure each tool reports (fvcore and thop: MACs; ptflops and torchinfo: MACs plus bias "
    "additions (none here) and, for ptflops, pooling counted twice; deepspeed and torch: FLOPs = 2 MACs; "
    "'--': the tool does not count the layer), all from convsym.cost; the crosscheck tests run the tools.",
    derive=derive_resnet18,
    figure=_resnet_table,
    check_source=_resnet_check_source(),
)


if __name__ == "__main__":
    from convsym.run.registry import run_script

    raise SystemExit(run_script(globals()))
