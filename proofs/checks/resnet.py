"""The emitted numeric checks of ``proofs/resnet.py``: real functions whose source
``convsym build`` writes to ``generated/checks/test_<family>.py`` (they may use only the names
that file imports: ``np``, ``ref`` and ``Fraction``).

A name marked ``# noqa: F821`` is defined in the emitted file only: ``_witness_array`` (the
shared helper of the witness re-tests, ``convsym.render.checks.WITNESS_HELPER``) or a ``_costs_*``
function (a proved formula printed as Python by ``convsym.render.export.python_function``)
or ``RESNET18_AXES`` (a table computed when ``proofs/resnet.py`` runs)."""


import numpy as np

import convsym.reference as ref


def test_costs_im2col_matrix_multiplies_to_the_conv():
    rng = np.random.default_rng(49)
    for n, c_in, h, w, c_out, k, s, p in [(2, 3, 7, 6, 4, 3, 2, 1), (1, 2, 5, 5, 3, 2, 1, 0), (1, 4, 6, 4, 2, 1, 1, 0)]:
        x = rng.standard_normal((n, c_in, h, w))
        wt = rng.standard_normal((c_out, c_in, k, k))
        padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(2, 3))[:, :, ::s, ::s]
        cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(-1, c_in * k * k)
        assert cols.size == _costs_im2col_elements(n, c_in, h, w, k, k, s, s, p, p, 1, 1)  # noqa: F821
        y = (cols @ wt.reshape(c_out, -1).T).reshape(n, windows.shape[2], windows.shape[3], c_out)
        np.testing.assert_allclose(y.transpose(0, 3, 1, 2), ref.conv2d(x, wt, stride=s, padding=p),
                                   rtol=1e-10, atol=1e-10)


def test_costs_grad_input_is_the_transposed_conv_exactly():
    # <dy, conv(x)> = <conv_transpose(dy), x> on integers: the input gradient is the transposed
    # convolution, whose MACs (every dy times every weight) are the forward MACs
    rng = np.random.default_rng(50)
    for n, c_in, h, c_out, k, s, p, g in [(1, 2, 7, 3, 3, 2, 1, 1), (2, 4, 6, 2, 2, 1, 0, 2), (1, 3, 9, 3, 3, 3, 1, 3)]:
        x = rng.integers(-4, 5, size=(n, c_in, h, h)).astype(object)
        w = rng.integers(-4, 5, size=(c_out, c_in // g, k, k)).astype(object)
        y = ref.conv2d(x, w, stride=s, padding=p, groups=g)
        dy = rng.integers(-4, 5, size=y.shape).astype(object)
        op = h + 2 * p - k - (y.shape[2] - 1) * s
        dx = ref.conv_transpose2d(dy, w, stride=s, padding=p, output_padding=op, groups=g)
        assert dx.shape == x.shape
        assert (dy * y).sum() == (dx * x).sum()


def test_costs_grad_weight_makes_the_forward_products():
    rng = np.random.default_rng(51)
    n, c_in, h, c_out, k, p = 2, 2, 5, 3, 3, 1
    x = rng.integers(-4, 5, size=(n, c_in, h, h)).astype(object)
    w = rng.integers(-4, 5, size=(c_out, c_in, k, k)).astype(object)
    y = ref.conv2d(x, w, padding=p)
    dy = rng.integers(-4, 5, size=y.shape).astype(object)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dw = np.zeros(w.shape, dtype=object)
    products = 0
    for b, o, i, j, c, u, v in np.ndindex(n, c_out, y.shape[2], y.shape[3], c_in, k, k):
        dw[o, c, u, v] += dy[b, o, i, j] * xp[b, c, i + u, j + v]
        products += 1
    assert (dy * y).sum() == (dw * w).sum()
    assert products == y.size * c_in * k * k


def test_costs_resnet18_per_axis_counts():
    # every distinct (size, kernel, stride, padding) of ResNet-18 at 224: the dense taps per axis
    # (ones padded with ones) and the real taps (zero padding), from the reference
    for n, k, s, p, dense, real in RESNET18_AXES:  # noqa: F821
        ones = np.ones((1, 1, n, 1))
        padded = np.pad(ones, ((0, 0), (0, 0), (p, p), (0, 0)), constant_values=1)
        assert ref.conv2d(padded, np.ones((1, 1, k, 1)), stride=(s, 1)).sum() == dense
        assert ref.conv2d(ones, np.ones((1, 1, k, 1)), stride=(s, 1), padding=(p, 0)).sum() == real
