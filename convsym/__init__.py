"""convsym: exact, checked facts about convolution layers.

The modules a user imports directly:

* :mod:`convsym.reference`  -- independent NumPy reference ops (PyTorch semantics);
* :mod:`convsym.transforms` -- weight rewrites on real NumPy weights (``merge_sequential``...);
* :mod:`convsym.shapes`     -- output sizes and receptive fields over ints or SymPy symbols;
* :mod:`convsym.proof`      -- ``General`` and ``Identity`` theorems, proved by ``prove()``.

``convsym prove`` / ``convsym build`` run the proof scripts in ``proofs/``.

The data flow, bottom to top (each layer imports only the ones below it; ``tests/layout`` checks):
``errors``, ``dtypes``, ``spec`` (layer parameters read once) -> ``shapes``, ``reference`` (NumPy
only) -> ``exact`` (polynomial tensors, exact ops, the blockwise check) and ``symbolic`` (index
sums, operation definitions, rules, z3 decisions, printers) -> ``transforms`` (NumPy weight
rewrites) and ``cost`` (counts and each tool's convention) -> ``proof`` (the trusted kernel:
theorem kinds, checked steps, verdicts) -> ``render`` (LaTeX, emitted checks, exports) -> ``run``
(registry of proof scripts, build) -> ``cli``, ``torch``, ``onnx`` (optional extras).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
