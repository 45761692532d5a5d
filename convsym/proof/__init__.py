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

#: Where each name of the vocabulary lives.  Everything is imported on first use (PEP 562), so
#: ``import convsym.proof.verdict`` (the CLI's listing, the registry) does not pull in SymPy.
NAMES = {
    "ProofError": "convsym.errors",
    "VariablePool": "convsym.exact.pool",
    "Checked": "convsym.proof.checked", "Proof": "convsym.proof.checked",
    "General": "convsym.proof.general",
    "Identity": "convsym.proof.identity", "Refutation": "convsym.proof.identity",
    "family_text": "convsym.proof.identity",
    "check_text": "convsym.proof.sources", "load_checks": "convsym.proof.sources",
    "Theorem": "convsym.proof.theorem", "minted": "convsym.proof.theorem",
    "Family": "convsym.proof.verdict", "StepRecord": "convsym.proof.verdict",
    "Verdict": "convsym.proof.verdict", "Witness": "convsym.proof.verdict",
    **{rule: "convsym.symbolic.rules"
       for rule in ("Collapse", "Distribute", "Fold", "GroupBy", "Name", "Reorder", "Restate", "Substitute",
                    "Unfold")},
    **{name: "convsym.symbolic.sums"
       for name in ("Let", "OpDef", "Range", "SumExpr", "Term", "evaluate", "grid", "index")},
    "scalars": "convsym.symbolic.symbols", "sizes": "convsym.symbolic.symbols",
}

#: Modules a proof script uses by a short name.
MODULES = {
    "defs": "convsym.symbolic.opdefs",
    "ops": "convsym.exact.ops",
    "figures": "convsym.render.figures",
}


def __getattr__(name: str):
    if name in MODULES:
        value = importlib.import_module(MODULES[name])
    elif name in NAMES:
        value = getattr(importlib.import_module(NAMES[name]), name)
    else:
        raise AttributeError(f"module 'convsym.proof' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "Checked", "Collapse", "Distribute", "Family", "Fold", "General", "GroupBy", "Identity", "Let", "Name", "OpDef",
    "Proof", "ProofError", "Range", "Refutation", "Reorder", "Restate", "StepRecord", "Substitute", "SumExpr", "Term",
    "Theorem", "Unfold", "VariablePool", "Verdict", "Witness", "check_text", "defs", "evaluate", "family_text",
    "figures", "grid", "index", "load_checks", "minted", "ops", "scalars", "sizes",
]
