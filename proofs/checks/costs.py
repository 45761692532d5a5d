"""The emitted numeric checks of ``proofs/costs.py``: real functions whose source
``convsym build`` writes to ``generated/checks/test_<family>.py`` (they may use only the names
that file imports: ``np``, ``ref`` and ``Fraction``).

A name marked ``# noqa: F821`` is defined in the emitted file only: ``_witness_array`` (the
shared helper of the witness re-tests, ``convsym.render.checks.WITNESS_HELPER``) or a ``_costs_*``
function (a proved formula printed as Python by ``convsym.render.export.python_function``)."""

from fractions import Fraction

import numpy as np

import convsym.reference as ref


def test_costs_conv2d_macs_counted_by_a_convolution_of_ones():
    # pad with ones (not zeros) and convolve ones with ones: every output is the number of its
    # products, C_in/g k_h k_w, so the sum of the output is the number of MACs
    rng = np.random.default_rng(44)
    for _ in range(25):
        g = int(rng.integers(1, 4))
        c_in, c_out = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
        k_h, k_w, s_h, s_w, d_h, d_w = (int(v) for v in rng.integers(1, 4, size=6))
        p_h, p_w = (int(v) for v in rng.integers(0, 3, size=2))
        n = int(rng.integers(1, 3))
        h = int(rng.integers(max(1, d_h * (k_h - 1) + 1 - 2 * p_h), 10))
        w = int(rng.integers(max(1, d_w * (k_w - 1) + 1 - 2 * p_w), 10))
        x = np.pad(np.ones((n, c_in, h, w)), ((0, 0), (0, 0), (p_h, p_h), (p_w, p_w)), constant_values=1)
        y = ref.conv2d(x, np.ones((c_out, c_in // g, k_h, k_w)), stride=(s_h, s_w), dilation=(d_h, d_w), groups=g)
        assert y.sum() == _costs_conv2d_macs(n, c_in, h, w, c_out, k_h, k_w, s_h, s_w, p_h, p_w, d_h, d_w, g)  # noqa: F821


def test_costs_params_are_the_array_sizes():
    for c_in, c_out, k_h, k_w, g in [(3, 64, 7, 7, 1), (32, 32, 3, 3, 32), (8, 12, 1, 3, 4), (6, 4, 2, 2, 2)]:
        weight, bias = np.zeros((c_out, c_in // g, k_h, k_w)), np.zeros(c_out)
        assert weight.size + bias.size == _costs_conv2d_params(c_in, c_out, k_h, k_w, g)  # noqa: F821


def test_costs_flops_count_the_products_and_sums():
    # with Fraction entries the reference computes every product; the flops with a bias are
    # two per MAC: the products, the K - 1 additions of each sum and the bias addition
    rng = np.random.default_rng(45)
    for c_in, c_out, k, g, n in [(2, 2, 3, 1, 5), (4, 2, 2, 2, 4), (3, 3, 1, 3, 3)]:
        x = np.array([[[[Fraction(int(v)) for v in row] for row in ch] for ch in img]
                      for img in rng.integers(-3, 4, size=(1, c_in, n, n))], dtype=object)
        w = rng.integers(-3, 4, size=(c_out, c_in // g, k, k)).astype(object)
        y = ref.conv2d(x, w, np.zeros(c_out, dtype=object), groups=g)
        products = y.size * (c_in // g) * k * k
        assert _costs_conv2d_flops(1, c_in, n, n, c_out, k, k, 1, 1, 0, 0, 1, 1, g) == 2 * products  # noqa: F821


def test_costs_transposed_macs_counted_by_ones():
    # every product of an input element with a weight lands somewhere in the uncropped output:
    # scattering ones with ones and no cropping sums to the number of MACs
    for n, c_in, h, w, c_out, k, s, g in [(1, 4, 5, 5, 2, 3, 2, 1), (2, 6, 4, 3, 6, 2, 2, 3), (1, 2, 3, 3, 4, 4, 1, 2)]:
        x = np.ones((n, c_in, h, w))
        y = ref.conv_transpose2d(x, np.ones((c_in, c_out // g, k, k)), stride=s, groups=g)
        assert y.sum() == _costs_conv_transpose2d_macs(n, c_in, h, w, c_out, k, k, g)  # noqa: F821


def test_costs_avg_pooling_is_a_depthwise_conv():
    rng = np.random.default_rng(46)
    for c, h, w, k_h, k_w, s_h, s_w, p_h, p_w in [(3, 9, 8, 3, 3, 2, 2, 1, 1), (2, 7, 7, 2, 3, 2, 1, 1, 0),
                                                  (4, 6, 6, 2, 2, 2, 2, 0, 0)]:
        x = rng.standard_normal((2, c, h, w))
        pooled = ref.avg_pool2d(x, (k_h, k_w), (s_h, s_w), (p_h, p_w))
        kernel = np.full((c, 1, k_h, k_w), 1.0 / (k_h * k_w))
        conv = ref.conv2d(x, kernel, stride=(s_h, s_w), padding=(p_h, p_w), groups=c)
        np.testing.assert_allclose(pooled, conv, rtol=1e-12, atol=1e-12)
        assert pooled.size * k_h * k_w == _costs_avg_pool2d_flops(2, c, h, w, k_h, k_w, s_h, s_w, p_h, p_w)  # noqa: F821


def test_costs_conv1x1_is_a_linear_layer_per_pixel():
    rng = np.random.default_rng(47)
    for n, c_in, c_out, h, w in [(1, 3, 5, 4, 4), (2, 8, 2, 3, 5)]:
        x = rng.integers(-5, 6, size=(n, c_in, h, w)).astype(object)
        weight = rng.integers(-5, 6, size=(c_out, c_in)).astype(object)
        conv = ref.conv2d(x, weight.reshape(c_out, c_in, 1, 1))
        rows = x.transpose(0, 2, 3, 1).reshape(n * h * w, c_in)
        lin = ref.linear(rows, weight).reshape(n, h, w, c_out).transpose(0, 3, 1, 2)
        assert (conv == lin).all()
        assert conv.size * c_in == _costs_linear_macs(n * h * w, c_in, c_out)  # noqa: F821
