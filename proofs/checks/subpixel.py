"""Numeric re-tests of the sub-pixel chapter, emitted to generated/checks/test_subpixel.py.

Real functions (the proof script passes their source, obtained with ``inspect.getsource``, as
``check_source``); they use only ``np``, ``ref`` and ``Fraction``.  Every helper belongs to one
theorem's block (the emitted file forbids a name defined twice), hence the prefixes.
"""


import numpy as np

import convsym.reference as ref

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
    # kernels K_h x K_w, paddings (P_h, P_w) with P <= K - 1 per axis
    rng = np.random.default_rng(142)
    for r, (kh, kw), (ph, pw), g, C in [(2, (3, 3), (1, 1), 1, 1), (2, (1, 1), (0, 0), 1, 2), (3, (2, 2), (1, 1), 2, 2),
                                        (2, (3, 3), (2, 2), 1, 1), (4, (2, 2), (0, 0), 1, 1), (2, (3, 2), (2, 0), 1, 3),
                                        (3, (1, 3), (0, 1), 2, 2)]:
        W = rng.integers(-5, 6, (r * r * C, 2 // g if g > 1 else 2, kh, kw)).astype(object)
        b = np.repeat(rng.integers(-5, 6, C), r * r).astype(object)
        x = rng.integers(-5, 6, (1, 2, 4, 5)).astype(object)
        lhs = ref.pixel_shuffle(ref.conv2d(x, W, b, padding=(ph, pw), groups=g), r)
        V = _sub_weight_map(W, r, g)
        assert V.shape[2:] == (r * kh, r * kw)
        rhs = ref.conv_transpose2d(x, V, b[::r * r], stride=r, padding=(r * (kh - 1 - ph), r * (kw - 1 - pw)),
                                   groups=g)
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


def _conv_from_transposed_at(w, r, p, d, P, K):
    # the sub-pixel weight of subpixel.converse for any (P, K) per axis where every tap lands:
    # tap b of phase phi goes to a = P + (phi + p - d b) / r (both axes), zero elsewhere
    C_in, C, kh, kw = w.shape
    W = np.zeros((C * r * r, C_in, K[0], K[1]), dtype=object)
    W[...] = 0
    for c in range(C):
        for phi_h in range(r):
            for phi_w in range(r):
                for bh in range(kh):
                    for bw in range(kw):
                        eh, ew = phi_h + p[0] - d[0] * bh, phi_w + p[1] - d[1] * bw
                        if eh % r == 0 and ew % r == 0:
                            ah, aw = P[0] + eh // r, P[1] + ew // r
                            assert 0 <= ah < K[0] and 0 <= aw < K[1]
                            W[c * r * r + phi_h * r + phi_w, :, ah, aw] = w[:, c, bh, bw]
    return W


def test_transposed_converse_any_subpixel_padding():
    # every (P, K) with r P + p + r - 1 >= d (k - 1) and p <= r (K - 1 - P) per axis: the pixel shuffle of the
    # convolution (padding P before, enough after) agrees with the transposed convolution at all its outputs
    rng = np.random.default_rng(145)
    for r, (kh, kw), (ph, pw), (dh, dw), (Ph, Pw), (Kh, Kw) in [
            (2, (3, 2), (1, 0), (1, 2), (1, 1), (3, 2)), (2, (4, 1), (0, 2), (1, 1), (2, 0), (3, 3)),
            (3, (5, 3), (2, 1), (1, 2), (1, 1), (3, 3)), (2, (2, 2), (0, 0), (1, 1), (0, 3), (1, 5))]:
        for k, p, d, P, K in ((kh, ph, dh, Ph, Kh), (kw, pw, dw, Pw, Kw)):
            assert r * P + p + r - 1 >= d * (k - 1) and p <= r * (K - 1 - P)
        w = rng.integers(-5, 6, (2, 2, kh, kw)).astype(object)
        x = rng.integers(-5, 6, (1, 2, 3, 4)).astype(object)
        lhs = ref.conv_transpose2d(x, w, stride=r, padding=(ph, pw), dilation=(dh, dw))
        W = _conv_from_transposed_at(w, r, (ph, pw), (dh, dw), (Ph, Pw), (Kh, Kw))
        pads = ((Ph, Kh + lhs.shape[2]), (Pw, Kw + lhs.shape[3]))
        rhs = ref.pixel_shuffle(ref.conv2d(x, W, padding=pads), r)
        assert (rhs[:, :, :lhs.shape[2], :lhs.shape[3]] == lhs).all()
