"""``convsym.cost.fastmeta``: every rule gives what torch's own meta kernel gives (shape, dtype,
strides, the input itself for in-place forms), declines what it does not cover, and counting
a ResNet does not import ``torch._dynamo``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from convsym.cost.fastmeta import meta_outputs  # noqa: E402

pytestmark = pytest.mark.crosscheck
ROOT = Path(__file__).resolve().parents[2]
aten = torch.ops.aten


def m(*shape, dtype=torch.float32):
    return torch.empty(shape, dtype=dtype, device="meta")


def bn(x, training=False, stats=True):
    c = x.shape[1]
    w = m(c, dtype=torch.float32)
    return (x, w, w, w if stats else None, w if stats else None, training, 0.1, 1e-5)


# (operator, args, kwargs): a rule applies
COVERED = [
    (aten.native_batch_norm.default, bn(m(2, 8, 5, 5)), {}),
    (aten.native_batch_norm.default, bn(m(2, 8, 5, 5), training=True, stats=False), {}),
    (aten.native_batch_norm.default, bn(m(2, 8, 5, 5, dtype=torch.float16)), {}),
    (aten.native_batch_norm.default, bn(m(2, 8, 5, 5, dtype=torch.bfloat16)), {}),
    (aten.native_batch_norm.default, bn(m(2, 8, 5, 5, dtype=torch.float64)), {}),
    (aten.native_batch_norm.default, bn(m(4, 8)), {}),
    (aten.addmm.default, (m(10), m(3, 7), m(10, 7).t()), {}),
    (aten.addmm.default, (m(3, 10), m(3, 7), m(7, 10)), {"beta": 0.5, "alpha": 2}),
    (aten.addmm.default, (m(10, dtype=torch.float64), m(3, 7, dtype=torch.float64), m(7, 10, dtype=torch.float64)), {}),
    (aten.mean.dim, (m(2, 8, 5, 5), [-1, -2], True), {}),
    (aten.mean.dim, (m(2, 8, 5, 5), [2, 3]), {}),
    (aten.mean.dim, (m(2, 8, 5, 5, dtype=torch.float16), 1), {"dtype": torch.float32}),
    (aten.cat.default, ([m(2, 3, 4, 4), m(2, 5, 4, 4)], 1), {}),
    (aten.cat.default, ([m(2, 3), m(1, 3), m(4, 3)],), {}),
    (aten.cat.default, ([m(2, 3, 4), m(2, 3, 1)], -1), {}),
    (aten.native_layer_norm.default, (m(2, 5, 16), [16], m(16), m(16), 1e-5), {}),
    (aten.native_layer_norm.default, (m(2, 5, 16, dtype=torch.float16), [5, 16], None, None, 1e-5), {}),
    (aten._safe_softmax.default, (m(2, 3, 5), -1), {}),
    (aten._safe_softmax.default, (m(2, 3, 5, dtype=torch.float16), -1), {"dtype": torch.float32}),
    (aten._softmax.default, (m(2, 3, 5), 1, False), {}),
    (aten.add.Tensor, (m(2, 3, 4, 4), m(2, 3, 4, 4)), {"alpha": 2}),
    (aten.mul.Tensor, (m(2, 3, 4, 4), m(2, 3, 1, 1)), {}),
    (aten.mul.Tensor, (m(2, 3, 1, 1), m(2, 3, 4, 4)), {}),
    (aten.sub.Tensor, (m(4, 1), m(3)), {}),
    (aten.div.Tensor, (m(2, 3, dtype=torch.float64), m(2, 3, dtype=torch.float64)), {}),
    (aten.mul.Scalar, (m(2, 3, dtype=torch.float16), 0.5), {}),
    (aten.add.Scalar, (m(2, 3), 2), {}),
    (aten.add_.Tensor, (m(2, 3, 4, 4), m(2, 3, 4, 4)), {}),
    (aten.mul_.Tensor, (m(2, 3, 4, 4), m(2, 3, 1, 1)), {}),
    (aten.relu.default, (m(2, 3, 4, 4),), {}),
    (aten.relu_.default, (m(2, 3, 4, 4),), {}),
    (aten.hardtanh_.default, (m(2, 3, 4, 4), 0.0, 6.0), {}),
    (aten.hardswish_.default, (m(2, 3),), {}),
    (aten.hardsigmoid.default, (m(2, 3, dtype=torch.bfloat16),), {}),
    (aten.silu.default, (m(2, 3, dtype=torch.float64),), {}),
    (aten.gelu.default, (m(2, 3),), {"approximate": "tanh"}),
    (aten.sigmoid_.default, (m(2, 3),), {}),
    (aten.convolution.default, (m(1, 3, 8, 8), m(4, 3, 3, 3), None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1), {}),
    (aten.convolution.default, (m(2, 8, 9, 7), m(6, 4, 3, 2), m(6), [2, 1], [1, 0], [2, 1], False, [0, 0], 2), {}),
    (aten.convolution.default, (m(2, 8, 9, 7, dtype=torch.float64), m(8, 1, 3, 3, dtype=torch.float64), None,
                                [1, 1], [1, 1], [1, 1], False, [0, 0], 8), {}),
    (aten.convolution.default, (m(1, 4, 5, 6), m(4, 3, 3, 3), m(6), [2, 3], [1, 0], [1, 2], True, [1, 2], 2), {}),
    (aten.convolution.default, (m(2, 3, 11), m(5, 3, 4), None, [3], [2], [1], False, [0], 1), {}),
    (aten.convolution.default, (m(1, 2, 4, 5, 6), m(3, 2, 1, 2, 3), None, [1, 1, 1], [0, 1, 0], [1, 1, 1],
                                False, [0, 0, 0], 1), {}),
    (aten.max_pool2d_with_indices.default, (m(1, 64, 112, 112), [3, 3], [2, 2], [1, 1]), {}),
    (aten.max_pool2d_with_indices.default, (m(2, 3, 9, 10), [2, 3], [], [1, 0], [1, 2], True), {}),
    (aten.max_pool2d_with_indices.default, (m(2, 3, 7, 7, dtype=torch.float16), [3], [2], [0], [1], True), {}),
]

# a rule declines (torch's kernel decides, and raises its own error where the call is wrong)
DECLINED = [
    (aten.native_batch_norm.default, bn(m(2, 8, 5, 5).to(memory_format=torch.channels_last)), {}),
    (aten.native_batch_norm.default, bn(m(2, 8, 5, 5), stats=False), {}),
    (aten.native_batch_norm.default, (m(2, 8, 5, 5), m(7), None, m(8), m(8), False, 0.1, 1e-5), {}),
    (aten.addmm.default, (m(10), m(3, 6), m(7, 10)), {}),
    (aten.addmm.default, (m(10), m(3, 7), m(7, 10, dtype=torch.float64)), {}),
    (aten.addmm.default, (m(4), m(3, 7), m(7, 10)), {}),
    (aten.mean.dim, (m(2, 8, 5, 5), [1, 1]), {}),
    (aten.mean.dim, (m(2, 8, 5, 5), [4]), {}),
    (aten.mean.dim, (torch.empty(2, 3, dtype=torch.int64, device="meta"), [1]), {}),
    (aten.cat.default, ([m(2, 3), m(2, 4)], 0), {}),
    (aten.cat.default, ([m(2, 3), m(2, 3, dtype=torch.float64)], 0), {}),
    (aten.native_layer_norm.default, (m(2, 5, 16), [5], None, None, 1e-5), {}),
    (aten._softmax.default, (m(2, 3, dtype=torch.float16), 1, True), {}),
    (aten.add.Tensor, (m(2, 3), m(4, 3)), {}),
    (aten.add.Tensor, (m(2, 3), m(2, 3, dtype=torch.float64)), {}),
    (aten.add_.Tensor, (m(2, 1), m(2, 3)), {}),
    (aten.add.Tensor, (m(2, 3), torch.zeros(())), {}),
    (aten.relu.default, (m(4, 6).t(),), {}),
    (aten.relu.default, (torch.zeros(2, 3),), {}),
    # a bias of another size, a channels-last input, mixed dtypes, out channels not divisible by
    # the groups: left to torch's own kernel
    (aten.convolution.default, (m(1, 3, 8, 8), m(4, 3, 3, 3), m(5), [1, 1], [0, 0], [1, 1], False, [0, 0], 1), {}),
    (aten.convolution.default, (m(1, 3, 8, 8).to(memory_format=torch.channels_last), m(4, 3, 3, 3), None,
                                [1, 1], [0, 0], [1, 1], False, [0, 0], 1), {}),
    (aten.convolution.default, (m(1, 3, 8, 8), m(4, 3, 3, 3, dtype=torch.float64), None, [1, 1], [0, 0], [1, 1],
                                False, [0, 0], 1), {}),
    (aten.convolution.default, (m(1, 4, 8, 8), m(3, 2, 3, 3), None, [1, 1], [0, 0], [1, 1], False, [0, 0], 2), {}),
    # output_padding not below max(stride, dilation) (torch's meta kernel accepts it, its CPU kernel does not)
    (aten.convolution.default, (m(1, 4, 5, 5), m(4, 3, 3, 3), None, [2, 2], [0, 0], [1, 1], True, [2, 0], 1), {}),
]

# calls torch refuses: the rules decline them, so torch raises its own error
REFUSED = [
    # wrong channel count, kernel larger than the padded input
    (aten.convolution.default, (m(1, 3, 8, 8), m(4, 2, 3, 3), None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1), {}),
    (aten.convolution.default, (m(1, 3, 2, 2), m(4, 3, 3, 3), None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1), {}),
    # padding above half the kernel, a kernel larger than the padded input
    (aten.max_pool2d_with_indices.default, (m(1, 3, 8, 8), [2, 2], [2, 2], [2, 2]), {}),
    (aten.max_pool2d_with_indices.default, (m(1, 3, 2, 2), [3, 3], [1, 1], [0, 0]), {}),
]


def _describe(out):
    if isinstance(out, (tuple, list)):
        return tuple(_describe(o) for o in out)
    return (tuple(out.shape), out.dtype, out.stride(), out.device.type)


@pytest.mark.parametrize("func, args, kwargs", COVERED, ids=[f"{c[0]}-{i}" for i, c in enumerate(COVERED)])
def test_a_rule_gives_what_torch_gives(func, args, kwargs):
    mine = meta_outputs(func, args, kwargs, torch)
    assert mine is not None, func
    theirs = func(*args, **kwargs)
    assert _describe(mine) == _describe(theirs)
    if func._schema.name.endswith("_"):
        assert mine is args[0] and theirs is args[0]


@pytest.mark.parametrize("func, args, kwargs", DECLINED, ids=[f"{c[0]}-{i}" for i, c in enumerate(DECLINED)])
def test_a_rule_declines_what_it_does_not_cover(func, args, kwargs):
    assert meta_outputs(func, args, kwargs, torch) is None


def test_an_operator_without_a_rule_is_left_to_torch():
    assert meta_outputs(aten.avg_pool2d.default, (m(1, 3, 8, 8), [2, 2]), {}, torch) is None


@pytest.mark.parametrize("func, args, kwargs", REFUSED, ids=[f"{c[0]}-{i}" for i, c in enumerate(REFUSED)])
def test_a_call_torch_refuses_is_declined_and_torch_raises(func, args, kwargs):
    assert meta_outputs(func, args, kwargs, torch) is None
    with pytest.raises(RuntimeError):
        func(*args, **kwargs)


def test_counting_a_resnet_does_not_import_dynamo_or_sympy():
    code = ("import sys, torch\n"
            "from convsym.cost import count_module\n"
            "from tests.zoo import resnet50\n"
            "cost = count_module(resnet50(), (1, 3, 64, 64))\n"
            "assert cost.uncounted == (), cost.uncounted\n"
            "print(sorted(m for m in ('torch._dynamo', 'z3', 'jinja2', 'sympy') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stderr
