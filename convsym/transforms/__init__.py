"""Convolution rewrites as NumPy weight transforms.

Layers are frozen records validated once (:class:`Conv2d`, :class:`BatchNorm2d`); rewrites are
functions from layers to a layer that computes the same map, or a ``ValueError`` that says which
rule makes the rewrite inexact.  Layout and semantics are PyTorch's: NCHW, cross-correlation,
zero padding.

Number kinds.  Arrays are either *exact* (``dtype=object`` holding Python ``int`` and
``fractions.Fraction``) or *float* (``float64``).  On the way in, integer dtypes become exact
object arrays of Python ints (no overflow) and float dtypes become ``float64``; bool, complex and
object arrays holding anything but ints and rationals raise ``TypeError``.  A result is exact
when every array it comes from is exact; when exact and float arrays meet, the exact ones are
converted to ``float64``, as NumPy promotes ints with floats.  Exact paths never divide ints with
``/`` and never take a float square root.
"""

from __future__ import annotations

from convsym.transforms.batchnorm import ConstantPadConv2d, fold_batchnorm, fold_batchnorm_before
from convsym.transforms.equalize import equalize
from convsym.transforms.interop import adapt
from convsym.transforms.layers import BatchNorm2d, Conv2d, ConvTranspose2d
from convsym.transforms.parallel import identity_conv, merge_parallel, merge_parallel_dense, regroup, undilate
from convsym.transforms.reshape import (
    conv1x1_to_linear,
    full_map_conv_to_linear,
    linear_to_conv1x1,
    linear_to_full_map_conv,
    unshuffled_conv_to_conv,
)
from convsym.transforms.sequential import merge_sequential, merge_sequential_padded, split_kernel
from convsym.transforms.subpixel import subpixel_to_transposed, transposed_to_subpixel

__all__ = [
    "BatchNorm2d",
    "ConstantPadConv2d",
    "Conv2d",
    "ConvTranspose2d",
    "conv1x1_to_linear",
    "equalize",
    "fold_batchnorm",
    "fold_batchnorm_before",
    "full_map_conv_to_linear",
    "identity_conv",
    "linear_to_conv1x1",
    "linear_to_full_map_conv",
    "merge_parallel",
    "merge_parallel_dense",
    "merge_sequential",
    "merge_sequential_padded",
    "regroup",
    "split_kernel",
    "subpixel_to_transposed",
    "transposed_to_subpixel",
    "undilate",
    "unshuffled_conv_to_conv",
]

# Every transform also accepts the matching torch modules and then returns torch modules
# (torch is imported only when a module is actually passed).
conv1x1_to_linear = adapt(conv1x1_to_linear)
equalize = adapt(equalize)
fold_batchnorm = adapt(fold_batchnorm)
fold_batchnorm_before = adapt(fold_batchnorm_before)
full_map_conv_to_linear = adapt(full_map_conv_to_linear)
linear_to_conv1x1 = adapt(linear_to_conv1x1)
linear_to_full_map_conv = adapt(linear_to_full_map_conv)
merge_parallel = adapt(merge_parallel)
merge_parallel_dense = adapt(merge_parallel_dense)
merge_sequential = adapt(merge_sequential)
split_kernel = adapt(split_kernel)
subpixel_to_transposed = adapt(subpixel_to_transposed)
transposed_to_subpixel = adapt(transposed_to_subpixel)
unshuffled_conv_to_conv = adapt(unshuffled_conv_to_conv)
