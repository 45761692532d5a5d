"""The emitted numeric checks of ``proofs/bias_bn.py``: real functions whose source
``convsym build`` writes to ``generated/checks/test_<family>.py`` (they may use only the names
that file imports: ``np``, ``ref`` and ``Fraction``).

A name marked ``# noqa: F821`` is defined in the emitted file only: ``_witness_array`` (the
shared helper of the witness re-tests, ``convsym.render.checks.WITNESS_HELPER``)."""

from fractions import Fraction

import numpy as np

import convsym.reference as ref


def test_folding_bias_through_conv_numeric():
    rng = np.random.default_rng(10)
    for C, O, k, groups, stride in [(1, 1, 1, 1, 1), (4, 6, 3, 2, 1), (6, 6, 3, 6, 2), (4, 2, 2, 1, 1)]:
        x = rng.standard_normal((2, C, 7, 8))
        w, b1 = rng.standard_normal((O, C // groups, k, k)), rng.standard_normal(C)
        lhs = ref.conv2d(x + b1[None, :, None, None], w, stride=stride, groups=groups)
        # column k of output o reads input channel (o // (O/g)) * (C/g) + k
        cols = (np.arange(O)[:, None] // (O // groups)) * (C // groups) + np.arange(C // groups)[None, :]
        through = (w.sum(axis=(2, 3)) * b1[cols]).sum(axis=1)
        np.testing.assert_allclose(lhs, ref.conv2d(x, w, through, stride=stride, groups=groups),
                                   rtol=1e-10, atol=1e-10)


def test_folding_bias_through_conv_exact():
    rng = np.random.default_rng(11)
    x = rng.integers(-9, 10, size=(1, 4, 5, 5)).astype(object)
    w = rng.integers(-9, 10, size=(4, 2, 3, 3)).astype(object)
    b1 = np.array([Fraction(1, 3), -2, 5, Fraction(7, 2)], dtype=object)
    cols = (np.arange(4)[:, None] // 2) * 2 + np.arange(2)[None, :]
    through = (w.sum(axis=(2, 3)) * b1[cols]).sum(axis=1)
    assert (ref.conv2d(x + b1[None, :, None, None], w, groups=2) == ref.conv2d(x, w, through, groups=2)).all()


def test_folding_bias_padded_ring_numeric():
    rng = np.random.default_rng(12)
    x, w, b1 = rng.standard_normal((1, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(2)
    lhs = ref.conv2d(x + b1[None, :, None, None], w, padding=1)
    rhs = ref.conv2d(x, w, w.sum(axis=(2, 3)).dot(b1), padding=1)
    np.testing.assert_allclose(lhs[:, :, 1:-1, 1:-1], rhs[:, :, 1:-1, 1:-1], rtol=1e-10, atol=1e-10)
    assert np.abs(lhs - rhs)[:, :, 0, :].max() > 1e-8  # the ring is wrong


def test_folding_bn_after_conv_numeric():
    rng = np.random.default_rng(20)
    for C, O, k, groups, stride, pad, dil in [(3, 4, 3, 1, 1, 1, 1), (4, 4, 3, 4, 2, 1, 1), (2, 6, 2, 2, 1, 0, 2)]:
        x = rng.standard_normal((2, C, 9, 9))
        w, b = rng.standard_normal((O, C // groups, k, k)), rng.standard_normal(O)
        mean, var = rng.standard_normal(O), rng.random(O) + 0.1
        gamma, beta, eps = rng.standard_normal(O), rng.standard_normal(O), 1e-5
        lhs = ref.batch_norm(ref.conv2d(x, w, b, stride, pad, dil, groups), mean, var, gamma, beta, eps)
        a = gamma / np.sqrt(var + eps)
        rhs = ref.conv2d(x, w * a[:, None, None, None], (b - mean) * a + beta, stride, pad, dil, groups)
        np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)


def test_folding_bn_after_conv_exact():
    rng = np.random.default_rng(21)
    x = rng.integers(-5, 6, size=(1, 2, 5, 5)).astype(object)
    w = rng.integers(-5, 6, size=(3, 2, 3, 3)).astype(object)
    b, mean = np.array([1, -2, 3], dtype=object), np.array([Fraction(1, 2), 0, -1], dtype=object)
    gamma, beta = np.array([2, -1, 3], dtype=object), np.array([0, 5, Fraction(-1, 3)], dtype=object)
    # var + eps must be squares of rationals for exact arithmetic: 4, 9/4 and 1/4
    var, eps = np.array([Fraction(15, 4), 2, 0], dtype=object), Fraction(1, 4)
    root = np.array([2, Fraction(3, 2), Fraction(1, 2)], dtype=object)
    lhs = ref.batch_norm(ref.conv2d(x, w, b, padding=1), mean, var, gamma, beta, eps)
    a = gamma / root
    assert (lhs == ref.conv2d(x, w * a[:, None, None, None], (b - mean) * a + beta, padding=1)).all()


def test_folding_bn_after_conv_exact_strided_grouped():
    # var + eps is a square of a fraction for every channel, so the fold is checked with equality
    rng = np.random.default_rng(22)
    roots = np.array([Fraction(1, 2), Fraction(2), Fraction(5, 3), Fraction(1)], dtype=object)
    eps = Fraction(1, 100000)
    var = roots * roots - eps
    for k, s, p, d, groups in [(1, 2, 2, 1, 2), (3, 1, 2, 2, 1), (2, 2, 0, 2, 2), (3, 2, 2, 1, 4)]:
        x = rng.integers(-5, 6, (1, 4, 5, 5)).astype(object)
        w, b = rng.integers(-5, 6, (4, 4 // groups, k, k)).astype(object), rng.integers(-5, 6, 4).astype(object)
        mean = np.array([Fraction(int(v), 3) for v in rng.integers(-6, 7, 4)], dtype=object)
        gamma, beta = rng.integers(-4, 5, 4).astype(object), rng.integers(-4, 5, 4).astype(object)
        lhs = ref.batch_norm(ref.conv2d(x, w, b, s, p, d, groups), mean, var, gamma, beta, eps)
        a = gamma / roots
        rhs = ref.conv2d(x, w * a[:, None, None, None], (b - mean) * a + beta, s, p, d, groups)
        assert (lhs == rhs).all()


def _bn_before_fold(w, b, mean, var, gamma, beta, eps, groups=1):
    a = gamma / np.sqrt(var + eps)
    h = beta - a * mean
    O, Cg = w.shape[:2]
    cols = (np.arange(O)[:, None] // (O // groups)) * Cg + np.arange(Cg)[None, :]
    return w * a[cols][:, :, None, None], b + (w.sum(axis=(2, 3)) * h[cols]).sum(axis=1)


def test_folding_bn_before_conv_numeric():
    rng = np.random.default_rng(30)
    for C, O, k, groups, stride, dil in [(3, 4, 3, 1, 1, 1), (4, 4, 3, 4, 2, 1), (4, 6, 2, 2, 1, 2)]:
        x = rng.standard_normal((2, C, 9, 9))
        w, b = rng.standard_normal((O, C // groups, k, k)), rng.standard_normal(O)
        mean, var = rng.standard_normal(C), rng.random(C) + 0.1
        gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
        lhs = ref.conv2d(ref.batch_norm(x, mean, var, gamma, beta, 1e-3), w, b, stride, 0, dil, groups)
        w2, b2 = _bn_before_fold(w, b, mean, var, gamma, beta, 1e-3, groups)
        np.testing.assert_allclose(lhs, ref.conv2d(x, w2, b2, stride, 0, dil, groups), rtol=1e-10, atol=1e-10)


def test_folding_bn_before_conv_exact_strided_grouped():
    # no padding; the folded weight scales input channel c (the column a weight reads) by gamma_c / root_c
    rng = np.random.default_rng(31)
    roots = np.array([Fraction(1, 2), Fraction(3), Fraction(7, 4), Fraction(1)], dtype=object)
    var, eps = roots * roots - Fraction(1, 1000), Fraction(1, 1000)
    for k, s, d, groups, O in [(1, 2, 1, 2, 2), (3, 1, 2, 1, 3), (2, 2, 2, 2, 4), (3, 2, 1, 4, 4)]:
        x = rng.integers(-5, 6, (1, 4, 7, 7)).astype(object)
        w, b = rng.integers(-5, 6, (O, 4 // groups, k, k)).astype(object), rng.integers(-5, 6, O).astype(object)
        mean = np.array([Fraction(int(v), 5) for v in rng.integers(-9, 10, 4)], dtype=object)
        gamma, beta = rng.integers(-4, 5, 4).astype(object), rng.integers(-4, 5, 4).astype(object)
        lhs = ref.conv2d(ref.batch_norm(x, mean, var, gamma, beta, eps), w, b, s, 0, d, groups)
        a, shift = gamma / roots, beta - gamma / roots * mean
        wf, bf = w.copy(), b.copy()
        for o in range(O):
            first = (o // (O // groups)) * (4 // groups)     # the first input channel output o reads
            for col in range(4 // groups):
                wf[o, col] = w[o, col] * a[first + col]
                bf[o] += w[o, col].sum() * shift[first + col]
        assert (lhs == ref.conv2d(x, wf, bf, s, 0, d, groups)).all()


def test_folding_bn_before_padded_ring_numeric():
    rng = np.random.default_rng(31)
    x, w, b = rng.standard_normal((1, 2, 7, 7)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    mean, var, gamma, beta = rng.standard_normal(2), rng.random(2) + 0.5, rng.standard_normal(2), rng.standard_normal(2)
    lhs = ref.conv2d(ref.batch_norm(x, mean, var, gamma, beta), w, b, padding=1)
    a = gamma / np.sqrt(var + 1e-5)
    w2, b2 = w * a[None, :, None, None], b + w.sum(axis=(2, 3)).dot(beta - a * mean)
    rhs = ref.conv2d(x, w2, b2, padding=1)
    np.testing.assert_allclose(lhs[:, :, 1:-1, 1:-1], rhs[:, :, 1:-1, 1:-1], rtol=1e-10, atol=1e-10)
    assert np.abs(lhs - rhs).max() > 1e-6  # the ring is wrong


def test_folding_bn_before_repair_numeric():
    rng = np.random.default_rng(32)
    for C, O, k, p, stride, groups in [(2, 3, 3, 1, 1, 1), (4, 4, 3, 2, 2, 2), (3, 3, 5, 2, 1, 3)]:
        x, w, b = rng.standard_normal((2, C, 8, 8)), rng.standard_normal((O, C // groups, k, k)), rng.standard_normal(O)
        mean, var = rng.standard_normal(C), rng.random(C) + 0.5
        gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
        lhs = ref.conv2d(ref.batch_norm(x, mean, var, gamma, beta), w, b, stride, p, 1, groups)
        a = gamma / np.sqrt(var + 1e-5)
        q = mean - beta / a                      # bn(q) = 0
        xq = np.empty((2, C, 8 + 2 * p, 8 + 2 * p))
        xq[...] = q[None, :, None, None]
        xq[:, :, p:-p, p:-p] = x
        cols = (np.arange(O)[:, None] // (O // groups)) * (C // groups) + np.arange(C // groups)[None, :]
        w2 = w * a[cols][:, :, None, None]
        b2 = b + (w.sum(axis=(2, 3)) * (beta - a * mean)[cols]).sum(axis=1)
        np.testing.assert_allclose(lhs, ref.conv2d(xq, w2, b2, stride, 0, 1, groups), rtol=1e-9, atol=1e-9)


def _confirm_bias_pad_witness(witness):
    x, w, b1 = (_witness_array(witness["inputs"][k]) for k in ("x", "w", "b1"))  # noqa: F821
    p = witness["sizes"]["p"]
    lhs = ref.conv2d((x + b1[:, None, None])[None], w, padding=p)[0]
    rhs = ref.conv2d(x[None], w, w.sum(axis=(2, 3)).dot(b1), padding=p)[0]
    entry = tuple(witness["entry"])
    assert lhs[entry] == Fraction(witness["lhs"]) and rhs[entry] == Fraction(witness["rhs"])
    assert lhs[entry] != rhs[entry]


def _confirm_bn_pad_witness(witness):
    T = {k: _witness_array(s) for k, s in witness["inputs"].items()}  # noqa: F821
    p = witness["sizes"]["p"]
    z = (T["x"] - T["mu"][:, None, None]) * (T["gamma"] * T["r"])[:, None, None] + T["beta"][:, None, None]
    lhs = ref.conv2d(z[None], T["w"], T["b"], padding=p)[0]
    a = T["gamma"] * T["r"]
    w2 = T["w"] * a[None, :, None, None]
    b2 = T["b"] + T["w"].sum(axis=(2, 3)).dot(T["beta"] - a * T["mu"])
    rhs = ref.conv2d(T["x"][None], w2, b2, padding=p)[0]
    entry = tuple(witness["entry"])
    assert lhs[entry] == Fraction(witness["lhs"]) and rhs[entry] == Fraction(witness["rhs"])
    assert lhs[entry] != rhs[entry]
