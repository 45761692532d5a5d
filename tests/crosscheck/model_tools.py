"""Run the six counting tools on a whole model: ``{tool: (total, params)}`` (DeepSpeed's total
is ``(flops, macs)``).  Shared by the crosscheck tests and ``benchmarks/model_totals.py``."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings

import torch


@contextlib.contextmanager
def quiet():
    logging.disable(logging.WARNING)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


def run_fvcore(model, x):
    from fvcore.nn import FlopCountAnalysis, parameter_count

    analysis = FlopCountAnalysis(model, x)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return analysis.total(), parameter_count(model)[""]


def run_ptflops(model, x):
    from ptflops import get_model_complexity_info

    macs, params = get_model_complexity_info(model, tuple(x.shape[1:]), as_strings=False,
                                             print_per_layer_stat=False, input_constructor=lambda _: x)
    return macs, params


def run_thop(model, x):
    import thop

    ops, params = thop.profile(model, inputs=(x,), verbose=False)
    return int(ops), int(params)


def run_torchinfo(model, x):
    import torchinfo

    stats = torchinfo.summary(model, input_data=x, verbose=0)
    return stats.total_mult_adds, stats.total_params


def run_deepspeed(model, x):
    from deepspeed.profiling.flops_profiler import get_model_profile

    flops, macs, params = get_model_profile(model, args=[x], print_profile=False, as_string=False, warm_up=0)
    return (flops, macs), params


def run_torch(model, x):
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops(), None


RUNNERS = {"fvcore": run_fvcore, "ptflops": run_ptflops, "thop": run_thop, "torchinfo": run_torchinfo,
           "deepspeed": run_deepspeed, "torch": run_torch}


def run_tool(tool, model, x):
    model.eval()
    with quiet(), torch.no_grad():
        return RUNNERS[tool](model, x)


# ---------------------------------------------------------------------------------------------
# proofs/data/model_totals.json: the whole-model table the book prints

#: Where the committed table lives and the command that refreshes it.
TOTALS_PATH = "proofs/data/model_totals.json"
REFRESH = "python benchmarks/model_totals.py --write"

#: What each field of ``model_totals.json`` means (written into the file as ``fields``).
TOTALS_FIELDS = {
    "refresh": "the command that rewrites this file (tests/crosscheck/test_model_totals.py fails when it is stale)",
    "size": "input height and width; every model runs on one input of shape [1, 3, size, size] in eval mode",
    "tools": "the counting tools, in column order",
    "versions": "installed versions of torch and of each tool when the file was written (without a local "
                "build tag such as +cpu)",
    "modelled_versions": "the tool versions convsym's conventions reproduce (convsym.cost.TOOL_VERSIONS)",
    "architectures": "one entry per model of tests/zoo.py (plain-torch definitions), in row order",
    "architectures[].name": "the key in tests.zoo.ARCHITECTURES",
    "architectures[].input_shape": "the input shape [N, C, H, W]",
    "architectures[].convsym": "convsym's own figures (ModelCost.total): dense MACs, MACs without the taps on "
                               "zero padding, FLOPs (multiply and add one each), backward MACs, parameters, "
                               "buffer elements, and the operators it has no formula for as [operator, calls]",
    "architectures[].tools.<tool>.quantity": "what the tool's total counts (MACs or FLOPs, the tool's own name)",
    "architectures[].tools.<tool>.convsym": "ModelCost.total_reported_by(tool): convsym's model of the tool's "
                                            "total, null when convsym does not model the tool on this model",
    "architectures[].tools.<tool>.tool": "the total the installed tool itself returns",
    "architectures[].tools.<tool>.convsym_macs": "DeepSpeed only: convsym's model of its MACs "
                                                 "(tool('deepspeed').macs); null for the other tools",
    "architectures[].tools.<tool>.tool_macs": "DeepSpeed only: the MACs DeepSpeed returns next to its FLOPs",
    "architectures[].tools.<tool>.params_convsym": "ModelCost.params_reported_by(tool) (null: the tool reports none)",
    "architectures[].tools.<tool>.params_tool": "the parameter count the tool returns (null: it reports none)",
    "architectures[].tools.<tool>.equal": "true when every convsym figure of the entry equals the tool's",
    "architectures[].tools.<tool>.reason": "why convsym's figure is not the tool's (null when equal)",
    "layer_shapes": "resnet18 only: each Conv2d, MaxPool2d, AvgPool2d and Linear call in order, with its "
                    "module path, type, input and output shapes, kernel, stride, padding ((top, bottom), "
                    "(left, right)), groups and dense MACs",
}


def _int(value):
    """A tool's figure as an int when it is integral (some tools return floats)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _architecture(name: str, size: int, tools) -> tuple[dict, list | None]:
    from convsym.cost import count_module
    from tests.zoo import ARCHITECTURES

    torch.manual_seed(0)
    build = ARCHITECTURES[name][0]
    model = build(img_size=size) if name == "vit_tiny" else build()
    shape = (1, 3, size, size)
    counted = count_module(model, shape)
    modelled, missing = counted.modelled(tools)
    why_not = dict(missing)
    x = torch.zeros(shape)
    entry = {"name": name, "input_shape": list(shape),
             "convsym": {"macs": counted.total("macs"), "macs_without_padding": counted.total("macs_without_padding"),
                         "flops": counted.total("flops"), "backward_macs": counted.total("backward_macs"),
                         "params": counted.total("params"), "buffers": counted.total("buffers"),
                         "uncounted": [list(u) for u in counted.uncounted]},
             "tools": {}}
    for tool in tools:
        got, params = run_tool(tool, model, x)
        got_macs = None
        if tool == "deepspeed":
            got, got_macs = got
        cell = {"quantity": None, "convsym": None, "tool": _int(got), "convsym_macs": None,
                "tool_macs": _int(got_macs), "params_convsym": None, "params_tool": _int(params)}
        if tool in modelled:
            mine = counted.tool(tool)
            cell.update(quantity=mine.quantity, convsym=_int(mine.value), params_convsym=mine.params,
                        convsym_macs=mine.macs if tool == "deepspeed" else None)
            pairs = [(cell["convsym"], cell["tool"]), (cell["params_convsym"], cell["params_tool"]),
                     (cell["convsym_macs"], cell["tool_macs"])]
            differ = [f"{label} {a} vs {b}" for label, (a, b) in zip(("total", "params", "macs"), pairs, strict=True)
                      if a != b]
            cell["reason"] = ("convsym's model differs from the tool: " + "; ".join(differ)) if differ else None
        else:
            cell["reason"] = f"not modelled: {why_not[tool]}"
        cell["equal"] = cell["reason"] is None
        entry["tools"][tool] = cell
    layers = None
    if name == "resnet18":
        layers = []
        for path, cost in counted.layers:
            spec = cost.layer
            layers.append({"path": path, "op": spec.op, "input_shape": [int(v) for v in cost.input_shape],
                           "output_shape": [int(v) for v in cost.output_shape],
                           "kernel": [int(v) for v in spec.kernel_size], "stride": [int(v) for v in spec.stride],
                           "padding": [[int(a), int(b)] for a, b in spec.padding], "groups": int(spec.groups),
                           "macs": int(cost.macs)})
    return entry, layers


def model_totals(size: int = 224, names=None) -> dict:
    """The table of ``proofs/data/model_totals.json`` (see :data:`TOTALS_FIELDS`), computed
    with the installed tools: every model of ``tests.zoo.ARCHITECTURES`` (or ``names``)."""
    from importlib.metadata import version

    from convsym.cost import TOOL_VERSIONS, TOOLS
    from tests.zoo import ARCHITECTURES

    dists = {"fvcore": "fvcore", "ptflops": "ptflops", "thop": "thop", "torchinfo": "torchinfo",
             "deepspeed": "deepspeed", "torch": "torch"}
    torch.set_num_threads(1)
    data = {"fields": TOTALS_FIELDS, "refresh": REFRESH, "size": size, "tools": list(TOOLS),
            "versions": {tool: version(dist).split("+")[0] for tool, dist in dists.items()},
            "modelled_versions": dict(TOOL_VERSIONS), "architectures": [], "layer_shapes": None}
    for name in names or ARCHITECTURES:
        entry, layers = _architecture(name, size, TOOLS)
        data["architectures"].append(entry)
        if layers is not None:
            data["layer_shapes"] = {"model": name, "layers": layers}
    return data


def totals_text(data: dict) -> str:
    """``data`` as the file's bytes: sorted keys, two-space indent, a final newline."""
    import json

    return json.dumps(data, indent=2, sort_keys=True) + "\n"
