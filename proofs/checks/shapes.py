"""The emitted numeric checks of ``proofs/shapes.py``: real functions whose source
``convsym build`` writes to ``generated/checks/test_<family>.py`` (they may use only the names
that file imports: ``np``, ``ref`` and ``Fraction``).

A name marked ``# noqa: F821`` is defined in the emitted file only: ``_witness_array`` (the
shared helper of the witness re-tests, ``convsym.render.checks.WITNESS_HELPER``) or a ``_costs_*``
function (a proved formula printed as Python by ``convsym.render.export.python_function``)."""


import numpy as np

import convsym.reference as ref


def test_costs_conv_output_size_is_the_references():
    rng = np.random.default_rng(40)
    for _ in range(60):
        k, s, d = (int(v) for v in rng.integers(1, 4, size=3))
        p_l, p_r = (int(v) for v in rng.integers(0, 3, size=2))
        n = int(rng.integers(max(1, d * (k - 1) + 1 - p_l - p_r), 12))
        x = np.zeros((1, 1, n, 2))
        w = np.zeros((1, 1, k, 1))
        out = ref.conv2d(x, w, padding=((p_l, p_r), (0, 0)), stride=(s, 1), dilation=(d, 1))
        assert out.shape[2] == _costs_conv_output_size(n, k, s, p_l, p_r, d)  # noqa: F821


def test_costs_ceil_mode_is_the_references():
    rng = np.random.default_rng(41)
    for _ in range(60):
        k, s, d = (int(v) for v in rng.integers(1, 5, size=3))
        p = int(rng.integers(0, k // 2 + 1))
        n = int(rng.integers(max(1, d * (k - 1) + 1 - 2 * p), 14))
        x = np.zeros((1, 1, n, 1))
        out = ref.max_pool2d(x, (k, 1), (s, 1), (p, 0), (d, 1), ceil_mode=True)
        assert out.shape[2] == _costs_pool_output_size_ceil(n, k, s, p, d)  # noqa: F821


def test_costs_same_padding_puts_the_extra_row_last():
    rng = np.random.default_rng(42)
    for k in range(1, 7):
        for d in (1, 2, 3):
            x = rng.standard_normal((1, 2, 9, 8))
            w = rng.standard_normal((3, 2, k, k))
            left, right = _costs_same_left(k, d), _costs_same_right(k, d)  # noqa: F821
            same = ref.conv2d(x, w, padding="same", dilation=d)
            explicit = ref.conv2d(x, w, padding=((left, right), (left, right)), dilation=d)
            assert same.shape == (1, 3, 9, 8)
            np.testing.assert_allclose(same, explicit, rtol=1e-12, atol=1e-12)


def test_costs_transposed_size_is_the_references():
    rng = np.random.default_rng(43)
    for _ in range(60):
        n, k, s, d = (int(v) for v in rng.integers(1, 5, size=4))
        op = int(rng.integers(0, max(s, d)))
        full = (n - 1) * s + d * (k - 1) + 1 + op
        p = int(rng.integers(0, (full - 1) // 2 + 1))
        x, w = np.zeros((1, 1, n, 1)), np.zeros((1, 1, k, 1))
        out = ref.conv_transpose2d(x, w, None, (s, 1), (p, 0), (op, 0), (d, 1))
        assert out.shape[2] == _costs_transposed_size(n, k, s, p, op, d)  # noqa: F821


def _costs_stack_response(x, layers):
    for k, s, d in layers:
        x = ref.conv2d(x, np.ones((1, 1, k, 1)), stride=(s, 1), dilation=(d, 1))
    return x


def test_costs_receptive_field_by_impulses():
    for layers in [[(3, 1, 1), (3, 1, 1)], [(7, 2, 1), (3, 2, 1), (3, 1, 1)], [(3, 1, 2), (2, 2, 3)],
                   [(2, 2, 1), (2, 2, 1), (2, 2, 1)], [(5, 3, 1), (3, 1, 2)]]:
        r, jump = 1, 1
        for k, s, d in layers:
            r, jump = r + d * (k - 1) * jump, jump * s
        n = r + 2 * jump + 1
        reached_0, reached_1 = [], []
        for pos in range(n):
            x = np.zeros((1, 1, n, 1))
            x[0, 0, pos, 0] = 1.0
            y = _costs_stack_response(x, layers)
            if y[0, 0, 0, 0] != 0:
                reached_0.append(pos)
            if y.shape[2] > 1 and y[0, 0, 1, 0] != 0:
                reached_1.append(pos)
        assert max(reached_0) - min(reached_0) + 1 == r
        assert min(reached_1) - min(reached_0) == jump
