"""Definitional ops against naive loops, across backends, and the two-layer merge identity."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from convsym.exact.modp import ModPTensor, exact_check, schwartz_zippel
from convsym.exact.ops import (
    add_bias,
    conv1d,
    conv2d,
    full_convolution,
    matmul,
    merge_bias,
    merge_kernels,
    merged_kernel_size,
    total,
)
from convsym.exact.oracle import DictPolyTensor
from convsym.exact.poly import PolyTensor
from convsym.exact.pool import VariablePool
from convsym.exact.tensor import DEFAULT_PRIME

RNG = np.random.default_rng(20240611)


def ints(shape, low=-9, high=10):
    return RNG.integers(low, high, size=shape).astype(object)


# ---------------------------------------------------------------------------------------------
# a naive reference written with plain loops (independent of convsym.exact.ops)


def naive_conv(x, w, b, stride, pads, dilation, groups):
    """``x (N, C, *S)``, ``w (O, C/g, *K)``; pads are explicit (before, after) pairs."""
    batch, spatial = x.shape[0], x.shape[2:]
    out_c, group_c, kernel = w.shape[0], w.shape[1], w.shape[2:]
    nd = len(spatial)
    sizes = [
        (spatial[a] + pads[a][0] + pads[a][1] - dilation[a] * (kernel[a] - 1) - 1) // stride[a] + 1
        for a in range(nd)
    ]
    y = np.zeros((batch, out_c, *sizes), dtype=object)
    for n, o, *i in itertools.product(range(batch), range(out_c), *map(range, sizes)):
        g = o // (out_c // groups)
        acc = b[o] if b is not None else 0
        for c in range(group_c):
            for u in itertools.product(*map(range, kernel)):
                pos = [stride[a] * i[a] + dilation[a] * u[a] - pads[a][0] for a in range(nd)]
                if all(0 <= pos[a] < spatial[a] for a in range(nd)):
                    acc += x[(n, g * group_c + c, *pos)] * w[(o, c, *u)]
        y[(n, o, *i)] = acc
    return y


def naive_merged_kernel(w1, w2, s1, d1, d2):
    mid, cin, k1 = w1.shape[0], w1.shape[1], w1.shape[2:]
    out_c, k2 = w2.shape[0], w2.shape[2:]
    size = [merged_kernel_size(a, b, s, p, q) for a, b, s, p, q in zip(k1, k2, s1, d1, d2, strict=True)]
    out = np.zeros((out_c, cin, *size), dtype=object)
    for o, c, m in itertools.product(range(out_c), range(cin), range(mid)):
        for a in itertools.product(*map(range, k1)):
            for b in itertools.product(*map(range, k2)):
                t = tuple(d1[j] * a[j] + s1[j] * d2[j] * b[j] for j in range(len(k1)))
                out[(o, c, *t)] += w1[(m, c, *a)] * w2[(o, m, *b)]
    return out


def values_of(t):
    """Exact entries of a constant tensor of any backend, as an object array."""
    if isinstance(t, ModPTensor):
        return t.values.astype(object)
    return t.evaluate({})


# ---------------------------------------------------------------------------------------------
# convolution on exact constants, every backend, against the loops

CONV_CASES = [
    # nd, batch (None = unbatched), C_in, C_out, spatial, kernel, stride, padding, pads, dilation, groups, bias
    (1, None, 2, 3, (7,), (3,), 1, 0, ((0, 0),), 1, 1, True),
    (1, 2, 4, 2, (9,), (2,), 2, 1, ((1, 1),), 2, 2, False),
    (1, None, 3, 3, (6,), (4,), 1, "same", ((1, 2),), 1, 3, True),
    (1, None, 1, 1, (5,), (5,), 1, "valid", ((0, 0),), 1, 1, False),
    (2, None, 2, 2, (5, 6), (3, 2), (1, 2), (1, 0), ((1, 1), (0, 0)), 1, 1, True),
    (2, 1, 4, 4, (6, 5), (2, 3), 2, ((0, 1), (2, 0)), ((0, 1), (2, 0)), (2, 1), 2, True),
    (2, None, 3, 6, (5, 5), (3, 3), 1, "same", ((2, 2), (2, 2)), 2, 3, False),
    (2, 2, 1, 2, (4, 4), (4, 4), 1, 0, ((0, 0), (0, 0)), 1, 1, True),
]


@pytest.mark.parametrize("backend", ["poly", "dict", "modp"])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_on_constants_matches_naive_loops(case, backend):
    nd, batch, cin, cout, spatial, kernel, stride, padding, pads, dilation, groups, with_bias = case
    x_shape = (cin, *spatial) if batch is None else (batch, cin, *spatial)
    x, w = ints(x_shape), ints((cout, cin // groups, *kernel))
    b = ints((cout,)) if with_bias else None
    pair = lambda v: (v,) * nd if isinstance(v, int) else v  # noqa: E731
    expected = naive_conv(
        x if batch is not None else x[None], w, b, pair(stride), pads, pair(dilation), groups
    )
    if batch is None:
        expected = expected[0]
    make = {
        "poly": PolyTensor.constant,
        "dict": DictPolyTensor.constant,
        "modp": ModPTensor.constant,
    }[backend]
    conv = conv1d if nd == 1 else conv2d
    y = conv(make(x), make(w), None if b is None else make(b), stride=stride, padding=padding,
             dilation=dilation, groups=groups)
    if backend == "modp":
        expected = expected % DEFAULT_PRIME
    assert y.shape == expected.shape
    assert values_of(y).tolist() == expected.tolist()


def test_symbolic_conv_agrees_between_fast_backend_and_oracle():
    fast_pool, oracle_pool = VariablePool(), VariablePool()
    shapes = {"x": (2, 4, 5, 5), "w": (4, 2, 2, 3), "b": (4,)}
    fast = {n: fast_pool.tensor(n, s) for n, s in shapes.items()}
    oracle = {n: oracle_pool.dict_tensor(n, s) for n, s in shapes.items()}
    kwargs = dict(stride=(2, 1), padding=((1, 0), (1, 2)), dilation=(1, 2), groups=2)
    y_fast = conv2d(fast["x"], fast["w"], fast["b"], **kwargs)
    y_oracle = conv2d(oracle["x"], oracle["w"], oracle["b"], **kwargs)
    assert y_fast.to_dicts() == y_oracle.to_dicts()
    assert y_fast.terms_per_entry().max == 2 * 2 * 3 + 1


def test_modp_conv_is_the_exact_conv_evaluated_mod_p():
    pool = VariablePool()
    x, w = pool.tensor("x", (3, 6)), pool.tensor("w", (2, 3, 3))
    point = RNG.integers(0, DEFAULT_PRIME, size=len(pool))
    exact = conv1d(x, w, stride=2, padding=1).evaluate(dict(enumerate(point.tolist())))
    modp = conv1d(
        ModPTensor(point[: x.size].reshape(x.shape), degree=1),
        ModPTensor(point[x.size :].reshape(w.shape), degree=1),
        stride=2, padding=1,
    )
    assert modp.degree == 2
    assert modp.values.tolist() == (exact % DEFAULT_PRIME).tolist()


# ---------------------------------------------------------------------------------------------
# kernels


@pytest.mark.parametrize("shapes", [((3,), (4,)), ((1,), (5,)), ((2, 3), (3, 1)), ((3, 3), (2, 2))])
def test_full_convolution_is_true_convolution(shapes):
    a, b = ints(shapes[0]), ints(shapes[1])
    got = values_of(full_convolution(PolyTensor.constant(a), PolyTensor.constant(b)))
    expected = np.zeros(tuple(p + q - 1 for p, q in zip(*shapes, strict=True)), dtype=object)
    for i in itertools.product(*map(range, shapes[0])):
        for j in itertools.product(*map(range, shapes[1])):
            expected[tuple(p + q for p, q in zip(i, j, strict=True))] += a[i] * b[j]
    assert got.tolist() == expected.tolist()
    if len(shapes[0]) == 1:
        assert got.tolist() == np.convolve(a.astype(np.int64), b.astype(np.int64)).tolist()


MERGE_KERNEL_CASES = [
    # k1, k2, stride1, dilation1, dilation2, (M, C, O)
    ((3,), (2,), 1, 1, 1, (2, 3, 2)),
    ((3,), (3,), 2, 1, 1, (1, 2, 2)),
    ((2,), (3,), 1, 2, 3, (2, 1, 1)),
    ((3, 2), (2, 2), (2, 1), (1, 2), (1, 1), (2, 2, 3)),
]


@pytest.mark.parametrize(("k1", "k2", "s1", "d1", "d2", "channels"), MERGE_KERNEL_CASES)
def test_merge_kernels_matches_formula_and_composes(k1, k2, s1, d1, d2, channels):
    mid, cin, cout = channels
    nd = len(k1)
    tup = lambda v: (v,) * nd if isinstance(v, int) else v  # noqa: E731
    w1, w2 = ints((mid, cin, *k1)), ints((cout, mid, *k2))
    merged = merge_kernels(PolyTensor.constant(w1), PolyTensor.constant(w2), s1, d1, d2)
    assert values_of(merged).tolist() == naive_merged_kernel(w1, w2, tup(s1), tup(d1), tup(d2)).tolist()
    # the kernel really is the composition: conv(conv(x)) == conv(x, W, stride s1*s2)
    conv = conv1d if nd == 1 else conv2d
    spatial = tuple(2 * merged_kernel_size(a, b, s, p, q) + 1
                    for a, b, s, p, q in zip(k1, k2, tup(s1), tup(d1), tup(d2), strict=True))
    x = PolyTensor.constant(ints((cin, *spatial)))
    two = conv(conv(x, PolyTensor.constant(w1), stride=s1, dilation=d1), PolyTensor.constant(w2),
               stride=2, dilation=d2)
    one = conv(x, merged, stride=tuple(2 * s for s in tup(s1)))
    assert two == one


def test_total_matmul_and_merge_bias_match_loops():
    w, b1, b2 = ints((3, 2, 2, 3)), ints((2,)), ints((3,))
    tw = values_of(total(PolyTensor.constant(w)))
    assert tw.tolist() == [[sum(w[o, m].reshape(-1)) for m in range(2)] for o in range(3)]
    mv = values_of(matmul(PolyTensor.constant(tw), PolyTensor.constant(b1)))
    assert mv.tolist() == [sum(tw[o, m] * b1[m] for m in range(2)) for o in range(3)]
    bias = values_of(merge_bias(PolyTensor.constant(w), PolyTensor.constant(b1), PolyTensor.constant(b2)))
    assert bias.tolist() == (b2 + mv).tolist()
    y = add_bias(PolyTensor.constant(np.zeros((2, 3, 2), dtype=object)), PolyTensor.constant(b2), axis=1)
    assert values_of(y).tolist() == [[[v, v] for v in b2.tolist()]] * 2


# ---------------------------------------------------------------------------------------------
# the merge identity with every entry a distinct variable


def merge_statement(nd, k1, k2, channels, bias_rule="right", kernel_rule="right", pad2=0):
    """Builders and input shapes of conv(conv(x, w1) + b1, w2) + b2 == conv(x, W) + B."""
    cin, mid, cout = channels
    spatial = (k1 + k2 - 1 + 1,) * nd  # output at least 2 along each axis
    shapes = {
        "x": (cin, *spatial), "w1": (mid, cin, *(k1,) * nd), "b1": (mid,),
        "w2": (cout, mid, *(k2,) * nd), "b2": (cout,),
    }
    conv = conv1d if nd == 1 else conv2d

    def lhs(v):
        return conv(conv(v["x"], v["w1"], v["b1"]), v["w2"], v["b2"], padding=pad2)

    def rhs(v):
        kernel = merge_kernels(v["w1"], v["w2"])
        if bias_rule == "right":
            bias = merge_bias(v["w2"], v["b1"], v["b2"])
        else:  # forgets to push b1 through the weights of the second layer
            bias = v["b2"] + v["b1"]
        if kernel_rule == "right":
            return conv(v["x"], kernel, bias, padding=pad2)
        # claims a kernel of size k1 + k2 - 2 suffices
        short = kernel[(slice(None), slice(None), *(slice(0, -1),) * nd)]
        y = conv(v["x"], short, bias)
        return y[(slice(None), *(slice(0, -1),) * nd)]

    return lhs, rhs, shapes


@pytest.mark.parametrize(
    ("nd", "k1", "k2", "channels"),
    [(1, 1, 1, (1, 1, 1)), (1, 3, 2, (2, 3, 1)), (1, 4, 4, (2, 2, 2)), (2, 2, 3, (1, 2, 2)), (2, 3, 3, (2, 2, 2))],
)
def test_merge_identity_holds_exactly(nd, k1, k2, channels):
    lhs, rhs, shapes = merge_statement(nd, k1, k2, channels)
    result = exact_check(lhs, rhs, shapes)
    assert result.equal and result.difference is None
    cin, mid, _ = channels
    # every monomial x*w1*w2 plus the w2*b1 and b2 terms, nothing cancels
    assert result.terms_per_entry.max == mid * k2**nd * (cin * k1**nd + 1) + 1
    assert schwartz_zippel(lhs, rhs, shapes, trials=2).equal


def test_merge_identity_agrees_with_the_oracle_on_a_small_case():
    lhs, rhs, shapes = merge_statement(2, 2, 2, (1, 2, 1))
    assert exact_check(lhs, rhs, shapes, backend=DictPolyTensor).equal


def test_wrong_bias_is_refuted_with_a_degree_one_term():
    lhs, rhs, shapes = merge_statement(2, 2, 2, (2, 2, 2), bias_rule="wrong")
    result = exact_check(lhs, rhs, shapes)
    assert not result.equal
    d = result.difference
    assert (d.index, d.monomial, d.lhs, d.rhs, d.degree) == ((0, 0, 0), ("b1_{0}",), 0, 1, 1)
    zippel = schwartz_zippel(lhs, rhs, shapes)
    assert not zippel.equal and zippel.trials == 1


@pytest.mark.parametrize("nd", [1, 2])
def test_wrong_kernel_size_is_refuted(nd):
    lhs, rhs, shapes = merge_statement(nd, 2, 3, (1, 1, 1), kernel_rule="short")
    result = exact_check(lhs, rhs, shapes)
    assert not result.equal
    d = result.difference
    assert d.degree == 3 and (d.lhs, d.rhs) == (1, 0)
    # the lost term pairs the last taps of both kernels along some axis
    assert any(n.startswith("w1_") for n in d.monomial) and any(n.startswith("w2_") for n in d.monomial)
    w1_tap = next(n for n in d.monomial if n.startswith("w1_"))[len("w1_{"):-1].split(",")[2:]
    w2_tap = next(n for n in d.monomial if n.startswith("w2_"))[len("w2_{"):-1].split(",")[2:]
    assert any(a == "1" and b == "2" for a, b in zip(w1_tap, w2_tap, strict=True))


def test_padding_the_second_layer_breaks_the_merge_at_the_border():
    lhs, rhs, shapes = merge_statement(2, 3, 3, (1, 1, 1), pad2=1)
    result = exact_check(lhs, rhs, shapes)
    assert not result.equal
    d = result.difference
    out = 3 + 3 - 1 + 1 - (3 + 3 - 1) + 1 + 2  # output size with padding 1 on both sides
    assert d.degree == 2 and (d.lhs, d.rhs) == (0, 1)  # w2*b1 counted where lhs saw zeros
    assert any(i in (0, out - 1) for i in d.index[1:])


# ---------------------------------------------------------------------------------------------
# validation at the boundary


def _poly(shape):
    return PolyTensor.constant(np.ones(shape, dtype=object))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: conv2d(_poly((8, 5, 5)), _poly((3, 3, 3, 3)), groups=3), ValueError,
         "conv2d: groups=3 must divide in_channels=8"),
        (lambda: conv2d(_poly((4, 5, 5)), _poly((3, 2, 3, 3)), groups=2), ValueError,
         "conv2d: groups=2 must divide out_channels=3"),
        (lambda: conv2d(_poly((4, 5, 5)), _poly((2, 3, 3, 3))), ValueError,
         r"conv2d: weight has 3 input channels per group, expected in_channels/groups = 4/1 = 4"),
        (lambda: conv1d(_poly((2, 5, 5)), _poly((1, 2, 3))), ValueError,
         r"conv1d: weight has 2 input channels per group"),
        (lambda: conv1d(_poly((5,)), _poly((1, 1, 3))), ValueError,
         r"conv1d: input must have 2 dims \(C, \*spatial\) or 3 \(N, C, \*spatial\), got shape \(5,\)"),
        (lambda: conv2d(_poly((1, 2, 2)), _poly((1, 1, 3, 3))), ValueError,
         r"conv2d: output size \(0, 0\) is empty"),
        (lambda: conv2d(_poly((1, 5, 5)), _poly((1, 1, 3, 3)), stride=2, padding="same"), ValueError,
         r"conv2d: padding='same' needs stride=1 \(as in PyTorch\), got stride=\(2, 2\)"),
        (lambda: conv2d(_poly((1, 5, 5)), _poly((1, 1, 3, 3)), stride=0), ValueError,
         "conv2d: stride=0 must be >= 1"),
        (lambda: conv2d(_poly((1, 5, 5)), _poly((1, 1, 3, 3)), padding="full"), ValueError,
         r"conv2d: padding must be an int, a pair, \(\(top, bottom\), \(left, right\)\), 'same' or 'valid', "
         r"got 'full'"),
        (lambda: conv2d(_poly((1, 5, 5)), _poly((2, 1, 3, 3)), _poly((3,))), ValueError,
         r"conv2d: bias must have shape \(2,\), got \(3,\)"),
        (lambda: conv2d(_poly((1, 5, 5)), ModPTensor.constant(np.ones((1, 1, 3, 3), dtype=int))), TypeError,
         "conv2d: all tensors must use one backend, got x: PolyTensor, w: ModPTensor"),
        (lambda: conv2d(np.ones((1, 5, 5)), _poly((1, 1, 3, 3))), TypeError,
         "conv2d: x must be a PolyTensor, ModPTensor or DictPolyTensor, got ndarray"),
        (lambda: merge_kernels(_poly((2, 1, 3)), _poly((1, 3, 3))), ValueError,
         "merge_kernels: second weight has 3 input channels but the first has 2 output channels"),
        (lambda: full_convolution(_poly((2,)), _poly((2, 2))), ValueError,
         "full_convolution: kernels must have the same number"),
        (lambda: total(_poly((2, 2))), ValueError, r"total: a weight \(O, C, \*k\) has at least 3 axes"),
        (lambda: add_bias(_poly((2, 3)), _poly((3,))), ValueError,
         r"add_bias: bias must have shape \(2,\) for axis 0"),
    ],
)
def test_ops_validate_their_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_output_size_law_on_a_grid():
    # floor((n + 2p - d(k-1) - 1)/s) + 1 over a grid of hyper-parameters
    for n, k, s, p, d in itertools.product((5, 8), (1, 3), (1, 2, 3), (0, 1), (1, 2)):
        size = (n + 2 * p - d * (k - 1) - 1) // s + 1
        if size < 1:
            continue
        y = conv1d(_poly((1, n)), _poly((1, 1, k)), stride=s, padding=p, dilation=d)
        assert y.shape == (1, size)
