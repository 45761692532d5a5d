"""Independent NumPy reference ops with PyTorch semantics.

Every op here follows ``torch.nn.functional``: NCHW layout, cross-correlation (the kernel is not
flipped), zero padding.  The module imports only NumPy and the standard library: the numeric
checks compare convsym's symbolic results against it, so a bug cannot hide in shared code.

Numbers
-------
* Floating arrays stay floating and keep their precision (float32 in, float32 out); the work is
  vectorised (sliding windows, then one matrix product per chunk of the batch; a depthwise conv
  with stride 1, one input channel per group, as shifted flat planes, block by block: one copy of
  the taps and one batched matrix product per block of planes).
* ``dtype=object`` arrays of Python ints and ``fractions.Fraction`` stay exact: no value is ever
  converted to float.  Averages divide by ``Fraction(1, count)``; ``batch_norm`` takes an exact
  square root or raises.
* Integer arrays (``int64``, ``uint8``, ...) are converted to object arrays of Python ints by every
  op that does arithmetic, so results never overflow; the result is an object array.  The pure
  rearrangements (``pixel_shuffle``, ``pixel_unshuffle``, ``im2col``) keep the dtype they get.
* If any operand is an object array, all operands are computed as object arrays.

Padding
-------
``conv1d``/``conv2d`` take ``padding`` as an int, one int per axis, ``'valid'`` (no padding),
``'same'`` (stride 1 only; total ``d*(k-1)``, ``left = total // 2``, the extra row/column of an
even dilated kernel goes to the bottom/right, as in PyTorch) or, beyond PyTorch, explicit
``(low, high)`` pairs per axis such as ``((top, bottom), (left, right))``.

Errors
------
Wrong input raises ``TypeError`` (not an array of numbers, a float stride, an unknown padding
string) or ``ValueError`` (ranks, shapes, ranges), with a message that names the op, the rule and
the values, e.g. ``conv2d: groups=3 must divide out_channels=8``.
"""

from convsym.reference.conv import conv1d, conv2d, conv_transpose2d, im2col
from convsym.reference.layers import batch_norm, linear, pixel_shuffle, pixel_unshuffle
from convsym.reference.pool import avg_pool2d, max_pool2d

__all__ = [
    "avg_pool2d",
    "batch_norm",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "im2col",
    "linear",
    "max_pool2d",
    "pixel_shuffle",
    "pixel_unshuffle",
]
