"""The 2-D index-sum definitions of the transposed chapter against PyTorch's semantics.

The general theorems transposed.definition-2d, transposed.adjoint-2d and transposed.bn-fold-groups are
stated with the operations of ``convsym.symbolic.opdefs_transposed``; for them the definition *is* the
statement.  Here each definition is evaluated on random integer arrays, entry by entry from its own index
sum, and compared with ``convsym.reference`` (and with torch when it is installed), so the definitions are
tied to ``conv_transpose2d`` / ``conv2d`` as PyTorch computes them: weight layouts, groups, strides,
paddings, dilations and output paddings.
"""

from __future__ import annotations

import importlib.util
import itertools

import numpy as np
import pytest
import sympy
from sympy import IndexedBase

import convsym.reference as ref
from convsym.symbolic import opdefs_transposed as T
from convsym.symbolic.sums import App

HAS_TORCH = importlib.util.find_spec("torch") is not None

Y, W, X, V, F = (IndexedBase(n) for n in ("y", "w", "x", "V", "f"))


def compiled(app: App, free: tuple):
    """``value(arrays, *free)``: the value of ``app`` (every size an integer, the positions ``free`` left
    as symbols) at the integer ``arrays`` and those positions, summed point by point over the domain of
    its definition (an index outside an array is an error, not a zero).  The definition is unfolded once;
    every point is then evaluated from it."""
    body = app.unfold()
    assert len(body.terms) == 1 and body.terms[0].inner is None
    term = body.terms[0]
    idx = [r.index for r in term.ranges]
    free = list(free)
    bounds = [(sympy.lambdify(free + idx[:k], sympy.Max(*r.lower)),
               sympy.lambdify(free + idx[:k], sympy.Min(*r.upper))) for k, r in enumerate(term.ranges)]
    where = sympy.lambdify(free + idx, sympy.And(*term.where)) if term.where else (lambda *_: True)
    reads_at = sorted(sympy.sympify(term.summand).atoms(sympy.Indexed), key=sympy.default_sort_key)
    reads = [(str(a.base.label), [sympy.lambdify(free + idx, e) for e in a.indices]) for a in reads_at]
    factor = sympy.lambdify(free + idx, sympy.sympify(term.summand).xreplace({a: 1 for a in reads_at}))

    def value(arrays: dict, *at) -> int:
        def entry(point):
            out = int(factor(*point))
            for name, pos in reads:
                arr = arrays[name]
                key = tuple(int(f(*point)) for f in pos)
                if any(k < 0 or k >= n for k, n in zip(key, arr.shape, strict=True)):
                    raise IndexError(f"{app}: reads {key} outside an array of shape {arr.shape}")
                out *= int(arr[key])
            return out

        def rec(point):
            k = len(point) - len(at)
            if k == len(idx):
                return entry(point) if where(*point) else 0
            lo, hi = bounds[k]
            return sum(rec(point + [v]) for v in range(int(lo(*point)), int(hi(*point)) + 1))

        return rec(list(at))

    return value


POS = sympy.symbols("g o i_h i_w", integer=True)


def _torch_transposed(y, w, s, p, q, d, g):
    import torch

    out = torch.nn.functional.conv_transpose2d(torch.tensor(y.astype(np.float64)), torch.tensor(w.astype(np.float64)),
                                               stride=s, padding=p, output_padding=q, dilation=d, groups=g)
    return out.numpy()


def _torch_conv(x, w, s, p, d, g):
    import torch

    out = torch.nn.functional.conv2d(torch.tensor(x.astype(np.float64)), torch.tensor(w.astype(np.float64)),
                                     stride=s, padding=p, dilation=d, groups=g)
    return out.numpy()


# (groups, C_in per group, C_out per group, (n_h, n_w), (k_h, k_w), stride, padding, dilation, output padding)
CASES = [
    (1, 1, 1, (2, 3), (2, 2), (1, 1), (0, 0), (1, 1), (0, 0)),
    (2, 1, 2, (2, 2), (3, 2), (2, 1), (1, 0), (1, 2), (1, 1)),
    (2, 2, 1, (3, 2), (2, 3), (2, 3), (0, 2), (2, 1), (1, 2)),
    (3, 1, 1, (2, 2), (2, 2), (3, 2), (2, 1), (1, 1), (2, 0)),
    (1, 2, 2, (2, 2), (3, 1), (1, 2), (1, 0), (2, 1), (1, 1)),
]


def _case_arrays(rng, g, cg, og, n, k):
    y = rng.integers(-4, 5, (1, g * cg, *n))
    w = rng.integers(-4, 5, (g * cg, og, *k))
    return y, w


def _transposed_by_definition(op, y, weight, g, cg, og, n, k, s, p, d, size):
    value = compiled(op(Y, weight[0], cg, n[0], n[1], k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1], *POS), POS)
    out = np.zeros((1, g * og, *size), dtype=np.int64)
    for gg, oo, ih, iw in itertools.product(range(g), range(og), range(size[0]), range(size[1])):
        out[0, gg * og + oo, ih, iw] = value({"y": y[0], weight[0].name: weight[1]}, gg, oo, ih, iw)
    return out


@pytest.mark.parametrize("case", CASES)
def test_conv_transpose2d_definition_is_pytorchs(case):
    g, cg, og, n, k, s, p, d, q = case
    y, w = _case_arrays(np.random.default_rng(sum(s) + sum(p) + 3 * g), g, cg, og, n, k)
    expected = ref.conv_transpose2d(y, w, stride=s, padding=p, output_padding=q, dilation=d, groups=g)
    got = _transposed_by_definition(T.conv_transpose2d, y, (W, w), g, cg, og, n, k, s, p, d, expected.shape[2:])
    assert (got == expected).all()
    # the per-group weight is the same array, row g C_g + c read as (g, c)
    per_group = w.reshape(g, cg, og, *k)
    again = _transposed_by_definition(T.conv_transpose2d_per_group, y, (V, per_group), g, cg, og, n, k, s, p, d,
                                      expected.shape[2:])
    assert (again == expected).all()
    if HAS_TORCH:
        assert (_torch_transposed(y, w, s, p, q, d, g) == got).all()


def test_conv_transpose2d_definition_sees_a_wrong_weight_layout():
    # the definition reads w[g C_g + c, o]: with the channel axes swapped it disagrees with PyTorch
    g, cg, og, n, k, s, p, d, q = 2, 2, 2, (2, 2), (2, 2), (2, 2), (0, 0), (1, 1), (0, 0)
    y, w = _case_arrays(np.random.default_rng(5), g, cg, og, n, k)
    swapped = w.reshape(g, cg, og, *k).transpose(0, 2, 1, 3, 4).reshape(g * og, cg, *k)
    expected = ref.conv_transpose2d(y, swapped, stride=s, padding=p, output_padding=q, dilation=d, groups=g)
    got = _transposed_by_definition(T.conv_transpose2d, y, (W, w), g, cg, og, n, k, s, p, d, expected.shape[2:])
    assert not (got == expected).all()


# (groups, C_in per group, C_out per group, (n_h, n_w), (k_h, k_w), stride, padding, dilation)
CONV_CASES = [
    (1, 1, 1, (3, 4), (2, 2), (1, 1), (0, 0), (1, 1)),
    (2, 1, 2, (5, 4), (3, 2), (2, 1), (1, 0), (1, 2)),
    (2, 2, 1, (6, 5), (2, 3), (2, 3), (2, 1), (2, 1)),
    (3, 1, 1, (4, 4), (2, 2), (3, 2), (1, 2), (1, 1)),
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_padded_conv2d_grouped_definition_is_pytorchs(case):
    g, cg, og, n, k, s, p, d = case
    rng = np.random.default_rng(sum(n) + g)
    x = rng.integers(-4, 5, (1, g * cg, *n))
    w = rng.integers(-4, 5, (g * og, cg, *k))
    expected = ref.conv2d(x, w, stride=s, padding=p, dilation=d, groups=g)
    gs, os_, ihs, iws = POS
    value = compiled(T.padded_conv2d_grouped(X, W, cg, n[0], n[1], k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1],
                                             gs, og, os_, ihs, iws), POS)
    got = np.zeros_like(expected, dtype=np.int64)
    for gg, oo, ih, iw in itertools.product(range(g), range(og), *map(range, expected.shape[2:])):
        got[0, gg * og + oo, ih, iw] = value({"x": x[0], "w": w}, gg, oo, ih, iw)
    assert (got == expected).all()
    if HAS_TORCH:
        assert (_torch_conv(x, w, s, p, d, g) == got).all()


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_grouped_dilated_definition_is_pytorchs(case):
    # stride 1, no padding; the kernel per group: f[g, o, c] is row g O_g + o, column c of PyTorch's weight
    g, cg, og, n, k, _, _, d = case
    rng = np.random.default_rng(7 * g + sum(k))
    x = rng.integers(-4, 5, (1, g * cg, *n))
    w = rng.integers(-4, 5, (g * og, cg, *k))
    expected = ref.conv2d(x, w, dilation=d, groups=g)
    per_group = w.reshape(g, og, cg, *k)
    value = compiled(T.conv2d_grouped_dilated(X, F, cg, k[0], k[1], d[0], d[1], *POS), POS)
    got = np.zeros_like(expected, dtype=np.int64)
    for gg, oo, ih, iw in itertools.product(range(g), range(og), *map(range, expected.shape[2:])):
        got[0, gg * og + oo, ih, iw] = value({"x": x[0], "f": per_group}, gg, oo, ih, iw)
    assert (got == expected).all()
    if HAS_TORCH:
        assert (_torch_conv(x, w, 1, 0, d, g) == got).all()


def test_compiled_definition_refuses_to_read_outside_an_array():
    value = compiled(T.conv2d_grouped_dilated(X, F, 1, 2, 2, 1, 1, *POS), POS)
    arrays = {"x": np.zeros((1, 2, 2), dtype=np.int64), "f": np.zeros((1, 1, 1, 2, 2), dtype=np.int64)}
    assert value(arrays, 0, 0, 0, 0) == 0
    with pytest.raises(IndexError):
        value(arrays, 0, 0, 2, 0)


# ---------------------------------------------------------------------------------------------
# the three theorems are general derivations now, and each proves


@pytest.fixture(scope="module")
def theorems():
    from convsym.run.registry import default_proof_dir, load_file

    found = {}
    for script in ("transposed.py", "transposed_merge.py"):
        for t in load_file(default_proof_dir() / script).theorems:
            found[t.name] = t
    return found


@pytest.mark.parametrize("name", ["transposed.definition-2d", "transposed.adjoint-2d", "transposed.bn-fold-groups"])
def test_the_2d_transposed_theorems_are_general(theorems, name):
    v = theorems[name].prove()
    assert (v.verdict, v.strength) == ("proved", "general"), v.error
