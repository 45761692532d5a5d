"""Loading the proof scripts reads no check's source: prove never needs it, build does."""

import convsym.proof.sources as sources
from convsym.run import registry


def test_loading_the_proofs_reads_no_check_source(monkeypatch):
    read = []
    original = sources._function_source
    monkeypatch.setattr(sources, "_function_source", lambda owner, fn: read.append(owner) or original(owner, fn))
    files = registry.proof_files()
    theorems = [t for f in files for t in f.theorems]
    assert len(theorems) >= 100 and read == []
    # a source is read on first use, once
    with_functions = next(t for t in theorems if not isinstance(t._check_spec, str))
    text = with_functions.check_source
    assert "def test_" in text and read
    count = len(read)
    assert with_functions.check_source is text and len(read) == count


def test_a_theorem_is_recognised_by_its_attributes_without_computing_them():
    class Duck:
        name = "toy.duck"

        def prove(self):
            raise AssertionError("not called")

        @property
        def check_source(self):
            raise AssertionError("not read")

    assert registry.is_theorem(Duck())
    assert not registry.is_theorem(Duck)

    class NoSource:
        name = "toy.x"

        def prove(self):
            return None

    assert not registry.is_theorem(NoSource())
