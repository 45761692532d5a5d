"""The emitted numeric checks of ``proofs/pooling.py``: real functions whose source
``convsym build`` writes to ``generated/checks/test_<family>.py`` (they may use only the names
that file imports: ``np``, ``ref`` and ``Fraction``).

A name marked ``# noqa: F821`` is defined in the emitted file only: ``_witness_array`` (the
shared helper of the witness re-tests, ``convsym.render.checks.WITNESS_HELPER``) or a ``_costs_*``
function (a proved formula printed as Python by ``convsym.render.export.python_function``)."""

from fractions import Fraction

import numpy as np

import convsym.reference as ref


def test_pooling_per_channel_and_depthwise():
    rng = np.random.default_rng(50)
    x = rng.integers(-9, 10, (2, 3, 7, 6)).astype(object)
    for k, s in [(2, 2), (3, 1), (3, 2)]:
        avg = ref.avg_pool2d(x, k, s)
        dw = ref.conv2d(x, np.full((3, 1, k, k), Fraction(1, k * k), dtype=object), stride=s, groups=3)
        assert (avg == dw).all()
        mx = ref.max_pool2d(x, k, s)
        for ch in range(3):   # per channel: pooling channel ch alone gives the same
            assert (ref.max_pool2d(x[:, ch:ch + 1], k, s)[:, 0] == mx[:, ch]).all()
            assert (ref.avg_pool2d(x[:, ch:ch + 1], k, s)[:, 0] == avg[:, ch]).all()


def test_avgpool_padded_is_depthwise_exact():
    rng = np.random.default_rng(45)
    for k in (1, 2, 3):
        for s in (1, 2):
            for p in range(k // 2 + 1):
                for n in (k + 1, k + 2, 7):
                    x = np.array([Fraction(int(v), 7) for v in rng.integers(-20, 21, 2 * 2 * n * n)],
                                 dtype=object).reshape(2, 2, n, n)
                    kern = np.full((2, 1, k, k), Fraction(1, k * k), dtype=object)
                    pool = ref.avg_pool2d(x, k, s, p)
                    assert (pool == ref.conv2d(x, kern, stride=s, padding=p, groups=2)).all()


def _confirm_pool_witness(witness):
    sz = witness["sizes"]
    x = _witness_array(witness["inputs"]["x"])[None]  # noqa: F821
    k, s, p, extra = sz["k"], sz["s"], sz["p"], sz.get("extra", 0)
    pool = ref.avg_pool2d(x, k, s, p, ceil_mode=sz.get("ceil", False), count_include_pad=sz.get("cip", True))[0]
    kern = np.full((x.shape[1], 1, k, k), Fraction(1, k * k), dtype=object)
    xp = np.zeros((1, x.shape[1], x.shape[2] + 2 * p + extra, x.shape[3] + 2 * p + extra), dtype=object)
    xp[...] = 0
    xp[:, :, p:p + x.shape[2], p:p + x.shape[3]] = x
    conv = ref.conv2d(xp, kern, stride=s, groups=x.shape[1])[0]
    entry = tuple(witness["entry"])
    scale = sz.get("scale", 1)
    assert pool[entry] * scale == Fraction(witness["lhs"]) and conv[entry] * scale == Fraction(witness["rhs"])
    assert pool[entry] != conv[entry]


def test_maxpool_positively_homogeneous():
    rng = np.random.default_rng(52)
    x = rng.integers(-9, 10, (1, 2, 6, 6)).astype(object)
    for s in (Fraction(1, 3), Fraction(5), Fraction(7, 2)):
        assert (ref.max_pool2d(x * s, 2) == ref.max_pool2d(x, 2) * s).all()
    assert not (ref.max_pool2d(-x, 2) == -ref.max_pool2d(x, 2)).all()


def _confirm_maxpool_not_affine_witness(witness):
    x, y = np.zeros((2, 1, 1, 1, 2), dtype=object)
    x[...], y[...] = 0, 0
    x[0, 0, 0, 0], y[0, 0, 0, 1] = 1, 1

    def f(t):
        return ref.max_pool2d(t, (1, 2))[0, 0, 0, 0]

    assert f(x) + f(y) == Fraction(witness["lhs"]) and f(x + y) + f(0 * x) == Fraction(witness["rhs"])
    assert f(x) + f(y) != f(x + y) + f(0 * x)
    rng = np.random.default_rng(51)
    w, bias = rng.standard_normal((1, 1, 1, 2)), rng.standard_normal(1)

    def g(t):
        return ref.conv2d(t.astype(float), w, bias)[0, 0, 0, 0]

    assert np.isclose(g(x) + g(y), g(x + y) + g(0 * x))   # any convolution is affine
