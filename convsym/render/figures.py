"""TikZ figures drawn from the data a proof uses (sizes, masks, witnesses).

Each function returns the TikZ code of one ``tikzpicture``; a theorem's ``figure`` callable
computes the data (e.g. which output entries of an exact instance differ) and calls one of
these.  Output is deterministic text: coordinates are integers or fixed decimals.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

#: The Okabe-Ito palette (Okabe and Ito, "Color Universal Design"): told apart by readers with
#: any common colour-vision deficiency.  RGB in 0..255.
OKABE_ITO = {
    "orange": (230, 159, 0), "skyblue": (86, 180, 233), "green": (0, 158, 115),
    "yellow": (240, 228, 66), "blue": (0, 114, 178), "vermillion": (213, 94, 0),
    "purple": (204, 121, 167), "grey": (153, 153, 153),
}


def tint(name: str, strength: float) -> str:
    """An Okabe-Ito colour mixed with white (``strength`` 1 is the colour itself): the xcolor
    expression ``okabe<name>!<percent>`` (the colours are defined by every picture, see
    :func:`_begin`)."""
    if name not in OKABE_ITO:
        raise ValueError(f"tint: unknown colour {name!r}; valid: {sorted(OKABE_ITO)}")
    if not 0 < strength <= 1:
        raise ValueError(f"tint: strength={strength} must be in (0, 1]")
    return f"okabe{name}!{round(strength * 100)}"


def _begin(options: str) -> list[str]:
    """The first lines of a picture: ``\\begin{tikzpicture}[options]`` and the palette's colours
    (defined inside the picture, so a figure needs nothing from the preamble but TikZ)."""
    return [rf"\begin{{tikzpicture}}[{options}]",
            *(rf"\definecolor{{okabe{name}}}{{RGB}}{{{r},{g},{b}}}" for name, (r, g, b) in OKABE_ITO.items())]


_FILLS = {
    "": "white",
    "in": tint("skyblue", 0.3),
    "kernel": tint("orange", 0.55),
    "out": tint("green", 0.3),
    "bad": tint("vermillion", 0.6),
    "pad": tint("grey", 0.3),
    "hi": tint("yellow", 0.6),
}

#: Kinds drawn with a pattern as well as a colour, so that they read in grey print too.
_HATCHED = {"bad"}


def _num(v: float) -> str:
    """A coordinate as fixed text: integers bare, others with at most three decimals."""
    text = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _box(fill: str, x0: float, y0: float, x1: float, y1: float) -> str:
    return rf"\filldraw[fill={fill}, draw=black!60] ({_num(x0)},{_num(y0)}) rectangle ({_num(x1)},{_num(y1)});"


def _hatch(x0: float, y0: float, x1: float, y1: float, step: float = 0.25) -> list[str]:
    """Diagonal lines (lower left to upper right) across a rectangle, ``step`` apart, clipped to it."""
    lines, w, h = [], x1 - x0, y1 - y0
    t = step
    while t < w + h - 1e-9:
        # the line x - x0 + y - y0 = t, clipped to the rectangle
        ax, ay = x0 + min(t, w), y0 + max(0.0, t - w)
        bx, by = x0 + max(0.0, t - h), y0 + min(t, h)
        lines.append(rf"\draw[black!55, line width=0.3pt] ({_num(ax)},{_num(ay)}) -- ({_num(bx)},{_num(by)});")
        t += step
    return lines


def _cell(kind: str, x0: float, y0: float, x1: float, y1: float) -> list[str]:
    """A box of a kind: its fill, and its pattern for the kinds of :data:`_HATCHED`."""
    out = [_box(_fill(kind), x0, y0, x1, y1)]
    if kind in _HATCHED:
        out += _hatch(x0, y0, x1, y1, step=(y1 - y0) / 3)
    return out


def legend(entries: Sequence[tuple[str, str]], x: float, y: float, box: float = 0.3,
           spacing: float = 3.2, height: float | None = None) -> list[str]:
    """TikZ lines of a legend: for each ``(kind, text)`` a swatch of that kind (fill and pattern),
    ``box`` wide and ``height`` (default ``box``) high, and the text, in one row from ``(x, y)``,
    ``spacing`` units apart."""
    lines = []
    tall = box if height is None else height
    for i, (kind, text) in enumerate(entries):
        x0 = x + i * spacing
        lines += _cell(kind, x0, y, x0 + box, y + tall)
        lines.append(_node(x0 + box + 0.1 * box, y + tall / 2, text, r"\scriptsize", "right"))
    return lines


def _node(x: float, y: float, text: str, font: str = r"\scriptsize", where: str = "") -> str:
    options = f"{where}, font={font}" if where else f"font={font}"
    return rf"\node[{options}, inner sep=1pt] at ({_num(x)},{_num(y)}) {{{text}}};"


def _fill(kind: str) -> str:
    if kind not in _FILLS:
        raise ValueError(f"figures: unknown cell kind {kind!r}; valid: {sorted(_FILLS)}")
    return _FILLS[kind]


def grid(cells: Sequence[Sequence[str]], labels: Sequence[Sequence[str]] | None = None,
         size: float = 0.5, title: str = "", key: Sequence[tuple[str, str]] = ()) -> str:
    """A rectangular grid; ``cells[r][c]`` is a kind (``in``, ``kernel``, ``out``, ``bad``,
    ``pad``, ``hi`` or empty) and ``labels[r][c]`` optional math text; ``key`` is a legend,
    ``(kind, text)`` pairs set in rows of two under the grid."""
    rows = len(cells)
    lines = _begin(f"x={size}cm, y={size}cm")
    for r, row in enumerate(cells):
        for c, kind in enumerate(row):
            y = rows - 1 - r
            lines += _cell(kind, c, y, c + 1, y + 1)
            if labels is not None and labels[r][c]:
                lines.append(rf"\node[font=\tiny] at ({c + 0.5},{y + 0.5}) {{${labels[r][c]}$}};")
    if title:
        width = max(len(r) for r in cells)
        lines.append(rf"\node[above, font=\small] at ({width / 2:.2f},{rows}) {{{title}}};")
    spacing = max(max(len(r) for r in cells) / 2, 2.5 / size)
    for i in range(0, len(key), 2):
        lines += legend(key[i:i + 2], 0, -1.3 - 1.1 * (i // 2), box=0.7, spacing=spacing)
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
    lines = _begin("x=0.75cm, y=1cm")
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
    lines = _begin("x=0.95cm, y=0.8cm")

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
    lines += legend([("kernel", "inputs the window reads"), ("hi", "kernel taps"),
                     ("out", f"the output ${output_label}_{{{position}}}$")],
                    0, -0.6, box=0.3, spacing=4.2, height=0.35)
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines)


#: Distinct fills for channels and data series, in order.
PALETTE = tuple(tint(name, strength) for name, strength in (
    ("skyblue", 0.45), ("orange", 0.55), ("green", 0.4), ("purple", 0.45), ("yellow", 0.7),
    ("blue", 0.35), ("vermillion", 0.4), ("grey", 0.45), ("skyblue", 0.15)))


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
    lines = _begin("x=0.62cm, y=0.62cm")

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
    lines = _begin(f"x=1cm, y={unit}cm, baseline=0")
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


Cell = tuple[str, str] | None


def strip_rows(rows: Sequence[tuple[str, float, Sequence[Cell]]], key: Sequence[tuple[str, str]] = (),
               cell: float = 0.9) -> str:
    """Rows of labelled boxes, one above the other: ``rows[r] = (name, offset, cells)``, the row's
    name (text) at the left, its cells from column ``offset`` on; a cell is ``(kind, label)``
    (a box of that kind, ``label`` math), ``("op", text)`` (text between boxes, no box) or None
    (an empty column).  ``key`` is the legend, set under the rows."""
    lines = _begin(f"x={cell}cm, y=0.75cm")
    count = len(rows)
    for r, (name, offset, cells) in enumerate(rows):
        y = count - 1 - r
        lines.append(_node(-0.15, y + 0.3, name, r"\small", "left"))
        for j, item in enumerate(cells):
            if item is None:
                continue
            kind, label = item
            x = offset + j
            if kind == "op":
                lines.append(_node(x + 0.45, y + 0.3, label, r"\small"))
                continue
            lines += _cell(kind, x, y, x + 0.9, y + 0.6)
            # a label over a hatched box is set smaller on a white ground, so that the lines show
            # around it and do not cross it
            hatched = kind in _HATCHED
            lines.append(_node(x + 0.45, y + 0.3, f"${label}$", r"\tiny" if hatched else r"\scriptsize",
                               "fill=white" if hatched else ""))
    if key:
        lines += legend(key, 0, -0.75, box=0.3 / cell, spacing=3.9 / cell, height=0.4)
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines)


def receptive_field_stack(kernels: Sequence[int], strides: Sequence[int], n: int) -> str:
    """The receptive field of one output of a stack of 1-D convolutions (no padding, dilation 1):
    row 0 the input (``n`` entries), row ``l`` the output of layer ``l`` (kernel ``kernels[l-1]``,
    stride ``strides[l-1]``); the entries that output 0 of the last layer depends on are shaded,
    with the lines from each shaded entry to the taps it reads."""
    if len(kernels) != len(strides) or not kernels:
        raise ValueError(f"receptive_field_stack: {len(kernels)} kernels and {len(strides)} strides")
    sizes = [n]
    for k, st in zip(kernels, strides, strict=True):
        if k < 1 or st < 1:
            raise ValueError(f"receptive_field_stack: kernel {k} and stride {st} must be >= 1")
        if sizes[-1] < k:
            raise ValueError(f"receptive_field_stack: n={n} too small: layer {len(sizes)} has {sizes[-1]} "
                             f"inputs for kernel {k}")
        sizes.append((sizes[-1] - k) // st + 1)
    reach = [set() for _ in sizes]
    reach[-1] = {0}
    for layer in range(len(kernels), 0, -1):
        k, st = kernels[layer - 1], strides[layer - 1]
        reach[layer - 1] = {st * i + a for i in reach[layer] for a in range(k)}
    # one intermediate is h, several are h^(1), h^(2), ...
    middle = [f"h^{{({i})}}" for i in range(1, len(kernels))] if len(kernels) > 2 else ["h"] * (len(kernels) - 1)
    names = ["x", *middle, "y"]
    lines = _begin("x=0.62cm, y=1.1cm")
    for level, count in enumerate(sizes):
        y = 1.4 * level
        for j in range(count):
            kind = ("kernel" if j in reach[level] else "in" if level == 0 else
                    "out" if level == len(sizes) - 1 else "")
            lines += _cell(kind, j, y, j + 0.8, y + 0.55)
            lines.append(_node(j + 0.4, y + 0.275, f"${names[level]}_{{{j}}}$", r"\tiny"))
        if level:
            k, st = kernels[level - 1], strides[level - 1]
            lines.append(_node(count + 0.3, y + 0.275, rf"$k_{{{level}}}={k},\ s_{{{level}}}={st}$", r"\scriptsize",
                               "right"))
            for i in sorted(reach[level]):
                for a in range(k):
                    lines.append(rf"\draw[black!45] ({_num(i + 0.4)},{_num(y)}) -- "
                                 rf"({_num(st * i + a + 0.4)},{_num(y - 0.85)});")
    lines.append(_node(sizes[0] + 0.3, 0.275, "input", r"\scriptsize", "right"))
    lines += legend([("kernel", f"read by $y_0$: {len(reach[0])} inputs"), ("in", "input"),
                     ("out", "output")], 0, -0.75, box=0.4, spacing=6, height=0.25)
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines)


def im2col_picture(inputs: Sequence[Sequence[str]], window: tuple[int, int], k: int,
                   matrix: Sequence[Sequence[str]], row: int, kernel: Sequence[str]) -> str:
    """An input grid with one ``k x k`` window (top-left corner ``window``), the im2col matrix
    (a row per window, a column per tap; ``matrix`` labels) with that window's row ``row``
    highlighted, times the flattened kernel ``kernel`` (a column): a convolution as a matrix
    product.  Every highlighted label of the row must be a label of the window."""
    r0, c0 = window
    taps = [inputs[r0 + u][c0 + v] for u in range(k) for v in range(k)]
    if list(matrix[row]) != taps:
        raise ValueError(f"im2col_picture: row {row} is {list(matrix[row])}, the window reads {taps}")
    if len(kernel) != k * k:
        raise ValueError(f"im2col_picture: {len(kernel)} kernel labels for k*k={k * k} taps")
    lines = _begin("x=0.62cm, y=0.5cm")
    n, m = len(inputs), len(matrix)
    top = max(n, m)
    for r, cells in enumerate(inputs):
        for c, label in enumerate(cells):
            kind = "kernel" if r0 <= r < r0 + k and c0 <= c < c0 + k else "in"
            y = top - 1 - r
            lines += _cell(kind, c, y, c + 1, y + 1)
            lines.append(_node(c + 0.5, y + 0.5, f"${label}$", r"\tiny"))
    lines.append(_node(len(inputs[0]) / 2, top + 0.1, "input $x$", r"\scriptsize", "above"))
    x0 = len(inputs[0]) + 2
    lines.append(rf"\draw[->, thick] ({_num(x0 - 1.6)},{_num(top - 1.5)}) -- ({_num(x0 - 0.3)},{_num(top - 1.5)});")
    for r, cells in enumerate(matrix):
        y = top - 1 - r
        for c, label in enumerate(cells):
            lines += _cell("kernel" if r == row else "", x0 + c, y, x0 + c + 1, y + 1)
            lines.append(_node(x0 + c + 0.5, y + 0.5, f"${label}$", r"\tiny"))
    width = len(matrix[0])
    lines.append(_node(x0 + width / 2, top + 0.1, "im2col matrix", r"\scriptsize", "above"))
    lines.append(_node(x0 + width + 0.6, top - m / 2, r"$\cdot$", r"\small"))
    xk = x0 + width + 1.6
    yk = top - (m - len(kernel)) / 2
    for t, label in enumerate(kernel):
        y = yk - 1 - t
        lines += _cell("hi", xk, y, xk + 1.2, y + 1)
        lines.append(_node(xk + 0.6, y + 0.5, f"${label}$", r"\tiny"))
    lines.append(_node(xk + 0.6, top + 0.1, "kernel", r"\scriptsize", "above"))
    lines += legend([("kernel", "one window = one matrix row"), ("hi", "flattened kernel")],
                    0, -1.6, box=0.6, spacing=9, height=0.75)
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines)


def kernel_sum(terms: Sequence[tuple[str, Sequence[Sequence[tuple[str, str]]]]],
               result: tuple[str, Sequence[Sequence[tuple[str, str]]]]) -> str:
    """Kernels added into one: ``terms[i] = (title, cells)`` with ``cells[r][c] = (kind, label)``
    (math), drawn left to right with ``+`` between them and ``=`` before ``result``."""
    pictures = [*terms, result]
    cw = 1.6  # cell width: the merged centre holds a sum
    height = max(len(cells) for _, cells in pictures)
    lines = _begin("x=0.62cm, y=0.62cm")
    x = 0.0
    for i, (title, cells) in enumerate(pictures):
        y0 = (height - len(cells)) / 2
        for r, row in enumerate(cells):
            for c, (kind, label) in enumerate(row):
                y = y0 + len(cells) - 1 - r
                lines += _cell(kind, x + c * cw, y, x + (c + 1) * cw, y + 1)
                lines.append(_node(x + (c + 0.5) * cw, y + 0.5, f"${label}$", r"\tiny"))
        width = cw * max(len(row) for row in cells)
        lines.append(_node(x + width / 2, height + 0.1, title, r"\scriptsize", "above, align=center"))
        x += width
        if i < len(pictures) - 1:
            lines.append(_node(x + 0.5, height / 2, "$=$" if i == len(pictures) - 2 else "$+$", r"\small"))
            x += 1.0
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines)
