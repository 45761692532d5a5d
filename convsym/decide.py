"""The old import path of :mod:`convsym.symbolic.decide` (kept so that existing proof scripts still import)."""

import sys

from convsym.symbolic import decide as _module

sys.modules[__name__] = _module
