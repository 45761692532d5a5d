"""Helpers shared by the sections of the costs chapter (not a proof script: the registry skips ``_*.py``)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

import sympy
from sympy import Integer, Symbol

from convsym.cost import (
    exported_formulas,
)
from convsym.proof import (
    ProofError,
)
from convsym.render.export import python_function
from convsym.shapes import conv_output_size
from convsym.symbolic.compile import int_value

FORMULA = {f.name: f for f in exported_formulas()}


def args_of(name: str) -> tuple[Symbol, ...]:
    return tuple(sym for sym, _ in FORMULA[name].arguments)


def formula_name(name: str) -> str:
    """An exported formula's name as inline math in typewriter type, breakable after each
    underscore: ``$\\mathtt{conv2d\\_}\\allowbreak\\mathtt{macs}$``."""
    if name not in FORMULA:
        raise ProofError(f"formula_name: no exported formula is named {name!r}")
    parts = name.split("_")
    return "$" + r"\allowbreak".join(rf"\mathtt{{{p}\_}}" for p in parts[:-1]) + \
        (r"\allowbreak" if len(parts) > 1 else "") + rf"\mathtt{{{parts[-1]}}}$"


def exported(function: str, formula: str, args=None) -> str:
    """Python source of ``def <function>(...)``: the exported closed formula ``formula`` (the one this
    chapter proves), printed by the exporter; the emitted checks call it."""
    return python_function(function, args_of(formula) if args is None else args, FORMULA[formula].expression)


def ev(expr: sympy.Expr, values: Mapping[Symbol, int]) -> int:
    """The exact value of ``expr`` at integer ``values``."""
    fast = int_value(expr, values)  # compiled once per formula; None: substitute below
    if fast is not None:
        return fast
    out = sympy.sympify(expr).xreplace({s: Integer(v) for s, v in values.items()})
    if not out.is_Integer:
        raise ProofError(f"{expr} does not evaluate to an integer at {dict(values)}: {out}")
    return int(out)


def _tex(e) -> str:
    return e if isinstance(e, str) else sympy.latex(e)


def _conj(conds: Iterable) -> str:
    return r" \wedge ".join(_tex(c) for c in conds) or r"\mathrm{true}"


def grid(**ranges: Iterable[int]) -> list[dict[str, int]]:
    names = list(ranges)
    return [dict(zip(names, values, strict=True))
            for values in itertools.product(*(list(ranges[n]) for n in names))]


# ---------------------------------------------------------------------------------------------
# brute-force counts (enumeration; no closed formula inside)


def windows_that_fit(n: int, k: int, s: int, p_l: int, p_r: int, d: int) -> list[int]:
    """Window indices i >= 0 whose last tap s i + d(k-1) lies in the padded input."""
    out, i = [], 0
    while s * i + d * (k - 1) <= n + p_l + p_r - 1:
        out.append(i)
        i += 1
    return out


def ceil_windows(n: int, k: int, s: int, p: int, d: int) -> list[int]:
    """Windows needed to reach the end of the padded input (each starts where the previous one
    left the end uncovered) that start inside the input or its left padding."""
    out, i = [], 0
    while i == 0 or s * (i - 1) + d * (k - 1) < n + 2 * p - 1:
        if s * i < n + p:
            out.append(i)
        i += 1
    return out


def real_pairs(n: int, k: int, s: int, p_l: int, d: int, m: int) -> int:
    return sum(1 for i in range(m) for a in range(k) if 0 <= s * i + d * a - p_l <= n - 1)


def scatter_positions(n: int, k: int, s: int, d: int) -> set[int]:
    return {s * i + d * a for i in range(n) for a in range(k)}


class Counter:
    """A number that counts the multiplications and additions made with it."""

    def __init__(self, ops: list[int]) -> None:
        self.ops = ops

    def __mul__(self, other: Counter) -> Counter:
        self.ops[0] += 1
        return Counter(self.ops)

    def __add__(self, other: Counter) -> Counter:
        self.ops[1] += 1
        return Counter(self.ops)


def direct_conv_ops(n: int, c_in: int, h: int, w: int, c_out: int, k_h: int, k_w: int, s_h: int,
                    s_w: int, p_h: int, p_w: int, d_h: int, d_w: int, g: int,
                    bias: bool) -> tuple[int, int]:
    """(multiplications, additions) of a direct conv loop written out on counting numbers: each
    output starts from the bias (or from its first product) and adds its products one by one."""
    ops = [0, 0]
    one = Counter(ops)
    rows = windows_that_fit(h, k_h, s_h, p_h, p_h, d_h)
    cols = windows_that_fit(w, k_w, s_w, p_w, p_w, d_w)
    per_in = c_in // g
    for _n, _o, _i, _j in itertools.product(range(n), range(c_out), rows, cols):
        acc = one if bias else None
        for _c, _u, _v in itertools.product(range(per_in), range(k_h), range(k_w)):
            term = one * one
            acc = term if acc is None else acc + term
    return ops[0], ops[1]




# ---------------------------------------------------------------------------------------------
# the symbols and small cases of a conv2d layer (sections costs, padding_costs, resnet)

(N, C_in, H, W, C_out, k_h, k_w, s_h, s_w, p_h, p_w, d_h, d_w, g) = args_of("conv2d_macs")
H_out, W_out = sympy.symbols("H_out W_out", integer=True, positive=True)
b_, o_, i2, j2, c2, u_, v_, gamma_ = (Symbol(name, integer=True) for name in
                                      ("n", "o", "i", "j", "c", "u", "v", "gamma"))
OUT_SIZES = {H_out: conv_output_size(H, k_h, s_h, p_h, d_h), W_out: conv_output_size(W, k_w, s_w, p_w, d_w)}

CONV_ARGS = ("N", "C_in", "H", "W", "C_out", "k_h", "k_w", "s_h", "s_w", "p_h", "p_w", "d_h", "d_w", "g")


def conv_cases(limit: int = 40) -> list[dict[str, int]]:
    """A deterministic spread of small conv layers: groups, strides, dilations, paddings."""
    out = []
    for g_, ci, co, kh, kw, sh, sw, ph, pw, dh, dw, h, w in itertools.product(
            (1, 2), (1, 2), (1, 2), (1, 2, 3), (1, 3), (1, 2), (1, 3), (0, 1), (0, 2), (1, 2), (1,), (4, 7), (5,)):
        if dh * (kh - 1) + 1 > h + 2 * ph or dw * (kw - 1) + 1 > w + 2 * pw:
            continue
        out.append(dict(N=1 + (kh == 2), C_in=g_ * ci, H=h, W=w, C_out=g_ * co, k_h=kh, k_w=kw, s_h=sh,
                        s_w=sw, p_h=ph, p_w=pw, d_h=dh, d_w=dw, g=g_))
    step = max(1, len(out) // limit)
    return out[::step]


def _conv_values(case: Mapping[str, int]) -> dict[Symbol, int]:
    syms = dict(zip(CONV_ARGS, args_of("conv2d_macs"), strict=True))
    return {syms[k]: v for k, v in case.items() if k in syms}
