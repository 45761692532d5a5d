"""TikZ figures drawn from the data a proof uses (sizes, masks, witnesses).

Each function returns the TikZ code of one ``tikzpicture``; a theorem's ``figure`` callable
computes the data (e.g. which output entries of an exact instance differ) and calls one of
these.  Output is deterministic text: coordinates are integers or fixed decimals.
"""

from __future__ import annotations

from collections.abc import Sequence

_FILLS = {
    "": "white",
    "in": "blue!12",
    "kernel": "orange!35",
    "out": "green!20",
    "bad": "red!45",
    "pad": "gray!15",
    "hi": "yellow!50",
}


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


def sliding_window_1d(n: int, k: int, position: int) -> str:
    """A length-``k`` kernel over a length-``n`` input at output ``position``: the taps it reads."""
    if not 0 <= position <= n - k:
        raise ValueError(f"sliding_window_1d: position={position} outside 0..{n - k}")
    cells = [["kernel" if position <= j < position + k else "in" for j in range(n)],
             ["out" if j == position else "" for j in range(n - k + 1)]]
    labels = [[f"x_{{{j}}}" for j in range(n)], [f"y_{{{j}}}" for j in range(n - k + 1)]]
    return grid(cells, labels, size=0.7)
