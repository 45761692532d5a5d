"""Numeric re-tests of the transposed family, emitted to generated/checks/test_transposed.py.

Real functions (the proof script passes their source, obtained with ``inspect.getsource``, as
``check_source``); they use only ``np``, ``ref`` and ``Fraction``.  Every helper belongs to one
theorem's block (the emitted file forbids a name defined twice), hence the prefixes.
"""

from fractions import Fraction

import numpy as np

import convsym.reference as ref

# ---------------------------------------------------------------------------------------------
# definition: scatter form == upsample, pad, flip, convolve


def _def_scatter(x, w, s, p, q, d, g):
    # the loop definition: x[n, c, i, j] * w[c, o, u, v] is added at (s i + d u - p, s j + d v - p)
    N, C, H, W = x.shape
    per_in, per_out, kh, kw = C // g, w.shape[1], w.shape[2], w.shape[3]
    Ho = (H - 1) * s - 2 * p + d * (kh - 1) + q + 1
    Wo = (W - 1) * s - 2 * p + d * (kw - 1) + q + 1
    y = np.zeros((N, per_out * g, Ho, Wo), dtype=object)
    y[...] = 0
    for n in range(N):
        for c in range(C):
            for i in range(H):
                for j in range(W):
                    for o in range(per_out):
                        for u in range(kh):
                            for v in range(kw):
                                a, b = s * i + d * u - p, s * j + d * v - p
                                if 0 <= a < Ho and 0 <= b < Wo:
                                    y[n, (c // per_in) * per_out + o, a, b] += x[n, c, i, j] * w[c, o, u, v]
    return y


def _def_upsample_conv(x, w, s, p, q, d, g):
    # s - 1 zeros between entries, d(k-1) - p zeros around (q more at the end; negative crops),
    # kernel flipped, in/out channels swapped per group, then a stride-1 convolution
    N, C, H, W = x.shape
    per_in, per_out, kh, kw = C // g, w.shape[1], w.shape[2], w.shape[3]
    lo_h, lo_w = d * (kh - 1) - p, d * (kw - 1) - p
    Hu, Wu = (H - 1) * s + 1 + 2 * lo_h + q, (W - 1) * s + 1 + 2 * lo_w + q
    u = np.zeros((N, C, Hu, Wu), dtype=object)
    u[...] = 0
    for i in range(H):
        for j in range(W):
            a, b = lo_h + s * i, lo_w + s * j
            if 0 <= a < Hu and 0 <= b < Wu:
                u[:, :, a, b] = x[:, :, i, j]
    flipped = w[:, :, ::-1, ::-1].reshape(g, per_in, per_out, kh, kw)
    as_conv = flipped.transpose(0, 2, 1, 3, 4).reshape(g * per_out, per_in, kh, kw)
    return ref.conv2d(u, as_conv, dilation=d, groups=g)


def test_transposed_definition_scatter_exact():
    rng = np.random.default_rng(140)
    for s, p, q, d, g in [(1, 0, 0, 1, 1), (2, 1, 1, 1, 1), (2, 0, 1, 2, 2), (3, 2, 2, 1, 1), (2, 3, 0, 1, 2)]:
        x = rng.integers(-4, 5, (1, 2 * g, 3, 4)).astype(object)
        w = rng.integers(-4, 5, (2 * g, 2, 3, 2)).astype(object)
        assert (_def_scatter(x, w, s, p, q, d, g) == ref.conv_transpose2d(
            x, w, stride=s, padding=p, output_padding=q, dilation=d, groups=g)).all()


def test_transposed_definition_upsampled_exact():
    rng = np.random.default_rng(148)
    for s, p, q, d, g in [(1, 0, 0, 1, 1), (2, 1, 1, 1, 1), (2, 0, 1, 2, 2), (1, 2, 1, 2, 1), (3, 1, 0, 2, 2),
                          (2, 3, 0, 1, 2)]:
        x = rng.integers(-4, 5, (1, 2 * g, 3, 4)).astype(object)
        w = rng.integers(-4, 5, (2 * g, 2, 3, 2)).astype(object)
        assert (_def_upsample_conv(x, w, s, p, q, d, g) == ref.conv_transpose2d(
            x, w, stride=s, padding=p, output_padding=q, dilation=d, groups=g)).all()


# ---------------------------------------------------------------------------------------------
# adjoint


def test_transposed_adjoint_exact():
    rng = np.random.default_rng(141)
    for s, p, d, g, k, n in [(1, 0, 1, 1, 3, 5), (2, 1, 1, 1, 3, 7), (3, 2, 2, 2, 2, 9), (2, 0, 2, 1, 3, 8),
                             (2, 1, 1, 2, 4, 6)]:
        x = rng.integers(-5, 6, (2, 2 * g, n, n + 1)).astype(object)
        w = rng.integers(-5, 6, (2 * g, 2, k, k)).astype(object)  # conv weight (C_out, C_in/g, k, k)
        fx = ref.conv2d(x, w, stride=s, padding=p, dilation=d, groups=g)
        y = rng.integers(-5, 6, fx.shape).astype(object)
        # the output padding that gives back the input size: (n + 2p - d(k-1) - 1) mod s, always < s
        q = ((n + 2 * p - d * (k - 1) - 1) % s, (n + 1 + 2 * p - d * (k - 1) - 1) % s)
        back = ref.conv_transpose2d(y, w, stride=s, padding=p, output_padding=q, dilation=d, groups=g)
        assert back.shape == x.shape
        assert (fx * y).sum() == (x * back).sum()


def test_transposed_adjoint_grouped_float():
    rng = np.random.default_rng(149)
    for s, p, d, g in [(2, 1, 1, 2), (3, 0, 2, 3), (1, 2, 1, 6)]:
        x = rng.standard_normal((1, 6, 9, 8))
        w = rng.standard_normal((6, 6 // g, 3, 3))
        fx = ref.conv2d(x, w, stride=s, padding=p, dilation=d, groups=g)
        y = rng.standard_normal(fx.shape)
        q = tuple((n + 2 * p - d * 2 - 1) % s for n in x.shape[2:])
        back = ref.conv_transpose2d(y, w, stride=s, padding=p, output_padding=q, dilation=d, groups=g)
        np.testing.assert_allclose((fx * y).sum(), (x * back).sum(), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# output size


def _size_roundtrip_sides(n, k, s, p, q, d):
    # the forward rule applied to the transposed convolution's output length, against n
    out = (n - 1) * s - 2 * p + d * (k - 1) + q + 1
    return (out + 2 * p - d * (k - 1) - 1) // s + 1, n


def test_transposed_output_size_counted():
    for n in range(1, 5):
        for k in range(1, 4):
            for s in range(1, 4):
                for d in range(1, 3):
                    for p in range(0, 3):
                        for q in range(0, max(s, d)):
                            size = (n - 1) * s - 2 * p + d * (k - 1) + q + 1
                            if size < 1:
                                continue
                            y = ref.conv_transpose2d(np.ones((1, 1, n, 1)), np.ones((1, 1, k, 1)), stride=(s, 1),
                                                     padding=(p, 0), output_padding=(q, 0), dilation=(d, 1))
                            assert y.shape[2] == size
                            back, _ = _size_roundtrip_sides(n, k, s, p, q, d)
                            assert (back == n) == (q < s)


# ---------------------------------------------------------------------------------------------
# sub-pixel convolution


def _sub_weight_map(W, r, g=1):
    # W (r^2 C, C_in/g, K_h, K_w) -> V (C_in, C/g, r K_h, r K_w) with
    # V[gamma C_in/g + ci, c, phi_h + r (K_h-1-a_h), phi_w + r (K_w-1-a_w)]
    #     = W[(gamma C/g + c) r^2 + phi_h r + phi_w, ci, a_h, a_w]
    O, cin_g, kh, kw = W.shape
    C = O // (r * r)
    V = np.zeros((cin_g * g, C // g, r * kh, r * kw), dtype=W.dtype)
    for o in range(O):
        c, phase = divmod(o, r * r)
        ph, pw = divmod(phase, r)
        gamma, cl = divmod(c, C // g)
        for ci in range(cin_g):
            for ah in range(kh):
                for aw in range(kw):
                    V[gamma * cin_g + ci, cl, ph + r * (kh - 1 - ah), pw + r * (kw - 1 - aw)] = W[o, ci, ah, aw]
    return V


def test_transposed_subpixel_exact():
    rng = np.random.default_rng(142)
    for r, K, P, g, C in [(2, 3, 1, 1, 1), (2, 1, 0, 1, 2), (3, 2, 1, 2, 2), (2, 3, 2, 1, 1), (4, 2, 0, 1, 1)]:
        W = rng.integers(-5, 6, (r * r * C, 2 // g if g > 1 else 2, K, K)).astype(object)
        b = np.repeat(rng.integers(-5, 6, C), r * r).astype(object)
        x = rng.integers(-5, 6, (1, 2, 4, 5)).astype(object)
        lhs = ref.pixel_shuffle(ref.conv2d(x, W, b, padding=P, groups=g), r)
        V = _sub_weight_map(W, r, g)
        assert V.shape[2:] == (r * K, r * K)
        rhs = ref.conv_transpose2d(x, V, b[::r * r], stride=r, padding=r * (K - 1 - P), groups=g)
        assert lhs.shape == rhs.shape and (lhs == rhs).all()


def test_subpixel_1d_phases_exact():
    # out[r j + phi] = conv(x, W[phi], padding P)[j], against the 1-D transposed convolution of the map
    rng = np.random.default_rng(150)
    for r, K, P, n in [(2, 3, 1, 5), (3, 2, 0, 4), (2, 1, 0, 3), (4, 3, 2, 4)]:
        W = rng.integers(-5, 6, (r, 1, K, 1)).astype(object)
        x = rng.integers(-5, 6, (1, 1, n, 1)).astype(object)
        z = ref.conv2d(x, W, padding=(P, 0))[0, :, :, 0]
        interleaved = z.T.reshape(-1)
        V = np.zeros((1, 1, r * K, 1), dtype=object)
        for phi in range(r):
            for a in range(K):
                V[0, 0, phi + r * (K - 1 - a), 0] = W[phi, 0, a, 0]
        t = ref.conv_transpose2d(x, V, stride=(r, 1), padding=(r * (K - 1 - P), 0))[0, 0, :, 0]
        assert t.shape == interleaved.shape == (r * (n + 2 * P - K + 1),) and (t == interleaved).all()


def test_subpixel_output_length():
    for n in range(1, 6):
        for K in range(1, 4):
            for r in range(1, 4):
                for P in range(K):
                    if n + 2 * P - K + 1 < 1:
                        continue
                    y = ref.conv_transpose2d(np.zeros((1, 1, n, 1)), np.zeros((1, 1, r * K, 1)), stride=(r, 1),
                                             padding=(r * (K - 1 - P), 0))
                    assert y.shape[2] == r * (n + 2 * P - K + 1)


def _sub_border_sides(x, W, r, P_before, P_after):
    # the sub-pixel convolution with padding (before, after) on the one spatial axis of length > 1,
    # against the mapped transposed convolution with padding max(0, r (K - 1 - before))
    K = W.shape[2]
    lhs = ref.pixel_shuffle(ref.conv2d(x, W, padding=((P_before, P_after), (0, 0))), r)
    V = np.zeros((W.shape[1], 1, r * K, r), dtype=W.dtype)
    V[...] = 0
    for phase in range(r * r):
        ph, pw = divmod(phase, r)
        for a in range(K):
            V[:, 0, ph + r * (K - 1 - a), pw] = W[phase, :, a, 0]
    rhs = ref.conv_transpose2d(x, V, stride=r, padding=(max(0, r * (K - 1 - P_before)), 0))
    return lhs, rhs


def test_transposed_subpixel_border_numeric():
    rng = np.random.default_rng(143)
    for r, K in [(2, 3), (3, 2)]:
        W = rng.standard_normal((r * r, 1, K, 1))
        x = rng.standard_normal((1, 1, 6, 1))
        for P in range(K):  # the exact range: symmetric padding P <= K - 1
            lhs, rhs = _sub_border_sides(x, W, r, P, P)
            np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12)
        lhs, rhs = _sub_border_sides(x, W, r, K, K)  # P = K: the borders differ
        assert lhs.shape != rhs.shape or not np.allclose(lhs, rhs)


def _sub_asym_sides(x, W, r):
    # 'same' padding of an even kernel, (K/2 - 1, K/2) on the rows, against the mapped transposed
    # convolution with the symmetric padding r (K - 1 - (K/2 - 1)) a transposed convolution must use
    K = W.shape[2]
    lhs = ref.pixel_shuffle(ref.conv2d(x, W, padding=((K // 2 - 1, K // 2), (0, 0))), r)
    V = np.zeros((W.shape[1], 1, r * K, r), dtype=W.dtype)
    V[...] = 0
    for phase in range(r * r):
        ph, pw = divmod(phase, r)
        for a in range(K):
            V[:, 0, ph + r * (K - 1 - a), pw] = W[phase, :, a, 0]
    rhs = ref.conv_transpose2d(x, V, stride=r, padding=(r * (K - 1 - (K // 2 - 1)), 0))
    return lhs, rhs


def _sub_bias_sides(x, W, b, r):
    # a sub-pixel convolution whose r^2 phases of one channel have different biases, against the
    # mapped transposed convolution with the bias of phase 0 (it has one bias per output channel)
    K = W.shape[2]
    lhs = ref.pixel_shuffle(ref.conv2d(x, W, b), r)
    V = np.zeros((W.shape[1], 1, r * K, r * K), dtype=W.dtype)
    V[...] = 0
    for phase in range(r * r):
        ph, pw = divmod(phase, r)
        for ah in range(K):
            for aw in range(K):
                V[:, 0, ph + r * (K - 1 - ah), pw + r * (K - 1 - aw)] = W[phase, :, ah, aw]
    rhs = ref.conv_transpose2d(x, V, b[::r * r], stride=r, padding=r * (K - 1))
    return lhs, rhs


def _conv_from_transposed(w, s, p, q, d, g):
    # the sub-pixel convolution of a stride-s transposed convolution (same s on both axes):
    # output r j + phi reads x[j + (phi + p - d b) / r] through tap b where that is an integer
    r = s
    C_in, per_out, kh, kw = w.shape
    plans = []
    for k in (kh, kw):
        extent = d * (k - 1) - 2 * p + q + 1
        assert extent % r == 0
        taps = [(phi, b, (phi + p - d * b) // r) for b in range(k) for phi in range(r) if (phi + p - d * b) % r == 0]
        lo = min(0, min(e for _, _, e in taps))
        hi = max(max(e for _, _, e in taps), 1 - extent // r)
        plans.append(([(phi, b, e - lo) for phi, b, e in taps], hi - lo + 1, (-lo, hi + extent // r - 1)))
    (ph_taps, Kh, pad_h), (pw_taps, Kw, pad_w) = plans
    per_in = C_in // g
    W = np.zeros((per_out * g, r, r, per_in, Kh, Kw), dtype=object)
    W[...] = 0
    for gamma in range(g):
        for o in range(per_out):
            for ci in range(per_in):
                for phi_h, bh, ah in ph_taps:
                    for phi_w, bw, aw in pw_taps:
                        W[gamma * per_out + o, phi_h, phi_w, ci, ah, aw] = w[gamma * per_in + ci, o, bh, bw]
    return W.reshape(per_out * g * r * r, per_in, Kh, Kw), (pad_h, pad_w)


def test_transposed_converse_exact():
    rng = np.random.default_rng(144)
    for s, k, p, q, d, g in [(2, 4, 1, 0, 1, 1), (2, 3, 0, 1, 1, 2), (3, 3, 0, 0, 1, 1), (2, 3, 1, 1, 2, 1),
                             (3, 5, 2, 2, 1, 1), (2, 2, 0, 0, 3, 1)]:
        w = rng.integers(-5, 6, (2 * g, 2, k, k)).astype(object)
        b = rng.integers(-5, 6, 2 * g).astype(object)
        x = rng.integers(-5, 6, (1, 2 * g, 3, 4)).astype(object)
        lhs = ref.conv_transpose2d(x, w, b, stride=s, padding=p, output_padding=q, dilation=d, groups=g)
        W, pad = _conv_from_transposed(w, s, p, q, d, g)
        rhs = ref.pixel_shuffle(ref.conv2d(x, W, np.repeat(b, s * s), padding=pad, groups=g), s)
        assert lhs.shape == rhs.shape and (lhs == rhs).all()


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


# ---------------------------------------------------------------------------------------------
# costs


def test_transposed_zero_taps_counted():
    # ones everywhere: the upsampled convolution's nonzero taps are the scatter products that land
    for n, c_in, h, w, c_out, k, s, d, q, g in [(1, 2, 3, 4, 2, 3, 2, 1, 1, 1), (2, 4, 2, 3, 6, 2, 3, 1, 0, 2),
                                                (1, 3, 4, 4, 3, 3, 2, 2, 1, 3)]:
        x = np.ones((n, c_in, h, w), dtype=np.int64)
        y = ref.conv_transpose2d(x, np.ones((c_in, c_out // g, k, k), dtype=np.int64), stride=s,
                                 output_padding=q, dilation=d, groups=g)
        Ho, Wo = y.shape[2:]
        loop = n * c_in * h * w * (c_out // g) * k * k
        upsampled = n * c_out * Ho * Wo * (c_in // g) * k * k
        assert y.sum() == loop  # no padding: every product lands
        zero = upsampled - loop
        assert zero == n * c_out * (c_in // g) * k * k * (Ho * Wo - h * w)
