"""Translation validation of ONNX graph optimizers (the optional ``models`` extra).

``validate_models(original, optimized)`` matches every node of the optimized graph to the
subgraph of the original graph that computes the same tensor and decides whether the
optimizer's parameters are the exact rewrite, up to a floating-point error bound derived from
the formula and the dtype.  Each node is ``verified``, ``wrong`` (the theorem or condition it
breaks, and a witness input on which the two subgraphs differ beyond the bound, run in
float64) or ``unmatched`` (not validated, and said so).

Matching, in the optimized graph's topological order; a map sends optimized tensors to the
original tensors they equal (graph inputs to graph inputs, by position):

* ``unchanged``: same op, same attributes, data inputs mapped to the original node's inputs,
  constant inputs equal bit for bit;
* ``conv-chain`` (``Conv`` / ``ConvTranspose``): an original ``[Pad ->] Conv`` on the mapped input
  followed by a chain of per-channel affine nodes whose intermediate tensors have one consumer
  (``BatchNormalization``, ``Add`` / ``Mul`` of a constant broadcast per channel).  The longest
  chain whose fused parameters match is taken.  Theorems: ``folding.bn-after-conv-exact``
  (BN, and ``Add``/``Mul`` as per-channel affine maps), padding composes (``Pad`` zeros then
  ``pads`` zeros is ``pads + Pad`` zeros);
* ``equalized`` (cross-layer equalization): a ``Conv`` equal to the original's with output
  channel ``i`` divided by ``s_i > 0`` maps to the original tensor scaled by ``1/s``; an
  activation passes the scale only when positively homogeneous (``folding.cle-relu``,
  ``folding.cle-leaky-relu``, ``folding.cle-prelu``; ``Clip``/ReLU6 is ``folding.cle-relu6``:
  wrong), and the next ``Conv`` must multiply input channel ``i`` by ``s_i``.

* ``branch-merge`` / ``conv-merge`` (``Conv``): a subgraph of the original on the mapped input
  made of convolutions, per-channel affine nodes and sums (parallel branches with an identity,
  dilated branches; convs in a row), recomputed as one convolution in exact arithmetic with
  :mod:`convsym.transforms` (:mod:`convsym.onnx.merges`, which states its bound).  The target is
  the tensor whose consumers fit the node's (so a merge that forgets a branch is ``wrong``, not a
  verified partial merge); a padded second conv is refuted (``merge.padded-second``).

Graphs must be DAGs with nodes in topological order (ONNX's rule; ``ValueError`` otherwise).
Modules: :mod:`~convsym.onnx.graph` (reading, constant folding, attributes),
:mod:`~convsym.onnx.bounds` (exact affine chains, bounds), :mod:`~convsym.onnx.merges`,
:mod:`~convsym.onnx.match` (the rules), :mod:`~convsym.onnx.evaluate` (float64 witnesses),
:mod:`~convsym.onnx.report`.

Constant subgraphs (nodes whose inputs are all constants, as onnxoptimizer's
``fuse_bn_into_conv`` emits: ``Add, Sqrt, Div, Mul`` on the initializers) are evaluated first
with ONNX's reference evaluator in the graph's own dtype: those are the values the runtime uses.

**Exact recomputation.**  The fused per-channel scale ``S[o]`` and bias ``B[o]`` are computed
by :func:`convsym.transforms.fold_batchnorm` on ``Fraction`` arrays (each float converted
exactly): the chain of per-channel affine maps ``y = s_j x + t_j`` is composed exactly, and
``sqrt(var + eps)`` (irrational in general) is enclosed in a rational interval of relative
width ``2^-80``; the BN is then passed to ``fold_batchnorm`` as
``BatchNorm2d(mean, var=1/2, gamma=s_hat, beta, eps=1/2)`` (``sqrt(var+eps) = 1``) applied to
a probe conv of ones, whose folded weight is ``S`` and folded bias ``B``.  The fused weight
``W'[o,...] = W[o,...] * S[o]`` is decided entry by entry: a float64 evaluation with a
certified margin (``10^-12`` relative, far above its ``4 * 2^-53`` rounding) decides every
entry whose distance to the bound exceeds the margin, and the others are recomputed in
``Fraction`` arithmetic.

**The bound.**  With ``u`` the unit roundoff of the dtype (``2^-24`` for float32) and
Higham's ``gamma_N = N u / (1 - N u)``: a value computed with ``N`` roundings (each ``+ - * /
sqrt`` correctly rounded, ``(1 + delta)`` with ``|delta| <= u``) from exact inputs is within
``gamma_N * (sum of the absolute values of its terms)`` of the exact value.  Counting per
affine node: BN's scale ``gamma / sqrt(var + eps)`` takes 5 roundings (the sum, the square
root counted twice since an ``rsqrt`` may be off by one ulp, the division, one spare), its
shift ``beta - mean * s`` 3 more; ``Add``/``Mul`` one each; the product ``W * S`` and the
final store one each.  Hence weight entries: ``|W'_opt - W S| <= gamma_Nw |W S|`` with
``N_w = 5 * (#BN) + (#Mul) + 2``; biases: ``|B_opt - B| <= gamma_Nb * A`` with
``A = |b||S| + sum_j (|mean_j| |s_j| + |beta_j|) |S_after_j|`` (the terms' magnitudes) and
``N_b = 8 * (#BN) + (#Add) + (#Mul) + 3``; both plus ``N`` times the smallest subnormal
(underflow).  A witness is checked against the bound carried to the output:
``sum |x| * bound_W + bound_B`` plus float64 evaluation error.
"""

from __future__ import annotations

import time
from pathlib import Path

from convsym.onnx.graph import _onnx
from convsym.onnx.match import _Validator
from convsym.onnx.report import NodeResult, Report

__all__ = ["NodeResult", "Report", "validate_models", "validate_torch"]


def validate_models(original, optimized) -> Report:
    """Validate ``optimized`` against ``original`` (ONNX ``ModelProto`` or file paths)."""
    onnx = _onnx()
    start = time.perf_counter()
    models = []
    for label, m in (("ORIGINAL", original), ("OPTIMIZED", optimized)):
        if isinstance(m, (str, Path)):
            path = Path(m)
            if not path.is_file():
                raise ValueError(f"validate_models: {label} {str(path)!r} is not a file")
            try:
                m = onnx.load(str(path))
            except Exception as exc:  # protobuf raises DecodeError and friends
                raise ValueError(f"validate_models: {label} {str(path)!r} is not an ONNX model: {exc}") from exc
        if not isinstance(m, onnx.ModelProto):
            raise TypeError(f"validate_models: {label} must be an onnx.ModelProto or a path, got {type(m).__name__}")
        models.append(m)
    results = _Validator(*models).run()
    return Report(results, time.perf_counter() - start)


def validate_torch(original, optimized, example_input, opset: int = 17) -> Report:
    """Export both modules to ONNX (legacy exporter, no constant folding) and validate."""
    import io
    import warnings

    import torch

    onnx = _onnx()
    models = []
    pair = (("ORIGINAL", original), ("OPTIMIZED", optimized))
    for label, module in pair:
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"validate_torch: {label} must be a torch.nn.Module, got {type(module).__name__}")
    for label, module in pair:
        for name, sub in module.named_modules():
            if isinstance(sub, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.Dropout)) and sub.training:
                raise ValueError(
                    f"validate_torch: {type(sub).__name__} {name or '(model)'!r} of {label} is in training mode "
                    "(batch statistics or dropout: the exported graph would not be the model's inference map); "
                    "call .eval() first")
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:  # the exporter restores the module's mode; BN and dropout are checked in eval mode above
                torch.onnx.export(module, example_input, buffer, dynamo=False, opset_version=opset,
                                  do_constant_folding=False)
            except Exception as exc:  # the exporter raises many kinds (unsupported operator, tracing errors)
                raise ValueError(f"validate_torch: torch.onnx.export cannot export {label} "
                                 f"({type(module).__name__}): {type(exc).__name__}: {exc}") from exc
        models.append(onnx.load_from_string(buffer.getvalue()))
    return validate_models(*models)
