"""A worked example to copy: convolution is linear in its input.

Copy this file, rename the family and the theorems, and run ``convsym prove --path DIR``.
The README walks through it line by line.
"""

from __future__ import annotations

from sympy import IndexedBase

from convsym.proof import Distribute, Family, Fold, General, Identity, Let, SumExpr, Unfold, grid, index, ops, sizes
from convsym.proof import defs as D

FAMILY = Family(
    "tutorial",
    "A worked example: convolution is linear in its input",
    intro=(
        "This chapter is a worked example of writing a proof: one general theorem with a four-step "
        "derivation, one exact family and their numeric check."
    ),
    order=90,
)


# 1. Sizes are positive integer symbols; indices are integer symbols; signals are IndexedBase.
(k,) = sizes("k")
i, a = index("i a")
x, y, z, w = (IndexedBase(n) for n in ("x", "y", "z", "w"))

# 2. An intermediate signal is a Let: z_j := x_j + y_j.
z_def = Let(z, lambda j: SumExpr.of(x[j], y[j]))

# 3. The claim, its derivation (each step a rule that checks itself) and the instances on which
#    every step is re-evaluated exactly.
linear_in_input = General(
    "tutorial.linear-in-input",
    "Convolution is linear in its input",
    "For every kernel size $k$: $(x + y) \\star w = x \\star w + y \\star w$.",
    idea="Unfold the convolution and the sum $z = x + y$, distribute $w_a$ over the sum, and fold "
         "each half back into a convolution.",
    lhs=D.conv1d(z, w, k, i),
    rhs=D.conv1d(x, w, k, i) + D.conv1d(y, w, k, i),
    lets=[z_def],
    derivation=[
        Unfold("conv1d", ("a",)),             # the definition of the convolution
        Unfold("z"),                          # the definition of z
        Distribute(),                         # w_a (x + y) = w_a x + w_a y
        Fold(D.conv1d(x, w, k, i), ("a",)),   # recognise conv(x, w) ...
        Fold(D.conv1d(y, w, k, i), ("a",)),   # ... and conv(y, w)
    ],
    instances=grid(k=range(1, 4)),
    check_source='''
def test_tutorial_linear_in_input():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 1, 3, 9, 9))
    w = rng.standard_normal((4, 3, 3, 3))
    lhs = ref.conv2d(x + y, w, stride=2, padding=1)
    np.testing.assert_allclose(lhs, ref.conv2d(x, w, stride=2, padding=1) + ref.conv2d(y, w, stride=2, padding=1))
''',
)


# 4. An exact family: builders over ops (convsym.exact.ops) run on tensors whose every entry is a symbol.
def inputs(c, o, k, n, g, **_):
    return {"x": (c, n, n), "y": (c, n, n), "w": (o, c // g, k, k)}


def conv_of_sum(T, s, p, g, **_):
    """the convolution of x + y"""
    return ops.conv2d(T["x"] + T["y"], T["w"], stride=s, padding=p, groups=g)


def sum_of_convs(T, s, p, g, **_):
    """the sum of the convolutions of x and of y"""
    return (ops.conv2d(T["x"], T["w"], stride=s, padding=p, groups=g)
            + ops.conv2d(T["y"], T["w"], stride=s, padding=p, groups=g))


linear_exact = Identity(
    "tutorial.linear-exact",
    "Linearity with channels, stride, padding and groups",
    "For 2 or 4 channels, kernels up to 3, stride and padding in {1, 2}, groups in {1, 2}: "
    "conv2d(x + y, w) and conv2d(x, w) + conv2d(y, w) are the same polynomials.",
    inputs=inputs,
    lhs=conv_of_sum,
    rhs=sum_of_convs,
    family=[dict(c=c, o=2, k=k, n=5, s=s, p=p, g=g)
            for c in (2, 4) for k in (1, 2, 3) for s in (1, 2) for p in (1, 2) for g in (1, 2)],
    check_source='''
def test_tutorial_linear_exact_fractions():
    # exact rationals: the two sides must be equal, not close
    rng = np.random.default_rng(1)
    for c, k, s, p, g in [(2, 1, 1, 1, 1), (2, 3, 2, 1, 2), (4, 2, 1, 2, 2), (4, 3, 2, 2, 1), (4, 3, 1, 2, 4)]:
        x, y = (np.array([Fraction(int(v), 7) for v in rng.integers(-20, 21, c * 25)], dtype=object).reshape(1, c, 5, 5)
                for _ in range(2))
        w = rng.integers(-5, 6, (2 * g, c // g, k, k)).astype(object)
        lhs = ref.conv2d(x + y, w, stride=s, padding=p, groups=g)
        rhs = ref.conv2d(x, w, stride=s, padding=p, groups=g) + ref.conv2d(y, w, stride=s, padding=p, groups=g)
        assert (lhs == rhs).all()
''',
)


if __name__ == "__main__":
    from convsym.run.registry import run_script

    raise SystemExit(run_script(globals()))
