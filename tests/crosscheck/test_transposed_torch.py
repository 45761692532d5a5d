"""convsym's transposed convolution, pixel shuffle and sub-pixel transforms against PyTorch, on
Hypothesis-drawn shapes (stride, padding, output_padding, dilation, groups)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from convsym import reference as ref
from convsym.shapes import conv_transpose_output_size
from convsym.transforms import Conv2d, ConvTranspose2d, subpixel_to_transposed, transposed_to_subpixel

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


@st.composite
def transposed_layers(draw):
    g = draw(st.sampled_from([1, 2, 3]))
    c_in, per_out = g * draw(st.integers(1, 2)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    s = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    q = tuple(draw(st.integers(0, max(s[a], d[a]) - 1)) for a in range(2))
    p = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    out = [(n - 1) * s[a] - 2 * p[a] + d[a] * (k - 1) + q[a] + 1 for a, (n, k) in enumerate(((h, kh), (w, kw)))]
    if min(out) < 1:
        p = (0, 0)  # the padding cropped everything: draw the layer without it
    assert conv_transpose_output_size(h, kh, s[0], p[0], q[0], d[0]) >= 1
    seed = draw(st.integers(0, 2**16))
    return dict(g=g, c_in=c_in, per_out=per_out, k=(kh, kw), s=s, d=d, q=q, p=p, hw=(h, w), seed=seed)


def _torch(a):
    return torch.from_numpy(np.array(a, dtype=np.float64))


@SETTINGS
@given(transposed_layers())
def test_conv_transpose2d_matches_torch(layer):
    rng = np.random.default_rng(layer["seed"])
    x = rng.standard_normal((2, layer["c_in"], *layer["hw"]))
    w = rng.standard_normal((layer["c_in"], layer["per_out"], *layer["k"]))
    b = rng.standard_normal(layer["per_out"] * layer["g"])
    kw = dict(stride=layer["s"], padding=layer["p"], output_padding=layer["q"], dilation=layer["d"],
              groups=layer["g"])
    ours = ref.conv_transpose2d(x, w, b, **kw)
    theirs = F.conv_transpose2d(_torch(x), _torch(w), _torch(b), **kw).numpy()
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**16))
def test_pixel_shuffle_matches_torch(r, c, h, w, seed):
    x = np.random.default_rng(seed).standard_normal((2, c * r * r, h, w))
    assert np.array_equal(ref.pixel_shuffle(x, r), F.pixel_shuffle(_torch(x), r).numpy())
    assert np.array_equal(ref.pixel_unshuffle(ref.pixel_shuffle(x, r), r), x)


@st.composite
def subpixel_convs(draw):
    r = draw(st.integers(1, 3))
    g = draw(st.sampled_from([1, 2]))
    C = draw(st.integers(1, 2)) * (g if draw(st.booleans()) else 1)
    if (r * r * C) % g:
        C *= g  # r^2 C output channels must split into the groups
    c_in = g * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    P = (draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)))
    return dict(r=r, g=g, C=C, c_in=c_in, k=(kh, kw), P=P, seed=draw(st.integers(0, 2**16)))


@SETTINGS
@given(subpixel_convs())
def test_subpixel_to_transposed_matches_torch(case):
    rng = np.random.default_rng(case["seed"])
    r, g = case["r"], case["g"]
    W = rng.standard_normal((r * r * case["C"], case["c_in"] // g, *case["k"]))
    b = np.repeat(rng.standard_normal(case["C"]), r * r)
    x = rng.standard_normal((1, case["c_in"], 4, 3))
    conv = Conv2d(W, b, padding=case["P"], groups=g)
    t = subpixel_to_transposed(conv, r)
    shuffled = F.pixel_shuffle(F.conv2d(_torch(x), _torch(W), _torch(b), padding=case["P"], groups=g), r).numpy()
    transposed = F.conv_transpose2d(_torch(x), _torch(t.weight), _torch(t.bias), stride=t.stride, padding=t.padding,
                                    output_padding=t.output_padding, dilation=t.dilation, groups=t.groups).numpy()
    np.testing.assert_allclose(transposed, shuffled, rtol=1e-12, atol=1e-12)


@st.composite
def stride_r_layers(draw):
    """A transposed layer with one stride r and the output padding that makes its length a multiple of r."""
    layer = draw(transposed_layers())
    r = layer["s"][0]
    k, d, p = layer["k"], layer["d"], layer["p"]
    q = tuple((-(d[a] * (k[a] - 1) - 2 * p[a] + 1)) % r for a in range(2))
    sizes = [(n - 1) * r - 2 * p[a] + d[a] * (k[a] - 1) + q[a] + 1 for a, n in enumerate(layer["hw"])]
    if min(sizes) < 1:
        p = (0, 0)
        q = tuple((-(d[a] * (k[a] - 1) + 1)) % r for a in range(2))
    return {**layer, "s": (r, r), "p": p, "q": q}


@SETTINGS
@given(stride_r_layers())
def test_transposed_to_subpixel_matches_torch(layer):
    r, k = layer["s"][0], layer["k"]
    rng = np.random.default_rng(layer["seed"])
    w = rng.standard_normal((layer["c_in"], layer["per_out"], *k))
    b = rng.standard_normal(layer["per_out"] * layer["g"])
    kw = dict(stride=r, padding=layer["p"], output_padding=layer["q"], dilation=layer["d"], groups=layer["g"])
    conv, factor = transposed_to_subpixel(ConvTranspose2d(w, b, **kw))
    assert factor == r
    x = rng.standard_normal((1, layer["c_in"], *layer["hw"]))
    expected = F.conv_transpose2d(_torch(x), _torch(w), _torch(b), **kw).numpy()
    (top, bottom), (left, right) = conv.padding if isinstance(conv.padding[0], tuple) else (
        (conv.padding[0],) * 2, (conv.padding[1],) * 2)
    padded = F.pad(_torch(x), (left, right, top, bottom))
    got = F.pixel_shuffle(F.conv2d(padded, _torch(conv.weight), _torch(conv.bias), groups=conv.groups), r).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
