"""Memory, the backward pass, and ResNet-18 at 224 layer by layer.

Section 4 of the costs chapter (see ``_chapters.py``).
"""

from __future__ import annotations

from _chapters import COSTS
from _counting import (
    FORMULA,
    OUT_SIZES,
    C_in,
    C_out,
    H,
    H_out,
    N,
    W,
    W_out,
    _conv_values,
    b_,
    c2,
    conv_cases,
    d_h,
    d_w,
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
    real_pairs,
    s_h,
    s_w,
    u_,
    v_,
    windows_that_fit,
)

from convsym.cost import (
    TOOLS,
    conv2d_cost,
    linear_cost,
    resnet18_convs,
)
from convsym.dtypes import TOOL_VERSIONS
from convsym.proof import (
    Checked,
    Proof,
    figures,
    load_checks,
)
from convsym.render.reports import millions

FAMILY = COSTS
SECTION = 4

checks = load_checks(__file__)  # the emitted numeric checks: proofs/checks/resnet.py

# =============================================================================================
# 15. memory


def derive_memory(P: Proof) -> None:
    im2col = P.summation("the im2col matrix: a row per output position $(n, i, j)$, a column per "
                         "$(c, u, v)$", 1, [(v_, 0, k_w - 1), (u_, 0, k_h - 1), (c2, 0, C_in - 1),
                                            (j2, 0, W_out - 1), (i2, 0, H_out - 1), (b_, 0, N - 1)])
    P.equal("the exported formula " + formula_name("conv2d_im2col_elements"), im2col.xreplace(OUT_SIZES),
            FORMULA["conv2d_im2col_elements"].expression)
    out = P.summation("the output tensor", 1, [(j2, 0, W_out - 1), (i2, 0, H_out - 1), (o_, 0, C_out - 1),
                                               (b_, 0, N - 1)])
    P.equal("the exported formula " + formula_name("conv2d_output_elements"), out.xreplace(OUT_SIZES),
            FORMULA["conv2d_output_elements"].expression)
    cost = conv2d_cost((N, C_in, H, W), C_out, (k_h, k_w), (s_h, s_w), (p_h, p_w), (d_h, d_w), g)
    P.equal("the forward memory: input, output, weights and bias, im2col buffer (in elements; bytes "
            "are elements times the size of the dtype)", cost.forward_memory,
            N * C_in * H * W + out.xreplace(OUT_SIZES) + FORMULA["conv2d_params"].expression
            + im2col.xreplace(OUT_SIZES))
    P.cross_check("im2col matrices built by enumeration", conv_cases(20),
             lambda **c: c["N"] * len(windows_that_fit(c["H"], c["k_h"], c["s_h"], c["p_h"], c["p_h"], c["d_h"]))
             * len(windows_that_fit(c["W"], c["k_w"], c["s_w"], c["p_w"], c["p_w"], c["d_w"]))
             * c["C_in"] * c["k_h"] * c["k_w"],
             lambda **c: ev(FORMULA["conv2d_im2col_elements"].expression, _conv_values(c)))


memory = Checked(
    "costs.memory",
    "Forward memory: input, output, weights, im2col buffer",
    "For all sizes: the output has $N C_{\\mathrm{out}} H_{\\mathrm{out}} W_{\\mathrm{out}}$ elements and "
    "the im2col matrix $N H_{\\mathrm{out}} W_{\\mathrm{out}} \\times C_{\\mathrm{in}} k_h k_w$; with the input "
    "$N C_{\\mathrm{in}} H W$ and the parameters this is the forward memory in elements (times the "
    "dtype's size in bytes).",
    idea="Each tensor holds the product of its dimensions; the im2col matrix has a row per output "
         "position and a column per kernel tap over all input channels.",
    derive=derive_memory,
    check_source=(
        exported("_costs_im2col_elements", "conv2d_im2col_elements"),
        checks.test_costs_im2col_matrix_multiplies_to_the_conv,
    ),
)

# =============================================================================================
# 16. backward


def derive_backward(P: Proof) -> None:
    f = FORMULA["conv2d_backward_macs"]
    nest = [(v_, 0, k_w - 1), (u_, 0, k_h - 1), (c2, 0, C_in / g - 1), (j2, 0, W_out - 1),
            (i2, 0, H_out - 1), (o_, 0, C_out / g - 1), (gamma_, 0, g - 1), (b_, 0, N - 1)]
    P.define("the gradients run over the forward loop nest: each forward product $w\\,x$ gives one "
             "product $\\delta y\\, w$ added to $\\delta x$ and one $\\delta y\\, x$ added to $\\delta w$",
             r"\delta x_{n,c,s_h i + d_h u - p_h,\dots} \mathrel{+}= \delta y_{n,o,i,j} w_{o,c,u,v},\quad "
             r"\delta w_{o,c,u,v} \mathrel{+}= \delta y_{n,o,i,j}\, x_{n,c,s_h i + d_h u - p_h,\dots}")
    grad_x = P.summation("the gradient with respect to the input", 1, nest)
    grad_w = P.summation("the gradient with respect to the weights", 1, nest)
    P.equal("together: twice the forward MACs (the exported formula " + formula_name("conv2d_backward_macs") + ")",
            (grad_x + grad_w).xreplace(OUT_SIZES), f.expression)
    P.equal("which is $2\\,\\mathrm{MACs}$", f.expression, 2 * FORMULA["conv2d_macs"].expression)
    bias = P.summation("the gradient with respect to the bias: one addition per output element", 1,
                       [(j2, 0, W_out - 1), (i2, 0, H_out - 1), (o_, 0, C_out - 1), (b_, 0, N - 1)])
    cost = conv2d_cost((N, C_in, H, W), C_out, (k_h, k_w), (s_h, s_w), (p_h, p_w), (d_h, d_w), g)
    P.equal("the bias additions of the backward pass as convsym.cost counts them, and the activations kept are "
            "the input (for $\\delta w$)",
            bias.xreplace(OUT_SIZES) + N * C_in * H * W, cost.backward_bias_adds + cost.activations_kept,
            shown=r"\mathrm{bias\ adds} = N C_{out} H_{out} W_{out},\quad \mathrm{kept} = N C_{in} H W")


backward = Checked(
    "costs.backward",
    "Backward pass: twice the forward MACs",
    "For all sizes: the gradient with respect to the input (a transposed convolution) and the "
    "gradient with respect to the weights each make the forward number of MACs, so backward costs "
    "$2 N C_{\\mathrm{out}} H_{\\mathrm{out}} W_{\\mathrm{out}} (C_{\\mathrm{in}}/g)\\, k_h k_w$ MACs plus "
    "$N C_{\\mathrm{out}} H_{\\mathrm{out}} W_{\\mathrm{out}}$ bias-gradient additions, and must keep the input.",
    idea="Each forward product $x w$ appears once in the gradient with respect to the input and "
         "once in the gradient with respect to the weights, so each gradient costs the forward "
         "MACs.",
    derive=derive_backward,
    check_source=(
        checks.test_costs_grad_input_is_the_transposed_conv_exactly,
        checks.test_costs_grad_weight_makes_the_forward_products,
    ),
)

# =============================================================================================
# 17. ResNet-18 at 224, layer by layer


def resnet18_table() -> list[tuple[str, object]]:
    layers = resnet18_convs(224)
    return layers + [("fc", linear_cost((1, 512), 1000))]


def _axes() -> list[tuple[int, int, int, int]]:
    seen = []
    for _, cost in resnet18_convs(224):
        if cost.layer.op != "conv2d":
            continue
        item = (cost.input_shape[2], cost.layer.kernel_size[0], cost.layer.stride[0], cost.layer.padding[0][0])
        if item not in seen:
            seen.append(item)
    return seen


def _resnet_axes_source() -> str:
    """The table the emitted check re-counts: per distinct axis, the dense and the real taps, by enumeration."""
    rows = []
    for n, k, s, p in _axes():
        m = len(windows_that_fit(n, k, s, p, p, 1))
        rows.append((n, k, s, p, m * k, real_pairs(n, k, s, p, 1, m)))
    return f"RESNET18_AXES = {rows!r}"


def _layer_counts(name: str, cost) -> tuple[int, int, int]:
    """(windows, dense MACs, MACs without padding) of one ResNet-18 convolution, by enumeration."""
    spec = cost.layer
    n, k, s, p = cost.input_shape[2], spec.kernel_size[0], spec.stride[0], spec.padding[0][0]
    m = len(windows_that_fit(n, k, s, p, p, 1))
    per_filter = spec.in_channels * spec.out_channels
    return m, per_filter * (m * k) ** 2, per_filter * real_pairs(n, k, s, p, 1, m) ** 2


def derive_resnet18(P: Proof) -> None:
    convs = [(name, cost) for name, cost in resnet18_table() if cost.layer.op == "conv2d"]
    P.family("every convolution of ResNet-18 at 224: windows and taps of both axes enumerated, against the "
             "closed formulas of convsym.cost (windows, dense MACs, MACs without padding)",
             [dict(name=name) for name, _ in convs],
             lambda name: _layer_counts(name, dict(convs)[name]),
             lambda name: (int(dict(convs)[name].output_shape[2]), int(dict(convs)[name].macs),
                           int(dict(convs)[name].macs_without_padding)),
             shown=r"\mathrm{MACs} = C_{in} C_{out} (m k)^2,\quad "
                   r"\mathrm{MACs}_{\neg\mathrm{pad}} = C_{in} C_{out} T^2")


def _tool_figure(cost, tool: str) -> int | None:
    try:
        return int(cost.as_reported_by(tool).value)
    except ValueError:
        return None


def _shape(shape) -> str:
    """``C x H x W`` of an NCHW shape (batch 1 left out), ``C`` of a flat one, as math."""
    dims = [int(v) for v in shape[1:]]
    if len(dims) == 3 and dims[1] == dims[2]:
        return f"${dims[0]}{{\\times}}{dims[1]}^2$"
    return "$" + "{\\times}".join(str(v) for v in dims) + "$"


#: Tool names too wide for a column of numbers, on two lines.
_HEADS = {"torchinfo": r"\shortstack[r]{torch-\\ info}", "deepspeed": r"\shortstack[r]{deep-\\ speed}"}


def _resnet_table(fields) -> tuple[str, str]:
    """The table, computed from convsym.cost (every conv row checked by the theorem's family):
    per layer its shapes, kernel and stride, the counts in millions, and each tool's figure as
    convsym models the tool's convention."""
    rows, table = [], resnet18_table()
    for name, cost in table:
        tools = [_tool_figure(cost, tool) for tool in TOOLS]
        label = (name.replace("layer", "L").replace(".downsample.0", ".ds").replace(".conv", ".c")
                 .replace("_", r"\_"))
        spec = cost.layer
        ks = (f"${spec.kernel_size[0]}, {spec.stride[0]}$" if spec.op != "linear" else r"\text{--}")
        rows.append([label, _shape(cost.input_shape), _shape(cost.output_shape), ks,
                     f"${millions(int(cost.macs))}$", f"${millions(int(cost.macs_without_padding))}$",
                     *(r"\text{--}" if t is None else f"${millions(t)}$" for t in tools)])
    totals = [sum(int(c.macs) for _, c in table), sum(int(c.macs_without_padding) for _, c in table)]
    tool_totals = [sum(t for t in (_tool_figure(c, tool) for _, c in table) if t is not None) for tool in TOOLS]
    header = ["layer", "input", "output", "$k, s$", "MACs", r"\shortstack[r]{MACs\\ no pad}",
              *(_HEADS.get(t, t) for t in TOOLS)]
    footer = [["total", "", "", "", *(f"${millions(v)}$" for v in totals + tool_totals)]]
    # \tabcolsep narrowed inside the group: twelve columns on the line at \small, nothing scaled
    latex = (r"{\setlength{\tabcolsep}{2pt}" + "\n"
             + figures.table(header, rows, "lllc" + "r" * (2 + len(TOOLS)), footer=footer) + "}")
    caption = (f"ResNet-18 at $224 \\times 224$, batch 1, {len(rows)} layers (L2.0.c1 is layer2.0.conv1, ds the "
               "downsampling convolution): input and output shape "
               "(channels $\\times$ height $\\times$ width), kernel size $k$ and stride $s$, and the counts in "
               f"millions. Dense total {totals[0]:,} MACs, of which {totals[0] - totals[1]:,} on zero padding. "
               "The tool columns reproduce each tool's "
               "convention as convsym models it (fvcore, thop: MACs; ptflops, torchinfo: MACs plus bias "
               "additions, ptflops counting pooling; deepspeed, torch: FLOPs $= 2$ MACs; -- where the tool "
               "does not count the layer) at the versions whose convention was read: "
               + ", ".join(f"{t} {v}" for t, v in TOOL_VERSIONS.items())
               + "; the tools are not run when this book is built, the crosscheck tests compare them.")
    return latex, caption


resnet18 = Checked(
    "costs.resnet18",
    "ResNet-18 at 224 x 224, layer by layer",
    "Per layer of ResNet-18 (batch 1, 224 x 224): dense MACs, MACs without the taps on zero padding, "
    "and the figure each tool reports (fvcore and thop: MACs; ptflops and torchinfo: MACs plus bias "
    "additions (none here) and, for ptflops, pooling counted twice; deepspeed and torch: FLOPs = 2 MACs; "
    "'--': the tool does not count the layer), all from convsym.cost; the crosscheck tests run the tools.",
    idea="For each convolution of the network, enumerate the windows and taps of both axes and "
         "compare the counts with the closed formulas; each tool's column applies that tool's "
         "convention.",
    derive=derive_resnet18,
    figure=_resnet_table,
    check_source=(_resnet_axes_source(), checks.test_costs_resnet18_per_axis_counts),
)
