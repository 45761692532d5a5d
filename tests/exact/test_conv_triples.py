"""The index triples of a convolution's defining sum, against a plain loop over the sum."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from convsym.exact import ops


def _loop_triples(xs, ws, groups, stride, dilation, pads, out_spatial):
    """``(out, x, w)`` flat indices of every in-range term, in the order n, o, i.., c, u.."""
    batch, spatial = xs[0], xs[2:]
    cout, cg, kernel = ws[0], ws[1], ws[2:]
    out = []
    for n, o, *rest in itertools.product(range(batch), range(cout), *(range(s) for s in out_spatial),
                                         range(cg), *(range(k) for k in kernel)):
        nd = len(out_spatial)
        i, c, u = rest[:nd], rest[nd], rest[nd + 1:]
        pos = [stride[a] * i[a] + dilation[a] * u[a] - pads[a][0] for a in range(nd)]
        if all(0 <= p < s for p, s in zip(pos, spatial, strict=True)):
            channel = (o // (cout // groups)) * cg + c
            out.append((np.ravel_multi_index((n, o, *i), (batch, cout, *out_spatial)),
                        np.ravel_multi_index((n, channel, *pos), xs),
                        np.ravel_multi_index((o, c, *u), ws)))
    return [np.array([t[j] for t in out], dtype=np.int64) for j in range(3)]


def test_the_triples_are_the_terms_of_the_sum():
    rng = random.Random(3)
    checked = 0
    while checked < 60:
        nd, g = rng.choice([1, 2]), rng.choice([1, 2])
        cin, cout = g * rng.randint(1, 2), g * rng.randint(1, 2)
        spatial = tuple(rng.randint(1, 5) for _ in range(nd))
        kernel = tuple(rng.randint(1, 3) for _ in range(nd))
        stride = tuple(rng.randint(1, 2) for _ in range(nd))
        dilation = tuple(rng.randint(1, 2) for _ in range(nd))
        pads = tuple((rng.randint(0, 2), rng.randint(0, 2)) for _ in range(nd))
        outs = tuple(ops._output_size(n, k, s, p, d)
                     for n, k, s, p, d in zip(spatial, kernel, stride, pads, dilation, strict=True))
        if min(outs) < 1:
            continue
        xs, ws = (rng.randint(1, 2), cin, *spatial), (cout, cin // g, *kernel)
        got = ops._conv_triples(xs, ws, g, stride, dilation, pads, outs)
        for mine, theirs in zip(got, _loop_triples(xs, ws, g, stride, dilation, pads, outs), strict=True):
            assert np.array_equal(mine, theirs)
        checked += 1


def test_remembered_triples_are_read_only():
    key = ((1, 2, 5), (3, 2, 2), 1, (1,), (1,), ((1, 0),), (5,))
    first = ops._conv_triples(*key)
    assert ops._conv_triples(*key)[0] is first[0]
    with pytest.raises(ValueError):
        first[1][0] = 7
