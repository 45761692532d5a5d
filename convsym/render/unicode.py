"""LaTeX fragments as Unicode text, for the terminal (``convsym show``).

convsym writes its hypotheses, statements, steps and side conditions as LaTeX for the book.
:func:`latex_to_unicode` reads the fragments it produces back as plain text::

    k_{1}, k_{2} \\in \\mathbb{Z}_{\\ge 1}          ->  k₁, k₂ ∈ ℤ≥1
    \\{a \\geq 0 \\wedge a \\leq k_{1} - 1\\}      ->  {a ≥ 0 ∧ a ≤ k₁ - 1}
    \\sum_{a=0}^{k-1} w_{a} x_{i+a}             ->  Σ(a=0..k-1) wₐ x[i+a]
    \\frac{C_{in}}{g}                           ->  Cᵢₙ/g

It is a small recursive reader, not a TeX engine: commands become symbols (``\\wedge`` -> ``∧``,
Greek letters, ``\\mathbb{Z}`` -> ``ℤ``), ``\\text{...}``/``\\mathrm{...}`` their content, a
sub- or superscript becomes Unicode sub/superscript characters when every character has one
(``k_{1}`` -> ``k₁``, ``C_{in}`` -> ``Cᵢₙ``, ``w^{(1)}`` -> ``w⁽¹⁾``; a subscript only when it is
a name or a number), else an index in brackets (``x_{c,i,j}`` ->
``x[c,i,j]``) or, for one character, ``_c``/``^c``.  ``\\frac``, ``\\sqrt``, accents (``\\bar``,
``\\hat``, ``\\tilde``: combining marks), ``cases``, ``array`` and ``\\substack`` are laid out on
one line (an array: one line per row).  An unknown command keeps its name (``\\max`` -> ``max``).

:func:`text_to_unicode` reads prose the same way but keeps its literal braces (``in {1, 2}``)
and its names (``max_pool`` is no subscript).
"""

from __future__ import annotations

import re

__all__ = ["latex_to_unicode", "prose_to_unicode", "statement_lines", "text_to_unicode"]

SYMBOLS = {
    # relations and logic
    "ge": "≥", "geq": "≥", "le": "≤", "leq": "≤", "ne": "≠", "neq": "≠", "in": "∈", "notin": "∉",
    "wedge": "∧", "land": "∧", "vee": "∨", "lor": "∨", "neg": "¬", "lnot": "¬",
    "leftrightarrow": "↔", "Leftrightarrow": "⇔", "iff": "⇔", "rightarrow": "→", "to": "→", "uparrow": "↑",
    "Rightarrow": "⇒", "implies": "⇒", "leftarrow": "←", "gets": "←", "Leftarrow": "⇐",
    "mapsto": "↦", "approx": "≈", "equiv": "≡", "sim": "∼", "propto": "∝", "ll": "≪", "gg": "≫",
    "subset": "⊂", "subseteq": "⊆", "supset": "⊃", "supseteq": "⊇", "cup": "∪", "cap": "∩",
    "emptyset": "∅", "varnothing": "∅", "forall": "∀", "exists": "∃", "mid": "|", "colon": ":",
    # operators
    "cdot": "·", "times": "×", "div": "÷", "pm": "±", "mp": "∓", "ast": "∗", "star": "⋆",
    "circledast": "⊛", "odot": "⊙", "otimes": "⊗", "oplus": "⊕", "circ": "∘", "bullet": "•",
    "sum": "Σ", "prod": "Π", "int": "∫", "partial": "∂", "nabla": "∇", "infty": "∞",
    "ldots": "…", "dots": "…", "cdots": "⋯", "prime": "′", "top": "⊤", "bot": "⊥",
    # delimiters
    "lfloor": "⌊", "rfloor": "⌋", "lceil": "⌈", "rceil": "⌉", "langle": "⟨", "rangle": "⟩",
    "lvert": "|", "rvert": "|", "vert": "|", "lVert": "‖", "rVert": "‖", "Vert": "‖",
    # Greek
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ϵ", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ",
    "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ",
    "tau": "τ", "upsilon": "υ", "phi": "ϕ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ",
    "Upsilon": "Υ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
    # spacing
    "quad": "  ", "qquad": "    ", "hline": "", "displaystyle": "", "textstyle": "", "limits": "",
}
#: ``\x`` for a non-letter ``x``.
ESCAPES = {",": " ", ";": " ", ":": " ", " ": " ", "!": "", "{": "{", "}": "}", "#": "#", "%": "%",
           "&": "&", "_": "_", "$": "$", "|": "‖"}
#: Commands whose one argument is shown as it is.
TEXT = {"text", "mathrm", "operatorname", "mathit", "mathbf", "mathsf", "mathtt", "mathcal",
        "boldsymbol", "textrm", "textbf", "textit", "texttt", "emph", "mbox", "mathrel", "mathop",
        "mathbin", "mathord"}
#: Commands that show nothing, with how many arguments they swallow.
SILENT = {"left": 0, "right": 0, "big": 0, "Big": 0, "bigg": 0, "Bigg": 0, "bigl": 0, "bigr": 0,
          "Bigl": 0, "Bigr": 0, "middle": 0, "nonumber": 0, "label": 1, "hspace": 1, "vspace": 1,
          "setlength": 2, "phantom": 1, "allowbreak": 0}
ACCENTS = {"bar": "\u0304", "overline": "\u0305", "hat": "\u0302", "widehat": "\u0302",
           "tilde": "\u0303", "widetilde": "\u0303", "vec": "\u20d7", "dot": "\u0307", "ddot": "\u0308"}
DOUBLE_STRUCK = {"N": "ℕ", "Z": "ℤ", "Q": "ℚ", "R": "ℝ", "C": "ℂ", "P": "ℙ", "1": "𝟙"}
FRACTIONS = {"frac", "tfrac", "dfrac", "cfrac"}

SUBSCRIPT = dict(zip("0123456789+-=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ", strict=True))
SUPERSCRIPT = dict(zip(
    "0123456789+-=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVW",
    "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂ",
    strict=True,
))
RELATIONS = "≥≤<>≠∈∉"


class _Reader:
    """A cursor over one LaTeX fragment; each ``read_*`` method returns Unicode text."""

    def __init__(self, source: str, keep_braces: bool) -> None:
        self.s = source
        self.i = 0
        self.keep_braces = keep_braces

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def read_until(self, stop: str = "") -> str:
        """Text up to the closing ``stop`` (``}``), or to the end, scripts attached."""
        out = ""
        while self.i < len(self.s) and not (stop and self.peek() == stop):
            char = self.peek()
            if char in "_^" and self.keep_braces and not self.s.startswith("{", self.i + 1):
                # plain text: max_pool is a name, k_2 a subscript
                following = self.s[self.i + 2 : self.i + 3]
                if following.isalnum() or following == "_":
                    self.i += 1
                    out += char
                    continue
            if char in "_^":
                self.i += 1
                out = self.attach(out, char, self.read_argument())
            elif char == "\\" and self.s.startswith("\\end{", self.i):
                break
            else:
                out += self.read_atom()
        return out

    def read_atom(self) -> str:
        char = self.peek()
        if char == "\\":
            return self.read_command()
        self.i += 1
        if char == "{":
            inner = self.read_until("}")
            self.i += 1
            return "{" + inner + "}" if self.keep_braces else inner
        if char == "$":
            return ""
        if char == "~":
            return " "
        return char

    def read_argument(self) -> str:
        """One argument: a braced group (braces dropped), a command or one character."""
        while self.peek() == " ":
            self.i += 1
        if self.peek() == "{":
            self.i += 1
            inner = self.read_until("}")
            self.i += 1
            return inner
        return self.read_atom()

    def read_optional(self) -> str | None:
        if self.peek() != "[":
            return None
        end = self.s.find("]", self.i)
        end = len(self.s) if end < 0 else end
        text = latex_to_unicode(self.s[self.i + 1 : end])
        self.i = end + 1
        return text

    def read_raw_argument(self) -> str:
        """A braced argument as its source text (environment names, array column specs)."""
        if self.peek() != "{":
            return ""
        depth, start = 0, self.i
        while self.i < len(self.s):
            depth += {"{": 1, "}": -1}.get(self.s[self.i], 0)
            self.i += 1
            if depth == 0:
                break
        return self.s[start + 1 : self.i - 1]

    def read_command(self) -> str:
        self.i += 1  # the backslash
        match = re.match(r"[A-Za-z]+", self.s[self.i :])
        if match is None:
            char = self.peek()
            self.i += 1
            if char == "\\":
                return "\n"
            return ESCAPES.get(char, char)
        name = match.group()
        self.i += len(name)
        if name in SYMBOLS:
            return SYMBOLS[name]
        if name in TEXT:
            return self.read_argument()
        if name in SILENT:
            if name in ("left", "right") and self.peek() == ".":
                self.i += 1
            for _ in range(SILENT[name]):
                self.read_argument()
            return ""
        if name == "mathbb":
            arg = self.read_argument()
            return "".join(DOUBLE_STRUCK.get(c, c) for c in arg)
        if name in ACCENTS:
            arg = self.read_argument()
            return "".join(c + ACCENTS[name] if c.isalnum() else c for c in arg)
        if name in FRACTIONS:
            top, bottom = self.read_argument(), self.read_argument()
            return f"{_operand(top)}/{_operand(bottom)}"
        if name == "sqrt":
            index = self.read_optional()
            arg = _operand(self.read_argument())
            return (f"{index}√" if index else "√") + arg
        if name == "binom":
            top, bottom = self.read_argument(), self.read_argument()
            return f"C({top}, {bottom})"
        if name == "substack":
            return ", ".join(row.strip() for row in self.read_argument().split("\n"))
        if name == "resizebox":
            self.read_argument()
            self.read_argument()
            return self.read_argument()
        if name == "begin":
            return self.read_environment(self.read_raw_argument())
        return name  # \max, \min, \log, \deg, ... : the operator's name

    def read_environment(self, env: str) -> str:
        if env in ("array", "tabular"):
            self.read_raw_argument()  # column specification
        body = self.read_until()
        if self.s.startswith("\\end{", self.i):
            self.i += len("\\end{")
            self.i = self.s.find("}", self.i) + 1 or len(self.s)
        rows = [[cell.strip() for cell in row.split("&")] for row in body.split("\n")]
        rows = [row for row in rows if any(row)]
        if env == "cases":
            return "{ " + "; ".join("  ".join(row) for row in rows) + " }"
        if env in ("array", "tabular", "matrix", "pmatrix", "bmatrix"):
            widths = [max(len(row[c]) if c < len(row) else 0 for row in rows)
                      for c in range(max(len(row) for row in rows))] if rows else []
            return "\n".join("  ".join(cell.ljust(widths[c]) for c, cell in enumerate(row)).rstrip()
                             for row in rows)
        return "; ".join(" ".join(row) for row in rows)

    def attach(self, base: str, kind: str, script: str) -> str:
        """``base`` with the sub- (``_``) or superscript (``^``) ``script`` attached."""
        if base.endswith(("Σ", "Π")) or _LIMITS.search(base):
            return self.attach_limits(base, kind, script)
        table = SUBSCRIPT if kind == "_" else SUPERSCRIPT
        compact = script.replace(" ", "")
        if kind == "^" and compact and set(compact) == {"′"}:
            return base + compact  # x^{\prime} -> x′
        # subscripts as characters only for names and numbers (k_1, C_in): x_{i+a} reads x[i+a]
        small = compact.isalnum() or kind == "^"
        if small and compact and all(c in table for c in compact):
            return base + "".join(table[c] for c in compact)
        if kind == "_" and compact[:1] in RELATIONS:
            return base + compact  # Z_{>= 1} -> Z>=1
        if len(compact) == 1:
            return base + kind + compact
        return base + ("[" + script + "]" if kind == "_" else "^(" + script + ")")

    def attach_limits(self, base: str, kind: str, script: str) -> str:
        """``Σ(a=0..k-1)``: a sum's (or product's) limits after it, in parentheses."""
        script = script.strip()
        if kind == "_":
            return f"{base}({script})"
        if base.endswith(")"):  # lower limit already there: Σ(a=0) -> Σ(a=0..k-1)
            return f"{base[:-1]}..{script})"
        return f"{base}(..{script})"


#: A sum or product with its lower limit already attached: ``Σ(a=0)``.
_LIMITS = re.compile(r"[ΣΠ]\((?:[^()]|\([^()]*\))*\)$")
#: One token: letters, digits, primes, combining accents, sub- and superscript characters.
_TOKEN = re.compile("[\\w\u2032\u0300-\u036f\u2070-\u209f\u1d2c-\u1dbf\u2c7c]+")


def _operand(text: str) -> str:
    """``text`` as a factor of ``/`` or ``√``: in parentheses unless it is one token."""
    text = text.strip()
    if _TOKEN.fullmatch(text) or (text.startswith("(") and text.endswith(")") and text.count("(") == 1):
        return text
    return f"({text})"


def latex_to_unicode(source: str, keep_braces: bool = False) -> str:
    """The LaTeX fragment ``source`` as Unicode text (see the module docstring).

    ``keep_braces=True`` (what :func:`text_to_unicode` does) keeps bare ``{...}`` groups as
    literal braces and a ``_`` or ``^`` inside a word, for text that is not LaTeX but may hold
    LaTeX names (SymPy's ``str`` of an expression over ``w^{(1)}``).

    >>> latex_to_unicode(r"k_{1}, k_{2} \\in \\mathbb{Z}_{\\ge 1}")
    'k₁, k₂ ∈ ℤ≥1'
    >>> latex_to_unicode(r"\\left(x \\star w^{(1)}\\right)_{o,i,j}")
    '(x ⋆ w⁽¹⁾)[o,i,j]'
    """
    text = _Reader(source, keep_braces).read_until().strip()
    if "\n" in text:  # an array: its columns are aligned with spaces
        return "\n".join(line.rstrip() for line in text.splitlines())
    return re.sub(r"\s{2,}", " ", text)


def text_to_unicode(text: str) -> str:
    """Prose (a statement, a step's description, an instance) with its mathematics converted:
    the ``$...$`` parts and the names written the LaTeX way (``k_1``, ``w^{(1)}``, ``\\gamma``);
    its words and literal braces stay, and ``max_pool`` stays a name.

    >>> text_to_unicode("window $i$ of size k_1 in {0, 1}: max_pool with w^{(1)}")
    'window i of size k₁ in {0, 1}: max_pool with w⁽¹⁾'
    """
    return latex_to_unicode(text, keep_braces=True)


def prose_to_unicode(text: str) -> str:
    """Prose with inline ``$...$`` LaTeX math (what the kernel's statements and witnesses hold): the
    math read by :func:`latex_to_unicode`, the words by :func:`text_to_unicode`.

    >>> prose_to_unicode("where ${h}_{j} := x_{j} + b_{1}$ and $p \\ge 1$.")
    'where hⱼ := xⱼ + b₁ and p ≥ 1.'
    """
    parts = text.split("$")
    if len(parts) % 2 == 0:  # an unpaired dollar is a literal one
        parts[-2:] = [parts[-2] + "$" + parts[-1]]

    def words(p: str) -> str:  # the spaces around the words stay
        core = p.strip()
        return p[:len(p) - len(p.lstrip())] + text_to_unicode(core) + p[len(p.rstrip()):] if core else p

    return "".join(latex_to_unicode(p) if i % 2 else words(p) for i, p in enumerate(parts))


def statement_lines(v) -> list[str]:
    """A verdict's statement for the terminal: the same sentences as the book
    (:func:`convsym.render.prose.statement_sentences`) in Unicode, the claim on its own line.

    A verdict without a generated statement (a failed one) shows its gloss and its LaTeX claim.
    """
    from convsym.render.prose import code_relations, statement_sentences

    if v.statement_parts is None:
        out = []
        if v.statement:
            out.append("statement: " + prose_to_unicode(code_relations(v.statement)))
        if v.statement_latex:
            out.append("    " + latex_to_unicode(v.statement_latex))
        return out
    s = statement_sentences(v.statement_parts, refuted=v.expected == "refuted")
    out = ["statement:"]
    for key in ("words", "lead"):
        if s[key]:
            out.append("  " + prose_to_unicode(s[key]))
    if s["claim"]:
        out.append("      " + latex_to_unicode(s["claim"]))
    for key in ("where", "scope"):
        if s[key]:
            out.append("  " + prose_to_unicode(s[key]))
    return out
