"""The emitted numeric checks of ``proofs/parallel.py``: real functions whose source
``convsym build`` writes to ``generated/checks/test_<family>.py`` (they may use only the names
that file imports: ``np``, ``ref`` and ``Fraction``)."""

from fractions import Fraction

import numpy as np

import convsym.reference as ref


def test_folding_repvgg_numeric():
    rng = np.random.default_rng(40)
    for C, k, groups in [(3, 3, 1), (4, 3, 2), (2, 5, 1)]:
        x = rng.standard_normal((2, C, 8, 8))
        w3, w1 = rng.standard_normal((C, C // groups, k, k)), rng.standard_normal((C, C // groups, 1, 1))
        eye = np.zeros((C, C // groups, 1, 1))
        eye[np.arange(C), np.arange(C) % (C // groups)] = 1
        bns = [(rng.standard_normal(C), rng.random(C) + 0.5, rng.standard_normal(C), rng.standard_normal(C))
               for _ in range(3)]
        lhs = (ref.batch_norm(ref.conv2d(x, w3, padding=k // 2, groups=groups), *bns[0])
               + ref.batch_norm(ref.conv2d(x, w1, groups=groups), *bns[1]) + ref.batch_norm(x, *bns[2]))
        W, B = np.zeros((C, C // groups, k, k)), np.zeros(C)
        for w, (mean, var, gamma, beta) in zip((w3, w1, eye), bns, strict=True):
            a = gamma / np.sqrt(var + 1e-5)
            e = (k - w.shape[2]) // 2
            W[:, :, e:e + w.shape[2], e:e + w.shape[3]] += w * a[:, None, None, None]
            B += beta - a * mean
        np.testing.assert_allclose(lhs, ref.conv2d(x, W, B, padding=k // 2, groups=groups), rtol=1e-10, atol=1e-10)


def test_folding_dbb_1x1_kxk_numeric():
    rng = np.random.default_rng(41)
    for C, M, O, k, p in [(2, 3, 4, 3, 1), (3, 2, 2, 5, 2), (1, 4, 2, 3, 0)]:
        x = rng.standard_normal((2, C, 7, 7))
        w1, b1 = rng.standard_normal((M, C, 1, 1)), rng.standard_normal(M)
        w2, b2 = rng.standard_normal((O, M, k, k)), rng.standard_normal(O)
        h = ref.conv2d(x, w1, b1)
        hp = np.empty((2, M, 7 + 2 * p, 7 + 2 * p))
        hp[...] = b1[None, :, None, None]        # the intermediate is padded with b1 (BNAndPad)
        hp[:, :, p:p + 7, p:p + 7] = h
        lhs = ref.conv2d(hp, w2, b2)
        W = np.einsum("mc,omuv->ocuv", w1[:, :, 0, 0], w2)
        rhs = ref.conv2d(x, W, b2 + w2.sum(axis=(2, 3)).dot(b1), padding=p)
        np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)


def test_folding_avgpool_is_conv_numeric():
    rng = np.random.default_rng(42)
    for C, k, s, p in [(3, 2, 2, 0), (2, 3, 1, 1), (4, 3, 2, 1), (1, 5, 1, 2)]:
        x = rng.standard_normal((2, C, 9, 9))
        kernel = np.full((C, 1, k, k), 1.0 / (k * k))
        lhs = ref.avg_pool2d(x, k, s, p, count_include_pad=True)
        np.testing.assert_allclose(lhs, ref.conv2d(x, kernel, stride=s, padding=p, groups=C), rtol=1e-12, atol=1e-12)


def test_folding_avgpool_is_conv_exact():
    x = np.arange(2 * 5 * 5).reshape(1, 2, 5, 5).astype(object)
    kernel = np.full((2, 1, 3, 3), Fraction(1, 9), dtype=object)
    assert (ref.avg_pool2d(x, 3, 1, 1) == ref.conv2d(x, kernel, padding=1, groups=2)).all()


def test_folding_dilated_kernel_is_a_sparse_kernel_numeric():
    rng = np.random.default_rng(61)
    cases = [(2, 4, 3, 2, 1, 2, 1), (4, 4, 3, 3, 2, 3, 4), (3, 6, 2, 2, 1, 0, 3), (2, 2, 1, 4, 1, 0, 1)]
    for C, O, k, d, s, p, g in cases:
        x = rng.integers(-5, 6, (1, C, 11, 12)).astype(object)
        w = rng.integers(-5, 6, (O, C // g, k, k)).astype(object)
        sparse = np.zeros((O, C // g, d * (k - 1) + 1, d * (k - 1) + 1), dtype=object)
        sparse[...] = 0
        sparse[:, :, ::d, ::d] = w
        lhs = ref.conv2d(x, w, stride=s, padding=p, dilation=d, groups=g)
        rhs = ref.conv2d(x, sparse, stride=s, padding=p, groups=g)
        assert (lhs == rhs).all()
