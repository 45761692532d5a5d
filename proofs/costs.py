"""MACs, parameters and FLOPs by summing the loop nest; transposed convolutions, pooling, 1x1.

Section 2 of the costs chapter (see ``_chapters.py``).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from pathlib import Path

import sympy
from _chapters import COSTS
from _counting import (
    FORMULA,
    OUT_SIZES,
    C_in,
    C_out,
    Counter,
    H,
    H_out,
    N,
    W,
    W_out,
    _conv_values,
    args_of,
    b_,
    c2,
    ceil_windows,
    conv_cases,
    d_h,
    d_w,
    direct_conv_ops,
    ev,
    exported,
    formula_name,
    g,
    gamma_,
    i2,
    j2,
    k_h,
    k_w,
    o_,
    p_h,
    p_w,
    s_h,
    s_w,
    u_,
    v_,
    windows_that_fit,
)
from sympy import Symbol

from convsym.cost import (
    conv2d_cost,
    linear_cost,
    pool2d_cost,
)
from convsym.proof import (
    Checked,
    Proof,
    load_checks,
)
from convsym.render.reports import model_name, model_totals_table
from convsym.shapes import conv_output_size

FAMILY = COSTS
SECTION = 2

checks = load_checks(__file__)  # the emitted numeric checks: proofs/checks/costs.py

# =============================================================================================
# 6. conv2d MACs: summing the loop nest


def derive_macs(P: Proof) -> None:
    f = FORMULA["conv2d_macs"]
    P.define(
        "output channel $o$ of group $\\gamma$ sums $C_{in}/g$ input channels times $k_h k_w$ taps "
        "at every output position: one multiply-accumulate per point of the loop nest "
        "($H_{out}, W_{out}$: the window counts of costs.conv-output-size)",
        r"y_{n,\gamma C_{out}/g + o,i,j} = \sum_{c=0}^{C_{in}/g-1} \sum_{u=0}^{k_h-1} \sum_{v=0}^{k_w-1} "
        r"w_{\gamma C_{out}/g + o,c,u,v}\, x_{n,\gamma C_{in}/g + c,\, s_h i + d_h u - p_h,\, s_w j + d_w v - p_w}",
    )
    nest = [(v_, 0, k_w - 1), (u_, 0, k_h - 1), (c2, 0, C_in / g - 1), (j2, 0, W_out - 1),
            (i2, 0, H_out - 1), (o_, 0, C_out / g - 1), (gamma_, 0, g - 1), (b_, 0, N - 1)]
    macs = P.summation("count the points of the loop nest", 1, nest)
    P.equal("with the output sizes of costs.conv-output-size this is the exported formula "
            + formula_name("conv2d_macs"),
            macs.xreplace(OUT_SIZES), f.expression,
            shown=sympy.latex(macs) + " = " + sympy.latex(f.expression))
    m = Symbol("m", integer=True, positive=True)
    P.equal("depthwise ($g = C_{in}$, $C_{out} = m C_{in}$): $C_{in}$ times fewer MACs than the dense "
            "conv with the same channels", f.expression.subs({C_out: m * C_in}).subs(g, C_in) * C_in,
            f.expression.subs({C_out: m * C_in}).subs(g, 1),
            shown=r"\mathrm{MACs}_{g=C_{in}} = N m C_{in} H_{out} W_{out} k_h k_w "
                  r"= \mathrm{MACs}_{g=1} / C_{in}")
    P.cross_check("direct conv loops run on counting numbers (multiplications)", conv_cases(),
             lambda **c: direct_conv_ops(**_direct_args(c), bias=False)[0],
             lambda **c: ev(f.expression, _conv_values(c)))


def _direct_args(c: Mapping[str, int]) -> dict[str, int]:
    return dict(n=c["N"], c_in=c["C_in"], h=c["H"], w=c["W"], c_out=c["C_out"], k_h=c["k_h"], k_w=c["k_w"],
                s_h=c["s_h"], s_w=c["s_w"], p_h=c["p_h"], p_w=c["p_w"], d_h=c["d_h"], d_w=c["d_w"], g=c["g"])


#: Whole-model totals recorded by ``python benchmarks/model_totals.py --write`` (which runs the
#: tools) and checked by tests/crosscheck/test_model_totals.py; the book only reads them.
MODEL_TOTALS = Path(__file__).resolve().parent / "data" / "model_totals.json"


def _model_totals_figure(fields) -> tuple[str, str]:
    """Measured data next to the formula: whole models counted with it, by convsym and by each tool."""
    data = json.loads(MODEL_TOTALS.read_text(encoding="utf-8"))
    shapes = {tuple(a["input_shape"]) for a in data["architectures"]}
    if len(shapes) != 1:
        raise ValueError(f"_model_totals_figure: the models were counted at several input shapes {sorted(shapes)}")
    n, c, h, w = next(iter(shapes))
    versions = ", ".join(f"{tool} {data['versions'][tool]}" for tool in data["tools"])
    models = ", ".join(model_name(a["name"]) for a in data["architectures"])
    caption = (
        "Measured data, not part of the proof: whole models at input $"
        f"{n} \\times {c} \\times {h} \\times {w}$, counted operator by operator. Each entry is convsym's "
        "model of the tool's total (this formula and its siblings summed with the tool's convention), in "
        "millions of what the tool reports, under the name the tool gives it; $=$ marks that the tool's own "
        f"total, recorded by running the tool, is the same integer. Versions: {versions}. The totals differ "
        "between tools because the conventions do (MACs or FLOPs, bias, pooling, activations counted or not); "
        f"the tools are not run when this book is built. Models: {models}."
    )
    return model_totals_table(data), caption


conv2d_macs = Checked(
    "costs.conv2d-macs",
    "Convolution MACs: the loop nest summed",
    "For all sizes, strides, paddings, dilations and groups $g$ dividing $C_{\\mathrm{in}}$ and "
    "$C_{\\mathrm{out}}$: a 2-D convolution makes $N C_{\\mathrm{out}} H_{\\mathrm{out}} "
    "W_{\\mathrm{out}} (C_{\\mathrm{in}}/g)\\, k_h k_w$ multiply-accumulates (every tap, padding "
    "included, bias excluded, whole batch); a depthwise convolution ($g = C_{\\mathrm{in}}$) makes "
    "$C_{\\mathrm{in}}$ times fewer than the dense one.",
    idea="Sum the loop nest (batch, output channel, output position, input channel of the group, "
         "tap) with SymPy: every bound is independent of the inner indices, so the count is the "
         "product of the ranges.",
    derive=derive_macs,
    figure=_model_totals_figure,
    check_source=(
        exported("_costs_conv2d_macs", "conv2d_macs"),
        checks.test_costs_conv2d_macs_counted_by_a_convolution_of_ones,
    ),
)

# =============================================================================================
# 7. parameters, bias additions and FLOPs


def derive_params(P: Proof) -> None:
    params, no_bias, flops = (FORMULA[name].expression for name in
                              ("conv2d_params", "conv2d_params_no_bias", "conv2d_flops"))
    weights = P.summation("the weight tensor $(C_{out}, C_{in}/g, k_h, k_w)$: count its entries", 1,
                          [(v_, 0, k_w - 1), (u_, 0, k_h - 1), (c2, 0, C_in / g - 1), (o_, 0, C_out - 1)])
    P.equal("without a bias", weights, no_bias)
    biases = P.summation("one bias per output channel", 1, [(o_, 0, C_out - 1)])
    P.equal("with a bias", weights + biases, params)
    adds = P.summation("bias additions: one per output element", 1,
                       [(j2, 0, W_out - 1), (i2, 0, H_out - 1), (o_, 0, C_out - 1), (b_, 0, N - 1)])
    P.equal("the bias additions the library counts", adds.xreplace(OUT_SIZES),
            conv2d_cost((N, C_in, H, W), C_out, (k_h, k_w), (s_h, s_w), (p_h, p_w), (d_h, d_w), g).bias_adds,
            shown=r"\mathrm{bias\ adds} = N C_{out} H_{out} W_{out}")
    K = C_in / g * k_h * k_w
    P.define("each output sums its $K = (C_{in}/g) k_h k_w$ products with $K - 1$ additions and "
             "adds its bias: $2K$ operations", r"\mathrm{ops}(y_{n,o,i,j}) = K + (K - 1) + 1")
    total = P.summation("sum over the outputs", 2 * K, [(j2, 0, W_out - 1), (i2, 0, H_out - 1),
                                                        (o_, 0, C_out - 1), (b_, 0, N - 1)])
    P.equal("the exported formula " + formula_name("conv2d_flops"), total.xreplace(OUT_SIZES), flops,
            shown=sympy.latex(total) + " = " + sympy.latex(flops))
    P.equal("with a bias the FLOPs are exactly twice the MACs", flops, 2 * FORMULA["conv2d_macs"].expression,
            shown=r"\mathrm{FLOPs} = 2\,\mathrm{MACs}")
    P.cross_check("direct conv loops on counting numbers: multiplications + additions, with a bias",
             conv_cases(24), lambda **c: sum(direct_conv_ops(**_direct_args(c), bias=True)),
             lambda **c: ev(flops, _conv_values(c)))
    P.cross_check("and without a bias: one addition fewer per output",
             conv_cases(24), lambda **c: sum(direct_conv_ops(**_direct_args(c), bias=False)),
             lambda **c: conv2d_cost((c["N"], c["C_in"], c["H"], c["W"]), c["C_out"], (c["k_h"], c["k_w"]),
                                     (c["s_h"], c["s_w"]), (c["p_h"], c["p_w"]), (c["d_h"], c["d_w"]), c["g"],
                                     bias=False).flops)


conv2d_params = Checked(
    "costs.conv2d-params-flops",
    "Parameters, bias additions and FLOPs",
    "For all sizes: a 2-D convolution has $C_{\\mathrm{out}} (C_{\\mathrm{in}}/g)\\, k_h k_w$ "
    "weights plus $C_{\\mathrm{out}}$ biases; each output takes $K = (C_{\\mathrm{in}}/g)\\, k_h "
    "k_w$ multiplications, $K - 1$ additions and one bias addition, so with a bias the FLOPs "
    "(multiplications and additions) are exactly 2 multiply-accumulates.",
    idea="Count the weights of each output channel and the products, additions and bias addition of "
         "one output; with a bias, $K$ products and $K$ additions make $2K$.",
    derive=derive_params,
    check_source=(
        exported("_costs_conv2d_params", "conv2d_params"),
        exported("_costs_conv2d_flops", "conv2d_flops"),
        checks.test_costs_params_are_the_array_sizes,
        checks.test_costs_flops_count_the_products_and_sums,
    ),
)

# =============================================================================================
# 8. transposed convolution MACs


def derive_transposed_macs(P: Proof) -> None:
    f = FORMULA["conv_transpose2d_macs"]
    Nt, Ci, Ht, Wt, Co, kh, kw, gt = args_of("conv_transpose2d_macs")
    P.define("every input element is multiplied by every weight of its group, $w$ of shape "
             "$(C_{in}, C_{out}/g, k_h, k_w)$, and the product is added at output position "
             "$(s_h i + d_h u - p_h, s_w j + d_w v - p_w)$",
             r"y_{n,\gamma C_{out}/g + o,\, s_h i + d_h u - p_h,\, s_w j + d_w v - p_w} \mathrel{+}= "
             r"x_{n,\gamma C_{in}/g + c,i,j}\, w_{\gamma C_{in}/g + c,o,u,v}")
    macs = P.summation("count the points of the scatter loop nest", 1,
                       [(v_, 0, kw - 1), (u_, 0, kh - 1), (o_, 0, Co / gt - 1), (j2, 0, Wt - 1),
                        (i2, 0, Ht - 1), (c2, 0, Ci / gt - 1), (gamma_, 0, gt - 1), (b_, 0, Nt - 1)])
    P.equal("the exported formula " + formula_name("conv_transpose2d_macs"), macs, f.expression)
    forward = FORMULA["conv2d_macs"].expression.xreplace(OUT_SIZES) if False else (
        Nt * Ci * Ht * Wt * (Co / gt) * kh * kw)
    P.equal("the convolution it transposes (from $C_{out}$ to $C_{in}$ channels, output $H \\times W$ "
            "by costs.transposed-output-size when $o_p < s$) has the same loop nest with the roles of "
            "the channels exchanged, hence the same count", f.expression, forward,
            shown=r"\mathrm{MACs}_{\mathrm{transposed}}(C_{in} \to C_{out}) = "
                  r"\mathrm{MACs}_{\mathrm{conv}}(C_{out} \to C_{in},\ H_{out} = H)")
    cases = [dict(n=n, c_in=ci, h=h, w=w, c_out=co, k=k, s=s, g=gg)
             for n, ci, co, gg in ((1, 2, 2, 1), (2, 4, 2, 2), (1, 3, 6, 3)) for h, w in ((2, 3), (4, 4))
             for k in (1, 2, 3) for s in (1, 2)]
    P.cross_check("scatter loops run on counting numbers", cases,
             lambda n, c_in, h, w, c_out, k, s, g: _scatter_products(n, c_in, h, w, c_out, k, s, g),
             lambda n, c_in, h, w, c_out, k, s, g: ev(f.expression, {Nt: n, Ci: c_in, Ht: h, Wt: w, Co: c_out,
                                                                      kh: k, kw: k, gt: g}))


def _scatter_products(n, c_in, h, w, c_out, k, s, g) -> int:
    ops = [0, 0]
    one = Counter(ops)
    for _ in itertools.product(range(n), range(c_in), range(h), range(w), range(c_out // g), range(k), range(k)):
        one * one
    return ops[0]


transposed_macs = Checked(
    "costs.conv-transpose-macs",
    "Transposed convolution MACs",
    "For all sizes: a transposed convolution makes $N C_{\\mathrm{in}} H W (C_{\\mathrm{out}}/g)\\, "
    "k_h k_w$ multiply-accumulates (every input element times every weight of its group), the "
    "multiply-accumulates of the convolution it transposes.",
    idea="Sum the scatter loop over input elements and the weights of their group; it is the loop "
         "nest of the convolution it transposes, read the other way.",
    derive=derive_transposed_macs,
    check_source=(
        exported("_costs_conv_transpose2d_macs", "conv_transpose2d_macs"),
        checks.test_costs_transposed_macs_counted_by_ones,
    ),
)

# =============================================================================================
# 9. pooling


def derive_pooling(P: Proof) -> None:
    f = FORMULA["avg_pool2d_flops"]
    Np, Cp, Hp, Wp, khp, kwp, shp, swp, php, pwp = args_of("avg_pool2d_flops")
    P.define("pooling works per channel: output $(n, c, i, j)$ reduces its own window of "
             "$k_h k_w$ taps; average pooling makes $k_h k_w - 1$ additions and one division, "
             "max pooling $k_h k_w - 1$ comparisons",
             r"y_{n,c,i,j} = \frac{1}{k_h k_w} \sum_{u,v} x_{n,c,\, s_h i + u - p_h,\, s_w j + v - p_w}")
    Ho_p, Wo_p = (conv_output_size(Hp, khp, shp, php), conv_output_size(Wp, kwp, swp, pwp))
    sizes_p = {H_out: Ho_p, W_out: Wo_p}
    avg = P.summation("average pooling: sum the operations over the outputs", khp * kwp,
                      [(j2, 0, W_out - 1), (i2, 0, H_out - 1), (c2, 0, Cp - 1), (b_, 0, Np - 1)])
    P.equal("the exported formula " + formula_name("avg_pool2d_flops"), avg.xreplace(sizes_p), f.expression)
    depthwise = conv2d_cost((Np, Cp, Hp, Wp), Cp, (khp, kwp), (shp, swp), (php, pwp), 1, Cp, bias=False)
    P.equal("the MACs of the depthwise conv with weights $1/(k_h k_w)$ that it is (same window rule, "
            "one filter per channel)", f.expression, depthwise.macs,
            shown=r"\mathrm{ops}_{\mathrm{avg}} = \mathrm{MACs}_{\mathrm{depthwise}} = N C H_{out} W_{out} k_h k_w")
    mx = P.summation("max pooling: comparisons", khp * kwp - 1,
                     [(j2, 0, W_out - 1), (i2, 0, H_out - 1), (c2, 0, Cp - 1), (b_, 0, Np - 1)])
    P.equal("the comparisons max pooling makes", mx.xreplace(sizes_p),
            pool2d_cost((Np, Cp, Hp, Wp), (khp, kwp), (shp, swp), (php, pwp)).flops,
            shown=r"\mathrm{ops}_{\max} = N C H_{out} W_{out} (k_h k_w - 1)")
    cases = [dict(c=c, h=h, k=k, s=s, p=p, ceil=ceil) for c in (1, 3) for h in (4, 7) for k in (1, 2, 3)
             for s in (1, 2) for p in range(k // 2 + 1) for ceil in (False, True) if k <= h + 2 * p]
    P.cross_check("max pooling: comparisons counted window by window (ceil mode too)", cases,
             lambda c, h, k, s, p, ceil: c * len(ceil_windows(h, k, s, p, 1) if ceil else
                                                  windows_that_fit(h, k, s, p, p, 1)) ** 2 * (k * k - 1),
             lambda c, h, k, s, p, ceil: pool2d_cost((1, c, h, h), k, s, p, ceil_mode=ceil).flops)


pooling = Checked(
    "costs.pooling",
    "Pooling costs; average pooling is a depthwise convolution",
    "For all sizes (PyTorch's rule $2p \\le k$): average pooling makes $N C H_{\\mathrm{out}} "
    "W_{\\mathrm{out}} k_h k_w$ additions and divisions, the multiply-accumulates of the depthwise "
    "convolution with weights $1/(k_h k_w)$ that it equals; max pooling makes $N C "
    "H_{\\mathrm{out}} W_{\\mathrm{out}} (k_h k_w - 1)$ comparisons.",
    idea="Sum the loop nest of each pooling: one addition per tap for the average, one comparison "
         "fewer than the taps for the maximum.",
    derive=derive_pooling,
    check_source=(
        exported("_costs_avg_pool2d_flops", "avg_pool2d_flops"),
        checks.test_costs_avg_pooling_is_a_depthwise_conv,
    ),
)

# =============================================================================================
# 10. linear layers and 1x1 convolutions (seed: the 1x1 cost c_o c_i h w)


def derive_linear(P: Proof) -> None:
    f = FORMULA["linear_macs"]
    R, Ci, Co = args_of("linear_macs")
    P.define("row $r$ of the output is $y_{r,o} = \\sum_c w_{o,c} x_{r,c} + b_o$",
             r"y_{r,o} = \sum_{c=0}^{C_{in}-1} w_{o,c}\, x_{r,c} + b_o")
    macs = P.summation("count the points of the loop nest", 1, [(c2, 0, Ci - 1), (o_, 0, Co - 1), (i2, 0, R - 1)])
    P.equal("the exported formula " + formula_name("linear_macs"), macs, f.expression)
    one = conv2d_cost((N, C_in, H, W), C_out, 1, bias=False)
    P.equal("a $1 \\times 1$ convolution (stride 1, no padding) costs a linear layer on its "
            "$N H W$ pixels", one.macs, f.expression.subs({R: N * H * W, Ci: C_in, Co: C_out}))
    h_, w_ = sympy.symbols("h w", integer=True, positive=True)
    c_i, c_o = sympy.symbols("c_i c_o", integer=True, positive=True)
    seed = conv2d_cost((1, c_i, h_, w_), c_o, 1).macs
    P.equal("for one image of $c_i \\times h \\times w$ that is $c_o c_i h w$", seed, c_o * c_i * h_ * w_)
    P.equal("and its parameters are the linear layer's", one.params, linear_cost((N, C_in), C_out, False).params)


linear_1x1 = Checked(
    "costs.linear-and-1x1",
    "Linear layers; the $1 \\times 1$ convolution costs $C_{\\mathrm{out}} C_{\\mathrm{in}} H W$",
    "For all sizes: a linear layer on $R$ rows makes $R C_{\\mathrm{in}} C_{\\mathrm{out}}$ "
    "multiply-accumulates; a $1 \\times 1$ convolution (stride 1, no padding) is that layer applied "
    "at each of its $N H W$ pixels, so for one $C_{\\mathrm{in}} \\times H \\times W$ image it "
    "costs $C_{\\mathrm{out}} C_{\\mathrm{in}} H W$.",
    idea="A linear layer is one dot product of length $C_{\\mathrm{in}}$ per row and output "
         "feature; a $1 \\times 1$ convolution is that at every pixel.",
    derive=derive_linear,
    check_source=(
        exported("_costs_linear_macs", "linear_macs"),
        checks.test_costs_conv1x1_is_a_linear_layer_per_pixel,
    ),
)
