"""The kernel's boundary instances (claim.boundary_instances) are those of the full enumeration.

Only the sizes a hypothesis mentions are enumerated together (a proof with ten sizes would otherwise
try 3^10 combinations); this compares the result, order included, with the plain enumeration over
all sizes, on random hypothesis sets."""

from __future__ import annotations

import itertools
import random

import sympy

from convsym.proof import claim as C
from convsym.symbolic.symbols import sizes


def _enumerated(sizes_, hypotheses, example):
    """Every combination of the first three admissible values, filtered, then the least and the next."""
    sizes_ = list(sizes_)
    if not sizes_:
        return [{}]
    conds = [h for h in hypotheses if sympy.sympify(h).free_symbols <= set(sizes_)]
    values = {s: [v for v in range(1, 9) if C.admissible(s, v)][:3] for s in sizes_}
    candidates = [combo for combo in itertools.product(*(values[s] for s in sizes_))
                  if C._holds(conds, dict(zip(sizes_, map(sympy.Integer, combo), strict=True)))]
    if not candidates and example:
        candidates = [tuple(example.get(str(s), 1) for s in sizes_)]
    if not candidates:
        return []
    least = [min(c[k] for c in candidates) for k in range(len(sizes_))]
    chosen = [c for c in candidates if all(c[k] in (least[k], least[k] + 1) for k in range(len(sizes_)))]
    if not chosen:
        chosen = [min(candidates)]
    if len(chosen) > C.MAX_BOUNDARY:
        keep = {tuple(least), tuple(v + 1 for v in least)}
        for k in range(len(sizes_)):
            one = list(least)
            one[k] += 1
            keep.add(tuple(one))
        chosen = [c for c in chosen if c in keep] or chosen[:C.MAX_BOUNDARY]
    return [dict(zip(sizes_, map(sympy.Integer, c), strict=True)) for c in chosen]


def test_boundary_instances_are_those_of_the_full_enumeration():
    S = sizes("a b c d e f")
    rng = random.Random(1)
    for _ in range(150):
        ss = list(S[:rng.randint(1, 6)])
        hyps = []
        for _ in range(rng.randint(0, 3)):
            x, y = rng.choice(ss), rng.choice(ss)
            h = rng.choice([x >= y + rng.randint(-1, 2), sympy.Eq(x + y, rng.randint(2, 6)),
                            sympy.Ne(x, rng.randint(1, 3)), x <= rng.randint(1, 4), sympy.Eq(x, 2 * y)])
            if h not in (sympy.true, sympy.false):
                hyps.append(h)
        example = {str(s): 2 for s in ss}
        assert C.boundary_instances(ss, hyps, example) == _enumerated(ss, hyps, example), (ss, hyps)


def test_an_empty_neighbourhood_gives_the_least_candidate():
    a, b = sizes("a b")
    hyps = [sympy.Eq(a + b, 4), sympy.Ne(a, 2)]  # (1, 3) and (3, 1): none has both near their least 1
    assert C.boundary_instances([a, b], hyps, {}) == _enumerated([a, b], hyps, {}) == [{a: 1, b: 3}]


def test_many_free_sizes_are_not_enumerated_together(monkeypatch):
    many = list(sizes("a b c d e f g h m n u v w y z"))  # 3^15 combinations if enumerated together
    tried = []
    real = C._satisfying

    def counting(sizes_, values, conds):
        tried.append(len(sizes_))
        return real(sizes_, values, conds)

    monkeypatch.setattr(C, "_satisfying", counting)
    got = C.boundary_instances(many, [many[0] >= 2], {})
    assert tried == [1]  # only the size the hypothesis mentions was enumerated
    low = {s: (2 if s == many[0] else 1) for s in many}
    assert got[0] == {s: sympy.Integer(v) for s, v in low.items()}
    assert {s: sympy.Integer(v + 1) for s, v in low.items()} in got
    assert len(got) == len(many) + 2  # the least, all one more, and each size one more alone


def test_positions_that_need_z3_are_the_least_satisfiable_in_a_fixed_order():
    # 0 and 1 do not satisfy these: the position is the first satisfiable of 0, 1, -1, 2, -2, ...
    (k,) = sizes("k")
    p, q = sympy.symbols("p q", integer=True)
    hyps = [p >= k + 2, q <= -2, sympy.Ne(q, -2)]
    got = C.full_instances([{k: sympy.Integer(1)}], [q, p], hyps)
    assert got == [{k: 1, p: 3, q: -3}]
