"""The emitted numeric checks of ``proofs/absorption.py``: real functions whose source
``convsym build`` writes to ``generated/checks/test_<family>.py`` (they may use only the names
that file imports: ``np``, ``ref`` and ``Fraction``)."""

from fractions import Fraction

import numpy as np

import convsym.reference as ref


def test_folding_absorb_condition_numeric():
    rng = np.random.default_rng(60)
    x = rng.standard_normal((2, 3, 8, 8))
    w1, b1 = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4) + 20.0   # pre-activations well above c
    w2, b2 = rng.standard_normal((5, 4, 3, 3)), rng.standard_normal(5)
    z = ref.conv2d(x, w1, b1)
    c = np.maximum(z.min(axis=(0, 2, 3)) - 1.0, 0.0)
    assert (z >= c[None, :, None, None]).all()
    lhs = ref.conv2d(np.maximum(z, 0), w2, b2)
    rhs = ref.conv2d(np.maximum(ref.conv2d(x, w1, b1 - c), 0), w2, b2 + w2.sum(axis=(2, 3)).dot(c))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-9)


def _confirm_absorb_witness(witness):
    # the absorbed network against the original, exactly, at the witness
    x, w1, c = (Fraction(witness[k]) for k in ("x", "w1", "c"))
    k2, p2 = witness["k2"], witness["p2"]
    X1, W1 = np.full((1, 1, 1, 1), x, dtype=object), np.full((1, 1, 1, 1), w1, dtype=object)
    W2, cc = np.ones((1, 1, k2, k2), dtype=object), np.array([c], dtype=object)
    lhs = ref.conv2d(np.maximum(ref.conv2d(X1, W1), 0), W2, padding=p2)[0, 0, 0, 0]
    rhs = ref.conv2d(np.maximum(ref.conv2d(X1, W1, -cc), 0), W2, W2.sum(axis=(2, 3)).dot(cc), padding=p2)[0, 0, 0, 0]
    assert lhs == Fraction(witness["lhs"]) and rhs == Fraction(witness["rhs"]) and lhs != rhs
