"""Helpers shared by the sections of the folding chapter (not a proof script: the registry skips ``_*.py``)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from convsym.exact.tensor import contract
from convsym.proof import (
    Refutation,
)

# =============================================================================================
# helpers: exact builders over convsym.exact.ops (unbatched tensors (C, H, W)), shared by the identities


def _per_channel(v, ndim=3):
    """A (C,) tensor shaped to broadcast over the channel axis of a (C, ...) tensor."""
    return v.reshape((v.shape[0],) + (1,) * (ndim - 1))


def _batchnorm(y, mu, gamma, r, beta):
    """``(y - mu) * gamma * r + beta`` per channel; ``r`` stands for ``1/sqrt(var + eps)``."""
    return (y - _per_channel(mu)) * _per_channel(gamma * r) + _per_channel(beta)


def _zero_pad(x, p):
    """``x`` (C, H, W) with ``p`` zero rows/columns on every side."""
    C, Hh, Ww = x.shape
    out_shape = (C, Hh + 2 * p, Ww + 2 * p)
    cc, ii, jj = np.indices(x.shape).reshape(3, -1)
    out_index = np.ravel_multi_index((cc, ii + p, jj + p), out_shape)
    one = x.constant_like(np.ones((1,), dtype=object))
    return contract(x, one, out_index, np.arange(x.size), np.zeros(x.size, dtype=np.int64), out_shape)


def _pad_with(x, value, p):
    """``x`` (C, H, W) padded by ``p`` on every side with ``value[c]`` on channel ``c``."""
    C, Hh, Ww = x.shape
    ring = np.ones((1, Hh + 2 * p, Ww + 2 * p), dtype=object)
    ring[:, p : p + Hh, p : p + Ww] = 0
    return _zero_pad(x, p) + _per_channel(value) * x.constant_like(ring)


def _embed(w, size):
    """Kernel ``w`` (O, C, k, k) centred in a ``size x size`` kernel of zeros."""
    O, Cg, k, _ = w.shape
    e = (size - k) // 2
    out_shape = (O, Cg, size, size)
    oo, cc, uu, vv = np.indices(w.shape).reshape(4, -1)
    out_index = np.ravel_multi_index((oo, cc, uu + e, vv + e), out_shape)
    one = w.constant_like(np.ones((1,), dtype=object))
    return contract(w, one, out_index, np.arange(w.size), np.zeros(w.size, dtype=np.int64), out_shape)


def _column_channels(O, C, groups):
    """``idx[o, k]``: the input channel weight column ``k`` of output ``o`` reads."""
    Og, Cg = O // groups, C // groups
    return (np.arange(O)[:, None] // Og) * Cg + np.arange(Cg)[None, :]


def _on_columns(v, O, C, groups):
    """A (C,) per-input-channel tensor laid out on the weight columns: shape (O, C/groups, 1, 1)."""
    idx = _column_channels(O, C, groups)
    return v[idx].reshape(idx.shape + (1, 1))


def _identity_kernel(T, C, groups):
    Cg = C // groups
    eye = np.zeros((C, Cg, 1, 1), dtype=object)
    for o in range(C):
        eye[o, o % Cg, 0, 0] = 1
    return T.constant_like(eye)


def _unpack(spec):
    a = np.zeros(spec["shape"], dtype=object)
    a[...] = 0
    for idx, val in spec["nonzero"]:
        a[tuple(idx)] = Fraction(val)
    return a




def _hyper(s=1, p=0, d=1, groups=1, **_):
    return dict(stride=s, padding=p, dilation=d, groups=groups)


def _witnessed(name, title, gloss, build, **kw) -> Refutation:
    """A refutation at the exact witness ``build()`` describes: the kernel evaluates the two sides
    (``build()["lhs"]`` and ``["rhs"]``, exact Fractions computed with convsym.reference) itself."""
    w = build()
    return Refutation(name, title, gloss, lhs=lambda **_: build()["lhs"], rhs=lambda **_: build()["rhs"],
                      witness=dict(w["assignment"]), where=w["where"], describe=w["description"], data=w["data"],
                      **kw)
