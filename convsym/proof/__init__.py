"""The trusted kernel: theorems, their checked steps, witnesses and verdicts.

A proof script needs one import line::

    from convsym.proof import General, Identity, Checked, Refutation, Family, grid, sizes, index

Kinds of theorem (only these prove; see :mod:`convsym.proof.theorem` for the rules):

* :class:`General` -- for all sizes: a derivation over symbolic index sums, each step a rule of
  :mod:`convsym.symbolic.rules` that decides its own side conditions; the claim itself evaluated exactly
  on instances independently of the derivation; the end compared with the claimed right side.
* :class:`Identity` -- exact polynomial identity for concrete sizes (one instance or a family).
* :class:`Checked` -- a list of kernel-checked steps (algebra, z3, summation, exact families,
  lemmas), for claims that are not index-sum rewrites.
* :class:`Refutation` -- a claim refuted at one concrete exact input.
"""

from convsym.proof.checked import Checked, Proof
from convsym.proof.general import General
from convsym.proof.identity import Identity, Refutation, family_text
from convsym.proof.theorem import Theorem, minted
from convsym.proof.verdict import Family, StepRecord, Verdict, Witness
from convsym.symbolic.rules import Collapse, Distribute, Fold, GroupBy, Name, Reorder, Substitute, Unfold
from convsym.symbolic.sums import Let, OpDef, Range, SumExpr, Term, grid, index
from convsym.symbolic.symbols import scalars, sizes

__all__ = [
    "Checked", "Collapse", "Distribute", "Family", "Fold", "General", "GroupBy", "Identity", "Let", "Name", "OpDef",
    "Proof", "Range", "Refutation", "Reorder", "StepRecord", "Substitute", "SumExpr", "Term", "Theorem", "Unfold",
    "Verdict", "Witness", "family_text", "grid", "index", "minted", "scalars", "sizes",
]
