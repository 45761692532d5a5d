"""The old import path of :mod:`convsym.symbolic.rules` (kept so that existing proof scripts still import)."""

import sys

from convsym.symbolic import rules as _module

sys.modules[__name__] = _module
