"""The exported formulas: the closed forms of :mod:`convsym.cost.layers`, built once from
symbols, with the conditions under which each holds."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from convsym.cost.layers import conv2d_cost, conv_transpose2d_cost, linear_cost, padding_taps, pool2d_cost
from convsym.shapes import conv_output_size, conv_transpose_output_size, same_padding

# ---------------------------------------------------------------------------------------------
# the exported formulas: the closed forms above, built once from symbols


@dataclass(frozen=True)
class Formula:
    """One exported closed formula: ``expression`` over ``arguments`` (``(symbol, meaning)``
    pairs, in call order), proved by the theorem named ``theorem`` (``proofs/costs.py``)."""

    name: str
    description: str
    arguments: tuple[tuple[sympy.Symbol, str], ...]
    expression: sympy.Expr
    theorem: str
    conditions: tuple[str, ...] = ()
    requires: tuple[Requirement, ...] = ()

    def __post_init__(self):
        if self.requires and not self.conditions:
            object.__setattr__(self, "conditions", tuple(r.prose for r in self.requires))


@dataclass(frozen=True)
class Requirement:
    """A precondition of a formula, besides its arguments' domains: ``expression`` is a SymPy
    boolean over the arguments (a relational, ``Eq(Mod(C_in, g), 0)``, an ``Or``...), ``prose``
    says it in words.  The exported functions check it before computing."""

    expression: sympy.Basic
    prose: str


def _fits(n, k, pad, d, axis: str = "") -> Requirement:
    where = f" ({axis})" if axis else ""
    kernel = "dilated kernel" if d != 1 else "kernel"
    return Requirement(sympy.Le(d * (k - 1) + 1, n + pad, evaluate=False),
                       f"the {kernel} fits the padded input{where}: {sympy.sstr(d * (k - 1) + 1)} <= "
                       f"{sympy.sstr(n + pad)}")


def _divides(g, c, name: str) -> Requirement:
    return Requirement(sympy.Eq(sympy.Mod(c, g, evaluate=False), 0, evaluate=False),
                       f"groups divide the {name}: {c} mod {g} = 0")


def _pool_rule(k, p, axis: str = "") -> Requirement:
    where = f" ({axis})" if axis else ""
    return Requirement(sympy.Le(2 * p, k, evaluate=False),
                       f"PyTorch's pooling rule{where}: padding at most half the kernel, {sympy.sstr(2 * p)} <= {k}")


def _pos(names: str) -> tuple[sympy.Symbol, ...]:
    return sympy.symbols(names, integer=True, positive=True)


def _nonneg(names: str) -> tuple[sympy.Symbol, ...]:
    return sympy.symbols(names, integer=True, nonnegative=True)


_FORMULAS: tuple[Formula, ...] | None = None


def exported_formulas() -> tuple[Formula, ...]:
    """The formulas ``convsym build`` exports to ``generated/formulas/``, each built by calling
    the functions of this module (and :mod:`convsym.shapes`) on symbols, so the exported text is
    printed from the very expression the named theorem proves."""
    global _FORMULAS
    if _FORMULAS is not None:
        return _FORMULAS
    n, k, s, d = _pos("n k s d")
    p, p_l, p_r, o_p = _nonneg("p p_l p_r o_p")
    N, C_in, C_out, H, W, g = _pos("N C_in C_out H W g")
    k_h, k_w, s_h, s_w, d_h, d_w = _pos("k_h k_w s_h s_w d_h d_w")
    p_h, p_w = _nonneg("p_h p_w")
    e = sympy.Symbol("e", integer=True)
    m, R = _pos("m R")
    meaning = {
        n: "input size along the axis", k: "kernel size", s: "stride", d: "dilation",
        p: "padding on each side", p_l: "left (top) padding", p_r: "right (bottom) padding",
        o_p: "output_padding", N: "batch size", C_in: "input channels", C_out: "output channels",
        H: "input height", W: "input width", g: "groups (divides C_in and C_out)",
        k_h: "kernel height", k_w: "kernel width", s_h: "vertical stride", s_w: "horizontal stride",
        d_h: "vertical dilation", d_w: "horizontal dilation", p_h: "vertical padding (each side)",
        p_w: "horizontal padding (each side)", e: "number of leading positions (padding)",
        m: "number of windows", R: "rows (product of the leading input dimensions)",
    }

    def args(*syms):
        return tuple((sym, meaning[sym]) for sym in syms)

    conv_syms = (N, C_in, H, W, C_out, k_h, k_w, s_h, s_w, p_h, p_w, d_h, d_w, g)
    conv = conv2d_cost((N, C_in, H, W), C_out, (k_h, k_w), (s_h, s_w), (p_h, p_w), (d_h, d_w), g)
    conv_nb = conv2d_cost((N, C_in, H, W), C_out, (k_h, k_w), (s_h, s_w), (p_h, p_w), (d_h, d_w), g,
                          bias=False)
    conv_d1 = conv2d_cost((N, C_in, H, W), C_out, (k_h, k_w), (s_h, s_w), (p_h, p_w), 1, g)
    tconv = conv_transpose2d_cost((N, C_in, H, W), C_out, (k_h, k_w), (s_h, s_w), (p_h, p_w), 0, 1, g)
    avg = pool2d_cost((N, C_in, H, W), (k_h, k_w), (s_h, s_w), (p_h, p_w), kind="avg")
    left, right = same_padding(k, d)
    conv_fits = (_fits(H, k_h, 2 * p_h, d_h, "height"), _fits(W, k_w, 2 * p_w, d_w, "width"))
    groups = (_divides(g, C_in, "input channels"), _divides(g, C_out, "output channels"))
    t_out = conv_transpose_output_size(n, k, s, p, o_p, d)
    _FORMULAS = (
        Formula("conv_output_size", "Output size of a convolution along one axis (floor mode)",
                args(n, k, s, p_l, p_r, d), conv_output_size(n, k, s, (p_l, p_r), d),
                "costs.conv-output-size", requires=(_fits(n, k, p_l + p_r, d),)),
        Formula("pool_output_size_ceil", "Output size of ceil-mode pooling along one axis "
                "(PyTorch drops a last window starting in the right padding)",
                args(n, k, s, p, d), conv_output_size(n, k, s, p, d, ceil_mode=True),
                "costs.ceil-mode", requires=(_fits(n, k, 2 * p, d), _pool_rule(k, p))),
        Formula("same_padding_left", "Padding='same': left (top) padding", args(k, d), left,
                "costs.same-padding"),
        Formula("same_padding_right", "Padding='same': right (bottom) padding, one more than the "
                "left when d(k-1) is odd", args(k, d), right, "costs.same-padding"),
        Formula("conv_transpose_output_size", "Output size of a transposed convolution along one axis",
                args(n, k, s, p, o_p, d), t_out, "costs.transposed-output-size",
                requires=(Requirement(sympy.Or(sympy.Lt(o_p, s), sympy.Lt(o_p, d)),
                                      "output_padding is smaller than the stride or the dilation: o_p < max(s, d)"),
                          Requirement(sympy.Ge(t_out, 1, evaluate=False),
                                      f"the output is not empty: {sympy.sstr(t_out)} >= 1"))),
        Formula("padding_taps", "(window, tap) pairs of m windows (dilation 1) that fall in the "
                "first e positions", args(e, k, s, m), padding_taps(e, k, s, 1, m),
                "costs.padding-taps"),
        Formula("conv2d_macs", "Conv2d MACs: every tap, bias excluded, whole batch",
                args(*conv_syms), conv.macs, "costs.conv2d-macs", requires=conv_fits + groups),
        Formula("conv2d_params", "Conv2d parameters with a bias", args(C_in, C_out, k_h, k_w, g),
                conv.params, "costs.conv2d-params-flops", requires=groups),
        Formula("conv2d_params_no_bias", "Conv2d parameters without a bias",
                args(C_in, C_out, k_h, k_w, g), conv_nb.params, "costs.conv2d-params-flops", requires=groups),
        Formula("conv2d_flops", "Conv2d multiplications + additions with a bias (= 2 MACs)",
                args(*conv_syms), conv.flops, "costs.conv2d-params-flops", requires=conv_fits + groups),
        Formula("conv2d_macs_without_padding", "Conv2d MACs whose input tap is not zero padding "
                "(dilation 1)", args(N, C_in, H, W, C_out, k_h, k_w, s_h, s_w, p_h, p_w, g),
                conv_d1.macs_without_padding, "costs.macs-without-padding",
                requires=(_fits(H, k_h, 2 * p_h, 1, "height"), _fits(W, k_w, 2 * p_w, 1, "width")) + groups),
        Formula("conv2d_im2col_elements", "Elements of the im2col matrix N H_out W_out x C_in k_h k_w",
                args(N, C_in, H, W, k_h, k_w, s_h, s_w, p_h, p_w, d_h, d_w), conv.im2col_elements,
                "costs.memory", requires=conv_fits),
        Formula("conv2d_output_elements", "Elements of the conv2d output",
                args(N, H, W, C_out, k_h, k_w, s_h, s_w, p_h, p_w, d_h, d_w), conv.output_elements,
                "costs.memory", requires=conv_fits),
        Formula("conv2d_backward_macs", "Conv2d backward MACs: grad wrt input + grad wrt weights",
                args(*conv_syms), conv.backward_macs, "costs.backward", requires=conv_fits + groups),
        Formula("conv_transpose2d_macs", "Transposed conv MACs (every input times every weight of "
                "its group)", args(N, C_in, H, W, C_out, k_h, k_w, g), tconv.macs,
                "costs.conv-transpose-macs", requires=groups),
        Formula("avg_pool2d_flops", "Average pooling additions and divisions (floor mode), equal to "
                "the MACs of the depthwise conv it is",
                args(N, C_in, H, W, k_h, k_w, s_h, s_w, p_h, p_w), avg.flops, "costs.pooling",
                requires=(_fits(H, k_h, 2 * p_h, 1, "height"), _fits(W, k_w, 2 * p_w, 1, "width"),
                          _pool_rule(k_h, p_h, "height"), _pool_rule(k_w, p_w, "width"))),
        Formula("linear_macs", "Linear layer MACs", args(R, C_in, C_out),
                linear_cost((R, C_in), C_out).macs, "costs.linear-and-1x1"),
    )
    return _FORMULAS
