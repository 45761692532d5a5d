"""VariablePool names its tensors' variables only when asked: the names, ids and clashes are those
of naming every variable at creation."""

from __future__ import annotations

import itertools
import random

import pytest

from convsym.exact.pool import VariablePool, variable_name


def _eager(steps):
    """The names every variable gets, in id order, or the first clashing name."""
    names: list[str] = []
    for kind, name, shape in steps:
        new = [name] if kind == "variable" else [variable_name(name, idx) for idx in
                                                 itertools.product(*(range(n) for n in shape))]
        for n in new:
            if n in names or new.count(n) > 1:
                return names, n
        names += new
    return names, None


def _run(steps):
    pool = VariablePool()
    for kind, name, shape in steps:
        try:
            if kind == "variable":
                pool.variable(name)
            else:
                pool.create_tensor_ids(name, shape)
        except ValueError as exc:
            return pool, str(exc)
    return pool, None


@pytest.mark.parametrize("seed", range(40))
def test_names_ids_and_clashes_are_those_of_eager_naming(seed):
    rng = random.Random(seed)
    bases = ["x", "x_{0}", "x_{1,0}", "w", "w1", "w_1", "b", "x_{0", "xx"]
    steps = []
    for _ in range(rng.randint(1, 6)):
        if rng.random() < 0.3:
            steps.append(("variable", rng.choice(["x_{0}", "w_{1}", "b", "y", "x_{1,0}", "w1_{0}"]), None))
        else:
            steps.append(("tensor", rng.choice(bases), tuple(rng.randint(0, 2) for _ in range(rng.randint(0, 2)))))
    names, clash = _eager(steps)
    pool, error = _run(steps)
    if clash is None:
        assert error is None
        assert len(pool) == len(names)
        assert [pool.name(i) for i in range(len(pool))] == names
        assert all(pool.id(n) == i for i, n in enumerate(names))
        assert all(n in pool for n in names) and "absent" not in pool
    else:
        assert error == f"VariablePool: variable {clash!r} already exists; names must be unique"


def test_a_lazy_block_is_named_on_demand():
    pool = VariablePool()
    ids = pool.create_tensor_ids("x", (2, 3))
    pool.create_tensor_ids("w", (2,))
    assert ids.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert pool.name(4) == "x_{1,1}" and pool.name(7) == "w_{1}"
    assert pool.id("w_{0}") == 6
    with pytest.raises(ValueError, match="no variable with id 8"):
        pool.name(8)
    with pytest.raises(ValueError, match=r"'x_\{0,2\}' already exists"):
        pool.variable("x_{0,2}")
