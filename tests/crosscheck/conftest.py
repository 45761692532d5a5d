"""The crosscheck tests compare convsym against PyTorch; without torch every module here is skipped.

The skip happens when each module of this folder is collected, not when this conftest is imported:
pytest imports the conftest of a folder named on the command line (``pytest tests/crosscheck``)
before collection starts, and a skip raised there would abort the run instead of skipping.
"""

from __future__ import annotations

import pytest

REASON = (
    "the crosscheck tests compare against PyTorch, which is not importable; "
    "install it with `pip install -e .[crosscheck]` (torch==2.13.0)"
)


class TorchModule(pytest.Module):
    """A test module that is collected only when torch imports."""

    def collect(self):
        pytest.importorskip("torch", reason=REASON)
        return super().collect()


def pytest_pycollect_makemodule(module_path, parent):
    return TorchModule.from_parent(parent, path=module_path)
