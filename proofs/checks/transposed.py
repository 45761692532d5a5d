"""Numeric re-tests of the transposed chapter's first section (what it is, sizes, costs),
emitted to generated/checks/test_transposed.py.

Real functions (the proof script passes their source, obtained with ``inspect.getsource``, as
``check_source``); they use only ``np``, ``ref`` and ``Fraction``.  Every helper belongs to one
theorem's block (the emitted file forbids a name defined twice), hence the prefixes.
"""


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


def test_transposed_output_padding_dilation_accepted_by_reference():
    y = ref.conv_transpose2d(np.ones((1, 1, 2, 1)), np.ones((1, 1, 2, 1)), stride=1,
                             output_padding=(1, 0), dilation=(2, 1))
    assert y.shape[2] == 5 and ref.conv2d(y, np.ones((1, 1, 2, 1)), dilation=(2, 1)).shape[2] == 3
