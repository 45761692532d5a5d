"""TikZ figures drawn from the data a proof uses (sizes, masks, witnesses).

Each function returns the TikZ code of one ``tikzpicture``; a theorem's ``figure`` callable
computes the data (e.g. which output entries of an exact instance differ) and calls one of
these.  Output is deterministic text: coordinates are integers or fixed decimals.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

_FILLS = {
    "": "white",
    "in": "blue!12",
    "kernel": "orange!35",
    "out": "green!20",
    "bad": "red!45",
    "pad": "gray!15",
    "hi": "yellow!50",
}


def _num(v: float) -> str:
    """A coordinate as fixed text: integers bare, others with at most three decimals."""
    text = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _box(fill: str, x0: float, y0: float, x1: float, y1: float) -> str:
    return rf"\filldraw[fill={fill}, draw=black!60] ({_num(x0)},{_num(y0)}) rectangle ({_num(x1)},{_num(y1)});"


def _node(x: float, y: float, text: str, font: str = r"\scriptsize", where: str = "") -> str:
    options = f"{where}, font={font}" if where else f"font={font}"
    return rf"\node[{options}, inner sep=1pt] at ({_num(x)},{_num(y)}) {{{text}}};"


def _fill(kind: str) -> str:
    if kind not in _FILLS:
        raise ValueError(f"figures: unknown cell kind {kind!r}; valid: {sorted(_FILLS)}")
    return _FILLS[kind]


def grid(cells: Sequence[Sequence[str]], labels: Sequence[Sequence[str]] | None = None,
         size: float = 0.5, title: str = "") -> str:
    """A rectangular grid; ``cells[r][c]`` is a kind (``in``, ``kernel``, ``out``, ``bad``,
    ``pad``, ``hi`` or empty) and ``labels[r][c]`` optional math text."""
    rows = len(cells)
    lines = [rf"\begin{{tikzpicture}}[x={size}cm, y={size}cm]"]
    for r, row in enumerate(cells):
        for c, kind in enumerate(row):
            y = rows - 1 - r
            lines.append(rf"\filldraw[fill={_fill(kind)}, draw=black!60] ({c},{y}) rectangle ({c + 1},{y + 1});")
            if labels is not None and labels[r][c]:
                lines.append(rf"\node[font=\tiny] at ({c + 0.5},{y + 0.5}) {{${labels[r][c]}$}};")
    if title:
        width = max(len(r) for r in cells)
        lines.append(rf"\node[above, font=\small] at ({width / 2:.2f},{rows}) {{{title}}};")
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines)


def side_by_side(*pictures: str) -> str:
    """Several pictures on one line, separated by a quad."""
    return "\n\\quad\n".join(pictures)


def receptive_field_1d(k1: int, k2: int, n: int | None = None) -> str:
    """Three rows (input ``x``, intermediate ``h``, output ``y``) of two 1-D convolutions in a row,
    with the lines from ``y_0`` to the ``k2`` entries of ``h`` it reads and from those to the
    ``k1 + k2 - 1`` entries of ``x`` they read: the merged kernel's receptive field."""
    n = n if n is not None else k1 + k2 + 1
    nh, ny = n - k1 + 1, n - k1 - k2 + 2
    if ny < 1:
        raise ValueError(f"receptive_field_1d: n={n} too small for k1={k1}, k2={k2}")
    lines = [r"\begin{tikzpicture}[x=0.75cm, y=1cm]"]
    rows = (("x", n, 0, "in"), ("h", nh, 1.5, ""), ("y", ny, 3, "out"))
    reach_h, reach_x = set(range(k2)), set(range(k1 + k2 - 1))
    for name, count, y, kind in rows:
        for j in range(count):
            hot = (name == "y" and j == 0) or (name == "h" and j in reach_h) or (name == "x" and j in reach_x)
            fill = _fill("kernel" if hot else kind)
            lines.append(rf"\filldraw[fill={fill}, draw=black!60] ({j},{y}) rectangle ({j + 0.8},{y + 0.6});")
            lines.append(rf"\node[font=\scriptsize] at ({j + 0.4},{y + 0.3}) {{${name}_{{{j}}}$}};")
    for b in range(k2):
        lines.append(rf"\draw[black!50] (0.4,3) -- ({b + 0.4},2.1);")
        for a in range(k1):
            lines.append(rf"\draw[black!30] ({b + 0.4},1.5) -- ({a + b + 0.4},0.6);")
    lines.append(rf"\node[right, font=\small] at ({n + 0.2},0.3) {{input}};")
    lines.append(rf"\node[right, font=\small] at ({n + 0.2},1.8) {{$k_1={k1}$}};")
    lines.append(rf"\node[right, font=\small] at ({n + 0.2},3.3) {{$k_2={k2}$}};")
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines)


def sliding_window_1d(n: int, k: int, position: int,
                      kernel_rows: Sequence[tuple[str, Sequence[str]]] = (),
                      output_label: str = "y") -> str:
    """A length-``k`` kernel over a length-``n`` input at output ``position``.

    Rows from the top: the input ``x_0 .. x_{n-1}`` with the ``k`` taps the window reads
    highlighted; one row per ``(name, labels)`` of ``kernel_rows``, its ``k`` labels (math)
    set under the taps they multiply; the ``n - k + 1`` outputs, the one at ``position``
    highlighted.
    """
    if not 1 <= k <= n:
        raise ValueError(f"sliding_window_1d: k={k} must be in 1..n={n}")
    if not 0 <= position <= n - k:
        raise ValueError(f"sliding_window_1d: position={position} outside 0..{n - k}")
    for name, labels in kernel_rows:
        if len(labels) != k:
            raise ValueError(
                f"sliding_window_1d: kernel row {name!r} has {len(labels)} labels, expected k={k}"
            )
    rows = len(kernel_rows) + 2
    lines = [r"\begin{tikzpicture}[x=0.95cm, y=0.8cm]"]

    def row(r: int, name: str, cells: Sequence[tuple[int, str, str]]) -> None:
        y = rows - 1 - r
        lines.append(_node(-0.15, y + 0.325, name, r"\small", "left"))
        for col, kind, label in cells:
            lines.append(_box(_fill(kind), col, y, col + 0.9, y + 0.65))
            lines.append(_node(col + 0.45, y + 0.325, f"${label}$"))

    row(0, "input", [(j, "kernel" if position <= j < position + k else "in", f"x_{{{j}}}")
                     for j in range(n)])
    for r, (name, labels) in enumerate(kernel_rows, start=1):
        row(r, f"${name}$", [(position + tap, "hi", label) for tap, label in enumerate(labels)])
    row(rows - 1, "output", [(j, "out" if j == position else "", f"{output_label}_{{{j}}}")
                             for j in range(n - k + 1)])
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines)


#: Distinct fills for channels and data series, in order.
PALETTE = ("blue!30", "orange!45", "green!35", "red!30", "violet!30", "yellow!60", "cyan!30",
           "brown!35", "gray!35")


def weight_map(sources: Sequence[Sequence[Sequence[str]]],
               merged: Sequence[Sequence[tuple[int, str]]],
               source_titles: Sequence[str] | None = None, merged_title: str = "") -> str:
    """Where each weight of several small kernels lands in one large kernel.

    ``sources[c][u][v]`` is the label (math) of weight ``(u, v)`` of kernel ``c``, drawn in
    colour ``c`` of :data:`PALETTE`, the kernels in rows of ``ceil(sqrt(len(sources)))``;
    ``merged[r][q] = (c, label)`` says that cell ``(r, q)`` of the large kernel holds the weight
    ``label`` of kernel ``c``: it gets kernel ``c``'s colour and that label.  Titles are text
    (math between dollars); a source title may have two lines separated by ``\\\\``.
    """
    count = len(sources)
    if not 1 <= count <= len(PALETTE):
        raise ValueError(f"weight_map: {count} source kernels; 1 to {len(PALETTE)} can be told apart")
    if source_titles is not None and len(source_titles) != count:
        raise ValueError(f"weight_map: {len(source_titles)} titles for {count} source kernels")
    for r, cells in enumerate(merged):
        for q, (c, label) in enumerate(cells):
            if not 0 <= c < count:
                raise ValueError(f"weight_map: merged cell ({r}, {q}) comes from kernel {c}, not 0..{count - 1}")
            if not any(label in src_row for src_row in sources[c]):
                raise ValueError(f"weight_map: merged cell ({r}, {q}) holds {label!r}, which kernel {c} lacks")
    per_row = 1
    while per_row * per_row < count:
        per_row += 1
    block_rows = -(-count // per_row)
    kh = max(len(src) for src in sources)
    kw = max(len(cells) for src in sources for cells in src)
    gap = 1.6 if source_titles is not None else 0.8
    height = block_rows * (kh + gap) - gap
    left = per_row * (kw + gap) - gap
    lines = [r"\begin{tikzpicture}[x=0.62cm, y=0.62cm]"]

    def draw(x0: float, y0: float, cells: Sequence[Sequence[tuple[int, str]]]) -> None:
        for r, row in enumerate(cells):
            for q, (c, label) in enumerate(row):
                x, y = x0 + q, y0 + len(cells) - 1 - r
                lines.append(_box(PALETTE[c], x, y, x + 1, y + 1))
                lines.append(_node(x + 0.5, y + 0.5, f"${label}$", r"\tiny"))

    for c, src in enumerate(sources):
        br, bc = divmod(c, per_row)
        x0, y0 = bc * (kw + gap), height - (br + 1) * kh - br * gap
        draw(x0, y0, [[(c, label) for label in row] for row in src])
        if source_titles is not None:
            lines.append(_node(x0 + kw / 2, y0 + kh + 0.1, source_titles[c], r"\scriptsize", "above, align=center"))
    mx, my = left + 2.2, (height - len(merged)) / 2
    lines.append(rf"\draw[->, thick] ({_num(left + 0.3)},{_num(height / 2)}) -- ({_num(mx - 0.3)},{_num(height / 2)});")
    draw(mx, my, merged)
    if merged_title:
        width = max(len(row) for row in merged)
        lines.append(_node(mx + width / 2, my + len(merged) + 0.1, merged_title, where="above"))
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines)


Number = int | float | Fraction


def _height(value: Number) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Fraction):
        raise TypeError(f"grouped_bars: values must be int, float or Fraction, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"grouped_bars: values must be >= 0, got {value}")
    return float(value)


def exact_label(value: Number) -> str:
    r"""The LaTeX of a bar's value: ``3``, ``\tfrac{1}{2}``, floats to three digits."""
    if isinstance(value, Fraction) and value.denominator != 1:
        return rf"\tfrac{{{value.numerator}}}{{{value.denominator}}}"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(int(value))


def grouped_bars(values: Sequence[Sequence[Number]], series: Sequence[str], groups: Sequence[str],
                 title: str = "", unit: float = 0.3, top: Number | None = None) -> str:
    """Bars of ``values[g][s]`` (non-negative): a group of bars per ``groups[g]``, a colour of
    :data:`PALETTE` per ``series[s]`` (with a legend), each bar labelled with its exact value.

    ``unit`` is the height in cm of the value 1; ``top`` (default: the largest value) sets the
    height of the frame, so that pictures drawn with the same ``top`` line up side by side.
    """
    if len(values) != len(groups):
        raise ValueError(f"grouped_bars: {len(values)} groups of values for {len(groups)} group labels")
    if not 1 <= len(series) <= len(PALETTE):
        raise ValueError(f"grouped_bars: {len(series)} series; 1 to {len(PALETTE)} can be told apart")
    for g, row in enumerate(values):
        if len(row) != len(series):
            raise ValueError(f"grouped_bars: group {g} has {len(row)} values for {len(series)} series")
    heights = [[_height(v) for v in row] for row in values]
    peak = _height(top) if top is not None else max(h for row in heights for h in row)
    width, gap = 0.45, 0.5
    group_width = width * len(series)
    right = len(values) * (group_width + gap) - gap
    # baseline 0: pictures side by side line up on their bars' base line
    lines = [rf"\begin{{tikzpicture}}[x=1cm, y={unit}cm, baseline=0]"]
    for g, row in enumerate(values):
        x0 = g * (group_width + gap)
        for s, value in enumerate(row):
            x, h = x0 + s * width, heights[g][s]
            lines.append(_box(PALETTE[s], x, 0, x + width, h))
            lines.append(_node(x + width / 2, h, f"${exact_label(value)}$", r"\tiny", "above"))
        lines.append(_node(x0 + group_width / 2, -0.1 / unit, groups[g], where="below"))
    lines.append(rf"\draw[black!70] (-0.1,0) -- ({_num(right + 0.1)},0);")
    lines.append(rf"\path (0,{_num(peak + 0.5 / unit)});")
    if title:
        lines.append(_node(right / 2, peak + 0.5 / unit, title, r"\small", "above"))
    # the legend: one entry a series, in a row under the group labels (lengths in cm)
    legend_y, box = -0.95 / unit, 0.25 / unit
    for s, name in enumerate(series):
        x = s * right / len(series)
        lines.append(_box(PALETTE[s], x, legend_y, x + 0.25, legend_y + box))
        lines.append(_node(x + 0.32, legend_y + box / 2, name, where="right"))
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines)


def table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str,
          footer: Sequence[Sequence[str]] = ()) -> str:
    r"""A table as the book sets tables, for a theorem's ``figure``: ``booktabs`` rules and
    ``\small`` type (never smaller, never scaled); a ``tabular``, kept whole with its caption.

    ``header`` and every row are cells in LaTeX (text; math between ``$...$``); ``align`` has one
    column letter (``l``, ``r``, ``c``) per cell; ``footer`` rows come after a rule (totals).

    >>> print(table(["layer", "MACs"], [["conv1", "$118\\,013\\,952$"]], "lr"))
    {\small
    \begin{tabular}{@{}lr@{}}
    \toprule
    layer & MACs \\
    \midrule
    conv1 & $118\,013\,952$ \\
    \bottomrule
    \end{tabular}}
    """
    if not align or set(align) - set("lrc"):
        raise ValueError(f"table: align must be column letters l, r or c, got {align!r}")
    for where, cells in [("header", header), *((f"row {i}", r) for i, r in enumerate([*rows, *footer]))]:
        if len(cells) != len(align):
            raise ValueError(f"table: {where} has {len(cells)} cells for {len(align)} columns "
                             f"({align!r}): {list(cells)!r}")
    lines = [r"{\small", rf"\begin{{tabular}}{{@{{}}{align}@{{}}}}", r"\toprule", " & ".join(header) + r" \\",
             r"\midrule"]
    lines += [" & ".join(r) + r" \\" for r in rows]
    if footer:
        lines.append(r"\midrule")
        lines += [" & ".join(r) + r" \\" for r in footer]
    lines += [r"\bottomrule", r"\end{tabular}}"]
    return "\n".join(lines)
