"""The integer paths of the sizes and costs do not import SymPy; symbols still work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_integer_costs_and_shapes_do_not_import_sympy():
    code = ("import sys\n"
            "from convsym.cost import conv2d_cost, count_module, TOOLS\n"
            "from convsym.shapes import conv_output_size, pool_output_size\n"
            "c = conv2d_cost((1, 3, 32, 32), 8, 3, padding=1)\n"
            "assert c.macs == 8 * 32 * 32 * 27, c.macs\n"
            "assert conv_output_size(32, 3, 2, 1) == 16 and pool_output_size(7, 3, 2, 0, 1, True) == 3\n"
            "print('sympy' in sys.modules)\n")
    assert _run(code) == "False"


def test_a_symbol_still_gives_an_expression():
    code = ("import sympy\n"
            "from convsym.shapes import conv_output_size\n"
            "n = sympy.Symbol('n', integer=True, positive=True)\n"
            "print(conv_output_size(n, 3, 1, 1))\n")
    assert _run(code) == "n"


def test_is_sympy_and_the_lazy_module():
    from convsym.lazy_sympy import is_sympy, is_sympy_false, sympy

    assert not is_sympy(1, 2.0, "n", None)
    assert not is_sympy_false(False)
    n = sympy.Symbol("n")  # the first attribute read imports SymPy
    assert is_sympy(1, n) and is_sympy_false(sympy.false)
    assert sympy.Integer is sys.modules["sympy"].Integer
