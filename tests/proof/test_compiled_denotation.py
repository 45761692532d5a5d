"""The compiled denotation (claim.Denoter) against the SymPy one (claim.denote_reference).

Whenever the compiled evaluator gives a value it must be the reference's value as a polynomial;
whenever the reference raises (a bound that is not an integer, an undecided condition) the compiled
one must give no value, so that the kernel falls back to the reference and reports its error.
"""

from __future__ import annotations

import inspect

import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sympy import IndexedBase, Max, Min, Mod, Piecewise, ceiling, floor

from convsym.errors import ProofError
from convsym.proof import claim as C
from convsym.proof.general import General
from convsym.symbolic import compile as K
from convsym.symbolic import opdefs, opdefs_subpixel, opdefs_transposed
from convsym.symbolic.rules import Reorder
from convsym.symbolic.sums import Let, OpDef, Range, SumExpr, Term, index
from convsym.symbolic.symbols import scalars, sizes

#: the parameters of each operation that are signals or kernels (the others are integers)
SIGNALS = {
    "conv1d": "x w", "full_convolution": "w1 w2", "total": "w", "merge_kernel": "w1 w2",
    "conv2d": "x w", "merge_kernels2d": "w1 w2", "bias_through": "w2 b1", "pixel_linear": "x A",
    "fc_flat": "x A", "conv2d_sd": "x w", "colprod": "w U", "band": "w x", "true_conv1d": "x w",
    "avgpool": "x", "dwconv": "x K", "conv_unshuffled": "x w", "s2d_kernel": "w", "conv_strided": "y w",
    "poly_coeff": "w1 w2", "conv2d_grouped": "x w", "bias_through_grouped": "w bias",
    "sparse_kernel": "w", "conv_transpose1d": "y w", "padded_conv1d": "x w", "subpixel1d": "x W",
    "subpixel_kernel": "W", "conv_transpose_channels": "x w",
    "conv_transpose2d_dilated": "y w", "transposed_merge2d": "w1 w2", "padded_conv2d_channels": "x w",
    "conv_after_kernel2d": "w1 w2",
    "conv_transpose2d": "y w", "conv_transpose2d_per_group": "y V", "padded_conv2d_grouped": "x w",
    "conv2d_grouped_dilated": "u f",
    "subpixel2d": "x W", "subpixel_kernel2d": "W",
    "transposed_subpixel_kernel2d": "V",
}
OPS = [v for m in (opdefs, opdefs_transposed, opdefs_subpixel) for v in vars(m).values() if isinstance(v, OpDef)]

q, r, jj = index("q r jj")
n, m = sizes("n m")
s_1 = scalars("s_1")[0]


def test_every_operation_is_listed():
    assert sorted(op.name for op in OPS) == sorted(SIGNALS)


def _agree(expr: SumExpr, env: dict, lets=()) -> bool:
    """Compare on one instance; True when the compiled evaluator gave a value."""
    fast = C.Denoter(lets).poly(expr, env)
    try:
        ref = C.denote_reference(expr, env, lets)
    except ProofError:
        assert fast is None, f"the reference raises at {env} but the compiled evaluator gave {fast}"
        return False
    if fast is None:
        return False
    assert sympy.expand(ref - K.poly_to_sympy(fast)) == 0, (expr, env, ref, K.poly_to_sympy(fast))
    return True


def _application(op: OpDef):
    """``op`` at integer symbols p0, p1, ... for its integer parameters (signals as IndexedBase)."""
    signals = SIGNALS[op.name].split()
    args, ints = [], []
    for name in inspect.signature(op.body).parameters:
        if name in signals:
            args.append(IndexedBase(f"{name}_sig"))
        else:
            p = sympy.Symbol(f"p{len(ints)}", integer=True)
            ints.append(p)
            args.append(p)
    return op(*args), ints


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_operations_agree(op, data):
    app, ints = _application(op)
    values = [data.draw(st.integers(-1, 3), label=str(p)) for p in ints]
    env = {p: sympy.Integer(v) for p, v in zip(ints, values, strict=True)}
    # the application alone, and under a sum over its last integer argument (the bound index is
    # named like the definition's own, so instantiation must rename it)
    last = ints[-1]
    a = index("a")[0]
    under = SumExpr.of(Term(s_1 * app.xreplace({last: a + last}), (Range.of(a, 0, 1),)), sympy.Rational(1, 2))
    got = [_agree(SumExpr.of(app), env), _agree(under, env)]
    if all(v >= 1 for v in values):
        assert all(got), f"{op.name}: the compiled evaluator gave no value at {env}"


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.integers(0, 4))
def test_intermediate_signals_agree(kk, pos):
    x, w, h = IndexedBase("x"), IndexedBase("w"), IndexedBase("h")
    k, i = sizes("k")[0], index("i")[0]
    let = Let(h, lambda t: SumExpr.of(opdefs.conv1d(x, w, k, t), s_1))
    expr = SumExpr.of(Term(h[q] * h[q + 1], (Range.of(q, i, i + k - 1),)), opdefs.total(w, k))
    assert _agree(expr, {k: sympy.Integer(kk), i: sympy.Integer(pos)}, (let,))


def _hand_made(seed: int) -> list[SumExpr]:
    x, y = IndexedBase("x"), IndexedBase("y")
    return [
        SumExpr.of(Term(x[q], (Range.of(q, Max(0, n - 3), Min(m, floor(n / 2) + 1)),))),
        SumExpr.of(Term(x[q] * y[r], (Range.of(q, 0, n), Range.of(r, q, ceiling(m / 3) + q)),
                        (sympy.Eq(Mod(q + r, 3), 1),))),
        SumExpr.of(Term(x[q] ** 2, (Range.of(q, Piecewise((0, n > 2), (1 - n, True)), sympy.Abs(m - 2)),),
                        (sympy.Or(sympy.Ne(q, 1), sympy.And(n > 1, sympy.Not(m < 0))),))),
        SumExpr.of(Term(x[Mod(q, 2)] * y[floor(q / 2)] / (n ** 2 + 1), (Range.of(q, -1, m),),
                        (sympy.Le(2 * q, n + m), sympy.Gt(q, -2), sympy.true))),
        SumExpr.of(Term(s_1 ** 2 * x[q], (Range.of(q, 0, n),),
                        inner=SumExpr.of(Term(y[r - q], (Range.of(r, q, Max(q, m)),)), 3))),
        SumExpr.of(Term(x[q], (Range.of(q, 0, n),), (sympy.false,)), Term(y[0], (), (sympy.Eq(n, m),))),
    ]


@settings(max_examples=40, deadline=None)
@given(st.integers(-3, 6), st.integers(-3, 6))
def test_hand_made_sums_agree(nv, mv):
    env = {n: sympy.Integer(nv), m: sympy.Integer(mv)}
    for expr in _hand_made(0):
        assert _agree(expr, env)


def test_non_integer_bound_falls_back_to_the_reference_error():
    x = IndexedBase("x")
    expr = SumExpr.of(Term(x[q], (Range.of(q, 0, n / 2),)))
    env = {n: sympy.Integer(3)}
    den = C.Denoter()
    assert den.poly(expr, env) is None and "not an integer" in str(den.unsupported)
    with pytest.raises(ProofError, match=r"upper bound n/2 is not an integer at n=3 \(got 3/2\)"):
        C.denote_reference(expr, env)
    assert den.poly(expr, {n: sympy.Integer(4)}) is not None


def test_undecided_condition_falls_back():
    x = IndexedBase("x")
    expr = SumExpr.of(Term(x[q], (Range.of(q, 0, n),), (sympy.Eq(q, s_1),)))
    env = {n: sympy.Integer(2)}
    assert C.Denoter().poly(expr, env) is None
    with pytest.raises(ProofError, match="is not decided"):
        C.denote_reference(expr, env)


def test_unknown_nodes_fall_back():
    x = IndexedBase("x")
    env = {n: sympy.Integer(4)}
    square_root = SumExpr.of(Term(x[q], (Range.of(q, 0, sympy.sqrt(n)),)))
    relu = SumExpr.of(Term(Max(0, x[q]), (Range.of(q, 0, n),)))
    for expr in (square_root, relu):
        den = C.Denoter()
        assert den.poly(expr, env) is None and den.unsupported is not None
        assert C.denote_reference(expr, env) != 0


def test_the_claim_check_falls_back_and_still_refutes():
    """A claim outside the compiled evaluator (a square root in a bound) is decided by the reference."""
    x = IndexedBase("x")
    k = sizes("k")[0]
    th = General("test.sqrt-bound", "t", "s",
                 lhs=SumExpr.of(Term(x[q], (Range.of(q, 0, floor(sympy.sqrt(k))),))),
                 rhs=SumExpr.of(Term(x[q], (Range.of(q, 0, 1),))),
                 derivation=[Reorder([("q", 0, 1)])])
    agree, differ = {k: sympy.Integer(2)}, {k: sympy.Integer(4)}
    assert C.Denoter().poly(th.lhs, agree) is None
    assert th._claim_check([agree]) is None
    witness = th._claim_check([agree, differ])
    assert witness is not None and "{x}_{2} = 1$, the left side is 1 and the right side is 0" in witness.description


def test_compiled_forms_are_cached():
    den = C.Denoter()
    app, ints = _application(opdefs.conv1d)
    expr = SumExpr.of(Term(app.xreplace({ints[1]: q}), (Range.of(q, 0, 3),)))
    env = {ints[0]: sympy.Integer(2), ints[2]: sympy.Integer(1), ints[3]: sympy.Integer(1)}
    first = den.poly(expr, env)
    assert len(den._templates) == 1 and len(den._sums) == 2
    memo: dict = {}
    assert den.poly(expr, env, memo) == first and len(memo) == 4
    assert len(den._templates) == 1 and len(den._sums) == 2


# ---------------------------------------------------------------------------------------------
# int_value: closed formulas at integer points (the cost chapter's cross-checks)


def _formulas():
    from convsym.cost import exported_formulas

    return exported_formulas()


@pytest.mark.parametrize("formula", _formulas(), ids=lambda f: f.name)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_int_value_agrees_with_substitution(formula, data):
    values = {s: data.draw(st.integers(-2, 6), label=str(s)) for s, _ in formula.arguments}
    fast = K.int_value(formula.expression, values)
    try:
        out = formula.expression.xreplace({s: sympy.Integer(v) for s, v in values.items()})
    except (TypeError, ValueError):  # SymPy cannot compare with nan (a zero stride): no value here either
        assert fast is None
        return
    if out.is_Integer:
        assert fast is None or fast == int(out), (formula.name, values, out, fast)
        if all(v >= 1 for v in values.values()):
            assert fast == int(out), (formula.name, values, out, fast)
    else:
        assert fast is None, (formula.name, values, out, fast)


def test_int_value_leaves_the_undecided_to_sympy():
    assert K.int_value(n / 2, {n: 3}) is None  # not an integer
    assert K.int_value(n + m, {n: 3}) is None  # m has no value
    assert K.int_value(sympy.sqrt(n), {n: 4}) is None  # not compiled
    assert K.int_value(n / (m - 1), {n: 3, m: 1}) is None  # division by zero
    assert K.int_value(Max(n, 2) * floor(m / 3) + Mod(n, -3), {n: 5, m: 7}) == 5 * 2 + (5 % -3)


def test_a_body_reading_an_outside_symbol():
    """Values are remembered per argument tuple in a memo of one instance: a body may read a size of
    the instance, but one that reads another integer symbol (here the index of the sum around its
    application, so that its value depends on where it is used) is left to the reference."""
    x = IndexedBase("x")
    g = sympy.Symbol("g", integer=True)
    size = OpDef("size", lambda sig, i: SumExpr.of(Term(sig[i + g], (Range.of(q, 0, g),))), lambda sig, i: "s")
    expr = SumExpr.of(Term(size(x, r), (Range.of(r, 0, 1),)))
    env = {g: sympy.Integer(2)}
    assert _agree(expr, env)
    assert K.poly_to_sympy(C.Denoter().poly(expr, env)) == 3 * x[2] + 3 * x[3]
    peek = OpDef("peek", lambda sig, i: SumExpr.of(Term(sig[i + r], (Range.of(q, 0, g),))), lambda sig, i: "p")
    expr = SumExpr.of(Term(peek(x, 0), (Range.of(r, 0, 1),)))
    den = C.Denoter()
    assert den.poly(expr, env) is None and "does not bind" in str(den.unsupported)


# ---------------------------------------------------------------------------------------------
# the kernel with the compiled evaluator switched off gives the same verdicts


def _verdict_json(theorem) -> dict:
    out = theorem.prove().to_json()
    out.pop("seconds", None)
    return out


def test_the_reference_path_gives_the_same_verdicts(monkeypatch):
    import runpy
    from pathlib import Path

    merge = runpy.run_path(str(Path(__file__).resolve().parents[2] / "proofs" / "merge.py"))
    proved = merge["sequential_1d"]
    # the bias through the second layer left out: refuted on the claim instances
    wrong = General("test.merge-without-bias", "t", "s", lhs=proved.lhs,
                    rhs=SumExpr(tuple(t for t in proved.rhs.terms if "b_1" not in str(t.summand))),
                    lets=proved.lets, derivation=proved.derivation, instances=[{"k_1": 2, "k_2": 1}])
    fast = [_verdict_json(th) for th in (proved, wrong)]
    assert [v["verdict"] for v in fast] == ["proved", "refuted"]
    monkeypatch.setattr(C.Denoter, "poly", lambda self, expr, env, memo=None: None)
    assert [_verdict_json(th) for th in (proved, wrong)] == fast
