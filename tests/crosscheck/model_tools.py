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
