"""TikZ figures: deterministic text, validated input."""

from __future__ import annotations

from fractions import Fraction

import pytest

from convsym.render import figures


def test_grid_draws_one_rectangle_per_cell_with_its_fill():
    tikz = figures.grid([["in", "bad"], ["", "out"]], [["a", ""], ["", "b"]])
    assert tikz.startswith(r"\begin{tikzpicture}") and tikz.endswith(r"\end{tikzpicture}")
    assert tikz.count("rectangle") == 4
    assert rf"\filldraw[fill={figures.tint('vermillion', 0.6)}, draw=black!60] (1,1) rectangle (2,2);" in tikz
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
    assert len(_rectangles(tikz)) == n + 2 * k + (n - k + 1) + 3  # and the legend's three swatches
    taps = [ln for ln in lines if f"fill={figures.tint('orange', 0.55)}," in ln]
    assert [ln.split("(")[1].split(",")[0] for ln in taps][:k] == [str(position + a) for a in range(k)]
    # each kernel label sits under the input it multiplies
    for a in range(k):
        assert rf"at ({position + a}.45,2.325) {{$w_{{{a}}}$}};" in tikz
    assert sum(f"fill={figures.tint('green', 0.3)}," in ln for ln in lines) == 1 + 1  # and its legend swatch


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
    assert "$r = 2$, $K = 3$" in caption


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


# ---------------------------------------------------------------------------------------------
# palette, legends, the mechanism figures


def test_every_fill_is_an_okabe_ito_tint_defined_in_the_picture():
    tikz = figures.grid([["in", "kernel", "out"], ["bad", "pad", "hi"]])
    for name, (r, g, b) in figures.OKABE_ITO.items():
        assert rf"\definecolor{{okabe{name}}}{{RGB}}{{{r},{g},{b}}}" in tikz
    fills = {ln.split("fill=")[1].split(",")[0] for ln in tikz.splitlines() if "rectangle" in ln}
    assert fills <= {f"okabe{name}!{p}" for name in figures.OKABE_ITO for p in range(1, 101)}
    assert all(fill.startswith("okabe") for fill in figures.PALETTE)


def test_the_wrong_cells_are_hatched_not_only_coloured():
    plain = figures.grid([["out"]])
    hatched = figures.grid([["bad"]])
    assert "line width=0.3pt" not in plain
    # three cells of height 1 hatched every third: five diagonal segments inside the cell
    segments = [ln for ln in hatched.splitlines() if "line width=0.3pt" in ln]
    assert len(segments) == 5
    for ln in segments:
        coords = [float(v) for pair in ln.split("(")[1:] for v in pair.split(")")[0].split(",")]
        assert all(0 <= v <= 1 for v in coords)


def test_a_grid_key_draws_one_swatch_and_text_per_entry():
    tikz = figures.grid([["out", "bad"]], key=[("out", "equal"), ("bad", "different")])
    assert "{equal};" in tikz and "{different};" in tikz
    assert len(_rectangles(tikz)) == 2 + 2


@pytest.mark.parametrize(("kernels", "strides"), [((3, 3), (1, 1)), ((3, 3), (2, 1)), ((2, 3, 2), (1, 2, 2))])
def test_receptive_field_stack_shades_what_convsym_shapes_counts(kernels, strides):
    from convsym.shapes import receptive_field

    field, _ = receptive_field(list(kernels), list(strides))
    tikz = figures.receptive_field_stack(kernels, strides, n=field + 3)
    shaded_inputs = [ln for ln in tikz.splitlines()
                     if f"fill={figures.tint('orange', 0.55)}," in ln and ",0) rectangle" in ln]
    assert len(shaded_inputs) == field
    assert f"read by $y_0$: {field} inputs" in tikz


def test_strip_rows_sets_boxes_operators_and_gaps():
    tikz = figures.strip_rows([("a", 0, [("in", "x_0"), ("op", "$+$"), None, ("bad", "y")])],
                              key=[("in", "input")])
    assert len(_rectangles(tikz)) == 2 + 1
    assert "{$x_0$};" in tikz and "{$+$};" in tikz and "{input};" in tikz


def test_im2col_picture_highlights_the_window_row():
    inputs = [["a", "b", "c"], ["d", "e", "f"], ["g", "h", "i"]]
    matrix = [["a", "b", "d", "e"], ["b", "c", "e", "f"], ["d", "e", "g", "h"], ["e", "f", "h", "i"]]
    tikz = figures.im2col_picture(inputs, (1, 0), 2, matrix, 2, ["p", "q", "r", "s"])
    kernel_fill = f"fill={figures.tint('orange', 0.55)},"
    assert sum(kernel_fill in ln for ln in tikz.splitlines()) == 4 + 4 + 1  # window, row, legend


def test_kernel_sum_puts_plus_between_terms_and_equals_before_the_result():
    one = [[("in", "a")]]
    tikz = figures.kernel_sum([("x", one), ("y", one)], ("z", [[("out", "2a")]]))
    assert tikz.count("{$+$};") == 1 and tikz.count("{$=$};") == 1


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: figures.tint("red", 0.5), "unknown colour 'red'"),
        (lambda: figures.tint("orange", 0), r"strength=0 must be in \(0, 1\]"),
        (lambda: figures.receptive_field_stack((3,), (1, 1), 5), "1 kernels and 2 strides"),
        (lambda: figures.receptive_field_stack((3, 3), (1, 1), 4),
         "n=4 too small: layer 2 has 2 inputs for kernel 3"),
        (lambda: figures.im2col_picture([["a", "b"], ["c", "d"]], (0, 0), 2, [["a", "b", "d", "c"]], 0,
                                        ["p", "q", "r", "s"]), "row 0 is .* the window reads"),
        (lambda: figures.im2col_picture([["a", "b"], ["c", "d"]], (0, 0), 2, [["a", "b", "c", "d"]], 0,
                                        ["p"]), "1 kernel labels for k\\*k=4 taps"),
    ],
)
def test_bad_mechanism_figure_input_is_rejected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------------------------------------
# recorded data: whole-model totals and the validation report


def _totals(equal=True):
    entry = {"convsym": 1_819_065_856, "tool": 1_819_065_856 if equal else 1_819_065_857, "equal": equal,
             "quantity": "flops"}
    return {"tools": ["fvcore", "thop"],
            "architectures": [{"name": "resnet18", "tools": {"fvcore": entry}}]}


def test_model_totals_table_marks_equal_totals_and_shows_both_otherwise():
    from convsym.render.reports import model_totals_table

    table = model_totals_table(_totals())
    assert r"ResNet-18 & $1\,819.07\;{=}$ & \text{--} \\" in table
    assert r"\toprule" in table and r"\resizebox" not in table
    unequal = model_totals_table(_totals(equal=False))
    assert "{=}" not in unequal and "vs" in unequal


def test_bound_tex_writes_the_relations_and_rejects_what_it_does_not_know():
    from convsym.render.reports import bound_tex

    assert bound_tex("|W' - W S| <= gamma_7 |W S| and |b'| >= 0 (u = 2^-24)") == (
        r"$|W' - W S| \le \gamma_{7} |W S| \text{ and } |b'| \ge 0\ (u = 2^{-24})$")
    with pytest.raises(ValueError, match=r"bound_tex: unexpected character '\$' at 2"):
        bound_tex("a $x$")


def _node(op, original, theorem=None, rule="unchanged", bound=None):
    return {"node": f"/{op}", "op": op, "original": original, "status": "verified", "rule": rule,
            "theorem": theorem, "bound": bound}


def test_validation_groups_count_identical_rows_in_order():
    from convsym.render.reports import validation_groups

    nodes = [_node("Conv", ["/c1/Conv", "/bn1/BatchNormalization"], "folding.bn-after-conv-exact", "conv-chain",
                   "|W'| <= gamma_7 |W|"),
             _node("Relu", ["/r/Relu"]),
             _node("Conv", ["/c2/Conv", "/bn2/BatchNormalization"], "folding.bn-after-conv-exact", "conv-chain",
                   "|W'| <= gamma_7 |W|"),
             _node("Relu", ["/r2/Relu"])]
    groups = validation_groups(nodes)
    assert [(g["count"], g["op"], g["original"]) for g in groups] == [
        (2, "Conv", ["Conv", "BatchNormalization"]), (2, "Relu", ["Relu"])]


def test_validation_appendix_from_the_committed_report():
    import json
    from pathlib import Path

    from convsym.render.reports import validation_appendix

    data = json.loads((Path(__file__).resolve().parents[2] / "proofs" / "data" / "validation_resnet18.json")
                      .read_text(encoding="utf-8"))
    tex = validation_appendix(data)
    assert tex.startswith(r"\chapter{Validating an optimized network}\label{ch:validation}")
    total = len(data["nodes"])
    assert f"\n{total} &  & {data['counts']['verified']} verified" in tex
    assert "Conv from Conv + BatchNorm & verified & \\thmref{folding.bn-after-conv-exact}" in tex
    assert r"\thmref{folding.bn-after-conv-exact}" in tex
    assert "seed" not in tex and "tests/" not in tex
    assert validation_appendix(data) == tex
    with pytest.raises(ValueError, match="validation_appendix: the recorded data lacks the keys \\['nodes'\\]"):
        validation_appendix({k: v for k, v in data.items() if k != "nodes"})


def test_the_book_prints_the_report_only_with_the_theorems_it_cites():
    from convsym.run.build import validation_report_tex

    assert validation_report_tex([]) is None
    assert validation_report_tex(["merge.sequential-1d"]) is None
    tex = validation_report_tex(["folding.bn-after-conv-exact", "merge.sequential-1d"])
    assert tex is not None and tex.startswith("% generated by convsym build; do not edit\n\\chapter{Validating")
