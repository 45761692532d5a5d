"""The emitted numeric checks of ``proofs/correlation.py``: real functions whose source
``convsym build`` writes to ``generated/checks/test_<family>.py`` (they may use only the names
that file imports: ``np``, ``ref`` and ``Fraction``).

A name marked ``# noqa: F821`` is defined in the emitted file only: ``_witness_array`` (the
shared helper of the witness re-tests, ``convsym.render.checks.WITNESS_HELPER``) or a ``_costs_*``
function (a proved formula printed as Python by ``convsym.render.export.python_function``)."""

from fractions import Fraction

import numpy as np

import convsym.reference as ref


def test_true_conv_is_flipped_xcorr():
    rng = np.random.default_rng(30)
    x, w = rng.standard_normal(12), rng.standard_normal(4)
    true = np.convolve(x, w, mode="valid")               # numpy's convolve flips the kernel
    xcorr = ref.conv1d(x[None, None], w[::-1].reshape(1, 1, -1))[0, 0]
    np.testing.assert_allclose(true, xcorr, rtol=1e-12, atol=1e-12)
    img, k2d = rng.standard_normal((1, 1, 6, 7)), rng.standard_normal((1, 1, 3, 2))
    flipped = ref.conv2d(img, k2d[:, :, ::-1, ::-1].copy())[0, 0]
    direct = np.array([[sum(k2d[0, 0, a, b] * img[0, 0, i + 2 - a, j + 1 - b] for a in range(3) for b in range(2))
                        for j in range(6)] for i in range(4)])
    np.testing.assert_allclose(flipped, direct, rtol=1e-12, atol=1e-12)


def test_true_conv_commutative_associative():
    rng = np.random.default_rng(31)
    f, g, h = (rng.integers(-9, 10, n).astype(object) for n in (3, 4, 2))
    assert (np.convolve(f, g) == np.convolve(g, f)).all()
    assert (np.convolve(np.convolve(f, g), h) == np.convolve(f, np.convolve(g, h))).all()


def _true_conv_by_reference(p, q):
    # full true convolution: cross-correlate p, zero padded by len(q) - 1, with the flipped q
    out = ref.conv1d(np.array(p, dtype=object).reshape(1, 1, -1), np.array(q[::-1], dtype=object).reshape(1, 1, -1),
                     padding=len(q) - 1)
    return list(out[0, 0])


def test_true_conv_associative_by_reference():
    rng = np.random.default_rng(32)
    for k1, k2, k3 in [(1, 1, 1), (2, 1, 2), (3, 4, 2), (5, 2, 3)]:
        f, g, h = ([Fraction(int(v), 3) for v in rng.integers(-9, 10, n)] for n in (k1, k2, k3))
        left = _true_conv_by_reference(_true_conv_by_reference(f, g), h)
        right = _true_conv_by_reference(f, _true_conv_by_reference(g, h))
        assert len(left) == k1 + k2 + k3 - 2 and left == right
        # entry t by hand: the sum over a + b + c = t of f_a g_b h_c
        assert left == [sum((f[a] * g[b] * h[t - a - b] for a in range(k1) for b in range(k2) if 0 <= t - a - b < k3),
                            Fraction(0)) for t in range(k1 + k2 + k3 - 2)]


def _vec(spec):
    out = [0] * spec["shape"][0]
    for idx, val in spec["nonzero"]:
        out[idx[0]] = val
    return out


def test_xcorr_stack_true_convolution():
    rng = np.random.default_rng(32)
    x, w1, w2 = rng.standard_normal((1, 1, 15)), rng.standard_normal(3), rng.standard_normal(4)
    two = ref.conv1d(ref.conv1d(x, w1.reshape(1, 1, -1)), w2.reshape(1, 1, -1))
    one = ref.conv1d(x, np.convolve(w1, w2).reshape(1, 1, -1))
    np.testing.assert_allclose(two, one, rtol=1e-12, atol=1e-12)
    wrong = ref.conv1d(x, np.correlate(w2, w1, "full").reshape(1, 1, -1))
    assert not np.allclose(two, wrong)


def _confirm_order_witness(witness):
    x, w1, w2 = (_witness_array(witness["inputs"][k]) for k in ("x", "w1", "w2"))  # noqa: F821
    b1, b2 = (_witness_array(witness["inputs"][k]) if k in witness["inputs"] else None for k in ("b1", "b2"))  # noqa: F821
    lhs = ref.conv2d(ref.conv2d(x[None], w1, b1), w2, b2)[0]
    rhs = ref.conv2d(ref.conv2d(x[None], w2, b2), w1, b1)[0]
    entry = tuple(witness["entry"])
    assert lhs[entry] == Fraction(witness["lhs"]) and rhs[entry] == Fraction(witness["rhs"])
    assert lhs[entry] != rhs[entry]


def test_order_single_channel_numeric():
    rng = np.random.default_rng(40)
    x, w1, w2 = rng.standard_normal((1, 1, 9, 9)), rng.standard_normal((1, 1, 3, 2)), rng.standard_normal((1, 1, 2, 4))
    one, two = ref.conv2d(ref.conv2d(x, w1), w2), ref.conv2d(ref.conv2d(x, w2), w1)
    np.testing.assert_allclose(one, two, rtol=1e-12, atol=1e-12)
    w3, w4 = rng.standard_normal((2, 2, 1, 1)), rng.standard_normal((2, 2, 1, 1))
    y = rng.standard_normal((1, 2, 3, 3))
    assert not np.allclose(ref.conv2d(ref.conv2d(y, w3), w4), ref.conv2d(ref.conv2d(y, w4), w3))


def test_merge_associative_layers():
    rng = np.random.default_rng(41)
    x = rng.integers(-3, 4, (1, 2, 12, 12)).astype(object)
    ws = [rng.integers(-3, 4, (2, 2, k, k)).astype(object) for k in (2, 3, 2)]
    bs = [rng.integers(-3, 4, 2).astype(object) for _ in range(3)]
    y = x
    for w, b in zip(ws, bs, strict=True):
        y = ref.conv2d(y, w, b)
    def merged_kernel(w1, w2):
        size = (w1.shape[2] + w2.shape[2] - 1, w1.shape[3] + w2.shape[3] - 1)
        out = np.zeros((w2.shape[0], w1.shape[1]) + size, dtype=object)
        out[...] = 0
        for p in range(w2.shape[2]):
            for q in range(w2.shape[3]):
                out[:, :, p:p + w1.shape[2], q:q + w1.shape[3]] += np.tensordot(w2[:, :, p, q], w1, axes=(1, 0))
        return out
    left = merged_kernel(merged_kernel(ws[0], ws[1]), ws[2])
    right = merged_kernel(ws[0], merged_kernel(ws[1], ws[2]))
    assert (left == right).all()
    bias = bs[2] + ws[2].sum(axis=(2, 3)).dot(bs[1] + ws[1].sum(axis=(2, 3)).dot(bs[0]))
    assert (ref.conv2d(x, left, bias) == y).all()


def _xcorr_on_integers(p, q):
    """(p cross-correlated with q)_t = sum_n p_n q_{n+t} for sequences given as {index: value}
    (zero elsewhere), on every t where a product exists."""
    return {t: sum((p[n] * q[n + t] for n in p if n + t in q), Fraction(0))
            for t in range(min(q) - max(p), max(q) - min(p) + 1)}


def _confirm_xcorr_witness(witness):
    f = {n: Fraction(v) for n, v in enumerate(_vec(witness["inputs"]["f"]))}
    g = {n: Fraction(v) for n, v in enumerate(_vec(witness["inputs"]["g"]))}
    lhs, rhs = _xcorr_on_integers(f, g), _xcorr_on_integers(g, f)
    t = witness["coordinates"]["t"]  # the statement's index, as the book prints it
    assert lhs.get(t, 0) == Fraction(witness["lhs"]) and rhs.get(t, 0) == Fraction(witness["rhs"])
    assert lhs.get(t, 0) != rhs.get(t, 0)
    assert all(lhs[u] == rhs[-u] for u in lhs)  # it reverses instead: (f star g)_t = (g star f)_{-t}
    # numpy's correlate(q, p, 'full') is the same operation, from its first t
    full = np.correlate(np.array(list(g.values()), dtype=object), np.array(list(f.values()), dtype=object), "full")
    assert [Fraction(int(v)) for v in full] == [lhs[u] for u in sorted(lhs)]


def _confirm_xcorr_assoc_witness(witness):
    f, g, h = ({n: Fraction(v) for n, v in enumerate(_vec(witness["inputs"][name]))} for name in ("f", "g", "h"))
    lhs = _xcorr_on_integers(_xcorr_on_integers(f, g), h)
    rhs = _xcorr_on_integers(f, _xcorr_on_integers(g, h))
    t = witness["coordinates"]["t"]  # the statement's index, as the book prints it
    assert lhs.get(t, 0) == Fraction(witness["lhs"]) and rhs.get(t, 0) == Fraction(witness["rhs"])
    assert lhs.get(t, 0) != rhs.get(t, 0)


def _confirm_stack_witness(witness):
    x, w1, w2 = (np.array(_vec(witness["inputs"][k]), dtype=object) for k in ("x", "w1", "w2"))
    two = ref.conv1d(ref.conv1d(x[None, None], w1[None, None]), w2[None, None])[0, 0]
    kernel = np.array([sum((w1[m] * w2[m + t] for m in range(len(w1)) if 0 <= m + t < len(w2)), 0)
                       for t in range(-(len(w1) - 1), len(w2))], dtype=object)
    one = ref.conv1d(x[None, None], kernel[None, None])[0, 0]
    e = witness["coordinates"]["i"]  # the output position, as the book prints it
    assert two[e] == Fraction(witness["lhs"]) and one[e] == Fraction(witness["rhs"]) and two[e] != one[e]
