"""Bytes per element of the dtypes convsym's memory figures know (no SymPy: the CLI reads it
to build its parser before any command imports the cost model)."""

from __future__ import annotations

__all__ = ["DTYPE_SIZES"]

#: Bytes per element of the dtypes ``Cost.memory_bytes`` knows.
DTYPE_SIZES = {
    "float64": 8,
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "int64": 8,
    "int32": 4,
    "int8": 1,
    "uint8": 1,
}
