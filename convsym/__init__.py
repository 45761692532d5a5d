"""convsym: exact, checked facts about convolution layers.

The modules a user imports directly:

* :mod:`convsym.reference`  -- independent NumPy reference ops (PyTorch semantics);
* :mod:`convsym.transforms` -- weight rewrites on real NumPy weights (``merge_sequential``...);
* :mod:`convsym.shapes`     -- output sizes and receptive fields over ints or SymPy symbols;
* :mod:`convsym.proof`      -- ``General`` and ``Identity`` theorems, proved by ``prove()``.

``convsym prove`` / ``convsym build`` run the proof scripts in ``proofs/``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
