r"""The front and back matter of the book: how to cite it, the introduction, the notation, the
summary of results, the limitations and the bibliography.

Everything here is data for ``templates/main.tex.j2``.  The texts are prose in the sense of
:mod:`convsym.render.prose` (inline math between ``$...$``, theorem names linked where the
document has them); the notation and the bibliography are LaTeX already.  The one part computed
from the verdicts is :func:`summary_rows`, one row per theorem; the citation carries the version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from convsym.dtypes import TOOL_VERSIONS
from convsym.proof.verdict import Verdict
from convsym.render.breaking import breakable_inline, tokens
from convsym.render.tex import check_braces

#: The questions the book answers, in the reader's words: (question, where the answer is, the
#: bibliography keys of the work it concerns).  The answer is prose; theorem names become links.
QUESTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Can two convolutions in a row be replaced by one?",
     "Yes, without padding in the second layer: the merged kernel is the true convolution of the "
     "two kernels and the first bias passes through as $b_1 \\Sigma w_2$ "
     "(merge.sequential-1d, merge.sequential-2d, with strides and dilations merge.strided-dilated).",
     ("ding2021dbb",)),
    ("Is a $1\\times 1$ convolution a fully connected layer?",
     "Yes, applied at every pixel (equivalences.conv1x1-linear); and a fully connected layer on the "
     "flattened map is a convolution whose kernel covers the map (equivalences.fc-full-map).",
     ()),
    ("Is a convolution a matrix product?",
     "Yes: im2col (equivalences.im2col) and a banded Toeplitz matrix (equivalences.toeplitz).",
     ("dumoulin2016guide",)),
    ("Can BatchNorm be folded into the convolution next to it?",
     "After a convolution always (folding.bn-after-conv); before one only without zero padding "
     "(folding.bn-before-conv, folding.bn-before-padded), with an exact repair "
     "(folding.bn-before-repair).  The re-parameterisations of RepVGG and the Diverse Branch "
     "Block rest on the same algebra (folding.repvgg, folding.dbb-1x1-kxk).",
     ("ding2021repvgg", "ding2021dbb")),
    ("When is cross-layer equalization exact?",
     "Through ReLU, leaky ReLU, PReLU and the identity for positive scales (folding.cle-relu); not "
     "through ReLU6, hard-swish or the sigmoid (folding.cle-relu6).",
     ("nagel2019dfq",)),
    ("What does a layer cost, and why do counting tools disagree?",
     "Output sizes, multiply-accumulates, FLOPs, memory and the taps that fall on zero padding in "
     "closed form (costs.conv2d-macs, costs.padding-taps), and ResNet-18 layer by layer with the "
     "convention of each counting tool (costs.resnet18).",
     ("fvcore", "ptflops", "thop", "torchinfo", "deepspeed", "flopcounter")),
    ("Is space-to-depth (pixel unshuffle) followed by a convolution a strided convolution?",
     "Yes, with the kernel rearranged (equivalences.space-to-depth); the order of the sub-pixel "
     "channels matters (equivalences.space-to-depth-transposed-order).",
     ("shi2016subpixel",)),
    ("Where do these rewrites break?",
     "At zero padding (merge.padded-second, folding.bias-padded), only on a ring at the border "
     "(merge.padded-interior, equivalences.padded-ring-error), through ReLU6 (folding.cle-relu6), "
     "and for max pooling, which is not affine (equivalences.maxpool-not-affine).",
     ()),
)

#: The notation, each symbol fixed once: (section, [(symbol in LaTeX math, meaning in LaTeX)]).
NOTATION: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Arrays and numbers", (
        (r"x_{c,i,j}", r"an entry of a feature map in NCHW layout (batch, channel, row, column; the "
                       r"batch index is left out when it plays no part); indices start at $0$"),
        (r"w_{o,c,a,b}", r"an entry of a kernel: output channel $o$, input channel $c$, kernel row $a$ "
                         r"and column $b$ (PyTorch's weight layout); in one dimension $w_a$"),
        (r"b_o", r"the bias of output channel $o$"),
        (r"w_1,\ w_2", r"the kernels of the first and the second layer of a pair (entries $w_{1,a}$, "
                       r"$w_{2,o,c,a,b}$: the layer first), likewise $b_1, b_2$ for their biases and "
                       r"$k_1, k_2$ for their sizes"),
        (r"h", r"the intermediate signal, the output of the first layer"),
        (r"W", r"a merged kernel (the one kernel that replaces two)"),
        (r"\bar{w}", r"the flipped kernel, $\bar{w}_a = w_{k-1-a}$"),
        (r"\hat{w},\ \tilde{w}", r"a kernel after a rewrite (folded, scaled); defined where used"),
        (r"w^{\uparrow d}", r"the kernel dilated by $d$: $d - 1$ zeros between its taps, of size "
                            r"$d(k - 1) + 1$"),
        (r"\delta x,\ \delta y", r"in the backward pass, the gradients of the loss with respect to "
                                r"$x$ and $y$"),
        (r"\mathbb{Z},\ \mathbb{Z}_{\ge 1},\ \mathbb{R}", r"the integers, the positive integers, the "
                                                          r"real numbers"),
        (r"\lfloor t \rfloor,\ \lceil t \rceil", r"$t$ rounded down, rounded up"),
        (r"\max,\ \min", r"the larger, the smaller of two numbers"),
        (r"\#S,\ a \mid b", r"the number of elements of a set $S$; $a$ divides $b$"),
    )),
    ("Sizes", (
        (r"n;\ H, W", r"the input length; in two dimensions its height and width"),
        (r"k;\ k_h, k_w", r"the kernel size; its height and width"),
        (r"s,\ d", r"the stride and the dilation (each $\ge 1$)"),
        (r"p;\ p_l, p_r", r"the zero padding on each side; on the left and on the right"),
        (r"C_{in},\ C_{out}", r"the input and output channels (also $C_i$, $C_o$); $C_{mid}$ "
                              r"the channels between two layers"),
        (r"G,\ O_g", r"the number of groups and the output channels of each group"),
        (r"N", r"the batch size"),
        (r"r", r"the factor of a pixel shuffle (space to depth, depth to space, sub-pixel convolution)"),
    )),
    ("Operations", (
        (r"x \star w", r"cross-correlation, what deep-learning libraries call convolution: "
                       r"$(x \star w)_i = \sum_{a=0}^{k-1} x_{i+a} w_a$, and with channels "
                       r"$(x \star w)_{o,i,j} = \sum_c \sum_{a,b} x_{c,i+a,j+b}\, w_{o,c,a,b}$"),
        (r"x \star_{s,d} w", r"strided and dilated: $(x \star_{s,d} w)_i = \sum_a x_{s i + d a} w_a$; "
                             r"$\star_s$ is $\star_{s,1}$"),
        (r"x \star_G w", r"grouped into $G$ groups: output channel $g O_g + o$ sees only the input "
                         r"channels of group $g$"),
        (r"x \star^{\mathrm{dw}} w", r"depthwise: one kernel per channel ($G = C_{in} = C_{out}$)"),
        (r"x * w", r"true convolution, the kernel flipped: $(x * w)_t = \sum_a x_{t-a} w_a$ over the "
                   r"indices where both exist (the full convolution, of length $n + k - 1$)"),
        (r"w_2 \circledast w_1", r"the merged kernel of two layers with channels: the true "
                                         r"convolution over space summed over the middle channels; "
                                         r"with subscripts, strides and dilations"),
        (r"\Sigma w,\ \Sigma_G w", r"the sum of the kernel's spatial entries: "
                                   r"$(\Sigma w)_{o,c} = \sum_{a,b} w_{o,c,a,b}$, and "
                                   r"$(\Sigma w\, b)_o = \sum_c (\Sigma w)_{o,c}\, b_c$; "
                                   r"$\Sigma_G$ within groups"),
        (r"\mathrm{PS}_r", r"pixel shuffle by a factor $r$ (depth to space); its inverse is "
                           r"space-to-depth (pixel unshuffle)"),
        (r"y \mathbin{\star^{\top}_{s,p,d}} w", r"transposed convolution (scatter form): "
                                              r"$(y \mathbin{\star^{\top}_{s,p,d}} w)_i = \sum_j \sum_a "
                                              r"[s j + d a - p = i]\, w_a\, y_j$; with channels the "
                                              r"output channel is the weight's axis 1"),
        (r"w_1 \circledast^{\top} w_2", r"the kernel of two transposed convolutions in a row: "
                                       r"$\sum_{a,b:\ s_2 d_1 a + d_2 b = t} w_{1,a} w_{2,b}$ on each axis, "
                                       r"summed over the middle channels"),
        (r"\mathcal{S}_r(W),\ \phi", r"the sub-pixel kernel map: phase $\phi$ ($0 \le \phi < r$), tap $a$ "
                                   r"of a sub-pixel convolution goes to tap $\phi + r(K-1-a)$ of a "
                                   r"transposed kernel of size $rK$"),
        (r"\varphi,\ \psi,\ \Phi", r"phases of a pixel shuffle in two dimensions, $0 \le \varphi < r$ on each "
                                 r"axis ($\varphi_h, \varphi_w$; $\psi$ another one); an output position "
                                 r"written $r J + \Phi$ has row $J$ and phase $\Phi$"),
        (r"\mathrm{avg}_{k,s}", r"average pooling with window $k$ and stride $s$"),
        (r"\mathrm{vec}\,x,\ \mathrm{mat}\,w", r"a map flattened to a vector; a kernel as a matrix "
                                               r"with one row per output channel"),
        (r"T_w,\ U", r"the banded Toeplitz matrix of a kernel; the im2col matrix of an input"),
        (r"[z^t]\,p(z)", r"the coefficient of $z^t$ in the polynomial $p$; "
                         r"$w(z) = \sum_a w_a z^a$"),
        (r"\gamma, \beta, \mu, \sigma^2, \epsilon", r"BatchNorm's scale, shift, running mean, running "
                                                    r"variance and epsilon; $r_o = 1/\sqrt{\sigma_o^2 + "
                                                    r"\epsilon}$"),
        (r"u \odot v", r"the entrywise product (a scale per channel)"),
        (r"\mathrm{relu},\ \alpha", r"$\mathrm{relu}(z) = \max(0, z)$; $\alpha$ the slope of leaky "
                                    r"ReLU and PReLU for $z < 0$"),
        (r"\operatorname{conv1d}(x, w, k, s, d, i)", r"an operation named in a derivation step, in "
                                                     r"upright type: its definition is the one the step "
                                                     r"folds into (here output $i$ of a convolution of "
                                                     r"$x$ with the kernel $w$ of size $k$, stride $s$ "
                                                     r"and dilation $d$)"),
        (r"\mathrm{MACs},\ \mathrm{FLOPs}", r"multiply-accumulates; floating-point operations"),
        (r"\wedge,\ \vee,\ \neg,\ \Rightarrow", r"and, or, not, implies (in side conditions)"),
    )),
)


def _tool(key: str, what: str, url: str) -> str:
    return rf"{what}, version {TOOL_VERSIONS[key]}. \url{{{url}}}"


#: The bibliography as ``(key, entry in LaTeX)``, in the order the book lists it.
BIBLIOGRAPHY: tuple[tuple[str, str], ...] = (
    ("ding2021repvgg", r"X.~Ding, X.~Zhang, N.~Ma, J.~Han, G.~Ding and J.~Sun. \emph{RepVGG: Making "
                       r"VGG-style ConvNets Great Again}. CVPR 2021."),
    ("ding2021dbb", r"X.~Ding, X.~Zhang, J.~Han and G.~Ding. \emph{Diverse Branch Block: Building a "
                    r"Convolution as an Inception-like Unit}. CVPR 2021."),
    ("nagel2019dfq", r"M.~Nagel, M.~van Baalen, T.~Blankevoort and M.~Welling. \emph{Data-Free "
                     r"Quantization Through Weight Equalization and Bias Correction}. ICCV 2019."),
    ("dumoulin2016guide", r"V.~Dumoulin and F.~Visin. \emph{A guide to convolution arithmetic for "
                          r"deep learning}. arXiv:1603.07285, 2016."),
    ("shi2016subpixel", r"W.~Shi, J.~Caballero, F.~Husz\'ar, J.~Totz, A.~P.~Aitken, R.~Bishop, "
                        r"D.~Rueckert and Z.~Wang. \emph{Real-Time Single Image and Video "
                        r"Super-Resolution Using an Efficient Sub-Pixel Convolutional Neural "
                        r"Network}. CVPR 2016."),
    ("pytorch", r"The PyTorch documentation: \emph{torch.nn} (Conv2d, ConvTranspose2d, AvgPool2d, "
                rf"MaxPool2d, BatchNorm2d, PixelShuffle), version {TOOL_VERSIONS['torch']}. "
                r"\url{https://pytorch.org/docs/}"),
    ("demoura2008z3", r"L.~de Moura and N.~Bj{\o}rner. \emph{Z3: An Efficient SMT Solver}. TACAS "
                      r"2008, Lecture Notes in Computer Science 4963, 337--340."),
    ("meurer2017sympy", r"A.~Meurer, C.~P.~Smith, M.~Paprocki et al. \emph{SymPy: symbolic computing "
                        r"in Python}. PeerJ Computer Science 3:e103, 2017."),
    ("fvcore", _tool("fvcore", r"\emph{fvcore} (FAIR), its FLOP counter FlopCountAnalysis",
                     "https://github.com/facebookresearch/fvcore")),
    ("ptflops", _tool("ptflops", r"V.~Sovrasov. \emph{ptflops} (flops-counter.pytorch)",
                      "https://github.com/sovrasov/flops-counter.pytorch")),
    ("thop", _tool("thop", r"L.~Zhu. \emph{THOP: PyTorch-OpCounter}",
                   "https://github.com/Lyken17/pytorch-OpCounter")),
    ("torchinfo", _tool("torchinfo", r"T.~Yep. \emph{torchinfo}", "https://github.com/TylerYep/torchinfo")),
    ("deepspeed", _tool("deepspeed", r"Microsoft. \emph{DeepSpeed}, its flops profiler",
                        "https://www.deepspeed.ai/tutorials/flops-profiler/")),
    ("flopcounter", _tool("torch", r"\emph{torch.utils.flop\_counter.FlopCounterMode}, part of PyTorch",
                          "https://pytorch.org/docs/")),
)

#: Bibliography keys, for the templates and the tests.
CITATION_KEYS = tuple(key for key, _ in BIBLIOGRAPHY)


def bibtex(version: str) -> str:
    """The BibTeX entry to cite this book at ``version`` (printed verbatim on the title page's back)."""
    if not re.fullmatch(r"[0-9A-Za-z.+\-]+", version):
        raise ValueError(f"bibtex: the version must be letters, digits, dots, + or -, got {version!r}")
    return (
        "@manual{convsym,\n"
        "  title   = {convsym: Exact Facts about Convolution Layers},\n"
        f"  edition = {{Version {version}}},\n"
        "  note    = {A book of machine-checked theorems, generated by convsym build},\n"
        "}"
    )


# ---------------------------------------------------------------------------------------------
# the summary of results

#: A statement longer than this (LaTeX source characters) is not repeated in the summary.
SUMMARY_FORMULA_CHARS = 150
_TRUE = (r"\text{True}", r"\mathrm{true}")


def _outer_split(tex: str, separator: str) -> list[str]:
    """``tex`` split at ``separator`` tokens outside every brace group and ``\\left``/``\\right``."""
    parts: list[list[str]] = [[]]
    depth = 0
    for tok in tokens(tex):
        if tok in ("{", r"\left", r"\begin"):
            depth += 1
        elif tok in ("}", r"\right", r"\end"):
            depth -= 1
        if depth == 0 and tok == separator:
            parts.append([])
        else:
            parts[-1].append(tok)
    return ["".join(p).strip() for p in parts]


def summary_formula(statement_latex: str) -> str:
    """The statement as the summary shows it, or ``""`` when it says nothing by itself.

    Left out: statements longer than :data:`SUMMARY_FORMULA_CHARS`, statements that are a
    description in words (``\\text{...}`` at the start, or a function's placeholder name), and
    tautologies whose two sides are the same text (``0 = 0``: the content is in the derivation).
    """
    text = statement_latex.strip()
    if not text or len(text) > SUMMARY_FORMULA_CHARS:
        return ""
    if text.startswith(r"\text{") or "<lambda>" in text:
        return ""
    sides = _outer_split(text, "=")
    if len(sides) == 2 and sides[0] == sides[1]:
        return ""
    try:
        check_braces(text, "summary")
    except Exception:
        return ""
    return breakable_inline(text)


def summary_rows(verdicts: Iterable[Verdict]) -> list[dict[str, Any]]:
    """One row per theorem, in the book's order: label, title, short formula, verdict, strength."""
    return [
        {
            "label": "thm:" + v.name,
            "name": v.name,
            "title": v.title,
            "formula": summary_formula(v.statement_latex),
            "verdict": v.verdict,
            "strength": v.strength,
        }
        for v in verdicts
    ]
