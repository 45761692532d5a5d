"""The 2-D sub-pixel definitions (convsym.symbolic.opdefs_subpixel) are what PyTorch computes.

The general theorems subpixel.weight-map-2d and subpixel.converse prove equalities between these
index sums, so the sums themselves are the statement: here they are evaluated exactly on random
integer inputs and compared entry by entry with the NumPy reference (pixel shuffle of a convolution,
transposed convolution), with the rewrites of convsym.transforms.subpixel and, when torch imports,
with torch.nn.functional.  A hypothesis of the converse that is dropped makes the kernel refuse it.
"""

from __future__ import annotations

import itertools
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy
from sympy import IndexedBase

import convsym.reference as ref
from convsym.proof import General
from convsym.proof import claim as C
from convsym.symbolic import opdefs_subpixel as S
from convsym.symbolic import opdefs_transposed as T
from convsym.symbolic.sums import App, Let, SumExpr, evaluate
from convsym.transforms.layers import Conv2d, ConvTranspose2d
from convsym.transforms.subpixel import subpixel_to_transposed, transposed_to_subpixel

ROOT = Path(__file__).resolve().parents[2]
x, W, V = IndexedBase("x"), IndexedBase("W"), IndexedBase("V")


c, i_h, i_w, ci, t_h, t_w, o = (sympy.Symbol(n, integer=True) for n in ("c", "i_h", "i_w", "c_i", "t_h", "t_w", "o"))


def _numeric(poly: dict, arrays: dict) -> int:
    """A compiled polynomial (monomial -> coefficient; an atom is (base, index) or a symbol) at the arrays."""
    total = 0
    for mono, coef in poly.items():
        term = coef
        for atom, e in mono:
            assert isinstance(atom, tuple) and atom[0] in arrays, f"an entry outside the arrays: {atom}"
            base, idx = atom
            assert all(0 <= q < n for q, n in zip(idx, arrays[base].shape, strict=True)), f"outside: {atom}"
            term *= int(arrays[base][idx]) ** e
        total += term
    return total


def _values(app, arrays: dict, positions, names) -> dict:
    """The exact value of ``app`` (its free integers ``names``) at every tuple of ``positions``, by the
    compiled evaluator the kernel uses for its instance checks."""
    denoter, expr = C.Denoter(()), SumExpr.of(app)
    out = {}
    for pos in positions:
        poly = denoter.poly(expr, dict(zip(names, map(sympy.Integer, pos), strict=True)))
        assert poly is not None, f"no compiled value for {app}: {denoter.unsupported}"
        out[tuple(pos)] = _numeric(poly, arrays)
    return out


def _value(app, arrays: dict) -> int:
    """The value of an application at integer arguments."""
    return _values(app, arrays, [()], ())[()]


def _ints(rng, shape) -> np.ndarray:
    return rng.integers(-4, 5, shape).astype(object)


# (C_in, C, n_h, n_w, K_h, K_w, P_h, P_w, r)
SUBPIXEL_CASES = [(2, 2, 2, 3, 2, 1, 1, 0, 2), (1, 1, 3, 2, 3, 2, 1, 1, 2), (2, 1, 2, 2, 1, 2, 0, 1, 3)]


@pytest.mark.parametrize("case", SUBPIXEL_CASES)
def test_subpixel2d_is_pixel_shuffle_of_conv(case):
    C_in, C_out, n_h, n_w, K_h, K_w, P_h, P_w, r = case
    rng = np.random.default_rng(sum(case))
    xs, Ws = _ints(rng, (C_in, n_h, n_w)), _ints(rng, (r * r * C_out, C_in, K_h, K_w))
    want = ref.pixel_shuffle(ref.conv2d(xs[None], Ws, padding=(P_h, P_w)), r)[0]
    got = _values(S.subpixel2d(x, W, C_in, n_h, n_w, K_h, K_w, P_h, P_w, r, c, i_h, i_w), {x: xs, W: Ws},
                  np.ndindex(want.shape), (c, i_h, i_w))
    assert all(got[pos] == want[pos] for pos in np.ndindex(want.shape)), case


# (C_in, C, n_h, n_w, k_h, k_w, s, p_h, p_w, d_h, d_w, output padding)
TRANSPOSED_CASES = [(2, 2, 2, 3, 3, 2, 2, 1, 0, 1, 2, (1, 1)), (1, 2, 3, 2, 2, 3, 3, 0, 2, 2, 1, (0, 2)),
                    (2, 1, 2, 2, 4, 1, 2, 2, 0, 1, 1, (0, 0))]


@pytest.mark.parametrize("case", TRANSPOSED_CASES)
def test_conv_transpose2d_dilated_is_the_reference(case):
    C_in, C_out, n_h, n_w, k_h, k_w, s, p_h, p_w, d_h, d_w, q = case
    rng = np.random.default_rng(sum(case[:-1]))
    xs, Vs = _ints(rng, (C_in, n_h, n_w)), _ints(rng, (C_in, C_out, k_h, k_w))
    # the output padding only adds rows the scatter form also defines
    want = ref.conv_transpose2d(xs[None], Vs, stride=s, padding=(p_h, p_w), output_padding=q,
                                dilation=(d_h, d_w))[0]
    got = _values(T.conv_transpose2d_dilated(x, V, C_in, n_h, n_w, k_h, k_w, s, s, p_h, p_w, d_h, d_w, c, i_h, i_w),
                  {x: xs, V: Vs}, np.ndindex(want.shape), (c, i_h, i_w))
    assert all(got[pos] == want[pos] for pos in np.ndindex(want.shape)), case


@pytest.mark.parametrize("case", SUBPIXEL_CASES)
def test_subpixel_kernel2d_is_the_rewrites_weight_map(case):
    C_in, C_out, _, _, K_h, K_w, P_h, P_w, r = case
    rng = np.random.default_rng(7 + sum(case))
    Ws = _ints(rng, (r * r * C_out, C_in, K_h, K_w))
    t = subpixel_to_transposed(Conv2d(Ws, padding=(P_h, P_w)), r)
    assert t.weight.shape == (C_in, C_out, r * K_h, r * K_w)
    assert t.padding == (r * (K_h - 1 - P_h), r * (K_w - 1 - P_w)) and t.stride == (r, r)
    got = _values(S.subpixel_kernel2d(W, K_h, K_w, r, ci, c, t_h, t_w), {W: Ws}, np.ndindex(t.weight.shape),
                  (ci, c, t_h, t_w))
    assert all(got[pos] == t.weight[pos] for pos in np.ndindex(t.weight.shape)), case


def _converse_plan(k, r, p, d):
    """(P, K) of the rewrite for one axis: P = max(0, floor((d(k-1) - p)/r)), and K - 1 - P >= ceil(p/r)."""
    P = max(0, (d * (k - 1) - p) // r)
    return P, P + -(-p // r) + 1


# (C_in, C, n_h, n_w, k_h, k_w, r, p_h, p_w, d_h, d_w)
CONVERSE_CASES = [(2, 2, 2, 3, 3, 2, 2, 1, 0, 1, 2), (1, 2, 2, 2, 4, 3, 3, 2, 1, 1, 1),
                  (2, 1, 3, 2, 2, 2, 2, 0, 1, 2, 1)]


@pytest.mark.parametrize("case", CONVERSE_CASES)
def test_transposed_subpixel_kernel2d_builds_a_subpixel_conv(case):
    # the W of subpixel.converse, convolved and pixel-shuffled, is the transposed convolution at every
    # output of the transposed convolution (the convolution pads generously after, so it covers them)
    C_in, C_out, n_h, n_w, k_h, k_w, r, p_h, p_w, d_h, d_w = case
    rng = np.random.default_rng(11 + sum(case))
    xs, Vs = _ints(rng, (C_in, n_h, n_w)), _ints(rng, (C_in, C_out, k_h, k_w))
    (P_h, K_h), (P_w, K_w) = _converse_plan(k_h, r, p_h, d_h), _converse_plan(k_w, r, p_w, d_w)
    Ws = np.zeros((r * r * C_out, C_in, K_h, K_w), dtype=object)
    got = _values(S.transposed_subpixel_kernel2d(V, k_h, k_w, r, p_h, p_w, d_h, d_w, P_h, P_w, o, ci, t_h, t_w),
                  {V: Vs}, np.ndindex(Ws.shape), (o, ci, t_h, t_w))
    for pos, v in got.items():
        Ws[pos] = v
    assert sorted(v for v in Ws.flat if v != 0) == sorted(v for v in Vs.flat if v != 0)  # every tap lands once
    want = ref.conv_transpose2d(xs[None], Vs, stride=r, padding=(p_h, p_w), dilation=(d_h, d_w))[0]
    pads = ((P_h, K_h + want.shape[1]), (P_w, K_w + want.shape[2]))
    got = ref.pixel_shuffle(ref.conv2d(xs[None], Ws, padding=pads), r)[0]
    assert (got[:, :want.shape[1], :want.shape[2]] == want).all()


def test_transposed_subpixel_kernel2d_is_the_rewrites_weight():
    rng = np.random.default_rng(5)
    for C_in, C_out, k, r, p, q, d in [(2, 2, 4, 2, 1, 0, 1), (1, 2, 3, 2, 1, 1, 2), (2, 1, 5, 3, 2, 2, 1)]:
        Vs = _ints(rng, (C_in, C_out, k, k))
        conv, rr = transposed_to_subpixel(ConvTranspose2d(Vs, stride=r, padding=p, output_padding=q, dilation=d))
        assert rr == r
        # the padding before, per axis (a symmetric pair is normalised to one int)
        P_h, P_w = (v if isinstance(v, int) else v[0] for v in conv.padding)
        got = _values(S.transposed_subpixel_kernel2d(V, k, k, r, p, p, d, d, P_h, P_w, o, ci, t_h, t_w), {V: Vs},
                      np.ndindex(conv.weight.shape), (o, ci, t_h, t_w))
        assert all(got[pos] == conv.weight[pos] for pos in np.ndindex(conv.weight.shape)), (k, r, p, q, d)


def test_the_compiled_values_are_the_sympy_values():
    # _value reads the compiled evaluator; one position per definition against the SymPy evaluation
    rng = np.random.default_rng(3)
    xs, Ws, Vs = _ints(rng, (2, 2, 3)), _ints(rng, (8, 2, 2, 2)), _ints(rng, (2, 2, 3, 2))
    arrays = {x: xs, W: Ws, V: Vs}
    for app in (S.subpixel2d(x, W, 2, 2, 3, 2, 2, 1, 0, 2, 1, 3, 2),
                T.conv_transpose2d_dilated(x, V, 2, 2, 3, 3, 2, 2, 2, 1, 0, 1, 2, 1, 2, 3),
                S.subpixel_kernel2d(W, 2, 2, 2, 1, 1, 2, 3),
                S.transposed_subpixel_kernel2d(V, 3, 2, 2, 1, 0, 1, 2, 1, 0, 5, 1, 1, 0)):
        slow = sympy.expand(evaluate(SumExpr.of(app), {}).xreplace(
            {base[idx]: sympy.Integer(int(arr[idx])) for base, arr in arrays.items() for idx in np.ndindex(arr.shape)}))
        assert slow == _value(app, arrays)


def test_torch_agrees_with_the_definitions():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(13)
    C_in, C_out, n_h, n_w, K_h, K_w, P_h, P_w, r = 2, 1, 2, 3, 2, 3, 1, 1, 2
    xs, Ws = _ints(rng, (C_in, n_h, n_w)), _ints(rng, (r * r * C_out, C_in, K_h, K_w))
    want = F.pixel_shuffle(F.conv2d(torch.tensor(xs[None].astype(np.int64), dtype=torch.float64),
                                    torch.tensor(Ws.astype(np.int64), dtype=torch.float64), padding=(P_h, P_w)), r)[0]
    positions = list(itertools.product(*map(range, want.shape)))
    got = _values(S.subpixel2d(x, W, C_in, n_h, n_w, K_h, K_w, P_h, P_w, r, c, i_h, i_w), {x: xs, W: Ws},
                  positions, (c, i_h, i_w))
    assert all(got[pos] == int(want[pos].item()) for pos in positions)
    k_h, k_w, s, p_h, p_w, d_h, d_w = 3, 2, 2, 1, 0, 1, 2
    Vs = _ints(rng, (C_in, 2, k_h, k_w))
    want = F.conv_transpose2d(torch.tensor(xs[None].astype(np.int64), dtype=torch.float64),
                              torch.tensor(Vs.astype(np.int64), dtype=torch.float64), stride=s, padding=(p_h, p_w),
                              output_padding=(1, 1), dilation=(d_h, d_w))[0]
    positions = list(itertools.product(*map(range, want.shape)))
    got = _values(T.conv_transpose2d_dilated(x, V, C_in, n_h, n_w, k_h, k_w, s, s, p_h, p_w, d_h, d_w, c, i_h, i_w),
                  {x: xs, V: Vs}, positions, (c, i_h, i_w))
    assert all(got[pos] == int(want[pos].item()) for pos in positions)


def _without(theorem: General, dropped, instances=()) -> General:
    return General(theorem.name + "-weakened", theorem.title, theorem.gloss, lhs=theorem.lhs, rhs=theorem.rhs,
                   derivation=theorem.derivation, lets=theorem.lets,
                   size_hypotheses=[h for h in theorem.size_hypotheses if h != dropped], instances=instances)


@pytest.fixture(scope="module")
def script():
    folder = str(ROOT / "proofs")
    sys.path.insert(0, folder)  # the script's helpers (_transposed)
    try:
        return runpy.run_path(str(ROOT / "proofs" / "subpixel.py"))
    finally:
        sys.path.remove(folder)


def test_the_general_theorems_use_these_definitions(script):
    for name, ops in (("weight_map_2d", {"conv_transpose2d_dilated", "subpixel2d"}),
                      ("converse", {"conv_transpose2d_dilated", "subpixel2d"})):
        th = script[name]
        assert isinstance(th, General)
        used = {a.op.name for side in (th.lhs, th.rhs) for t in side.terms for a in sympy.sympify(t.summand).atoms(App)}
        assert used == ops
    assert all(isinstance(let, Let) for let in script["converse"].lets)


def _hypothesis(theorem: General, kind, name: str):
    return next(h for h in theorem.size_hypotheses if isinstance(h, kind) and name in map(str, h.free_symbols))


def test_the_converse_needs_tap_zero_to_land(script):
    # p_h <= r (K_h - 1 - P_h): with padding 1, r = 2 and K_h = 1, tap 0 of V would be tap 1 of W
    th = script["converse"]
    bad = dict(C_in=1, n_h=2, n_w=1, k_h=1, k_w=1, K_h=1, K_w=1, r=2, d_h=1, d_w=1, p_h=1, p_w=0, P_h=0, P_w=0,
               J_h=0, J_w=0, Phi_h=1, Phi_w=0, c=0)
    v = _without(th, _hypothesis(th, sympy.Le, "p_h"), [bad]).prove()
    assert v.verdict == "refuted"


def test_the_converse_needs_the_last_tap_to_land(script):
    # r P_h + p_h + r - 1 >= d_h (k_h - 1): with k_h = 3, r = 2 and no padding, tap 2 of V has no place in W
    th = script["converse"]
    bad = dict(C_in=1, n_h=3, n_w=1, k_h=3, k_w=1, K_h=2, K_w=1, r=2, d_h=1, d_w=1, p_h=0, p_w=0, P_h=0, P_w=0,
               J_h=1, J_w=0, Phi_h=0, Phi_w=0, c=0)
    v = _without(th, _hypothesis(th, sympy.Ge, "k_h"), [bad]).prove()
    assert v.verdict == "refuted"
