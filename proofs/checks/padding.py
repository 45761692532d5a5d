"""The emitted numeric checks of ``proofs/padding.py``: real functions whose source
``convsym build`` writes to ``generated/checks/test_<family>.py`` (they may use only the names
that file imports: ``np``, ``ref`` and ``Fraction``).

A name marked ``# noqa: F821`` is defined in the emitted file only: ``_witness_array`` (the
shared helper of the witness re-tests, ``convsym.render.checks.WITNESS_HELPER``)."""


from fractions import Fraction

import numpy as np

import convsym.reference as ref


def test_padded_ring_error_numeric():
    rng = np.random.default_rng(70)
    for k1, k2, s1, s2, p1, p2, n in [(3, 3, 1, 1, 1, 1, 8), (3, 2, 2, 1, 0, 1, 9), (2, 3, 2, 2, 1, 2, 10)]:
        x = rng.standard_normal((1, 2, n, n))
        w1, b1, w2, b2 = (rng.standard_normal(s) for s in ((2, 2, k1, k1), 2, (2, 2, k2, k2), 2))
        two = ref.conv2d(ref.conv2d(x, w1, b1, stride=s1, padding=p1), w2, b2, stride=s2, padding=p2)
        W = np.zeros((2, 2, k1 + s1 * (k2 - 1), k1 + s1 * (k2 - 1)))
        for bh in range(k2):
            for bw in range(k2):
                W[:, :, s1 * bh:s1 * bh + k1, s1 * bw:s1 * bw + k1] += np.tensordot(w2[:, :, bh, bw], w1, axes=(1, 0))
        merged = ref.conv2d(x, W, b2 + w2.sum(axis=(2, 3)) @ b1, stride=s1 * s2, padding=p1 + s1 * p2)
        virt = ref.conv2d(x, w1, b1, stride=s1, padding=p1 + s1 * p2)
        ring = np.ones(virt.shape[2:])
        ring[p2:-p2, p2:-p2] = 0
        np.testing.assert_allclose(two - merged, -ref.conv2d(virt * ring, w2, stride=s2), rtol=1e-10, atol=1e-10)


def test_padded_stride_parity_numeric():
    rng = np.random.default_rng(71)
    for n, exact in [(8, True), (9, False)]:
        x = rng.standard_normal((1, 1, n, n))
        w1, w2, b2 = rng.standard_normal((1, 1, 2, 2)), rng.standard_normal((1, 1, 3, 3)), rng.standard_normal(1)
        two = ref.conv2d(ref.conv2d(x, w1, stride=2), w2, b2, padding=1)
        W = np.zeros((1, 1, 6, 6))
        for bh in range(3):
            for bw in range(3):
                W[:, :, 2 * bh:2 * bh + 2, 2 * bw:2 * bw + 2] += w2[0, 0, bh, bw] * w1
        one = ref.conv2d(x, W, b2, stride=2, padding=2)
        assert np.allclose(two, one) == exact


def test_padded_bias_repair_numeric():
    rng = np.random.default_rng(72)
    for k1, p1, k2, p2, s1, n in [(1, 0, 3, 1, 1, 7), (2, 1, 3, 1, 1, 8), (3, 2, 3, 2, 2, 9), (1, 0, 3, 1, 2, 6)]:
        x = rng.standard_normal((1, 2, n, n))
        w1, b1, w2, b2 = (rng.standard_normal(s) for s in ((3, 2, k1, k1), 3, (2, 3, k2, k2), 2))
        h = ref.conv2d(x, w1, b1, stride=s1, padding=p1)
        hp = np.empty((1, 3, h.shape[2] + 2 * p2, h.shape[3] + 2 * p2))
        hp[...] = b1[None, :, None, None]                  # pad with the bias value
        hp[:, :, p2:-p2, p2:-p2] = h
        two = ref.conv2d(hp, w2, b2)
        K = k1 + s1 * (k2 - 1)
        W = np.zeros((2, 2, K, K))
        for bh in range(k2):
            for bw in range(k2):
                W[:, :, s1 * bh:s1 * bh + k1, s1 * bw:s1 * bw + k1] += np.tensordot(w2[:, :, bh, bw], w1, axes=(1, 0))
        one = ref.conv2d(x, W, b2 + w2.sum(axis=(2, 3)) @ b1, stride=s1, padding=p1 + s1 * p2)
        np.testing.assert_allclose(two, one, rtol=1e-10, atol=1e-10)


def _confirm_pad_repair_witness(witness):
    sz = witness["sizes"]
    x, w1, b1, w2, b2 = (_witness_array(witness["inputs"][k]) for k in ("x", "w1", "b1", "w2", "b2"))  # noqa: F821
    k1, k2, p1, p2 = sz["k1"], sz["k2"], sz["p1"], sz["p2"]
    h = ref.conv2d(x[None], w1, b1, padding=p1)
    hp = np.zeros((1, h.shape[1], h.shape[2] + 2 * p2, h.shape[3] + 2 * p2), dtype=object)
    hp[...] = b1[None, :, None, None]
    hp[:, :, p2:-p2, p2:-p2] = h
    two = ref.conv2d(hp, w2, b2)[0]
    K = k1 + k2 - 1
    W = np.zeros((w2.shape[0], w1.shape[1], K, K), dtype=object)
    W[...] = 0
    for bh in range(k2):
        for bw in range(k2):
            W[:, :, bh:bh + k1, bw:bw + k1] += np.tensordot(w2[:, :, bh, bw], w1, axes=(1, 0))
    one = ref.conv2d(x[None], W, b2 + w2.sum(axis=(2, 3)).dot(b1), padding=p1 + p2)[0]
    entry = tuple(witness["entry"])
    assert two[entry] == Fraction(witness["lhs"]) and one[entry] == Fraction(witness["rhs"])
    assert two[entry] != one[entry]
