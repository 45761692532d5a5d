"""What the book prints for a witness and a step: the statement's own index values, and words.

A refuted claim names the differing output entry by the index its statement uses (``t = -1`` of
a full cross-correlation, not the array index 0).  These tests re-evaluate each claim's two sides
at the printed index, from the statement's definition with ``convsym.reference``, and check they
are the printed values.  The last tests scan what the derivations say for code.
"""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest

import convsym.reference as ref
from convsym.proof import General, Identity
from convsym.run.registry import load_families

THEOREMS = {th.name: th for _, theorems in load_families() for th in theorems}


def _printed(description: str) -> dict[str, int]:
    """``{index: value}`` from "the two sides differ at $t = -1, i = 2$: ..." as printed."""
    match = re.search(r"differ at \$([^$]*)\$", description)
    assert match, f"no statement coordinates printed in {description!r}"
    return {k.strip(): int(v) for k, v in (part.split("=") for part in match[1].split(", "))}


def _vector(witness, name) -> dict[int, Fraction]:
    """An input of the witness as a sequence on the integers: ``{index: value}`` from 0."""
    spec = witness.data["inputs"][name]
    values = [Fraction(0)] * int(np.prod(spec["shape"]))
    for (index,), value in spec["nonzero"]:
        values[index] = Fraction(value)
    return dict(enumerate(values))


def _xcorr(p: dict[int, Fraction], q: dict[int, Fraction]) -> dict[int, Fraction]:
    """The statement's full cross-correlation (p star q)_t = sum_n p_n q_{n+t}, on every t where a
    product exists, computed by convsym.reference: conv1d of q (zero padded) with the kernel p."""
    lo_p, lo_q = min(p), min(q)
    kernel = np.array([p[n] for n in sorted(p)], dtype=object)
    signal = np.array([q[n] for n in sorted(q)], dtype=object)
    pad = len(kernel) - 1
    y = ref.conv1d(signal[None, None], kernel[None, None], padding=pad)[0, 0]
    # y_e = sum_a p_{lo_p + a} q_{lo_q + e + a - pad}: t = (lo_q + e - pad) - lo_p
    return {lo_q - lo_p + e - pad: Fraction(v) for e, v in enumerate(y)}


def test_xcorr_witness_names_t_and_the_sides_differ_there():
    verdict = THEOREMS["equivalences.xcorr-not-commutative"].prove()
    assert verdict.verdict == "refuted"
    w = verdict.witness
    t = _printed(w.description)["t"]
    assert w.data["coordinates"] == {"t": t}
    assert t != w.data["entry"][0]  # the array index is not the statement's t
    f, g = _vector(w, "f"), _vector(w, "g")
    left, right = _xcorr(f, g).get(t, 0), _xcorr(g, f).get(t, 0)
    assert (left, right) == (Fraction(w.lhs), Fraction(w.rhs))
    assert left != right
    assert f"at $t = {t}$" in w.description or f"differ at $t = {t}$" in w.description


def test_nested_xcorr_witness_names_t_of_both_sides():
    verdict = THEOREMS["equivalences.xcorr-not-associative"].prove()
    assert verdict.verdict == "refuted"
    w = verdict.witness
    t = _printed(w.description)["t"]
    f, g, h = (_vector(w, n) for n in ("f", "g", "h"))
    left = _xcorr(_xcorr(f, g), h).get(t, 0)
    right = _xcorr(f, _xcorr(g, h)).get(t, 0)
    assert (left, right) == (Fraction(w.lhs), Fraction(w.rhs)) and left != right


def test_every_printed_entry_of_the_nested_sides_is_at_its_t():
    """Both nested sides are compared at the same t: entry e of either builder is the statement's
    side at t = coordinates(e), for inputs with every entry nonzero."""
    th = THEOREMS["equivalences.xcorr-not-associative"]
    from convsym.exact.poly import PolyTensor
    from convsym.proof import VariablePool

    pool = VariablePool()
    T = {k: PolyTensor.variables(pool, k, shape) for k, shape in th.inputs().items()}
    values = {"f": [2, 3], "g": [5, 7], "h": [11, 13]}
    seqs = {k: dict(enumerate(Fraction(v) for v in vs)) for k, vs in values.items()}
    assignment = {}
    for name, vs in values.items():
        for n, v in enumerate(vs):
            assignment[pool.id(f"{name}_{{{n}}}")] = v
    left_ref = _xcorr(_xcorr(seqs["f"], seqs["g"]), seqs["h"])
    right_ref = _xcorr(seqs["f"], _xcorr(seqs["g"], seqs["h"]))
    left, right = th.lhs_fn(T).evaluate(assignment), th.rhs_fn(T).evaluate(assignment)
    assert left.shape == right.shape
    for e in range(left.shape[0]):
        t = th.statement_coordinates((e,), {})["t"]
        assert left[e] == left_ref.get(t, 0)
        assert right[e] == right_ref.get(t, 0)


def test_padded_interior_coordinates_are_positions_of_the_two_layers():
    """A wrong claim about the interior of the padded merge (the merged bias off by one) is
    refuted at the interior's first entry, printed as output position (o, p_2, p_2) of the two
    layers; the reference's two layers at that position are the printed left side."""
    base = THEOREMS["merge.padded-interior"]
    sz = dict(k1=1, k2=1, ci=1, cm=1, co=1, n=3, p1=0, p2=1)

    def off_by_one(T, **s):
        return base.rhs_fn(T, **s) + 1

    th = Identity("test.padded-interior-off-by-one", "t", "the interior, off by one", expected="refuted",
                  inputs=base.inputs, lhs=base.lhs_fn, rhs=off_by_one, family=[sz],
                  coordinates=base.coordinates)
    w = th.prove().witness
    at = _printed(w.description)
    assert at == {"o": 0, "i": 1, "j": 1}
    x, w1, b1, w2, b2 = (_array(w, n, shape) for n, shape in base.inputs(**sz).items())
    h = ref.conv2d(x[None], w1, b1)
    y = ref.conv2d(h, w2, b2, padding=sz["p2"])[0]
    assert y[at["o"], at["i"], at["j"]] == Fraction(w.lhs)


def _array(witness, name, shape):
    spec = witness.data["inputs"][name]
    out = np.zeros(tuple(shape), dtype=object)
    out[...] = Fraction(0)
    for index, value in spec["nonzero"]:
        out[tuple(index)] = Fraction(value)
    return out


def test_subpixel_phase_witness_names_position_and_phase():
    verdict = THEOREMS["subpixel.phase-bias"].prove()
    w = verdict.witness
    at = _printed(w.description)
    r = w.data["inputs"]["r"]
    assert at[r"\phi_h"] == at["i"] % r and at[r"\phi_w"] == at["j"] % r
    left, right = (Fraction(v) for v in re.search(r"the left side is (\S+), the right side (\S+)$",
                                                      w.description).groups())
    th = THEOREMS["subpixel.phase-bias"]
    inputs = th.witness_inputs
    y = ref.pixel_shuffle(ref.conv2d(inputs["x"], inputs["W"], inputs["b"]), r)[0, 0]
    assert y[at["i"], at["j"]] == left != right  # the sub-pixel side at the printed position
    assert th.rhs_fn(**inputs)[0, 0, at["i"], at["j"]] == right


def test_refutation_of_arrays_names_the_first_difference():
    verdict = THEOREMS["transposed.merge-padded-first"].prove()
    w = verdict.witness
    i = _printed(w.description)["i"]
    assert w.data["entry"] == [0, 0, i, 0]
    assert "{'" not in w.description  # no Python dict printed


def test_coordinates_must_be_integers():
    th = Identity("test.bad-coordinates", "t", "s", expected="refuted", inputs=lambda **_: {"x": (2,)},
                  lhs=lambda T: T["x"], rhs=lambda T: T["x"] * 2, family=[{}],
                  coordinates=lambda entry, **_: {"t": entry[0] / 2})
    verdict = th.prove()
    assert verdict.verdict == "failed" and "not an integer" in verdict.error
    with pytest.raises(TypeError, match="coordinates must be a function"):
        Identity("test.not-callable", "t", "s", inputs=lambda **_: {"x": (1,)}, lhs=lambda T: T["x"],
                 rhs=lambda T: T["x"], family=[{}], coordinates={"t": 0})


# ---------------------------------------------------------------------------------------------
# what the derivations say, in words: no code

#: a call ``name(``, an identifier with an underscore, a comparison as code, ``sum(``, an arrow
CODE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\(|[A-Za-z0-9]_[A-Za-z0-9]|==|>=|<=|!=|->")


def code_in(text: str) -> list[str]:
    """The code-like pieces of a description, outside its ``$...$`` math."""
    return CODE.findall(re.sub(r"\$[^$]*\$", "", text))


@pytest.mark.parametrize("text, found", [
    ("fold the sum over a into full_convolution(w_1, w_2, k_1, k_2, t)", True),
    ("the exported conv2d_macs", True),
    ("f(z) = relu: positive homogeneity", True),
    ("for real a, b and s >= 0", True),
    ("the sum over $a$ is, by definition, $(w_{1} * w_{2})_{t}$", False),
    ("the exported formula $\\mathtt{conv2d\\_macs}$", False),
])
def test_code_pattern(text, found):
    assert bool(code_in(text)) is found


def test_rule_descriptions_are_words_and_math():
    """Every step of every general derivation, as the book prints its description."""
    seen = 0
    for name, th in THEOREMS.items():
        if not isinstance(th, General):
            continue
        for rule in th.derivation:
            text = rule.describe()
            seen += 1
            assert not code_in(text), f"{name}: step {text!r} reads as code: {code_in(text)}"
    assert seen > 100


@pytest.mark.slow
def test_every_printed_step_is_words_and_math():
    """Every step label the book prints, of every theorem (each proved once)."""
    for name, th in THEOREMS.items():
        verdict = th.prove()
        for step in verdict.steps:
            assert not code_in(step.description), f"{name}: {step.description!r} reads as code"


def test_toeplitz_rows_are_the_outputs_of_the_convolution():
    """Row e of the Toeplitz product is output entry (o, i, j) of the convolution, row-major: the
    coordinates agree with the reference convolution's output, entry by entry."""
    th = THEOREMS["equivalences.toeplitz-exact"]
    for sz in th.cases[::7]:
        shapes = th.inputs(**sz)
        rng = np.random.default_rng(len(th.cases))
        x = rng.integers(-3, 4, shapes["x"]).astype(object)
        w = rng.integers(-3, 4, shapes["w"]).astype(object)
        y = ref.conv2d(x[None], w, stride=sz["s"], padding=sz["p"], dilation=sz["d"], groups=sz["g"])[0]
        flat = y.reshape(-1)
        for e in range(flat.size):
            at = th.statement_coordinates((e,), sz)
            assert flat[e] == y[at["o"], at["i"], at["j"]]
        assert th.statement_coordinates((flat.size - 1,), sz) == dict(zip("oij", (d - 1 for d in y.shape),
                                                                           strict=True))


# ---------------------------------------------------------------------------------------------
# the kernels of two layers are w_1, w_2 everywhere: statements, derivations, witnesses


def test_numbered_arrays_print_as_the_notation_writes_them():
    import sympy

    from convsym.proof.identity import entry_latex
    from convsym.proof.statement import input_name_latex
    from convsym.symbolic.printing import latex

    a, t = sympy.symbols("a t", integer=True)
    w1, x = sympy.IndexedBase("w_1"), sympy.IndexedBase("x")
    assert latex(w1[a] * x[t - a]) == "w_{1,a} {x}_{- a + t}"
    assert latex(sympy.IndexedBase(r"\gamma_2")[a]) == r"\gamma_{2,a}"
    assert latex(w1) == "w_{1}"
    assert input_name_latex("w2") == "w_{2}" and input_name_latex("gamma1") == r"\gamma_{1}"
    assert entry_latex("w2_{0,1}") == "w_{2,0,1}" and entry_latex("x_{0,1}") == "{x}_{0,1}"


def test_merge_derivation_writes_w_1_as_its_statement():
    verdict = THEOREMS["merge.sequential-1d"].prove()
    printed = [verdict.statement_latex, *(s.expression for s in verdict.steps),
               *(s.description for s in verdict.steps)]
    assert not [p for p in printed if "^{(" in p]
    assert "w_{1,a}" in " ".join(printed) and r"\left(w_{1} * w_{2}\right)_{t}" in " ".join(printed)
