"""The exact path: Identity with coefficients near 2**63 and multiples of the Schwartz-Zippel prime,
families whose first instances agree, and empty instances."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from _support import assert_failed, assert_not_proved

from convsym import reference as ref
from convsym.exact import ops
from convsym.exact.tensor import DEFAULT_PRIME
from convsym.proof import Identity, minted

P = DEFAULT_PRIME  # the prime of the mod-p pre-check: differences that are multiples of P vanish there
assert P == 2**31 - 1


def _arrays(data) -> dict[str, np.ndarray]:
    """The witness inputs as exact object arrays (every entry not listed is 0)."""
    out = {}
    for name, spec in data["inputs"].items():
        arr = np.zeros(spec["shape"], dtype=object)
        arr[...] = 0
        for idx, val in spec["nonzero"]:
            arr[tuple(idx)] = int(val)
        out[name] = arr
    return out


def assert_identity_refuted(v, lhs_py, rhs_py):
    """Refuted with a kernel-made witness; both sides recomputed here with Python ints at the witness."""
    assert_not_proved(v)
    assert v.verdict == "refuted", (v.verdict, v.error)
    assert v.witness is not None and minted(v.witness)
    data = v.witness.data
    arrays = _arrays(data)
    entry = tuple(data["entry"])
    lhs, rhs = lhs_py(**arrays)[entry], rhs_py(**arrays)[entry]
    assert lhs != rhs
    assert Fraction(data["lhs"]) == lhs and Fraction(data["rhs"]) == rhs
    return data


# (lhs coefficient builder on tensors, the same on exact arrays, rhs..., why it is a trap)
COEFFICIENT_CLAIMS = {
    "wraps-mod-2**64": (lambda x, y: x * (2**63 + 1), lambda x, y: x * (1 - 2**63)),
    "product-overflows-int64": (lambda x, y: (x * 2**32) * 2**32, lambda x, y: x * 0),
    "just-below-2**63": (lambda x, y: x * (2**63 - 1), lambda x, y: x * (2**63 - 2)),
    "sum-overflows-int64": (lambda x, y: x * (2**62 - 1) + x * (2**62 - 1), lambda x, y: x * (2**63 - 3)),
    "prime-multiple": (lambda x, y: x * P, lambda x, y: x * (2 * P)),
    "prime-times-monomial-vs-zero": (lambda x, y: x * y * P, lambda x, y: x * 0),
    "big-product-plus-prime": (lambda x, y: (x * 2**40) * (y * 2**40), lambda x, y: (x * y) * (2**80 + P)),
    "prime-squared": (lambda x, y: x * (P * P + 1), lambda x, y: x * 1),
}


@pytest.mark.parametrize("claim", sorted(COEFFICIENT_CLAIMS))
def test_coefficient_traps_are_refuted(claim):
    lhs, rhs = COEFFICIENT_CLAIMS[claim]
    v = Identity(f"soundness.{claim}", claim, inputs=lambda n: {"x": (n,), "y": (n,)},
                 lhs=lambda T, n: lhs(T["x"], T["y"]), rhs=lambda T, n: rhs(T["x"], T["y"]),
                 family=[{"n": 2}]).prove()
    # the same two sides on exact object arrays (Python ints never overflow)
    assert_identity_refuted(v, lhs, rhs)


def test_convolutions_differing_by_the_prime_are_refuted():
    # conv(x, w) (2**63 + P) versus conv(x, w) 2**63: equal modulo P and modulo 2**64
    v = Identity("soundness.conv-prime", "conv prime", inputs=lambda n, k: {"x": (1, 1, n), "w": (1, 1, k)},
                 lhs=lambda T, n, k: ops.conv1d(T["x"], T["w"]) * (2**63 + P),
                 rhs=lambda T, n, k: ops.conv1d(T["x"], T["w"]) * 2**63,
                 family=[{"n": 3, "k": 2}]).prove()
    assert_identity_refuted(v, lambda x, w: ref.conv1d(x, w) * (2**63 + P),
                            lambda x, w: ref.conv1d(x, w) * 2**63)


def test_a_family_that_agrees_on_its_first_instances_is_refuted_at_the_later_one():
    # sum_q x_q = x_0 + x_{n-1} holds at n = 2 only
    def first_last(T, n):
        return T["x"][0:1] + T["x"][n - 1:n]

    v = Identity("soundness.first-last", "first last", inputs=lambda n: {"x": (n,)},
                 lhs=lambda T, n: T["x"].sum().reshape(1), rhs=first_last, family=[{"n": 2}, {"n": 3}]).prove()
    data = assert_identity_refuted(v, lambda x: np.array([x.sum()], dtype=object),
                                   lambda x: np.array([x[0] + x[-1]], dtype=object))
    assert data["sizes"] == {"n": 3}


def test_an_empty_input_proves_nothing():
    # over a zero-size x both sides are empty, so "x = 2 x" would hold vacuously
    v = Identity("soundness.empty-input", "empty", inputs=lambda n: {"x": (n,)}, lhs=lambda T, n: T["x"],
                 rhs=lambda T, n: T["x"] * 2, family=[{"n": 0}]).prove()
    assert_failed(v, rule="instance", match="empty instance proves nothing")
    x = np.array([1], dtype=object)
    assert (x != 2 * x).all()  # the claim x = 2x is false as soon as x is not empty


def test_an_empty_output_proves_nothing():
    # a kernel of length 3 on an input of length 2: both convolutions are empty
    v = Identity("soundness.empty-output", "empty output", inputs=lambda n: {"x": (1, 1, n), "w": (1, 1, 3)},
                 lhs=lambda T, n: ops.conv1d(T["x"], T["w"]), rhs=lambda T, n: ops.conv1d(T["x"], T["w"] * 2),
                 family=[{"n": 2}]).prove()
    assert_failed(v, match="empty")
    x, w = np.ones((1, 1, 3), dtype=object), np.ones((1, 1, 3), dtype=object)
    assert ref.conv1d(x, w)[0, 0, 0] != ref.conv1d(x, 2 * w)[0, 0, 0]  # false at n = 3


def test_a_floating_point_coefficient_is_refused():
    # 3 (x / 10) = 3x / 10 exactly; with floats 0.1 * 3 != 0.3, so floats cannot decide either way
    v = Identity("soundness.float-coefficient", "float", inputs=lambda n: {"x": (n,)},
                 lhs=lambda T, n: T["x"] * 0.1 * 3, rhs=lambda T, n: T["x"] * 0.3, family=[{"n": 1}]).prove()
    assert_failed(v, match="float")
    assert 0.1 * 3 != 0.3 and Fraction(1, 10) * 3 == Fraction(3, 10)
