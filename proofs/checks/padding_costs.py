"""The emitted numeric checks of ``proofs/padding_costs.py``: real functions whose source
``convsym build`` writes to ``generated/checks/test_<family>.py`` (they may use only the names
that file imports: ``np``, ``ref`` and ``Fraction``).

A name marked ``# noqa: F821`` is defined in the emitted file only: ``_witness_array`` (the
shared helper of the witness re-tests, ``convsym.render.checks.WITNESS_HELPER``) or a ``_costs_*``
function (a proved formula printed as Python by ``convsym.render.export.python_function``)."""


import numpy as np

import convsym.reference as ref


def _costs_count_taps(c_in, c_out, g, k=3, n=6, p=1):
    x = np.pad(np.ones((1, c_in, n, n)), ((0, 0), (0, 0), (p, p), (p, p)), constant_values=1)
    return ref.conv2d(x, np.ones((c_out, c_in // g, k, k)), groups=g).sum()


def test_costs_doubling_channels_quadruples_the_macs():
    for c_in, c_out, g in [(1, 1, 1), (3, 5, 1), (4, 6, 2)]:
        assert _costs_count_taps(2 * c_in, 2 * c_out, g) == 4 * _costs_count_taps(c_in, c_out, g)
    for c in (1, 3, 4):  # depthwise: the groups double too
        assert _costs_count_taps(2 * c, 2 * c, 2 * c) == 2 * _costs_count_taps(c, c, c)


def _costs_dense_macs(h, w, k, p, s=1, c_in=2, c_out=3):
    x = np.pad(np.ones((1, c_in, h, w)), ((0, 0), (0, 0), (p, p), (p, p)), constant_values=1)
    return ref.conv2d(x, np.ones((c_out, c_in, k, k)), stride=s).sum()


def test_costs_doubling_the_padding_adds_the_exact_ring():
    for h, w, k, p in [(8, 8, 3, 1), (7, 5, 3, 2), (6, 9, 5, 1), (5, 5, 1, 1)]:
        h_out, w_out = h + 2 * p - k + 1, w + 2 * p - k + 1
        delta = 2 * 3 * k * k * (2 * p * w_out + 2 * p * h_out + 4 * p * p)
        assert _costs_dense_macs(h, w, k, 2 * p) - _costs_dense_macs(h, w, k, p) == delta
    for h, k, p, s in [(9, 3, 1, 2), (10, 3, 2, 4), (11, 5, 3, 3)]:  # stride s dividing 2p: 2p/s more rows
        ratio_rows = (h + 4 * p - k) // s + 1 - ((h + 2 * p - k) // s + 1)
        assert ratio_rows == 2 * p // s or 2 * p % s


def test_costs_padding_taps_counted_by_a_convolution_of_ones():
    # a one-channel conv of ones with ones, padded on the left only: the taps of the first m
    # windows that read the left padding are the ones missing from the sum
    for e, k, s, n in [(1, 3, 1, 6), (3, 7, 2, 12), (2, 2, 2, 5), (4, 3, 1, 8), (5, 3, 2, 9)]:
        y = ref.conv2d(np.ones((1, 1, n, 1)), np.ones((1, 1, k, 1)), stride=(s, 1), padding=((e, 0), (0, 0)))
        m = y.shape[2]
        assert m * k - y.sum() == _costs_padding_taps(e, k, s, m)  # noqa: F821


def test_costs_macs_without_padding_counted_by_a_convolution_of_ones():
    # zero padding, ones in, ones as weights: each output is the number of its products of two
    # real numbers, so the sum is the padding-free MAC count
    rng = np.random.default_rng(48)
    for _ in range(25):
        g = int(rng.integers(1, 3))
        c_in, c_out = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
        k_h, k_w, s_h, s_w = (int(v) for v in rng.integers(1, 5, size=4))
        p_h, p_w = (int(v) for v in rng.integers(0, 4, size=2))
        h = int(rng.integers(max(1, k_h - 2 * p_h), 12))
        w = int(rng.integers(max(1, k_w - 2 * p_w), 12))
        y = ref.conv2d(np.ones((2, c_in, h, w)), np.ones((c_out, c_in // g, k_h, k_w)), stride=(s_h, s_w),
                       padding=(p_h, p_w), groups=g)
        assert y.sum() == _costs_macs_without_padding(2, c_in, h, w, c_out, k_h, k_w, s_h, s_w, p_h, p_w, g)  # noqa: F821


def test_costs_resnet18_stem_without_padding():
    y = ref.conv2d(np.ones((1, 1, 224, 224)), np.ones((1, 1, 7, 7)), stride=2, padding=3)
    assert y.sum() == 778 * 778  # 112 windows x 7 taps per axis, minus 4 + 2 on the padding
    assert 64 * 3 * y.sum() == _costs_macs_without_padding(1, 3, 224, 224, 64, 7, 7, 2, 2, 3, 3, 1)  # noqa: F821
