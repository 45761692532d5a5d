"""convsym.shapes against brute-force counting of window positions, and symbolically."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import sympy
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convsym.shapes import (
    conv_output_size,
    conv_transpose_output_size,
    receptive_field,
    same_padding,
)

# ---------------------------------------------------------------------------------------------
# Brute-force oracles: enumerate window positions instead of using the closed forms.


def count_windows(n, k, s, left, right, d, ceil_mode):
    """Window starts i*s over the padded input [0, L), counted one by one.

    floor mode: every window that fits, i*s + d(k-1) <= L - 1.
    ceil mode: keep adding windows until the last one reaches index L - 1, then PyTorch's rule
    drops a last window that starts at or beyond n + left (inside the right padding).
    """
    length = n + left + right
    starts = []
    i = 0
    while i * s + d * (k - 1) <= length - 1:
        starts.append(i * s)
        i += 1
    if ceil_mode:
        while starts[-1] + d * (k - 1) < length - 1:
            starts.append(starts[-1] + s)
        if starts[-1] >= n + left:
            starts.pop()
    return len(starts)


def transposed_length(n, k, s, p, output_padding, d):
    """Scatter every input position through every tap; crop p on each side, add output_padding."""
    touched = {i * s + d * j for i in range(n) for j in range(k)}
    return max(touched) + 1 - 2 * p + output_padding


def receptive_field_by_tracing(kernels, strides, dilations):
    """Input positions that top output positions 0 and 1 depend on, traced layer by layer."""

    def inputs_of(position):
        positions = {position}
        for k, s, d in reversed(list(zip(kernels, strides, dilations, strict=True))):
            positions = {p * s + d * j for p in positions for j in range(k)}
        return positions

    zero, one = inputs_of(0), inputs_of(1)
    return max(zero) - min(zero) + 1, min(one) - min(zero)


# ---------------------------------------------------------------------------------------------
# Integers


@st.composite
def window_cases(draw):
    k = draw(st.integers(1, 6))
    d = draw(st.integers(1, 3))
    s = draw(st.integers(1, 4))
    if draw(st.booleans()):
        left = right = draw(st.integers(0, 3))
        padding = left
    else:
        left, right = draw(st.integers(0, 3)), draw(st.integers(0, 3))
        padding = (left, right)
    n = draw(st.integers(max(1, d * (k - 1) + 1 - left - right), 30))
    return n, k, s, padding, left, right, d


@settings(max_examples=300, deadline=None)
@given(window_cases(), st.booleans())
def test_conv_output_size_counts_windows(case, ceil_mode):
    n, k, s, padding, left, right, d = case
    out = conv_output_size(n, k, s, padding, d, ceil_mode=ceil_mode)
    assert type(out) is int
    assert out == count_windows(n, k, s, left, right, d, ceil_mode)


@pytest.mark.parametrize(
    "args, kwargs, expected",
    [
        ((224, 7, 2, 3), {}, 112),  # ResNet stem
        ((112, 3, 2, 1), {}, 56),  # ResNet max pool
        ((32, 3, 1, 1), {}, 32),
        ((5, 2, 2, 0), {"ceil_mode": True}, 3),  # last window half outside: kept
        ((5, 2, 2, 1), {"ceil_mode": True}, 3),  # would start in right padding: dropped
        ((6, 2, 2, 1), {"ceil_mode": True}, 4),
        ((10, 3, 1, 0, 4), {}, 2),  # dilated kernel spans 9
        ((5, 3, 2, (0, 1)), {}, 2),
    ],
)
def test_conv_output_size_table(args, kwargs, expected):
    assert conv_output_size(*args, **kwargs) == expected


def test_numpy_integers_give_python_int():
    out = conv_output_size(np.int64(9), np.int32(3), stride=np.int16(2))
    assert type(out) is int and out == 4


@st.composite
def transpose_cases(draw):
    n, k = draw(st.integers(1, 8)), draw(st.integers(1, 5))
    s, d = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    output_padding = draw(st.integers(0, max(s, d) - 1))
    full = (n - 1) * s + d * (k - 1) + 1 + output_padding
    p = draw(st.integers(0, (full - 1) // 2))
    return n, k, s, p, output_padding, d


@settings(max_examples=200, deadline=None)
@given(transpose_cases())
def test_conv_transpose_output_size_scatters(case):
    n, k, s, p, output_padding, d = case
    out = conv_transpose_output_size(n, k, s, p, output_padding, d)
    assert type(out) is int
    assert out == transposed_length(n, k, s, p, output_padding, d)
    if output_padding < s:
        # the transposed conv inverts the forward shape rule for every output_padding < stride
        assert conv_output_size(out, k, s, p, d) == n


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 7), st.integers(1, 3), st.integers(1, 20))
def test_same_padding_keeps_size(k, d, n):
    left, right = same_padding(k, d)
    assert left + right == d * (k - 1)
    assert right - left in (0, 1)  # the extra one goes right/bottom
    assert conv_output_size(n, k, 1, (left, right), d) == n


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(1, 3)), max_size=4),
    st.booleans(),
)
def test_receptive_field_traces_inputs(layers, default_dilation):
    kernels = [k for k, _, _ in layers]
    strides = [s for _, s, _ in layers]
    dilations = [1] * len(layers) if default_dilation else [d for _, _, d in layers]
    expected = receptive_field_by_tracing(kernels, strides, dilations)
    got = receptive_field(kernels, strides, None if default_dilation else dilations)
    assert got == expected
    assert all(type(v) is int for v in got)


needs_reference = pytest.mark.skipif(
    importlib.util.find_spec("convsym.reference") is None, reason="convsym.reference not present"
)


@needs_reference
@settings(max_examples=60, deadline=None)
@given(window_cases(), st.booleans())
def test_pooling_shape_agrees_with_reference(case, ceil_mode):
    from convsym import reference

    n, k, s, _, left, _, d = case
    p = min(left, k // 2)  # PyTorch pooling pads symmetrically, at most half the kernel
    assume(d * (k - 1) + 1 <= n + 2 * p)
    x = np.zeros((1, 1, n, 1))
    out = reference.max_pool2d(x, (k, 1), (s, 1), (p, 0), (d, 1), ceil_mode=ceil_mode)
    assert out.shape[2] == conv_output_size(n, k, s, p, d, ceil_mode=ceil_mode)


@needs_reference
@settings(max_examples=60, deadline=None)
@given(transpose_cases())
def test_transposed_shape_agrees_with_reference(case):
    from convsym import reference

    n, k, s, p, output_padding, d = case
    x, w = np.zeros((1, 1, n, 1)), np.zeros((1, 1, k, 1))
    out = reference.conv_transpose2d(x, w, None, (s, 1), (p, 0), (output_padding, 0), (d, 1))
    assert out.shape[2] == conv_transpose_output_size(n, k, s, p, output_padding, d)


# ---------------------------------------------------------------------------------------------
# Symbols

n_, k_, s_, d_ = sympy.symbols("n k s d", integer=True, positive=True)
p_, q_, op_ = sympy.symbols("p q o_p", integer=True, nonnegative=True)

SYMBOLIC_CONV = {
    (mode, asym): conv_output_size(n_, k_, s_, (p_, q_) if asym else p_, d_, ceil_mode=mode)
    for mode in (False, True)
    for asym in (False, True)
}
SYMBOLIC_TRANSPOSE = conv_transpose_output_size(n_, k_, s_, p_, op_, d_)
SYMBOLIC_SAME = same_padding(k_, d_)


@settings(max_examples=150, deadline=None)
@given(window_cases(), st.booleans())
def test_symbolic_conv_output_size_substitutes(case, ceil_mode):
    n, k, s, padding, left, right, d = case
    asym = isinstance(padding, tuple)
    expr = SYMBOLIC_CONV[(ceil_mode, asym)]
    assert isinstance(expr, sympy.Expr)
    values = {n_: n, k_: k, s_: s, p_: left, q_: right, d_: d}
    assert expr.subs(values) == conv_output_size(n, k, s, padding, d, ceil_mode=ceil_mode)


@settings(max_examples=100, deadline=None)
@given(transpose_cases())
def test_symbolic_conv_transpose_substitutes(case):
    n, k, s, p, output_padding, d = case
    values = {n_: n, k_: k, s_: s, p_: p, op_: output_padding, d_: d}
    expected = conv_transpose_output_size(n, k, s, p, output_padding, d)
    assert SYMBOLIC_TRANSPOSE.subs(values) == expected


@pytest.mark.parametrize("k", range(1, 8))
@pytest.mark.parametrize("d", [1, 2, 3])
def test_symbolic_same_padding_substitutes(k, d):
    assert all(isinstance(v, sympy.Expr) for v in SYMBOLIC_SAME)
    assert tuple(v.subs({k_: k, d_: d}) for v in SYMBOLIC_SAME) == same_padding(k, d)


def test_symbolic_floor_uses_sympy_floor():
    expr = conv_output_size(n_, 3, stride=2, padding=1)
    assert expr.has(sympy.floor)
    assert expr == sympy.floor((n_ - 1) / sympy.Integer(2)) + 1


def test_symbolic_ceil_mode_is_piecewise_and_decides_when_it_can():
    assert isinstance(SYMBOLIC_CONV[(True, False)], sympy.Piecewise)
    # s = 1 and p = 0: the last window starts inside the input, SymPy decides the rule away
    assert conv_output_size(n_, k_, 1, 0, 1, ceil_mode=True) == n_ - k_ + 1


def test_symbolic_max_in_transpose_rule():
    # undecided output_padding < Max(s, d) does not raise; a decided one does
    conv_transpose_output_size(n_, k_, s_, 0, op_, d_)
    with pytest.raises(ValueError, match=r"output_padding=s must be smaller than either"):
        conv_transpose_output_size(n_, k_, s_, 0, s_, 1)


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_symbolic_receptive_field_substitutes(layers):
    ks = sympy.symbols(f"k_1:{layers + 1}", integer=True, positive=True)
    ss = sympy.symbols(f"s_1:{layers + 1}", integer=True, positive=True)
    ds = sympy.symbols(f"d_1:{layers + 1}", integer=True, positive=True)
    r, jump = receptive_field(ks, ss, ds)
    assert isinstance(r, sympy.Expr) and isinstance(jump, sympy.Expr)
    rng = np.random.default_rng(layers)
    for _ in range(10):
        values = [[int(v) for v in rng.integers(1, 5, size=layers)] for _ in range(3)]
        subs = dict(zip(ks + ss + ds, sum(values, []), strict=True))
        assert (r.subs(subs), jump.subs(subs)) == receptive_field(*values)


def test_symbolic_jump_is_sympy_even_with_int_strides():
    r, jump = receptive_field([k_, 3], [2, 2])
    assert jump == 4 and isinstance(jump, sympy.Expr)
    assert sympy.expand(r - (1 + (k_ - 1) + 2 * 2)) == 0


def test_undecidable_symbols_skip_checks():
    n, k = sympy.symbols("n k")  # no assumptions: nothing can be decided
    expr = conv_output_size(n, k, 2, 1)
    assert expr.subs({n: 8, k: 3}) == 4


# ---------------------------------------------------------------------------------------------
# Errors

m_ = sympy.Symbol("m", integer=True, positive=True)


@pytest.mark.parametrize(
    "func, args, kwargs, error, match",
    [
        (conv_output_size, (5, 7), {}, ValueError,
         r"^conv_output_size: dilated kernel size 7 exceeds padded input size 5$"),
        (conv_output_size, (5, 3), {"dilation": 3}, ValueError,
         r"dilated kernel size 7 exceeds padded input size 5"),
        (conv_output_size, (0, 1), {}, ValueError,
         r"conv_output_size: input size n=0 must be >= 1"),
        (conv_output_size, (5, 0), {}, ValueError, r"kernel size k=0 must be >= 1"),
        (conv_output_size, (5, 3, 0), {}, ValueError, r"conv_output_size: stride=0 must be >= 1"),
        (conv_output_size, (5, 3), {"dilation": 0}, ValueError, r"dilation=0 must be >= 1"),
        (conv_output_size, (5, 3, 1, -1), {}, ValueError, r"padding=-1 must be >= 0"),
        (conv_output_size, (5, 3, 1, (0, -2)), {}, ValueError, r"padding=-2 must be >= 0"),
        (conv_output_size, (5, 3, 1, (1, 2, 3)), {}, ValueError,
         r"padding must be a size or a pair \(left, right\), got \(1, 2, 3\)"),
        (conv_output_size, (5.0, 3), {}, TypeError,
         r"conv_output_size: n must be an int or a sympy expression, got float 5.0"),
        (conv_output_size, (True, 3), {}, TypeError, r"n must be an int .* got bool True"),
        (conv_output_size, (5, "3"), {}, TypeError, r"k must be an int .* got str '3'"),
        (conv_output_size, (5, 3), {"stride": sympy.Float(2.0)}, TypeError,
         r"stride must be integer-valued, got 2\.0"),
        (conv_output_size, (5, 3), {"stride": sympy.Rational(3, 2)}, TypeError,
         r"stride must be integer-valued, got 3/2"),
        (conv_output_size, (5, 3), {"ceil_mode": 1}, TypeError,
         r"conv_output_size: ceil_mode must be a bool, got int"),
        (conv_output_size, (-m_, 3), {}, ValueError, r"input size n=-m must be >= 1"),
        (conv_output_size, (m_, m_ + 1), {}, ValueError,
         r"dilated kernel size m \+ 1 exceeds padded input size m"),
        (conv_transpose_output_size, (3, 3, 1, 0, 1), {}, ValueError,
         r"^conv_transpose_output_size: output_padding=1 must be smaller than either "
         r"stride=1 or dilation=1$"),
        (conv_transpose_output_size, (3, 3, 2, 0, 2, 2), {}, ValueError,
         r"output_padding=2 must be smaller than either stride=2 or dilation=2"),
        (conv_transpose_output_size, (1, 1, 1, 1), {}, ValueError,
         r"output size \(n-1\)s - 2p \+ d\(k-1\) \+ output_padding \+ 1 = -1 must be >= 1 "
         r"\(padding=1 crops the whole output\)"),
        (conv_transpose_output_size, (3, 3, 1, -1), {}, ValueError, r"padding=-1 must be >= 0"),
        (conv_transpose_output_size, (3, 3, 2, 0, -1), {}, ValueError,
         r"output_padding=-1 must be >= 0"),
        (conv_transpose_output_size, (0, 3), {}, ValueError, r"input size n=0 must be >= 1"),
        (conv_transpose_output_size, (3, 3, 2.0), {}, TypeError, r"stride must be an int"),
        (same_padding, (0,), {}, ValueError, r"^same_padding: kernel size k=0 must be >= 1$"),
        (same_padding, (3, 0), {}, ValueError, r"same_padding: dilation=0 must be >= 1"),
        (same_padding, (3.5,), {}, TypeError, r"same_padding: k must be an int"),
        (receptive_field, ([3, 3], [1]), {}, ValueError,
         r"^receptive_field: kernel_sizes has 2 entries but strides has 1$"),
        (receptive_field, ([3, 3], [1, 1], [1]), {}, ValueError,
         r"kernel_sizes has 2 entries but dilations has 1"),
        (receptive_field, (3, [1]), {}, TypeError,
         r"receptive_field: kernel_sizes must be a list or tuple of sizes, got int"),
        (receptive_field, ("33", "11"), {}, TypeError, r"kernel_sizes must be a list or tuple"),
        (receptive_field, ([3, 0], [1, 1]), {}, ValueError, r"kernel_sizes\[1\]=0 must be >= 1"),
        (receptive_field, ([3, 3], [1, 0]), {}, ValueError, r"strides\[1\]=0 must be >= 1"),
        (receptive_field, ([3], [1], [0]), {}, ValueError, r"dilations\[0\]=0 must be >= 1"),
        (receptive_field, ([3, 2.5], [1, 1]), {}, TypeError,
         r"kernel_sizes\[1\] must be an int or a sympy expression, got float 2.5"),
    ],
)  # fmt: skip
def test_errors(func, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        func(*args, **kwargs)


def test_receptive_field_of_empty_stack():
    assert receptive_field([], []) == (1, 1)


@given(st.integers(1, 20), st.integers(0, 8), st.booleans())
def test_kernel_exactly_filling_padded_input_is_one_window(n, p, ceil_mode):
    assert conv_output_size(n, n + 2 * p, padding=p, ceil_mode=ceil_mode) == 1
