"""General theorems: for all sizes, by a derivation over symbolic index sums.

Checked, in order:

1. the statement is well formed (every index bound once, ranges iterated outermost first, no
   two symbols with one name) and its hypotheses can hold (z3);
2. the claim ``lhs = rhs`` itself, evaluated exactly on the user's instances and on the kernel's
   boundary instances (:mod:`convsym.proof.claim`), independently of the rules: a difference is a
   refutation with a witness;
3. every derivation step: the rule checks its side conditions (z3, for all sizes), its output is
   well formed, and the step does not change the value on the instances;
4. the conclusion: the last expression *is* the claimed right side (same sums, same conditions,
   bound indices up to renaming; plain parts equal after expansion);
5. the cross-checks (further theorems) are proved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

import sympy
from sympy import IndexedBase, Symbol

from convsym.deferred import Deferred
from convsym.errors import ProofError
from convsym.proof import claim as C
from convsym.proof import statement as S
from convsym.proof.theorem import StepError, Theorem, mint, mint_witness
from convsym.proof.verdict import Instances, Statement
from convsym.symbolic import decide
from convsym.symbolic.printing import latex_sumexpr, let_latex, let_text, text_sumexpr
from convsym.symbolic.rules import Context, Rule
from convsym.symbolic.sums import Let, SumExpr, check_well_formed, free_symbols


def _as_sumexpr(e) -> SumExpr:
    return e if isinstance(e, SumExpr) else SumExpr.of(*sympy.Add.make_args(sympy.sympify(e)))


def _memo(memos: dict, env: Mapping) -> dict:
    """The memo of application values for one instance (shared by the claim and the steps: on one
    instance the value of an application depends only on its operation and its arguments, which
    :class:`~convsym.proof.claim.Denoter` makes sure of before it remembers one)."""
    return memos.setdefault(frozenset(env.items()), {})


def python_name(symbol: Symbol) -> str:
    """The name an instance may use for a size or position: its LaTeX name without braces, carets
    and backslashes (``C_{in}`` -> ``C_in``, ``k^h_1`` -> ``kh_1``, ``k_1`` -> ``k_1``)."""
    return "".join(ch for ch in str(symbol) if ch not in "{}^\\")


def instances_record(what: str, envs: Sequence[Mapping]) -> Instances:
    """The instances ``envs`` (symbol -> integer) for the machine record: sizes first, then
    positions, each group by name; the instances in the order they were evaluated."""
    keys = sorted({k for env in envs for k in env}, key=lambda k: (not C.is_size(k), str(k)))
    return Instances(what, tuple(sympy.latex(k) for k in keys),
                     tuple(tuple(str(int(env[k])) if k in env else "" for k in keys) for env in envs))


class General(Theorem):
    """A claim for all sizes, proved by a derivation whose every step is checked.

    ``lhs`` and ``rhs`` are :class:`SumExpr` (or SymPy expressions built from
    :mod:`convsym.symbolic.opdefs` applications); ``lets`` define intermediate signals; ``size_hypotheses``
    are conditions on sizes and positions (SymPy relations); ``derivation`` is a list of
    :mod:`convsym.symbolic.rules` objects; ``instances`` are size assignments keyed by size name (the
    kernel adds its own boundary instances); ``cross_checks`` are further theorems (typically
    :class:`Identity`) that must be proved too.
    """

    def __init__(
        self,
        name: str,
        title: str,
        gloss: str = "",
        *,
        lhs,
        rhs,
        derivation: Sequence[Rule],
        lets: Sequence[Let] = (),
        size_hypotheses: Sequence = (),
        instances: Sequence[Mapping] = (),
        cross_checks: Sequence[Theorem] = (),
        **kw,
    ) -> None:
        super().__init__(name, title, gloss, **kw)
        self.lhs = _as_sumexpr(lhs)
        self.rhs = _as_sumexpr(rhs)
        self.derivation = tuple(derivation)
        self.lets = tuple(lets)
        self.size_hypotheses = tuple(sympy.sympify(h) for h in size_hypotheses)
        self.user_instances = tuple(dict(i) for i in instances)
        self.cross_checks = tuple(cross_checks)
        if not self.derivation:
            raise ValueError(f"Theorem {name}: a general theorem needs a derivation")
        bases = [let.base for let in self.lets]
        if len(set(bases)) != len(bases):
            raise ValueError(f"Theorem {name}: two lets define the same signal "
                             f"{sorted({str(b) for b in bases if bases.count(b) > 1})}")
        for rule in self.derivation:
            if not isinstance(rule, Rule):
                raise TypeError(f"Theorem {name}: derivation step {rule!r} is not a rule of convsym.symbolic.rules")

    # -- symbols ---------------------------------------------------------------------------------
    def _free(self) -> set[Symbol]:
        syms = free_symbols(self.lhs) | free_symbols(self.rhs)
        for h in self.size_hypotheses:
            syms |= h.free_symbols
        return {s for s in syms if not isinstance(s, IndexedBase)}

    def size_symbols(self) -> list[Symbol]:
        return sorted((s for s in self._free() if C.is_size(s)), key=sympy.default_sort_key)

    def position_symbols(self) -> list[Symbol]:
        labels = set()
        for e in (self.lhs, self.rhs):
            for t in e.terms:
                for ib in sympy.sympify(t.summand).atoms(sympy.Indexed):
                    labels.add(ib.base.label)
        return sorted((s for s in self._free() if C.is_position(s) and s not in labels), key=sympy.default_sort_key)

    def _printed(self, side: SumExpr, text: bool = False) -> str:
        """``latex_sumexpr(side)`` (or ``text_sumexpr``) of a side, printed once: the statement,
        its parts and the conclusion print both sides (kept with the object printed)."""
        kept = self.__dict__.setdefault("_sides_printed", {})
        found = kept.get((id(side), text))
        if found is None or found[0] is not side:
            found = kept[(id(side), text)] = (side, (text_sumexpr if text else latex_sumexpr)(side))
        return found[1]

    def sizes(self) -> str:
        sizes = self.size_symbols()
        text = ("all " + ", ".join(str(s) for s in sizes) + " >= 1") if sizes else "all sizes"
        if self.size_hypotheses:
            text += " with " + ", ".join(sympy.sstr(h) for h in self.size_hypotheses)
        return text

    def hypotheses_latex(self) -> tuple[str, ...]:
        out = []
        sizes = self.size_symbols()
        if sizes:
            out.append(", ".join(sympy.latex(s) for s in sizes) + r" \in \mathbb{Z}_{\ge 1}")
        positions = self.position_symbols()
        if positions:
            out.append(", ".join(sympy.latex(s) for s in positions) + r" \in \mathbb{Z}")
        out.extend(sympy.latex(h) for h in self.size_hypotheses)
        return tuple(out)

    def definitions_latex(self) -> tuple[str, ...]:
        return tuple(let_latex(let) for let in self.lets)

    def statement_parts(self) -> Statement:
        """The statement, generated from the two sides, the sizes, positions, signals and scalars
        they read, the hypotheses and the ``Let`` definitions."""
        quantifiers = [q for q in (S.sizes_quantifier(self.size_symbols()),
                                   S.positions_quantifier(self.position_symbols())) if q]
        quantifiers += S.scalars_quantifiers(S.scalars_of((self.lhs, self.rhs), self.lets))
        signals = S.signals_quantifier(S.signals_of((self.lhs, self.rhs), self.lets))
        if signals:
            quantifiers.append(signals)
        return Statement(
            quantifiers=tuple(quantifiers),
            hypotheses=tuple(sympy.latex(h) for h in self.size_hypotheses),
            hypotheses_text=tuple(S.relation_text(h) for h in self.size_hypotheses),
            definitions=self.definitions_latex(),
            definitions_text=tuple(let_text(let) for let in self.lets),
            claim_latex=f"{self._printed(self.lhs)} = {self._printed(self.rhs)}",
            claim_text=f"{self._printed(self.lhs, text=True)} = {self._printed(self.rhs, text=True)}",
        )

    def statement_text(self) -> str:
        parts = []
        sizes = self.size_symbols()
        if sizes:
            parts.append("for all integers " + ", ".join(map(str, sizes)) + " >= 1")
        positions = self.position_symbols()
        if positions:
            parts.append("all integers " + ", ".join(map(str, positions)))
        if self.size_hypotheses:
            parts.append("with " + ", ".join(sympy.sstr(h) for h in self.size_hypotheses))
        head = ", ".join(parts)
        lets = "; ".join(let_text(let) for let in self.lets)
        body = f"{self._printed(self.lhs, text=True)} = {self._printed(self.rhs, text=True)}"
        return (head + ": " if head else "") + body + (f"  where {lets}" if lets else "")

    # -- instances -------------------------------------------------------------------------------
    def _instances(self) -> tuple[list[dict], list[dict]]:
        """(instances for the claim, instances for re-evaluating each step)."""
        sizes = self.size_symbols()
        positions = self.position_symbols()
        by_name = {str(s): s for s in sizes + positions}
        # a size may also be named in Python: C_in for C_{in}, kh_1 for k^h_1
        by_name.update({python_name(s): s for s in sizes + positions if python_name(s) not in by_name})
        example = C.check_hypotheses(self.name, self.size_hypotheses, sizes)
        size_only = [h for h in self.size_hypotheses if h.free_symbols <= set(sizes)]
        user = []
        for inst in self.user_instances:
            env = {}
            for key, val in inst.items():
                sym = by_name.get(str(key))
                if sym is None:
                    raise ProofError(f"instance {inst} names {key!r}, which is not a size or position of the "
                                     f"statement ({', '.join(sorted(map(python_name, sizes + positions))) or 'none'})",
                                     rule="instances")
                if not isinstance(val, int) or isinstance(val, bool) or (C.is_size(sym) and val < 1):
                    raise ProofError(f"instance {inst}: {key}={val!r} must be a "
                                     f"{'positive ' if C.is_size(sym) else ''}integer", rule="instances")
                env[sym] = sympy.Integer(val)
            missing = set(sizes) - set(env)
            if missing:
                raise ProofError(f"instance {inst} gives no value to {', '.join(sorted(map(str, missing)))}",
                                 rule="instances")
            if not C._holds(size_only, {k: v for k, v in env.items() if k in set(sizes)}):
                raise ProofError(f"instance {inst} violates the hypotheses "
                                 f"{', '.join(sympy.sstr(h) for h in size_only)}", rule="instances")
            user.append(env)
        boundary = C.boundary_instances(sizes, self.size_hypotheses, example)
        seen, sized = set(), []
        for env in user + boundary:
            key = tuple(sorted((str(k), int(v)) for k, v in env.items()))
            if key not in seen:
                seen.add(key)
                sized.append(env)
        claim = []
        for env in sized:
            fixed = [p for p in positions if p in env]
            if fixed:
                free = [p for p in positions if p not in env]
                claim.extend(C.full_instances([env], free, self.size_hypotheses))
            else:
                claim.extend(C.full_instances([env], positions, self.size_hypotheses))
        if not claim:
            raise ProofError("no instance satisfies the hypotheses, so the claim cannot be cross-checked",
                             rule="instances")
        step_sizes = user or boundary[:1]
        steps = []
        for env in step_sizes:
            first = next((c for c in claim if all(c.get(k) == v for k, v in env.items())), None)
            if first is not None:
                steps.append(first)
        return claim, steps or claim[:1]

    # -- the proof -------------------------------------------------------------------------------
    def _claim_check(self, instances: list[dict], denoter: C.Denoter | None = None, memos: dict | None = None):
        denoter = C.Denoter(self.lets) if denoter is None else denoter
        memos = {} if memos is None else memos
        for env in instances:
            lp = denoter.poly(self.lhs, env, _memo(memos, env))
            rp = None if lp is None else denoter.poly(self.rhs, env, _memo(memos, env))
            if lp is not None and rp is not None and lp == rp:
                continue  # equal as polynomials: what find_assignment would find
            # different, or outside the compiled evaluator: the SymPy values decide and show
            memo: dict = {}
            lv = C.denote(self.lhs, env, self.lets, memo)
            rv = C.denote(self.rhs, env, self.lets, memo)
            found = C.find_assignment(lv, rv)
            if found is None:
                continue
            assign, l_val, r_val = found
            sizes = {str(k): int(v) for k, v in env.items() if C.is_size(k)}
            positions = {str(k): int(v) for k, v in env.items() if not C.is_size(k)}
            inputs = {sympy.sstr(k): int(v) for k, v in assign.items() if v != 0}
            size_pairs = tuple((sympy.latex(k), str(int(v))) for k, v in sorted(env.items(), key=lambda kv: str(kv[0]))
                               if C.is_size(k))
            where = ", ".join(f"{sympy.latex(k)} = {int(v)}" for k, v in sorted(env.items(), key=lambda kv: str(kv[0]))
                              if not C.is_size(k))
            at = ("At $" + ", ".join(f"{k} = {v}" for k, v in size_pairs) + "$") if size_pairs else "At these inputs"
            place = f" and ${where}$" if where else ""
            listed = ", ".join(f"${sympy.latex(k)} = {int(v)}$" for k, v in assign.items() if v != 0)
            return mint_witness(
                description=(f"{at}{place}, with {listed or 'every input entry 0'}, the left side is {l_val} and "
                             f"the right side is {r_val}"),
                assignment=tuple((sympy.latex(k), str(v)) for k, v in assign.items() if v != 0),
                where=where or r"\text{the only entry}",
                lhs=str(l_val), rhs=str(r_val),
                data={"sizes": sizes, "positions": positions, "inputs": inputs,
                      "lhs": str(l_val), "rhs": str(r_val)},
                sizes=size_pairs,
                reason=("both sides were evaluated exactly at this instance, every sum enumerated term by term, "
                        "independently of the derivation"),
            )
        return None

    def _run(self) -> dict:
        free = self._free()
        for side in (self.lhs, self.rhs):
            check_well_formed(side, free)
        check_well_formed(SumExpr(self.lhs.terms + self.rhs.terms), free)
        claim_instances, step_instances = self._instances()
        # the statement is printed when the verdict is read (the book, --json), not while proving
        out = {"hypotheses": Deferred(lambda: self.hypotheses_latex() + self.definitions_latex()),
               "statement_latex": Deferred(lambda: f"{self._printed(self.lhs)} = {self._printed(self.rhs)}"),
               "statement_text": Deferred(self.statement_text), "statement_parts": Deferred(self.statement_parts)}
        denoter, memos = C.Denoter(self.lets), {}
        witness = self._claim_check(claim_instances, denoter, memos)
        if witness is not None:
            step = mint("claim on an instance", "both sides evaluated exactly, independently of the derivation",
                        rf"{witness.lhs} \ne {witness.rhs}", "exact-instance",
                        checked_by=(witness.description,))
            return {**out, "verdict": "refuted", "witness": witness, "steps": (step,),
                    "instances": (f"the claim fails at {witness.where}",)}
        steps = []
        claim_record = instances_record("the claim: both sides evaluated exactly, independently of the derivation",
                                        claim_instances)
        step_record = instances_record("the step: the expressions before and after it evaluated exactly",
                                       step_instances)
        ctx = Context(lets=self.lets, hypotheses=self.size_hypotheses)
        cur = self.lhs
        fast = [denoter.poly(cur, env, _memo(memos, env)) for env in step_instances]
        values = [C.denote(cur, env, self.lets) for env in step_instances] if None in fast else None
        for n, rule in enumerate(self.derivation, start=1):
            try:
                with decide.recording() as queries:
                    outcome = rule.apply(cur, ctx)
                check_well_formed(outcome.expr, free)
                new_fast = [denoter.poly(outcome.expr, env, _memo(memos, env)) for env in step_instances]
                if None not in fast and fast == new_fast:
                    new_values = None  # unchanged on every instance, as polynomials
                else:
                    # changed, or outside the compiled evaluator: the SymPy values decide and show
                    if values is None:
                        values = [C.denote(cur, env, self.lets) for env in step_instances]
                    new_values = [C.denote(outcome.expr, env, self.lets) for env in step_instances]
                    for env, before, after in zip(step_instances, values, new_values, strict=True):
                        if sympy.expand(before - after) != 0:
                            raise ProofError(
                                f"the rewrite changes the value at the instance {C.format_env(env)}: "
                                f"{sympy.sstr(before)} became {sympy.sstr(after)}"
                            )
            except ProofError as exc:
                msg = str(exc).split(": ", 1)[-1] if exc.step else str(exc)
                raise StepError(msg, step=n, rule=rule.name, steps=steps) from exc
            checked = outcome.checked_by + (
                (f"re-evaluated exactly on {len(step_instances)} instance(s)",) if step_instances else ())
            # printed when first read: the verdict does not depend on it, and printing is slow
            steps.append(mint(rule.name, rule.describe(), Deferred(partial(latex_sumexpr, outcome.expr)), "general",
                              side_conditions=outcome.side_conditions, checked_by=checked,
                              text=Deferred(partial(text_sumexpr, outcome.expr)), queries=queries,
                              instances=step_record if step_instances else None))
            cur, values, fast = outcome.expr, new_values, new_fast
        if not cur.same_as(self.rhs):
            raise StepError(
                f"the derivation ends at {text_sumexpr(cur)}, which is not the claimed right side "
                f"{self._printed(self.rhs, text=True)}", step=len(steps) + 1, rule="conclusion", steps=steps)
        steps.append(mint("conclusion", "the last expression is the claimed right side (same sums and conditions)",
                          self._printed(self.rhs), "general", checked_by=("structural equality",),
                          text=self._printed(self.rhs, text=True)))
        instances = [f"the claim itself (lhs against rhs, without the derivation) evaluated exactly at "
                     f"{len(claim_instances)} instances of sizes and positions, the boundary ones included "
                     f"(every size at its least value and the next)"]
        if step_instances:
            instances.append("every step re-evaluated exactly at " + "; ".join(
                C.format_env(e) for e in step_instances))
        for th in self.cross_checks:
            v = th.prove()
            if v.verdict != "proved":
                raise StepError(f"cross-check {th.name} did not prove: {v.error or v.verdict}",
                                step=len(steps) + 1, rule="cross-check", steps=steps)
            instances.append(f"{th.title} ({v.strength}: {v.sizes})")
        return {**out, "verdict": "proved", "steps": tuple(steps), "instances": tuple(instances),
                "evaluated": (claim_record,)}
