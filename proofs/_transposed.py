"""The transposed-convolution chapter's family and the helpers its two section scripts share
(the emitted checks of ``checks/transposed.py``, the witness re-test)."""

from __future__ import annotations

import inspect

import numpy as np

from convsym.proof.verdict import Family

TRANSPOSED = Family(
    "transposed",
    "Transposed convolutions",
    intro=(
        "A transposed convolution (``deconvolution'') scatters every input entry, times the kernel, into "
        "a larger output. This chapter proves that it is a stride-1 convolution of the input upsampled "
        "with zeros, padded and convolved with the flipped kernel; that it is the adjoint of the "
        "convolution with the same weight (hence its name); its output size and the output padding "
        "PyTorch allows; its cost and the zero taps the upsampled form wastes; when two transposed "
        "convolutions, or a convolution after one, merge into one layer; and that BatchNorm folds into "
        "its weight along axis 1, not axis 0."
    ),
    order=35,
)




def output_position(entry, **_):
    """The output position i of a witness whose input is one column (N = C = 1, W = 1): the
    transposed convolution's index i, counted from 0 after the crop, is the array's row."""
    return {"i": entry[2]}


def source_of(checks):
    """``_src(*names)``: the source of the named functions of a script's checks module (its
    ``check_source``)."""

    def _src(*names: str) -> str:
        return "\n\n".join(inspect.getsource(getattr(checks, n)) for n in names)

    return _src


def _retest(sides: str) -> str:
    """The witness re-test of a Refutation: rebuild the exact inputs, recompute both sides."""
    return f"""
inputs = {{}}
for key, spec in witness["inputs"].items():
    if isinstance(spec, dict):
        inputs[key] = np.array([Fraction(v) for v in spec["values"]], dtype=object).reshape(spec["shape"])
    else:
        inputs[key] = spec
lhs, rhs = {sides}(**inputs)
for got, spec in ((lhs, witness["lhs"]), (rhs, witness["rhs"])):
    if isinstance(spec, dict):
        assert list(np.shape(got)) == spec["shape"]
        assert [Fraction(v) for v in spec["values"]] == list(np.asarray(got).flat)
    else:
        assert Fraction(spec) == got
assert witness["lhs"] != witness["rhs"]
"""


def _obj(values, shape) -> np.ndarray:
    return np.array(values, dtype=object).reshape(shape)
