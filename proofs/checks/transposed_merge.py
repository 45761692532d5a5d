"""Numeric re-tests of the transposed chapter's second section (merging, BatchNorm folding),
emitted to generated/checks/test_transposed.py.

Real functions (the proof script passes their source, obtained with ``inspect.getsource``, as
``check_source``); they use only ``np``, ``ref`` and ``Fraction``.  Every helper belongs to one
theorem's block (the emitted file forbids a name defined twice), hence the prefixes.
"""

from fractions import Fraction

import numpy as np

import convsym.reference as ref

# ---------------------------------------------------------------------------------------------
# merging


def _tt_kernel(w1, w2, s2, d1, d2):
    # W[c, o, t] = sum_m sum_{s2 d1 a + d2 b = t} w1[c, m, a] w2[m, o, b] per spatial axis
    C, M, k1h, k1w = w1.shape
    O, k2h, k2w = w2.shape[1], w2.shape[2], w2.shape[3]
    W = np.zeros((C, O, s2 * d1 * (k1h - 1) + d2 * (k2h - 1) + 1, s2 * d1 * (k1w - 1) + d2 * (k2w - 1) + 1),
                 dtype=object)
    W[...] = 0
    for ah in range(k1h):
        for aw in range(k1w):
            for bh in range(k2h):
                for bw in range(k2w):
                    W[:, :, s2 * d1 * ah + d2 * bh, s2 * d1 * aw + d2 * bw] += w1[:, :, ah, aw].dot(w2[:, :, bh, bw])
    return W


def test_transposed_merge_two_exact():
    rng = np.random.default_rng(145)
    for s1, s2, d1, d2, p2, q1, q2, k1, k2 in [(2, 2, 1, 1, 0, 1, 0, 3, 3), (2, 3, 1, 1, 1, 1, 2, 2, 4),
                                               (1, 2, 2, 1, 0, 0, 1, 3, 2), (3, 2, 1, 2, 2, 2, 1, 2, 3)]:
        x = rng.integers(-5, 6, (1, 2, 3, 4)).astype(object)
        w1 = rng.integers(-5, 6, (2, 3, k1, k1)).astype(object)
        w2 = rng.integers(-5, 6, (3, 2, k2, k2)).astype(object)
        h = ref.conv_transpose2d(x, w1, stride=s1, output_padding=q1, dilation=d1)
        lhs = ref.conv_transpose2d(h, w2, stride=s2, padding=p2, output_padding=q2, dilation=d2)
        W = _tt_kernel(w1, w2, s2, d1, d2)
        assert W.shape[2] == s2 * d1 * (k1 - 1) + d2 * (k2 - 1) + 1
        rhs = ref.conv_transpose2d(x, W, stride=s1 * s2, padding=p2, output_padding=s2 * q1 + q2)
        assert lhs.shape == rhs.shape and (lhs == rhs).all()


def test_transposed_merge_two_length():
    # the two layers and the merged one (output padding s2 q1 + q2) have the same output size
    for s1 in range(1, 4):
        for s2 in range(1, 4):
            for d1, d2, k1, k2, n, p2 in [(1, 1, 2, 3, 2, 0), (2, 1, 3, 2, 3, 1), (1, 3, 1, 2, 2, 2)]:
                for q1 in range(s1):
                    for q2 in range(max(s2, d2)):
                        x = np.ones((1, 1, n, 1))
                        h = ref.conv_transpose2d(x, np.ones((1, 1, k1, 1)), stride=(s1, 1), output_padding=(q1, 0),
                                                 dilation=(d1, 1))
                        two = ref.conv_transpose2d(h, np.ones((1, 1, k2, 1)), stride=(s2, 1), padding=(p2, 0),
                                                   output_padding=(q2, 0), dilation=(d2, 1))
                        K = s2 * d1 * (k1 - 1) + d2 * (k2 - 1) + 1
                        q = s2 * q1 + q2
                        if q < s1 * s2:
                            one = ref.conv_transpose2d(x, np.ones((1, 1, K, 1)), stride=(s1 * s2, 1),
                                                       padding=(p2, 0), output_padding=(q, 0))
                            assert one.shape == two.shape
                        else:
                            assert q2 >= s2


def test_transposed_merge_two_float():
    # float64 weights, rectangular kernels, a non-square input: the merge to 1e-12 relative
    rng = np.random.default_rng(147)
    for s1, s2, d1, d2, p2, q1, q2, k1, k2 in [(2, 2, 1, 1, 1, 1, 1, (3, 2), (2, 3)),
                                               (3, 2, 2, 1, 0, 2, 1, (2, 1), (3, 3)),
                                               (1, 3, 1, 2, 2, 0, 2, (1, 3), (2, 2))]:
        x = rng.standard_normal((2, 3, 4, 3))
        w1 = rng.standard_normal((3, 2) + k1)
        w2 = rng.standard_normal((2, 4) + k2)
        h = ref.conv_transpose2d(x, w1, stride=s1, output_padding=q1, dilation=d1)
        lhs = ref.conv_transpose2d(h, w2, stride=s2, padding=p2, output_padding=q2, dilation=d2)
        W = _tt_kernel(w1, w2, s2, d1, d2).astype(float)
        rhs = ref.conv_transpose2d(x, W, stride=s1 * s2, padding=p2, output_padding=s2 * q1 + q2)
        assert lhs.shape == rhs.shape
        assert np.allclose(lhs, rhs, rtol=1e-12, atol=1e-12 * np.abs(lhs).max())


def _tt_padded_sides(x, w1, w2, s1, s2, p1):
    # the first transposed convolution crops p1 rows on each side: the naive merge (padding s2 p1) is wrong
    lhs = ref.conv_transpose2d(ref.conv_transpose2d(x, w1, stride=s1, padding=(p1, 0)), w2, stride=s2)
    rhs = ref.conv_transpose2d(x, _tt_kernel(w1, w2, s2, 1, 1), stride=s1 * s2, padding=(s2 * p1, 0))
    return lhs, rhs


def _ct_kernel(w1, w2):
    # a stride-1 convolution w2 (O, M, k2) after a transposed convolution w1 (C, M, k1):
    # V[c, o, t] = sum_m sum_{a - b + k2 - 1 = t} w1[c, m, a] w2[o, m, b]
    C, M, k1h, k1w = w1.shape
    O, _, k2h, k2w = w2.shape
    V = np.zeros((C, O, k1h + k2h - 1, k1w + k2w - 1), dtype=object)
    V[...] = 0
    for ah in range(k1h):
        for aw in range(k1w):
            for bh in range(k2h):
                for bw in range(k2w):
                    V[:, :, ah - bh + k2h - 1, aw - bw + k2w - 1] += w1[:, :, ah, aw].dot(w2[:, :, bh, bw].T)
    return V


def test_transposed_conv_after_exact():
    rng = np.random.default_rng(146)
    for s, k1, k2, p2 in [(2, 3, 3, 1), (2, 2, 3, 0), (3, 3, 2, 1), (1, 3, 3, 2), (2, 4, 1, 0)]:
        x = rng.integers(-5, 6, (1, 2, 3, 4)).astype(object)
        w1 = rng.integers(-5, 6, (2, 3, k1, k1)).astype(object)
        w2 = rng.integers(-5, 6, (2, 3, k2, k2)).astype(object)
        lhs = ref.conv2d(ref.conv_transpose2d(x, w1, stride=s), w2, padding=p2)
        rhs = ref.conv_transpose2d(x, _ct_kernel(w1, w2), stride=s, padding=k2 - 1 - p2)
        assert lhs.shape == rhs.shape and (lhs == rhs).all()


def test_transposed_conv_after_float():
    # float64 weights, rectangular kernels, a non-square input: one transposed layer to 1e-12 relative
    rng = np.random.default_rng(148)
    for s, k1, k2, p2 in [(2, (3, 2), (3, 2), (1, 0)), (3, (2, 3), (1, 3), (0, 2)), (1, (1, 2), (2, 2), (1, 1))]:
        x = rng.standard_normal((2, 3, 4, 3))
        w1 = rng.standard_normal((3, 2) + k1)
        w2 = rng.standard_normal((4, 2) + k2)
        lhs = ref.conv2d(ref.conv_transpose2d(x, w1, stride=s), w2, padding=p2)
        V = _ct_kernel(w1, w2).astype(float)
        rhs = ref.conv_transpose2d(x, V, stride=s, padding=(k2[0] - 1 - p2[0], k2[1] - 1 - p2[1]))
        assert lhs.shape == rhs.shape
        assert np.allclose(lhs, rhs, rtol=1e-12, atol=1e-12 * np.abs(lhs).max())


def _ct_padded_sides(x, w1, w2, s, p1):
    # with p1 > 0 (rows) the convolution's zero padding replaces values the transposed convolution cropped
    k2h, k2w = w2.shape[2:]
    lhs = ref.conv2d(ref.conv_transpose2d(x, w1, stride=s, padding=(p1, 0)), w2, padding=(k2h - 1, k2w - 1))
    rhs = ref.conv_transpose2d(x, _ct_kernel(w1, w2), stride=s, padding=(p1, 0))
    return lhs, rhs


# ---------------------------------------------------------------------------------------------
# BatchNorm folding


def test_transposed_bn_fold_axis1_exact():
    rng = np.random.default_rng(147)
    for g, s, p in [(1, 2, 1), (2, 2, 0), (4, 3, 1)]:
        C_in, C_out = 4, 8
        w = rng.integers(-5, 6, (C_in, C_out // g, 3, 3)).astype(object)
        b = rng.integers(-5, 6, C_out).astype(object)
        scale = np.array([Fraction(int(v), 3) for v in rng.integers(1, 9, C_out)], dtype=object)
        shift = rng.integers(-5, 6, C_out).astype(object)
        x = rng.integers(-5, 6, (1, C_in, 3, 4)).astype(object)
        lhs = ref.conv_transpose2d(x, w, b, stride=s, padding=p, groups=g) * scale[None, :, None, None] \
            + shift[None, :, None, None]
        per = C_out // g
        # output channel gamma C_out/g + o is column o of the rows gamma C_in/g .. of axis 1
        folded = w.copy()
        for ci in range(C_in):
            gamma = ci // (C_in // g)
            folded[ci] = w[ci] * scale[gamma * per:(gamma + 1) * per][:, None, None]
        rhs = ref.conv_transpose2d(x, folded, b * scale + shift, stride=s, padding=p, groups=g)
        assert (lhs == rhs).all()


def test_transposed_bn_fold_dense_float():
    rng = np.random.default_rng(151)
    w, b = rng.standard_normal((3, 5, 4, 4)), rng.standard_normal(5)
    mean, var, gamma, beta = rng.standard_normal(5), rng.random(5) + 0.1, rng.standard_normal(5), rng.standard_normal(5)
    x = rng.standard_normal((2, 3, 6, 5))
    a = gamma / np.sqrt(var + 1e-5)
    lhs = ref.batch_norm(ref.conv_transpose2d(x, w, b, stride=2, padding=1), mean, var, gamma, beta)
    rhs = ref.conv_transpose2d(x, w * a[None, :, None, None], (b - mean) * a + beta, stride=2, padding=1)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12)


def _bn_axis0_sides(x, w, scale):
    # BN's per-channel scale applied to axis 0 of the transposed weight (its input channels)
    lhs = ref.conv_transpose2d(x, w, stride=2) * scale[None, :, None, None]
    rhs = ref.conv_transpose2d(x, w * scale[:, None, None, None], stride=2)
    return lhs, rhs
