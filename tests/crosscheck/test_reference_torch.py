"""convsym.reference against torch.nn.functional, in float64, on Hypothesis-drawn shapes."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convsym import reference as R

torch = pytest.importorskip("torch")
F = torch.nn.functional

pytestmark = [
    pytest.mark.crosscheck,
    # torch notes that it copies the input for 'same' with even kernels; that is its business
    pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning"),
]
CROSS = settings(max_examples=60, deadline=None)
SEEDS = st.integers(0, 2**32 - 1)


def close(ours: np.ndarray, theirs) -> None:
    """Equal up to 1e-10 relative to the size of the result (absolute near cancellations)."""
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape
    assert ours.dtype == np.float64
    finite = np.isfinite(theirs)
    scale = max(1.0, float(np.abs(theirs[finite]).max(initial=0.0)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10 * scale)


def tensor(array: np.ndarray | None):
    return None if array is None else torch.from_numpy(array)


def normal(seed: int, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


@st.composite
def convs(draw, nd=2, same=True):
    """A conv call that torch accepts: kernel fits the padded input, 'same' only with stride 1."""
    groups = draw(st.integers(1, 3))
    per_group, out_per_group = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    modes = ["int", "tuple", "valid"] + (["same"] if same else [])
    mode = draw(st.sampled_from(modes))
    stride = (1,) * nd if mode == "same" else tuple(draw(st.integers(1, 3)) for _ in range(nd))
    if mode == "int":
        p = draw(st.integers(0, 3))
        padding, pads = p, (p,) * nd
    elif mode == "tuple":
        padding = tuple(draw(st.integers(0, 3)) for _ in range(nd))
        pads = padding
    else:
        padding, pads = mode, (0,) * nd
    sizes = tuple(
        draw(st.integers(max(1, d * (k - 1) + 1 - (0 if mode == "valid" else 2 * p)), d * (k - 1) + 6))
        for k, d, p in zip(kernel, dilation, pads, strict=True)
    )
    if mode == "same":
        sizes = tuple(draw(st.integers(1, 8)) for _ in range(nd))
    return dict(
        x=(draw(st.integers(1, 2)), groups * per_group, *sizes),
        w=(groups * out_per_group, per_group, *kernel),
        bias=draw(st.booleans()),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        seed=draw(SEEDS),
    )


@given(convs())
@CROSS
def test_conv2d(cfg):
    x, w, b = normal(cfg["seed"], cfg["x"], cfg["w"], cfg["w"][:1])
    b = b if cfg["bias"] else None
    kwargs = {k: cfg[k] for k in ("stride", "padding", "dilation", "groups")}
    close(R.conv2d(x, w, b, **kwargs), F.conv2d(tensor(x), tensor(w), tensor(b), **kwargs))


@pytest.mark.parametrize("kernel, dilation", [((2, 4), (1, 1)), ((2, 3), (3, 2)), ((4, 1), (1, 1))])
def test_conv2d_same_puts_the_extra_row_and_column_bottom_right(kernel, dilation):
    x, w = normal(7, (1, 2, 6, 5), (3, 2, *kernel))
    close(
        R.conv2d(x, w, padding="same", dilation=dilation),
        F.conv2d(tensor(x), tensor(w), padding="same", dilation=dilation),
    )


@given(convs(), st.integers(0, 2), st.integers(0, 2))
@CROSS
def test_conv2d_explicit_asymmetric_padding_is_pad_then_conv(cfg, extra_h, extra_w):
    x, w = normal(cfg["seed"], cfg["x"], cfg["w"])
    kwargs = {k: cfg[k] for k in ("stride", "dilation", "groups")}
    if cfg["padding"] == "same":
        kwargs["stride"] = 1
    pads = ((1, 1 + extra_h), (extra_w, 0))
    padded = F.pad(tensor(x), (pads[1][0], pads[1][1], pads[0][0], pads[0][1]))
    if any(d * (k - 1) + 1 > n for n, k, d in zip(padded.shape[2:], cfg["w"][2:], cfg["dilation"], strict=True)):
        return
    close(R.conv2d(x, w, padding=pads, **kwargs), F.conv2d(padded, tensor(w), **kwargs))


@given(convs(nd=1))
@CROSS
def test_conv1d(cfg):
    x, w, b = normal(cfg["seed"], cfg["x"], cfg["w"], cfg["w"][:1])
    b = b if cfg["bias"] else None
    kwargs = {k: cfg[k] for k in ("stride", "padding", "dilation", "groups")}
    close(R.conv1d(x, w, b, **kwargs), F.conv1d(tensor(x), tensor(w), tensor(b), **kwargs))


@st.composite
def transposed(draw):
    groups = draw(st.integers(1, 3))
    per_group, out_per_group = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(2))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(2))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(2))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation, strict=True))
    sizes = tuple(draw(st.integers(1, 5)) for _ in range(2))
    padding = tuple(
        draw(st.integers(0, max(0, ((n - 1) * s + d * (k - 1) + q) // 2)))
        for n, s, d, k, q in zip(sizes, stride, dilation, kernel, output_padding, strict=True)
    )
    return dict(
        x=(draw(st.integers(1, 2)), groups * per_group, *sizes),
        w=(groups * per_group, out_per_group, *kernel),
        bias=draw(st.booleans()),
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        groups=groups,
        seed=draw(SEEDS),
    )


@given(transposed())
@CROSS
def test_conv_transpose2d(cfg):
    x, w, b = normal(cfg["seed"], cfg["x"], cfg["w"], (cfg["w"][1] * cfg["groups"],))
    b = b if cfg["bias"] else None
    kwargs = {k: cfg[k] for k in ("stride", "padding", "output_padding", "groups", "dilation")}
    close(R.conv_transpose2d(x, w, b, **kwargs), F.conv_transpose2d(tensor(x), tensor(w), tensor(b), **kwargs))


@st.composite
def pools(draw, dilated=True):
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(2))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(2)) if dilated else (1, 1)
    ceil_mode = draw(st.booleans())
    # some sizes give an empty output: torch must reject those calls, and so must we
    sizes = tuple(draw(st.integers(1, 9)) for _ in range(2))
    return dict(
        x=(draw(st.integers(1, 2)), draw(st.integers(1, 3)), *sizes),
        kernel=kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        ceil_mode=ceil_mode,
        count_include_pad=draw(st.booleans()),
        seed=draw(SEEDS),
    )


def torch_or_none(call):
    """Torch's result, or None when torch rejects the call (then ours must reject it too)."""
    try:
        return call()
    except RuntimeError:
        return None


@given(pools())
@CROSS
def test_max_pool2d(cfg):
    (x,) = normal(cfg["seed"], cfg["x"])
    kwargs = {k: cfg[k] for k in ("stride", "padding", "dilation", "ceil_mode")}
    theirs = torch_or_none(lambda: F.max_pool2d(tensor(x), cfg["kernel"], **kwargs))
    if theirs is None:
        with pytest.raises(ValueError, match="output size"):
            R.max_pool2d(x, cfg["kernel"], **kwargs)
        return
    close(R.max_pool2d(x, cfg["kernel"], **kwargs), theirs)


@given(pools(dilated=False))
@CROSS
def test_avg_pool2d(cfg):
    (x,) = normal(cfg["seed"], cfg["x"])
    kwargs = {k: cfg[k] for k in ("stride", "padding", "ceil_mode", "count_include_pad")}
    theirs = torch_or_none(lambda: F.avg_pool2d(tensor(x), cfg["kernel"], **kwargs))
    if theirs is None:
        with pytest.raises(ValueError, match="output size"):
            R.avg_pool2d(x, cfg["kernel"], **kwargs)
        return
    close(R.avg_pool2d(x, cfg["kernel"], **kwargs), theirs)


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
def test_pools_reject_padding_above_half_the_kernel_like_torch(pool):
    x = torch.zeros(1, 1, 6, 6, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="pad should be"):
        pool(x, 3, padding=2)
    ours = R.max_pool2d if pool is F.max_pool2d else R.avg_pool2d
    with pytest.raises(ValueError, match="must be at most half of kernel_size=3"):
        ours(x.numpy(), 3, padding=2)
    close(ours(x.numpy(), 4, padding=2), pool(x, 4, padding=2))


@pytest.mark.parametrize("kind", ["conv2d", "conv_transpose2d"])
def test_torch_rejects_what_reference_rejects(kind):
    x = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    w = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    if kind == "conv2d":
        with pytest.raises(RuntimeError):
            F.conv2d(x, w, stride=2, padding="same")
        with pytest.raises(ValueError, match="requires stride=1"):
            R.conv2d(x.numpy(), w.numpy(), stride=2, padding="same")
    else:
        with pytest.raises(RuntimeError):
            F.conv_transpose2d(x, w, stride=2, output_padding=2)
        with pytest.raises(ValueError, match="must be smaller than stride=2 or dilation=1"):
            R.conv_transpose2d(x.numpy(), w.numpy(), stride=2, output_padding=2)


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), SEEDS)
@CROSS
def test_pixel_shuffle_and_unshuffle(r, channels, height, width, seed):
    deep, wide = normal(seed, (2, channels * r * r, height, width), (2, channels, height * r, width * r))
    close(R.pixel_shuffle(deep, r), F.pixel_shuffle(tensor(deep), r))
    close(R.pixel_unshuffle(wide, r), F.pixel_unshuffle(tensor(wide), r))


@given(convs(same=False))
@CROSS
def test_im2col_is_unfold(cfg):
    (x,) = normal(cfg["seed"], cfg["x"])
    padding = 0 if cfg["padding"] == "valid" else cfg["padding"]
    kwargs = dict(stride=cfg["stride"], padding=padding, dilation=cfg["dilation"])
    close(R.im2col(x, cfg["w"][2:], **kwargs), F.unfold(tensor(x), cfg["w"][2:], **kwargs))


@given(st.integers(1, 5), st.integers(1, 5), st.integers(0, 2), st.booleans(), SEEDS)
@CROSS
def test_linear(features, outputs, extra_dims, bias, seed):
    x, w, b = normal(seed, (3,) * extra_dims + (features,), (outputs, features), (outputs,))
    b = b if bias else None
    close(R.linear(x, w, b), F.linear(tensor(x), tensor(w), tensor(b)))


@given(st.integers(1, 4), st.integers(0, 2), SEEDS, st.sampled_from([1e-5, 1e-3, 0.0]))
@CROSS
def test_batch_norm(channels, spatial_dims, seed, eps):
    x, mean, var, gamma, beta = normal(seed, (2, channels) + (3,) * spatial_dims, *[(channels,)] * 4)
    var = np.abs(var) + 0.1
    ours = R.batch_norm(x, mean, var, gamma, beta, eps=eps)
    theirs = F.batch_norm(tensor(x), tensor(mean), tensor(var), tensor(gamma), tensor(beta), training=False, eps=eps)
    close(ours, theirs)


# the hand-computed cases of tests/test_reference.py (issue 10), against torch


def test_grouped_transposed_conv_with_several_channels_per_group():
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((2, 4, 3, 2)), rng.standard_normal((4, 3, 2, 3)), rng.standard_normal(6)
    kwargs = dict(stride=(2, 1), padding=(1, 0), output_padding=(1, 0), dilation=(1, 2), groups=2)
    close(R.conv_transpose2d(x, w, b, **kwargs), F.conv_transpose2d(tensor(x), tensor(w), tensor(b), **kwargs))
    ramp = np.arange(16.0).reshape(4, 2, 1, 2)
    ones = np.arange(1.0, 5.0).reshape(1, 4, 1, 1)
    theirs = F.conv_transpose2d(tensor(ones), tensor(ramp), groups=2)
    assert theirs[0, :, 0].tolist() == [[8, 11], [14, 17], [72, 79], [86, 93]]


def test_max_pool_with_padding_on_negative_data():
    x = -np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    close(R.max_pool2d(x, 3, stride=2, padding=1), F.max_pool2d(tensor(x), 3, stride=2, padding=1))
    assert F.max_pool2d(tensor(x), 3, stride=2, padding=1)[0, 0].tolist() == [[-1, -2], [-4, -5]]


@pytest.mark.parametrize(
    "kwargs",
    [dict(kernel_size=2, stride=1, dilation=2), dict(kernel_size=2, stride=2, padding=1, dilation=2),
     dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)],
)
def test_dilated_max_pool_values(kwargs):
    image = np.array([[3, -1, 4, 1, 0], [-5, 9, -2, 6, 2], [5, -3, 5, -8, 1], [9, 7, -9, 3, -4], [0, 2, -6, 8, -1]])
    for x in (image[None, None].astype(float), -image[None, None].astype(float)):
        close(R.max_pool2d(x, **kwargs), F.max_pool2d(tensor(x), **kwargs))


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool_ceil_mode_with_padding(count_include_pad):
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    kwargs = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=count_include_pad)
    theirs = F.avg_pool2d(tensor(x), **kwargs)
    close(R.avg_pool2d(x, **kwargs), theirs)
    exact = R.avg_pool2d(x.astype(int).astype(object), **kwargs)
    np.testing.assert_allclose(exact.astype(float), theirs.numpy(), rtol=1e-12)


def test_exact_batch_norm_with_float_eps_matches_torch():
    var = np.array([4 - Fraction(1, 100000), Fraction(9, 4) - Fraction(1, 100000)], dtype=object)
    x = np.array([[[[6, -2]], [[3, 0]]]], dtype=object)
    mean, gamma, beta = (np.array(v, dtype=object) for v in ([2, 0], [1, 3], [0, Fraction(1, 2)]))
    ours = R.batch_norm(x, mean, var, gamma, beta, eps=1e-5)
    theirs = F.batch_norm(*(torch.tensor(a.astype(float)) for a in (x, mean, var, gamma, beta)), training=False,
                          eps=1e-5)
    np.testing.assert_allclose(ours.astype(float), theirs.numpy(), rtol=1e-12)
