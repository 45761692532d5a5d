"""The emitted numeric checks of ``proofs/equalization.py``: real functions whose source
``convsym build`` writes to ``generated/checks/test_<family>.py`` (they may use only the names
that file imports: ``np``, ``ref`` and ``Fraction``)."""

from fractions import Fraction

import numpy as np

import convsym.reference as ref


def test_cle_scale_out_exact():
    # t w, t b per output channel scales that output channel by t, border and groups included
    rng = np.random.default_rng(40)
    for k, s, p, d, groups in [(1, 1, 0, 1, 1), (3, 2, 1, 1, 2), (3, 1, 2, 2, 4), (2, 2, 1, 2, 1)]:
        x = rng.integers(-5, 6, (2, 4, 6, 6)).astype(object)
        w, b = rng.integers(-5, 6, (4, 4 // groups, k, k)).astype(object), rng.integers(-5, 6, 4).astype(object)
        t = np.array([Fraction(int(v), 3) for v in rng.integers(1, 9, 4)], dtype=object)
        lhs = ref.conv2d(x, w * t[:, None, None, None], b * t, s, p, d, groups)
        assert (lhs == ref.conv2d(x, w, b, s, p, d, groups) * t[None, :, None, None]).all()


def test_cle_scale_in_exact():
    # weight column col of output o reads input channel (o // (O / groups)) * (C / groups) + col
    rng = np.random.default_rng(41)
    for k, s, p, d, groups, O in [(1, 1, 0, 1, 1, 2), (3, 2, 1, 1, 2, 4), (3, 1, 2, 2, 4, 4), (2, 2, 1, 2, 2, 6)]:
        u = rng.integers(-5, 6, (2, 4, 6, 6)).astype(object)
        w = rng.integers(-5, 6, (O, 4 // groups, k, k)).astype(object)
        sc = np.array([Fraction(int(v), 4) for v in rng.integers(1, 9, 4)], dtype=object)
        ws = w.copy()
        for o in range(O):
            for col in range(4 // groups):
                ws[o, col] = w[o, col] * sc[(o // (O // groups)) * (4 // groups) + col]
        lhs = ref.conv2d(u, ws, None, s, p, d, groups)
        assert (lhs == ref.conv2d(u * sc[None, :, None, None], w, None, s, p, d, groups)).all()


def test_folding_cle_not_homogeneous_numeric():
    # on random networks equalization changes the output through relu6, hard-swish and sigmoid
    rng = np.random.default_rng(55)
    x = 4 * rng.standard_normal((1, 3, 6, 6))
    w1, w2 = 3 * rng.standard_normal((4, 3, 3, 3)), rng.standard_normal((2, 4, 1, 1))
    s = np.array([0.25, 4.0, 0.5, 3.0])
    for act in (lambda h: np.clip(h, 0, 6), lambda h: h * np.clip(h + 3, 0, 6) / 6, lambda h: 1 / (1 + np.exp(-h))):
        lhs = ref.conv2d(act(ref.conv2d(x, w1)), w2)
        rhs = ref.conv2d(act(ref.conv2d(x, w1 / s[:, None, None, None])), w2 * s[None, :, None, None])
        assert np.abs(lhs - rhs).max() > 1e-3


def _confirm_scaling_witness(witness):
    # one channel, 1x1 kernels, one pixel: both sides exactly, through the activation
    acts = {
        "relu": lambda h: np.maximum(h, 0),
        "relu6": lambda h: np.minimum(np.maximum(h, 0), 6),
        "hardswish": lambda h: h * np.minimum(np.maximum(h + 3, 0), 6) / 6,
        "sigmoid": lambda h: 1 / (1 + np.exp(-h.astype(float))),
    }
    act = acts[witness["activation"]]
    w1, w2, x, s = (Fraction(witness[k]) for k in ("w1", "w2", "x", "s"))
    W1, W2 = np.full((1, 1, 1, 1), w1, dtype=object), np.full((1, 1, 1, 1), w2, dtype=object)
    xx = np.full((1, 1, 1, 1), x, dtype=object)
    lhs = ref.conv2d(act(ref.conv2d(xx, W1)), W2)[0, 0, 0, 0]
    rhs = ref.conv2d(act(ref.conv2d(xx, W1 / s)), W2 * s)[0, 0, 0, 0]
    assert abs(float(lhs) - float(Fraction(witness["lhs"]))) < 1e-12
    assert abs(float(rhs) - float(Fraction(witness["rhs"]))) < 1e-12
    assert abs(float(lhs) - float(rhs)) > 1e-3


def test_folding_cle_equalized_ranges_numeric():
    rng = np.random.default_rng(56)
    w1, w2 = rng.standard_normal((6, 3, 3, 3)), rng.standard_normal((5, 6, 1, 1))
    r1, r2 = np.abs(w1).max(axis=(1, 2, 3)), np.abs(w2).max(axis=(0, 2, 3))
    s = np.sqrt(r1 * r2) / r2
    np.testing.assert_allclose(np.abs(w1 / s[:, None, None, None]).max(axis=(1, 2, 3)), np.sqrt(r1 * r2), rtol=1e-12)
    np.testing.assert_allclose(np.abs(w2 * s[None, :, None, None]).max(axis=(0, 2, 3)), np.sqrt(r1 * r2), rtol=1e-12)


def test_folding_cle_optimal_numeric():
    rng = np.random.default_rng(57)
    r1, r2 = rng.random(8) + 0.01, rng.random(8) + 0.01

    def objective(s):
        a, b = r1 / s, r2 * s
        return ((a / a.max()) * (b / b.max())).sum()

    best = objective(np.sqrt(r1 * r2) / r2)
    np.testing.assert_allclose(best, (r1 * r2).sum() / (r1 * r2).max(), rtol=1e-12)
    for _ in range(200):
        assert objective(np.exp(2 * rng.standard_normal(8))) <= best * (1 + 1e-12)


def test_folding_cle_iterated_fixed_point_numeric():
    rng = np.random.default_rng(59)
    w = [rng.standard_normal((6, 3, 3, 3)), rng.standard_normal((6, 1, 3, 3)), rng.standard_normal((4, 6, 1, 1))]
    for _ in range(500):
        r1, r2 = np.abs(w[0]).max(axis=(1, 2, 3)), np.abs(w[1]).max(axis=(1, 2, 3))
        s = np.sqrt(r1 * r2) / r2
        w[0], w[1] = w[0] / s[:, None, None, None], w[1] * s[:, None, None, None]
        r2b, r3 = np.abs(w[1]).max(axis=(1, 2, 3)), np.abs(w[2]).max(axis=(0, 2, 3))
        t = np.sqrt(r2b * r3) / r3
        w[1], w[2] = w[1] / t[:, None, None, None], w[2] * t[None, :, None, None]
        if max(np.abs(np.log(s)).max(), np.abs(np.log(t)).max()) < 1e-12:
            break
    else:
        raise AssertionError("no fixed point")


def _cle_rescaling_is_exact(seed, act):
    # dividing channel i of layer 1 by s_i > 0 and multiplying what layer 2 reads of it by s_i
    # changes nothing through a positively homogeneous activation act
    rng = np.random.default_rng(seed)
    for C, M, O, k1, k2, p1, p2, g2 in [(3, 4, 5, 3, 3, 1, 1, 1), (2, 6, 6, 1, 3, 0, 1, 6), (4, 3, 2, 3, 1, 2, 0, 1)]:
        x = rng.standard_normal((2, C, 7, 7))
        w1, b1 = rng.standard_normal((M, C, k1, k1)), rng.standard_normal(M)
        w2, b2 = rng.standard_normal((O, M // g2, k2, k2)), rng.standard_normal(O)
        lhs = ref.conv2d(act(ref.conv2d(x, w1, b1, padding=p1)), w2, b2, padding=p2, groups=g2)
        s = np.exp(rng.standard_normal(M))           # any positive scales
        cols = (np.arange(O)[:, None] // (O // g2)) * (M // g2) + np.arange(M // g2)[None, :]
        w1s, b1s, w2s = w1 / s[:, None, None, None], b1 / s, w2 * s[cols][:, :, None, None]
        rhs = ref.conv2d(act(ref.conv2d(x, w1s, b1s, padding=p1)), w2s, b2, padding=p2, groups=g2)
        np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)


def test_folding_cle_relu_numeric():
    _cle_rescaling_is_exact(50, lambda h: np.maximum(h, 0))


def test_folding_cle_leaky_relu_numeric():
    _cle_rescaling_is_exact(51, lambda h: np.where(h >= 0, h, 0.1 * h))


def test_folding_cle_prelu_numeric():
    def prelu(h):  # one slope per channel
        return np.where(h >= 0, h, np.linspace(-0.5, 0.5, h.shape[1])[None, :, None, None] * h)

    _cle_rescaling_is_exact(52, prelu)


def test_folding_cle_identity_numeric():
    _cle_rescaling_is_exact(53, lambda h: h)
