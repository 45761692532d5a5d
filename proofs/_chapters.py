"""The chapters whose theorems span several proof scripts (their sections).

Each section script binds ``FAMILY`` to one of these and ``SECTION`` to its place in the chapter;
the registry joins them into one chapter and one emitted check file (see
:mod:`convsym.run.registry`).  The chapters' overviews follow.
"""

from __future__ import annotations

from convsym.proof import Family

# ---------------------------------------------------------------------------------------------
# Equivalent forms of a convolution layer, and where the equivalences stop.
#
# PyTorch semantics throughout: cross-correlation, NCHW, zero padding.  Eight groups of facts:
#
# 1. a 1x1 convolution is a fully connected layer at every pixel (cost ``C_o C_i H W`` MACs); a
#    fully connected layer on the flattened ``C x H x W`` map is a convolution whose kernel covers
#    the map;
# 2. im2col: a convolution is a matrix product of the unfolded input with the flattened kernel,
#    and a product with one (block Toeplitz) matrix;
# 3. deep-learning "convolution" is cross-correlation; true convolution flips the kernel, is
#    commutative and associative, cross-correlation is neither; two stacked cross-correlations are
#    one whose kernel is the true convolution of the two;
# 4. the order of layers matters with several channels; merging is associative;
# 5. pooling acts per channel; average pooling is a depthwise convolution exactly when no padding
#    is excluded from the count and no ceil-mode window is cut; max pooling is not affine;
# 6. space-to-depth (seed 003): a conv on the pixel-unshuffled map is a strided conv on the map
#    with the pixel-shuffled weight, at the same cost;
# 7. padding in the second of two merged layers: the exact condition, the exact border error and
#    the repair (pad the intermediate with the bias value);
# 8. the converse of the merge: not every kernel splits into two with one middle channel (the
#    exact criterion), every kernel splits with enough middle channels.

EQUIVALENCES = Family(
    "equivalences",
    "Equivalent forms of a convolution",
    intro=(
        "A convolution layer has many faces: a fully connected layer at every pixel ($1\\times 1$), "
        "a matrix product (im2col, Toeplitz), a cross-correlation that hides a true convolution, a "
        "depthwise convolution (average pooling), a large strided convolution on a depth-to-space map. "
        "This chapter proves each equivalence (for all sizes where it is true), refutes the ones that "
        "fail with exact counterexamples (cross-correlation is neither commutative nor associative, "
        "max pooling is not affine, padding breaks merges), and answers the converse of the merge: "
        "which kernels split into two."
    ),
    order=20,
)


# ---------------------------------------------------------------------------------------------
# Folding and quantization rewrites: biases, BatchNorm, parallel branches, equalization.
#
# PyTorch semantics throughout (cross-correlation, NCHW, zero padding).  Inference BatchNorm is
# ``bn(y)_c = (y_c - mu_c) r_c gamma_c + beta_c`` with ``r_c = 1/sqrt(var_c + eps)``; every identity
# below is polynomial in ``r``, so it holds for *every* value of ``r`` and in particular for that one
# (no relation ``r^2 (var + eps) = 1`` is ever needed).  Statements about activations (ReLU, ReLU6,
# sigmoid...) are not polynomial: they are proved by exact case analysis (SymPy on each piece, z3
# over the reals) and refuted with exact rational witnesses evaluated by ``convsym.reference``.

FOLDING = Family(
    "folding",
    "Folding and quantization rewrites",
    intro=(
        "Inference graphs are simplified before deployment: biases and BatchNorm layers are folded "
        "into the neighbouring convolution, parallel branches (RepVGG, Diverse Branch Block) are "
        "summed into one kernel, and data-free quantization (DFQ) rescales channels so that adjacent "
        "layers have equal weight ranges. This chapter proves each rewrite exactly, for all sizes "
        "where it is true, and shows with exact counterexamples where it is not: zero padding after "
        "a constant shift, activations that are not positively homogeneous (ReLU6, hard-swish, "
        "sigmoid), negative scales, and bias absorption below the threshold."
    ),
    order=30,
)


# ---------------------------------------------------------------------------------------------
# Shapes and costs: output sizes by counting windows, MACs by summing the loop nest.
#
# Every shape rule is proved by counting the valid window positions: the set of window indices is
# described by linear integer conditions, z3 decides for all sizes that it is an interval
# ``0..q`` (``q`` characterised by the inequalities of a floor or a ceiling), and its size is
# summed.  Every cost is the number of points of a loop nest, summed by ``sympy.summation`` from
# the ranges of the loops (not typed in) and shown equal to the closed formula that
# ``convsym.cost`` computes and ``convsym build`` exports (``generated/formulas/``): the formulas
# this chapter proves are the very SymPy expressions that are printed there.  Each general proof
# is cross-checked on an exact family by brute-force enumeration, and each theorem's emitted check
# re-counts with the NumPy reference (a convolution of ones counts its own taps).

COSTS = Family(
    "costs",
    "Shapes and costs",
    intro=(
        "How large is the output of a convolution, and what does it cost? Each shape rule is proved "
        "by counting the window positions (z3 decides, for all sizes, that the valid windows are "
        "exactly $0, \\dots, q$), each cost by summing the loop nest of the layer with SymPy, and "
        "both are checked against brute-force enumeration. The closed formulas proved here are also "
        "exported as code (Python, C, LaTeX, JSON). The chapter ends with ResNet-18 at $224 \\times "
        "224$, layer by layer: dense multiply-accumulates, multiply-accumulates without the taps on "
        "zero padding, and the figure each counting tool reports. Whole models are counted operator "
        "by operator on PyTorch's meta device; for nine architectures the totals of fvcore, "
        "ptflops, thop, torchinfo, DeepSpeed and FlopCounterMode are each modelled exactly and "
        "equal to the tool's own."
    ),
    order=40,
)
