"""The trusted kernel: theorems, their checked steps, witnesses and verdicts -- and the whole
vocabulary a proof script needs, so that a script opens with one import::

    from convsym.proof import (Family, General, Identity, Let, SumExpr, Unfold, Fold, defs, ops,
                               grid, index, load_checks, sizes)

Kinds of theorem (only these prove; see :mod:`convsym.proof.theorem` for the rules):

* :class:`General` -- for all sizes: a derivation over symbolic index sums, each step a rule of
  :mod:`convsym.symbolic.rules` that decides its own side conditions; the claim itself evaluated exactly
  on instances independently of the derivation; the end compared with the claimed right side.
* :class:`Identity` -- exact polynomial identity for concrete sizes (one instance or a family).
* :class:`Checked` -- a list of kernel-checked steps (algebra, z3, summation, exact families,
  lemmas), for claims that are not index-sum rewrites.
* :class:`Refutation` -- a claim refuted at one concrete exact input.

The rest of the vocabulary: the rules (:mod:`convsym.symbolic.rules`), index sums and
definitions (:mod:`convsym.symbolic.sums`), symbols (``sizes``, ``scalars``, ``index``,
``VariablePool``), ``Family`` and ``ProofError``, :func:`load_checks` (a script's emitted checks
as real functions), and three modules under short names: ``defs`` (the operations as index-sum
definitions, :mod:`convsym.symbolic.opdefs`), ``ops`` (the same operations on exact tensors,
:mod:`convsym.exact.ops`) and ``figures`` (TikZ figures, :mod:`convsym.render.figures`); the
modules are imported when first asked for.
"""

import importlib

from convsym.errors import ProofError
from convsym.exact.pool import VariablePool
from convsym.proof.checked import Checked, Proof
from convsym.proof.general import General
from convsym.proof.identity import Identity, Refutation, family_text
from convsym.proof.sources import check_text, load_checks
from convsym.proof.theorem import Theorem, minted
from convsym.proof.verdict import Family, StepRecord, Verdict, Witness
from convsym.symbolic.rules import Collapse, Distribute, Fold, GroupBy, Name, Reorder, Substitute, Unfold
from convsym.symbolic.sums import Let, OpDef, Range, SumExpr, Term, evaluate, grid, index
from convsym.symbolic.symbols import scalars, sizes

#: Modules a proof script uses by a short name, imported on first use (PEP 562).
MODULES = {
    "defs": "convsym.symbolic.opdefs",
    "ops": "convsym.exact.ops",
    "figures": "convsym.render.figures",
}


def __getattr__(name: str):
    if name in MODULES:
        module = importlib.import_module(MODULES[name])
        globals()[name] = module
        return module
    raise AttributeError(f"module 'convsym.proof' has no attribute {name!r}")


__all__ = [
    "Checked", "Collapse", "Distribute", "Family", "Fold", "General", "GroupBy", "Identity", "Let", "Name", "OpDef",
    "Proof", "ProofError", "Range", "Refutation", "Reorder", "StepRecord", "Substitute", "SumExpr", "Term",
    "Theorem", "Unfold", "VariablePool", "Verdict", "Witness", "check_text", "defs", "evaluate", "family_text",
    "figures", "grid", "index", "load_checks", "minted", "ops", "scalars", "sizes",
]
