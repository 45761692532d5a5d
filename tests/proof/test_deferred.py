"""convsym.deferred: a record's field printed on first read, once; pickling and copying."""

import copy
import pickle
from dataclasses import dataclass

import pytest

from convsym.deferred import Deferred, ResolvesDeferred


@dataclass(frozen=True)
class Record(ResolvesDeferred):
    latex: object
    parts: tuple = ()
    plain: list | None = None


def counting(value, counter):
    def make():
        counter.append(value)
        return value
    return Deferred(make)


def test_a_field_is_computed_on_first_read_and_kept():
    calls = []
    r = Record(counting("x^2", calls), ("a", counting("b", calls)))
    assert calls == []
    assert r.latex == "x^2"
    assert r.latex == "x^2"
    assert calls == ["x^2"]
    assert r.parts == ("a", "b")
    assert calls == ["x^2", "b"]


def test_pickling_computes_every_field():
    calls = []
    r = Record(counting("y", calls), (counting("p", calls),))
    back = pickle.loads(pickle.dumps(r))
    assert sorted(calls) == ["p", "y"]
    assert back.latex == "y" and back.parts == ("p",)
    assert back == r


def test_deepcopy_prints_nothing_and_the_copy_reads_the_same():
    calls = []
    r = Record(counting("z", calls), ("a", counting("b", calls)), plain=[1, [2]])
    c = copy.deepcopy(r)
    assert calls == []  # copying a record does not print it
    assert c.latex == "z" and c.parts == ("a", "b")
    assert calls == ["z", "b"]
    # the copy is independent: reading it resolved the copy only, and mutable fields are copied
    assert type(object.__getattribute__(r, "latex")) is Deferred
    c.plain[1].append(3)
    assert r.plain == [1, [2]]
    assert r.latex == "z"


def test_deferred_needs_a_callable():
    with pytest.raises(TypeError, match="Deferred: make must be callable, got str"):
        Deferred("x^2")
