"""Two convolutions in a row as one: ``merge_sequential``, its padded variant, and the converse
(splitting a kernel into two).  The theorems are in the book's chapter on merging."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from convsym.spec import split_offsets, split_owner
from convsym.transforms.layers import Conv2d, Pair, _check_type, _dense, _unify

__all__ = [
    "factor_kernel_1d",
    "merge_sequential",
    "merge_sequential_padded",
    "split_kernel",
    "split_offsets",
    "split_owner",
]


def _conv(op: str, name: str, layer: object) -> Conv2d:
    _check_type(op, name, layer, Conv2d)
    return layer


def _sides(padding) -> tuple[Pair, Pair]:
    """A normalised Conv2d padding as ``((top, bottom), (left, right))``."""
    first, second = padding
    if isinstance(first, tuple):
        return padding
    return (first, first), (second, second)


def _merge(first: Conv2d, second: Conv2d) -> Conv2d:
    return merge_sequential(first, second)


def merge_sequential(first: Conv2d, second: Conv2d, padding_mode: str | None = None) -> Conv2d:
    r"""One convolution equal to ``second(first(x))`` for every input ``x``.

    ``padding_mode`` (``'bias'`` or ``'zeros'``) asks for the merge of a ``second`` that pads:
    see :func:`convsym.transforms.sequential.merge_sequential_padded` for the exact conditions (with
    ``'bias'`` the intermediate's padding ring holds ``b1``, as re-parameterisation blocks do).
    Without it a padded ``second`` raises ``ValueError``.

    Per spatial axis, with kernel sizes ``k1, k2``, strides ``s1, s2``, dilations ``d1, d2``:

    * weight: ``W[o,c,t] = sum_m sum_{a,b : d1*a + s1*d2*b = t} W1[m,c,a] * W2[o,m,b]``
      (the true convolution of the kernels when ``s1 = d1 = d2 = 1``), summed over the middle
      channels ``m``; kernel size ``d1(k1-1) + s1*d2(k2-1) + 1``;
    * stride ``s1*s2``, dilation 1, padding ``p1`` (first's, symmetric or not);
    * bias: ``B[o] = b2[o] + sum_{m,u,v} W2[o,m,u,v] * b1[m]`` (``None`` when both are).

    Derivation: ``second`` reads intermediate position ``j*s2 + d2*b``, which ``first``
    computed from padded input position ``(j*s2 + d2*b)*s1 + d1*a = j*(s1*s2) + t``.  The output
    sizes agree because ``floor(floor(A/s1)/s2 - B) = floor((A - s1*s2*B)/(s1*s2))``.

    Groups: every combination ``(g1, g2)`` is supported.  Merged ``groups = gcd(g1, g2)``: the
    intermediate channels split into ``gcd(g1, g2)`` contiguous blocks that are unions of whole
    groups of both layers, so merged output block ``J`` reads only input block ``J``; and these
    blocks are the connected components of the channel graph, so no larger group count is exact
    for all weights.  Equal groups ``g`` (depthwise after depthwise included) stay ``g``; groups 1
    on either side gives a dense merged weight.

    Exact conditions (``ValueError`` otherwise): ``second.in_channels == first.out_channels``
    and ``second.padding == 0``: zero padding of the intermediate is not zero padding of the
    input (the intermediate's border holds ``b1`` and partial sums), so the merge would be wrong
    on a border ring of width ``p2``.

    Exact arrays give an exact result; float arrays a float64 one.  Cost:
    ``O(k2h*k2w * O*M*C*k1h*k1w)``.
    """
    op = "merge_sequential"
    if padding_mode is not None:
        return merge_sequential_padded(first, second, padding_mode)
    _check_type(op, "first", first, Conv2d)
    _check_type(op, "second", second, Conv2d)
    if second.in_channels != first.out_channels:
        raise ValueError(
            f"{op}: second.in_channels={second.in_channels} must equal "
            f"first.out_channels={first.out_channels}"
        )
    if second.padding != (0, 0):
        raise ValueError(
            f"{op}: second.padding={second.padding} must be 0: zero padding of the "
            "intermediate is not zero padding of the input, so the merged conv would be wrong "
            f"on a border ring of width p2={second.padding} (pass padding_mode='bias' to pad the "
            "intermediate with the first bias, an exact repair under the conditions it checks)"
        )
    w1, b1, w2, b2 = _unify(first.weight, first.bias, second.weight, second.bias)
    dense1 = _dense(w1, first.groups)  # (M, C, k1h, k1w)
    dense2 = _dense(w2, second.groups)  # (O, M, k2h, k2w)
    (k1h, k1w), (k2h, k2w) = first.kernel_size, second.kernel_size
    (s1h, s1w), (d1h, d1w), (d2h, d2w) = first.stride, first.dilation, second.dilation
    size_h = d1h * (k1h - 1) + s1h * d2h * (k2h - 1) + 1
    size_w = d1w * (k1w - 1) + s1w * d2w * (k2w - 1) + 1
    out_channels, in_channels = second.out_channels, first.in_channels
    merged = np.zeros((out_channels, in_channels, size_h, size_w), dtype=w1.dtype)
    for bh in range(k2h):
        for bw in range(k2w):
            # every tap (a_h, a_w) of the first kernel lands at t = d1*a + s1*d2*b
            contribution = np.tensordot(dense2[:, :, bh, bw], dense1, axes=([1], [0]))
            top, left = s1h * d2h * bh, s1w * d2w * bw
            merged[
                :,
                :,
                top : top + d1h * (k1h - 1) + 1 : d1h,
                left : left + d1w * (k1w - 1) + 1 : d1w,
            ] += contribution

    groups = math.gcd(first.groups, second.groups)
    group_out, group_in = out_channels // groups, in_channels // groups
    weight = np.empty((out_channels, group_in, size_h, size_w), dtype=merged.dtype)
    for j in range(groups):
        rows = slice(j * group_out, (j + 1) * group_out)
        weight[rows] = merged[rows, j * group_in : (j + 1) * group_in]

    if b1 is None and b2 is None:
        bias = None
    else:
        bias = np.zeros(out_channels, dtype=merged.dtype) if b2 is None else b2.copy()
        if b1 is not None:
            bias = bias + dense2.sum(axis=(2, 3)) @ b1
    return Conv2d(
        weight,
        bias,
        stride=(s1h * second.stride[0], s1w * second.stride[1]),
        padding=first.padding,
        dilation=1,
        groups=groups,
    )


PADDING_MODES = ("bias", "zeros")


def merge_sequential_padded(first: Conv2d, second: Conv2d, padding_mode: str = "bias") -> Conv2d:
    """One convolution equal to ``second`` applied to ``first(x)`` padded by ``second.padding``
    with ``padding_mode``:

    * ``'bias'``: the intermediate's padding ring holds ``b1[m]`` in channel ``m`` (the value
      ``first`` computes on an all-zero window), as re-parameterisation blocks pad after a
      1x1 conv + BN; ``first`` without bias pads with zeros;
    * ``'zeros'``: PyTorch's zero padding of the intermediate.

    The result is :func:`~convsym.transforms.merge_sequential` of ``first`` and ``second``
    without padding, with input padding ``p1 + s1 * p2`` per side (``p1``, ``s1`` of ``first``,
    ``p2`` of ``second``): exactly what the virtual first-layer outputs on the ring would be.

    Rules, per axis and per side where ``second`` pads (``ValueError`` otherwise); with
    ``span = d1 (k1 - 1)``:

    * top/left: ``span <= p1_top + s1 - 1`` -- the first layer's window at ring row ``-1`` sees
      only padding;
    * bottom/right: ``span <= p1_bottom`` -- for every input size the window at the first
      ring row after the map sees only padding (for some sizes less is enough);
    * ``'zeros'`` only: ``b1 = 0``, else the ring should hold ``b1``, not zero.

    These conditions make the merge exact for every input size; with ``d2 = s2 = 1`` and
    ``p2 <= k2 - 1`` they are also necessary (``equivalences.padded-exact-characterisation``).
    """
    op = "merge_sequential_padded"
    first, second = _conv(op, "first", first), _conv(op, "second", second)
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"{op}: padding_mode={padding_mode!r} must be one of {PADDING_MODES}")
    p2 = _sides(second.padding)
    if p2 == ((0, 0), (0, 0)):
        return _merge(first, second)
    p1 = _sides(first.padding)
    if padding_mode == "zeros" and first.bias is not None and any(v != 0 for v in first.bias):
        raise ValueError(
            f"{op}: padding_mode='zeros' needs first.bias = 0: the intermediate's ring is zero but the "
            "merged conv sees first's output b1 there; use padding_mode='bias' (pad with b1) or drop b1"
        )
    for name, k1, s1, d1, (lo, hi), (q_lo, q_hi) in (
        ("H", first.kernel_size[0], first.stride[0], first.dilation[0], p1[0], p2[0]),
        ("W", first.kernel_size[1], first.stride[1], first.dilation[1], p1[1], p2[1]),
    ):
        span = d1 * (k1 - 1)
        if q_lo > 0 and span > lo + s1 - 1:
            raise ValueError(
                f"{op}: on axis {name} the first layer's window at the ring before the map reaches the "
                f"input: d1*(k1-1)={span} must be <= p1_before + s1 - 1 = {lo} + {s1} - 1 = {lo + s1 - 1}"
            )
        if q_hi > 0 and span > hi:
            raise ValueError(
                f"{op}: on axis {name} the first layer's window at the ring after the map reaches the "
                f"input for some input sizes: d1*(k1-1)={span} must be <= p1_after={hi}"
            )
    inner = Conv2d(second.weight, second.bias, stride=second.stride, padding=0,
                   dilation=second.dilation, groups=second.groups)
    merged = _merge(first, inner)
    (s1h, s1w) = first.stride
    padding = ((p1[0][0] + s1h * p2[0][0], p1[0][1] + s1h * p2[0][1]),
               (p1[1][0] + s1w * p2[1][0], p1[1][1] + s1w * p2[1][1]))
    return Conv2d(merged.weight, merged.bias, stride=merged.stride, padding=padding,
                  dilation=merged.dilation, groups=merged.groups)


def split_kernel(w: np.ndarray, k1: int | Pair, bias: np.ndarray | None = None) -> tuple[Conv2d, Conv2d]:
    """Two convolutions in a row, of kernel sizes ``k1`` and ``k2 = K - k1 + 1``, equal to the one
    convolution with weight ``w`` (shape ``(O, C, K_h, K_w)``) and ``bias``: every kernel splits,
    given enough middle channels.

    Construction (per spatial axis, then the product of the two axes):

    * *shifts first*: middle channel ``(c, a0)`` copies input channel ``c`` shifted by ``a0``
      (an impulse at ``a0`` in a ``k1`` kernel); the second layer holds the chunk
      ``w[o, c, a0 : a0 + k2]`` of the positions ``t`` owned by window ``a0``
      (:func:`split_offsets`).  Middle channels ``C * n(k1, k2)`` with
      ``n(k1, k2) = ceil((k1 - 1)/k2) + 1`` per axis (multiplied over the axes);
    * *weights first*: middle channel ``(o, b0)`` is the chunk ``w[o, :, b0 : b0 + k1]`` and the
      second layer shifts it by ``b0``; ``O * n(k2, k1)`` middle channels.

    The smaller one is returned (ties: shifts first).  ``merge_sequential(first, second)`` gives
    back ``w`` and ``bias`` exactly: each merged position ``t`` receives exactly one product
    ``impulse * chunk``.  With one input and one output channel, one middle channel is enough
    exactly when the kernel polynomial has a real factor of degree ``k1 - 1`` (see
    :func:`factor_kernel_1d`); ``[1, 0, 1]`` with ``k1 = k2 = 2`` has none and needs two.

    Rule (``ValueError`` otherwise): ``1 <= k1 <= K`` on each axis.
    """
    op = "split_kernel"
    _check_type(op, "w", w, np.ndarray)
    if w.ndim != 4:
        raise ValueError(f"{op}: w must be 4-D (O, C, K_h, K_w), got shape {w.shape}")
    probe = Conv2d(w, bias)  # validates and normalises the number kind
    w, bias = probe.weight, probe.bias
    out_c, in_c, kh, kw = w.shape
    if isinstance(k1, int | np.integer) and not isinstance(k1, bool):
        k1p = (k1, k1)
    elif isinstance(k1, tuple | list):
        k1p = tuple(k1)
    else:
        raise TypeError(f"{op}: k1 must be an int or a pair of ints, got {k1!r}")
    if len(k1p) != 2 or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in k1p):
        raise TypeError(f"{op}: k1 must be an int or a pair of ints, got {k1!r}")
    for axis, k, big in (("H", k1p[0], kh), ("W", k1p[1], kw)):
        if not 1 <= k <= big:
            raise ValueError(f"{op}: k1={k} must lie in [1, K={big}] on axis {axis} (then k2 = K - k1 + 1 >= 1)")
    k1h, k1w = (int(v) for v in k1p)
    k2h, k2w = kh - k1h + 1, kw - k1w + 1
    shift_first = in_c * len(split_offsets(k1h, k2h)) * len(split_offsets(k1w, k2w))
    weight_first = out_c * len(split_offsets(k2h, k1h)) * len(split_offsets(k2w, k1w))
    exact = w.dtype == object
    zero, one = (0, 1) if exact else (0.0, 1.0)
    if shift_first <= weight_first:
        windows = [(c, ah, aw) for c in range(in_c)
                   for ah in split_offsets(k1h, k2h) for aw in split_offsets(k1w, k2w)]
        w1 = np.full((len(windows), in_c, k1h, k1w), zero, dtype=w.dtype)
        w2 = np.full((out_c, len(windows), k2h, k2w), zero, dtype=w.dtype)
        for m, (c, ah, aw) in enumerate(windows):
            w1[m, c, ah, aw] = one
            for bh in range(k2h):
                for bw in range(k2w):
                    th, tw = ah + bh, aw + bw
                    if split_owner(th, k1h, k2h) == ah and split_owner(tw, k1w, k2w) == aw:
                        w2[:, m, bh, bw] = w[:, c, th, tw]
    else:
        windows = [(o, bh, bw) for o in range(out_c)
                   for bh in split_offsets(k2h, k1h) for bw in split_offsets(k2w, k1w)]
        w1 = np.full((len(windows), in_c, k1h, k1w), zero, dtype=w.dtype)
        w2 = np.full((out_c, len(windows), k2h, k2w), zero, dtype=w.dtype)
        for m, (o, bh, bw) in enumerate(windows):
            w2[o, m, bh, bw] = one
            for ah in range(k1h):
                for aw in range(k1w):
                    th, tw = bh + ah, bw + aw
                    if split_owner(th, k2h, k1h) == bh and split_owner(tw, k2w, k1w) == bw:
                        w1[m, :, ah, aw] = w[o, :, th, tw]
    return Conv2d(w1), Conv2d(w2, bias)


def factor_kernel_1d(w: Sequence, k1: int) -> tuple[list, list]:
    """One-channel split of a 1-D kernel over the reals: ``(u, v)`` of lengths ``k1`` and
    ``k2 = len(w) - k1 + 1`` whose true convolution is ``w``, with exact SymPy entries (real
    algebraic numbers), so that ``conv(conv(x, u), v) == conv(x, w)``.

    Criterion (proved in ``equivalences.split-criterion``): with ``W(z) = sum_t w_t z^t`` this
    exists iff ``W = F G`` over the reals with ``deg F <= k1 - 1`` and ``deg G <= k2 - 1``;
    a real polynomial factors over the reals into linear factors (its real roots) and quadratic
    ones (its pairs of complex roots), so it fails exactly when ``k1`` and ``k2`` are both even,
    ``deg W = k1 + k2 - 2`` and ``W`` has no real root (``[1, 0, 1]``: ``z^2 + 1``).  Entries
    must be ints or Fractions (exact); ``ValueError`` names the criterion when no split exists.
    """
    import sympy

    op = "factor_kernel_1d"
    coeffs = [sympy.Rational(str(c)) if not isinstance(c, int) else sympy.Integer(c) for c in w]
    big = len(coeffs)
    if isinstance(k1, bool) or not isinstance(k1, int) or not 1 <= k1 <= big:
        raise ValueError(f"{op}: k1={k1!r} must be an int in [1, len(w)={big}]")
    k2 = big - k1 + 1
    z = sympy.Symbol("z")
    poly = sympy.Poly(list(reversed(coeffs)), z)
    if poly.is_zero:
        return [sympy.Integer(0)] * k1, [sympy.Integer(0)] * k2
    degree = poly.degree()
    # radicals for factors of degree <= 2 over QQ (square roots, simple to check); exact CRootOf
    # objects otherwise (Cardano's radicals would hide realness and make every check slow)
    if all(f.degree() <= 2 for f, _ in poly.factor_list()[1]):
        roots = sympy.roots(poly, multiple=True)
    else:
        roots = poly.all_roots()
    real = [r for r in roots if r.is_real]
    upper = [r for r in roots if not r.is_real and sympy.im(r).is_positive]
    lo, hi = max(0, degree - (k2 - 1)), min(k1 - 1, degree)

    w_desc = [sympy.sympify(c) for c in poly.all_coeffs()]  # highest degree first

    def pad(values, length):
        return values + [sympy.Integer(0)] * (length - len(values))

    for d in range(lo, hi + 1):
        # real roots first: then the cofactor is a polynomial in real numbers only
        for pairs in range(0, min(len(upper), d // 2) + 1):
            n_real = d - 2 * pairs
            if n_real > len(real):
                continue
            pair_factors = [z**2 - 2 * sympy.re(r) * z + sympy.expand(sympy.re(r) ** 2 + sympy.im(r) ** 2)
                            for r in upper[:pairs]]
            left = sympy.Poly(sympy.expand(sympy.Mul(*[z - r for r in real[:n_real]], *pair_factors)), z)
            f_desc = [sympy.sympify(c) for c in left.all_coeffs()]  # monic
            # long division W / F (exact: F divides W); the quotient is the second kernel
            rem, quot = list(w_desc), []
            for step in range(len(w_desc) - len(f_desc) + 1):
                q = sympy.expand(rem[step])
                quot.append(q)
                for m, fc in enumerate(f_desc):
                    rem[step + m] = rem[step + m] - q * fc
            u = [sympy.simplify(c) for c in reversed(f_desc)]
            v = [sympy.simplify(c) for c in reversed(quot)]
            return pad(u, k1), pad(v, k2)
    raise ValueError(
        f"{op}: the kernel polynomial {sympy.sstr(poly.as_expr())} has no real factor of degree in "
        f"[{lo}, {hi}] (k1={k1}, k2={k2}): it has {len(real)} real roots and {len(upper)} "
        "pairs of complex roots, so no one-channel split exists; split_kernel uses more channels"
    )
