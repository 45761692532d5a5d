"""The old import path of :mod:`convsym.symbolic.symbols` (kept so that existing proof scripts still import)."""

import sys

from convsym.symbolic import symbols as _module

sys.modules[__name__] = _module
