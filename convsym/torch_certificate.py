"""The certificate of :func:`convsym.torch_optimize.optimize` (:class:`Certificate`, one
:class:`Rewrite` per rewrite with its :class:`Condition` s) and the float64 measurement of each
rewrite against a bound derived from the dtype (:class:`_Measure`)."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from convsym.transforms.interop import _torch

__all__ = ["Certificate", "Condition", "Rewrite"]


@dataclass(frozen=True)
class Condition:
    """One hypothesis of a theorem, checked on the actual layers: ``holds`` with the values."""

    name: str
    holds: bool
    values: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "holds": self.holds, "values": self.values}


@dataclass
class Rewrite:
    """One rewrite: ``status`` is ``applied`` or ``refused`` (a condition fails)."""

    rule: str
    status: str
    nodes: list[str]
    theorem: str
    conditions: list[Condition]
    deviation: float | None = None
    reason: str = ""
    bound: float | None = None
    within_bound: bool | None = None  # every output entry within its own bound (None: refused)

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "status": self.status, "nodes": self.nodes, "theorem": self.theorem,
                "conditions": [c.to_json() for c in self.conditions], "deviation": self.deviation,
                "bound": self.bound, "within_bound": self.within_bound, "reason": self.reason}


@dataclass
class Certificate:
    """What :func:`optimize` did: every rewrite and the whole model's float64 deviation."""

    rewrites: list[Rewrite] = field(default_factory=list)
    deviation: float | None = None
    output_scale: float | None = None

    @property
    def applied(self) -> list[Rewrite]:
        return [r for r in self.rewrites if r.status == "applied"]

    @property
    def refused(self) -> list[Rewrite]:
        return [r for r in self.rewrites if r.status == "refused"]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rewrites:
            key = f"{r.rule}:{r.status}"
            out[key] = out.get(key, 0) + 1
        return dict(sorted(out.items()))

    def to_json(self) -> dict[str, Any]:
        return {"rewrites": [r.to_json() for r in self.rewrites], "deviation": self.deviation,
                "output_scale": self.output_scale, "counts": self.counts()}

    def report(self) -> str:
        lines = [f"{len(self.applied)} rewrites applied, {len(self.refused)} refused; "
                 f"float64 deviation of the whole model {self.deviation:.3g} (output scale {self.output_scale:.3g})"]
        for r in self.rewrites:
            dev = "" if r.deviation is None else f"  deviation {r.deviation:.2g} <= bound {r.bound:.2g}"
            lines.append(f"  {r.status:8s} {r.rule:22s} {r.theorem:32s} {', '.join(r.nodes)}{dev}")
            if r.status == "refused":
                lines.append(f"           {r.reason}")
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True)


def _float64(module):
    return copy.deepcopy(module).double().eval()


class _Measure:
    """Random float64 inputs of the shapes the example input produces at each node."""

    def __init__(self, gm, example_input, seed: int, trials: int):
        from torch.fx.passes.shape_prop import ShapeProp

        ShapeProp(gm).propagate(example_input)
        self.shapes = {n.name: tuple(n.meta["tensor_meta"].shape) for n in gm.graph.nodes
                       if isinstance(n.meta.get("tensor_meta"), object) and hasattr(n.meta.get("tensor_meta"), "shape")}
        self.seed, self.trials = seed, trials

    def deviation(self, input_name: str, before, after, new_modules, gain: float = 1.0) -> tuple[float, float]:
        """``(max |before(x) - after(x)|, bound)`` over the random inputs, in float64.

        The bound: the rewrite is exact, so ``after`` differs from ``before`` only because its
        parameters were rounded to the model's dtype (unit roundoff ``u``: each stored value is
        ``v(1 + delta)``, ``|delta| <= u``) and because float64 evaluation rounds.  Through a
        chain of linear layers (and 1-Lipschitz activations, times ``gain`` for larger slopes)
        the first effect is at most ``L * u * A(|x|)``, where ``A`` runs the new layers with
        every parameter replaced by its absolute value and ``L`` is the number of new layers; the
        second at most ``2 * n * u64 * A(|x|)`` with ``n`` the longest accumulation (the
        standard ``gamma_n`` bound of a dot product, for both sides).
        """
        torch = _torch()
        g = torch.Generator().manual_seed(self.seed)
        shape = self.shapes[input_name]
        if len(shape) == 4:  # a rewrite is local: a window of at most 16 x 16 positions tests it as well
            shape = (shape[0], shape[1], min(shape[2], 16), min(shape[3], 16))
        u = max(torch.finfo(p.dtype).eps / 2 for mod in new_modules for p in mod.parameters())
        u64 = torch.finfo(torch.float64).eps / 2
        absolutes = [_absolute(mod) for mod in new_modules]
        n = max(_accumulation(mod) for mod in new_modules)
        worst, bound, ok = 0.0, 0.0, True
        with torch.no_grad():
            for _ in range(self.trials):
                x = torch.randn(shape, generator=g, dtype=torch.float64)
                a = x.abs()
                for mod in absolutes:
                    a = mod(a) * gain
                diff = (before(x) - after(x)).abs()
                allowed = (len(new_modules) * u + 2 * n * u64) * a
                worst, bound = max(worst, float(diff.max())), max(bound, float(allowed.max()))
                ok = ok and bool((diff <= allowed).all())
        return {"deviation": worst, "bound": bound, "within_bound": ok}


def _absolute(module):
    out = _float64(module)
    torch = _torch()
    with torch.no_grad():
        for p in list(out.parameters()) + list(out.buffers()):
            if p.dtype.is_floating_point:
                p.abs_()
    return out


def _accumulation(module) -> int:
    torch = _torch()
    n = 1
    for mod in module.modules():
        if isinstance(mod, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            n = max(n, mod.weight[0].numel() + 1)
        elif isinstance(mod, torch.nn.Linear):
            n = max(n, mod.in_features + 1)
    return n


class _Chain:
    """Layers applied one after the other (callables), for the deviation measurements."""

    def __init__(self, *layers):
        self.layers = layers

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def _refusal(rule, nodes, theorem, conditions, reason) -> Rewrite:
    return Rewrite(rule, "refused", [n.name for n in nodes], theorem, conditions, None, reason)
