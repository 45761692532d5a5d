"""``convsym list`` from a cache keyed by the bytes it depends on (never stale, never required)."""

from __future__ import annotations

import pytest

from convsym.run import registry

TUTORIAL = registry.default_proof_dir() / "tutorial.py"
FIRST = ("tutorial", "tutorial.linear-in-input", "proved", "Convolution is linear in its input")


@pytest.fixture
def toy(tmp_path, monkeypatch):
    folder = tmp_path / "proofs"
    folder.mkdir()
    (folder / "toy.py").write_text(TUTORIAL.read_text())
    monkeypatch.setenv(registry.CACHE_ENV, str(tmp_path / "cache"))
    return folder


def test_the_listing_is_the_loaded_one(toy):
    rows = registry.listing([toy])
    assert rows[0] == FIRST and [r[1] for r in rows] == ["tutorial.linear-in-input", "tutorial.linear-exact"]
    assert len(list((toy.parent / "cache").glob("list-*.json"))) == 1


def test_an_unchanged_tree_is_listed_without_loading_it(toy, monkeypatch):
    first = registry.listing([toy])

    def refuse(*args, **kwargs):
        raise AssertionError("the scripts were loaded although nothing changed")

    monkeypatch.setattr(registry, "load_families", refuse)
    assert registry.listing([toy]) == first


def test_an_edited_script_is_loaded_again(toy):
    registry.listing([toy])
    (toy / "toy.py").write_text(TUTORIAL.read_text().replace('"tutorial.linear-in-input"', '"tutorial.renamed"'))
    assert registry.listing([toy])[0][1] == "tutorial.renamed"


def test_an_unreadable_cache_is_ignored(toy):
    registry.listing([toy])
    for entry in (toy.parent / "cache").glob("list-*.json"):
        entry.write_text("{not json")
    assert registry.listing([toy])[0] == FIRST


def test_no_cache_when_the_variable_is_empty(toy, monkeypatch):
    monkeypatch.setenv(registry.CACHE_ENV, "")
    assert registry.cache_dir() is None
    assert registry.listing([toy])[0] == FIRST
    assert not (toy.parent / "cache").exists()


def test_a_missing_folder_is_an_error_that_names_it(tmp_path):
    with pytest.raises(ValueError, match=r"proof path '.*nowhere' does not exist"):
        registry.listing([tmp_path / "nowhere"])
