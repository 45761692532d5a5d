"""The old import path of :mod:`convsym.symbolic.sums` (kept so that existing proof scripts still import)."""

import sys

from convsym.symbolic import sums as _module

sys.modules[__name__] = _module
