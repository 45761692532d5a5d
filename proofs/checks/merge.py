"""The emitted numeric checks of ``proofs/merge.py``: real functions whose source
``convsym build`` writes to ``generated/checks/test_<family>.py`` (they may use only the names
that file imports: ``np``, ``ref`` and ``Fraction``).

A name marked ``# noqa: F821`` is defined in the emitted file only: ``_witness_array`` (the
shared helper of the witness re-tests, ``convsym.render.checks.WITNESS_HELPER``) or a ``_costs_*``
function (a proved formula printed as Python by ``convsym.render.export.python_function``)."""

from fractions import Fraction

import numpy as np

import convsym.reference as ref


def test_merge_sequential_1d_numeric():
    rng = np.random.default_rng(1)
    for k1, k2 in [(1, 1), (1, 4), (3, 2), (7, 7)]:
        x = rng.standard_normal((1, 1, 20))
        w1, w2 = rng.standard_normal((1, 1, k1)), rng.standard_normal((1, 1, k2))
        b1, b2 = rng.standard_normal(1), rng.standard_normal(1)
        lhs = ref.conv1d(ref.conv1d(x, w1, b1), w2, b2)
        full = np.convolve(w1[0, 0], w2[0, 0])  # numpy's convolve is the true (flipped) convolution
        assert full.shape == (k1 + k2 - 1,)
        rhs = ref.conv1d(x, full.reshape(1, 1, -1), b2 + w2.sum() * b1)
        np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)


def _merged_kernel(w1, w2, s1=1, d1=1, d2=1):
    M, C, k1h, k1w = w1.shape
    O, _, k2h, k2w = w2.shape
    kh = d1 * (k1h - 1) + s1 * d2 * (k2h - 1) + 1
    kw = d1 * (k1w - 1) + s1 * d2 * (k2w - 1) + 1
    W = np.zeros((O, C, kh, kw), dtype=w1.dtype)
    if W.dtype == object:
        W[...] = 0
    for ah in range(k1h):
        for aw in range(k1w):
            for bh in range(k2h):
                for bw in range(k2w):
                    th, tw = d1 * ah + s1 * d2 * bh, d1 * aw + s1 * d2 * bw
                    W[:, :, th, tw] += w2[:, :, bh, bw].dot(w1[:, :, ah, aw])
    return W


def _merged_bias(w2, b1, b2):
    return b2 + w2.sum(axis=(2, 3)).dot(b1)


def test_merge_sequential_2d_numeric():
    rng = np.random.default_rng(0)
    for k1, k2, ci, cm, co, n in [(1, 1, 1, 1, 1, 3), (3, 3, 2, 3, 4, 9), (5, 2, 3, 2, 1, 8), (2, 3, 1, 2, 2, 7)]:
        x = rng.standard_normal((2, ci, n, n + 1))
        w1, b1 = rng.standard_normal((cm, ci, k1, k1)), rng.standard_normal(cm)
        w2, b2 = rng.standard_normal((co, cm, k2, k2)), rng.standard_normal(co)
        lhs = ref.conv2d(ref.conv2d(x, w1, b1), w2, b2)
        W = _merged_kernel(w1, w2)
        assert W.shape[2:] == (k1 + k2 - 1, k1 + k2 - 1)
        np.testing.assert_allclose(lhs, ref.conv2d(x, W, _merged_bias(w2, b1, b2)), rtol=1e-10, atol=1e-10)


def test_merge_strided_dilated_numeric():
    rng = np.random.default_rng(2)
    for s1, d1, s2, d2 in [(2, 1, 1, 1), (1, 2, 1, 1), (1, 1, 2, 2), (2, 2, 2, 1), (3, 1, 2, 2)]:
        x = rng.standard_normal((1, 2, 31, 29))
        w1, b1 = rng.standard_normal((3, 2, 3, 2)), rng.standard_normal(3)
        w2, b2 = rng.standard_normal((2, 3, 2, 3)), rng.standard_normal(2)
        lhs = ref.conv2d(ref.conv2d(x, w1, b1, stride=s1, dilation=d1), w2, b2, stride=s2, dilation=d2)
        W = _merged_kernel(w1, w2, s1, d1, d2)
        rhs = ref.conv2d(x, W, _merged_bias(w2, b1, b2), stride=s1 * s2)
        np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)


def test_merge_exact_integers():
    # exact arithmetic on object arrays: equality, not closeness
    rng = np.random.default_rng(3)
    for k1, k2, ci, cm, co in [(1, 2, 1, 2, 1), (3, 3, 2, 2, 2), (5, 5, 2, 1, 2)]:
        n = k1 + k2 + 1
        def ints(*shape):
            return rng.integers(-9, 10, size=shape).astype(object)
        x, w1, b1, w2, b2 = ints(1, ci, n, n), ints(cm, ci, k1, k1), ints(cm), ints(co, cm, k2, k2), ints(co)
        lhs = ref.conv2d(ref.conv2d(x, w1, b1), w2, b2)
        rhs = ref.conv2d(x, _merged_kernel(w1, w2), _merged_bias(w2, b1, b2))
        assert (lhs == rhs).all()


def test_merge_7x7_c8_numeric():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 8, 16, 16))
    w1, b1 = rng.standard_normal((8, 8, 7, 7)), rng.standard_normal(8)
    w2, b2 = rng.standard_normal((8, 8, 7, 7)), rng.standard_normal(8)
    lhs = ref.conv2d(ref.conv2d(x, w1, b1), w2, b2)
    rhs = ref.conv2d(x, _merged_kernel(w1, w2), _merged_bias(w2, b1, b2))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-9)


def _dense_weight(w, groups):
    # the groups=1 weight of a grouped convolution: output o reads only its group's channels
    O, Cg = w.shape[:2]
    dense = np.zeros((O, Cg * groups) + w.shape[2:], dtype=object)
    dense[...] = 0
    for o in range(O):
        g = o // (O // groups)
        dense[o, g * Cg:(g + 1) * Cg] = w[o]
    return dense


def test_merge_strided_grouped_exact_integers():
    rng = np.random.default_rng(8)
    cases = [(3, 2, 2, 1, 1, 2, 2, 2), (2, 3, 1, 2, 2, 1, 1, 2), (1, 2, 2, 2, 2, 2, 2, 1), (2, 1, 1, 1, 2, 2, 2, 2),
             (3, 3, 2, 2, 1, 1, 1, 1)]
    for k1, k2, s1, d1, s2, d2, g1, g2 in cases:
        ci, cm, co = 2, 4, 2
        K = d1 * (k1 - 1) + s1 * d2 * (k2 - 1) + 1
        n = K + 2 * s1 * s2 + 1
        x, w1, b1, w2, b2 = (rng.integers(-9, 10, size=s).astype(object) for s in (
            (1, ci, n, n + 1), (cm, ci // g1, k1, k1), cm, (co, cm // g2, k2, k2), co))
        lhs = ref.conv2d(ref.conv2d(x, w1, b1, stride=s1, dilation=d1, groups=g1), w2, b2,
                         stride=s2, dilation=d2, groups=g2)
        dense1, dense2 = _dense_weight(w1, g1), _dense_weight(w2, g2)
        W = _merged_kernel(dense1, dense2, s1, d1, d2)
        assert W.shape == (co, ci, K, K)
        rhs = ref.conv2d(x, W, _merged_bias(dense2, b1, b2), stride=s1 * s2)
        assert lhs.shape == rhs.shape and (lhs == rhs).all()


def _confirm_padded_merge_witness(witness):
    # rebuild the exact inputs, run both sides through the reference, compare at the entry
    sz = witness["sizes"]
    x, w1, b1, w2, b2 = (_witness_array(witness["inputs"][k]) for k in ("x", "w1", "b1", "w2", "b2"))  # noqa: F821
    p1, p2 = sz.get("p1", 0), sz.get("p2", 0)
    lhs = ref.conv2d(ref.conv2d(x[None], w1, b1, padding=p1), w2, b2, padding=p2)[0]
    rhs = ref.conv2d(x[None], _merged_kernel(w1, w2), _merged_bias(w2, b1, b2), padding=p1 + p2)[0]
    entry = tuple(witness["entry"])
    assert lhs[entry] == Fraction(witness["lhs"]) and rhs[entry] == Fraction(witness["rhs"])
    assert lhs[entry] != rhs[entry]


def test_merge_padded_ring_numeric():
    rng = np.random.default_rng(5)
    for k1, k2, p1, p2 in [(3, 3, 1, 1), (3, 2, 0, 2), (1, 3, 2, 1)]:
        x = rng.standard_normal((1, 2, 9, 9))
        w1, b1 = rng.standard_normal((2, 2, k1, k1)), rng.standard_normal(2)
        w2, b2 = rng.standard_normal((2, 2, k2, k2)), rng.standard_normal(2)
        lhs = ref.conv2d(ref.conv2d(x, w1, b1, padding=p1), w2, b2, padding=p2)
        rhs = ref.conv2d(x, _merged_kernel(w1, w2), _merged_bias(w2, b1, b2), padding=p1 + p2)
        inner = (slice(None), slice(None), slice(p2, -p2), slice(p2, -p2))
        np.testing.assert_allclose(lhs[inner], rhs[inner], rtol=1e-10, atol=1e-10)
        ring = np.ones(lhs.shape[2:], dtype=bool)
        ring[p2:-p2, p2:-p2] = False
        assert (np.abs(lhs - rhs)[:, :, ring] > 1e-8).any()  # and the ring is wrong


def test_merge_padded_exact_condition_numeric():
    rng = np.random.default_rng(6)
    for p1, k1, k2, p2 in [(0, 1, 3, 2), (1, 2, 3, 1), (2, 3, 2, 2)]:
        x = rng.standard_normal((1, 2, 7, 7))
        w1, w2, b2 = rng.standard_normal((2, 2, k1, k1)), rng.standard_normal((1, 2, k2, k2)), rng.standard_normal(1)
        lhs = ref.conv2d(ref.conv2d(x, w1, None, padding=p1), w2, b2, padding=p2)
        rhs = ref.conv2d(x, _merged_kernel(w1, w2), b2, padding=p1 + p2)
        np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)
