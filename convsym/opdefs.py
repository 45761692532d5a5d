"""The old import path of :mod:`convsym.symbolic.opdefs` (kept so that existing proof scripts still import)."""

import sys

from convsym.symbolic import opdefs as _module

sys.modules[__name__] = _module
