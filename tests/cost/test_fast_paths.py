"""The int fast path of ``padding_taps`` gives what the checked path gives, and raises the same
errors for what it does not take."""

from __future__ import annotations

import itertools

import pytest
import sympy

from convsym.cost.layers import padding_taps


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
