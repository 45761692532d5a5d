"""The emitted numeric checks of ``proofs/converse.py``: real functions whose source
``convsym build`` writes to ``generated/checks/test_<family>.py`` (they may use only the names
that file imports: ``np``, ``ref`` and ``Fraction``)."""


import numpy as np

import convsym.reference as ref


def test_split_polynomial_product_is_the_stacked_kernel():
    # the merged kernel of two stacked layers, read off the reference with unit inputs, is the
    # coefficient list of W1(z) W2(z)
    rng = np.random.default_rng(80)
    for k1, k2 in [(1, 1), (2, 2), (1, 3), (3, 2), (4, 3)]:
        w1, w2 = rng.integers(-9, 10, k1).astype(object), rng.integers(-9, 10, k2).astype(object)
        K = k1 + k2 - 1
        stacked = []
        for t in range(K):
            e = np.zeros((1, 1, K), dtype=object)
            e[...] = 0
            e[0, 0, t] = 1
            out = ref.conv1d(ref.conv1d(e, w1.reshape(1, 1, -1)), w2.reshape(1, 1, -1))
            assert out.shape == (1, 1, 1)
            stacked.append(out[0, 0, 0])
        product = [0] * K
        for a in range(k1):
            for b in range(k2):
                product[a + b] += w1[a] * w2[b]
        assert stacked == product
    # 1 + z^2 has no real root, so [1, 0, 1] is no product of two real kernels of length 2
    assert all(abs(z.imag) > 0.5 for z in np.roots([1, 0, 1]))


def test_split_criterion_examples():
    # 1 - 3z + 2z^2 = (1 - z)(1 - 2z): splits into [1, -1] and [1, -2]
    assert (np.convolve([1, -1], [1, -2]) == [1, -3, 2]).all()
    # 1 + 2z^2 + z^4 = (1 + z^2)^2 has no real root, yet splits (k1 = 3): quadratic factors
    assert (np.convolve([1, 0, 1], [1, 0, 1]) == [1, 0, 2, 0, 1]).all()
    # ... but not with k1 = 2 (a real linear factor would need a real root)
    assert np.all(np.abs(np.roots([1, 0, 2, 0, 1]).imag) > 0.5)


def test_split_channels_kernel_101():
    # two middle channels: [1, 0, 1] = e_0 * [1, 0] + e_1 * [0, 1] (impulse, then the chunk it owns)
    w1 = np.array([[[1, 0]], [[0, 1]]], dtype=object)          # (M=2, C=1, 2): impulses at 0 and 1
    w2 = np.array([[[1, 0], [0, 1]]], dtype=object)            # (O=1, M=2, 2): chunks
    x = np.array([[[3, -1, 4, 1, -5, 9, 2]]], dtype=object)
    two = ref.conv1d(ref.conv1d(x, w1), w2)
    one = ref.conv1d(x, np.array([[[1, 0, 1]]], dtype=object))
    assert (two == one).all()


def _confirm_split_counterexample_witness(witness):
    w = witness["w"]
    # (u0 + u1 z)(v0 + v1 z) = 1 + z^2 forces u0 v0 = u1 v1 = 1 and u0 v1 = -u1 v0, so
    # (u0 v0)(u1 v1) = 1 > 0 but (u0 v1)(u1 v0) = -(u1 v0)^2 <= 0: the two products are the same number
    assert w == [1, 0, 1]
    disc = w[1] ** 2 - 4 * w[0] * w[2]
    assert disc < 0                                        # 1 + z^2 has no real root
    roots = np.roots([w[2], w[1], w[0]])
    assert np.all(np.abs(roots.imag) > 0.5)
    assert np.allclose(np.convolve([1, 1j], [1, -1j]), w)  # the complex split exists
