"""The emitted numeric checks of ``proofs/space_to_depth.py``: real functions whose source
``convsym build`` writes to ``generated/checks/test_<family>.py`` (they may use only the names
that file imports: ``np``, ``ref`` and ``Fraction``).

A name marked ``# noqa: F821`` is defined in the emitted file only: ``_witness_array`` (the
shared helper of the witness re-tests, ``convsym.render.checks.WITNESS_HELPER``) or a ``_costs_*``
function (a proved formula printed as Python by ``convsym.render.export.python_function``)."""

from fractions import Fraction

import numpy as np

import convsym.reference as ref


def test_space_to_depth_one_channel_exact():
    # w'[o, 0, C u + a, C v + b] = w[o, a C + b, u, v], built by hand (not with pixel_shuffle)
    rng = np.random.default_rng(61)
    for cr, kk, ss in [(1, 2, 1), (2, 1, 2), (2, 3, 1), (3, 2, 2)]:
        y = rng.integers(-9, 10, (1, 1, cr * 6, cr * 7)).astype(object)
        w = rng.integers(-9, 10, (2, cr * cr, kk, kk)).astype(object)
        z = ref.pixel_unshuffle(y, cr)                       # z[(a, b), p, q] = y[C p + a, C q + b]
        assert all((z[0, a * cr + b] == y[0, 0, a::cr, b::cr]).all() for a in range(cr) for b in range(cr))
        wp = np.zeros((2, 1, cr * kk, cr * kk), dtype=object)
        for a in range(cr):
            for b in range(cr):
                for u in range(kk):
                    for v in range(kk):
                        wp[:, 0, cr * u + a, cr * v + b] = w[:, a * cr + b, u, v]
        lhs = ref.conv2d(z, w, stride=ss)
        rhs = ref.conv2d(y, wp, stride=cr * ss)
        assert lhs.shape == rhs.shape and (lhs == rhs).all()


def test_space_to_depth_numeric():
    rng = np.random.default_rng(60)
    for cr, dd, kk, ss, pp in [(2, 1, 3, 1, 1), (3, 2, 2, 2, 0), (4, 1, 3, 1, 1)]:
        y = rng.standard_normal((1, dd, cr * 7, cr * 7))
        w, b = rng.standard_normal((3, dd * cr * cr, kk, kk)), rng.standard_normal(3)
        lhs = ref.conv2d(ref.pixel_unshuffle(y, cr), w, b, stride=ss, padding=pp)
        rhs = ref.conv2d(y, ref.pixel_shuffle(w, cr), b, stride=cr * ss, padding=cr * pp)
        np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)
        wp = ref.pixel_shuffle(w, cr)
        for a in range(cr):
            for bb in range(cr):
                assert (wp[:, :, a::cr, bb::cr] == w.reshape(3, dd, cr, cr, kk, kk)[:, :, a, bb]).all()


def test_space_to_depth_costs_equal():
    for cr, kk, ss, pp, h in [(16, 3, 1, 1, 8), (2, 3, 2, 0, 9), (3, 1, 1, 0, 4)]:
        small = (h + 2 * pp - kk) // ss + 1
        big = (cr * h + 2 * cr * pp - cr * kk) // (cr * ss) + 1
        assert small == big
        assert cr * cr * kk * kk == (cr * kk) ** 2
    x = np.ones((1, 256, 4, 4))
    w = np.ones((1, 256, 3, 3))
    y = ref.pixel_shuffle(x, 16)
    assert y.shape == (1, 1, 64, 64) and ref.pixel_shuffle(w, 16).shape == (1, 1, 48, 48)
    assert ref.conv2d(y, ref.pixel_shuffle(w, 16), stride=16).shape == ref.conv2d(x, w).shape == (1, 1, 2, 2)


def _confirm_s2d_witness(witness):
    sz = witness["sizes"]
    cr = sz["r"]
    y, w = _witness_array(witness["inputs"]["y"]), _witness_array(witness["inputs"]["w"])  # noqa: F821
    lhs = ref.conv2d(ref.pixel_unshuffle(y[None], cr), w)[0]
    if sz.get("variant") == "literal":
        rhs = ref.conv2d(y[None], y[None], stride=cr)[0]           # the feature map used as the weight
        try:                                                       # the line as written: shuffle the shuffled map
            ref.pixel_shuffle(y[None], cr)
            raise AssertionError("pixel_shuffle of a 1-channel map should fail")
        except ValueError:
            pass
    else:
        wt = w.reshape(w.shape[0], -1, cr, cr, w.shape[2], w.shape[3]).transpose(0, 1, 3, 2, 4, 5).reshape(w.shape)
        rhs = ref.conv2d(y[None], ref.pixel_shuffle(wt, cr), stride=cr)[0]
    entry = tuple(witness["entry"])
    assert lhs[entry] == Fraction(witness["lhs"]) and rhs[entry] == Fraction(witness["rhs"])
    assert lhs[entry] != rhs[entry]
