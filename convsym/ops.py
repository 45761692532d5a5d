"""The old import path of :mod:`convsym.exact.ops` (kept so that existing proof scripts still import)."""

import sys

from convsym.exact import ops as _module

sys.modules[__name__] = _module
