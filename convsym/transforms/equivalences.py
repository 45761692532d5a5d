"""Equivalent forms of convolution layers as NumPy weight transforms.

Each function maps layers (or weight arrays) to another form that computes the same map, or
raises a ``ValueError`` that names the rule which makes the rewrite inexact.  Layout and
semantics are PyTorch's (NCHW, cross-correlation, zero padding); exact object arrays (Python
ints, ``fractions.Fraction``) stay exact and float arrays stay float64, as in
:mod:`convsym.transforms`.  The proofs of every identity used here are in
``proofs/equivalences.py``.

=============================  ===============================================================
``conv1x1_to_linear``          a 1x1 convolution is a fully connected layer at every pixel
``linear_to_conv1x1``          and back
``linear_to_full_map_conv``    a fully connected layer on the flattened ``C x H x W`` map is a
``full_map_conv_to_linear``    convolution whose kernel covers the whole map, and back
``unshuffled_conv_to_conv``    a conv on a pixel-unshuffled map is a strided conv on the map
``split_kernel``               every kernel of size ``k1 + k2 - 1`` is two convolutions in a row
``factor_kernel_1d``           ... with one middle channel when its polynomial has a real factor
``merge_sequential_padded``    two convolutions in a row with padding in the second one
=============================  ===============================================================
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convsym.transforms.layers import Conv2d, _check_type, _dense

__all__ = [
    "conv1x1_to_linear",
    "factor_kernel_1d",
    "full_map_conv_to_linear",
    "linear_to_conv1x1",
    "linear_to_full_map_conv",
    "merge_sequential_padded",
    "split_kernel",
    "split_offsets",
    "split_owner",
    "unshuffled_conv_to_conv",
]

Pair = tuple[int, int]


# ---------------------------------------------------------------------------------------------
# helpers


def _merge(first: Conv2d, second: Conv2d) -> Conv2d:
    # imported here: convsym.transforms re-exports this module's transforms
    from convsym.transforms import merge_sequential

    return merge_sequential(first, second)


def _conv(op: str, name: str, layer: object) -> Conv2d:
    _check_type(op, name, layer, Conv2d)
    return layer


def _sides(padding) -> tuple[Pair, Pair]:
    """A normalised Conv2d padding as ``((top, bottom), (left, right))``."""
    first, second = padding
    if isinstance(first, tuple):
        return padding
    return (first, first), (second, second)


def _regroup(dense: np.ndarray, groups: int) -> np.ndarray:
    """The diagonal blocks of a dense ``(O, C, ...)`` weight as a grouped ``(O, C/g, ...)`` one."""
    out_channels, in_channels = dense.shape[:2]
    go, gi = out_channels // groups, in_channels // groups
    out = np.empty((out_channels, gi, *dense.shape[2:]), dtype=dense.dtype)
    for j in range(groups):
        out[j * go : (j + 1) * go] = dense[j * go : (j + 1) * go, j * gi : (j + 1) * gi]
    return out


def _matrix(op: str, w: object, b: object) -> tuple[np.ndarray, np.ndarray | None]:
    _check_type(op, "w", w, np.ndarray)
    if w.ndim != 2:
        raise ValueError(f"{op}: w must be 2-D (out_features, in_features), got shape {w.shape}")
    if b is not None:
        _check_type(op, "b", b, np.ndarray)
    return w, b


# ---------------------------------------------------------------------------------------------
# 1x1 convolution and fully connected layers


def conv1x1_to_linear(conv: Conv2d) -> tuple[np.ndarray, np.ndarray | None]:
    """The fully connected layer ``(w, b)`` that a 1x1 convolution applies at every pixel:

    ``conv(x)[n, :, i, j] == w @ x[n, :, i, j] + b`` with ``w[o, c] = W[o, c, 0, 0]`` (groups
    expanded to the block-diagonal dense matrix), ``b`` the conv's bias.  Cost ``O*C*H*W`` MACs
    per sample, as ``H*W`` products of an ``O x C`` matrix with a vector.

    Rules (``ValueError`` otherwise): kernel 1x1; stride 1 (stride ``s`` keeps only the pixels
    ``(s*i, s*j)``); padding 0 (padding adds a ring whose output is the bias alone).  Dilation
    does not matter for a 1x1 kernel.
    """
    op = "conv1x1_to_linear"
    conv = _conv(op, "conv", conv)
    if conv.kernel_size != (1, 1):
        raise ValueError(f"{op}: kernel_size={conv.kernel_size} must be (1, 1) for a per-pixel linear map")
    if conv.stride != (1, 1):
        raise ValueError(
            f"{op}: stride={conv.stride} must be (1, 1): a strided 1x1 conv applies the linear map "
            "only at every s-th pixel"
        )
    if conv.padding != (0, 0):
        raise ValueError(
            f"{op}: padding={conv.padding} must be 0: the padded ring's output is the bias alone, "
            "not the linear map of a pixel"
        )
    w = _dense(conv.weight, conv.groups)[:, :, 0, 0].copy()
    return w, None if conv.bias is None else conv.bias.copy()


def linear_to_conv1x1(w: np.ndarray, b: np.ndarray | None = None) -> Conv2d:
    """The 1x1 convolution ``W[o, c, 0, 0] = w[o, c]`` (bias ``b``) that applies the fully
    connected layer ``x -> w @ x + b`` at every pixel of an ``(N, C, H, W)`` map."""
    w, b = _matrix("linear_to_conv1x1", w, b)
    return Conv2d(w[:, :, None, None], b)


def linear_to_full_map_conv(w: np.ndarray, b: np.ndarray | None, input_shape: Sequence[int]) -> Conv2d:
    """A fully connected layer on the row-major flattened ``C x H x W`` map as a convolution whose
    kernel covers the whole map: ``W[o, c, u, v] = w[o, c*H*W + u*W + v]``, no padding.

    On an input of exactly ``H x W`` the conv's output is ``(N, O, 1, 1)`` and
    ``conv(x)[n, :, 0, 0] == w @ x[n].reshape(-1) + b``.
    """
    op = "linear_to_full_map_conv"
    w, b = _matrix(op, w, b)
    if len(input_shape) != 3 or not all(isinstance(s, int | np.integer) and s >= 1 for s in input_shape):
        raise ValueError(f"{op}: input_shape must be (C, H, W) of positive ints, got {tuple(input_shape)!r}")
    c, h, wd = (int(s) for s in input_shape)
    if w.shape[1] != c * h * wd:
        raise ValueError(
            f"{op}: w has {w.shape[1]} input features but the flattened map has C*H*W = "
            f"{c}*{h}*{wd} = {c * h * wd}"
        )
    return Conv2d(w.reshape(w.shape[0], c, h, wd), b)


def full_map_conv_to_linear(conv: Conv2d) -> tuple[np.ndarray, np.ndarray | None]:
    """The fully connected layer ``(w, b)`` on the flattened ``C x kh x kw`` input that a
    convolution computes on an input exactly its kernel's size: ``w[o, c*kh*kw + u*kw + v] =
    W[o, c, u, v]`` (groups expanded).

    Rules (``ValueError`` otherwise): padding 0 (the kernel must cover the map itself, not a
    zero ring) and dilation 1 (a dilated kernel covers only part of the map).  Stride does not
    matter: there is one window.
    """
    op = "full_map_conv_to_linear"
    conv = _conv(op, "conv", conv)
    if conv.padding != (0, 0):
        raise ValueError(f"{op}: padding={conv.padding} must be 0: the kernel must cover the map, not a zero ring")
    if conv.dilation != (1, 1):
        raise ValueError(f"{op}: dilation={conv.dilation} must be 1: a dilated kernel skips pixels of the map")
    dense = _dense(conv.weight, conv.groups)
    return dense.reshape(dense.shape[0], -1).copy(), None if conv.bias is None else conv.bias.copy()


# ---------------------------------------------------------------------------------------------
# space-to-depth


def unshuffled_conv_to_conv(conv: Conv2d, r: int) -> Conv2d:
    """The convolution on a ``D x rH x rW`` map equal to ``conv`` on its pixel-unshuffled
    ``D r^2 x H x W`` form: ``conv(pixel_unshuffle(y, r)) == result(y)``.

    With ``conv`` of kernel ``K``, stride ``S``, padding ``P`` and dilation ``d`` (per axis):
    kernel ``r (d (K - 1) + 1)``, stride ``r S``, padding ``r P`` (each side), dilation 1, and

        ``W'[o, e, r d u + a, r d v + b] = W[o, e r^2 + a r + b, u, v]``   (zero elsewhere),

    which for ``d = 1`` is ``pixel_shuffle`` applied to the weight.  Same MACs, same number of
    nonzero weights, same output.  Groups ``g`` stay ``g`` when ``g`` divides ``D`` (each group is
    made of whole channels of the map); otherwise the result is dense (groups 1), zero outside
    the blocks.

    Rule (``ValueError`` otherwise): ``in_channels`` is divisible by ``r^2``.
    """
    op = "unshuffled_conv_to_conv"
    conv = _conv(op, "conv", conv)
    if isinstance(r, bool) or not isinstance(r, int | np.integer) or r < 1:
        raise ValueError(f"{op}: r={r!r} must be a positive int")
    r = int(r)
    if conv.in_channels % (r * r):
        raise ValueError(
            f"{op}: in_channels={conv.in_channels} must be divisible by r*r={r * r}: the conv's "
            "input must be a pixel-unshuffled map"
        )
    depth = conv.in_channels // (r * r)
    dense = _dense(conv.weight, conv.groups)
    out_c, _, kh, kw = dense.shape
    (dh, dw) = conv.dilation
    big = np.zeros((out_c, depth, r * (dh * (kh - 1) + 1), r * (dw * (kw - 1) + 1)), dtype=dense.dtype)
    for e in range(depth):
        for a in range(r):
            for b in range(r):
                big[:, e, a :: r * dh, b :: r * dw][:, :kh, :kw] = dense[:, e * r * r + a * r + b]
    groups = conv.groups if depth % conv.groups == 0 else 1
    weight = _regroup(big, groups)
    (top, bottom), (left, right) = _sides(conv.padding)
    return Conv2d(
        weight,
        conv.bias,
        stride=(r * conv.stride[0], r * conv.stride[1]),
        padding=((r * top, r * bottom), (r * left, r * right)),
        dilation=1,
        groups=groups,
    )


# ---------------------------------------------------------------------------------------------
# the converse of the merge


def split_offsets(k1: int, k2: int) -> list[int]:
    """Window starts that cover ``0 .. k1 + k2 - 2`` with windows of width ``k2`` starting in
    ``0 .. k1 - 1``: ``{0, k2, 2 k2, ...} below k1 - 1``, then ``k1 - 1``; there are
    ``ceil((k1 - 1) / k2) + 1`` of them.  Position ``t`` belongs to window ``min(k2*(t // k2), k1 - 1)``."""
    return sorted({j * k2 for j in range(-(-(k1 - 1) // k2))} | {k1 - 1})


def split_owner(t: int, k1: int, k2: int) -> int:
    """The start of the window (:func:`split_offsets`) that owns merged position ``t``."""
    return min(k2 * (t // k2), k1 - 1)


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


# ---------------------------------------------------------------------------------------------
# merging with padding in the second layer

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
