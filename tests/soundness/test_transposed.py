"""False claims about transposed and sub-pixel convolutions: the kernel must refute each with a
witness, re-evaluated here independently (plain loops or convsym.reference)."""

from __future__ import annotations

import importlib.util
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy
from _support import assert_refuted, witness_signals
from sympy import IndexedBase

from convsym import reference as ref
from convsym.exact import ops
from convsym.exact import transposed as OT
from convsym.proof import General, Identity, minted
from convsym.symbolic import opdefs_transposed as T
from convsym.symbolic.rules import Unfold
from convsym.symbolic.sums import Let, SumExpr, index
from convsym.symbolic.symbols import sizes

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    """A proof script as a module, its folder importable for its helpers (``_transposed``)."""
    folder = str(ROOT / "proofs")
    sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location(f"_soundness_{name}", ROOT / "proofs" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
    return module


def _arrays(data) -> dict[str, np.ndarray]:
    out = {}
    for name, spec in data["inputs"].items():
        arr = np.zeros(spec["shape"], dtype=object)
        arr[...] = 0
        for idx, val in spec["nonzero"]:
            arr[tuple(idx)] = Fraction(val)
        out[name] = arr
    return out


def _identity_recheck(lhs_ref, rhs_ref):
    def recheck(data):
        arrays = _arrays(data)
        entry = tuple(data["entry"])
        return lhs_ref(**arrays)[entry], rhs_ref(**arrays)[entry]
    return recheck


# ---------------------------------------------------------------------------------------------
# BatchNorm folded along axis 0 of a transposed weight (the bug class of a fusion pass)


def _bn_inputs(c, **_):
    return {"x": (1, c, 2, 2), "w": (c, c, 2, 2), "gamma": (c,)}


def _bn_after(T_, c, **_):
    return OT.conv_transpose2d(T_["x"], T_["w"], stride=2) * T_["gamma"].reshape((1, c, 1, 1))


def _axis0(T_, c, **_):
    return OT.conv_transpose2d(T_["x"], T_["w"] * T_["gamma"].reshape((c, 1, 1, 1)), stride=2)


def test_batchnorm_folded_along_axis0_is_refuted():
    claim = Identity("soundness.tbn-axis0", "BN folded along axis 0", inputs=_bn_inputs, lhs=_bn_after, rhs=_axis0,
                     family=[dict(c=1), dict(c=2)])
    v = claim.prove()
    data = assert_refuted(v, _identity_recheck(
        lambda x, w, gamma: ref.conv_transpose2d(x, w, stride=2) * gamma[None, :, None, None],
        lambda x, w, gamma: ref.conv_transpose2d(x, w * gamma[:, None, None, None], stride=2)))
    assert data["sizes"] == {"c": 2}  # with one channel the two axes coincide: the family's first instance holds


# ---------------------------------------------------------------------------------------------
# two transposed convolutions merged with the forward-convolution kernel formula


def _tt_inputs(**_):
    return {"x": (1, 1, 2, 2), "w1": (1, 1, 2, 2), "w2": (1, 1, 2, 2)}


def _two(T_, **_):
    return OT.conv_transpose2d(OT.conv_transpose2d(T_["x"], T_["w1"], stride=1), T_["w2"], stride=2)


def _forward_formula(T_, **_):
    # merge.strided-dilated's kernel (t = d1 a + s1 d2 b with s1 = 1): the right size, the wrong map
    W = ops.merge_kernels(T_["w1"], T_["w2"], stride1=1, dilation1=1, dilation2=2)
    return OT.conv_transpose2d(T_["x"], W, stride=2)


def test_transposed_merge_with_the_convolution_kernel_is_refuted():
    v = Identity("soundness.tt-wrong-kernel", "wrong merge kernel", inputs=_tt_inputs, lhs=_two,
                 rhs=_forward_formula, family=[dict()]).prove()

    def wrong(x, w1, w2):
        W = np.zeros((1, 1, 4, 4), dtype=object)
        W[...] = 0
        for a in range(2):
            for b in range(2):
                for c in range(2):
                    for e in range(2):
                        W[0, 0, a + 2 * b, c + 2 * e] += w1[0, 0, a, c] * w2[0, 0, b, e]
        return ref.conv_transpose2d(x, W, stride=2)

    assert_refuted(v, _identity_recheck(
        lambda x, w1, w2: ref.conv_transpose2d(ref.conv_transpose2d(x, w1), w2, stride=2), wrong))


# ---------------------------------------------------------------------------------------------
# sub-pixel with the wrong border, and with the kernel not flipped (general claims, all sizes)

n, K, r = sizes("n K r")
(P,) = index("P")
(i,) = index("i")
x, W, V = (IndexedBase(q) for q in ("x", "W", "V"))
V_def = Let(V, lambda tt: SumExpr.of(T.subpixel_kernel(W, K, r, tt)))


def _transposed_1d(sig, K_, r_, pad, n_, i_):
    # the transposed convolution, stride r, kernel r K, of the mapped weights, by loops
    total = 0
    for m in range(n_):
        for b in range(r_ * K_):
            if r_ * m + b - pad == i_:
                phi, q = b % r_, b // r_
                total += sig["W"][phi, K_ - 1 - q] * sig["x"][m]
    return total


def _subpixel_1d(sig, K_, r_, P_, n_, i_):
    j, phi = divmod(i_, r_)
    return sum(sig["W"][phi, a] * sig["x"][j + a - P_] for a in range(K_) if 0 <= j + a - P_ <= n_ - 1)


@pytest.mark.parametrize("pad_shift", [1, -1])
def test_subpixel_with_the_wrong_border_is_refuted(pad_shift):
    pad = sympy.expand(r * (K - 1 - P) + pad_shift)
    claim = General("soundness.subpixel-border", "wrong border",
                    lhs=T.conv_transpose1d(x, V, n, r * K, r, pad, 1, i), rhs=T.subpixel1d(x, W, n, K, P, r, i),
                    lets=[V_def], size_hypotheses=[sympy.Ge(P, 0), sympy.Le(P, K - 1), sympy.Ge(i, 0)],
                    derivation=[Unfold("conv_transpose1d")], instances=[dict(n=3, K=2, r=2, P=1)])
    v = claim.prove()

    def recheck(data):
        sig, _ = witness_signals(data["inputs"])
        sz, pos = data["sizes"], data["positions"]
        pad_v = sz["r"] * (sz["K"] - 1 - pos["P"]) + pad_shift
        lhs = _transposed_1d(sig, sz["K"], sz["r"], pad_v, sz["n"], pos["i"])
        return lhs, _subpixel_1d(sig, sz["K"], sz["r"], pos["P"], sz["n"], pos["i"])

    assert_refuted(v, recheck)


# ---------------------------------------------------------------------------------------------
# the documented non-laws of the two families: each refuted, its witness re-evaluated here


def _retest_refutation(v, sides):
    assert v.verdict == "refuted" and v.expected == "refuted"
    assert v.witness is not None and minted(v.witness)
    inputs = {}
    for key, spec in v.witness.data["inputs"].items():
        if isinstance(spec, dict):
            inputs[key] = np.array([Fraction(q) for q in spec["values"]], dtype=object).reshape(spec["shape"])
        else:
            inputs[key] = spec
    lhs, rhs = sides(**inputs)
    assert np.shape(lhs) != np.shape(rhs) or not np.array_equal(np.asarray(lhs), np.asarray(rhs))
    return inputs


def test_output_padding_at_least_max_stride_dilation_is_refuted():
    mod = _load("transposed")
    for name in ("padding_too_large", "padding_dilation"):
        v = getattr(mod, name).prove()
        inputs = _retest_refutation(v, lambda n, k, s, p, q, d: (
            ((n - 1) * s - 2 * p + d * (k - 1) + q + 1 + 2 * p - d * (k - 1) - 1) // s + 1, n))
        assert inputs["q"] >= inputs["s"]
    # and the reference rejects q >= max(s, d), naming the rule
    with pytest.raises(ValueError, match="output_padding=2 must be smaller than stride=2 or dilation=1"):
        ref.conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)), stride=2, output_padding=2)


def test_merges_with_padding_in_the_first_layer_are_refuted():
    mod = _load("transposed_merge")

    def tt(x, w1, w2, s1, s2, p1):
        lhs = ref.conv_transpose2d(ref.conv_transpose2d(x, w1, stride=s1, padding=(p1, 0)), w2, stride=s2)
        W = np.zeros((1, 1, s2 * (w1.shape[2] - 1) + w2.shape[2], 1), dtype=object)
        W[...] = 0
        for a in range(w1.shape[2]):
            for b in range(w2.shape[2]):
                W[0, 0, s2 * a + b, 0] += w1[0, 0, a, 0] * w2[0, 0, b, 0]
        return lhs, ref.conv_transpose2d(x, W, stride=s1 * s2, padding=(s2 * p1, 0))

    _retest_refutation(mod.merge_padded_first.prove(), tt)
    v = mod.conv_after_padded.prove()
    assert v.verdict == "refuted" and minted(v.witness)


def test_batchnorm_axis0_refutation_of_the_family():
    mod = _load("transposed_merge")
    _retest_refutation(mod.bn_fold_axis0.prove(), lambda x, w, scale: (
        ref.conv_transpose2d(x, w, stride=2) * scale[None, :, None, None],
        ref.conv_transpose2d(x, w * scale[:, None, None, None], stride=2)))


def test_subpixel_border_refutations_of_the_family():
    mod = _load("subpixel")
    v = mod.padding_too_large.prove()

    def sides(x, W, r, P_before, P_after):
        # the mapped kernel (one column per width phase), transposed padding clipped at 0
        K_ = W.shape[2]
        Vm = np.zeros((W.shape[1], 1, r * K_, r), dtype=object)
        Vm[...] = 0
        for phase in range(r * r):
            for a in range(K_):
                Vm[:, 0, phase // r + r * (K_ - 1 - a), phase % r] = W[phase, :, a, 0]
        return (ref.pixel_shuffle(ref.conv2d(x, W, padding=((P_before, P_after), (0, 0))), r),
                ref.conv_transpose2d(x, Vm, stride=r, padding=(max(0, r * (K_ - 1 - P_before)), 0)))

    inputs = _retest_refutation(v, sides)
    assert inputs["P_before"] >= inputs["W"].shape[2]
    for theorem in (mod.asymmetric, mod.phase_bias, mod.converse_length):
        v = theorem.prove()
        assert v.verdict == "refuted" and minted(v.witness), (theorem.name, v.error)
