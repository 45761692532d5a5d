"""TikZ figures: deterministic text, validated input."""

from __future__ import annotations

from fractions import Fraction

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


# ---------------------------------------------------------------------------------------------
# sliding window, weight map, bars


def _rectangles(tikz: str) -> list[str]:
    return [line for line in tikz.splitlines() if "rectangle" in line]


@pytest.mark.parametrize(("n", "k", "position"), [(5, 3, 0), (7, 3, 2), (4, 4, 0), (6, 1, 5)])
def test_sliding_window_reads_k_taps_at_its_position(n, k, position):
    rows = [("w", [f"w_{{{a}}}" for a in range(k)]), (r"\bar{w}", [f"v_{{{a}}}" for a in range(k)])]
    tikz = figures.sliding_window_1d(n, k, position, rows)
    lines = tikz.splitlines()
    # input, two kernel rows, output
    assert len(_rectangles(tikz)) == n + 2 * k + (n - k + 1)
    taps = [ln for ln in lines if "orange!35" in ln]
    assert [ln.split("(")[1].split(",")[0] for ln in taps] == [str(position + a) for a in range(k)]
    # each kernel label sits under the input it multiplies
    for a in range(k):
        assert rf"at ({position + a}.45,2.325) {{$w_{{{a}}}$}};" in tikz
    assert sum("green!20" in ln for ln in lines) == 1


def test_weight_map_colours_each_cell_by_its_source_kernel():
    sources = [[["a", "b"]], [["c", "d"]]]
    merged = [[(0, "a"), (1, "c"), (0, "b"), (1, "d")]]
    tikz = figures.weight_map(sources, merged, ["one", "two"], "merged")
    lines = tikz.splitlines()
    assert len(_rectangles(tikz)) == 4 + 4
    fills = [ln.split("fill=")[1].split(",")[0] for ln in lines if "rectangle" in ln]
    # the two sources, then the merged row in the order of its cells
    assert fills == [figures.PALETTE[c] for c in (0, 0, 1, 1, 0, 1, 0, 1)]
    for label in ("one", "two", "merged"):
        assert f"{{{label}}};" in tikz


@pytest.mark.parametrize(
    ("values", "series", "groups", "top"),
    [
        ([[4, 1], [1, 4]], ["a", "b"], ["0", "1"], None),
        ([[Fraction(1, 2)], [Fraction(9, 2)]], ["r"], ["x", "y"], 9),
    ],
)
def test_grouped_bars_heights_and_exact_labels(values, series, groups, top):
    tikz = figures.grouped_bars(values, series, groups, "title", unit=0.25, top=top)
    bars = [ln for ln in _rectangles(tikz)][: len(values) * len(series)]
    heights = [ln.rsplit(",", 1)[1].rstrip(");") for ln in bars]
    assert [float(h) for h in heights] == [float(v) for row in values for v in row]
    for row in values:
        for v in row:
            assert f"{{${figures.exact_label(v)}$}};" in tikz
    peak = float(top if top is not None else max(max(r) for r in values))
    assert rf"\path (0,{peak + 0.5 / 0.25:g});" in tikz


@pytest.mark.parametrize(
    ("value", "label"),
    [(3, "3"), (Fraction(6, 2), "3"), (Fraction(1, 2), r"\tfrac{1}{2}"), (0.125, "0.125")],
)
def test_exact_label(value, label):
    assert figures.exact_label(value) == label


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: figures.sliding_window_1d(5, 3, 1, [("w", ["a", "b"])]), ValueError,
         r"kernel row 'w' has 2 labels, expected k=3"),
        (lambda: figures.sliding_window_1d(3, 4, 0), ValueError, r"k=4 must be in 1..n=3"),
        (lambda: figures.weight_map([[["a"]]], [[(1, "a")]]), ValueError,
         r"merged cell \(0, 0\) comes from kernel 1, not 0..0"),
        (lambda: figures.weight_map([[["a"]]], [[(0, "z")]]), ValueError,
         r"merged cell \(0, 0\) holds 'z', which kernel 0 lacks"),
        (lambda: figures.weight_map([[["a"]]] * 10, []), ValueError, r"10 source kernels"),
        (lambda: figures.grouped_bars([[1]], ["a"], ["x", "y"]), ValueError, r"1 groups of values for 2 group"),
        (lambda: figures.grouped_bars([[1, 2]], ["a"], ["x"]), ValueError, r"group 0 has 2 values for 1 series"),
        (lambda: figures.grouped_bars([[-1]], ["a"], ["x"]), ValueError, r"values must be >= 0, got -1"),
        (lambda: figures.grouped_bars([["1"]], ["a"], ["x"]), TypeError, r"must be int, float or Fraction, got str"),
    ],
)
def test_bad_new_figure_input_is_rejected(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------------------------------------
# the figures of the proof scripts, drawn from the proofs' own data


def _theorem(name: str):
    from convsym.run.registry import proof_files

    return next(t for pf in proof_files() for t in pf.theorems if t.name == name)


def _cells(tikz: str) -> dict[tuple[float, float], tuple[str, str]]:
    """``{(x, y) of the lower-left corner: (fill, label)}`` of every labelled cell."""
    lines = tikz.splitlines()
    cells = {}
    for box, node in zip(lines, lines[1:], strict=False):
        if "rectangle" in box and node.startswith(r"\node"):
            x, y = (float(v) for v in box.split(") rectangle")[0].rsplit("(", 1)[1].split(","))
            cells[(x, y)] = (box.split("fill=")[1].split(",")[0], node.rsplit("{$", 1)[1].split("$}")[0])
    return cells


def test_space_to_depth_figure_follows_the_weight_map():
    tikz, caption = _theorem("equivalences.space-to-depth").figure({})
    C, K = 2, 3
    cells = _cells(tikz)
    merged_x0 = max(x for x, _ in cells) - (C * K - 1)
    merged = {(x, y): v for (x, y), v in cells.items() if x >= merged_x0}
    assert len(merged) == (C * K) ** 2
    y_top = max(y for _, y in merged)
    for (x, y), (fill, label) in merged.items():
        row, col = round(y_top - y), round(x - merged_x0)
        u, a, v, b = row // C, row % C, col // C, col % C
        # W'[o, 0, C u + a, C v + b] = W[o, a C + b, u, v]
        assert (fill, label) == (figures.PALETTE[a * C + b], f"{u}{v}")
    assert "$C = 2$, $K = 3$" in caption


def test_equalization_figure_balances_the_ranges():
    tikz, caption = _theorem("folding.cle-equalized-ranges").figure({})
    before, after = tikz.split(r"\end{tikzpicture}")[:2]
    assert [ln.split("{$")[1].split("$}")[0] for ln in before.splitlines() if "font=\\tiny" in ln] == \
        ["4", "1", "1", "4", "9", "1", "2", "8"]
    assert [ln.split("{$")[1].split("$}")[0] for ln in after.splitlines() if "font=\\tiny" in ln] == \
        ["2", "2", "2", "2", "3", "3", "4", "4"]
    assert r"$s = (2, \tfrac{1}{2}, 3, \tfrac{1}{2})$" in caption


def test_flip_figure_reads_the_kernel_backwards():
    tikz, _ = _theorem("equivalences.true-conv-flip").figure({})
    labels = [ln.rsplit("{$", 1)[1].split("$}")[0] for ln in tikz.splitlines() if "yellow" not in ln
              and ln.startswith(r"\node[font")]
    assert labels[7:10] == ["{\\bar{w}}_{0}", "{\\bar{w}}_{1}", "{\\bar{w}}_{2}"]
    assert labels[10:13] == ["{w}_{2}", "{w}_{1}", "{w}_{0}"]
