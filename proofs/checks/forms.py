"""The emitted numeric checks of ``proofs/forms.py``: real functions whose source
``convsym build`` writes to ``generated/checks/test_<family>.py`` (they may use only the names
that file imports: ``np``, ``ref`` and ``Fraction``)."""

from fractions import Fraction

import numpy as np

import convsym.reference as ref


def test_conv1x1_is_linear_numeric():
    rng = np.random.default_rng(10)
    for co, ci, h, w in [(1, 1, 1, 1), (2, 3, 3, 3), (5, 4, 2, 7)]:
        x, k, b = rng.standard_normal((2, ci, h, w)), rng.standard_normal((co, ci, 1, 1)), rng.standard_normal(co)
        conv = ref.conv2d(x, k, b)
        pixels = x.transpose(0, 2, 3, 1)                     # samples = pixels, features = channels
        fc = ref.linear(pixels, k[:, :, 0, 0], b).transpose(0, 3, 1, 2)
        np.testing.assert_allclose(conv, fc, rtol=1e-12, atol=1e-12)
        # the seed's corr2d_multi_in_out_1x1: Y = K.view(co, ci) @ X.view(ci, h*w)
        mm = (k.reshape(co, ci) @ x[0].reshape(ci, h * w)).reshape(co, h, w) + b[:, None, None]
        np.testing.assert_allclose(conv[0], mm, rtol=1e-12, atol=1e-12)


def test_conv1x1_cost_counts():
    rng = np.random.default_rng(11)
    for co, ci, h, w in [(1, 1, 1, 1), (3, 4, 5, 6)]:
        x, k = rng.integers(1, 5, (1, ci, h, w)).astype(object), np.ones((co, ci, 1, 1), dtype=object)
        # with all weights 1 every output entry is the sum of ci input values: ci MACs per output
        out = ref.conv2d(x, k)
        assert out.shape == (1, co, h, w)
        assert out.size * ci == co * ci * h * w
        assert (out == x.sum(axis=1, keepdims=True)).all()


def test_fc_full_map_numeric():
    rng = np.random.default_rng(12)
    for o, c, h, w in [(1, 1, 1, 1), (3, 2, 4, 5), (2, 3, 3, 1)]:
        x, a, b = rng.standard_normal((2, c, h, w)), rng.standard_normal((o, c * h * w)), rng.standard_normal(o)
        fc = ref.linear(x.reshape(2, -1), a, b)
        conv = ref.conv2d(x, a.reshape(o, c, h, w), b)
        assert conv.shape == (2, o, 1, 1)
        np.testing.assert_allclose(conv[:, :, 0, 0], fc, rtol=1e-12, atol=1e-12)


def test_fc_full_map_exact_fractions():
    rng = np.random.default_rng(13)
    for o, c, h, w in [(1, 1, 1, 1), (3, 2, 3, 2), (2, 3, 2, 4)]:
        x = np.array([Fraction(int(v), 5) for v in rng.integers(-9, 10, c * h * w)], dtype=object).reshape(1, c, h, w)
        a, b = rng.integers(-9, 10, (o, c * h * w)).astype(object), rng.integers(-9, 10, o).astype(object)
        # row-major flattening by hand: feature c*H*W + u*W + v is x[c, u, v]
        flat = [x[0, cc, u, v] for cc in range(c) for u in range(h) for v in range(w)]
        fc = [sum((a[oo, f] * flat[f] for f in range(c * h * w)), Fraction(0)) + b[oo] for oo in range(o)]
        conv = ref.conv2d(x, a.reshape(o, c, h, w), b)
        assert conv.shape == (1, o, 1, 1) and list(conv[0, :, 0, 0]) == fc
        one_by_one = ref.conv2d(x.reshape(1, c * h * w, 1, 1), a.reshape(o, c * h * w, 1, 1), b)
        assert list(one_by_one[0, :, 0, 0]) == fc
        assert list(ref.linear(x.reshape(1, -1), a, b)[0]) == fc


def test_im2col_matmul_numeric():
    rng = np.random.default_rng(20)
    cases = [(1, 1, 1, 1, 0, 1, 1), (2, 3, 3, 1, 1, 1, 1), (4, 6, (3, 2), (2, 1), (1, 2), (1, 2), 2)]
    for (c, o, k, s, p, d, g) in cases:
        x = rng.standard_normal((2, c, 9, 8))
        kh, kw = (k, k) if isinstance(k, int) else k
        w, b = rng.standard_normal((o, c // g, kh, kw)), rng.standard_normal(o)
        want = ref.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=g)
        cols = ref.im2col(x, (kh, kw), stride=s, padding=p, dilation=d)   # (N, C*kh*kw, L)
        rows = c // g * kh * kw
        og = o // g
        got = np.concatenate([w[gi * og:(gi + 1) * og].reshape(og, rows) @ cols[:, gi * rows:(gi + 1) * rows]
                              for gi in range(g)], axis=1)
        np.testing.assert_allclose(got.reshape(want.shape) + b[:, None, None], want, rtol=1e-12, atol=1e-12)


def test_im2col_seed_corr2d_matmul():
    # the seed's corr2d_multi_in_out via matmul, single sample, no padding
    rng = np.random.default_rng(21)
    X = rng.integers(-5, 6, (2, 5, 4)).astype(object)
    K = rng.integers(-5, 6, (3, 2, 2, 3)).astype(object)
    cols = ref.im2col(X[None], (2, 3))[0]
    got = (K.reshape(3, -1).dot(cols)).reshape(3, 4, 2)
    assert (got == ref.conv2d(X[None], K)[0]).all()


def test_im2col_exact_family_integers():
    # every size of the exact family, integers: per group, flattened kernel times columns, equality
    rng = np.random.default_rng(24)
    for (kh, kw) in ((1, 1), (3, 2)):
        for s in (1, 2):
            for p in (0, 1):
                for d in (1, 2):
                    for g in (1, 2):
                        x = rng.integers(-9, 10, (1, 2, 5, 6)).astype(object)
                        w = rng.integers(-9, 10, (2, 2 // g, kh, kw)).astype(object)
                        b = rng.integers(-9, 10, 2).astype(object)
                        want = ref.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=g)
                        cols = ref.im2col(x, (kh, kw), stride=s, padding=p, dilation=d)[0]
                        rows, og = (2 // g) * kh * kw, 2 // g
                        got = np.concatenate([w[gi * og:(gi + 1) * og].reshape(og, rows)
                                              .dot(cols[gi * rows:(gi + 1) * rows]) for gi in range(g)])
                        assert (got.reshape(want.shape[1:]) + b[:, None, None] == want[0]).all()


def _toeplitz(w, h, wd, stride=1, padding=0):
    o, c, kh, kw = w.shape
    ho, wo = (h + 2 * padding - kh) // stride + 1, (wd + 2 * padding - kw) // stride + 1
    T = np.zeros((o * ho * wo, c * h * wd))
    for oo in range(o):
        for i in range(ho):
            for j in range(wo):
                for cc in range(c):
                    for uu in range(kh):
                        for vv in range(kw):
                            r, q = stride * i + uu - padding, stride * j + vv - padding
                            if 0 <= r < h and 0 <= q < wd:
                                T[(oo * ho + i) * wo + j, (cc * h + r) * wd + q] = w[oo, cc, uu, vv]
    return T


def test_toeplitz_numeric():
    rng = np.random.default_rng(22)
    for o, c, k, s, p in [(1, 1, 2, 1, 0), (2, 3, 3, 2, 1)]:
        x, w = rng.standard_normal((1, c, 6, 5)), rng.standard_normal((o, c, k, k))
        want = ref.conv2d(x, w, stride=s, padding=p)
        np.testing.assert_allclose(_toeplitz(w, 6, 5, s, p) @ x.reshape(-1), want.reshape(-1), rtol=1e-12, atol=1e-12)


def test_toeplitz_doubly_blocked():
    rng = np.random.default_rng(23)
    w = rng.standard_normal((1, 1, 2, 3))
    T = _toeplitz(w, 5, 6).reshape(4, 4, 5, 6)          # (i, j) x (i', j')
    for i in range(3):
        for j in range(3):
            for ii in range(4):
                for jj in range(5):
                    assert T[i + 1, j + 1, ii + 1, jj + 1] == T[i, j, ii, jj]


def _toeplitz_general(w, h, wd, s, p, d, g):
    # T[(o,i,j), (c, s i + d u - p, s j + d v - p)] = w[o, c mod C/g, u, v], taps in the padding dropped
    o_, cg, kh, kw = w.shape
    ho, wo = (h + 2 * p - d * (kh - 1) - 1) // s + 1, (wd + 2 * p - d * (kw - 1) - 1) // s + 1
    T = np.zeros((o_ * ho * wo, cg * g * h * wd), dtype=object)
    T[...] = 0
    for oo in range(o_):
        first = (oo // (o_ // g)) * cg
        for i in range(ho):
            for j in range(wo):
                for col in range(cg):
                    for uu in range(kh):
                        for vv in range(kw):
                            r, q = s * i + d * uu - p, s * j + d * vv - p
                            if 0 <= r < h and 0 <= q < wd:
                                T[(oo * ho + i) * wo + j, ((first + col) * h + r) * wd + q] += w[oo, col, uu, vv]
    return T


def test_toeplitz_exact_strided_dilated_grouped():
    rng = np.random.default_rng(25)
    for (kh, kw), s, p, d, g in [((2, 2), 1, 0, 1, 1), ((2, 2), 2, 1, 2, 2), ((1, 3), 2, 1, 1, 1), ((1, 3), 1, 0, 2, 2),
                                 ((2, 2), 1, 1, 2, 1)]:
        x = rng.integers(-9, 10, (1, 2, 5, 6)).astype(object)
        w = rng.integers(-9, 10, (2, 2 // g, kh, kw)).astype(object)
        want = ref.conv2d(x, w, stride=s, padding=p, dilation=d, groups=g).reshape(-1)
        assert (_toeplitz_general(w, 5, 6, s, p, d, g).dot(x.reshape(-1)) == want).all()


def test_toeplitz_blocks_read_off_the_reference():
    # the matrix of x -> conv2d(x, w), column n read off the reference as the image of the n-th unit map
    rng = np.random.default_rng(26)
    w = rng.integers(-9, 10, (1, 1, 2, 3)).astype(object)
    T = np.zeros((4, 4, 5, 6), dtype=object)
    for r in range(5):
        for q in range(6):
            e = np.zeros((1, 1, 5, 6), dtype=object)
            e[...] = 0
            e[0, 0, r, q] = 1
            T[:, :, r, q] = ref.conv2d(e, w)[0, 0]
    assert (T[1:, 1:, 1:, 1:] == T[:3, :3, :4, :5]).all()   # block Toeplitz with Toeplitz blocks
    assert T[0, 0, 1, 2] == w[0, 0, 1, 2] and T[0, 0, 2, 0] == 0
