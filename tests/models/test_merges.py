"""Translation validation of branch merges and sequential merges (convsym.onnx.merges): models
re-parameterised by hand (RepVGG, UniRepLKNet's dilated block, conv -> conv) are verified node by
node; broken merges (identity branch forgotten, a branch kernel not centred, a padded second
conv merged as if unpadded) are caught as wrong, each with its witness."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from convsym.onnx import validate_models

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
nn = torch.nn
F = nn.functional
pytestmark = pytest.mark.models


def helpers():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("convsym_models_conftest", Path(__file__).parent / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H = helpers()


def reparameterize(block, mistake: str | None = None):
    """The RepVGG authors' conversion (fixtures.RepVGGBlock.reparameterize), or a broken one:
    ``identity-forgotten`` drops the identity branch, ``not-centred`` puts the 1x1 kernel in the
    top-left corner of the 3x3 instead of its centre."""
    k3, b3 = block._fuse_bn_tensor(block.rbr_dense)
    k1, b1 = block._fuse_bn_tensor(block.rbr_1x1)
    kid, bid = block._fuse_bn_tensor(block.rbr_identity)
    if mistake == "identity-forgotten":
        kid, bid = 0, 0
    conv = block.rbr_dense.conv
    new = nn.Conv2d(conv.in_channels, conv.out_channels, 3, conv.stride, 1, groups=conv.groups)
    pad = [0, 2, 0, 2] if mistake == "not-centred" else [1, 1, 1, 1]
    with torch.no_grad():
        new.weight.copy_(k3 + F.pad(k1, pad) + kid)
        new.bias.copy_(b3 + b1 + bid)
    block.rbr_reparam = new
    for name in ("rbr_dense", "rbr_1x1", "rbr_identity"):
        delattr(block, name)
        setattr(block, name, None)
    return block


def repvgg_pair(nets, groups=1, mistake=None):
    torch.manual_seed(1)
    net = nets.repvgg(seed=groups, groups=groups)
    x = torch.randn(1, 3, 32, 32)
    merged = copy.deepcopy(net)
    blocks = [m for m in merged.modules() if isinstance(m, nets.RepVGGBlock)]
    for block in blocks:
        # the mistake in the blocks that have an identity branch (the forgotten branch must exist)
        reparameterize(block, mistake if block.rbr_identity is not None else None)
    return H.export(net, x), H.export(merged, x)


@pytest.mark.parametrize("groups", [1, 2])
def test_repvgg_reparameterised_by_hand_is_verified(nets, groups):
    original, merged = repvgg_pair(nets, groups)
    report = validate_models(original, merged)
    assert report.ok, report.table()
    merges = [n for n in report.nodes if n.rule == "branch-merge"]
    assert len(merges) == 4 and all(n.theorem == "folding.repvgg" for n in merges)
    assert all(0 <= n.max_error_ratio <= 1 and "gamma_" in n.bound for n in merges)
    # the blocks with an identity branch: 3x3 conv + BN, 1x1 conv + BN, BN, two adds
    assert sorted(len(n.original) for n in merges) == [5, 5, 7, 7]
    assert all(any("rbr_identity" in o for o in n.original) for n in merges if len(n.original) == 7)


@pytest.mark.parametrize("mistake", ["identity-forgotten", "not-centred"])
def test_a_wrong_branch_merge_is_caught_with_a_witness(nets, mistake):
    original, merged = repvgg_pair(nets, 1, mistake)
    report = validate_models(original, merged)
    assert not report.ok
    wrong = [n for n in report.nodes if n.status == "wrong"]
    assert len(wrong) == 2, report.table()  # the two blocks with an identity branch
    for n in wrong:
        assert n.theorem == "folding.repvgg" and n.rule == "branch-merge"
        assert any(c["name"].startswith("weights within gamma") and not c["holds"] for c in n.conditions)
        assert n.witness is not None and n.witness["difference"] > n.witness["bound"], n.witness
    assert report.counts()["unmatched"] == 0  # the Relu after a wrong merge is matched to the sum


def dilated_pair(nets, mistake: str | None = None):
    """UniRepLKNet's block and its merge by hand: each branch's BN folded, each dilated kernel
    spread into its sparse kernel, centred and added into the large one.  ``not-spread``: the
    dilated kernels added as dense kernels (their dilation forgotten)."""
    torch.manual_seed(2)
    block = nets.randomize_bn(nets.DilatedReparamBlock(4), 2)
    x = torch.randn(1, 4, 20, 20)

    def fused(branch):
        bn = branch.bn
        t = bn.weight / (bn.running_var + bn.eps).sqrt()
        return branch.conv.weight * t.reshape(-1, 1, 1, 1), bn.bias - bn.running_mean * t

    k, b = fused(block.lk_origin)
    k, b = k.clone(), b.clone()
    size = k.shape[-1]
    for branch in block.dils:
        kd, bd = fused(branch)
        d, r = branch.conv.dilation[0], kd.shape[-1]
        if mistake == "not-spread":
            d = 1
        sparse = torch.zeros(kd.shape[0], 1, d * (r - 1) + 1, d * (r - 1) + 1)
        sparse[:, :, ::d, ::d] = kd
        m = (size - sparse.shape[-1]) // 2
        k = k + F.pad(sparse, [m, m, m, m])
        b = b + bd
    conv = nn.Conv2d(4, 4, size, padding=size // 2, groups=4)
    with torch.no_grad():
        conv.weight.copy_(k)
        conv.bias.copy_(b)
    return H.export(block, x), H.export(conv, x)


def test_dilated_reparameterisation_by_hand_is_verified(nets):
    original, merged = dilated_pair(nets)
    report = validate_models(original, merged)
    assert report.ok, report.table()
    (node,) = report.nodes
    assert node.rule == "branch-merge" and node.theorem == "folding.dilated-kernel-sparse"
    assert len(node.original) == 2 * 4 + 3  # four conv + BN branches, three adds


def test_a_dilated_merge_that_forgets_the_dilation_is_wrong(nets):
    original, merged = dilated_pair(nets, "not-spread")
    report = validate_models(original, merged)
    (node,) = report.nodes
    assert node.status == "wrong" and node.theorem == "folding.dilated-kernel-sparse", report.table()
    assert node.witness["difference"] > node.witness["bound"]


class TwoConvs(nn.Module):
    def __init__(self, pad2=0, bn=True):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6) if bn else nn.Identity()
        self.conv2 = nn.Conv2d(6, 5, 3, padding=pad2)

    def forward(self, x):
        return self.conv2(self.bn(self.conv1(x)))


def merge_by_hand(model):
    """``conv2(bn(conv1(x)))`` as one conv, computed with NumPy loops in float64 and stored in
    float32: BN folded into conv1, then ``W[o,c,a+b] += sum_m W1[m,c,a] W2[o,m,b]`` and
    ``B = b2 + sum W2 b1``; padding ``p1 + p2`` (the output size is kept, but where conv2 pads,
    the merged conv sees zeros where conv2 saw padded intermediate values: the classic bug)."""
    w1, b1 = model.conv1.weight.detach().double().numpy(), model.conv1.bias.detach().double().numpy()
    if isinstance(model.bn, nn.BatchNorm2d):
        bn = model.bn
        t = (bn.weight / (bn.running_var + bn.eps).sqrt()).detach().double().numpy()
        w1 = w1 * t[:, None, None, None]
        b1 = (b1 - bn.running_mean.double().numpy()) * t + bn.bias.detach().double().numpy()
    w2, b2 = model.conv2.weight.detach().double().numpy(), model.conv2.bias.detach().double().numpy()
    k = w1.shape[-1] + w2.shape[-1] - 1
    w = np.zeros((w2.shape[0], w1.shape[1], k, k))
    for i in range(w2.shape[-2]):
        for j in range(w2.shape[-1]):
            w[:, :, i:i + w1.shape[-2], j:j + w1.shape[-1]] += np.einsum("om,mcuv->ocuv", w2[:, :, i, j], w1)
    b = b2 + w2.sum(axis=(2, 3)) @ b1
    conv = nn.Conv2d(w1.shape[1], w2.shape[0], k, padding=1 + model.conv2.padding[0])
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(w).float())
        conv.bias.copy_(torch.from_numpy(b).float())
    return conv.eval()


@pytest.mark.parametrize("bn", [False, True])
def test_conv_conv_merge_by_hand_is_verified(nets, bn):
    torch.manual_seed(4)
    model = nets.randomize_bn(TwoConvs(bn=bn), 4)
    x = torch.randn(1, 3, 12, 12)
    report = validate_models(H.export(model, x), H.export(merge_by_hand(model), x))
    assert report.ok, report.table()
    (node,) = report.nodes
    assert node.rule == "conv-merge" and node.theorem == "merge.exact-strided-grouped"
    assert len(node.original) == (3 if bn else 2)


def test_a_padded_second_conv_merged_naively_is_wrong(nets):
    torch.manual_seed(5)
    model = nets.randomize_bn(TwoConvs(pad2=1), 5)
    x = torch.randn(1, 3, 12, 12)
    report = validate_models(H.export(model, x), H.export(merge_by_hand(model), x))
    (node,) = report.nodes
    assert node.status == "wrong" and node.theorem == "merge.padded-second", report.table()
    assert node.conditions[0]["name"].startswith("second conv unpadded") and not node.conditions[0]["holds"]
    witness = node.witness
    assert witness["difference"] > witness["bound"], witness
    h, w = witness["at"][2:]
    assert h in (0, 11) or w in (0, 11)  # on the border ring of width p2 = 1, where padding differs
