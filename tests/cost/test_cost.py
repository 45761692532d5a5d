"""convsym.cost against brute-force counting and the NumPy reference; symbols; tools; errors; CLI."""

from __future__ import annotations

import io
import itertools
import json

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from convsym import reference as ref
from convsym.cli import main
from convsym.cost import (
    DTYPE_SIZES,
    TOOLS,
    Cost,
    conv2d_cost,
    conv_transpose2d_cost,
    evaluate_sums,
    exported_formulas,
    linear_cost,
    padding_taps,
    pool2d_cost,
    real_taps,
    resnet18_convs,
)
from convsym.shapes import conv_output_size, pool_output_size, same_padding

# ---------------------------------------------------------------------------------------------
# brute force: enumerate every product of the direct algorithm


def fitting(n, k, s, left, right, d):
    return [i for i in range(n + left + right) if s * i + d * (k - 1) <= n + left + right - 1]


def conv_products(n, c_in, h, w, c_out, kh, kw, sh, sw, pads, dh, dw, g):
    """(all products, products of two real numbers) of a direct conv2d loop."""
    (pt, pb), (pl, pr) = pads
    rows, cols = fitting(h, kh, sh, pt, pb, dh), fitting(w, kw, sw, pl, pr, dw)
    real = 0
    for i, j, u, v in itertools.product(rows, cols, range(kh), range(kw)):
        real += 0 <= sh * i + dh * u - pt < h and 0 <= sw * j + dw * v - pl < w
    per = n * c_out * (c_in // g)
    return per * len(rows) * len(cols) * kh * kw, per * real


@st.composite
def conv_layers(draw):
    g = draw(st.integers(1, 3))
    c_in, c_out = g * draw(st.integers(1, 3)), g * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw, dh, dw = (draw(st.integers(1, 3)) for _ in range(4))
    if draw(st.booleans()):
        ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
        padding, pads = (ph, pw), ((ph, ph), (pw, pw))
    else:
        pads = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(2))
        padding = pads
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - sum(pads[0])), 12))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - sum(pads[1])), 12))
    n = draw(st.integers(1, 2))
    return dict(n=n, c_in=c_in, h=h, w=w, c_out=c_out, kh=kh, kw=kw, sh=sh, sw=sw, padding=padding,
                pads=pads, dh=dh, dw=dw, g=g, bias=draw(st.booleans()))


def _cost(c) -> Cost:
    return conv2d_cost((c["n"], c["c_in"], c["h"], c["w"]), c["c_out"], (c["kh"], c["kw"]),
                       (c["sh"], c["sw"]), c["padding"], (c["dh"], c["dw"]), c["g"], c["bias"])


@settings(max_examples=120, deadline=None)
@given(conv_layers())
def test_conv2d_cost_counts_the_loop_nest(c):
    cost = _cost(c)
    dense, real = conv_products(c["n"], c["c_in"], c["h"], c["w"], c["c_out"], c["kh"], c["kw"], c["sh"],
                                c["sw"], c["pads"], c["dh"], c["dw"], c["g"])
    assert (cost.macs, cost.macs_without_padding) == (dense, real)
    assert all(type(v) is int for v in cost.figures().values())
    outputs = cost.output_elements
    assert cost.flops == 2 * dense - outputs + (outputs if c["bias"] else 0)
    assert cost.backward_macs == 2 * dense
    weight = np.zeros((c["c_out"], c["c_in"] // c["g"], c["kh"], c["kw"]))
    assert cost.params == weight.size + (c["c_out"] if c["bias"] else 0)


@settings(max_examples=60, deadline=None)
@given(conv_layers())
def test_conv2d_output_shape_and_real_taps_are_the_references(c):
    cost = _cost(c)
    x = np.ones((c["n"], c["c_in"], c["h"], c["w"]))
    wt = np.ones((c["c_out"], c["c_in"] // c["g"], c["kh"], c["kw"]))
    y = ref.conv2d(x, wt, stride=(c["sh"], c["sw"]), padding=c["pads"], dilation=(c["dh"], c["dw"]),
                   groups=c["g"])
    assert y.shape == cost.output_shape
    # ones convolved with ones over zero padding: each output counts its real products
    assert y.sum() == cost.macs_without_padding


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("d", [1, 2])
def test_same_padding_matches_the_reference(k, d):
    cost = conv2d_cost((1, 2, 7, 6), 3, k, padding="same", dilation=d)
    y = ref.conv2d(np.ones((1, 2, 7, 6)), np.ones((3, 2, k, k)), padding="same", dilation=d)
    assert cost.output_shape == y.shape == (1, 3, 7, 6)
    assert cost.layer.padding == (same_padding(k, d), same_padding(k, d))
    assert y.sum() == cost.macs_without_padding


@st.composite
def transposed_layers(draw):
    g = draw(st.integers(1, 2))
    c_in, c_out = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    k, s, d, n = (draw(st.integers(1, 3)) for _ in range(4))
    op = draw(st.integers(0, max(s, d) - 1))
    p = draw(st.integers(0, ((n - 1) * s + d * (k - 1) + op) // 2))
    return dict(c_in=c_in, c_out=c_out, k=k, s=s, d=d, n=n, op=op, p=p, g=g)


@settings(max_examples=80, deadline=None)
@given(transposed_layers())
def test_conv_transpose2d_cost_against_the_reference(c):
    cost = conv_transpose2d_cost((2, c["c_in"], c["n"], c["n"] + 1), c["c_out"], c["k"], c["s"], c["p"],
                                 c["op"], c["d"], c["g"])
    x = np.ones((2, c["c_in"], c["n"], c["n"] + 1))
    y = ref.conv_transpose2d(x, np.ones((c["c_in"], c["c_out"] // c["g"], c["k"], c["k"])), None, c["s"],
                             c["p"], c["op"], c["d"], c["g"])
    assert y.shape == cost.output_shape
    # every product lands somewhere of the uncropped output; the kept ones sum in y
    assert y.sum() == cost.macs_without_padding
    assert cost.macs == 2 * c["c_in"] * c["n"] * (c["n"] + 1) * (c["c_out"] // c["g"]) * c["k"] ** 2
    assert cost.flops == 2 * cost.macs + cost.bias_adds


@pytest.mark.parametrize(
    "shape, kernel, stride, padding, dilation, ceil_mode, kind",
    [
        ((1, 2, 9, 9), 3, 2, 1, 1, True, "max"),
        ((2, 3, 7, 7), 2, None, 0, 1, True, "max"),
        ((1, 1, 12, 10), 3, 2, 0, 2, True, "max"),
        ((1, 2, 8, 8), 2, None, 0, 1, False, "avg"),
        ((1, 2, 10, 9), 3, 2, 1, 1, True, "avg"),
        ((1, 1, 2, 2), 3, 2, 0, 1, True, "max"),  # the one window hangs over the end (PyTorch allows it)
    ],
)
def test_pool2d_cost_against_the_reference(shape, kernel, stride, padding, dilation, ceil_mode, kind):
    cost = pool2d_cost(shape, kernel, stride, padding, dilation, ceil_mode, kind)
    x = np.zeros(shape)
    if kind == "max":
        y = ref.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode)
        assert cost.flops == y.size * (kernel * kernel - 1)
        assert cost.activations_kept == y.size
    else:
        y = ref.avg_pool2d(x, kernel, stride, padding, ceil_mode)
        assert cost.flops == y.size * kernel * kernel
    assert y.shape == cost.output_shape
    assert (cost.macs, cost.params) == (0, 0)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 14), st.integers(1, 5), st.integers(1, 4), st.integers(1, 3), st.booleans(), st.data())
def test_pool_output_size_is_the_references(n, k, s, d, ceil_mode, data):
    p = data.draw(st.integers(0, k // 2))
    span = d * (k - 1) + 1
    if span > n + 2 * p and not ceil_mode:
        with pytest.raises(ValueError, match=r"pool_output_size: dilated kernel size"):
            pool_output_size(n, k, s, p, d, ceil_mode)
        return
    if span > n + 2 * p and (n + 2 * p - span + s - 1) < 0:
        return  # no window at all: PyTorch rejects it too
    out = ref.max_pool2d(np.zeros((1, 1, n, 1)), (k, 1), (s, 1), (p, 0), (d, 1), ceil_mode).shape[2]
    assert pool_output_size(n, k, s, p, d, ceil_mode) == out
    if span <= n + 2 * p:
        assert out == conv_output_size(n, k, s, p, d, ceil_mode)


def test_pool_output_size_defaults_and_symbols():
    assert pool_output_size(112, 3, 2, 1) == 56
    assert pool_output_size(7, 2) == 3 and pool_output_size(7, 2, ceil_mode=True) == 4
    n, k = sympy.symbols("n k", integer=True, positive=True)
    assert pool_output_size(n, k, 2) == conv_output_size(n, k, 2)
    with pytest.raises(ValueError, match=r"^pool_output_size: padding=2 must be at most half of kernel size k=3$"):
        pool_output_size(9, 3, 1, 2)


def test_avg_pool_costs_its_depthwise_conv():
    pool = pool2d_cost((2, 6, 11, 11), 3, 2, 1, kind="avg")
    conv = conv2d_cost((2, 6, 11, 11), 6, 3, 2, 1, groups=6, bias=False)
    assert pool.flops == conv.macs and pool.output_shape == conv.output_shape


@pytest.mark.parametrize("shape", [(4, 9), (2, 3, 9), (1, 1, 1, 9)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_cost(shape, bias):
    cost = linear_cost(shape, 5, bias)
    rows = int(np.prod(shape[:-1]))
    assert cost.output_shape == (*shape[:-1], 5)
    assert cost.macs == rows * 9 * 5
    assert cost.params == 9 * 5 + 5 * bias
    assert cost.flops == rows * 5 * (2 * 9 - 1) + rows * 5 * bias


def test_conv1x1_costs_a_linear_layer_per_pixel():
    conv = conv2d_cost((2, 16, 7, 5), 8, 1)
    lin = linear_cost((2 * 7 * 5, 16), 8)
    for name in ("macs", "params", "flops", "bias_adds", "macs_without_padding"):
        assert getattr(conv, name) == getattr(lin, name), name


# ---------------------------------------------------------------------------------------------
# padding taps


@settings(max_examples=300, deadline=None)
@given(st.integers(-3, 12), st.integers(1, 6), st.integers(1, 4), st.integers(1, 3), st.integers(0, 8))
def test_padding_taps_counts(e, k, s, d, m):
    brute = sum(1 for i in range(m) for a in range(k) if s * i + d * a < e)
    assert padding_taps(e, k, s, d, m) == brute


E, K, S, M = sympy.symbols("e k s m", integer=True, positive=True)
SYMBOLIC_Z = padding_taps(E, K, S, 1, M)
SYMBOLIC_Z_DILATED = padding_taps(E, K, S, 2, M)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.integers(1, 6), st.integers(1, 4), st.integers(1, 8))
def test_symbolic_padding_taps_substitutes(e, k, s, m):
    values = {E: e, K: k, S: s, M: m}
    assert SYMBOLIC_Z.xreplace({v: sympy.Integer(n) for v, n in values.items()}) == padding_taps(e, k, s, 1, m)
    assert isinstance(SYMBOLIC_Z_DILATED, sympy.Sum)
    dilated = evaluate_sums(SYMBOLIC_Z_DILATED.xreplace({v: sympy.Integer(n) for v, n in values.items()}))
    assert dilated == padding_taps(e, k, s, 2, m)


def test_real_taps_of_the_resnet_stem():
    # 112 windows of 7 taps; 3 + 1 taps on the left padding, 2 beyond the right edge
    assert padding_taps(3, 7, 2, 1, 112) == 4
    assert real_taps(224, 7, 2, 3, 1, 112) == 112 * 7 - 4 - 2


# ---------------------------------------------------------------------------------------------
# symbols


SYM = sympy.symbols("N C_in H W C_out k_h k_w s_h s_w d_h d_w g", integer=True, positive=True)
PH, PW = sympy.symbols("p_h p_w", integer=True, nonnegative=True)


@settings(max_examples=40, deadline=None)
@given(conv_layers())
def test_symbolic_conv2d_cost_substitutes(c):
    n, c_in, h, w, c_out, kh, kw, sh, sw, dh, dw, g = SYM
    symbolic = conv2d_cost((n, c_in, h, w), c_out, (kh, kw), (sh, sw), (PH, PW), (dh, dw), g, c["bias"])
    values = {n: c["n"], c_in: c["c_in"], h: c["h"], w: c["w"], c_out: c["c_out"], kh: c["kh"], kw: c["kw"],
              sh: c["sh"], sw: c["sw"], dh: c["dh"], dw: c["dw"], g: c["g"]}
    pads = c["pads"]
    if pads[0][0] != pads[0][1] or pads[1][0] != pads[1][1]:
        return
    values.update({PH: pads[0][0], PW: pads[1][0]})
    concrete = _cost(c)
    subs = {k: sympy.Integer(v) for k, v in values.items()}
    for name in ("macs", "params", "flops", "bias_adds", "im2col_elements", "backward_input_macs"):
        assert sympy.sympify(getattr(symbolic, name)).xreplace(subs) == getattr(concrete, name), name
    # with a symbolic dilation the padding-free count is an unevaluated finite sum
    assert evaluate_sums(sympy.sympify(symbolic.macs_without_padding).xreplace(subs)) == concrete.macs_without_padding


def test_symbolic_figures_are_expressions():
    n, c_in, h, w, c_out, kh, kw, *_ = SYM
    cost = conv2d_cost((n, c_in, h, w), c_out, (kh, kw))
    assert cost.macs == n * c_out * c_in * kh * kw * (h - kh + 1) * (w - kw + 1)
    assert sympy.expand(cost.flops - 2 * cost.macs) == 0
    cost = conv2d_cost((1, c_in, h, w), 2 * c_out, 1)
    assert sympy.expand(cost.macs - 2 * conv2d_cost((1, c_in, h, w), c_out, 1).macs) == 0


def test_exported_formulas_are_the_cost_functions():
    formulas = {f.name: f for f in exported_formulas()}
    args = dict(N=2, C_in=6, H=13, W=11, C_out=4, k_h=3, k_w=2, s_h=2, s_w=1, p_h=1, p_w=0, d_h=1, d_w=2, g=2)
    cost = conv2d_cost((2, 6, 13, 11), 4, (3, 2), (2, 1), (1, 0), (1, 2), 2)
    no_dilation = conv2d_cost((2, 6, 13, 11), 4, (3, 2), (2, 1), (1, 0), 1, 2)
    for name, expected in [("conv2d_macs", cost.macs), ("conv2d_flops", cost.flops),
                           ("conv2d_params", cost.params), ("conv2d_im2col_elements", cost.im2col_elements),
                           ("conv2d_output_elements", cost.output_elements),
                           ("conv2d_backward_macs", cost.backward_macs),
                           ("conv2d_macs_without_padding", no_dilation.macs_without_padding)]:
        f = formulas[name]
        values = {sym: sympy.Integer(args[str(sym)]) for sym, _ in f.arguments}
        assert f.expression.xreplace(values) == expected, name


# ---------------------------------------------------------------------------------------------
# tool conventions (the crosscheck tests run the tools; these pin the documented quirks)


def test_unknown_tool_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"as_reported_by: unknown tool 'flopth'; valid tools: "
                                         r"fvcore, ptflops, thop, torchinfo, deepspeed, torch$"):
        conv2d_cost((1, 3, 8, 8), 4, 3).as_reported_by("flopth")


@pytest.mark.parametrize("tool", ["fvcore", "torchinfo", "torch"])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_tools_that_do_not_count_pooling(tool, kind):
    with pytest.raises(ValueError, match=rf"as_reported_by: {tool} does not count {kind}_pool2d layers"):
        pool2d_cost((1, 2, 8, 8), 2, kind=kind).as_reported_by(tool)


def test_fvcore_does_not_count_string_padding():
    with pytest.raises(ValueError, match=r"padding='same' traces to aten::_convolution_mode"):
        conv2d_cost((1, 3, 8, 8), 4, 3, padding="same").as_reported_by("fvcore")
    numeric = conv2d_cost((1, 3, 8, 8), 4, 3, padding=1)
    assert numeric.as_reported_by("fvcore").value == numeric.macs


@pytest.mark.parametrize("k, even", [(2, True), (3, False), (4, True), (5, False)])
def test_deepspeed_same_padding_quirk(k, even):
    cost = conv2d_cost((1, 4, 13, 13), 8, k, padding="same")
    reported = cost.as_reported_by("deepspeed")
    size = 12 if even else 13
    macs = 8 * 4 * k * k * size * size
    assert (reported.value, reported.macs) == (2 * macs + 8 * size * size, macs)


def test_per_tool_figures_of_one_conv():
    cost = conv2d_cost((4, 3, 16, 16), 8, 3, padding=1)
    outputs = 4 * 8 * 16 * 16
    got = {tool: cost.as_reported_by(tool).value for tool in TOOLS}
    assert got == {
        "fvcore": cost.macs,
        "ptflops": (cost.macs + outputs) // 4,  # per image
        "thop": cost.macs,
        "torchinfo": cost.macs + outputs,
        "deepspeed": 2 * cost.macs + outputs,
        "torch": 2 * cost.macs,
    }
    assert cost.as_reported_by("torch").params is None
    assert int(cost.as_reported_by("thop")) == cost.macs


def test_transposed_conv_quirks():
    cost = conv_transpose2d_cost((2, 4, 5, 5), 6, 3, 2, 1, 1)
    outputs = 2 * 6 * 10 * 10
    assert cost.as_reported_by("thop").value == outputs * 4 * 9  # counted like a conv on its output
    assert cost.as_reported_by("torchinfo").value == 2 * 10 * 10 * cost.params
    assert cost.as_reported_by("ptflops").value == (cost.macs + outputs) // 2


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_thop_avg_pool_with_ceil_mode_and_padding_counts_output_elements(count_include_pad):
    # 10 + 2*1 - 3 = 9 over stride 2: ceil(4.5) + 1 = 6 windows per axis (the last starts at 9 < 10 + 1);
    # thop counts one op per output element whatever the window or the divisor
    cost = pool2d_cost((1, 4, 10, 10), 3, 2, 1, ceil_mode=True, kind="avg", count_include_pad=count_include_pad)
    assert cost.output_shape == (1, 4, 6, 6)
    reported = cost.as_reported_by("thop")
    assert (reported.quantity, reported.value, reported.params) == ("total_ops", 1 * 4 * 6 * 6, 0)


def test_thop_grouped_transposed_conv_uses_the_forward_formula_on_the_output():
    # 4 -> 6 channels, groups 2, 5x5 input, stride 2, padding 1, output_padding 1: (5-1)*2 - 2 + 3 + 1 = 10
    cost = conv_transpose2d_cost((2, 4, 5, 5), 6, 3, stride=2, padding=1, output_padding=1, groups=2, bias=False)
    assert cost.output_shape == (2, 6, 10, 10)
    # dense: every input entry meets C_out/g = 3 kernels of 3x3
    assert cost.macs == 2 * 4 * 5 * 5 * 3 * 9 == 5400
    # thop: N C_out H_out W_out (C_in/g) k_h k_w, as if it were a forward conv from the output
    reported = cost.as_reported_by("thop")
    assert (reported.value, reported.params) == (2 * 6 * 10 * 10 * 2 * 9, 4 * 3 * 3 * 3) == (21600, 108)


def test_torch_counts_a_transposed_conv_with_bias_as_twice_its_macs():
    # 8 -> 4 channels, 7x7 input, 3x3, stride 2: torch's FlopCounterMode counts 2 N C_in (C_out/g) k_h k_w H_in W_in
    # and ignores the bias (4 * 14 * 14 additions)
    cost = conv_transpose2d_cost((1, 8, 7, 7), 4, 3, stride=2, padding=1, output_padding=1, bias=True)
    assert cost.output_shape == (1, 4, 14, 14)
    assert cost.macs == 8 * 4 * 9 * 7 * 7 == 14112
    reported = cost.as_reported_by("torch")
    assert (reported.quantity, reported.value, reported.params) == ("flops", 2 * 14112, None)


def test_torchinfo_linear_counts_only_the_first_dimension():
    cost = linear_cost((2, 3, 9), 5)
    assert cost.as_reported_by("torchinfo").value == 2 * cost.params
    assert cost.as_reported_by("fvcore").value == cost.macs == 2 * 3 * 9 * 5


# ---------------------------------------------------------------------------------------------
# memory, report, JSON


@pytest.mark.parametrize("dtype", sorted(DTYPE_SIZES))
def test_memory_bytes(dtype):
    cost = conv2d_cost((2, 3, 10, 10), 4, 3, padding=1)
    size = DTYPE_SIZES[dtype]
    got = cost.memory_bytes(dtype)
    assert got["input"] == 2 * 3 * 10 * 10 * size
    assert got["im2col"] == 2 * 10 * 10 * 3 * 9 * size
    assert got["total"] == cost.forward_memory * size


def test_memory_bytes_rejects_unknown_dtype():
    with pytest.raises(ValueError, match=r"memory_bytes: unknown dtype 'float8'; valid dtypes: float64"):
        conv2d_cost((1, 3, 8, 8), 4, 3).memory_bytes("float8")


def test_report_and_json():
    cost = conv2d_cost((1, 64, 56, 56), 64, 3, padding=1, bias=False)
    text = str(cost)
    assert text.splitlines()[0] == "conv2d: input (1, 64, 56, 56) -> output (1, 64, 56, 56)"
    assert "MACs (dense, every tap)                   115,605,504" in text
    assert "MACs without padding taps                 112,869,376" in text
    assert "torch 2.13.0" in text
    data = json.loads(json.dumps(cost.to_json()))
    assert data["figures"]["macs"] == 115_605_504
    assert data["tools"]["fvcore"]["value"] == 115_605_504
    assert pool2d_cost((1, 1, 4, 4), 2).to_json()["tools"]["fvcore"] is None
    n = sympy.Symbol("n", integer=True, positive=True)
    assert conv2d_cost((1, 1, n, n), 1, 3).to_json()["figures"]["macs"] == "9*(n - 2)**2"


def test_resnet18_layers():
    layers = dict(resnet18_convs(224))
    assert len(layers) == 21 and layers["maxpool"].output_shape == (1, 64, 56, 56)
    assert layers["layer4.1.conv2"].output_shape == (1, 512, 7, 7)
    stem = layers["conv1"]
    dense, real = conv_products(1, 3, 224, 224, 64, 7, 7, 2, 2, ((3, 3), (3, 3)), 1, 1, 1)
    assert (stem.macs, stem.macs_without_padding) == (dense, real)


# ---------------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: conv2d_cost((1, 3, 5, 5), 4, 7), r"^conv2d_cost: dilated kernel size 7 exceeds padded input "
                                                  r"size 5 \(height: d\(k-1\)\+1 with k=7, d=1"),
        (lambda: conv2d_cost((1, 3, 5, 5), 4, 3, dilation=3),
         r"dilated kernel size 7 exceeds padded input size 5"),
        (lambda: conv2d_cost((1, 3, 8, 8), 4, 3, stride=0), r"^conv2d_cost: stride=0 must be >= 1$"),
        (lambda: conv2d_cost((1, 8, 8, 8), 4, 3, groups=3), r"^conv2d_cost: groups=3 must divide in_channels=8$"),
        (lambda: conv2d_cost((1, 6, 8, 8), 4, 3, groups=3), r"groups=3 must divide out_channels=4"),
        (lambda: conv2d_cost((1, -3, 8, 8), 4, 3), r"^conv2d_cost: input_shape\[1\]=-3 must be >= 1$"),
        (lambda: conv2d_cost((1, 3, 8, 8), 4, 3, padding=-1), r"conv2d_cost: padding=-1 must be >= 0 \(height\)"),
        (lambda: conv2d_cost((1, 3, 8, 8), 4, 3, padding="full"),
         r"padding='full' must be a size, a pair, 'same' or 'valid'"),
        (lambda: conv2d_cost((1, 3, 8, 8), 4, 3, stride=2, padding="same"),
         r"padding='same' needs stride 1 \(PyTorch rule\), got stride=\(2, 2\)"),
        (lambda: conv2d_cost((1, 3, 8), 4, 3), r"input_shape must have 4 entries \(N, C, H, W\), got 3"),
        (lambda: conv2d_cost((1, 3, 8, 8), 0, 3), r"out_channels=0 must be >= 1"),
        (lambda: conv2d_cost((1, 3, 8, 8), 4, 3, bias=1), r"conv2d_cost: bias must be a bool, got int 1"),
        (lambda: conv2d_cost((1, 3, 8, 8.0), 4, 3), r"input_shape\[3\] must be an int or a sympy expression"),
        (lambda: conv_transpose2d_cost((1, 4, 3, 3), 2, 3, 1, 0, 1),
         r"^conv_transpose2d_cost: height: conv_transpose_output_size: output_padding=1 must be smaller "
         r"than either stride=1 or dilation=1$"),
        (lambda: conv_transpose2d_cost((1, 4, 3, 3), 2, 3, padding="same"),
         r"padding='same' must be a size or a pair"),
        (lambda: conv_transpose2d_cost((1, 4, 3, 3), 3, 3, groups=2), r"groups=2 must divide out_channels=3"),
        (lambda: pool2d_cost((1, 2, 8, 8), 2, padding=2), r"^pool2d_cost: height: pool_output_size: padding=2 "
                                                          r"must be at most half of kernel size k=2$"),
        (lambda: pool2d_cost((1, 2, 8, 8), 2, stride=0), r"pool2d_cost: height: pool_output_size: stride=0"),
        (lambda: pool2d_cost((1, 2, 8, 8), 2, kind="sum"), r"pool2d_cost: kind='sum' must be 'max' or 'avg'"),
        (lambda: pool2d_cost((1, 2, 8, 8), 2, dilation=2, kind="avg"), r"average pooling has no dilation"),
        (lambda: pool2d_cost((1, 2, 2, 2), 3), r"dilated kernel size 3 exceeds padded input size 2"),
        (lambda: linear_cost((2, 0), 3), r"linear_cost: input_shape\[1\]=0 must be >= 1"),
        (lambda: linear_cost("ab", 3), r"linear_cost: input_shape must be a tuple of sizes, got str"),
    ],
)
def test_bad_input_names_the_rule(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# ---------------------------------------------------------------------------------------------
# convsym cost


def call(*args):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), out, err)
    return status, out.getvalue(), err.getvalue()


def test_cli_cost_report():
    status, out, _ = call("cost", "conv2d", "--input", "1,3,224,224", "--out-channels", "64", "--kernel", "7",
                          "--stride", "2", "--padding", "3", "--no-bias")
    assert status == 0
    assert out == conv2d_cost((1, 3, 224, 224), 64, 7, 2, 3, bias=False).report()


@pytest.mark.parametrize(
    "args, cost",
    [
        (["conv2d", "--input", "2,8,9,9", "--out-channels", "4", "--kernel", "2,3", "--padding", "same",
          "--groups", "2", "--dtype", "float16"],
         conv2d_cost((2, 8, 9, 9), 4, (2, 3), padding="same", groups=2)),
        (["conv_transpose2d", "--input", "1,4,5,5", "--out-channels", "2", "--kernel", "3", "--stride", "2",
          "--padding", "1", "--output-padding", "1"], conv_transpose2d_cost((1, 4, 5, 5), 2, 3, 2, 1, 1)),
        (["max_pool2d", "--input", "1,3,9,9", "--kernel", "3", "--stride", "2", "--padding", "1",
          "--ceil-mode"], pool2d_cost((1, 3, 9, 9), 3, 2, 1, ceil_mode=True)),
        (["avg_pool2d", "--input", "1,3,9,9", "--kernel", "2", "--exclude-pad"],
         pool2d_cost((1, 3, 9, 9), 2, kind="avg", count_include_pad=False)),
        (["linear", "--input", "2,3,9", "--out-channels", "5"], linear_cost((2, 3, 9), 5)),
    ],
)
def test_cli_cost_json(args, cost):
    status, out, _ = call("cost", *args, "--json")
    assert status == 0
    dtype = args[args.index("--dtype") + 1] if "--dtype" in args else "float32"
    assert json.loads(out) == json.loads(json.dumps(cost.to_json(dtype)))


@pytest.mark.parametrize(
    "args, message",
    [
        (["conv2d", "--input", "1,8,5,5", "--out-channels", "4", "--kernel", "3", "--groups", "3"],
         "convsym cost: conv2d_cost: groups=3 must divide in_channels=8\n"),
        (["conv2d", "--input", "1,8,5,5", "--kernel", "3"], "convsym cost: conv2d needs --out-channels\n"),
        (["conv2d", "--input", "1,3,4,4", "--out-channels", "2", "--kernel", "5"],
         "convsym cost: conv2d_cost: dilated kernel size 5 exceeds padded input size 4"),
    ],
)
def test_cli_cost_errors(args, message):
    status, out, err = call("cost", *args)
    assert (status, out) == (2, "")
    assert err.startswith(message)


def test_cli_cost_usage_error():
    with pytest.raises(SystemExit) as info:
        call("cost", "conv3d", "--input", "1,2,3,4")
    assert info.value.code == 2
