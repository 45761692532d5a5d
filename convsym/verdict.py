"""The old import path of :mod:`convsym.proof.verdict` (kept so that existing proof scripts still import)."""

import sys

from convsym.proof import verdict as _module

sys.modules[__name__] = _module
