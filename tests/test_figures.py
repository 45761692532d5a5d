"""TikZ figures: deterministic text, validated input."""

from __future__ import annotations

import pytest

from convsym.render import figures


def test_grid_draws_one_rectangle_per_cell_with_its_fill():
    tikz = figures.grid([["in", "bad"], ["", "out"]], [["a", ""], ["", "b"]])
    assert tikz.startswith(r"\begin{tikzpicture}") and tikz.endswith(r"\end{tikzpicture}")
    assert tikz.count("rectangle") == 4
    assert r"\filldraw[fill=red!45, draw=black!60] (1,1) rectangle (2,2);" in tikz
    assert r"{$a$}" in tikz and r"{$b$}" in tikz


def test_receptive_field_highlights_k1_plus_k2_minus_1_inputs():
    tikz = figures.receptive_field_1d(2, 4)
    hot_inputs = [line for line in tikz.splitlines() if "orange" in line and ",0) rectangle" in line]
    assert len(hot_inputs) == 2 + 4 - 1


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: figures.grid([["purple"]]), "unknown cell kind 'purple'"),
        (lambda: figures.sliding_window_1d(5, 3, 3), r"position=3 outside 0..2"),
        (lambda: figures.receptive_field_1d(3, 3, n=4), "n=4 too small for k1=3, k2=3"),
    ],
)
def test_bad_figure_input_is_rejected(call, message):
    with pytest.raises(ValueError, match=message):
        call()
