"""Rewrite a torch model with convsym's exact transforms and certify each rewrite.

:func:`optimize` traces the model with ``torch.fx`` and applies, where the conditions of the
theorem behind each rewrite hold (and only when the name is in ``rewrites``):

===========================  ===========================  =======================================
rewrite                      pattern                      theorem (``convsym list``)
===========================  ===========================  =======================================
``fold_batchnorm``           Conv2d/ConvTranspose2d -> BN  ``folding.bn-after-conv-exact``
``fold_batchnorm_before``    BN -> Conv2d                 ``folding.bn-before-conv-exact``;
                                                          padded: refused
                                                          (``folding.bn-before-padded``) unless
                                                          ``repair_padding`` (``folding.bn-before-repair``)
``merge_parallel``           sum of conv(x), bn(x), x     ``folding.repvgg``; with dilations
                                                          ``folding.dilated-kernel-sparse`` (sparse
                                                          kernel first; groups: regroup first)
``merge_sequential``         conv -> conv, nothing between ``merge.exact-strided-grouped``; a
                                                          padded second conv: refused
                                                          (``merge.padded-second``)
``equalize``                 conv -> ReLU/LeakyReLU/PReLU  ``folding.cle-relu`` (-leaky-relu,
                             -> conv                      -prelu); ReLU6 etc.: refused
                                                          (``folding.cle-relu6``...)
``conv1x1_to_linear``        1x1 conv, stride 1, pad 0    ``equivalences.conv1x1-linear``
``linear_to_conv1x1``        Linear on (N, F)             ``equivalences.conv1x1-linear``
===========================  ===========================  =======================================

Each applied rewrite is measured: the replaced nodes and the new module, both in float64, run
on random inputs of the shape the example input gives at that point, and the maximum absolute
difference is recorded.  The returned :class:`Certificate` lists every rewrite (applied or
refused) with its nodes, theorem, checked conditions and deviation, and the deviation of the
whole model in float64.
"""

from __future__ import annotations

import copy
import operator

import numpy as np

from convsym import transforms as T
from convsym.torch_certificate import Certificate, Condition, Rewrite, _Chain, _float64, _Measure, _refusal
from convsym.transforms.interop import ACTIVATIONS, _torch, from_convsym, to_convsym
from convsym.transforms.layers import _pads
from convsym.transforms.parallel import merge_parallel_dense

__all__ = ["Certificate", "Condition", "DEFAULT_REWRITES", "REWRITES", "Rewrite", "optimize"]

REWRITES = ("fold_batchnorm", "fold_batchnorm_before", "merge_parallel", "merge_sequential", "equalize",
            "conv1x1_to_linear", "linear_to_conv1x1")
DEFAULT_REWRITES = ("fold_batchnorm", "fold_batchnorm_before", "merge_parallel", "merge_sequential")

CLE_THEOREMS = {"relu": "folding.cle-relu", "leaky_relu": "folding.cle-leaky-relu", "prelu": "folding.cle-prelu"}
CLE_REFUTED = {"relu6": "folding.cle-relu6", "hardswish": "folding.cle-hardswish", "sigmoid": "folding.cle-sigmoid"}


# ---------------------------------------------------------------------------------------------
# fx helpers


def _module(gm, node):
    if node is None or not hasattr(node, "op") or node.op != "call_module":
        return None
    return gm.get_submodule(node.target)


def _is(gm, node, *kinds) -> bool:
    m = _module(gm, node)
    return m is not None and isinstance(m, kinds)


def _chains(gm, first_kinds: tuple, second_kinds: tuple):
    """``(first, second)`` call nodes where ``second`` (a module of ``second_kinds``) reads the output
    of ``first`` (of ``first_kinds``) and nothing else does (over a snapshot of the graph)."""
    for second in list(gm.graph.nodes):
        if not _is(gm, second, *second_kinds):
            continue
        first = second.args[0]
        if _is(gm, first, *first_kinds) and len(first.users) == 1:
            yield first, second


def _set_module(gm, target: str, module) -> None:
    parent, _, name = target.rpartition(".")
    setattr(gm.get_submodule(parent) if parent else gm, name, module)


def _activation_name(gm, node) -> str | None:
    torch = _torch()
    m = _module(gm, node)
    if m is not None:
        return ACTIVATIONS.get(type(m).__name__)
    if node.op == "call_function":
        table = {torch.relu: "relu", torch.nn.functional.relu: "relu", torch.nn.functional.relu6: "relu6",
                 torch.nn.functional.leaky_relu: "leaky_relu", torch.nn.functional.hardswish: "hardswish",
                 torch.sigmoid: "sigmoid"}
        return table.get(node.target)
    if node.op == "call_method" and node.target in ("relu", "relu_"):
        return "relu"
    return None


def _is_add(node) -> bool:
    torch = _torch()
    if node.op == "call_function" and node.target in (operator.add, operator.iadd, torch.add):
        return len(node.args) == 2 and not node.kwargs
    return node.op == "call_method" and node.target in ("add", "add_") and len(node.args) == 2 and not node.kwargs


# ---------------------------------------------------------------------------------------------
# the rewrites (each returns True when it changed the graph)


def _fold_after(gm, m: _Measure, cert: Certificate, opts) -> bool:
    torch = _torch()
    nn = torch.nn
    for conv_node, bn_node in _chains(gm, (nn.Conv2d, nn.ConvTranspose2d), (nn.BatchNorm2d,)):
        conv, bn = _module(gm, conv_node), _module(gm, bn_node)
        transposed = isinstance(conv, nn.ConvTranspose2d)
        conditions = [
            Condition("bn in eval mode (running statistics)", not bn.training, f"training={bn.training}"),
            Condition("conv output feeds only the bn", True, f"users={len(conv_node.users)}"),
            Condition("bn.num_features == conv.out_channels", bn.num_features == conv.out_channels,
                      f"{bn.num_features} == {conv.out_channels}"),
            Condition("eps > 0 and var >= 0", bn.eps > 0 and bool((bn.running_var >= 0).all()),
                      f"eps={bn.eps}, min var={float(bn.running_var.min()):.3g}"),
        ]
        if transposed:
            conditions.append(Condition("transposed weight: output channel is axis 1 per group", True,
                                        f"weight {tuple(conv.weight.shape)}, groups={conv.groups}"))
        new = T.fold_batchnorm(conv, bn)
        before = nn.Sequential(_float64(conv), _float64(bn))
        dev = m.deviation(conv_node.args[0].name, before, _float64(new), [new])
        _set_module(gm, conv_node.target, new)
        bn_node.replace_all_uses_with(conv_node)
        gm.graph.erase_node(bn_node)
        theorem = "folding.bn-after-conv" if transposed else "folding.bn-after-conv-exact"
        cert.rewrites.append(Rewrite("fold_batchnorm", "applied", [conv_node.name, bn_node.name], theorem,
                                     conditions, **dev))
        return True
    return False


def _fold_before(gm, m: _Measure, cert: Certificate, opts) -> bool:
    torch = _torch()
    nn = torch.nn
    for bn_node, conv_node in _chains(gm, (nn.BatchNorm2d,), (nn.Conv2d,)):
        if (conv_node.name, "fold_batchnorm_before") in opts["refused"]:
            continue
        conv, bn = _module(gm, conv_node), _module(gm, bn_node)
        padded = _pads(to_convsym(conv).padding) != ((0, 0), (0, 0))
        conditions = [
            Condition("bn in eval mode (running statistics)", not bn.training, f"training={bn.training}"),
            Condition("bn output feeds only the conv", True, f"users={len(bn_node.users)}"),
            Condition("conv.padding == 0 (or bn(0) == 0 on every channel)", not padded, f"padding={conv.padding}"),
        ]
        try:
            new = T.fold_batchnorm_before(bn, conv, repair=opts["repair_padding"])
        except ValueError as exc:
            opts["refused"].add((conv_node.name, "fold_batchnorm_before"))
            cert.rewrites.append(_refusal("fold_batchnorm_before", [bn_node, conv_node], "folding.bn-before-padded",
                                          conditions, str(exc)))
            continue
        theorem = "folding.bn-before-conv-exact"
        if type(new).__name__ == "ChannelPadConv2d":
            theorem = "folding.bn-before-repair"
            conditions[2] = Condition("conv.padding == 0 after moving it to the input (repair)", True,
                                      f"padding={conv.padding} applied to x with the value bn maps to 0")
            conditions.append(Condition("input padded with q = mean - beta/a, the value bn maps to 0", True,
                                        "gamma != 0 wherever bn(0) != 0"))
        before = nn.Sequential(_float64(bn), _float64(conv))
        dev = m.deviation(bn_node.args[0].name, before, _float64(new), [new])
        _set_module(gm, conv_node.target, new)
        conv_node.replace_input_with(bn_node, bn_node.args[0])
        gm.graph.erase_node(bn_node)
        cert.rewrites.append(Rewrite("fold_batchnorm_before", "applied", [bn_node.name, conv_node.name], theorem,
                                     conditions, **dev))
        return True
    return False


def _summands(node, root=True) -> list:
    """The leaves of a tree of adds whose inner nodes have one user."""
    if hasattr(node, "op") and _is_add(node) and (root or len(node.users) == 1):
        return _summands(node.args[0], False) + _summands(node.args[1], False)
    return [node]


def _merge_branches(gm, m: _Measure, cert: Certificate, opts) -> bool:
    torch = _torch()
    nn = torch.nn
    for add in list(gm.graph.nodes):
        if not _is_add(add) or any(_is_add(u) and len(add.users) == 1 for u in add.users):
            continue
        leaves = _summands(add)
        zeros = [leaf for leaf in leaves if isinstance(leaf, (int, float)) and leaf == 0]
        nodes = [leaf for leaf in leaves if hasattr(leaf, "op")]
        if len(nodes) + len(zeros) != len(leaves) or len(nodes) < 2:
            continue
        convs = [n for n in nodes if _is(gm, n, nn.Conv2d)]
        if not convs:
            continue
        source = convs[0].args[0]
        branches = []
        for n in nodes:
            if _is(gm, n, nn.Conv2d) and n.args[0] is source and len(n.users) == 1:
                branches.append(("conv", n))
            elif _is(gm, n, nn.BatchNorm2d) and n.args[0] is source and len(n.users) == 1:
                branches.append(("bn", n))
            elif n is source:
                branches.append(("identity", n))
            else:
                break
        else:
            if len(branches) < 2:
                continue
            layers = []
            for kind, n in branches:
                if kind == "conv":
                    layers.append(to_convsym(_module(gm, n)))
            ref = layers[0]
            conditions = [
                Condition("every branch reads the same input", True, f"input {source.name}"),
                Condition("branches share in/out channels and stride",
                          len({(c.in_channels, c.out_channels, c.stride) for c in layers}) == 1,
                          ", ".join(f"{c.in_channels}->{c.out_channels} s{c.stride}" for c in layers)),
            ]
            for kind, n in branches:
                if kind == "identity":
                    layers.append(T.identity_conv(ref.in_channels, 1, ref.groups if ref.in_channels ==
                                                  ref.out_channels else 1))
                elif kind == "bn":
                    layers.append(T.fold_batchnorm(T.identity_conv(ref.in_channels, 1, ref.groups),
                                                   to_convsym(_module(gm, n))))
            names = [n.name for _, n in branches] + [a.name for a in _add_nodes(add)]
            try:
                merged = merge_parallel_dense(*layers)
            except ValueError as exc:
                if (add.name, "merge_parallel") not in opts["refused"]:
                    opts["refused"].add((add.name, "merge_parallel"))
                    cert.rewrites.append(Rewrite("merge_parallel", "refused", names, "folding.repvgg", conditions,
                                                 None, str(exc)))
                continue
            conditions.append(Condition("branch outputs align (padding - d(k-1) equal)", True,
                                        ", ".join(f"k{c.kernel_size} p{c.padding} d{c.dilation} g{c.groups}"
                                                  for c in layers)))
            like = _module(gm, convs[0])
            new = from_convsym(merged, like=like)
            old = [(kind, _float64(_module(gm, n)) if kind != "identity" else None) for kind, n in branches]

            def before(x, old=old):
                return sum(x if module is None else module(x) for _, module in old)

            dev = m.deviation(source.name, before, _float64(new), [new])
            target = convs[0].target
            _set_module(gm, target, new)
            with gm.graph.inserting_after(add):
                node = gm.graph.call_module(target, (source,))
            add.replace_all_uses_with(node)
            for a in _add_nodes(add):
                gm.graph.erase_node(a)
            for _, n in branches:
                if n is not source:
                    gm.graph.erase_node(n)
            # branches with a dilation merge through their sparse (undilated) kernels
            theorem = ("folding.dilated-kernel-sparse" if any(c.dilation != (1, 1) for c in layers)
                       else "folding.repvgg")
            cert.rewrites.append(Rewrite("merge_parallel", "applied", names, theorem, conditions, **dev))
            return True
    return False


def _add_nodes(add) -> list:
    out = [add]
    for a in add.args:
        if hasattr(a, "op") and _is_add(a) and len(a.users) == 1:
            out += _add_nodes(a)
    return out


def _merge_sequential(gm, m: _Measure, cert: Certificate, opts) -> bool:
    torch = _torch()
    nn = torch.nn
    for first_node, second_node in _chains(gm, (nn.Conv2d,), (nn.Conv2d,)):
        first, second = _module(gm, first_node), _module(gm, second_node)
        c1, c2 = to_convsym(first), to_convsym(second)
        conditions = [
            Condition("nothing between the two convolutions", True, f"{first_node.name} -> {second_node.name}"),
            Condition("second.in_channels == first.out_channels", c2.in_channels == c1.out_channels,
                      f"{c2.in_channels} == {c1.out_channels}"),
            Condition("second.padding == 0", c2.padding == (0, 0), f"padding={c2.padding}"),
        ]
        if (second_node.name, "merge_sequential") in opts["refused"]:
            continue
        try:
            merged = T.merge_sequential(c1, c2)
        except ValueError as exc:
            opts["refused"].add((second_node.name, "merge_sequential"))
            cert.rewrites.append(_refusal("merge_sequential", [first_node, second_node], "merge.padded-second",
                                          conditions, str(exc)))
            continue
        new = from_convsym(merged, like=first)
        before = nn.Sequential(_float64(first), _float64(second))
        dev = m.deviation(first_node.args[0].name, before, _float64(new), [new])
        _set_module(gm, second_node.target, new)
        second_node.replace_input_with(first_node, first_node.args[0])
        gm.graph.erase_node(first_node)
        cert.rewrites.append(Rewrite("merge_sequential", "applied", [first_node.name, second_node.name],
                                     "merge.exact-strided-grouped", conditions, **dev))
        return True
    return False


def _equalize(gm, m: _Measure, cert: Certificate, opts) -> bool:
    torch = _torch()
    nn = torch.nn
    for second_node in list(gm.graph.nodes):
        if not _is(gm, second_node, nn.Conv2d) or (second_node.name, "equalize") in opts["done"]:
            continue
        act_node = second_node.args[0]
        if not hasattr(act_node, "op") or len(act_node.users) != 1 or not act_node.args:
            continue
        name = _activation_name(gm, act_node)
        first_node = act_node.args[0]
        if name is None or not _is(gm, first_node, nn.Conv2d) or len(first_node.users) != 1:
            continue
        opts["done"].add((second_node.name, "equalize"))
        first, second, act = _module(gm, first_node), _module(gm, second_node), _module(gm, act_node)
        nodes = [first_node, act_node, second_node]
        homogeneous = name in CLE_THEOREMS
        conditions = [Condition("activation positively homogeneous: f(s z) = s f(z) for s > 0", homogeneous,
                                f"activation={name}")]
        if isinstance(act, nn.PReLU) and act.num_parameters not in (1, first.out_channels):
            homogeneous = False
        if not homogeneous:
            theorem = CLE_REFUTED.get(name, "folding.cle-relu6")
            cert.rewrites.append(_refusal("equalize", nodes, theorem, conditions,
                                          f"equalize: activation {name} is not positively homogeneous"))
            continue
        new1, new2, scales = T.equalize(first, second, act if act is not None else name)
        conditions.append(Condition("scales s_i > 0", bool((np.asarray(scales, dtype=float) > 0).all()),
                                    f"min s={float(np.min(scales)):.3g}, max s={float(np.max(scales)):.3g}"))
        f = _float64(act) if act is not None else torch.relu  # a functional activation here is relu
        gain = 1.0
        if isinstance(act, (nn.PReLU, nn.LeakyReLU)):
            slope = act.weight.abs().max() if isinstance(act, nn.PReLU) else abs(act.negative_slope)
            gain = max(1.0, float(slope))

        dev = m.deviation(first_node.args[0].name, _Chain(_float64(first), f, _float64(second)),
                          _Chain(_float64(new1), f, _float64(new2)), [new1, new2], gain)
        _set_module(gm, first_node.target, new1)
        _set_module(gm, second_node.target, new2)
        cert.rewrites.append(Rewrite("equalize", "applied", [n.name for n in nodes], CLE_THEOREMS[name],
                                     conditions, **dev))
        return True
    return False


def _pixelwise_linear_class():
    torch = _torch()

    class PixelwiseLinear(torch.nn.Module):
        """A fully connected layer applied at every pixel of an NCHW map (a 1x1 convolution)."""

        def __init__(self, linear):
            super().__init__()
            self.linear = linear

        def forward(self, x):
            return self.linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    class LinearAsConv1x1(torch.nn.Module):
        """A fully connected layer on ``(N, F)`` as a 1x1 convolution on ``(N, F, 1, 1)``."""

        def __init__(self, conv):
            super().__init__()
            self.conv = conv

        def forward(self, x):
            return self.conv(x[:, :, None, None])[:, :, 0, 0]

    return PixelwiseLinear, LinearAsConv1x1


def _linear_forms(gm, m: _Measure, cert: Certificate, opts) -> bool:
    torch = _torch()
    nn = torch.nn
    pixelwise, as_conv = _pixelwise_linear_class()
    for node in list(gm.graph.nodes):
        if (node.name, "linear") in opts["done"]:
            continue
        module = _module(gm, node)
        if "conv1x1_to_linear" in opts["rewrites"] and isinstance(module, nn.Conv2d) \
                and module.kernel_size == (1, 1):
            opts["done"].add((node.name, "linear"))
            conditions = [Condition("kernel 1x1, stride 1, padding 0",
                                    module.stride == (1, 1) and module.padding in ((0, 0), "valid"),
                                    f"stride={module.stride}, padding={module.padding}")]
            try:
                new = pixelwise(T.conv1x1_to_linear(module))
            except ValueError as exc:
                cert.rewrites.append(_refusal("conv1x1_to_linear", [node], "equivalences.conv1x1-linear",
                                              conditions, str(exc)))
                continue
            rule = "conv1x1_to_linear"
        elif "linear_to_conv1x1" in opts["rewrites"] and isinstance(module, nn.Linear) \
                and len(m.shapes.get(node.args[0].name, ())) == 2:
            opts["done"].add((node.name, "linear"))
            conditions = [Condition("input is (N, in_features)", True, f"shape {m.shapes[node.args[0].name]}")]
            new = as_conv(T.linear_to_conv1x1(module))
            rule = "linear_to_conv1x1"
        else:
            continue
        dev = m.deviation(node.args[0].name, _float64(module), _float64(new), [new])
        _set_module(gm, node.target, new)
        cert.rewrites.append(Rewrite(rule, "applied", [node.name], "equivalences.conv1x1-linear", conditions, **dev))
        return True
    return False


PASSES = (
    ("fold_batchnorm", _fold_after),
    ("fold_batchnorm_before", _fold_before),
    ("merge_parallel", _merge_branches),
    ("merge_sequential", _merge_sequential),
    ("equalize", _equalize),
)


def _check_eval(model) -> None:
    torch = _torch()
    for name, module in model.named_modules():
        if isinstance(module, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.Dropout)) and module.training:
            raise ValueError(
                f"optimize: {type(module).__name__} {name or '(model)'} is in training mode (it would use batch "
                "statistics or drop activations, so no rewrite is exact); call model.eval() first"
            )


def optimize(model, example_input, rewrites=None, repair_padding: bool = False, seed: int = 0, trials: int = 2):
    """``(new_model, certificate)``: ``model`` with every requested rewrite applied where exact.

    ``rewrites`` is a subset of :data:`REWRITES` (default :data:`DEFAULT_REWRITES`; ``equalize``
    and the linear forms only when asked).  ``repair_padding=True`` folds a BN before a padded
    conv into the exact :class:`~convsym.torch.ChannelPadConv2d`.  ``model`` is not modified;
    it must be in eval mode (``ValueError`` naming the first module that is not) and traceable by
    ``torch.fx`` (``ValueError`` with fx's reason otherwise).  The certificate's deviations are
    maxima of ``|before - after|`` over ``trials`` standard-normal float64 inputs (``seed``).
    """
    torch = _torch()
    rewrites = DEFAULT_REWRITES if rewrites is None else tuple(rewrites)
    unknown = [r for r in rewrites if r not in REWRITES]
    if unknown:
        raise ValueError(f"optimize: unknown rewrites {unknown}; choose from {', '.join(REWRITES)}")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"optimize: model must be a torch.nn.Module, got {type(model).__name__}")
    _check_eval(model)
    import torch.fx

    try:
        gm = torch.fx.symbolic_trace(copy.deepcopy(model))
    except Exception as exc:  # fx raises many kinds (TraceError, TypeError...) for untraceable code
        raise ValueError(f"optimize: torch.fx cannot trace the model: {type(exc).__name__}: {exc}") from exc
    measure = _Measure(gm, example_input, seed, trials)
    cert = Certificate()
    opts = {"repair_padding": repair_padding, "refused": set(), "done": set(), "rewrites": rewrites}
    changed = True
    while changed:
        changed = False
        for name, rule in PASSES:
            if name in rewrites:
                while rule(gm, measure, cert, opts):
                    changed = True
                    gm.graph.lint()
    if "conv1x1_to_linear" in rewrites or "linear_to_conv1x1" in rewrites:
        while _linear_forms(gm, measure, cert, opts):
            pass
    gm.graph.eliminate_dead_code()
    gm.delete_all_unused_submodules()
    gm.recompile()
    with torch.no_grad():
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(tuple(example_input.shape), generator=g, dtype=torch.float64)
        ref, out = _float64(model)(x), _float64(gm)(x)
        cert.deviation = float((ref - out).abs().max())
        cert.output_scale = float(ref.abs().max())
    return gm, cert

