"""The shortcuts of the cost functions give what the full paths give: the int fast path of
``padding_taps``, and the symbolic costs kept by ``conv2d_cost`` for the same arguments."""

from __future__ import annotations

import itertools

import pytest
import sympy

from convsym.cost import layers
from convsym.cost.layers import conv2d_cost, padding_taps


def _slow_taps(e, k, s, d, m):
    return sum(1 for i in range(m) for a in range(k) if s * i + d * a < e)


def test_padding_taps_ints_count_the_taps():
    for e, k, s, d, m in itertools.product(range(-2, 9), range(1, 5), range(1, 4), range(1, 4), range(0, 5)):
        assert padding_taps(e, k, s, d, m) == _slow_taps(e, k, s, d, m)
        assert padding_taps(sympy.Integer(e), k, s, d, m) == padding_taps(e, k, s, d, m)


@pytest.mark.parametrize("args, error, words", [
    ((3, 0, 1, 1, 2), ValueError, "k=0 must be >= 1"),
    ((3, 2, 0, 1, 2), ValueError, "s=0 must be >= 1"),
    ((3, 2, 1, 0, 2), ValueError, "d=0 must be >= 1"),
    ((3, 2, 1, 1, -1), ValueError, "m=-1 must be >= 0"),
    ((True, 2, 1, 1, 2), TypeError, "bool"),
    ((3.0, 2, 1, 1, 2), TypeError, "float"),
])
def test_padding_taps_bad_ints_raise_as_before(args, error, words):
    with pytest.raises(error, match=words):
        padding_taps(*args)


def test_symbolic_conv2d_cost_is_kept_and_equal_to_a_fresh_one():
    n, c, h, w, o, k = sympy.symbols("N C_in H W C_out k", integer=True, positive=True)
    p = sympy.Symbol("p", integer=True, nonnegative=True)
    first = conv2d_cost((n, c, h, w), o, k, 1, p)
    again = conv2d_cost((n, c, h, w), o, k, 1, p)
    assert again is first
    fresh = layers._conv2d_cost((n, c, h, w), o, k, 1, p, 1, 1, True)
    assert fresh == first and fresh.macs_without_padding == first.macs_without_padding
    # another type of the same number is another key
    assert conv2d_cost((n, c, h, w), o, k, sympy.Integer(1), p) is not first
    assert conv2d_cost((n, c, h, w), o, k, 1, p, bias=False).params != first.params


def test_not_kept_for_ints_or_floats():
    n = sympy.Symbol("N", integer=True, positive=True)
    assert layers._symbolic_key("conv2d_cost", ((1, 3, 8, 8), 4, 3, 1, 0, 1, 1, True)) is None
    assert layers._symbolic_key("conv2d_cost", ((n, 3, 8, 8), 4, 3, 1, 0, 1, 1, True)) is not None
    assert layers._symbolic_key("conv2d_cost", ((n * 2.0, 3, 8, 8), 4, 3, 1, 0, 1, 1, True)) is None
    with pytest.raises(TypeError, match="integer-valued"):
        conv2d_cost((n * 2.0, 3, 8, 8), 4, 3)
    with pytest.raises(ValueError, match="groups=3 must divide in_channels=8"):
        conv2d_cost((n, 8, 8, 8), 6, 3, groups=3)
