"""convsym.torch.optimize on the fixture networks: every rewrite certified, refusals where a
theorem says the rewrite is wrong, clear errors on bad input."""

from __future__ import annotations

import pytest

from convsym.run.registry import load_families

torch = pytest.importorskip("torch")
nn = torch.nn
pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def theorems():
    return {t.name for _, family in load_families(None) for t in family}


def check(cert, theorems, counts):
    assert cert.counts() == counts
    for r in cert.rewrites:
        assert r.theorem in theorems, r.theorem
        assert r.nodes
        if r.status == "applied":
            assert r.within_bound and r.deviation <= r.bound, r.to_json()
            assert all(c.holds for c in r.conditions), r.to_json()
        else:
            assert r.reason and not all(c.holds for c in r.conditions)
    # the whole model in float64: the only change is parameters rounded to float32
    assert cert.deviation <= 1e-6 * max(1.0, cert.output_scale)


@pytest.mark.parametrize(
    "make, shape, rewrites, counts",
    [
        ("resnet18", (1, 3, 32, 32), None, {"fold_batchnorm:applied": 20}),
        ("mobilenet_v2", (1, 3, 32, 32), None, {"fold_batchnorm:applied": 52, "merge_sequential:applied": 2}),
        ("repvgg", (1, 3, 32, 32), None, {"fold_batchnorm:applied": 8, "merge_parallel:applied": 4}),
        ("resnet18", (1, 3, 32, 32), ("fold_batchnorm", "equalize"),
         {"fold_batchnorm:applied": 20, "equalize:applied": 8}),
        ("mobilenet_v2", (1, 3, 32, 32), ("fold_batchnorm", "equalize"),
         {"fold_batchnorm:applied": 52, "equalize:refused": 34}),
    ],
)
def test_optimize_fixture_networks(nets, theorems, make, shape, rewrites, counts):
    from convsym.torch import optimize

    model = getattr(nets, make)()
    x = torch.randn(shape)
    new, cert = optimize(model, x, rewrites=rewrites, trials=1)
    check(cert, theorems, counts)
    with torch.no_grad():
        assert torch.allclose(new(x), model(x), rtol=1e-4, atol=1e-4 * float(model(x).abs().max()))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in new.modules())
    if make == "mobilenet_v2" and rewrites:
        assert all(r.theorem == "folding.cle-relu6" for r in cert.refused)


@pytest.mark.parametrize("groups", [1, 2])
def test_repvgg_blocks_merge_like_the_authors_reparameterisation(nets, theorems, groups):
    from convsym.torch import optimize

    model = nets.repvgg(groups=groups)
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    new, cert = optimize(model.double(), x, trials=1)
    check(cert, theorems, {"fold_batchnorm:applied": 8, "merge_parallel:applied": 4})
    authors = nets.repvgg(groups=groups).double()
    for block in authors.stages:
        block.reparameterize()
    with torch.no_grad():
        assert torch.allclose(new(x), authors(x), rtol=1e-10, atol=1e-10)
    convs = [m for m in new.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4 and all(c.kernel_size == (3, 3) and c.groups in (1, groups) for c in convs)


def test_dilated_branches_merge_into_one_large_kernel(nets, theorems):
    from convsym.torch import optimize

    block = nets.randomize_bn(nets.DilatedReparamBlock(8), 2).double()
    x = torch.randn(2, 8, 20, 20, dtype=torch.float64)
    new, cert = optimize(block, x, trials=1)
    check(cert, theorems, {"fold_batchnorm:applied": 4, "merge_parallel:applied": 1})
    convs = [m for m in new.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 1 and convs[0].kernel_size == (7, 7) and convs[0].dilation == (1, 1)
    with torch.no_grad():
        assert torch.allclose(new(x), block(x), rtol=1e-10, atol=1e-10)


class BNThenConv(nn.Module):
    def __init__(self, padding):
        super().__init__()
        self.bn, self.conv = nn.BatchNorm2d(3), nn.Conv2d(3, 4, 3, padding=padding)

    def forward(self, x):
        return self.conv(self.bn(x))


def test_bn_before_padded_conv_is_refused_unless_repaired(nets, theorems):
    from convsym.torch import optimize

    model = nets.randomize_bn(BNThenConv(1), 7)
    x = torch.randn(1, 3, 10, 10)
    _, cert = optimize(model, x)
    check(cert, theorems, {"fold_batchnorm_before:refused": 1})
    refusal = cert.refused[0]
    assert refusal.theorem == "folding.bn-before-padded"
    assert "pads bn(x) with zeros" in refusal.reason
    new, cert = optimize(model, x, repair_padding=True)
    check(cert, theorems, {"fold_batchnorm_before:applied": 1})
    assert cert.applied[0].theorem == "folding.bn-before-repair"
    new, cert = optimize(nets.randomize_bn(BNThenConv(0), 7), x)
    check(cert, theorems, {"fold_batchnorm_before:applied": 1})
    assert cert.applied[0].theorem == "folding.bn-before-conv-exact"


def test_padded_second_conv_is_not_merged(theorems):
    from convsym.torch import optimize

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 5, 3, padding=1)).eval()
    _, cert = optimize(model, torch.randn(1, 3, 9, 9))
    check(cert, theorems, {"merge_sequential:refused": 1})
    assert cert.refused[0].theorem == "merge.padded-second"
    assert "must be 0" in cert.refused[0].reason


def test_linear_forms_on_request(theorems):
    from convsym.torch import optimize

    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 25, 6)).eval()
    x = torch.randn(2, 3, 5, 5)
    new, cert = optimize(model, x, rewrites=("conv1x1_to_linear", "linear_to_conv1x1"))
    check(cert, theorems, {"conv1x1_to_linear:applied": 1, "linear_to_conv1x1:applied": 1})
    with torch.no_grad():
        assert torch.allclose(new(x), model(x), atol=1e-5)


@pytest.mark.parametrize(
    "model, rewrites, error, match",
    [
        (nn.Sequential(nn.Conv2d(3, 3, 3), nn.BatchNorm2d(3)), None, ValueError,
         r"optimize: BatchNorm2d 1 is in training mode.*model\.eval\(\)"),
        (nn.Sequential(nn.Conv2d(3, 3, 3)).eval(), ("fold_everything",), ValueError,
         r"optimize: unknown rewrites \['fold_everything'\]"),
        ("not a model", None, TypeError, r"optimize: model must be a torch\.nn\.Module, got str"),
    ],
)
def test_bad_input_gets_clear_errors(model, rewrites, error, match):
    from convsym.torch import optimize

    with pytest.raises(error, match=match):
        optimize(model, torch.randn(1, 3, 8, 8), rewrites=rewrites)


class DataDependent(nn.Module):
    def forward(self, x):
        return x if x.sum() > 0 else -x


def test_untraceable_model_is_refused():
    from convsym.torch import optimize

    with pytest.raises(ValueError, match=r"optimize: torch\.fx cannot trace the model"):
        optimize(DataDependent().eval(), torch.randn(1, 3, 8, 8))
