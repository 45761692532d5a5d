"""The two reproducers of issue 11, in a folder, through ``python -m convsym prove --path DIR --json``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from fractions import Fraction

import numpy as np
from _support import Sig, witness_signals

from convsym import reference as ref

REPRODUCERS = '''
from sympy import Eq, IndexedBase
from convsym.symbolic import opdefs as D
from convsym.proof import General
from convsym.symbolic.rules import Collapse, Fold, Unfold
from convsym.symbolic.sums import Range, SumExpr, Term, grid, index
from convsym.symbolic.symbols import sizes
from convsym.proof.verdict import Family
FAMILY = Family("repro", "repro", intro="x", order=99)
(k,) = sizes("k"); i, a = index("i a"); x, w = IndexedBase("x"), IndexedBase("w")
# k * #{a in [0,k): a = 2} = k  -- false for k = 1, 2 (left side 0)
where_dropped = General("repro.where-dropped", "t", "s",
    lhs=SumExpr.of(Term(k, (Range.of(a, 0, k - 1),), (Eq(a, 2),))), rhs=k,
    derivation=[Collapse("a", 2)], instances=grid(k=range(1, 6)))
# (x * w)_a = (x *_{dilation 2} w)_0  -- false: k=2, a=1, x=(1,2,3), w=(1,1) gives 5 != 4
captured = General("repro.capture", "t", "s",
    lhs=D.conv1d(x, w, k, a), rhs=D.conv1d(x, w, k, 0, dilation=2),
    derivation=[Unfold("conv1d"), Fold(D.conv1d(x, w, k, 0, dilation=2), ("a",))],
    instances=grid(k=range(1, 5)))
'''


def _recheck_where_dropped(data):
    kk = data["sizes"]["k"]
    return kk * sum(1 for q in range(kk) if q == 2), kk


def _recheck_capture(data):
    sig, _ = witness_signals(data["inputs"])
    kk, pos = data["sizes"]["k"], data["positions"]["a"]
    n = pos + 2 * kk + 2
    xs = np.array([[[sig.get("x", Sig())[q] for q in range(n)]]], dtype=object)
    ws = np.array([[[sig.get("w", Sig())[q] for q in range(kk)]]], dtype=object)
    return ref.conv1d(xs, ws)[0, 0, pos], ref.conv1d(xs, ws, dilation=2)[0, 0, 0]


def test_both_issue_reproducers_are_not_proved_by_the_cli(tmp_path):
    folder = tmp_path / "repro"
    folder.mkdir()
    (folder / "repro.py").write_text(textwrap.dedent(REPRODUCERS), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "convsym", "prove", "--path", str(folder), "--json"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, (run.returncode, run.stderr)  # verdicts differ from the expected "proved"
    records = {r["name"]: r for r in json.loads(run.stdout)}
    assert set(records) == {"repro.where-dropped", "repro.capture"}
    rechecks = {"repro.where-dropped": _recheck_where_dropped, "repro.capture": _recheck_capture}
    for name, record in records.items():
        assert record["verdict"] in ("refuted", "failed"), (name, record["verdict"])
        assert record["strength"] != "general"
        if record["verdict"] == "refuted":
            data = record["witness"]["data"]
            lhs, rhs = rechecks[name](data)
            assert lhs != rhs
            assert (Fraction(data["lhs"]), Fraction(data["rhs"])) == (lhs, rhs)
        else:
            assert record["error"] and record["failed_step"] is not None
